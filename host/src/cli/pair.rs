//! `wuts pair`: pairs a device from a terminal, for operators without a browser. It is a
//! client of the running server: it polls `GET /qr/status` and `GET /qr` and draws each
//! new QR code in Unicode half blocks until the phone is linked or time runs out.

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::config::Settings;
use crate::error::codes;

/// How often the device's pairing state is asked for.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often `wuts pair` restarts a device that stopped issuing codes.
const MAX_RESTARTS: u32 = 3;

/// What `wuts pair` was asked to do.
#[derive(Debug, Clone)]
pub struct PairOptions {
    pub device: Option<String>,
    pub token: Option<String>,
    pub url: Option<String>,
    pub timeout: Duration,
    pub dark_on_light_text: bool,
}

/// The server's base URL from `[server] bind`: an unspecified address is reached on
/// loopback; port 0 cannot be guessed.
pub fn default_base_url(bind: SocketAddr) -> Result<String, String> {
    if bind.port() == 0 {
        return Err(
            "[server] bind uses port 0 (any free port): give --url with the address the server printed"
                .into(),
        );
    }
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!("http://{}", SocketAddr::new(ip, bind.port())))
}

/// `?device_id=...` for the device asked for, or nothing for the default device.
fn device_query(device: Option<&str>) -> String {
    device.map_or_else(String::new, |id| {
        format!(
            "?device_id={}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        )
    })
}

/// Runs `wuts pair`; the error is the text to print.
pub fn run(settings: &Settings, options: PairOptions) -> Result<(), String> {
    let token = options
        .token
        .clone()
        .or_else(|| std::env::var("WUTS_TOKEN").ok())
        .filter(|token| !token.trim().is_empty())
        .ok_or("give the API token with --token or in the WUTS_TOKEN environment variable")?;
    let base_url = match &options.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => default_base_url(settings.server.bind)?,
    };
    // `GET /qr` may wait for a code up to the server's qr_timeout_ms.
    let request_timeout =
        Duration::from_millis(settings.session.qr_timeout_ms) + Duration::from_secs(15);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(request_timeout)
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let api = Api {
            client,
            base_url,
            token: token.trim().to_owned(),
        };
        pair(&api, &options).await
    })
}

struct Api {
    client: reqwest::Client,
    base_url: String,
    token: String,
}

/// A reply: status and JSON body (`null` when it was not JSON).
struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn error_text(&self) -> String {
        self.body["error"]
            .as_str()
            .map_or_else(|| self.body.to_string(), str::to_owned)
    }

    fn error_code(&self) -> &str {
        self.body["error_code"].as_str().unwrap_or("")
    }

    /// The reply to a call every step needs: 401 and 404 end `wuts pair`.
    fn expect_ok(self, what: &str) -> Result<Value, String> {
        match self.status {
            200 => Ok(self.body),
            401 => Err(format!(
                "{what}: the server refused the token (401): check --token or WUTS_TOKEN"
            )),
            404 => Err(format!(
                "{what}: {} (404): check --device",
                self.error_text()
            )),
            status => Err(format!("{what} answered {status}: {}", self.error_text())),
        }
    }
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str) -> Result<Reply, String> {
        let url = format!("{}{path}", self.base_url);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if method == reqwest::Method::POST {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body("{}");
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("cannot reach the server at {url}: {error}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| format!("reading the reply of {url}: {error}"))?;
        Ok(Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

/// What `GET /qr/status` says.
struct PairingState {
    device_id: String,
    paired: bool,
    state: String,
    jid: Option<String>,
}

async fn pairing_state(api: &Api, query: &str) -> Result<PairingState, String> {
    let body = api
        .call(reqwest::Method::GET, &format!("/qr/status{query}"))
        .await?
        .expect_ok("GET /qr/status")?;
    Ok(PairingState {
        device_id: body["device_id"].as_str().unwrap_or("").to_owned(),
        paired: body["paired"].as_bool().unwrap_or(false),
        state: body["state"].as_str().unwrap_or("").to_owned(),
        jid: body["jid"].as_str().map(str::to_owned),
    })
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn paired_message(state: &PairingState, already: bool) -> String {
    format!(
        "Device {} {} as {} (state: {}).",
        state.device_id,
        if already {
            "is already paired"
        } else {
            "is paired"
        },
        state.jid.as_deref().unwrap_or("an unknown number"),
        state.state
    )
}

async fn pair(api: &Api, options: &PairOptions) -> Result<(), String> {
    let query = device_query(options.device.as_deref());
    let first = pairing_state(api, &query).await?;
    if first.paired {
        say(&paired_message(&first, true));
        return Ok(());
    }
    say(&format!(
        "Pairing device {}: on the phone open WhatsApp > Settings > Linked devices > Link a device \
         and scan the code. It changes every few seconds; this waits up to {} s (Ctrl-C stops).",
        first.device_id,
        options.timeout.as_secs()
    ));
    let deadline = Instant::now() + options.timeout;
    let clear_screen = std::io::stdout().is_terminal();
    let mut shown: Option<String> = None;
    let mut restarts = 0;
    loop {
        let reply = api
            .call(reqwest::Method::GET, &format!("/qr{query}"))
            .await?;
        match (reply.status, reply.error_code()) {
            (200, _) => {
                let code = reply.body["qr_code"].as_str().unwrap_or("").to_owned();
                if !code.is_empty() && shown.as_deref() != Some(code.as_str()) {
                    let drawing = crate::qr_image::terminal(&code, options.dark_on_light_text)
                        .map_err(|error| error.to_string())?;
                    let mut out = std::io::stdout().lock();
                    if clear_screen {
                        let _ = write!(out, "\x1b[2J\x1b[H");
                    }
                    let _ = writeln!(
                        out,
                        "{drawing}Device {}: scan with WhatsApp > Linked devices (code valid until {}).",
                        first.device_id,
                        reply.body["expires_at"].as_str().unwrap_or("soon")
                    );
                    let _ = out.flush();
                    shown = Some(code);
                }
            }
            // No code yet (the device is still connecting), or none any more because the
            // phone just paired: the pairing state below tells.
            (504, _) | (400, codes::ALREADY_CONNECTED) => {}
            (400, codes::PAIRING_UNAVAILABLE) if restarts < MAX_RESTARTS => {
                restarts += 1;
                say(&format!(
                    "The device issues no codes ({}); reconnecting it for new ones.",
                    reply.error_text()
                ));
                api.call(reqwest::Method::POST, &format!("/connect{query}"))
                    .await?
                    .expect_ok("POST /connect")?;
            }
            _ => {
                reply.expect_ok("GET /qr")?;
            }
        }
        let now = pairing_state(api, &query).await?;
        if now.paired {
            say(&paired_message(&now, false));
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no phone was paired with device {} within {} s (state: {}); run `wuts pair` again",
                first.device_id,
                options.timeout.as_secs(),
                now.state
            ));
        }
        tokio::time::sleep_until((Instant::now() + POLL_INTERVAL).min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_url_comes_from_the_bind_address() {
        let url = |bind: &str| default_base_url(bind.parse().unwrap());
        assert_eq!(url("127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(url("0.0.0.0:9000").unwrap(), "http://127.0.0.1:9000");
        assert_eq!(url("[::]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(url("10.1.2.3:80").unwrap(), "http://10.1.2.3:80");
        assert!(url("127.0.0.1:0").unwrap_err().contains("--url"));
    }

    #[test]
    fn device_ids_are_query_encoded() {
        assert_eq!(device_query(None), "");
        assert_eq!(device_query(Some("abc-1")), "?device_id=abc-1");
        assert_eq!(device_query(Some("a b&c")), "?device_id=a+b%26c");
    }
}

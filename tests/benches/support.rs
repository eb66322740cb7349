//! What the benchmarks share: a release build of the server, wrk runs, RSS readings.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Builds the release binary and plugins (unless `WUTS_BIN_DIR` points at a build) and
/// makes the harness use them.
pub fn use_release_build() {
    if std::env::var_os("WUTS_BIN_DIR").is_some() {
        return;
    }
    let root = wuts_e2e::locate::workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "wuts-host",
            "-p",
            "wuts-plugin-buttons",
            "-p",
            "wuts-plugin-buttons-response",
            "-p",
            "wuts-plugin-audio",
            "-p",
            "wuts-plugin-text",
            // The soak benchmark loads every plugin.
            "-p",
            "wuts-plugin-location",
            "-p",
            "wuts-plugin-contact",
            "-p",
            "wuts-plugin-reaction",
            "-p",
            "wuts-plugin-template",
            "-p",
            "wuts-plugin-poll",
            "-p",
            "wuts-plugin-list",
            "-p",
            "wuts-plugin-message-ops",
            "-p",
            "wuts-plugin-image",
            "-p",
            "wuts-plugin-video",
            "-p",
            "wuts-plugin-document",
            "-p",
            "wuts-plugin-sticker",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the release build failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let dir = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    // SAFETY of set_var: called at the start of main, before any thread is spawned.
    unsafe { std::env::set_var("WUTS_BIN_DIR", dir.join("release")) };
}

/// Builds `wuts-offline` (tests/offline: the server that accepts the offline WhatsApp
/// server's certificate chain) into `$WUTS_BIN_DIR`'s target folder, unless
/// [`use_release_build`] was skipped because `WUTS_BIN_DIR` was given.
pub fn build_offline_release() {
    let Some(dir) = std::env::var_os("WUTS_BIN_DIR").map(PathBuf::from) else {
        return;
    };
    let Some(target) = dir.parent().filter(|_| dir.ends_with("release")) else {
        return;
    };
    let root = wuts_e2e::locate::workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--manifest-path",
            "tests/offline/Cargo.toml",
        ])
        .arg("--target-dir")
        .arg(target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the release build of wuts-offline failed");
}

/// Serves `configure`'s routes on a free loopback port (actix-web, one worker, on a
/// thread of its own, for the whole run): the benchmarks' webhook receivers. Its address.
pub fn serve_on_loopback(
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("bound");
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
                .workers(1)
                .listen(listener)
                .expect("listens")
                .run()
                .await
                .expect("serves");
        });
    });
    address
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    pub failures: u64,
}

impl LoadResult {
    /// The mean of several runs' rates and percentiles, and their summed counts.
    pub fn mean(runs: &[LoadResult]) -> LoadResult {
        let count = runs.len().max(1) as u32;
        LoadResult {
            requests_per_second: runs.iter().map(|run| run.requests_per_second).sum::<f64>()
                / f64::from(count),
            p50: runs.iter().map(|run| run.p50).sum::<Duration>() / count,
            p99: runs.iter().map(|run| run.p99).sum::<Duration>() / count,
            requests: runs.iter().map(|run| run.requests).sum(),
            failures: runs.iter().map(|run| run.failures).sum(),
        }
    }
}

/// Runs wrk with `connections` connections for `seconds` against `url`, POSTing `body`.
pub fn wrk_post(url: &str, token: &str, body: &str, connections: u32, seconds: u32) -> LoadResult {
    let script = std::env::temp_dir().join(format!("wuts-bench-{}.lua", std::process::id()));
    let escaped = body.replace('\\', "\\\\").replace('"', "\\\"");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"{escaped}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ),
    )
    .expect("the wrk script is written");
    let output = Command::new("wrk")
        .args([
            // wrk refuses fewer connections than threads.
            &format!("-t{}", connections.clamp(1, 2)),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk runs (config/bootstrap.sh --test installs it)");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "wrk failed:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_wrk(&text)
}

fn parse_wrk(text: &str) -> LoadResult {
    let mut result = LoadResult {
        requests_per_second: 0.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        requests: 0,
        failures: 0,
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => result.requests_per_second = value.parse().unwrap_or(0.0),
            ["50%", value] => result.p50 = parse_duration(value),
            ["99%", value] => result.p99 = parse_duration(value),
            [count, "requests", "in", ..] => result.requests = count.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                result.failures += count.parse::<u64>().unwrap_or(0)
            }
            ["Socket", "errors:", ..] => {
                result.failures += line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    result
}

fn parse_duration(text: &str) -> Duration {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().unwrap_or(0.0);
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => 0.0,
    };
    Duration::from_secs_f64(seconds)
}

/// The CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/PID/stat`; 0 if it cannot be read.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    parse_cpu_ticks(&stat) as f64 / clock_ticks_per_second()
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock ticks. The command
/// name (field 2) is in parentheses and may hold spaces, so the fields are counted after it.
fn parse_cpu_ticks(stat: &str) -> u64 {
    let Some(rest) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
        return 0;
    };
    // After ')' the first field is the state, field 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |number: usize| -> u64 {
        fields
            .get(number - 3)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// A process's resident memory in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// A client for one send route with a timeout of the caller's (the harness's is 20 s per
/// call, too short for a long clip).
pub struct Client {
    agent: ureq::Agent,
    url: String,
    route: String,
    authorization: String,
}

impl Client {
    pub fn new(base_url: &str, route: &str, user: &wuts_e2e::User, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        Client {
            agent: config.into(),
            url: format!("{base_url}{route}"),
            route: route.to_string(),
            authorization: format!("Bearer {}", user.token),
        }
    }

    /// Sends `body`; panics unless the answer is 200. Returns the wall time and the reply.
    pub fn send_ok(&self, body: &str) -> (Duration, serde_json::Value) {
        let started = std::time::Instant::now();
        let route = &self.route;
        let mut response = self
            .agent
            .post(&self.url)
            .header("Authorization", &self.authorization)
            .content_type("application/json")
            .send(body.as_bytes())
            .unwrap_or_else(|e| panic!("POST {route} failed: {e}"));
        let text = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("reading the reply failed: {e}"));
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        assert_eq!(status, 200, "POST {route} answered {status}: {text}");
        (elapsed, serde_json::from_str(&text).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_output_is_parsed() {
        let text = "  Latency Distribution\n     50%    1.20ms\n     99%   12.50ms\n  100 requests in 1.00s, 1KB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:   1234.5\n";
        let result = super::parse_wrk(text);
        assert_eq!(result.requests, 100);
        assert_eq!(result.failures, 3);
        assert!((result.requests_per_second - 1234.5).abs() < 1e-9);
        assert_eq!(result.p99, std::time::Duration::from_micros(12500));
    }

    #[test]
    fn cpu_ticks_are_utime_plus_stime() {
        let stat =
            "1234 (wuts (a b)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 40 0 0 20 0 6 0 100 0\n";
        assert_eq!(super::parse_cpu_ticks(stat), 290);
        assert_eq!(super::parse_cpu_ticks(""), 0);
    }

    #[test]
    fn runs_average_their_rates_and_add_their_counts() {
        let run = |rate: f64, p99_ms: u64, requests: u64| super::LoadResult {
            requests_per_second: rate,
            p50: std::time::Duration::from_millis(1),
            p99: std::time::Duration::from_millis(p99_ms),
            requests,
            failures: 1,
        };
        let mean = super::LoadResult::mean(&[run(100.0, 4, 10), run(300.0, 8, 30)]);
        assert!((mean.requests_per_second - 200.0).abs() < 1e-9);
        assert_eq!(mean.p99, std::time::Duration::from_millis(6));
        assert_eq!((mean.requests, mean.failures), (40, 2));
    }
}

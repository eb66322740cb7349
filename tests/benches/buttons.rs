//! Benchmark: `POST /send/buttons` through the whole host (auth, plugin encode, sandbox
//! send, store) against a bare actix-web handler that only checks the token and parses
//! the same body, both under 64 connections in the same run; `POST /send/text` in the
//! same alternation (its throughput at least the buttons route's); and the host's idle RSS.
//!
//! `cargo bench -p wuts-e2e --bench buttons` (builds the release server first).
//!
//! A/B mode: with `WUTS_BIN_DIR_B` set to a second folder of `wuts` and plugin libraries,
//! a second server runs from it beside the first (`WUTS_BIN_DIR`, or the release build),
//! and bare / A / B rounds alternate (`WUTS_AB_ROUNDS` rounds, default 6, of
//! `WUTS_AB_SECONDS` seconds, default 2, each side; A and B swap order every round). It
//! prints each side's rate, latency, ratio to bare and server CPU per request (utime +
//! stime from `/proc/PID/stat`), and B/A.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wuts_e2e::{Server, ServerOptions};

const CONNECTIONS: u32 = 64;
/// Seconds of load on each side, split into `ROUNDS` alternating runs.
const SECONDS: u32 = 12;
const ROUNDS: usize = 4;
/// Seconds of unmeasured load on each side before the rounds.
const WARM_UP_SECONDS: u32 = 2;

fn main() {
    support::use_release_build();
    if let Some(dir_b) = std::env::var_os("WUTS_BIN_DIR_B").filter(|dir| !dir.is_empty()) {
        ab(PathBuf::from(dir_b));
        return;
    }
    let server = Server::start(ServerOptions::default().plugins(&["buttons", "text"]));
    let user = server.create_user("bench", "bench");
    std::thread::sleep(Duration::from_secs(1));
    let pid = server.pid().expect("the server runs");
    let idle_rss = support::rss_mib(pid);

    let body =
        serde_json::to_string(&wuts_e2e::example_buttons_body()).expect("the body serialises");
    let (status, reply) = server.post_json(
        "/send/buttons",
        &user.token,
        &serde_json::from_str(&body).expect("json"),
    );
    assert_eq!(status, 200, "a warm-up send succeeds: {reply}");
    let text_body = serde_json::json!({
        "number": wuts_e2e::PHONE,
        "text": "Your order #1234 has shipped and arrives tomorrow between 9am and noon.",
    })
    .to_string();
    let (status, reply) = server.post_json(
        "/send/text",
        &user.token,
        &serde_json::from_str(&text_body).expect("json"),
    );
    assert_eq!(status, 200, "a warm-up text succeeds: {reply}");

    let bare_url = start_bare_server(&user.token);
    // Alternate in short rounds, so that a change in the machine's speed (on a shared
    // machine the same binary's throughput drifts by a third between runs) hits both
    // sides alike.
    // An unmeasured round of each first: the first seconds of load fill the store's page
    // cache and the allocator's arenas, and would count against whichever side ran first.
    for (url, body) in [
        (bare_url.as_str(), body.as_str()),
        (server.url("/send/buttons").as_str(), body.as_str()),
        (server.url("/send/text").as_str(), text_body.as_str()),
    ] {
        support::wrk_post(url, &user.token, body, CONNECTIONS, WARM_UP_SECONDS);
    }
    let mut bare_rounds = Vec::with_capacity(ROUNDS);
    let mut host_rounds = Vec::with_capacity(ROUNDS);
    let mut text_rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        bare_rounds.push(support::wrk_post(
            &bare_url,
            &user.token,
            &body,
            CONNECTIONS,
            SECONDS / ROUNDS as u32,
        ));
        host_rounds.push(support::wrk_post(
            &server.url("/send/buttons"),
            &user.token,
            &body,
            CONNECTIONS,
            SECONDS / ROUNDS as u32,
        ));
        text_rounds.push(support::wrk_post(
            &server.url("/send/text"),
            &user.token,
            &text_body,
            CONNECTIONS,
            SECONDS / ROUNDS as u32,
        ));
    }
    let loaded_rss = support::rss_mib(pid);

    let bare = support::LoadResult::mean(&bare_rounds);
    let host = support::LoadResult::mean(&host_rounds);
    let text = support::LoadResult::mean(&text_rounds);
    assert_eq!(host.failures, 0, "every send succeeded");
    assert_eq!(text.failures, 0, "every text send succeeded");
    assert_eq!(bare.failures, 0, "every bare request succeeded");

    let throughput_ratio = host.requests_per_second / bare.requests_per_second;
    let round_ratios: Vec<String> = host_rounds
        .iter()
        .zip(&bare_rounds)
        .map(|(host, bare)| format!("{:.2}", host.requests_per_second / bare.requests_per_second))
        .collect();
    let p99_ratio = host.p99.as_secs_f64() / bare.p99.as_secs_f64().max(1e-6);
    println!(
        "POST /send/buttons, {CONNECTIONS} connections, {SECONDS} s each side ({ROUNDS} alternating rounds)"
    );
    println!(
        "{:<28} {:>12} {:>10} {:>10} {:>10}",
        "", "requests/s", "p50 ms", "p99 ms", "requests"
    );
    for (name, result) in [
        ("bare actix handler", bare),
        ("wuts host (sandbox)", host),
        ("wuts host, /send/text", text),
    ] {
        println!(
            "{:<28} {:>12.0} {:>10.2} {:>10.2} {:>10}",
            name,
            result.requests_per_second,
            result.p50.as_secs_f64() * 1e3,
            result.p99.as_secs_f64() * 1e3,
            result.requests
        );
    }
    println!(
        "throughput host/bare: {:.2} (regression guard >= 0.40) {}",
        throughput_ratio,
        verdict(throughput_ratio >= 0.4)
    );
    println!("  by round:           {}", round_ratios.join(" "));
    let text_ratio = text.requests_per_second / host.requests_per_second;
    println!(
        "throughput text/buttons: {:.2} (target >= 1.00) {}",
        text_ratio,
        verdict(text_ratio >= 1.0)
    );
    println!(
        "p99 host/bare:        {:.2} (target <= 2.00) {}",
        p99_ratio,
        verdict(p99_ratio <= 2.0)
    );
    println!(
        "idle RSS with plugins: {idle_rss:.1} MiB (target < 40) {}",
        verdict(idle_rss < 40.0)
    );
    println!("RSS after the load:    {loaded_rss:.1} MiB");
}

/// One side of an A/B run: a server, its user and what its rounds measured.
struct Side {
    name: &'static str,
    server: Server,
    token: String,
    rounds: Vec<support::LoadResult>,
    /// CPU seconds the server used during its own rounds.
    cpu_in_rounds: f64,
    /// CPU seconds from before the first round to after the last (any side's).
    cpu_whole: f64,
}

impl Side {
    fn start(name: &'static str, options: ServerOptions, body: &str) -> Self {
        let server = Server::start(options);
        let user = server.create_user("bench", "bench");
        let (status, reply) = server.post_json(
            "/send/buttons",
            &user.token,
            &serde_json::from_str(body).expect("json"),
        );
        assert_eq!(status, 200, "a warm-up send to {name} succeeds: {reply}");
        Side {
            name,
            server,
            token: user.token,
            rounds: Vec::new(),
            cpu_in_rounds: 0.0,
            cpu_whole: 0.0,
        }
    }

    fn pid(&self) -> u32 {
        self.server.pid().expect("the server runs")
    }

    fn round(&mut self, body: &str, seconds: u32) {
        let pid = self.pid();
        let before = support::cpu_seconds(pid);
        let result = support::wrk_post(
            &self.server.url("/send/buttons"),
            &self.token,
            body,
            CONNECTIONS,
            seconds,
        );
        self.cpu_in_rounds += support::cpu_seconds(pid) - before;
        self.rounds.push(result);
    }

    /// Microseconds of server CPU per request: (during its rounds, over the whole run).
    fn cpu_per_request(&self) -> (f64, f64) {
        let requests = self.rounds.iter().map(|r| r.requests).sum::<u64>().max(1) as f64;
        (
            self.cpu_in_rounds / requests * 1e6,
            self.cpu_whole / requests * 1e6,
        )
    }
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|value| *value > 0)
        .unwrap_or(default)
}

/// Two builds side by side against the bare handler; see the module comment.
fn ab(dir_b: PathBuf) {
    let rounds = env_number("WUTS_AB_ROUNDS", 6) as usize;
    let seconds = env_number("WUTS_AB_SECONDS", 2);
    let dir_a = wuts_e2e::locate::artefact_dir();
    let body =
        serde_json::to_string(&wuts_e2e::example_buttons_body()).expect("the body serialises");
    let mut a = Side::start("A", ServerOptions::default(), &body);
    let mut b = Side::start("B", ServerOptions::default().bin_dir(&dir_b), &body);
    let bare_url = start_bare_server(&a.token);
    std::thread::sleep(Duration::from_secs(1));

    // One discarded second each, to warm up connections, caches and the database.
    support::wrk_post(&bare_url, &a.token, &body, CONNECTIONS, 1);
    support::wrk_post(
        &a.server.url("/send/buttons"),
        &a.token,
        &body,
        CONNECTIONS,
        1,
    );
    support::wrk_post(
        &b.server.url("/send/buttons"),
        &b.token,
        &body,
        CONNECTIONS,
        1,
    );

    let start_a = support::cpu_seconds(a.pid());
    let start_b = support::cpu_seconds(b.pid());
    let mut bare_rounds = Vec::with_capacity(rounds);
    for round in 0..rounds {
        bare_rounds.push(support::wrk_post(
            &bare_url,
            &a.token,
            &body,
            CONNECTIONS,
            seconds,
        ));
        // Swap the order every round, so neither side always follows the bare server.
        if round % 2 == 0 {
            a.round(&body, seconds);
            b.round(&body, seconds);
        } else {
            b.round(&body, seconds);
            a.round(&body, seconds);
        }
    }
    // A moment for work that outlives the requests (the log writer) to be counted.
    std::thread::sleep(Duration::from_millis(500));
    a.cpu_whole = support::cpu_seconds(a.pid()) - start_a;
    b.cpu_whole = support::cpu_seconds(b.pid()) - start_b;

    let bare = support::LoadResult::mean(&bare_rounds);
    assert_eq!(bare.failures, 0, "every bare request succeeded");
    println!(
        "POST /send/buttons A/B, {CONNECTIONS} connections, {rounds} rounds of {seconds} s each side"
    );
    println!("A = {}", dir_a.display());
    println!("B = {}", dir_b.display());
    println!(
        "{:<8} {:>12} {:>9} {:>9} {:>10} {:>8} {:>14} {:>14}",
        "", "requests/s", "p50 ms", "p99 ms", "requests", "/bare", "CPU us/req", "CPU us/req all"
    );
    println!(
        "{:<8} {:>12.0} {:>9.2} {:>9.2} {:>10}",
        "bare",
        bare.requests_per_second,
        bare.p50.as_secs_f64() * 1e3,
        bare.p99.as_secs_f64() * 1e3,
        bare.requests
    );
    let mut means = Vec::new();
    for side in [&a, &b] {
        let mean = support::LoadResult::mean(&side.rounds);
        assert_eq!(mean.failures, 0, "every send to {} succeeded", side.name);
        let (cpu_rounds, cpu_whole) = side.cpu_per_request();
        println!(
            "{:<8} {:>12.0} {:>9.2} {:>9.2} {:>10} {:>8.3} {:>14.1} {:>14.1}",
            side.name,
            mean.requests_per_second,
            mean.p50.as_secs_f64() * 1e3,
            mean.p99.as_secs_f64() * 1e3,
            mean.requests,
            mean.requests_per_second / bare.requests_per_second,
            cpu_rounds,
            cpu_whole
        );
        means.push((mean, cpu_rounds, cpu_whole));
    }
    let (mean_a, cpu_a, cpu_all_a) = means[0];
    let (mean_b, cpu_b, cpu_all_b) = means[1];
    let by_round: Vec<String> = b
        .rounds
        .iter()
        .zip(&a.rounds)
        .map(|(b, a)| format!("{:.3}", b.requests_per_second / a.requests_per_second))
        .collect();
    println!(
        "B/A throughput:       {:.3}",
        mean_b.requests_per_second / mean_a.requests_per_second
    );
    println!("  by round:           {}", by_round.join(" "));
    println!(
        "B/A p50, p99:         {:.3}, {:.3}",
        mean_b.p50.as_secs_f64() / mean_a.p50.as_secs_f64().max(1e-9),
        mean_b.p99.as_secs_f64() / mean_a.p99.as_secs_f64().max(1e-9)
    );
    println!(
        "B/A CPU per request:  {:.3} (in own rounds), {:.3} (whole run)",
        cpu_b / cpu_a.max(1e-9),
        cpu_all_b / cpu_all_a.max(1e-9)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// The reference: checks the token (hash and constant-time compare, as the host does)
/// and parses the body, nothing else.
fn start_bare_server(token: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!(
        "http://{}/send/buttons",
        listener.local_addr().expect("bound")
    );
    let expected = Sha256::digest(token.as_bytes()).to_vec();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let expected = web::Data::new(expected);
            HttpServer::new(move || {
                App::new()
                    .app_data(expected.clone())
                    .route("/send/buttons", web::post().to(bare_handler))
            })
            .workers(2)
            .listen(listener)
            .expect("listens")
            .run()
            .await
            .expect("serves");
        });
    });
    std::thread::sleep(Duration::from_millis(300));
    url
}

async fn bare_handler(
    request: HttpRequest,
    body: web::Bytes,
    expected: web::Data<Vec<u8>>,
) -> HttpResponse {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(
        Sha256::digest(token.as_bytes())
            .as_slice()
            .ct_eq(expected.as_slice()),
    ) {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "unauthorized"}));
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"success": true})),
        Err(_) => HttpResponse::BadRequest().json(serde_json::json!({"error": "bad json"})),
    }
}

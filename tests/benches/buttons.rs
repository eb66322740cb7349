//! Benchmark: `POST /send/buttons` through the whole host (auth, plugin encode, sandbox
//! send, store) against a bare actix-web handler that only checks the token and parses
//! the same body, both under 64 connections in the same run; and the host's idle RSS.
//!
//! `cargo bench -p wuts-e2e --bench buttons` (builds the release server first).

mod support;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wuts_e2e::{Server, ServerOptions};

const CONNECTIONS: u32 = 64;
/// Seconds of load on each side, split into `ROUNDS` alternating runs.
const SECONDS: u32 = 12;
const ROUNDS: usize = 4;

fn main() {
    support::use_release_build();
    let server = Server::start(ServerOptions::default());
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

    let bare_url = start_bare_server(&user.token);
    // Alternate in short rounds, so that a change in the machine's speed (on a shared
    // machine the same binary's throughput drifts by a third between runs) hits both
    // sides alike.
    let mut bare_rounds = Vec::with_capacity(ROUNDS);
    let mut host_rounds = Vec::with_capacity(ROUNDS);
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
    }
    let loaded_rss = support::rss_mib(pid);

    let bare = support::LoadResult::mean(&bare_rounds);
    let host = support::LoadResult::mean(&host_rounds);
    assert_eq!(host.failures, 0, "every send succeeded");
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
    for (name, result) in [("bare actix handler", bare), ("wuts host (sandbox)", host)] {
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
        "throughput host/bare: {:.2} (target >= 0.50) {}",
        throughput_ratio,
        verdict(throughput_ratio >= 0.5)
    );
    println!("  by round:           {}", round_ratios.join(" "));
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

//! Soak: mixed load for a long while against the release server (sandbox driver, every
//! plugin), watching what must stay flat. `cargo bench -p wuts-e2e --bench soak` (builds
//! the release server first; `WUTS_BIN_DIR` runs a given build). Knobs:
//! `WUTS_SOAK_SECONDS` (600) and `WUTS_SOAK_WARMUP_SECONDS` (60, the steady state's start).
//!
//! The load, all at once:
//! - 64 client threads, each with its own keep-alive connection, over 4 tenants, cycling
//!   through every route with a valid body (the text sent last is then edited, reacted to,
//!   quoted by a buttons-response), inbound messages through `/sandbox/inbound`, reads
//!   (`/devices`, `/health`, `/webhook`, `/sandbox/outbox`, an unknown job), and bad input
//!   (malformed JSON, a missing field, a bad token, a body over its limit, audio that is
//!   not audio, a refused URL scheme, an unknown route, an edit of an unknown message), each
//!   with the status it must get;
//! - a job every 200 ms (audio over the plugin's async threshold, answered 202), each
//!   polled until it ends, which must be `sent`;
//! - a `GET /events` reader that reconnects every 5 s with `Last-Event-ID`;
//! - two tenants with a webhook on their events, to a receiver started here.
//!
//! Every 10 s the server's RSS, open file descriptors and threads are sampled, and once
//! idle before the load and 15 s after it. Verdicts: no 5xx and no unexpected status, RSS
//! growth from the steady state's start to the end under 10%, descriptors flat (at most 16
//! more at the end), threads within their configured bound under load, and both back to
//! their idle level (+16 descriptors, +8 threads) after it; every job sent.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use wuts_e2e::{PHONE, Server, ServerOptions, User, example_buttons_body, sse, unique};

const CONNECTIONS: usize = 64;
const TENANTS: usize = 4;
/// Tenants (the first ones) with a webhook.
const HOOKED_TENANTS: usize = 2;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Most threads the server may have: the blocking pool (`[server] blocking_threads`, 32),
/// the runtime's and actix's workers, the log writer, and the audio plugin's streaming
/// threads (four per transcode, in `[limits] media_calls` slots).
const THREAD_BOUND: usize = 64;
/// How long the server is left idle after the load before its last sample.
const IDLE_AFTER: Duration = Duration::from_secs(15);
const JOB_EVERY: Duration = Duration::from_millis(200);
/// Jobs still running at the end may take this long to finish.
const JOB_GRACE: Duration = Duration::from_secs(120);
/// The audio plugin's async threshold in this run: a 3 s clip is over it, 1 s is not.
const ASYNC_THRESHOLD: usize = 64 * 1024;
const PLUGINS: [&str; 12] = [
    "buttons",
    "audio",
    "buttons-response",
    "text",
    "location",
    "contact",
    "reaction",
    "template",
    "poll",
    "list",
    "message-ops",
    "image",
];
const SENDER: &str = "5511988887777";

fn main() {
    support::use_release_build();
    let seconds = env_seconds("WUTS_SOAK_SECONDS", 600);
    let warm_up = env_seconds("WUTS_SOAK_WARMUP_SECONDS", 60).min(seconds / 2);
    let receiver = Receiver::start();
    let server = Server::start(
        ServerOptions::default()
            .plugins(&PLUGINS)
            .required(&PLUGINS)
            .env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")
            // The sandbox keeps uploaded media in memory for GET /sandbox/media, up to this
            // budget: small, so that it is full before the steady state and its fill is not
            // taken for growth.
            .env("WUTS__SESSION__SANDBOX_MEDIA_BUDGET_MB", "8")
            .env(
                "WUTS__PLUGIN__AUDIO__ASYNC_THRESHOLD_BYTES",
                &ASYNC_THRESHOLD.to_string(),
            ),
    );
    let pid = server.pid().expect("the server runs");
    let users: Vec<User> = (0..TENANTS)
        .map(|i| server.create_user(&unique(&format!("soak{i}")), "soaker"))
        .collect();
    for user in &users[..HOOKED_TENANTS] {
        let body = json!({"webhook_url": receiver.url, "enabled_events":
            ["message.sent", "message.received", "message.failed", "message.reaction"]});
        let (status, reply) = server.post_json("/webhook", &user.token, &body);
        assert_eq!(status, 200, "POST /webhook: {reply}");
    }
    println!(
        "soak: {seconds} s ({warm_up} s warm-up), {CONNECTIONS} connections over {TENANTS} tenants, a job every {} ms, pid {pid}",
        JOB_EVERY.as_millis()
    );
    let before = Sample::take(pid, Duration::ZERO);

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let tenant = i % TENANTS;
            let plan = Plan::new(server.base_url(), &users[tenant], tenant < HOOKED_TENANTS);
            let stop = Arc::clone(&stop);
            thread::spawn(move || plan.run(&stop, i))
        })
        .collect();
    let jobs = {
        let (base, user, stop) = (
            server.base_url().to_owned(),
            users[2].clone(),
            Arc::clone(&stop),
        );
        thread::spawn(move || run_jobs(&base, &user, &stop))
    };
    let events_read = Arc::new(AtomicUsize::new(0));
    let stream = {
        let (stop, read) = (Arc::clone(&stop), Arc::clone(&events_read));
        let (base, token) = (server.base_url().to_owned(), users[0].token.clone());
        thread::spawn(move || read_events(&base, &token, &stop, &read))
    };

    let mut samples = Vec::new();
    println!("   t s   RSS MiB  anon MiB   fds  threads  server CPU s  store MiB");
    while started.elapsed() < Duration::from_secs(seconds) {
        thread::sleep(
            SAMPLE_EVERY.min(Duration::from_secs(seconds).saturating_sub(started.elapsed())),
        );
        let sample = Sample::take(pid, started.elapsed());
        println!(
            "{:6.0} {:9.1} {:9.1} {:5} {:8} {:13.1} {:10.1}",
            sample.at.as_secs_f64(),
            sample.rss_mib,
            sample.anon_mib,
            sample.fds,
            sample.threads,
            sample.cpu_seconds,
            store_mib(&server),
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::SeqCst);
    let mut counts: BTreeMap<&'static str, Count> = BTreeMap::new();
    for worker in workers {
        for (name, count) in worker.join().expect("a worker thread") {
            counts.entry(name).or_default().add(&count);
        }
    }
    let jobs = jobs.join().expect("the job thread");
    stream.join().expect("the event stream thread");
    // Idle threads leave the blocking pool after 10 s.
    thread::sleep(IDLE_AFTER);
    let after = Sample::take(pid, started.elapsed());
    drop(server);

    let idle = Idle { before, after };
    report(
        &counts,
        &jobs,
        &samples,
        &idle,
        warm_up,
        seconds,
        &receiver,
        &events_read,
    );
}

fn env_seconds(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// The mixed load.

/// One request of the cycle and the status it must get.
struct Step {
    name: &'static str,
    method: &'static str,
    /// `{last}` is replaced by the id of the text this connection sent last, `{buttons}`
    /// by that of its last buttons message.
    path: String,
    body: Option<String>,
    token: String,
    expect: u16,
}

/// What one step got.
#[derive(Default, Clone)]
struct Count {
    requests: u64,
    server_errors: u64,
    unexpected: u64,
    /// The first unexpected answer, to show.
    example: Option<String>,
}

impl Count {
    fn add(&mut self, other: &Count) {
        self.requests += other.requests;
        self.server_errors += other.server_errors;
        self.unexpected += other.unexpected;
        if self.example.is_none() {
            self.example = other.example.clone();
        }
    }
}

struct Plan {
    base: String,
    steps: Vec<Step>,
}

impl Plan {
    fn new(base: &str, user: &User, hooked: bool) -> Self {
        let token = user.token.clone();
        let good = |name, path: &str, body: Value| Step {
            name,
            method: "POST",
            path: path.to_owned(),
            body: Some(body.to_string()),
            token: token.clone(),
            expect: 200,
        };
        let read = |name, path: &str, expect| Step {
            name,
            method: "GET",
            path: path.to_owned(),
            body: None,
            token: token.clone(),
            expect,
        };
        let bad = |name, method, path: &str, body: String, expect| Step {
            name,
            method,
            path: path.to_owned(),
            body: Some(body),
            token: token.clone(),
            expect,
        };
        let clip = base64(&wav(1.0));
        let mut steps = vec![
            good(
                "text",
                "/send/text",
                json!({"number": PHONE, "text": "soak"}),
            ),
            good("buttons", "/send/buttons", example_buttons_body()),
            good(
                "location",
                "/send/location",
                json!({"to": PHONE, "latitude": -23.55052, "longitude": -46.633308, "name": "Praca da Se"}),
            ),
            good(
                "live-location",
                "/send/live-location",
                json!({"to": PHONE, "latitude": -23.55052, "longitude": -46.633308, "accuracy_in_meters": 12,
                    "sequence_number": 1, "time_offset": 0, "duration_in_seconds": 900}),
            ),
            good(
                "contact",
                "/send/contact",
                json!({"to": PHONE, "contact": {"display_name": "Maria Silva", "phone": "5511988887777"}}),
            ),
            good(
                "contacts",
                "/send/contacts",
                json!({"to": PHONE, "contacts": [{"display_name": "Maria Silva", "phone": "5511988887777"},
                    {"display_name": "Joao Souza", "phone": "5511977776666"}]}),
            ),
            good(
                "poll",
                "/send/poll",
                json!({"to": PHONE, "question": "Which slot?", "options": [{"option_name": "Morning"},
                    {"option_name": "Evening"}], "allow_multiple_answers": false}),
            ),
            good(
                "template",
                "/send/template",
                json!({"number": PHONE, "body": "Your order is ready.", "footer": "WUTS Store",
                    "header": {"type": "text", "text": "Order update"},
                    "buttons": [{"type": "quick_reply", "text": "Track order", "id": "track"},
                        {"type": "url", "text": "Open store", "url": "https://store.example.com/orders/1"}]}),
            ),
            good(
                "list",
                "/send/interactive",
                json!({"to": PHONE, "title": "Our menu", "body": "Pick one.", "button_text": "View products",
                    "sections": [{"title": "Beverages", "rows": [{"id": "coffee", "title": "Coffee"}]}]}),
            ),
            good(
                "list-response",
                "/send/list-response",
                json!({"to": PHONE, "selected_row_id": "coffee", "title": "Coffee",
                    "quoted": {"message_id": "3EB0XXXX223344556677AABB", "participant": "5511999999999@s.whatsapp.net"}}),
            ),
            good(
                "buttons-response",
                "/send/buttons-response",
                json!({"to": PHONE, "selected_button_id": "confirm_order", "selected_display_text": "Confirm",
                    "quoted": {"message_id": "{buttons}", "participant": "5511999999999@s.whatsapp.net"}}),
            ),
            good(
                "reaction",
                "/send/reaction",
                json!({"number": PHONE, "messageId": "{last}", "reaction": "👍"}),
            ),
            Step {
                method: "PUT",
                ..good(
                    "edit",
                    "/messages/{last}",
                    json!({"to": PHONE, "message": "soak, edited"}),
                )
            },
            good(
                "audio",
                "/send/audio",
                json!({"number": PHONE, "audio": clip, "ptt": true}),
            ),
            good(
                "inbound",
                "/sandbox/inbound",
                json!({"from": SENDER, "message": {"conversation": "hello"}}),
            ),
            read("devices", "/devices", 200),
            read("health", "/health", 200),
            read("outbox", "/sandbox/outbox?limit=1", 200),
            read(
                "unknown job",
                "/jobs/00000000-0000-4000-8000-000000000000",
                404,
            ),
            bad(
                "malformed JSON",
                "POST",
                "/send/text",
                "{\"number\": ".into(),
                400,
            ),
            bad("missing field", "POST", "/send/buttons", "{}".into(), 400),
            bad(
                "over the body limit",
                "POST",
                "/send/text",
                json!({"number": PHONE, "text": "x".repeat(80 * 1024)}).to_string(),
                413,
            ),
            bad(
                "not audio",
                "POST",
                "/send/audio",
                json!({"number": PHONE, "audio": base64(&[7u8; 4096])}).to_string(),
                400,
            ),
            bad(
                "refused URL scheme",
                "POST",
                "/send/audio",
                json!({"number": PHONE, "audio_url": "ftp://example.com/a.mp3"}).to_string(),
                400,
            ),
            bad("unknown route", "POST", "/send/nothing", "{}".into(), 404),
            bad(
                "edit of an unknown message",
                "PUT",
                "/messages/3EB0000000000000000000",
                json!({"to": PHONE, "message": "x"}).to_string(),
                404,
            ),
            Step {
                token: "not-a-token".into(),
                ..bad(
                    "bad token",
                    "POST",
                    "/send/text",
                    json!({"number": PHONE, "text": "x"}).to_string(),
                    401,
                )
            },
        ];
        // A tenant without a webhook is answered 404 here.
        steps.push(read("webhook", "/webhook", if hooked { 200 } else { 404 }));
        Plan {
            base: base.to_owned(),
            steps,
        }
    }

    /// Cycles through the steps (each connection from its own offset) until `stop`.
    fn run(self, stop: &AtomicBool, offset: usize) -> BTreeMap<&'static str, Count> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut counts: BTreeMap<&'static str, Count> = BTreeMap::new();
        let mut sent = Sent::default();
        // A text and a buttons message first, for the steps that refer to them.
        let primers = self
            .steps
            .iter()
            .filter(|s| s.name == "text" || s.name == "buttons");
        let cycle = self.steps.iter().cycle().skip(offset % self.steps.len());
        for step in primers.chain(cycle) {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let path = sent.fill(&step.path);
            let url = format!("{}{path}", self.base);
            let authorization = format!("Bearer {}", step.token);
            let result = match (step.method, &step.body) {
                ("GET", _) => agent
                    .get(&url)
                    .header("Authorization", &authorization)
                    .call(),
                (method, Some(body)) => {
                    let body = sent.fill(body);
                    let request = match method {
                        "PUT" => agent.put(&url),
                        _ => agent.post(&url),
                    };
                    request
                        .header("Authorization", &authorization)
                        .content_type("application/json")
                        .send(body.as_bytes())
                }
                (_, None) => unreachable!("every write step has a body"),
            };
            let count = counts.entry(step.name).or_default();
            count.requests += 1;
            let (status, text) = match result {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response
                        .body_mut()
                        .with_config()
                        .limit(16 * 1024 * 1024)
                        .read_to_string()
                        .unwrap_or_default();
                    (status, text)
                }
                Err(error) => (0, format!("no answer: {error}")),
            };
            if status >= 500 {
                count.server_errors += 1;
            }
            if status != step.expect {
                count.unexpected += 1;
                if count.example.is_none() {
                    let shown: String = text.chars().take(300).collect();
                    count.example = Some(format!("{status}: {shown}"));
                }
            } else if step.name == "text" || step.name == "buttons" {
                let id = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|reply| reply["message_id"].as_str().map(str::to_owned));
                match (step.name, id) {
                    ("text", Some(id)) => sent.text = id,
                    (_, Some(id)) => sent.buttons = id,
                    _ => {}
                }
            }
        }
        counts
    }
}

/// The ids of what a connection sent last, for the steps that refer to them.
#[derive(Default)]
struct Sent {
    text: String,
    buttons: String,
}

impl Sent {
    fn fill(&self, template: &str) -> String {
        template
            .replace("{last}", &self.text)
            .replace("{buttons}", &self.buttons)
    }
}

// ---------------------------------------------------------------------------------------
// Jobs and the event stream.

#[derive(Default)]
struct Jobs {
    queued: usize,
    sent: usize,
    failed: Vec<String>,
    unfinished: usize,
    refused: Vec<String>,
}

/// Queues a job every [`JOB_EVERY`] until `stop`, polls each until it ends, then waits
/// up to [`JOB_GRACE`] for the rest.
fn run_jobs(base: &str, user: &User, stop: &AtomicBool) -> Jobs {
    let client = wuts_e2e::http::Client::new(base);
    let body = json!({"number": PHONE, "audio": base64(&wav(3.0))});
    let mut pending: Vec<String> = Vec::new();
    let mut jobs = Jobs::default();
    let mut next = Instant::now();
    let mut grace: Option<Instant> = None;
    loop {
        if grace.is_none() && stop.load(Ordering::Relaxed) {
            grace = Some(Instant::now() + JOB_GRACE);
        }
        if grace.is_none() && Instant::now() >= next {
            next += JOB_EVERY;
            let reply = client.post_json("/send/audio", user.auth(), &body);
            let answer = reply.json_or_text();
            match answer["job_id"].as_str() {
                Some(id) if reply.status == 202 => {
                    pending.push(id.to_owned());
                    jobs.queued += 1;
                }
                _ => jobs.refused.push(format!("{}: {answer}", reply.status)),
            }
        }
        // Polls the oldest few; jobs finish roughly in order.
        let mut still = Vec::new();
        for (i, id) in pending.drain(..).enumerate() {
            if i >= 8 {
                still.push(id);
                continue;
            }
            let reply = client.get(&format!("/jobs/{id}"), user.auth());
            let job = reply.json_or_text();
            match job["status"].as_str() {
                Some("sent") => jobs.sent += 1,
                Some("processing") => still.push(id),
                _ => jobs.failed.push(format!("{id}: {job}")),
            }
        }
        pending = still;
        match grace {
            Some(until) if pending.is_empty() || Instant::now() >= until => break,
            _ => thread::sleep(Duration::from_millis(50)),
        }
    }
    jobs.unfinished = pending.len();
    jobs
}

/// Reads `GET /events` in 5 s sessions, each resuming from the last id seen.
fn read_events(base: &str, token: &str, stop: &AtomicBool, read: &AtomicUsize) {
    let mut last: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = sse::open_at(base, token, "", last.as_deref()) else {
            thread::sleep(Duration::from_millis(500));
            continue;
        };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            if let Some(event) = stream.next(Duration::from_millis(500)) {
                read.fetch_add(1, Ordering::Relaxed);
                if event.id.is_some() {
                    last = event.id;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measurements and the report.

struct Sample {
    at: Duration,
    rss_mib: f64,
    /// The anonymous part of the RSS (heap, stacks), in MiB: what a leak would grow.
    anon_mib: f64,
    fds: usize,
    threads: usize,
    cpu_seconds: f64,
}

impl Sample {
    fn take(pid: u32, at: Duration) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let threads = status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count());
        let anon_kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0.0);
        Sample {
            at,
            rss_mib: support::rss_mib(pid),
            anon_mib: anon_kib / 1024.0,
            fds,
            threads,
            cpu_seconds: support::cpu_seconds(pid),
        }
    }
}

/// The server idle before the load and after it.
struct Idle {
    before: Sample,
    after: Sample,
}

#[allow(clippy::too_many_arguments)]
fn report(
    counts: &BTreeMap<&'static str, Count>,
    jobs: &Jobs,
    samples: &[Sample],
    idle: &Idle,
    warm_up: u64,
    seconds: u64,
    receiver: &Receiver,
    events_read: &AtomicUsize,
) {
    println!("\nrequests by step:");
    let mut total = Count::default();
    for (name, count) in counts {
        println!(
            "  {name:28} {:8}  5xx {:3}  unexpected {:3}{}",
            count.requests,
            count.server_errors,
            count.unexpected,
            count
                .example
                .as_deref()
                .map(|e| format!("  e.g. {e}"))
                .unwrap_or_default()
        );
        total.add(count);
    }
    let rate = total.requests as f64 / seconds as f64;
    println!(
        "  all: {} requests ({rate:.0}/s), 5xx {}, unexpected {}",
        total.requests, total.server_errors, total.unexpected
    );
    println!(
        "jobs: {} queued, {} sent, {} failed, {} unfinished, {} refused{}{}",
        jobs.queued,
        jobs.sent,
        jobs.failed.len(),
        jobs.unfinished,
        jobs.refused.len(),
        jobs.failed
            .first()
            .map(|f| format!("; e.g. {f}"))
            .unwrap_or_default(),
        jobs.refused
            .first()
            .map(|f| format!("; e.g. {f}"))
            .unwrap_or_default(),
    );
    println!(
        "webhook deliveries received: {}; events read from GET /events: {}",
        receiver.count(),
        events_read.load(Ordering::Relaxed)
    );

    let steady: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= Duration::from_secs(warm_up))
        .collect();
    let (Some(first), Some(last)) = (steady.first(), steady.last()) else {
        println!("FAIL: no sample in the steady state");
        std::process::exit(1);
    };
    let growth = (last.rss_mib - first.rss_mib) / first.rss_mib * 100.0;
    let (fd_min, fd_max) = min_max(steady.iter().map(|s| s.fds));
    let (threads_min, threads_max) = min_max(steady.iter().map(|s| s.threads));
    let cpu = (last.cpu_seconds - first.cpu_seconds) / (last.at - first.at).as_secs_f64();
    println!(
        "steady state ({:.0} s to {:.0} s): RSS {:.1} -> {:.1} MiB ({growth:+.1}%; anonymous {:.1} -> {:.1}); fds {} -> {} (min {fd_min}, max {fd_max}); threads {} -> {} (min {threads_min}, max {threads_max}); server CPU {cpu:.2} cores",
        first.at.as_secs_f64(),
        last.at.as_secs_f64(),
        first.rss_mib,
        last.rss_mib,
        first.anon_mib,
        last.anon_mib,
        first.fds,
        last.fds,
        first.threads,
        last.threads,
    );

    println!(
        "idle before the load: RSS {:.1} MiB, {} fds, {} threads; {} s after it: RSS {:.1} MiB, {} fds, {} threads",
        idle.before.rss_mib,
        idle.before.fds,
        idle.before.threads,
        IDLE_AFTER.as_secs(),
        idle.after.rss_mib,
        idle.after.fds,
        idle.after.threads,
    );

    let verdicts = [
        ("no 5xx", total.server_errors == 0),
        ("every status as expected", total.unexpected == 0),
        ("RSS growth under 10%", growth < 10.0),
        (
            "file descriptors flat (<= 16 more at the end, and back after the load)",
            last.fds <= first.fds + 16 && idle.after.fds <= idle.before.fds + 16,
        ),
        (
            "threads flat (bounded under load; back to idle + 8 after it)",
            threads_max <= THREAD_BOUND && idle.after.threads <= idle.before.threads + 8,
        ),
        (
            "every job sent",
            jobs.queued > 0 && jobs.sent == jobs.queued && jobs.refused.is_empty(),
        ),
        ("webhooks delivered", receiver.count() > 0),
    ];
    let mut failed = false;
    for (name, met) in verdicts {
        println!("{}: {name}", if met { "met" } else { "FAIL" });
        failed |= !met;
    }
    if failed {
        std::process::exit(1);
    }
}

/// The database and its write-ahead log, in MiB.
fn store_mib(server: &Server) -> f64 {
    let database = server.setup().store_path();
    let mut wal = database.clone().into_os_string();
    wal.push("-wal");
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    (size(&database) + size(std::path::Path::new(&wal))) as f64 / (1024.0 * 1024.0)
}

fn min_max(values: impl Iterator<Item = usize>) -> (usize, usize) {
    values.fold((usize::MAX, 0), |(min, max), v| (min.min(v), max.max(v)))
}

// ---------------------------------------------------------------------------------------
// Inputs and the webhook receiver.

/// A mono 16 kHz 16-bit WAV of a 440 Hz tone, `seconds` long.
fn wav(seconds: f64) -> Vec<u8> {
    const RATE: u32 = 16_000;
    let samples = (seconds * f64::from(RATE)) as u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..samples {
        let t = f64::from(n) / f64::from(RATE);
        let value = (f64::sin(2.0 * std::f64::consts::PI * 440.0 * t) * 8000.0) as i16;
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    wuts_e2e::audio_fixtures::base64(bytes)
}

/// A webhook receiver on a free loopback port (actix-web, one worker) answering 200.
struct Receiver {
    url: String,
    count: Arc<AtomicUsize>,
}

impl Receiver {
    fn start() -> Self {
        let count = Arc::new(AtomicUsize::new(0));
        let data = web::Data::from(Arc::clone(&count));
        let address = support::serve_on_loopback(move |config| {
            config
                .app_data(data.clone())
                .route("/hook", web::post().to(take_delivery));
        });
        let url = format!("http://{address}/hook");
        Receiver { url, count }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn take_delivery(_body: web::Bytes, count: web::Data<AtomicUsize>) -> HttpResponse {
    count.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().finish()
}

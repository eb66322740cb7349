//! Benchmark: what events and webhooks cost. The release `wuts` with the buttons plugin and
//! the sandbox driver; a webhook receiver started here on 127.0.0.1 (actix-web, one worker,
//! answering 200 with no body and noting each delivery's message id and arrival time); the
//! load made in this process (ureq, one keep-alive connection per thread) or by wrk. The
//! servers allow private URLs (`WUTS__FETCH__ALLOW_PRIVATE_URLS=true`, as
//! tests/e2e/webhooks.rs), so that the loopback receiver is a valid target.
//!
//! `cargo bench -p wuts-e2e --bench events` (builds the release server first; with
//! `WUTS_BIN_DIR` set, runs that build instead). It measures:
//!
//! a. **Delivery rate**: bursts of sends (16 client threads) from a device with a webhook on
//!    `message.sent`, timed from the first send until every delivery arrived; deliveries
//!    per second from the first delivery to the last. A device's deliveries go out one at a
//!    time, in event order, so the bursts are made from one device, then spread over
//!    several; and in sizes, since what a delivery costs grows with the backlog.
//! b. **Send throughput with a webhook / without**: wrk rounds (64 connections) that
//!    alternate between a user with a webhook on `message.sent` and one without (the order
//!    swaps every round). Each round runs on a fresh server (same build, 200 warm-up sends)
//!    that is killed after it: the backlog a hooked round leaves cannot be drained in
//!    reasonable time (see a), and would otherwise burden the next round. Printed: the
//!    rates' ratio, server CPU per send during the load (`/proc/PID/stat`), what was
//!    delivered during the load, and, after the last rounds, how long one more send and one
//!    store read take while the deliverer works on the backlog.
//! c. **Delivery latency** at a steady rate: from the moment a send's 200 was read to the
//!    moment the receiver got the delivery carrying its message id, with the deliveries'
//!    backlog sampled meanwhile; at a rate well under the delivery rate of (a), and at 200
//!    sends/s.
//! d. **Store growth per 1000 events**: the database file plus its `-wal`, measured after
//!    each SIGTERM and a checkpoint (`sqlite3 DB 'PRAGMA wal_checkpoint(TRUNCATE)'`, when
//!    the `sqlite3` command is installed: the server leaves its WAL behind), before and after
//!    a batch of sends from a device without a webhook, then from one with a webhook (sent
//!    in chunks, each chunk's deliveries awaited, so no backlog builds). Each send stores a
//!    message log row and an event; a webhook adds a delivery row.
//!
//! Knobs: `WUTS_EVENTS_ONLY=a,b,c,d` runs some sections; `WUTS_EVENTS_BURSTS=100,300`
//! sets the one-device burst sizes.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use wuts_e2e::{Server, ServerOptions, Setup, User};

/// wrk connections for the throughput rounds (as benches/buttons.rs).
const CONNECTIONS: u32 = 64;
/// Alternating throughput rounds, each side, and their length.
const ROUNDS: usize = 6;
const ROUND_SECONDS: u32 = 2;
/// In-process sends that warm each round's server up.
const WARM_UP_SENDS: usize = 200;
/// How long the probes after the last round wait for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// Client threads for the bursts of sends.
const CLIENT_THREADS: usize = 16;
/// One-device burst sizes.
const BURSTS: [usize; 3] = [100, 300, 600];
/// Devices the last burst is spread over, and its size.
const BURST_DEVICES: usize = 8;
const SPREAD_BURST: usize = 600;
/// The latency runs' rates (sends per second, from one device), each for `PACED_SECONDS`.
const PACED: [u32; 2] = [50, 200];
const PACED_SECONDS: u32 = 10;
/// How long a paced run's deliveries may trail its last send before the rest is dropped.
const PACED_GRACE: Duration = Duration::from_secs(15);
/// Sends in each store-growth batch, and the chunk whose deliveries are awaited.
const DISK_SENDS: usize = 2000;
const DISK_CHUNK: usize = 100;
/// How long a burst's deliveries may take to arrive.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    support::use_release_build();
    let started = Instant::now();
    let only = std::env::var("WUTS_EVENTS_ONLY").unwrap_or_default();
    let runs = |section: &str| only.is_empty() || only.split(',').any(|s| s.trim() == section);
    let receiver = Receiver::start();
    let body = serde_json::to_string(&wuts_e2e::example_buttons_body()).expect("serialises");

    let server = Server::start(options());
    let hooked = server.create_user("bench-hooked", "hooked");
    let plain = server.create_user("bench-plain", "plain");
    configure_webhook(&server, &hooked, None, &receiver.url);
    let hooked_sender = Sender::new(&server, &hooked, None, &body);
    let plain_sender = Sender::new(&server, &plain, None, &body);
    // Warm-up: plugin paths, connections, the deliverer's client.
    for _ in 0..20 {
        let marker = hooked_sender.send();
        receiver.wait_for(&marker, DELIVERY_TIMEOUT);
        plain_sender.send();
    }
    receiver.take();
    println!(
        "Events and webhooks: {}, sandbox driver, receiver on 127.0.0.1, {} CPUs shared by \
         server, load and receiver",
        wuts_e2e::locate::artefact_dir().display(),
        thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut report = Report::default();
    if runs("a") {
        println!("\na. Delivery rate: bursts of sends ({CLIENT_THREADS} client threads)");
        println!(
            "{:>8} {:>8} {:>10} {:>14} {:>18}",
            "devices", "sends", "sends/s", "deliveries/s", "first send->last"
        );
        for size in burst_sizes() {
            let burst = burst(&receiver, std::slice::from_ref(&hooked_sender), size);
            burst.print();
            report.bursts.push(burst);
        }
        let mut spread = Vec::new();
        for n in 0..BURST_DEVICES {
            let device_id = create_device(&server, &hooked, &format!("burst {n}"));
            configure_webhook(&server, &hooked, Some(&device_id), &receiver.url);
            spread.push(Sender::new(&server, &hooked, Some(&device_id), &body));
        }
        let burst = burst(&receiver, &spread, SPREAD_BURST);
        burst.print();
        report.bursts.push(burst);
    }
    if runs("c") {
        println!(
            "\nc. Delivery latency at a steady rate, {PACED_SECONDS} s each: a send's 200 -> its \
             delivery at the receiver"
        );
        println!(
            "{:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>12}",
            "sends/s", "sends", "delivered", "p50 ms", "p90 ms", "p99 ms", "max ms", "backlog max"
        );
        for rate in PACED {
            let run = paced(&server, &receiver, &hooked, &hooked_sender, rate);
            run.print();
            report.paced.push(run);
        }
    }
    drop(server);
    if runs("b") {
        let rounds = Rounds {
            receiver: &receiver,
            body: &body,
        };
        let throughput = throughput_rounds(&rounds);
        throughput.print();
        report.throughput = Some(throughput);
    }
    if runs("d") {
        let disk = disk_growth(&receiver, &body);
        disk.print();
        report.disk = Some(disk);
    }
    report.print(started.elapsed());
}

fn burst_sizes() -> Vec<usize> {
    std::env::var("WUTS_EVENTS_BURSTS")
        .ok()
        .map(|text| {
            text.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| BURSTS.to_vec())
}

fn options() -> ServerOptions {
    ServerOptions::default().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")
}

/// `POST /webhook` for `message.sent` to `url` on the user's default device or `device_id`.
fn configure_webhook(server: &Server, user: &User, device_id: Option<&str>, url: &str) {
    let mut body = json!({"webhook_url": url, "enabled_events": ["message.sent"]});
    if let Some(device_id) = device_id {
        body["device_id"] = json!(device_id);
    }
    let (status, reply) = server.post_json("/webhook", &user.token, &body);
    assert_eq!(status, 200, "POST /webhook answered {status}: {reply}");
}

/// `DELETE /webhook` on the user's default device or `device_id` (its pending deliveries
/// go with it); how long it took.
fn delete_webhook(server: &Server, user: &User, device_id: Option<&str>) -> Duration {
    let path = match device_id {
        Some(id) => format!("/webhook?device_id={id}"),
        None => "/webhook".to_owned(),
    };
    let started = Instant::now();
    let reply = server.client().delete(&path, user.auth());
    assert_eq!(reply.status, 200, "DELETE /webhook: {}", reply.text());
    started.elapsed()
}

fn create_device(server: &Server, user: &User, name: &str) -> String {
    let (status, reply) = server.post_json("/devices", &user.token, &json!({ "name": name }));
    assert_eq!(status, 201, "POST /devices answered {status}: {reply}");
    reply["device"]["id"]
        .as_str()
        .expect("the device has an id")
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// The receiver: actix-web on a free loopback port, one worker, 200 with no body.

/// Deliveries as they arrived: the message id each carried, and when.
#[derive(Default)]
struct Arrivals {
    list: Mutex<Vec<(String, Instant)>>,
    count: AtomicUsize,
}

struct Receiver {
    url: String,
    arrivals: Arc<Arrivals>,
}

impl Receiver {
    fn start() -> Self {
        let arrivals = Arc::new(Arrivals::default());
        let data = web::Data::from(Arc::clone(&arrivals));
        let address = support::serve_on_loopback(move |config| {
            config
                .app_data(data.clone())
                .route("/hook", web::post().to(take_delivery));
        });
        let url = format!("http://{address}/hook");
        thread::sleep(Duration::from_millis(300));
        Self { url, arrivals }
    }

    fn count(&self) -> usize {
        self.arrivals.count.load(Ordering::SeqCst)
    }

    /// Everything that arrived so far, and forgets it.
    fn take(&self) -> Vec<(String, Instant)> {
        std::mem::take(&mut *self.arrivals.list.lock().expect("not poisoned"))
    }

    /// Waits until a delivery carrying `message_id` arrived (or panics after `timeout`);
    /// when it did.
    fn wait_for(&self, message_id: &str, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            {
                let list = self.arrivals.list.lock().expect("not poisoned");
                if let Some((_, at)) = list[seen.min(list.len())..]
                    .iter()
                    .find(|(id, _)| id == message_id)
                {
                    return *at;
                }
                seen = list.len();
            }
            assert!(
                Instant::now() < deadline,
                "no delivery of {message_id} within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `count` deliveries have arrived in all, or `deadline`; whether they did.
    fn reached(&self, count: usize, deadline: Instant) -> bool {
        while self.count() < count {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Waits until `count` deliveries have arrived in all (or panics after `timeout`).
    fn wait_count(&self, count: usize, timeout: Duration) {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut report = started + Duration::from_secs(5);
        while self.count() < count {
            let now = Instant::now();
            assert!(
                now < deadline,
                "{} of {count} deliveries within {timeout:?}",
                self.count()
            );
            if now >= report {
                eprintln!(
                    "  waiting: {} of {count} deliveries after {:.0} s",
                    self.count(),
                    (now - started).as_secs_f64()
                );
                report += Duration::from_secs(5);
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

async fn take_delivery(body: web::Bytes, arrivals: web::Data<Arrivals>) -> HttpResponse {
    let at = Instant::now();
    let id = message_id_in(&body).unwrap_or_default();
    arrivals.list.lock().expect("not poisoned").push((id, at));
    arrivals.count.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().finish()
}

/// `data.message_id` of a delivery (the envelope is compact JSON; parsed if not found so).
fn message_id_in(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"message_id\":\"";
    if let Some(at) = body.windows(KEY.len()).position(|w| w == KEY) {
        let rest = &body[at + KEY.len()..];
        let end = rest.iter().position(|&b| b == b'"')?;
        return String::from_utf8(rest[..end].to_vec()).ok();
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    value["data"]["message_id"].as_str().map(str::to_owned)
}

// ---------------------------------------------------------------------------------------
// In-process sends.

/// Sends buttons messages from one device, one keep-alive connection per thread.
#[derive(Clone)]
struct Sender {
    url: String,
    authorization: String,
    body: String,
}

impl Sender {
    fn new(server: &Server, user: &User, device_id: Option<&str>, body: &str) -> Self {
        let url = match device_id {
            Some(id) => server.url(&format!("/send/buttons?device_id={id}")),
            None => server.url("/send/buttons"),
        };
        Self {
            url,
            authorization: format!("Bearer {}", user.token),
            body: body.to_owned(),
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into()
    }

    /// One send on a fresh agent; its message id.
    fn send(&self) -> String {
        self.send_with(&Self::agent())
    }

    /// One send, which must answer 200; its message id.
    fn send_with(&self, agent: &ureq::Agent) -> String {
        let mut response = agent
            .post(&self.url)
            .header("Authorization", &self.authorization)
            .content_type("application/json")
            .send(self.body.as_bytes())
            .unwrap_or_else(|e| panic!("POST /send/buttons failed: {e}"));
        let text = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("reading the reply failed: {e}"));
        let status = response.status().as_u16();
        assert_eq!(status, 200, "POST /send/buttons answered {status}: {text}");
        let reply: Value = serde_json::from_str(&text).expect("a JSON reply");
        reply["message_id"]
            .as_str()
            .expect("a message id")
            .to_owned()
    }
}

/// `total` sends from `CLIENT_THREADS` threads spread over `senders` (send n from
/// `senders[n % len]`); each message id and when its 200 arrived.
fn send_all(senders: &[Sender], total: usize) -> Vec<(String, Instant)> {
    let next = AtomicUsize::new(0);
    let sent = Mutex::new(Vec::with_capacity(total));
    thread::scope(|scope| {
        for _ in 0..CLIENT_THREADS {
            scope.spawn(|| {
                let agent = Sender::agent();
                let mut mine = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= total {
                        break;
                    }
                    let id = senders[n % senders.len()].send_with(&agent);
                    mine.push((id, Instant::now()));
                }
                sent.lock().expect("not poisoned").extend(mine);
            });
        }
    });
    sent.into_inner().expect("not poisoned")
}

// ---------------------------------------------------------------------------------------
// a. Delivery rate.

struct Burst {
    devices: usize,
    sends: usize,
    /// Sends per second, from the first send to the last 200.
    send_rate: f64,
    /// Deliveries per second, from the first delivery to the last.
    delivery_rate: f64,
    /// From the first send to the last delivery.
    end_to_end: Duration,
}

impl Burst {
    fn print(&self) {
        println!(
            "{:>8} {:>8} {:>10.0} {:>14.0} {:>15.0} ms",
            self.devices,
            self.sends,
            self.send_rate,
            self.delivery_rate,
            ms(self.end_to_end)
        );
    }
}

/// `total` sends spread over `senders`, timed until every delivery arrived.
fn burst(receiver: &Receiver, senders: &[Sender], total: usize) -> Burst {
    receiver.take();
    let before = receiver.count();
    let start = Instant::now();
    let sent = send_all(senders, total);
    let last_reply = sent.iter().map(|(_, at)| *at).max().unwrap_or(start);
    receiver.wait_count(before + sent.len(), DELIVERY_TIMEOUT);
    let arrivals = receiver.take();
    let ids: HashSet<&str> = arrivals.iter().map(|(id, _)| id.as_str()).collect();
    let missing = sent
        .iter()
        .filter(|(id, _)| !ids.contains(id.as_str()))
        .count();
    assert_eq!(missing, 0, "every send was delivered");
    let first = arrivals.iter().map(|(_, at)| *at).min().unwrap_or(start);
    let last = arrivals.iter().map(|(_, at)| *at).max().unwrap_or(start);
    Burst {
        devices: senders.len(),
        sends: sent.len(),
        send_rate: sent.len() as f64 / (last_reply - start).as_secs_f64(),
        delivery_rate: arrivals.len().saturating_sub(1) as f64
            / (last - first).as_secs_f64().max(1e-9),
        end_to_end: last - start,
    }
}

// ---------------------------------------------------------------------------------------
// b. Throughput with a webhook and without.

#[derive(Default)]
struct Side {
    rounds: Vec<support::LoadResult>,
    /// Server CPU seconds during the rounds' load.
    cpu: f64,
    /// Deliveries that arrived during the load.
    delivered: usize,
    /// After the last round's load: how long a send, and a store read
    /// (`GET /webhook/failures`), took; `None`: no answer within `PROBE_TIMEOUT`.
    probe_send: Option<Duration>,
    probe_read: Option<Duration>,
}

impl Side {
    fn requests(&self) -> u64 {
        self.rounds.iter().map(|r| r.requests).sum()
    }

    fn cpu_us_per_send(&self) -> f64 {
        self.cpu / self.requests().max(1) as f64 * 1e6
    }

    fn mean(&self) -> support::LoadResult {
        support::LoadResult::mean(&self.rounds)
    }
}

struct Throughput {
    hooked: Side,
    plain: Side,
}

impl Throughput {
    fn ratio(&self) -> f64 {
        self.hooked.mean().requests_per_second / self.plain.mean().requests_per_second
    }

    fn cpu_ratio(&self) -> f64 {
        self.hooked.cpu_us_per_send() / self.plain.cpu_us_per_send().max(1e-9)
    }

    fn print(&self) {
        let (hooked, plain) = (self.hooked.mean(), self.plain.mean());
        assert_eq!(hooked.failures, 0, "every send with a webhook succeeded");
        assert_eq!(plain.failures, 0, "every send without a webhook succeeded");
        println!(
            "\nb. POST /send/buttons, {CONNECTIONS} connections (wrk), {ROUNDS} alternating rounds \
             of {ROUND_SECONDS} s each side, each on a fresh server (killed after it); with a \
             webhook on message.sent, and without"
        );
        println!(
            "{:<18} {:>11} {:>8} {:>8} {:>9} {:>12} {:>10}",
            "", "requests/s", "p50 ms", "p99 ms", "requests", "CPU us/send", "delivered"
        );
        for (name, mean, side) in [
            ("without webhook", plain, &self.plain),
            ("with webhook", hooked, &self.hooked),
        ] {
            println!(
                "{:<18} {:>11.0} {:>8.2} {:>8.2} {:>9} {:>12.1} {:>10}",
                name,
                mean.requests_per_second,
                ms(mean.p50),
                ms(mean.p99),
                mean.requests,
                side.cpu_us_per_send(),
                side.delivered
            );
        }
        let by_round: Vec<String> = self
            .hooked
            .rounds
            .iter()
            .zip(&self.plain.rounds)
            .map(|(h, p)| format!("{:.2}", h.requests_per_second / p.requests_per_second))
            .collect();
        let ratio = self.ratio();
        println!(
            "throughput with/without: {ratio:.3} (target >= 0.90) {}",
            verdict(ratio >= 0.90)
        );
        println!("  by round:              {}", by_round.join(" "));
        println!(
            "server CPU per send during the load, with/without: {:.2}",
            self.cpu_ratio()
        );
        println!(
            "  delivered during the hooked load: {} of {} sends (the rest is left to the \
             killed server)",
            self.hooked.delivered,
            self.hooked.requests()
        );
        for (name, side) in [("without", &self.plain), ("with", &self.hooked)] {
            println!(
                "  right after the last round's load, {name} webhook: a send took {}, \
                 GET /webhook/failures {}",
                probed(side.probe_send),
                probed(side.probe_read)
            );
        }
    }
}

/// What the throughput rounds share.
struct Rounds<'a> {
    receiver: &'a Receiver,
    body: &'a str,
}

/// How long one call took, or `None` if it got no answer within `PROBE_TIMEOUT`.
fn probe(call: impl FnOnce(&ureq::Agent) -> Result<u16, ureq::Error>) -> Option<Duration> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PROBE_TIMEOUT))
        .build()
        .into();
    let started = Instant::now();
    match call(&agent) {
        Ok(200) => Some(started.elapsed()),
        _ => None,
    }
}

impl Rounds<'_> {
    /// One round of wrk for `ROUND_SECONDS` on a fresh server, killed after it, so that no
    /// round pays for another's deliveries; with `hooked`, the user has a webhook. With
    /// `probe`, how long a send and a store read take right after the load.
    fn round(&self, side: &mut Side, hooked: bool, probe_after: bool) {
        let mut server = Server::start(options());
        let user = server.create_user("bench-round", "round");
        if hooked {
            configure_webhook(&server, &user, None, &self.receiver.url);
        }
        // Warm-up, its deliveries awaited.
        let sender = Sender::new(&server, &user, None, self.body);
        let before = self.receiver.count();
        send_all(std::slice::from_ref(&sender), WARM_UP_SENDS);
        if hooked {
            self.receiver
                .wait_count(before + WARM_UP_SENDS, DELIVERY_TIMEOUT);
        }
        let pid = server.pid().expect("the server runs");
        let cpu_before = support::cpu_seconds(pid);
        let count_before = self.receiver.count();
        let result = support::wrk_post(
            &server.url("/send/buttons"),
            &user.token,
            self.body,
            CONNECTIONS,
            ROUND_SECONDS,
        );
        side.cpu += support::cpu_seconds(pid) - cpu_before;
        side.delivered += self.receiver.count() - count_before;
        side.rounds.push(result);
        if probe_after {
            side.probe_send = probe(|agent| {
                agent
                    .post(&sender.url)
                    .header("Authorization", &sender.authorization)
                    .content_type("application/json")
                    .send(sender.body.as_bytes())
                    .map(|r| r.status().as_u16())
            });
            side.probe_read = probe(|agent| {
                agent
                    .get(server.url("/webhook/failures"))
                    .header("Authorization", &sender.authorization)
                    .call()
                    .map(|r| r.status().as_u16())
            });
        }
        server.stop_with(libc::SIGKILL);
        thread::sleep(Duration::from_millis(100));
        self.receiver.take();
    }
}

fn throughput_rounds(rounds: &Rounds<'_>) -> Throughput {
    let mut with = Side::default();
    let mut without = Side::default();
    for n in 0..ROUNDS {
        // The order swaps every round.
        let hooked_first = n % 2 == 1;
        for hooked_turn in [hooked_first, !hooked_first] {
            if hooked_turn {
                rounds.round(&mut with, true, n + 1 == ROUNDS);
            } else {
                rounds.round(&mut without, false, n + 1 == ROUNDS);
            }
        }
    }
    Throughput {
        hooked: with,
        plain: without,
    }
}

// ---------------------------------------------------------------------------------------
// c. Latency at a steady rate.

struct Paced {
    rate: u32,
    sends: usize,
    achieved_rate: f64,
    delivered: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    /// The most sends answered but not yet delivered, sampled every 10 ms.
    backlog_max: usize,
    /// Deliveries that arrived before the client read its send's 200 (counted as 0).
    before_reply: usize,
}

impl Paced {
    fn print(&self) {
        println!(
            "{:>8} {:>8} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>12}",
            self.rate,
            self.sends,
            self.delivered,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.backlog_max
        );
        if self.delivered < self.sends {
            println!(
                "  {} sends not delivered within {PACED_GRACE:?} of the last: dropped with \
                 DELETE /webhook; the percentiles count them as that late",
                self.sends - self.delivered
            );
        }
        if self.before_reply > 0 {
            println!(
                "  {} deliveries arrived before their send's 200 was read (counted as 0 ms)",
                self.before_reply
            );
        }
        println!("  achieved {:.0} sends/s", self.achieved_rate);
    }
}

/// `rate` sends per second for `PACED_SECONDS` from `sender` (4 threads on a shared
/// schedule), then up to `PACED_GRACE` for the deliveries.
fn paced(server: &Server, receiver: &Receiver, user: &User, sender: &Sender, rate: u32) -> Paced {
    const THREADS: usize = 4;
    let total = (rate * PACED_SECONDS) as usize;
    let interval = Duration::from_secs(1) / rate;
    receiver.take();
    let count_before = receiver.count();
    let answered = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let backlog_max = AtomicUsize::new(0);
    let start = Instant::now() + Duration::from_millis(50);
    let sent = Mutex::new(Vec::with_capacity(total));
    thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let delivered = receiver.count() - count_before;
                let backlog = answered.load(Ordering::SeqCst).saturating_sub(delivered);
                backlog_max.fetch_max(backlog, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(10));
            }
        });
        let senders: Vec<_> = (0..THREADS)
            .map(|thread_index| {
                let (sent, answered) = (&sent, &answered);
                scope.spawn(move || {
                    let agent = Sender::agent();
                    let mut mine = Vec::new();
                    for n in (thread_index..total).step_by(THREADS) {
                        let due = start + interval * n as u32;
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        let id = sender.send_with(&agent);
                        mine.push((id, Instant::now()));
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    sent.lock().expect("not poisoned").extend(mine);
                })
            })
            .collect();
        for handle in senders {
            handle.join().expect("a sender thread");
        }
        receiver.reached(count_before + total, Instant::now() + PACED_GRACE);
        done.store(true, Ordering::SeqCst);
    });
    let sent = sent.into_inner().expect("not poisoned");
    let last_reply = sent.iter().map(|(_, at)| *at).max().unwrap_or(start);
    let arrivals = receiver.take();
    let arrived: HashMap<&str, Instant> = arrivals
        .iter()
        .rev()
        .map(|(id, at)| (id.as_str(), *at))
        .collect();
    let delivered = sent
        .iter()
        .filter(|(id, _)| arrived.contains_key(id.as_str()))
        .count();
    if delivered < total {
        // Drop the rest, then be ready for the next run.
        delete_webhook(server, user, None);
        thread::sleep(Duration::from_millis(200));
        receiver.take();
        configure_webhook(server, user, None, &receiver.url);
    }
    let mut before_reply = 0;
    let mut latencies: Vec<Duration> = sent
        .iter()
        .map(|(id, replied)| match arrived.get(id.as_str()) {
            Some(at) => {
                if at < replied {
                    before_reply += 1;
                }
                at.saturating_duration_since(*replied)
            }
            None => last_reply + PACED_GRACE - *replied,
        })
        .collect();
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Paced {
        rate,
        sends: total,
        achieved_rate: total as f64 / (last_reply - start).as_secs_f64(),
        delivered,
        p50: percentile(0.50),
        p90: percentile(0.90),
        p99: percentile(0.99),
        max: *latencies.last().unwrap_or(&Duration::ZERO),
        backlog_max: backlog_max.load(Ordering::SeqCst),
        before_reply,
    }
}

// ---------------------------------------------------------------------------------------
// d. Store growth.

struct Disk {
    /// Bytes per 1000 sends without a webhook, and with one.
    plain_per_1000: f64,
    hooked_per_1000: f64,
    /// The `-wal` file's size after each stop (0: the close removed it).
    wal_after_stop: Vec<u64>,
    /// (table, bytes per 1000 sends without a webhook, with one), for the tables that grew.
    tables: Vec<(String, f64, f64)>,
    /// Whether every measurement followed a `sqlite3` checkpoint (else the WAL is counted
    /// as the server left it).
    checkpointed: bool,
    /// Database + WAL at the end, while the server still ran, and after its stop.
    live_bytes: u64,
    final_bytes: u64,
}

impl Disk {
    fn print(&self) {
        println!(
            "\nd. Store growth per 1000 events: database + WAL after each SIGTERM and {}, \
             batches of {DISK_SENDS} sends",
            if self.checkpointed {
                "a checkpoint (sqlite3: PRAGMA wal_checkpoint(TRUNCATE))"
            } else {
                "NO checkpoint (sqlite3 not found): WAL as left"
            }
        );
        println!(
            "without webhook: {:.1} KiB; with webhook deliveries: {:.1} KiB (the deliveries \
             add {:.1} KiB)",
            kib(self.plain_per_1000),
            kib(self.hooked_per_1000),
            kib(self.hooked_per_1000 - self.plain_per_1000)
        );
        for (table, plain, hooked) in &self.tables {
            println!(
                "  table {table:<16} (with its indexes): {:>8.1} KiB without, {:>8.1} KiB with",
                kib(*plain),
                kib(*hooked)
            );
        }
        println!(
            "  WAL the server left at each stop, bytes: {:?}; at the end {:.2} MiB running \
             (database + WAL), {:.2} MiB checkpointed",
            self.wal_after_stop,
            self.live_bytes as f64 / 1048576.0,
            self.final_bytes as f64 / 1048576.0
        );
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// The database's size plus its WAL's.
fn store_bytes(database: &Path) -> u64 {
    file_size(database) + file_size(&wal_path(database))
}

/// Checkpoints the stopped server's WAL into the database with the `sqlite3` command
/// (`PRAGMA wal_checkpoint(TRUNCATE)`), if it is installed; whether it did.
fn checkpoint(database: &Path) -> bool {
    std::process::Command::new("sqlite3")
        .arg(database)
        .arg("PRAGMA wal_checkpoint(TRUNCATE);")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Bytes of pages each table uses, its indexes included (`sqlite3` and its `dbstat`
/// table; empty without them).
fn table_bytes(database: &Path) -> HashMap<String, u64> {
    let output = std::process::Command::new("sqlite3")
        .arg(database)
        .arg(
            "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m \
             ON m.name = d.name GROUP BY m.tbl_name;",
        )
        .output();
    let Ok(output) = output else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, bytes) = line.split_once('|')?;
            Some((name.to_owned(), bytes.trim().parse().ok()?))
        })
        .collect()
}

/// A stopped server's store: database + WAL, and by table.
struct Measured {
    bytes: u64,
    tables: HashMap<String, u64>,
}

/// Stops the server (SIGTERM), notes the WAL it left, checkpoints it; the store's size,
/// and the setup to start again.
fn stop_and_measure(server: Server, disk: &mut Disk) -> (Measured, Setup) {
    let setup = server.into_setup();
    let database = setup.store_path();
    disk.wal_after_stop.push(file_size(&wal_path(&database)));
    disk.checkpointed &= checkpoint(&database);
    let measured = Measured {
        bytes: store_bytes(&database),
        tables: table_bytes(&database),
    };
    (measured, setup)
}

fn disk_growth(receiver: &Receiver, body: &str) -> Disk {
    let mut disk = Disk {
        plain_per_1000: 0.0,
        hooked_per_1000: 0.0,
        wal_after_stop: Vec::new(),
        tables: Vec::new(),
        checkpointed: true,
        live_bytes: 0,
        final_bytes: 0,
    };
    let server = Server::start(options());
    let plain = server.create_user("disk-plain", "plain");
    let hooked = server.create_user("disk-hooked", "hooked");
    configure_webhook(&server, &hooked, None, &receiver.url);
    Sender::new(&server, &plain, None, body).send();
    let warm = Sender::new(&server, &hooked, None, body).send();
    receiver.wait_for(&warm, DELIVERY_TIMEOUT);
    receiver.take();
    let (empty, setup) = stop_and_measure(server, &mut disk);

    // A restarted server listens on another port.
    let server = setup.start();
    let plain_sender = Sender::new(&server, &plain, None, body);
    send_all(std::slice::from_ref(&plain_sender), DISK_SENDS);
    // The message log's writer commits the last batch a few milliseconds later.
    thread::sleep(Duration::from_millis(500));
    let (after_plain, setup) = stop_and_measure(server, &mut disk);

    let server = setup.start();
    let hooked_sender = Sender::new(&server, &hooked, None, body);
    for _ in 0..DISK_SENDS / DISK_CHUNK {
        let before = receiver.count();
        send_all(std::slice::from_ref(&hooked_sender), DISK_CHUNK);
        receiver.wait_count(before + DISK_CHUNK, DELIVERY_TIMEOUT);
    }
    // The last delivery's outcome is stored after its answer.
    thread::sleep(Duration::from_millis(500));
    receiver.take();
    disk.live_bytes = store_bytes(&server.setup().store_path());
    let (after_hooked, setup) = stop_and_measure(server, &mut disk);
    drop(setup);

    let per_1000 = |bytes: u64| bytes as f64 / DISK_SENDS as f64 * 1000.0;
    disk.plain_per_1000 = per_1000(after_plain.bytes.saturating_sub(empty.bytes));
    disk.hooked_per_1000 = per_1000(after_hooked.bytes.saturating_sub(after_plain.bytes));
    disk.final_bytes = after_hooked.bytes;
    let grown = |after: &Measured, before: &Measured, table: &str| {
        let bytes = |m: &Measured| m.tables.get(table).copied().unwrap_or(0);
        per_1000(bytes(after).saturating_sub(bytes(before)))
    };
    let mut tables: Vec<&String> = after_hooked.tables.keys().collect();
    tables.sort();
    for table in tables {
        let plain = grown(&after_plain, &empty, table);
        let hooked = grown(&after_hooked, &after_plain, table);
        if plain > 0.0 || hooked > 0.0 {
            disk.tables.push((table.clone(), plain, hooked));
        }
    }
    disk
}

// ---------------------------------------------------------------------------------------
// The report.

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn kib(bytes: f64) -> f64 {
    bytes / 1024.0
}

fn probed(took: Option<Duration>) -> String {
    match took {
        Some(took) => format!("{:.1} ms", ms(took)),
        None => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

#[derive(Default)]
struct Report {
    bursts: Vec<Burst>,
    paced: Vec<Paced>,
    throughput: Option<Throughput>,
    disk: Option<Disk>,
}

impl Report {
    /// The summary, as a Markdown table.
    fn print(&self, elapsed: Duration) {
        println!("\n| measure | value |");
        println!("|---|---|");
        for burst in &self.bursts {
            println!(
                "| (a) deliveries/s, burst of {} sends from {} device{} | {:.0} |",
                burst.sends,
                burst.devices,
                if burst.devices == 1 { "" } else { "s" },
                burst.delivery_rate
            );
        }
        if let Some(throughput) = &self.throughput {
            let (hooked, plain) = (throughput.hooked.mean(), throughput.plain.mean());
            println!(
                "| (b) `/send/buttons` req/s with a webhook / without ({CONNECTIONS} conns) | \
                 {:.0} / {:.0} = {:.2} |",
                hooked.requests_per_second,
                plain.requests_per_second,
                throughput.ratio()
            );
            println!(
                "| (b) server CPU per send with a webhook / without | {:.0} / {:.0} us |",
                throughput.hooked.cpu_us_per_send(),
                throughput.plain.cpu_us_per_send()
            );
            println!(
                "| (b) delivered during the hooked load | {} of {} |",
                throughput.hooked.delivered,
                throughput.hooked.requests()
            );
        }
        for run in &self.paced {
            println!(
                "| (c) delivery latency at {} sends/s, p50 / p99 | {:.1} / {:.1} ms{} |",
                run.rate,
                ms(run.p50),
                ms(run.p99),
                if run.delivered < run.sends {
                    format!(" ({} of {} delivered)", run.delivered, run.sends)
                } else {
                    String::new()
                }
            );
        }
        if let Some(disk) = &self.disk {
            println!(
                "| (d) store growth per 1000 events, without / with a webhook | {:.0} / {:.0} KiB |",
                kib(disk.plain_per_1000),
                kib(disk.hooked_per_1000)
            );
        }
        println!("\nrun time {:.0} s", elapsed.as_secs_f64());
    }
}

//! Benchmark: `POST /send/buttons` through the real `whatsapp` driver talking to the offline
//! WhatsApp server (`tests/wa-server`) against the same host with the `sandbox` driver, both
//! from the same build and in the same run; then measurements of where the difference goes:
//! CPU per send (host and fake server), single-send latency with a warm Signal session, with a
//! first send to a new recipient (device list, prekey bundle, X3DH), with a delayed ack, and
//! the store's writes and syncs per send (`strace`, when installed).
//!
//! `cargo bench -p wuts-e2e --bench whatsapp` builds the release host together with
//! `wuts-wa-server` first (only such a build accepts the fake server's certificate chain);
//! `WUTS_BIN_DIR=<target>/debug` runs against an existing build instead (say, a debug one).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::{Server, ServerOptions, Setup, User};
use wuts_wa_server::{BackgroundServer, SeededDevice, seed_sqlite};

const LEVELS: [u32; 2] = [1, 16];
const SECONDS: u32 = 5;
const SINGLE_SENDS: usize = 20;
const PLUGINS: [&str; 3] = ["buttons", "buttons-response", "audio"];
const ACK_DELAY: Duration = Duration::from_millis(50);

/// A running host and its user.
struct Host {
    server: Server,
    user: User,
}

fn main() {
    let bin_dir = use_build_with_wa_server();
    let whatsapp = BackgroundServer::start().expect("the fake WhatsApp server starts");
    let sandbox = start_host(None);
    let real = start_host(Some(&whatsapp));
    wait_connected(&real, &whatsapp);

    let body = wuts_e2e::example_buttons_body();
    let body_text = serde_json::to_string(&body).expect("the body serialises");
    for host in [&sandbox, &real] {
        // Warm-up: plugin paths, and for the real driver the Signal sessions with the
        // recipient and the account's own phone.
        for _ in 0..3 {
            let (code, reply) = host.server.send_buttons(&host.user, &body);
            assert_eq!(code, 200, "a warm-up send succeeds: {reply}");
        }
    }

    println!("WUTS /send/buttons: whatsapp driver + offline server vs sandbox driver");
    println!(
        "build: {} ({}), {} CPUs; wrk (up to 2 threads) on the same machine",
        bin_dir.display(),
        if bin_dir.ends_with("debug") {
            "DEBUG build: absolute figures are several times a release build's"
        } else {
            "release build"
        },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    // 1. Throughput and latency under load, alternating sides at each level.
    println!(
        "{:<34} {:>6} {:>10} {:>9} {:>9} {:>8} {:>11} {:>11}",
        "", "conns", "req/s", "p50 ms", "p99 ms", "reqs", "host CPU ms", "fake CPU ms"
    );
    let mut ratios = Vec::new();
    for connections in LEVELS {
        let s = load(&sandbox, &whatsapp, &body_text, connections);
        let w = load(&real, &whatsapp, &body_text, connections);
        print_load("sandbox driver", connections, &s);
        print_load("whatsapp driver -> fake server", connections, &w);
        ratios.push((connections, s, w));
    }
    whatsapp.set_ack(ACK_DELAY, None);
    let delayed = load(&real, &whatsapp, &body_text, LEVELS[LEVELS.len() - 1]);
    whatsapp.set_ack(Duration::ZERO, None);
    print_load(
        &format!("whatsapp, ack after {} ms", ACK_DELAY.as_millis()),
        LEVELS[LEVELS.len() - 1],
        &delayed,
    );
    println!("(CPU columns: CPU time per request, user+system, of the wuts process and of the");
    println!(" fake server's threads in this process)");
    for (connections, s, w) in &ratios {
        println!(
            "whatsapp/sandbox at {connections:>2} connections: throughput {:.2}, p50 {:.2}x, p99 {:.2}x, host CPU per send {:.2}x",
            w.load.requests_per_second / s.load.requests_per_second.max(1e-9),
            w.load.p50.as_secs_f64() / s.load.p50.as_secs_f64().max(1e-9),
            w.load.p99.as_secs_f64() / s.load.p99.as_secs_f64().max(1e-9),
            w.host_cpu_ms / s.host_cpu_ms.max(1e-9),
        );
    }
    println!();

    // 2. Single sends, one at a time.
    println!("single sends, one at a time, median of {SINGLE_SENDS} (ms):");
    let sandbox_single = median_send(&sandbox, |_| body.clone());
    let warm = median_send(&real, |_| body.clone());
    whatsapp.set_ack(ACK_DELAY, None);
    let warm_delayed = median_send(&real, |_| body.clone());
    whatsapp.set_ack(Duration::ZERO, None);
    let first = median_send(&real, |i| {
        let mut fresh = body.clone();
        fresh["to"] = json!(format!("55119{:08}", 10_000_000 + i));
        fresh
    });
    println!("  sandbox driver                            {sandbox_single:>8.2}");
    println!("  whatsapp, warm session, ack at once       {warm:>8.2}");
    println!(
        "  whatsapp, warm session, ack after {:>3} ms  {warm_delayed:>8.2}",
        ACK_DELAY.as_millis()
    );
    println!("  whatsapp, first send to a new recipient   {first:>8.2}");
    println!(
        "  -> the ack wait adds {:.2} ms for {} ms of delay; a new recipient's device list, \
         prekey bundle and X3DH add {:.2} ms",
        warm_delayed - warm,
        ACK_DELAY.as_millis(),
        first - warm
    );
    println!();

    // 3. Store writes and syncs per send.
    if Command::new("strace").arg("-V").output().is_ok() {
        println!("file writes and syncs per single send (strace -f -y -T, {SINGLE_SENDS} sends):");
        println!(
            "{:<18} {:<14} {:>9} {:>10} {:>8} {:>12}",
            "driver", "file", "writes", "bytes", "syncs", "sync+write ms"
        );
        for (name, host) in [("sandbox", &sandbox), ("whatsapp", &real)] {
            match trace_store(host, &body) {
                Ok(rows) => {
                    for (file, row) in rows {
                        println!(
                            "{:<18} {:<14} {:>9.1} {:>10.0} {:>8.1} {:>12.3}",
                            name,
                            file,
                            row.writes as f64 / SINGLE_SENDS as f64,
                            row.bytes as f64 / SINGLE_SENDS as f64,
                            row.syncs as f64 / SINGLE_SENDS as f64,
                            row.seconds * 1e3 / SINGLE_SENDS as f64,
                        )
                    }
                }
                Err(error) => println!("{name}: strace unavailable: {error}"),
            }
        }
    } else {
        println!("(strace not installed: no store breakdown)");
    }
}

/// `WUTS_BIN_DIR` if set; otherwise a release build of the host, the plugins and
/// `wuts-wa-server` together (the client then skips the certificate-chain check).
fn use_build_with_wa_server() -> PathBuf {
    support::use_release_build();
    support::build_offline_release();
    PathBuf::from(std::env::var_os("WUTS_BIN_DIR").expect("use_release_build sets it"))
}

/// A host with the sandbox driver (`None`) or the whatsapp driver pointed at `whatsapp`,
/// with a paired device seeded into its credential file.
fn start_host(whatsapp: Option<&BackgroundServer>) -> Host {
    let mut options = ServerOptions::default()
        .plugins(&PLUGINS)
        .required(&PLUGINS)
        .send_timeout_ms(10_000);
    if let Some(whatsapp) = whatsapp {
        options = options
            .offline_client()
            .env("WUTS__SESSION__DRIVER", "whatsapp")
            .env("WUTS__SESSION__SOCKET_URL", &whatsapp.socket_url())
            .env("WUTS__SESSION__MEDIA_BASE_URL", &whatsapp.media_base_url())
            .env("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701");
    }
    let setup = Setup::new(options);
    let user = setup.create_user(&wuts_e2e::unique("bench"), "bench");
    let store = setup.store_path();
    if let Some(whatsapp) = whatsapp {
        let credentials = store
            .parent()
            .map_or_else(PathBuf::new, PathBuf::from)
            .join("whatsapp.db");
        whatsapp
            .block_on(seed_sqlite(
                &credentials,
                &user.device_id,
                &SeededDevice::new("5511888888888", 7),
            ))
            .expect("the device is seeded");
    }
    Host {
        server: setup.start(),
        user,
    }
}

fn wait_connected(host: &Host, whatsapp: &BackgroundServer) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, status) = host.server.get("/status", &host.user.token);
        if code == 200 && status["connected"] == json!(true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the whatsapp driver never connected: {status}\nhandshakes: {:?}\nwuts log:\n{}",
            whatsapp.connections(),
            host.server.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Measured {
    load: support::LoadResult,
    host_cpu_ms: f64,
    fake_cpu_ms: f64,
}

/// One wrk run with CPU readings around it.
fn load(host: &Host, whatsapp: &BackgroundServer, body: &str, connections: u32) -> Measured {
    let pid = host.server.pid().expect("the server runs");
    let received = whatsapp.received().len();
    let (host_before, fake_before) = (process_cpu(pid), fake_server_cpu());
    let load = support::wrk_post(
        &host.server.url("/send/buttons"),
        &host.user.token,
        body,
        connections,
        SECONDS,
    );
    let (host_after, fake_after) = (process_cpu(pid), fake_server_cpu());
    assert_eq!(load.failures, 0, "every send succeeded: {load:?}");
    let requests = load.requests.max(1) as f64;
    let delivered = whatsapp.received().len() - received;
    Measured {
        load,
        host_cpu_ms: (host_after - host_before).as_secs_f64() * 1e3 / requests,
        fake_cpu_ms: if delivered == 0 {
            0.0
        } else {
            (fake_after - fake_before).as_secs_f64() * 1e3 / delivered as f64
        },
    }
}

fn print_load(name: &str, connections: u32, m: &Measured) {
    println!(
        "{:<34} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>8} {:>11.2} {:>11.2}",
        name,
        connections,
        m.load.requests_per_second,
        m.load.p50.as_secs_f64() * 1e3,
        m.load.p99.as_secs_f64() * 1e3,
        m.load.requests,
        m.host_cpu_ms,
        m.fake_cpu_ms
    );
}

/// The median of [`SINGLE_SENDS`] sequential sends, in ms; `body(i)` is the i-th body.
fn median_send(host: &Host, body: impl Fn(usize) -> Value) -> f64 {
    let mut times: Vec<f64> = (0..SINGLE_SENDS)
        .map(|i| {
            let body = body(i);
            let start = Instant::now();
            let (code, reply) = host.server.send_buttons(&host.user, &body);
            let elapsed = start.elapsed();
            assert_eq!(code, 200, "send {i} succeeds: {reply}");
            elapsed.as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// User+system CPU time of a thread or process from its `stat` file.
fn stat_cpu(stat: &Path) -> Duration {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the `(comm)`, which may itself hold spaces: state is field 3,
    // utime and stime are 14 and 15.
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&index| fields.get(index)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64(ticks as f64 / per_second)
}

fn process_cpu(pid: u32) -> Duration {
    stat_cpu(Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU time of this process's `fake-whatsapp` threads (the offline server's runtime).
fn fake_server_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim() == "fake-whatsapp")
        })
        .map(|task| stat_cpu(&task.path().join("stat")))
        .sum()
}

#[derive(Default)]
struct FileRow {
    writes: u64,
    bytes: u64,
    syncs: u64,
    seconds: f64,
}

/// Traces the host's file writes and syncs over [`SINGLE_SENDS`] sequential sends, by file.
fn trace_store(host: &Host, body: &Value) -> Result<BTreeMap<String, FileRow>, String> {
    let pid = host.server.pid().ok_or("no pid")?;
    let output = std::env::temp_dir().join(format!("wuts-bench-strace-{pid}.txt"));
    let strace = Command::new("strace")
        .args(["-f", "-y", "-T", "-qq", "-e"])
        .arg("trace=write,pwrite64,pwritev,writev,fsync,fdatasync")
        .arg("-o")
        .arg(&output)
        .arg("-p")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    std::thread::sleep(Duration::from_millis(700));
    for _ in 0..SINGLE_SENDS {
        let (code, reply) = host.server.send_buttons(&host.user, body);
        if code != 200 {
            return Err(format!("a traced send failed: {reply}"));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the strace we spawned, by its pid.
    unsafe { libc::kill(strace.id() as i32, libc::SIGINT) };
    let waited = strace
        .wait_with_output()
        .map_err(|error| error.to_string())?;
    let text = std::fs::read_to_string(&output).map_err(|error| {
        format!(
            "{error}: {}",
            String::from_utf8_lossy(&waited.stderr).trim()
        )
    })?;
    let _ = std::fs::remove_file(&output);
    Ok(parse_strace(&text))
}

/// Sums strace lines by file class: `whatsapp.db` (the driver's credentials, Signal sessions),
/// `wuts.db` (the host's store), the rest (sockets, logs).
fn parse_strace(text: &str) -> BTreeMap<String, FileRow> {
    let mut rows: BTreeMap<String, FileRow> = BTreeMap::new();
    // Calls split by another thread: `<unfinished ...>` then `<... name resumed>`.
    let mut pending: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for line in text.lines() {
        let Some((tid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let (class, sync, call) = if rest.starts_with("<...") {
            match pending.remove(tid) {
                Some((class, sync)) => (class, sync, rest),
                None => continue,
            }
        } else {
            let name = rest.split('(').next().unwrap_or_default();
            let sync = name == "fsync" || name == "fdatasync";
            let path = rest
                .split_once('<')
                .and_then(|(_, p)| p.split_once('>'))
                .map_or("", |(p, _)| p);
            let class = if path.contains("whatsapp.db") {
                "whatsapp.db"
            } else if path.contains("wuts.db") {
                "wuts.db"
            } else {
                "other"
            }
            .to_owned();
            if rest.ends_with("<unfinished ...>") {
                pending.insert(tid.to_owned(), (class, sync));
                continue;
            }
            (class, sync, rest)
        };
        let row = rows.entry(class).or_default();
        if sync {
            row.syncs += 1;
        } else {
            row.writes += 1;
            if let Some(bytes) = call
                .rsplit_once(") = ")
                .and_then(|(_, r)| r.split_whitespace().next()?.parse::<u64>().ok())
            {
                row.bytes += bytes;
            }
        }
        if let Some(seconds) = call
            .rsplit_once('<')
            .and_then(|(_, t)| t.strip_suffix('>')?.parse::<f64>().ok())
        {
            row.seconds += seconds;
        }
    }
    rows
}

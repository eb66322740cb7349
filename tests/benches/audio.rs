//! Benchmark: `POST /send/audio` (voice notes) through the release server against ffmpeg.
//!
//! `cargo bench -p wuts-e2e --bench audio` builds the release server and plugins first (or
//! uses `WUTS_BIN_DIR`), then in one run:
//!
//! 1. throughput, in audio seconds per wall second, of 5 s, 60 s and 600 s clips in mp3, m4a
//!    and wav, sent one at a time as base64 with `ptt: true` (HTTP, base64, transcode, upload,
//!    sandbox send), next to `ffmpeg -i IN -vn -ac 1 -ar 16000 -c:a libopus -b:a 24k
//!    -application voip OUT.ogg` on the same files (median of a few runs each);
//!    then the 60 s and 600 s rows again with the encoder at ffmpeg's complexity (10);
//! 2. end-to-end latency of a 5 s voice note (30 requests after a warm-up: median and p95;
//!    target < 150 ms);
//! 3. the server's RSS before and after 500 back-to-back 5 s requests on a fresh server
//!    (target < 10% growth), its sandbox media budget set to 1 MiB and filled by a warm-up:
//!    the sandbox keeps uploads for `/sandbox/media` by design, up to that budget.
//!
//! The clips are the test speech looped, 44.1 kHz stereo (wav: CD quality, 106 MB at 600 s, so
//! the bench raises the route's body limit); the job threshold is raised so that every clip
//! runs inline. Every loop is bounded in count and time.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::Client;
use wuts_e2e::audio_fixtures::{self as fx, Fixtures};
use wuts_e2e::{PHONE, Server, ServerOptions};

/// Longest a single request or ffmpeg run may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(180);
/// Time budget of the latency and RSS loops.
const LOOP_BUDGET: Duration = Duration::from_secs(300);
const LATENCY_REQUESTS: usize = 30;
const RSS_REQUESTS: usize = 500;
/// Enough 5 s notes (about 14 KB each) to fill the sandbox's media budget below.
const RSS_WARM_UP: usize = 100;
/// The RSS server's sandbox media budget: the sandbox keeps uploads for /sandbox/media
/// by design, up to this; full after the warm-up, so growth past it is the host's own.
const RSS_SANDBOX_MEDIA_MB: &str = "1";

struct ClipFormat {
    name: &'static str,
    extension: &'static str,
    args: &'static [&'static str],
}

const FORMATS: [ClipFormat; 3] = [
    ClipFormat {
        name: "mp3",
        extension: "mp3",
        args: &["-c:a", "libmp3lame", "-b:a", "128k"],
    },
    ClipFormat {
        name: "m4a",
        extension: "m4a",
        args: &["-c:a", "aac", "-b:a", "128k"],
    },
    ClipFormat {
        name: "wav",
        extension: "wav",
        args: &["-c:a", "pcm_s16le"],
    },
];

/// Clip length and how many timed runs of each side (the median is reported).
const LENGTHS: [(u32, usize); 3] = [(5, 7), (60, 3), (600, 1)];

fn main() {
    support::use_release_build();
    let fixtures = Fixtures::generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("audio-bench"));
    let options = ServerOptions::default()
        .plugins(&["buttons", "audio"])
        .required(&["audio"])
        .env("WUTS__PLUGIN__AUDIO__ASYNC_THRESHOLD_BYTES", "1073741824")
        .extra_toml("[body_limits]\n\"/send/audio\" = 268435456");

    println!("== throughput: audio seconds per wall second (voice notes, one request at a time)");
    {
        let server = Server::start(options.clone());
        let user = server.create_user("bench", "bench");
        let client = Client::new(server.base_url(), "/send/audio", &user, CALL_TIMEOUT);
        throughput(&fixtures, &client, &LENGTHS);
    }

    // The default encoder complexity is 6 (config/wuts.toml); ffmpeg's libopus runs at 10.
    // The same comparison at 10 shows what the rest of the pipeline gains on its own.
    println!("\n== the same at encoder_complexity = 10 (ffmpeg's libopus default), 60 s and 600 s");
    {
        let server = Server::start(
            options
                .clone()
                .env("WUTS__PLUGIN__AUDIO__ENCODER_COMPLEXITY", "10"),
        );
        let user = server.create_user("bench", "bench");
        let client = Client::new(server.base_url(), "/send/audio", &user, CALL_TIMEOUT);
        throughput(&fixtures, &client, &LENGTHS[1..]);
    }

    println!("\n== latency of a 5 s voice note (mp3), {LATENCY_REQUESTS} requests");
    let five = fixtures.long_clip("clip-5s.mp3", 5, FORMATS[0].args);
    let body = voice_note_body(&five);
    {
        let server = Server::start(options.clone());
        let user = server.create_user("bench", "bench");
        let client = Client::new(server.base_url(), "/send/audio", &user, CALL_TIMEOUT);
        latency(&client, &body);
    }

    println!("\n== server RSS over {RSS_REQUESTS} back-to-back 5 s voice notes (fresh server)");
    let server = Server::start(options.env(
        "WUTS__SESSION__SANDBOX_MEDIA_BUDGET_MB",
        RSS_SANDBOX_MEDIA_MB,
    ));
    let user = server.create_user("bench", "bench");
    let client = Client::new(server.base_url(), "/send/audio", &user, CALL_TIMEOUT);
    rss(&server, &client, &body);
}

fn voice_note_body(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("the clip can be read");
    json!({"number": PHONE, "audio": fx::base64(&bytes), "ptt": true}).to_string()
}

fn throughput(fixtures: &Fixtures, client: &Client, lengths: &[(u32, usize)]) {
    println!(
        "{:>6} {:>4} {:>9} | {:>9} {:>9} {:>10} | {:>9} {:>9} | {:>6}",
        "clip",
        "fmt",
        "input MB",
        "plugin s",
        "audio s/s",
        "transcode",
        "ffmpeg s",
        "audio s/s",
        "ratio"
    );
    for &(seconds, runs) in lengths {
        for format in &FORMATS {
            let clip = fixtures.long_clip(
                &format!("clip-{seconds}s.{}", format.extension),
                seconds,
                format.args,
            );
            let input_mb = std::fs::metadata(&clip).map_or(0.0, |m| m.len() as f64 / 1e6);
            let body = voice_note_body(&clip);
            let mut plugin_times = Vec::with_capacity(runs);
            let mut transcode_ms = Vec::with_capacity(runs);
            let mut ffmpeg_times = Vec::with_capacity(runs);
            let out = fixtures.path("ffmpeg-out.ogg");
            // Alternate the two, so a change in the machine's load hits both alike.
            for _ in 0..runs {
                let (elapsed, reply) = client.send_ok(&body);
                plugin_times.push(elapsed);
                transcode_ms.push(
                    reply["metadata"]["conversion_time_ms"]
                        .as_u64()
                        .unwrap_or(0),
                );
                ffmpeg_times.push(ffmpeg(&clip, &out));
            }
            let plugin = median(&mut plugin_times);
            let reference = median(&mut ffmpeg_times);
            transcode_ms.sort_unstable();
            let transcode = transcode_ms[transcode_ms.len() / 2];
            let audio = f64::from(seconds);
            let plugin_rate = audio / plugin.as_secs_f64();
            let ffmpeg_rate = audio / reference.as_secs_f64();
            println!(
                "{:>5}s {:>4} {:>9.2} | {:>9.3} {:>9.1} {:>8}ms | {:>9.3} {:>9.1} | {:>5.2}x",
                seconds,
                format.name,
                input_mb,
                plugin.as_secs_f64(),
                plugin_rate,
                transcode,
                reference.as_secs_f64(),
                ffmpeg_rate,
                plugin_rate / ffmpeg_rate,
            );
        }
    }
    println!(
        "(ratio = plugin audio s/s ÷ ffmpeg audio s/s; \"transcode\" = the plugin's conversion_time_ms)"
    );
}

fn ffmpeg(input: &Path, output: &Path) -> Duration {
    let started = Instant::now();
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .args([
            "-vn",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-c:a",
            "libopus",
            "-b:a",
            "24k",
            "-application",
            "voip",
        ])
        .arg(output)
        .spawn()
        .expect("ffmpeg runs (apt-get install ffmpeg)");
    let status = wuts_e2e::process::wait_timeout(&mut child, CALL_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ffmpeg took longer than {CALL_TIMEOUT:?}")
    });
    assert!(status.success(), "ffmpeg failed on {input:?}");
    started.elapsed()
}

fn latency(client: &Client, body: &str) {
    for _ in 0..5 {
        client.send_ok(body);
    }
    let started = Instant::now();
    let mut times = Vec::with_capacity(LATENCY_REQUESTS);
    let mut server_ms = Vec::with_capacity(LATENCY_REQUESTS);
    while times.len() < LATENCY_REQUESTS && started.elapsed() < LOOP_BUDGET {
        let (elapsed, reply) = client.send_ok(body);
        times.push(elapsed);
        server_ms.push(
            reply["metadata"]["processing_time_ms"]
                .as_u64()
                .unwrap_or(0),
        );
    }
    times.sort_unstable();
    server_ms.sort_unstable();
    let p95 = times[((times.len() * 95).div_ceil(100)).saturating_sub(1)];
    let median = times[times.len() / 2];
    println!(
        "median {:.1} ms, p95 {:.1} ms, min {:.1} ms, max {:.1} ms over {} requests (target < 150 ms); \
         plugin processing_time_ms median {}",
        ms(median),
        ms(p95),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        server_ms[server_ms.len() / 2],
    );
}

fn rss(server: &Server, client: &Client, body: &str) {
    let pid = server.pid().expect("the server runs");
    for _ in 0..RSS_WARM_UP {
        client.send_ok(body);
    }
    let before = fx::vm_rss_kib(pid).unwrap_or(0);
    let started = Instant::now();
    let mut sent = 0;
    while sent < RSS_REQUESTS && started.elapsed() < LOOP_BUDGET {
        client.send_ok(body);
        sent += 1;
    }
    let elapsed = started.elapsed();
    let after = fx::vm_rss_kib(pid).unwrap_or(0);
    let growth = (after as f64 - before as f64) / before.max(1) as f64 * 100.0;
    println!(
        "VmRSS {:.1} MiB before, {:.1} MiB after {sent} requests in {:.1} s ({:.1} req/s): {growth:+.1}% \
         (target < 10%; the sandbox's media budget is {RSS_SANDBOX_MEDIA_MB} MiB, full after the \
         {RSS_WARM_UP}-request warm-up)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

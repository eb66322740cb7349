//! Benchmark: the media routes through the release server against the standard tools.
//!
//! `cargo bench -p wuts-e2e --bench media` builds the release server and plugins first (or
//! uses `WUTS_BIN_DIR`), then in one run:
//!
//! 1. **pictures**: `/send/image` of 3000x2000 JPEG photos with `max_side` 1600, one request
//!    at a time (HTTP, base64, decode, resize, JPEG encode, 72 px thumbnail, upload, sandbox
//!    send), against ImageMagick doing the same two outputs from the same file in one
//!    process each (`convert IN -resize 1600x1600 -quality 85 -write OUT -thumbnail 72x72
//!    -quality 50 THUMB`): pictures per second, and the ratio;
//! 2. **video**: `/send/video` of a 10 s 1280x720 VP8/Vorbis WebM (converted to H.264/AAC
//!    MP4), against ffmpeg with the same codecs and settings (`libx264 -preset veryfast
//!    -crf 23`, `aac`, `+faststart`): video seconds per wall second, and the ratio
//!    (issue 18's target: at least 1.0);
//! 3. **RSS over 200 mixed sends** (picture, video, document, sticker in turn) on a fresh
//!    server whose sandbox media budget (kept uploads, by design) is filled by a warm-up
//!    of 100 sends (the allocators reach their working size by then):
//!    growth from after the warm-up to the end (target: under 10%).
//!
//! Every call is bounded in time; the medians of a few runs are reported.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use image::ImageFormat;
use serde_json::json;
use support::Client;
use wuts_e2e::audio_fixtures::{base64, vm_rss_kib};
use wuts_e2e::media_fixtures;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions};

const CALL_TIMEOUT: Duration = Duration::from_secs(180);
const PICTURES: usize = 8;
const PICTURE_ROUNDS: usize = 3;
const VIDEO_SECONDS: u32 = 10;
const VIDEO_ROUNDS: usize = 3;
const RSS_WARM_UP: usize = 100;
const RSS_SENDS: usize = 200;
const RSS_SANDBOX_MEDIA_MB: &str = "4";

fn main() {
    support::use_release_build();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-bench");
    fs::create_dir_all(&dir).expect("the bench folder can be made");
    let options = ServerOptions::default()
        .plugins(&["image", "video", "document", "sticker"])
        .required(&["image", "video", "document", "sticker"])
        .env("WUTS__PLUGIN__IMAGE__MAX_SIDE", "1600")
        .env("WUTS__PLUGIN__VIDEO__ASYNC_THRESHOLD_BYTES", "1073741824");

    let server = Server::start(options.clone());
    let user = server.create_user("media-bench", "bench");
    if part("pictures") {
        pictures(
            &dir,
            &Client::new(server.base_url(), "/send/image", &user, CALL_TIMEOUT),
        );
    }
    if part("video") {
        video(
            &dir,
            &Client::new(server.base_url(), "/send/video", &user, CALL_TIMEOUT),
        );
    }
    drop(server);
    if !part("rss") {
        return;
    }

    let server = Server::start(options.env(
        "WUTS__SESSION__SANDBOX_MEDIA_BUDGET_MB",
        RSS_SANDBOX_MEDIA_MB,
    ));
    rss(&dir, &server);
}

/// Whether `WUTS_MEDIA_BENCH_PARTS` (comma-separated: pictures, video, rss; all when
/// unset) names this part.
fn part(name: &str) -> bool {
    std::env::var("WUTS_MEDIA_BENCH_PARTS").map_or(true, |parts| {
        parts.split(',').any(|part| part.trim() == name)
    })
}

fn pictures(dir: &Path, client: &Client) {
    println!(
        "== pictures: 3000x2000 JPEG -> 1600 px JPEG (q85) + 72 px thumbnail (q50), one at a time"
    );
    let photos: Vec<PathBuf> = (0..PICTURES)
        .map(|index| {
            let path = dir.join(format!("photo{index}.jpg"));
            fs::write(&path, photo(3000, 2000, index as u32)).expect("the photo is written");
            path
        })
        .collect();
    let bodies: Vec<String> = photos
        .iter()
        .map(|path| {
            let bytes = fs::read(path).expect("the photo is read");
            json!({"number": PHONE, "image": base64(&bytes)}).to_string()
        })
        .collect();
    client.send_ok(&bodies[0]);
    let convert = imagemagick();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..PICTURE_ROUNDS {
        let started = Instant::now();
        for body in &bodies {
            let (_, reply) = client.send_ok(body);
            assert_eq!(reply["metadata"]["was_converted"], json!(true), "{reply}");
        }
        ours.push(started.elapsed());
        let started = Instant::now();
        for path in &photos {
            run(Command::new(&convert)
                .arg(path)
                .args(["-resize", "1600x1600", "-quality", "85", "-write"])
                .arg(dir.join("out.jpg"))
                .args(["-thumbnail", "72x72", "-quality", "50"])
                .arg(dir.join("thumb.jpg")));
        }
        theirs.push(started.elapsed());
    }
    let ours = PICTURES as f64 / median(&mut ours).as_secs_f64();
    let theirs = PICTURES as f64 / median(&mut theirs).as_secs_f64();
    println!(
        "wuts /send/image {ours:.2} pictures/s | ImageMagick ({}) {theirs:.2} pictures/s | ratio {:.2}",
        convert.display(),
        ours / theirs
    );
}

fn video(dir: &Path, client: &Client) {
    println!(
        "== video: {VIDEO_SECONDS} s 1280x720 25 fps VP8/Vorbis WebM -> H.264 (veryfast, CRF 23) + AAC MP4, faststart"
    );
    let webm = media_fixtures::clip(
        dir,
        "clip.webm",
        "1280x720",
        VIDEO_SECONDS,
        &["-c:v", "libvpx", "-b:v", "2M", "-c:a", "libvorbis"],
    );
    let input = dir.join("clip.webm");
    let body = json!({"number": PHONE, "video": base64(&webm)}).to_string();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut sizes = (0, 0);
    for _ in 0..VIDEO_ROUNDS {
        let (elapsed, reply) = client.send_ok(&body);
        assert_eq!(reply["metadata"]["was_converted"], json!(true), "{reply}");
        sizes.0 = reply["metadata"]["video_size_bytes"].as_u64().unwrap_or(0);
        ours.push(elapsed);
        let output = dir.join("out.mp4");
        let started = Instant::now();
        run(Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&input)
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-movflags",
                "+faststart",
            ])
            .arg(&output));
        theirs.push(started.elapsed());
        sizes.1 = fs::metadata(&output).map_or(0, |meta| meta.len());
    }
    let seconds = f64::from(VIDEO_SECONDS);
    let ours = seconds / median(&mut ours).as_secs_f64();
    let theirs = seconds / median(&mut theirs).as_secs_f64();
    println!(
        "wuts /send/video {ours:.2} video s/s ({} KB out) | ffmpeg {theirs:.2} video s/s ({} KB out) | ratio {:.2} (target >= 1.00)",
        sizes.0 / 1024,
        sizes.1 / 1024,
        ours / theirs
    );
}

fn rss(dir: &Path, server: &Server) {
    println!("== RSS over {RSS_SENDS} mixed sends (picture, video, document, sticker in turn)");
    let user = server.create_user("media-rss", "bench");
    let photo = photo(1200, 900, 7);
    let mp4 = media_fixtures::playable_mp4(dir, "small.mp4", 2);
    let webm = media_fixtures::clip(
        dir,
        "small.webm",
        "320x240",
        2,
        &["-c:v", "libvpx", "-c:a", "libvorbis"],
    );
    let pdf = media_fixtures::pdf(4);
    let sticker = media_fixtures::picture(400, 300, ImageFormat::Png);
    let sends = [
        (
            "/send/image",
            json!({"number": PHONE, "image": base64(&photo)}),
        ),
        (
            "/send/video",
            json!({"number": PHONE, "video": base64(&mp4)}),
        ),
        (
            "/send/video",
            json!({"number": PHONE, "video": base64(&webm)}),
        ),
        (
            "/send/document",
            json!({"number": PHONE, "document": base64(&pdf), "file_name": "a.pdf"}),
        ),
        (
            "/send/sticker",
            json!({"to": PHONE_JID, "sticker": base64(&sticker)}),
        ),
    ];
    // `WUTS_MEDIA_RSS_ROUTES` (comma-separated routes) keeps only those: which route's
    // sends the growth comes from.
    let only = std::env::var("WUTS_MEDIA_RSS_ROUTES").ok();
    let clients: Vec<(Client, String)> = sends
        .iter()
        .filter(|(route, _)| {
            only.as_deref()
                .is_none_or(|only| only.split(',').any(|kept| kept.trim() == *route))
        })
        .map(|(route, body)| {
            (
                Client::new(server.base_url(), route, &user, CALL_TIMEOUT),
                body.to_string(),
            )
        })
        .collect();
    let pid = server.pid().expect("the server runs");
    for index in 0..RSS_WARM_UP {
        let (client, body) = &clients[index % clients.len()];
        client.send_ok(body);
    }
    let before = vm_rss_kib(pid).unwrap_or(0);
    let started = Instant::now();
    let mut samples = Vec::new();
    for index in 0..RSS_SENDS {
        let (client, body) = &clients[index % clients.len()];
        client.send_ok(body);
        if (index + 1) % 50 == 0 {
            samples.push(vm_rss_kib(pid).unwrap_or(0) as f64 / 1024.0);
        }
    }
    let after = vm_rss_kib(pid).unwrap_or(0);
    let growth = (after as f64 - before as f64) / before.max(1) as f64 * 100.0;
    println!(
        "VmRSS {:.1} MiB after the {RSS_WARM_UP}-send warm-up, then {} MiB every 50 sends; \
         {RSS_SENDS} sends in {:.1} s: {growth:+.1}% (target < 10%; sandbox media budget {RSS_SANDBOX_MEDIA_MB} MiB)",
        before as f64 / 1024.0,
        samples
            .iter()
            .map(|mib| format!("{mib:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64(),
    );
}

/// A photo-like JPEG: smooth gradients with fine noise, which JPEG and resizers find as
/// hard as a camera's picture (a flat gradient would flatter both sides).
fn photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9u32 ^ seed.wrapping_mul(0x85EB_CA6B);
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).saturating_add(noise),
            ((y * 255 / height) as u8).saturating_add(noise),
            (((x + y) * 127 / (width + height)) as u8).saturating_add(noise),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, ImageFormat::Jpeg)
        .expect("the photo encodes");
    out.into_inner()
}

/// ImageMagick's own `convert` (Debian's imagemagick package), not a wrapper earlier on
/// the PATH.
fn imagemagick() -> PathBuf {
    ["/usr/bin/convert", "/usr/bin/convert-im6.q16"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("convert"))
}

fn run(command: &mut Command) {
    let mut child = command.spawn().unwrap_or_else(|error| {
        panic!("{command:?} runs (config/bootstrap.sh --test installs it): {error}")
    });
    let status = wuts_e2e::process::wait_timeout(&mut child, CALL_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} took longer than {CALL_TIMEOUT:?}")
    });
    assert!(status.success(), "{command:?} failed");
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

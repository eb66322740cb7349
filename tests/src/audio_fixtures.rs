//! Audio fixtures made at test time (espeak-ng, sox, ffmpeg), independent checks of the Ogg/Opus
//! the server sends (ffprobe, opusinfo, a hand-written Ogg reader), and a tiny local HTTP server
//! for `audio_url`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::{fs, thread};

/// Allowed difference between a source's and an output's duration.
pub const DURATION_TOLERANCE: f64 = 0.050;

/// Runs `tool` and returns its stdout.
///
/// # Panics
/// If the tool is missing (naming the Debian package) or fails.
pub fn run_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|err| {
        panic!(
            "test tool `{tool}` could not be run ({err}): the audio tests need espeak-ng, sox, \
             ffmpeg (ffprobe) and opus-tools (opusinfo): apt-get install espeak-ng sox ffmpeg opus-tools"
        )
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

/// One input format: its file name and the ffmpeg arguments that make it from `source.wav`.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub file: &'static str,
    pub args: &'static [&'static str],
    /// The media type the server should report as `original_format`.
    pub mime: &'static str,
}

pub const MP3: Format = Format {
    file: "in.mp3",
    args: &["-c:a", "libmp3lame", "-b:a", "96k"],
    mime: "audio/mpeg",
};
pub const WAV: Format = Format {
    file: "in.wav",
    args: &["-c:a", "pcm_s16le"],
    mime: "audio/x-wav",
};
pub const M4A: Format = Format {
    file: "in.m4a",
    args: &["-c:a", "aac", "-b:a", "96k"],
    mime: "audio/mp4",
};
pub const OGG_VORBIS: Format = Format {
    file: "in.ogg",
    args: &["-c:a", "libvorbis", "-q:a", "3"],
    mime: "audio/ogg",
};
pub const OGG_OPUS: Format = Format {
    file: "in.opus",
    args: &["-c:a", "libopus", "-b:a", "48k"],
    mime: "audio/ogg",
};
pub const WEBM_OPUS: Format = Format {
    file: "in.webm",
    args: &["-c:a", "libopus", "-b:a", "48k"],
    mime: "audio/webm",
};
pub const FLAC: Format = Format {
    file: "in.flac",
    args: &["-c:a", "flac"],
    mime: "audio/flac",
};
/// H.264 video (a test pattern, cut to the audio's length) with the speech as AAC.
pub const MP4_VIDEO: Format = Format {
    file: "in.mp4",
    args: &[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=15:duration=5",
        "-map",
        "1:v",
        "-map",
        "0:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-shortest",
    ],
    mime: "video/mp4",
};

/// Every accepted input format.
pub const ALL_FORMATS: [Format; 8] = [
    MP3, WAV, M4A, OGG_VORBIS, OGG_OPUS, WEBM_OPUS, FLAC, MP4_VIDEO,
];

/// A folder of fixtures around one ~3.5 s speech recording (stereo 44.1 kHz, with a quiet tone
/// under it so that resampling and downmixing run).
pub struct Fixtures {
    dir: PathBuf,
    /// Tests running in parallel make each file once.
    making: Mutex<()>,
}

impl Fixtures {
    /// Makes `source.wav` in `dir` (created if needed; files are overwritten).
    ///
    /// # Panics
    /// If a tool is missing or fails.
    pub fn generate(dir: &Path) -> Self {
        fs::create_dir_all(dir).expect("the fixture folder can be created");
        let fixtures = Fixtures {
            dir: dir.to_path_buf(),
            making: Mutex::new(()),
        };
        let speech = fixtures.path("speech.wav");
        let speech44 = fixtures.path("speech44.wav");
        let tone = fixtures.path("tone.wav");
        let source = fixtures.path("source.wav");
        run_tool(
            "espeak-ng",
            &[
                "-w",
                path_str(&speech),
                "Hello, this is a voice note test for the gateway. One, two, three.",
            ],
        );
        run_tool(
            "sox",
            &[
                path_str(&speech),
                "-r",
                "44100",
                "-c",
                "2",
                path_str(&speech44),
            ],
        );
        run_tool(
            "sox",
            &[
                "-n",
                "-r",
                "44100",
                "-c",
                "2",
                path_str(&tone),
                "synth",
                "3.5",
                "sine",
                "440",
                "vol",
                "0.05",
            ],
        );
        run_tool(
            "sox",
            &[
                "-m",
                path_str(&speech44),
                path_str(&tone),
                path_str(&source),
            ],
        );
        fixtures
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The reference length: the speech recording's.
    pub fn source_seconds(&self) -> f64 {
        probe_duration(&self.path("source.wav"))
    }

    /// `source.wav` encoded as `format` (made on first use).
    pub fn encoded(&self, format: &Format) -> Vec<u8> {
        let out = self.path(format.file);
        let _making = self.making.lock().unwrap_or_else(|e| e.into_inner());
        if !out.is_file() {
            self.ffmpeg_from_source(format.args, &out);
        }
        fs::read(&out).expect("the encoded fixture can be read")
    }

    fn ffmpeg_from_source(&self, codec_args: &[&str], out: &Path) {
        // Written under a temporary name, so a half-written file never looks finished.
        let partial = out.with_extension(format!(
            "part.{}",
            out.extension().and_then(|e| e.to_str()).unwrap_or("bin")
        ));
        let source = self.path("source.wav");
        let mut args = vec!["-v", "error", "-y", "-i", path_str(&source)];
        args.extend_from_slice(codec_args);
        args.push(path_str(&partial));
        run_tool("ffmpeg", &args);
        fs::rename(&partial, out).expect("the fixture can be renamed");
    }

    /// An H.264 video without any audio track.
    pub fn silent_video(&self) -> Vec<u8> {
        let out = self.path("silent.mp4");
        let _making = self.making.lock().unwrap_or_else(|e| e.into_inner());
        run_tool(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=160x120:rate=15:duration=2",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-an",
                path_str(&out),
            ],
        );
        fs::read(out).expect("the video can be read")
    }

    /// The FLAC fixture with its audio frames garbled (the stream header kept).
    pub fn corrupt_flac(&self) -> Vec<u8> {
        let mut flac = self.encoded(&FLAC);
        let noise = pseudo_random_bytes(flac.len(), 42);
        for (byte, n) in flac.iter_mut().zip(noise).skip(8192) {
            *byte ^= n;
        }
        flac
    }

    /// A clip of `seconds` (the speech, repeated) as `format`, named `name`: for the benchmark.
    pub fn long_clip(&self, name: &str, seconds: u32, codec_args: &[&str]) -> PathBuf {
        let out = self.path(name);
        let _making = self.making.lock().unwrap_or_else(|e| e.into_inner());
        if out.is_file() {
            return out;
        }
        let source = self.path("source.wav");
        let seconds = seconds.to_string();
        let mut args = vec![
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            path_str(&source),
            "-t",
            &seconds,
        ];
        args.extend_from_slice(codec_args);
        args.push(path_str(&out));
        run_tool("ffmpeg", &args);
        out
    }
}

/// Deterministic noise (xorshift64), no rand dependency.
pub fn pseudo_random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Standard base64 with padding (the tests need only the encoder).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// ffprobe's `format=duration` of a file.
pub fn probe_duration(path: &Path) -> f64 {
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
            path_str(path),
        ],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe gave no duration for {path:?}: {out:?}"))
}

/// What ffprobe and opusinfo say about an Ogg/Opus file.
#[derive(Debug, Clone)]
pub struct OpusReport {
    pub codec: String,
    pub channels: u32,
    pub streams: u32,
    /// ffprobe's duration (pre-skip counted back in).
    pub ffprobe_seconds: f64,
    /// opusinfo's "Original sample rate".
    pub input_rate: u32,
    /// opusinfo's playback length.
    pub opusinfo_seconds: f64,
}

/// Probes `ogg` (written to `path`) with ffprobe and opusinfo.
pub fn probe_opus(ogg: &[u8], path: &Path) -> OpusReport {
    fs::write(path, ogg).expect("the download can be written");
    let file = path_str(path);
    let streams = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,channels:format=duration,start_time,nb_streams",
            "-of",
            "default=nw=1",
            file,
        ],
    );
    let field = |key: &str| -> &str {
        streams
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("ffprobe: no {key} in {streams}"))
    };
    let number = |key: &str| -> f64 {
        field(key)
            .parse()
            .unwrap_or_else(|_| panic!("ffprobe: {key} is no number in {streams}"))
    };
    let report = run_tool("opusinfo", &[file]);
    assert!(
        !report.contains("WARNING") && !report.contains("ERROR"),
        "opusinfo complains:\n{report}"
    );
    let info = |key: &str| -> &str {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("opusinfo report has no `{key}`:\n{report}"))
    };
    let rate = info("Original sample rate:")
        .trim_end_matches("Hz")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("opusinfo: odd sample rate in\n{report}"));
    // "0m:03.142s" -> 3.142
    let length = info("Playback length:");
    let (minutes, seconds) = length
        .trim_end_matches('s')
        .split_once("m:")
        .unwrap_or_else(|| panic!("opusinfo: odd playback length {length:?}"));
    OpusReport {
        codec: field("codec_name=").to_owned(),
        channels: number("channels=") as u32,
        streams: number("nb_streams=") as u32,
        ffprobe_seconds: number("duration=") + number("start_time="),
        input_rate: rate,
        opusinfo_seconds: minutes.parse::<f64>().unwrap_or(0.0) * 60.0
            + seconds.parse::<f64>().unwrap_or(f64::NAN),
    }
}

/// An Ogg Opus stream read by hand: OpusHead fields and the audio packets.
#[derive(Debug, Clone)]
pub struct OggOpus {
    pub channels: u8,
    pub input_rate: u32,
    pub audio_packets: Vec<Vec<u8>>,
}

/// Reads the Ogg pages of `bytes` into packets.
///
/// # Panics
/// If the bytes are not a well-formed Ogg Opus stream.
pub fn parse_ogg_opus(bytes: &[u8]) -> OggOpus {
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert!(
            bytes.len() >= pos + 27 && &bytes[pos..pos + 4] == b"OggS",
            "an Ogg page starts at {pos}"
        );
        let segments = bytes[pos + 26] as usize;
        let lacing = &bytes[pos + 27..pos + 27 + segments];
        let mut body = pos + 27 + segments;
        for &lace in lacing {
            current.extend_from_slice(&bytes[body..body + lace as usize]);
            body += lace as usize;
            if lace < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        pos = body;
    }
    assert!(current.is_empty(), "the stream ends inside a packet");
    assert!(packets.len() > 2, "OpusHead, OpusTags and audio");
    let head = &packets[0];
    assert!(
        head.starts_with(b"OpusHead"),
        "the first packet is OpusHead"
    );
    assert!(
        packets[1].starts_with(b"OpusTags"),
        "the second is OpusTags"
    );
    OggOpus {
        channels: head[9],
        input_rate: u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
        audio_packets: packets[2..].to_vec(),
    }
}

/// Asserts every audio packet is an RFC 6716 code-3 packet of SILK wideband 20 ms frames, three
/// to a packet (the last may hold fewer), mono: the layout of native WhatsApp voice notes.
#[track_caller]
pub fn assert_code3_voice_packets(ogg: &OggOpus) {
    let (last, packets) = ogg
        .audio_packets
        .split_last()
        .expect("there are audio packets");
    for (i, packet) in packets.iter().enumerate() {
        assert_eq!(
            packet[0] >> 3,
            9,
            "packet {i}: TOC config 9 (SILK WB 20 ms)"
        );
        assert_eq!(packet[0] & 0b11, 3, "packet {i}: code 3");
        assert_eq!(packet[0] & 0x04, 0, "packet {i}: mono");
        assert_eq!(packet[1] & 0x3F, 3, "packet {i}: three frames");
    }
    assert_eq!(last[0] & 0b11, 3, "last packet: code 3");
    assert!(
        (1..=3).contains(&(last[1] & 0x3F)),
        "last packet: 1 to 3 frames"
    );
}

/// A one-file HTTP server on 127.0.0.1: `GET /<name>` answers the bytes, anything else 404.
/// Stops when dropped.
pub struct LocalHttp {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LocalHttp {
    pub fn serve(name: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port can be bound");
        let port = listener.local_addr().expect("bound").port();
        let stop = Arc::new(AtomicBool::new(false));
        let path = format!("/{name}");
        let content_type = content_type.to_owned();
        let thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        answer(stream, &path, &content_type, &bytes);
                    }
                }
            })
        };
        LocalHttp {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of `path` (with its leading `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn answer(mut stream: TcpStream, path: &str, content_type: &str, bytes: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(20)));
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if head.len() > 64 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let requested = head.split_whitespace().nth(1).unwrap_or("");
    let response = if requested == "/loop" {
        // Redirects to itself, for ever: a fetcher must stop at its limit.
        b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec()
    } else if requested == path {
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        )
        .into_bytes();
        response.extend_from_slice(bytes);
        response
    } else {
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            .to_vec()
    };
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}

impl Drop for LocalHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            crate::process::join_timeout(thread, Duration::from_secs(5));
        }
    }
}

/// The resident set size of a process in KiB (`VmRSS` of `/proc/PID/status`).
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }
}

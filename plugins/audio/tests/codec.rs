//! End-to-end tests of the transcoding core on real files made at test time by ffmpeg, sox and
//! espeak-ng, with every output checked by independent tools (ffprobe, opusinfo) and a
//! hand-written Ogg reader. A missing tool fails the test with a message naming it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wuts_plugin_audio::codec::{self, AudioError, TranscodeOptions, Transcoded};

/// Allowed difference between source and output duration.
const DURATION_TOLERANCE: f64 = 0.050;

// ---------------------------------------------------------------------------------------------
// Tools and fixtures

/// Runs a tool and returns its stdout; panics with a clear message if it is missing or fails.
fn run_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "test tool `{tool}` could not be run ({err}); install it \
             (apt-get install ffmpeg sox espeak-ng opus-tools)"
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

/// A temp folder holding a ~3 s stereo 44.1 kHz speech recording (`source.wav`).
struct Workdir {
    dir: TempDir,
}

impl Workdir {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let work = Workdir { dir };
        let speech = work.path("speech.wav");
        run_tool(
            "espeak-ng",
            &[
                "-w",
                speech.to_str().unwrap(),
                "Hello, this is a voice note test for the gateway. One, two, three.",
            ],
        );
        // Stereo 44.1 kHz with a quiet tone under the speech, so resampling and downmix run.
        let speech44 = work.path("speech44.wav");
        let tone = work.path("tone.wav");
        let source = work.path("source.wav");
        let [speech, speech44, tone, source] =
            [&speech, &speech44, &tone, &source].map(|p| p.to_str().unwrap());
        run_tool("sox", &[speech, "-r", "44100", "-c", "2", speech44]);
        run_tool(
            "sox",
            &[
                "-n", "-r", "44100", "-c", "2", tone, "synth", "3.5", "sine", "440", "vol", "0.05",
            ],
        );
        run_tool("sox", &["-m", speech44, tone, source]);
        work
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Encodes `source.wav` with ffmpeg into `name` using `codec_args`.
    fn encode(&self, name: &str, codec_args: &[&str]) -> PathBuf {
        let out = self.path(name);
        let source = self.path("source.wav");
        let mut args = vec!["-v", "error", "-y", "-i", source.to_str().unwrap()];
        args.extend_from_slice(codec_args);
        args.push(out.to_str().unwrap());
        run_tool("ffmpeg", &args);
        out
    }

    fn source_seconds(&self) -> f64 {
        probe_duration(&self.path("source.wav"))
    }
}

fn probe_duration(path: &Path) -> f64 {
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
            path.to_str().unwrap(),
        ],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe gave no duration for {path:?}: {out:?}"))
}

/// One input kind: file name, ffmpeg codec arguments, the MIME `transcode` should report.
struct Kind {
    file: &'static str,
    args: &'static [&'static str],
    mime: &'static str,
}

const MP3: Kind = Kind {
    file: "in.mp3",
    args: &["-c:a", "libmp3lame", "-b:a", "96k"],
    mime: "audio/mpeg",
};
const WAV: Kind = Kind {
    file: "in.wav",
    args: &["-c:a", "pcm_s16le"],
    mime: "audio/x-wav",
};
const M4A: Kind = Kind {
    file: "in.m4a",
    args: &["-c:a", "aac", "-b:a", "96k"],
    mime: "audio/mp4",
};
const OGG_VORBIS: Kind = Kind {
    file: "in.ogg",
    args: &["-c:a", "libvorbis", "-q:a", "3"],
    mime: "audio/ogg",
};
const OGG_OPUS: Kind = Kind {
    file: "in.opus",
    args: &["-c:a", "libopus", "-b:a", "48k"],
    mime: "audio/ogg",
};
const WEBM_OPUS: Kind = Kind {
    file: "in.webm",
    args: &["-c:a", "libopus", "-b:a", "48k"],
    mime: "audio/webm",
};
const FLAC: Kind = Kind {
    file: "in.flac",
    args: &["-c:a", "flac"],
    mime: "audio/flac",
};
/// H.264 video (a 5 s test pattern, cut to the audio's length) with the speech as AAC.
const MP4_VIDEO: Kind = Kind {
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

fn options(voice_note: bool) -> TranscodeOptions {
    TranscodeOptions {
        voice_note,
        max_duration: Duration::from_secs(60),
        deadline: Duration::from_secs(60),
        ..TranscodeOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Independent checks of an output file

/// Audio packets of an Ogg stream, parsed here by hand (independent of the crate's code),
/// plus the OpusHead fields the checks need.
struct OggOpus {
    channels: u8,
    input_rate: u32,
    audio_packets: Vec<Vec<u8>>,
}

fn parse_ogg_opus(bytes: &[u8]) -> OggOpus {
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert_eq!(
            &bytes[pos..pos + 4],
            b"OggS",
            "page capture pattern at {pos}"
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
    assert!(current.is_empty(), "stream ends inside a packet");
    let head = &packets[0];
    assert!(head.starts_with(b"OpusHead"), "first packet is OpusHead");
    assert!(
        packets[1].starts_with(b"OpusTags"),
        "second packet is OpusTags"
    );
    OggOpus {
        channels: head[9],
        input_rate: u32::from_le_bytes(head[12..16].try_into().unwrap()),
        audio_packets: packets[2..].to_vec(),
    }
}

/// `Key: value` lines of opusinfo.
fn opusinfo_field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(key))
        .map(str::trim)
        .unwrap_or_else(|| panic!("opusinfo report has no `{key}`:\n{report}"))
}

/// "0m:03.142s" -> 3.142
fn parse_opusinfo_length(text: &str) -> f64 {
    let (minutes, seconds) = text.trim_end_matches('s').split_once("m:").unwrap();
    minutes.parse::<f64>().unwrap() * 60.0 + seconds.parse::<f64>().unwrap()
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= DURATION_TOLERANCE,
        "{what}: {got:.3} s, expected {want:.3} s ± {DURATION_TOLERANCE} s"
    );
}

fn verify_output(work: &Workdir, out: &Transcoded, voice_note: bool, expected_seconds: f64) {
    let rate = if voice_note { 16_000 } else { 48_000 };
    assert_eq!(out.sample_rate, rate);
    assert_close(
        "reported duration",
        out.duration.as_secs_f64(),
        expected_seconds,
    );
    assert_eq!(out.waveform.len(), 64);
    assert!(out.waveform.iter().all(|&v| v <= 100));
    assert_eq!(
        out.waveform.iter().copied().max(),
        Some(100),
        "speech is not silent"
    );

    let file = work.path(if voice_note {
        "out-voice.ogg"
    } else {
        "out.ogg"
    });
    std::fs::write(&file, &out.ogg).unwrap();
    let file_str = file.to_str().unwrap();

    // ffprobe: one Opus stream, mono, and the container duration.
    let streams = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,channels:format=duration,start_time,nb_streams",
            "-of",
            "default=nw=1",
            file_str,
        ],
    );
    assert!(streams.contains("codec_name=opus"), "{streams}");
    assert!(streams.contains("channels=1"), "{streams}");
    assert!(streams.contains("nb_streams=1"), "{streams}");
    let field = |key: &str| -> f64 {
        streams
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("ffprobe: no {key} in {streams}"))
            .parse()
            .unwrap()
    };
    // ffprobe puts the Opus pre-skip before zero (negative start_time) and counts it in.
    let probed = field("duration=") + field("start_time=");
    assert_close("ffprobe duration", probed, expected_seconds);

    // opusinfo (libogg/libopus based): input rate, channels, length, packet sizes, no warnings.
    let report = run_tool("opusinfo", &[file_str]);
    assert!(
        !report.contains("WARNING") && !report.contains("ERROR"),
        "opusinfo complains:\n{report}"
    );
    assert_eq!(opusinfo_field(&report, "Channels:"), "1");
    assert_eq!(
        opusinfo_field(&report, "Original sample rate:"),
        format!("{rate} Hz")
    );
    let length = parse_opusinfo_length(opusinfo_field(&report, "Playback length:"));
    assert_close("opusinfo playback length", length, expected_seconds);
    let packet_line = opusinfo_field(&report, "Packet duration:");
    let max_packet = if voice_note {
        "60.0ms (max)"
    } else {
        "20.0ms (max)"
    };
    assert!(packet_line.contains(max_packet), "{packet_line}");

    // ffprobe packet durations: all 60 ms (voice) / 20 ms (plain) but possibly the last.
    let durations = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "packet=duration_time",
            "-of",
            "default=nw=1:nk=1",
            file_str,
        ],
    );
    let durations: Vec<&str> = durations
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let want = if voice_note { "0.060000" } else { "0.020000" };
    let (_, all_but_last) = durations.split_last().unwrap();
    assert!(
        all_but_last.iter().all(|d| *d == want),
        "packet durations {durations:?}"
    );

    // Our own reading of the Ogg pages: OpusHead and every TOC byte.
    let ogg = parse_ogg_opus(&out.ogg);
    assert_eq!(ogg.channels, 1);
    assert_eq!(ogg.input_rate, rate);
    let (last, packets) = ogg.audio_packets.split_last().unwrap();
    if voice_note {
        for (i, packet) in packets.iter().enumerate() {
            assert_eq!(
                packet[0] >> 3,
                9,
                "packet {i}: TOC config 9 (SILK WB 20 ms)"
            );
            assert_eq!(packet[0] & 0b11, 3, "packet {i}: code 3");
            assert_eq!(packet[1] & 0x3F, 3, "packet {i}: three frames");
            assert_eq!(packet[0] & 0x04, 0, "packet {i}: mono");
        }
        assert_eq!(last[0] & 0b11, 3, "last packet: code 3");
        assert!(
            (1..=3).contains(&(last[1] & 0x3F)),
            "last packet: 1-3 frames"
        );
    } else {
        for (i, packet) in ogg.audio_packets.iter().enumerate() {
            assert_eq!(packet[0] & 0b11, 0, "packet {i}: code 0");
        }
    }

    // libopus decodes it (opusdec), at the expected length.
    let decoded = work.path("decoded.wav");
    run_tool(
        "opusdec",
        &[
            "--quiet",
            "--rate",
            "48000",
            file_str,
            decoded.to_str().unwrap(),
        ],
    );
    assert_close("opusdec length", probe_duration(&decoded), expected_seconds);
}

fn transcode_and_verify(kind: &Kind, voice_note: bool) {
    let work = Workdir::new();
    let input_path = work.encode(kind.file, kind.args);
    let input = std::fs::read(&input_path).unwrap();
    let out = codec::transcode(&input, &options(voice_note))
        .unwrap_or_else(|err| panic!("{} failed: {err} ({})", kind.file, err.code()));
    assert_eq!(out.original_format, kind.mime, "{}", kind.file);
    // The speech is the reference: ffprobe's idea of the input file can include codec delay.
    verify_output(&work, &out, voice_note, work.source_seconds());
}

macro_rules! format_tests {
    ($($voice:ident, $plain:ident => $kind:expr;)*) => {$(
        #[test]
        fn $voice() {
            transcode_and_verify(&$kind, true);
        }
        #[test]
        fn $plain() {
            transcode_and_verify(&$kind, false);
        }
    )*};
}

format_tests! {
    voice_note_from_mp3, plain_from_mp3 => MP3;
    voice_note_from_wav, plain_from_wav => WAV;
    voice_note_from_m4a_aac, plain_from_m4a_aac => M4A;
    voice_note_from_ogg_vorbis, plain_from_ogg_vorbis => OGG_VORBIS;
    voice_note_from_ogg_opus, plain_from_ogg_opus => OGG_OPUS;
    voice_note_from_webm_opus, plain_from_webm_opus => WEBM_OPUS;
    voice_note_from_flac, plain_from_flac => FLAC;
    voice_note_from_mp4_video, plain_from_mp4_video => MP4_VIDEO;
}

// ---------------------------------------------------------------------------------------------
// Bad input

fn expect_code(input: &[u8], opts: &TranscodeOptions, code: &str) -> AudioError {
    let started = Instant::now();
    let err = match codec::transcode(input, opts) {
        Ok(out) => panic!(
            "expected {code}, got success ({:.2} s, {})",
            out.duration.as_secs_f64(),
            out.original_format
        ),
        Err(err) => err,
    };
    assert_eq!(err.code(), code, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    err
}

fn pseudo_random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            // xorshift64: deterministic noise without a rand dependency.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn empty_input_is_audio_empty() {
    expect_code(b"", &options(true), "AUDIO_EMPTY");
}

#[test]
fn random_bytes_are_unsupported() {
    // Many seeds and sizes: noise sometimes matches weak signatures (e.g. H.263 video).
    for seed in 1..=24u64 {
        let len = [1_000, 20_000, 100_000, 200_000][seed as usize % 4];
        let bytes = pseudo_random_bytes(len, seed * 0x9E37_79B9);
        expect_code(&bytes, &options(true), "AUDIO_UNSUPPORTED");
    }
}

#[test]
fn plain_text_is_unsupported() {
    let text = "This is not audio. ".repeat(500);
    let err = expect_code(text.as_bytes(), &options(true), "AUDIO_UNSUPPORTED");
    assert!(!err.to_string().contains("This is not audio"), "{err}");
}

#[test]
fn png_image_is_unsupported() {
    let work = Workdir::new();
    let png = work.path("image.png");
    run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64",
            "-frames:v",
            "1",
            png.to_str().unwrap(),
        ],
    );
    expect_code(
        &std::fs::read(png).unwrap(),
        &options(true),
        "AUDIO_UNSUPPORTED",
    );
}

#[test]
fn truncated_mp3_is_corrupt() {
    let work = Workdir::new();
    let mp3 = std::fs::read(work.encode(MP3.file, MP3.args)).unwrap();
    expect_code(&mp3[..mp3.len() / 2], &options(true), "AUDIO_CORRUPT");
}

#[test]
fn truncated_m4a_is_corrupt() {
    // ffmpeg writes the index (moov) at the end: cutting the file loses it.
    let work = Workdir::new();
    let m4a = std::fs::read(work.encode(M4A.file, M4A.args)).unwrap();
    expect_code(&m4a[..m4a.len() * 2 / 3], &options(true), "AUDIO_CORRUPT");
}

#[test]
fn truncated_faststart_m4a_is_corrupt() {
    // Index first: the cut loses audio data the index promises.
    let work = Workdir::new();
    let path = work.encode(
        "fast.m4a",
        &["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"],
    );
    let m4a = std::fs::read(path).unwrap();
    expect_code(&m4a[..m4a.len() / 2], &options(false), "AUDIO_CORRUPT");
}

#[test]
fn truncated_wav_is_corrupt() {
    let work = Workdir::new();
    let wav = std::fs::read(work.encode(WAV.file, WAV.args)).unwrap();
    expect_code(&wav[..wav.len() / 2], &options(true), "AUDIO_CORRUPT");
}

#[test]
fn corrupt_flac_is_corrupt() {
    let work = Workdir::new();
    let mut flac = std::fs::read(work.encode(FLAC.file, FLAC.args)).unwrap();
    // Keep the stream header (fLaC + STREAMINFO), garble all audio frames.
    let noise = pseudo_random_bytes(flac.len(), 42);
    for (byte, n) in flac.iter_mut().zip(noise).skip(8192) {
        *byte ^= n;
    }
    expect_code(&flac, &options(true), "AUDIO_CORRUPT");
}

#[test]
fn video_without_audio_has_no_stream() {
    let work = Workdir::new();
    let video = work.path("silent.mp4");
    run_tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=15:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-an",
            video.to_str().unwrap(),
        ],
    );
    expect_code(
        &std::fs::read(video).unwrap(),
        &options(true),
        "AUDIO_NO_STREAM",
    );
}

#[test]
fn over_length_clip_is_too_long() {
    let work = Workdir::new();
    let flac = std::fs::read(work.encode(FLAC.file, FLAC.args)).unwrap();
    for voice_note in [true, false] {
        let opts = TranscodeOptions {
            max_duration: Duration::from_secs(1),
            ..options(voice_note)
        };
        match expect_code(&flac, &opts, "AUDIO_TOO_LONG") {
            AudioError::TooLong {
                seconds,
                max_seconds,
            } => {
                assert_eq!(max_seconds, 1);
                // The container declares the full length even though decoding stopped early.
                assert!((seconds - work.source_seconds()).abs() < 0.1, "{seconds}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn clip_exactly_at_the_limit_passes() {
    let work = Workdir::new();
    let wav = std::fs::read(work.encode(WAV.file, WAV.args)).unwrap();
    let opts = TranscodeOptions {
        max_duration: Duration::from_secs_f64(work.source_seconds()),
        ..options(true)
    };
    codec::transcode(&wav, &opts).expect("a clip as long as the cap is allowed");
}

#[test]
fn deadline_is_enforced() {
    let work = Workdir::new();
    // 60 s of audio cannot be encoded in 100 ms.
    let long = work.path("long.flac");
    run_tool(
        "sox",
        &[
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            long.to_str().unwrap(),
            "synth",
            "60",
            "pinknoise",
        ],
    );
    let opts = TranscodeOptions {
        deadline: Duration::from_millis(100),
        max_duration: Duration::from_secs(600),
        voice_note: true,
        ..TranscodeOptions::default()
    };
    let started = Instant::now();
    expect_code(&std::fs::read(long).unwrap(), &opts, "AUDIO_TIMEOUT");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Misc

#[test]
fn sniff_mime_recognises_the_fixtures() {
    let work = Workdir::new();
    for (kind, want) in [
        (&MP3, "audio/mpeg"),
        (&WAV, "audio/x-wav"),
        (&M4A, "audio/mp4"),
        (&OGG_VORBIS, "audio/ogg"),
        (&OGG_OPUS, "audio/ogg"),
        (&WEBM_OPUS, "audio/webm"),
        (&FLAC, "audio/flac"),
        (&MP4_VIDEO, "video/mp4"),
    ] {
        let bytes = std::fs::read(work.encode(kind.file, kind.args)).unwrap();
        assert_eq!(codec::sniff_mime(&bytes), Some(want), "{}", kind.file);
    }
    assert_eq!(codec::sniff_mime(b"plain text"), None);
    assert_eq!(codec::sniff_mime(&pseudo_random_bytes(1000, 9)), None);
}

#[test]
fn init_is_idempotent_across_threads() {
    let threads: Vec<_> = (0..8).map(|_| std::thread::spawn(codec::init)).collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    codec::init().unwrap();
}

#[test]
fn parallel_transcodes_are_independent() {
    let work = Workdir::new();
    let mp3 = std::fs::read(work.encode(MP3.file, MP3.args)).unwrap();
    let m4a = std::fs::read(work.encode(M4A.file, M4A.args)).unwrap();
    let inputs = [mp3.clone(), m4a.clone(), mp3, m4a];
    let outputs: Vec<Transcoded> = std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .iter()
            .map(|input| scope.spawn(|| codec::transcode(input, &options(true))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(outputs[0].ogg.len(), outputs[2].ogg.len());
    assert_eq!(outputs[1].waveform, outputs[3].waveform);
    for out in &outputs {
        assert_close(
            "parallel duration",
            out.duration.as_secs_f64(),
            work.source_seconds(),
        );
    }
}

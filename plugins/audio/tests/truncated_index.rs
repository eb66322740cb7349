//! Regression: an MP4 cut before its index (moov) is refused at once even after other
//! transcodes ran in the process. qtdemux's error for it used to be swallowed by decodebin
//! when it came quickly, leaving the transcode waiting for its deadline.

use std::process::Command;
use std::time::{Duration, Instant};

use wuts_plugin_audio::codec::{self, TranscodeOptions};

fn tool(tool: &str, args: &[&str]) {
    let status = Command::new(tool)
        .args(args)
        .status()
        .unwrap_or_else(|err| {
            panic!("test tool `{tool}` could not be run ({err}): apt-get install sox ffmpeg")
        });
    assert!(status.success(), "`{tool} {}` failed", args.join(" "));
}

#[test]
fn a_truncated_m4a_fails_fast_after_a_successful_transcode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("tone.wav");
    let m4a = dir.path().join("tone.m4a");
    let (wav, m4a) = (wav.to_str().unwrap(), m4a.to_str().unwrap());
    tool(
        "sox",
        &[
            "-n", "-r", "44100", "-c", "1", wav, "synth", "3", "sine", "440",
        ],
    );
    tool(
        "ffmpeg",
        &[
            "-v", "error", "-y", "-i", wav, "-c:a", "aac", "-b:a", "96k", m4a,
        ],
    );
    let whole = std::fs::read(m4a).unwrap();
    let cut = &whole[..whole.len() * 2 / 3];
    let options = TranscodeOptions {
        voice_note: true,
        max_duration: Duration::from_secs(60),
        deadline: Duration::from_secs(30),
        ..TranscodeOptions::default()
    };
    for round in 0..3 {
        codec::transcode(&whole, &options).expect("the whole file transcodes");
        let started = Instant::now();
        let error = codec::transcode(cut, &options).expect_err("a cut file fails");
        assert_eq!(error.code(), "AUDIO_CORRUPT", "round {round}: {error}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "round {round}: took {:?}",
            started.elapsed()
        );
    }
}

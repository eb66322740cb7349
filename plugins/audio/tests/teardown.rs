//! Checks that transcodes leave no streaming threads behind, whichever way they end.
//! (Its own test binary, so no other test's threads are counted.)

use std::time::{Duration, Instant};

use wuts_plugin_audio::codec::{self, TranscodeOptions};

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable on Linux")
        .count()
}

/// A 2 s 440 Hz mono WAV, built in memory.
fn wav(seconds: u32) -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate * seconds)
        .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / rate as f64).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[test]
fn no_threads_leak_on_success_error_timeout_or_cap() {
    codec::init().unwrap();
    let good = wav(2);
    let long = wav(30);
    let opts = TranscodeOptions {
        voice_note: true,
        max_duration: Duration::from_secs(60),
        deadline: Duration::from_secs(30),
        ..TranscodeOptions::default()
    };
    let run_all = || {
        codec::transcode(&good, &opts).unwrap();
        let capped = TranscodeOptions {
            max_duration: Duration::from_secs(1),
            ..opts.clone()
        };
        assert_eq!(
            codec::transcode(&good, &capped).unwrap_err().code(),
            "AUDIO_TOO_LONG"
        );
        let hurried = TranscodeOptions {
            deadline: Duration::from_millis(30),
            ..opts.clone()
        };
        assert_eq!(
            codec::transcode(&long, &hurried).unwrap_err().code(),
            "AUDIO_TIMEOUT"
        );
        let truncated = &good[..good.len() / 3];
        assert_eq!(
            codec::transcode(truncated, &opts).unwrap_err().code(),
            "AUDIO_CORRUPT"
        );
        let text = "not audio at all ".repeat(100);
        assert_eq!(
            codec::transcode(text.as_bytes(), &opts).unwrap_err().code(),
            "AUDIO_UNSUPPORTED"
        );
    };
    // Warm up: GLib keeps a few pooled threads around after the first pipelines.
    run_all();
    let baseline = thread_count();
    for _ in 0..10 {
        run_all();
    }
    // Pooled threads exit lazily; give them a moment before judging.
    let started = Instant::now();
    while thread_count() > baseline + 2 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = thread_count();
    assert!(
        after <= baseline + 2,
        "threads grew from {baseline} to {after} over 50 transcodes"
    );
}

//! Transcodes one file from the command line, for manual checks and timing.
//!
//! `cargo run --release --example transcode -- IN OUT.ogg [--plain] [--repeat N]`

use std::time::{Duration, Instant};

use wuts_plugin_audio::codec::{self, TranscodeOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(output)) = (args.first(), args.get(1)) else {
        eprintln!("usage: transcode IN OUT.ogg [--plain] [--repeat N]");
        std::process::exit(2);
    };
    let voice_note = !args.iter().any(|a| a == "--plain");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let bytes = match std::fs::read(input) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("cannot read {input}: {err}");
            std::process::exit(1);
        }
    };
    let opts = TranscodeOptions {
        voice_note,
        max_duration: Duration::from_secs(3600),
        deadline: Duration::from_secs(600),
        ..TranscodeOptions::default()
    };
    let started = Instant::now();
    if let Err(err) = codec::init() {
        eprintln!("{err}");
        std::process::exit(1);
    }
    let init_time = started.elapsed();
    for run in 0..repeat {
        match codec::transcode(&bytes, &opts) {
            Ok(out) => {
                let audio = out.duration.as_secs_f64();
                let wall = out.conversion_time.as_secs_f64();
                println!(
                    "run {run}: {} -> {} bytes, {audio:.3} s audio at {} Hz in {wall:.3} s \
                     ({:.1}x realtime), waveform {:?}",
                    out.original_format,
                    out.ogg.len(),
                    out.sample_rate,
                    audio / wall,
                    out.waveform
                );
                if let Err(err) = std::fs::write(output, &out.ogg) {
                    eprintln!("cannot write {output}: {err}");
                    std::process::exit(1);
                }
            }
            Err(err) => {
                println!("run {run}: {} {err}", err.code());
                std::process::exit(1);
            }
        }
    }
    println!("gst init {:.1} ms", init_time.as_secs_f64() * 1e3);
}

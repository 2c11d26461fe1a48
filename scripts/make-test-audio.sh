#!/usr/bin/env bash
# Makes the test recordings that are not shipped as WAV; prints the folder (.deps/audio).
#
#   jfk.wav   16 kHz mono s16 WAV of whisper.cpp's samples/jfk.mp3 (the fetched source carries
#             only the MP3; the repository's jfk.wav is not in the package). Decoded by sox with
#             Debian's libsox-fmt-mp3 (libmad, a fixed-point decoder: the same bytes on every
#             machine); the MP3 is already 16 kHz mono, so nothing is resampled, and -D turns off
#             dither (the only random step), -R keeps sox repeatable. Both the MP3 and the result
#             are checked by SHA-256. 177,408 samples (11.09 s): the MP3 decoder's padding makes
#             it 1,408 samples longer than the repository's jfk.wav.
#
# Needs scripts/fetch-whisper.sh to have run. Idempotent: a checked file is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

WHISPER_VERSION=1.9.1
MP3="$PWD/.deps/whisper.cpp-$WHISPER_VERSION/src/samples/jfk.mp3"
MP3_SHA256=20d3323a2bcce6f25498b8911a397503a0a99fa92b6ba58d62788cb42b6e5459
WAV_SHA256=0961bf48cd0820e0a89d11617daaa3c526cb4cf1d2be71d645aee9638e2f412d
DEST="$PWD/.deps/audio"
WAV="$DEST/jfk.wav"

say() { echo "make-test-audio: $*" >&2; }

if [ -f "$WAV" ] && [ "$(sha256sum "$WAV" | cut -d' ' -f1)" = "$WAV_SHA256" ]; then
  echo "$DEST"
  exit 0
fi
if [ ! -f "$MP3" ]; then
  say "$MP3 is missing (scripts/fetch-whisper.sh fetches it)"
  exit 1
fi
got="$(sha256sum "$MP3" | cut -d' ' -f1)"
if [ "$got" != "$MP3_SHA256" ]; then
  say "checksum mismatch for $MP3: expected $MP3_SHA256, got $got"
  exit 1
fi
command -v sox >/dev/null || { say "sox is missing (scripts/setup.sh installs it)"; exit 1; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/make-test-audio.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if ! sox -V2 -D -R "$MP3" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/jfk.wav" \
      >"$tmp/sox.log" 2>&1; then
  cat "$tmp/sox.log" >&2
  say "sox could not decode $MP3 (sox's output above; MP3 support is Debian's libsox-fmt-mp3)"
  exit 1
fi
got="$(sha256sum "$tmp/jfk.wav" | cut -d' ' -f1)"
if [ "$got" != "$WAV_SHA256" ]; then
  say "jfk.wav decoded to different bytes: expected sha256 $WAV_SHA256, got $got (another sox or libmad than Debian 12's?)"
  exit 1
fi
mkdir -p "$DEST"
mv "$tmp/jfk.wav" "$WAV"
say "made $WAV"
echo "$DEST"

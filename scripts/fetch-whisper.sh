#!/usr/bin/env bash
# Fetches the pinned whisper.cpp source, checks it and builds it once; prints the install prefix.
#
# The source comes from the npm package nodejs-whisper, which vendors whisper.cpp under
# cpp/whisper.cpp (npm is one of the two registries the build machines reach). The package
# tarball is pinned by version and SHA-256; its CMakeLists.txt must say the expected whisper.cpp
# version. The build is cached under .deps/ and redone only when the pin or the flavour changes.
# Our own fixes to that source live in scripts/whisper-patches/ (each says why) and are applied
# right after extraction.
#
#   scripts/fetch-whisper.sh               # CPU build (-march=native: the best SIMD this machine has)
#   STT_CUDA=ON scripts/fetch-whisper.sh   # CUDA build (needs nvcc; see docs/whisper.md)
#   STT_CUDA_ARCH="80;90"                   # GPU architectures to compile for (default: 75;80;86;89;90)
#
# Prefix layout: include/whisper.h, include/ggml*.h, lib/*.a, bin/whisper-cli, bin/whisper-bench,
# bin/whisper-quantize.
set -euo pipefail
cd "$(dirname "$0")/.."

WHISPER_VERSION=1.9.1
NPM_PACKAGE=nodejs-whisper
NPM_VERSION=0.3.1
NPM_SHA256=92041caf2b26c74b7f489fedf37bd093f216eebd61df512045ec2d19d0531d37

CUDA="${STT_CUDA:-OFF}"
CUDA_ARCH="${STT_CUDA_ARCH:-75;80;86;89;90}"
NATIVE="${STT_WHISPER_NATIVE:-ON}"
FLAVOUR=cpu
if [ "$CUDA" = ON ]; then FLAVOUR=cuda; fi
DEPS="$PWD/.deps/whisper.cpp-$WHISPER_VERSION"
SRC="$DEPS/src"
BUILD="$DEPS/build-$FLAVOUR"
PREFIX="$DEPS/$FLAVOUR"
# Our fixes to the pinned source (scripts/whisper-patches/*.patch, applied in name order with
# patch -p1); their checksum is part of both pins, so a new patch re-extracts and rebuilds.
shopt -s nullglob
PATCHES=(scripts/whisper-patches/*.patch)
shopt -u nullglob
PATCH_SUM=none
if [ ${#PATCHES[@]} -gt 0 ]; then
  PATCH_SUM="$(cat "${PATCHES[@]}" | sha256sum | cut -c1-16)"
fi
PIN="whisper.cpp $WHISPER_VERSION from $NPM_PACKAGE@$NPM_VERSION sha256 $NPM_SHA256 patches $PATCH_SUM cuda=$CUDA native=$NATIVE"
CUDA_ARGS=()
if [ "$CUDA" = ON ]; then
  PIN="$PIN arch=$CUDA_ARCH"
  nvcc="$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")"
  [ -x "$nvcc" ] || { echo "fetch-whisper: STT_CUDA=ON needs nvcc (CUDA toolkit)" >&2; exit 1; }
  CUDA_ARGS=(-DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH")
fi

say() { echo "fetch-whisper: $*" >&2; }

if [ -f "$PREFIX/.pin" ] && [ "$(cat "$PREFIX/.pin")" = "$PIN" ]; then
  echo "$PREFIX"
  exit 0
fi

PIN_SRC="$NPM_PACKAGE@$NPM_VERSION sha256 $NPM_SHA256 patches $PATCH_SUM"
if [ ! -f "$SRC/.pin" ] || [ "$(cat "$SRC/.pin")" != "$PIN_SRC" ]; then
  command -v npm >/dev/null || { say "npm is missing (scripts/setup.sh installs it)"; exit 1; }
  if [ ${#PATCHES[@]} -gt 0 ] && ! command -v patch >/dev/null; then
    say "patch is missing (scripts/setup.sh installs it)"
    exit 1
  fi
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch-whisper.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  say "fetching $NPM_PACKAGE@$NPM_VERSION (vendors whisper.cpp $WHISPER_VERSION)"
  # npm's own output goes to a log, shown with the reason when the fetch fails (a wrong version,
  # no route to the registry, a proxy or cache problem: npm says which).
  if ! (cd "$tmp" && npm pack "$NPM_PACKAGE@$NPM_VERSION" --loglevel=warn) \
        >"$tmp/npm.log" 2>&1; then
    cat "$tmp/npm.log" >&2
    code="$(sed -n -E 's/^npm (ERR!|error) code (.*)$/\2/p' "$tmp/npm.log" | head -n 1)"
    say "npm pack $NPM_PACKAGE@$NPM_VERSION failed${code:+ ($code)}: npm's output above"
    exit 1
  fi
  tgz="$tmp/$NPM_PACKAGE-$NPM_VERSION.tgz"
  if [ ! -f "$tgz" ]; then
    cat "$tmp/npm.log" >&2
    say "npm pack did not deliver $NPM_PACKAGE-$NPM_VERSION.tgz (got: $(ls "$tmp" | tr '\n' ' '))"
    exit 1
  fi
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [ "$got" != "$NPM_SHA256" ]; then
    say "checksum mismatch for $NPM_PACKAGE-$NPM_VERSION.tgz: expected $NPM_SHA256, got $got"
    exit 1
  fi
  if ! tar -xzf "$tgz" -C "$tmp" package/cpp/whisper.cpp >"$tmp/tar.log" 2>&1; then
    cat "$tmp/tar.log" >&2
    say "unpacking $NPM_PACKAGE-$NPM_VERSION.tgz failed (tar's output above)"
    exit 1
  fi
  if ! grep -q "project(\"whisper.cpp\" VERSION $WHISPER_VERSION)" \
      "$tmp/package/cpp/whisper.cpp/CMakeLists.txt"; then
    say "the package does not carry whisper.cpp $WHISPER_VERSION"
    exit 1
  fi
  for p in "${PATCHES[@]}"; do
    if ! patch -s -p1 -d "$tmp/package/cpp/whisper.cpp" <"$p"; then
      say "$p does not apply to whisper.cpp $WHISPER_VERSION"
      exit 1
    fi
  done
  # The package's files carry 1985 mtimes: an old build tree would take a changed source for
  # up to date, so every flavour's build starts over from the new source.
  rm -rf "$SRC" "$DEPS"/build-*
  mkdir -p "$DEPS"
  mv "$tmp/package/cpp/whisper.cpp" "$SRC"
  echo "$PIN_SRC" > "$SRC/.pin"
fi

say "building whisper.cpp $WHISPER_VERSION ($FLAVOUR, native=$NATIVE) into $PREFIX"
t0=$(date +%s)
# The third-party build's compiler warnings go to a log, shown only if the build fails.
mkdir -p "$DEPS"
buildlog="$DEPS/build-$FLAVOUR.log"
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
         -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
         -DGGML_NATIVE="$NATIVE" -DGGML_OPENMP=OFF -DGGML_CUDA="$CUDA" \
         -DWHISPER_BUILD_TESTS=OFF -DWHISPER_BUILD_EXAMPLES=ON -DWHISPER_BUILD_SERVER=OFF \
         -DWHISPER_SDL2=OFF -DWHISPER_CURL=OFF -DWHISPER_FFMPEG=OFF "${CUDA_ARGS[@]}" &&
       cmake --build "$BUILD" -j"$(nproc)" \
         --target whisper whisper-cli whisper-bench whisper-quantize; } >"$buildlog" 2>&1; then
  tail -n 60 "$buildlog" >&2
  say "build failed; full log: $buildlog"
  exit 1
fi
# Copied by hand: `cmake --install` wants every library of the tree, and only these are built.
rm -rf "$PREFIX"
mkdir -p "$PREFIX/include" "$PREFIX/lib" "$PREFIX/bin"
cp "$SRC/include/whisper.h" "$SRC"/ggml/include/*.h "$PREFIX/include/"
find "$BUILD" -name 'lib*.a' \( -name 'libwhisper.a' -o -name 'libggml*.a' \) \
  -exec cp {} "$PREFIX/lib/" \;
cp "$BUILD/bin/whisper-cli" "$BUILD/bin/whisper-bench" "$BUILD/bin/whisper-quantize" "$PREFIX/bin/"
echo "$PIN" > "$PREFIX/.pin"
say "built in $(( $(date +%s) - t0 )) s"
echo "$PREFIX"

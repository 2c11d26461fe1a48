# Sourced by the fetch scripts (bash): downloads one pinned wheel without installing anything.
#   pip_wheel_download REQ WHEEL SHA256 DIR
# puts WHEEL (what `pip download REQ` must deliver) into DIR and checks its SHA-256. Needs a
# `say` function (the caller's prefix for messages on stderr). On any failure it says which step
# failed, shows the tool's own output, and exits 1. PY may name the interpreter.
# Exits 1 with a message unless the interpreter $1 exists and has pip.
pip_check() {
  [ -x "$1" ] || { say "$1 is missing (Debian python3; scripts/setup.sh installs it)"; exit 1; }
  if ! "$1" -m pip --version >/dev/null 2>&1; then
    say "pip is missing for $1 (Debian python3-pip; scripts/setup.sh installs it)"
    exit 1
  fi
}

pip_wheel_download() {
  local req="$1" wheel="$2" want="$3" dir="$4" py="${PY:-/usr/bin/python3}" got
  pip_check "$py"
  mkdir -p "$dir"
  if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$dir" "$req" >"$dir.pip.log" 2>&1; then
    cat "$dir.pip.log" >&2
    say "pip download of $req failed (pip's output above)"
    exit 1
  fi
  if [ ! -f "$dir/$wheel" ]; then
    say "pip did not deliver $wheel (got: $(ls "$dir" | tr '\n' ' '))"
    exit 1
  fi
  got="$(sha256sum "$dir/$wheel" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    say "checksum mismatch for $wheel: expected $want, got $got"
    exit 1
  fi
}

# Downloads several pinned wheels and unpacks them into one folder, without resolving anything:
#   pip_wheels_install WORK SITE "FILE SHA256"... -- REQ...
# `pip download --no-deps` of every REQ into WORK/dl; each FILE must be there with its SHA-256
# and nothing else may be; then `pip install --no-deps --no-index --target SITE` of the files
# and their console scripts (SITE/bin) removed. Same failure rules as pip_wheel_download.
pip_wheels_install() {
  local work="$1" site="$2" py="${PY:-/usr/bin/python3}" entry file want got pinned extra
  shift 2
  local entries=() reqs=() files=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do entries+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  reqs=("$@")
  pip_check "$py"
  mkdir -p "$work/dl"
  if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$work/dl" "${reqs[@]}" >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    say "pip download failed for ${reqs[*]} (pip's output above)"
    exit 1
  fi
  for entry in "${entries[@]}"; do
    read -r file want <<<"$entry"
    if [ ! -f "$work/dl/$file" ]; then
      say "pip did not deliver $file (got: $(ls "$work/dl" | tr '\n' ' '))"
      exit 1
    fi
    got="$(sha256sum "$work/dl/$file" | cut -d' ' -f1)"
    if [ "$got" != "$want" ]; then
      say "checksum mismatch for $file: expected $want, got $got"
      exit 1
    fi
    files+=("$work/dl/$file")
  done
  pinned="$(printf '%s\n' "${entries[@]}" | awk '{print $1}')"
  extra="$(ls "$work/dl" | grep -v -x -F -e "$pinned" || true)"
  if [ -n "$extra" ]; then
    say "pip delivered files that are not pinned: $extra"
    exit 1
  fi
  if ! "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-index \
        --no-compile --target "$site" "${files[@]}" >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    say "unpacking the wheels failed (pip's output above)"
    exit 1
  fi
  rm -rf "$site/bin"
}

# Sourced by the fetch and test-environment scripts (bash): pinned PyPI files without installing
# anything into the system's Python (PEP 668). Every function needs a `say` function (the
# caller's prefix for messages on stderr); on any failure it says which step failed, shows the
# tool's own output, and exits 1. PY may name the interpreter.
#
#   sha256_check DIR "FILE SHA256"...             each FILE in DIR, with its SHA-256
#   pip_wheels_download DIR "FILE SHA256"... -- REQ...
#                                                 `pip download --no-deps` of the REQs into DIR:
#                                                 exactly the pinned FILEs, each checked
#   pip_wheel_download REQ WHEEL SHA256 DIR       the same for one wheel
#   pip_wheels_install WORK SITE "FILE SHA256"... -- REQ...
#                                                 downloaded into WORK/dl, then unpacked with
#                                                 `pip install --no-deps --no-index --target SITE`
#                                                 (console scripts, SITE/bin, removed)
#   pip_wheel_extract WHEEL NAME DEST             NAME (a file, or a folder and all under it) of
#                                                 the wheel, extracted into DEST

# Exits 1 with a message unless the interpreter $1 exists and has pip.
pip_check() {
  [ -x "$1" ] || { say "$1 is missing (Debian python3; scripts/setup.sh installs it)"; exit 1; }
  if ! "$1" -m pip --version >/dev/null 2>&1; then
    say "pip is missing for $1 (Debian python3-pip; scripts/setup.sh installs it)"
    exit 1
  fi
}

sha256_check() {
  local dir="$1" entry file want got
  shift
  for entry in "$@"; do
    read -r file want <<<"$entry"
    if [ ! -f "$dir/$file" ]; then
      say "$file is missing (got: $(ls "$dir" | tr '\n' ' '))"
      exit 1
    fi
    got="$(sha256sum "$dir/$file" | cut -d' ' -f1)"
    if [ "$got" != "$want" ]; then
      say "checksum mismatch for $file: expected $want, got $got"
      exit 1
    fi
  done
}

pip_wheels_download() {
  local dir="$1" py="${PY:-/usr/bin/python3}" pinned extra
  shift
  local entries=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do entries+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  pip_check "$py"
  mkdir -p "$dir"
  if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$dir" "$@" >"$dir.pip.log" 2>&1; then
    cat "$dir.pip.log" >&2
    say "pip download failed for $* (pip's output above)"
    exit 1
  fi
  sha256_check "$dir" "${entries[@]}"
  pinned="$(printf '%s\n' "${entries[@]}" | awk '{print $1}')"
  extra="$(ls "$dir" | grep -v -x -F -e "$pinned" || true)"
  if [ -n "$extra" ]; then
    say "pip delivered files that are not pinned: $extra"
    exit 1
  fi
}

pip_wheel_download() {
  pip_wheels_download "$4" "$2 $3" -- "$1"
}

pip_wheels_install() {
  local work="$1" site="$2" py="${PY:-/usr/bin/python3}" entry
  shift 2
  local entries=() files=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do entries+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  pip_wheels_download "$work/dl" "${entries[@]}" -- "$@"
  for entry in "${entries[@]}"; do files+=("$work/dl/${entry%% *}"); done
  if ! "$py" -m pip install --quiet --disable-pip-version-check --no-deps --no-index \
        --no-compile --target "$site" "${files[@]}" >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    say "unpacking the wheels failed (pip's output above)"
    exit 1
  fi
  rm -rf "$site/bin"
}

pip_wheel_extract() {
  local wheel="$1" name="$2" dest="$3" py="${PY:-/usr/bin/python3}"
  if ! "$py" - "$wheel" "$name" "$dest" >"$dest.unzip.log" 2>&1 <<'PY'
import sys, zipfile
wheel, name, dest = sys.argv[1:]
folder = name.rstrip("/") + "/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n == name or n.startswith(folder)]
    if not names:
        sys.exit(f"{name} is not in the wheel")
    for n in names:
        z.extract(n, dest)
PY
  then
    cat "$dest.unzip.log" >&2
    say "unpacking $name from $(basename "$wheel") failed (Python's error above)"
    exit 1
  fi
}

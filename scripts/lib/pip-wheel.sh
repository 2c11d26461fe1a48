# Sourced by the fetch scripts (bash): downloads one pinned wheel without installing anything.
#   pip_wheel_download REQ WHEEL SHA256 DIR
# puts WHEEL (what `pip download REQ` must deliver) into DIR and checks its SHA-256. Needs a
# `say` function (the caller's prefix for messages on stderr). On any failure it says which step
# failed, shows the tool's own output, and exits 1. PY may name the interpreter.
pip_wheel_download() {
  local req="$1" wheel="$2" want="$3" dir="$4" py="${PY:-/usr/bin/python3}" got
  [ -x "$py" ] || { say "$py is missing (Debian python3; scripts/setup.sh installs it)"; exit 1; }
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    say "pip is missing for $py (Debian python3-pip; scripts/setup.sh installs it)"
    exit 1
  fi
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

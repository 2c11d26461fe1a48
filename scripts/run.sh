#!/usr/bin/env bash
# Command (1): set everything up, then run stt-server on the embedded pocketsphinx engine.
# Extra arguments go to stt-server, e.g. scripts/run.sh --host 127.0.0.1 --debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/stt-server "$@"

#!/usr/bin/python3
"""The bundled stt-client: `stt-client --url ws://127.0.0.1:D/ FILE.wav` against a real server
must exit 0 and print the final transcript on stdout (reasonable words: WER <= 0.5 against the
reference for the best stdout line)."""

import os
import subprocess
import sys
import time

import harness as h

MAX_WER = 0.5


def main():
    h.watchdog(170)
    if not os.access(h.CLIENT_BIN, os.X_OK):
        h.log(f"FAILED: stt-client binary not found: {h.CLIENT_BIN}")
        return 1
    utt, path, ref = h.librivox_set()[2]
    failures = []
    with h.Server(name="client") as srv:
        argv = [h.CLIENT_BIN, "--url", srv.data_url(), path]
        t = time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            h.log(f"FAILED: {argv} did not finish in 90 s; stdout {e.stdout!r}")
            return 1
        elapsed = time.monotonic() - t
        h.log(f"  {' '.join(argv)}\n  exit {r.returncode} after {elapsed:.1f}s")
        h.log("  stdout:\n    " + "\n    ".join(r.stdout.splitlines()))
        h.log("  stderr (tail):\n    " + "\n    ".join(r.stderr.splitlines()[-15:]))
        if r.returncode != 0:
            failures.append(f"exit status {r.returncode}")
        lines = [ln for ln in r.stdout.splitlines() if h.normalize(ln)]
        if not lines:
            failures.append("no transcript on stdout")
        else:
            scored = sorted((h.wer([(ref, ln)])[0], ln) for ln in lines)
            best_wer, best = scored[0]
            h.log(f"  best line {best!r}: WER {best_wer:.2f} vs {ref!r}")
            if best_wer > MAX_WER:
                failures.append(f"best stdout line WER {best_wer:.2f} > {MAX_WER}: {best!r}")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

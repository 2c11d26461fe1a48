#!/usr/bin/python3
"""One point of bench/capacity.py: a fresh pocketsphinx server (the same settings as the sweep)
under stt-loadgen with N calls; extra arguments go to the server. For side-by-side comparisons
of two builds or settings, alternate runs and take medians. Usage:
  bench/capacity_point.py N [--duration S] [-- server args...]
  STT_SERVER=/path/to/other/stt-server bench/capacity_point.py 20 -- --engine_post_roll -1
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import capacity as c  # noqa: E402


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("calls", type=int)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--ramp", type=float, default=20)
    ap.add_argument("--talk-ratio", type=float, default=0.4)
    ap.add_argument("--workers", default=str(os.cpu_count()))
    ap.add_argument("--decoders", default="64")
    ap.add_argument("--post-silence", default="0.3")
    ap.add_argument("--fwdflat", action="store_true")
    args = ap.parse_args(argv)

    base = c.h.Server

    class WithExtra(base):
        def __init__(self, *a, **k):
            super().__init__(*a, *extra, **k)

    c.h.Server = WithExtra
    r = c.run_load(args.calls, args)
    c.row("point", r)
    print(json.dumps(r))


if __name__ == "__main__":
    main()

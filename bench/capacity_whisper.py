#!/usr/bin/python3
"""Live-call capacity of the whisper engine with real Whisper tiny.en weights (the faster-whisper
directory, loaded as it is) on this machine, side by side with the raw engine's cost measured in
the same run. bench/capacity.py does the same for pocketsphinx (and its run_load runs every
point here).

For each N in --points: --repeat short runs, each a fresh server under stt-loadgen with N calls
(the librivox 0870 file, talk ratio T, real time), alternating a server with realtime
transcription (finals and partials) and one without (finals only). Around every point, the raw
cost: one `whisper-cli -t 1` per worker on the same file at once (decode time = total - load as
whisper-cli reports it), whose worker seconds per audio second r give the finals-only bound
workers / (r * T) calls. A setting passes at N when the median of its runs' p95 final latency
after the end of speech is <= --p95-limit (and, as a second figure, <= --relaxed-limit) and no
run lost a final or a call. The server's cost is its workers' CPU over the whole run per second
of speech sent, next to whisper-cli's per second of the same file. Finals decode as
whisper-cli does (greedy, no fallback, no prompt); partials keep the server's defaults (beam 3,
--realtime_window 10, a pass as soon as the last one is done).

Prints one JSON object on stdout and a table on stderr. Usage (takes ~20 min):
  scripts/setup.sh && bench/capacity_whisper.py > bench/results-capacity-whisper.json
  bench/capacity_whisper.py --points 1,2 --repeat 3 --duration 45
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import capacity as c  # noqa: E402

h = c.h
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
import test_whisper_real as twr  # noqa: E402


def log(*a):
    print("capacity-whisper:", *a, file=sys.stderr, flush=True)


def raw_cost(ggml, copies, runs):
    """Worker seconds whisper-cli needs per second of the loadgen's file, `copies` single-thread
    copies at once (they share caches and memory bandwidth as the server's workers do), the
    mean over the copies, median over runs; whisper-cli's own total - load time."""
    secs = c.wav_s(c.WAV)
    out_dir = h.tmpdir("bench-capacity-whisper-raw")
    per_run = []
    for i in range(runs):
        procs = [subprocess.Popen(twr.cli_args(ggml, c.WAV, os.path.join(out_dir, f"{i}-{k}")),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for k in range(copies)]
        decode = []
        for p in procs:
            _, err = p.communicate(timeout=300)
            if p.returncode != 0:
                raise RuntimeError(f"whisper-cli exited with {p.returncode}: {err[-1000:]}")
            decode.append(twr.cli_seconds(err))
        per_run.append(statistics.mean(decode) / secs)
    return statistics.median(per_run), [round(x, 4) for x in per_run]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", default="1,2,4", help="call counts to measure")
    ap.add_argument("--repeat", type=int, default=3, help="runs per point and setting (median)")
    ap.add_argument("--duration", type=float, default=45)
    ap.add_argument("--ramp", type=float, default=10)
    ap.add_argument("--talk-ratio", type=float, default=0.4)
    ap.add_argument("--workers", default=str(os.cpu_count()))
    ap.add_argument("--threads", default="1", help="--whisper_threads (workers x threads <= "
                    "cores: ggml threads spin)")
    ap.add_argument("--post-silence", default="0.3")
    ap.add_argument("--p95-limit", type=float, default=1.0)
    ap.add_argument("--raw-runs", type=int, default=3)
    ap.add_argument("--final-min-window", type=float, default=0,
                    help="also measure both settings with --final_min_window S (finals encode "
                    "the utterance, at least S seconds, instead of 30 s), side by side")
    ap.add_argument("--out", default=None, help="results JSON (default: the script's own)")
    ap.add_argument("--relaxed-limit", type=float, default=2.0,
                    help="a second p95 limit the capacity is also given for")
    args = ap.parse_args()
    args.decoders, args.fwdflat = "0", False  # read by capacity.run_load for pocketsphinx only
    if not os.path.isfile(os.path.join(twr.MODEL_DIR, "model.bin")):
        sys.exit(f"no faster-whisper tiny.en directory at {twr.MODEL_DIR}: run scripts/setup.sh")
    models_root = h.tmpdir("bench-capacity-whisper-models")
    ggml = twr.convert(twr.MODEL_DIR, os.path.join(models_root, "cli-tiny.en.bin"))
    base = ["--model", twr.MODEL_DIR, "--rt-model", twr.MODEL_DIR, "--download_root",
            models_root, "--device", "cpu", "--whisper_threads", args.threads, "--language",
            "en", "--beam_size", "1", "--no-whisper_fallback", "--initial_prompt", ""]
    settings = {"finals_and_partials": base,
                "finals_only": base + ["--no-enable_realtime_transcription"]}
    if args.final_min_window > 0:
        fit = ["--final_min_window", str(args.final_min_window)]
        settings.update({k + "_fit": v + fit for k, v in list(settings.items())})
    workers = int(args.workers)
    load_before = os.getloadavg()

    def bound_now():
        rtf, runs = raw_cost(ggml, workers, args.raw_runs)
        return {"rtf": round(rtf, 4), "runs": runs,
                "bound_calls": round(workers / (rtf * args.talk_ratio), 1)}

    raws = [bound_now()]
    log(f"load {load_before}; whisper-cli: {raws[0]['rtf']:.4f} worker s per audio s with "
        f"{workers} copies at once -> finals-only bound {raws[0]['bound_calls']} calls")
    points = []
    for n in [int(x) for x in args.points.split(",")]:
        runs = {k: [] for k in settings}
        for i in range(args.repeat):
            for key, extra in settings.items():
                args.whisper_args = extra
                r = c.run_load(n, args, engine="whisper")
                r["pass"] = c.passes(r, args.p95_limit)
                runs[key].append(r)
                c.row(key[:9], r)
        raws.append(bound_now())
        pt = {"calls": n, "raw_bound_before": raws[-2]["bound_calls"],
              "raw_bound_after": raws[-1]["bound_calls"]}
        for key, rs in runs.items():
            p95 = statistics.median(r["final_p95_s"] for r in rs)
            # Worker CPU over the whole run per second of speech sent (utterances x file).
            cpu = statistics.median(r["engine_total"].get("cpu_s", 0) /
                                    max(1, r["finals_expected"]) / c.wav_s(c.WAV) for r in rs)
            ok = all(r["finals_missing"] == 0 and r["established"] == n and r["alive_after"]
                     for r in rs)
            pt[key] = {
                "final_p95_s_median": round(p95, 3),
                "final_p50_s_median": round(statistics.median(r["final_p50_s"] for r in rs), 3),
                "first_partial_p50_s_median":
                    round(statistics.median(r["first_partial_p50_s"] for r in rs), 3),
                "worker_cpu_s_per_speech_s_median": round(cpu, 4),
                "server_cpu_cores_median":
                    round(statistics.median(r["server_cpu_cores"] for r in rs), 2),
                "finals_missing": sum(r["finals_missing"] for r in rs),
                "finals_expected": sum(r["finals_expected"] for r in rs),
                "pass": ok and p95 <= args.p95_limit,
                "pass_relaxed": ok and p95 <= args.relaxed_limit,
                "runs": rs}
            raw_mid = (raws[-2]["rtf"] + raws[-1]["rtf"]) / 2
            if cpu:
                pt[key]["server_cost_vs_raw"] = round(cpu / raw_mid, 3)
            log(f"N={n} {key}: p95 final {p95:.2f} s (median of {len(rs)}), worker CPU "
                f"{cpu:.4f} s per speech s = {cpu / raw_mid if cpu else 0:.2f} x whisper-cli's "
                f"{raw_mid:.4f}, pass {pt[key]['pass']}")
        points.append(pt)

    def capacity(key, verdict="pass"):
        ok = [p["calls"] for p in points if p[key][verdict]]
        return max(ok) if ok else 0

    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(),
           "load_before": load_before, "load_after": os.getloadavg(),
           "workers": workers, "whisper_threads": int(args.threads),
           "talk_ratio": args.talk_ratio, "post_speech_silence_duration": float(args.post_silence),
           "duration_s": args.duration, "p95_limit_s": args.p95_limit,
           "raw_whisper_cli": raws, "points": points,
           "capacity_finals_and_partials": capacity("finals_and_partials"),
           "capacity_finals_only": capacity("finals_only"),
           "relaxed_limit_s": args.relaxed_limit,
           "capacity_relaxed_finals_and_partials": capacity("finals_and_partials", "pass_relaxed"),
           "capacity_relaxed_finals_only": capacity("finals_only", "pass_relaxed")}
    print(json.dumps(out, indent=1))
    log(f"capacity at p95 final <= {args.p95_limit} s: {out['capacity_finals_and_partials']} "
        f"calls with partials, {out['capacity_finals_only']} finals only; at p95 <= "
        f"{args.relaxed_limit} s: {out['capacity_relaxed_finals_and_partials']} / "
        f"{out['capacity_relaxed_finals_only']}; raw bounds "
        f"{[r['bound_calls'] for r in raws]}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Live-call capacity of the pocketsphinx engine on this machine, side by side with the raw
engine's bound, and the server's behaviour at a multiple of that capacity.

In one run:
  1. raw bound: one `pocketsphinx_continuous -infile` per core on the loadgen's speech file, all
     at once (median of --runs, model loading subtracted), gives the engine's real-time factor r
     with every core busy; a call that talks a fraction T of the time needs r*T cores, so the
     bound is cores / (r*T). This VM's speed drifts by up to 40 % within ten minutes, so the
     bound is measured before the first sweep point and again after every point; each point is
     judged against the higher of the bounds on its two sides (a drift never flatters it), and
     the capacity's fraction is the capacity divided by its own point's bound.
  2. floor: the same load on the null engine (no recognition) measures what end-pointing alone
     costs in final latency, so the engine's share can be read off.
  3. sweep: fresh pocketsphinx servers under stt-loadgen with N calls (talk ratio T, 20 ms
     frames, real time, fixed-clock scheduling); a run passes when every call was admitted,
     no final is missing and p95 final latency after the end of speech is <= --p95-limit.
     The largest passing N is the capacity; capacity / bound is the figure DESIGN §7 holds.
  4. overload, with admission control on as shipped (the sweep runs without it: it measures
     what can be served): --overload x capacity calls: new calls must be refused with 1013,
     admitted calls keep their p95 final latency within budget and get every final, /health
     says degraded while it lasts, and the server neither crashes nor stops answering.

Prints one JSON object on stdout and a table on stderr. Usage:
  scripts/setup.sh && bench/capacity.py > bench/results-capacity.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
os.environ.setdefault("STT_SERVER", os.path.join(HERE, "..", "build", "stt-server"))
import harness as h  # noqa: E402

RAW = "/usr/bin/pocketsphinx_continuous"
LOADGEN = os.path.join(HERE, "..", "build", "stt-loadgen")
WAV = ("/usr/share/pocketsphinx/test/data/librivox/"
       "sense_and_sensibility_01_austen_64kb-0870.wav")


def log(*a):
    print("capacity:", *a, file=sys.stderr, flush=True)


def wav_s(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def parallel_wall(argvs):
    """Runs the commands at once; returns the wall seconds until the last one ends."""
    t0 = time.monotonic()
    procs = [subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for a in argvs]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"{p.args} exited with {p.returncode}")
    return time.monotonic() - t0


def raw_rtf(wav_path, runs, fwdflat, cores):
    """Worker seconds the raw engine needs per second of audio with every core busy: `cores`
    copies of pocketsphinx_continuous decode the file at once (they slow each other down through
    the shared caches and memory, as the server's workers do), median over runs, with the wall
    time of the same run on a 0.1 s file (model loading) subtracted."""
    secs = wav_s(wav_path)
    tmp = tempfile.mkdtemp(prefix="bench-capacity-")
    empty = h.write_wav(os.path.join(tmp, "empty.wav"), h.silence(0.1, 16000))
    raw = [RAW, "-fwdflat", "yes" if fwdflat else "no", "-infile"]
    full = statistics.median(parallel_wall([raw + [wav_path]] * cores) for _ in range(runs))
    load = statistics.median(parallel_wall([raw + [empty]] * cores) for _ in range(runs))
    return (full - load) / secs, {"file_s": round(secs, 2), "parallel_copies": cores,
                                  "wall_s_file": round(full, 3),
                                  "wall_s_model_load": round(load, 3)}


class HealthSampler(threading.Thread):
    """Polls /health, /readyz and the engine counters of /metrics once a second while a load
    runs; records what it saw."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop_ev = threading.Event()
        self.health = {}
        self.readyz = {}
        self.errors = 0
        self.engine = []  # (monotonic s, worker busy s, worker CPU s, audio s decoded)

    def run(self):
        while not self.stop_ev.wait(1.0):
            try:
                st, body = self.srv.get_json("/health")
                key = f"{st} {body.get('status')}"
                self.health[key] = self.health.get(key, 0) + 1
                st, _, _ = self.srv.get("/readyz")
                self.readyz[str(st)] = self.readyz.get(str(st), 0) + 1
                e = self.srv.get_json("/metrics")[1]["engine"]
                self.engine.append((time.monotonic(), e["busy_seconds"], e["cpu_seconds"],
                                    e["audio_seconds"]))
            except (OSError, ValueError, KeyError):
                self.errors += 1


def engine_use(samples, t_from, t_to, n, args):
    """What the workers did between t_from and t_to (the steady part of a run: every call
    connected, none held back by the drain): the fraction of worker time in jobs, the fraction
    of the cores' CPU the workers used, and the workers' CPU seconds per second of speech sent
    (calls x talk ratio), comparable with the raw engine's rtf on the same file. A capacity
    point's CPU fraction is how close the server ran the cores to their limit at that moment,
    whatever the machine's speed then; the raw bound's drift does not enter it."""
    win = [s for s in samples if t_from <= s[0] <= t_to]
    if len(win) < 2:
        return {}
    (t0, b0, c0, a0), (t1, b1, c1, a1) = win[0], win[-1]
    dt, workers, cores = t1 - t0, int(args.workers), os.cpu_count()
    return {"window_s": round(dt, 1),
            "worker_busy_fraction": round((b1 - b0) / (workers * dt), 3),
            "worker_cpu_fraction_of_cores": round((c1 - c0) / (cores * dt), 3),
            "worker_cpu_s_per_speech_s": round((c1 - c0) / (n * args.talk_ratio * dt), 4),
            "audio_s_decoded_per_s": round((a1 - a0) / dt, 2)}


def wait_prewarm(srv, n):
    t_end = time.monotonic() + 30
    while time.monotonic() < t_end:
        if srv.get_json("/metrics")[1]["engine"]["decoders_idle"] >= n:
            return
        time.sleep(0.1)


def warm_whisper(srv, workers):
    """One short utterance per worker, not measured: each worker makes its whisper_state on its
    first job, as a live server's workers have long done."""
    pcm = h.read_wav(WAV)[0][:3 * 32000]

    async def calls():
        import asyncio
        await asyncio.gather(*(h.transcribe(srv.data_url(), pcm, 16000, realtime=False,
                                            final_timeout=60, settle_s=0.0, name="warm")
                               for _ in range(workers)))
    h.run_async(calls())


def run_load(n, args, engine="pocketsphinx", admission=False):
    """One fresh server, one stt-loadgen run of n calls; returns the figures that matter. The
    sweep measures what the server can serve, so admission control is off there; the overload
    run measures admission, so it is on (the default)."""
    extra = ["--workers", args.workers, "--post_speech_silence_duration", args.post_silence,
             "--no-transcription_start_audio"]
    if not admission:
        extra.append("--no-admission_control")
    if engine == "pocketsphinx":
        extra += ["--decoders", args.decoders,
                  "--ps_fwdflat" if args.fwdflat else "--no-ps_fwdflat"]
    elif engine == "whisper":
        extra += list(args.whisper_args)  # bench/capacity_whisper.py
    srv = h.Server(*extra, engine=engine, name=f"bench-cap-{engine}-{n}", drain_timeout=10)
    srv.start()
    out_json = os.path.join(srv.dir, "loadgen.json")
    sampler = HealthSampler(srv)
    try:
        if engine == "pocketsphinx":
            wait_prewarm(srv, 2 * int(args.workers))
        elif engine == "whisper":
            warm_whisper(srv, int(args.workers))
        sampler.start()
        t_start = time.monotonic()
        r = subprocess.run([LOADGEN, "--url", srv.data_url(), "--calls", str(n),
                            "--duration", str(args.duration), "--ramp", str(args.ramp),
                            "--talk-ratio", str(args.talk_ratio), "--wav", WAV,
                            "--server-pid", str(srv.proc.pid), "--json", out_json, "-q"],
                           capture_output=True, text=True, timeout=args.duration + 120)
        sampler.stop_ev.set()
        sampler.join()
        alive = srv.proc.poll() is None
        st, _, _ = srv.get("/livez") if alive else (None, None, None)
        if r.returncode != 0 and not os.path.exists(out_json):
            raise RuntimeError(f"stt-loadgen failed ({r.returncode}): {r.stderr[-2000:]}")
        with open(out_json) as f:
            res = json.load(f)
    finally:
        sampler.stop_ev.set()
        rc = srv.stop()
    conn, utt = res["connections"], res["utterances"]
    fl = utt["final_latency"]
    codes = {f'{c["code"]} {c["reason"]}': c["count"] for c in conn["server_close_codes"]}
    return {
        "calls": n,
        "established": conn["established"],
        "connect_failed": conn["connect_failed"],
        "rejected": conn["rejected_within_1s"],
        "closed_by_server": conn["closed_by_server"],
        "close_codes": codes,
        "finals_expected": utt["sent"],
        "finals_missing": utt["finals_missing"],
        "final_p50_s": round(fl["p50_ms"] / 1000, 3),
        "final_p95_s": round(fl["p95_ms"] / 1000, 3),
        "final_max_s": round(fl["max_ms"] / 1000, 3),
        "first_partial_p50_s": round(utt["time_to_first_realtime"]["p50_ms"] / 1000, 3),
        "first_partial_p95_s": round(utt["time_to_first_realtime"]["p95_ms"] / 1000, 3),
        "frames_late_over_100ms": res["frames"]["late_over_100ms"],
        "server_cpu_cores": round(res["server"]["cpu_cores_avg"], 2),
        "server_rss_peak_mib": round(res["server"]["rss_peak_kb"] / 1024, 1),
        # Steady part: after the ramp, before stt-loadgen's drain (no utterance starts later
        # than its length plus min(5, duration / 4) before the end) thins the load out.
        "engine": engine_use(sampler.engine, t_start + args.ramp,
                             t_start + args.duration - min(5, args.duration / 4) - wav_s(WAV),
                             n, args),
        # The engine counters over the whole load, from the first sample (1 s in, before any
        # final) to the last (bench/capacity_whisper.py: cost per speech second).
        "engine_total": dict(zip(("t", "busy_s", "cpu_s", "audio_s"),
                                 (b - a for a, b in zip(sampler.engine[0], sampler.engine[-1]))))
        if len(sampler.engine) > 1 else {},
        "health_seen": sampler.health,
        "readyz_seen": sampler.readyz,
        "monitor_errors": sampler.errors,
        "alive_after": alive,
        "livez_after": st,
        "exit_status": rc,
    }


def passes(r, limit):
    return (r["established"] == r["calls"] and r["rejected"] == 0 and r["connect_failed"] == 0
            and r["finals_missing"] == 0 and r["finals_expected"] > 0
            and r["final_p95_s"] <= limit and r["alive_after"])


def row(tag, r):
    b = f" bound {r['raw_bound_before']:.1f}/{r['raw_bound_after']:.1f}" if "raw_bound" in r else ""
    log(f"{tag:9s} N={r['calls']:4d} admitted={r['established'] - r['rejected']:4d} "
        f"rejected={r['rejected']:4d} finals={r['finals_expected'] - r['finals_missing']}/"
        f"{r['finals_expected']} final p50/p95 {r['final_p50_s']:.2f}/{r['final_p95_s']:.2f} s "
        f"cpu {r['server_cpu_cores']:.2f} workers busy/cpu "
        f"{r['engine'].get('worker_busy_fraction', 0):.2f}/"
        f"{r['engine'].get('worker_cpu_fraction_of_cores', 0):.2f} health {r['health_seen']}{b}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="raw-engine timing runs (median)")
    ap.add_argument("--duration", type=float, default=90, help="seconds per load run")
    ap.add_argument("--ramp", type=float, default=20,
                    help="seconds over which the calls connect")
    ap.add_argument("--talk-ratio", type=float, default=0.4)
    ap.add_argument("--workers", default=str(os.cpu_count()))
    ap.add_argument("--decoders", default="64",
                    help="decoder cap (utterances at once; ~93 MB each)")
    ap.add_argument("--post-silence", default="0.3",
                    help="--post_speech_silence_duration for every run (end-pointing delay)")
    ap.add_argument("--fwdflat", action="store_true",
                    help="keep pocketsphinx's second search pass (server and raw engine alike)")
    ap.add_argument("--p95-limit", type=float, default=1.0)
    ap.add_argument("--overload", type=float, default=3.0)
    ap.add_argument("--start", type=float, default=0.6,
                    help="first sweep point as a fraction of the raw bound")
    ap.add_argument("--step", type=float, default=0.1,
                    help="sweep step as a fraction of the raw bound")
    args = ap.parse_args()

    cores = os.cpu_count()

    def bound_now():
        rtf, raw = raw_rtf(WAV, args.runs, args.fwdflat, cores)
        return dict(raw, rtf=round(rtf, 4), bound_calls=round(cores / (rtf * args.talk_ratio), 1))

    raws = [bound_now()]
    log(f"raw engine: {raws[0]['rtf']:.4f} CPU s per audio s; {cores} cores at talk ratio "
        f"{args.talk_ratio} -> bound {raws[0]['bound_calls']:.1f} calls")

    floor = run_load(max(1, round(raws[0]["bound_calls"])), args, engine="null")
    row("null", floor)

    sweep = []

    def trial(n):
        if not sweep:  # the null run came in between
            raws.append(bound_now())
        before = raws[-1]
        r = run_load(n, args)
        after = bound_now()
        raws.append(after)
        r["raw_bound_before"] = before["bound_calls"]
        r["raw_bound_after"] = after["bound_calls"]
        r["raw_bound"] = max(before["bound_calls"], after["bound_calls"])
        r["fraction_of_raw_bound"] = round(n / r["raw_bound"], 3)
        c = r["engine"].get("worker_cpu_s_per_speech_s")
        if c:  # the raw engine's cost over the server's, per second of the same speech
            raw_rtf_mid = (before["rtf"] + after["rtf"]) / 2
            r["engine_efficiency_vs_raw"] = round(raw_rtf_mid / c, 3)
        r["pass"] = passes(r, args.p95_limit)
        row("sweep", r)
        sweep.append(r)
        return r["pass"]

    # Step from the start point until the verdict flips, then bisect one call at a time.
    bound = raws[0]["bound_calls"]
    step = max(1, round(bound * args.step))
    lo, hi = 0, None  # largest N seen to pass, smallest N seen to fail
    n = max(1, round(bound * args.start))
    if trial(n):
        lo = n
        while hi is None and n < round(bound * 2):
            n += step
            if trial(n):
                lo = n
            else:
                hi = n
    else:
        hi = n
        while lo == 0 and n > 1:
            n = max(1, n - step)
            if trial(n):
                lo = n
            else:
                hi = n
    while hi is not None and hi - lo > 1 and lo > 0:
        mid = (lo + hi) // 2
        if trial(mid):
            lo = mid
        else:
            hi = mid
    capacity = lo
    cap_point = max((r for r in sweep if r["calls"] == capacity and r["pass"]),
                    key=lambda r: r["raw_bound"], default=None)
    bound_used = cap_point["raw_bound"] if cap_point else max(r["bound_calls"] for r in raws)

    over = None
    if capacity:
        over = run_load(round(capacity * args.overload), args, admission=True)
        row("overload", over)

    out = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": cores,
        "talk_ratio": args.talk_ratio,
        "post_speech_silence_duration": float(args.post_silence),
        "workers": int(args.workers),
        "p95_limit_s": args.p95_limit,
        "fwdflat": args.fwdflat,
        "raw_engine": raws,
        "raw_bound_used": round(bound_used, 1),
        "null_engine_floor": floor,
        "sweep": sweep,
        "capacity_calls": capacity,
        "capacity_fraction_of_raw_bound": round(capacity / bound_used, 3),
        # Drift-free view of the same point: how busy the workers kept the cores, and what the
        # server's engine work cost per second of speech against the raw engine's around it.
        "capacity_worker_cpu_fraction_of_cores":
            cap_point["engine"].get("worker_cpu_fraction_of_cores") if cap_point else None,
        "capacity_engine_efficiency_vs_raw":
            cap_point.get("engine_efficiency_vs_raw") if cap_point else None,
        "overload": over,
    }
    print(json.dumps(out, indent=1))
    log(f"capacity {capacity} calls = {capacity / bound_used:.2f} of the raw bound "
        f"{bound_used:.1f} (the higher of those measured just before and after that point; "
        f"all bounds this run: {[r['bound_calls'] for r in raws]})")
    if cap_point:
        log(f"at capacity the workers used {out['capacity_worker_cpu_fraction_of_cores']} of "
            f"the cores; engine efficiency vs raw {out['capacity_engine_efficiency_vs_raw']}")
    if over:
        admitted = over["established"] - over["rejected"]
        log(f"overload x{args.overload}: {over['calls']} offered, {admitted} admitted, "
            f"{over['rejected']} refused {over['close_codes']}, admitted p95 final "
            f"{over['final_p95_s']:.2f} s, finals missing {over['finals_missing']}, "
            f"health {over['health_seen']}, alive {over['alive_after']}")


if __name__ == "__main__":
    main()

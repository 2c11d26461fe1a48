#!/usr/bin/python3
"""Quality and latency figures for the pocketsphinx engine, side by side with the raw engine.

Measures, on Debian's pocketsphinx-testdata librivox recordings:
  * corpus WER (NIST sclite) of the server's finals, streamed at real-time pace in 1024-frame
    chunks at 16 kHz, next to `pocketsphinx_continuous -infile` on the same files;
  * start-to-ready (spawn -> /readyz 200), median of several starts;
  * first partial after recording_start, and final after recording_stop / after the end of the
    speech audio (client-side arrival times, real-time streaming);
  * cost of one long file (the five recordings joined): the server's wall time (first frame
    sent to last final; the file is sent at once, one worker) and process CPU seconds while it
    transcribes the file (after one unmeasured pass that makes the decoders the five
    concurrent utterances lease) vs `pocketsphinx_continuous` wall and CPU seconds (model
    loading subtracted), with and without realtime partials, in alternating rounds.
Prints one JSON object on stdout and a table on stderr. Usage:
  STT_SERVER=build/stt-server bench/quality.py [--runs N]
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
os.environ.setdefault("STT_SERVER", os.path.join(HERE, "..", "build", "stt-server"))
import harness as h  # noqa: E402

RAW = "/usr/bin/pocketsphinx_continuous"


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_engine(paths, walls=None):
    """Runs pocketsphinx_continuous on each file; returns (hypotheses, CPU seconds per file).
    Appends each run's wall seconds to `walls` if given."""
    hyps, cpus = [], []
    for p in paths:
        t = os.times()
        w0 = time.monotonic()
        r = subprocess.run([RAW, "-infile", p], capture_output=True, text=True)
        if walls is not None:
            walls.append(time.monotonic() - w0)
        u = os.times()
        cpus.append((u.children_user - t.children_user) + (u.children_system - t.children_system))
        hyps.append(" ".join(r.stdout.split()))
    return hyps, cpus


def start_to_ready(runs):
    times = []
    for _ in range(runs):
        srv = h.Server(name="bench-ready")
        t0 = time.monotonic()
        srv.start()
        times.append(time.monotonic() - t0)
        srv.stop()
    return statistics.median(times), times


async def stream_all(srv, items):
    clients = await asyncio.gather(*[
        h.transcribe(srv.data_url(), pcm, 16000, tail_s=2.0, name=name)
        for name, pcm, _ in items])
    return clients


def latencies(clients):
    first_partial, final_after_stop, final_after_audio = [], [], []
    for c in clients:
        t_start = next((t for t, e in c.events if e["type"] == "recording_start"), None)
        t_part = next((t for t, e in c.events if e["type"] == "realtime"), None)
        t_stop = next((t for t, e in c.events if e["type"] == "recording_stop"), None)
        t_final = next((t for t, e in c.events if e["type"] == "fullSentence"), None)
        if t_start and t_part:
            first_partial.append(t_part - t_start)
        if t_stop and t_final:
            final_after_stop.append(t_final - t_stop)
        if t_final:
            final_after_audio.append(t_final - c.t_speech_end)
    return first_partial, final_after_stop, final_after_audio


def wait_prewarm(srv, n):
    """Waits until the engine has n idle decoders (the post-ready prewarm is done)."""
    t_end = time.monotonic() + 20
    while srv.get_json("/metrics")[1]["engine"]["decoders_idle"] < n and time.monotonic() < t_end:
        time.sleep(0.1)


def settle_decoders(srv):
    """Waits until the spare-decoder keeper has stopped adding decoders (two equal readings)."""
    last, t_end = None, time.monotonic() + 20
    while time.monotonic() < t_end:
        e = srv.get_json("/metrics")[1]["engine"]
        now = (e["decoders_idle"], e["decoders_in_use"])
        if now == last and now[1] == 0:
            return
        last = now
        time.sleep(1.0)


def long_file_cpu(joined_pcm, realtime_partials):
    extra = () if realtime_partials else ("--no-enable_realtime_transcription",)
    # No admission control: a file sent fast is five utterances at once, and the session after
    # it would be refused as overload (1013) instead of measured.
    srv = h.Server("--workers", 1, "--no-admission_control", *extra, name="bench-cpu")
    srv.start()

    def once():
        return h.run_async(h.transcribe(srv.data_url(), joined_pcm, 16000, tail_s=2.0,
                                        realtime=False, expect_finals=5, final_timeout=120,
                                        settle_s=0.5))

    try:
        # Sent fast, the five utterances are open at once and lease five decoders; the first
        # pass makes the ones the pool lacks (~0.5 s of CPU each, setup that the raw engine's
        # subtracted model loading stands for), so only the second pass is counted.
        wait_prewarm(srv, 2)
        once()
        settle_decoders(srv)
        before = proc_cpu_s(srv.proc.pid)
        c = once()
        cpu = proc_cpu_s(srv.proc.pid) - before
        if len(c.finals()) != 5:
            raise RuntimeError(f"long file: {len(c.finals())} finals, want 5: {c.summary()}")
        # Wall time: first frame sent to the last final received (the file goes out at once).
        wall = max(t for t, e in c.events if e["type"] == "fullSentence") - c.t0
        return cpu, c.finals(), wall
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    sets = h.librivox_set()  # [(utt id, wav path, reference)]
    items = [(utt, h.read_wav(path)[0], ref) for utt, path, ref in sets]
    paths = [path for _, path, _ in sets]

    ready_med, ready_all = start_to_ready(args.runs)

    # Latency with one call at a time (an idle server), then with all five starting at once.
    seq_fp, seq_fs, seq_fa = [], [], []
    srv = h.Server(name="bench-seq")
    srv.start()
    try:
        wait_prewarm(srv, 4)
        for name, pcm, _ in items:
            c = h.run_async(h.transcribe(srv.data_url(), pcm, 16000, tail_s=2.0, name=name))
            fp, fs, fa = latencies([c])
            seq_fp += fp
            seq_fs += fs
            seq_fa += fa
    finally:
        srv.stop()

    wers, fp_all, fs_all, fa_all = [], [], [], []
    for _ in range(args.runs):
        srv = h.Server(name="bench-wer")
        srv.start()
        try:
            wait_prewarm(srv, 4)  # calls reach a warm server, not one still creating decoders
            clients = h.run_async(stream_all(srv, items))
        finally:
            srv.stop()
        finals = [" ".join(c.finals()) for c in clients]
        wers.append(h.wer([(ref, hyp) for (_, _, ref), hyp in zip(items, finals)])[0])
        fp, fs, fa = latencies(clients)
        fp_all += fp
        fs_all += fs
        fa_all += fa
    raw_hyps, _ = raw_engine(paths)
    raw_wer = h.wer([(ref, hyp) for (_, _, ref), hyp in zip(items, raw_hyps)])[0]

    joined = b"".join(pcm + h.silence(1.5, 16000) for _, pcm, _ in items)
    tmp = h.tmpdir("bench-quality")
    long_wav, empty_wav = os.path.join(tmp, "long.wav"), os.path.join(tmp, "empty.wav")
    h.write_wav(long_wav, joined)
    h.write_wav(empty_wav, h.silence(0.1, 16000))
    # Rounds alternate the raw engine and the server, so a drift of the VM's speed (10-50 %
    # within an hour here) hits both sides of each round's ratio alike; medians are reported
    # per side and per ratio. Raw figures subtract model loading (a run on 0.1 s of silence).
    rounds = []
    for _ in range(args.runs):
        wl, we = [], []
        raw_long = raw_engine([long_wav], wl)[1][0]
        raw_load = raw_engine([empty_wav], we)[1][0]
        rt_cpu, _, rt_wall = long_file_cpu(joined, True)
        nort_cpu, _, nort_wall = long_file_cpu(joined, False)
        r = {"raw_cpu_s": raw_long - raw_load, "raw_wall_s": wl[0] - we[0],
             "server_cpu_s_with_partials": rt_cpu, "server_wall_s_with_partials": rt_wall,
             "server_cpu_s_finals_only": nort_cpu, "server_wall_s_finals_only": nort_wall}
        r["wall_ratio_with_partials"] = rt_wall / r["raw_wall_s"]
        r["wall_ratio_finals_only"] = nort_wall / r["raw_wall_s"]
        r["cpu_ratio_with_partials"] = rt_cpu / r["raw_cpu_s"]
        r["cpu_ratio_finals_only"] = nort_cpu / r["raw_cpu_s"]
        rounds.append({k: round(v, 3) for k, v in r.items()})
        print(f"  long file round {len(rounds)}: {rounds[-1]}", file=sys.stderr, flush=True)

    def med(key):
        return round(statistics.median(r[key] for r in rounds), 3)

    def q(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(p * len(v)))] if v else None

    out = {
        "audio_seconds": round(sum(len(p) for _, p, _ in items) / 32000, 2),
        "runs": args.runs,
        "wer_server_16k_median": round(statistics.median(wers), 3),
        "wer_server_16k_runs": [round(w, 3) for w in wers],
        "wer_raw_pocketsphinx_continuous": round(raw_wer, 3),
        "start_to_ready_s_median": round(ready_med, 3),
        "one_call_first_partial_after_recording_start_s": {"p50": q(seq_fp, .5),
                                                           "p95": q(seq_fp, .95)},
        "one_call_final_after_recording_stop_s": {"p50": q(seq_fs, .5), "p95": q(seq_fs, .95)},
        "one_call_final_after_end_of_audio_s": {"p50": q(seq_fa, .5), "p95": q(seq_fa, .95)},
        "five_calls_first_partial_after_recording_start_s": {"p50": q(fp_all, .5),
                                                             "p95": q(fp_all, .95)},
        "five_calls_final_after_recording_stop_s": {"p50": q(fs_all, .5), "p95": q(fs_all, .95)},
        "five_calls_final_after_end_of_audio_s": {"p50": q(fa_all, .5), "p95": q(fa_all, .95)},
        "long_file_seconds": round(len(joined) / 32000, 2),
        "cpu_s_raw_engine_long_file_minus_load": med("raw_cpu_s"),
        "cpu_s_server_long_file_with_partials": med("server_cpu_s_with_partials"),
        "cpu_s_server_long_file_finals_only": med("server_cpu_s_finals_only"),
        "wall_s_raw_engine_long_file_minus_load": med("raw_wall_s"),
        "wall_s_server_long_file_with_partials": med("server_wall_s_with_partials"),
        "wall_s_server_long_file_finals_only": med("server_wall_s_finals_only"),
        "long_file_wall_ratio_with_partials_median": med("wall_ratio_with_partials"),
        "long_file_wall_ratio_finals_only_median": med("wall_ratio_finals_only"),
        "long_file_cpu_ratio_with_partials_median": med("cpu_ratio_with_partials"),
        "long_file_cpu_ratio_finals_only_median": med("cpu_ratio_finals_only"),
        "long_file_rounds": rounds,
    }
    for k, v in out.items():
        if isinstance(v, dict) and k != "long_file_rounds":
            out[k] = {kk: (round(vv, 3) if vv is not None else None) for kk, vv in v.items()}
    print(json.dumps(out, indent=1))
    for k, v in out.items():
        print(f"  {k:45s} {v}", file=sys.stderr)


if __name__ == "__main__":
    main()

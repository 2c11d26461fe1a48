#!/usr/bin/python3
"""The whisper engine on real weights (Whisper tiny.en, the faster-whisper directory in
.deps/models/faster-whisper-tiny.en, loaded by the server as it is): accuracy next to the raw
engine, and what partials are worth on the CPU. bench/whisper.py measures speed and overhead on
random weights; this script measures the transcripts.

In one run:
  1. WER: the five librivox recordings (24.7 s, 71 words), all five at once at real time, at
     16 kHz, at 44.1 kHz (sox) and through an 8 kHz mu-law telephone channel (sox, decoded back
     to 16-bit PCM at 8 kHz for the data socket); corpus WER (sclite) of the server's finals next
     to whisper-cli's on the same audio files (the directory converted by build/ct2-to-ggml, the
     same greedy decoding: tests/integ/test_whisper_real.py's server_args / cli_args).
  2. Partials, one call at a time at real time at 16 kHz, --runs rounds that alternate a server
     with realtime transcription and one without:
       - first partial after the start of speech (the first word's start by
         pocketsphinx_continuous -time yes), and the first partial whose words are a prefix of
         the final's (normalized; the partial's last word may be cut in the middle, so it is
         left out of the comparison);
       - share of partials whose words are a prefix of the final's (strict, and without the
         partial's last word), share that loop (a phrase of 2+ words said 3+ times in a row);
       - the server's CPU seconds per second of audio with and without realtime transcription
         (process CPU, /proc), and whisper-cli's decode time per second of audio for the same
         files (total - load, 1 thread), the raw cost of the finals alone.
Extra server arguments after `--` apply to every server (e.g. -- --realtime_window 5).

Prints one JSON object on stdout and a table on stderr. Usage:
  scripts/setup.sh && bench/whisper_real.py > bench/results-whisper-real.json
  bench/whisper_real.py --runs 3 --skip-wer -- --realtime_processing_pause 0.2
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
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
os.environ.setdefault("STT_SERVER", os.path.join(HERE, "..", "build", "stt-server"))
import harness as h  # noqa: E402
import test_whisper_real as twr  # noqa: E402
from quality import proc_cpu_s  # noqa: E402
from whisper import prom_sum  # noqa: E402

PARTIAL_SUM = 'stt_engine_job_duration_seconds_sum{kind="partial"}'
PARTIAL_COUNT = 'stt_engine_job_duration_seconds_count{kind="partial"}'


def log(*a):
    print("whisper-real:", *a, file=sys.stderr, flush=True)


h.log = lambda *a: print(*a, file=sys.stderr, flush=True)  # stdout carries the JSON only


def loops(words):
    """True when a phrase of 2-6 words repeats 3+ times in a row (whisper's repetition loop)."""
    for n in range(2, 7):
        for i in range(0, len(words) - 3 * n + 1):
            if words[i:i + n] == words[i + n:i + 2 * n] == words[i + 2 * n:i + 3 * n]:
                return True
    return False


def wer_part(extra, runs_dir):
    tmp = h.tmpdir("bench-whisper-real")
    ggml = twr.convert(twr.MODEL_DIR, os.path.join(tmp, "ggml-tiny.en.bin"))
    sets = twr.audio_sets(tmp)
    with h.Server(*twr.server_args(twr.MODEL_DIR, runs_dir, *extra), engine="whisper",
                  name="bench-real-wer", drain_timeout=10) as srv:
        srv.start(ready_timeout=300)
        figures = twr.run_rates(srv, sets, ggml)
    out = {}
    for label, f in figures.items():
        refs = {u: r for u, _, _, r in f["items"]}
        hyps = {u: " ".join(c.finals()) for u, c in f["clients"].items()}
        w = h.wer([(refs[u], hyps[u]) for u in refs])
        rw = h.wer([(refs[u], f["raw"][u]) for u in refs])
        out[label] = {"server_wer": round(w[0], 3), "server_errors": w[2],
                      "whisper_cli_wer": round(rw[0], 3), "whisper_cli_errors": rw[2],
                      "words": w[1], "server": hyps, "whisper_cli": f["raw"]}
        log(f"WER {label:9s} server {w[0]:.3f} ({w[2]}/{w[1]}), whisper-cli {rw[0]:.3f} "
            f"({rw[2]}/{w[1]})")
    return out


def one_call(srv, utt, pcm, speech_start_s):
    c = h.run_async(h.transcribe(srv.data_url(), pcm, 16000, tail_s=twr.TAIL_S,
                                 frames_per_msg=twr.FRAMES, realtime=True, expect_finals=1,
                                 final_timeout=120, settle_s=0.3, name=utt))
    assert c.count("fullSentence") >= 1, f"{utt}: {c.summary()}"
    final = " ".join(c.finals())
    fw = h.normalize(final).split()
    t_speech = c.t0 + speech_start_s
    parts = [(t, h.normalize(ev.get("text", "")).split()) for t, ev in c.of_type("realtime")]
    parts = [(t, w) for t, w in parts if w]
    strict = [fw[:len(w)] == w for _, w in parts]
    loose = [fw[:len(w) - 1] == w[:-1] for _, w in parts]
    first = parts[0][0] - t_speech if parts else None
    first_ok = next((t - t_speech for (t, w), ok in zip(parts, loose) if ok and len(w) > 1),
                    None)
    t_final = c.of_type("fullSentence")[0][0]
    return {"utt": utt, "partials": len(parts), "prefix_strict": sum(strict),
            "prefix_loose": sum(loose), "looping": sum(loops(w) for _, w in parts),
            "first_partial_s": first, "first_prefix_partial_s": first_ok,
            "final_after_speech_end_s": t_final - c.t_speech_end,
            "final": final, "partial_texts": [" ".join(w) for _, w in parts]}


def partial_part(extra, runs, models_root):
    items = [(u, p, h.read_wav(p)[0]) for u, p, _ in h.librivox_set()]
    ps_start = {u: twr.pocketsphinx_times(p)[0][1] for u, p, _ in items}
    audio_s = sum(len(pcm) / 32000 for _, _, pcm in items)
    rounds = []
    for r in range(runs):
        rnd = {}
        for mode in ("partials", "finals_only"):
            more = () if mode == "partials" else ("--no-enable_realtime_transcription",)
            with h.Server(*twr.server_args(twr.MODEL_DIR, models_root, *more, *extra),
                          engine="whisper", name=f"bench-real-{mode}", drain_timeout=10) as srv:
                srv.start(ready_timeout=300)
                # One utterance first, not measured: each worker makes its whisper_state on its
                # first job.
                one_call(srv, "warm", items[4][2][:3 * 32000], 0.0)
                cpu0 = proc_cpu_s(srv.proc.pid)
                js0, jn0 = prom_sum(srv, PARTIAL_SUM), prom_sum(srv, PARTIAL_COUNT)
                calls = [one_call(srv, u, pcm, ps_start[u]) for u, _, pcm in items]
                cpu = proc_cpu_s(srv.proc.pid) - cpu0
                js, jn = prom_sum(srv, PARTIAL_SUM) - js0, prom_sum(srv, PARTIAL_COUNT) - jn0
            rnd[mode] = {"cpu_s": round(cpu, 2), "cpu_s_per_audio_s": round(cpu / audio_s, 3),
                         "partial_jobs": int(jn), "partial_job_s": round(js, 2),
                         "calls": calls}
            log(f"round {r + 1} {mode}: {cpu:.2f} CPU s for {audio_s:.1f} s of audio "
                f"({cpu / audio_s:.3f}/s)")
        rounds.append(rnd)
    return rounds, audio_s


def summarize_partials(rounds, audio_s):
    calls = [c for r in rounds for c in r["partials"]["calls"]]
    n = sum(c["partials"] for c in calls)
    fp = [c["first_partial_s"] for c in calls if c["first_partial_s"] is not None]
    fok = [c["first_prefix_partial_s"] for c in calls if c["first_prefix_partial_s"] is not None]
    with_p = [r["partials"]["cpu_s_per_audio_s"] for r in rounds]
    without = [r["finals_only"]["cpu_s_per_audio_s"] for r in rounds]
    jobs = sum(r["partials"]["partial_jobs"] for r in rounds)
    job_s = sum(r["partials"]["partial_job_s"] for r in rounds)
    fin = [c["final_after_speech_end_s"] for r in rounds for c in r["partials"]["calls"]]
    fin_only = [c["final_after_speech_end_s"] for r in rounds for c in r["finals_only"]["calls"]]

    def q(v, p):
        return round(twr.quantile(v, p), 3) if v else None

    return {
        "audio_s": round(audio_s, 2),
        "partials": n,
        "partials_per_audio_s": round(n / (audio_s * len(rounds)), 2),
        "partial_jobs": jobs,
        "partial_job_ms_mean": round(1e3 * job_s / jobs, 1) if jobs else None,
        "prefix_share_strict": round(sum(c["prefix_strict"] for c in calls) / n, 3) if n else None,
        "prefix_share_loose": round(sum(c["prefix_loose"] for c in calls) / n, 3) if n else None,
        "looping_share": round(sum(c["looping"] for c in calls) / n, 3) if n else None,
        "first_partial_after_speech_start_s": {"p50": q(fp, .5), "p95": q(fp, .95)},
        "first_prefix_partial_after_speech_start_s": {"p50": q(fok, .5), "p95": q(fok, .95),
                                                      "calls_without": len(calls) - len(fok)},
        "final_after_speech_end_s": {"p50": q(fin, .5), "p95": q(fin, .95)},
        "final_after_speech_end_s_finals_only": {"p50": q(fin_only, .5),
                                                 "p95": q(fin_only, .95)},
        "server_cpu_s_per_audio_s_with_partials": round(statistics.median(with_p), 3),
        "server_cpu_s_per_audio_s_finals_only": round(statistics.median(without), 3),
        "rounds_cpu_s_per_audio_s": [(a, b) for a, b in zip(with_p, without)],
    }


def raw_cost(runs):
    """whisper-cli's decode seconds (total - load) per second of audio, 1 thread, the five
    recordings, median over runs."""
    tmp = h.tmpdir("bench-whisper-real-raw")
    ggml = twr.convert(twr.MODEL_DIR, os.path.join(tmp, "ggml-tiny.en.bin"))
    items = h.librivox_set()
    audio_s = sum(len(h.read_wav(p)[0]) / 32000 for _, p, _ in items)
    per = []
    for _ in range(runs):
        per.append(sum(twr.raw_whisper(ggml, p)[1] for _, p, _ in items) / audio_s)
    return round(statistics.median(per), 3), [round(x, 3) for x in per]


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="partial rounds (median)")
    ap.add_argument("--skip-wer", action="store_true")
    ap.add_argument("--skip-partials", action="store_true")
    args = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(twr.MODEL_DIR, "model.bin")):
        sys.exit(f"no faster-whisper tiny.en directory at {twr.MODEL_DIR}: run scripts/setup.sh")
    models_root = h.tmpdir("bench-whisper-real-models")
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "server_args_extra": extra,
           "load_before": os.getloadavg()[0],
           "cpu": subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"],
                                 capture_output=True, text=True).stdout.split(":")[-1].strip()}
    if not args.skip_wer:
        out["wer"] = wer_part(extra, models_root)
    if not args.skip_partials:
        rounds, audio_s = partial_part(extra, args.runs, models_root)
        out["partials"] = summarize_partials(rounds, audio_s)
        out["partial_rounds"] = rounds
        out["whisper_cli_s_per_audio_s"], out["whisper_cli_runs"] = raw_cost(args.runs)
        s = out["partials"]
        log(f"partials: {s['partials']} ({s['partials_per_audio_s']}/audio s), prefix of the "
            f"final {s['prefix_share_strict']} strict / {s['prefix_share_loose']} without the "
            f"last word, looping {s['looping_share']}; {s['partial_job_ms_mean']} ms per "
            f"partial job; first partial after speech start p50 "
            f"{s['first_partial_after_speech_start_s']['p50']} s, first prefix partial p50 "
            f"{s['first_prefix_partial_after_speech_start_s']['p50']} s; server CPU per audio s "
            f"{s['server_cpu_s_per_audio_s_with_partials']} with partials, "
            f"{s['server_cpu_s_per_audio_s_finals_only']} finals only; whisper-cli "
            f"{out['whisper_cli_s_per_audio_s']} s per audio s")
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

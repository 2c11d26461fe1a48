#!/usr/bin/python3
"""The whisper engine against whisper.cpp's own tools, side by side in one run, on random-weight
models of the real sizes written by tools/gen-test-model (speed and overhead, not accuracy).

For each model (tiny, base, small, large-v2 by default), on --threads threads:
  1. whisper-bench: the encoder alone (whisper.cpp's own figure for one 30 s window).
  2. whisper-cli on a 10 s utterance: its encode time and its end-to-end time (total minus
     model load), greedy, no temperature fallback.
  3. stt-server, one worker with the same threads, the same utterance over the data protocol:
     the engine time of the final job (from /metrics) and the client-side time from
     recording_stop to fullSentence. The server decodes the utterance audio it reports in
     transcription_start; whisper-cli in step 2 is given exactly those samples, and the two
     texts must be identical (same tokens, so the same work).
Then the partial cost: CPU seconds the realtime passes take over one 20 s utterance streamed at
real time, one pass a second, with the bounded window (--realtime_window 10) and re-decoding the
whole buffer each time (--realtime_window 0), and the bounded window with language detection
(--language "").

Prints one JSON object on stdout and a table on stderr. Usage:
  scripts/setup.sh && bench/whisper.py > bench/results-whisper.json
  bench/whisper.py --models tiny,base --runs 3
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
os.environ.setdefault("STT_SERVER", os.path.join(HERE, "..", "build", "stt-server"))
import harness as h  # noqa: E402
import test_whisper as tw  # noqa: E402

LIBRIVOX = [os.path.join(h.LIBRIVOX_DIR, f"sense_and_sensibility_01_austen_64kb-{n}.wav")
            for n in ("0870", "0880", "0890", "0920", "0930")]


def log(*a):
    print("whisper-bench:", *a, file=sys.stderr, flush=True)


def joined_speech(seconds):
    """The librivox recordings back to back, cut to `seconds` (16-bit mono 16 kHz bytes)."""
    one = b""
    for path in LIBRIVOX:
        p, rate = h.read_wav(path)
        assert rate == 16000
        one += p
    need = int(seconds * 16000) * 2
    pcm = one * (need // len(one) + 1)  # repeated for utterances longer than the 24.7 s
    return pcm[:need]


def cli_bin(name):
    return os.path.join(h.whisper_prefix(), "bin", name)


def ms(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def whisper_bench(model, threads):
    r = subprocess.run([cli_bin("whisper-bench"), "-m", model, "-t", str(threads), "-w", "0"],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    return ms(r"encode time =\s*([\d.]+) ms", r.stderr + r.stdout)


def whisper_cli(model, wav, threads, out_base):
    t0 = time.monotonic()
    r = subprocess.run([cli_bin("whisper-cli"), "-m", model, "-f", wav, "-t", str(threads),
                        "-l", "en", "-bs", "1", "-bo", "1", "-nf", "-sns", "-oj", "-of",
                        out_base], capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stderr + r.stdout
    with open(out_base + ".json", encoding="utf-8", errors="replace") as f:
        text = "".join(s["text"] for s in json.load(f)["transcription"])
    total, load = ms(r"total time =\s*([\d.]+) ms", out), ms(r"load time =\s*([\d.]+) ms", out)
    return {"encode_ms": ms(r"encode time =\s*([\d.]+) ms", out),
            "e2e_ms": total - load, "load_ms": load, "wall_s": round(wall, 2), "text": text}


async def server_final(srv, pcm):
    """One utterance (pcm + 1.5 s of silence, sent as fast as the server reads): returns the
    final event, the utterance audio the server decoded, the engine time of the final job and
    the client-side time from recording_stop to fullSentence."""
    before = prom_sum(srv, 'stt_engine_job_duration_seconds_sum{kind="final"}')
    c = await h.DataClient(srv.data_url(), name="bench").connect()
    await c.send_pcm(pcm, 16000, 1024, realtime=False)
    await c.send_pcm(h.silence(1.5, 16000), 16000, 1024, realtime=False)
    await c.wait_count("fullSentence", 1, 3600)
    await c.close()
    stop_t = next(t for t, ev in c.events if ev.get("type") == "recording_stop")
    final_t, final = next((t, ev) for t, ev in c.events if ev.get("type") == "fullSentence")
    ts = c.of_type("transcription_start")[0][1]
    audio = h.decode_f32_b64(ts["audio_bytes_base64"])
    job = prom_sum(srv, 'stt_engine_job_duration_seconds_sum{kind="final"}') - before
    return final, audio, job, final_t - stop_t


def prom_sum(srv, series):
    st, _, body = srv.get("/metrics?format=prometheus")
    text = body.decode() if isinstance(body, bytes) else body
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def bench_model(name, root, threads, runs, tmp):
    model = os.path.join(root, f"ggml-{name}.bin")
    log(f"{name}: whisper-bench encoder")
    enc_bench = statistics.median(whisper_bench(model, threads) for _ in range(runs))
    srv = h.Server(*tw.server_args(root, "--no-enable_realtime_transcription",
                                   "--no-whisper_fallback", "--beam_size", "1",
                                   "--engine_pre_roll", "-1", "--initial_prompt", "",
                                   "--workers", "1", "--whisper_threads", str(threads),
                                   model=name),
                   engine="whisper", name=f"bench-whisper-{name}", drain_timeout=10)
    pcm = joined_speech(10.0)
    ours, cli, texts_equal = [], [], True
    with srv:
        srv.start(ready_timeout=600)
        # The worker makes its whisper_state on its first job (whisper-cli does that inside
        # its load time): one utterance first, not measured.
        h.run_async(server_final(srv, pcm[: 3 * 16000 * 2]))
        for i in range(runs):
            log(f"{name}: run {i + 1}/{runs}: server, then whisper-cli on the same samples")
            final, audio, job_s, client_s = h.run_async(server_final(srv, pcm))
            wav = os.path.join(tmp, f"{name}-utt.wav")
            tw.write_wav(wav, audio)
            c = whisper_cli(model, wav, threads, os.path.join(tmp, f"{name}-cli"))
            our_text = "".join(s["text"] for s in final.get("segments", []))
            texts_equal = texts_equal and our_text == c["text"]
            ours.append({"job_ms": job_s * 1e3, "client_ms": client_s * 1e3,
                         "audio_s": len(audio) / 16000})
            cli.append(c)
    med = lambda xs: round(statistics.median(xs), 1)  # noqa: E731
    r = {
        "model": name,
        "file_mb": round(os.path.getsize(model) / 1e6, 1),
        "utterance_s": round(ours[0]["audio_s"], 2),
        "whisper_bench_encode_ms": round(enc_bench, 1),
        "whisper_cli_encode_ms": med([c["encode_ms"] for c in cli]),
        "whisper_cli_e2e_ms": med([c["e2e_ms"] for c in cli]),
        "server_final_job_ms": med([o["job_ms"] for o in ours]),
        "server_stop_to_final_ms": med([o["client_ms"] for o in ours]),
        "texts_identical": texts_equal,
        "text": cli[0]["text"][:120],
    }
    r["overhead"] = round(r["server_final_job_ms"] / r["whisper_cli_e2e_ms"] - 1, 3)
    log(f"{name}: encode bench {r['whisper_bench_encode_ms']:.0f} ms / cli "
        f"{r['whisper_cli_encode_ms']:.0f} ms; e2e cli {r['whisper_cli_e2e_ms']:.0f} ms, ours "
        f"{r['server_final_job_ms']:.0f} ms ({100 * r['overhead']:+.1f} %), stop->final "
        f"{r['server_stop_to_final_ms']:.0f} ms, identical text {texts_equal}")
    return r


async def stream_partials(srv, pcm):
    before_s = prom_sum(srv, 'stt_engine_job_duration_seconds_sum{kind="partial"}')
    before_n = prom_sum(srv, 'stt_engine_job_duration_seconds_count{kind="partial"}')
    c = await h.transcribe(srv.data_url(), pcm, 16000, tail_s=3.0, realtime=True,
                           expect_finals=1, final_timeout=600, settle_s=0.5, name="partials")
    assert c.count("fullSentence") == 1, c.summary()
    secs = prom_sum(srv, 'stt_engine_job_duration_seconds_sum{kind="partial"}') - before_s
    n = prom_sum(srv, 'stt_engine_job_duration_seconds_count{kind="partial"}') - before_n
    return secs, int(n), c.count("realtime")


def partial_cost(root, model, threads, seconds):
    pcm = joined_speech(seconds)
    out = {"utterance_s": seconds}
    runs = (("bounded_window_10s", "10", "en"), ("whole_buffer", "0", "en"),
            ("bounded_window_10s_language_detect", "10", ""))
    for key, window, language in runs:
        # One pass a second, so no setting saturates the worker and all make about the same
        # number of passes: the totals then compare the cost of a pass.
        srv = h.Server(*tw.server_args(root, "--realtime_window", window,
                                       "--realtime_processing_pause", "1.0",
                                       "--post_speech_silence_duration", "2.0",
                                       "--workers", "1", "--whisper_threads", str(threads),
                                       "--language", language, model=model),
                       engine="whisper", name=f"bench-partials-{key}", drain_timeout=10)
        with srv:
            srv.start(ready_timeout=600)
            secs, jobs, events = h.run_async(stream_partials(srv, pcm))
        out[key] = {"partial_cpu_s": round(secs, 2), "feed_jobs": jobs,
                    "realtime_events": events}
        log(f"partials over a {seconds:.0f} s utterance ({model}), window {window}, language "
            f"{language!r}: {secs:.2f} CPU s in feed jobs ({jobs} jobs, about one decoding "
            f"pass a second), {events} realtime events")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="tiny,base,small,large-v2")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=3, help="runs per model (median); large "
                    "models (medium and up) run once")
    ap.add_argument("--root", default=os.path.join(tempfile.gettempdir(), "stt-bench-models"),
                    help="where the generated models are kept between runs")
    ap.add_argument("--partial-model", default="tiny")
    ap.add_argument("--partial-seconds", default="20,60",
                    help="utterance lengths for the partial-cost runs")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    os.makedirs(root, exist_ok=True)
    models = [m for m in args.models.split(",") if m]  # --models "": the partial cost only
    gen = os.path.join(h.BUILD_DIR, "gen-test-model")
    for m in sorted(set(models + [args.partial_model])):
        subprocess.run([gen, "--root", root, "--quiet", m], check=True, timeout=600)
    tmp = h.tmpdir("bench-whisper")
    results = []
    for m in models:
        runs = 1 if m.startswith(("medium", "large")) else args.runs
        results.append(bench_model(m, root, args.threads, runs, tmp))
    partials = [partial_cost(root, args.partial_model, args.threads, float(sec))
                for sec in args.partial_seconds.split(",")]
    out = {"date": time.strftime("%Y-%m-%d"), "threads": args.threads,
           "cpu": subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"],
                                 capture_output=True, text=True).stdout.split(":")[-1].strip(),
           "models": results, "partials": {"model": args.partial_model, "runs": partials}}
    print(json.dumps(out, indent=1))
    log("model     encode(bench) encode(cli)  e2e(cli)  e2e(ours)  overhead  same text")
    for r in results:
        log(f"{r['model']:9s} {r['whisper_bench_encode_ms']:10.0f} ms {r['whisper_cli_encode_ms']:8.0f}"
            f" ms {r['whisper_cli_e2e_ms']:7.0f} ms {r['server_final_job_ms']:7.0f} ms "
            f"{100 * r['overhead']:+7.1f} %  {r['texts_identical']}")


if __name__ == "__main__":
    main()

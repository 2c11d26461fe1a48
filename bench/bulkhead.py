#!/usr/bin/python3
"""The bulkhead between file uploads and live calls (issue 15): live calls' final latency with
and without concurrent long uploads on the same server and engine.

One run is a fresh pocketsphinx server (bench/capacity.py's low-latency settings: it serves 20
live calls on 2 cores within p95 <= 1 s) and `stt-loadgen` with --calls live RealtimeSTT calls
in real time (talk ratio 0.4, 20 ms frames, calls connecting over --ramp) for --duration
seconds; in an "uploads" run, --uploads clients POST a long WAV each (--upload-min minutes of
librivox speech made with sox) to /v1/audio/transcriptions (multipart, the OpenAI-compatible
file API) on the data port, again and again, starting --upload-warmup seconds before the live
calls (so the calls meet uploads that are transcribing, not arriving) until the load ends.
Runs alternate alone / with uploads (/ with uploads and no bulkhead: --compare-off), --rounds
times; the figures are the medians over rounds of each run's p50 and p95 final latency (after
the end of speech, as stt-loadgen measures it), the ratio of the two medians, and the uploads:
completed, their real-time factor (wall seconds per second of audio), and the audio the engine
decoded for them (the server's engine counters: audio seconds decoded per second, less the
"alone" runs' rate). The load average
of the machine is recorded before each run (other processes share the 2 cores).

Usage (writes bench/results-bulkhead.json and a table on stderr):
  bench/bulkhead.py [--rounds 3] [--duration 60] [--calls 20] [--uploads 10] [--compare-off]
                    [-- extra server args, e.g. --batch_workers 2]
  bench/bulkhead.py --live-only        (the live half alone, e.g. without a file API)
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import capacity as c  # noqa: E402

h = c.h


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def make_upload_wav(minutes, path):
    """A mono 16 kHz WAV of the five librivox recordings, 0.7 s apart, repeated to `minutes`."""
    recs = [p for _, p, _ in h.librivox_set()]
    gap = os.path.join(os.path.dirname(path), "gap.wav")
    h.sox("-n", "-r", "16000", "-c", "1", "-b", "16", gap, "trim", "0", "0.7")
    one = os.path.join(os.path.dirname(path), "one.wav")
    parts = []
    for r in recs:
        parts += [r, gap]
    h.sox(*parts, one)
    one_s = c.wav_s(one)
    h.sox(*([one] * max(1, int(round(minutes * 60 / one_s)))), path)
    return c.wav_s(path)


class Uploader(threading.Thread):
    """POSTs the file again and again until stopped; records (audio_s, wall_s, status)."""

    def __init__(self, port, body, ctype, audio_s, model):
        super().__init__(daemon=True)
        self.port, self.body, self.ctype, self.audio_s = port, body, ctype, audio_s
        self.stop_ev = threading.Event()
        self.done = []      # (audio_s, wall_s) of each completed upload
        self.errors = {}    # "status: message" -> count
        self.conn = None
        self.model = model

    def run(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
                self.conn.request("POST", "/v1/audio/transcriptions", body=self.body,
                                  headers={"Content-Type": self.ctype,
                                           "Content-Length": str(len(self.body))})
                r = self.conn.getresponse()
                data = r.read()
                if r.status == 200:
                    self.done.append((self.audio_s, time.monotonic() - t0,
                                      len(json.loads(data).get("text", "").split())))
                else:
                    key = f"{r.status}: {data[:160]!r}"
                    self.errors[key] = self.errors.get(key, 0) + 1
                    time.sleep(1.0)
            except (OSError, http.client.HTTPException, ValueError) as e:
                if not self.stop_ev.is_set():
                    key = f"{type(e).__name__}: {e}"[:200]
                    self.errors[key] = self.errors.get(key, 0) + 1
                    time.sleep(1.0)
            finally:
                if self.conn:
                    self.conn.close()

    def stop(self):
        self.stop_ev.set()
        conn = self.conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass


def multipart(path, model):
    boundary = "bench" + uuid.uuid4().hex
    with open(path, "rb") as f:
        audio = f.read()
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\n"
            f"json\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"long.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    return head + audio + f"\r\n--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def run_one(args, extra, upload=None):
    """One fresh server and one stt-loadgen run; with `upload` = (body, ctype, audio_s), the
    uploaders run alongside."""
    argv = ["--workers", args.workers, "--post_speech_silence_duration", "0.3",
            "--no-transcription_start_audio", "--no-admission_control", "--decoders", "64",
            "--no-ps_fwdflat", *extra]
    if upload:
        argv += ["--max_uploads", str(args.uploads)]
    load = loadavg()
    srv = h.Server(*argv, engine="pocketsphinx", name="bench-bulkhead", drain_timeout=10)
    srv.start()
    out_json = os.path.join(srv.dir, "loadgen.json")
    sampler = c.HealthSampler(srv)
    ups = []
    try:
        if upload:
            # The uploads first, until they transcribe (bodies received, decoders leased): the
            # live calls meet uploads in their steady state, which is what lasts.
            body, ctype, audio_s = upload
            ups = [Uploader(srv.data_port, body, ctype, audio_s, args.model)
                   for _ in range(args.uploads)]
            for u in ups:
                u.start()
        # Both kinds of run warm up alike, unmeasured: the same calls for a few seconds, so
        # the server holds a decoder for each of them (pocketsphinx makes spares from idle CPU
        # only; a decoder made inline costs a call ~0.6 s, and uploads returning theirs would
        # otherwise favour the runs with uploads).
        t_warm = time.monotonic()
        subprocess.run([c.LOADGEN, "--url", srv.data_url(), "--calls", str(args.calls),
                        "--duration", "12", "--ramp", "2", "--talk-ratio", "0.6",
                        "--wav", c.WAV, "-q", "--json", os.path.join(srv.dir, "warm.json")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        left = args.upload_warmup - (time.monotonic() - t_warm)
        if left > 0:
            time.sleep(left)
        c.wait_prewarm(srv, 2 * int(args.workers))
        sampler.start()
        t_start = time.monotonic()
        lg = subprocess.Popen([c.LOADGEN, "--url", srv.data_url(), "--calls", str(args.calls),
                               "--duration", str(args.duration), "--ramp", str(args.ramp),
                               "--talk-ratio", "0.4", "--wav", c.WAV,
                               "--server-pid", str(srv.proc.pid), "--json", out_json, "-q"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, err = lg.communicate(timeout=args.duration + 120)
        for u in ups:
            u.stop()
        for u in ups:
            u.join(10)
        sampler.stop_ev.set()
        sampler.join()
        if not os.path.exists(out_json):
            raise RuntimeError(f"stt-loadgen failed ({lg.returncode}): {err[-2000:]}")
        with open(out_json) as f:
            res = json.load(f)
    finally:
        for u in ups:
            u.stop()
        sampler.stop_ev.set()
        rc = srv.stop()
    utt = res["utterances"]
    conn = res["connections"]
    fl = utt["final_latency"]
    eng = sampler.engine
    decoded = eng[-1][3] - eng[0][3] if len(eng) > 1 else 0.0
    span = eng[-1][0] - eng[0][0] if len(eng) > 1 else 0.0
    # The uploads' share of it: this rate less the "alone" runs' (main: upload_audio_s_...).
    done = [d for u in ups for d in u.done]
    errors = {}
    for u in ups:
        for k, v in u.errors.items():
            errors[k] = errors.get(k, 0) + v
    return {
        "uploads": bool(upload),
        "load_before": load,
        "established": conn["established"],
        "finals_expected": utt["sent"],
        "finals_missing": utt["finals_missing"],
        "final_p50_s": round(fl["p50_ms"] / 1000, 3),
        "final_p95_s": round(fl["p95_ms"] / 1000, 3),
        "final_max_s": round(fl["max_ms"] / 1000, 3),
        "first_partial_p95_s": round(utt["time_to_first_realtime"]["p95_ms"] / 1000, 3),
        "server_cpu_cores": round(res["server"]["cpu_cores_avg"], 2),
        "engine": c.engine_use(eng, t_start + args.ramp,
                               t_start + args.duration - min(5, args.duration / 4)
                               - c.wav_s(c.WAV), args.calls, args),
        "engine_audio_s_per_s": round(decoded / span, 2) if span else None,
        "uploads_completed": len(done),
        "upload_rtf": [round(w / a, 3) for a, w, _ in done],
        "upload_words": [n for _, _, n in done],
        "upload_errors": errors,
        "exit_status": rc,
    }


def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return round(statistics.median(v), 3) if v else None


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--ramp", type=float, default=15)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--uploads", type=int, default=10)
    ap.add_argument("--upload-min", type=float, default=5.0)
    ap.add_argument("--upload-warmup", type=float, default=15.0,
                    help="seconds the uploads run before the live calls start")
    ap.add_argument("--workers", default=str(os.cpu_count()))
    ap.add_argument("--model", default="pocketsphinx")
    ap.add_argument("--live-only", action="store_true")
    ap.add_argument("--compare-off", action="store_true",
                    help="a third run per round: uploads without the bulkhead "
                         "(--batch_workers = --workers, --batch_nice 0)")
    ap.add_argument("--out", default=os.path.join(HERE, "results-bulkhead.json"))
    args = ap.parse_args(argv)
    args.talk_ratio = 0.4  # for capacity.engine_use

    tmp = tempfile.mkdtemp(prefix="stt-bulkhead-")
    upload = None
    if not args.live_only:
        wav = os.path.join(tmp, "long.wav")
        audio_s = make_upload_wav(args.upload_min, wav)
        body, ctype = multipart(wav, args.model)
        upload = (body, ctype, audio_s)
        c.log(f"upload file: {audio_s:.1f} s of audio, {len(body) / 1e6:.1f} MB multipart")
    # What each round runs, rotated round by round so a drift of the VM's speed (or of the
    # other processes' load) does not always hit the same one.
    kinds = [("alone", None, extra)]
    if upload:
        kinds.append(("uploads", upload, extra))
        if args.compare_off:
            kinds.append(("uploads_no_bulkhead", upload,
                          extra + ["--batch_workers", args.workers, "--batch_nice", "0"]))
    runs = {k: [] for k, _, _ in kinds}
    t0 = time.time()
    for k in range(args.rounds):
        order = kinds[k % len(kinds):] + kinds[:k % len(kinds)]
        for label, up, ex in order:
            r = run_one(args, ex, up)
            runs[label].append(r)
            c.log(f"round {k + 1} {label:19s}: load {r['load_before']} "
                  f"final p50/p95 {r['final_p50_s']:.2f}/{r['final_p95_s']:.2f} s, "
                  f"finals {r['finals_expected'] - r['finals_missing']}/"
                  f"{r['finals_expected']}, cpu {r['server_cpu_cores']}, engine audio "
                  f"{r['engine_audio_s_per_s']} s/s, uploads done {r['uploads_completed']} "
                  f"errors {r['upload_errors']}")
    alone, loaded = runs["alone"], runs.get("uploads", [])
    off = runs.get("uploads_no_bulkhead", [])
    out = {
        "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime(t0)),
        "command": " ".join(["bench/bulkhead.py"] + sys.argv[1:]),
        "server_extra": extra,
        "calls": args.calls, "uploads": args.uploads, "duration_s": args.duration,
        "upload_audio_s": upload[2] if upload else None,
        "alone": alone, "with_uploads": loaded, "with_uploads_no_bulkhead": off,
        "median_alone_p50_s": med(alone, "final_p50_s"),
        "median_alone_p95_s": med(alone, "final_p95_s"),
        "median_uploads_p50_s": med(loaded, "final_p50_s"),
        "median_uploads_p95_s": med(loaded, "final_p95_s"),
    }
    if off:
        out["median_no_bulkhead_p50_s"] = med(off, "final_p50_s")
        out["median_no_bulkhead_p95_s"] = med(off, "final_p95_s")
    if out["median_alone_p95_s"] and out["median_uploads_p95_s"]:
        out["p95_ratio"] = round(out["median_uploads_p95_s"] / out["median_alone_p95_s"], 3)
        out["within_20_percent"] = out["p95_ratio"] <= 1.2
        # The engine audio the uploads got: the decoded audio rate with uploads minus alone.
        a, b = med(alone, "engine_audio_s_per_s"), med(loaded, "engine_audio_s_per_s")
        out["upload_audio_s_decoded_per_s"] = round(b - a, 2) if a is not None and b else None
        if off:
            out["p95_ratio_no_bulkhead"] = round(med(off, "final_p95_s")
                                                 / out["median_alone_p95_s"], 3)
            b = med(off, "engine_audio_s_per_s")
            out["upload_audio_s_decoded_per_s_no_bulkhead"] = (
                round(b - a, 2) if a is not None and b else None)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    c.log(json.dumps({k: v for k, v in out.items() if k not in ("alone", "with_uploads")}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Time to ready and peak memory of the server on a faster-whisper directory: converting it
(first start), reusing the conversion (later starts: the stamp skips hashing), reusing it after
the stamp is lost (hashing only), against the same model given as a ggml file (no conversion at
all). Alternated rounds, medians; per start: the server's own "start to ready" figure (it includes a
probe transcription, so it moves with CPU contention), the time from the first log line to
whisper's model loaded (finding, converting or hashing, and reading the model: what the choice
changes), and the peak RSS (VmHWM).

  bench/ct2_ready.py [--rounds 5] [--model-dir .deps/models/faster-whisper-tiny.en]
  bench/ct2_ready.py --synth large-v3   # a random-weight model of large-v3's shape (3 GB)

--synth writes a CTranslate2 directory of that shape with tests/integ/ct2_files.py (float16,
random weights: for time and memory, never accuracy) into a temporary directory.
Results: JSON on stdout and bench/results-ct2-ready.json (--out)."""

import argparse
import calendar
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integ"))
import harness as h  # noqa: E402

SHAPES = {  # d, heads, encoder layers, decoder layers, n_mels, vocab
    "tiny": (384, 6, 4, 4, 80, 51864),
    "base": (512, 8, 6, 6, 80, 51864),
    "small": (768, 12, 12, 12, 80, 51864),
    "medium": (1024, 16, 24, 24, 80, 51864),
    "large-v3": (1280, 20, 32, 32, 128, 51866),
}


def synth(kind, root):
    import numpy as np
    import ct2_files as ct2
    d, heads, el, dl, mels, vocab = SHAPES[kind]
    out = os.path.join(root, f"synth-{kind}")
    os.makedirs(out)
    v, a = ct2.whisper_variables(np.random.default_rng(1), d=d, heads=heads, enc_layers=el,
                                 dec_layers=dl, n_mels=mels, n_vocab=vocab)
    ct2.write_ct2(os.path.join(out, "model.bin"), v, a)
    del v
    if vocab > 51864:
        base = ct2.tiktoken_tokens(os.path.join(SRC, ".deps", "models", "openai-whisper-assets",
                                                "multilingual.tiktoken"))
        with open(os.path.join(out, "vocabulary.json"), "w") as f:
            json.dump(ct2.vocabulary_for(base[:50257], vocab), f)
    else:
        shutil.copy(os.path.join(SRC, ".deps", "models", "faster-whisper-tiny.en",
                                 "vocabulary.txt"), out)
    return out


def start_once(model, cache, rt_model=None):
    """Start the server, wait for ready, read start-to-ready and VmHWM, stop it."""
    ports = [str(p) for p in h.free_ports(3)]
    env = dict(os.environ, STT_MODEL_DIR=cache)
    argv = [h.SERVER_BIN, "--model", model, "--rt-model", rt_model or model, "--control",
            ports[0], "--data", ports[1], "--monitor_port", ports[2], "--workers", "1"]
    t0 = time.monotonic()
    wall0 = time.time()
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    ready = None
    lines = []
    for line in p.stderr:
        lines.append(line)
        m = re.search(r"start to ready ([0-9.]+) s", line)
        if m:
            ready = float(m.group(1))
            break
        if time.monotonic() - t0 > 600:
            break
    hwm = None
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    p.terminate()
    p.wait(timeout=60)
    log = "".join(lines)
    if ready is None:
        raise SystemExit(f"server did not get ready:\n{log[-2000:]}")
    return ready, hwm, "whisper_convert" in log, model_s(lines, wall0)


def stamp(line):
    """A log line's wall-clock time (UTC, epoch seconds)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)Z", line)
    if not m:
        return None
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2))


def model_s(lines, wall0):
    """Seconds from the process start to whisper's model loaded (model found, converted or not,
    and read by whisper.cpp), without the probe transcription that follows and whose time is
    all CPU contention on a shared machine."""
    t1 = next((stamp(x) for x in lines if "whisper_loaded" in x), None)
    return round(t1 - wall0, 3) if t1 is not None else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--model-dir", default=os.path.join(SRC, ".deps", "models",
                                                        "faster-whisper-tiny.en"))
    ap.add_argument("--synth", choices=sorted(SHAPES))
    ap.add_argument("--out", default=os.path.join(HERE, "results-ct2-ready.json"))
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="ct2-ready-")
    try:
        src = args.model_dir
        if args.synth:
            t = time.monotonic()
            src = synth(args.synth, root)
            print(f"wrote a random {args.synth} directory in {time.monotonic() - t:.0f} s "
                  f"({os.path.getsize(os.path.join(src, 'model.bin')) / 1e9:.2f} GB)",
                  file=sys.stderr)
        ggml = os.path.join(root, "direct.bin")
        subprocess.run([os.path.join(h.BUILD_DIR, "ct2-to-ggml"), src, ggml], check=True,
                       stdout=subprocess.DEVNULL)
        res = {"convert": [], "reuse": [], "rehash": [], "ggml": []}
        for r in range(args.rounds):
            cache = os.path.join(root, f"cache{r}")
            os.makedirs(cache)
            res["convert"].append(start_once(src, cache))
            res["reuse"].append(start_once(src, cache))
            for f in os.listdir(cache):
                if f.endswith(".stamp"):
                    os.unlink(os.path.join(cache, f))
            res["rehash"].append(start_once(src, cache))
            res["ggml"].append(start_once(ggml, cache))
            shutil.rmtree(cache)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.2f} s (model {v[-1][3]:.3f} s) "
                                                 f"{v[-1][1]:.0f} MiB"
                                                 for k, v in res.items()), file=sys.stderr)
        for k, v in res.items():
            want = k == "convert"
            assert all(x[2] == want for x in v), f"{k}: conversion {'missing' if want else 'redone'}"
        out = {"model": args.synth or os.path.basename(src), "rounds": args.rounds,
               "load": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
               "median_ready_s": {k: statistics.median(x[0] for x in v) for k, v in res.items()},
               "median_model_s": {k: statistics.median(x[3] for x in v) for k, v in res.items()},
               "median_peak_rss_mib": {k: statistics.median(x[1] for x in v)
                                       for k, v in res.items()},
               "runs": {k: [[round(x[0], 3), x[3], round(x[1], 1)] for x in v]
                        for k, v in res.items()},
               "command": "bench/ct2_ready.py " + " ".join(sys.argv[1:])}
        print(json.dumps(out, indent=1))
        if args.out:
            prev = {}
            if os.path.exists(args.out):
                with open(args.out) as f:
                    prev = json.load(f)
            prev[out["model"]] = out
            with open(args.out, "w") as f:
                json.dump(prev, f, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

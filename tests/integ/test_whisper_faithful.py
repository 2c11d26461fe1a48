#!/usr/bin/python3
"""Faithfulness of the converted weights: whisper.cpp on the file `ct2-to-ggml` writes from a
faster-whisper (CTranslate2) directory transcribes real speech exactly as the reference
faster-whisper does on the directory itself.

Inputs: the real Whisper tiny.en directory (scripts/fetch-models.sh), the five librivox
recordings of pocketsphinx-testdata and jfk.wav (scripts/make-test-audio.sh, from whisper.cpp's
samples/jfk.mp3). `build/ct2-to-ggml` converts the directory into a temporary ggml file;
`whisper-cli` (the vendored whisper.cpp, the prefix the build linked) transcribes every file
with it, and faster-whisper 1.2.1 (tests/compat/faster-whisper/setup.sh, pinned wheels; run by
tests/compat/faster-whisper/transcribe.py in its own process) transcribes the same files.

Both decode the same way, option by option:
  whisper-cli -l en -t 2 -bs 1 -bo 1 -nf -nt -sns   | faster-whisper
  -bs 1 -bo 1 (greedy, one candidate)               | beam_size=1, best_of=1
  -nf (temperature_inc 0: 0.0 only)                 | temperature=[0.0]
  -nt (no_timestamps: <|notimestamps|> in the       | without_timestamps=True (the same prompt
       prompt, timestamp tokens masked)             |   token; no timestamp rules)
  -sns (whisper.cpp's non-speech symbol list)       | suppress_tokens=[-1] (its own list from the
                                                    |   same symbols; see below)
  suppress_blank, logprob_thold -1, no_speech 0.6   | the same three defaults (same skip rule)
  text of earlier windows kept within a call        | condition_on_previous_text=True (223 tokens
    (n_max_text_ctx: 223 tokens of context)         |   of context); no file here is over 30 s
  -t 2                                              | cpu_threads=2, compute_type float32
  no VAD                                            | vad_filter=False
  samples: miniaudio, s16 / 32768                   | decode_audio (PyAv): checked identical
The stt-server whisper engine also suppresses the non-speech symbols by default (RealtimeSTT's
suppress_tokens [-1]), which is why -sns is used here rather than whisper-cli's default.

Two comparisons, because the two implementations do not feed the encoder the same window:
  as shipped   faster-whisper's transcribe() as users run it. It computes the log-mel of the
               audio alone and pads the 30 s window with zeros (openai-whisper does the same
               since 20231117); whisper.cpp appends 30 s of zero samples before the log-mel, so
               its window is padded with the log-mel of silence (the clamped floor, about -0.5
               after scaling, not 0) and its last frames overlap that silence. That is a
               different encoder input, and it can flip a near tie.
  same window  the same transcribe() (prompt, decoding, suppression and text all
               faster-whisper's), with its encoder given whisper.cpp's window, made by
               faster-whisper's own FeatureExtractor with 30 s of padding samples.
Measured on the six recordings (docs/whisper.md, "Faithfulness"; Intel Xeon with AVX-512/AMX):
on the same window every file agrees token for token (110 of 110) and the probability whisper.cpp
reports for each token is within 0.03 of CTranslate2's. As shipped, 5 of 6 texts agree; jfk.wav
differs by one comma: after "for you" the three candidates are nearly tied (whisper.cpp:
"," 0.285, "." 0.272, " ask" 0.264; faster-whisper as shipped: " ask" 0.338, "." 0.245, "," 0.230;
on the same window CTranslate2 gives "," 0.280, "." 0.271, " ask" 0.269 and so prints the comma).
The remaining differences are numerical: whisper.cpp computes the log-mel with its own float FFT
and multiplies the f16 weights with activations rounded to f16 (the ggml CPU kernels), with f16
K/V; CTranslate2 upcasts the f16 weights and computes in f32, with numpy's FFT for the mel.

So the test asserts, per file: on the same window, identical text and tokens (this is what proves
the conversion: any wrong tensor, bias, filter or vocabulary entry changes tokens); as shipped,
a text may differ only if the same-window comparison of that file is identical (the difference
is then the padding alone). Over all files: as-shipped token agreement >= 0.98 (measured 0.9909,
1 edit in 110 tokens) and same-window max |p difference| <= 0.05 (measured 0.0298). The
non-speech sets differ by two ids (faster-whisper also masks 17992 "\\xe2\\x99" and 20724
" \\xe2\\x99", the lead bytes of the U+2640-267F music symbols): they only matter if the model
would print a music symbol.

Skips (exit 77, with the reason) when the reference install, the model directory, jfk.wav or the
converter is absent, unless STT_REQUIRE_FAITHFUL=1 (scripts/test.sh sets it on x86-64, where
scripts/setup.sh installs everything): then each of those is a failure.

Options (by hand):
  --json PATH   also write the result there (default: $STT_BUILD_DIR/results-faithfulness.json;
                bench/results-faithfulness.json holds the published run)
  --ggml FILE   use this ggml file instead of converting (e.g. to check another conversion)
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

import harness as h

FW_VERSION = "1.2.1"
SITE = os.environ.get("STT_FW_SITE") or os.path.join(
    h.SOURCE_DIR, ".deps", f"faster-whisper-{FW_VERSION}", "site")
MODEL_DIR = os.environ.get("STT_FW_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
JFK = os.path.join(h.SOURCE_DIR, ".deps", "audio", "jfk.wav")
RUNNER = os.path.join(h.SOURCE_DIR, "tests", "compat", "faster-whisper", "transcribe.py")
CONVERTER = os.environ.get("STT_CT2_TO_GGML") or os.path.join(h.BUILD_DIR, "ct2-to-ggml")
THREADS = 2
CLI_ARGS = ["-l", "en", "-t", str(THREADS), "-bs", "1", "-bo", "1", "-nf", "-nt", "-sns"]
SKIP = 77  # ctest SKIP_RETURN_CODE (CMakeLists.txt)

SHIPPED, SAME = "shipped", "silence_padded"  # the runner's two modes (transcribe.py)
MODES = (SHIPPED, SAME)
# Bounds measured on the six recordings (docs/whisper.md, "Faithfulness"; see the docstring).
MIN_AGREEMENT_SHIPPED = 0.98
MAX_ABS_DP = 0.05
JFK_PHRASE = "ask not what your country can do for you"


def whisper_cli_path():
    return os.environ.get("STT_WHISPER_CLI") or h.whisper_cli()


def ws(text):
    """Whitespace normalised: the only normalisation of the texts."""
    return " ".join(text.split())


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def first_divergence(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def convert(tmp):
    out = os.path.join(tmp, "ggml-tiny.en.bin")
    t0 = time.monotonic()
    r = subprocess.run([CONVERTER, MODEL_DIR, out], capture_output=True, text=True, timeout=300)
    secs = time.monotonic() - t0
    if r.returncode != 0 or not os.path.isfile(out):
        raise AssertionError(f"ct2-to-ggml failed (exit {r.returncode}): "
                             f"{(r.stderr + r.stdout)[-2000:]}")
    h.log(f"converted {MODEL_DIR} -> {out} ({os.path.getsize(out):,} bytes) in {secs:.1f} s")
    return out, secs


def run_cli(cli, ggml, wav, tmp, i):
    base = os.path.join(tmp, f"cli-{i}")
    t0 = time.monotonic()
    r = subprocess.run([cli, "-m", ggml, "-f", wav, *CLI_ARGS, "-np", "-ojf", "-of", base],
                       capture_output=True, timeout=300)
    secs = time.monotonic() - t0
    if r.returncode != 0:
        raise AssertionError(f"whisper-cli failed on {wav} (exit {r.returncode}): "
                             f"{r.stderr.decode(errors='replace')[-2000:]}")
    # Token texts are raw vocabulary bytes (a multi-byte character can be split): read leniently.
    with open(base + ".json", "rb") as f:
        doc = json.loads(f.read().decode("utf-8", errors="replace"))
    eot = 50257 if doc["model"]["multilingual"] else 50256
    segs = doc["transcription"]
    tokens = [t for s in segs for t in s.get("tokens", [])]
    return {"text": "".join(s["text"] for s in segs),
            "tokens": [t["id"] for t in tokens if t["id"] < eot],
            "p": [t["p"] for t in tokens if t["id"] < eot],
            "segments": len(segs), "seconds": round(secs, 3)}, eot


def run_reference(files):
    r = subprocess.run(["/usr/bin/python3", RUNNER, "--site", SITE, "--model", MODEL_DIR,
                        "--threads", str(THREADS), *files],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"faster-whisper run failed (exit {r.returncode}): "
                             f"{(r.stderr + r.stdout)[-3000:]}")
    return json.loads(r.stdout)


def missing_inputs(ggml):
    miss = []
    if not os.path.isfile(os.path.join(SITE, ".pin")):
        miss.append(f"the reference faster-whisper ({SITE}; tests/compat/faster-whisper/setup.sh)")
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        miss.append(f"the tiny.en directory ({MODEL_DIR}; scripts/fetch-models.sh)")
    if not os.path.isfile(JFK):
        miss.append(f"jfk.wav ({JFK}; scripts/make-test-audio.sh)")
    if not ggml and not os.access(CONVERTER, os.X_OK):
        miss.append(f"the converter ({CONVERTER}; built with the project)")
    return miss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=os.path.join(h.BUILD_DIR, "results-faithfulness.json"))
    ap.add_argument("--ggml")
    args = ap.parse_args()
    h.watchdog(400)

    miss = missing_inputs(args.ggml)
    if miss:
        msg = "missing " + "; ".join(miss) + " (scripts/setup.sh makes them all)"
        if os.environ.get("STT_REQUIRE_FAITHFUL") == "1":
            h.log(f"FAILED: {msg}")
            return 1
        h.log(f"SKIPPED: {msg}")
        return SKIP
    cli = whisper_cli_path()
    if not os.access(cli, os.X_OK):
        h.log(f"FAILED: whisper-cli not found: {cli}")
        return 1

    files = [JFK] + sorted(p for _, p, _ in h.librivox_set())
    tmp = h.tmpdir("faithful")
    failures = []
    if args.ggml:
        ggml, conv_s = args.ggml, None
    else:
        ggml, conv_s = convert(tmp)

    cli_res, eot = [], None
    for i, f in enumerate(files):
        res, eot = run_cli(cli, ggml, f, tmp, i)
        cli_res.append(res)
    ref = run_reference(files)

    rows = []
    totals = {m: [0, 0] for m in MODES}  # edits, tokens
    for f, c, r in zip(files, cli_res, ref["files"]):
        row = {"file": os.path.basename(f), "audio_s": round(r["samples"] / 16000, 2),
               "whisper_cpp_text": ws(c["text"]), "whisper_cpp_tokens": c["tokens"],
               "whisper_cpp_p": c["p"], "whisper_cli_s": c["seconds"]}
        for m in MODES:
            fw = r[m]
            rtok = [t for t in fw["tokens"] if t < eot]
            dist = edit_distance(c["tokens"], rtok)
            n = max(len(c["tokens"]), len(rtok))
            totals[m][0] += dist
            totals[m][1] += n
            d = {"text": ws(fw["text"]), "text_equal": ws(c["text"]) == ws(fw["text"]),
                 "tokens": rtok, "token_edits": dist,
                 "token_agreement": round(1 - dist / n, 4) if n else 1.0,
                 "seconds": fw["seconds"]}
            div = first_divergence(c["tokens"], rtok)
            if div is not None:
                d["first_difference"] = {"index": div, "whisper_cpp": c["tokens"][div:div + 3],
                                         "whisper_cpp_p": c["p"][div:div + 3],
                                         "faster_whisper": rtok[div:div + 3]}
            if "p" in fw and dist == 0:
                d["p"] = fw["p"]
                d["max_abs_dp"] = round(max((abs(x - y) for x, y in zip(c["p"], fw["p"])),
                                            default=0.0), 4)
            row[m] = d
        rows.append(row)
    agreement = {m: round(1 - e / n, 4) if n else 1.0 for m, (e, n) in totals.items()}
    dps = [r[SAME]["max_abs_dp"] for r in rows if "max_abs_dp" in r[SAME]]
    max_dp = max(dps) if dps else None

    nst_fw = set(ref["non_speech_tokens"])
    nst_cpp = set(ref["whisper_cpp_non_speech_tokens"])

    h.log("")
    h.log("whisper-cli on the converted file vs faster-whisper on the directory; edits = token "
          "edit distance; 'as shipped': faster-whisper's own zero-padded window; 'same window': "
          "its encoder given whisper.cpp's window (log-mel of 30 s of silence appended)")
    h.log(f"{'file':46} {'audio':>6} {'tokens':>6}  {'as shipped':>16}  {'same window':>16} "
          f"{'max|dp|':>7}")
    for r in rows:
        sh, sw = r[SHIPPED], r[SAME]
        h.log(f"{r['file']:46} {r['audio_s']:5.2f}s {len(r['whisper_cpp_tokens']):6d}  "
              f"{sh['token_edits']:3d} ed {'same' if sh['text_equal'] else 'DIFF':>4} text  "
              f"{sw['token_edits']:3d} ed {'same' if sw['text_equal'] else 'DIFF':>4} text "
              f"{sw.get('max_abs_dp', float('nan')):7.4f}")
    h.log(f"{'all (token agreement)':46} {sum(r['audio_s'] for r in rows):5.2f}s "
          f"{totals[SHIPPED][1]:6d}  {agreement[SHIPPED]:8.4f} {sum(r[SHIPPED]['text_equal'] for r in rows)}/"
          f"{len(rows)} texts  {agreement[SAME]:8.4f} {sum(r[SAME]['text_equal'] for r in rows)}/"
          f"{len(rows)} texts {max_dp if max_dp is not None else float('nan'):7.4f}")
    h.log("")
    for r in rows:
        h.log(f"  {r['file']}")
        h.log(f"    whisper.cpp                : {r['whisper_cpp_text']}")
        for m, label in ((SHIPPED, "faster-whisper as shipped "), (SAME, "faster-whisper same window")):
            if r[m]["token_edits"] or not r[m]["text_equal"]:
                h.log(f"    {label}: {r[m]['text']}")
                h.log(f"      first token difference: {r[m].get('first_difference')}")
    h.log("")
    h.log(f"non-speech ids masked only by faster-whisper: {sorted(nst_fw - nst_cpp)}; "
          f"only by whisper.cpp: {sorted(nst_cpp - nst_fw)}")
    h.log(f"faster-whisper {ref['versions']} compute {ref['compute_type']}, "
          f"model load {ref['load_s']} s")

    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpu": cpu_name(), "python": platform.python_version()},
        "model_dir": os.path.relpath(MODEL_DIR, h.SOURCE_DIR),
        "ggml": "converted by ct2-to-ggml" if not args.ggml else args.ggml,
        "convert_s": round(conv_s, 2) if conv_s is not None else None,
        "whisper_cli_args": CLI_ARGS,
        "faster_whisper": {"versions": ref["versions"], "compute_type": ref["compute_type"],
                           "options": ref["options"]},
        "non_speech_only_faster_whisper": sorted(nst_fw - nst_cpp),
        "non_speech_only_whisper_cpp": sorted(nst_cpp - nst_fw),
        "summary": {m: {"texts_equal": sum(r[m]["text_equal"] for r in rows),
                        "files": len(rows), "token_edits": totals[m][0],
                        "tokens": totals[m][1], "token_agreement": agreement[m]}
                    for m in MODES},
        "same_window_max_abs_dp": max_dp,
        "files": rows,
    }
    result["summary"][SAME]["max_abs_dp"] = max_dp
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as fo:
            text = json.dumps(result, indent=1, ensure_ascii=False)
            # lists of numbers (token ids, probabilities) on one line each
            text = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]",
                          lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
            fo.write(text + "\n")
        h.log(f"wrote {args.json}")

    for r in rows:
        if not r["whisper_cpp_text"] or not r[SHIPPED]["text"]:
            failures.append(f"{r['file']}: an empty transcript")
        if not r[SAME]["text_equal"] or r[SAME]["token_edits"]:
            failures.append(f"{r['file']}: on the same window, whisper.cpp and faster-whisper "
                            f"differ: {r[SAME].get('first_difference')}")
        elif not r[SHIPPED]["text_equal"]:
            h.log(f"accepted: {r['file']} differs only through faster-whisper's zero-padded "
                  "window (identical tokens on the same window)")
    if agreement[SHIPPED] < MIN_AGREEMENT_SHIPPED:
        failures.append(f"as shipped: token-level agreement {agreement[SHIPPED]} < "
                        f"{MIN_AGREEMENT_SHIPPED} ({totals[SHIPPED][0]} edits in "
                        f"{totals[SHIPPED][1]} tokens)")
    if max_dp is not None and max_dp > MAX_ABS_DP:
        failures.append(f"same window: a token probability differs by {max_dp} > {MAX_ABS_DP}")
    # The reference itself must be real speech recognition, or agreeing with it means nothing.
    jfk_ref = h.normalize(rows[0][SHIPPED]["text"])
    if JFK_PHRASE not in jfk_ref:
        failures.append(f"faster-whisper's jfk.wav text lacks {JFK_PHRASE!r}: {jfk_ref!r}")
    return h.report(failures)


def cpu_name():
    """The CPU's name and the SIMD features that decide which ggml kernels run."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.machine()
    m = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    fl = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
    flags = set(fl.group(1).split()) if fl else set()
    have = [x for x in ("avx2", "f16c", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags]
    return f"{m.group(1).strip() if m else platform.machine()} ({' '.join(have)})"


if __name__ == "__main__":
    sys.exit(main())

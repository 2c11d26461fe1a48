#!/usr/bin/python3
"""Acceptance of issue 15's file API with the official `openai` npm SDK (4.104.0, pinned in
tests/compat/sdk) and real Whisper tiny.en weights: tests/compat/sdk/openai_files.mjs calls
client.audio.transcriptions.create on a WAV, a FLAC and an MP3 (two librivox recordings joined
by sox, 8.3 s, 24 words) in json, text, srt, vtt, verbose_json with word timestamps, and
stream: true, and headerless 8 kHz mu-law (our own `encoding`/`sample_rate` fields, which the
SDK passes through as extra form fields), plus client.models.list() and one error the SDK must
raise as an APIError.

Asserts: every transcript within MAX_WER of the reference (sclite); srt/vtt cues numbered or
headed as the formats want, times monotonic and within the duration; verbose_json duration
within 0.1 s of sox's, words in order, each inside a segment; stream: one or more
transcript.text.delta events whose deltas concatenate to transcript.text.done's text; the
model list holds whisper-1; the unknown model raises APIError 400 with code model_not_found.
Exits 77 (ctest: skipped) when the weights or node_modules are absent."""

import json
import os
import re
import subprocess
import sys

import harness as h

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SDK_DIR = os.path.join(h.SOURCE_DIR, "tests", "compat", "sdk")
SKIP = 77
KEY = "sk-sdk-files-test"
MAX_WER = 0.15  # per file and format; see the measured values printed by the run

TIME_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)$")


def secs(g):
    return int(g[0]) * 3600 + int(g[1]) * 60 + int(g[2]) + int(g[3]) / 1000


def check_cues(text, fmt, duration, what, failures):
    """srt/vtt structure; returns the cue texts joined."""
    lines = text.split("\n")
    if fmt == "vtt":
        if lines[0] != "WEBVTT":
            failures.append(f"{what}: no WEBVTT header")
        lines = lines[2:]
    words, last_end, cue = [], 0.0, 0
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        if fmt == "srt":
            cue += 1
            if lines[i] != str(cue):
                failures.append(f"{what}: cue number {lines[i]!r}, expected {cue}")
            i += 1
        m = TIME_RE.match(lines[i]) if i < len(lines) else None
        if not m:
            failures.append(f"{what}: bad time line {lines[i] if i < len(lines) else None!r}")
            return " ".join(words)
        a, b = secs(m.groups()[:4]), secs(m.groups()[4:])
        if not (last_end - 0.001 <= a <= b <= duration + 0.05):
            failures.append(f"{what}: cue {a}-{b} not monotonic/within {duration} "
                            f"(previous end {last_end})")
        last_end = b
        i += 1
        while i < len(lines) and lines[i]:
            words.append(lines[i])
            i += 1
    return " ".join(words)


def main():
    h.watchdog(175)
    failures = []
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP: no faster-whisper tiny.en directory at {MODEL_DIR}")
        return SKIP
    if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "openai")):
        h.log("SKIP: tests/compat/sdk/node_modules is missing (scripts/setup.sh runs npm ci)")
        return SKIP
    tmp = h.tmpdir("sdk-openai-files")
    utts = h.librivox_set()
    # 0880 + 0890: "he was not an ill disposed young man" / "unless to be rather cold hearted..."
    ref = utts[1][2] + " " + utts[2][2]
    wav = os.path.join(tmp, "speech.wav")
    h.sox(utts[1][1], utts[2][1], wav)
    flac = os.path.join(tmp, "speech.flac")
    h.sox(wav, flac)
    mp3 = os.path.join(tmp, "speech.mp3")
    h.sox(wav, "-C", "64", mp3)
    dur = float(subprocess.run(["soxi", "-D", wav], capture_output=True, text=True).stdout)
    ulaw = os.path.join(tmp, "speech.ul")  # headerless: our own encoding/sample_rate fields
    h.sox(wav, "-r", 8000, "-t", "ul", ulaw)
    jobs = [
        {"name": "wav-json", "file": wav, "format": "json"},
        {"name": "flac-text", "file": flac, "format": "text"},
        {"name": "mp3-srt", "file": mp3, "format": "srt"},
        {"name": "wav-vtt", "file": wav, "format": "vtt"},
        {"name": "flac-verbose-words", "file": flac, "format": "verbose_json", "words": True},
        {"name": "mp3-stream", "file": mp3, "format": "json", "stream": True},
        {"name": "raw-mulaw-8k", "file": ulaw, "format": "json",
         "extra": {"encoding": "mulaw", "sample_rate": 8000}},
    ]
    jobs_path = os.path.join(tmp, "jobs.json")
    with open(jobs_path, "w") as f:
        json.dump(jobs, f)

    srv = h.Server("--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root",
                   os.path.join(tmp, "models"), "--device", "cpu", "--workers", "2",
                   "--whisper_threads", "1", "--language", "en", "--beam_size", "1",
                   "--no-whisper_fallback", "--initial_prompt", "", "--api_key", KEY,
                   *h.NO_LOAD_SHEDDING, engine="whisper", name="sdk-openai-files",
                   drain_timeout=10)
    srv.start(ready_timeout=120)
    try:
        r = subprocess.run(["node", os.path.join(SDK_DIR, "openai_files.mjs"),
                            str(srv.data_port), KEY, jobs_path],
                           capture_output=True, text=True, timeout=150, cwd=SDK_DIR)
        if r.returncode != 0:
            raise AssertionError(f"node exited {r.returncode}: {r.stderr[-2000:]}")
        out = json.loads(r.stdout)
        h.log(f"models.list(): {out['models']}")
        if "whisper-1" not in out["models"]:
            failures.append(f"models.list() lacks whisper-1: {out['models']}")
        for res in out["results"]:
            what = res["name"]
            if not res.get("ok"):
                failures.append(f"{what}: SDK error {res.get('error')}")
                continue
            v, fmt = res["value"], res["format"]
            if res["stream"]:
                evs = res["stream_events"]
                deltas = [e for e in evs if e.get("type") == "transcript.text.delta"]
                done = [e for e in evs if e.get("type") == "transcript.text.done"]
                if not deltas or len(done) != 1 or evs[-1] is not done[0]:
                    failures.append(f"{what}: events {[e.get('type') for e in evs]}")
                    continue
                text = done[0]["text"]
                if "".join(d["delta"] for d in deltas) != text:
                    failures.append(f"{what}: deltas do not add up to the done text")
            elif fmt == "json":
                text = v["text"]
            elif fmt == "text":
                if not isinstance(v, str):
                    failures.append(f"{what}: text format came back as {type(v).__name__}")
                    continue
                text = v.strip()
            elif fmt in ("srt", "vtt"):
                text = check_cues(v, fmt, dur, what, failures)
            else:
                text = v["text"]
                if abs(v["duration"] - dur) > 0.1 or v["task"] != "transcribe" \
                        or v["language"] != "english":
                    failures.append(f"{what}: duration {v['duration']} (sox {dur}), task "
                                    f"{v['task']}, language {v['language']}")
                segs, words = v.get("segments", []), v.get("words", [])
                if not segs or len(words) < 15:
                    failures.append(f"{what}: {len(segs)} segments, {len(words)} words")
                prev = 0.0
                for w in words:
                    if not (prev - 0.001 <= w["start"] <= w["end"] <= dur + 0.05):
                        failures.append(f"{what}: word {w} out of order or past the end")
                        break
                    prev = w["start"]
                    if not any(s["start"] - 0.001 <= w["start"] and w["end"] <= s["end"] + 0.001
                               for s in segs):
                        failures.append(f"{what}: word {w} in no segment")
                        break
                for s in segs:
                    for k in ("id", "seek", "start", "end", "text", "tokens", "temperature",
                              "avg_logprob", "compression_ratio", "no_speech_prob"):
                        if k not in s:
                            failures.append(f"{what}: segment lacks {k}")
            rate, n, e = h.wer([(ref, text)])
            h.log(f"{what}: WER {rate:.3f} ({e}/{n}) in {res['ms']} ms: {text!r}")
            if rate > MAX_WER:
                failures.append(f"{what}: WER {rate:.3f} > {MAX_WER}")
        ec = out.get("error_check", {})
        h.log(f"unknown model: {ec}")
        if not ec.get("thrown") or ec.get("status") != 400 or ec.get("code") != "model_not_found":
            failures.append(f"unknown model: the SDK saw {ec}")
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("server exit status not 0")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

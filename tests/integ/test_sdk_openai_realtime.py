#!/usr/bin/python3
"""Acceptance: the official OpenAI SDK's Realtime client (openai 4.104.0, OpenAIRealtimeWS from
`openai/beta/realtime/ws`, tests/compat/sdk/openai_realtime.mjs) in a transcription session
against /v1/realtime, with real whisper tiny.en weights.

Three librivox utterances, resampled by sox to 24 kHz pcm16 and joined with 1.5 s of silence,
are streamed at real time in 100 ms appends. Asserted: the SDK connects (through the URL it
builds itself: ?model=whisper-1, no intent), gets transcription_session.created and .updated
with what it asked, then per item speech_started, speech_stopped, committed (previous_item_id
chained), at least one delta over the session, and completed; no error event; the corpus WER of
the completed transcripts against the references (sclite) is printed and bounded.

Skipped (exit 77) without the weights (.deps/models/faster-whisper-tiny.en) or without the SDK
(tests/compat/sdk/node_modules: scripts/setup.sh runs npm ci there).

WER bound: measured 0.068 (3 errors of 44 words) on 2026-12-05 on the 2-core machine; bound
0.15."""

import json
import os
import subprocess
import sys

import harness as h

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SDK_DIR = os.path.join(h.SOURCE_DIR, "tests", "compat", "sdk")
SCRIPT = os.path.join(SDK_DIR, "openai_realtime.mjs")
NODE = "/usr/bin/node"
KEY = "sdk-rt-key-4d1e"
SKIP = 77
N_UTT = 3
GAP_S = 1.5
MAX_WER = 0.15   # measured 0.068 (3/44 words) on 2026-12-05; the margin is 4 more errors


def main():
    h.watchdog(170)
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP: no faster-whisper tiny.en directory at {MODEL_DIR}")
        return SKIP
    if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "openai")) or \
            not os.access(NODE, os.X_OK):
        h.log("SKIP: the SDK is not installed (npm ci in tests/compat/sdk) or node is missing")
        return SKIP
    failures = []
    tmp = h.tmpdir("sdk-openai-rt")
    utts = h.librivox_set()[:N_UTT]
    pcm = b""
    for utt, wav, ref in utts:
        p, rate = h.read_wav(h.convert_wav(wav, os.path.join(tmp, utt + ".wav"), 24000))
        assert rate == 24000
        pcm += p + h.silence(GAP_S, 24000)
    audio = os.path.join(tmp, "speech24k.pcm")
    with open(audio, "wb") as f:
        f.write(pcm)
    srv = h.Server("--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root",
                   os.path.join(tmp, "models"), "--device", "cpu", "--workers", "2",
                   "--whisper_threads", "1", "--language", "en", "--beam_size", "1",
                   "--no-whisper_fallback", "--initial_prompt", "", "--api_key", KEY,
                   *h.NO_LOAD_SHEDDING, engine="whisper", name="sdk-openai-rt",
                   drain_timeout=10)
    srv.start(ready_timeout=120)
    try:
        r = subprocess.run([NODE, SCRIPT, str(srv.data_port), KEY, audio, "whisper-1"],
                           capture_output=True, text=True, timeout=140, cwd=SDK_DIR)
        if r.returncode != 0 or not r.stdout.strip():
            raise AssertionError(f"node exit {r.returncode}: {r.stderr[-2000:]}")
        out = json.loads(r.stdout.strip().splitlines()[-1])
        h.log(f"SDK URL {out['url']}; events: {len(out['types'])}, items: {len(out['items'])}")
        check(out, utts, failures)
    except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("server exit status not 0")
    if failures:
        h.log(srv.log_tail(40))
    return h.report(failures)


def check(out, utts, failures):
    if not out["url"].endswith("/v1/realtime?model=whisper-1"):
        failures.append(f"unexpected SDK URL {out['url']}")
    if out["errors"]:
        failures.append(f"error events: {out['errors'][:3]}")
    if out["types"][:2] != ["transcription_session.created", "transcription_session.updated"]:
        failures.append(f"session events: {out['types'][:4]}")
    upd = out["updated"] or {}
    if upd.get("input_audio_transcription", {}).get("model") != "whisper-1" or \
            (upd.get("turn_detection") or {}).get("silence_duration_ms") != 700:
        failures.append(f"updated session: {upd}")
    if not out["complete"]:
        failures.append(f"not every item completed: {out['items']}")
    prev = None
    for it in out["items"]:
        if it["previous_item_id"] != prev or it["audio_start_ms"] is None or \
                it["audio_end_ms"] is None or it["transcript"] is None or \
                not it["audio_start_ms"] < it["audio_end_ms"]:
            failures.append(f"item {it}")
        prev = it["item_id"]
    n_deltas = sum(len(i["deltas"]) for i in out["items"])
    if n_deltas == 0:
        failures.append("no delta event")
    for want in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                 "input_audio_buffer.committed", "conversation.item.created",
                 "conversation.item.input_audio_transcription.delta",
                 "conversation.item.input_audio_transcription.completed"):
        if want not in out["types"]:
            failures.append(f"no {want} event")
    ref = " ".join(r for _, _, r in utts)
    rate, n, err = h.wer([(ref, out["transcript"])])
    revised = sum(1 for i in out["items"] if i["transcript"] is not None and
                  not i["transcript"].strip().startswith("".join(i["deltas"]).strip()))
    h.log(f"WER OpenAI Realtime SDK whisper tiny.en 24 kHz: {rate:.3f} ({err}/{n}); "
          f"{len(out['items'])} items, {n_deltas} deltas, {revised} item(s) whose deltas the "
          f"final revised")
    h.log(f"  transcript: {out['transcript'][:300]!r}")
    if rate > MAX_WER:
        failures.append(f"WER {rate:.3f} > {MAX_WER}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""OpenAI Realtime transcription sessions, ws://HOST:DATA_PORT/v1/realtime?intent=transcription
(docs/protocol.md, "OpenAI Realtime transcription (/v1/realtime)"), spoken as the official SDKs
speak it (header `OpenAI-Beta: realtime=v1`, `Authorization: Bearer KEY`, JSON events with
base64 audio). Protocol behaviour with pocketsphinx (the SDK acceptance test with real whisper
weights is test_sdk_openai_realtime):

  - auth: no key, a wrong key -> HTTP 401 before the upgrade with OpenAI's error body
    {"error": {"message", "type": "invalid_request_error", "param", "code": "invalid_api_key"}};
    the key as Bearer -> 101;
  - intent=transcription: transcription_session.created at once with OpenAI's defaults;
    without intent nothing until the first transcription event, which creates the session;
    intent=conversation -> error unsupported_intent, close 1008; ?model=bogus -> error
    model_not_found naming the accepted models, close 1008;
  - transcription_session.update variants: the full session echoed in .updated, a partial
    update keeps the rest, a turn_detection object replaces the whole of it, null turns it off;
  - bad events, each a specific error event (code, param, the client's event_id) after which
    the same connection still answers (clear -> cleared): not JSON, unknown type, a
    conversation event, semantic_vad, threshold out of range, unknown parameter, bad base64,
    unknown model in the update, binary frame, commit of an empty buffer;
  - server_vad on real speech (librivox at 24 kHz pcm16): speech_started, speech_stopped,
    committed (previous_item_id chained), conversation.item.created, completed per item, in
    order, with audio_start_ms/audio_end_ms inside the audio sent; the transcript shares most
    words with the reference;
  - manual mode (turn_detection null): no automatic turn over 2 s of trailing silence; commit
    -> committed + completed; clear drops the buffer (a commit after it is commit_empty);
  - g711_ulaw at 8 kHz (sox): transcribed;
  - a good session streams while the bad ones run beside it: its transcript is unaffected;
  - stt_protocol_errors_total{protocol="openai_realtime"} counts the errors;
  - SIGTERM while an item is spoken: it is committed and completed, then close 1001.

Bounds: pocketsphinx on 24 kHz audio resampled to 16 kHz shares 0.77-0.82 of the reference's words
(measured 2026-12-05), bound 0.5; on 8 kHz mu-law 0.27-0.55 (its en-us model is a 16 kHz model),
bound 0.15. A broken sample stream (misaligned bytes, wrong rate) gives near zero."""

import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time

import websockets
from websockets.exceptions import ConnectionClosed

import harness as h

KEY = "rt-test-key-91c2"
MIN_OVERLAP = 0.5
MIN_OVERLAP_ULAW = 0.15  # pocketsphinx's 16 kHz model on 8 kHz mu-law: measured 0.27-0.55
                         # (0.27 once under ASan in the full suite); G.711 decoding itself is
                         # checked on whisper by test_sdk_deepgram and test_twilio
TIMEOUT = 60.0


async def connect(srv, query="?intent=transcription", key=KEY):
    return await websockets.connect(
        f"ws://127.0.0.1:{srv.data_port}/v1/realtime{query}",
        extra_headers={"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"},
        compression=None, max_size=None, ping_interval=None, open_timeout=10, close_timeout=5)


class Session:
    """One realtime connection; a reader task records every event."""

    def __init__(self, ws):
        self.ws = ws
        self.events = []
        self.close_code = None
        self.cond = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, srv, query="?intent=transcription"):
        return cls(await connect(srv, query))

    async def _read(self):
        try:
            async for raw in self.ws:
                ev = json.loads(raw)
                async with self.cond:
                    self.events.append(ev)
                    self.cond.notify_all()
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code
        async with self.cond:
            self.cond.notify_all()

    async def send(self, ev):
        await self.ws.send(json.dumps(ev) if isinstance(ev, dict) else ev)

    async def wait(self, pred, what, timeout=TIMEOUT, start=0):
        """The first event from index `start` on that satisfies pred (waits for it)."""
        t_end = time.monotonic() + timeout

        def find():
            for ev in self.events[start:]:
                if pred(ev):
                    return ev
            return None
        async with self.cond:
            while True:
                ev = find()
                if ev is not None:
                    return ev
                if self.close_code is not None and self.reader.done():
                    raise AssertionError(f"{what}: closed {self.close_code} first; got "
                                         f"{self.types()}")
                left = t_end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: not received in {timeout}s; got "
                                         f"{self.types()}")
                try:
                    await asyncio.wait_for(self.cond.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def wait_type(self, t, what=None, start=0, timeout=TIMEOUT):
        return await self.wait(lambda e: e.get("type") == t, what or t, timeout, start)

    def of(self, t):
        return [e for e in self.events if e.get("type") == t]

    def types(self):
        return [e.get("type") for e in self.events]

    async def append(self, audio, chunk_bytes, pace_s=0.0):
        for i in range(0, len(audio), chunk_bytes):
            await self.send({"type": "input_audio_buffer.append",
                             "audio": base64.b64encode(audio[i:i + chunk_bytes]).decode()})
            if pace_s:
                await asyncio.sleep(pace_s)

    async def close(self):
        await self.ws.close()
        await self.reader

    def transcript(self):
        return " ".join(e["transcript"] for e in self.of(
            "conversation.item.input_audio_transcription.completed"))


def audio_24k(tmp, wav):
    path = h.convert_wav(wav, os.path.join(tmp, os.path.basename(wav) + ".24k.wav"), 24000)
    pcm, rate = h.read_wav(path)
    assert rate == 24000
    return pcm


def audio_ulaw(tmp, wav):
    raw = os.path.join(tmp, os.path.basename(wav) + ".ul")
    h.sox(wav, "-r", 8000, "-c", 1, "-e", "u-law", "-t", "raw", raw)
    with open(raw, "rb") as f:
        return f.read()


# ---- handshake ----

def check_auth(srv, failures):
    url = f"ws://127.0.0.1:{srv.data_port}/v1/realtime"
    for what, hdrs in (("no key", {}), ("wrong key", {"Authorization": "Bearer nope"})):
        status, _, body = h.upgrade_probe(url, path_extra="?intent=transcription", headers=hdrs)
        try:
            js = json.loads(body)
        except ValueError:
            js = None
        e = js.get("error") if isinstance(js, dict) else None
        # OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
        if status != 401 or not isinstance(e, dict) or not e.get("message") or \
                e.get("type") != "invalid_request_error" or e.get("code") != "invalid_api_key" \
                or "param" not in e:
            failures.append(f"auth {what}: expected 401 with OpenAI's error JSON, got {status} "
                            f"{body!r}")
        else:
            h.log(f"  auth {what}: 401 {body.decode()[:160]}")
    status, _, _ = h.upgrade_probe(url, path_extra="?intent=transcription",
                                   headers={"Authorization": f"Bearer {KEY}"})
    if status != 101:
        failures.append(f"auth with the key: expected 101, got {status}")


async def check_open(srv, failures):
    s = await Session.open(srv)
    ev = await s.wait_type("transcription_session.created")
    ss = ev["session"]
    want = {"object": "realtime.transcription_session", "input_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500},
            "input_audio_noise_reduction": None, "include": []}
    for k, v in want.items():
        if ss.get(k) != v:
            failures.append(f"created: session.{k} = {ss.get(k)!r}, expected {v!r}")
    if not ss.get("id", "").startswith("sess_") or not ev.get("event_id", "").startswith("event_"):
        failures.append(f"created: ids {ss.get('id')!r} {ev.get('event_id')!r}")
    if not ss["input_audio_transcription"]["model"]:
        failures.append("created: no model reported")
    await s.close()

    # No intent (what the official SDKs open): nothing until the first transcription event.
    s = await Session.open(srv, query="?model=pocketsphinx")
    await asyncio.sleep(0.5)
    if s.events:
        failures.append(f"no intent: events before any client event: {s.types()}")
    await s.send({"type": "transcription_session.update", "event_id": "u0",
                  "session": {"input_audio_format": "pcm16"}})
    await s.wait_type("transcription_session.updated")
    if s.types()[:2] != ["transcription_session.created", "transcription_session.updated"]:
        failures.append(f"no intent: expected created then updated, got {s.types()}")
    if s.events[0]["session"]["input_audio_transcription"]["model"] != "pocketsphinx":
        failures.append(f"no intent: the URL's model not reported: {s.events[0]}")
    await s.close()

    for query, code in (("?intent=conversation", "unsupported_intent"),
                        ("?intent=transcription&model=gpt-4o-bogus", "model_not_found")):
        s = await Session.open(srv, query=query)
        await asyncio.wait_for(s.reader, 10)
        errs = s.of("error")
        if s.close_code != 1008 or len(errs) != 1 or errs[0]["error"]["code"] != code:
            failures.append(f"{query}: expected one error {code} and close 1008, got "
                            f"{s.events} close {s.close_code}")
        else:
            h.log(f"  {query}: {errs[0]['error']['message']}")
        if code == "model_not_found" and "pocketsphinx" not in errs[0]["error"]["message"]:
            failures.append(f"model_not_found does not list the accepted names: {errs[0]}")


# ---- session updates ----

async def check_updates(srv, failures):
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    n = len(s.events)
    await s.send({"type": "transcription_session.update", "event_id": "u1", "session": {
        "input_audio_format": "g711_alaw",
        "input_audio_transcription": {"model": "pocketsphinx", "language": "en",
                                      "prompt": "Dashwood"},
        "turn_detection": {"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 200,
                           "silence_duration_ms": 800},
        "input_audio_noise_reduction": {"type": "far_field"},
        "include": ["item.input_audio_transcription.logprobs"]}})
    ev = await s.wait_type("transcription_session.updated", start=n)
    ss = ev["session"]
    want = {"input_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": "pocketsphinx", "language": "en",
                                          "prompt": "Dashwood"},
            "turn_detection": {"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 200,
                               "silence_duration_ms": 800},
            "input_audio_noise_reduction": {"type": "far_field"},
            "include": ["item.input_audio_transcription.logprobs"]}
    for k, v in want.items():
        if ss.get(k) != v:
            failures.append(f"full update: session.{k} = {ss.get(k)!r}, expected {v!r}")
    n = len(s.events)
    await s.send({"type": "transcription_session.update",
                  "session": {"turn_detection": {"silence_duration_ms": 300}}})
    ss = (await s.wait_type("transcription_session.updated", start=n))["session"]
    if ss["input_audio_format"] != "g711_alaw" or ss["turn_detection"] != {
            "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
            "silence_duration_ms": 300}:
        failures.append(f"partial update: {ss}")
    n = len(s.events)
    await s.send({"type": "transcription_session.update", "session": {"turn_detection": None}})
    ss = (await s.wait_type("transcription_session.updated", start=n))["session"]
    if ss["turn_detection"] is not None:
        failures.append(f"turn_detection null not echoed: {ss}")
    await s.close()


# ---- bad events ----

BAD = [
    ("not JSON", "{\"type\": ", "invalid_json", None, None),
    ("unknown type", {"type": "input_audio_buffer.flush", "event_id": "b1"}, "invalid_value",
     "type", "b1"),
    ("conversation event", {"type": "response.create", "event_id": "b2"}, "unsupported_event",
     "type", "b2"),
    ("semantic_vad", {"type": "transcription_session.update", "event_id": "b3",
                      "session": {"turn_detection": {"type": "semantic_vad"}}},
     "invalid_value", "session.turn_detection.type", "b3"),
    ("threshold 2", {"type": "transcription_session.update", "event_id": "b4",
                     "session": {"turn_detection": {"threshold": 2}}},
     "invalid_value", "session.turn_detection.threshold", "b4"),
    ("unknown parameter", {"type": "transcription_session.update", "event_id": "b5",
                           "session": {"voice": "alloy"}},
     "unknown_parameter", "session.voice", "b5"),
    ("bad base64", {"type": "input_audio_buffer.append", "event_id": "b6", "audio": "AAA*"},
     "invalid_value", "audio", "b6"),
    ("audio not a string", {"type": "input_audio_buffer.append", "audio": 5}, "invalid_type",
     "audio", None),
    ("unknown model", {"type": "transcription_session.update", "event_id": "b7",
                       "session": {"input_audio_transcription": {"model": "gpt-4o-transcribe"}}},
     "model_not_found", "session.input_audio_transcription.model", "b7"),
    ("binary frame", b"\x00\x01", "invalid_type", None, None),
    ("empty commit", {"type": "input_audio_buffer.commit", "event_id": "b8"},
     "input_audio_buffer_commit_empty", None, "b8"),
]


async def check_bad_events(srv, failures):
    """Every bad event on one connection: each answered with its error, the connection stays."""
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    for what, ev, code, param, eid in BAD:
        n = len(s.events)
        await s.send(ev)
        err = await s.wait_type("error", what, start=n, timeout=10)
        e = err["error"]
        ok = (e.get("type") == "invalid_request_error" and e.get("code") == code and
              isinstance(e.get("message"), str) and e["message"] and
              (param is None or e.get("param") == param) and e.get("event_id") == eid)
        if not ok:
            failures.append(f"bad event {what}: expected code {code} param {param} event_id "
                            f"{eid}, got {e}")
        else:
            h.log(f"  {what}: {code}: {e['message'][:100]}")
        # The connection stays usable.
        n = len(s.events)
        await s.send({"type": "input_audio_buffer.clear"})
        await s.wait_type("input_audio_buffer.cleared", f"cleared after {what}", start=n,
                          timeout=10)
    if s.close_code is not None:
        failures.append(f"bad events: the connection closed ({s.close_code})")
    await s.close()
    return len(BAD)


# ---- speech ----

def check_items(s, what, failures, vad=True, duration_ms=None):
    """The turn events in order, ids chained; returns the transcript."""
    started, stopped = s.of("input_audio_buffer.speech_started"), \
        s.of("input_audio_buffer.speech_stopped")
    committed = s.of("input_audio_buffer.committed")
    created = s.of("conversation.item.created")
    completed = s.of("conversation.item.input_audio_transcription.completed")
    if not committed or len(completed) != len(committed) or len(created) != len(committed):
        failures.append(f"{what}: {len(committed)} committed, {len(created)} created, "
                        f"{len(completed)} completed: {s.types()}")
        return ""
    if vad and (len(started) != len(committed) or len(stopped) != len(committed)):
        failures.append(f"{what}: {len(started)} speech_started, {len(stopped)} speech_stopped "
                        f"for {len(committed)} items")
    if not vad and (started or stopped):
        failures.append(f"{what}: speech events in manual mode: {s.types()}")
    prev = None
    ids = set()
    for i, c in enumerate(committed):
        item = c["item_id"]
        if c["previous_item_id"] != prev or item in ids or not item.startswith("item_"):
            failures.append(f"{what}: item {i}: {c} (previous should be {prev})")
        ids.add(item)
        order = [k for k, e in enumerate(s.events) if e.get("item_id") == item or
                 e.get("item", {}).get("id") == item]
        kinds = [s.events[k]["type"] for k in order]
        want = (["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
                if vad else []) + ["input_audio_buffer.committed", "conversation.item.created"]
        if [k for k in kinds if not k.startswith("conversation.item.input_audio")][:len(want)] \
                != want or kinds[-1] != "conversation.item.input_audio_transcription.completed":
            failures.append(f"{what}: item {item} events out of order: {kinds}")
        if vad:
            st = next(e for e in started if e["item_id"] == item)["audio_start_ms"]
            sp = next(e for e in stopped if e["item_id"] == item)["audio_end_ms"]
            if not (0 <= st < sp <= (duration_ms or sp) + 50):
                failures.append(f"{what}: item {item}: audio_start_ms {st}, audio_end_ms {sp}, "
                                f"audio {duration_ms} ms")
        deltas = "".join(e["delta"] for e in s.events if e.get("item_id") == item and
                         e["type"] == "conversation.item.input_audio_transcription.delta")
        final = next(e for e in completed if e["item_id"] == item)["transcript"]
        # Deltas are hypotheses' stable words: usually a prefix of the final; pocketsphinx
        # revises (measured: 'mr john s. ' before the final 'and mr john s. would ...').
        if deltas and not final.startswith(deltas):
            h.log(f"  {what}: item {item}: deltas {deltas!r} revised by the final")
        prev = item
    return s.transcript()


async def speech_vad(srv, pcm, ref, what, failures):
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    await s.send({"type": "transcription_session.update",
                  "session": {"turn_detection": {"type": "server_vad",
                                                 "silence_duration_ms": 700}}})
    tail = h.silence(1.5, 24000)
    audio = pcm + tail
    await s.append(audio, 4800, pace_s=0.025)   # 100 ms appends at 4x real time
    await s.wait(lambda e: e.get("type") ==
                 "conversation.item.input_audio_transcription.completed" and
                 len(s.of("conversation.item.input_audio_transcription.completed")) ==
                 len(s.of("input_audio_buffer.committed")) and not s.ws.closed and
                 len(s.of("input_audio_buffer.speech_started")) ==
                 len(s.of("input_audio_buffer.committed")), f"{what}: completed")
    text = check_items(s, what, failures, vad=True, duration_ms=len(audio) / 48)
    ov = h.word_overlap(ref, text)
    h.log(f"  {what}: {len(s.of('input_audio_buffer.committed'))} item(s), overlap {ov:.2f}: "
          f"{text[:100]!r}")
    if ov < MIN_OVERLAP:
        failures.append(f"{what}: word overlap {ov:.2f} < {MIN_OVERLAP}: {text!r} vs {ref!r}")
    await s.close()
    return text


async def speech_manual(srv, pcm, ref, failures):
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    await s.send({"type": "transcription_session.update", "session": {"turn_detection": None}})
    await s.wait_type("transcription_session.updated")
    await s.append(pcm + h.silence(2.0, 24000), 4800)
    await asyncio.sleep(1.5)
    if s.of("input_audio_buffer.committed"):
        failures.append(f"manual: committed without a commit: {s.types()}")
    n = len(s.events)
    await s.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    await s.wait_type("conversation.item.input_audio_transcription.completed", "manual completed",
                      start=n)
    text = check_items(s, "manual", failures, vad=False)
    ov = h.word_overlap(ref, text)
    h.log(f"  manual commit: overlap {ov:.2f}: {text[:100]!r}")
    if ov < MIN_OVERLAP:
        failures.append(f"manual: word overlap {ov:.2f} < {MIN_OVERLAP}: {text!r}")
    # Clear drops what was appended: the commit after it finds nothing.
    await s.append(pcm[: 24000 * 2 * 2], 4800)
    n = len(s.events)
    await s.send({"type": "input_audio_buffer.clear", "event_id": "k1"})
    await s.wait_type("input_audio_buffer.cleared", start=n)
    await s.send({"type": "input_audio_buffer.commit", "event_id": "c2"})
    err = await s.wait_type("error", "commit after clear", start=n)
    if err["error"]["code"] != "input_audio_buffer_commit_empty" or \
            err["error"]["event_id"] != "c2":
        failures.append(f"commit after clear: {err}")
    await asyncio.sleep(1.0)
    if len(s.of("conversation.item.input_audio_transcription.completed")) != 1:
        failures.append(f"clear: the cleared audio was transcribed: {s.types()}")
    await s.close()


async def speech_ulaw(srv, ul, ref, failures):
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    await s.send({"type": "transcription_session.update",
                  "session": {"input_audio_format": "g711_ulaw"}})
    ev = await s.wait_type("transcription_session.updated")
    if ev["session"]["input_audio_format"] != "g711_ulaw":
        failures.append(f"g711_ulaw not echoed: {ev}")
    await s.append(ul + b"\xff" * 12000, 800)   # 100 ms appends, 1.5 s of mu-law silence
    await s.wait(lambda e: e.get("type") ==
                 "conversation.item.input_audio_transcription.completed" and
                 len(s.of("conversation.item.input_audio_transcription.completed")) ==
                 len(s.of("input_audio_buffer.committed")), "ulaw completed")
    text = check_items(s, "g711_ulaw", failures, vad=True, duration_ms=len(ul) / 8 + 1500)
    ov = h.word_overlap(ref, text)
    h.log(f"  g711_ulaw 8 kHz: overlap {ov:.2f}: {text[:100]!r}")
    if ov < MIN_OVERLAP_ULAW:
        failures.append(f"g711_ulaw: word overlap {ov:.2f} < {MIN_OVERLAP_ULAW}: {text!r}")
    await s.close()


async def drain(srv, pcm, failures):
    """SIGTERM while an item is being spoken: it is committed and transcribed, then 1001."""
    s = await Session.open(srv)
    await s.wait_type("transcription_session.created")
    await s.append(pcm[: len(pcm) // 2], 4800)
    await s.wait_type("input_audio_buffer.speech_started")
    srv.signal(signal.SIGTERM)
    await asyncio.wait_for(s.reader, 30)
    done = s.of("conversation.item.input_audio_transcription.completed")
    if s.close_code != 1001 or len(s.of("input_audio_buffer.committed")) != 1 or \
            len(done) != 1 or not done[0]["transcript"]:
        failures.append(f"drain: expected committed, completed and close 1001, got {s.types()} "
                        f"close {s.close_code}")
    else:
        h.log(f"  drain: completed {done[0]['transcript'][:60]!r}, close 1001")


def protocol_errors(srv):
    _, _, body = srv.get("/metrics", {"Accept": h.PROM_ACCEPT_PLAIN})
    total = 0
    for line in body.decode().splitlines():
        if line.startswith("stt_protocol_errors_total{") and 'protocol="openai_realtime"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


async def run(srv, tmp, failures):
    step = h.stepper(failures)
    utt, wav, ref = h.librivox_set()[0]
    pcm = audio_24k(tmp, wav)
    ul = audio_ulaw(tmp, wav)
    step("auth", lambda: check_auth(srv, failures))
    await check_open(srv, failures)
    await check_updates(srv, failures)
    solo = await speech_vad(srv, pcm, ref, "server_vad solo", failures)
    before = protocol_errors(srv)
    # The good session streams while the bad events hit another connection.
    res = await asyncio.gather(speech_vad(srv, pcm, ref, "server_vad beside bad", failures),
                               check_bad_events(srv, failures))
    if h.normalize(res[0]) != h.normalize(solo):
        failures.append(f"the good session's transcript changed beside the bad ones: "
                        f"{solo!r} -> {res[0]!r}")
    counted = protocol_errors(srv) - before
    if counted < res[1]:
        failures.append(f"stt_protocol_errors_total rose by {counted}, expected >= {res[1]}")
    else:
        h.log(f"  stt_protocol_errors_total{{protocol=\"openai_realtime\"}} +{counted}")
    await speech_manual(srv, pcm, ref, failures)
    await speech_ulaw(srv, ul, ref, failures)
    await drain(srv, pcm, failures)


def main():
    h.watchdog(170)
    failures = []
    tmp = h.tmpdir("openai-rt")
    srv = h.Server("--api_key", KEY, *h.NO_LOAD_SHEDDING, name="openai-rt")
    srv.start()
    try:
        h.run_async(run(srv, tmp, failures))
    except AssertionError as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("server exit status not 0")
    if failures:
        h.log(srv.log_tail(40))
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

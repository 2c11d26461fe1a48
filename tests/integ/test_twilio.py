#!/usr/bin/python3
"""Twilio-family media streams (/twilio and its aliases) with out-of-band results, against
emulated platform clients that replay the exact message layout of
../shared/specs/telephony-protocols.md sections 1 and 5 in real time (one message per track
every 20 ms), with librivox speech converted by sox to each platform's codec.

Part 1, real Whisper tiny.en weights (skipped with 77 when absent), two calls at a time:
  - Twilio (/twilio): `connected`, `start` (string counters, customParameters with call_id and
    webhook_url), `media` every 20 ms carrying 160 bytes of base64 mu-law, `stop`, close. A
    second Twilio call with both_tracks: different recordings inbound and outbound, keyed by its
    callSid. A subscriber of /v1/calls/{id}/events is opened BEFORE each call; a webhook receiver
    (--webhook_url, HMAC checked) gets every event, and a second receiver the call that named it
    in customParameters.webhook_url (allowed by --webhook_allow). Asserted: zero messages back on
    every socket; partials and finals on both sinks, tagged with the call id and the track (each
    track of the both_tracks call has its own transcript); stream_id = streamSid; the webhook's
    events equal the subscriber's; every signature verifies; corpus WER <= MAX_WER (printed).
  - Telnyx (/telnyx): snake_case, PCMU; a call in order and one with its chunks shuffled within
    the reorder window give the same transcript; a call with chunks delayed past the window has
    them dropped and counted (stt_protocol_errors_total{protocol="telnyx",error="chunk_late"}).
  - Plivo (/plivo): L16 8 kHz, numbers as counters, extra_headers, no stop: the socket just
    closes, the final still arrives (call_end "closed").
  - SignalWire (/signalwire): Twilio's layout with L16 16 kHz.
  - Vonage (/vonage): websocket:connected (content-type audio/l16;rate=16000, call_id header),
    then binary L16 16 kHz 640-byte frames, a websocket:dtmf; the close ends the call.
  WER per platform is printed.

Part 2, pocketsphinx (protocol behaviour), all at once beside a good SignalWire L16 16 kHz call:
an Exotel call (audio/x-raw in 100 ms chunks) and
garbage base64 (1007 bad_base64), an unknown codec in mediaFormat (1007 unsupported_codec),
media before start (1008), 0-length payloads (skipped and counted, the call goes on), a start
that never arrives (--idle_timeout closes 1000), client close codes 16, 999 and 5000 (outside
1000-4999: the call ends, its finals still delivered), binary on a Twilio stream (1003), a second
start (1008), an oversize message (1009). The good call gets its finals and its call_end, each
error is counted in /metrics, nothing is sent back, the server stays healthy and exits cleanly.
Also: --twilio_path moves the endpoint (null engine)."""

import asyncio
import json
import os
import random
import sys
import time

import websockets

import audiosocket_client as ac
import harness as h
from twilio_client import Platform, b64, frames, padded, twilio_ticks

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SKIP = 77
SECRET = "twilio-test-secret"
WINDOW = 8
# Measured on the 2-core machine (tiny.en, two calls / three streams at once): Twilio 0.114
# (5 errors / 44 words: "mister" -> "Mr.", "ill disposed" -> "old-sposed", "cold hearted" ->
# "coldhearted"); every platform together 0.075 (10 / 134). Bounds: about 3-4 words more.
MAX_WER_TWILIO = 0.19
MAX_WER_ALL = 0.11
MIN_OVERLAP_PS = 0.4


def whisper_args(models_root):
    return ["--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root", models_root,
            "--device", "cpu", "--workers", "2", "--whisper_threads", "1", "--language", "en",
            "--beam_size", "1", "--no-whisper_fallback", "--initial_prompt", "",
            "--no-admission_control", "--twilio_reorder_window", str(WINDOW)]


class started:
    """`with started(srv, timeout):` start, then stop on the way out (exit status 0 and no
    sanitizer report required; the log tail is printed on a failure)."""

    def __init__(self, srv, ready_timeout=20.0):
        self.srv, self.ready_timeout = srv, ready_timeout

    def __enter__(self):
        return self.srv.start(ready_timeout=self.ready_timeout)

    def __exit__(self, et, ev, tb):
        return self.srv.__exit__(et, ev, tb)


# ---- message layouts -------------------------------------------------------------------------

def telnyx_ticks(stream_id, cc_id, pcm, order=None):
    """Telnyx: snake_case, PCMU, media in the given chunk order (indices into the frames)."""
    fr = frames(pcm, 160)
    order = order if order is not None else list(range(len(fr)))
    ticks = [[json.dumps({"event": "connected", "version": "1.0.0"})],
             [json.dumps({"event": "start", "sequence_number": "1", "start": {
                 "user_id": "3E6F995F-85F7-4705-9741-53B116D28237", "call_control_id": cc_id,
                 "call_session_id": "ff55a038-6f5d-11ef-9692-02420a0daa69",
                 "from": "+13122010094", "to": "+13122123456", "custom_parameters": {},
                 "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}},
                 "stream_id": stream_id})]]
    for n, k in enumerate(order):
        ticks.append([json.dumps({"event": "media", "sequence_number": str(n + 2), "media": {
            "track": "inbound", "chunk": str(k + 1), "timestamp": str(k * 20),
            "payload": b64(fr[k])}, "stream_id": stream_id})])
    ticks.append([json.dumps({"event": "stop", "sequence_number": str(len(order) + 2),
                              "stop": {"call_control_id": cc_id}, "stream_id": stream_id})])
    return ticks


def plivo_ticks(stream_id, call_id, pcm):
    """Plivo: L16 8 kHz (320-byte frames), numbers, extra_headers, no stop."""
    ticks = [[json.dumps({"event": "start", "sequenceNumber": 1, "start": {
        "callId": call_id, "streamId": stream_id, "accountId": "MAXXXXXXXXXXXXXXXXXX",
        "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 8000}},
        "extra_headers": "userId=12345;sessionId=abcxyz"})]]
    t0 = int(time.time() * 1000)
    for k, f in enumerate(frames(pcm, 320)):
        ticks.append([json.dumps({"event": "media", "sequenceNumber": k + 2, "streamId": stream_id,
                                  "media": {"track": "inbound", "timestamp": str(t0 + 20 * k),
                                            "chunk": k + 1, "payload": b64(f)},
                                  "extra_headers": "userId=12345;sessionId=abcxyz"})])
    return ticks


def vonage_ticks(call_id, pcm, dtmf_at=None):
    """Vonage: websocket:connected (headers at the top level), then binary 640-byte frames."""
    ticks = [[json.dumps({"event": "websocket:connected", "content-type": "audio/l16;rate=16000",
                          "call_id": call_id, "prop1": "value1"})]]
    for k, f in enumerate(frames(pcm, 640)):
        tick = [f]
        if k == dtmf_at:
            tick.append(json.dumps({"event": "websocket:dtmf", "digit": "5", "duration": 260}))
        ticks.append(tick)
    return ticks


def exotel_ticks(stream_sid, call_sid, pcm):
    """Exotel: snake_case with stream_sid, audio/x-raw (L16 8 kHz) in 100 ms chunks (1600 bytes,
    one message every fifth 20 ms tick), string counters, stop."""
    ticks = [[json.dumps({"event": "connected"})],
             [json.dumps({"event": "start", "sequence_number": "1", "stream_sid": stream_sid,
                          "start": {"stream_sid": stream_sid, "call_sid": call_sid,
                                    "account_sid": "AC1234", "from": "+919876543210",
                                    "to": "+918047491899", "custom_parameters": {"k": "v"},
                                    "media_format": {"encoding": "audio/x-raw",
                                                     "sample_rate": "8000", "bit_rate": "16"}}})]]
    for k, f in enumerate(frames(pcm, 1600)):
        ticks.append([json.dumps({"event": "media", "sequence_number": str(k + 2),
                                  "stream_sid": stream_sid, "media": {
                                      "chunk": str(k + 1), "timestamp": str(100 * k),
                                      "payload": b64(f)}})])
        ticks += [[]] * 4
    ticks.append([json.dumps({"event": "stop", "sequence_number": str(k + 3),
                              "stream_sid": stream_sid,
                              "stop": {"call_sid": call_sid, "account_sid": "AC1234",
                                       "reason": "callended"}})])
    return ticks


def check_events(name, sub, call_id, protocol, failures, tracks=("inbound",), stream_id=None,
                 reason="stop", partials=True):
    bad = ac.check_seq(sub.events, call_id)
    kinds = sub.kinds()
    for k in ("call_start", "final", "call_end") + (("partial",) if partials else ()):
        if k not in kinds:
            bad.append(f"no {k} event")
    if any(e.get("protocol") != protocol for e in sub.events):
        bad.append(f"an event without protocol {protocol}: "
                   f"{sorted(set(str(e.get('protocol')) for e in sub.events))}")
    if stream_id and any(e.get("stream_id") != stream_id for e in sub.events):
        bad.append(f"an event without stream_id {stream_id}")
    for t in tracks:
        if not any(e["event"] == "final" and e.get("track") == t for e in sub.events):
            bad.append(f"no final on track {t}")
    if any(e["event"] in ("partial", "final") and e.get("track") not in tracks
           for e in sub.events):
        bad.append("a result on an unexpected track")
    ends = [e for e in sub.events if e["event"] == "call_end"]
    if ends and ends[-1].get("reason") != reason:
        bad.append(f"call_end reason {ends[-1].get('reason')!r}, expected {reason!r}")
    for b in bad:
        failures.append(f"{name}: {b}")
    return not bad


def final_text(sub, track=None):
    return " ".join(e["text"] for e in sub.finals() if track is None or e.get("track") == track)


def prom(srv):
    return srv.get("/metrics", {"Accept": h.PROM_ACCEPT_PLAIN})[2].decode()


def perr(text, protocol, error):
    return ac.prom_value(text, "stt_protocol_errors_total",
                         f'protocol="{protocol}",error="{error}"') or 0


# ---- part 1: real weights -------------------------------------------------------------------

async def pair(srv, runs):
    """Subscribes every call id first, then runs the platforms at once; returns subscribers."""
    subs = [await ac.Subscriber(srv.data_port, cid).start() for cid, _ in runs]
    await asyncio.sleep(0.1)
    await asyncio.gather(*[r for _, r in runs])
    for s in subs:
        await s.wait_end(60)
    for s in subs:
        await s.stop()
    return subs


def part_whisper(lib, failures):
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP part 1: no faster-whisper tiny.en at {MODEL_DIR}")
        return SKIP
    tmp = h.tmpdir("tw-whisper")
    ul = {u: padded(ac.pcm_of(p, 8000, "mu-law", 8, tmp=tmp), 8000, 1, silence_byte=b"\xff")
          for u, p, _ in lib}
    l8 = {u: padded(ac.pcm_of(p, 8000, tmp=tmp), 8000, 2) for u, p, _ in lib}
    l16 = {u: padded(ac.pcm_of(p, 16000, tmp=tmp), 16000, 2) for u, p, _ in lib}
    ref = {u: r for u, _, r in lib}
    U = [u for u, _, _ in lib]
    recv, own = ac.WebhookReceiver(SECRET), ac.WebhookReceiver(SECRET)
    pairs = {}
    try:
        srv = h.Server(*whisper_args(os.path.join(tmp, "models")), "--webhook_url", recv.url,
                       "--webhook_secret", SECRET, "--webhook_allow",
                       f"http://127.0.0.1:{own.port}/", engine="whisper", name="tw-whisper",
                       drain_timeout=10)
        with started(srv, 120):
            port = srv.data_port
            # Round 1: Twilio, one track with its own call_id and webhook; both_tracks by callSid.
            a_id, b_sid = "order-4711", "CA8b6d2c8a0c3e4c2f9e1d0b7a6c5d4e3f"
            a = Platform(port, "/twilio", "twilio_a")
            b = Platform(port, "/twilio", "twilio_both")
            subs = h.run_async(pair(srv, [
                (a_id, a.run(twilio_ticks("MZa", "CAa000", {"inbound": ul[U[0]]},
                                          {"call_id": a_id, "webhook_url": own.url,
                                           "customer": "42"}))),
                (b_sid, b.run(twilio_ticks("MZb", b_sid, {"inbound": ul[U[1]],
                                                          "outbound": ul[U[2]]}, {})))]))
            check_events("twilio_a", subs[0], a_id, "twilio", failures, stream_id="MZa")
            check_events("twilio_both", subs[1], b_sid, "twilio", failures,
                         tracks=("inbound", "outbound"), stream_id="MZb")
            start = subs[0].events[0] if subs[0].events else {}
            if start.get("parameters", {}).get("customer") != "42":
                failures.append(f"twilio_a: call_start parameters {start.get('parameters')}")
            pairs["twilio"] = [(ref[U[0]], final_text(subs[0])),
                               (ref[U[1]], final_text(subs[1], "inbound")),
                               (ref[U[2]], final_text(subs[1], "outbound"))]
            for p in (a, b):
                if p.received:
                    failures.append(f"{p.name}: the server sent {len(p.received)} messages")
            time.sleep(1.0)
            for cid, sub in ((a_id, subs[0]), (b_sid, subs[1])):
                hook = recv.events_of(cid)
                if hook != sub.events:
                    failures.append(f"webhook events of {cid} differ from the subscriber's: "
                                    f"{[e['seq'] for e in hook]} vs "
                                    f"{[e['seq'] for e in sub.events]}")
            if own.events_of(a_id) != subs[0].events or own.events_of(b_sid):
                failures.append("the call's own webhook_url did not get exactly its events")
            bad_sig = [p for p in recv.posts + own.posts if not p["ok_sig"]]
            if bad_sig or not recv.posts:
                failures.append(f"{len(bad_sig)} of {len(recv.posts) + len(own.posts)} webhook "
                                "signatures did not verify")
            h.log(f"twilio_a: {final_text(subs[0])!r}")
            h.log(f"twilio_both inbound: {final_text(subs[1], 'inbound')!r}; outbound: "
                  f"{final_text(subs[1], 'outbound')!r}")

            # Round 2: Telnyx in order, and shuffled within the window (displacement < 8).
            fr = len(frames(ul[U[3]], 160))
            order = []
            rnd = random.Random(14)
            for g in range(0, fr, 6):
                grp = list(range(g, min(g + 6, fr)))
                rnd.shuffle(grp)
                order += grp
            t1 = Platform(port, "/telnyx", "telnyx_in_order")
            t2 = Platform(port, "/telnyx", "telnyx_shuffled")
            subs = h.run_async(pair(srv, [
                ("v3:telnyx-1", t1.run(telnyx_ticks("ts-1", "v3:telnyx-1", ul[U[3]]))),
                ("v3:telnyx-2", t2.run(telnyx_ticks("ts-2", "v3:telnyx-2", ul[U[3]], order)))]))
            check_events("telnyx_in_order", subs[0], "v3:telnyx-1", "telnyx", failures,
                         stream_id="ts-1")
            check_events("telnyx_shuffled", subs[1], "v3:telnyx-2", "telnyx", failures,
                         stream_id="ts-2")
            if final_text(subs[0]) != final_text(subs[1]):
                failures.append(f"telnyx: shuffled within the window gave {final_text(subs[1])!r},"
                                f" in order {final_text(subs[0])!r}")
            pairs["telnyx"] = [(ref[U[3]], final_text(subs[0])), (ref[U[3]], final_text(subs[1]))]
            text = prom(srv)
            if perr(text, "telnyx", "chunk_late") or perr(text, "telnyx", "chunk_duplicate"):
                failures.append("telnyx: chunks dropped though shuffled within the window")

            # Round 3: Plivo L16 8 kHz without stop; SignalWire L16 16 kHz.
            pl = Platform(port, "/plivo", "plivo")
            sw = Platform(port, "/signalwire", "signalwire")
            sw_sid = "e2a7bb79-1a1c-4b0b-8e1e-6e4b1b0f3a44"
            subs = h.run_async(pair(srv, [
                ("plivo-call-1", pl.run(plivo_ticks("ps-1", "plivo-call-1", l8[U[4]]))),
                (sw_sid, sw.run(twilio_ticks("sws-1", sw_sid, {"inbound": l16[U[0]]},
                                             {"FirstName": "Jane"}, "audio/x-l16", 16000,
                                             640)))]))
            check_events("plivo", subs[0], "plivo-call-1", "plivo", failures, stream_id="ps-1",
                         reason="closed")
            check_events("signalwire", subs[1], sw_sid, "signalwire", failures,
                         stream_id="sws-1")
            params = subs[0].events[0].get("parameters", {}) if subs[0].events else {}
            if params.get("userId") != "12345":
                failures.append(f"plivo: extra_headers not in call_start parameters: {params}")
            pairs["plivo"] = [(ref[U[4]], final_text(subs[0]))]
            pairs["signalwire"] = [(ref[U[0]], final_text(subs[1]))]

            # Round 4: Vonage binary L16 16 kHz; Telnyx with chunks delayed past the window.
            fr = len(frames(ul[U[2]], 160))
            delayed = list(range(60, fr - 40, 50))
            order = [k for k in range(fr) if k not in delayed]
            for k in delayed:  # each comes 20 positions late (> the window of 8)
                order.insert(order.index(k + 20) + 1 if k + 20 in order else len(order), k)
            vo = Platform(port, "/vonage", "vonage")
            t3 = Platform(port, "/telnyx", "telnyx_late")
            subs = h.run_async(pair(srv, [
                ("vonage-call-1", vo.run(vonage_ticks("vonage-call-1", l16[U[1]], dtmf_at=30))),
                ("v3:telnyx-3", t3.run(telnyx_ticks("ts-3", "v3:telnyx-3", ul[U[2]], order)))]))
            check_events("vonage", subs[0], "vonage-call-1", "vonage", failures,
                         tracks=("mixed",), reason="closed")
            if not any(e["event"] == "dtmf" and e.get("digit") == "5" for e in subs[0].events):
                failures.append("vonage: no dtmf event with digit 5")
            check_events("telnyx_late", subs[1], "v3:telnyx-3", "telnyx", failures)
            text = prom(srv)
            late = perr(text, "telnyx", "chunk_late")
            h.log(f"telnyx_late: {len(delayed)} chunks delayed 20 positions: chunk_late {late}, "
                  f"chunk_missing {perr(text, 'telnyx', 'chunk_missing')}: "
                  f"{final_text(subs[1])!r}")
            if late != len(delayed):
                failures.append(f"telnyx_late: chunk_late {late}, expected {len(delayed)}")
            pairs["vonage"] = [(ref[U[1]], final_text(subs[0]))]
            pairs["telnyx_late"] = [(ref[U[2]], final_text(subs[1]))]
            for p in (t1, t2, t3, pl, sw, vo):
                if p.received:
                    failures.append(f"{p.name}: the server sent {len(p.received)} messages")
    finally:
        recv.stop()
        own.stop()
    allp = []
    for name, ps in pairs.items():
        err, n_words, n_err = h.wer(ps)
        allp += ps
        h.log(f"{name} WER (whisper tiny.en): {err:.3f} ({n_err} errors / {n_words} words)")
        if name == "twilio":
            h.log(f"Twilio WER (mu-law 8 kHz, 3 streams at once): {err:.3f}; bound "
                  f"{MAX_WER_TWILIO}")
            if err > MAX_WER_TWILIO:
                failures.append(f"Twilio WER {err:.3f} > {MAX_WER_TWILIO}")
    err, n_words, n_err = h.wer(allp)
    h.log(f"all Twilio-family WER: {err:.3f} ({n_err} errors / {n_words} words); bound "
          f"{MAX_WER_ALL}")
    if err > MAX_WER_ALL:
        failures.append(f"all Twilio-family WER {err:.3f} > {MAX_WER_ALL}")
    return 0


# ---- part 2: negative cases on pocketsphinx -------------------------------------------------

async def negative_calls(srv, lib, tmp):
    port = srv.data_port
    _, path0, ref0 = lib[0]
    l16 = padded(ac.pcm_of(path0, 16000, tmp=tmp), 16000, 2)
    ul = padded(ac.pcm_of(lib[1][1], 8000, "mu-law", 8, tmp=tmp), 8000, 1, silence_byte=b"\xff")
    P = {n: Platform(port, "/twilio", n) for n in (
        "garbage", "codec", "before_start", "zero_len", "no_start", "close16", "close999",
        "close5000", "binary", "start_twice", "oversize")}
    P["good"] = Platform(port, "/signalwire", "good")
    P["exotel"] = Platform(port, "/exotel", "exotel")
    ids = {n: f"neg-{n}" for n in P}
    l8 = padded(ac.pcm_of(lib[1][1], 8000, tmp=tmp), 8000, 2)
    subs = {n: await ac.Subscriber(port, ids[n]).start() for n in P}
    await asyncio.sleep(0.1)

    def call(n, pcm=ul, **kw):
        return twilio_ticks(f"MZ{n}", ids[n], {"inbound": pcm}, {}, **kw)

    short = ul[:8000 * 2]  # 2 s: the start of the speech
    g = call("garbage", short)
    g.insert(40, [json.dumps({"event": "media", "streamSid": "MZgarbage",
                              "media": {"track": "inbound", "payload": "!!!not base64!!!"}})])
    zero = call("zero_len", ul)
    for k in (10, 60, 90):
        zero.insert(k, [json.dumps({"event": "media", "streamSid": "MZzero_len",
                                    "media": {"track": "inbound", "payload": ""}})])
    before = call("before_start", short)
    before = [before[0], before[2], before[1]] + before[3:]
    twice = call("start_twice", short)
    twice.insert(20, twice[1])
    binary = call("binary", short)
    binary.insert(20, [b"\x00\x01" * 80])
    big = call("oversize", short)
    big.insert(20, [json.dumps({"event": "media", "streamSid": "MZoversize", "media": {
        "track": "inbound", "payload": b64(b"\xff" * 60000)}})])
    runs = [
        P["good"].run(twilio_ticks("MZgood", ids["good"], {"inbound": l16}, {},
                                   "audio/x-l16", 16000, 640)),
        P["exotel"].run(exotel_ticks("MZexotel", ids["exotel"], l8)),
        P["garbage"].run(g, linger_s=0.5),
        P["codec"].run(call("codec", short, encoding="audio/opus", rate=48000), linger_s=0.5),
        P["before_start"].run(before, linger_s=0.5),
        P["zero_len"].run(zero),
        # connected, then nothing: --idle_timeout (3 s) ends it
        P["no_start"].run([[json.dumps({"event": "connected", "protocol": "Call",
                                        "version": "1.0.0"})]], close=False, linger_s=5.0),
        P["close16"].run(call("close16", ul[:3 * 8000], stop=False), raw_close=16),
        P["close999"].run(call("close999", ul[:3 * 8000], stop=False), raw_close=999),
        P["close5000"].run(call("close5000", ul[:3 * 8000], stop=False), raw_close=5000),
        P["binary"].run(binary, linger_s=0.5),
        P["start_twice"].run(twice, linger_s=0.5),
        P["oversize"].run(big, linger_s=0.5),
    ]
    await asyncio.gather(*runs)
    for n in ("good", "exotel", "zero_len", "close16", "close999", "close5000", "garbage", "binary",
              "start_twice", "oversize"):
        await subs[n].wait_end(30)
    await asyncio.sleep(0.3)
    for s in subs.values():
        await s.stop()
    return P, subs, ids, ref0


def part_negative(lib, failures):
    tmp = h.tmpdir("tw-neg")
    srv = h.Server(*h.NO_LOAD_SHEDDING, "--idle_timeout", "3", "--twilio_max_message_bytes",
                   "65536", engine="pocketsphinx", name="tw-neg")
    with started(srv):
        P, subs, ids, ref0 = h.run_async(negative_calls(srv, lib, tmp))
        log = srv.log_text()

        def expect(cond, what):
            if not cond:
                failures.append(what)

        for n, p in P.items():
            expect(not p.received, f"{n}: the server sent {p.received[:3]!r}")
            h.log(f"{n}: closed by the server {p.server_closed}, code {p.close_code} "
                  f"{p.close_reason!r}; {len(subs[n].events)} events {subs[n].kinds()[-3:]}")
        check_events("good", subs["good"], ids["good"], "signalwire", failures, partials=False)
        ov = h.word_overlap(ref0, final_text(subs["good"]))
        h.log(f"good: overlap {ov:.2f}: {final_text(subs['good'])!r}")
        expect(ov >= MIN_OVERLAP_PS, f"good: overlap {ov:.2f} < {MIN_OVERLAP_PS}")
        check_events("exotel", subs["exotel"], ids["exotel"], "exotel", failures,
                     partials=False, stream_id="MZexotel")
        h.log(f"exotel (pocketsphinx, 8 kHz): {final_text(subs['exotel'])!r}")
        check_events("zero_len", subs["zero_len"], ids["zero_len"], "twilio", failures,
                     partials=False)
        for n, code, word in (("garbage", 1007, "bad_base64"), ("codec", 1007,
                              "unsupported_codec"), ("before_start", 1008, "media_before_start"),
                              ("binary", 1003, "unexpected_binary"),
                              ("start_twice", 1008, "start_twice"),
                              ("oversize", 1009, "message_too_large"),
                              ("no_start", 1000, "idle timeout")):
            expect(P[n].close_code == code and word in (P[n].close_reason or ""),
                   f"{n}: closed with {P[n].close_code} {P[n].close_reason!r}, expected {code} "
                   f"{word}")
        for n in ("garbage", "binary", "start_twice", "oversize"):
            ends = [e for e in subs[n].events if e["event"] == "call_end"]
            expect(ends and ends[-1].get("reason") == "protocol_error",
                   f"{n}: call_end {ends[-1] if ends else None}, expected protocol_error")
        for n in ("codec", "before_start", "no_start"):
            expect(subs[n].events == [], f"{n}: a call that never started has events")
        for n in ("close16", "close999", "close5000"):
            ends = [e for e in subs[n].events if e["event"] == "call_end"]
            expect(ends and ends[-1].get("reason") == "closed",
                   f"{n}: call_end {ends[-1] if ends else None}, expected closed")
        text = prom(srv)
        for err, want in (("bad_base64", 1), ("unsupported_codec", 1), ("media_before_start", 1),
                          ("empty_payload", 3), ("unexpected_binary", 1), ("start_twice", 1),
                          ("message_too_large", 1)):
            got = perr(text, "twilio", err)
            expect(got == want, f"stt_protocol_errors_total{{twilio,{err}}} = {got}, want {want}")
        expect(ac.prom_value(text, "stt_oob_calls_active") == 0, "stt_oob_calls_active != 0")
        st, _ = srv.get_json("/health")
        expect(st == 200, f"/health {st} after the negative calls")
        expect("media before start" in log, "no log line for media before start")


def part_path(failures):
    """--twilio_path moves the endpoint: a Twilio message at the new path reaches the adapter
    (media before start: 1008), and /plivo still does."""
    srv = h.Server("--twilio_path", "/media/stream", engine="null", name="tw-path")
    with started(srv):
        async def go(path):
            async with websockets.connect(f"ws://127.0.0.1:{srv.data_port}{path}") as ws:
                await ws.send(json.dumps({"event": "media", "streamSid": "x",
                                          "media": {"payload": ""}}))
                try:
                    await asyncio.wait_for(ws.recv(), 3)
                except websockets.ConnectionClosed:
                    pass
                return ws.close_code, ws.close_reason
        for path in ("/media/stream", "/plivo"):
            code, reason = h.run_async(go(path))
            if code != 1008 or not reason.startswith("media_before_start"):
                failures.append(f"--twilio_path: {path} closed {code} {reason!r}")


def main():
    h.watchdog(290)
    failures = []
    lib = h.librivox_set()
    step = h.stepper(failures)
    step("path", lambda: part_path(failures))
    step("negative", lambda: part_negative(lib, failures))
    rc = part_whisper(lib, failures)
    if rc == SKIP and not failures:
        return SKIP
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

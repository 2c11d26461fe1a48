#!/usr/bin/python3
"""The "metadata then raw PCM" endpoints /audio_fork, /audio_stream and /listen on the data
port (docs/protocol.md, "FreeSWITCH audio_fork / audio_stream, jambonz listen"), driven by
emulations of FreeSWITCH mod_audio_fork (subprotocol audio.drachtio.org, an opaque metadata
string first), jambonz's listen verb (subprotocol audio.jambonz.org, a JSON metadata frame with
callSid, sampleRate, mixType, metadata) and mod_audio_stream (no metadata, rate in the URL,
permessage-deflate offered), streaming L16 LE at real time in 20 ms frames.

Part 1, pocketsphinx, --ws_deflate off (protocol behaviour; always runs):
  - subprotocols: audio.drachtio.org and audio.jambonz.org are echoed in the 101; a client that
    offers only an unknown subprotocol gets no 101 (lws ends the handshake: documented) and the
    server goes on;
  - mod_audio_stream offering permessage-deflate: the server answers without
    Sec-WebSocket-Extensions (declined by omission), audio flows, transcripts come back
    (?transcribe=1) and match the recording;
  - in-band events only when asked: a listen call without the flag receives nothing on its
    socket although its log shows finals; with metadata {"transcribe": true} it gets
    {"type": "transcription", "data": {is_final, alternatives[0].transcript/confidence,
    channel, language, callSid}} with its callSid;
  - stereo 16 kHz with two different recordings, in frames of 642 bytes (not a whole number of
    stereo frames: every message ends inside a frame) plus 0-length frames and a DTMF-like text
    frame: channel 1's finals are recording X's words, channel 2's recording Y's;
  - with --ws_deflate (a second server) the same offer is negotiated and the compressed audio
    gives the same words;
  - errors: metadata sampleRate 44100 -> {"type":"error"} (events on) and close 1007; URL
    rate=11025 -> close 1007; mixType "quad" -> close 1007;
  - close codes outside 1000-4999 sent by a raw client (16, as Asterisk sends hang-up causes;
    999; 5000) and a plain TCP drop mid-call: no crash, the streaming call beside them
    unaffected, the server exits cleanly;
  - out-of-band results (after the above): subscribers of /v1/calls/{id}/events, opened before
    the calls, of a listen call (callSid in the JSON metadata, no in-band events asked) whose
    client drops the TCP connection in the middle of a word, and of an audio_fork call (URL
    call_id=, opaque metadata, in-band events on) closed normally in the middle of speech: each
    gets call_start, speech_start, partials, finals and call_end (reason "closed") in seq order
    with its protocol ("listen", "audiofork") and track ("mono", "mixed"), including a final
    sent after the client was gone whose end is the cut (the words still in progress), and the
    finals overlap the part of the recording that was sent; the first client, which did not
    ask for in-band events, received nothing on its socket.
Part 2, whisper tiny.en real weights, --ws_deflate on (skipped, exit 77, when absent): WER per
  protocol, two streams at a time: stereo 8 kHz listen (two recordings), listen 8 kHz mono +
  audio_fork 16 kHz opaque metadata, audio_stream 8 kHz without metadata with deflate
  negotiated. Each WER is printed; bound MAX_WER on the whole set.

Bounds from measured values (2026-12-05, 2-core machine, two runs alike): whisper tiny.en WER
0.056 overall (4 errors of 71 words; per protocol: listen stereo 8k 0.100 (3/30), listen mono
8k 0.000, audio_fork 16k 0.053, audio_stream 8k deflate 0.000); MAX_WER 0.10 overall,
MAX_WER_ONE 0.25 per protocol. pocketsphinx (part 1): each stereo channel and the audio_stream
call must share MIN_OVERLAP 0.5 of their reference's words (measured 0.75-0.89), and each
stereo channel must be closer to its own recording than to the other channel's."""

import asyncio
import base64
import json
import os
import re
import socket
import struct
import sys
import time

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

import harness as h
import audiosocket_client as ac

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SKIP = 77
TAIL_S = 1.5         # silence after the speech: the end-pointing closes the utterance
QUIET_S = 2.5        # after the audio: a call closes once nothing came for this long ...
SETTLE_MAX_S = 40.0  # ... or after this (finals come late on a loaded 2-core machine)
MAX_WER = 0.10
MAX_WER_ONE = 0.25   # per protocol (8 to 30 words each); a wrong rate or channel gives ~1
MIN_OVERLAP = 0.5
# out-of-band calls cut mid-speech: share of the words sent (estimated from the cut's place in
# the recording) found in the subscriber's finals; measured 0.50 (listen) and 1.00 (audio_fork)
MIN_OVERLAP_CUT = 0.3


def pcm_at(tmp, path, rate):
    out = os.path.join(tmp, f"{os.path.basename(path)}-{rate}.wav")
    p, r = h.read_wav(h.convert_wav(path, out, rate) if rate != 16000 else path)
    assert r == rate
    return p


def interleave(a, b):
    """Two mono PCM16 byte strings -> one stereo stream (the shorter padded with silence)."""
    n = max(len(a), len(b))
    a, b = a.ljust(n, b"\0"), b.ljust(n, b"\0")
    sa = struct.unpack(f"<{n // 2}h", a)
    sb = struct.unpack(f"<{n // 2}h", b)
    out = [0] * (n)
    out[0::2], out[1::2] = sa, sb
    return struct.pack(f"<{n}h", *out)


class Fork:
    """One emulated forking client: what it received (parsed), the negotiated subprotocol and
    extensions, the close code."""

    def __init__(self, name):
        self.name = name
        self.msgs = []
        self.subprotocol = None
        self.extensions = None
        self.close_code = None
        self.last_t = None
        self.call_id = None
        self.channels = 1

    def finals(self, channel=None):
        return [m["data"] for m in self.msgs if isinstance(m, dict) and
                m.get("type") == "transcription" and m["data"].get("is_final") is True and
                (channel is None or m["data"].get("channel") == channel)]

    def text(self, channel=None):
        return " ".join(d["alternatives"][0]["transcript"] for d in self.finals(channel))

    async def run(self, url, pcm, rate, channels=1, header=None, frame_ms=20, frame_bytes=None,
                  subprotocols=None, compression=None, extra_frames=None, srv_log=None):
        self.channels = channels
        ws = await websockets.connect(url, subprotocols=subprotocols, compression=compression,
                                      max_size=None, ping_interval=None, open_timeout=10,
                                      close_timeout=5)
        self.subprotocol = ws.subprotocol
        self.extensions = ws.response_headers.get("Sec-WebSocket-Extensions")
        reader = asyncio.create_task(self._read(ws))
        if header is not None:
            await ws.send(header)
        pcm = pcm + h.silence(TAIL_S, rate) * channels
        step = frame_bytes or int(rate * frame_ms / 1000) * 2 * channels
        bps = rate * 2 * channels
        t0 = time.monotonic()
        k = 0
        for i in range(0, len(pcm), step):
            await ws.send(pcm[i:i + step])
            k += 1
            if extra_frames and k in extra_frames:
                await ws.send(extra_frames[k])
            delay = t0 + (i + step) / bps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await self.settle(srv_log)
        await ws.close()
        await reader
        self.close_code = ws.close_code
        return self

    async def settle(self, srv_log):
        """After the audio: waits (at most SETTLE_MAX_S) until every channel has a final and
        nothing came for QUIET_S, so a loaded machine's late finals are not cut off by the
        close. A call without events (srv_log given: a function returning the server log) waits
        until the log shows a final of its call id instead."""
        t_end = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < t_end:
            await asyncio.sleep(0.25)
            if srv_log is not None:
                if final_logged(srv_log(), self.call_id):
                    await asyncio.sleep(QUIET_S)  # anything sent would have come by now
                    return
                continue
            last = self.last_t or 0
            if all(self.finals(c) for c in range(1, self.channels + 1)) and \
                    time.monotonic() - last >= QUIET_S:
                return

    async def _read(self, ws):
        try:
            async for raw in ws:
                self.last_t = time.monotonic()
                try:
                    self.msgs.append(json.loads(raw))
                except ValueError:
                    self.msgs.append(raw)
        except ConnectionClosed:
            pass


def check_events(f, call_id, channels=(1,)):
    bad = []
    for m in f.msgs:
        d = m.get("data") if isinstance(m, dict) else None
        ok = (isinstance(d, dict) and m.get("type") == "transcription" and
              isinstance(d.get("is_final"), bool) and isinstance(d.get("alternatives"), list) and
              d["alternatives"] and isinstance(d["alternatives"][0].get("transcript"), str) and
              0 <= d["alternatives"][0].get("confidence", -1) <= 1 and
              d.get("channel") in channels and isinstance(d.get("language"), str) and
              (call_id is None or d.get("callSid") == call_id))
        if not ok:
            bad.append(json.dumps(m)[:200] if isinstance(m, dict) else str(m)[:200])
    assert not bad, f"{f.name}: unexpected messages: {bad[:3]}"
    assert f.finals(), f"{f.name}: no final transcription event"


def raw_ws(port, path, subprotocol=None):
    """A plain socket that did the WebSocket handshake (for frames a library will not send)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    proto = f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else ""
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{proto}\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return s, data.split(b"\r\n", 1)[0]


def ws_frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def odd_closes(port, pcm8k):
    """Raw clients that stream a little audio and close with codes outside 1000-4999, or just
    drop the TCP connection. Returns what each got back (the close frame's first bytes)."""
    out = []
    for code in (16, 999, 5000, None):
        s, status = raw_ws(port, "/audio_fork", "audio.drachtio.org")
        assert b" 101 " in status, f"raw client: {status!r}"
        s.sendall(ws_frame(0x1, b"odd-close-metadata"))
        for i in range(0, 3200, 320):
            s.sendall(ws_frame(0x2, pcm8k[i:i + 320]))
        if code is None:
            s.close()
            out.append("dropped")
            continue
        s.sendall(ws_frame(0x8, struct.pack(">H", code) + b"bye"))
        try:
            got = s.recv(64)
        except OSError:
            got = b""
        s.close()
        out.append(f"{code}: {got[:4].hex()}")
    return out


async def expect_close(url, sends, code, what, failures, want_error=False):
    ws = await websockets.connect(url, compression=None, max_size=None, ping_interval=None)
    got = []
    try:
        for s in sends:
            await ws.send(s)
        async for raw in ws:
            got.append(raw)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    errs = [json.loads(g) for g in got if isinstance(g, str) and g.startswith("{")]
    ok = ws.close_code == code and (not want_error or (
        len(errs) == 1 and errs[0].get("type") == "error" and errs[0]["data"].get("error")))
    if not want_error:
        ok = ok and not got
    if not ok:
        failures.append(f"{what}: expected close {code}{' after an error message' if want_error else ''}"
                        f", got {got[:2]} close {ws.close_code} {ws.close_reason!r}")
    else:
        h.log(f"  {what}: close {ws.close_code} {ws.close_reason!r} {errs[:1]}")


def final_logged(log, call_id):
    """1 when the server log shows a final of the audiofork call with this call id."""
    m = re.search(rf"\[audiofork_start\] sid=(\d+) .*call {re.escape(call_id)},", log)
    return bool(m and re.search(rf"\[final\] sid={m.group(1)} ", log))


def final_count_in_log(srv, call_id):
    """The finals the server counted for the call when it closed (-1: not closed yet)."""
    for _ in range(50):  # the close is logged a moment after the client's close returned
        m = re.search(rf"\[audiofork_closed\].*call {re.escape(call_id)}, (\d+) final",
                      srv.log_text())
        if m:
            return int(m.group(1))
        time.sleep(0.1)
    return -1


async def part1(srv, tmp, failures):
    step = h.stepper(failures)
    base = f"ws://127.0.0.1:{srv.data_port}"
    items = h.librivox_set()
    x, y, z = items[1], items[3], items[4]
    px, py, pz = (pcm_at(tmp, it[1], 16000) for it in (x, y, z))
    pz8 = pcm_at(tmp, z[1], 8000)

    stereo = Fork("listen stereo 16k, 642-byte frames")
    quiet = Fork("listen mono, no events")
    quiet.call_id = "ps-quiet"
    stream = Fork("audio_stream, deflate offered")
    meta = json.dumps({"callSid": "ps-stereo", "from": "+15083084809", "to": "+15083727463",
                       "sampleRate": 16000, "mixType": "stereo",
                       "metadata": {"transcribe": True}})
    good = asyncio.gather(
        stereo.run(f"{base}/listen", interleave(px, py), 16000, 2, header=meta,
                   frame_bytes=642, subprotocols=["audio.jambonz.org"],
                   extra_frames={5: b"", 9: '{"event":"dtmf","dtmf":"5"}', 12: b""}),
        quiet.run(f"{base}/listen", pz8, 8000, header=json.dumps(
            {"callSid": "ps-quiet", "sampleRate": 8000, "mixType": "mono"}),
            subprotocols=["audio.jambonz.org"], srv_log=srv.log_text),
        stream.run(f"{base}/audio_stream?rate=16k&transcribe=1", pz, 16000,
                   compression="deflate"))
    await asyncio.sleep(1.0)
    # Beside them: refused subprotocol, bad headers, odd close codes.
    try:
        ws = await websockets.connect(f"{base}/audio_fork", subprotocols=["bogus.example"],
                                      compression=None, open_timeout=5)
        failures.append(f"unknown subprotocol: upgraded (subprotocol {ws.subprotocol!r})")
        await ws.close()
    except (InvalidHandshake, OSError, asyncio.TimeoutError) as e:
        h.log(f"  unknown subprotocol only: no upgrade ({type(e).__name__})")
    await expect_close(f"{base}/listen?transcribe=1", [json.dumps({"sampleRate": 44100})],
                       1007, "metadata sampleRate 44100", failures, want_error=True)
    await expect_close(f"{base}/audio_stream?rate=11025", [], 1007, "URL rate=11025", failures)
    await expect_close(f"{base}/listen", [json.dumps({"mixType": "quad"})], 1007,
                       "mixType quad", failures)
    outs = await asyncio.get_running_loop().run_in_executor(None, odd_closes, srv.data_port,
                                                            pz8)
    h.log(f"  odd close codes: {outs}")
    await good

    def subprotocols():
        assert stereo.subprotocol == "audio.jambonz.org", stereo.subprotocol
        assert stream.subprotocol is None
    step("subprotocol echo", subprotocols)
    step("deflate declined", lambda: (_ for _ in ()).throw(AssertionError(
        f"extensions {stream.extensions!r}")) if stream.extensions else None)
    step("stereo events", lambda: check_events(stereo, "ps-stereo", (1, 2)))
    step("audio_stream events", lambda: check_events(stream, None))

    def no_events():
        assert not quiet.msgs, f"{quiet.name}: got {quiet.msgs[:2]} without asking"
        n = final_count_in_log(srv, "ps-quiet")
        assert n > 0, f"{quiet.name}: the log shows {n} finals (nothing to withhold?)"
    step("no events unless asked", no_events)
    for f, ch, ref in ((stereo, 1, x[2]), (stereo, 2, y[2]), (stream, None, z[2])):
        ov = h.word_overlap(ref, f.text(ch))
        h.log(f"{f.name} channel {ch}: overlap {ov:.2f}: {f.text(ch)[:90]!r}")
        if ov < MIN_OVERLAP:
            failures.append(f"{f.name} channel {ch}: shares {ov:.2f} of its reference's words")
    # Each channel is its own recording, not the other one's (nor a mix of both).
    for ch, own, other in ((1, x[2], y[2]), (2, y[2], x[2])):
        t = stereo.text(ch)
        if h.word_overlap(t, own) <= h.word_overlap(t, other):
            failures.append(f"stereo channel {ch} is closer to the other channel's recording: "
                            f"{t[:80]!r}")


async def cut_call(srv, url, header, pcm, rate, cut_s, abort, subprotocols=None):
    """Streams pcm in real time up to cut_s, then ends the client at once: a TCP drop (abort)
    or a WebSocket close, in the middle of speech. Returns (the time the client was gone,
    the in-band messages it received)."""
    ws = await websockets.connect(url, subprotocols=subprotocols, compression=None,
                                  max_size=None, ping_interval=None, close_timeout=2)
    got = []

    async def read():
        try:
            async for raw in ws:
                got.append(json.loads(raw))
        except ConnectionClosed:
            pass
    reader = asyncio.create_task(read())
    if header is not None:
        await ws.send(header)
    step = int(rate * 0.02) * 2
    end = int(cut_s * rate) * 2
    t0 = time.monotonic()
    for i in range(0, end, step):
        await ws.send(pcm[i:min(i + step, end)])
        delay = t0 + (i + step) / (rate * 2) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    if abort:
        ws.transport.abort()
    else:
        await ws.close()
    gone = time.monotonic()
    await asyncio.wait([reader], timeout=3)
    return gone, got


async def part1_out_of_band(srv, tmp, failures):
    """Out-of-band: the final of the speech in progress when the client left still reaches
    a subscriber that subscribed before the call."""
    base = f"ws://127.0.0.1:{srv.data_port}"
    items = h.librivox_set()
    a_it, b_it = items[0], items[3]  # 7.1 s and 6.05 s of speech
    cuts = {"oob-listen-1": 4.0, "oob-fork-2": 3.5}
    subs = {cid: await ac.Subscriber(srv.data_port, cid).start() for cid in cuts}
    pa, pb = pcm_at(tmp, a_it[1], 16000), pcm_at(tmp, b_it[1], 16000)  # pocketsphinx: 16 kHz
    dur = {"oob-listen-1": len(pa) / 2 / 16000, "oob-fork-2": len(pb) / 2 / 16000}
    (gone_a, got_a), (gone_b, got_b) = await asyncio.gather(
        cut_call(srv, f"{base}/listen", json.dumps(
            {"callSid": "oob-listen-1", "sampleRate": 16000, "mixType": "mono"}), pa, 16000,
            cuts["oob-listen-1"], abort=True, subprotocols=["audio.jambonz.org"]),
        cut_call(srv, f"{base}/audio_fork?rate=16k&mix=mixed&transcribe=1&call_id=oob-fork-2",
                 "campaign=spring", pb, 16000, cuts["oob-fork-2"], abort=False,
                 subprotocols=["audio.drachtio.org"]))
    t_wait = time.monotonic()
    for s in subs.values():
        await s.wait_end(SETTLE_MAX_S)
    h.log(f"  out-of-band: call_end {time.monotonic() - t_wait:.1f} s after the clients left")
    for cid, gone, it, proto, track in (("oob-listen-1", gone_a, a_it, "listen", "mono"),
                                        ("oob-fork-2", gone_b, b_it, "audiofork", "mixed")):
        sub = subs[cid]
        await sub.stop()
        bad = ac.check_seq(sub.events, cid)
        kinds = sub.kinds()
        for k in ("call_start", "speech_start", "partial", "final", "call_end"):
            if k not in kinds:
                bad.append(f"no {k} event ({kinds})")
        for e in sub.events:
            if e.get("protocol") != proto:
                bad.append(f"protocol {e.get('protocol')!r}, expected {proto!r}")
                break
            if e["event"] in ("partial", "final") and e.get("track") != track:
                bad.append(f"track {e.get('track')!r}, expected {track!r}")
                break
        ends = [e for e in sub.events if e["event"] == "call_end"]
        if ends and ends[-1].get("reason") != "closed":
            bad.append(f"call_end reason {ends[-1].get('reason')!r}")
        finals = sub.finals()
        late = [e for e, t in zip(sub.events, sub.times) if e["event"] == "final" and t > gone]
        cut = cuts[cid]
        if not late:
            bad.append("no final after the client was gone")
        elif abs(late[-1].get("end", -1) - cut) > 0.5:
            bad.append(f"the last final ends at {late[-1].get('end')} s, not at the cut {cut} s")
        text = " ".join(e.get("text", "") for e in finals)
        ref_words = h.normalize(it[2]).split()
        n_sent = max(1, round(len(ref_words) * cut / dur[cid]))  # the words said before the cut
        ov = h.word_overlap(" ".join(ref_words[:n_sent]), text)
        h.log(f"  {cid}: {len(sub.events)} events {kinds[:3]}..{kinds[-2:]}, {len(late)} "
              f"final(s) after the client left (last ends at {late[-1].get('end') if late else '-'}"
              f" s, cut {cut} s), overlap with the words sent {ov:.2f}: {text[:80]!r}")
        if ov < MIN_OVERLAP_CUT:
            bad.append(f"finals share {ov:.2f} of the words sent")
        for b in bad:
            failures.append(f"out-of-band {cid}: {b}")
    if got_a:
        failures.append(f"out-of-band listen: in-band messages without asking: {got_a[:2]}")
    inband = [m for m in got_b if m.get("type") == "transcription"]
    h.log(f"  out-of-band audio_fork: {len(inband)} in-band transcription(s) before the close")


async def part1_deflate(srv, tmp, failures):
    """--ws_deflate: mod_audio_stream's permessage-deflate offer is negotiated and the audio,
    compressed by the client, still gives the recording's words."""
    z = h.librivox_set()[4]
    f = Fork("audio_stream, deflate negotiated")
    await f.run(f"ws://127.0.0.1:{srv.data_port}/audio_stream?rate=16k&transcribe=1",
                pcm_at(tmp, z[1], 16000), 16000, compression="deflate")
    ov = h.word_overlap(z[2], f.text())
    h.log(f"{f.name}: extensions {f.extensions!r}, overlap {ov:.2f}: {f.text()[:80]!r}")
    if not f.extensions or "permessage-deflate" not in f.extensions:
        failures.append(f"{f.name}: not negotiated ({f.extensions!r})")
    if ov < MIN_OVERLAP:
        failures.append(f"{f.name}: shares {ov:.2f} of its reference's words")


async def part2(srv, tmp, failures):
    base = f"ws://127.0.0.1:{srv.data_port}"
    it = h.librivox_set()
    results = {}
    step = h.stepper(failures)

    # stereo 8 kHz listen: recordings 0 and 1
    stereo = Fork("whisper listen stereo 8k")
    meta = json.dumps({"callSid": "w-stereo", "sampleRate": 8000, "mixType": "stereo",
                       "metadata": {"transcribe": True}})
    await stereo.run(f"{base}/listen", interleave(pcm_at(tmp, it[0][1], 8000),
                                                  pcm_at(tmp, it[1][1], 8000)), 8000, 2,
                     header=meta, subprotocols=["audio.jambonz.org"], compression=None)
    step("whisper stereo events", lambda: check_events(stereo, "w-stereo", (1, 2)))
    results["listen stereo 8k"] = [(it[0][2], stereo.text(1)), (it[1][2], stereo.text(2))]

    # listen 8 kHz mono (recording 2) + audio_fork 16 kHz with opaque metadata (recording 3)
    mono = Fork("whisper listen mono 8k")
    fork = Fork("whisper audio_fork 16k")
    await asyncio.gather(
        mono.run(f"{base}/listen", pcm_at(tmp, it[2][1], 8000), 8000, header=json.dumps(
            {"callSid": "w-mono", "sampleRate": 8000, "mixType": "mono", "transcribe": True}),
            subprotocols=["audio.jambonz.org"], compression=None),
        fork.run(f"{base}/audio_fork?rate=16k&transcribe=1", pcm_at(tmp, it[3][1], 16000),
                 16000, header="uuid=1234;campaign=spring", subprotocols=["audio.drachtio.org"],
                 compression=None))
    step("whisper mono events", lambda: check_events(mono, "w-mono"))
    step("whisper fork events", lambda: check_events(fork, None))
    step("whisper fork subprotocol", lambda: None if fork.subprotocol == "audio.drachtio.org"
         else (_ for _ in ()).throw(AssertionError(fork.subprotocol)))
    results["listen mono 8k"] = [(it[2][2], mono.text())]
    results["audio_fork 16k"] = [(it[3][2], fork.text())]

    # audio_stream 8 kHz without metadata, deflate negotiated (recording 4)
    stream = Fork("whisper audio_stream 8k deflate")
    await stream.run(f"{base}/audio_stream?rate=8k&transcribe=1", pcm_at(tmp, it[4][1], 8000),
                     8000, compression="deflate")
    step("whisper stream events", lambda: check_events(stream, None))
    step("deflate negotiated", lambda: None if stream.extensions and "permessage-deflate" in
         stream.extensions else (_ for _ in ()).throw(AssertionError(stream.extensions)))
    results["audio_stream 8k deflate"] = [(it[4][2], stream.text())]

    pairs = []
    for name, prs in results.items():
        rate, n, err = h.wer(prs)
        h.log(f"WER {name} (whisper tiny.en): {rate:.3f} ({err}/{n})")
        for ref, hyp in prs:
            h.log(f"    {hyp!r}")
        if rate > MAX_WER_ONE:
            failures.append(f"whisper WER {name} {rate:.3f} > {MAX_WER_ONE}")
        pairs += prs
    rate, n, err = h.wer(pairs)
    h.log(f"WER audio_fork family overall (whisper tiny.en): {rate:.3f} ({err}/{n})")
    if rate > MAX_WER:
        failures.append(f"whisper WER {rate:.3f} > {MAX_WER}")


def main():
    h.watchdog(280)
    failures = []
    tmp = h.tmpdir("audiofork")
    srv = h.Server(*h.NO_LOAD_SHEDDING, name="audiofork-ps")
    srv.start()
    try:
        h.run_async(part1(srv, tmp, failures))
        h.run_async(part1_out_of_band(srv, tmp, failures))
    except AssertionError as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("pocketsphinx server exit status not 0")
    if failures:
        h.log(srv.log_tail(40))
    srv = h.Server("--ws_deflate", *h.NO_LOAD_SHEDDING, name="audiofork-ps-deflate")
    srv.start()
    try:
        h.run_async(part1_deflate(srv, tmp, failures))
    finally:
        if srv.stop() != 0:
            failures.append("pocketsphinx deflate server exit status not 0")
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP part 2: no faster-whisper tiny.en directory at {MODEL_DIR}")
        return h.report(failures) if failures else SKIP
    srv = h.Server("--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root",
                   os.path.join(tmp, "models"), "--device", "cpu", "--workers", "2",
                   "--whisper_threads", "1", "--language", "en", "--beam_size", "1",
                   "--no-whisper_fallback", "--initial_prompt", "", "--ws_deflate",
                   *h.NO_LOAD_SHEDDING, engine="whisper", name="audiofork-whisper",
                   drain_timeout=10)
    srv.start(ready_timeout=120)
    try:
        h.run_async(part2(srv, tmp, failures))
    except AssertionError as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("whisper server exit status not 0")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

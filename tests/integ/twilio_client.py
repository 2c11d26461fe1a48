"""Shared by test_twilio.py and test_webhook.py: an emulated Twilio-family media stream client
(the message layout of ../shared/specs/telephony-protocols.md section 1, as Twilio sends it:
`connected`, `start`, `media` every 20 ms, optional `dtmf`, `stop`, close) that replays ticks of
messages in real time and records what the server sends back and how it closed. Standard
library and websockets only."""

import asyncio
import base64
import json
import os
import struct
import time

import websockets

FRAME_S = 0.02


def b64(b):
    return base64.b64encode(b).decode()


def frames(pcm, size):
    return [pcm[i:i + size] for i in range(0, len(pcm), size)]


def padded(pcm, rate, width, lead=0.5, tail=1.0, silence_byte=b"\x00"):
    return silence_byte * int(lead * rate) * width + pcm + silence_byte * int(tail * rate) * width


def twilio_ticks(sid, call_sid, tracks_pcm, params, encoding="audio/x-mulaw", rate=8000,
                 frame_bytes=160, stop=True, dtmf_every=0):
    """Twilio (and SignalWire) messages, one list per 20 ms tick: connected, start, media for
    each track (interleaved when both), stop. tracks_pcm: {"inbound": bytes, "outbound": bytes}.
    dtmf_every=N: a `dtmf` message (inbound_track, digit "1") after every N-th media tick."""
    acct = "AC25e16e9a716a4a1786a7c83f58e30482"
    ticks = [[json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})],
             [json.dumps({"event": "start", "sequenceNumber": "1", "start": {
                 "accountSid": acct, "streamSid": sid, "callSid": call_sid,
                 "tracks": list(tracks_pcm), "customParameters": params,
                 "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1}},
                 "streamSid": sid})]]
    seq = 2
    fr = {t: frames(p, frame_bytes) for t, p in tracks_pcm.items()}
    for k in range(max(len(f) for f in fr.values())):
        tick = []
        for t, f in fr.items():
            if k < len(f):
                tick.append(json.dumps({"event": "media", "sequenceNumber": str(seq), "media": {
                    "track": t, "chunk": str(k + 1), "timestamp": str(k * 20),
                    "payload": b64(f[k])}, "streamSid": sid}))
                seq += 1
        if dtmf_every and k % dtmf_every == dtmf_every - 1:
            tick.append(json.dumps({"event": "dtmf", "streamSid": sid,
                                    "sequenceNumber": str(seq),
                                    "dtmf": {"track": "inbound_track", "digit": "1"}}))
            seq += 1
        ticks.append(tick)
    if stop:
        ticks.append([json.dumps({"event": "stop", "sequenceNumber": str(seq), "streamSid": sid,
                                  "stop": {"accountSid": acct, "callSid": call_sid}})])
    return ticks


def raw_close_frame(code, reason=b"bye"):
    payload = struct.pack(">H", code) + reason
    mask = os.urandom(4)
    return bytes([0x88, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


class Platform:
    """One emulated platform connection: ticks of messages sent 20 ms apart in real time;
    records every message the server sends and how the server closed. closed_at: when the last
    tick was sent (and any linger over), just before the client's close."""

    def __init__(self, port, path, name):
        self.url = f"ws://127.0.0.1:{port}{path}"
        self.name = name
        self.received = []
        self.close_code = None
        self.close_reason = ""
        self.server_closed = False
        self.closed_at = None

    async def _reader(self, ws):
        try:
            async for msg in ws:
                self.received.append(msg)
        except websockets.ConnectionClosed:
            pass
        self.close_code, self.close_reason = ws.close_code, ws.close_reason

    async def run(self, ticks, close=True, raw_close=None, linger_s=0.0):
        ws = await websockets.connect(self.url, max_size=None, compression=None)
        rt = asyncio.ensure_future(self._reader(ws))
        t0 = time.monotonic()
        try:
            for i, tick in enumerate(ticks):
                delay = t0 + i * FRAME_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if rt.done():
                    self.server_closed = True
                    break
                for m in tick:
                    await ws.send(m)
        except websockets.ConnectionClosed:
            self.server_closed = True
        if linger_s:
            await asyncio.sleep(linger_s)
            self.server_closed = self.server_closed or rt.done()
        self.closed_at = time.monotonic()
        if raw_close is not None and not rt.done():
            ws.transport.write(raw_close_frame(raw_close))
            await asyncio.wait([rt], timeout=3)
            ws.transport.close()
        elif close and not rt.done():
            await ws.close()
        await asyncio.wait([rt], timeout=3)
        return self

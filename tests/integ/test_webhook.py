#!/usr/bin/python3
"""Webhooks never stall a call. AudioSocket calls (emulated Asterisk, librivox speech at 8 kHz in
real time with a DTMF every 100 ms for a steady stream of events) and, on the same server, Twilio
calls (emulated media streams at /twilio, twilio_client.py: `connected`, `start` with callSid,
streamSid and customParameters, `media` every 20 ms with 160 bytes of base64 mu-law 8 kHz of the
same librivox speech converted by sox, a `dtmf` every 100 ms, `stop`, close), each with a
subscriber of /v1/calls/{id}/events opened before the call (the AudioSocket UUID, the Twilio
callSid), while the webhook receiver misbehaves. The null engine: what is timed is the server's
delivery, not recognition on a shared machine. Every call's events: seq 1, 2, ... from
call_start to call_end, tagged with its call id; a Twilio call's also with protocol twilio, its
streamSid, track "inbound" on every final/partial/dtmf, its customParameters in call_start,
call_end reason "stop", and nothing sent back on the media stream.

  1. slow: it answers every POST after 10 s (--webhook_timeout 12, --webhook_concurrency 2,
     --webhook_queue 8), three AudioSocket and two Twilio calls at once: every call's
     subscriber gets its finals and call_end within MAX_END_S of the call's close; the receiver
     never has more than 2 requests open at once (and does reach 2); every call's queue
     overflows (its webhook_queue_full line) and /metrics counts the drops
     (stt_webhook_deliveries_total{result="dropped"}); the answered ones count as ok; every
     signature verifies; what the receiver got of a Twilio call carries its streamSid;
  2. down: connection refused (--webhook_retries 2), one AudioSocket and one Twilio call: each
     call's subscriber still gets its final and call_end on time; both calls' queues overflow;
     /metrics counts failed deliveries, retries and drops;
  3. backoff and retry rules: call_start answered 503 every time, call_end 400
     (--webhook_events call_start call_end, --webhook_retries 3): call_start is tried 4 times
     with growing gaps (jittered exponential backoff: each wait between half and all of
     0.5 s, 1 s, 2 s), call_end once (no retry on other 4xx), and only after call_start gave up
     (one request in flight per call, in order);
  4. a subscriber that stops reading (a tiny receive buffer, never read) is dropped once its
     unsent events pass --subscriber_max_queue_bytes: its socket is gone (the server logged
     the subscriber's close) within MAX_DROP_S of the subscriber_too_slow line, long before
     --stuck_socket_timeout (30 s) would have closed it; counted in
     stt_call_subscribers_dropped_total, while a reading subscriber of the same call gets every
     event (30,000 DTMF messages in bursts: events without engine work, null engine)
     and the call ends on time."""

import asyncio
import base64
import datetime
import os
import re
import socket
import sys
import threading
import time
import uuid as uuidlib

import harness as h
import audiosocket_client as ac
import twilio_client as tc

SECRET = "hook-secret"
MAX_DROP_S = 1.0  # subscriber_too_slow -> its socket closed (stt_conn_drop kills it at once)
MAX_END_S = 1.5  # close -> call_end at the subscriber (the last final comes before it); the
                 # null engine answers at once: measured 0.1-0.5 s (the stream's end-pointing)


class SlowReceiver(ac.WebhookReceiver):
    """Answers after `delay` s; records the most requests open at once."""

    def __init__(self, delay):
        self.open = 0
        self.max_open = 0
        self.olock = threading.Lock()
        super().__init__(SECRET, self._behaviour)
        self.delay = delay

    def _behaviour(self, n):
        with self.olock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        time.sleep(self.delay)
        with self.olock:
            self.open -= 1
        return 200, 0.0


class TwilioCall:
    """One emulated Twilio media stream (/twilio) for run_calls: the call id is its callSid."""

    def __init__(self, port, name):
        self.name = name
        self.id = f"CA{uuidlib.uuid4().hex}"
        self.sid = f"MZ{uuidlib.uuid4().hex}"
        self.platform = tc.Platform(port, "/twilio", name)

    @property
    def closed_at(self):
        return self.platform.closed_at

    async def run(self, ul):
        # speech (0.3 s of mu-law silence either side) with a dtmf every 100 ms, as run_calls
        # gives the AudioSocket calls; customParameters as a TwiML <Parameter> would send them
        pcm = tc.padded(ul, 8000, 1, lead=0.3, tail=0.3, silence_byte=b"\xff")
        await self.platform.run(tc.twilio_ticks(self.sid, self.id, {"inbound": pcm},
                                                {"test": "webhook", "leg": self.name},
                                                dtmf_every=5))
        return self


async def run_calls(srv, port, pcm, n_calls, ul=None, n_twilio=0):
    """n_calls AudioSocket calls and n_twilio Twilio calls (mu-law `ul`) at once, each watched
    by a subscriber opened before it starts."""
    calls = [ac.Call(port, f"call{i}") for i in range(n_calls)]
    twilio = [TwilioCall(srv.data_port, f"twilio{i}") for i in range(n_twilio)]
    subs = [await ac.Subscriber(srv.data_port, c.id).start() for c in calls + twilio]
    await asyncio.sleep(0.1)
    def items(c):  # speech with a DTMF every 100 ms: events without engine work
        audio = ac.audio_items(pcm)
        out = [ac.tlv(0x01, c.uuid.bytes)] + ac.silence_items(0.3)
        for i, a in enumerate(audio):
            out.append(a)
            if i % 5 == 4:
                out.append(("raw", ac.tlv(0x03, b"1")))
        return out + ac.silence_items(0.3)
    await asyncio.gather(*[c.run(items(c)) for c in calls], *[t.run(ul) for t in twilio])
    for s in subs:
        await s.wait_end(15)
    for s in subs:
        await s.stop()
    return calls + twilio, subs


def check_on_time(name, calls, subs, failures):
    for c, s in zip(calls, subs):
        bad = ac.check_seq(s.events, c.id)
        if not s.finals():
            bad.append("no final")
        if isinstance(c, TwilioCall):
            bad += check_twilio(c, s)
        if s.events and s.events[-1]["event"] == "call_end":
            lag = s.times[-1] - c.closed_at
            h.log(f"{name} {c.name}: {len(s.events)} events ({count_kinds(s)}), call_end "
                  f"{lag:.2f} s after the close")
            if lag > MAX_END_S:
                bad.append(f"call_end {lag:.2f} s after the close (> {MAX_END_S})")
        failures.extend(f"{name} {c.name}: {b}" for b in bad)


def count_kinds(sub):
    kinds = sub.kinds()
    return ", ".join(f"{k} {kinds.count(k)}" for k in dict.fromkeys(kinds))


def check_twilio(c, s):
    """A Twilio call's events: protocol twilio, its streamSid, results and dtmf on the inbound
    track, the customParameters in call_start, call_end "stop", nothing sent back."""
    bad = []
    if any(e.get("protocol") != "twilio" or e.get("stream_id") != c.sid for e in s.events):
        bad.append("an event without protocol twilio and its streamSid")
    tracks = {e.get("track") for e in s.events
              if e["event"] in ("speech_start", "partial", "final", "dtmf")}
    if tracks != {"inbound"}:
        bad.append(f"tracks {tracks}, expected inbound only")
    if "dtmf" not in s.kinds():
        bad.append("no dtmf event")
    if s.events and s.events[0].get("parameters", {}).get("leg") != c.name:
        bad.append(f"call_start parameters {s.events[0].get('parameters')}")
    if s.events and s.events[-1].get("reason") != "stop":
        bad.append(f"call_end reason {s.events[-1].get('reason')!r}, expected 'stop'")
    if c.platform.received:
        bad.append(f"the server sent {len(c.platform.received)} messages on the stream")
    return bad


def check_queue_full(name, srv, calls, failures):
    """Every call's webhook queue overflowed: its webhook_queue_full line (once per call) names
    it, whichever protocol carried it."""
    lines = [ln for ln in srv.log_text().splitlines() if "[webhook_queue_full]" in ln]
    full = [c.name for c in calls if any(f"call {c.id}: " in ln for ln in lines)]
    h.log(f"{name}: webhook queue full (events dropped) for {full}")
    missing = [c.name for c in calls if c.name not in full]
    if missing:
        failures.append(f"{name}: no webhook_queue_full line for {missing}")


def metrics(srv):
    text = srv.get("/metrics", {"Accept": h.PROM_ACCEPT_PLAIN})[2].decode()
    return {k: ac.prom_value(text, "stt_webhook_deliveries_total", f'result="{k}"')
            for k in ("ok", "failed", "dropped")} | {
        "retried": ac.prom_value(text, "stt_webhook_retries_total"),
        "queued": ac.prom_value(text, "stt_webhook_queued")}


def slow_receiver(pcm, ul, failures):
    recv = SlowReceiver(10.0)
    srv = h.Server("--webhook_url", recv.url, "--webhook_secret", SECRET, "--webhook_timeout", 12,
                   "--webhook_concurrency", 2, "--webhook_queue", 8, "--webhook_retries", 0,
                   *h.NO_LOAD_SHEDDING, engine="null", name="hook-slow")
    try:
        port = ac.start_server(srv)
        calls, subs = h.run_async(run_calls(srv, port, pcm, 3, ul, 2))
        check_on_time("slow", calls, subs, failures)
        t_end = time.monotonic() + 15
        while time.monotonic() < t_end and (metrics(srv)["ok"] or 0) < 2:
            time.sleep(0.2)
        m = metrics(srv)
        h.log(f"slow: receiver saw at most {recv.max_open} requests at once; metrics {m}")
        if recv.max_open != 2:
            failures.append(f"slow: {recv.max_open} requests open at once, expected the cap 2")
        if not m["dropped"]:
            failures.append("slow: no drops counted although the queues overflowed")
        if (m["ok"] or 0) < 2:
            failures.append(f"slow: {m['ok']} deliveries ok after the 10 s answers")
        bad = [p for p in recv.posts if not p["ok_sig"]]
        if bad:
            failures.append(f"slow: {len(bad)} signatures did not verify")
        check_queue_full("slow", srv, calls, failures)
        for c in calls:
            if isinstance(c, TwilioCall):
                got = recv.events_of(c.id)
                h.log(f"slow: the receiver got {[e['event'] for e in got]} of {c.name}")
                if any(e.get("protocol") != "twilio" or e.get("stream_id") != c.sid
                       for e in got):
                    failures.append(f"slow: a webhook event of {c.name} without protocol "
                                    "twilio and its streamSid")
    finally:
        srv.stop(timeout=40)  # in-flight requests get --webhook_timeout at exit
        recv.stop()


def receiver_down(pcm, ul, failures):
    dead = h.free_ports(1)[0]  # nothing listens there
    srv = h.Server("--webhook_url", f"http://127.0.0.1:{dead}/hook", "--webhook_retries", 2,
                   "--webhook_queue", 4, *h.NO_LOAD_SHEDDING, engine="null",
                   name="hook-down")
    try:
        port = ac.start_server(srv)
        calls, subs = h.run_async(run_calls(srv, port, pcm, 1, ul, 1))
        check_on_time("down", calls, subs, failures)
        time.sleep(2.0)
        m = metrics(srv)
        h.log(f"down: metrics {m}")
        for k in ("failed", "retried", "dropped"):
            if not m[k]:
                failures.append(f"down: stt_webhook {k} not counted: {m}")
        if m["ok"]:
            failures.append(f"down: {m['ok']} deliveries ok to a port nobody listens on")
        if "webhook_failed" not in srv.log_text():
            failures.append("down: no webhook_failed log line")
        check_queue_full("down", srv, calls, failures)
    finally:
        srv.stop()


def backoff(pcm, failures):
    def behaviour(n):
        return (503, 0.0) if recv.posts[n]["event"]["event"] == "call_start" else (400, 0.0)
    recv = ac.WebhookReceiver(SECRET, behaviour)
    srv = h.Server("--webhook_url", recv.url, "--webhook_secret", SECRET, "--webhook_retries", 3,
                   "--webhook_events", "call_start", "call_end", *h.NO_LOAD_SHEDDING,
                   engine="null", name="hook-backoff")
    try:
        port = ac.start_server(srv)
        h.run_async(run_calls(srv, port, pcm[:16000], 1))  # 1 s of speech
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end and not any(
                p["event"]["event"] == "call_end" for p in recv.posts):
            time.sleep(0.1)
        time.sleep(1.0)  # a retry of call_end, if there were one, would come by now
        kinds = [p["event"]["event"] for p in recv.posts]
        starts = [p["t"] for p in recv.posts if p["event"]["event"] == "call_start"]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        h.log(f"backoff: requests {kinds}; call_start retry gaps "
              + ", ".join(f"{g:.2f}" for g in gaps) + " s")
        if kinds != ["call_start"] * 4 + ["call_end"]:
            failures.append(f"backoff: requests {kinds}, expected call_start x4 then call_end x1")
        else:
            for i, (g, ceil) in enumerate(zip(gaps, (0.5, 1.0, 2.0))):
                if not (ceil * 0.5 - 0.05 <= g <= ceil + 0.3):
                    failures.append(f"backoff: gap {i + 1} {g:.2f} s outside "
                                    f"[{ceil * 0.5:.2f}, {ceil:.2f}] s")
        m = metrics(srv)
        if m["retried"] != 3 or m["failed"] != 2:
            failures.append(f"backoff: metrics {m}, expected 3 retries and 2 failed")
        if not all(p["ok_sig"] for p in recv.posts):
            failures.append("backoff: a signature did not verify")
    finally:
        srv.stop()
        recv.stop()


def stalled_subscriber(data_port, call_id):
    """A WebSocket subscriber that completes the handshake, then never reads (2 KiB receive
    buffer, so the server's output backs up quickly). Returns the socket."""
    sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sk.connect(("127.0.0.1", data_port))
    key = base64.b64encode(os.urandom(16)).decode()
    sk.sendall((f"GET /v1/calls/{call_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        b = sk.recv(1)
        if not b:
            raise AssertionError("the subscriber handshake got no answer")
        resp += b
    if b" 101 " not in resp.split(b"\r\n")[0]:
        raise AssertionError(f"subscriber handshake refused: {resp[:100]!r}")
    return sk


async def dtmf_call(srv, port, n_dtmf):
    """One call that sends a DTMF with every 20 ms frame (events without engine work), watched
    by a reading subscriber and a stalled one."""
    c = ac.Call(port, "dtmf")
    fast = await ac.Subscriber(srv.data_port, c.id).start()
    slow = stalled_subscriber(srv.data_port, c.id)
    await asyncio.sleep(0.1)
    # The digits go out in bursts of 500 every 100 ms (5,000 events, ~1 MB a second, which a
    # Python reader keeps up with): ~6 MB of events in 6 s, more than the kernel's socket
    # buffers (up to 4 MiB) can hide from the server.
    items = [ac.tlv(0x01, c.uuid.bytes)]
    for i in range(n_dtmf // 500):
        burst = b"".join(ac.tlv(0x03, b"0123456789*#"[j % 12:j % 12 + 1]) for j in range(500))
        items += ac.silence_items(0.1) + [("raw", burst)]
    await c.run(items)
    await fast.wait_end(20)
    await fast.stop()
    slow.close()
    return c, fast


def log_time(line):
    """Seconds of a log line's timestamp (2026-12-05T20:06:04.079Z ...)."""
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def slow_subscriber(failures):
    srv = h.Server("--subscriber_max_queue_bytes", 262144, *h.NO_LOAD_SHEDDING, engine="null",
                   name="sub-slow")
    try:
        port = ac.start_server(srv)
        n = 30000
        c, fast = h.run_async(dtmf_call(srv, port, n))
        text = srv.get("/metrics", {"Accept": h.PROM_ACCEPT_PLAIN})[2].decode()
        dropped = ac.prom_value(text, "stt_call_subscribers_dropped_total")
        size = sum(len(str(e)) for e in fast.events)
        h.log(f"slow subscriber: {len(fast.events)} events (~{size} bytes) to the reading one; "
              f"subscribers dropped: {dropped}")
        if dropped != 1:
            failures.append(f"slow subscriber: stt_call_subscribers_dropped_total {dropped} != 1")
        log = srv.log_text()
        slow_t = [log_time(ln) for ln in log.splitlines() if "[subscriber_too_slow]" in ln]
        closed_t = [log_time(ln) for ln in log.splitlines() if "[subscriber_closed]" in ln]
        if not slow_t:
            failures.append("slow subscriber: no subscriber_too_slow log line")
        else:
            gone = [t - slow_t[0] for t in closed_t if t >= slow_t[0]]
            h.log(f"slow subscriber: its socket closed {gone[0] if gone else -1:.3f} s after "
                  f"the drop (the reading one at the call's end)")
            if not gone or gone[0] > MAX_DROP_S:
                failures.append(f"slow subscriber: socket not gone {MAX_DROP_S} s after the "
                                f"drop (closes {gone[:2]} s after)")
        bad = ac.check_seq(fast.events, c.id)
        if bad or fast.kinds().count("dtmf") != n:
            failures.append(f"slow subscriber: the reading subscriber got "
                            f"{fast.kinds().count('dtmf')} of {n} dtmf events; {bad[:2]}")
        if fast.times and fast.times[-1] - c.closed_at > MAX_END_S:
            failures.append(f"slow subscriber: call_end came "
                            f"{fast.times[-1] - c.closed_at:.2f} s after the close")
    finally:
        srv.stop()


def main():
    h.watchdog(200)
    failures = []
    utt, path, ref = h.librivox_set()[0]
    pcm = ac.pcm_of(path, 8000)
    ul = ac.pcm_of(path, 8000, "mu-law", 8)
    step = h.stepper(failures)
    step("slow", lambda: slow_receiver(pcm, ul, failures))
    step("down", lambda: receiver_down(pcm, ul, failures))
    step("backoff", lambda: backoff(pcm, failures))
    step("slow_subscriber", lambda: slow_subscriber(failures))
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

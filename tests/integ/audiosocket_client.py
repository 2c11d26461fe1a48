"""Shared by test_audiosocket.py and test_webhook.py: an emulated Asterisk AudioSocket client
(the byte layout of ../shared/specs/telephony-protocols.md 2.1, as app_audiosocket sends it), a
call-event subscriber and a webhook receiver that checks the HMAC signature. Standard library and
websockets only."""

import asyncio
import hashlib
import hmac
import http.server
import json
import os
import struct
import threading
import time
import uuid as uuidlib

import websockets

import harness as h

FRAME_S = 0.02


def tlv(kind, payload=b""):
    return struct.pack(">BH", kind, len(payload)) + payload


def start_server(srv, ready_timeout=20.0):
    """Starts srv with an --audiosocket_port chosen with its other ports on each attempt (a
    port picked once, outside the harness's retry, could be handed out again as one of them).
    Returns the AudioSocket port."""
    def argv(s):
        while True:
            port = h.free_ports(1)[0]
            if port not in (s.control_port, s.data_port, s.monitor_port):
                break
        s.audiosocket_port = port
        return s.build_argv() + ["--audiosocket_port", str(port)]
    srv.start(ready_timeout=ready_timeout, argv_fn=argv)
    return srv.audiosocket_port


class running:
    """`with running(srv, timeout) as port:` start (start_server), then stop on the way out:
    exit status 0 and no sanitizer report required (the log tail is printed on a failure)."""

    def __init__(self, srv, ready_timeout=20.0):
        self.srv = srv
        self.ready_timeout = ready_timeout

    def __enter__(self):
        return start_server(self.srv, self.ready_timeout)

    def __exit__(self, et, ev, tb):
        return self.srv.__exit__(et, ev, tb)


def pcm_of(wav, rate, encoding="signed-integer", bits=16, tmp=None):
    """Raw samples of a WAV converted by sox (rate, encoding: signed-integer, mu-law, a-law)."""
    tmp = tmp or h.tmpdir("as-audio")
    ext = {"signed-integer": "s16", "mu-law": "ul", "a-law": "al"}[encoding]
    out = os.path.join(tmp, f"{os.path.basename(wav)}.{rate}.{ext}")
    if not os.path.exists(out):
        h.sox(wav, "-r", rate, "-c", 1, "-e", encoding, "-b", bits, "-t", "raw", out)
    with open(out, "rb") as f:
        return f.read()


class Call:
    """One emulated Asterisk connection: frames sent on a 20 ms real-time schedule; what the
    server sends back and when it closed are recorded."""

    def __init__(self, port, name, uuid=None):
        self.port = port
        self.name = name
        self.uuid = uuid or uuidlib.uuid4()
        self.id = str(self.uuid)
        self.received = b""
        self.server_closed_at = None
        self.closed_at = None
        self.error = None

    async def _reader(self, reader):
        try:
            while True:
                b = await reader.read(4096)
                if not b:
                    break
                self.received += b
        except (ConnectionError, OSError):
            pass
        self.server_closed_at = time.monotonic()

    async def run(self, items, close=True, linger_s=0.0):
        """items: a list of bytes (each sent at the next 20 ms tick) or ("raw", bytes) sent at
        once between ticks. The UUID message is not added: put it first yourself."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        rt = asyncio.ensure_future(self._reader(reader))
        t0 = time.monotonic()
        tick = 0
        try:
            for it in items:
                if self.server_closed_at:
                    break
                if isinstance(it, tuple):
                    writer.write(it[1])
                    continue
                delay = t0 + tick * FRAME_S - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(it)
                tick += 1
            await writer.drain()
        except (ConnectionError, OSError) as e:
            self.error = e
        if linger_s:
            await asyncio.sleep(linger_s)
        self.closed_at = time.monotonic()
        if close:  # as Asterisk does when the caller hangs up: just close the socket
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        await asyncio.sleep(0.2)
        rt.cancel()
        return self


def audio_items(pcm, kind=0x10, bytes_per_frame=320):
    return [tlv(kind, pcm[i:i + bytes_per_frame]) for i in range(0, len(pcm), bytes_per_frame)]


def silence_items(seconds, kind=0x10, bytes_per_frame=320):
    return audio_items(b"\x00" * int(seconds / FRAME_S) * bytes_per_frame, kind, bytes_per_frame)


class Subscriber:
    """A /v1/calls/{id}/events client; collects the events until call_end (or stop())."""

    def __init__(self, data_port, call_id):
        self.url = f"ws://127.0.0.1:{data_port}/v1/calls/{call_id}/events"
        self.events = []
        self.times = []
        self.ended = asyncio.Event()
        self.close_code = None
        self.task = None

    async def start(self):
        self.ws = await websockets.connect(self.url, max_size=None)
        self.task = asyncio.ensure_future(self._run())
        return self

    async def _run(self):
        try:
            async for msg in self.ws:
                ev = json.loads(msg)
                self.events.append(ev)
                self.times.append(time.monotonic())
                if ev.get("event") == "call_end":
                    self.ended.set()
        except websockets.ConnectionClosed as e:
            self.close_code = e.code
        self.ended.set()

    async def wait_end(self, timeout):
        try:
            await asyncio.wait_for(self.ended.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.ended.is_set()

    async def stop(self):
        await self.ws.close()
        if self.task:
            await asyncio.wait([self.task], timeout=2)

    def kinds(self):
        return [e["event"] for e in self.events]

    def finals(self):
        return [e for e in self.events if e["event"] == "final"]


def check_seq(events, call_id):
    """Every event of the call: seq 1, 2, 3, ... in the order received, call_start first,
    call_end last, ids and protocol right. Returns a list of problems."""
    bad = []
    seqs = [e.get("seq") for e in events]
    if seqs != list(range(1, len(events) + 1)):
        bad.append(f"seq not 1..{len(events)} in order: {seqs}")
    if not events or events[0].get("event") != "call_start":
        bad.append("first event is not call_start")
    if not events or events[-1].get("event") != "call_end":
        bad.append("last event is not call_end")
    for e in events:
        if e.get("call_id") != call_id:
            bad.append(f"call_id {e.get('call_id')!r} != {call_id!r}")
            break
        if e.get("event") in ("speech_start", "partial", "final", "dtmf") and e.get("track") is None:
            bad.append(f"{e['event']} without a track")
            break
    return bad


def verify_signature(secret, headers, body):
    ts = headers.get("X-STT-Timestamp")
    sig = headers.get("X-STT-Signature", "")
    if not ts or not sig.startswith("sha256="):
        return False
    want = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig[7:])


class WebhookReceiver:
    """A threaded HTTP server recording each POST (time, headers, body, parsed event, whether
    its signature verified, the TLS version it came over). `behaviour(n)` -> (status, delay_s)
    for the n-th request (0-based). With `ssl_context` (an ssl.SSLContext for the server side)
    it serves https only: each connection's handshake happens at accept."""

    def __init__(self, secret, behaviour=None, ssl_context=None):
        self.secret = secret
        self.behaviour = behaviour or (lambda n: (200, 0.0))
        self.posts = []
        self.lock = threading.Lock()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n_bytes = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n_bytes)
                with recv.lock:
                    n = len(recv.posts)
                    rec = {"t": time.monotonic(), "headers": dict(self.headers), "body": body,
                           "ok_sig": verify_signature(recv.secret, self.headers, body),
                           "tls": getattr(self.connection, "version", lambda: None)()}
                    try:
                        rec["event"] = json.loads(body)
                    except ValueError:
                        rec["event"] = None
                    recv.posts.append(rec)
                status, delay = recv.behaviour(n)
                rec["status"] = status
                if delay:
                    time.sleep(delay)
                out = b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if ssl_context:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def events_of(self, call_id, status=200):
        with self.lock:
            return [p["event"] for p in self.posts
                    if p["event"] and p["event"].get("call_id") == call_id
                    and p.get("status", 200) == status]


def prom_value(text, name, labels=None):
    """A sample's value from Prometheus text (labels: a 'k="v"' substring), or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest and rest[0] not in " {":
            continue
        if labels and labels not in rest:
            continue
        return float(line.rsplit(" ", 1)[1])
    return None

"""Shared helpers for the integration tests in tests/integ/.

Everything here talks to a real stt-server binary started on free 127.0.0.1 ports. Only the
standard library and `websockets` (Debian python3-websockets 10.4) are used; WER is scored with
NIST sclite (Debian `sctk`) so the numbers match what the rest of the project reports.

Environment (set by ctest, see CMakeLists.txt; defaults are for running a script by hand):
  STT_SERVER      stt-server binary            (default $STT_BUILD_DIR/stt-server)
  STT_CLIENT      stt-client binary            (default $STT_BUILD_DIR/stt-client)
  STT_SOURCE_DIR  repository root              (default: two levels above this file)
  STT_BUILD_DIR   build directory              (default $STT_SOURCE_DIR/build)
  STT_INTEG_KEEP  if set, keep temp dirs and server logs after the run
"""

import asyncio
import atexit
import base64
import ctypes
import faulthandler
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import wave

import websockets
from websockets.exceptions import ConnectionClosed

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("STT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("STT_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
SERVER_BIN = os.environ.get("STT_SERVER") or os.path.join(BUILD_DIR, "stt-server")
CLIENT_BIN = os.environ.get("STT_CLIENT") or os.path.join(BUILD_DIR, "stt-client")

PS_TESTDATA = "/usr/share/pocketsphinx/test/data"
LIBRIVOX_DIR = os.path.join(PS_TESTDATA, "librivox")

# What Prometheus 2.42 sends when it scrapes.
PROM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
               "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROM_ACCEPT_PLAIN = "text/plain;version=0.0.4"

# The event types the server may send on the data socket (spec 3.3 plus the error event).
EVENT_TYPES = {
    "vad_detect_start", "vad_detect_stop", "recording_start", "realtime",
    "start_turn_detection", "stop_turn_detection", "recording_stop", "transcription_start",
    "fullSentence", "wakeword_detection_start", "wakeword_detection_end", "wakeword_detected",
    "error", "warning", "info",
    "transcript_words",  # the opt-in word event (?words=1, --realtimestt_words)
}


def log(*args):
    print(*args, flush=True)


def watchdog(seconds=170):
    """Hard bound on a script's run time: dump all stacks and exit non-zero. Servers we started
    die with us (PR_SET_PDEATHSIG), so nothing is left behind."""
    faulthandler.dump_traceback_later(seconds, exit=True)


def report(failures):
    """End of a script's main(): list the failures (or say OK) and return the exit status."""
    if failures:
        log("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    log("\nOK")
    return 0


def run_unittests(server=None):
    """main() of a unittest-based script: run its test cases (unittest.main() parses sys.argv,
    so a test name can be given) under the watchdog and return the exit status.

    With server (a Server not yet started), the server is started first and shared by all
    cases, then stopped; a failing test or an unclean exit prints its log tail and fails."""
    watchdog(170)
    if server is None:
        return 0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1
    server.start()
    ok = False
    rc = None
    try:
        ok = unittest.main(exit=False, verbosity=2).result.wasSuccessful()
    finally:
        try:
            rc = server.stop()
        finally:
            if not ok or rc != 0:
                log(f"--- server log tail ---\n{server.log_tail()}")
    if rc != 0:
        log(f"server exit status {rc}")
        return 1
    return 0 if ok else 1


def stepper(failures):
    """step(name, fn) for a script of named steps: runs fn, and an AssertionError it raises is
    logged and appended to failures instead of ending the script (report() lists them)."""
    def step(name, fn):
        try:
            fn()
        except AssertionError as e:
            failures.append(f"{name}: {e}")
            log(f"FAIL {name}: {e}")
    return step


def whisper_prefix():
    """The whisper.cpp prefix the build linked (CMakeCache), for whisper-cli."""
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("STT_WHISPER_DIR:"):
                return line.split("=", 1)[1].strip()
    raise AssertionError("STT_WHISPER_DIR not in CMakeCache.txt: build without whisper.cpp?")


def whisper_cli():
    """The whisper-cli of the whisper.cpp the build linked."""
    return os.path.join(whisper_prefix(), "bin", "whisper-cli")


def require_tool(name, fallback=None):
    path = shutil.which(name) or (fallback if fallback and os.path.exists(fallback) else None)
    if not path:
        raise AssertionError(f"required tool {name!r} not found (install the Debian package)")
    return path


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=f"stt-integ-{prefix}-")
    if not os.environ.get("STT_INTEG_KEEP"):
        atexit.register(shutil.rmtree, d, True)
    return d


# ---------------------------------------------------------------------------------------------
# Ports and processes
# ---------------------------------------------------------------------------------------------

def free_ports(n):
    """n distinct ports that were free a moment ago (held open together so they differ)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: if the test script dies (watchdog, crash), the server gets SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


_LIVE = []


@atexit.register
def _kill_leftovers():
    for p in _LIVE:
        if p.poll() is None:
            p.kill()


def spawn(argv, log_path, **kw):
    f = open(log_path, "wb")
    # Own session: a ^C or a process-group kill aimed at the test runner does not reach the
    # server half-way through a test (SIGINT starts a drain, like SIGTERM).
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                         preexec_fn=_die_with_parent, start_new_session=True, **kw)
    f.close()
    _LIVE.append(p)
    return p


def http_get(url, headers=None, timeout=5.0):
    """(status, headers dict with lowercase keys, body bytes); 4xx/5xx are returned, not raised."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                      "ThreadSanitizer", "Segmentation fault")


# Tests about something other than admission run many real-time calls on 2 cores, where load
# shedding could legitimately refuse a late connection; they switch it off with these flags.
NO_LOAD_SHEDDING = ("--no-admission_control",)


class Server:
    """One stt-server process on free 127.0.0.1 ports, logging to a file.

    Use as a context manager; on an exception the log tail is printed. stop() raises if the log
    shows a sanitizer report (when STT_SERVER is an ASan/UBSan build)."""

    def __init__(self, *extra, engine="pocketsphinx", name="srv", drain_timeout=3.0,
                 binary=None, host="127.0.0.1"):
        self.extra = [str(a) for a in extra]
        self.engine = engine
        self.name = name
        self.drain_timeout = drain_timeout
        self.binary = binary or SERVER_BIN
        self.host = host
        self.dir = tmpdir(name)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.signalled = False
        self.control_port = self.data_port = self.monitor_port = None
        self.argv = None

    # -- lifecycle --
    def build_argv(self):
        argv = [self.binary, "--host", self.host,
                "--control_port", str(self.control_port), "--data_port", str(self.data_port),
                "--monitor_port", str(self.monitor_port)]
        if self.engine:
            argv += ["--engine", self.engine]
        if self.drain_timeout is not None:
            argv += ["--drain_timeout", str(self.drain_timeout)]
        return argv + self.extra

    def start(self, ready_timeout=20.0, argv_fn=None):
        if not os.access(self.binary, os.X_OK):
            raise AssertionError(f"stt-server binary not found or not executable: {self.binary}")
        last_err = None
        for attempt in range(3):
            self.control_port, self.data_port, self.monitor_port = free_ports(3)
            self.argv = argv_fn(self) if argv_fn else self.build_argv()
            self.proc = spawn(self.argv, self.log_path)
            try:
                self.wait_ready(ready_timeout)
                return self
            except AssertionError as e:
                last_err = e
                # A port taken between free_ports() and bind() is the one retryable failure.
                if self.proc.poll() is not None and re.search(
                        r"(?i)address already in use|EADDRINUSE|bind", self.log_text()):
                    continue
                self.kill()
                raise
        raise last_err

    def wait_ready(self, timeout):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name}: stt-server exited with {self.proc.returncode} "
                                     f"before ready\nargv: {self.argv}\n{self.log_tail()}")
            try:
                status, _, _ = http_get(self.http_url("/readyz"), timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: /readyz not 200 within {timeout}s\n{self.log_tail()}")

    def signal(self, sig):
        self.signalled = True
        self.proc.send_signal(sig)

    def external_signal_note(self):
        """The server logs a [drain] line when SIGTERM/SIGINT arrives. If that happened although
        this harness sent none, someone else signalled the process (e.g. a `pkill stt-server` in
        another shell); say so, because the test failure is then not the server's fault."""
        if not self.signalled and "[drain]" in self.log_text():
            return (f"NOTE: {self.name} (pid {self.proc.pid}) received SIGTERM/SIGINT that this "
                    "test did not send; another process signalled it (pkill/killall?)")
        return ""

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=None):
        """SIGTERM, wait, SIGKILL as a last resort. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            note = self.external_signal_note()
            if note:
                log(note)
            self.signal(signal.SIGTERM)
            wait = timeout if timeout is not None else (self.drain_timeout or 25) + 10
            if self.wait_exit(wait) is None:
                self.kill()
                raise AssertionError(f"{self.name}: did not exit within {wait}s of SIGTERM\n"
                                     f"{self.log_tail()}")
        self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        text = self.log_text()
        for pat in SANITIZER_PATTERNS:
            if pat in text:
                raise AssertionError(f"{self.name}: sanitizer/crash report in server log "
                                     f"({pat!r}):\n{self.log_tail(120)}")

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        try:
            rc = self.stop()
        except AssertionError:
            if et is None:
                raise
            rc = None
        if et is not None:
            log(f"--- {self.name} log tail ({self.log_path}) ---\n{self.log_tail()}")
        elif rc not in (0, None):
            raise AssertionError(f"{self.name}: exit status {rc} after SIGTERM\n{self.log_tail()}")
        return False

    # -- addresses --
    def data_url(self, session=None):
        return f"ws://127.0.0.1:{self.data_port}/" + (f"?session={session}" if session else "")

    def control_url(self, session=None):
        return f"ws://127.0.0.1:{self.control_port}/" + (f"?session={session}" if session else "")

    def http_url(self, path):
        return f"http://127.0.0.1:{self.monitor_port}{path}"

    def get(self, path, headers=None):
        return http_get(self.http_url(path), headers)

    def get_json(self, path):
        status, hdrs, body = self.get(path)
        return status, json.loads(body.decode())

    # -- logs --
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        tail = "\n".join(self.log_text().splitlines()[-n:])
        note = self.external_signal_note()
        return f"{tail}\n{note}" if note else tail


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------

def wait_idle_decoders(srv, n, timeout=30.0):
    """Waits until the server's engine has n idle decoders (the spares made after ready)."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if srv.get_json("/metrics")[1]["engine"]["decoders_idle"] >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"{srv.name}: fewer than {n} idle decoders after {timeout}s")


def read_wav(path):
    """(pcm16 LE mono bytes, sample rate)."""
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise AssertionError(f"{path}: expected mono 16-bit WAV")
        return w.readframes(w.getnframes()), w.getframerate()


def write_wav(path, pcm, rate=16000):
    """pcm16 LE mono bytes -> a WAV file; returns path."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


def sox(*args):
    require_tool("sox")
    r = subprocess.run(["sox", *map(str, args)], capture_output=True)
    if r.returncode != 0:
        raise AssertionError(f"sox {args} failed: {r.stderr.decode()}")


def convert_wav(src, dst, rate):
    """Resample (sox's default high-quality rate effect) to a mono 16-bit WAV."""
    sox(src, "-r", rate, "-c", 1, "-b", 16, "-e", "signed-integer", dst)
    return dst


def raw16k_to_wav(src, dst):
    sox("-t", "raw", "-r", 16000, "-e", "signed-integer", "-b", 16, "-c", 1, src, dst)
    return dst


def silence(seconds, rate):
    return b"\x00\x00" * int(round(seconds * rate))


def duration(pcm, rate):
    return len(pcm) / 2.0 / rate


def make_frame(pcm, rate=16000, meta=None):
    """Data-socket frame: uint32 LE metadata length + JSON metadata + PCM16 LE mono."""
    m = {"sampleRate": rate} if meta is None else meta
    mb = json.dumps(m).encode() if not isinstance(m, (bytes, bytearray)) else bytes(m)
    return struct.pack("<I", len(mb)) + mb + pcm


def librivox_set():
    """[(utt_id, wav path, reference text)] from the pocketsphinx test data."""
    out = []
    with open(os.path.join(LIBRIVOX_DIR, "transcription")) as f:
        for line in f:
            m = re.match(r"\s*<s>(.*)</s>\s*\((.+)\)\s*$", line)
            if m:
                utt = m.group(2).strip()
                out.append((utt, os.path.join(LIBRIVOX_DIR, utt + ".wav"), m.group(1).strip()))
    if len(out) != 5:
        raise AssertionError(f"expected 5 librivox utterances, found {len(out)}")
    return out


# ---------------------------------------------------------------------------------------------
# WebSocket clients
# ---------------------------------------------------------------------------------------------

def _close_code(exc):
    rcvd = getattr(exc, "rcvd", None)
    return rcvd.code if rcvd is not None else 1006


async def ws_connect(url, local_addr=None, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    # The RealtimeSTT client (websocket-client) never offers permessage-deflate.
    kw.setdefault("compression", None)
    if local_addr:
        kw["local_addr"] = (local_addr, 0)
    return await websockets.connect(url, **kw)


def upgrade_probe(url, timeout=5.0, path_extra="", headers=None):
    """Sends one WebSocket upgrade request for url (ws://host:port/path?query), with extra request
    `headers` (a dict) if given, on a plain socket and returns (status, headers, body) of the server's HTTP answer: 101 when it would upgrade (the
    socket is closed at once), else the refusal (headers lower-cased; body bytes, as many as
    Content-Length says)."""
    m = re.match(r"ws://([^:/]+):(\d+)(/[^ ]*)?", url)
    host, port, path = m.group(1), int(m.group(2)), (m.group(3) or "/") + path_extra
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
           f"Sec-WebSocket-Version: 13\r\n"
           + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(req.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0") or 0) if status != 101 else 0
        while len(body) < want:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def check_refusal(url, code_word, failures, what):
    """Asserts that a new connection to url is refused before the upgrade: HTTP 503 with a
    Retry-After header and a JSON body whose error or message names code_word. Returns the
    (status, headers, body) seen."""
    status, headers, body = upgrade_probe(url)
    try:
        js = json.loads(body or b"{}")
    except ValueError:
        js = {}
    text = f"{js.get('error', '')} {js.get('message', '')}"
    if status != 503 or "retry-after" not in headers or code_word not in text:
        failures.append(f"{what}: expected HTTP 503 + Retry-After + '{code_word}', got {status} "
                        f"{headers.get('retry-after')!r} {body[:200]!r}")
    return status, headers, body


class DataClient:
    """A data-socket connection that records every server message with its arrival time
    (time.monotonic()) and the close code. A connection the server refuses before the upgrade
    (admission: HTTP 503) is recorded as closed with http_status set and no close code."""

    def __init__(self, url, name="", local_addr=None):
        self.url = url
        self.name = name or url
        self.local_addr = local_addr
        self.ws = None
        self.events = []          # [(t, dict)] parsed JSON text frames
        self.anomalies = []       # non-JSON text, binary frames, unknown types
        self.close_code = None
        self.close_reason = None
        self.closed_at = None
        self.send_error = None
        self.http_status = None   # set when the upgrade was refused (admission)
        self.http_headers = {}
        self._reader_task = None
        self._cond = asyncio.Condition()

    async def connect(self):
        try:
            self.ws = await ws_connect(self.url, self.local_addr)
        except websockets.exceptions.InvalidStatusCode as e:
            self.http_status = e.status_code
            self.http_headers = {k.lower(): v for k, v in e.headers.items()}
            self.closed_at = time.monotonic()
            async with self._cond:
                self._cond.notify_all()
            return self
        self._reader_task = asyncio.ensure_future(self._reader())
        return self

    async def _reader(self):
        try:
            async for msg in self.ws:
                t = time.monotonic()
                if isinstance(msg, bytes):
                    self.anomalies.append((t, "binary", len(msg)))
                    continue
                try:
                    ev = json.loads(msg)
                except ValueError:
                    self.anomalies.append((t, "non-json", msg[:200]))
                    continue
                if not isinstance(ev, dict) or ev.get("type") not in EVENT_TYPES:
                    self.anomalies.append((t, "unknown", str(ev)[:200]))
                async with self._cond:
                    self.events.append((t, ev))
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self.closed_at = time.monotonic()
            async with self._cond:
                self._cond.notify_all()

    async def send_raw(self, data):
        if self.ws is None:  # refused before the upgrade
            return False
        try:
            await self.ws.send(data)
            return True
        except ConnectionClosed as e:
            self.send_error = e
            return False

    async def send_pcm(self, pcm, rate, frames_per_msg=1024, realtime=True, t0=None, meta=None):
        """Send pcm in frames_per_msg-sample messages. In real-time mode message k leaves at
        t0 + k*frames_per_msg/rate on a fixed clock (no drift from sleep overruns). Returns the
        scheduled time at which the last sample 'happened' (t0 + samples/rate), for chaining."""
        if t0 is None:
            t0 = time.monotonic()
        step = frames_per_msg * 2
        n = len(pcm) // 2
        for k, off in enumerate(range(0, len(pcm), step)):
            if realtime:
                delay = t0 + k * frames_per_msg / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if not await self.send_raw(make_frame(pcm[off:off + step], rate, meta)):
                break
        end = t0 + n / rate
        if realtime:
            delay = end - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return end

    async def wait_for(self, pred, timeout, what="event"):
        """Wait for an event matching pred(ev); returns (t, ev). Raises on timeout/close."""
        t_end = time.monotonic() + timeout
        async with self._cond:
            while True:
                for t, ev in self.events:
                    if pred(ev):
                        return t, ev
                if self.closed_at is not None:
                    raise AssertionError(f"{self.name}: socket closed ({self.close_code}) while "
                                         f"waiting for {what}; events: {self.summary()}")
                left = t_end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for "
                                         f"{what}; events: {self.summary()}")
                try:
                    await asyncio.wait_for(self._cond.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def wait_count(self, type_, count, timeout):
        await self.wait_for(lambda ev: sum(1 for _, e in self.events if e.get("type") == type_)
                            >= count, timeout, f"{count} x {type_}")

    async def wait_closed(self, timeout):
        try:
            await asyncio.wait_for(asyncio.shield(self._reader_task), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: server did not close within {timeout}s")
        return self.close_code

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self._reader_task is not None:
            try:
                await asyncio.wait_for(self._reader_task, 5)
            except asyncio.TimeoutError:
                self._reader_task.cancel()

    # -- views --
    def of_type(self, type_):
        return [(t, ev) for t, ev in self.events if ev.get("type") == type_]

    def types(self):
        return [ev.get("type") for _, ev in self.events]

    def finals(self):
        return [ev.get("text", "") for _, ev in self.of_type("fullSentence")]

    def texts(self):
        return [ev.get("text", "") for _, ev in self.events if "text" in ev]

    def count(self, type_):
        return sum(1 for _, ev in self.events if ev.get("type") == type_)

    def summary(self):
        out = []
        for _, ev in self.events:
            ty = ev.get("type")
            if ty in ("realtime", "fullSentence"):
                out.append(f"{ty}({ev.get('text', '')!r})")
            elif ty == "transcription_start":
                out.append(f"{ty}({len(ev.get('audio_bytes_base64') or '')}b64)")
            elif ty == "error":
                out.append(f"error({ev.get('code')})")
            else:
                out.append(ty)
        # Collapse runs of realtime updates so failure messages stay readable.
        res, prev, run = [], None, 0
        for s in out + [None]:
            key = s.split("(")[0] if s else None
            if key == "realtime" and prev == "realtime":
                run += 1
                last_rt = s
                continue
            if prev == "realtime" and run:
                res.append(f"...+{run} realtime, last {last_rt}")
            run = 0
            if s is not None:
                res.append(s)
            prev = key
        return ", ".join(res)


class ControlClient:
    """Control-socket connection: one JSON response per request, in order."""

    def __init__(self, url, local_addr=None):
        self.url = url
        self.local_addr = local_addr
        self.ws = None

    async def connect(self):
        self.ws = await ws_connect(self.url, self.local_addr)
        return self

    async def request(self, msg, timeout=5.0):
        """Send msg (dict: as JSON text, str: as is, bytes: binary); return the parsed reply."""
        await self.ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)
        return await self.recv(timeout)

    async def recv(self, timeout=5.0):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        self.last_raw = raw
        if not isinstance(raw, str):
            raise AssertionError(f"control reply is binary ({len(raw)} bytes)")
        return json.loads(raw)

    async def get(self, parameter, request_id=None, timeout=5.0):
        msg = {"command": "get_parameter", "parameter": parameter}
        if request_id is not None:
            msg["request_id"] = request_id
        return await self.request(msg, timeout)

    async def set(self, parameter, value, timeout=5.0):
        return await self.request({"command": "set_parameter", "parameter": parameter,
                                   "value": value}, timeout)

    async def call(self, method, args=None, kwargs=None, timeout=5.0):
        return await self.request({"command": "call_method", "method": method,
                                   "args": args or [], "kwargs": kwargs or {}}, timeout)

    async def close(self):
        if self.ws is not None:
            await self.ws.close()


async def transcribe(url, pcm, rate, tail_s=1.5, frames_per_msg=1024, realtime=True,
                     expect_finals=1, final_timeout=30.0, settle_s=1.0, name="", local_addr=None,
                     client=None):
    """Stream pcm + tail_s of silence on one data connection, wait for expect_finals
    fullSentence events (then settle_s more, to catch extras) and close. Returns the DataClient
    with .t0 (first send), .t_speech_end (scheduled end of pcm) and .t_end (end of tail)."""
    c = client or await DataClient(url, name=name, local_addr=local_addr).connect()
    c.t0 = time.monotonic()
    c.wait_error = None
    if c.http_status is not None:  # refused before the upgrade
        c.t_speech_end = c.t_end = c.t0
        return c
    c.t_speech_end = await c.send_pcm(pcm, rate, frames_per_msg, realtime, c.t0)
    c.t_end = await c.send_pcm(silence(tail_s, rate), rate, frames_per_msg, realtime,
                               c.t_speech_end if realtime else None)
    c.wait_error = None
    if expect_finals:
        # Not raised here: concurrent callers (asyncio.gather) still get every client back; the
        # caller's count assertions report the shortfall with the event summary.
        try:
            await c.wait_count("fullSentence", expect_finals, final_timeout)
        except AssertionError as e:
            c.wait_error = str(e)
    await asyncio.sleep(settle_s)
    await c.close()
    return c


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------

SCLITE = "/usr/lib/sctk/bin/sclite"


def normalize(text):
    """Lowercase, punctuation stripped (word-internal apostrophes kept), whitespace collapsed."""
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    words = [w.strip("'") for w in t.split()]
    return " ".join(w for w in words if w)


def wer(pairs):
    """Corpus WER of [(reference, hypothesis)] with NIST sclite. Returns
    (error_rate, n_ref_words, n_errors). Texts are normalized first."""
    sclite = require_tool("sclite", SCLITE)
    d = tempfile.mkdtemp(prefix="stt-sclite-")
    try:
        ref_p, hyp_p = os.path.join(d, "ref.trn"), os.path.join(d, "hyp.trn")
        with open(ref_p, "w") as rf, open(hyp_p, "w") as hf:
            for i, (ref, hyp) in enumerate(pairs):
                # "-i rm" ids are speaker-utterance; one pseudo speaker for the corpus.
                rf.write(f"{normalize(ref)} (spk-u{i:03d})\n")
                hf.write(f"{normalize(hyp)} (spk-u{i:03d})\n")
        r = subprocess.run([sclite, "-r", ref_p, "trn", "-h", hyp_p, "trn", "-i", "rm",
                            "-o", "sum", "stdout"], capture_output=True, text=True)
        m = re.search(r"\|\s*Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                      r"\s+([\d.]+)\s+([\d.]+)", r.stdout)
        if r.returncode != 0 or not m:
            raise AssertionError(f"sclite failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}")
        n_words = int(m.group(2))
        err_pct = float(m.group(7))
        return err_pct / 100.0, n_words, int(round(err_pct * n_words / 100.0))
    finally:
        shutil.rmtree(d, True)


def word_overlap(a, b):
    """Fraction of a's words that also occur in b (after normalization)."""
    wa, wb = normalize(a).split(), set(normalize(b).split())
    return sum(1 for w in wa if w in wb) / len(wa) if wa else 0.0


def decode_f32_b64(s):
    raw = base64.b64decode(s)
    if len(raw) % 4:
        raise AssertionError(f"transcription_start audio is {len(raw)} bytes, not float32-aligned")
    return struct.unpack(f"<{len(raw) // 4}f", raw)


def check_transcription_start(ev, min_s, max_s):
    """audio_bytes_base64 must be float32 LE 16 kHz samples in [-1, 1] of plausible length."""
    b64 = ev.get("audio_bytes_base64")
    if not isinstance(b64, str) or not b64:
        raise AssertionError(f"transcription_start without audio_bytes_base64: {str(ev)[:200]}")
    samples = decode_f32_b64(b64)
    secs = len(samples) / 16000.0
    if not (min_s <= secs <= max_s):
        raise AssertionError(f"transcription_start audio is {secs:.2f}s, expected "
                             f"{min_s:.2f}..{max_s:.2f}s")
    peak = max(abs(x) for x in samples) if samples else 0.0
    if not (0.0 < peak <= 1.0):
        raise AssertionError(f"transcription_start audio peak {peak} not in (0, 1]")
    return secs


# ---------------------------------------------------------------------------------------------
# Prometheus text and self-healing scenarios
# ---------------------------------------------------------------------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$')


def parse_prom(text):
    """{(name, frozenset(labels)): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"unparseable sample line: {line!r}")
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def prom_metrics(srv):
    """The server's /metrics as Prometheus scrapes it, parsed (parse_prom)."""
    status, _, body = srv.get("/metrics", {"Accept": PROM_ACCEPT_PLAIN})
    if status != 200:
        raise AssertionError(f"/metrics returned {status}")
    return parse_prom(body.decode())


def prom_value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


async def stream_calls(url, pcm, rate, rounds, gap_s, name, frames_per_msg=320, t0=None):
    """One call that says pcm `rounds` times, each followed by gap_s of silence, in real time.
    Returns the DataClient, still open (the caller waits for finals and closes it)."""
    c = await DataClient(url, name=name).connect()
    t = c.t0 = t0 if t0 is not None else time.monotonic()
    for _ in range(rounds):
        t = await c.send_pcm(pcm, rate, frames_per_msg, True, t)
        t = await c.send_pcm(silence(gap_s, rate), rate, frames_per_msg, True, t)
    c.t_end = t
    return c


async def wait_finals(clients, timeout, failures, expect=0):
    """Waits until every client has one fullSentence per recording_stop, and at least `expect`
    of them (a server running behind may not have ended the last utterance yet when this is
    called: counting its recording_stops then would expect too few), all within one shared
    timeout; a client that falls short is a failure (with its events, cut short)."""
    t_end = time.monotonic() + timeout
    for c in clients:
        try:
            if expect:
                await c.wait_count("fullSentence", expect, max(0.1, t_end - time.monotonic()))
            await c.wait_count("fullSentence", c.count("recording_stop"),
                               max(0.1, t_end - time.monotonic()))
        except AssertionError as e:
            failures.append(str(e)[:300])


async def poll_metrics(srv, pred, timeout, interval=0.2):
    """Reads the JSON /metrics until pred(metrics) holds or timeout passes; returns the last."""
    t_end = time.monotonic() + timeout
    while True:
        m = srv.get_json("/metrics")[1]
        if pred(m) or time.monotonic() >= t_end:
            return m
        await asyncio.sleep(interval)


def run_scenario(scenario, *args, engine, name, limit_s=300, ready_timeout=60, after=None):
    """main() of a scenario test: one server with args, `await scenario(srv, failures)`, then
    after(srv, failures) if given, a clean exit (status 0, no sanitizer report), and the
    report. Exits the process with the report's status; bounded by watchdog(limit_s)."""
    watchdog(limit_s)
    failures = []
    with Server(*args, engine=engine, name=name) as srv:
        srv.start(ready_timeout=ready_timeout)
        try:
            run_async(scenario(srv, failures))
        except AssertionError as e:
            failures.append(str(e))
        if after:
            after(srv, failures)
        if srv.stop() != 0:
            failures.append("server exit status not 0")
    raise SystemExit(report(failures))


def run_async(coro):
    return asyncio.run(coro)

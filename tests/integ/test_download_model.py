#!/usr/bin/python3
"""tools/download-model against a local HTTP server that supports Range requests and misbehaves
on demand: a plain download verifies its SHA-1 and lands under --root; a download cut short exits
1 keeping its .part, and the next run resumes it with `Range: bytes=K-` from the .part's size; a
corrupt download exits 1 with the mismatch line and leaves neither a .part nor a final file; a
file already present is not fetched again; an unknown name exits 2; --list works; the default
directory follows $STT_MODEL_DIR and $XDG_CACHE_HOME like the server's.

Standard library only (no harness import: it needs websockets, and no stt-server runs here).
"""

import faulthandler
import hashlib
import http.server
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("STT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(SOURCE_DIR, "tools", "download-model")

FILE_NAME = "ggml-tiny.bin"
UNPINNED_FILE = "ggml-tiny-q5_1.bin"  # a name whisper.cpp publishes no SHA-1 for
# 3 MiB of deterministic pseudo-random bytes stand in for the model.
PAYLOAD = random.Random(20240521).randbytes(3 * 1024 * 1024)
PAYLOAD_SHA1 = hashlib.sha1(PAYLOAD).hexdigest()
TINY_PINNED = "bd577a113a864445d4c299885e0cb97d4ba92b5f"
NUM_NAMES = 29


def log(*args):
    print(*args, flush=True)


class Origin:
    """What the server serves and how it misbehaves, plus a record of the requests it saw.
    Handler threads and the test thread share it under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.truncate_after = None  # close the connection after this many body bytes
        self.corrupt = False        # serve the right length with some bytes flipped
        self.ranges = True          # honour Range (else always 200 with the whole file)
        self.hold = None            # a threading.Event: send no body until it is set
        self.requests = []          # (method, path, Range header or None)

    def set(self, truncate_after=None, corrupt=False, ranges=True, hold=None):
        with self.lock:
            self.truncate_after, self.corrupt, self.ranges = truncate_after, corrupt, ranges
            self.hold = hold

    def seen(self):
        with self.lock:
            return list(self.requests)


def corrupted(data):
    b = bytearray(data)
    for i in range(1000, len(b), 65536):
        b[i] ^= 0xFF
    return bytes(b)


def make_handler(origin):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep the test output short
            pass

        def do_HEAD(self):
            self.serve(head=True)

        def do_GET(self):
            self.serve(head=False)

        def serve(self, head):
            rng = self.headers.get("Range")
            with origin.lock:
                origin.requests.append((self.command, self.path, rng))
                truncate_after, corrupt, ranges, hold = (origin.truncate_after, origin.corrupt,
                                                         origin.ranges, origin.hold)
            if self.path not in ("/" + FILE_NAME, "/" + UNPINNED_FILE):
                self.send_error(404)
                return
            data = corrupted(PAYLOAD) if corrupt else PAYLOAD
            size = len(data)
            start, end, status = 0, size - 1, 200
            if rng and ranges:
                m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
                if not m:
                    self.send_error(400, "bad Range")
                    return
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            body = data[start:end + 1]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes" if ranges else "none")
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if head:
                return
            if truncate_after is not None and truncate_after < len(body):
                # Promise the whole body, send part of it, then hang up.
                self.wfile.write(body[:truncate_after])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if hold is not None:
                hold.wait(30)
            self.wfile.write(body)

    return Handler


class QuietHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # curl hanging up on us (after a refused resume, say) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Server:
    def __init__(self):
        self.origin = Origin()
        self.httpd = QuietHTTPServer(("127.0.0.1", 0), make_handler(self.origin))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def tool_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
           and not k.startswith("STT_MODEL_") and k != "CURL_HOME"}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def run(*args, env=None, timeout=30):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=env or tool_env())
    return r.returncode, r.stdout, r.stderr


def sha1_file(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, case, cond, what):
        if not cond:
            self.failures.append(f"{case}: {what}")
        return cond


def case_plain(srv, tmp, c):
    root = os.path.join(tmp, "plain", "models")  # missing: the tool must create it
    n0 = len(srv.origin.seen())
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    final = os.path.join(root, FILE_NAME)
    log(f"  plain: rc {rc}, stdout {out.strip()!r}")
    c.expect("plain", rc == 0, f"rc {rc}, stderr {err.strip()!r}")
    c.expect("plain", out.strip() == final, f"stdout {out!r}, expected the final path {final}")
    c.expect("plain", os.path.isfile(final) and sha1_file(final) == PAYLOAD_SHA1,
             "final file missing or wrong SHA-1")
    c.expect("plain", not os.path.exists(final + ".part"), ".part left behind")
    reqs = srv.origin.seen()[n0:]
    c.expect("plain", len(reqs) == 1 and reqs[0][2] is None,
             f"expected one GET without Range, saw {reqs}")
    return root


def case_present(srv, root, c):
    n0 = len(srv.origin.seen())
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    log(f"  already present: rc {rc}, stderr {err.strip()!r}")
    c.expect("present", rc == 0, f"rc {rc}")
    c.expect("present", "already present" in err, f"stderr {err!r}")
    c.expect("present", out.strip() == os.path.join(root, FILE_NAME), f"stdout {out!r}")
    c.expect("present", len(srv.origin.seen()) == n0,
             f"made {len(srv.origin.seen()) - n0} requests for a file already present")
    # A final file with the wrong content is fetched again and replaced.
    final = os.path.join(root, FILE_NAME)
    with open(final, "r+b") as f:
        f.write(b"garbage")
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    c.expect("present but wrong", rc == 0 and sha1_file(final) == PAYLOAD_SHA1
             and "downloading it again" in err, f"rc {rc}, stderr {err!r}")
    n0 = len(srv.origin.seen())
    # --quiet: nothing on stderr when all is well.
    rc, out, err = run("--quiet", "--root", root, "--base-url", srv.url, "--sha1",
                       PAYLOAD_SHA1, "tiny")
    c.expect("present --quiet", rc == 0 and err == "", f"rc {rc}, stderr {err!r}")


def case_truncated_then_resume(srv, tmp, c):
    root = os.path.join(tmp, "resume")
    cut = 1024 * 1024 + 123
    part = os.path.join(root, FILE_NAME + ".part")
    final = os.path.join(root, FILE_NAME)
    srv.origin.set(truncate_after=cut)
    n0 = len(srv.origin.seen())
    rc, out, err = run("--quiet", "--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1,
                       "tiny")
    log(f"  truncated: rc {rc}, stderr {err.strip()!r}")
    c.expect("truncated", rc == 1, f"rc {rc}")
    c.expect("truncated", out == "", f"stdout {out!r}")
    c.expect("truncated", os.path.isfile(part) and os.path.getsize(part) == cut,
             f".part missing or not {cut} bytes")
    c.expect("truncated", not os.path.exists(final), "final file exists after a failed download")
    c.expect("truncated", len(err.splitlines()) == 1 and "kept" in err and "resume" in err,
             "stderr is not one line saying the .part was kept for resuming")
    c.expect("truncated", len(srv.origin.seen()) - n0 == 1,
             f"{len(srv.origin.seen()) - n0} requests (a cut transfer is not retried in-run)")

    srv.origin.set()
    n1 = len(srv.origin.seen())
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    reqs = srv.origin.seen()[n1:]
    log(f"  resumed: rc {rc}, requests {[r[2] for r in reqs]}")
    c.expect("resume", rc == 0, f"rc {rc}, stderr {err.strip()!r}")
    c.expect("resume", [r[2] for r in reqs] == [f"bytes={cut}-"],
             f"expected one request with Range: bytes={cut}-, saw {reqs}")
    c.expect("resume", os.path.isfile(final) and sha1_file(final) == PAYLOAD_SHA1,
             "final file missing or wrong SHA-1")
    c.expect("resume", not os.path.exists(part), ".part left behind")
    c.expect("resume", out.strip() == final, f"stdout {out!r}")


def case_complete_part(srv, tmp, c):
    """A run killed between the last byte and the rename leaves a complete .part: the next
    run's Range request gets 416, which curl takes as done, and the file is verified."""
    root = os.path.join(tmp, "complete")
    os.makedirs(root)
    with open(os.path.join(root, FILE_NAME + ".part"), "wb") as f:
        f.write(PAYLOAD)
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    log(f"  complete .part: rc {rc}")
    c.expect("complete .part", rc == 0, f"rc {rc}, stderr {err.strip()!r}")
    c.expect("complete .part", sha1_file(os.path.join(root, FILE_NAME)) == PAYLOAD_SHA1
             if os.path.isfile(os.path.join(root, FILE_NAME)) else False, "no verified file")


def case_no_range_support(srv, tmp, c):
    """A server that ignores Range: the stale .part is dropped and the download starts over."""
    root = os.path.join(tmp, "noranges")
    os.makedirs(root)
    with open(os.path.join(root, FILE_NAME + ".part"), "wb") as f:
        f.write(PAYLOAD[:5000])
    srv.origin.set(ranges=False)
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    srv.origin.set()
    final = os.path.join(root, FILE_NAME)
    log(f"  server without ranges: rc {rc}")
    c.expect("no ranges", rc == 0, f"rc {rc}, stderr {err.strip()!r}")
    c.expect("no ranges", os.path.isfile(final) and sha1_file(final) == PAYLOAD_SHA1,
             "final file missing or wrong SHA-1")


def case_corrupt(srv, tmp, c):
    root = os.path.join(tmp, "corrupt")
    srv.origin.set(corrupt=True)
    rc, out, err = run("--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny")
    srv.origin.set()
    bad = hashlib.sha1(corrupted(PAYLOAD)).hexdigest()
    line = (f"download-model: {FILE_NAME}: SHA-1 mismatch (expected {PAYLOAD_SHA1}, got {bad}); "
            "the partial file was removed, run again to retry")
    log(f"  corrupt: rc {rc}, stderr {err.strip()!r}")
    c.expect("corrupt", rc == 1, f"rc {rc}")
    c.expect("corrupt", line in err.splitlines(), f"mismatch line missing from {err!r}")
    c.expect("corrupt", not os.path.exists(os.path.join(root, FILE_NAME + ".part")),
             ".part left behind")
    c.expect("corrupt", not os.path.exists(os.path.join(root, FILE_NAME)), "final file exists")

    # Without --sha1 the pinned sum applies, and our payload is not the real tiny model.
    rc, out, err = run("--root", root, "--base-url", srv.url, "tiny")
    c.expect("pinned sum", rc == 1 and f"expected {TINY_PINNED}, got {PAYLOAD_SHA1}" in err,
             f"rc {rc}, stderr {err.strip()!r}")


def case_http_error(srv, tmp, c):
    root = os.path.join(tmp, "http404")
    rc, out, err = run("--root", root, "--base-url", srv.url + "/nothing-here", "--sha1",
                       PAYLOAD_SHA1, "tiny")
    log(f"  404: rc {rc}, stderr {err.strip()!r}")
    c.expect("404", rc == 1, f"rc {rc}")
    left = [f for f in os.listdir(root) if f != ".download-model.lock"] \
        if os.path.isdir(root) else []
    c.expect("404", left == [], f"left {left} behind")


def case_usage(srv, tmp, c):
    n0 = len(srv.origin.seen())
    rc, out, err = run("--root", tmp, "--base-url", srv.url, "no-such-model")
    log(f"  unknown name: rc {rc}, stderr {err.strip()[:100]!r}...")
    c.expect("unknown name", rc == 2, f"rc {rc}")
    lines = err.strip().splitlines()
    c.expect("unknown name", len(lines) == 1 and "no-such-model" in lines[0]
             and "large-v3-turbo" in lines[0], f"stderr {err!r}")
    for args in (["--sha1", "abc", "tiny"], [], ["--bogus", "tiny"], ["--root"]):
        rc, out, err = run(*args, env=tool_env(STT_MODEL_DIR=tmp))
        c.expect(f"usage {args}", rc == 2, f"rc {rc}, stderr {err.strip()!r}")
    rc, out, err = run("--help")
    c.expect("--help", rc == 0 and "Usage:" in out, f"rc {rc}")
    c.expect("usage", len(srv.origin.seen()) == n0, "a usage error made a request")


def case_list(root, c):
    rc, out, err = run("--list", "--root", root)
    rows = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines()[1:] if ln.strip()}
    log(f"  --list: rc {rc}, {len(rows)} names, tiny {rows.get('tiny')}")
    c.expect("--list", rc == 0, f"rc {rc}, stderr {err!r}")
    c.expect("--list", len(rows) == NUM_NAMES, f"{len(rows)} names, expected {NUM_NAMES}")
    c.expect("--list", rows.get("tiny") == [TINY_PINNED, "present"], f"tiny row {rows.get('tiny')}")
    c.expect("--list", rows.get("tiny-q5_1") == ["-", "-"],
             f"tiny-q5_1 row {rows.get('tiny-q5_1')}")
    c.expect("--list", rows.get("large-v3-turbo") == ["4af2b29d7ec73d781377bfd1758ca957a807e941",
                                                       "-"], "large-v3-turbo row")


def case_default_dir(srv, tmp, c):
    """The directory rule the server uses: $STT_MODEL_DIR, else $XDG_CACHE_HOME/stt-server/models,
    else ~/.cache/stt-server/models; the base URL may come from $STT_MODEL_BASE_URL."""
    xdg = os.path.join(tmp, "xdg")
    env = tool_env(XDG_CACHE_HOME=xdg, HOME=os.path.join(tmp, "home"),
                   STT_MODEL_BASE_URL=srv.url)
    rc, out, err = run("--quiet", "--sha1", PAYLOAD_SHA1, "tiny", env=env)
    want = os.path.join(xdg, "stt-server", "models", FILE_NAME)
    c.expect("XDG_CACHE_HOME", rc == 0 and out.strip() == want, f"rc {rc}, stdout {out!r}")

    env.pop("XDG_CACHE_HOME")
    rc, out, err = run("--list", env=env)
    c.expect("HOME", rc == 0 and os.path.join(tmp, "home", ".cache", "stt-server", "models")
             in out.splitlines()[0], f"header {out.splitlines()[:1]}")

    env["STT_MODEL_DIR"] = os.path.join(tmp, "envdir")
    rc, out, err = run("--quiet", "--sha1", PAYLOAD_SHA1, "tiny", env=env)
    want = os.path.join(tmp, "envdir", FILE_NAME)
    c.expect("STT_MODEL_DIR", rc == 0 and out.strip() == want, f"rc {rc}, stdout {out!r}")


def case_concurrent(srv, tmp, c):
    """Two runs for one model into one directory at once (two containers on one volume): the
    second waits on the first's lock, then finds the file present; one GET in all. The origin
    holds the first download's body until the second run says it is waiting."""
    root = os.path.join(tmp, "concurrent")
    release = threading.Event()
    srv.origin.set(hold=release)
    n0 = len(srv.origin.seen())
    args = [TOOL, "--root", root, "--base-url", srv.url, "--sha1", PAYLOAD_SHA1, "tiny"]
    procs = []
    try:
        first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, stdin=subprocess.DEVNULL, env=tool_env())
        procs.append(first)
        t_end = time.monotonic() + 10
        while len(srv.origin.seen()) == n0 and time.monotonic() < t_end:
            time.sleep(0.01)
        second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, stdin=subprocess.DEVNULL, env=tool_env())
        procs.append(second)
        err2 = []
        reader = threading.Thread(target=lambda: err2.extend(second.stderr), daemon=True)
        reader.start()
        t_end = time.monotonic() + 10
        while not any("waiting for it" in line for line in err2) and time.monotonic() < t_end:
            time.sleep(0.01)
        release.set()
        out1, err1 = first.communicate(timeout=30)
        out2 = second.stdout.read()
        second.wait(timeout=30)
        reader.join(5)
        err2 = "".join(err2)
    finally:
        release.set()
        srv.origin.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    final = os.path.join(root, FILE_NAME)
    reqs = srv.origin.seen()[n0:]
    log(f"  concurrent: rc {first.returncode}/{second.returncode}, {len(reqs)} request(s), "
        f"second said {err2.strip().splitlines()[:2]!r}")
    c.expect("concurrent", first.returncode == 0 and second.returncode == 0,
             f"rc {first.returncode}/{second.returncode}, stderr {err1!r} / {err2!r}")
    c.expect("concurrent", "waiting for it" in err2 and "already present" in err2,
             f"second run's stderr {err2!r}")
    c.expect("concurrent", out1.strip() == final and out2.strip() == final,
             f"stdout {out1!r} / {out2!r}")
    c.expect("concurrent", os.path.isfile(final) and sha1_file(final) == PAYLOAD_SHA1,
             "final file missing or wrong SHA-1")
    c.expect("concurrent", len(reqs) == 1, f"expected one GET, saw {reqs}")


def case_unpinned(srv, tmp, c):
    """A name with no published SHA-1 (tiny-q5_1) is kept, with a warning that gives its SHA-1;
    a second run finds it present, still saying it is unverified."""
    root = os.path.join(tmp, "unpinned")
    final = os.path.join(root, UNPINNED_FILE)
    rc, out, err = run("--root", root, "--base-url", srv.url, "tiny-q5_1")
    log(f"  unpinned: rc {rc}, stderr {err.strip()!r}")
    c.expect("unpinned", rc == 0 and out.strip() == final, f"rc {rc}, stdout {out!r}")
    c.expect("unpinned", "could not be verified" in err and PAYLOAD_SHA1 in err,
             f"no warning with the SHA-1 in {err!r}")
    c.expect("unpinned", os.path.isfile(final) and sha1_file(final) == PAYLOAD_SHA1, "not kept")
    n0 = len(srv.origin.seen())
    rc, out, err = run("--root", root, "--base-url", srv.url, "tiny-q5_1")
    c.expect("unpinned present", rc == 0 and "not verified" in err
             and len(srv.origin.seen()) == n0, f"rc {rc}, stderr {err!r}")


def main():
    faulthandler.dump_traceback_later(60, exit=True)
    c = Checks()
    if not os.access(TOOL, os.X_OK):
        log(f"FAILED: {TOOL} is missing or not executable")
        return 1
    if shutil.which("curl") is None:
        log("FAILED: curl is not installed")
        return 1
    tmp = tempfile.mkdtemp(prefix="stt-dlmodel-")
    try:
        with Server() as srv:
            log(f"serving {FILE_NAME} ({len(PAYLOAD)} bytes, SHA-1 {PAYLOAD_SHA1}) at {srv.url}")
            root = case_plain(srv, tmp, c)
            case_present(srv, root, c)
            case_truncated_then_resume(srv, tmp, c)
            case_complete_part(srv, tmp, c)
            case_no_range_support(srv, tmp, c)
            case_corrupt(srv, tmp, c)
            case_http_error(srv, tmp, c)
            case_usage(srv, tmp, c)
            case_list(root, c)
            case_default_dir(srv, tmp, c)
            case_unpinned(srv, tmp, c)
            case_concurrent(srv, tmp, c)
    finally:
        if os.environ.get("STT_INTEG_KEEP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if c.failures:
        log("\nFAILED:\n  " + "\n  ".join(c.failures))
        return 1
    log("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

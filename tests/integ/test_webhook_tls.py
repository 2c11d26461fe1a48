#!/usr/bin/python3
"""Webhooks over HTTPS. A private CA and a server certificate for 127.0.0.1 (an IP SAN) made with
the openssl CLI in a temp dir; the webhook receiver is audiosocket_client.WebhookReceiver serving
https only (Python's ssl module, TLS handshake at accept). One AudioSocket call (emulated
Asterisk, 1 s of librivox speech at 8 kHz in real time with a DTMF every 100 ms: test_webhook's
run_calls, with a subscriber opened before the call), the null engine.

  1. trusted: --webhook_ca_file ca.pem: the receiver gets the call's events call_start ... call_end
     in seq order over TLS (its connection's version recorded), every HMAC signature verifies,
     /metrics counts them ok and none failed, no webhook_tls line;
  2. untrusted: the same receiver, no --webhook_ca_file (the system's CA store does not know the
     private CA): no request reaches the receiver; every event's delivery fails at once and is
     counted (stt_webhook_deliveries_total{result="failed"} = the events the call had) with no
     retry (stt_webhook_retries_total 0 although --webhook_retries 3: a certificate does not fix
     itself within a backoff); exactly one webhook_tls line, naming the destination and curl's
     certificate error; the call itself is unharmed: its subscriber gets its final and call_end
     on time (test_webhook's check_on_time);
  3. a --webhook_ca_file that cannot be read: the server exits with status 2 and one error line
     naming the option."""

import os
import ssl
import subprocess
import sys
import time

import harness as h
import audiosocket_client as ac
import test_webhook as tw

SECRET = "tls-hook-secret"


def make_certs(d):
    """ca.pem (a self-signed CA) and srv.pem/srv.key (CN and IP SAN 127.0.0.1, signed by it)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=stt-server test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"))
    return os.path.join(d, "ca.pem"), ctx


def trusted(pcm, ca, ctx, failures):
    recv = ac.WebhookReceiver(SECRET, ssl_context=ctx)
    srv = h.Server("--webhook_url", recv.url, "--webhook_secret", SECRET, "--webhook_ca_file", ca,
                   *h.NO_LOAD_SHEDDING, engine="null", name="hook-tls")
    try:
        port = ac.start_server(srv)
        calls, subs = h.run_async(tw.run_calls(srv, port, pcm, 1))
        tw.check_on_time("trusted", calls, subs, failures)
        c, s = calls[0], subs[0]
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and len(recv.events_of(c.id)) < len(s.events):
            time.sleep(0.1)
        got = recv.events_of(c.id)
        kinds = [e["event"] for e in got]
        versions = sorted({p["tls"] for p in recv.posts}, key=str)
        m = tw.metrics(srv)
        h.log(f"trusted: the receiver got {len(got)} events over {versions} "
              f"({kinds[:1]} ... {kinds[-1:]}), the subscriber {len(s.events)}; metrics {m}")
        if not got or kinds[0] != "call_start" or kinds[-1] != "call_end":
            failures.append(f"trusted: the receiver got {kinds}, expected call_start ... call_end")
        if [e["seq"] for e in got] != [e["seq"] for e in s.events]:
            failures.append("trusted: the receiver's events differ from the subscriber's: "
                            f"{[e['seq'] for e in got]} vs {[e['seq'] for e in s.events]}")
        if not all(v and v.startswith("TLS") for v in versions):
            failures.append(f"trusted: requests not over TLS: {versions}")
        if not all(p["ok_sig"] for p in recv.posts):
            failures.append("trusted: a signature did not verify")
        if m["ok"] != len(got) or m["failed"]:
            failures.append(f"trusted: metrics {m}, expected {len(got)} ok and none failed")
        if "[webhook_tls]" in srv.log_text():
            failures.append("trusted: a webhook_tls line although the CA is trusted")
    finally:
        srv.stop()
        recv.stop()


def untrusted(pcm, ctx, failures):
    recv = ac.WebhookReceiver(SECRET, ssl_context=ctx)
    srv = h.Server("--webhook_url", recv.url, "--webhook_secret", SECRET, "--webhook_retries", 3,
                   *h.NO_LOAD_SHEDDING, engine="null", name="hook-tls-untrusted")
    try:
        port = ac.start_server(srv)
        calls, subs = h.run_async(tw.run_calls(srv, port, pcm, 1))
        tw.check_on_time("untrusted", calls, subs, failures)
        n = len(subs[0].events)  # --webhook_events is every kind: each one was to be POSTed
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and (tw.metrics(srv)["failed"] or 0) < n:
            time.sleep(0.1)
        time.sleep(1.0)  # a retry (the first backoff is at most 0.5 s) would be counted by now
        m = tw.metrics(srv)
        lines = [ln for ln in srv.log_text().splitlines() if "[webhook_tls]" in ln]
        h.log(f"untrusted: {n} events, metrics {m}; log: {lines}")
        if m["failed"] != n or m["retried"] or m["ok"]:
            failures.append(f"untrusted: metrics {m}, expected {n} failed, no retry, none ok")
        if recv.posts:
            failures.append(f"untrusted: {len(recv.posts)} requests reached the receiver")
        if len(lines) != 1:
            failures.append(f"untrusted: {len(lines)} webhook_tls lines, expected 1")
        elif recv.url not in lines[0] or "certificate" not in lines[0].lower():
            failures.append(f"untrusted: the webhook_tls line names no certificate problem "
                            f"of {recv.url}: {lines[0]}")
        if "[webhook_failed]" in srv.log_text():
            failures.append("untrusted: webhook_failed lines besides the one webhook_tls line")
    finally:
        srv.stop()
        recv.stop()


def bad_ca_file(d, failures):
    missing = os.path.join(d, "no-such-ca.pem")
    srv = h.Server("--webhook_url", "https://127.0.0.1:9/hook", "--webhook_ca_file", missing,
                   engine="null", name="hook-tls-bad")
    srv.control_port, srv.data_port, srv.monitor_port = h.free_ports(3)  # it listens, then exits
    p = subprocess.run(srv.build_argv(), capture_output=True, text=True, timeout=20)
    out = (p.stdout + p.stderr).strip().splitlines()
    h.log(f"bad ca file: exit status {p.returncode}; output {out}")
    if p.returncode != 2:
        failures.append(f"bad ca file: exit status {p.returncode}, expected 2")
    errs = [ln for ln in out if "--webhook_ca_file" in ln]
    if len(errs) != 1 or missing not in errs[0] or len([ln for ln in out if "ERROR" in ln]) != 1:
        failures.append(f"bad ca file: expected one error line naming the file, got {out}")


def main():
    h.watchdog(60)
    failures = []
    utt, path, ref = h.librivox_set()[0]
    pcm = ac.pcm_of(path, 8000)[:16000]  # 1 s of speech
    d = h.tmpdir("webhook-tls")
    ca, ctx = make_certs(d)
    step = h.stepper(failures)
    step("trusted", lambda: trusted(pcm, ca, ctx, failures))
    step("untrusted", lambda: untrusted(pcm, ctx, failures))
    step("bad_ca_file", lambda: bad_ca_file(d, failures))
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

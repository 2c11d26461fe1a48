#!/usr/bin/python3
"""Overload, small and fast (the full version is bench/capacity.py): one engine worker, ten
calls that connect at the same instant and stream 25 s of speech each as fast as the server
reads, after one call alone has let the server measure the engine's cost on speech. Admission
must act before the admitted calls degrade: the burst is cut at once by the predictive check (a
new call counts as talking all the time at the measured cost), so some calls are refused with
HTTP 503 (Retry-After, "overloaded") before the upgrade; the admitted ones
overload the worker, which closes admission by measured load: a new data connection is refused
with HTTP 503, /readyz is 503 and /health says "degraded" with 200; every admitted call still
receives every one of its finals (no silent loss); once the load is gone, admission reopens by
itself and a new call is accepted."""

import asyncio
import sys
import time

import harness as h

CALLS = 10


async def wait_metric(srv, pred, timeout):
    loop = asyncio.get_running_loop()
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        _, m = await loop.run_in_executor(None, srv.get_json, "/metrics")
        if pred(m):
            return m
        await asyncio.sleep(0.25)
    return None


async def scenario(srv, joined, failures, notes):
    loop = asyncio.get_running_loop()
    # One call first, alone, so the engine's cost is measured on speech: the price of a new
    # call otherwise comes from the loader's probe on noise, which may be far cheaper than
    # speech, and whether the burst is cut would depend on that.
    warm = await h.transcribe(srv.data_url(), joined[:16000 * 2 * 8], 16000, tail_s=2.0,
                              realtime=False, expect_finals=1, final_timeout=60, settle_s=0.3,
                              name="warm")
    if len(warm.finals()) != 1:
        failures.append(f"warm-up call: {warm.summary()}")
    calls = [asyncio.ensure_future(h.transcribe(srv.data_url(), joined, 16000, tail_s=2.0,
                                                realtime=False, expect_finals=5,
                                                final_timeout=150, settle_s=0.5,
                                                name=f"call{i}"))
             for i in range(CALLS)]
    m = await wait_metric(srv, lambda m: m["engine"]["overloaded"], 60)
    if m is None:
        failures.append("engine never reported overloaded under 6 fast calls on 1 worker")
    else:
        notes["overloaded_at_load"] = round(m["engine"]["utilization"], 2)
        st, _, body = await loop.run_in_executor(None, srv.get, "/readyz")
        notes["readyz"] = st
        if st != 503:
            failures.append(f"/readyz while overloaded: {st} {body!r}")
        st, health = await loop.run_in_executor(None, srv.get_json, "/health")
        notes["health"] = (st, health["status"])
        if st != 200 or health["status"] != "degraded":
            failures.append(f"/health while overloaded: {st} {health['status']}")
        st, hdr, body = await loop.run_in_executor(
            None, h.check_refusal, srv.data_url(), "overload", failures, "new call while overloaded")
        notes["late_refusal"] = (st, hdr.get("retry-after"), body[:120])
    done = await asyncio.gather(*calls)
    refused = [c for c in done if c.http_status == 503]
    admitted = [c for c in done if c not in refused]
    notes["burst"] = f"{len(admitted)} admitted, {len(refused)} refused at connect"
    if not admitted:
        failures.append("every call of the burst was refused")
    if not refused:
        failures.append(f"all {CALLS} calls of a burst admitted on one worker (no predictive cut)")
    for c in refused:
        if "retry-after" not in c.http_headers:
            failures.append(f"{c.name}: refused without Retry-After: {c.http_headers}")
    for c in admitted:
        if len(c.finals()) != 5:
            failures.append(f"{c.name}: {len(c.finals())} finals of 5: {c.summary()}")
    m = await wait_metric(srv, lambda m: not m["engine"]["overloaded"], 30)
    if m is None:
        failures.append("admission did not reopen after the load ended")
        return
    again = await h.DataClient(srv.data_url(), name="after").connect()
    try:
        await again.wait_count("vad_detect_start", 1, 10)
    except AssertionError as e:
        failures.append(f"new call after the load ended was not admitted: {e}")
    await again.close()
    text = (await loop.run_in_executor(
        None, srv.get, "/metrics", {"Accept": "text/plain;version=0.0.4"}))[2].decode()
    line = next((ln for ln in text.splitlines()
                 if ln.startswith('stt_sessions_rejected_total{reason="overload"}')), "")
    notes["rejected_overload"] = line
    if not line or int(line.split()[-1]) < 1:
        failures.append(f"overload rejection not counted in /metrics: {line!r}")
    dropped = sum(int(ln.split()[-1]) for ln in text.splitlines()
                  if ln.startswith("stt_audio_chunks_dropped_total{"))
    notes["audio_chunks_dropped"] = dropped
    if dropped:
        failures.append(f"{dropped} chunks dropped without --handle_buffer_overflow")


def main():
    h.watchdog(170)
    joined = b"".join(h.read_wav(path)[0] + h.silence(1.5, 16000)
                      for _, path, _ in h.librivox_set())
    failures, notes = [], {}
    with h.Server("--workers", 1, "--admission_max_load", 0.8, name="overload") as srv:
        h.run_async(scenario(srv, joined, failures, notes))
    for k, v in notes.items():
        h.log(f"  {k}: {v}")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

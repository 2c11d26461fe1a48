#!/usr/bin/python3
"""--max_sessions is a hard cap: with --max_sessions 2 a third data connection is refused before
the WebSocket upgrade with HTTP 503, Retry-After and a JSON reason, counted in stt_sessions_rejected_total{reason="capacity"}; the two admitted
sessions keep working (one still gets its final), and once one leaves a new one is admitted."""

import sys

import harness as h


async def scenario(srv, pcm, failures):
    a = await h.DataClient(srv.data_url(), name="a").connect()
    b = await h.DataClient(srv.data_url(), name="b").connect()
    await a.wait_count("vad_detect_start", 1, 10)
    await b.wait_count("vad_detect_start", 1, 10)
    st, hdr, body = h.check_refusal(srv.data_url(), "capacity", failures, "third connection")
    h.log(f"  third connection refused: HTTP {st}, Retry-After {hdr.get('retry-after')}, {body!r}")
    await h.transcribe(srv.data_url(), pcm, 16000, realtime=False, client=a)
    if len(a.finals()) != 1:
        failures.append(f"admitted session a: expected 1 final, events {a.summary()}")
    d = await h.DataClient(srv.data_url(), name="d").connect()  # a has left: room again
    try:
        await d.wait_count("vad_detect_start", 1, 10)
    except AssertionError as e:
        failures.append(f"after a left, a new session was not admitted: {e}")
    await d.close()
    await b.close()


def main():
    h.watchdog(120)
    failures = []
    _, path, _ = h.librivox_set()[1]
    pcm, _ = h.read_wav(path)
    with h.Server("--max_sessions", 2, name="admission") as srv:
        h.run_async(scenario(srv, pcm, failures))
        text = srv.get("/metrics", {"Accept": "text/plain;version=0.0.4"})[2].decode()
        line = next((ln for ln in text.splitlines()
                     if ln.startswith('stt_sessions_rejected_total{reason="capacity"}')), "")
        h.log(f"  {line}")
        if not line.endswith(" 1"):
            failures.append(f"expected one capacity rejection in /metrics, got {line!r}")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Graceful shutdown: SIGTERM while a session is mid-utterance. /readyz must turn 503 at once
(while /livez stays 200), the session must still receive its fullSentence, then its data socket
closes with 1001 and the process exits 0 within --drain_timeout. A second, idle session is
closed with 1001 too, and new data connections are refused while draining."""

import asyncio
import signal
import sys
import time

import harness as h

DRAIN_TIMEOUT = 15.0


async def scenario(srv, pcm, rate):
    notes = {}
    talker = await h.DataClient(srv.data_url("talker"), name="talker").connect()
    idle = await h.DataClient(srv.data_url("idle"), name="idle").connect()
    async def stream():
        # Keep talking through the drain; the server, not us, must close the socket.
        talker.t0 = time.monotonic()
        end = await talker.send_pcm(pcm, rate, 1024, True, talker.t0)
        await talker.send_pcm(h.silence(2.0, rate), rate, 1024, True, end)

    stream = asyncio.ensure_future(stream())
    await talker.wait_for(lambda ev: ev.get("type") == "recording_start", 20, "recording_start")
    await asyncio.sleep(1.0)  # well inside the utterance
    t_sig = time.monotonic()
    notes["sigterm_at_audio_s"] = t_sig - talker.t0
    srv.signal(signal.SIGTERM)

    # /readyz must flip promptly; poll from a thread so the event loop keeps receiving.
    def poll_ready():
        t_end = time.monotonic() + 2.0
        seen = []
        while time.monotonic() < t_end:
            try:
                st, _, _ = srv.get("/readyz")
            except OSError as e:
                st = repr(e)
            seen.append(st)
            if st == 503:
                live, _, _ = srv.get("/livez")
                return time.monotonic() - t_sig, seen, live
            time.sleep(0.05)
        return None, seen, None

    notes["readyz_503_after_s"], seen, notes["livez_while_draining"] = \
        await asyncio.get_running_loop().run_in_executor(None, poll_ready)
    notes["readyz_seen"] = sorted(set(map(str, seen)))

    # A new data connection during the drain is refused (handshake error or immediate close).
    try:
        st, hdr, body = await asyncio.get_running_loop().run_in_executor(
            None, h.upgrade_probe, srv.data_url("late"))
        notes["late_connection"] = f"HTTP {st} Retry-After {hdr.get('retry-after')} {body!r}"
    except OSError as e:  # the listener already gone is fine too, recorded for the report
        notes["late_connection"] = f"connection failed: {type(e).__name__}: {e}"

    await stream
    try:
        await talker.wait_closed(DRAIN_TIMEOUT + 5)
    except AssertionError as e:
        notes["talker_close_error"] = str(e)
    try:
        await idle.wait_closed(DRAIN_TIMEOUT + 5)
    except AssertionError as e:
        notes["idle_close_error"] = str(e)
    return talker, idle, t_sig, notes


def check(loop, pcm, rate, ref):
    """The drain on one --event_loop (close codes depend on the loop: see docs/architecture.md,
    Loop); returns the failures, each naming the loop."""
    failures = []
    h.log(f"--event_loop {loop}:")
    srv = h.Server("--event_loop", loop, name=f"shutdown-{loop}",
                   drain_timeout=DRAIN_TIMEOUT).start()
    try:
        talker, idle, t_sig, notes = h.run_async(scenario(srv, pcm, rate))
        rc = srv.wait_exit(DRAIN_TIMEOUT + 10)
        t_exit = time.monotonic() - t_sig
        for k, v in notes.items():
            h.log(f"  {k}: {v}")
        h.log(f"  talker events: {talker.summary()}")
        h.log(f"  talker close {talker.close_code} {talker.close_reason!r} at "
              f"{(talker.closed_at or t_sig) - t_sig:.2f}s after SIGTERM; idle close "
              f"{idle.close_code} at {(idle.closed_at or t_sig) - t_sig:.2f}s")
        h.log(f"  process exit status {rc} at {t_exit:.2f}s after SIGTERM")

        if notes["readyz_503_after_s"] is None or notes["readyz_503_after_s"] > 1.0:
            failures.append(f"/readyz did not turn 503 within 1 s: {notes['readyz_seen']}")
        if notes.get("livez_while_draining") != 200:
            failures.append(f"/livez while draining: {notes.get('livez_while_draining')}")
        finals = talker.of_type("fullSentence")
        if len(finals) != 1 or not h.normalize(finals[0][1].get("text", "")):
            failures.append(f"talker: expected one non-empty fullSentence, got "
                            f"{talker.summary()}")
        else:
            w = h.wer([(ref, finals[0][1]["text"])])[0]
            h.log(f"  final {finals[0][1]['text']!r} WER {w:.2f}")
            if talker.closed_at is not None and finals[0][0] > talker.closed_at:
                failures.append("fullSentence after close?")
        if talker.close_code != 1001:
            failures.append(f"talker close code {talker.close_code}, expected 1001")
        if idle.close_code != 1001:
            failures.append(f"idle close code {idle.close_code}, expected 1001")
        # Refused before the upgrade: HTTP 503, a Retry-After and the JSON reason.
        if not notes["late_connection"].startswith("HTTP 503 Retry-After") or \
                "draining" not in notes["late_connection"]:
            failures.append(f"late connection during drain: {notes['late_connection']} (want "
                            "HTTP 503 with Retry-After and 'draining')")
        if rc is None:
            failures.append(f"process still running {DRAIN_TIMEOUT + 10}s after SIGTERM")
        elif rc != 0:
            failures.append(f"exit status {rc}")
        elif t_exit > DRAIN_TIMEOUT + 1.0:
            failures.append(f"exit {t_exit:.1f}s after SIGTERM > drain timeout {DRAIN_TIMEOUT}")
        srv.check_sanitizers()
    finally:
        srv.kill()
        if failures:
            h.log(f"--- server log tail ---\n{srv.log_tail(80)}")
    return [f"{loop}: {f}" for f in failures]


def main():
    h.watchdog(170)
    utt, path, ref = h.librivox_set()[3]  # 6 s sentence
    pcm, rate = h.read_wav(path)
    return h.report(check("libev", pcm, rate, ref) + check("poll", pcm, rate, ref))


if __name__ == "__main__":
    sys.exit(main())

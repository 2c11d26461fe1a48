#!/usr/bin/python3
"""Resource cleanup (null engine): --idle_timeout and --max_session_duration.

1. A data connection that sends no audio is closed with 1000 "idle timeout" after
   --idle_timeout (1 s here), and one that keeps sending is not.
2. A call that reaches --max_session_duration (4 s here) in the middle of an utterance gets that
   utterance's final, then the close 1000 "maximum session duration reached".
3. stt_sessions_closed_total counts both."""

import asyncio
import os
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0870.wav")
ARGS = ("--no-admission_control", "--idle_timeout", "1", "--max_session_duration", "4")


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    idle = await h.DataClient(srv.data_url(), name="idle").connect()
    t0 = time.monotonic()
    talker = asyncio.ensure_future(h.stream_calls(srv.data_url(), pcm, rate, 1, 0.5, "talker"))
    code = await idle.wait_closed(5)
    took = time.monotonic() - t0
    h.log(f"idle: closed {code} {idle.close_reason!r} after {took:.1f} s")
    if code != 1000 or "idle timeout" not in (idle.close_reason or "") or not 0.9 < took < 3:
        failures.append(f"idle session: {code} {idle.close_reason!r} after {took:.1f} s")

    c = await talker  # 7.1 s of speech: the 4 s limit falls inside it
    code = await c.wait_closed(10)
    types = c.types()
    h.log(f"max duration: closed {code} {c.close_reason!r} at "
          f"{c.closed_at - c.t0:.1f} s; events {types}")
    if code != 1000 or "maximum session duration" not in (c.close_reason or ""):
        failures.append(f"max duration: {code} {c.close_reason!r}")
    if "fullSentence" not in types or types.index("fullSentence") < types.index("recording_stop"):
        failures.append(f"max duration: no final for the utterance in progress: {types}")
    if c.closed_at - c.t0 > 7.0:
        failures.append(f"max duration: closed only {c.closed_at - c.t0:.1f} s in")
    s = h.prom_metrics(srv)
    got = (h.prom_value(s, "stt_sessions_closed_total", reason="idle"),
           h.prom_value(s, "stt_sessions_closed_total", reason="max_duration"))
    h.log(f"stt_sessions_closed_total idle, max_duration: {got}")
    if got != (1, 1):
        failures.append(f"stt_sessions_closed_total idle, max_duration = {got}, want (1, 1)")


def main():
    h.run_scenario(scenario, *ARGS, engine="null", name="cleanup", limit_s=120,
                   ready_timeout=30)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Fairness across sessions, small and fast (the full capacity runs are in bench/): 50 calls
start talking at the same instant, in real time, on one engine worker that costs a known
0.018 s per second of audio (the fault engine over null, --fault_cost_per_audio_s: 50 calls
talking at once keep the worker about 80 % busy without using a core).

The null engine returns no text, so partial turns are read from the server's --debug job log
(one job_done line per engine job, with its session and how long it waited for the worker).
Round-robin across sessions with finals first means no call is starved:
1. every call's feed jobs (its partial turns) each wait at most 1 s for the worker (FIFO gives
   0.3 s here; a LIFO queue, tried on purpose, let calls wait 6.6 s and fails 1 and 2);
2. turns are shared out evenly: the call with the fewest has at least half the median;
3. the 50 utterances end at the same instant, and their finals (which go before every queued
   partial) all arrive within 1.5 s of recording_stop, with no error event;
4. the worker really was loaded (busy >= 50 % while the calls talked), so 1-3 are not free."""

import asyncio
import os
import re
import statistics
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0870.wav")
CALLS = 50
COST = 0.018
ARGS = ("--fault_injection", "--fault_inner", "null", "--fault_cost_per_audio_s", str(COST),
        "--workers", "1", "--no-admission_control", "--debug")
JOB = re.compile(r"job_done\] sid=(\d+) kind (\d) utt \d+: (\d+) samples, waited ([\d.]+) ms")


def first_after(c, start_type, then_type):
    t_start = next((t for t, e in c.events if e.get("type") == start_type), None)
    t_then = next((t for t, e in c.events
                   if e.get("type") == then_type and t_start is not None and t >= t_start), None)
    return None if t_start is None or t_then is None else t_then - t_start


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    e0 = srv.get_json("/metrics")[1]["engine"]
    w0 = time.monotonic()
    t0 = time.monotonic() + 1.0  # every call's first frame at the same instant
    clients = await asyncio.gather(*(
        h.stream_calls(srv.data_url(), pcm, rate, 1, 1.5, f"call{i}", frames_per_msg=1024, t0=t0)
        for i in range(CALLS)))
    e1 = srv.get_json("/metrics")[1]["engine"]
    busy = (e1["busy_seconds"] - e0["busy_seconds"]) / (clients[0].t_end - t0)
    await h.wait_finals(clients, 20, failures, expect=1)
    for c in clients:
        await c.close()

    finals = [first_after(c, "recording_stop", "fullSentence") for c in clients]
    errors = [c.name for c in clients if c.count("error")]
    turns, waits = {}, {}
    for sid, kind, samples, waited in JOB.findall(srv.log_text()):
        if kind == "0" and int(samples) > 0:  # a feed with audio: a partial turn
            turns[sid] = turns.get(sid, 0) + 1
            waits[sid] = max(waits.get(sid, 0.0), float(waited) / 1e3)
    counts = sorted(turns.values())
    h.log(f"{CALLS} calls on one worker at {COST} s per audio s: worker busy {busy:.2f} over "
          f"{time.monotonic() - w0:.1f} s")
    h.log(f"partial turns per call: {len(counts)} calls, min {min(counts, default=0)}, median "
          f"{statistics.median(counts) if counts else 0}, max {max(counts, default=0)}; longest "
          f"wait for the worker {max(waits.values(), default=0):.2f} s")
    got_final = [x for x in finals if x is not None]
    h.log(f"final after recording_stop: {len(got_final)} calls, "
          f"median {statistics.median(got_final) if got_final else 0:.2f} s, "
          f"max {max(got_final, default=0):.2f} s")
    if len(counts) != CALLS or max(waits.values(), default=99) > 1.0:
        failures.append(f"partial turns: {len(counts)} of {CALLS} calls had any, longest wait "
                        f"{max(waits.values(), default=0):.2f} s (want all, <= 1 s)")
    if counts and counts[0] < 0.5 * statistics.median(counts):
        failures.append(f"partial turns unevenly shared: {counts}")
    if len(got_final) != CALLS or max(got_final, default=99) > 1.5:
        failures.append(f"finals: {len(got_final)} of {CALLS}, slowest "
                        f"{max(got_final, default=0):.2f} s after recording_stop (want all, "
                        "<= 1.5 s)")
    if errors:
        failures.append(f"error events on {errors}")
    if busy < 0.5:
        failures.append(f"the worker was only {busy:.2f} busy: the test did not load it")


def main():
    h.run_scenario(scenario, *ARGS, engine="fault", name="fairness", limit_s=120,
                   ready_timeout=30)


if __name__ == "__main__":
    main()

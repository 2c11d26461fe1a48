#!/usr/bin/python3
"""1,000 connect/disconnect cycles with engine jobs in flight leave nothing behind.

Fault engine over null, 30 % of jobs hanging 0.3 s (cancellable), so a call that hangs up often
has a job running or queued. Each cycle opens a data connection, sends 1.5 s of real speech as
fast as it can, waits 0-60 ms and drops the connection, 10 at a time. After 100 warm-up cycles
the baseline is read from /metrics; after 1,000 more (and a moment to settle):
  - data sessions, engine jobs in flight and decoding states in use are 0 (from /metrics),
  - open fds are back to the baseline,
  - RSS is within 5 % of the baseline (not under ASan, whose quarantine keeps freed memory),
  - the periodic consistency check (every 1 s here) found nothing wrong."""

import asyncio
import os
import random
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0880.wav")
ARGS = ("--fault_injection", "--fault_inner", "null", "--no-admission_control",
        "--fault_hang_rate", "0.3", "--fault_hang_s", "0.3", "--consistency_check_interval", "1",
        "--realtime_processing_pause", "0.05")
WARMUP, CYCLES, PARALLEL = 100, 1000, 10


async def one_cycle(url, frames, rng):
    try:
        c = await h.DataClient(url, name="cycle").connect()
        for f in frames:
            if not await c.send_raw(f):
                break
        await asyncio.sleep(rng.uniform(0, 0.06))
        c.ws.transport.abort() if rng.random() < 0.5 else await c.ws.close()
        c._reader_task.cancel()
        return 1
    except (OSError, AssertionError):
        return 0


async def cycles(url, frames, n, rng):
    sem = asyncio.Semaphore(PARALLEL)
    ok = 0

    async def run():
        nonlocal ok
        async with sem:
            r = await one_cycle(url, frames, rng)
        ok += r

    await asyncio.gather(*(run() for _ in range(n)))
    return ok


def snapshot(srv):
    m = srv.get_json("/metrics")[1]
    return {"sessions": m["connections"]["data_active"],
            "jobs": m["engine"]["jobs_in_flight"],
            "decoders": m["engine"]["decoders_in_use"],
            "fds": m["process"]["open_fds"],
            "rss": m["process"]["resident_memory_bytes"],
            "consistency_errors": m["cleanup"]["consistency_errors"],
            "jobs_cancelled": m["transcription"]["jobs_cancelled"],
            "sessions_total": m["connections"]["total"]}


async def settle(srv, timeout=15):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        s = snapshot(srv)
        if s["sessions"] == 0 and s["jobs"] == 0 and s["decoders"] == 0:
            await asyncio.sleep(1.0)
            return snapshot(srv)
        await asyncio.sleep(0.2)
    return snapshot(srv)


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    pcm = pcm[:int(1.5 * rate) * 2]
    frames = [h.make_frame(pcm[i:i + 640], rate) for i in range(0, len(pcm), 640)]
    rng = random.Random(5)
    url = srv.data_url()
    await cycles(url, frames, WARMUP, rng)
    base = await settle(srv)
    t0 = time.monotonic()
    ok = await cycles(url, frames, CYCLES, rng)
    took = time.monotonic() - t0
    after = await settle(srv)
    h.log(f"{ok}/{CYCLES} cycles in {took:.1f} s; baseline {base}")
    h.log(f"after: {after}")
    if ok != CYCLES:
        failures.append(f"only {ok} of {CYCLES} cycles connected")
    if after["jobs_cancelled"] - base["jobs_cancelled"] < 20:
        failures.append("few jobs were in flight at hang-up: the test did not test that")
    for k in ("sessions", "jobs", "decoders"):
        if after[k] != 0:
            failures.append(f"{k} = {after[k]} after the cycles, want 0")
    if after["fds"] > base["fds"]:
        failures.append(f"open fds {after['fds']} > baseline {base['fds']}")
    if after["consistency_errors"]:
        failures.append(f"consistency check found {after['consistency_errors']} mismatches")
    growth = after["rss"] / base["rss"] - 1
    h.log(f"RSS {base['rss'] / 2**20:.1f} -> {after['rss'] / 2**20:.1f} MiB ({100 * growth:+.1f} %)")
    if "ASAN_OPTIONS" in os.environ:
        h.log("(ASan build: freed memory sits in ASan's quarantine, so RSS is not checked)")
    elif abs(growth) > 0.05:
        failures.append(f"RSS moved {100 * growth:+.1f} % over {CYCLES} cycles (limit 5 %)")


def main():
    h.run_scenario(scenario, *ARGS, engine="fault", name="cycles", limit_s=400)


if __name__ == "__main__":
    main()

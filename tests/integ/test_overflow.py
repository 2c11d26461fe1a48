#!/usr/bin/python3
"""--handle_buffer_overflow with --allowed_latency_limit: one engine worker, six calls streaming
25 s of speech as fast as the server reads, so the engine falls behind. Audio beyond the limit is
left out, audio without speech first; every dropped chunk is counted in /metrics and reported to
its call with a "warning" event (code audio_dropped); every call still receives every final.
Without the flag (test_overload) nothing is dropped."""

import asyncio
import sys

import harness as h

CALLS = 6


async def scenario(srv, joined):
    return await asyncio.gather(*[
        h.transcribe(srv.data_url(), joined, 16000, tail_s=2.0, realtime=False, expect_finals=5,
                     final_timeout=150, settle_s=0.5, name=f"call{i}") for i in range(CALLS)])


def main():
    h.watchdog(170)
    joined = b"".join(h.read_wav(path)[0] + h.silence(1.5, 16000)
                      for _, path, _ in h.librivox_set())
    failures = []
    with h.Server("--workers", 1, "--handle_buffer_overflow", "--allowed_latency_limit", 16,
                  *h.NO_LOAD_SHEDDING, name="overflow") as srv:
        calls = h.run_async(scenario(srv, joined))
        text = srv.get("/metrics", {"Accept": "text/plain;version=0.0.4"})[2].decode()
    dropped = {ln.split("{")[1].split("}")[0]: int(ln.split()[-1]) for ln in text.splitlines()
               if ln.startswith("stt_audio_chunks_dropped_total{")}
    warned = 0
    for c in calls:
        warnings = [e for _, e in c.of_type("warning") if e.get("code") == "audio_dropped"]
        warned += sum(int(e["dropped_chunks"]) for e in warnings)
        h.log(f"  {c.name}: {len(c.finals())} finals, {len(warnings)} audio_dropped warnings")
        if len(c.finals()) != 5:
            failures.append(f"{c.name}: {len(c.finals())} finals of 5: {c.summary()}")
    h.log(f"  dropped chunks in /metrics: {dropped}; in warnings: {warned}")
    total = sum(dropped.values())
    if total == 0:
        failures.append("the engine fell behind but no audio was dropped")
    if total != warned:
        failures.append(f"/metrics counts {total} dropped chunks, the warnings told {warned}")
    if dropped.get('speech="no"', 0) == 0:
        failures.append("no non-speech chunk was dropped: unspoken audio must go first")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""The engine is down for 5 s while 20 calls stream (fault engine over null, real speech, real
time, --handle_buffer_overflow with the default 3.2 s latency limit).

call_method fault {fail_rate: 1} for 5 s, then {fail_rate: 0}. Checks:
1. no crash: the server answers throughout and exits 0 on SIGTERM;
2. no lost final: every recording_stop of every call is followed by its fullSentence (finals of
   utterances that ended during the outage are held and decoded when the engine is back), and
   no call gets transcription_failed;
3. exact counts of dropped audio: the audio_dropped warnings the calls received add up to
   stt_audio_chunks_dropped_total, chunk for chunk;
4. every call was told (error engine_unavailable, then info engine_recovered), and the breaker
   went open and closed again."""

import asyncio
import os
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0880.wav")
CALLS = 20
OUTAGE_S = 5.0
ARGS = ("--fault_injection", "--fault_inner", "null", "--no-admission_control",
        "--handle_buffer_overflow", "--breaker_failures", "3", "--breaker_backoff", "0.3",
        "--breaker_backoff_max", "1", "--breaker_probes", "2")


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    ctl = await h.ControlClient(srv.control_url()).connect()
    t0 = time.monotonic() + 0.5
    calls = [asyncio.ensure_future(h.stream_calls(srv.data_url(), pcm, rate, 4, 1.3, f"call{i}",
                                                  t0=t0))
             for i in range(CALLS)]
    await asyncio.sleep(t0 + 4.0 - time.monotonic())
    assert (await ctl.call("fault", kwargs={"fail_rate": 1.0}))["status"] == "success"
    t_down = time.monotonic()
    states = set()
    while time.monotonic() - t_down < OUTAGE_S:
        states.add(srv.get_json("/metrics")[1]["circuit_breaker"]["state"])
        await asyncio.sleep(0.1)
    assert (await ctl.call("fault", kwargs={"fail_rate": 0.0}))["status"] == "success"
    h.log(f"engine down {time.monotonic() - t_down:.1f} s; breaker states seen: {sorted(states)}")
    if "open" not in states:
        failures.append(f"breaker never opened during the outage: {states}")

    clients = await asyncio.gather(*calls)
    # the last utterance's final, and any held ones
    await h.wait_finals(clients, 20, failures)
    await asyncio.sleep(0.5)
    m = srv.get_json("/metrics")[1]
    warned = 0
    stops = finals = 0
    for c in clients:
        stops += c.count("recording_stop")
        finals += c.count("fullSentence")
        codes = [ev.get("code") for _, ev in c.events if ev.get("type") in ("error", "info")]
        warned += sum(int(ev.get("dropped_chunks", 0)) for _, ev in c.of_type("warning")
                      if ev.get("code") == "audio_dropped")
        if "transcription_failed" in codes:
            failures.append(f"{c.name}: transcription_failed: {c.summary()}")
        if "engine_unavailable" not in codes or "engine_recovered" not in codes:
            failures.append(f"{c.name}: not told of the outage and recovery: {codes}")
        if c.count("fullSentence") != c.count("recording_stop"):
            failures.append(f"{c.name}: {c.count('recording_stop')} recording_stop, "
                            f"{c.count('fullSentence')} fullSentence")
        await c.close()
    dropped = m["audio"]["chunks_dropped"]
    h.log(f"{CALLS} calls: {stops} utterances ended, {finals} finals; {m['recovery']}")
    h.log(f"dropped audio: calls were told {warned} chunks, stt_audio_chunks_dropped_total "
          f"{dropped} ({m['audio']['speech_chunks_dropped']} with speech)")
    if warned != dropped:
        failures.append(f"dropped chunks: calls told {warned}, metrics say {dropped}")
    if stops < CALLS * 3:
        failures.append(f"only {stops} utterances ended; the VAD should end ~4 per call")
    if m["circuit_breaker"]["state"] != "closed":
        failures.append(f"breaker still {m['circuit_breaker']}")
    await ctl.close()


def main():
    h.run_scenario(scenario, *ARGS, engine="fault", name="outage")


if __name__ == "__main__":
    main()

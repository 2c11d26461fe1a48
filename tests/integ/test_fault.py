#!/usr/bin/python3
"""The fault-injection engine (--engine fault, a test tool) over pocketsphinx.

1. Refused without --fault_injection: exit 2, one line.
2. Every job failing: the call gets an `error` event (transcription_failed) and no final, the
   failures are counted, the server stays up.
3. call_method fault {fail_rate: 0} while the server runs: the next call is transcribed
   (real words from the wrapped pocketsphinx).
4. Hanging jobs are cancellable: with every job hanging, a call that hangs up is cancelled
   (stt_engine_jobs_cancelled_total) and, once the hang is switched off, a new call gets its
   final at once.
5. Bad kwargs are refused with a clear message."""

import asyncio
import os
import subprocess
import sys
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0870.wav")
# The circuit breaker and final retries would hide what this test looks at (each failure
# reaching the call); tests/integ/test_selfheal_*.py cover them.
ARGS = ("--fault_injection", "--fault_inner", "pocketsphinx", "--no-admission_control",
        "--breaker_failures", "1000000", "--breaker_failure_rate", "1", "--final_hold", "0")


def refused_without_flag():
    r = subprocess.run([h.SERVER_BIN, "--engine", "fault"], capture_output=True, text=True,
                       timeout=20)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "--fault_injection" in lines[0], r.stderr
    h.log(f"without --fault_injection: exit 2, {lines[0]!r}")


async def metrics(srv):
    return srv.get_json("/metrics")[1]["transcription"]


async def scenario(srv):
    pcm, rate = h.read_wav(FILE)
    ctl = await h.ControlClient(srv.control_url()).connect()

    # 2. everything fails
    c = await h.DataClient(srv.data_url(), name="failing").connect()
    await c.send_pcm(pcm, rate, 1024, realtime=False)
    await c.send_pcm(h.silence(1.5, rate), rate, 1024, realtime=False)
    await c.wait_for(lambda ev: ev.get("type") == "error", 20, "error event")
    await asyncio.sleep(0.5)
    await c.close()
    errs = [ev for _, ev in c.of_type("error")]
    assert any(e.get("code") == "transcription_failed" for e in errs), c.summary()
    assert c.count("fullSentence") == 0, c.summary()
    m = await metrics(srv)
    assert m["errors"] > 0, m
    h.log(f"fail_rate 1: error event {errs[0]}, {m['errors']} failed jobs, no final")

    # 3. recover live
    r = await ctl.call("fault", kwargs={"fail_rate": 0.0})
    assert r.get("status") == "success", r
    c = await h.transcribe(srv.data_url(), pcm, rate, tail_s=1.5, realtime=False,
                           expect_finals=1, final_timeout=30, settle_s=0.2, name="recovered")
    finals = c.finals()
    assert len(finals) == 1 and len(finals[0].split()) >= 5, c.summary()
    h.log(f"fail_rate 0 (live): final {finals[0]!r}")

    # 4. hanging jobs are cancelled when their call goes away
    r = await ctl.call("fault", kwargs={"hang_rate": 1.0, "hang_s": 60})
    assert r.get("status") == "success", r
    before = (await metrics(srv))["jobs_cancelled"]
    c = await h.DataClient(srv.data_url(), name="hanging").connect()
    await c.send_pcm(pcm, rate, 1024, realtime=False)
    await asyncio.sleep(1.0)  # its first job is hanging now
    await c.close()
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end and (await metrics(srv))["jobs_cancelled"] <= before:
        await asyncio.sleep(0.1)
    after = (await metrics(srv))["jobs_cancelled"]
    assert after > before, f"hanging job not cancelled: {after} <= {before}"
    r = await ctl.call("fault", kwargs={"hang_rate": 0.0})
    assert r.get("status") == "success", r
    t0 = time.monotonic()
    c = await h.transcribe(srv.data_url(), pcm, rate, tail_s=1.5, realtime=False,
                           expect_finals=1, final_timeout=30, settle_s=0.2, name="after-hang")
    assert c.count("fullSentence") == 1, c.summary()
    h.log(f"hang_rate 1: the hung call's job was cancelled ({after - before}) when it hung up; "
          f"after hang_rate 0 the next call was served in {time.monotonic() - t0:.1f} s")

    # 5. bad kwargs
    r = await ctl.call("fault", kwargs={"fail_rate": 2})
    assert r.get("status") == "error" and "fail_rate" in r.get("message", ""), r
    h.log(f"bad kwargs: {r}")
    await ctl.close()


def main():
    h.watchdog(300)
    failures = []
    try:
        refused_without_flag()
    except AssertionError as e:
        failures.append(f"refusal: {e}")
    with h.Server(*ARGS, "--fault_fail_rate", "1", engine="fault", name="fault") as srv:
        srv.start(ready_timeout=60)
        try:
            h.run_async(scenario(srv))
        except AssertionError as e:
            failures.append(str(e))
            h.log(f"FAIL: {e}")
    sys.exit(h.report(failures))


if __name__ == "__main__":
    main()

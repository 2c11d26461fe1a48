#!/usr/bin/python3
"""Watchdog, worker replacement, engine-state recovery and the leak check (fault engine over
null; --job_timeout 1 s).

1. One job hangs (call_method fault {hang_next: 1}) while 21 calls stream real speech in real
   time: only the call whose job hung gets error engine_timeout, within the deadline (plus the
   watchdog's 50 ms tick); that call keeps its audio (its utterance is decoded again and its
   finals arrive); the 20 others get every final on time (p95 after recording_stop <= 1 s) and
   no error; stt_engine_timeouts_total is 1.
2. A hang that ignores cancellation ({hang_next: 1, hang_uncancellable: 1}, 12 s): 2 s after
   the deadline its worker is retired and a new one takes its place (stt_engine_workers_replaced_
   total 1, still 2 workers, calls served meanwhile); the stuck utterance is decoded again on
   the new worker at once, so its final comes within the deadline + grace + 2 s, not after the
   hang; the old thread leaves when its call returns.
3. A worker's engine state corrupted on command ({crash_next: 1}): that worker's jobs fail until
   the pool recreates the state (stt_engine_worker_resets_total >= 1); no exit; the call gets all
   its finals. Under the ASan build, LeakSanitizer checks the recreated states at exit.
4. A decoding state leaked on command ({leak_next: 1}): the periodic consistency check (every
   1 s here) finds more states in use than utterances and jobs hold, counts it, and has every
   worker recreate its state, which releases the leak: decoders_in_use goes back to 0.
5. The shared model broken on command ({break_model: 1}): jobs and probes fail, recreated
   worker states do not help, so after --breaker_reload_after openings the model is reloaded
   off the loop; the probes then pass, the breaker closes, and the call gets every final."""

import asyncio
import os
import statistics
import time

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0880.wav")
TIMEOUT = 1.0
HANG_S = 12.0  # an uncancellable hang: its worker is retired 2 s past the deadline
ARGS = ("--fault_injection", "--fault_inner", "null", "--no-admission_control",
        "--job_timeout", str(TIMEOUT), "--job_timeout_per_audio_second", "0",
        "--consistency_check_interval", "1", "--workers", "2",
        "--breaker_backoff", "0.2", "--breaker_backoff_max", "0.4", "--breaker_reload_after", "2")


def final_latencies(c):
    """Seconds from each recording_stop to the next fullSentence."""
    out, stop = [], None
    for t, ev in c.events:
        if ev.get("type") == "recording_stop":
            stop = t
        elif ev.get("type") == "fullSentence" and stop is not None:
            out.append(t - stop)
            stop = None
    return out


async def finish(clients, failures):
    await h.wait_finals(clients, 15, failures)
    for c in clients:
        await c.close()


async def one_hang(srv, ctl, pcm, rate, failures):
    t0 = time.monotonic() + 0.3
    calls = [asyncio.ensure_future(h.stream_calls(srv.data_url(), pcm, rate, 3, 1.3, f"c{i}",
                                                  t0=t0))
             for i in range(21)]
    await asyncio.sleep(t0 + 1.5 - time.monotonic())
    t_cmd = time.monotonic()
    r = await ctl.call("fault", kwargs={"hang_next": 1, "hang_s": 30})
    assert r["status"] == "success", r
    clients = await asyncio.gather(*calls)
    await finish(clients, failures)
    hit = [c for c in clients if any(ev.get("code") == "engine_timeout" for _, ev in c.events)]
    others = [c for c in clients if c not in hit]
    if len(hit) != 1:
        failures.append(f"{len(hit)} calls got engine_timeout, want exactly 1")
        return
    t_err = next(t for t, ev in hit[0].events if ev.get("code") == "engine_timeout")
    lat = [x for c in others for x in final_latencies(c)]
    p95 = statistics.quantiles(lat, n=20)[18] if len(lat) >= 20 else max(lat)
    errs = [c.name for c in others if c.count("error")]
    h.log(f"hang: {hit[0].name} got engine_timeout {t_err - t_cmd:.2f} s after the hang was "
          f"armed (deadline {TIMEOUT} s); its finals {hit[0].count('fullSentence')}/"
          f"{hit[0].count('recording_stop')}; 20 others: {len(lat)} finals, p95 "
          f"{p95:.3f} s, max {max(lat):.3f} s after recording_stop, errors in {errs}")
    if t_err - t_cmd > TIMEOUT + 1.0:
        failures.append(f"engine_timeout {t_err - t_cmd:.2f} s after the hang was armed")
    if p95 > 1.0 or errs:
        failures.append(f"other calls: p95 final {p95:.3f} s, errors in {errs}")
    if sum(c.count("recording_stop") for c in others) < 40:
        failures.append("too few utterances ended in the other calls")
    t = h.prom_value(h.prom_metrics(srv), "stt_engine_timeouts_total")
    if t != 1:
        failures.append(f"stt_engine_timeouts_total {t}, want 1")


async def stuck_worker(srv, ctl, pcm, rate, failures):
    r = await ctl.call("fault", kwargs={"hang_next": 1, "hang_s": HANG_S,
                                        "hang_uncancellable": 1})
    assert r["status"] == "success", r
    c = await h.stream_calls(srv.data_url(), pcm, rate, 2, 1.3, "stuck")
    await finish([c], failures)
    e = srv.get_json("/metrics")[1]["engine"]
    lat = final_latencies(c)
    h.log(f"uncancellable hang ({HANG_S:.0f} s): {c.count('fullSentence')}/"
          f"{c.count('recording_stop')} finals, the slowest {max(lat, default=0):.2f} s after "
          f"recording_stop; engine {e}")
    if e["workers_replaced"] != 1 or e["workers"] != 2:
        failures.append(f"workers_replaced {e['workers_replaced']} (want 1), "
                        f"workers {e['workers']} (want 2)")
    # The retired job's utterance is decoded again on the new worker at once: its final comes
    # after the deadline and the grace, not after the hang.
    if len(lat) != c.count("recording_stop") or max(lat, default=99) > TIMEOUT + 2.0 + 2.0:
        failures.append(f"stuck call: finals {lat} s after recording_stop (want all, "
                        f"<= {TIMEOUT + 4.0:.0f} s; the hang lasts {HANG_S:.0f} s)")
    await h.poll_metrics(srv, lambda m: m["engine"]["workers_stuck"] == 0, HANG_S + 5)
    await ctl.call("fault", kwargs={"hang_uncancellable": 0})


async def crash_and_leak(srv, ctl, pcm, rate, failures):
    r = await ctl.call("fault", kwargs={"crash_next": 1})
    assert r["status"] == "success", r
    c = await h.stream_calls(srv.data_url(), pcm, rate, 2, 1.3, "crash")
    await finish([c], failures)
    e = srv.get_json("/metrics")[1]["engine"]
    h.log(f"crash: {c.count('fullSentence')}/{c.count('recording_stop')} finals; "
          f"worker_resets {e['worker_resets']}")
    if e["worker_resets"] < 1:
        failures.append(f"worker state not recreated: {e}")

    r = await ctl.call("fault", kwargs={"leak_next": 1})
    assert r["status"] == "success", r
    c = await h.stream_calls(srv.data_url(), pcm, rate, 3, 1.3, "leak")
    await finish([c], failures)
    m = await h.poll_metrics(srv, lambda m: m["engine"]["decoders_in_use"] == 0 and
                             m["cleanup"]["consistency_errors"] >= 1, 10)
    h.log(f"leak: decoders_in_use {m['engine']['decoders_in_use']}, consistency_errors "
          f"{m['cleanup']['consistency_errors']}, worker_resets {m['engine']['worker_resets']}")
    if m["engine"]["decoders_in_use"] != 0 or m["cleanup"]["consistency_errors"] < 1:
        failures.append(f"leak not found and released: {m['engine']} {m['cleanup']}")


async def broken_model(srv, ctl, pcm, rate, failures):
    before = srv.get_json("/metrics")[1]
    r = await ctl.call("fault", kwargs={"break_model": 1})
    assert r["status"] == "success", r
    c = await h.stream_calls(srv.data_url(), pcm, rate, 2, 1.3, "broken")
    await finish([c], failures)
    m = await h.poll_metrics(srv, lambda m: m["circuit_breaker"]["state"] == "closed" and
                             m["recovery"]["model_reloads"] >= 1, 10, 0.1)
    resets = m["engine"]["worker_resets"] - before["engine"]["worker_resets"]
    h.log(f"broken model: {c.count('fullSentence')}/{c.count('recording_stop')} finals; "
          f"breaker {m['circuit_breaker']['state']} after {m['circuit_breaker']['opened_total']} "
          f"openings in all; worker resets {resets}; {m['recovery']}")
    if m["recovery"]["model_reloads"] != 1 or m["circuit_breaker"]["state"] != "closed":
        failures.append(f"model not reloaded / breaker not closed: {m['recovery']} "
                        f"{m['circuit_breaker']}")
    if resets < 1:
        failures.append("no worker state was recreated before the model reload")
    if c.count("fullSentence") != c.count("recording_stop"):
        failures.append(f"broken model: finals lost: {c.summary()}")


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    ctl = await h.ControlClient(srv.control_url()).connect()
    for step in (one_hang, stuck_worker, crash_and_leak, broken_model):
        try:
            await step(srv, ctl, pcm, rate, failures)
        except AssertionError as e:
            failures.append(f"{step.__name__}: {e}")
    await ctl.close()


def main():
    h.run_scenario(scenario, *ARGS, engine="fault", name="watchdog")


if __name__ == "__main__":
    main()

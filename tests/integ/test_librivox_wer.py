#!/usr/bin/python3
"""Accuracy on real speech: the five pocketsphinx librivox utterances streamed at real-time pace
in 1024-frame messages at 16 kHz and at 44.1 kHz (sox-converted), each on its own connection.

Asserts per stream: >= 1 realtime event before exactly one fullSentence, recording_start /
recording_stop / transcription_start in order with a plausible float32 payload; per rate: corpus
WER <= 0.40 (sclite). The raw `pocketsphinx_continuous -infile` WER on the same files is printed
for comparison only."""

import asyncio
import os
import subprocess
import sys
import time

import harness as h

MAX_WER = 0.40
TAIL_S = 1.5
FRAMES = 1024


async def stream_all(srv, items, rate):
    """Stream every (utt, pcm, ref) concurrently; returns {utt: DataClient}."""
    async def one(utt, pcm):
        return await h.transcribe(srv.data_url(), pcm, rate, tail_s=TAIL_S, frames_per_msg=FRAMES,
                                  realtime=True, expect_finals=1, final_timeout=40.0,
                                  settle_s=1.5, name=f"{utt}@{rate}")
    clients = await asyncio.gather(*(one(utt, pcm) for utt, pcm, _ in items))
    return {utt: c for (utt, _, _), c in zip(items, clients)}


def check_stream(c, audio_s):
    types = c.types()
    assert not c.anomalies, f"{c.name}: unexpected frames {c.anomalies}"
    assert c.count("error") == 0, f"{c.name}: error event(s): {c.summary()}"
    n_final = c.count("fullSentence")
    assert n_final == 1, f"{c.name}: expected exactly 1 fullSentence, got {n_final}: {c.summary()}"
    assert c.count("recording_start") == 1 and c.count("recording_stop") == 1, \
        f"{c.name}: expected one recording_start/stop pair: {c.summary()}"
    i_start = types.index("recording_start")
    i_stop = types.index("recording_stop")
    i_ts = types.index("transcription_start") if "transcription_start" in types else None
    i_final = types.index("fullSentence")
    rt = [i for i, ty in enumerate(types) if ty == "realtime"]
    assert rt, f"{c.name}: no realtime event: {c.summary()}"
    assert i_start < rt[0] < i_final, f"{c.name}: realtime not between start and final: " \
        f"{c.summary()}"
    assert i_start < i_stop < i_final, f"{c.name}: bad start/stop/final order: {c.summary()}"
    assert i_ts is not None and i_stop < i_ts < i_final, \
        f"{c.name}: transcription_start missing or out of order: {c.summary()}"
    for _, ev in c.of_type("realtime") + c.of_type("fullSentence"):
        assert isinstance(ev.get("text"), str), f"{c.name}: text not a string: {ev}"
    # Utterance audio = pre-roll (<= ~1 s) + speech + trailing silence until end-pointing.
    secs = h.check_transcription_start(c.of_type("transcription_start")[0][1],
                                       min_s=0.5 * audio_s, max_s=audio_s + TAIL_S + 1.5)
    return secs


def raw_pocketsphinx(paths):
    exe = h.require_tool("pocketsphinx_continuous")
    out = {}
    for utt, path in paths:
        r = subprocess.run([exe, "-infile", path], capture_output=True, text=True, timeout=60)
        out[utt] = " ".join(line.strip() for line in r.stdout.splitlines() if line.strip())
    return out


def main():
    h.watchdog(170)
    items = h.librivox_set()
    tmp = h.tmpdir("wer")
    per_rate = {16000: [], 44100: []}
    for utt, path, ref in items:
        pcm, rate = h.read_wav(path)
        assert rate == 16000, f"{path}: expected 16 kHz"
        per_rate[16000].append((utt, pcm, ref))
        conv = h.convert_wav(path, os.path.join(tmp, utt + "-44k.wav"), 44100)
        pcm44, rate44 = h.read_wav(conv)
        assert rate44 == 44100
        per_rate[44100].append((utt, pcm44, ref))
    refs = {utt: ref for utt, _, ref in items}
    durs = {utt: h.duration(pcm, 16000) for utt, pcm, _ in per_rate[16000]}

    results = {}
    failures = []
    with h.Server(*h.NO_LOAD_SHEDDING, name="wer") as srv:
        # Readiness does not wait for the spare decoders (made from idle CPU after ready); this
        # test is about recognition and the event sequence, not a cold start, so it waits.
        h.wait_idle_decoders(srv, 4)
        for rate in (16000, 44100):
            t = time.monotonic()
            clients = h.run_async(stream_all(srv, per_rate[rate], rate))
            h.log(f"[{rate} Hz] streamed {len(clients)} files concurrently in "
                  f"{time.monotonic() - t:.1f}s")
            results[rate] = clients
            for utt, c in clients.items():
                try:
                    secs = check_stream(c, durs[utt])
                    h.log(f"  {utt}@{rate}: {c.count('realtime')} realtime, utterance audio "
                          f"{secs:.2f}s, final {c.finals()!r}")
                except AssertionError as e:
                    failures.append(str(e))
                    h.log(f"  FAIL {e}")
        st, health = srv.get_json("/health")
        h.log(f"health after run: {st} {health}")

    raw = raw_pocketsphinx([(utt, path) for utt, path, _ in items])

    def corpus(hyps):
        return h.wer([(refs[u], hyps.get(u, "")) for u in refs])

    h.log("")
    h.log(f"{'utterance':44} {'dur':>5}  {'16k final / 44.1k final / raw pocketsphinx'}")
    for utt in refs:
        h.log(f"{utt:44} {durs[utt]:5.2f}  ref : {refs[utt]}")
        for label, hyp in (("16k ", " | ".join(results[16000][utt].finals())),
                           ("44k ", " | ".join(results[44100][utt].finals())),
                           ("raw ", raw[utt])):
            h.log(f"{'':44} {'':5}  {label}: {hyp}")
    h.log("")
    table = []
    for label, hyps in (("server 16 kHz", {u: " ".join(c.finals())
                                           for u, c in results[16000].items()}),
                        ("server 44.1 kHz", {u: " ".join(c.finals())
                                             for u, c in results[44100].items()}),
                        ("raw pocketsphinx_continuous 16 kHz", raw)):
        rate_, n, errs = corpus(hyps)
        table.append((label, rate_, n, errs))
    h.log(f"{'system':36} {'WER':>6} {'words':>6} {'errors':>6}")
    for label, rate_, n, errs in table:
        h.log(f"{label:36} {rate_:6.3f} {n:6d} {errs:6d}")
    for label, rate_, _, _ in table[:2]:
        if rate_ > MAX_WER:
            failures.append(f"{label}: corpus WER {rate_:.3f} > {MAX_WER}")

    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

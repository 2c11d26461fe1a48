#!/usr/bin/python3
"""Asterisk AudioSocket (--audiosocket_port) with out-of-band results, against emulated Asterisk
clients that send the exact byte layout of ../shared/specs/telephony-protocols.md 2.1 in real
time: `01 00 10 <uuid>`, then `10 01 40 <320 bytes of slin>` every 20 ms (librivox speech
converted by sox to 8 kHz), a DTMF `03 00 01 '5'`, then a plain close (what Asterisk does when
the caller hangs up).

Part 1, real Whisper tiny.en weights (skipped with 77 when absent): two calls at once, each with
a subscriber on /v1/calls/<uuid>/events opened BEFORE the call starts and a webhook receiver
(HMAC checked). Asserts:
  - the transcripts: corpus WER of the finals against the librivox references <= MAX_WER
    (printed);
  - nothing is sent back to Asterisk on a normal call;
  - every event carries call_id = the UUID and protocol audiosocket; seq is 1, 2, 3, ... in
    order; call_start first, call_end (reason "closed") last; speech_start, partial, final and
    the dtmf digit '5' are there; the last words before the close still arrive (stt_stream_finish);
  - the webhook receiver got the same events, in order per call, every signature valid.

Part 2, pocketsphinx (protocol behaviour; transcripts only checked for overlap): at once, a good
8 kHz call and the negative cases, each on its own connection: no UUID first (hung up with
`00 00 00`, logged), an unknown kind mid-call (logged, call goes on), 0-length audio (skipped),
0xFF error (logged, call goes on), garbage TLV (a 5-byte DTMF: hung up, call_end
"protocol_error"), a 15-byte UUID, and speech at 12 kHz (0x11) and 16 kHz (0x12). The good call
still gets its finals and its call_end, and the server is alive and exits cleanly.

Part 3, --audiosocket_format ulaw (chan_audiosocket's c(ulaw): type 0x10 carrying 160 bytes of
mu-law per 20 ms): a whole recording is recognised (the same bytes read as slin gave "up to");
then SIGTERM in the middle of a call: Asterisk gets `00 00 00` and the close, the subscriber
still gets the final of what was said and call_end with reason "shutdown"."""

import asyncio
import os
import signal
import sys
import time

import harness as h
import audiosocket_client as ac

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SKIP = 77
SECRET = "test-secret"
# Measured on the 2-core machine (two calls at once, 8 kHz slin, tiny.en): 0.028 (2 errors of
# 71 words); test_whisper_real measured 0.028-0.056 for 8 kHz audio. Bound: 6 errors.
MAX_WER = 0.09
MIN_OVERLAP_PS = 0.4  # pocketsphinx at 12/16 kHz: share of the reference's words in the finals
# pocketsphinx on 8 kHz mu-law (its model is 16 kHz) varies from run to run on a loaded machine
# (overlap 0.23-0.45 measured) but always found these words, as it does in slin; mu-law bytes
# read as slin would be noise.
ULAW_MUST_HAVE = "there might be"


def whisper_args(models_root):
    return ["--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root", models_root,
            "--device", "cpu", "--workers", "2", "--whisper_threads", "1", "--language", "en",
            "--beam_size", "1", "--no-whisper_fallback", "--initial_prompt", "",
            "--no-admission_control"]


def call_items(uuid, pcms, dtmf_after=None):
    """UUID, 0.5 s of silence, the recordings with 1 s of silence between them, the DTMF
    after recording `dtmf_after`, 0.5 s of silence."""
    items = [ac.tlv(0x01, uuid.bytes)] + ac.silence_items(0.5)
    for i, pcm in enumerate(pcms):
        if i:
            items += ac.silence_items(1.0)
        items += ac.audio_items(pcm)
        if dtmf_after == i:
            items.append(("raw", ac.tlv(0x03, b"5")))
    return items + ac.silence_items(0.5)


def check_call_events(name, sub, call, failures, want_dtmf, reason="closed"):
    bad = ac.check_seq(sub.events, call.id)
    kinds = sub.kinds()
    for k in ("call_start", "speech_start", "final", "call_end"):
        if k not in kinds:
            bad.append(f"no {k} event")
    if want_dtmf and not any(e["event"] == "dtmf" and e.get("digit") == "5" for e in sub.events):
        bad.append("no dtmf event with digit 5")
    if any(e.get("protocol") != "audiosocket" for e in sub.events):
        bad.append("an event without protocol audiosocket")
    ends = [e for e in sub.events if e["event"] == "call_end"]
    if ends and ends[-1].get("reason") != reason:
        bad.append(f"call_end reason {ends[-1].get('reason')!r}, expected {reason!r}")
    for e in sub.events:
        if e["event"] in ("partial", "final") and e.get("track") != "caller":
            bad.append(f"{e['event']} on track {e.get('track')!r}")
            break
    for b in bad:
        failures.append(f"{name}: {b}")
    return not bad


async def whisper_calls(srv, port, lib, tmp):
    pcm = {utt: ac.pcm_of(path, 8000, tmp=tmp) for utt, path, _ in lib}
    groups = [lib[0:3], lib[3:5]]
    calls = [ac.Call(port, f"whisper{i}") for i in range(2)]
    subs = [await ac.Subscriber(srv.data_port, c.id).start() for c in calls]
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    await asyncio.gather(*[
        c.run(call_items(c.uuid, [pcm[u] for u, _, _ in g], dtmf_after=0))
        for c, g in zip(calls, groups)])
    for s in subs:
        await s.wait_end(60)
    h.log(f"whisper: calls streamed in {time.monotonic() - t0:.1f} s; the last final and "
          "call_end came after the close by: "
          + ", ".join(f"{s.times[-1] - c.closed_at:.2f} s" if s.times else "none"
                      for c, s in zip(calls, subs)))
    for s in subs:
        await s.stop()
    return calls, subs, groups


def part_whisper(lib, failures):
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP part 1: no faster-whisper tiny.en at {MODEL_DIR}")
        return SKIP
    tmp = h.tmpdir("as-whisper")
    recv = ac.WebhookReceiver(SECRET)
    try:
        srv = h.Server(*whisper_args(os.path.join(tmp, "models")),
                       "--webhook_url", recv.url, "--webhook_secret", SECRET,
                       engine="whisper", name="as-whisper", drain_timeout=10)
        with ac.running(srv, ready_timeout=120) as port:
            calls, subs, groups = h.run_async(whisper_calls(srv, port, lib, tmp))
            t_end = time.monotonic() + 10
            while time.monotonic() < t_end and not all(
                    any(e["event"] == "call_end" for e in recv.events_of(c.id)) for c in calls):
                time.sleep(0.1)
            pairs = []
            for c, s, g in zip(calls, subs, groups):
                check_call_events(c.name, s, c, failures, want_dtmf=True)
                if not any(e["event"] == "partial" for e in s.events):
                    failures.append(f"{c.name}: no partial event")
                if c.received:
                    failures.append(f"{c.name}: the server sent {c.received[:20]!r} to Asterisk")
                hyp = " ".join(e["text"] for e in s.finals())
                ref = " ".join(r for _, _, r in g)
                pairs.append((ref, hyp))
                h.log(f"{c.name}: {len(s.finals())} finals, "
                      f"{sum(e['event'] == 'partial' for e in s.events)} partials: {hyp!r}")
                # Webhook: the same events, in order, signed.
                hook = recv.events_of(c.id)
                if [e["seq"] for e in hook] != [e["seq"] for e in s.events]:
                    failures.append(f"{c.name}: webhook seqs {[e['seq'] for e in hook]} != "
                                    f"subscriber's {[e['seq'] for e in s.events]}")
                elif hook != s.events:
                    failures.append(f"{c.name}: webhook events differ from the subscriber's")
            unsigned = [p for p in recv.posts if not p["ok_sig"]]
            if unsigned or not recv.posts:
                failures.append(f"webhook: {len(unsigned)} of {len(recv.posts)} signatures "
                                "did not verify")
            err, n_words, n_err = h.wer(pairs)
            h.log(f"AudioSocket WER (whisper tiny.en, 8 kHz slin, 2 calls at once): {err:.3f} "
                  f"({n_err} errors / {n_words} words); bound {MAX_WER}")
            if err > MAX_WER:
                failures.append(f"WER {err:.3f} > {MAX_WER}")
    finally:
        recv.stop()
    return 0


async def negative_calls(srv, port, lib, tmp):
    utt, path, ref = lib[0]
    pcm8 = ac.pcm_of(path, 8000, tmp=tmp)
    pcm12 = ac.pcm_of(path, 12000, tmp=tmp)
    pcm16 = ac.pcm_of(path, 16000, tmp=tmp)
    c = {name: ac.Call(port, name) for name in
         ("good", "no_uuid", "unknown_kind", "zero_len", "error_kind", "garbage", "short_uuid",
          "rate12", "rate16")}
    subs = {n: await ac.Subscriber(srv.data_port, call.id).start() for n, call in c.items()}
    await asyncio.sleep(0.1)
    half = len(pcm8) // 2 // 320 * 320

    def speech(call, pcm, kind=0x10, per_frame=320, mid=None):
        items = [ac.tlv(0x01, call.uuid.bytes)] + ac.silence_items(0.3, kind, per_frame)
        a = ac.audio_items(pcm, kind, per_frame)
        if mid is not None:
            a = a[:len(a) // 2] + mid + a[len(a) // 2:]
        return items + a + ac.silence_items(0.5, kind, per_frame)

    runs = [
        c["good"].run(speech(c["good"], pcm8)),
        # audio before the UUID: a violation, hung up at once
        c["no_uuid"].run(ac.audio_items(pcm8[:3200]) + ac.silence_items(1.0), close=False),
        c["unknown_kind"].run(speech(c["unknown_kind"], pcm8, mid=[("raw", ac.tlv(0x42, b"abc")),
                                                                    ("raw", ac.tlv(0x02, b""))])),
        c["zero_len"].run(speech(c["zero_len"], pcm8,
                                 mid=[("raw", ac.tlv(0x10)), ("raw", ac.tlv(0x12))])),
        c["error_kind"].run(speech(c["error_kind"], pcm8, mid=[("raw", ac.tlv(0xFF, b"\x02"))])),
        c["garbage"].run([ac.tlv(0x01, c["garbage"].uuid.bytes)] + ac.audio_items(pcm8[:half])
                         + [("raw", ac.tlv(0x03, b"12345"))] + ac.silence_items(1.0),
                         close=False),
        c["short_uuid"].run([ac.tlv(0x01, c["short_uuid"].uuid.bytes[:15])]
                            + ac.silence_items(1.0), close=False),
        c["rate12"].run(speech(c["rate12"], pcm12, 0x11, 480)),
        c["rate16"].run(speech(c["rate16"], pcm16, 0x12, 640)),
    ]
    await asyncio.gather(*runs)
    for n in ("good", "unknown_kind", "zero_len", "error_kind", "garbage", "rate12", "rate16"):
        await subs[n].wait_end(30)
    await asyncio.sleep(0.3)
    for s in subs.values():
        await s.stop()
    return c, subs, ref


def part_negative(lib, failures):
    tmp = h.tmpdir("as-neg")
    srv = h.Server(*h.NO_LOAD_SHEDDING, engine="pocketsphinx", name="as-neg")
    with ac.running(srv) as port:
        c, subs, ref = h.run_async(negative_calls(srv, port, lib, tmp))
        log = srv.log_text()
        hangup = ac.tlv(0x00)

        def expect(cond, what):
            if not cond:
                failures.append(what)

        for n in ("good", "unknown_kind", "zero_len", "error_kind"):
            ok = check_call_events(n, subs[n], c[n], failures, want_dtmf=False)
            expect(c[n].received == b"", f"{n}: server sent {c[n].received[:20]!r}")
            h.log(f"{n}: {len(subs[n].events)} events, finals "
                  f"{[e['text'] for e in subs[n].finals()]}{'' if ok else ' (FAILED)'}")
        for n in ("rate12", "rate16"):
            check_call_events(n, subs[n], c[n], failures, want_dtmf=False)
            hyp = " ".join(e["text"] for e in subs[n].finals())
            ov = h.word_overlap(ref, hyp)
            h.log(f"{n}: overlap {ov:.2f} with the reference: {hyp!r}")
            expect(ov >= MIN_OVERLAP_PS, f"{n}: overlap {ov:.2f} < {MIN_OVERLAP_PS}: {hyp!r}")
        # Violations: `00 00 00`, then the server closes.
        for n, words in (("no_uuid", "not the UUID"), ("garbage", "a DTMF message of 5 bytes"),
                         ("short_uuid", "a UUID of 15 bytes")):
            expect(c[n].received == hangup, f"{n}: got {c[n].received[:20]!r}, not a hangup")
            expect(c[n].server_closed_at is not None, f"{n}: the server did not close")
            expect(words in log, f"{n}: no log line with {words!r}")
        expect(subs["no_uuid"].events == [] and subs["short_uuid"].events == [],
               "a call without a valid UUID produced events")
        g = subs["garbage"].events
        expect(g and g[-1]["event"] == "call_end" and g[-1].get("reason") == "protocol_error",
               f"garbage: last event {g[-1] if g else None}, expected call_end protocol_error")
        expect("unknown message type 0x42" in log and "unknown message type 0x02" in log,
               "unknown kinds not logged")
        expect("reported error 0x02" in log, "the 0xFF error was not logged")
        expect("empty audio message skipped" in log, "the empty audio was not logged")
        st, m = srv.get_json("/health")
        expect(st == 200, f"/health {st} after the negative calls")
        prom = srv.get("/metrics", {"Accept": h.PROM_ACCEPT_PLAIN})[2].decode()
        expect(ac.prom_value(prom, "stt_oob_calls_active") == 0, "stt_oob_calls_active != 0")
        expect(ac.prom_value(prom, "stt_oob_calls_total") == 7,
               f"stt_oob_calls_total {ac.prom_value(prom, 'stt_oob_calls_total')} != 7")


async def ulaw_call(srv, port, ulaw):
    """A whole recording as chan_audiosocket with c(ulaw) sends it: type 0x10, 160 bytes of
    mu-law per 20 ms (the server runs with --audiosocket_format ulaw)."""
    c = ac.Call(port, "ulaw")
    sub = await ac.Subscriber(srv.data_port, c.id).start()
    quiet = ac.audio_items(b"\xff" * 160 * 25, 0x10, 160)  # 0.5 s of mu-law silence (0xff)
    items = [ac.tlv(0x01, c.uuid.bytes)] + quiet + ac.audio_items(ulaw, 0x10, 160) + quiet
    await c.run(items)
    await sub.wait_end(20)
    await sub.stop()
    return c, sub


async def drained_call(srv, port, pcm):
    c = ac.Call(port, "drained")
    sub = await ac.Subscriber(srv.data_port, c.id).start()
    await asyncio.sleep(0.1)
    asyncio.get_running_loop().call_later(3.0, srv.signal, signal.SIGTERM)
    items = [ac.tlv(0x01, c.uuid.bytes)] + ac.audio_items(pcm, 0x10, 160)  # mu-law
    await c.run(items)
    await sub.wait_end(15)
    await asyncio.sleep(0.5)
    return c, sub


def part_drain(lib, failures):
    """--audiosocket_format ulaw: a whole recording in mu-law is transcribed like the slin one.
    Then SIGTERM during a call: the server sends Asterisk a hangup (00 00 00) and closes; the
    words said before still arrive (a final), then call_end with reason shutdown; exit 0."""
    srv = h.Server("--audiosocket_format", "ulaw", *h.NO_LOAD_SHEDDING, engine="pocketsphinx",
                   name="as-drain", drain_timeout=8)
    port = ac.start_server(srv)
    try:
        ulaw = ac.pcm_of(lib[0][1], 8000, encoding="mu-law", bits=8)
        c, sub = h.run_async(ulaw_call(srv, port, ulaw))
        hyp = " ".join(e["text"] for e in sub.finals())
        ov = h.word_overlap(lib[0][2], hyp)
        h.log(f"ulaw: overlap {ov:.2f} with the reference: {hyp!r}")
        if ac.check_seq(sub.events, c.id) or ULAW_MUST_HAVE not in h.normalize(hyp):
            failures.append(f"ulaw: {ULAW_MUST_HAVE!r} not recognised or bad events "
                            f"{ac.check_seq(sub.events, c.id)}: {hyp!r}")
        c, sub = h.run_async(drained_call(srv, port, ulaw))
        kinds = sub.kinds()
        h.log(f"drain: Asterisk got {c.received!r}; subscriber events {kinds[:3]}...{kinds[-3:]}"
              f"; finals {[e['text'] for e in sub.finals()]}")
        if c.received != ac.tlv(0x00) or c.server_closed_at is None:
            failures.append(f"drain: Asterisk got {c.received[:20]!r} (closed: "
                            f"{c.server_closed_at is not None}), expected 00 00 00 and a close")
        if not sub.finals():
            failures.append("drain: the utterance in progress got no final")
        ends = [e for e in sub.events if e["event"] == "call_end"]
        if not ends or ends[-1].get("reason") != "shutdown":
            failures.append(f"drain: call_end {ends[-1] if ends else None}, expected reason "
                            "shutdown")
        rc = srv.wait_exit(20)
        if rc != 0:
            failures.append(f"drain: exit status {rc}")
        srv.check_sanitizers()
    finally:
        srv.kill()


def main():
    h.watchdog(280)
    failures = []
    lib = h.librivox_set()
    step = h.stepper(failures)
    step("negative", lambda: part_negative(lib, failures))
    step("drain", lambda: part_drain(lib, failures))
    rc = part_whisper(lib, failures)
    if rc == SKIP and not failures:
        return SKIP
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

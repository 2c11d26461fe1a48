#!/usr/bin/python3
"""Malformed data frames: one connection per error class. Each must get a text frame
{"type":"error","code":CODE,"message":...} and then a close with the class's close code, while a
concurrent healthy session streams a librivox file and still gets its fullSentence; the server
stays healthy afterwards."""

import asyncio
import json
import struct
import sys

import harness as h

MAX_FRAME = 1048576
PCM = b"\x10\x00" * 160  # 10 ms of quiet non-zero audio


def meta_frame(meta_bytes, pcm=PCM):
    return struct.pack("<I", len(meta_bytes)) + meta_bytes + pcm


def jb(obj):
    return json.dumps(obj).encode()


# Smallest even PCM payload that makes the whole frame one byte or more over --max_frame_bytes.
BIG_PCM = MAX_FRAME + 1 - 4 - len(jb({"sampleRate": 16000}))
BIG_PCM += BIG_PCM % 2


# (name, list of frames to send in order, expected code, expected close code)
CASES = [
    ("frame_too_short", [b"\x05\x00\x00"], "frame_too_short", 1007),
    ("empty_frame", [b""], "frame_too_short", 1007),
    ("bad_metadata_length", [struct.pack("<I", 1000) + jb({"sampleRate": 16000})],
     "bad_metadata_length", 1007),
    ("bad_metadata_length_plus_one",
     [struct.pack("<I", len(jb({"sampleRate": 16000})) + 1) + jb({"sampleRate": 16000})],
     "bad_metadata_length", 1007),
    ("metadata_too_large",
     [meta_frame(jb({"sampleRate": 16000, "pad": "x" * (64 * 1024)}))],
     "metadata_too_large", 1009),
    ("metadata_not_json", [meta_frame(b"hello")], "metadata_not_json", 1007),
    ("metadata_not_object", [meta_frame(b"[16000]")], "metadata_not_object", 1007),
    ("missing_sample_rate", [meta_frame(jb({"rate": 16000}))], "missing_sample_rate", 1007),
    ("bad_sample_rate_string", [meta_frame(jb({"sampleRate": "16000"}))], "bad_sample_rate",
     1007),
    ("bad_sample_rate_fraction", [meta_frame(jb({"sampleRate": 16000.5}))], "bad_sample_rate",
     1007),
    ("unsupported_sample_rate_low", [meta_frame(jb({"sampleRate": 4000}))],
     "unsupported_sample_rate", 1007),
    ("unsupported_sample_rate_high", [meta_frame(jb({"sampleRate": 96000}))],
     "unsupported_sample_rate", 1007),
    ("unsupported_channels", [meta_frame(jb({"sampleRate": 16000, "channels": 2}))],
     "unsupported_channels", 1007),
    ("odd_pcm_length", [meta_frame(jb({"sampleRate": 16000}), b"\x01\x02\x03")],
     "odd_pcm_length", 1007),
    # A bad frame after good ones: the session's earlier audio does not excuse it.
    ("odd_pcm_after_good",
     [h.make_frame(PCM, 16000), h.make_frame(PCM, 16000),
      meta_frame(jb({"sampleRate": 16000}), b"\x01")], "odd_pcm_length", 1007),
    ("frame_too_large", [meta_frame(jb({"sampleRate": 16000}), b"\x00" * BIG_PCM)],
     "frame_too_large", 1009),
]


async def bad_session(srv, name, frames, want_code, want_close):
    c = await h.DataClient(srv.data_url(f"bad-{name}"), name=name).connect()
    for f in frames:
        if not await c.send_raw(f):
            break
    problems = []
    try:
        await c.wait_closed(10)
    except AssertionError as e:
        problems.append(str(e))
        await c.close()
    errs = c.of_type("error")
    if len(errs) != 1:
        problems.append(f"expected exactly one error event, got {c.summary()}")
    else:
        ev = errs[0][1]
        if ev.get("code") != want_code:
            problems.append(f"code {ev.get('code')!r}, expected {want_code!r}")
        msg = ev.get("message")
        if not isinstance(msg, str) or len(msg) < 8:
            problems.append(f"message not specific: {msg!r}")
        elif msg.strip().lower() in ("error", "bad frame", "invalid frame"):
            problems.append(f"message not specific: {msg!r}")
    if c.close_code != want_close:
        problems.append(f"close code {c.close_code} ({c.close_reason!r}), expected {want_close}")
    other = [ty for ty in c.types() if ty != "error" and ty not in (
        "vad_detect_start", "vad_detect_stop")]
    if other:
        problems.append(f"unexpected events before the error: {c.summary()}")
    msg = errs[0][1].get("message") if errs else None
    return name, problems, f"code={errs[0][1].get('code') if errs else None} " \
                           f"close={c.close_code} message={msg!r}"


async def text_frame_ignored(srv):
    """A text frame on the data socket is ignored: the connection stays open and usable."""
    c = await h.DataClient(srv.data_url("bad-textframe"), name="text-frame").connect()
    await c.send_raw('{"type": "hello"}')
    await c.send_raw(h.make_frame(PCM, 16000))
    await asyncio.sleep(1.0)
    problems = []
    if c.closed_at is not None:
        problems.append(f"closed with {c.close_code} after a text frame")
    if c.count("error"):
        problems.append(f"error event for a text frame: {c.summary()}")
    await c.close()
    return "text_frame_ignored", problems, f"events={c.summary()!r}"


async def run_all(srv, pcm, rate):
    healthy = asyncio.ensure_future(
        h.transcribe(srv.data_url("healthy"), pcm, rate, tail_s=1.5, final_timeout=40,
                     settle_s=0.5, name="healthy"))
    await asyncio.sleep(0.5)
    results = []
    # A few at a time, spread over the healthy stream's lifetime.
    for i in range(0, len(CASES), 4):
        batch = CASES[i:i + 4]
        results += await asyncio.gather(*(bad_session(srv, *case) for case in batch))
        await asyncio.sleep(0.3)
    results.append(await text_frame_ignored(srv))
    return results, await healthy


def check(loop, pcm, rate, ref):
    """The whole scenario on one --event_loop (close codes depend on the loop: see
    docs/architecture.md, Loop); returns the failures, each naming the loop."""
    failures = []
    h.log(f"--event_loop {loop}:")
    with h.Server(*h.NO_LOAD_SHEDDING, "--event_loop", loop, name=f"malformed-{loop}") as srv:
        results, healthy = h.run_async(run_all(srv, pcm, rate))
        for name, problems, info in results:
            h.log(f"  {'FAIL' if problems else 'ok  '} {name:30} {info}")
            for p in problems:
                failures.append(f"{name}: {p}")
        finals = healthy.finals()
        w = h.wer([(ref, " ".join(finals))])[0]
        h.log(f"  healthy session: finals {finals} WER {w:.2f}; events {healthy.summary()}")
        if len(finals) != 1 or healthy.count("error"):
            failures.append(f"healthy session disturbed: {healthy.summary()}")
        if w > 0.5:
            failures.append(f"healthy session WER {w:.2f} > 0.5")
        status, health = srv.get_json("/health")
        h.log(f"  /health after: {status} {health}")
        if status != 200:
            failures.append(f"/health returned {status} after malformed frames")
    return [f"{loop}: {f}" for f in failures]


def main():
    h.watchdog(170)
    utt, path, ref = h.librivox_set()[0]
    pcm, rate = h.read_wav(path)
    return h.report(check("libev", pcm, rate, ref) + check("poll", pcm, rate, ref))


if __name__ == "__main__":
    sys.exit(main())

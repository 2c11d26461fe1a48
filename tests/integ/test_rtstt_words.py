#!/usr/bin/python3
"""The RealtimeSTT data socket's opt-in word event (docs/protocol.md, "Words: transcript_words"):
with ?words=1 on the data URL, or --realtimestt_words for every connection, each fullSentence is
followed by one {"type": "transcript_words", "text", "utterance", "start", "end", "confidence",
"words": [{"word", "start", "end", "confidence"}]} with times in stream seconds.

Real speech: two or three librivox recordings of Debian's pocketsphinx-testdata on one
connection, each after a known stretch of silence, streamed at real time, so where each
recording lies in the stream is known to the sample.

Part 1, pocketsphinx (one server, default flags):
  1. a connection without the argument (the unmodified RealtimeSTT client) gets no
     transcript_words and fullSentence messages with exactly the original keys;
  2. with ?words=1 every fullSentence is followed at once by a transcript_words of the same text
     and utterance number; its words are in order, each inside [start, end] of the message,
     start <= end, confidence a number in [0, 1]; joined (case and punctuation aside) they are
     the text's words; the message's confidence is in [0, 1];
  3. stream time: each utterance's first word starts within the recording it belongs to (after
     the recording's first sample, at most MAX_LEAD_S into it) and its last word ends before the
     recording's last sample (+ one 10 ms frame);
  4. ?words=banana is refused: an error event with code bad_argument, close code 1008;
  5. a second server with --realtimestt_words sends the event without the argument, and
     ?words=0 turns it off for one connection.
Part 2, whisper tiny.en real weights (skipped when .deps/models/faster-whisper-tiny.en is
absent): the same checks on whisper's finals (token times), which carry punctuation.
Exits 77 (ctest: skipped) only when part 2 cannot run and part 1 passed."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MODEL_DIR = os.environ.get("STT_WHISPER_REAL_MODEL") or os.path.join(
    h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
SKIP = 77
RATE = 16000
GAP_S = 2.5           # silence before each recording (the endpointer ends the utterance in it)
MAX_LEAD_S = 1.2      # librivox recordings open with up to ~0.6 s of room tone before speech
FRAME_S = 0.010       # pocketsphinx's frame: a word's end may reach one frame past the audio
EPS = 0.0015          # times are rounded to the millisecond on the wire


def words_of(text):
    return h.normalize(text).split()


def layout(recs):
    """PCM of [silence GAP_S, recording]... + tail, and [(start_s, end_s)] of each recording in
    stream time."""
    pcm, spans, pos = b"", [], 0.0
    for _, path, _ in recs:
        audio, rate = h.read_wav(path)
        assert rate == RATE, f"{path}: {rate} Hz"
        pcm += h.silence(GAP_S, RATE)
        pos += GAP_S
        dur = len(audio) / 2 / RATE
        spans.append((pos, pos + dur))
        pcm += audio
        pos += dur
    return pcm, spans


def check_words_event(name, ev, final, failures, want_conf=True):
    """One transcript_words against the fullSentence before it."""
    bad = []
    if ev.get("text") != final.get("text"):
        bad.append(f"text {ev.get('text')!r} != fullSentence {final.get('text')!r}")
    s, e = ev.get("start"), ev.get("end")
    if not (isinstance(s, (int, float)) and isinstance(e, (int, float)) and 0 <= s <= e):
        bad.append(f"start/end {s!r}/{e!r}")
        s, e = 0, float("inf")
    c = ev.get("confidence")
    if want_conf and not (isinstance(c, (int, float)) and 0 <= c <= 1):
        bad.append(f"utterance confidence {c!r}")
    ws = ev.get("words")
    if not isinstance(ws, list) or not ws:
        bad.append(f"no words: {ev!r}")
        ws = []
    prev_end = s
    for w in ws:
        ws_, we_, wc = w.get("start"), w.get("end"), w.get("confidence")
        if not isinstance(w.get("word"), str) or not w["word"].strip():
            bad.append(f"word {w!r}")
        if not (isinstance(ws_, (int, float)) and isinstance(we_, (int, float))):
            bad.append(f"times of {w!r}")
            continue
        if not (s - EPS <= ws_ <= we_ <= e + EPS):
            bad.append(f"{w!r} outside [{s}, {e}] or start > end")
        if ws_ < prev_end - EPS:
            bad.append(f"{w!r} starts before the previous word's end {prev_end}")
        prev_end = we_
        if not (isinstance(wc, (int, float)) and 0 <= wc <= 1):
            bad.append(f"confidence of {w!r}")
    joined = [x for w in ws for x in words_of(w.get("word", ""))]
    if joined != words_of(final.get("text", "")):
        bad.append(f"words {joined} != text words {words_of(final.get('text', ''))}")
    for b in bad[:6]:
        failures.append(f"{name}: {b}")
    return not bad


async def stream(url, pcm, n_finals, name, timeout=60.0):
    c = await h.DataClient(url, name=name).connect()
    await c.send_pcm(pcm, RATE)
    await c.send_pcm(h.silence(2.5, RATE), RATE)
    try:
        await c.wait_count("fullSentence", n_finals, timeout)
        await asyncio.sleep(0.5)
    except AssertionError as e:
        c.wait_error = str(e)
    await c.close()
    return c


def check_with_words(c, recs, spans, failures, frame_slack):
    """Checks 2 and 3 on a ?words=1 connection; returns the pairs (reference, final) for WER."""
    name = c.name
    if getattr(c, "wait_error", None):
        failures.append(c.wait_error)
    evs = [ev for _, ev in c.events]
    finals = [i for i, ev in enumerate(evs) if ev.get("type") == "fullSentence"]
    n_words = c.count("transcript_words")
    if n_words != len(finals):
        failures.append(f"{name}: {n_words} transcript_words for {len(finals)} fullSentence")
    if len(finals) != len(recs):
        failures.append(f"{name}: {len(finals)} finals for {len(recs)} recordings: {c.summary()}")
    pairs = []
    for k, i in enumerate(finals):
        final = evs[i]
        nxt = evs[i + 1] if i + 1 < len(evs) else {}
        if nxt.get("type") != "transcript_words":
            failures.append(f"{name}: fullSentence #{k + 1} followed by {nxt.get('type')}")
            continue
        if nxt.get("utterance") != k + 1:
            failures.append(f"{name}: utterance {nxt.get('utterance')} for final #{k + 1}")
        if not check_words_event(f"{name} #{k + 1}", nxt, final, failures):
            continue
        if k < len(spans):
            a, b = spans[k]
            w0, wl = nxt["words"][0], nxt["words"][-1]
            h.log(f"{name} #{k + 1}: recording at {a:.3f}-{b:.3f} s; {len(nxt['words'])} words, "
                  f"{w0['word']!r} at {w0['start']:.3f}, {wl['word']!r} ends {wl['end']:.3f}; "
                  f"utterance {nxt['start']:.3f}-{nxt['end']:.3f}, confidence "
                  f"{nxt['confidence']}; word confidences "
                  f"{[w['confidence'] for w in nxt['words']][:8]}")
            if not (a - EPS <= w0["start"] <= a + MAX_LEAD_S):
                failures.append(f"{name} #{k + 1}: first word at {w0['start']} s, recording "
                                f"starts at {a:.3f} s")
            if wl["end"] > b + frame_slack + EPS:
                failures.append(f"{name} #{k + 1}: last word ends {wl['end']} s, recording "
                                f"ends at {b:.3f} s")
            pairs.append((recs[k][2], final.get("text", "")))
    return pairs


async def part1(srv, failures):
    recs = h.librivox_set()[:3]
    pcm, spans = layout(recs)
    plain, with_words = await asyncio.gather(
        stream(srv.data_url(), pcm, len(recs), "plain"),
        stream(srv.data_url() + "?words=1", pcm, len(recs), "words=1"))
    # 1. the original client sees the original messages only
    if getattr(plain, "wait_error", None):
        failures.append(plain.wait_error)
    if plain.count("transcript_words"):
        failures.append("plain connection got transcript_words")
    for _, ev in plain.of_type("fullSentence"):
        if set(ev) != {"type", "text"}:
            failures.append(f"plain fullSentence keys {sorted(ev)}")
    if plain.anomalies:
        failures.append(f"plain anomalies: {plain.anomalies[:3]}")
    # 2, 3
    pairs = check_with_words(with_words, recs, spans, failures, FRAME_S)
    if pairs:
        rate, n, err = h.wer(pairs)
        h.log(f"pocketsphinx WER of the ?words=1 finals: {rate:.3f} ({err}/{n})")
    # 4. a bad value
    bad = await h.DataClient(srv.data_url() + "?words=banana", name="words=banana").connect()
    try:
        await bad.wait_closed(10)
    except AssertionError as e:
        failures.append(str(e))
    errs = bad.of_type("error")
    if bad.close_code != 1008 or not errs or errs[0][1].get("code") != "bad_argument":
        failures.append(f"words=banana: close {bad.close_code}, events {bad.summary()}")


async def part1_flag(srv, failures):
    recs = h.librivox_set()[3:4]
    pcm, spans = layout(recs)
    on, off = await asyncio.gather(
        stream(srv.data_url(), pcm, 1, "flag"),
        stream(srv.data_url() + "?words=0", pcm, 1, "flag words=0"))
    check_with_words(on, recs, spans, failures, FRAME_S)
    if off.count("transcript_words") or off.count("fullSentence") != 1:
        failures.append(f"--realtimestt_words with ?words=0: {off.summary()}")


async def part2(srv, failures):
    recs = h.librivox_set()[:2]
    pcm, spans = layout(recs)
    c = await stream(srv.data_url() + "?words=1", pcm, len(recs), "whisper words=1", 120)
    pairs = check_with_words(c, recs, spans, failures, 0.0)
    if pairs:
        rate, n, err = h.wer(pairs)
        h.log(f"whisper tiny.en WER of the ?words=1 finals: {rate:.3f} ({err}/{n})")


def main():
    h.watchdog(280)
    failures = []
    with h.Server(*h.NO_LOAD_SHEDDING, name="words-ps") as srv:
        h.run_async(part1(srv, failures))
    with h.Server("--realtimestt_words", *h.NO_LOAD_SHEDDING, name="words-flag") as srv:
        h.run_async(part1_flag(srv, failures))
    if not os.path.isfile(os.path.join(MODEL_DIR, "model.bin")):
        h.log(f"SKIP part 2: no faster-whisper tiny.en directory at {MODEL_DIR}")
        return h.report(failures) if failures else SKIP
    tmp = h.tmpdir("words-whisper")
    srv = h.Server("--model", MODEL_DIR, "--rt-model", MODEL_DIR, "--download_root",
                   os.path.join(tmp, "models"), "--device", "cpu", "--workers", "2",
                   "--whisper_threads", "1", "--language", "en", "--beam_size", "1",
                   "--no-whisper_fallback", "--initial_prompt", "",
                   "--no-enable_realtime_transcription", *h.NO_LOAD_SHEDDING,
                   engine="whisper", name="words-whisper", drain_timeout=10)
    srv.start(ready_timeout=120)
    try:
        h.run_async(part2(srv, failures))
    except AssertionError as e:
        failures.append(str(e))
        h.log(srv.log_tail(40))
    finally:
        if srv.stop() != 0:
            failures.append("whisper server exit status not 0")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

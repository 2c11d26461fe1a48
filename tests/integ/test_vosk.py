#!/usr/bin/python3
"""The vosk-server WebSocket protocol at ws://127.0.0.1:DATA_PORT/vosk and, with --vosk_port N,
on every path of port N (docs/protocol-vosk.md). Pocketsphinx engine, real recordings streamed
at real-time pace in 0.2 s binary messages, as vosk-server's own sample clients do.

Choices this test pins down (the codec's, src/proto/vosk.c, and the adapter's):
- One reply per client message except config, in order: reply k answers message k. vosk's
  sample clients send a chunk and then wait for its reply (lock step), so a skipped reply hangs
  them and an extra one shifts every later answer. Call A is such a lock-step client.
- Replies are printed exactly as vosk-api prints them (sorted keys, `"key" : value`, two-space
  indentation, six-decimal floats); every reply is compared byte for byte with vosk_dump() of
  itself. Shapes: {"partial"}, {"result"?, "text"} (plain final), {"alternatives": [{"confidence",
  "result"?, "text"}]} (max_alternatives > 0), and our error reply {"code", "error"}.
- Without a config the call is 8 kHz with word times on (vosk-server's defaults).
- Word times are stream time: seconds since the call's first sample, across resets. Every word
  must have start < end, lie inside a spoken file (+-WORD_SLACK_S) of the call's audio, and
  starts and ends must not decrease across the whole call. With words on, a final's text is its
  words joined by spaces, as in vosk.
- {"eof" : 1} is answered with the final of what is left ({"text" : ""} if nothing) and then
  the server closes with 1000. {"reset" : 1} is answered with the final of the utterance so far
  (here: mid-sentence, so it has words) and recognition goes on.
- A refused message gets {"code": "<error name>", "error": "<message>"} and close 1007
  (1009 for an oversized message): bad sample_rate type, out-of-range rate, a text message that
  is not JSON.
- Isolation: two vosk calls (8 kHz, 16 kHz), a third vosk call with alternatives and a
  RealtimeSTT call at / stream at once; each transcript matches its own recording.

Accuracy bounds (corpus WER, sclite): the five librivox utterances in one call. Measured through
this server's RealtimeSTT path (one call per file): 0.34 at 16 kHz, 0.69 at 8 kHz; the stock
pocketsphinx en-us model is a 16 kHz model and 8 kHz audio lacks its upper band (raw
pocketsphinx_continuous on the same 8 kHz audio, upsampled, is as bad). Bounds: 0.45 at 16 kHz,
0.80 at 8 kHz (a wrong rate or byte order gives ~1.0).

Until the adapter exists this fails at the preflight (no vosk reply at /vosk) and at the start
of the --vosk_port server (unknown option); both say so. Nothing is skipped."""

import asyncio
import json
import os
import sys
import time

from websockets.exceptions import ConnectionClosed, InvalidStatusCode

import harness as h

CHUNK_S = 0.2           # vosk's sample clients send 0.2 s per message
GAP_S = 1.5             # silence between files: longer than the end-pointing delay
TAIL_S = 1.5
REPLY_TIMEOUT = 10.0    # a lock-step client waits this long for each reply
CLOSE_TIMEOUT = 20.0    # eof -> last final -> close
WORD_SLACK_S = 0.5      # a word may stick out of its file by this much
MAX_WER_8K = 0.80
MAX_WER_16K = 0.45
MAX_WER_SHORT = 0.5     # goforward at 16 kHz, recognised well
RESET_INTO_S = 3.5      # B resets this far into its last file (0870, 7.1 s)

EOF = '{"eof" : 1}'     # the exact bytes vosk's clients send
RESET = '{"reset" : 1}'
SAMPLE_CLIENT_CONFIG = '{ "config" : { "sample_rate" : 8000 } }'


# ---------------------------------------------------------------------------------------------
# vosk's printing and reply shapes
# ---------------------------------------------------------------------------------------------

def vosk_escape(s):
    out = []
    for ch in s:
        esc = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t"}.get(ch)
        out.append(esc if esc else (f"\\u{ord(ch):04x}" if ord(ch) < 0x20 else ch))
    return "".join(out)


def vosk_dump(v, depth=1):
    """A parsed reply printed the way vosk-api's json.h dump() prints it."""
    pad = "  " * depth
    if isinstance(v, dict):
        body = ",\n".join(f'{pad}"{k}" : {vosk_dump(v[k], depth + 1)}' for k in sorted(v))
        return "{\n" + body + "\n" + pad[2:] + "}"
    if isinstance(v, list):
        return "[" + ", ".join(vosk_dump(x, depth + 1) for x in v) + "]"
    if isinstance(v, str):
        return '"' + vosk_escape(v) + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6f}"
    return "null"


class Reply:
    """One server message: kind is partial, final, alternatives or error; text is the partial
    or final text (alternatives: the best one); words the best hypothesis' word list."""

    def __init__(self, raw, t):
        self.raw, self.t = raw, t
        if not isinstance(raw, str):
            raise AssertionError(f"binary reply ({len(raw)} bytes); vosk replies are text")
        try:
            obj = json.loads(raw)
        except ValueError:
            raise AssertionError(f"reply is not JSON: {raw[:200]!r}")
        if not isinstance(obj, dict):
            raise AssertionError(f"reply is not an object: {raw[:200]!r}")
        self.obj = obj
        if "type" in obj:
            raise AssertionError(f"RealtimeSTT event instead of a vosk reply: {raw[:200]!r}")
        keys = set(obj)
        self.words = None
        if keys == {"partial"} and isinstance(obj["partial"], str):
            self.kind, self.text = "partial", obj["partial"]
        elif keys in ({"text"}, {"result", "text"}) and isinstance(obj["text"], str):
            self.kind, self.text = "final", obj["text"]
            self.words = obj.get("result")
        elif keys == {"alternatives"} and isinstance(obj["alternatives"], list):
            self.kind = "alternatives"
            alts = obj["alternatives"]
            if not alts or not all(isinstance(a, dict) for a in alts):
                raise AssertionError(f"alternatives empty or not objects: {raw[:300]!r}")
            self.text = alts[0].get("text")
            self.words = alts[0].get("result")
        elif keys == {"code", "error"} and all(isinstance(obj[k], str) for k in keys):
            self.kind, self.text = "error", obj["error"]
        else:
            raise AssertionError(f"reply of no vosk shape: {raw[:300]!r}")
        if raw != vosk_dump(obj):
            raise AssertionError(f"reply not printed as vosk prints it:\n{raw[:300]}\n"
                                 f"--- vosk would print ---\n{vosk_dump(obj)[:300]}")

    def is_final(self):
        return self.kind in ("final", "alternatives")

    def __repr__(self):
        return f"{self.kind}({self.text!r})"


def check_final(r, words_on, max_alts):
    """Shape of one final for the call's settings."""
    if max_alts == 0 and r.kind != "final":
        raise AssertionError(f"expected a plain final, got {r.raw[:300]!r}")
    if max_alts > 0:
        if r.kind != "alternatives":
            raise AssertionError(f"expected alternatives, got {r.raw[:300]!r}")
        alts = r.obj["alternatives"]
        if not 1 <= len(alts) <= max_alts:
            raise AssertionError(f"{len(alts)} alternatives, expected 1..{max_alts}")
        for a in alts:
            want = {"confidence", "text"} | ({"result"} if words_on and a.get("text") else set())
            if set(a) != want or not isinstance(a["text"], str):
                raise AssertionError(f"alternative keys {sorted(a)}, expected {sorted(want)}")
            if not (isinstance(a["confidence"], float) and 0.0 <= a["confidence"] <= 1.0):
                raise AssertionError(f"confidence {a['confidence']!r} not a float in 0..1")
            check_words(a, words_on, with_conf=False)
        return
    check_words(r.obj, words_on, with_conf=True)


def check_words(hyp, words_on, with_conf):
    """hyp: a final or an alternative. With words on and text, "result" holds the words."""
    text = hyp["text"]
    if not words_on or not text:
        if "result" in hyp:
            raise AssertionError(f"\"result\" with words {'on' if words_on else 'off'} and text "
                                 f"{text!r}: {str(hyp)[:200]}")
        return
    res = hyp.get("result")
    if not isinstance(res, list) or not res:
        raise AssertionError(f"final with text {text!r} has no \"result\" word list")
    want = {"end", "start", "word"} | ({"conf"} if with_conf else set())
    for w in res:
        if not isinstance(w, dict) or set(w) != want:
            raise AssertionError(f"word {w!r}: keys must be {sorted(want)}")
        if not isinstance(w["word"], str) or not w["word"]:
            raise AssertionError(f"word {w!r}: empty or not a string")
        for k in want - {"word"}:
            if not isinstance(w[k], float):
                raise AssertionError(f"word {w!r}: {k} is not a float")
        if with_conf and not 0.0 <= w["conf"] <= 1.0:
            raise AssertionError(f"word {w!r}: conf outside 0..1")
    joined = " ".join(w["word"] for w in res)
    if joined != text:
        raise AssertionError(f"text {text!r} is not its words joined: {joined!r}")


# ---------------------------------------------------------------------------------------------
# Calls
# ---------------------------------------------------------------------------------------------

class Call:
    """One vosk connection: what was sent (kinds, in order) and every reply."""

    def __init__(self, url, name, rate, pcm, spans, config=None, words_on=True, max_alts=0,
                 reset_at_s=None):
        self.url, self.name, self.rate, self.pcm = url, name, rate, pcm
        self.spans = spans            # [(start_s, end_s, reference)] of each spoken file
        self.config = config          # str sent first (no reply), or None
        self.words_on, self.max_alts = words_on, max_alts
        self.reset_at_s = reset_at_s  # stream time at which to send RESET
        self.sent = []                # "audio" | "reset" | "eof" | "text", one per expected reply
        self.replies = []
        self.close_code = None
        self.audio_s = len(pcm) / 2 / rate
        self.ws = None

    async def connect(self):
        self.ws = await connect_vosk(self.url)
        if self.config is not None:
            await self.ws.send(self.config)

    def chunks(self):
        step = int(round(CHUNK_S * self.rate)) * 2
        reset_byte = None if self.reset_at_s is None else int(self.reset_at_s * self.rate) * 2
        for k, off in enumerate(range(0, len(self.pcm), step)):
            if reset_byte is not None and off >= reset_byte:
                reset_byte = None
                yield k * CHUNK_S, RESET
            yield k * CHUNK_S, self.pcm[off:off + step]

    async def run_lockstep(self):
        """vosk's test.py: send, wait for the reply, send the next (paced to real time)."""
        await self.connect()
        t0 = time.monotonic()
        for at, msg in self.chunks():
            delay = t0 + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(msg)
            self.sent.append("reset" if msg == RESET else "audio")
            self.replies.append(await self.recv_one(f"message {len(self.sent)}"))
        await self.ws.send(EOF)
        self.sent.append("eof")
        self.replies.append(await self.recv_one("eof"))
        await self.wait_close()

    async def run_pipelined(self):
        """A client that streams on a clock and reads replies as they come."""
        await self.connect()
        reader = asyncio.ensure_future(self.read_all())
        t0 = time.monotonic()
        try:
            for at, msg in self.chunks():
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.ws.send(msg)
                self.sent.append("reset" if msg == RESET else "audio")
            await self.ws.send(EOF)
            self.sent.append("eof")
            await asyncio.wait_for(asyncio.shield(reader), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: not closed within {CLOSE_TIMEOUT}s of eof; "
                                 f"{len(self.replies)} replies to {len(self.sent)} messages")
        finally:
            if not reader.done():
                reader.cancel()
                await self.ws.close()

    async def recv_one(self, what):
        try:
            raw = await asyncio.wait_for(self.ws.recv(), REPLY_TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: no reply to {what} within {REPLY_TIMEOUT}s "
                                 f"(vosk clients wait for one reply per message)")
        except ConnectionClosed as e:
            raise AssertionError(f"{self.name}: closed ({close_code(e)}) instead of answering "
                                 f"{what}; replies so far {self.replies[-3:]}")
        return Reply(raw, time.monotonic())

    async def read_all(self):
        try:
            async for raw in self.ws:
                self.replies.append(Reply(raw, time.monotonic()))
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code

    async def wait_close(self):
        """After the eof reply the server closes; nothing else may arrive first."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), CLOSE_TIMEOUT)
            raise AssertionError(f"{self.name}: message after the eof reply: {raw[:200]!r}")
        except ConnectionClosed:
            pass
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name}: not closed within {CLOSE_TIMEOUT}s of eof")
        self.close_code = self.ws.close_code

    # -- checks --
    def check(self):
        """Reply accounting, shapes, eof/reset answers, word times. Returns the finals."""
        n, name = len(self.sent), self.name
        if len(self.replies) != n:
            raise AssertionError(f"{name}: {len(self.replies)} replies to {n} messages "
                                 f"(one each, config excepted): {summary(self.replies)}")
        for kind, r in zip(self.sent, self.replies):
            if r.kind == "error":
                raise AssertionError(f"{name}: error reply {r.raw!r}")
            if kind in ("reset", "eof") and not r.is_final():
                raise AssertionError(f"{name}: {kind} answered with {r!r}, not a final")
            if r.is_final():
                try:
                    check_final(r, self.words_on, self.max_alts)
                except AssertionError as e:
                    raise AssertionError(f"{name}: {e}")
        if self.close_code != 1000:
            raise AssertionError(f"{name}: close code {self.close_code} after eof, expected 1000")
        finals = [r for r in self.replies if r.is_final()]
        if not any(r.text for r in finals):
            raise AssertionError(f"{name}: no final with text: {summary(self.replies)}")
        if self.words_on:
            self.check_times(finals)
        if "reset" in self.sent:
            self.check_reset()
        return finals

    def check_times(self, finals):
        words = [w for r in finals for w in (r.words or [])]
        prev = None
        for w in words:
            s, e = w["start"], w["end"]
            if not 0.0 <= s < e <= self.audio_s:
                raise AssertionError(f"{self.name}: word {w} outside [0, {self.audio_s:.2f}] "
                                     f"or start >= end")
            if not any(a - WORD_SLACK_S <= s and e <= b + WORD_SLACK_S for a, b, _ in self.spans):
                raise AssertionError(f"{self.name}: word {w} is not inside any spoken file "
                                     f"{[(round(a, 2), round(b, 2)) for a, b, _ in self.spans]}"
                                     " (word times must be stream time)")
            if prev is not None and (s < prev["start"] or e < prev["end"]):
                raise AssertionError(f"{self.name}: word times go back: {prev} then {w}")
            prev = w

    def check_reset(self):
        i = self.sent.index("reset")
        r = self.replies[i]
        if not r.text:
            raise AssertionError(f"{self.name}: reset (mid-sentence) answered with an empty "
                                 f"final {r.raw!r}")
        if self.words_on:
            for w in r.words or []:
                if w["end"] > self.reset_at_s + WORD_SLACK_S:
                    raise AssertionError(f"{self.name}: reset final has word {w} after the "
                                         f"reset at {self.reset_at_s:.2f}s")
        later = [x for x in self.replies[i + 1:] if x.is_final() and x.text]
        if not later:
            raise AssertionError(f"{self.name}: no final with text after the reset: "
                                 f"{summary(self.replies[i:])}")
        for x in later:
            for w in x.words or []:
                if w["start"] < self.reset_at_s - WORD_SLACK_S:
                    raise AssertionError(f"{self.name}: word {w} after the reset starts before "
                                         f"it ({self.reset_at_s:.2f}s)")

    def transcript(self):
        return " ".join(r.text for r in self.replies if r.is_final() and r.text)


def close_code(exc):
    rcvd = getattr(exc, "rcvd", None)
    return rcvd.code if rcvd is not None else 1006


def summary(replies, n=12):
    s = [repr(r) for r in replies if r.kind != "partial" or r.text]
    return ", ".join(s[:n]) + (f", ... ({len(s)} in all)" if len(s) > n else "")


async def connect_vosk(url):
    try:
        return await h.ws_connect(url)
    except InvalidStatusCode as e:
        raise AssertionError(f"{url}: WebSocket handshake refused with HTTP {e.status_code} "
                             "(no vosk endpoint there)")
    except OSError as e:
        raise AssertionError(f"{url}: cannot connect: {e}")


def layout(files, rate, gap_s=GAP_S, tail_s=TAIL_S):
    """[(pcm, ref)] -> (pcm of the whole call, [(start_s, end_s, ref)])."""
    pcm, spans, t = b"", [], 0.0
    for i, (p, ref) in enumerate(files):
        if i:
            pcm += h.silence(gap_s, rate)
            t += gap_s
        d = len(p) / 2 / rate
        spans.append((t, t + d, ref))
        pcm += p
        t += d
    return pcm + h.silence(tail_s, rate), spans


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

async def preflight(url):
    """An immediate eof must get {"text" : ""} and a normal close: tells at once whether the
    server speaks vosk at url at all."""
    ws = await connect_vosk(url)
    try:
        await ws.send(EOF)
        try:
            raw = await asyncio.wait_for(ws.recv(), 5.0)
        except asyncio.TimeoutError:
            raise AssertionError(f"{url}: no reply to {EOF} within 5 s: the server does not "
                                 "speak the vosk protocol there")
        except ConnectionClosed as e:
            raise AssertionError(f"{url}: closed ({close_code(e)}) instead of answering {EOF}")
        try:
            r = Reply(raw, time.monotonic())
        except AssertionError as e:
            raise AssertionError(f"{url}: {EOF} answered with {e}")
        if r.obj != {"text": ""}:
            raise AssertionError(f"{url}: {EOF} with no audio answered {raw!r}, expected "
                                 "{\"text\" : \"\"}")
        try:
            extra = await asyncio.wait_for(ws.recv(), CLOSE_TIMEOUT)
            raise AssertionError(f"{url}: message after the eof reply: {extra[:200]!r}")
        except ConnectionClosed:
            pass
        if ws.close_code != 1000:
            raise AssertionError(f"{url}: close code {ws.close_code} after eof, expected 1000")
    finally:
        await ws.close()


async def refused(url, messages, code, close):
    """Sends messages (str: text, bytes: audio); the last one must be refused with an error
    reply of `code` and close `close`, every earlier audio message answered normally."""
    ws = await connect_vosk(url)
    got = []
    what = f"{url} {messages[-1]!r:.60}"
    n_audio = sum(1 for m in messages if isinstance(m, bytes))

    async def read():
        try:
            async for raw in ws:
                got.append(Reply(raw, time.monotonic()))
        except ConnectionClosed:
            pass

    try:
        for m in messages:
            await ws.send(m)
        await asyncio.wait_for(read(), CLOSE_TIMEOUT)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}")
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: not closed within {CLOSE_TIMEOUT}s: {summary(got)}")
    except ConnectionClosed as e:
        raise AssertionError(f"{what}: closed ({close_code(e)}) while sending: {summary(got)}")
    finally:
        await ws.close()
    if len(got) != n_audio + 1:
        raise AssertionError(f"{what}: {len(got)} replies, expected {n_audio} + the error: "
                             f"{summary(got)}")
    last = got[-1]
    if last.kind != "error" or last.obj["code"] != code or not last.obj["error"]:
        raise AssertionError(f"{what}: expected error {code!r}, got {last.raw!r}")
    if any(r.kind == "error" for r in got[:-1]):
        raise AssertionError(f"{what}: error before the refused message: {summary(got)}")
    if ws.close_code != close:
        raise AssertionError(f"{what}: close code {ws.close_code}, expected {close}")
    h.log(f"  refused {messages[-1]!r:.60}: {last.obj}, close {ws.close_code}")


def wer_of(ref, hyp):
    return h.wer([(ref, hyp)])[0]


async def phase_data_port(srv, media, failures):
    url = f"ws://127.0.0.1:{srv.data_port}/vosk"
    try:
        await preflight(url)
    except AssertionError as e:
        failures.append(f"preflight: {e}")
        return
    h.log(f"preflight OK: {url} answers {EOF} with {{\"text\" : \"\"}} and closes 1000")

    for messages, code, close in (
            ([json.dumps({"config": {"sample_rate": "x"}})], "bad_sample_rate", 1007),
            (['{"config": {"sample_rate": 4000}}'], "unsupported_sample_rate", 1007),
            ([SAMPLE_CLIENT_CONFIG, h.silence(0.2, 8000), h.silence(0.2, 8000), "hello"],
             "not_json", 1007),
            (['{"config": {"phrase_list": ["' + "a" * 70000 + '"]}}'], "message_too_large", 1009)):
        try:
            await refused(url, messages, code, close)
        except AssertionError as e:
            failures.append(str(e))

    # A: 8 kHz, no config (vosk's defaults: 8000 Hz, words on), lock step, files in order.
    pcm_a, spans_a = layout([(p8, ref) for _, p16, p8, ref in media["librivox"]], 8000)
    a = Call(url, "A 8k lock-step", 8000, pcm_a, spans_a)
    # B: 16 kHz, words on, pipelined, files in reverse order, reset mid-sentence in the last.
    rev = list(reversed(media["librivox"]))
    pcm_b, spans_b = layout([(p16, ref) for _, p16, p8, ref in rev], 16000)
    b = Call(url, "B 16k reset", 16000, pcm_b, spans_b,
             config=json.dumps({"config": {"sample_rate": 16000, "words": True}}),
             reset_at_s=spans_b[-1][0] + RESET_INTO_S)
    # D: 16 kHz, three alternatives, words off: another speaker, another text.
    gf_pcm, gf_ref = media["goforward"]
    pcm_d, spans_d = layout([(gf_pcm, gf_ref)], 16000)
    d = Call(url, "D 16k alternatives", 16000, pcm_d, spans_d,
             config=json.dumps({"config": {"sample_rate": 16000, "words": False,
                                           "max_alternatives": 3}}),
             words_on=False, max_alts=3)
    # C: a RealtimeSTT call at / at the same time.
    cards_pcm, cards_ref = media["cards"]

    t = time.monotonic()
    results = await asyncio.gather(
        a.run_lockstep(), b.run_pipelined(), d.run_pipelined(),
        h.transcribe(srv.data_url(), cards_pcm, 16000, tail_s=TAIL_S, final_timeout=40,
                     settle_s=1.0, name="C realtimestt"),
        return_exceptions=True)
    h.log(f"A, B, D (vosk) and C (RealtimeSTT) streamed together in {time.monotonic() - t:.1f}s")
    ran = []
    for call, res in zip((a, b, d), results):
        if isinstance(res, BaseException):
            failures.append(f"{call.name}: {res}")
        else:
            ran.append(call)
    c = results[3]
    if isinstance(c, BaseException):
        failures.append(f"C realtimestt: {c}")
        c = None

    texts = {}
    for call, ref, bound in ((a, " ".join(r for _, _, r in spans_a), MAX_WER_8K),
                             (b, " ".join(r for _, _, r in spans_b), MAX_WER_16K),
                             (d, gf_ref, MAX_WER_SHORT)):
        if call not in ran:
            continue
        try:
            finals = call.check()
        except AssertionError as e:
            failures.append(str(e))
            continue
        hyp = texts[call.name] = call.transcript()
        w = wer_of(ref, hyp)
        h.log(f"  {call.name}: {len(call.sent)} messages, {len(finals)} finals, WER {w:.3f} "
              f"(bound {bound}), close {call.close_code}\n    {hyp!r}")
        if w >= bound:
            failures.append(f"{call.name}: WER {w:.3f} >= {bound}: {hyp!r}")
    if b.name in texts:
        own = wer_of(" ".join(r for _, _, r in spans_b), texts[b.name])
        other = wer_of(" ".join(r for _, _, r in spans_a), texts[b.name])
        if own >= other:
            failures.append(f"{b.name}: its transcript matches A's file order ({other:.2f}) as "
                            f"well as its own ({own:.2f})")
    if c is not None:
        fin = " ".join(c.finals())
        h.log(f"  C realtimestt: {c.summary()[:300]}")
        if c.count("fullSentence") != 1 or c.count("error") or c.anomalies:
            failures.append(f"C realtimestt: expected one fullSentence and no error: "
                            f"{c.summary()[:300]} {c.anomalies[:3]}")
        elif wer_of(cards_ref, fin) >= min(wer_of(gf_ref, fin),
                                           wer_of(" ".join(r for _, _, r in spans_a), fin)):
            failures.append(f"C realtimestt: final {fin!r} is not closest to its own file")
        texts["C realtimestt"] = fin
    # No call's transcript shows up in another's.
    for n1, t1 in texts.items():
        if len(h.normalize(t1).split()) < 2:
            continue
        for n2, t2 in texts.items():
            if n1 != n2 and {n1, n2} != {a.name, b.name} and h.normalize(t1) in h.normalize(t2):
                failures.append(f"leak: {n1}'s transcript {t1!r} appears in {n2}'s {t2!r}")


async def phase_vosk_port(srv, media, failures):
    """--vosk_port: the vosk protocol on every path of its own port."""
    p8, ref8 = media["short8k"]
    gf_pcm, gf_ref = media["goforward"]
    pcm1, spans1 = layout([(p8, ref8)], 8000)
    pcm2, spans2 = layout([(gf_pcm, gf_ref)], 16000)
    base = f"ws://127.0.0.1:{srv.vosk_port}"
    p1 = Call(base + "/", "P1 port / 8k", 8000, pcm1, spans1, config=SAMPLE_CLIENT_CONFIG)
    p2 = Call(base + "/some/where?x=1", "P2 port /some/where 16k alternatives", 16000, pcm2,
              spans2, config=json.dumps({"config": {"sample_rate": 16000, "words": True,
                                                    "max_alternatives": 2}}),
              max_alts=2)
    try:
        await preflight(base + "/any")
    except AssertionError as e:
        failures.append(f"--vosk_port preflight: {e}")
        return
    results = await asyncio.gather(p1.run_lockstep(), p2.run_pipelined(),
                                   return_exceptions=True)
    for call, res in zip((p1, p2), results):
        if isinstance(res, BaseException):
            failures.append(f"{call.name}: {res}")
            continue
        try:
            call.check()
        except AssertionError as e:
            failures.append(str(e))
            continue
        h.log(f"  {call.name}: {len(call.sent)} messages, close {call.close_code}: "
              f"{call.transcript()!r}")
    if not isinstance(results[1], BaseException):
        w = wer_of(gf_ref, p2.transcript())
        if w >= MAX_WER_SHORT:
            failures.append(f"{p2.name}: WER {w:.2f} >= {MAX_WER_SHORT}: {p2.transcript()!r}")
    try:
        await refused(base + "/x", ['{"config": {"sample_rate": "x"}}'], "bad_sample_rate", 1007)
    except AssertionError as e:
        failures.append(f"--vosk_port: {e}")
    await back_to_back_flushes(base + "/", gf_pcm, failures)


async def back_to_back_flushes(url, pcm, failures):
    """reset and eof sent together, while the utterance they end is still being decoded: each
    gets its own reply, in order (the reset the final of the speech so far, the eof an empty
    final: nothing came after), then the close."""
    ws = await connect_vosk(url)
    await ws.send(json.dumps({"config": {"sample_rate": 16000}}))
    step = 3200  # 0.1 s
    n_audio = 0
    for off in range(0, min(len(pcm), 16000 * 2 * 2), step):  # 2 s of speech, lock-step
        await ws.send(pcm[off:off + step])
        Reply(await asyncio.wait_for(ws.recv(), 10), time.monotonic())
        n_audio += 1
    await ws.send('{"reset" : 1}')
    await ws.send('{"eof" : 1}')
    replies = []
    code = None
    try:
        while len(replies) < 3:
            replies.append(Reply(await asyncio.wait_for(ws.recv(), 15), time.monotonic()))
    except ConnectionClosed as e:
        code = close_code(e)
    except asyncio.TimeoutError:
        failures.append(f"reset+eof: timed out after {replies}")
        await ws.close()
        return
    if code is None:
        await ws.wait_closed()
        code = ws.close_code
    if len(replies) != 2 or not all(r.is_final() for r in replies) or not replies[0].text or \
            replies[1].text or code != 1000:
        failures.append(f"reset+eof back to back: expected [final(speech), final('')] then "
                        f"close 1000, got {replies} close {code}")
    else:
        h.log(f"  reset+eof back to back: {replies}, close {code}")


def load_media():
    tmp = h.tmpdir("vosk")
    librivox = []
    for utt, path, ref in h.librivox_set():
        p16, rate = h.read_wav(path)
        assert rate == 16000, f"{path}: {rate} Hz"
        p8, rate8 = h.read_wav(h.convert_wav(path, os.path.join(tmp, utt + "-8k.wav"), 8000))
        assert rate8 == 8000
        librivox.append((utt, p16, p8, ref))
    gf = h.raw16k_to_wav(os.path.join(h.PS_TESTDATA, "goforward.raw"),
                         os.path.join(tmp, "goforward.wav"))
    cards, _ = h.read_wav(os.path.join(h.PS_TESTDATA, "cards", "005.wav"))
    short = [x for x in librivox if x[0].endswith("0880")][0]
    return {"librivox": librivox,
            "goforward": (h.read_wav(gf)[0], "go forward ten meters"),
            "cards": (cards, "eight of spades four of clubs seven of hearts"),
            "short8k": (short[2], short[3])}


def main():
    h.watchdog(170)
    media = load_media()
    failures = []

    h.log("== /vosk on the data port ==")
    with h.Server(*h.NO_LOAD_SHEDDING, name="vosk") as srv:
        h.wait_idle_decoders(srv, 4)
        h.run_async(phase_data_port(srv, media, failures))
        st, health = srv.get_json("/health")
        if st != 200:
            failures.append(f"/health {st} after the vosk calls: {health}")

    h.log("== --vosk_port: the vosk protocol on every path ==")

    def with_vosk_port(s):
        s.vosk_port = h.free_ports(1)[0]
        return s.build_argv() + ["--vosk_port", str(s.vosk_port)]

    srv = h.Server(*h.NO_LOAD_SHEDDING, name="vosk-port")
    try:
        srv.start(argv_fn=with_vosk_port)
    except AssertionError as e:
        failures.append(f"server with --vosk_port did not start: {str(e)[:600]}")
        return h.report(failures)
    try:
        h.run_async(phase_vosk_port(srv, media, failures))
    finally:
        rc = srv.stop()
        if rc != 0:
            failures.append(f"--vosk_port server exit status {rc}")
    if failures:
        h.log(f"--- vosk-port log tail ---\n{srv.log_tail()}")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

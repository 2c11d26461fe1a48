#!/usr/bin/python3
"""The OpenAI-compatible file API (POST /v1/audio/transcriptions, /translations, GET
/v1/models) against the real server with pocketsphinx: every error case of issue 15 answers
with its own status and OpenAI's error JSON {"error": {"message", "type", "param", "code"}},
while a live jambonz call streams real speech beside them at real time and gets its final.

Checked:
  - GET /v1/models lists the loaded model's names; /v1/models/{id} 200 and 404; POST 405;
  - a librivox WAV transcribes in json, text, srt, vtt and verbose_json (words), and as raw
    8 kHz mu-law stereo (encoding, sample_rate, channels; its duration checked), the text
    within a WER bound;
  - missing file; a text file and random bytes ("Invalid file format"); an empty file;
  - Content-Length over --upload_max_bytes: 413 naming the limit, answered before the body;
    audio over --upload_max_duration: 413 naming the limit;
  - truncated multipart: no closing boundary (400 "cut short"); a client that sends less than
    it promised and leaves (nothing answered; counted as disconnected; no temp file left);
  - a client that leaves mid-transcription: stream, spool file and upload slot freed;
  - bad parameters: response_format=xml, temperature=5, timestamp_granularities without
    verbose_json, stream with srt; not multipart; unknown model (names listed); translation
    with an English-only model;
  - --max_uploads: the second upload at once gets 429 with Retry-After;
  - a client that stops sending mid-body: 408 after --idle_timeout;
  - --api_key: 401 in OpenAI's shape without or with a wrong key, 200 with it;
  - stt_uploads_total{result} and stt_upload_audio_seconds_total count all of it; no temp file
    is left open in the server.
"""

import asyncio
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

KEY = "sk-test-files-0123456789"
MAX_BYTES = 400000          # --upload_max_bytes
MAX_DURATION = 12           # --upload_max_duration, seconds
IDLE_TIMEOUT = 4            # --idle_timeout: a stalled upload is answered 408
# pocketsphinx on librivox 0890 ("unless to be rather cold hearted..."): measured 0.429 (30 errors
# of 70 words over the 5 formats, the same text each time) and 0.273 on 0870 (the live call): a
# sanity bound; the accuracy checks are test_sdk_openai_files's, with Whisper.
MAX_WER_PS = 0.6

BOUNDARY = "----sttTestBoundary7MA4YWxkTrZu0gW"


def form(fields, file_bytes=None, filename="audio.wav", ctype="audio/wav", close=True):
    """A multipart/form-data body: fields [(name, value)], then the file part."""
    out = bytearray()
    for name, value in fields:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    if file_bytes is not None:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
        out += file_bytes + b"\r\n"
    if close:
        out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def post(srv, path, body, headers=None, ctype=None, timeout=60):
    """(status, headers dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", srv.data_port, timeout=timeout)
    hd = {"Content-Type": ctype or f"multipart/form-data; boundary={BOUNDARY}"}
    hd.update(headers or {})
    c.request("POST", path, body=body, headers=hd)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def get(srv, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.data_port, timeout=10)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def openai_error(status_body, failures, what, status, in_msg=None, param="?", code="?"):
    """Checks one answer is OpenAI's error JSON with this status; returns the error object."""
    st, hd, body = status_body
    if st != status:
        failures.append(f"{what}: status {st}, expected {status} ({body[:200]!r})")
        return None
    try:
        j = json.loads(body)
        e = j["error"]
        assert set(e) == {"message", "type", "param", "code"}, f"keys {sorted(e)}"
        assert isinstance(e["message"], str) and e["message"], "no message"
        assert isinstance(e["type"], str), "type not a string"
    except Exception as ex:  # noqa: BLE001 - any shape problem is a failure
        failures.append(f"{what}: not OpenAI's error shape ({ex}): {body[:200]!r}")
        return None
    if not hd.get("content-type", "").startswith("application/json"):
        failures.append(f"{what}: Content-Type {hd.get('content-type')}")
    if in_msg and in_msg not in e["message"]:
        failures.append(f"{what}: message {e['message']!r} lacks {in_msg!r}")
    if param != "?" and e["param"] != param:
        failures.append(f"{what}: param {e['param']!r}, expected {param!r}")
    if code != "?" and e["code"] != code:
        failures.append(f"{what}: code {e['code']!r}, expected {code!r}")
    h.log(f"  {what}: {st} {e['message'][:110]}")
    return e


def metric(srv, name):
    """One sample of the Prometheus text (name with its labels), or None."""
    st, _, body = get_monitor(srv, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def get_monitor(srv, path):
    c = http.client.HTTPConnection("127.0.0.1", srv.monitor_port, timeout=10)
    c.request("GET", path, headers={"Accept": h.PROM_ACCEPT_PLAIN})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {}, data


def temp_fds(srv):
    """Descriptors of the server that point at deleted files in its TMPDIR (upload spools)."""
    n = 0
    d = f"/proc/{srv.proc.pid}/fd"
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if t.startswith(srv.tmpdir) and "(deleted)" in t:
            n += 1
    return n


# -- a live call beside the uploads (jambonz protocol, real time) --

def live_call(srv, wav, result):
    async def run():
        pcm, rate = h.read_wav(wav)
        url = f"ws://127.0.0.1:{srv.data_port}/jambonz"
        t0 = time.monotonic()
        ws = await h.ws_connect(url)
        if True:
            await ws.send(json.dumps({"type": "start", "language": "en-US", "format": "raw",
                                      "encoding": "LINEAR16", "sampleRateHz": rate,
                                      "interimResults": False}))
            step = rate // 10
            for i in range(0, len(pcm) // 2, step):
                await ws.send(pcm[2 * i:2 * (i + step)])
                await asyncio.sleep(0.1)
            await ws.send(json.dumps({"type": "stop"}))
            finals = []
            async for msg in ws:  # until the server closes after stop
                m = json.loads(msg)
                if m.get("type") == "transcription" and m.get("is_final"):
                    finals.append(m["alternatives"][0]["transcript"])
        result["text"] = " ".join(finals)
        result["took"] = time.monotonic() - t0
    try:
        asyncio.run(run())
    except Exception as e:  # noqa: BLE001
        result["error"] = repr(e)


def main():
    h.watchdog(170)
    failures = []
    utts = h.librivox_set()
    tmp = h.tmpdir("openai-files")
    spool = os.path.join(tmp, "spool")
    os.makedirs(spool)
    srv = h.Server("--upload_max_bytes", MAX_BYTES, "--upload_max_duration", MAX_DURATION,
                   "--max_uploads", 1, "--idle_timeout", IDLE_TIMEOUT, *h.NO_LOAD_SHEDDING,
                   name="openai-files")
    srv.tmpdir = spool
    env = dict(os.environ, TMPDIR=spool)
    orig_spawn = h.spawn
    h.spawn = lambda argv, log_path, **kw: orig_spawn(argv, log_path, env=env, **kw)
    srv.start()
    h.spawn = orig_spawn
    live = {}
    try:
        # A live call streams at real time through all the uploads below.
        live_thread = threading.Thread(target=live_call, args=(srv, utts[0][1], live))
        live_thread.start()

        wav = open(utts[2][1], "rb").read()  # 5.3 s
        ref = utts[2][2]

        h.log("models:")
        st, hd, body = get(srv, "/v1/models")
        j = json.loads(body) if st == 200 else {}
        ids = [m.get("id") for m in j.get("data", [])]
        if st != 200 or j.get("object") != "list" or "pocketsphinx" not in ids or any(
                m.get("object") != "model" for m in j["data"]):
            failures.append(f"GET /v1/models: {st} {body[:200]!r}")
        h.log(f"  GET /v1/models: {st} {ids}")
        st, _, body = get(srv, "/v1/models/pocketsphinx")
        if st != 200 or json.loads(body).get("id") != "pocketsphinx":
            failures.append(f"GET /v1/models/pocketsphinx: {st} {body[:200]!r}")
        openai_error(get(srv, "/v1/models/gpt-9"), failures, "unknown model id", 404,
                     "'gpt-9' does not exist", code="model_not_found")
        openai_error(post(srv, "/v1/models", b"", ctype="application/json"), failures,
                     "POST /v1/models", 405, "Invalid method")
        openai_error(get(srv, "/v1/audio/transcriptions"), failures, "GET transcriptions", 405,
                     "Invalid method")

        h.log("transcriptions:")
        ok_fields = [("model", "pocketsphinx")]
        hyps = []
        for fmt in ("json", "text", "srt", "vtt", "verbose_json"):
            fields = [("model", "pocketsphinx"), ("response_format", fmt)]
            if fmt == "verbose_json":
                fields += [("timestamp_granularities[]", "word"),
                           ("timestamp_granularities[]", "segment")]
            st, hd, body = post(srv, "/v1/audio/transcriptions", form(fields, wav))
            if st != 200:
                failures.append(f"{fmt}: status {st} {body[:200]!r}")
                continue
            text = body.decode()
            ct = hd.get("content-type", "")
            if fmt == "json":
                hyp = json.loads(text)["text"]
                ok = ct.startswith("application/json")
            elif fmt == "text":
                hyp = text.strip()
                ok = ct.startswith("text/plain") and text.endswith("\n")
            elif fmt in ("srt", "vtt"):
                lines = [ln for ln in text.split("\n")]
                ok = (text.startswith("WEBVTT\n\n") if fmt == "vtt" else text.startswith("1\n"))
                hyp = " ".join(ln for ln in lines if ln and "-->" not in ln
                               and not ln.isdigit() and ln != "WEBVTT")
            else:
                v = json.loads(text)
                hyp = v["text"]
                ok = (v["task"] == "transcribe" and abs(v["duration"] - 5.3) < 0.05
                      and len(v["segments"]) >= 1 and len(v["words"]) >= 3
                      and all(w["start"] <= w["end"] <= v["duration"] + 0.01
                              for w in v["words"]))
            if not ok:
                failures.append(f"{fmt}: unexpected shape ({ct}): {text[:300]!r}")
            hyps.append((ref, hyp))
            h.log(f"  {fmt}: {hyp!r}")
        # Headerless audio with our own fields: 8 kHz mu-law, stereo (the same channel twice).
        raw = os.path.join(tmp, "speech.ul")
        h.sox(utts[2][1], "-r", 8000, "-c", 2, "-t", "ul", raw)
        st, hd, body = post(srv, "/v1/audio/transcriptions",
                            form(ok_fields + [("encoding", "mulaw"), ("sample_rate", "8000"),
                                              ("channels", "2"), ("language", "en"),
                                              ("response_format", "verbose_json")],
                                 open(raw, "rb").read(), "speech.ul", "application/octet-stream"))
        v = json.loads(body) if st == 200 else {}
        h.log(f"  raw mu-law 8 kHz stereo: {st} {v.get('text')!r}, {v.get('duration')} s")
        if st != 200 or abs(v.get("duration", 0) - 5.3) > 0.05 or v.get("language") != "english":
            failures.append(f"raw mu-law: {st} {body[:200]!r}")
        # (Its text is not scored here: pocketsphinx's 16 kHz model does badly on 8 kHz audio;
        # test_sdk_openai_files scores raw mu-law with Whisper.)
        rate, n_ref, n_err = h.wer(hyps)
        h.log(f"  pocketsphinx WER over the 5 formats: {rate:.3f} ({n_err}/{n_ref})")
        if rate > MAX_WER_PS:
            failures.append(f"WER {rate:.3f} above {MAX_WER_PS}")

        h.log("errors:")
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields)), failures,
                     "missing file", 400, "'file'", param="file")
        openai_error(post(srv, "/v1/audio/transcriptions",
                          form(ok_fields, b"hello, this is not audio\n" * 40, "notes.txt",
                               "text/plain")),
                     failures, "text file", 400, "Invalid file format", param="file")
        rnd = random.Random(15).randbytes(50000)
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields, rnd, "x.mp3",
                                                                "audio/mpeg")),
                     failures, "random bytes", 400, "Invalid file format", param="file")
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields, b"")), failures,
                     "empty file", 400, "empty", param="file")
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields, wav, close=False)),
                     failures, "no closing boundary", 400, "cut short")
        for name, value, param, msg in (
                ("response_format", "xml", "response_format",
                 "'xml' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt']"),
                ("temperature", "5", "temperature", "between 0 and 1"),
                ("timestamp_granularities[]", "word", "timestamp_granularities",
                 "verbose_json"),
                ("language", "klingon", "language", "ISO-639-1")):
            openai_error(post(srv, "/v1/audio/transcriptions",
                              form(ok_fields + [(name, value)], wav)),
                         failures, f"{name}={value}", 400, msg, param=param)
        openai_error(post(srv, "/v1/audio/transcriptions",
                          form(ok_fields + [("stream", "true"), ("response_format", "srt")],
                               wav)),
                     failures, "stream with srt", 400, "'srt'", param="stream")
        e = openai_error(post(srv, "/v1/audio/transcriptions",
                              form([("model", "gpt-4o-transcribe")], wav)),
                         failures, "unknown model", 400, "'gpt-4o-transcribe' does not exist",
                         param="model", code="model_not_found")
        if e and "pocketsphinx" not in e["message"]:
            failures.append("unknown model: the accepted names are not listed")
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields, wav, close=True),
                          ctype="application/json"),
                     failures, "not multipart", 400, "multipart/form-data")
        openai_error(post(srv, "/v1/audio/transcriptions", form([("file", "x")])), failures,
                     "file as a text field, no model", 400)
        openai_error(post(srv, "/v1/audio/translations", form(ok_fields, wav)), failures,
                     "translation, English-only model", 400, "cannot translate",
                     param="model")
        openai_error(post(srv, "/v1/audio/transcriptions", form([("response_format", "json")],
                                                                wav)),
                     failures, "no model", 400, "you must provide a model parameter",
                     param="model")

        h.log("limits:")
        big = os.urandom(MAX_BYTES + 1000)
        t0 = time.monotonic()
        openai_error(post(srv, "/v1/audio/transcriptions", form(ok_fields, big)), failures,
                     "Content-Length over the limit", 413, str(MAX_BYTES))
        h.log(f"  413 answered in {time.monotonic() - t0:.2f} s")
        long_wav = os.path.join(tmp, "long.wav")
        # 15.4 s > 12 s, at 8 kHz so that the body stays under --upload_max_bytes
        h.sox(utts[0][1], utts[1][1], utts[2][1], "-r", 8000, long_wav)
        openai_error(post(srv, "/v1/audio/transcriptions",
                          form(ok_fields, open(long_wav, "rb").read())),
                     failures, "duration over the limit", 413,
                     f"the maximum is {MAX_DURATION} seconds", param="file")

        # The one upload slot held by a client mid-body: a second upload gets 429.
        body = form(ok_fields, wav)
        s = socket.create_connection(("127.0.0.1", srv.data_port))
        s.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:len(body) // 2])
        time.sleep(0.3)
        st_hd_body = post(srv, "/v1/audio/transcriptions", body)
        openai_error(st_hd_body, failures, "second upload at once", 429, "--max_uploads",
                     code="rate_limit_exceeded")
        if "retry-after" not in st_hd_body[1]:
            failures.append("429 without Retry-After")
        if temp_fds(srv) != 1:
            failures.append(f"mid-upload: {temp_fds(srv)} spool file(s) open, expected 1")
        # ... which then leaves with half its body sent: everything freed.
        s.close()
        time.sleep(0.5)
        if temp_fds(srv) != 0:
            failures.append(f"after the client left: {temp_fds(srv)} spool file(s) still open")
        st, _, body2 = post(srv, "/v1/audio/transcriptions", form(ok_fields, wav))
        if st != 200:
            failures.append(f"upload after a client left mid-body: {st} {body2[:200]!r}")
        # A client that stops sending mid-body and stays: 408 after --idle_timeout.
        body = form(ok_fields, wav)
        s = socket.create_connection(("127.0.0.1", srv.data_port))
        s.settimeout(IDLE_TIMEOUT + 5)
        t0 = time.monotonic()
        s.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:1000])
        answer = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        s.close()
        took = time.monotonic() - t0
        h.log(f"  stalled upload: {answer[:12]!r} after {took:.1f} s")
        if not answer.startswith(b"HTTP/1.1 408") or b"stalled" not in answer \
                or not IDLE_TIMEOUT <= took <= IDLE_TIMEOUT + 2.5:
            failures.append(f"stalled upload: {answer[:300]!r} after {took:.1f} s")
        # A client that leaves mid-transcription: the whole body sent (11.4 s of audio), gone
        # 0.5 s later. The stream is closed, the spool file too, the slot given back.
        mid_wav = os.path.join(tmp, "mid.wav")
        h.sox(utts[2][1], utts[3][1], "-r", 8000, mid_wav)
        body = form(ok_fields, open(mid_wav, "rb").read())
        s = socket.create_connection(("127.0.0.1", srv.data_port))
        s.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        time.sleep(0.5)
        s.close()
        deadline = time.monotonic() + 5
        while metric(srv, "stt_uploads_active") != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        gone_log = [ln for ln in srv.log_text().splitlines() if "openai_files_gone" in ln]
        h.log(f"  left mid-transcription: {gone_log[-1][-90:] if gone_log else None}")
        if len(gone_log) != 2 or "0.0 s decoded" in gone_log[-1]:
            failures.append(f"mid-transcription leave not seen as such: {gone_log}")
        if temp_fds(srv) != 0 or metric(srv, "stt_uploads_active") != 0:
            failures.append("after a client left mid-transcription: spool or slot still held")
        if os.listdir(spool):
            failures.append(f"files left in TMPDIR: {os.listdir(spool)}")

        live_thread.join(timeout=60)
        if "error" in live or "text" not in live:
            failures.append(f"live call: {live}")
        else:
            r, n, e = h.wer([(utts[0][2], live["text"])])
            h.log(f"live call beside the uploads: {live['text']!r}, WER {r:.3f}, "
                  f"{live['took']:.1f} s for 7.1 s of audio")
            # Measured: 7.4-8.4 s beside the uploads, 7.5-7.6 s alone (7.1 s of audio at real
            # time, then the final), and the same text either way.
            if r > MAX_WER_PS or live["took"] > 7.1 + 3.5:
                failures.append(f"live call hurt: WER {r:.3f}, {live['took']:.1f} s")

        ok = metric(srv, 'stt_uploads_total{result="ok"}')
        bad = metric(srv, 'stt_uploads_total{result="bad_request"}')
        uns = metric(srv, 'stt_uploads_total{result="unsupported"}')
        big_n = metric(srv, 'stt_uploads_total{result="too_large"}')
        busy = metric(srv, 'stt_uploads_total{result="busy"}')
        gone = metric(srv, 'stt_uploads_total{result="disconnected"}')
        secs = metric(srv, "stt_upload_audio_seconds_total")
        active = metric(srv, "stt_uploads_active")
        h.log(f"metrics: ok {ok} bad {bad} unsupported {uns} too_large {big_n} busy {busy} "
              f"disconnected {gone} audio {secs} s active {active}")
        if (ok, uns, big_n, busy, gone, active) != (7, 3, 2, 1, 2, 0) or bad is None or bad < 13:
            failures.append("upload counters do not add up")
        # 7 files of 5.3 s and part of the 11.4 s one (the long file is refused by its header)
        if secs is None or not 7 * 5.3 < secs < 7 * 5.3 + 11.4:
            failures.append(f"stt_upload_audio_seconds_total {secs}")
    except AssertionError as e:
        failures.append(str(e))
    finally:
        if srv.stop() != 0:
            failures.append("server exit status not 0")

    # --api_key: OpenAI's 401 shape.
    srv = h.Server("--api_key", KEY, name="openai-files-auth")
    srv.start()
    try:
        h.log("auth:")
        wav = open(utts[1][1], "rb").read()
        f = form([("model", "pocketsphinx")], wav)
        openai_error(post(srv, "/v1/audio/transcriptions", f), failures, "no key", 401,
                     code="invalid_api_key")
        openai_error(post(srv, "/v1/audio/transcriptions", f,
                          {"Authorization": "Bearer sk-wrong"}),
                     failures, "wrong key", 401, code="invalid_api_key")
        openai_error(get(srv, "/v1/models"), failures, "models without key", 401)
        st, _, body = post(srv, "/v1/audio/transcriptions", f, {"Authorization": f"Bearer {KEY}"})
        if st != 200 or "not an ill" not in json.loads(body).get("text", "").lower():
            failures.append(f"with the key: {st} {body[:200]!r}")
        h.log(f"  with the key: {st} {body[:120]!r}")
    finally:
        if srv.stop() != 0:
            failures.append("auth server exit status not 0")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

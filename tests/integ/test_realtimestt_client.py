#!/usr/bin/python3
"""The unmodified RealtimeSTT Python client (realtimestt 1.1.2, AudioToTextRecorderClient) gets
the same transcripts from stt-server as our own stt-client.

The five librivox utterances, joined with 1.5 s of silence (30.7 s at 16 kHz), are streamed to
one server twice at the same time, both in real time in 1024-frame messages followed by 1.5 s of
silence:
  - by the RealtimeSTT client, through its own feed_audio() (use_microphone=False,
    autostart_server=False), run by tests/compat/realtimestt/drive_client.py in its own process
    (that file says how the client is loaded and why one import stub cannot matter);
  - by `stt-client --json --session ref` (named, so it cannot pair with the client's control
    socket).

Asserts: both get non-empty finals and the WER between the two sets of finals is <= 0.1; each
set's WER against the librivox reference <= 0.40 (as test_librivox_wer); the client's realtime
callback fired; per utterance recording_start, recording_stop, transcription_start and the final
arrive in that order and as often; the client's control socket paired with its own data session
(get_parameter is_recording True while it speaks, last_transcription_bytes_b64 of the size of the
last transcription_start audio) and its own set_parameter/get_parameter round trip; the client
printed no server error, unknown message, timeout or exception; its server_sent_to_stt stamps
reached the ingest-latency metric; the server exits 0.

Needs tests/compat/realtimestt/setup.sh to have run (scripts/setup.sh runs it)."""

import json
import os
import re
import subprocess
import sys
import time

import harness as h

RTSTT_VERSION = "1.1.2"
SITE = os.environ.get("STT_RTSTT_SITE") or os.path.join(
    h.SOURCE_DIR, ".deps", f"realtimestt-client-{RTSTT_VERSION}", "site")
DRIVER = os.path.join(h.SOURCE_DIR, "tests", "compat", "realtimestt", "drive_client.py")
MAX_WER_VS_STT_CLIENT = 0.10
MAX_WER_VS_REF = 0.40
GAP_S = 1.5
TAIL_S = 1.5
CHUNK = 1024
# What the client itself prints on the happy path; anything that matches BAD is a failure.
BAD = re.compile(r"(?i)error|unknown|timeout|non-json|failed|exception|traceback|"
                 r"not established|cannot")


def build_input(tmp):
    items = h.librivox_set()
    pcm, refs = b"", []
    for i, (_, path, ref) in enumerate(items):
        p, rate = h.read_wav(path)
        assert rate == 16000, f"{path}: expected 16 kHz"
        pcm += (h.silence(GAP_S, rate) if i else b"") + p
        refs.append(ref)
    return h.write_wav(os.path.join(tmp, "librivox-all.wav"), pcm, 16000), " ".join(refs), \
        h.duration(pcm, 16000), len(pcm) // 2


def expected_sequence(n):
    return ["recording_start", "recording_stop", "transcription_start", "fullSentence"] * n


def check_client(r, out_lines, n_frames, failures):
    """Everything about the RealtimeSTT client's run except the WERs."""
    def fail(msg):
        failures.append(f"RealtimeSTT client: {msg}")

    bad = [ln for ln in out_lines if BAD.search(ln)]
    if bad:
        fail(f"printed {len(bad)} complaint(s): {bad[:5]}")
    if r["errors"]:
        fail(f"raised: {r['errors']}")
    if not r["connected"] or not r["server_already_running"]:
        fail(f"not connected (connected={r['connected']}, "
             f"server_already_running={r['server_already_running']})")
    # The client's probe (open + close of a control socket) and the two opens: a server that is
    # slow to answer a close frame costs the client its 3 s probe timeout here.
    if r["connect_s"] > 2.5:
        fail(f"constructor took {r['connect_s']} s (probe or handshakes slow)")
    # shutdown() is not timed: websocket-client 1.9.0's WebSocketApp.close() races its own
    # reader thread, which then often sleeps out its 10 s select() (seen with a Python
    # websockets server too); the driver's process budget bounds it.

    c = r["control"]
    want = {"language": "", "wake_word_activation_delay": 0.0, "beam_size_set": 4,
            "is_recording_idle": False, "last_b64_before": None}
    for k, v in want.items():
        if c.get(k) != v or type(c.get(k)) is not type(v):
            fail(f"get_parameter {k}: {c.get(k)!r}, expected {v!r}")
    if c.get("beam_size_after") != c.get("beam_size_before") or c.get("beam_size_before") is None:
        fail(f"beam_size not restored: {c.get('beam_size_before')!r} -> "
             f"{c.get('beam_size_after')!r}")
    if c.get("is_recording_true_polls", 0) < 1:
        fail(f"get_parameter is_recording never True in {c.get('is_recording_polls')} polls "
             "while speaking: the control socket is not paired with the client's data session")
    if c.get("is_recording_bad_values"):
        fail(f"get_parameter is_recording answered {c['is_recording_bad_values']}")

    feed = r.get("feed", {})
    want_chunks = -(-n_frames // CHUNK)
    if feed.get("exception") or not feed.get("still_running") or \
            feed.get("chunks") != want_chunks:
        fail(f"feed_audio: {feed} (expected {want_chunks} chunks, client still running)")

    counts = r["counts"]
    n = len(r["finals"])
    if counts.get("realtime", 0) < 1:
        fail("on_realtime_transcription_update never fired")
    for ev in ("recording_start", "recording_stop", "transcription_start"):
        if counts.get(ev, 0) != n:
            fail(f"{counts.get(ev, 0)} {ev} callbacks for {n} finals: {counts}")
    seq = [e for e in r["sequence"] if e in ("recording_start", "recording_stop",
                                             "transcription_start", "fullSentence")]
    if seq != expected_sequence(n):
        fail(f"callback order {seq}")
    # transcription_start: the client reads the float32 payload as int16 (its long-standing
    # quirk), so its array has 2 entries per sample, i.e. 2 bytes per entry of our payload.
    ts = r["ts_samples"]
    if ts and c.get("last_b64_bytes") != 2 * ts[-1]:
        fail(f"last_transcription_bytes_b64 is {c.get('last_b64_bytes')} bytes, the last "
             f"transcription_start {2 * ts[-1]} bytes: control not paired with this session?")
    if any(x <= 0 or x % 2 for x in ts):
        fail(f"transcription_start arrays of odd or zero length: {ts}")


def main():
    h.watchdog(170)
    failures = []
    if not os.path.isfile(os.path.join(SITE, ".pin")):
        h.log(f"FAILED: the RealtimeSTT client is not installed in {SITE}; run "
              "tests/compat/realtimestt/setup.sh (scripts/setup.sh does)")
        return 1
    if not os.access(h.CLIENT_BIN, os.X_OK):
        h.log(f"FAILED: stt-client binary not found: {h.CLIENT_BIN}")
        return 1
    tmp = h.tmpdir("rtstt")
    wav, ref, dur, n_samples = build_input(tmp)
    n_frames = n_samples + int(round(TAIL_S * 16000))
    h.log(f"input: 5 librivox utterances, {dur:.1f} s at 16 kHz")

    with h.Server(*h.NO_LOAD_SHEDDING, name="rtstt") as srv:
        h.wait_idle_decoders(srv, 2)
        drv_out = os.path.join(tmp, "driver.out")
        cli_out = os.path.join(tmp, "stt-client.out")
        t0 = time.monotonic()
        with open(drv_out, "wb") as fd, open(cli_out, "wb") as fc:
            drv = subprocess.Popen(
                ["/usr/bin/python3", DRIVER, "--site", SITE, "--control", srv.control_url(),
                 "--data", srv.data_url(), "--wav", wav, "--tail", str(TAIL_S)],
                stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                preexec_fn=h._die_with_parent)
            cli = subprocess.Popen(
                [h.CLIENT_BIN, "--json", "--session", "ref", "--chunk", str(CHUNK),
                 "--tail-silence", str(TAIL_S), "--url", srv.data_url(), wav],
                stdin=subprocess.DEVNULL, stdout=fc, stderr=subprocess.PIPE,
                preexec_fn=h._die_with_parent)
            budget = dur + TAIL_S + 60
            try:
                _, cli_err = cli.communicate(timeout=budget)
                drv.wait(timeout=max(1.0, budget - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                for p in (drv, cli):
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                failures.append(f"a client did not finish within {budget:.0f} s")
                cli_err = b""
        h.log(f"both clients done after {time.monotonic() - t0:.1f} s")
        status, metrics = srv.get_json("/metrics")
        ingest = metrics.get("transcription", {}).get("ingest_latency", {}).get("count", 0)
        st, health = srv.get_json("/health")
        if st != 200:
            failures.append(f"/health {st} after the run: {health}")

    # -- stt-client --
    with open(cli_out, encoding="utf-8", errors="replace") as f:
        cli_events = [json.loads(ln) for ln in f if ln.startswith("{")]
    ref_finals = [e.get("text", "") for e in cli_events if e.get("type") == "fullSentence"]
    ref_rt = sum(1 for e in cli_events if e.get("type") == "realtime")
    h.log(f"stt-client: exit {cli.returncode}, {ref_rt} realtime, {len(ref_finals)} finals")
    if cli.returncode != 0:
        failures.append(f"stt-client exit {cli.returncode}: "
                        f"{cli_err.decode(errors='replace')[-500:]}")

    # -- RealtimeSTT client --
    with open(drv_out, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    res = [ln for ln in lines if ln.startswith("RTSTT-RESULT ")]
    printed = [ln for ln in lines if not ln.startswith("RTSTT-RESULT ")]
    h.log("RealtimeSTT client printed:\n    " + "\n    ".join(printed[-30:] or ["(nothing)"]))
    if drv.returncode != 0 or not res:
        failures.append(f"drive_client.py exit {drv.returncode}, no result line")
        return h.report(failures)
    r = json.loads(res[-1][len("RTSTT-RESULT "):])
    py_finals = r["finals"]
    h.log(f"RealtimeSTT client: loaded {r['loaded']}")
    h.log(f"RealtimeSTT client: connect {r['connect_s']} s, callbacks {r['counts']}, "
          f"{len(py_finals)} finals, control {r['control']}")
    h.log(f"RealtimeSTT client: shutdown() took {r['shutdown_s']} s")
    h.log(f"RealtimeSTT client: text() returned {r.get('text_returns')!r} after "
          f"{r.get('text_returns_after_s')} s (1.1.2: always '' with use_microphone=False)")
    check_client(r, printed, n_frames, failures)
    if ingest < r.get("feed", {}).get("chunks", 1):
        failures.append(f"ingest_latency count {ingest} < frames sent by the client: its "
                        "server_sent_to_stt stamps were not taken")

    # -- transcripts --
    h.log("")
    for label, finals in (("stt-client ", ref_finals), ("RealtimeSTT", py_finals)):
        for i, t in enumerate(finals):
            h.log(f"  {label} final {i}: {t}")
    py_text, ref_text = " ".join(py_finals), " ".join(ref_finals)
    if not h.normalize(py_text):
        failures.append("RealtimeSTT client: no final transcript")
    if not h.normalize(ref_text):
        failures.append("stt-client: no final transcript")
    if h.normalize(py_text) and h.normalize(ref_text):
        w_pair, n_pair, e_pair = h.wer([(ref_text, py_text)])
        w_py, n_ref, e_py = h.wer([(ref, py_text)])
        w_cli, _, e_cli = h.wer([(ref, ref_text)])
        h.log("")
        h.log(f"{'comparison':44} {'WER':>6} {'words':>6} {'errors':>6}")
        h.log(f"{'RealtimeSTT client vs stt-client finals':44} {w_pair:6.3f} {n_pair:6d} "
              f"{e_pair:6d}")
        h.log(f"{'RealtimeSTT client vs librivox reference':44} {w_py:6.3f} {n_ref:6d} {e_py:6d}")
        h.log(f"{'stt-client vs librivox reference':44} {w_cli:6.3f} {n_ref:6d} {e_cli:6d}")
        if w_pair > MAX_WER_VS_STT_CLIENT:
            failures.append(f"WER between the two clients' finals {w_pair:.3f} > "
                            f"{MAX_WER_VS_STT_CLIENT}")
        for label, w in (("RealtimeSTT client", w_py), ("stt-client", w_cli)):
            if w > MAX_WER_VS_REF:
                failures.append(f"{label}: WER vs reference {w:.3f} > {MAX_WER_VS_REF}")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

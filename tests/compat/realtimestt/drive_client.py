#!/usr/bin/python3
"""Drives the unmodified RealtimeSTT Python client (realtimestt 1.1.2,
RealtimeSTT/audio_recorder_client.py) against a running stt-server and prints what it got.

Run by tests/integ/test_realtimestt_client.py in its own process (so the client's prints, its
non-daemon threads and its sockets are all its own):

    drive_client.py --site DIR --control ws://127.0.0.1:C/ --data ws://127.0.0.1:D/ --wav FILE

DIR is what tests/compat/realtimestt/setup.sh installed. The last line of stdout is
`RTSTT-RESULT {json}`; everything the client printed comes before it.

How the client is loaded
------------------------
RealtimeSTT/__init__.py imports nothing (its exports are lazy), so `import
RealtimeSTT.audio_recorder_client` loads just the client module and what it imports:
websocket-client, numpy and the standard library, all real, plus the package's sibling module
`RealtimeSTT.audio_input` (`from .audio_input import AudioInput`). That sibling imports PyAudio,
scipy.signal and colorama at module level; they are not installed (PyAudio needs PortAudio and
a sound device, scipy is large, and none of them takes part in the protocol). So exactly one
module is stubbed: `RealtimeSTT.audio_input`, with an AudioInput class whose constructor raises.

Why the stub cannot affect the protocol: the client uses AudioInput only in
  - setup_audio(), called only from record_and_send_audio(), the microphone thread, which
    __init__ starts only when use_microphone=True (we pass False);
  - list_devices(), which we never call;
and cleanup_audio() touches self.audio_input only if that attribute exists, which only
setup_audio() creates. Every frame we send goes through the client's feed_audio(), every
message we receive through its on_data_message()/on_control_message(). Had any path reached
AudioInput, the stub's constructor would raise and the run would fail loudly. Before running,
the client module's bytes are checked against the sha256 that the wheel's RECORD lists for it,
so the code under test is the file the pinned wheel shipped.

What is observed, and how
-------------------------
All through the client's public constructor callbacks (on_realtime_transcription_update,
on_recording_start/stop, on_transcription_start, on_vad_detect_start/stop,
on_turn_detection_start/stop) and its own methods (feed_audio, set_parameter, get_parameter,
shutdown), except the finals:

realtimestt 1.1.2's text() cannot deliver a final with use_microphone=False. It loops only
`while ... self.is_running and self._recording`, and returns "" when `not self._recording`;
`_recording` is set True only by record_and_send_audio(), the microphone thread. So with
feed_audio() text() returns "" at once, whatever the server sends. The finals are therefore read
where text() itself reads them: the client's on_data_message() does
`self.final_text = data['text']; self.final_text_ready.set()` for every fullSentence, so the
instance's final_text_ready Event is replaced (after construction, before any audio) by an Event
whose set() also records final_text. That is the value text() would have returned; no client
code is replaced. text() is still called once and its (documented) "" reported.
"""

import argparse
import base64
import hashlib
import importlib
import importlib.metadata
import json
import os
import sys
import threading
import time
import types
import wave

EXPECTED = {"realtimestt": "1.1.2", "websocket-client": "1.9.0"}
CLIENT_FILE = "RealtimeSTT/audio_recorder_client.py"
CHUNK = 1024          # frames per feed_audio() call, as stt-client's default --chunk
T0 = time.monotonic()


def now():
    return round(time.monotonic() - T0, 3)


class StubAudioInput:
    """Stands in for RealtimeSTT.audio_input.AudioInput (PyAudio microphone capture)."""

    def __init__(self, *a, **kw):
        raise RuntimeError("drive_client: the client reached AudioInput (microphone path); "
                           "this test only uses feed_audio()")


def load_client(site):
    sys.path.insert(0, site)
    for dist, want in EXPECTED.items():
        got = importlib.metadata.version(dist)
        if got != want:
            raise SystemExit(f"drive_client: {dist} {got} found, {want} expected (run "
                             "tests/compat/realtimestt/setup.sh)")
    # The client module must be byte for byte what the wheel's RECORD says.
    record = importlib.metadata.distribution("realtimestt").read_text("RECORD") or ""
    want_hash = None
    for line in record.splitlines():
        path, _, rest = line.partition(",")
        if path == CLIENT_FILE:
            want_hash = rest.split(",")[0]
    path = os.path.join(site, CLIENT_FILE)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).digest()
    got_hash = "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if want_hash != got_hash:
        raise SystemExit(f"drive_client: {path} is not the file the wheel shipped "
                         f"(RECORD {want_hash}, file {got_hash})")

    pkg = importlib.import_module("RealtimeSTT")
    if os.path.dirname(os.path.abspath(pkg.__file__)) != os.path.join(os.path.abspath(site),
                                                                      "RealtimeSTT"):
        raise SystemExit(f"drive_client: RealtimeSTT imported from {pkg.__file__}, not {site}")
    stub = types.ModuleType("RealtimeSTT.audio_input")
    stub.AudioInput = StubAudioInput
    stub.__file__ = "<stub: RealtimeSTT.audio_input, see drive_client.py>"
    sys.modules["RealtimeSTT.audio_input"] = stub
    mod = importlib.import_module("RealtimeSTT.audio_recorder_client")
    if os.path.abspath(mod.__file__) != os.path.abspath(path):
        raise SystemExit(f"drive_client: client loaded from {mod.__file__}, not {path}")
    import websocket
    import numpy
    loaded = {"client_file": mod.__file__, "websocket_client": websocket.__version__,
              "numpy": numpy.__version__, "client_sha256": got_hash}
    # Heavy modules the client must not have pulled in.
    for heavy in ("torch", "pyaudio", "scipy", "faster_whisper", "RealtimeSTT.audio_recorder"):
        if heavy in sys.modules:
            raise SystemExit(f"drive_client: {heavy} was imported")
    return mod.AudioToTextRecorderClient, loaded


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.events = []        # [(t, name, detail)]
        self.finals = []        # [(t, text)]
        self.realtime = []      # [(t, text)]
        self.ts_samples = []    # len() of each on_transcription_start array (client's int16 view)

    def add(self, name, detail=None):
        with self.lock:
            self.events.append((now(), name, detail))

    def cb(self, name):
        return lambda *a: self.add(name)

    def on_realtime(self, text):
        with self.lock:
            self.realtime.append((now(), text))
        self.add("realtime", text)

    def on_transcription_start(self, audio):
        with self.lock:
            self.ts_samples.append(int(len(audio)))
        self.add("transcription_start", int(len(audio)))

    def count(self, name):
        with self.lock:
            return sum(1 for _, n, _ in self.events if n == name)


class FinalEvent(threading.Event):
    """client.final_text_ready: also records client.final_text at each set() (see the top)."""

    def __init__(self, client, rec):
        super().__init__()
        self.client, self.rec = client, rec

    def set(self):
        text = self.client.final_text
        with self.rec.lock:
            self.rec.finals.append((now(), text))
        self.rec.add("fullSentence", text)
        super().set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--wav", required=True)
    ap.add_argument("--tail", type=float, default=1.5)
    ap.add_argument("--final-timeout", type=float, default=30.0)
    args = ap.parse_args()

    Client, loaded = load_client(args.site)
    rec = Recorder()
    result = {"loaded": loaded, "errors": []}

    with wave.open(args.wav, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "mono 16-bit WAV expected"
        rate = w.getframerate()
        pcm = w.readframes(w.getnframes())
    pcm += b"\x00\x00" * int(round(args.tail * rate))

    t = time.monotonic()
    client = Client(control_url=args.control, data_url=args.data, autostart_server=False,
                    use_microphone=False, spinner=False,
                    on_realtime_transcription_update=rec.on_realtime,
                    on_recording_start=rec.cb("recording_start"),
                    on_recording_stop=rec.cb("recording_stop"),
                    on_transcription_start=rec.on_transcription_start,
                    on_vad_detect_start=rec.cb("vad_detect_start"),
                    on_vad_detect_stop=rec.cb("vad_detect_stop"),
                    on_turn_detection_start=rec.cb("start_turn_detection"),
                    on_turn_detection_stop=rec.cb("stop_turn_detection"))
    result["connect_s"] = round(time.monotonic() - t, 3)
    result["server_already_running"] = client.server_already_running
    result["connected"] = client.connection_established.is_set() and client.is_running
    client.final_text_ready = FinalEvent(client, rec)

    ctl = result["control"] = {}
    try:
        # Round trips through the client's own methods. The client itself already sent
        # set_parameter language "" and wake_word_activation_delay 0.0 in its constructor.
        ctl["language"] = client.get_parameter("language")
        ctl["wake_word_activation_delay"] = client.get_parameter("wake_word_activation_delay")
        ctl["beam_size_before"] = client.get_parameter("beam_size")
        client.set_parameter("beam_size", 4)
        ctl["beam_size_set"] = client.get_parameter("beam_size")
        client.set_parameter("beam_size", ctl["beam_size_before"])
        ctl["beam_size_after"] = client.get_parameter("beam_size")
        ctl["is_recording_idle"] = client.get_parameter("is_recording")
        ctl["last_b64_before"] = client.get_parameter("last_transcription_bytes_b64")

        # Feed the file in real time, 1024 frames a call, from one thread; poll is_recording
        # from this one meanwhile (a control socket paired with another session, or none,
        # would never see True).
        feed_done = threading.Event()
        feed_info = {}

        def feed():
            try:
                step = CHUNK * 2
                t0 = time.monotonic()
                n = 0
                for off in range(0, len(pcm), step):
                    due = t0 + n * CHUNK / rate
                    d = due - time.monotonic()
                    if d > 0:
                        time.sleep(d)
                    # audio_meta_data non-empty: the client adds its server_sent_to_stt stamp.
                    client.feed_audio(pcm[off:off + step], {"chunk": n}, original_sample_rate=rate)
                    n += 1
                feed_info.update(chunks=n, seconds=round(time.monotonic() - t0, 3),
                                 still_running=client.is_running)
            except Exception as e:  # reported, and the test fails on it
                feed_info["exception"] = repr(e)
            finally:
                feed_done.set()

        feeder = threading.Thread(target=feed, name="feed")
        feeder.start()
        rec_seen = []
        while not feed_done.wait(0.25):
            v = client.get_parameter("is_recording")
            rec_seen.append(v)
        feeder.join()
        result["feed"] = feed_info
        ctl["is_recording_true_polls"] = sum(1 for v in rec_seen if v is True)
        ctl["is_recording_polls"] = len(rec_seen)
        ctl["is_recording_bad_values"] = [v for v in rec_seen if not isinstance(v, bool)][:5]

        # Wait for every recording to get its final, then 2 s of quiet (as stt-client does).
        t_end = time.monotonic() + args.final_timeout
        quiet_since = time.monotonic()
        last_n = -1
        while time.monotonic() < t_end:
            with rec.lock:
                n = len(rec.events)
            if n != last_n:
                last_n, quiet_since = n, time.monotonic()
            stops = rec.count("recording_stop")
            if stops and len(rec.finals) >= stops and time.monotonic() - quiet_since >= 2.0:
                break
            time.sleep(0.05)

        b64 = client.get_parameter("last_transcription_bytes_b64")
        ctl["last_b64_bytes"] = len(base64.b64decode(b64)) if isinstance(b64, str) else b64
        # text(): what realtimestt 1.1.2 returns in feed_audio mode (see the top).
        t = time.monotonic()
        result["text_returns"] = client.text()
        result["text_returns_after_s"] = round(time.monotonic() - t, 3)
        result["is_running_before_shutdown"] = client.is_running
    except Exception as e:
        result["errors"].append(repr(e))
    finally:
        t = time.monotonic()
        client.shutdown()
        result["shutdown_s"] = round(time.monotonic() - t, 3)

    with rec.lock:
        result["finals"] = [x for _, x in rec.finals]
        result["final_times"] = [t for t, _ in rec.finals]
        result["realtime"] = [x for _, x in rec.realtime]
        result["ts_samples"] = rec.ts_samples
        counts = {}
        for _, name, _ in rec.events:
            counts[name] = counts.get(name, 0) + 1
        result["counts"] = counts
        result["sequence"] = [name for _, name, _ in rec.events if name != "realtime"]
    print("RTSTT-RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

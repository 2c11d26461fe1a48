#!/usr/bin/python3
"""Command line: unknown flag and bad values exit 2 naming the flag, --help exits 0 and lists
--model and --monitor_port, and the RealtimeSTT client's autostart argv (spec 4.2, verbatim,
with ports substituted and --host/--monitor_port added) starts a server that becomes ready and
answers on the control socket."""

import os
import subprocess
import sys
import unittest

import harness as h


def run_cli(*args, timeout=20):
    r = subprocess.run([h.SERVER_BIN, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def autostart_argv(srv, language=None, debug=False):
    """Spec 4.2 with the client defaults, in the client's order."""
    argv = [srv.binary, "--model", "tiny", "--realtime_model_type", "tiny", "--batch", "16",
            "--realtime_batch_size", "16", "--init_realtime_after_seconds", "0.2"]
    if debug:
        argv += ["--debug"]
    if language:
        argv += ["--language", language]
    argv += ["--silero_sensitivity", "0.4", "--webrtc_sensitivity", "3",
             "--min_length_of_recording", "0.5", "--min_gap_between_recordings", "0",
             "--realtime_processing_pause", "0.2", "--early_transcription_on_silence", "0",
             "--deactivity_silence_confirmation_duration", "0.16", "--beam_size", "5",
             "--beam_size_realtime", "3", "--wake_words", "", "--wake_words_sensitivity", "0.6",
             "--wake_word_timeout", "5.0", "--wake_word_activation_delay", "0.0",
             "--wakeword_backend", "pvporcupine", "--openwakeword_inference_framework", "onnx",
             "--wake_word_buffer_duration", "0.1",
             "--control_port", str(srv.control_port), "--data_port", str(srv.data_port)]
    return argv + ["--host", "127.0.0.1", "--monitor_port", str(srv.monitor_port)]


class Cli(unittest.TestCase):

    def test_unknown_flag(self):
        rc, out, err = run_cli("--no_such_flag_xyz", "1")
        h.log(f"  unknown flag: rc {rc}, stderr {err.strip()[:300]!r}")
        self.assertEqual(rc, 2)
        self.assertIn("--no_such_flag_xyz", err)

    def test_bad_values(self):
        for args, flag in ((["--control_port", "abc"], "control_port"),
                           (["--data_port", "70000"], "data_port"),
                           (["--beam_size", "1.5"], "beam_size"),
                           (["--silero_sensitivity", "lots"], "silero_sensitivity"),
                           (["--engine", "no_such_engine"], "engine"),
                           (["--control_port"], "control_port")):
            rc, out, err = run_cli(*args)
            h.log(f"  {args}: rc {rc}, stderr {err.strip()[:200]!r}")
            self.assertEqual(rc, 2, f"{args}: rc {rc}")
            self.assertIn(flag, err, f"{args}: stderr does not name the flag")

    def test_help(self):
        rc, out, err = run_cli("--help")
        self.assertEqual(rc, 0, err)
        for flag in ("--model", "--monitor_port", "--control_port", "--data_port",
                     "--realtime_model_type", "--host"):
            self.assertIn(flag, out, f"--help does not list {flag}")
        rc2, out2, _ = run_cli("-h")
        self.assertEqual((rc2, out2), (0, out))

    def test_autostart_argv_without_model_file(self):
        """The client's autostart names Whisper models, so --engine auto picks whisper; with no
        ggml file that must be one line naming the files and the download command, exit 2."""
        empty = h.tmpdir("autostart-nomodel")
        srv = h.Server(name="autostart-nomodel", engine=None, drain_timeout=None)
        srv.control_port, srv.data_port, srv.monitor_port = h.free_ports(3)
        argv = autostart_argv(srv) + ["--download_root", empty]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        h.log(f"  autostart argv, no model file: rc {r.returncode}, {lines}")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(f"{empty}/ggml-tiny.bin", lines[0])
        self.assertIn(f"tools/download-model --root {empty} tiny", lines[0])

    def test_autostart_argv_starts(self):
        # The client's autostart argv names tiny for both models: with a tiny ggml file where
        # names resolve ($STT_MODEL_DIR; random weights from gen-test-model) the whisper engine
        # starts and answers as the original; with --engine pocketsphinx it runs pocketsphinx.
        models = h.tmpdir("autostart-models")
        subprocess.run([os.path.join(h.BUILD_DIR, "gen-test-model"), "--root", models,
                        "--quiet", "tiny"], check=True, timeout=120)
        os.environ["STT_MODEL_DIR"] = models
        for variant, extra in (({}, []), ({"language": "en", "debug": True}, []),
                               ({}, ["--engine", "pocketsphinx"])):
            srv = h.Server(name="autostart", engine=None, drain_timeout=None)
            srv.start(ready_timeout=60,
                      argv_fn=lambda s: autostart_argv(s, **variant) + extra)
            try:
                h.log(f"  autostart {variant}: ready; argv {' '.join(srv.argv[1:])[:120]}...")

                async def probe():
                    # The client's is_server_running(): a bare handshake to the control URL.
                    c = await h.ControlClient(srv.control_url()).connect()
                    await c.close()
                    c = await h.ControlClient(srv.control_url()).connect()
                    r1 = await c.set("language", "")
                    r2 = await c.set("wake_word_activation_delay", 0.0)
                    r3 = await c.get("silero_sensitivity", request_id=0)
                    await c.close()
                    return r1, r2, r3

                r1, r2, r3 = h.run_async(probe())
                self.assertEqual(r1, {"status": "success",
                                      "message": "Parameter language set to "}, r1)
                self.assertEqual(r2.get("status"), "success", r2)
                # --silero_sensitivity 0.4 from the command line is the session's value.
                self.assertEqual(r3.get("value"), 0.4, r3)
                status, _, _ = srv.get("/readyz")
                self.assertEqual(status, 200)
            finally:
                rc = srv.stop(timeout=40)
                if rc != 0:
                    h.log(srv.log_tail())
            self.assertEqual(rc, 0, f"exit status {rc} after SIGTERM")


if __name__ == "__main__":
    sys.exit(h.run_unittests())

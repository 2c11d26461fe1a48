#!/usr/bin/python3
"""Monitoring port: /health (exact keys, JSON types, 200), /metrics as JSON by default (the seed's
server/connections/processing/recorder groups key by key and type by type, their values moving
with a call, our own groups beside them) and as Prometheus text 0.0.4 for both a plain and
Prometheus 2.42's Accept header (must pass `promtool check metrics`), histogram +Inf bucket ==
_count, stt_sessions_active tracks a live session, counters move after streaming one file,
/livez and /readyz."""

import asyncio
import json
import math
import re
import subprocess
import sys
import time
import unittest

import harness as h

HEALTH_KEYS = {
    "status": (str,), "recorder_state": (str,), "uptime_seconds": "number",
    "active_connections": (int,), "total_connections": (int,),
    "connections_per_minute": "number", "audio_chunks_processed": (int,),
    "transcription_errors": (int,), "recorder_errors": (int,),
    "last_activity_seconds": "number?", "consecutive_errors": (int,),
    "recovery_attempts": (int,),
}
# GET /metrics as the seed (RealtimeSTT stt_server.py, metrics_handler) documents it: group ->
# key -> the exact JSON type (float: written with a decimal point, as Python's json writes a
# float; int: not bool). docs/operations.md, "Metrics JSON".
SEED_METRICS = {
    "server": {"uptime_seconds": float, "start_time": float, "last_activity": float},
    "connections": {"active": int, "total": int, "rate_per_minute": float},
    "processing": {"audio_chunks_processed": int, "transcription_errors": int,
                   "recorder_errors": int},
    "recorder": {"state": str, "last_successful_processing": float, "consecutive_errors": int,
                 "recovery_attempts": int, "can_recover": bool},
}
SEED_RECORDER_STATES = {"initializing", "ready", "processing", "error", "recovering", "shutdown"}
# Our own keys, kept beside the seed's (top level, and inside the shared "connections" group).
OWN_METRICS = {"uptime_seconds", "status", "recorder_state", "audio", "transcription", "engine",
               "errors", "recovery", "circuit_breaker", "cleanup", "process"}
OWN_CONNECTIONS = {"data_active", "control_active", "control_total", "active_all", "total_all",
                   "per_minute", "rejected"}
# One server shared by all cases; run_unittests() starts it first and stops it at the end.
SRV = h.Server(name="monitoring")

def promtool_check(text):
    exe = h.require_tool("promtool")
    r = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    return r.returncode, (r.stdout + r.stderr).strip()


def prom(headers):
    status, hdrs, body = SRV.get("/metrics", headers)
    return status, hdrs, body.decode()


class Monitoring(unittest.TestCase):

    def test_health(self):
        status, hdrs, body = SRV.get("/health")
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", hdrs.get("content-type", ""))
        data = json.loads(body)
        h.log(f"  /health: {data}")
        self.assertEqual(set(data), set(HEALTH_KEYS), "key set differs")
        for k, ty in HEALTH_KEYS.items():
            v = data[k]
            if ty in ("number", "number?"):
                ok = (isinstance(v, (int, float)) and not isinstance(v, bool)) or \
                     (ty == "number?" and v is None)
            else:
                ok = isinstance(v, ty) and not isinstance(v, bool)
            self.assertTrue(ok, f"{k}={v!r} has the wrong type")
        self.assertTrue(data["status"], "empty status")
        self.assertGreaterEqual(data["uptime_seconds"], 0)

    def test_livez_readyz(self):
        for path in ("/livez", "/readyz"):
            status, _, body = SRV.get(path)
            self.assertEqual(status, 200, f"{path}: {body!r}")
        status, _, _ = SRV.get("/no-such-endpoint")
        self.assertEqual(status, 404)

    def test_metrics_json_default(self):
        for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
            status, hdrs, body = SRV.get("/metrics", headers)
            self.assertEqual(status, 200)
            self.assertIn("application/json", hdrs.get("content-type", ""), headers)
            data = json.loads(body)
            self.assertIsInstance(data, dict)
            self.assertTrue(data, "empty metrics object")

    def test_metrics_json_seed_shape(self):
        """Every group and key of the seed's /metrics, each with the seed's JSON type, and our
        own groups and keys beside them."""
        t0 = time.time()
        data = SRV.get_json("/metrics")[1]
        h.log(f"  /metrics seed groups: { {g: data.get(g) for g in SEED_METRICS} }")
        for group, keys in SEED_METRICS.items():
            self.assertIsInstance(data.get(group), dict, f"group {group!r} missing")
            for k, ty in keys.items():
                self.assertIn(k, data[group], f"{group}.{k} missing")
                v = data[group][k]
                # type(), not isinstance(): bool is an int, and an int is not the seed's float.
                self.assertIs(type(v), ty, f"{group}.{k}={v!r} is {type(v).__name__}, "
                                           f"the seed's is {ty.__name__}")
        self.assertTrue(OWN_METRICS <= set(data), f"missing: {OWN_METRICS - set(data)}")
        self.assertTrue(OWN_CONNECTIONS <= set(data["connections"]),
                        f"missing: {OWN_CONNECTIONS - set(data['connections'])}")
        sv, c, rc = data["server"], data["connections"], data["recorder"]
        # Stamps are seconds since the epoch on one base: the start, then what happened since.
        self.assertGreaterEqual(sv["uptime_seconds"], 0)
        self.assertLess(abs(sv["start_time"] + sv["uptime_seconds"] - t0), 2.5, sv)
        self.assertLessEqual(sv["start_time"], sv["last_activity"])
        self.assertLessEqual(sv["last_activity"], t0 + 1)
        self.assertLessEqual(sv["start_time"], rc["last_successful_processing"])
        self.assertLessEqual(rc["last_successful_processing"], t0 + 1)
        self.assertIn(rc["state"], SEED_RECORDER_STATES)
        self.assertIn(rc["state"], ("ready", "processing"), "an idle, healthy server")
        self.assertTrue(rc["can_recover"])
        self.assertGreaterEqual(c["rate_per_minute"], 0)
        self.assertLessEqual(c["active"], c["active_all"])
        self.assertEqual(c["active"], c["data_active"])
        self.assertEqual(c["total_all"], c["total"] + c["control_total"])
        self.assertEqual(data["processing"]["audio_chunks_processed"],
                         data["audio"]["chunks_processed"])

    def test_metrics_json_seed_values_move(self):
        """A call moves the seed's numbers: connections.active while it lasts, total and
        rate_per_minute, audio_chunks_processed, last_activity and last_successful_processing."""
        utt, path, ref = h.librivox_set()[1]
        pcm, rate = h.read_wav(path)
        before = SRV.get_json("/metrics")[1]

        async def go():
            # The call's control connection: counted in active_all, not in the seed's active.
            ctl = await h.ControlClient(SRV.control_url("seedmetrics")).connect()
            c = await h.DataClient(SRV.data_url("seedmetrics"), name="seedmetrics").connect()
            during = await h.poll_metrics(SRV, lambda m: m["connections"]["active"] >= 1, 5)
            await h.transcribe(None, pcm, rate, tail_s=1.5, realtime=False, final_timeout=30,
                               settle_s=0.5, client=c)
            await ctl.close()
            after = await h.poll_metrics(SRV, lambda m: m["connections"]["active_all"] == 0, 5)
            return c, during, after

        c, during, after = h.run_async(go())
        h.log(f"  seed groups before {[before[g] for g in SEED_METRICS]}\n"
              f"  during {during['connections']}\n"
              f"  after  {[after[g] for g in SEED_METRICS]}")
        self.assertEqual(c.count("fullSentence"), 1, c.summary())
        self.assertEqual(during["connections"]["active"], 1)
        self.assertEqual(during["connections"]["active_all"], 2)
        self.assertEqual(after["connections"]["active"], 0, "the call's connection is still live")
        self.assertGreater(after["connections"]["total"], before["connections"]["total"])
        self.assertGreaterEqual(after["connections"]["rate_per_minute"], 1.0)
        self.assertGreater(after["processing"]["audio_chunks_processed"],
                           before["processing"]["audio_chunks_processed"])
        self.assertGreater(after["server"]["last_activity"], before["server"]["last_activity"])
        self.assertGreater(after["recorder"]["last_successful_processing"],
                           before["recorder"]["last_successful_processing"])
        self.assertEqual(after["server"]["start_time"], before["server"]["start_time"])
        self.assertGreater(after["server"]["uptime_seconds"], before["server"]["uptime_seconds"])
        for g in SEED_METRICS:
            self.assertEqual(set(after[g]) & set(SEED_METRICS[g]), set(SEED_METRICS[g]))

    def test_prometheus_text_passes_promtool(self):
        for accept in (h.PROM_ACCEPT_PLAIN, h.PROM_ACCEPT):
            status, hdrs, text = prom({"Accept": accept})
            self.assertEqual(status, 200)
            ctype = hdrs.get("content-type", "")
            self.assertTrue(ctype.startswith("text/plain") and "0.0.4" in ctype,
                            f"Accept {accept!r} -> Content-Type {ctype!r}")
            rc, out = promtool_check(text)
            h.log(f"  promtool check metrics (Accept {accept[:40]}...): rc {rc} {out[:500]}")
            self.assertEqual(rc, 0, f"promtool: {out}\n--- metrics ---\n{text[:3000]}")
            samples = h.parse_prom(text)
            names = {n for n, _ in samples}
            self.assertIn("stt_sessions_active", names)
            # Every histogram: the +Inf bucket equals _count for the same label set.
            hist = 0
            for (name, labels), v in samples.items():
                if name.endswith("_bucket") and ("le", "+Inf") in labels:
                    base = name[:-len("_bucket")]
                    rest = frozenset(l for l in labels if l[0] != "le")
                    cnt = samples.get((base + "_count", rest))
                    self.assertIsNotNone(cnt, f"{base}_count missing for {set(rest)}")
                    self.assertEqual(v, cnt, f"{base}: +Inf bucket {v} != count {cnt}")
                    self.assertIn((base + "_sum", rest), samples, f"{base}_sum missing")
                    hist += 1
            self.assertGreaterEqual(hist, 1, "no histogram with an le=\"+Inf\" bucket")
            for (name, labels), v in samples.items():
                self.assertFalse(math.isnan(v), f"{name} is NaN")

    def test_counters_move_after_streaming(self):
        utt, path, ref = h.librivox_set()[1]
        pcm, rate = h.read_wav(path)
        _, before = SRV.get_json("/health")
        prom_before = h.parse_prom(prom({"Accept": h.PROM_ACCEPT_PLAIN})[2])

        async def go():
            c = await h.DataClient(SRV.data_url("mon"), name="mon").connect()
            await asyncio.sleep(0.3)
            during = h.parse_prom(prom({"Accept": h.PROM_ACCEPT_PLAIN})[2])
            _, health_during = SRV.get_json("/health")
            # Fast (not real-time) streaming: this test is about counters, not timing.
            await h.transcribe(None, pcm, rate, tail_s=1.5, realtime=False, final_timeout=30,
                               settle_s=0.5, client=c)
            return c, during, health_during

        c, during, health_during = h.run_async(go())
        active = [v for (n, _), v in during.items() if n == "stt_sessions_active"]
        h.log(f"  stt_sessions_active during a session: {active}; /health active_connections "
              f"{health_during['active_connections']}")
        self.assertGreaterEqual(sum(active), 1)
        self.assertGreaterEqual(health_during["active_connections"], 1)
        self.assertEqual(c.count("fullSentence"), 1, c.summary())

        _, after = SRV.get_json("/health")
        h.log(f"  /health before {before}\n  /health after  {after}")
        self.assertGreater(after["audio_chunks_processed"], before["audio_chunks_processed"])
        self.assertGreater(after["total_connections"], before["total_connections"])
        prom_after = h.parse_prom(prom({"Accept": h.PROM_ACCEPT_PLAIN})[2])
        moved = sorted(f"{n}{dict(l) if l else ''}: {prom_before.get((n, l), 0)} -> {v}"
                       for (n, l), v in prom_after.items()
                       if v > prom_before.get((n, l), 0) and not n.endswith("_bucket"))
        h.log("  Prometheus samples that increased:\n    " + "\n    ".join(moved))
        self.assertTrue(any(re.search(r"audio|chunk|frame|bytes", m) for m in moved),
                        "no audio/chunk counter increased")
        self.assertTrue(any(re.search(r"_count", m) for m in moved), "no histogram observed")
        # The session is gone again.
        for _ in range(20):
            act = sum(v for (n, _), v in h.parse_prom(prom({"Accept": h.PROM_ACCEPT_PLAIN})[2])
                      .items() if n == "stt_sessions_active")
            if act == 0:
                break
            h.run_async(asyncio.sleep(0.1))
        self.assertEqual(act, 0, "stt_sessions_active did not return to 0")

    def test_ingest_latency(self):
        """server_sent_to_stt (the RealtimeSTT clients' latency probe, ns since the epoch) feeds
        stt_ingest_latency_seconds: every stamped frame once, unstamped frames and stamps from a
        clock ahead of the server's not at all."""
        def ingest():
            return SRV.get_json("/metrics")[1]["transcription"]["ingest_latency"]

        before = ingest()
        chunk = h.silence(0.02, 16000)

        async def go():
            c = await h.DataClient(SRV.data_url("ingest"), name="ingest").connect()
            for k in range(30):
                meta = None
                if k < 20:
                    meta = {"sampleRate": 16000, "server_sent_to_stt": time.time_ns()}
                elif k >= 25:
                    meta = {"sampleRate": 16000,
                            "server_sent_to_stt": time.time_ns() + 60 * 10**9}
                self.assertTrue(await c.send_raw(h.make_frame(chunk, 16000, meta)))
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
            await c.close()

        h.run_async(go())
        after = ingest()
        h.log(f"  ingest latency before {before}, after 20 stamped frames {after}")
        self.assertEqual(after["count"] - before["count"], 20)
        mean = (after["sum_seconds"] - before["sum_seconds"]) / 20
        self.assertTrue(0 <= mean < 0.5, f"mean ingest latency {mean} s")
        _, _, text = prom({"Accept": h.PROM_ACCEPT_PLAIN})
        self.assertIn('stt_ingest_latency_seconds_bucket{le="0.02"}', text)


if __name__ == "__main__":
    sys.exit(h.run_unittests(SRV))

#!/usr/bin/python3
"""stt-loadgen's telephony client codecs against the server's own adapters (null engine, loopback,
a few calls each, real time): what the capacity benchmarks in bench/README.md rely on.

  - twilio (/twilio): every call is established and streams; every media message the generator
    sent was parsed and passed the VAD (stt_media_lateness_seconds counts exactly the frames
    sent: nothing lost, no protocol error); each call has its own call id (the out-of-band
    registry started one call per connection); the server sent nothing back (Twilio's rule).
  - audiosocket (raw TCP, --audiosocket_port): every call is established, its audio is taken in
    (the server's processed-chunk counter grows by at least the frames sent), one out-of-band
    call per connection (distinct UUIDs), nothing but a clean close.
  - rtstt, the reference: every frame's send stamp is seen (stt_ingest_latency_seconds).
  - jambonz (/jambonz; stop, then the server closes) and audiofork (/audio_fork, subprotocol
    audio.jambonz.org echoed): established, frames sent, no connect failure, no error close.
Each protocol runs on a fresh server so the counters are its own."""

import json
import os
import subprocess
import sys

import harness as h

LOADGEN = os.path.join(h.BUILD_DIR, "stt-loadgen")
CALLS = 6
DURATION = 6.0


def run_loadgen(srv, url, protocol, calls=CALLS):
    out = os.path.join(srv.dir, f"loadgen-{protocol}.json")
    argv = [LOADGEN, "--url", url, "--calls", str(calls), "--duration", str(DURATION), "--ramp",
            "1", "--server-pid", str(srv.proc.pid), "--json", out, "-q"]
    if protocol != "rtstt":
        argv += ["--protocol", protocol]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=DURATION + 60)
    h.log(f"{protocol}: stt-loadgen exit {r.returncode}\n{r.stderr.strip()}")
    if not os.path.exists(out):
        raise AssertionError(f"stt-loadgen --protocol {protocol} wrote no result: {r.stderr[-800:]}")
    with open(out) as f:
        return json.load(f)


def check_common(lg, protocol, failures, calls=CALLS):
    c, fr = lg["connections"], lg["frames"]
    if c["established"] != calls or c["connect_failed"]:
        failures.append(f"{protocol}: {c['established']}/{calls} established, "
                        f"{c['connect_failed']} failed ({c.get('first_connect_error')})")
    if c["closed_by_server"]:
        failures.append(f"{protocol}: {c['closed_by_server']} calls closed by the server: "
                        f"{c['server_close_codes']}")
    if fr["sent"] < calls * (DURATION - 2) * 50 * 0.9:
        failures.append(f"{protocol}: only {fr['sent']} frames sent")
    if fr["late_over_100ms"] or lg["connections"]["write_errors"]:
        failures.append(f"{protocol}: {fr['late_over_100ms']} frames late, "
                        f"{lg['connections']['write_errors']} write errors")


def oob_calls(srv):
    return h.prom_value(h.prom_metrics(srv), "stt_oob_calls_total")


def main():
    h.watchdog(170)
    failures = []
    step = h.stepper(failures)

    def rtstt():
        with h.Server(engine="null", name="lg-rtstt") as srv:
            lg = run_loadgen(srv, srv.data_url(), "rtstt")
            check_common(lg, "rtstt", failures)
            n = srv.get_json("/metrics")[1]["transcription"]["ingest_latency"]["count"]
            if n != lg["frames"]["sent"]:
                failures.append(f"rtstt: {n} stamps seen, {lg['frames']['sent']} frames sent")

    def twilio():
        with h.Server(engine="null", name="lg-twilio") as srv:
            lg = run_loadgen(srv, srv.data_url(), "twilio")
            check_common(lg, "twilio", failures)
            m = srv.get_json("/metrics")[1]
            n = m["transcription"]["media_lateness"]["count"]
            h.log(f"twilio: media_lateness {m['transcription']['media_lateness']}")
            if n != lg["frames"]["sent"]:
                failures.append(f"twilio: {n} media messages through the VAD, "
                                f"{lg['frames']['sent']} sent")
            ev = lg["events"]
            if ev["other"] or ev["unparsed"] or ev["realtime"] or ev["fullSentence"]:
                failures.append(f"twilio: the server sent something back: {ev}")
            calls = oob_calls(srv)
            if calls != CALLS:
                failures.append(f"twilio: {calls} out-of-band calls for {CALLS} connections")
            errs = [k for k in h.prom_metrics(srv) if k[0] == "stt_protocol_errors_total"]
            if errs:
                failures.append(f"twilio: protocol errors counted: {errs}")

    def audiosocket():
        port = h.free_ports(1)[0]
        with h.Server("--audiosocket_port", port, engine="null", name="lg-audiosocket") as srv:
            before = srv.get_json("/metrics")[1]["audio"]["chunks_processed"]
            lg = run_loadgen(srv, f"tcp://127.0.0.1:{port}", "audiosocket")
            check_common(lg, "audiosocket", failures)
            after = srv.get_json("/metrics")[1]["audio"]["chunks_processed"]
            if after - before < lg["frames"]["sent"]:
                failures.append(f"audiosocket: {after - before} chunks processed, "
                                f"{lg['frames']['sent']} frames sent")
            if lg["events"].get("raw_bytes_received"):
                failures.append(f"audiosocket: the server sent {lg['events']['raw_bytes_received']}"
                                " bytes on a normal call")
            calls = oob_calls(srv)
            if calls != CALLS:
                failures.append(f"audiosocket: {calls} out-of-band calls for {CALLS} "
                                "connections")

    def websocket_pcm(protocol):
        with h.Server(engine="null", name=f"lg-{protocol}") as srv:
            lg = run_loadgen(srv, srv.data_url(), protocol)
            check_common(lg, protocol, failures)

    step("rtstt", rtstt)
    step("twilio", twilio)
    step("audiosocket", audiosocket)
    step("jambonz", lambda: websocket_pcm("jambonz"))
    step("audiofork", lambda: websocket_pcm("audiofork"))
    h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

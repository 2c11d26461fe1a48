#!/usr/bin/python3
"""Streaming calls on the null engine: the network and session layer alone (DESIGN §7, 2,000
calls with p99 ingest-to-VAD latency <= 20 ms and 0 frames lost).

A fresh server (`--engine null --no-transcription_start_audio`, loopback) and one stt-loadgen
run of N calls. Two latencies, because generator and server share this machine's cores:
  - ingest latency, the design's figure: from the moment stt-loadgen hands a frame to the socket
    (its `server_sent_to_stt` stamp) to the frame having passed the server's VAD, measured by
    the server (`stt_ingest_latency_seconds`);
  - send lateness: how late stt-loadgen sent each frame against its fixed 20 ms clock, i.e. how
    well the generator itself kept up.
--protocol twilio|audiosocket|jambonz|audiofork streams the same calls in a telephony protocol
(stt-loadgen's client codecs). Twilio media messages carry no send stamp; there the server-side
figure is stt_media_lateness_seconds instead (each media message through the VAD against its own
media.timestamp, anchored at the track's least-delayed message; it includes the generator's own
send lateness). AudioSocket, jambonz and audio_fork carry neither: only the client-side figures
and the server's CPU and memory.
Prints one JSON object on stdout and a line on stderr. Usage:
  scripts/setup.sh && bench/null_calls.py --calls 2000 > bench/results-null-2000.json
  bench/null_calls.py --calls 1000 --protocol twilio > bench/results/null-twilio-1000.json
For an A/B, alternate runs with STT_SERVER=/path/to/other/stt-server.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integ"))
os.environ.setdefault("STT_SERVER", os.path.join(HERE, "..", "build", "stt-server"))
import harness as h  # noqa: E402

LOADGEN = os.path.join(HERE, "..", "build", "stt-loadgen")


def share_within(samples, name, bound):
    """Share of the histogram's observations at or under `bound` (a bucket edge)."""
    total = within = None
    for (n, labels), v in samples.items():
        if n == name + "_count":
            total = v
        if n == name + "_bucket" and ("le", f"{bound:g}") in labels:
            within = v
    if not total or within is None:
        return None
    return within / total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=40)
    ap.add_argument("--ramp", type=float, default=10)
    ap.add_argument("--sources", type=int, default=4, help="127.0.0.x source addresses")
    ap.add_argument("--protocol", default="rtstt",
                    choices=["rtstt", "twilio", "audiosocket", "jambonz", "audiofork"])
    args, extra = ap.parse_known_args()
    if args.protocol == "audiosocket":
        as_port = h.free_ports(1)[0]
        extra = ["--audiosocket_port", str(as_port)] + extra

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.calls * 2 + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    srv = h.Server("--no-transcription_start_audio", *extra,
                   engine="null", name=f"bench-null-{args.calls}", drain_timeout=10)
    srv.start()
    try:
        out_json = os.path.join(srv.dir, "loadgen.json")
        url = srv.data_url()
        if args.protocol == "audiosocket":
            url = f"tcp://127.0.0.1:{as_port}"
        elif args.protocol != "rtstt":
            url = url.rstrip("/") + "/"  # the codec's own path
        proto = [] if args.protocol == "rtstt" else ["--protocol", args.protocol]
        r = subprocess.run([LOADGEN, "--url", url, *proto, "--calls", str(args.calls),
                            "--duration", str(args.duration), "--ramp", str(args.ramp),
                            "--source-count", str(args.sources), "--server-pid",
                            str(srv.proc.pid), "--json", out_json, "-q"],
                           capture_output=True, text=True, timeout=args.duration + 120)
        if not os.path.exists(out_json):
            raise RuntimeError(f"stt-loadgen failed ({r.returncode}): {r.stderr[-2000:]}")
        with open(out_json) as f:
            lg = json.load(f)
        metrics = srv.get_json("/metrics")[1]
        within = share_within(h.prom_metrics(srv),
                              "stt_media_lateness_seconds" if args.protocol == "twilio"
                              else "stt_ingest_latency_seconds", 0.02)
    finally:
        rc = srv.stop()
    # The server-side figure: the send stamp's ingest latency, or the media clock's lateness.
    key = "media_lateness" if args.protocol == "twilio" else "ingest_latency"
    ing = metrics["transcription"][key]
    late = lg["frames"]["send_lateness"]
    out = {
        "calls": args.calls,
        "protocol": args.protocol,
        "server_args": extra,
        "server_figure": key,
        "ingest_latency": {"frames": ing["count"],
                           "mean_ms": round(1e3 * ing["sum_seconds"] / max(1, ing["count"]), 2),
                           "p50_ms_at_most": 1e3 * ing["p50_seconds"],
                           "p99_ms_at_most": 1e3 * ing["p99_seconds"],
                           "share_within_20ms": within},
        # Every frame the generator sent carries a stamp, so a frame the server did not take
        # in would show here.
        "frames_sent": lg["frames"]["sent"],
        "frames_lost": lg["frames"]["sent"] - ing["count"] if ing["count"] else None,
        "send_lateness": late,
        "loadgen": lg,
        "server_exit_status": rc,
    }
    print(json.dumps(out, indent=1))
    c, fr, u = lg["connections"], lg["frames"], lg["utterances"]
    print(f"null_calls: {args.calls} {args.protocol} calls ({key}): connect failures {c['connect_failed']}, frames late "
          f">100 ms {fr['late_over_100ms']}, unsent {fr['unsent_at_end']}, finals "
          f"{u['sent'] - u['finals_missing']}/{u['sent']}; frames lost {out['frames_lost']} of "
          f"{fr['sent']}; ingest latency mean "
          f"{out['ingest_latency']['mean_ms']} ms, p99 <= {1e3 * ing['p99_seconds']:g} ms, "
          f"within 20 ms {within if within is None else round(100 * within, 2)} %; send "
          f"lateness p99 {late['p99_ms']} ms; server {lg['server']['cpu_cores_avg']:.2f} cores, "
          f"loadgen {lg['loadgen']['cpu_s'] / lg['elapsed_s']:.2f} cores", file=sys.stderr)


if __name__ == "__main__":
    main()

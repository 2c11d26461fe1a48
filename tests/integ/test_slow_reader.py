#!/usr/bin/python3
"""A client that stops reading its transcripts (specs/reliability-tests.md 2.2, slow read), on
the null engine with --stuck_socket_timeout 2.

The client connects with a 4 KiB receive buffer and never reads; it keeps sending speech, so the
server's output (transcription_start carries the utterance audio, ~85 KB per second of speech)
fills the socket and then the session's output queue. Checked:
1. Once nothing has moved for the timeout, the server drops the connection: the client's sends
   fail, stt_sockets_stuck_total (JSON cleanup.stuck_sockets) is 1, the log says stuck_socket.
2. Meanwhile another call gets its final and /health answers every probe within 1 s.
3. Afterwards no session is left and the process holds no more descriptors than at ready (plus
   the /metrics request's own).
4. With --stuck_socket_timeout 0 the 64 MiB output cap alone drops such a peer."""

import asyncio
import os
import socket
import time

import websockets

import harness as h

FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0870.wav")
TIMEOUT_S = 2.0
ARGS = ("--no-admission_control", "--stuck_socket_timeout", str(TIMEOUT_S))


async def stuck_client(srv, pcm, rate, limit_s):
    """Sends speech and silence without ever reading, until the server drops the connection.
    Returns (seconds of audio sent, seconds until the send failed, or None)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.data_port))
    sock.setblocking(False)
    # max_queue 1 and a 4 KiB read limit: websockets stops reading from the socket as soon as
    # one message waits; nothing here ever takes it.
    ws = await websockets.connect(srv.data_url(), sock=sock, max_queue=1, read_limit=4096,
                                  ping_interval=None, compression=None, max_size=None,
                                  open_timeout=10, close_timeout=1)
    utterance = pcm + h.silence(1.5, rate)
    step = 1024 * 2
    t0 = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - t0 < limit_s:
            for i in range(0, len(utterance), step):
                await asyncio.wait_for(ws.send(h.make_frame(utterance[i:i + step], rate)), 5)
                sent += len(utterance[i:i + step])
                if i % (step * 16) == 0:
                    await asyncio.sleep(0.005)  # about 30x real time
    except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError):
        return sent / 2 / rate, time.monotonic() - t0
    finally:
        ws.transport.abort()
    return sent / 2 / rate, None


async def probe_health(srv, stop, worst):
    while not stop.is_set():
        t = time.monotonic()
        try:
            code = (await asyncio.to_thread(h.http_get, srv.http_url("/health"), None, 1.0))[0]
        except OSError:
            code = None
        worst[0] = max(worst[0], time.monotonic() - t)
        if code != 200:
            worst[1] += 1
        await asyncio.sleep(0.2)


async def scenario(srv, failures):
    pcm, rate = h.read_wav(FILE)
    stop, worst = asyncio.Event(), [0.0, 0]
    prober = asyncio.ensure_future(probe_health(srv, stop, worst))
    stuck = asyncio.ensure_future(stuck_client(srv, pcm, rate, 60))
    await asyncio.sleep(1.0)
    other = await h.transcribe(srv.data_url(), pcm, rate, tail_s=1.5, realtime=True,
                               expect_finals=1, final_timeout=30, name="other")
    audio_s, dropped_after = await stuck
    stop.set()
    await prober
    m = (await h.poll_metrics(srv, lambda m: m["cleanup"]["stuck_sockets"] >= 1, 10))
    h.log(f"stuck reader: sent {audio_s:.0f} s of audio, dropped after "
          f"{dropped_after if dropped_after is None else round(dropped_after, 1)} s; "
          f"stuck_sockets {m['cleanup']['stuck_sockets']}; other call "
          f"{other.count('fullSentence')} final(s); /health worst {worst[0] * 1e3:.0f} ms, "
          f"{worst[1]} not 200")
    if dropped_after is None:
        failures.append(f"the connection was never dropped ({audio_s:.0f} s of audio sent)")
    if m["cleanup"]["stuck_sockets"] != 1:
        failures.append(f"stuck_sockets {m['cleanup']['stuck_sockets']}, want 1")
    if "stuck_socket" not in srv.log_text():
        failures.append("no stuck_socket line in the log")
    if other.count("fullSentence") != 1:
        failures.append(f"the other call: {other.summary()}")
    if worst[0] > 1.0 or worst[1]:
        failures.append(f"/health: worst {worst[0]:.2f} s, {worst[1]} not 200")
    # The /metrics request being answered holds one descriptor of its own.
    def clean(m):
        return (m["connections"]["active_all"] == 0 and
                m["process"]["open_fds"] <= m["process"]["open_fds_at_ready"] + 1)

    m = await h.poll_metrics(srv, clean, 10)
    h.log(f"after: {m['connections']['active_all']} connections, {m['process']['open_fds']} fds "
          f"(at ready {m['process']['open_fds_at_ready']})")
    if not clean(m):
        failures.append(f"left behind: {m['connections']} {m['process']}")


async def cap_only(srv, failures):
    """--stuck_socket_timeout 0: only the 64 MiB output cap applies. A peer past it is dropped
    at once: a close frame would wait behind the queue it does not read (it used to, forever)."""
    pcm, rate = h.read_wav(FILE)
    audio_s, dropped_after = await stuck_client(srv, pcm, rate, 90)
    m = await h.poll_metrics(srv, lambda m: m["connections"]["active_all"] == 0, 10)
    h.log(f"cap only: sent {audio_s:.0f} s of audio, dropped after "
          f"{dropped_after if dropped_after is None else round(dropped_after, 1)} s; "
          f"stuck_sockets {m['cleanup']['stuck_sockets']}, {m['connections']['active_all']} "
          f"connections, RSS {m['process']['resident_memory_bytes'] / 2**20:.0f} MiB")
    if dropped_after is None or m["cleanup"]["stuck_sockets"] != 1 or \
            m["connections"]["active_all"] != 0:
        failures.append(f"cap only: dropped after {dropped_after}, {m['cleanup']}, "
                        f"{m['connections']}")
    if "output queue reached" not in srv.log_text():
        failures.append("cap only: no 'output queue reached' line in the log")


def main():
    h.watchdog(300)
    failures = []
    for args, fn, name in ((ARGS, scenario, "slow-reader"),
                           (("--no-admission_control", "--stuck_socket_timeout", "0"), cap_only,
                            "slow-reader-cap")):
        with h.Server(*args, engine="null", name=name) as srv:
            srv.start(ready_timeout=30)
            try:
                h.run_async(fn(srv, failures))
            except AssertionError as e:
                failures.append(f"{name}: {e}")
            if srv.stop() != 0:
                failures.append(f"{name}: server exit status not 0")
    raise SystemExit(h.report(failures))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The C Silero forward pass (src/audio/silero.c, through build/stt-vad --raw) against an
independent float64 numpy implementation of the network exactly as the silero-vad package's
TinySileroVAD defines it (tinygrad_model.py: the 64-sample context, right reflection, STFT
convolution, four convolutions, LSTM cell, decoder), on the same weights file, over the five
librivox recordings. This checks the framing the server uses (whisper.cpp's differs; the unit
test unit.audio.test_silero checks that one against whisper.cpp). The C side keeps its weights
as float16, so the bound is MAX_DIFF, not equality."""

import json
import os
import struct
import subprocess
import sys
import wave

import numpy as np

import harness as h

MAX_DIFF = 0.01
MODEL = os.path.join(h.SOURCE_DIR, ".deps", "models", "silero-vad-6.2.1",
                     "silero_vad_16k.safetensors")
STT_VAD = os.path.join(h.BUILD_DIR, "stt-vad")


def load(path):
    d = open(path, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    hdr = json.loads(d[8:8 + n])
    w = {}
    for k, m in hdr.items():
        if k != "__metadata__":
            b, e = m["data_offsets"]
            w[k] = np.frombuffer(d[8 + n + b:8 + n + e], dtype="<f4").reshape(
                m["shape"]).astype(np.float64)
    return w


def conv1d(x, w, b, stride):
    """x [cin][T], w [cout][cin][3], padding 1."""
    x = np.pad(x, ((0, 0), (1, 1)))
    t_out = (x.shape[1] - 3) // stride + 1
    y = np.stack([np.einsum("oik,ik->o", w, x[:, t * stride:t * stride + 3])
                  for t in range(t_out)], axis=1)
    return np.maximum(y + b[:, None], 0)


def reference(w, pcm):
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    ctx, hs, cs, out = np.zeros(64), np.zeros(128), np.zeros(128), []
    basis = w["stft_conv.weight"][:, 0, :]
    for i in range(len(pcm) // 512):
        chunk = pcm[i * 512:(i + 1) * 512]
        x = np.pad(np.concatenate([ctx, chunk]), (0, 64), mode="reflect")
        ctx = chunk[-64:]
        s = np.stack([basis @ x[t * 128:t * 128 + 256] for t in range(4)], axis=1)
        e = np.sqrt(s[:129] ** 2 + s[129:] ** 2)
        for layer, stride in ((1, 1), (2, 2), (3, 2), (4, 1)):
            e = conv1d(e, w[f"conv{layer}.weight"], w[f"conv{layer}.bias"], stride)
        g = (w["lstm_cell.weight_ih"] @ e[:, 0] + w["lstm_cell.bias_ih"]
             + w["lstm_cell.weight_hh"] @ hs + w["lstm_cell.bias_hh"])
        cs = sig(g[128:256]) * cs + sig(g[:128]) * np.tanh(g[256:384])
        hs = sig(g[384:]) * np.tanh(cs)
        out.append(sig(w["final_conv.weight"][0, :, 0] @ np.maximum(hs, 0)
                       + w["final_conv.bias"][0]))
    return np.array(out)


def main():
    h.watchdog(170)
    if not os.path.exists(MODEL):
        h.log(f"FAILED: {MODEL} missing: run scripts/fetch-silero.sh (scripts/setup.sh does)")
        return 1
    w = load(MODEL)
    failures, worst, probs = [], 0.0, []
    for _, path, _ in h.librivox_set():
        with wave.open(path) as wf:
            pcm = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2") / 32768.0
        ref = reference(w, pcm)
        r = subprocess.run([STT_VAD, "--raw", "--silero_model", MODEL, path],
                           capture_output=True, text=True, timeout=60)
        got = np.array([float(ln.split()[1]) for ln in r.stdout.splitlines()])
        if r.returncode != 0 or len(got) != len(ref):
            failures.append(f"{path}: stt-vad exit {r.returncode}, {len(got)} of {len(ref)} "
                            f"chunks: {r.stderr.strip()}")
            continue
        d = float(np.abs(ref - got).max())
        h.log(f"  {os.path.basename(path)}: {len(ref)} chunks, max |C - numpy| = {d:.5f}")
        worst = max(worst, d)
        probs.extend(ref)
    h.log(f"  all: max abs diff {worst:.5f}, mean p {np.mean(probs):.3f}")
    if worst > MAX_DIFF:
        failures.append(f"max abs diff {worst:.5f} > {MAX_DIFF}")
    if not probs or np.mean(probs) < 0.5:
        failures.append("the recordings do not read as speech: the check would be vacuous")
    return h.report(failures)


if __name__ == "__main__":
    sys.exit(main())

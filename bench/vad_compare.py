#!/usr/bin/python3
"""Energy VAD vs Silero VAD on labelled audio: speech onset/offset error and false triggers on
noise, clean, in noise at 10/5/0 dB SNR, and as 8 kHz mu-law telephone audio (docs/vad.md).

Audio, all made with sox from the five librivox recordings of Debian's pocketsphinx-testdata:
  - each recording with PAD_S of silence before and after; the truth is known by construction:
    the speech starts PAD_S plus the recording's own lead-in (its first 10 ms frame within 20 dB of
    its loudest, measured on the clean file) and ends likewise;
  - noise: sox's pink and brown noise, and babble (the other four recordings mixed), scaled to the
    SNR against the recording's RMS, over the whole padded file;
  - telephone: the same files band-limited (300-3400 Hz), 8 kHz, mu-law, as a caller sends them.
Each file goes through build/stt-vad (the server's VAD, offline, resampled to 16 kHz as a stream
is) with --vad energy and --vad silero at the server's defaults.

Per condition: onset error (where a recording would start, i.e. the first of two consecutive
`onset` chunks as the turn machine requires, vs the true start, ms, median of the files and the
worst), offset error (last `active` chunk minus the designed 128 ms hangover vs the true end),
missed (no recording start near the speech), false triggers (recording starts more than TOL_MS
away from the speech, summed over the files) and noise-active (share of the chunks away from the
speech that were `active`). Usage:
  scripts/setup.sh && bench/vad_compare.py > bench/results-vad.json
Prints JSON on stdout and a markdown table on stderr.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
STT_VAD = os.environ.get("STT_VAD", os.path.join(ROOT, "build", "stt-vad"))
MODEL = os.environ.get("STT_SILERO_MODEL", os.path.join(
    ROOT, ".deps", "models", "silero-vad-6.2.1", "silero_vad_16k.safetensors"))
LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox"
PAD_S = 1.5
TOL_MS = 100
CHUNK_S = 512 / 16000
HANGOVER = 4
ONSET_CHUNKS = 2


def sox(*args):
    # -R: sox's noise generator seeded the same on every run; -D: no dither (random) when
    # mixing or converting to mu-law. The audio, and so the table, is the same on every run.
    r = subprocess.run(["sox", "-D", "-R", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"vad_compare: sox {' '.join(args)} failed:\n{r.stderr}")


def read(path):
    with wave.open(path) as w:
        import array
        a = array.array("h", w.readframes(w.getnframes()))
        return a, w.getframerate()


def rms(a):
    return (sum(x * x for x in a) / max(1, len(a))) ** 0.5


def speech_bounds(path):
    """First and last 10 ms frame within 20 dB of the loudest (clean recording), in seconds. The
    recordings carry their own room noise at 25-45 dB under the peak, so a lower bar labels it."""
    a, rate = read(path)
    f = rate // 100
    lv = [rms(a[i:i + f]) for i in range(0, len(a) - f + 1, f)]
    top = max(lv)
    on = [i for i, v in enumerate(lv) if v > top * 10 ** (-20 / 20)]
    return on[0] * 0.01, (on[-1] + 1) * 0.01, len(a) / rate


def run_vad(path, vad):
    args = [STT_VAD, "--vad", vad, path]
    if vad == "silero":
        args[3:3] = ["--silero_model", MODEL]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"vad_compare: {' '.join(args)} failed:\n{r.stderr}")
    rows = [l.split() for l in r.stdout.splitlines()]
    return [int(x[3]) for x in rows], [int(x[4]) for x in rows], sum(int(x[5]) for x in rows)


def starts(onset):
    """Chunks where a recording would start: ONSET_CHUNKS consecutive `onset` chunks (the turn
    machine's rule), reported at the first of them; a new start needs a gap in between."""
    out, run = [], 0
    for i, o in enumerate(onset):
        run = run + 1 if o else 0
        if run == ONSET_CHUNKS:
            out.append(i - ONSET_CHUNKS + 1)
    return out


def score(onset, active, t_on, t_off):
    """Onset: the first recording start near the speech; offset: the last `active` chunk of the
    speech minus the designed hangover; false triggers: recording starts away from the speech."""
    n = len(active)
    tol = TOL_MS / 1000
    near = lambda i: (i + 1) * CHUNK_S > t_on - tol and i * CHUNK_S < t_off + tol
    away = lambda i: not near(i) and i * CHUNK_S >= 0
    st = starts(onset)
    res = {"missed": 0, "onset_ms": None, "offset_ms": None}
    hit = [i for i in st if near(i)]
    act = [i for i in range(n) if active[i] and (i + 1) * CHUNK_S > t_on - tol
           and i * CHUNK_S < t_off + tol + HANGOVER * CHUNK_S]
    if not hit or not act:
        res["missed"] = 1
    else:
        res["onset_ms"] = (hit[0] * CHUNK_S - t_on) * 1000
        res["offset_ms"] = ((act[-1] - HANGOVER + 1) * CHUNK_S - t_off) * 1000
    res["false_triggers"] = sum(1 for i in st if away(i))
    outside = [i for i in range(n) if (i + 1) * CHUNK_S <= t_on - tol
               or i * CHUNK_S >= t_off + tol + HANGOVER * CHUNK_S]
    res["noise_active"] = sum(active[i] for i in outside) / max(1, len(outside))
    return res


def make_files(tmp, rec, others, noise, snr_db, phone):
    """The padded recording, noise mixed in at snr_db, optionally as telephone audio."""
    base = os.path.join(tmp, os.path.basename(rec)[:-4])
    clean = base + "-pad.wav"
    sox(rec, "-b", "16", clean, "pad", str(PAD_S), str(PAD_S))
    a, rate = read(rec)
    s_rms = rms(a) / 32768
    _, _, dur = speech_bounds(clean)
    out = clean
    if noise:
        nz = f"{base}-{noise}.wav"
        if noise == "babble":
            parts = []
            for i, o in enumerate(others):
                p = f"{base}-bab{i}.wav"
                # Each other recording repeated to cover the file, with its own offset.
                sox(o, p, "repeat", "4", "trim", str(0.37 * i), str(dur))
                parts.append(p)
            sox("-m", *parts, nz)
        else:
            sox("-n", "-r", str(rate), "-b", "16", nz, "synth", str(dur), noise + "noise")
        n_a, _ = read(nz)
        gain = s_rms / (rms(n_a) / 32768) * 10 ** (-snr_db / 20)
        out = f"{base}-{noise}{snr_db}.wav"
        sox("-m", "-v", "1", clean, "-v", f"{gain:.6f}", nz, out)
    if phone:
        tel = out[:-4] + "-tel.wav"
        sox(out, "-r", "8000", "-e", "mu-law", tel, "sinc", "300-3400")
        out = tel
    return out


def main():
    recs = sorted(os.path.join(LIBRIVOX, f) for f in os.listdir(LIBRIVOX) if f.endswith(".wav"))
    conds = [("clean", None, None)] + [(f"{n} {s} dB", n, s)
                                       for n in ("pink", "brown", "babble") for s in (10, 5, 0)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for phone in (False, True):
            for name, noise, snr in conds:
                row = {"condition": name + (", 8 kHz mu-law" if phone else "")}
                for vad in ("energy", "silero"):
                    per = []
                    ran = total = 0
                    for rec in recs:
                        others = [o for o in recs if o != rec]
                        path = make_files(tmp, rec, others, noise, snr, phone)
                        t_on, t_off, _ = speech_bounds(rec)
                        onset, active, n_ran = run_vad(path, vad)
                        ran += n_ran
                        total += len(active)
                        per.append(score(onset, active, t_on + PAD_S, t_off + PAD_S))
                    on = [abs(p["onset_ms"]) for p in per if p["onset_ms"] is not None]
                    off = [abs(p["offset_ms"]) for p in per if p["offset_ms"] is not None]
                    row[vad] = {
                        "missed": sum(p["missed"] for p in per),
                        "onset_ms_median": round(statistics.median(on)) if on else None,
                        "onset_ms_max": round(max(on)) if on else None,
                        "offset_ms_median": round(statistics.median(off)) if off else None,
                        "offset_ms_max": round(max(off)) if off else None,
                        "false_triggers": sum(p["false_triggers"] for p in per),
                        "noise_active": round(statistics.mean(p["noise_active"] for p in per), 3),
                        "silero_share": round(ran / max(1, total), 3),
                    }
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    print(json.dumps({"pad_s": PAD_S, "tol_ms": TOL_MS, "files": len(recs),
                      "results": results}, indent=1))
    print("\n| condition | onset err ms, median/max: energy | silero | offset err ms: energy | "
          "silero | false triggers (5 files): energy | silero | noise chunks active: energy | "
          "silero | missed: energy | silero |", file=sys.stderr)
    print("|---|---|---|---|---|---|---|---|---|---|---|", file=sys.stderr)
    for r in results:
        e, s = r["energy"], r["silero"]
        print(f"| {r['condition']} | {e['onset_ms_median']}/{e['onset_ms_max']} | "
              f"{s['onset_ms_median']}/{s['onset_ms_max']} | "
              f"{e['offset_ms_median']}/{e['offset_ms_max']} | "
              f"{s['offset_ms_median']}/{s['offset_ms_max']} | {e['false_triggers']} | "
              f"{s['false_triggers']} | {e['noise_active']:.1%} | {s['noise_active']:.1%} | "
              f"{e['missed']} | {s['missed']} |", file=sys.stderr)


if __name__ == "__main__":
    main()

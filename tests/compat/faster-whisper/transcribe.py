#!/usr/bin/python3
"""Runs the reference faster-whisper on WAV files and prints one JSON document on stdout.

    /usr/bin/python3 transcribe.py --site SITE --model DIR [--threads N] FILE.wav...

SITE is what tests/compat/faster-whisper/setup.sh installed (it goes first on sys.path, so
nothing else can stand in for faster-whisper); DIR is a CTranslate2 Whisper directory. The
decoding options are the equivalent of `whisper-cli -bs 1 -bo 1 -nf -nt -sns -l en` (each is
explained in tests/integ/test_whisper_faithful.py). Audio is decoded by faster-whisper's own
decode_audio (PyAv); the samples are also read with the wave module and must be identical, so
both implementations see the same float samples (s16 / 32768).

Each file is transcribed twice (the test says why):
  shipped         model.transcribe() as users run it (the window padded with zeros);
  silence_padded  the same transcribe(), its encoder given whisper.cpp's window instead (the
                  log-mel of the audio followed by 30 s of zero samples, by faster-whisper's own
                  FeatureExtractor), plus the probability of each emitted token from one greedy
                  generate() on that window (softmax over the tokens that may be emitted).

Output: {"versions", "options", "compute_type", "threads", "load_s", "suppressed": [ids],
         "non_speech_tokens", "whisper_cpp_non_speech_tokens",
         "files": [{"path", "samples", "shipped": R, "silence_padded": R + {"p": [...]}}]}
  R = {"text", "tokens", "segments": [{"text", "tokens", "avg_logprob", "no_speech_prob",
       "temperature"}], "seconds"}
"""

import argparse
import json
import os
import sys
import time
import wave

OPTIONS = dict(
    language="en",
    task="transcribe",
    beam_size=1,                     # -bs 1: greedy (whisper-cli then picks WHISPER_SAMPLING_GREEDY)
    best_of=1,                       # -bo 1
    patience=1,
    length_penalty=1,
    repetition_penalty=1,
    no_repeat_ngram_size=0,
    temperature=[0.0],               # -nf: no temperature fallback
    compression_ratio_threshold=2.4,  # only decides fallbacks: none with one temperature
    log_prob_threshold=-1.0,         # whisper.cpp logprob_thold -1.0
    no_speech_threshold=0.6,         # whisper.cpp no_speech_thold 0.6 (same skip rule)
    condition_on_previous_text=True,  # whisper.cpp keeps the text of earlier windows in a call
    prompt_reset_on_temperature=0.5,
    initial_prompt=None,
    prefix=None,
    suppress_blank=True,             # whisper.cpp suppress_blank true
    suppress_tokens=[-1],            # -sns: non-speech symbols (the server's default too)
    without_timestamps=True,         # -nt: whisper.cpp then decodes with <|notimestamps|>
    max_initial_timestamp=1.0,
    word_timestamps=False,
    vad_filter=False,
    clip_timestamps="0",
    hallucination_silence_threshold=None,
    multilingual=False,
    log_progress=False,
)


# whisper.cpp 1.9.1's non_speech_tokens (src/whisper.cpp), suppressed by -sns: each string and
# " " + string where that is exactly one vocabulary entry, plus " -" and " '". faster-whisper's
# Tokenizer.non_speech_tokens builds its set from the same list, but also takes the first token
# of the multi-token music symbols. The runner reports both sets so the test can show the
# difference.
WHISPER_CPP_NST = [
    "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
    "_", "`", "{", "|", "}", "~", "\u300c", "\u300d", "\u300e", "\u300f", "<<", ">>", "<<<",
    ">>>", "--", "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}",
    "\u266a\u266a", "\u266a\u266a\u266a", "\u2669", "\u266a", "\u266b", "\u266c", "\u266d",
    "\u266e", "\u266f",
]


def byte_level(text):
    """GPT-2's byte-to-unicode form of text: how tokenizer.json spells a vocabulary entry."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return "".join(chr(table[b]) for b in text.encode("utf-8"))


def whisper_cpp_nst(hf_tokenizer):
    out = set()
    for s in WHISPER_CPP_NST:
        for t in (s, " " + s):
            i = hf_tokenizer.token_to_id(byte_level(t))
            if i is not None:
                out.add(i)
    for t in (" -", " '"):
        i = hf_tokenizer.token_to_id(byte_level(t))
        if i is not None:
            out.add(i)
    return sorted(out)


def read_wav_f32(path, np):
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != 16000:
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit WAV")
        pcm = w.readframes(w.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


N_SAMPLES = 30 * 16000  # one window
N_FRAMES = 3000


def transcribe(model, audio):
    t0 = time.monotonic()
    segments, _info = model.transcribe(audio, **OPTIONS)
    segs = [{"text": s.text, "tokens": list(s.tokens), "avg_logprob": s.avg_logprob,
             "no_speech_prob": s.no_speech_prob, "temperature": s.temperature}
            for s in segments]
    return {"text": "".join(s["text"] for s in segs),
            "tokens": [t for s in segs for t in s["tokens"]],
            "segments": segs, "seconds": round(time.monotonic() - t0, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    sys.path.insert(0, a.site)

    import ctranslate2
    import numpy as np
    import tokenizers
    import faster_whisper
    from faster_whisper import WhisperModel, decode_audio
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    for mod in (faster_whisper, ctranslate2, tokenizers):
        if not os.path.abspath(mod.__file__).startswith(os.path.abspath(a.site) + os.sep):
            raise SystemExit(f"{mod.__name__} came from {mod.__file__}, not from {a.site}")

    t0 = time.monotonic()
    # float32: what ctranslate2 picks on a CPU for this float16 model anyway (its CPU kernels
    # have no fp16 GEMM); said explicitly so the result cannot depend on the CPU's features.
    model = WhisperModel(a.model, device="cpu", compute_type="float32",
                         cpu_threads=a.threads, num_workers=1)
    load_s = time.monotonic() - t0
    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                    language="en")
    out = {
        "versions": {"faster_whisper": faster_whisper.__version__,
                     "ctranslate2": ctranslate2.__version__,
                     "tokenizers": tokenizers.__version__, "numpy": np.__version__},
        "options": {k: v for k, v in OPTIONS.items()},
        "compute_type": "float32",
        "threads": a.threads,
        "load_s": round(load_s, 3),
        # the ids faster-whisper never lets the decoder emit (non-speech symbols, task tokens)
        "suppressed": list(get_suppressed_tokens(tok, list(OPTIONS["suppress_tokens"]))),
        "non_speech_tokens": sorted(tok.non_speech_tokens),
        "whisper_cpp_non_speech_tokens": whisper_cpp_nst(model.hf_tokenizer),
        "files": [],
    }
    orig_encode = model.encode
    for path in a.files:
        audio = decode_audio(path, sampling_rate=16000)
        ref = read_wav_f32(path, np)
        if audio.shape != ref.shape or not np.array_equal(audio, ref):
            raise SystemExit(f"{path}: decode_audio gave other samples than the WAV holds")
        rec = {"path": path, "samples": int(audio.shape[0])}

        # 1. faster-whisper as users run it.
        model.encode = orig_encode
        rec["shipped"] = transcribe(model, audio)

        # 2. The same, but the 30 s window the encoder sees is whisper.cpp's: faster-whisper
        # (like openai-whisper since 20231117) computes the log-mel of the audio alone and pads
        # the window with zeros; whisper.cpp (like openai-whisper before) appends 30 s of zero
        # samples before the log-mel, so the padding is the log-mel of silence (the clamped
        # floor, max - 2 after scaling) and the last frames overlap that silence. Here that
        # window is made by faster-whisper's own FeatureExtractor (padding=30 s of samples) and
        # handed to its encoder; prompt, decoding and text are faster-whisper's as in 1.
        if audio.shape[0] > N_SAMPLES:
            raise SystemExit(f"{path}: longer than one 30 s window (the mode 2 comparison "
                             "handles one window)")
        window = model.feature_extractor(audio, padding=N_SAMPLES)[:, :N_FRAMES]
        calls = []

        def encode_whisper_cpp_window(segment, window=window, calls=calls):
            calls.append(segment.shape)
            return orig_encode(window)

        model.encode = encode_whisper_cpp_window
        rec["silence_padded"] = transcribe(model, audio)
        if len(calls) != 1:
            raise SystemExit(f"{path}: the encoder ran {len(calls)} times, expected one window")
        # The probability of each emitted token (softmax over the tokens the decoder may
        # emit, as whisper.cpp reports p), from one greedy pass of the same decoder on the same
        # window; it must emit the same tokens as transcribe() did.
        model.encode = orig_encode
        enc = orig_encode(window)
        prompt = model.get_prompt(tok, [], without_timestamps=True)
        r = model.model.generate(enc, [prompt], beam_size=1, return_logits_vocab=True,
                                 suppress_blank=True, suppress_tokens=out["suppressed"],
                                 max_length=448)[0]
        ids = [t for t in r.sequences_ids[0] if t < tok.eot]
        if ids != [t for t in rec["silence_padded"]["tokens"] if t < tok.eot]:
            raise SystemExit(f"{path}: generate() and transcribe() decoded other tokens")
        probs = []
        for step, t in enumerate(ids):
            x = np.asarray(r.logits[0][step], dtype=np.float64)
            e = np.exp(x - x.max())
            probs.append(round(float(e[t] / e.sum()), 6))
        rec["silence_padded"]["p"] = probs
        out["files"].append(rec)
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""faster-whisper (CTranslate2) model directories: the converter (tools/ct2-to-ggml, the server's
own code) and the server loading them.

1. The real tiny.en directory (scripts/fetch-models.sh) converts to a ggml file whose every
   tensor equals the mapping of the CTranslate2 variables computed here in numpy
   (tests/integ/ct2_files.py, written from the format spec, not from the C code), whose mel
   filters equal OpenAI's mel_filters.npz bit for bit, and whose vocabulary bytes equal OpenAI's
   gpt2.tiktoken.
2. Random-weight models of other shapes and dtypes written by ct2_files.py: float32, float16,
   bfloat16 (rounded to f16), int8 with per-row scales and int16 with one scale (dequantised to f16),
   unequal encoder/decoder depths (distil-like), and large-v3's 128 mel bins with its
   multilingual vocabulary (vocabulary.json): tensors as expected, filters equal to mel_128, and
   whisper-cli loads and runs each file.
3. Broken models: model.bin cut at several places, a wrong spec name, an unknown dtype id, a
   byte count that does not match the shape, no tokenizer, a directory without model.bin - the
   converter and the server each exit 2 with one line saying what is wrong.
4. The server: --model with a faster-whisper name found in a Hugging Face hub cache
   (--download_root, HF_HOME, HF_HUB_CACHE), converted once into the model directory; a second
   start reuses the file without converting; a changed source converts again. It transcribes a
   real recording with the converted real weights (word-level check). Time to ready is printed.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import time

import numpy as np

import harness as h
import ct2_files as ct2

MODEL_DIR = os.path.join(h.SOURCE_DIR, ".deps", "models", "faster-whisper-tiny.en")
ASSETS = os.path.join(h.SOURCE_DIR, ".deps", "models", "openai-whisper-assets")
CONVERT = os.path.join(h.BUILD_DIR, "ct2-to-ggml")
FILE = os.path.join(h.LIBRIVOX_DIR, "sense_and_sensibility_01_austen_64kb-0870.wav")


def convert(src, dst):
    return subprocess.run([CONVERT, src, dst], capture_output=True, text=True, timeout=120)


def compare(path, expected, f32_weights):
    """Every tensor of the ggml file against the expected float32 arrays (PyTorch shape):
    weights f16 (f32 with f32_weights), the rest f32, bit for bit."""
    hp, filters, words, tensors = ct2.read_ggml(path)
    missing = set(expected) - set(tensors)
    extra = set(tensors) - set(expected)
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    for name, want in expected.items():
        tt, ne, got = tensors[name]
        assert ne == tuple(reversed(want.shape)), f"{name}: ne {ne}, want {want.shape[::-1]}"
        is_weight = want.ndim >= 2 and name.endswith("weight")
        want_tt = 0 if (not is_weight or f32_weights) else 1
        assert tt == want_tt, f"{name}: type {tt}, want {want_tt}"
        want_vals = want.reshape(-1).astype(np.float16 if tt == 1 else np.float32)
        if not np.array_equal(got.view(np.uint16 if tt == 1 else np.uint32),
                              want_vals.view(np.uint16 if tt == 1 else np.uint32)):
            bad = int(np.sum(got != want_vals))
            raise AssertionError(f"{name}: {bad} of {got.size} values differ")
    return hp, filters, words


def check_real():
    out = os.path.join(h.tmpdir("ct2"), "tiny.en.bin")
    t = time.monotonic()
    r = convert(MODEL_DIR, out)
    assert r.returncode == 0, r.stderr
    h.log(f"converted the real tiny.en in {time.monotonic() - t:.2f} s: {r.stdout.strip()}")
    src = ct2.read_ct2(os.path.join(MODEL_DIR, "model.bin"))
    hp, filters, words = compare(out, ct2.expected_ggml(src, 384, 4, 4), False)
    assert hp == [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1], hp
    mel = np.load(os.path.join(ASSETS, "mel_filters.npz"))["mel_80"]
    assert np.array_equal(filters.view(np.uint32), mel.view(np.uint32)), \
        f"mel filters differ from mel_filters.npz in " \
        f"{int(np.sum(filters.view(np.uint32) != mel.view(np.uint32)))} values"
    gpt2 = ct2.tiktoken_tokens(os.path.join(ASSETS, "gpt2.tiktoken"))
    assert len(words) == 50257 and words[:50256] == gpt2 and words[50256] == b"<|endoftext|>", \
        f"{len(words)} words; first difference at " \
        f"{next((i for i, (a, b) in enumerate(zip(words, gpt2)) if a != b), None)}"
    h.log("real tiny.en: 167 tensors equal the numpy mapping; mel filters equal mel_filters.npz "
          "(16,080 values, bit for bit); 50,256 tokens equal gpt2.tiktoken")
    return out


def synth_dir(root, name, rng, vocab_json=False, **shape):
    d = os.path.join(root, name)
    os.makedirs(d)
    variables, aliases = ct2.whisper_variables(rng, **shape)
    ct2.write_ct2(os.path.join(d, "model.bin"), variables, aliases)
    n_vocab = shape.get("n_vocab", 51864)
    if vocab_json:
        base = ct2.tiktoken_tokens(os.path.join(ASSETS, "multilingual.tiktoken"))
        words = ct2.vocabulary_for(base[:50257], n_vocab)
        import json
        with open(os.path.join(d, "vocabulary.json"), "w") as f:
            json.dump(words, f)
    else:
        shutil.copy(os.path.join(MODEL_DIR, "vocabulary.txt"), d)
    return d, variables


def run_cli(model, wav, lang="en"):
    r = subprocess.run([h.whisper_cli(), "-m", model, "-f", wav, "-t", "2", "-l", lang, "-nt",
                        "-bs", "1", "-bo", "1", "-nf", "-d", "2000"],
                       capture_output=True, encoding="utf-8", errors="replace", timeout=300)
    assert r.returncode == 0, f"whisper-cli failed on {model}: {r.stderr[-800:]}"
    return r


def check_synthetic(root, wav):
    rng = np.random.default_rng(13)
    cases = [
        ("float32", dict(dtype="float32")),
        ("float16-distil", dict(dtype="float16", enc_layers=2, dec_layers=1)),
        ("bfloat16", dict(dtype="bfloat16")),
        ("int8", dict(dtype="int8")),
        ("int16", dict(dtype="int16")),
    ]
    for name, shape in cases:
        d, variables = synth_dir(root, name, rng, **shape)
        out = os.path.join(root, name + ".bin")
        r = convert(d, out)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        hp, _, _ = compare(out, ct2.expected_ggml(variables, 64, shape.get("enc_layers", 2),
                                                  shape.get("dec_layers", 1)),
                           False)
        assert hp[10] == 1, hp
        run_cli(out, wav)
        h.log(f"{name}: converted, tensors as expected, whisper-cli loads and runs it")
    # large-v3's shape where it matters: 128 mel bins, the multilingual 51866 vocabulary.
    d, variables = synth_dir(root, "v3", rng, vocab_json=True, n_mels=128, n_vocab=51866)
    out = os.path.join(root, "v3.bin")
    r = convert(d, out)
    assert r.returncode == 0, r.stderr
    hp, filters, words = compare(out, ct2.expected_ggml(variables, 64, 2, 1), False)
    assert hp[0] == 51866 and hp[9] == 128, hp
    mel = np.load(os.path.join(ASSETS, "mel_filters.npz"))["mel_128"]
    assert np.array_equal(filters.view(np.uint32), mel.view(np.uint32)), \
        f"128-bin filters differ in " \
        f"{int(np.sum(filters.view(np.uint32) != mel.view(np.uint32)))} values"
    multi = ct2.tiktoken_tokens(os.path.join(ASSETS, "multilingual.tiktoken"))
    assert len(words) == 50258 and words[:50257] == multi[:50257], len(words)
    run_cli(out, wav)
    h.log("v3 shape (128 mels, vocab 51866, vocabulary.json): filters equal mel_128, "
          "whisper-cli loads and runs it")


def broken_models(root):
    """(name, directory, what the line must say)."""
    real = open(os.path.join(MODEL_DIR, "model.bin"), "rb").read()
    cases = []

    def make(name, blob=None, tokenizer=True):
        d = os.path.join(root, "broken-" + name)
        os.makedirs(d)
        if blob is not None:
            with open(os.path.join(d, "model.bin"), "wb") as f:
                f.write(blob)
        if tokenizer:
            os.symlink(os.path.join(MODEL_DIR, "vocabulary.txt"),
                       os.path.join(d, "vocabulary.txt"))
        return d

    for cut in (0, 3, 20, 187, 1000, 1_000_000, len(real) - 1):
        want = "empty file" if cut == 0 else "truncated"
        cases.append((f"cut at {cut}", make(f"cut{cut}", real[:cut]), want))
    cases.append(("wrong spec", make("spec", real.replace(b"WhisperSpec", b"TransformSp", 1)),
                  "not a Whisper model"))
    cases.append(("no tokenizer", make("notok", real, tokenizer=False), "no tokenizer"))
    cases.append(("trailing bytes", make("trail", real + b"\0\0"), "after the last alias"))
    rng = np.random.default_rng(5)
    variables, aliases = ct2.whisper_variables(rng, d=64, enc_layers=1, dec_layers=1)
    blob = ct2.write_ct2(None, variables, aliases,
                         dtype_override={"encoder/conv1/bias": 9})
    cases.append(("unknown dtype", make("dtype", blob), "unknown dtype id 9"))
    blob = ct2.write_ct2(None, variables, aliases,
                         size_override={"encoder/conv1/bias": 10})
    cases.append(("byte count", make("size", blob), "bytes for 64 values"))
    blob = ct2.write_ct2(None, variables, aliases, version=3)
    cases.append(("old binary version", make("v3", blob), "binary version 3"))
    del variables["encoder/layer_0/ffn/linear_1/weight"]
    blob = ct2.write_ct2(None, variables, aliases)
    cases.append(("missing tensor", make("missing", blob), "encoder/layer_0/ffn/linear_1/weight"))
    cases.append(("no model.bin", make("nomodel"), "model.bin"))
    return cases


def check_broken(root):
    for name, d, want in broken_models(root):
        out = os.path.join(root, "out.bin")
        r = convert(d, out)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2, f"{name}: ct2-to-ggml exit {r.returncode}: {r.stderr}"
        assert len(lines) == 1 and want in lines[0], f"{name}: {r.stderr!r} lacks {want!r}"
        assert not os.path.exists(out), f"{name}: a partial output was left"
        leftovers = [f for f in os.listdir(root) if ".tmp." in f]
        assert not leftovers, f"{name}: temporary files left: {leftovers}"
        if name in ("cut at 1000000", "wrong spec", "no tokenizer", "no model.bin"):
            env = dict(os.environ, STT_MODEL_DIR=os.path.join(root, "cache"))
            ports = [str(x) for x in h.free_ports(3)]
            p = subprocess.run([h.SERVER_BIN, "--model", d, "--rt-model", d, "--control",
                                ports[0], "--data", ports[1], "--monitor_port", ports[2]],
                               capture_output=True, text=True, timeout=30, env=env)
            lines = p.stderr.strip().splitlines()
            assert p.returncode == 2, f"server, {name}: exit {p.returncode}: {p.stderr[-500:]}"
            assert len(lines) == 1 and lines[0].startswith("stt-server: error:") and \
                want in lines[0], f"server, {name}: {p.stderr!r}"
        h.log(f"broken model, {name}: exit 2, {lines[0]}")


def hub_cache(root, rev="0d3d19a32d3338f10357c0889762bd8d64bbdeba", copy=()):
    """A Hugging Face hub cache holding the real tiny.en as faster-whisper downloads it."""
    entry = os.path.join(root, "models--Systran--faster-whisper-tiny.en")
    snap = os.path.join(entry, "snapshots", rev)
    os.makedirs(snap)
    os.makedirs(os.path.join(entry, "refs"))
    with open(os.path.join(entry, "refs", "main"), "w") as f:
        f.write(rev)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        if name in copy:
            shutil.copy(os.path.join(MODEL_DIR, name), os.path.join(snap, name))
        else:
            os.symlink(os.path.join(MODEL_DIR, name), os.path.join(snap, name))
    return snap


def start_server(root, name, env_extra, *args):
    env_keep = {k: os.environ.get(k) for k in ("HF_HOME", "HF_HUB_CACHE", "STT_MODEL_DIR")}
    for k in env_keep:
        os.environ.pop(k, None)
    os.environ.update(env_extra)
    try:
        srv = h.Server("--model", "tiny.en", "--rt-model", "tiny.en", "--workers", "2",
                       "--whisper_threads", "1", "--language", "en", *args, engine="whisper",
                       name=name)
        t = time.monotonic()
        srv.start(ready_timeout=120)
        return srv, time.monotonic() - t
    finally:
        for k, v in env_keep.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v


def check_server(root):
    cache = os.path.join(root, "models")
    hub = os.path.join(root, "hf", "hub")
    hub_cache(hub)
    env = {"HF_HOME": os.path.join(root, "hf"), "STT_MODEL_DIR": cache}
    srv, first = start_server(root, "ct2-first", env)
    try:
        log = srv.log_text()
        assert "whisper_convert" in log, "the first start did not convert"
        files = [f for f in os.listdir(cache) if f.startswith("ggml-ct2-")]
        assert len(files) == 1, files
        pcm, rate = h.read_wav(FILE)
        c = h.run_async(h.transcribe(srv.data_url(), pcm, rate, expect_finals=1,
                                     final_timeout=60.0, name="ct2"))
        text = " ".join(c.finals())
        ref = "and mister john dashwood had then leisure to consider how much there might be " \
              "prudently in his power to do for them"
        w = h.wer([(ref, text)])[0]
        h.log(f"real tiny.en through the server: {text!r} (WER {w:.3f})")
        assert w <= 0.15, f"WER {w:.3f}: {text!r}"
    finally:
        assert srv.stop() == 0, "server exit status"
    srv, second = start_server(root, "ct2-second", env)
    assert srv.stop() == 0
    assert "whisper_convert" not in srv.log_text(), "the second start converted again"
    h.log(f"time to ready: {first:.2f} s converting, {second:.2f} s reusing the conversion")
    # HF_HUB_CACHE and --download_root are honoured; a changed source converts anew.
    hub2 = os.path.join(root, "hub2")
    snap = hub_cache(hub2, rev="1111111111111111111111111111111111111111", copy=("config.json",))
    with open(os.path.join(snap, "config.json"), "a") as f:
        f.write("\n")
    srv, _ = start_server(root, "ct2-hubcache", {"HF_HUB_CACHE": hub2, "STT_MODEL_DIR": cache})
    assert srv.stop() == 0
    assert "whisper_convert" in srv.log_text(), "a changed config.json did not convert anew"
    files = [f for f in os.listdir(cache) if f.startswith("ggml-ct2-")]
    assert len(files) == 2, files
    root3 = os.path.join(root, "dlroot")
    hub_cache(root3)
    srv, _ = start_server(root, "ct2-dlroot", {}, "--download_root", root3)
    assert srv.stop() == 0
    assert any(f.startswith("ggml-ct2-") for f in os.listdir(root3)), os.listdir(root3)
    h.log("hub caches: HF_HOME, HF_HUB_CACHE and --download_root found; conversion reused, "
          "redone when a source changed")


def main():
    h.watchdog(540)
    missing = [p for p in (MODEL_DIR, ASSETS, CONVERT) if not os.path.exists(p)]
    if missing:
        h.log(f"SKIP: {missing} absent (scripts/setup.sh runs scripts/fetch-models.sh)")
        sys.exit(77)
    failures = []
    root = h.tmpdir("ct2conv")
    wav = os.path.join(root, "one.wav")
    pcm, rate = h.read_wav(FILE)
    h.write_wav(wav, pcm[:rate * 2], rate)
    step = h.stepper(failures)

    step("real tiny.en", check_real)
    step("synthetic shapes and dtypes", lambda: check_synthetic(root, wav))
    step("broken models", lambda: check_broken(os.path.join(root, "broken")))
    step("server", lambda: check_server(os.path.join(root, "srv")))
    sys.exit(h.report(failures))


if __name__ == "__main__":
    main()

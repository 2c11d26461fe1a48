#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_ct2.c into tests/fuzz/corpus/ct2/ (checked in; run
again only to change it). Small model.bin files made by tests/integ/ct2_files.py, an
implementation of the format independent of the C reader: valid Whisper models of tiny shapes in
each dtype (one with Whisper's real vocabulary size, so the converter runs to the end), and
broken variants (cut, a wrong dtype id or byte count, trailing bytes, an old binary version, an
alias to nothing)."""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integ"))
import ct2_files as ct2  # noqa: E402

OUT = os.path.join(HERE, "corpus", "ct2")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(42)
    small = dict(d=4, heads=1, enc_layers=1, dec_layers=1, audio_ctx=4, text_ctx=4, n_vocab=64)

    def save(name, blob):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(blob)

    for dt in ("float16", "float32", "bfloat16", "int8", "int16"):
        v, a = ct2.whisper_variables(rng, dtype=dt, **small)
        save(f"ok_small_{dt}.bin", ct2.write_ct2(None, v, a))
    # Whisper's vocabulary size, int8 (the smallest): converts to a complete ggml file.
    v, a = ct2.whisper_variables(rng, dtype="int8", **dict(small, n_vocab=51864))
    blob = ct2.write_ct2(None, v, a)
    save("ok_whisper_vocab_int8.bin", blob)
    save("ok_v3_shape_int8.bin", ct2.write_ct2(None, *ct2.whisper_variables(
        rng, dtype="int8", **dict(small, n_vocab=51866, n_mels=128))))
    v, a = ct2.whisper_variables(rng, **small)
    good = ct2.write_ct2(None, v, a)
    for cut in (2, 9, 30, 100, len(good) // 2, len(good) - 1):
        save(f"err_cut_{cut}.bin", good[:cut])
    save("err_trailing.bin", good + b"\x00")
    save("err_dtype.bin", ct2.write_ct2(None, v, a, dtype_override={"encoder/conv1/bias": 7}))
    save("err_size.bin", ct2.write_ct2(None, v, a, size_override={"encoder/conv1/bias": 3}))
    save("err_version3.bin", ct2.write_ct2(None, v, a, version=3))
    save("ok_other_spec.bin", ct2.write_ct2(None, v, a, spec="TransformerSpec"))
    save("ok_dangling_alias.bin", ct2.write_ct2(None, v, [("x/y", "no/such/variable")]))
    save("ok_no_variables.bin", ct2.write_ct2(None, {}, []))
    w = dict(v)
    del w["encoder/layer_0/self_attention/linear_0/weight"]
    save("ok_missing_tensor.bin", ct2.write_ct2(None, w, a))
    w = dict(v)
    w["encoder/conv1/weight"] = (4, np.zeros((4, 0, 3), dtype=np.float16))
    save("ok_zero_dim.bin", ct2.write_ct2(None, w, a))
    print(f"wrote {len(os.listdir(OUT))} files into {OUT}")


if __name__ == "__main__":
    main()

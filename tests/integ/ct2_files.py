"""CTranslate2 model.bin and whisper.cpp ggml files, read and written in Python (numpy), from the
format descriptions in ../shared/specs/whisper-weights.md: an implementation independent of the C
converter (src/engine/ct2*.c), used by tests/integ/test_ct2_convert.py and to write the fuzz seed
corpus (tests/fuzz/corpus/ct2/).

write_ct2(path, variables, aliases) writes a model.bin; whisper_variables(...) makes the variables
of a Whisper model of any shape with random weights stored in any CTranslate2 dtype (int8/int16
with their scales); read_ct2 and read_ggml parse the two formats."""

import base64
import struct

import numpy as np

DTYPES = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}
NP = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def _str(s):
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


def to_bf16(a):
    """float32 -> bfloat16 bits (round to nearest even), as uint16."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def write_ct2(path, variables, aliases=(), version=6, spec="WhisperSpec", revision=3,
              dtype_override=None, size_override=None):
    """variables: {name: (dtype_id, ndarray)} (bfloat16 as uint16 bits). Sorted by name as
    CTranslate2 writes them. dtype_override / size_override ({name: value}) write a wrong dtype
    id or byte count for a variable, to make broken files."""
    out = [struct.pack("<I", version), _str(spec), struct.pack("<I", revision),
           struct.pack("<I", len(variables))]
    for name in sorted(variables):
        dt, arr = variables[name]
        data = np.ascontiguousarray(arr).tobytes()
        out.append(_str(name))
        out.append(struct.pack("<B", arr.ndim))
        out.append(struct.pack(f"<{arr.ndim}I", *arr.shape))
        out.append(struct.pack("<B", (dtype_override or {}).get(name, dt)))
        out.append(struct.pack("<I", (size_override or {}).get(name, len(data))))
        out.append(data)
    out.append(struct.pack("<I", len(aliases)))
    for a, t in aliases:
        out.append(_str(a) + _str(t))
    blob = b"".join(out)
    if path:
        with open(path, "wb") as f:
            f.write(blob)
    return blob


def read_ct2(path):
    """{name: (dtype_id, ndarray)} with aliases resolved (bfloat16 as uint16 bits)."""
    b = open(path, "rb").read()
    p = 0

    def take(n):
        nonlocal p
        v = b[p:p + n]
        assert len(v) == n, "truncated"
        p += n
        return v

    def s():
        (n,) = struct.unpack("<H", take(2))
        return take(n)[:-1].decode()

    (version,) = struct.unpack("<I", take(4))
    assert version >= 4
    s()
    take(4)
    (n,) = struct.unpack("<I", take(4))
    out = {}
    for _ in range(n):
        name = s()
        (rank,) = struct.unpack("<B", take(1))
        dims = struct.unpack(f"<{rank}I", take(4 * rank))
        dt, nb = struct.unpack("<BI", take(5))
        raw = take(nb)
        np_t = np.uint16 if dt == 5 else NP[dt]
        out[name] = (dt, np.frombuffer(raw, dtype=np_t).reshape(dims))
    (na,) = struct.unpack("<I", take(4))
    for _ in range(na):
        a, t = s(), s()
        out[a] = out[t]
    assert p == len(b)
    return out


def as_float(dt, arr):
    if dt == 5:
        return from_bf16(arr)
    return arr.astype(np.float32)


def dequant(vars_, name):
    """The float32 values of a variable, int8/int16 divided by their scale."""
    dt, arr = vars_[name]
    v = as_float(dt, arr)
    if dt in (1, 2):
        sdt, sc = vars_[name + "_scale"]
        sc = as_float(sdt, sc)
        v = v / (sc.reshape(-1, *([1] * (v.ndim - 1))) if sc.ndim else sc)
    return v


def read_ggml(path):
    """(hparams list, filters ndarray, words [bytes], {name: (ttype, ne tuple, ndarray)})."""
    b = open(path, "rb").read()
    p = 0

    def i32(n=1):
        nonlocal p
        v = struct.unpack_from(f"<{n}i", b, p)
        p += 4 * n
        return v

    assert i32()[0] == 0x67676D6C
    hp = list(i32(11))
    n_mel, n_fft = i32(2)
    filters = np.frombuffer(b, dtype="<f4", count=n_mel * n_fft, offset=p).reshape(n_mel, n_fft)
    p += 4 * n_mel * n_fft
    (n_words,) = i32()
    words = []
    for _ in range(n_words):
        (ln,) = i32()
        words.append(b[p:p + ln])
        p += ln
    tensors = {}
    while p < len(b):
        nd, nl, tt = i32(3)
        ne = i32(nd)
        name = b[p:p + nl].decode()
        p += nl
        count = int(np.prod(ne))
        dt = np.float32 if tt == 0 else np.float16
        tensors[name] = (tt, tuple(ne), np.frombuffer(b, dtype=dt, count=count, offset=p))
        p += count * np.dtype(dt).itemsize
    return hp, filters, words, tensors


def byte_encoder():
    """GPT-2's bytes_to_unicode: byte -> str."""
    bs = (list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100)))
    cs = bs[:]
    n = 0
    for x in range(256):
        if x not in bs:
            bs.append(x)
            cs.append(256 + n)
            n += 1
    return {x: chr(c) for x, c in zip(bs, cs)}


def tiktoken_tokens(path):
    """The ranks of a .tiktoken file as bytes, in rank order."""
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, r = line.split()
                ranks[int(r)] = base64.b64decode(tok)
    return [ranks[i] for i in range(len(ranks))]


def vocabulary_for(base_tokens, n_vocab):
    """A CTranslate2 vocabulary list: the byte-level BPE tokens, then Whisper's special tokens
    up to n_vocab (their names only matter for <|endoftext|> and <|startoftranscript|>)."""
    enc = byte_encoder()
    words = ["".join(enc[x] for x in t) for t in base_tokens]
    words.append("<|endoftext|>")
    words.append("<|startoftranscript|>")
    while len(words) < n_vocab:
        words.append(f"<|special_{len(words)}|>")
    return words


def whisper_variables(rng, d=64, heads=2, enc_layers=2, dec_layers=1, n_mels=80, n_vocab=51864,
                      audio_ctx=1500, text_ctx=448, dtype="float16"):
    """The variables of a Whisper model of this shape with random weights, weights in dtype
    (int8/int16 quantised with scales as CTranslate2 does), the rest float32 for integer dtypes
    and dtype otherwise. Returns (variables, aliases)."""
    wt = DTYPES[dtype]
    ft = 0 if dtype in ("int8", "int16", "float32") else wt
    v = {}

    def put_float(name, a, t):
        a = a.astype(np.float32)
        if t == 5:
            v[name] = (5, to_bf16(a))
        else:
            v[name] = (t, a.astype(NP[t]))

    def weight(name, shape, a=None):
        if a is None:
            a = rng.standard_normal(shape).astype(np.float32) * 0.05
        if wt == 1:  # int8: one scale per output row
            scale = 127.0 / np.maximum(np.abs(a.reshape(shape[0], -1)).max(axis=1), 1e-6)
            q = np.round(a * scale.reshape(-1, *([1] * (a.ndim - 1)))).astype(np.int8)
            v[name] = (1, q)
            v[name + "_scale"] = (0, scale.astype(np.float32))
        elif wt == 2:  # int16: one scale for the tensor
            scale = np.float32(32767.0 / max(np.abs(a).max(), 1e-6))
            v[name] = (2, np.round(a * scale).astype(np.int16))
            v[name + "_scale"] = (0, np.array(scale, dtype=np.float32))
        else:
            put_float(name, a, wt)

    def vec(name, n, zero_from=None):
        a = rng.standard_normal(n).astype(np.float32) * 0.1
        if zero_from is not None:
            a[zero_from[0]:zero_from[1]] = 0
        put_float(name, a, ft)

    def norm(prefix):
        put_float(prefix + "/gamma", 1 + rng.standard_normal(d) * 0.01, ft)
        put_float(prefix + "/beta", rng.standard_normal(d) * 0.01, ft)

    def linear(prefix, rows, cols, zero=None):
        weight(prefix + "/weight", (rows, cols))
        vec(prefix + "/bias", rows, zero)

    weight("encoder/conv1/weight", (d, n_mels, 3))
    vec("encoder/conv1/bias", d)
    weight("encoder/conv2/weight", (d, d, 3))
    vec("encoder/conv2/bias", d)
    put_float("encoder/position_encodings/encodings", rng.standard_normal((audio_ctx, d)), ft)
    norm("encoder/layer_norm")
    v["encoder/num_heads"] = (2, np.array(heads, dtype=np.int16))
    for side, n in (("encoder", enc_layers), ("decoder", dec_layers)):
        for i in range(n):
            pre = f"{side}/layer_{i}"
            norm(pre + "/self_attention/layer_norm")
            linear(pre + "/self_attention/linear_0", 3 * d, d, zero=(d, 2 * d))
            linear(pre + "/self_attention/linear_1", d, d)
            norm(pre + "/ffn/layer_norm")
            linear(pre + "/ffn/linear_0", 4 * d, d)
            linear(pre + "/ffn/linear_1", d, 4 * d)
            if side == "decoder":
                norm(pre + "/attention/layer_norm")
                linear(pre + "/attention/linear_0", d, d)
                linear(pre + "/attention/linear_1", 2 * d, d, zero=(0, d))
                linear(pre + "/attention/linear_2", d, d)
    # The decoder's output is made constant (final norm gain 0, bias b) and <|endoftext|>'s
    # embedding 100 b, so a decoder stops after its first token: random weights decode 224
    # tokens of noise otherwise, and whisper-cli takes minutes on them.
    b = (rng.standard_normal(d) * 0.1).astype(np.float32)
    emb = rng.standard_normal((n_vocab, d)).astype(np.float32) * 0.05
    eot = 50256 if n_vocab < 51865 else 50257
    if eot < n_vocab:
        emb[eot] = 100 * b
    weight("decoder/embeddings/weight", (n_vocab, d), emb)
    put_float("decoder/position_encodings/encodings", rng.standard_normal((text_ctx, d)), ft)
    put_float("decoder/layer_norm/gamma", np.zeros(d), ft)
    put_float("decoder/layer_norm/beta", b, ft)
    v["decoder/num_heads"] = (2, np.array(heads, dtype=np.int16))
    v["decoder/activation"] = (1, np.array(3, dtype=np.int8))
    v["decoder/pre_norm"] = (1, np.array(1, dtype=np.int8))
    v["decoder/scale_embeddings"] = (1, np.array(0, dtype=np.int8))
    return v, [("decoder/projection/weight", "decoder/embeddings/weight")]


def expected_ggml(vars_, d, enc_layers, dec_layers):
    """{ggml name: float32 ndarray in PyTorch shape} computed from CTranslate2 variables: the
    mapping of the spec's section 4, written independently of the C converter."""
    out = {}

    def f(name):
        return dequant(vars_, name)

    out["encoder.positional_embedding"] = f("encoder/position_encodings/encodings")
    for k in (1, 2):
        out[f"encoder.conv{k}.weight"] = f(f"encoder/conv{k}/weight")
        out[f"encoder.conv{k}.bias"] = f(f"encoder/conv{k}/bias").reshape(-1, 1)
    out["encoder.ln_post.weight"] = f("encoder/layer_norm/gamma")
    out["encoder.ln_post.bias"] = f("encoder/layer_norm/beta")
    out["decoder.positional_embedding"] = f("decoder/position_encodings/encodings")
    out["decoder.token_embedding.weight"] = f("decoder/embeddings/weight")
    out["decoder.ln.weight"] = f("decoder/layer_norm/gamma")
    out["decoder.ln.bias"] = f("decoder/layer_norm/beta")
    for side, n in (("encoder", enc_layers), ("decoder", dec_layers)):
        for i in range(n):
            g, c = f"{side}.blocks.{i}.", f"{side}/layer_{i}/"
            w = f(c + "self_attention/linear_0/weight")
            bias = f(c + "self_attention/linear_0/bias")
            out[g + "attn.query.weight"], out[g + "attn.key.weight"], \
                out[g + "attn.value.weight"] = w[:d], w[d:2 * d], w[2 * d:]
            out[g + "attn.query.bias"], out[g + "attn.value.bias"] = bias[:d], bias[2 * d:]
            out[g + "attn.out.weight"] = f(c + "self_attention/linear_1/weight")
            out[g + "attn.out.bias"] = f(c + "self_attention/linear_1/bias")
            out[g + "attn_ln.weight"] = f(c + "self_attention/layer_norm/gamma")
            out[g + "attn_ln.bias"] = f(c + "self_attention/layer_norm/beta")
            out[g + "mlp.0.weight"] = f(c + "ffn/linear_0/weight")
            out[g + "mlp.0.bias"] = f(c + "ffn/linear_0/bias")
            out[g + "mlp.2.weight"] = f(c + "ffn/linear_1/weight")
            out[g + "mlp.2.bias"] = f(c + "ffn/linear_1/bias")
            out[g + "mlp_ln.weight"] = f(c + "ffn/layer_norm/gamma")
            out[g + "mlp_ln.bias"] = f(c + "ffn/layer_norm/beta")
            if side == "decoder":
                out[g + "cross_attn.query.weight"] = f(c + "attention/linear_0/weight")
                out[g + "cross_attn.query.bias"] = f(c + "attention/linear_0/bias")
                kv = f(c + "attention/linear_1/weight")
                kvb = f(c + "attention/linear_1/bias")
                out[g + "cross_attn.key.weight"], out[g + "cross_attn.value.weight"] = \
                    kv[:d], kv[d:]
                out[g + "cross_attn.value.bias"] = kvb[d:]
                out[g + "cross_attn.out.weight"] = f(c + "attention/linear_2/weight")
                out[g + "cross_attn.out.bias"] = f(c + "attention/linear_2/bias")
                out[g + "cross_attn_ln.weight"] = f(c + "attention/layer_norm/gamma")
                out[g + "cross_attn_ln.bias"] = f(c + "attention/layer_norm/beta")
    return out

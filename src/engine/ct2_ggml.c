/* CTranslate2 Whisper directory -> whisper.cpp ggml file (include/stt/ct2.h: stt_ct2_convert).
 *
 * Threads: the loader thread (server) or tools/ct2-to-ggml; no shared state. Memory: the model.bin
 * is mapped (src/engine/ct2.c), tensors are converted one row at a time into a small buffer and
 * their pages dropped once converted (drop_pages), so the process stays small even for large-v3
 * (bench/README.md).
 *
 * The mapping (../shared/specs/whisper-weights.md, sections 3 and 4): no transposes (PyTorch's
 * row-major (out, in) is ggml's ne = [in, out]); the fused self-attention [Wq; Wk; Wv] and the
 * cross-attention [Wk; Wv] are split on rows; the key bias CTranslate2 stores (zeros from its
 * fuse step) is dropped, which is exact even if it were not zero: a bias added to every key adds
 * the same q.b to every score of a query, and softmax ignores a constant. Weights are written as
 * f16 (ftype 1), whatever the source: f16 copied exactly, f32 and bf16 rounded to nearest even,
 * int8/int16 dequantised with their scales (w = q / scale[row]) and rounded; an f32 ggml file
 * is no option, whisper.cpp 1.9.1's CPU convolution asserts an f16 kernel. Biases, norms and
 * positional embeddings are f32, as whisper.cpp expects. Tensors come in OpenAI's state-dict order, the order whisper.cpp's own converter
 * writes, with tokens 0..eot of the vocabulary as the 2022 conversions did. */
#include "stt/ct2.h"
#include "stt/error.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGML_MAGIC 0x67676d6c
#define N_FFT_BINS 201
#define MAX_NAME 128

typedef struct {
    stt_ct2_model_t m;
    FILE *out;
    float *row;    /* conversion buffer */
    size_t row_cap;
    uint16_t *half;
    int n_tensors;
    char *err;
    size_t errlen;
} conv_t;

static int fail(conv_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- number formats ---- */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* float -> IEEE half, round to nearest even; overflow to infinity, NaN kept a NaN. */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000)
        return sign | 0x7e00;
    if (ax >= 0x477ff000) /* rounds to >= 65520: infinity */
        return sign | 0x7c00;
    if (ax < 0x38800000) { /* below the smallest normal half: subnormal or zero */
        if (ax < 0x33000000)
            return sign;
        uint32_t e = ax >> 23, man = (ax & 0x7fffff) | 0x800000;
        int shift = (int)(126 - e); /* 14..24 */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return sign | (uint16_t)q;
    }
    uint32_t h = ((ax >> 23) - 127 + 15) << 10 | (ax >> 13 & 0x3ff);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

static float value_at(const stt_ct2_var_t *v, size_t i)
{
    const uint8_t *p = v->data;
    switch (v->dtype) {
    case STT_CT2_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case STT_CT2_F16:
        return half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    case STT_CT2_BF16: {
        uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case STT_CT2_I8:
        return (float)(int8_t)p[i];
    case STT_CT2_I16:
        return (float)(int16_t)(p[2 * i] | p[2 * i + 1] << 8);
    case STT_CT2_I32: {
        int32_t n;
        memcpy(&n, p + 4 * i, 4);
        return (float)n;
    }
    }
    return 0;
}

static size_t n_values(const stt_ct2_var_t *v)
{
    size_t n = 1;
    for (int d = 0; d < v->rank; d++)
        n *= v->dims[d];
    return n;
}

/* ---- the source variables ---- */

typedef struct {
    const stt_ct2_var_t *v, *scale; /* scale: int8/int16 weights only */
    size_t rows, rowlen;
} src_t;

static int source(conv_t *c, const char *name, src_t *s)
{
    memset(s, 0, sizeof(*s));
    s->v = stt_ct2_find(&c->m, name);
    if (!s->v || !s->v->data)
        return fail(c, STT_EPARSE, "model.bin has no %s (not a Whisper model, or an unknown "
                    "CTranslate2 spec revision)", name);
    if (s->v->rank < 1)
        return fail(c, STT_EPARSE, "model.bin: %s is a scalar, a tensor was expected", name);
    s->rows = s->v->dims[0];
    s->rowlen = s->rows ? n_values(s->v) / s->rows : 0;
    int integer = s->v->dtype == STT_CT2_I8 || s->v->dtype == STT_CT2_I16 ||
                  s->v->dtype == STT_CT2_I32;
    char sname[MAX_NAME + 8];
    snprintf(sname, sizeof(sname), "%s_scale", name);
    s->scale = stt_ct2_find(&c->m, sname);
    char zname[MAX_NAME + 8];
    snprintf(zname, sizeof(zname), "%s_zero", name);
    if (stt_ct2_find(&c->m, zname))
        return fail(c, STT_EUNSUPPORTED, "model.bin: %s has a zero point (AWQ/GPTQ "
                    "quantisation is not supported; convert with float16, bfloat16, float32, "
                    "int8 or int16)", name);
    if (integer && !s->scale)
        return fail(c, STT_EUNSUPPORTED, "model.bin: %s is an integer tensor without %s", name,
                    sname);
    if (s->scale && (!s->scale->data || s->scale->dtype == STT_CT2_I8 ||
                     s->scale->dtype == STT_CT2_I16 || s->scale->dtype == STT_CT2_I32 ||
                     (n_values(s->scale) != 1 && n_values(s->scale) != s->rows)))
        return fail(c, STT_EPARSE, "model.bin: %s has %zu values, %s has %zu rows", sname,
                    n_values(s->scale), name, s->rows);
    return 0;
}

/* Row r of s as floats into c->row (dequantised: q / scale). */
static void row_floats(conv_t *c, const src_t *s, size_t r)
{
    float inv = 1.0f;
    if (s->scale)
        inv = value_at(s->scale, n_values(s->scale) == 1 ? 0 : r);
    for (size_t i = 0; i < s->rowlen; i++) {
        float x = value_at(s->v, r * s->rowlen + i);
        c->row[i] = s->scale ? x / inv : x;
    }
}

static int grow(conv_t *c, size_t n)
{
    if (n <= c->row_cap)
        return 0;
    float *r = realloc(c->row, n * sizeof(float));
    if (!r)
        return STT_ENOMEM;
    c->row = r;
    uint16_t *h = realloc(c->half, n * sizeof(uint16_t));
    if (!h)
        return STT_ENOMEM;
    c->half = h;
    c->row_cap = n;
    return 0;
}

/* Rows [r0, r0 + n) of v are converted and will not be read again (row slices of a fused tensor
 * are disjoint): their pages of the mapping are dropped, so converting large-v3 does not keep
 * the 3 GB model.bin resident; a page read again would simply be read from the file again. */
static void drop_pages(const stt_ct2_var_t *v, size_t r0, size_t n, size_t rowlen)
{
    size_t isz = v->nbytes / (n_values(v) ? n_values(v) : 1);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)v->data + r0 * rowlen * isz, b = a + n * rowlen * isz;
    a = (a + page - 1) & ~(page - 1);
    b &= ~(page - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

/* ---- the ggml file ---- */

static void put_i32(conv_t *c, int32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, c->out);
}

enum { OUT_F32 = 0, OUT_F16 = 1, OUT_W = 2 /* the weight type: f16 */ };

/* Writes tensor gname from rows [part*n, (part+1)*n) of the source variable, n = rows/nparts.
 * The ggml shape is the slice's PyTorch shape reversed; as_col makes a 1-D source the 2-D
 * [n, 1] whisper.cpp wants for the conv biases. */
static int emit(conv_t *c, const char *gname, const char *var, int part, int nparts, int type,
                int as_col)
{
    src_t s;
    int rc = source(c, var, &s);
    if (rc != 0)
        return rc;
    if (s.rows % (size_t)nparts != 0)
        return fail(c, STT_EPARSE, "model.bin: %s has %zu rows, not divisible into %d", var,
                    s.rows, nparts);
    size_t n = s.rows / (size_t)nparts, r0 = n * (size_t)part;
    if (type == OUT_W)
        type = OUT_F16;
    if (grow(c, s.rowlen) != 0)
        return fail(c, STT_ENOMEM, "out of memory converting %s", var);

    int32_t ne[STT_CT2_MAX_RANK + 1];
    int nd = 0;
    if (as_col && s.v->rank == 1) {
        ne[nd++] = 1;
        ne[nd++] = (int32_t)n;
    } else {
        for (int d = s.v->rank - 1; d >= 1; d--)
            ne[nd++] = (int32_t)s.v->dims[d];
        ne[nd++] = (int32_t)n;
    }
    size_t len = strlen(gname);
    put_i32(c, nd);
    put_i32(c, (int32_t)len);
    put_i32(c, type == OUT_F32 ? 0 : 1);
    for (int d = 0; d < nd; d++)
        put_i32(c, ne[d]);
    fwrite(gname, 1, len, c->out);
    for (size_t r = r0; r < r0 + n; r++) {
        row_floats(c, &s, r);
        if (type == OUT_F32) {
            fwrite(c->row, sizeof(float), s.rowlen, c->out);
        } else {
            for (size_t i = 0; i < s.rowlen; i++)
                c->half[i] = float_to_half(c->row[i]);
            fwrite(c->half, sizeof(uint16_t), s.rowlen, c->out);
        }
    }
    c->n_tensors++;
    drop_pages(s.v, r0, n, s.rowlen);
    return ferror(c->out) ? fail(c, STT_EIO, "write error: %s", strerror(errno)) : 0;
}

/* One nn.Linear: weight (type W) and bias (f32), both from row part of nparts. */
static int emit_linear(conv_t *c, const char *gprefix, const char *cprefix, int part, int nparts,
                       int bias)
{
    char g[MAX_NAME], v[MAX_NAME];
    snprintf(g, sizeof(g), "%s.weight", gprefix);
    snprintf(v, sizeof(v), "%s/weight", cprefix);
    int rc = emit(c, g, v, part, nparts, OUT_W, 0);
    if (rc == 0 && bias) {
        snprintf(g, sizeof(g), "%s.bias", gprefix);
        snprintf(v, sizeof(v), "%s/bias", cprefix);
        rc = emit(c, g, v, part, nparts, OUT_F32, 0);
    }
    return rc;
}

static int emit_norm(conv_t *c, const char *gprefix, const char *cprefix)
{
    char g[MAX_NAME], v[MAX_NAME];
    snprintf(g, sizeof(g), "%s.weight", gprefix);
    snprintf(v, sizeof(v), "%s/gamma", cprefix);
    int rc = emit(c, g, v, 0, 1, OUT_F32, 0);
    if (rc == 0) {
        snprintf(g, sizeof(g), "%s.bias", gprefix);
        snprintf(v, sizeof(v), "%s/beta", cprefix);
        rc = emit(c, g, v, 0, 1, OUT_F32, 0);
    }
    return rc;
}

/* A residual attention block in OpenAI's parameter order: attn (query, key, value, out),
 * attn_ln, [cross_attn, cross_attn_ln,] mlp.0, mlp.2, mlp_ln. */
static int emit_block(conv_t *c, const char *side, int layer, int cross)
{
    char g[MAX_NAME], v[MAX_NAME], gl[48], vl[48];
    snprintf(gl, sizeof(gl), "%s.blocks.%d", side, layer);
    snprintf(vl, sizeof(vl), "%s/layer_%d", side, layer);
    static const char *const qkv[3] = {"query", "key", "value"};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        snprintf(g, sizeof(g), "%s.attn.%s", gl, qkv[i]);
        snprintf(v, sizeof(v), "%s/self_attention/linear_0", vl);
        rc = emit_linear(c, g, v, i, 3, i != 1);
    }
#define PAIR(gs, vs)                                                                               \
    (snprintf(g, sizeof(g), "%s." gs, gl), snprintf(v, sizeof(v), "%s/" vs, vl))
    if (rc == 0 && PAIR("attn.out", "self_attention/linear_1"))
        rc = emit_linear(c, g, v, 0, 1, 1);
    if (rc == 0 && PAIR("attn_ln", "self_attention/layer_norm"))
        rc = emit_norm(c, g, v);
    if (cross) {
        if (rc == 0 && PAIR("cross_attn.query", "attention/linear_0"))
            rc = emit_linear(c, g, v, 0, 1, 1);
        if (rc == 0 && PAIR("cross_attn.key", "attention/linear_1"))
            rc = emit_linear(c, g, v, 0, 2, 0);
        if (rc == 0 && PAIR("cross_attn.value", "attention/linear_1"))
            rc = emit_linear(c, g, v, 1, 2, 1);
        if (rc == 0 && PAIR("cross_attn.out", "attention/linear_2"))
            rc = emit_linear(c, g, v, 0, 1, 1);
        if (rc == 0 && PAIR("cross_attn_ln", "attention/layer_norm"))
            rc = emit_norm(c, g, v);
    }
    if (rc == 0 && PAIR("mlp.0", "ffn/linear_0"))
        rc = emit_linear(c, g, v, 0, 1, 1);
    if (rc == 0 && PAIR("mlp.2", "ffn/linear_1"))
        rc = emit_linear(c, g, v, 0, 1, 1);
    if (rc == 0 && PAIR("mlp_ln", "ffn/layer_norm"))
        rc = emit_norm(c, g, v);
#undef PAIR
    return rc;
}

/* ---- hyperparameters ---- */

static int count_layers(conv_t *c, const char *side)
{
    char name[MAX_NAME];
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof(name), "%s/layer_%d/self_attention/linear_0/weight", side, n);
        if (!stt_ct2_find(&c->m, name))
            return n;
    }
}

static int heads(conv_t *c, const char *side, int state)
{
    char name[MAX_NAME];
    snprintf(name, sizeof(name), "%s/num_heads", side);
    const stt_ct2_var_t *v = stt_ct2_find(&c->m, name);
    if (v && v->data && v->rank == 0)
        return (int)value_at(v, 0);
    return state / 64; /* every Whisper size has 64-wide heads */
}

static int dims2(conv_t *c, const char *name, int *rows, int *cols)
{
    const stt_ct2_var_t *v = stt_ct2_find(&c->m, name);
    if (!v || !v->data || v->rank != 2)
        return fail(c, STT_EPARSE, "model.bin has no 2-D %s (not a Whisper model?)", name);
    *rows = (int)v->dims[0];
    *cols = (int)v->dims[1];
    return 0;
}

static int hyperparams(conv_t *c, stt_ct2_info_t *h)
{
    int rc, unused;
    if ((rc = dims2(c, "decoder/embeddings/weight", &h->n_vocab, &unused)) != 0 ||
        (rc = dims2(c, "encoder/position_encodings/encodings", &h->n_audio_ctx,
                    &h->n_audio_state)) != 0 ||
        (rc = dims2(c, "decoder/position_encodings/encodings", &h->n_text_ctx,
                    &h->n_text_state)) != 0)
        return rc;
    const stt_ct2_var_t *conv1 = stt_ct2_find(&c->m, "encoder/conv1/weight");
    if (!conv1 || !conv1->data || conv1->rank != 3 || conv1->dims[2] != 3)
        return fail(c, STT_EPARSE, "model.bin has no encoder/conv1/weight of shape [d, n_mels, 3]");
    h->n_mels = (int)conv1->dims[1];
    h->n_audio_layer = count_layers(c, "encoder");
    h->n_text_layer = count_layers(c, "decoder");
    h->n_audio_head = heads(c, "encoder", h->n_audio_state);
    h->n_text_head = heads(c, "decoder", h->n_text_state);
    if (h->n_audio_state != h->n_text_state || h->n_audio_state <= 0 ||
        (int)conv1->dims[0] != h->n_audio_state)
        return fail(c, STT_EUNSUPPORTED, "model.bin: encoder width %d, decoder width %d, conv "
                    "width %u (whisper.cpp needs one width)", h->n_audio_state, h->n_text_state,
                    conv1->dims[0]);
    if (h->n_audio_layer < 1 || h->n_text_layer < 1)
        return fail(c, STT_EPARSE, "model.bin: %d encoder and %d decoder layers",
                    h->n_audio_layer, h->n_text_layer);
    if (h->n_audio_head < 1 || h->n_text_head < 1 || h->n_audio_state % h->n_audio_head ||
        h->n_text_state % h->n_text_head)
        return fail(c, STT_EPARSE, "model.bin: %d/%d heads do not divide width %d",
                    h->n_audio_head, h->n_text_head, h->n_audio_state);
    if (h->n_mels != 80 && h->n_mels != 128)
        return fail(c, STT_EUNSUPPORTED, "model.bin: %d mel bins (Whisper uses 80 or 128)",
                    h->n_mels);
    if (h->n_vocab < 51864)
        return fail(c, STT_EPARSE, "model.bin: vocabulary of %d (Whisper's is 51864 or more)",
                    h->n_vocab);
    const stt_ct2_var_t *w = stt_ct2_find(&c->m, "encoder/layer_0/self_attention/linear_0/weight");
    h->source_dtype = w ? w->dtype : STT_CT2_F16;
    return 0;
}

/* ---- files of the directory ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The tokens, id -> string (UTF-8, GPT-2 byte-level alphabet). From vocabulary.json (a JSON
 * array, CTranslate2 >= 3.16), vocabulary.txt (one per line, older), or the tokenizer.json
 * Hugging Face writes (model.vocab + added_tokens). */
typedef struct {
    char **tok;
    int n;
    char *buf; /* vocabulary.txt's bytes, which the tokens point into */
    cJSON *json;
} vocab_t;

static void vocab_free(vocab_t *v)
{
    free(v->tok);
    free(v->buf);
    cJSON_Delete(v->json);
    memset(v, 0, sizeof(*v));
}

static int vocab_set(vocab_t *v, int id, char *s)
{
    if (id < 0 || id > 1 << 20)
        return -1;
    if (id >= v->n) {
        char **g = realloc(v->tok, (size_t)(id + 1) * sizeof(char *));
        if (!g)
            return -1;
        memset(g + v->n, 0, (size_t)(id + 1 - v->n) * sizeof(char *));
        v->tok = g;
        v->n = id + 1;
    }
    v->tok[id] = s;
    return 0;
}

static int vocab_load(conv_t *c, const char *dir, vocab_t *v, char *which, size_t wlen)
{
    memset(v, 0, sizeof(*v));
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/vocabulary.json", dir);
    if ((v->buf = read_all(path, &len))) {
        snprintf(which, wlen, "vocabulary.json");
        v->json = cJSON_ParseWithLength(v->buf, len);
        if (!cJSON_IsArray(v->json))
            return fail(c, STT_EPARSE, "%s is not a JSON array of tokens", path);
        int id = 0;
        for (cJSON *e = v->json->child; e; e = e->next, id++)
            if (!cJSON_IsString(e) || vocab_set(v, id, e->valuestring) != 0)
                return fail(c, STT_EPARSE, "%s: entry %d is not a token string", path, id);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/vocabulary.txt", dir);
    if ((v->buf = read_all(path, &len))) {
        snprintf(which, wlen, "vocabulary.txt");
        char *p = v->buf, *end = v->buf + len;
        for (int id = 0; p < end; id++) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            *nl = '\0';
            if (vocab_set(v, id, p) != 0)
                return fail(c, STT_ENOMEM, "out of memory reading %s", path);
            p = nl + 1;
        }
        return 0;
    }
    snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
    if ((v->buf = read_all(path, &len))) {
        snprintf(which, wlen, "tokenizer.json");
        v->json = cJSON_ParseWithLength(v->buf, len);
        cJSON *model = cJSON_GetObjectItemCaseSensitive(v->json, "model");
        cJSON *map = cJSON_GetObjectItemCaseSensitive(model, "vocab");
        if (!cJSON_IsObject(map))
            return fail(c, STT_EPARSE, "%s has no model.vocab object", path);
        for (cJSON *e = map->child; e; e = e->next)
            if (!cJSON_IsNumber(e) || vocab_set(v, e->valueint, e->string) != 0)
                return fail(c, STT_EPARSE, "%s: model.vocab[\"%.40s\"] is not a token id", path,
                            e->string);
        cJSON *added = cJSON_GetObjectItemCaseSensitive(v->json, "added_tokens");
        cJSON *e;
        cJSON_ArrayForEach(e, added)
        {
            cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
            if (cJSON_IsNumber(id) && cJSON_IsString(content) &&
                vocab_set(v, id->valueint, content->valuestring) != 0)
                return fail(c, STT_ENOMEM, "out of memory reading %s", path);
        }
        return 0;
    }
    return fail(c, STT_ENOENT, "%s has no tokenizer: vocabulary.json, vocabulary.txt or "
                "tokenizer.json is needed", dir);
}

/* GPT-2's bytes_to_unicode, inverted: code point -> byte, -1 if not in the alphabet. The bytes
 * 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF stand for themselves; the other 68, in increasing order, are
 * U+0100 + n. */
static void byte_alphabet(int inv[0x144])
{
    for (int i = 0; i < 0x144; i++)
        inv[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int self = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
        inv[self ? b : 0x100 + n++] = b;
    }
}

/* Decodes one token's UTF-8 into raw bytes (out has strlen(s) bytes). Returns the length or -1. */
static int token_bytes(const int inv[0x144], const char *s, uint8_t *out)
{
    const uint8_t *p = (const uint8_t *)s;
    int n = 0;
    while (*p) {
        uint32_t cp;
        if (p[0] < 0x80) {
            cp = *p++;
        } else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
            p += 2;
        } else {
            return -1; /* the alphabet ends at U+0143: two bytes at most */
        }
        if (cp >= 0x144 || inv[cp] < 0)
            return -1;
        out[n++] = (uint8_t)inv[cp];
    }
    return n;
}

static int write_vocab(conv_t *c, const vocab_t *v, const char *which, int *n_words)
{
    int eot = -1;
    for (int i = 0; i < v->n; i++)
        if (v->tok[i] && strcmp(v->tok[i], "<|endoftext|>") == 0) {
            eot = i;
            break;
        }
    if (eot < 0)
        return fail(c, STT_EPARSE, "%s has no <|endoftext|> token (not a Whisper tokenizer)",
                    which);
    if (eot != 50256 && eot != 50257)
        return fail(c, STT_EUNSUPPORTED, "%s: <|endoftext|> is id %d (Whisper's is 50256 for "
                    ".en models, 50257 for multilingual ones)", which, eot);
    if (v->n > eot + 1 && (!v->tok[eot + 1] || strcmp(v->tok[eot + 1], "<|startoftranscript|>")))
        return fail(c, STT_EPARSE, "%s: id %d is not <|startoftranscript|>", which, eot + 1);
    int inv[0x144];
    byte_alphabet(inv);
    put_i32(c, eot + 1);
    for (int i = 0; i <= eot; i++) {
        if (!v->tok[i])
            return fail(c, STT_EPARSE, "%s has no token %d", which, i);
        uint8_t bytes[1024];
        size_t sl = strlen(v->tok[i]);
        int n = i == eot ? (int)sl : (sl < sizeof(bytes) ? token_bytes(inv, v->tok[i], bytes) : -1);
        if (n < 0)
            return fail(c, STT_EPARSE, "%s: token %d \"%.40s\" is not byte-level BPE", which, i,
                        v->tok[i]);
        put_i32(c, n);
        fwrite(i == eot ? (const uint8_t *)v->tok[i] : bytes, 1, (size_t)n, c->out);
    }
    *n_words = eot + 1;
    return 0;
}

/* preprocessor_config.json, when present, must agree with the weights. */
static int check_preprocessor(conv_t *c, const char *dir, int n_mels)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/preprocessor_config.json", dir);
    size_t len;
    char *buf = read_all(path, &len);
    if (!buf)
        return 0;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    int rc = 0;
    if (!cJSON_IsObject(j)) {
        rc = fail(c, STT_EPARSE, "%s is not a JSON object", path);
    } else {
        cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "feature_size");
        cJSON *sr = cJSON_GetObjectItemCaseSensitive(j, "sampling_rate");
        cJSON *nfft = cJSON_GetObjectItemCaseSensitive(j, "n_fft");
        if (cJSON_IsNumber(fs) && fs->valueint != n_mels)
            rc = fail(c, STT_EPARSE, "%s: feature_size %d, but the weights take %d mel bins",
                      path, fs->valueint, n_mels);
        else if ((cJSON_IsNumber(sr) && sr->valueint != 16000) ||
                 (cJSON_IsNumber(nfft) && nfft->valueint != 400))
            rc = fail(c, STT_EUNSUPPORTED, "%s: whisper.cpp computes features at 16000 Hz with "
                      "n_fft 400", path);
    }
    cJSON_Delete(j);
    return rc;
}

static int convert(conv_t *c, const char *dir, stt_ct2_info_t *h)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/model.bin", dir);
    int rc = stt_ct2_open(path, &c->m, c->err, c->errlen);
    if (rc != 0)
        return rc;
    if (!c->m.spec || strcmp(c->m.spec, "WhisperSpec") != 0)
        return fail(c, STT_EUNSUPPORTED, "%s holds a %s, not a Whisper model (WhisperSpec)", path,
                    c->m.spec ? c->m.spec : "model without a spec name");
    if ((rc = hyperparams(c, h)) != 0 || (rc = check_preprocessor(c, dir, h->n_mels)) != 0)
        return rc;
    vocab_t v;
    char which[64] = "";
    if ((rc = vocab_load(c, dir, &v, which, sizeof(which))) == 0 && v.n < h->n_vocab - 2000)
        rc = fail(c, STT_EPARSE, "%s has %d tokens, the model %d", which, v.n, h->n_vocab);
    if (rc != 0) {
        vocab_free(&v);
        return rc;
    }
    const int32_t hp[11] = {h->n_vocab,     h->n_audio_ctx,  h->n_audio_state, h->n_audio_head,
                            h->n_audio_layer, h->n_text_ctx, h->n_text_state,  h->n_text_head,
                            h->n_text_layer, h->n_mels,      1};
    put_i32(c, GGML_MAGIC);
    for (int i = 0; i < 11; i++)
        put_i32(c, hp[i]);
    float *filters = malloc((size_t)h->n_mels * N_FFT_BINS * sizeof(float));
    if (!filters) {
        vocab_free(&v);
        return fail(c, STT_ENOMEM, "out of memory");
    }
    stt_mel_filters(h->n_mels, filters);
    put_i32(c, h->n_mels);
    put_i32(c, N_FFT_BINS);
    fwrite(filters, sizeof(float), (size_t)h->n_mels * N_FFT_BINS, c->out);
    free(filters);
    rc = write_vocab(c, &v, which, &h->n_words);
    vocab_free(&v);

    if (rc == 0)
        rc = emit(c, "encoder.positional_embedding", "encoder/position_encodings/encodings", 0, 1,
                  OUT_F32, 0);
    if (rc == 0)
        rc = emit(c, "encoder.conv1.weight", "encoder/conv1/weight", 0, 1, OUT_W, 0);
    if (rc == 0)
        rc = emit(c, "encoder.conv1.bias", "encoder/conv1/bias", 0, 1, OUT_F32, 1);
    if (rc == 0)
        rc = emit(c, "encoder.conv2.weight", "encoder/conv2/weight", 0, 1, OUT_W, 0);
    if (rc == 0)
        rc = emit(c, "encoder.conv2.bias", "encoder/conv2/bias", 0, 1, OUT_F32, 1);
    for (int l = 0; l < h->n_audio_layer && rc == 0; l++)
        rc = emit_block(c, "encoder", l, 0);
    if (rc == 0)
        rc = emit_norm(c, "encoder.ln_post", "encoder/layer_norm");
    if (rc == 0)
        rc = emit(c, "decoder.positional_embedding", "decoder/position_encodings/encodings", 0, 1,
                  OUT_F32, 0);
    if (rc == 0)
        rc = emit(c, "decoder.token_embedding.weight", "decoder/embeddings/weight", 0, 1, OUT_W,
                  0);
    for (int l = 0; l < h->n_text_layer && rc == 0; l++)
        rc = emit_block(c, "decoder", l, 1);
    if (rc == 0)
        rc = emit_norm(c, "decoder.ln", "decoder/layer_norm");
    h->n_tensors = c->n_tensors;
    return rc;
}

int stt_ct2_convert(const char *dir, const char *out_path, stt_ct2_info_t *info, char *err,
                    size_t errlen)
{
    stt_ct2_info_t h;
    memset(&h, 0, sizeof(h));
    conv_t c;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out_path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(c.out = fdopen(fd, "wb"))) {
        int rc = fail(&c, STT_EIO, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    setvbuf(c.out, NULL, _IOFBF, 1 << 20);
    int rc = convert(&c, dir, &h);
    if (rc == 0 && (fflush(c.out) != 0 || fsync(fileno(c.out)) != 0))
        rc = fail(&c, STT_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(c.out) != 0 && rc == 0)
        rc = fail(&c, STT_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, out_path) != 0)
        rc = fail(&c, STT_EIO, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    stt_ct2_close(&c.m);
    free(c.row);
    free(c.half);
    if (info)
        *info = h;
    return rc;
}

int stt_ct2_is_model_dir(const char *dir)
{
    struct stat st;
    char path[4096];
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    snprintf(path, sizeof(path), "%s/model.bin", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

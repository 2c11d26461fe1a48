/* safetensors reader (stt/safetensors.h).
 *
 * The format: bytes 0..7 hold N, the header length (little-endian u64); bytes 8..8+N a JSON
 * object {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {...}}; the data follows, offsets counted from byte 8+N. Each tensor's range
 * must hold exactly shape x dtype bytes and lie inside the file; ranges may not overlap (the
 * format's own rule, which also keeps a hostile header from aliasing two tensors). */
#include "stt/safetensors.h"

#include "stt/error.h"
#include "stt/log.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t dtype_bytes(const char *s, stt_st_dtype_t *dt)
{
    static const struct {
        const char *name;
        stt_st_dtype_t dt;
        size_t bytes;
    } types[] = {
        {"F32", STT_ST_F32, 4},   {"F16", STT_ST_F16, 2},   {"BF16", STT_ST_BF16, 2},
        {"F64", STT_ST_OTHER, 8}, {"I64", STT_ST_OTHER, 8}, {"I32", STT_ST_OTHER, 4},
        {"I16", STT_ST_OTHER, 2}, {"I8", STT_ST_OTHER, 1},  {"U8", STT_ST_OTHER, 1},
        {"BOOL", STT_ST_OTHER, 1},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(s, types[i].name) == 0) {
            *dt = types[i].dt;
            return types[i].bytes;
        }
    return 0;
}

/* A JSON number that is an exact integer in 0..max. */
static int get_uint(const cJSON *j, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > (double)max || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const stt_st_tensor_t *x = a, *y = b;
    return x->data < y->data ? -1 : (x->data > y->data);
}

static int parse_tensor(stt_st_tensor_t *t, const cJSON *e, const uint8_t *data, size_t data_len,
                        char *err, size_t err_len)
{
    const char *name = e->string;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return stt_error_fmt(err, err_len, STT_EPARSE,
                    "tensor \"%.64s\" lacks dtype, shape or a [begin, end] data_offsets", name);
    size_t esize = dtype_bytes(dt->valuestring, &t->dtype);
    if (!esize)
        return stt_error_fmt(err, err_len, STT_EPARSE, "tensor \"%.64s\" has unknown dtype \"%.16s\"",
                    name, dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > STT_ST_MAX_DIMS)
        return stt_error_fmt(err, err_len, STT_EPARSE, "tensor \"%.64s\" has %d dimensions (at most %d)",
                    name, nd, STT_ST_MAX_DIMS);
    /* Elements counted with an overflow check: each step stays within the data's size. */
    uint64_t elems = 1;
    int zero = 0;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (get_uint(cJSON_GetArrayItem(shape, i), (uint64_t)1 << 53, &d) != 0)
            return stt_error_fmt(err, err_len, STT_EPARSE, "tensor \"%.64s\": shape[%d] is not a size",
                        name, i);
        t->shape[i] = (int64_t)d;
        if (d == 0)
            zero = 1;
        else if (!zero && elems > data_len / d)
            return stt_error_fmt(err, err_len, STT_EPARSE, "tensor \"%.64s\" is larger than the file",
                        name);
        else if (!zero)
            elems *= d;
    }
    if (zero)
        elems = 0;
    uint64_t b, en;
    if (get_uint(cJSON_GetArrayItem(offs, 0), data_len, &b) != 0 ||
        get_uint(cJSON_GetArrayItem(offs, 1), data_len, &en) != 0 || b > en)
        return stt_error_fmt(err, err_len, STT_EPARSE,
                    "tensor \"%.64s\": data_offsets outside the %zu data bytes", name, data_len);
    if (en - b != elems * esize)
        return stt_error_fmt(err, err_len, STT_EPARSE,
                    "tensor \"%.64s\": %llu bytes for %llu elements of %s", name,
                    (unsigned long long)(en - b), (unsigned long long)elems, dt->valuestring);
    t->n_dims = nd;
    t->data = data + b;
    t->n_bytes = (size_t)(en - b);
    t->name = stt_strdup(name);
    return 0;
}

int stt_safetensors_parse(stt_safetensors_t *st, const uint8_t *buf, size_t n, char *err,
                          size_t err_len)
{
    memset(st, 0, sizeof(*st));
    if (n < 8)
        return stt_error_fmt(err, err_len, STT_EPARSE, "%zu bytes: shorter than the 8-byte header length",
                    n);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | buf[i];
    if (hl > STT_ST_MAX_HEADER_BYTES)
        return stt_error_fmt(err, err_len, STT_ETOOBIG, "header of %llu bytes (limit %u)",
                    (unsigned long long)hl, STT_ST_MAX_HEADER_BYTES);
    if (hl > n - 8)
        return stt_error_fmt(err, err_len, STT_EPARSE, "header of %llu bytes but the file has %zu",
                    (unsigned long long)hl, n);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return stt_error_fmt(err, err_len, STT_EPARSE, "header is not a JSON object");
    }
    const uint8_t *data = buf + 8 + hl;
    size_t data_len = n - 8 - (size_t)hl;
    int count = cJSON_GetArraySize(root);
    if (count > STT_ST_MAX_TENSORS) {
        cJSON_Delete(root);
        return stt_error_fmt(err, err_len, STT_ETOOBIG, "%d header entries (limit %d)", count,
                    STT_ST_MAX_TENSORS);
    }
    st->tensors = stt_calloc(count ? (size_t)count : 1, sizeof(*st->tensors));
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (e->string && strcmp(e->string, "__metadata__") == 0)
            continue;
        if (!e->string || stt_safetensors_find(st, e->string)) {
            rc = stt_error_fmt(err, err_len, STT_EPARSE, "tensor name missing or repeated");
            break;
        }
        rc = parse_tensor(&st->tensors[st->n_tensors], e, data, data_len, err, err_len);
        if (rc != 0)
            break;
        st->n_tensors++;
    }
    cJSON_Delete(root);
    if (rc == 0 && st->n_tensors > 1) {
        /* Sorted by data position to check for overlap, then left in that order. */
        qsort(st->tensors, st->n_tensors, sizeof(*st->tensors), cmp_begin);
        for (size_t i = 1; i < st->n_tensors; i++) {
            const stt_st_tensor_t *p = &st->tensors[i - 1], *t = &st->tensors[i];
            if (p->data + p->n_bytes > t->data) {
                rc = stt_error_fmt(err, err_len, STT_EPARSE, "tensors \"%.64s\" and \"%.64s\" overlap",
                          p->name, t->name);
                break;
            }
        }
    }
    if (rc != 0)
        stt_safetensors_dispose(st);
    return rc;
}

const stt_st_tensor_t *stt_safetensors_find(const stt_safetensors_t *st, const char *name)
{
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

size_t stt_st_elements(const stt_st_tensor_t *t)
{
    size_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= (size_t)t->shape[i];
    return n;
}

void stt_safetensors_dispose(stt_safetensors_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    st->tensors = NULL;
    st->n_tensors = 0;
}

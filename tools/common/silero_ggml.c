/* Silero safetensors -> whisper.cpp ggml VAD file (silero_ggml.h).
 *
 * The ggml VAD format (whisper.cpp 1.9.1, whisper_vad_init_with_params): int32 little-endian
 * fields: magic 0x67676d6c, the model type's length and bytes ("silero-16k"), version major,
 * minor, patch, window 512, context 64, encoder layer count 4 and (in, out, kernel) per layer,
 * LSTM input and hidden size, final conv in and out. Then per tensor: n_dims, name length,
 * type (0 f32, 1 f16), n_dims sizes fastest-first (PyTorch's shape reversed, size-1 axes
 * squeezed away except for the STFT basis), the name, the data in PyTorch's row-major order. */
#include "silero_ggml.h"

#include "stt/error.h"
#include "stt/log.h"
#include "stt/safetensors.h"
#include "stt/silero.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_i32(FILE *f, int32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

typedef struct {
    const char *src, *dst; /* safetensors name, ggml name */
    int f16;
    int squeeze; /* drop size-1 axes (all but the STFT basis) */
} map_t;

static const map_t tensors[] = {
    {"conv1.weight", "_model.encoder.0.reparam_conv.weight", 1, 1},
    {"conv1.bias", "_model.encoder.0.reparam_conv.bias", 0, 1},
    {"conv2.weight", "_model.encoder.1.reparam_conv.weight", 1, 1},
    {"conv2.bias", "_model.encoder.1.reparam_conv.bias", 0, 1},
    {"conv3.weight", "_model.encoder.2.reparam_conv.weight", 1, 1},
    {"conv3.bias", "_model.encoder.2.reparam_conv.bias", 0, 1},
    {"conv4.weight", "_model.encoder.3.reparam_conv.weight", 1, 1},
    {"conv4.bias", "_model.encoder.3.reparam_conv.bias", 0, 1},
    {"lstm_cell.weight_ih", "_model.decoder.rnn.weight_ih", 0, 1},
    {"lstm_cell.weight_hh", "_model.decoder.rnn.weight_hh", 0, 1},
    {"lstm_cell.bias_ih", "_model.decoder.rnn.bias_ih", 0, 1},
    {"lstm_cell.bias_hh", "_model.decoder.rnn.bias_hh", 0, 1},
    {"final_conv.weight", "_model.decoder.decoder.2.weight", 1, 1},
    {"final_conv.bias", "_model.decoder.decoder.2.bias", 0, 1},
    {"stft_conv.weight", "_model.stft.forward_basis_buffer", 1, 0},
};

static void write_header(FILE *f, int major, int minor, int patch)
{
    static const int32_t enc[4][3] = {{129, 128, 3}, {128, 64, 3}, {64, 64, 3}, {64, 128, 3}};
    const char *type = "silero-16k";
    put_i32(f, 0x67676d6c);
    put_i32(f, (int32_t)strlen(type));
    fwrite(type, 1, strlen(type), f);
    put_i32(f, major);
    put_i32(f, minor);
    put_i32(f, patch);
    put_i32(f, STT_SILERO_CHUNK_SAMPLES);
    put_i32(f, STT_SILERO_CONTEXT_SAMPLES);
    put_i32(f, 4);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            put_i32(f, enc[i][k]);
    put_i32(f, STT_SILERO_HIDDEN); /* LSTM input */
    put_i32(f, STT_SILERO_HIDDEN); /* LSTM hidden */
    put_i32(f, STT_SILERO_HIDDEN); /* final conv in */
    put_i32(f, 1);                 /* final conv out */
}

static void write_tensor(FILE *f, const map_t *m, const stt_st_tensor_t *t)
{
    int32_t ne[STT_ST_MAX_DIMS];
    int nd = 0;
    for (int i = t->n_dims - 1; i >= 0; i--)
        if (!m->squeeze || t->shape[i] != 1)
            ne[nd++] = (int32_t)t->shape[i];
    put_i32(f, nd);
    put_i32(f, (int32_t)strlen(m->dst));
    put_i32(f, m->f16);
    for (int i = 0; i < nd; i++)
        put_i32(f, ne[i]);
    fwrite(m->dst, 1, strlen(m->dst), f);
    size_t n = stt_st_elements(t);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = t->data + 4 * i;
        if (m->f16) {
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24;
            float v;
            memcpy(&v, &u, 4);
            uint16_t h = stt_f16_from_f32(v);
            uint8_t o[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
            fwrite(o, 1, 2, f);
        } else {
            fwrite(b, 1, 4, f);
        }
    }
}

int stt_silero_to_ggml(const char *in, const char *out, const char *version, char *err,
                       size_t err_len)
{
    int major, minor, patch;
    if (sscanf(version, "%d.%d.%d", &major, &minor, &patch) != 3)
        return stt_error_fmt(err, err_len, STT_EINVAL, "version \"%s\" is not MAJOR.MINOR.PATCH", version);
    /* Loading the model first checks every tensor's name, dtype and shape. */
    stt_silero_model_t *model;
    int rc = stt_silero_model_load(in, &model, err, err_len);
    if (rc != 0)
        return rc;
    stt_silero_model_destroy(model);
    FILE *f = fopen(in, "rb");
    if (!f)
        return stt_error_fmt(err, err_len, STT_EIO, "%s: %s", in, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = stt_malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    stt_safetensors_t st;
    rc = got == (size_t)n ? stt_safetensors_parse(&st, buf, got, err, err_len)
                          : stt_error_fmt(err, err_len, STT_EIO, "%s: short read", in);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *o = fopen(tmp, "wb");
    if (!o) {
        rc = stt_error_fmt(err, err_len, STT_EIO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    write_header(o, major, minor, patch);
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++)
        write_tensor(o, &tensors[i], stt_safetensors_find(&st, tensors[i].src));
    if (ferror(o) | fclose(o)) {
        remove(tmp);
        rc = stt_error_fmt(err, err_len, STT_EIO, "%s: write failed", tmp);
    } else if (rename(tmp, out) != 0) {
        remove(tmp);
        rc = stt_error_fmt(err, err_len, STT_EIO, "%s: %s", out, strerror(errno));
    }
done:
    stt_safetensors_dispose(&st);
    free(buf);
    return rc;
}

/* libFuzzer driver for the safetensors reader (src/audio/safetensors.c) and the Silero model
 * loader on top of it (src/audio/silero.c).
 *
 * Each input is a whole file. When the reader accepts it, every tensor must lie inside the
 * input, hold exactly shape x dtype bytes, not overlap another, and be found again by name;
 * when it refuses it, the code must be STT_EPARSE or STT_ETOOBIG with a message, and nothing may
 * stay allocated. The Silero loader must either load (and then run one chunk to a probability in
 * 0..1) or refuse with STT_EPARSE / STT_ETOOBIG. Any broken promise aborts, so libFuzzer reports
 * it like a crash. Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with
 * tests/fuzz/replay_main.c to replay the seed corpus (tests/fuzz/corpus/safetensors/). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stt/error.h"
#include "stt/safetensors.h"
#include "stt/silero.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t elem_bytes(const stt_st_tensor_t *t)
{
    size_t n = stt_st_elements(t);
    return n ? t->n_bytes / n : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that a read past the end is caught by ASan at the input's true end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    stt_safetensors_t st;
    char err[256] = "";
    int rc = stt_safetensors_parse(&st, buf, size, err, sizeof(err));
    if (rc != 0) {
        if ((rc != STT_EPARSE && rc != STT_ETOOBIG) || !err[0] || st.tensors || st.n_tensors)
            abort();
    } else {
        const uint8_t *prev_end = buf;
        for (size_t i = 0; i < st.n_tensors; i++) {
            const stt_st_tensor_t *t = &st.tensors[i];
            if (t->data < buf || t->data + t->n_bytes > buf + size || t->data < prev_end)
                abort();
            prev_end = t->data + t->n_bytes;
            size_t eb = elem_bytes(t);
            if (stt_st_elements(t) && eb != 1 && eb != 2 && eb != 4 && eb != 8)
                abort();
            if (stt_safetensors_find(&st, t->name) != t)
                abort();
            if (t->n_dims < 0 || t->n_dims > STT_ST_MAX_DIMS)
                abort();
        }
        stt_safetensors_dispose(&st);
    }
    stt_silero_model_t *m = NULL;
    rc = stt_silero_model_load_buffer(buf, size, &m, err, sizeof(err));
    if (rc == 0) {
        stt_silero_t s;
        stt_silero_init(&s, m, STT_SILERO_CONTEXT);
        int16_t chunk[STT_SILERO_CHUNK_SAMPLES] = {0};
        for (size_t i = 0; i < STT_SILERO_CHUNK_SAMPLES && i < size; i++)
            chunk[i] = (int16_t)(data[i] << 8);
        float p = stt_silero_process(&s, chunk);
        if (!(p >= 0.0f && p <= 1.0f))
            abort();
        stt_silero_model_destroy(m);
    } else if ((rc != STT_EPARSE && rc != STT_ETOOBIG) || m) {
        abort();
    }
    free(buf);
    return 0;
}

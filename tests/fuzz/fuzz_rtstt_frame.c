/* libFuzzer driver for the RealtimeSTT frame parser (src/proto/rtstt_frame.c).
 *
 * Each input is one binary WebSocket message. It is parsed twice: with the default limits and
 * with tight ones (256-byte frames, 64-byte metadata), so that small inputs also reach the two
 * size-limit classes. Beyond "no crash, no sanitizer report", the driver checks what a caller
 * relies on and aborts if it does not hold: an OK result points its PCM inside the input and
 * accounts for every byte; an error has a known code, a 1007/1009 close code and a message.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/rtstt_frame/) as an ordinary test without clang. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stt/rtstt_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const stt_frame_limits_t *limits)
{
    stt_rtstt_frame_t f;
    char err[256];
    stt_frame_err_t rc = stt_rtstt_frame_parse(data, size, limits, &f, err, sizeof(err));
    if (rc < STT_FRAME_OK || rc > STT_FRAME_TOOBIG)
        abort();
    if (rc != STT_FRAME_OK) {
        int cc = stt_frame_err_close_code(rc);
        if ((cc != 1007 && cc != 1009) || err[0] == '\0' || f.pcm != NULL || f.n_samples != 0)
            abort();
        return;
    }
    uint32_t meta_len = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                        (uint32_t)data[3] << 24;
    if (err[0] != '\0' || f.pcm != data + 4 + meta_len || 4 + meta_len + f.n_samples * 2 != size)
        abort();
    if (f.sample_rate_hz < STT_FRAME_MIN_RATE_HZ || f.sample_rate_hz > STT_FRAME_MAX_RATE_HZ)
        abort();
    if (limits != NULL && (size > limits->max_frame_bytes || meta_len > limits->max_metadata_bytes))
        abort();
    /* Read the whole claimed PCM range so ASan checks it. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < f.n_samples * 2; i++)
        sink ^= f.pcm[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const stt_frame_limits_t tight = {.max_frame_bytes = 256, .max_metadata_bytes = 64};
    check(data, size, NULL);
    check(data, size, &tight);
    return 0;
}

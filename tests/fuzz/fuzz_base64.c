/* libFuzzer driver for the strict base64 decoder (src/proto/base64.c), which every base64 audio
 * payload of a client goes through (Twilio family, OpenAI Realtime).
 *
 * The input is used two ways. Checked, for every input:
 *   1. as text: stt_base64_strict_decode accepts it exactly when a reference written
 *      differently here (RFC 4648 section 4: the alphabet, length a multiple of 4, at most two
 *      '=' only at the end, zero bits after the last byte) accepts it; an accepted text decodes
 *      to stt_base64_strict_len bytes, the lenient decoder of text.c gives the same bytes, and
 *      encoding them again gives the text back (strict base64 is canonical);
 *   2. the cap: with one byte less room than needed the decoder answers TOOBIG and writes
 *      nothing (a canary buffer);
 *   3. as bytes: encoding them with text.c's encoder and decoding strictly gives them back.
 * Replayed over tests/fuzz/corpus/base64/ as the ctest fuzz.replay_base64. */
#include "stt/base64.h"
#include "stt/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_base64: check failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

static int ref_value(char c)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* The reference rule: 1 when s is strict base64. */
static int ref_valid(const char *s, size_t n)
{
    if (n % 4 != 0)
        return 0;
    size_t pad = 0;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (ref_value(s[i]) < 0)
            return 0;
    if (n == 0)
        return 1;
    int last = ref_value(s[n - 1 - pad]);
    if (last < 0)
        return 0; /* a third '=' */
    /* the bits after the last whole byte are zero: 4 with "==", 2 with "=" */
    return pad == 2 ? (last & 0x0f) == 0 : pad == 1 ? (last & 0x03) == 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t cap = size; /* decoded text is always shorter than the text */
    uint8_t *out = malloc(cap + 16), *lenient = malloc(cap + 16);
    char err[160] = "";
    size_t n = (size_t)-1;
    stt_base64_err_t rc = stt_base64_strict_decode(s, size, out, cap, &n, "payload", err,
                                                   sizeof(err));
    int valid = ref_valid(s, size);
    CHECK(rc != STT_BASE64_TOOBIG);
    CHECK((rc == STT_BASE64_OK) == valid);
    if (rc == STT_BASE64_OK) {
        CHECK(n == stt_base64_strict_len(s, size));
        CHECK(n <= cap);
        CHECK(stt_base64_decode(s, size, lenient) == (long)n);
        CHECK(memcmp(out, lenient, n) == 0);
        char *again = malloc(stt_base64_encoded_len(n) + 1);
        size_t m = stt_base64_encode(out, n, again);
        CHECK(m == size && memcmp(again, s, size) == 0);
        free(again);
        if (n > 0) { /* one byte short: TOOBIG, nothing written */
            memset(lenient, 0xA5, n);
            size_t k = 0;
            CHECK(stt_base64_strict_decode(s, size, lenient, n - 1, &k, "payload", NULL, 0) ==
                  STT_BASE64_TOOBIG);
            for (size_t i = 0; i < n; i++)
                CHECK(lenient[i] == 0xA5);
        }
    } else {
        CHECK(err[0] != '\0'); /* a bad payload is named */
    }
    free(out);
    free(lenient);

    /* The bytes, encoded and decoded back. */
    char *enc = malloc(stt_base64_encoded_len(size) + 1);
    size_t el = stt_base64_encode(data, size, enc);
    uint8_t *back = malloc(size + 1);
    size_t bl = 0;
    CHECK(stt_base64_strict_decode(enc, el, back, size, &bl, "payload", NULL, 0) ==
          STT_BASE64_OK);
    CHECK(bl == size && memcmp(back, data, size) == 0);
    free(enc);
    free(back);
    return 0;
}

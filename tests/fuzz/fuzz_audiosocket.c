/* libFuzzer driver for the Asterisk AudioSocket codec (src/proto/audiosocket.c).
 *
 * The first input byte picks a split pattern, the rest is the TCP byte stream. It is parsed
 * three ways: in one feed, one byte per feed, and in chunks whose sizes come from the pattern.
 * All three must report the same messages (kind, type, payload bytes, rate, uuid, digit, error
 * code) and end the same way (error or not, and the same error line), and must agree with a
 * reference parser written here from the format description, which walks the whole buffer.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/audiosocket/) as an ordinary test without clang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/audiosocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_audiosocket: check failed: %s (line %d)\n", #cond, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_MSGS 4096

typedef struct {
    int kind, type, rate, digit, error_code;
    size_t len;
    uint64_t sum; /* FNV-1a of the payload */
    char uuid[37];
} rec_t;

typedef struct {
    rec_t m[MAX_MSGS];
    int n;
} log_t;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int record(const stt_as_msg_t *msg, void *ud)
{
    log_t *l = ud;
    CHECK(l->n < MAX_MSGS);
    CHECK(msg->len <= STT_AS_MAX_PAYLOAD);
    rec_t *r = &l->m[l->n++];
    memset(r, 0, sizeof(*r));
    r->kind = (int)msg->kind;
    r->type = msg->type;
    r->len = msg->len;
    r->sum = fnv(msg->payload, msg->len);
    r->rate = msg->rate_hz;
    r->digit = msg->digit;
    r->error_code = msg->error_code;
    memcpy(r->uuid, msg->uuid, sizeof(r->uuid));
    return 0;
}

static stt_as_parser_t parser;

/* Feeds data in chunks of the given sizes (cycled); returns the end status and its error. */
static int run(const uint8_t *data, size_t size, const uint8_t *sizes, size_t n_sizes, log_t *l,
               char *err)
{
    stt_as_dispose(&parser);
    stt_as_init(&parser);
    l->n = 0;
    err[0] = '\0';
    size_t off = 0, k = 0;
    int rc = 0;
    while (off < size && rc == 0) {
        size_t c = n_sizes ? (size_t)sizes[k++ % n_sizes] + 1 : size;
        if (c > size - off)
            c = size - off;
        rc = stt_as_feed(&parser, data + off, c, record, l, err, 256);
        off += c;
    }
    return rc;
}

/* The reference: frames walked over the whole buffer; returns 1 when it ends in a violation. */
static int reference(const uint8_t *d, size_t n, log_t *l)
{
    l->n = 0;
    size_t i = 0;
    int seen = 0;
    while (n - i >= 3) {
        int type = d[i];
        size_t len = (size_t)d[i + 1] * 256 + d[i + 2];
        if (n - i - 3 < len)
            break; /* incomplete: nothing more */
        const uint8_t *pl = d + i + 3;
        i += 3 + len;
        int audio = type >= 0x10 && type <= 0x18;
        if ((!seen && type != 1) || (type == 1 && len != 16) || (type == 3 && len != 1))
            return 1; /* empty audio is reported, not a violation */
        seen = 1;
        rec_t *r = &l->m[l->n++];
        memset(r, 0, sizeof(*r));
        r->type = type;
        r->len = len;
        r->sum = fnv(pl, len);
        static const int rates[] = {8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000};
        if (type == 0) {
            r->kind = STT_AS_HANGUP;
        } else if (type == 1) {
            r->kind = STT_AS_UUID;
            snprintf(r->uuid, sizeof(r->uuid),
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", pl[0],
                     pl[1], pl[2], pl[3], pl[4], pl[5], pl[6], pl[7], pl[8], pl[9], pl[10],
                     pl[11], pl[12], pl[13], pl[14], pl[15]);
        } else if (type == 3) {
            r->kind = STT_AS_DTMF;
            r->digit = (char)pl[0];
        } else if (audio) {
            r->kind = STT_AS_AUDIO;
            r->rate = rates[type - 0x10];
        } else if (type == 0xff) {
            r->kind = STT_AS_ERROR;
            r->error_code = len ? pl[0] : 0;
        } else {
            r->kind = STT_AS_UNKNOWN;
        }
    }
    return 0;
}

static void same(const log_t *a, const log_t *b)
{
    CHECK(a->n == b->n);
    for (int i = 0; i < a->n; i++)
        CHECK(memcmp(&a->m[i], &b->m[i], sizeof(rec_t)) == 0);
}

static log_t whole, bytes, chunks, ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *pattern = data;
    size_t n_pattern = 1 + data[0] % 7;
    if (n_pattern > size)
        n_pattern = size;
    data += 1;
    size -= 1;
    if (size / 3 > MAX_MSGS)
        size = MAX_MSGS * 3;
    char e1[256], e2[256], e3[256];
    static const uint8_t one[1] = {0};
    int r1 = run(data, size, NULL, 0, &whole, e1);
    int r2 = run(data, size, one, 1, &bytes, e2);
    int r3 = run(data, size, pattern, n_pattern, &chunks, e3);
    CHECK(r1 == r2 && r1 == r3);
    CHECK(strcmp(e1, e2) == 0 && strcmp(e1, e3) == 0);
    CHECK(r1 == 0 || e1[0] != '\0');
    same(&whole, &bytes);
    same(&whole, &chunks);
    int bad = reference(data, size, &ref);
    CHECK(bad == (r1 != 0));
    same(&whole, &ref);
    return 0;
}

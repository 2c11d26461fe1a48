/* Unit tests for the Asterisk AudioSocket codec (src/proto/audiosocket.c).
 *
 * Covered: a call's messages (UUID as 8-4-4-4-12 hex, audio with its rate for every slin type,
 * DTMF, error codes, hangup, an unknown type passed on) fed whole and one byte at a time; a
 * payload that arrives whole is handed out in place, a split one from the parser's buffer; the
 * header encoder; an empty audio message reported with len 0 (not a violation); each
 * violation's one line (first message not a UUID, a short UUID, a long DTMF) and that the
 * parser stays failed; a callback's stop value comes back.
 * Any split of any stream is also checked by the fuzz driver (tests/fuzz/fuzz_audiosocket.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/audiosocket.h"
#include "stt/error.h"

typedef struct {
    stt_as_msg_t m[32];
    int n, in_place, stop_at;
    const uint8_t *lo, *hi;
} got_t;

static int keep(const stt_as_msg_t *msg, void *ud)
{
    got_t *g = ud;
    assert_true(g->n < 32);
    g->m[g->n] = *msg;
    if (msg->len && msg->payload >= g->lo && msg->payload < g->hi)
        g->in_place++;
    g->n++;
    return g->stop_at && g->n == g->stop_at ? 7 : 0;
}

static size_t frame(uint8_t *out, uint8_t type, const uint8_t *payload, uint16_t len)
{
    stt_as_header(type, len, out);
    if (len)
        memcpy(out + 3, payload, len);
    return 3 + (size_t)len;
}

static size_t call(uint8_t *b)
{
    static const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                     0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    uint8_t pcm[320];
    for (int i = 0; i < 320; i++)
        pcm[i] = (uint8_t)i;
    size_t n = frame(b, 0x01, uuid, 16);
    for (uint8_t t = 0x10; t <= 0x18; t++)
        n += frame(b + n, t, pcm, 320);
    n += frame(b + n, 0x03, (const uint8_t *)"#", 1);
    n += frame(b + n, 0x42, pcm, 5);
    n += frame(b + n, 0xff, (const uint8_t *)"\x02", 1);
    n += frame(b + n, 0x00, NULL, 0);
    return n;
}

static void check_call(const got_t *g)
{
    static const int rates[] = {8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000};
    assert_int_equal(g->n, 1 + 9 + 4);
    assert_int_equal(g->m[0].kind, STT_AS_UUID);
    assert_string_equal(g->m[0].uuid, "12345678-9abc-def0-0123-456789abcdef");
    for (int i = 0; i < 9; i++) {
        assert_int_equal(g->m[1 + i].kind, STT_AS_AUDIO);
        assert_int_equal(g->m[1 + i].rate_hz, rates[i]);
        assert_int_equal(g->m[1 + i].len, 320);
    }
    assert_int_equal(g->m[10].kind, STT_AS_DTMF);
    assert_int_equal(g->m[10].digit, '#');
    assert_int_equal(g->m[11].kind, STT_AS_UNKNOWN);
    assert_int_equal(g->m[11].type, 0x42);
    assert_int_equal(g->m[11].len, 5);
    assert_int_equal(g->m[12].kind, STT_AS_ERROR);
    assert_int_equal(g->m[12].error_code, 2);
    assert_int_equal(g->m[13].kind, STT_AS_HANGUP);
}

static stt_as_parser_t p; /* zeroed: dispose is harmless before the first init */

static void test_call(void **state)
{
    (void)state;
    uint8_t b[4096];
    size_t n = call(b);
    char err[256] = "";
    got_t g = {.lo = b, .hi = b + n};
    stt_as_dispose(&p);
    stt_as_init(&p);
    assert_int_equal(stt_as_feed(&p, b, n, keep, &g, err, sizeof(err)), 0);
    check_call(&g);
    assert_int_equal(g.in_place, 13); /* every non-empty payload, no copy */

    got_t g1 = {.lo = b, .hi = b + n};
    stt_as_dispose(&p);
    stt_as_init(&p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(stt_as_feed(&p, b + i, 1, keep, &g1, err, sizeof(err)), 0);
    check_call(&g1);
    assert_int_equal(g1.in_place, 2); /* the two 1-byte payloads (DTMF, error) arrive whole */
}

static void expect_violation(const uint8_t *b, size_t n, const char *want)
{
    char err[256] = "";
    got_t g = {0};
    stt_as_dispose(&p);
    stt_as_init(&p);
    assert_int_equal(stt_as_feed(&p, b, n, keep, &g, err, sizeof(err)), STT_EPARSE);
    assert_non_null(strstr(err, want));
    assert_int_equal(stt_as_feed(&p, b, 1, keep, &g, err, sizeof(err)), STT_EPARSE);
}

static void test_violations(void **state)
{
    (void)state;
    uint8_t b[512];
    static const uint8_t uuid[16] = {0};
    size_t n = frame(b, 0x10, uuid, 16);
    expect_violation(b, n, "first message is type 0x10 (16 bytes), not the UUID");
    n = frame(b, 0x01, uuid, 15);
    expect_violation(b, n, "a UUID of 15 bytes");
    n = frame(b, 0x01, uuid, 16);
    size_t m = n + frame(b + n, 0x03, (const uint8_t *)"12", 2);
    expect_violation(b, m, "a DTMF message of 2 bytes");
}

static void test_empty_audio(void **state)
{
    (void)state;
    uint8_t b[512];
    static const uint8_t uuid[16] = {0};
    static const uint8_t pcm[4] = {1, 2, 3, 4};
    size_t n = frame(b, 0x01, uuid, 16);
    n += frame(b + n, 0x12, NULL, 0);
    n += frame(b + n, 0x10, pcm, 4);
    char err[256] = "";
    got_t g = {.lo = b, .hi = b + n};
    stt_as_dispose(&p);
    stt_as_init(&p);
    assert_int_equal(stt_as_feed(&p, b, n, keep, &g, err, sizeof(err)), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.m[1].kind, STT_AS_AUDIO);
    assert_int_equal(g.m[1].rate_hz, 16000);
    assert_int_equal(g.m[1].len, 0);
    assert_int_equal(g.m[2].kind, STT_AS_AUDIO);
    assert_int_equal(g.m[2].len, 4);
}

static void test_stop_and_header(void **state)
{
    (void)state;
    uint8_t b[4096];
    size_t n = call(b);
    char err[256] = "";
    got_t g = {.stop_at = 3};
    stt_as_dispose(&p);
    stt_as_init(&p);
    assert_int_equal(stt_as_feed(&p, b, n, keep, &g, err, sizeof(err)), 7);
    assert_int_equal(g.n, 3);
    uint8_t h[3];
    stt_as_header(0x00, 0, h);
    assert_memory_equal(h, "\x00\x00\x00", 3);
    stt_as_header(0x10, 320, h);
    assert_memory_equal(h, "\x10\x01\x40", 3);
    assert_int_equal(stt_as_rate(0x0f), 0);
    assert_int_equal(stt_as_rate(0x19), 0);
    assert_int_equal(stt_as_rate(0x15), 44100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_empty_audio),
        cmocka_unit_test(test_stop_and_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

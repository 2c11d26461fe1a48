/* Unit tests for the G.711 decoders (src/audio/g711.c), all 256 codes of each law:
 *
 * 1. against the ITU-T G.711 decoding rules, written here from the standard's tables and not
 *    from the decoder: mu-law 14-bit value ((2m + 33) << e) - 33 of the inverted code, scaled
 *    by 4; A-law 13-bit value 2m + 1 (segment 0) or (2m + 33) << (e - 1), scaled by 8, of the
 *    code with its even bits inverted, sign bit set = positive;
 * 2. against sox, which users convert telephone audio with: every code written as a raw 8 kHz
 *    mu-law / A-law file, decoded by `sox ... -e signed -b 16`, must give the same samples;
 * 3. the bulk decoders equal the per-code ones.
 * sox comes from Debian (scripts/setup.sh); without it part 2 fails, it is not skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stt/g711.h"

static int itu_mulaw(uint8_t code)
{
    unsigned u = (~code) & 0xffu;
    int e = (u >> 4) & 7, m = u & 15;
    int v = ((2 * m + 33) << e) - 33; /* 14-bit magnitude */
    return (u & 0x80 ? -v : v) * 4;
}

static int itu_alaw(uint8_t code)
{
    unsigned a = code ^ 0x55u;
    int e = (a >> 4) & 7, m = a & 15;
    int v = e == 0 ? 2 * m + 1 : (2 * m + 33) << (e - 1); /* 13-bit magnitude */
    return (a & 0x80 ? v : -v) * 8;
}

static void test_itu(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        assert_int_equal(stt_g711_mulaw_to_s16((uint8_t)c), itu_mulaw((uint8_t)c));
        assert_int_equal(stt_g711_alaw_to_s16((uint8_t)c), itu_alaw((uint8_t)c));
    }
    /* the extremes and the two zeros of mu-law */
    assert_int_equal(stt_g711_mulaw_to_s16(0x80), 32124);
    assert_int_equal(stt_g711_mulaw_to_s16(0x00), -32124);
    assert_int_equal(stt_g711_mulaw_to_s16(0xff), 0);
    assert_int_equal(stt_g711_mulaw_to_s16(0x7f), 0);
    assert_int_equal(stt_g711_alaw_to_s16(0xaa), 32256);
    assert_int_equal(stt_g711_alaw_to_s16(0xd5), 8);
}

/* Decodes the 256 codes with sox; out gets 256 samples. */
static void sox_decode(const char *encoding, int16_t out[256])
{
    char in_path[64], out_path[64], cmd[512];
    snprintf(in_path, sizeof(in_path), "/tmp/test-g711-%ld-%s.raw", (long)getpid(), encoding);
    snprintf(out_path, sizeof(out_path), "/tmp/test-g711-%ld-%s.s16", (long)getpid(), encoding);
    FILE *f = fopen(in_path, "wb");
    assert_non_null(f);
    for (int c = 0; c < 256; c++)
        fputc(c, f);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof(cmd),
             "sox -t raw -r 8000 -c 1 -b 8 -e %s %s -t raw -r 8000 -c 1 -b 16 -e signed-integer "
             "-L %s",
             encoding, in_path, out_path);
    assert_int_equal(system(cmd), 0);
    f = fopen(out_path, "rb");
    assert_non_null(f);
    uint8_t b[512];
    assert_int_equal(fread(b, 1, sizeof(b), f), sizeof(b));
    fclose(f);
    for (int i = 0; i < 256; i++)
        out[i] = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
    unlink(in_path);
    unlink(out_path);
}

static void test_sox(void **state)
{
    (void)state;
    int16_t mu[256], a[256];
    sox_decode("mu-law", mu);
    sox_decode("a-law", a);
    for (int c = 0; c < 256; c++) {
        assert_int_equal(stt_g711_mulaw_to_s16((uint8_t)c), mu[c]);
        assert_int_equal(stt_g711_alaw_to_s16((uint8_t)c), a[c]);
    }
}

static void test_bulk(void **state)
{
    (void)state;
    uint8_t codes[256];
    int16_t mu[256], a[256];
    for (int c = 0; c < 256; c++)
        codes[c] = (uint8_t)c;
    stt_g711_mulaw_decode(codes, 256, mu);
    stt_g711_alaw_decode(codes, 256, a);
    for (int c = 0; c < 256; c++) {
        assert_int_equal(mu[c], stt_g711_mulaw_to_s16((uint8_t)c));
        assert_int_equal(a[c], stt_g711_alaw_to_s16((uint8_t)c));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_itu),
        cmocka_unit_test(test_sox),
        cmocka_unit_test(test_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

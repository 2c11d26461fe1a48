/* Unit tests for src/base/text.c: transcript post-processing (spec 5.9) and base64 (RFC 4648).
 *
 * The expected post-processing results were produced by running the upstream Python functions
 * (RealtimeSTT _preprocess_output + stt_server.preprocess_text) on the same inputs; the cases
 * where we knowingly differ from Python are in test_documented_deviations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/text.h"

typedef struct {
    const char *in;
    const char *final;
    const char *realtime;
} text_case_t;

/* in, stt_text_final, stt_text_realtime */
static const text_case_t CASES[] = {
    {"", "", ""},
    {"   ", "", ""},
    {"hello world", "Hello world.", "Hello world"},
    {"  hello   world  ", "Hello world.", "Hello world"},
    {"hello\t\n world\r\n", "Hello world.", "Hello world"},
    {"a\v\fb", "A b.", "A b"},
    {"Hello world.", "Hello world.", "Hello world."},
    {"is it?", "Is it?", "Is it?"},
    {"wow!", "Wow!", "Wow!"},
    {"end,", "End,", "End,"},
    {"'quoted'", "'quoted'", "'quoted'"},
    {"...and then", "And then.", "And then"},
    {"... and then", "And then.", "And then"},
    {"  ...and then he left", "And then he left.", "And then he left"},
    /* The two trailing checks run one after the other, so "...'." loses both '.' and '\''. */
    {"he said...'.", "He said...", "He said..."},
    {"he said...'", "He said...", "He said..."},
    {"a...'.", "A...", "A..."},
    {"he said...", "He said...", "He said..."},
    {"... ", "", ""},
    {"...", "", ""},
    {"....", ".", "."},
    {"....'.", ".'.", ".'."},
    {"...'.", "'.", "'."},
    {"it costs 5", "It costs 5.", "It costs 5"},
    {"1 2 3", "1 2 3.", "1 2 3"},
    {"x", "X.", "X"},
    /* Non-ASCII first and last characters (octal escapes where a hex escape would swallow the
     * next letter). */
    {"\xc3\xa9lan vital", "\xc3\x89lan vital.", "\xc3\x89lan vital"}, /* élan */
    {"\303\274ber alles", "\303\234ber alles.", "\303\234ber alles"}, /* über */
    {"caf\xc3\xa9", "Caf\xc3\xa9.", "Caf\xc3\xa9"},                   /* café */
    {"ends with \xc3\xa9", "Ends with \xc3\xa9.", "Ends with \xc3\xa9"},
    {"\xc5\x82\303\263d\xc5\xba", "\xc5\x81\303\263d\xc5\xba.",
     "\xc5\x81\303\263d\xc5\xba"}, /* łódź */
    {"\xc5\xbc\xc3\xb3\xc5\x82w", "\xc5\xbb\xc3\xb3\xc5\x82w.", "\xc5\xbb\xc3\xb3\xc5\x82w"},
    {"\303\277es", "\305\270es.", "\305\270es"}, /* ÿ -> Ÿ */
    {"\xce\xb1\xce\xb2\xce\xb3", "\xce\x91\xce\xb2\xce\xb3.", "\xce\x91\xce\xb2\xce\xb3"}, /* αβγ */
    {"\xcf\x82", "\xce\xa3.", "\xce\xa3"}, /* final sigma -> Σ */
    {"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80",
     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80.",
     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80"}, /* привет мир */
    {"\xd1\x91\xd0\xbb\xd0\xba\xd0\xb0", "\xd0\x81\xd0\xbb\xd0\xba\xd0\xb0.",
     "\xd0\x81\xd0\xbb\xd0\xba\xd0\xb0"}, /* ёлка */
    {"\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82", "\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82",
     "\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82"}, /* 你好。: ideographic full stop is not alnum */
    {"\xe4\xbd\xa0\xe5\xa5\xbd", "\xe4\xbd\xa0\xe5\xa5\xbd.", "\xe4\xbd\xa0\xe5\xa5\xbd"},
    {"\xf0\x9f\x99\x82 hi", "\xf0\x9f\x99\x82 hi.", "\xf0\x9f\x99\x82 hi"}, /* 🙂 first */
    {"hi \xf0\x9f\x99\x82", "Hi \xf0\x9f\x99\x82", "Hi \xf0\x9f\x99\x82"},  /* 🙂 last */
    {"n\xc2\xb0", "N\xc2\xb0", "N\xc2\xb0"},                                /* ° is a symbol */
    {"\xce\xa9mega", "\xce\xa9mega.", "\xce\xa9mega"},                      /* already capital */
};

static void test_spec_cases(void **state)
{
    (void)state;
    char out[256];
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        stt_text_final(CASES[i].in, out, sizeof(out));
        if (strcmp(out, CASES[i].final) != 0)
            fail_msg("final case %zu \"%s\": got \"%s\", want \"%s\"", i, CASES[i].in, out,
                     CASES[i].final);
        stt_text_realtime(CASES[i].in, out, sizeof(out));
        if (strcmp(out, CASES[i].realtime) != 0)
            fail_msg("realtime case %zu \"%s\": got \"%s\", want \"%s\"", i, CASES[i].in, out,
                     CASES[i].realtime);
    }
}

/* Where Python's Unicode-aware str methods give something else, on purpose (see text.c). */
static void test_documented_deviations(void **state)
{
    (void)state;
    char out[64];
    /* 'ß'.upper() is "SS" in Python; we leave letters whose capital changes length alone. */
    stt_text_final("\303\237a", out, sizeof(out));
    assert_string_equal(out, "\303\237a.");
    /* U+00A0 is whitespace to Python's strip(); we only strip ASCII whitespace. */
    stt_text_final("\xc2\xa0nbsp", out, sizeof(out));
    assert_string_equal(out, "\xc2\xa0nbsp.");
    /* A script without case (Hebrew) is untouched but still gets its period. */
    stt_text_final("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", out, sizeof(out));
    assert_string_equal(out, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d.");
}

static void test_truncation_utf8_boundary(void **state)
{
    (void)state;
    char out[8];
    /* "Héé" -> "Héé." is 1+2+2+1 = 6 bytes; cap 5 leaves 4 bytes, which would split the second
     * é, so the result stops before it. */
    char small[5];
    stt_text_final("h\xc3\xa9\xc3\xa9", small, sizeof(small));
    assert_string_equal(small, "H\xc3\xa9");
    stt_text_final("h\xc3\xa9\xc3\xa9", out, sizeof(out));
    assert_string_equal(out, "H\xc3\xa9\xc3\xa9.");
    /* The trailing rule is applied to the whole text before truncation. */
    stt_text_final("abcdefghij...'.", out, sizeof(out));
    assert_string_equal(out, "Abcdefg");
    char one[1] = {'x'};
    stt_text_final("hello", one, sizeof(one));
    assert_int_equal(one[0], '\0');
    stt_text_final("hello", NULL, 0); /* must not crash */
    stt_text_final(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_long_input(void **state)
{
    (void)state;
    size_t n = 100000;
    char *in = malloc(n + 1);
    char *out = malloc(n + 2);
    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        in[i] = (i % 3 == 0) ? ' ' : 'a';
    in[n] = '\0';
    stt_text_final(in, out, n + 2);
    /* " aa aa ... aa" -> "Aa aa ... aa." */
    size_t words = n / 3;
    assert_int_equal(strlen(out), words * 3 - 1 + 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(out[strlen(out) - 1], '.');
    free(in);
    free(out);
}

/* RFC 4648 section 10 test vectors. */
static const char *const B64_PLAIN[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const B64_CODED[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    char enc[32];
    uint8_t dec[32];
    for (size_t i = 0; i < 7; i++) {
        size_t n = strlen(B64_PLAIN[i]);
        assert_int_equal(stt_base64_encoded_len(n), strlen(B64_CODED[i]));
        size_t m = stt_base64_encode((const uint8_t *)B64_PLAIN[i], n, enc);
        assert_int_equal(m, strlen(B64_CODED[i]));
        assert_string_equal(enc, B64_CODED[i]);
        long d = stt_base64_decode(B64_CODED[i], strlen(B64_CODED[i]), dec);
        assert_int_equal(d, (long)n);
        assert_memory_equal(dec, B64_PLAIN[i], n);
    }
}

static void test_base64_invalid(void **state)
{
    (void)state;
    uint8_t dec[32];
    const char *bad[] = {
        "Z",     "Zg=", "Zg===", "=Zg=", "Zg==Zg==", "Zm9v\n", "Zm 9v", "Zm9-",    "Zm9_",
        "Zm9v!", "=",   "==",    "====", "A===",     "Zm9vY",  "Z=g=",  "\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long d = stt_base64_decode(bad[i], strlen(bad[i]), dec);
        if (d != -1)
            fail_msg("\"%s\" decoded to %ld bytes, want -1", bad[i], d);
    }
    /* Unpadded input is accepted leniently. */
    assert_int_equal(stt_base64_decode("Zg", 2, dec), 1);
    assert_int_equal(dec[0], 'f');
    assert_int_equal(stt_base64_decode("Zm9vYmE", 7, dec), 5);
    assert_memory_equal(dec, "fooba", 5);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    /* xorshift64*: deterministic so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void test_base64_round_trip(void **state)
{
    (void)state;
    uint8_t in[300], dec[300 * 3 / 4 + 3 + 100];
    char enc[404 + 1];
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = (size_t)(rng_next() % sizeof(in));
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rng_next();
        size_t m = stt_base64_encode(in, n, enc);
        assert_int_equal(m, stt_base64_encoded_len(n));
        assert_int_equal(enc[m], '\0');
        long d = stt_base64_decode(enc, m, dec);
        assert_int_equal(d, (long)n);
        assert_memory_equal(dec, in, n);
    }
    /* Every byte value, the way transcription_start carries float32 audio. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char enc_all[345];
    uint8_t dec_all[256 * 3 / 4 + 3 + 100];
    size_t m = stt_base64_encode(all, 256, enc_all);
    assert_int_equal(m, 344);
    assert_int_equal(stt_base64_decode(enc_all, m, dec_all), 256);
    assert_memory_equal(dec_all, all, 256);
}

static void test_trimmed(void **state)
{
    (void)state;
    static const char *cases[][2] = {{" hello world  ", "hello world"}, {"", ""}, {"   ", ""},
                                     {"a", "a"}, {" \tx ", "\tx"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = stt_text_trimmed(cases[i][0]);
        assert_string_equal(t, cases[i][1]);
        free(t);
    }
    char *t = stt_text_trimmed(NULL);
    assert_string_equal(t, "");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_cases),
        cmocka_unit_test(test_documented_deviations),
        cmocka_unit_test(test_truncation_utf8_boundary),
        cmocka_unit_test(test_long_input),
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_invalid),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_trimmed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

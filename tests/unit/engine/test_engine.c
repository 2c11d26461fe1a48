/* Unit tests for the engine registry's result helpers (src/engine/engine.c, words.h).
 *
 * Covered: stt_result_dispose frees words and may be called twice and on NULL; stt_words_add
 * trims spaces, drops bytes that are not valid UTF-8 and skips words left empty, and grows past
 * its first capacity; stt_words_clamp keeps times inside [0, duration], in order and
 * non-overlapping, NaN included; stt_words_spread splits at any run of spaces;
 * stt_words_attach_punct joins punctuation-only words to the word before them (leading ones to
 * the first word), keeps the text's characters in order and widens the times, and leaves a
 * result of punctuation only alone; stt_words_mean_confidence ignores unknown (-1) ones. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/engine/words.h"
#include "stt/engine.h"

static void test_add_trims_and_cleans(void **state)
{
    stt_result_t r = {0};
    stt_words_add(&r, " hello ", 7, 0.1, 0.2, 0.5);
    stt_words_add(&r, "   ", 3, 0.2, 0.3, 0.5);            /* empty: skipped */
    stt_words_add(&r, "caf\xc3\xa9,", 6, 0.3, 0.4, -1);     /* valid 2-byte sequence kept */
    stt_words_add(&r, "a\xc3" "b\xff\x80" "c", 6, 0.4, 0.5, 1); /* stray bytes dropped */
    stt_words_add(&r, "\xe2\x82", 2, 0.5, 0.6, 1);          /* truncated, nothing left */
    stt_words_add(&r, "\xed\xa0\x80x", 4, 0.6, 0.7, 1);     /* a surrogate is not UTF-8 */
    stt_words_add(&r, "xyz", 2, 0.7, 0.8, 1);               /* only len bytes */
    assert_int_equal(r.n_words, 5);
    assert_string_equal(r.words[0].word, "hello");
    assert_true(r.words[0].start_s == 0.1 && r.words[0].end_s == 0.2);
    assert_true(r.words[0].confidence == 0.5);
    assert_string_equal(r.words[1].word, "caf\xc3\xa9,");
    assert_true(r.words[1].confidence == -1);
    assert_string_equal(r.words[2].word, "abc");
    assert_string_equal(r.words[3].word, "x");
    assert_string_equal(r.words[4].word, "xy");
    stt_result_dispose(&r);
    assert_null(r.words);
    assert_int_equal(r.n_words, 0);
    stt_result_dispose(&r);
    stt_result_dispose(NULL);
}

static void test_add_grows(void **state)
{
    stt_result_t r = {0};
    char w[16];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(w, sizeof(w), "w%d", i);
        stt_words_add(&r, w, (size_t)n, i * 0.01, i * 0.01 + 0.005, 1);
    }
    assert_int_equal(r.n_words, 1000);
    for (int i = 0; i < 1000; i++) {
        snprintf(w, sizeof(w), "w%d", i);
        assert_string_equal(r.words[i].word, w);
    }
    stt_result_dispose(&r);
}

static void test_clamp(void **state)
{
    stt_result_t r = {0};
    stt_words_add(&r, "a", 1, -0.5, 0.2, 1);  /* before the audio */
    stt_words_add(&r, "b", 1, 0.1, 0.05, 1);  /* starts inside a, ends before it starts */
    stt_words_add(&r, "c", 1, NAN, NAN, 1);   /* no times at all */
    stt_words_add(&r, "d", 1, 0.5, 9.0, 1);   /* past the end */
    stt_words_add(&r, "e", 1, 3.0, 4.0, 1);   /* wholly past the end */
    stt_words_clamp(&r, 1.0);
    const double want[5][2] = {{0, 0.2}, {0.2, 0.2}, {0.2, 0.2}, {0.5, 1.0}, {1.0, 1.0}};
    for (int i = 0; i < 5; i++) {
        assert_true(r.words[i].start_s == want[i][0]);
        assert_true(r.words[i].end_s == want[i][1]);
    }
    stt_result_dispose(&r);
}

static void test_spread(void **state)
{
    stt_result_t r = {0};
    stt_words_spread(&r, "\tone  two\nthree ", 3.0, 0.75);
    assert_int_equal(r.n_words, 3);
    const char *const w[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.words[i].word, w[i]);
        assert_true(fabs(r.words[i].start_s - i) < 1e-9);
        assert_true(fabs(r.words[i].end_s - (i + 1)) < 1e-9);
        assert_true(r.words[i].confidence == 0.75);
    }
    stt_result_dispose(&r);
    stt_words_spread(&r, "   ", 3.0, 1);
    assert_int_equal(r.n_words, 0);
    assert_null(r.words);
}

static void test_attach_punct(void **state)
{
    stt_result_t r = {0};
    /* whisper: ' "' ' Well' ' -' ' I' ' think' ' ...' ' so.' ' "' */
    stt_words_add(&r, "\"", 1, 0.0, 0.1, 0.5);
    stt_words_add(&r, "Well", 4, 0.1, 0.4, 0.9);
    stt_words_add(&r, "-", 1, 0.4, 0.5, 0.2);
    stt_words_add(&r, "I", 1, 0.6, 0.7, 0.8);
    stt_words_add(&r, "think", 5, 0.7, 1.0, 0.7);
    stt_words_add(&r, "...", 3, 1.0, 1.2, 0.1);
    stt_words_add(&r, "so.", 3, 1.3, 1.5, 0.6);
    stt_words_add(&r, "\"", 1, 1.5, 1.6, 0.3);
    stt_words_add(&r, "\xc3\xa9t\xc3\xa9", 6, 1.7, 1.9, 0.4); /* non-ASCII letters: a word */
    stt_words_attach_punct(&r);
    const char *const want[] = {"\"Well-", "I", "think...", "so.\"", "\xc3\xa9t\xc3\xa9"};
    const double times[][2] = {{0.0, 0.5}, {0.6, 0.7}, {0.7, 1.2}, {1.3, 1.6}, {1.7, 1.9}};
    const double conf[] = {0.9, 0.8, 0.7, 0.6, 0.4};
    assert_int_equal(r.n_words, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.words[i].word, want[i]);
        assert_true(r.words[i].start_s == times[i][0] && r.words[i].end_s == times[i][1]);
        assert_true(r.words[i].confidence == conf[i]);
    }
    assert_true(fabs(stt_words_mean_confidence(&r) - 3.4 / 5) < 1e-12);
    stt_result_dispose(&r);
    /* Punctuation only: nothing to attach to, kept. */
    stt_words_add(&r, "-", 1, 0, 1, -1);
    stt_words_add(&r, "?", 1, 1, 2, -1);
    stt_words_attach_punct(&r);
    assert_int_equal(r.n_words, 2);
    assert_true(stt_words_mean_confidence(&r) == -1);
    stt_result_dispose(&r);
    stt_words_attach_punct(&r); /* empty */
    assert_int_equal(r.n_words, 0);
    /* Unknown confidences do not count. */
    stt_words_add(&r, "a", 1, 0, 1, -1);
    stt_words_add(&r, "b", 1, 1, 2, 0.25);
    assert_true(stt_words_mean_confidence(&r) == 0.25);
    stt_result_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_trims_and_cleans),
        cmocka_unit_test(test_add_grows),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_attach_punct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

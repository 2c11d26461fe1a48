/* Unit tests for the null engine (src/engine/null.c).
 *
 * Covered: by default every result is empty text with no words; with stt_null_set_text, partials
 * and finals say the text with its words spread evenly over the audio the utterance was fed so
 * far (utt_end's tail included), in order and inside the audio; NULL restores the default; the
 * in-use gauge counts live utterances.
 *
 * The test thread plays the pool worker, which the engine allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/config.h"
#include "stt/engine.h"

static const stt_utt_options_t OPT = {.language = "en", .beam_size = 1, .beam_size_realtime = 1};

static stt_model_t *load(void)
{
    stt_config_t cfg;
    assert_int_equal(stt_config_init(&cfg), 0);
    char err[256] = "";
    stt_model_t *m = NULL;
    assert_int_equal(stt_engine_null.load(&cfg, &m, err, sizeof(err)), 0);
    stt_config_dispose(&cfg);
    return m;
}

/* r says `n` words of the text "alpha beta gamma ..." evenly over `samples` at 16 kHz. */
static void assert_spread(const stt_result_t *r, const char *const *words, size_t n,
                          size_t samples)
{
    double dur = (double)samples / 16000.0;
    assert_int_equal(r->n_words, n);
    for (size_t i = 0; i < n; i++) {
        const stt_word_t *w = &r->words[i];
        assert_string_equal(w->word, words[i]);
        assert_true(w->start_s >= dur * (double)i / (double)n - 1e-9);
        assert_true(w->start_s <= dur * (double)i / (double)n + 1e-9);
        assert_true(w->end_s >= dur * (double)(i + 1) / (double)n - 1e-9);
        assert_true(w->end_s <= dur + 1e-12);
        assert_true(w->confidence == 1.0);
        if (i > 0)
            assert_true(w->start_s >= r->words[i - 1].end_s);
    }
}

static void test_default_empty(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_null;
    stt_model_t *m = load();
    int16_t pcm[1600] = {0};
    stt_utt_t *u = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    stt_result_t part = {0};
    assert_int_equal(e->utt_feed(u, pcm, 1600, 1, &part), 0);
    assert_string_equal(part.text, "");
    assert_null(part.words);
    assert_int_equal(part.n_words, 0);
    stt_result_dispose(&part);
    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u, pcm, 1600, &fin), 0);
    assert_string_equal(fin.text, "");
    assert_int_equal(fin.n_words, 0);
    stt_result_dispose(&fin);
    e->unload(m);
}

static void test_set_text_spreads_words(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_null;
    stt_model_t *m = load();
    static const char *const words[] = {"hello", "big", "world"};
    stt_null_set_text("  hello big   world ");
    int16_t pcm[8000] = {0};
    stt_utt_t *u = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    int in_use = -1, pooled = -1;
    e->stats(m, &in_use, &pooled);
    assert_int_equal(in_use, 1);

    stt_result_t part = {0};
    assert_int_equal(e->utt_feed(u, pcm, 8000, 0, &part), 0);
    assert_null(part.text); /* no partial asked for: untouched */
    assert_int_equal(e->utt_feed(u, pcm, 4000, 1, &part), 0);
    assert_string_equal(part.text, "  hello big   world ");
    assert_spread(&part, words, 3, 12000);
    stt_result_dispose(&part);

    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u, pcm, 8000, &fin), 0); /* the tail counts too: 1.25 s */
    assert_spread(&fin, words, 3, 20000);
    assert_true(fin.words[2].end_s == 1.25);
    stt_result_dispose(&fin);
    e->stats(m, &in_use, &pooled);
    assert_int_equal(in_use, 0);

    /* An utterance fed nothing: the words are all at 0. */
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    assert_int_equal(e->utt_end(u, NULL, 0, &fin), 0);
    assert_int_equal(fin.n_words, 3);
    assert_true(fin.words[2].start_s == 0 && fin.words[2].end_s == 0);
    stt_result_dispose(&fin);

    stt_null_set_text(NULL);
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    assert_int_equal(e->utt_end(u, pcm, 8000, &fin), 0);
    assert_string_equal(fin.text, "");
    assert_int_equal(fin.n_words, 0);
    stt_result_dispose(&fin);
    e->unload(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_empty),
        cmocka_unit_test(test_set_text_spreads_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

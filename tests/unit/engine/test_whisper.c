/* Unit tests for the whisper engine's words (src/engine/whisper.c), on a random-weight tiny model
 * that tools/gen-test-model writes next to this test (the build folder): the text is meaningless,
 * the words' bookkeeping is what is tested.
 *
 * Covered: a final's words are its text's words (joined, ignoring spaces), in order, inside the
 * utterance's audio with confidences in [0, 1], whether the audio came in many utt_feed calls or
 * all in utt_end; an utterance longer than whisper's 30 s window has words in the second window
 * and none past the end of the audio (whisper's last segment ends in its padding); partials
 * carry no words; with --word_timestamps the segments' words are the same words.
 *
 * Skipped (not failed) in a build without whisper.cpp. The test thread plays the pool worker. */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sndfile.h>

#include "stt/config.h"
#include "stt/engine.h"
#include "stt/log.h"

#ifdef STT_HAVE_WHISPER

#define LIBRIVOX_DIR "/usr/share/pocketsphinx/test/data/librivox/"
#define WAV_0870 LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0870.wav"
#define RATE 16000

static char g_dir[256], g_model[320];

typedef struct {
    int16_t *pcm;
    size_t n;
} audio_t;

static audio_t read_wav16k(const char *path)
{
    SF_INFO info;
    memset(&info, 0, sizeof(info));
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        fail_msg("cannot open %s: %s", path, sf_strerror(NULL));
    assert_int_equal(info.samplerate, RATE);
    assert_int_equal(info.channels, 1);
    audio_t a;
    a.pcm = stt_calloc((size_t)info.frames, sizeof(int16_t));
    a.n = (size_t)sf_read_short(sf, a.pcm, info.frames);
    sf_close(sf);
    return a;
}

/* Every librivox recording, twice over: 49.5 s, two of whisper's 30 s windows. */
static audio_t read_long(void)
{
    static const char *const ids[] = {"0870", "0880", "0890", "0920", "0930"};
    audio_t all = {NULL, 0};
    for (int rep = 0; rep < 2; rep++) {
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            char path[256];
            snprintf(path, sizeof(path), "%ssense_and_sensibility_01_austen_64kb-%s.wav",
                     LIBRIVOX_DIR, ids[i]);
            audio_t a = read_wav16k(path);
            all.pcm = realloc(all.pcm, (all.n + a.n) * sizeof(int16_t));
            assert_non_null(all.pcm);
            memcpy(all.pcm + all.n, a.pcm, a.n * sizeof(int16_t));
            all.n += a.n;
            free(a.pcm);
        }
    }
    return all;
}

/* Writes the tiny test model into a fresh temporary folder with gen-test-model from this test's
 * own folder (both are build outputs). */
static int setup(void **state)
{
    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    snprintf(g_dir, sizeof(g_dir), "/tmp/stt-test-whisper-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/gen-test-model' --root '%s' --quiet tiny", exe, g_dir);
    if (system(cmd) != 0) {
        print_error("%s failed (build the gen-test-model target)\n", cmd);
        return -1;
    }
    snprintf(g_model, sizeof(g_model), "%s/ggml-tiny.bin", g_dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(g_model);
    rmdir(g_dir);
    return 0;
}

static stt_model_t *load_model(int word_timestamps)
{
    stt_config_t cfg;
    assert_int_equal(stt_config_init(&cfg), 0);
    free(cfg.model), free(cfg.rt_model), free(cfg.device);
    cfg.model = stt_strdup(g_model);
    cfg.rt_model = stt_strdup(g_model);
    cfg.device = stt_strdup("cpu");
    cfg.whisper_threads = 2;
    cfg.workers = 1;
    cfg.word_timestamps = word_timestamps;
    char err[512] = "";
    stt_model_t *m = NULL;
    int rc = stt_engine_whisper.load(&cfg, &m, err, sizeof(err));
    stt_config_dispose(&cfg);
    if (rc != 0)
        fail_msg("load failed (%s)", err);
    return m;
}

static const stt_utt_options_t OPT = {.language = "en", .beam_size = 1, .beam_size_realtime = 1};

/* The words keep engine.h's promise for `samples` of audio, and are the text's words. */
static void assert_words_sane(const stt_result_t *r, size_t samples)
{
    double dur = (double)samples / RATE, prev_end = 0;
    size_t tl = 0;
    char *joined = stt_calloc(strlen(r->text) + 1, 1), *text = stt_calloc(strlen(r->text) + 1, 1);
    for (const char *p = r->text; *p; p++)
        if (*p != ' ')
            text[tl++] = *p;
    for (size_t i = 0; i < r->n_words; i++) {
        const stt_word_t *w = &r->words[i];
        if (!(w->start_s >= prev_end && w->end_s >= w->start_s && w->end_s <= dur))
            fail_msg("word %zu \"%s\" [%.3f, %.3f]: previous ended %.3f, audio %.3f s", i,
                     w->word, w->start_s, w->end_s, prev_end, dur);
        assert_true(w->confidence >= 0 && w->confidence <= 1);
        assert_null(strchr(w->word, ' '));
        strcat(joined, w->word);
        prev_end = w->end_s;
    }
    assert_string_equal(joined, text);
    free(joined);
    free(text);
    /* Punctuation-only tokens belong to a word (unless the text has no word at all), and the
     * final's confidence is its words' mean. */
    size_t with_alnum = 0;
    double sum = 0;
    for (size_t i = 0; i < r->n_words; i++) {
        int alnum = 0;
        for (const unsigned char *p = (const unsigned char *)r->words[i].word; *p; p++)
            alnum |= *p >= 0x80 || isalnum(*p);
        with_alnum += (size_t)alnum;
        sum += r->words[i].confidence;
    }
    assert_true(with_alnum == 0 || with_alnum == r->n_words);
    if (r->n_words)
        assert_true(fabs(r->confidence - sum / (double)r->n_words) < 1e-9);
}

static void print_words(const char *what, const stt_result_t *r, size_t samples)
{
    print_message("%s (%.2f s): \"%s\"\n", what, (double)samples / RATE, r->text);
    for (size_t i = 0; i < r->n_words; i++)
        print_message("  %-16s %6.2f %6.2f  p %.2f\n", r->words[i].word, r->words[i].start_s,
                      r->words[i].end_s, r->words[i].confidence);
}

/* Streams `a` in pieces of `piece` samples, a partial after every other one, then ends with the
 * rest (piece 0: everything in utt_end). */
static stt_result_t decode(stt_model_t *m, const audio_t *a, size_t piece)
{
    const stt_engine_vtable_t *e = &stt_engine_whisper;
    stt_utt_t *u = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    size_t off = 0;
    for (int k = 0; piece && a->n - off > piece; k++, off += piece) {
        stt_result_t part = {0};
        assert_int_equal(e->utt_feed(u, a->pcm + off, piece, k & 1, &part), 0);
        if (k & 1) {
            assert_non_null(part.text);
            assert_int_equal(part.n_words, 0); /* partials: no words */
            assert_null(part.words);
        }
        stt_result_dispose(&part);
    }
    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u, a->pcm + off, a->n - off, &fin), 0);
    assert_non_null(fin.text);
    return fin;
}

static void test_final_words(void **state)
{
    stt_model_t *m = load_model(0);
    audio_t a = read_wav16k(WAV_0870);
    stt_result_t streamed = decode(m, &a, RATE);
    print_words("0870, streamed", &streamed, a.n);
    assert_true(streamed.n_words > 0);
    assert_words_sane(&streamed, a.n);
    assert_null(streamed.segments ? cJSON_GetObjectItem(cJSON_GetArrayItem(streamed.segments, 0),
                                                        "words")
                                  : NULL);
    stt_result_t whole = decode(m, &a, 0);
    assert_string_equal(whole.text, streamed.text);
    assert_int_equal(whole.n_words, streamed.n_words);
    for (size_t i = 0; i < whole.n_words; i++) {
        assert_string_equal(whole.words[i].word, streamed.words[i].word);
        assert_true(whole.words[i].start_s == streamed.words[i].start_s);
        assert_true(whole.words[i].end_s == streamed.words[i].end_s);
    }
    stt_result_dispose(&streamed);
    stt_result_dispose(&whole);
    free(a.pcm);
    stt_engine_whisper.unload(m);
}

/* Past 30 s whisper decodes a second window; its times still count from the first sample. */
static void test_final_words_two_windows(void **state)
{
    stt_model_t *m = load_model(1);
    audio_t a = read_long();
    stt_result_t fin = decode(m, &a, 8 * RATE);
    print_words("librivox x2, streamed", &fin, a.n);
    assert_words_sane(&fin, a.n);
    assert_true(fin.n_words > 1);
    assert_true(fin.words[fin.n_words - 1].start_s > 30.0);

    /* --word_timestamps: the segments list the same words. */
    size_t k = 0;
    const cJSON *seg;
    cJSON_ArrayForEach(seg, fin.segments)
    {
        const cJSON *w;
        cJSON_ArrayForEach(w, cJSON_GetObjectItem(seg, "words"))
        {
            assert_true(k < fin.n_words);
            assert_string_equal(cJSON_GetObjectItem(w, "word")->valuestring, fin.words[k].word);
            assert_true(cJSON_GetObjectItem(w, "start")->valuedouble == fin.words[k].start_s);
            assert_true(cJSON_GetObjectItem(w, "end")->valuedouble == fin.words[k].end_s);
            assert_true(cJSON_GetObjectItem(w, "probability")->valuedouble ==
                        fin.words[k].confidence);
            k++;
        }
    }
    assert_int_equal(k, fin.n_words);
    stt_result_dispose(&fin);
    free(a.pcm);
    stt_engine_whisper.unload(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_final_words),
        cmocka_unit_test(test_final_words_two_windows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* !STT_HAVE_WHISPER */

static void test_skipped(void **state)
{
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif

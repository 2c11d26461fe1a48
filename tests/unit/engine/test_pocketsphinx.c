/* Unit tests for the pocketsphinx engine (src/engine/pocketsphinx.c) on the real Debian model
 * (pocketsphinx-en-us, paths from the config defaults) and a real recording from
 * pocketsphinx-testdata.
 *
 * Covered: streaming decode in 1024-sample pieces with partials, and a word-level bound on the
 * final; identical finals from two different decoders and from a reused decoder (the cepstral
 * mean is reset per utterance, so earlier audio never changes a later result); the decoder lease
 * cap (STT_EBUSY, then success after a release) and the stats gauges; a missing model file fails
 * load with STT_ENOENT and names the file; prewarm fills the idle pool up to n (and the cap) and
 * the background keeper keeps n idle as utterances lease decoders; word times (stt_result_t.words)
 * on every librivox recording: in order, inside the audio, the final's words are its text's words,
 * partials' words are inside the audio fed so far, and across a 1.5 s pause inside one utterance
 * the same recording's words come exactly the pause plus the recording's length later.
 *
 * The engine's utt_* calls normally run on pool workers; here the test thread plays the worker,
 * which the engine allows (an utterance is used by one thread at a time). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sndfile.h>

#include "stt/config.h"
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"

#define LIBRIVOX_DIR "/usr/share/pocketsphinx/test/data/librivox/"
#define WAV_0880 LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0880.wav"
#define WAV_0890 LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0890.wav"
#define WAV_0930 LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0930.wav"
#define CARDS_005 "/usr/share/pocketsphinx/test/data/cards/005.wav"
#define REF_0880 "he was not an ill disposed young man"
#define PIECE_SAMPLES 1024

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
    assert_int_equal(info.samplerate, 16000);
    assert_int_equal(info.channels, 1);
    assert_true(info.frames > 16000); /* at least 1 s of speech */
    audio_t a;
    a.pcm = stt_calloc((size_t)info.frames, sizeof(int16_t));
    a.n = (size_t)sf_read_short(sf, a.pcm, info.frames);
    sf_close(sf);
    assert_int_equal(a.n, (size_t)info.frames);
    return a;
}

static stt_model_t *load_model(const stt_engine_vtable_t *e, int64_t decoders)
{
    stt_config_t cfg;
    assert_int_equal(stt_config_init(&cfg), 0);
    cfg.decoders = decoders;
    char err[512] = "";
    stt_model_t *m = NULL;
    int rc = e->load(&cfg, &m, err, sizeof(err));
    stt_config_dispose(&cfg);
    if (rc != 0)
        fail_msg("load failed (%s): %s", stt_err_name(rc), err);
    assert_non_null(m);
    return m;
}

static void assert_gauges(const stt_engine_vtable_t *e, stt_model_t *m, int in_use, int pooled)
{
    int u = -1, p = -1;
    e->stats(m, &u, &p);
    assert_int_equal(u, in_use);
    assert_int_equal(p, pooled);
}

/* Waits up to 10 s for the background keeper to bring the idle pool to `pooled`. */
static void wait_pooled(const stt_engine_vtable_t *e, stt_model_t *m, int pooled)
{
    int u = -1, p = -1;
    for (int i = 0; i < 1000; i++) {
        e->stats(m, &u, &p);
        if (p >= pooled)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("idle decoders stayed at %d (in use %d), want %d", p, u, pooled);
}

/* Streams `a` into an already begun utterance in 1024-sample pieces, asking for a partial after
 * each, then ends it. Returns the final text (caller frees); *n_partials counts non-empty partials
 * seen before the end. */
static char *decode_stream(const stt_engine_vtable_t *e, stt_utt_t *u, const audio_t *a,
                           int *n_partials)
{
    int nonempty = 0;
    for (size_t off = 0; off < a->n; off += PIECE_SAMPLES) {
        size_t n = a->n - off < PIECE_SAMPLES ? a->n - off : PIECE_SAMPLES;
        stt_result_t part = {0};
        assert_int_equal(e->utt_feed(u, a->pcm + off, n, 1, &part), 0);
        assert_non_null(part.text);
        if (part.text[0])
            nonempty++;
        stt_result_dispose(&part);
    }
    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u, NULL, 0, &fin), 0);
    assert_non_null(fin.text);
    if (n_partials)
        *n_partials = nonempty;
    char *text = fin.text;
    fin.text = NULL; /* the caller's now; the rest (words) goes */
    stt_result_dispose(&fin);
    return text;
}

/* Number of distinct words of `ref` that occur as whole words in `hyp`. */
static int words_found(const char *ref, const char *hyp)
{
    char *r = stt_strdup(ref), *save = NULL;
    int found = 0;
    size_t hl = strlen(hyp);
    for (char *w = strtok_r(r, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        size_t wl = strlen(w);
        for (const char *p = hyp; (p = strstr(p, w)) != NULL; p++) {
            int left = p == hyp || p[-1] == ' ';
            int right = (size_t)(p - hyp) + wl == hl || p[wl] == ' ';
            if (left && right) {
                found++;
                break;
            }
        }
    }
    free(r);
    return found;
}

static const stt_utt_options_t OPT = {.language = "en", .beam_size = 5, .beam_size_realtime = 3};

/* One utterance streamed with partials: the partials show words before the end, and the final
 * holds most of the reference transcript. */
static void test_stream_decode_librivox(void **state)
{
    const stt_engine_vtable_t *e = stt_engine_find("pocketsphinx");
    assert_ptr_equal(e, &stt_engine_pocketsphinx);
    stt_model_t *m = load_model(e, 0);
    assert_gauges(e, m, 0, 1); /* load creates one decoder so a broken model fails early */
    audio_t a = read_wav16k(WAV_0880);

    stt_utt_t *u = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    assert_non_null(u);
    assert_gauges(e, m, 1, 0);
    int partials = 0;
    char *fin = decode_stream(e, u, &a, &partials);
    print_message("final: \"%s\" (%d non-empty partials)\n", fin, partials);
    assert_true(partials > 0);
    int found = words_found(REF_0880, fin);
    if (found < 4)
        fail_msg("only %d reference words in \"%s\"", found, fin);
    assert_gauges(e, m, 0, 1); /* utt_end returned the lease */

    free(fin);
    free(a.pcm);
    e->unload(m);
}

/* The same recording on two decoders leased at once, and again on a reused decoder after another
 * recording: all three finals are identical. */
static void test_finals_identical_across_decoders(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 0);
    audio_t a = read_wav16k(WAV_0880);
    audio_t other = read_wav16k(WAV_0890);

    /* Lease two at once, so they are necessarily different decoders. */
    stt_utt_t *u1 = NULL, *u2 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u1), 0);
    assert_int_equal(e->utt_begin(m, &OPT, &u2), 0);
    assert_gauges(e, m, 2, 0);
    char *f1 = decode_stream(e, u1, &a, NULL);
    assert_gauges(e, m, 1, 1);
    char *f2 = decode_stream(e, u2, &a, NULL);
    assert_gauges(e, m, 0, 2);
    assert_string_equal(f1, f2);

    /* Different speech through a pooled decoder, then the first recording again: the earlier
     * utterance's channel estimate must not carry over. Both pooled decoders get it (the pool
     * is LIFO, so lease both to be sure the one that heard `other` is reused). */
    stt_utt_t *u3 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u3), 0);
    char *fo = decode_stream(e, u3, &other, NULL);
    assert_true(words_found("unless to be rather cold hearted and rather selfish is to be ill "
                            "disposed",
                            fo) >= 4);
    stt_utt_t *u4 = NULL, *u5 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u4), 0);
    assert_int_equal(e->utt_begin(m, &OPT, &u5), 0);
    assert_gauges(e, m, 2, 0);
    char *f4 = decode_stream(e, u4, &a, NULL);
    char *f5 = decode_stream(e, u5, &a, NULL);
    assert_string_equal(f4, f1);
    assert_string_equal(f5, f1);
    assert_gauges(e, m, 0, 2);

    free(f1), free(f2), free(fo), free(f4), free(f5);
    free(a.pcm);
    free(other.pcm);
    e->unload(m);
}

/* With --decoders 2, a third concurrent utterance is refused with STT_EBUSY (never blocks), and
 * succeeds once one lease is released. prewarm never goes past the cap. */
static void test_lease_cap_busy(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 2);
    e->prewarm(m, 3);
    wait_pooled(e, m, 2);
    assert_gauges(e, m, 0, 2); /* capped at 2 */

    stt_utt_t *u1 = NULL, *u2 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u1), 0);
    assert_int_equal(e->utt_begin(m, &OPT, &u2), 0);
    assert_ptr_not_equal(u1, u2);
    assert_gauges(e, m, 2, 0);

    stt_utt_t *u3 = (stt_utt_t *)&u3; /* sentinel: a refused begin leaves *out alone */
    assert_int_equal(e->utt_begin(m, &OPT, &u3), STT_EBUSY);
    assert_ptr_equal(u3, (stt_utt_t *)&u3);
    assert_gauges(e, m, 2, 0);

    /* A leased utterance still works while the pool is exhausted. */
    int16_t silence[PIECE_SAMPLES] = {0};
    stt_result_t part = {0};
    assert_int_equal(e->utt_feed(u2, silence, PIECE_SAMPLES, 1, &part), 0);
    assert_non_null(part.text);
    stt_result_dispose(&part);

    e->utt_abort(u1);
    assert_gauges(e, m, 1, 1);
    u3 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u3), 0);
    assert_non_null(u3);
    assert_gauges(e, m, 2, 0);
    assert_int_equal(e->utt_begin(m, &OPT, &u1), STT_EBUSY);

    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u2, silence, PIECE_SAMPLES, &fin), 0);
    assert_non_null(fin.text);
    stt_result_dispose(&fin);
    e->utt_abort(u3);
    e->utt_abort(NULL); /* accepted, like every release */
    assert_gauges(e, m, 0, 2);
    e->unload(m);
}

/* A missing model file fails load with STT_ENOENT and a message naming that file. */
static void test_missing_model_file(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    static const char missing_lm[] = "/nonexistent/stt-unit-test/missing.lm.bin";
    static const char missing_hmm[] = "/nonexistent/stt-unit-test/hmm";

    stt_config_t cfg;
    assert_int_equal(stt_config_init(&cfg), 0);
    free(cfg.ps_lm);
    cfg.ps_lm = stt_strdup(missing_lm);
    char err[512] = "";
    stt_model_t *m = (stt_model_t *)&m;
    assert_int_equal(e->load(&cfg, &m, err, sizeof(err)), STT_ENOENT);
    assert_ptr_equal(m, (stt_model_t *)&m);
    print_message("%s\n", err);
    assert_non_null(strstr(err, missing_lm));

    free(cfg.ps_hmm);
    cfg.ps_hmm = stt_strdup(missing_hmm);
    err[0] = '\0';
    assert_int_equal(e->load(&cfg, &m, err, sizeof(err)), STT_ENOENT);
    assert_non_null(strstr(err, missing_hmm)); /* names <hmm>/mdef, the first file it checks */
    assert_non_null(strstr(err, "mdef"));
    stt_config_dispose(&cfg);
}

/* Decodes `a` in jobs whose sizes come from a xorshift sequence in [1, max_job] (seed 0: one job
 * with everything, handed to utt_end). Returns the final (caller disposes). */
static stt_result_t decode_jobs_result(const stt_engine_vtable_t *e, stt_model_t *m,
                                       const audio_t *a, uint32_t seed, size_t max_job)
{
    stt_utt_t *u = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
    size_t off = 0;
    uint32_t x = seed;
    while (seed && off < a->n) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t n = 1 + x % max_job;
        if (n > a->n - off)
            n = a->n - off;
        stt_result_t part = {0};
        assert_int_equal(e->utt_feed(u, a->pcm + off, n, (int)(x & 1), &part), 0);
        stt_result_dispose(&part);
        off += n;
    }
    stt_result_t fin = {0};
    assert_int_equal(e->utt_end(u, a->pcm + off, a->n - off, &fin), 0);
    assert_non_null(fin.text);
    return fin;
}

/* The same, returning only the final text (caller frees). */
static char *decode_jobs(const stt_engine_vtable_t *e, stt_model_t *m, const audio_t *a,
                         uint32_t seed, size_t max_job)
{
    stt_result_t fin = decode_jobs_result(e, m, a, seed, max_job);
    char *t = fin.text;
    fin.text = NULL;
    stt_result_dispose(&fin);
    return t;
}

/* The final depends neither on how the audio was cut into jobs (the server coalesces more audio
 * per job under load) nor on what the decoder heard before: whole, small and large mixed job
 * sizes, on a fresh decoder, on one warmed with noise and on one that decoded other speech, give
 * the same text. Regression: the 0930 recording came out as "... i'm self taught" or "... myself
 * so" depending on which decoder it got. */
static void test_final_independent_of_job_sizes(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 0);
    audio_t a = read_wav16k(WAV_0930);
    char *whole = decode_jobs(e, m, &a, 0, 0);
    /* A decoder whose only history is prewarm's noise (the pool is LIFO: it is the next one).
     * Regression: the front end's noise estimate carried over and changed this final. */
    e->prewarm(m, 2);
    wait_pooled(e, m, 2);
    char *warmed = decode_jobs(e, m, &a, 0, 0);
    assert_string_equal(warmed, whole);
    free(warmed);
    const struct {
        uint32_t seed;
        size_t max_job;
    } cuts[] = {{1, 700}, {7, 5000}, {99, 40000}};
    const char *others[] = {WAV_0880, WAV_0890, CARDS_005};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        /* Something else through the same (only) decoder first: no history may matter either. */
        audio_t o = read_wav16k(others[i]);
        free(decode_jobs(e, m, &o, 3, 3000));
        free(o.pcm);
        char *t = decode_jobs(e, m, &a, cuts[i].seed, cuts[i].max_job);
        assert_string_equal(t, whole);
        free(t);
    }
    print_message("final: \"%s\" from every cut\n", whole);
    free(whole);
    free(a.pcm);
    e->unload(m);
}

/* prewarm(m, 3) has the background keeper make idle decoders until there are three (load made
 * one), and from then on top the idle pool back up to three as utterances lease decoders, so
 * leasing rarely has to create one on the worker; probe runs on an idle one. */
static void test_prewarm_fills_pool(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 0);
    assert_gauges(e, m, 0, 1);
    e->prewarm(m, 3);
    wait_pooled(e, m, 3);
    assert_gauges(e, m, 0, 3);
    e->prewarm(m, 2); /* already enough: creates nothing */
    assert_gauges(e, m, 0, 3);

    stt_utt_t *u1 = NULL, *u2 = NULL;
    assert_int_equal(e->utt_begin(m, &OPT, &u1), 0);
    assert_int_equal(e->utt_begin(m, &OPT, &u2), 0);
    wait_pooled(e, m, 3);
    assert_gauges(e, m, 2, 3);
    e->utt_abort(u1);
    e->utt_abort(u2);
    assert_gauges(e, m, 0, 5);
    assert_int_equal(e->probe(m), 0);
    assert_gauges(e, m, 0, 5);
    e->unload(m);
}

static const char *const LIBRIVOX_ALL[] = {
    LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0870.wav",
    WAV_0880,
    WAV_0890,
    LIBRIVOX_DIR "sense_and_sensibility_01_austen_64kb-0920.wav",
    WAV_0930,
};

/* The words of r keep engine.h's promise for `samples` of audio: non-empty, in order, each
 * inside [0, samples / 16 kHz], none before the previous one's end; confidences in [0, 1] on a
 * final, -1 on a partial. */
static void assert_words_sane(const stt_result_t *r, size_t samples, int final)
{
    double dur = (double)samples / 16000.0, prev_end = 0;
    for (size_t i = 0; i < r->n_words; i++) {
        const stt_word_t *w = &r->words[i];
        assert_non_null(w->word);
        assert_true(w->word[0] != '\0');
        if (!(w->start_s >= prev_end && w->end_s >= w->start_s && w->end_s <= dur))
            fail_msg("word %zu \"%s\" [%.3f, %.3f]: previous ended %.3f, audio %.3f s", i,
                     w->word, w->start_s, w->end_s, prev_end, dur);
        if (final)
            assert_true(w->confidence >= 0 && w->confidence <= 1);
        else
            assert_true(w->confidence == -1);
        prev_end = w->end_s;
    }
}

/* The words, in order, are exactly the text's space-separated words. */
static void assert_words_are_text(const stt_result_t *r)
{
    char *t = stt_strdup(r->text), *save = NULL;
    size_t i = 0;
    for (char *w = strtok_r(t, " ", &save); w; w = strtok_r(NULL, " ", &save), i++) {
        if (i >= r->n_words)
            fail_msg("text \"%s\" has more words than the %zu words", r->text, r->n_words);
        assert_string_equal(r->words[i].word, w);
    }
    assert_int_equal(i, r->n_words);
    free(t);
}

/* Every librivox recording streamed in 1024-sample pieces with a partial after each: every
 * partial's and the final's words are sane, the final's are its text's words, the last word ends
 * within the last second of the audio, and words are more than a frame long on average. */
static void test_word_times_librivox(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 0);
    for (size_t f = 0; f < sizeof(LIBRIVOX_ALL) / sizeof(LIBRIVOX_ALL[0]); f++) {
        audio_t a = read_wav16k(LIBRIVOX_ALL[f]);
        stt_utt_t *u = NULL;
        assert_int_equal(e->utt_begin(m, &OPT, &u), 0);
        size_t partial_words = 0;
        for (size_t off = 0; off < a.n; off += PIECE_SAMPLES) {
            size_t n = a.n - off < PIECE_SAMPLES ? a.n - off : PIECE_SAMPLES;
            stt_result_t part = {0};
            assert_int_equal(e->utt_feed(u, a.pcm + off, n, 1, &part), 0);
            assert_words_sane(&part, off + n, 0);
            partial_words += part.n_words;
            stt_result_dispose(&part);
        }
        stt_result_t fin = {0};
        assert_int_equal(e->utt_end(u, NULL, 0, &fin), 0);
        assert_true(fin.n_words > 0);
        assert_true(partial_words > 0);
        assert_words_sane(&fin, a.n, 1);
        assert_words_are_text(&fin);
        /* the final's confidence is its words' mean posterior */
        double sum = 0;
        for (size_t i = 0; i < fin.n_words; i++)
            sum += fin.words[i].confidence;
        assert_true(fin.confidence >= 0 && fin.confidence <= 1);
        assert_true(fabs(fin.confidence - sum / (double)fin.n_words) < 1e-9);
        double dur = (double)a.n / 16000.0;
        const stt_word_t *first = &fin.words[0], *last = &fin.words[fin.n_words - 1];
        assert_true(last->end_s > dur - 1.0);
        assert_true((last->end_s - first->start_s) / (double)fin.n_words > 0.05);
        print_message("%s: %zu words, \"%s\" at %.2f-%.2f ... \"%s\" at %.2f-%.2f of %.2f s\n",
                      strrchr(LIBRIVOX_ALL[f], '-') + 1, fin.n_words, first->word,
                      first->start_s, first->end_s, last->word, last->start_s, last->end_s, dur);
        stt_result_dispose(&fin);
        stt_result_dispose(&fin); /* a disposed result may be disposed again */
        assert_null(fin.words);
        assert_int_equal(fin.n_words, 0);
        free(a.pcm);
    }
    e->unload(m);
}

/* Finds the first word after index `from` equal to `w`; fails if there is none. */
static size_t find_word(const stt_result_t *r, size_t from, const char *w)
{
    for (size_t i = from; i < r->n_words; i++)
        if (strcmp(r->words[i].word, w) == 0)
            return i;
    fail_msg("no \"%s\" after word %zu", w, from);
    return 0;
}

/* One utterance of the 0880 recording, 1.5 s of silence, and 0880 again, fed in pieces across
 * the jobs: the second "he" and "not" start, and the second "man" ends, the recording's length
 * plus 1.5 s after the first ones (within 30 ms). Regression: with pocketsphinx's own silence
 * removal on, speech resuming after the pause moved the utterance's frame offset and every word,
 * the first ones included, came 4.62 s late and the last ones past the end of the audio. */
static void test_word_times_across_a_pause(void **state)
{
    const stt_engine_vtable_t *e = &stt_engine_pocketsphinx;
    stt_model_t *m = load_model(e, 0);
    audio_t a = read_wav16k(WAV_0880);
    size_t gap = 24000, n = 2 * a.n + gap;
    int16_t *pcm = stt_calloc(n, sizeof(int16_t));
    memcpy(pcm, a.pcm, a.n * sizeof(int16_t));
    memcpy(pcm + a.n + gap, a.pcm, a.n * sizeof(int16_t));
    audio_t both = {pcm, n};
    stt_result_t fin = decode_jobs_result(e, m, &both, 7, 5000);
    assert_words_sane(&fin, n, 1);
    assert_words_are_text(&fin);
    double shift = (double)(a.n + gap) / 16000.0;
    const char *marks[] = {"he", "not", "man"};
    size_t i1 = 0, i2 = 0;
    for (size_t k = 0; k < 3; k++) {
        i1 = find_word(&fin, i1, marks[k]);
        i2 = find_word(&fin, i2 > i1 ? i2 : i1 + 1, marks[k]);
        while (fin.words[i2].start_s < shift - 0.2) /* the second copy's */
            i2 = find_word(&fin, i2 + 1, marks[k]);
        const stt_word_t *w1 = &fin.words[i1], *w2 = &fin.words[i2];
        double d = k < 2 ? w2->start_s - w1->start_s - shift : w2->end_s - w1->end_s - shift;
        print_message("\"%s\" at %.2f-%.2f and %.2f-%.2f: %+.3f s off the shift of %.2f s\n",
                      marks[k], w1->start_s, w1->end_s, w2->start_s, w2->end_s, d, shift);
        assert_true(d > -0.03 && d < 0.03);
    }
    assert_true(fin.words[0].start_s < 0.5);
    stt_result_dispose(&fin);
    free(pcm);
    free(a.pcm);
    e->unload(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_decode_librivox),
        cmocka_unit_test(test_finals_identical_across_decoders),
        cmocka_unit_test(test_final_independent_of_job_sizes),
        cmocka_unit_test(test_lease_cap_busy),
        cmocka_unit_test(test_missing_model_file),
        cmocka_unit_test(test_prewarm_fills_pool),
        cmocka_unit_test(test_word_times_librivox),
        cmocka_unit_test(test_word_times_across_a_pause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

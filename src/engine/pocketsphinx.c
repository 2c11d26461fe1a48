/* pocketsphinx engine (Debian libpocketsphinx 5prealpha + pocketsphinx-en-us).
 *
 * Threads: load/unload on the main thread; everything else on engine workers.
 * Ownership: the model owns a pool of decoders. A decoder is not thread-safe and its language
 * model caches are written during search, so decoders cannot share one LM; each costs ~93 MB and
 * ~0.5 s to create (measured on the en-us model). They are therefore created lazily, up to
 * `--decoders`, and leased to one utterance at a time: utt_begin takes one from the pool,
 * utt_end/utt_abort give it back. A session never owns a decoder between utterances. When the
 * pool is exhausted utt_begin returns STT_EBUSY and the caller retries later; it never blocks a
 * worker (blocking would deadlock the pool, since only workers return decoders). */
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"
#include "words.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The model's initial cepstral mean (-cmninit), captured from the first decoder. Every utterance
 * starts from it, so one caller's channel estimate never carries into another caller's utterance
 * on a reused decoder, and results do not depend on which decoder an utterance gets. */
#define MAX_CEP 64
#define RATE 16000 /* the engine interface's audio rate (engine.h) */

struct stt_model {
    char *hmm, *lm, *dict;
    pthread_mutex_t mu;
    ps_decoder_t **free_list; /* pooled, idle decoders */
    int n_free;
    int n_created; /* created and not destroyed, idle or leased */
    int cap;
    int fwdflat; /* --ps_fwdflat */
    /* Spare keeper (started by prewarm): a background thread that creates decoders while fewer
     * than `spare` are idle, so a new utterance rarely pays ~0.5-0.8 s of decoder creation on an
     * engine worker, in front of every other call's jobs. */
    pthread_cond_t keeper_cv;
    pthread_t keeper;
    int keeper_started, keeper_stop, spare;
    int n_creating; /* slots reserved by the keeper or prewarm, decoder not made yet */
    mfcc_t cmn_init[MAX_CEP];
    int cmn_len;
};

struct stt_utt {
    stt_model_t *m;
    ps_decoder_t *ps;
    uint64_t samples; /* fed since utt_begin: the words' time origin and bound (engine.h) */
};

/* Runs on the loader, the spare keeper and engine workers, several at once.
 *
 * "-remove_silence no": the front end's own voice activity detection (on by default) drops the
 * frames it finds silent, and then pocketsphinx's word frames are no longer audio frames. Each
 * time speech resumes after >= 0.5 s of silence inside an utterance it sets the utterance's one
 * frame offset (acmod utt_start_frame) to that point, and ps_seg_frames adds that offset to every
 * word, the ones before the pause included: a 1.5 s pause between two recordings put the first
 * word at 4.83 s instead of 0.21 s and the last past the end of the audio. The server finds
 * speech itself (src/audio/vad.c) and hands over only utterances, so the decoder sees every frame
 * and frame k is audio time k / frate. Same finals on the five librivox recordings (WER 0.338
 * either way); decoding a pause costs a little more search (within the noise of a 2-core machine
 * on 10.8 s with a 1.5 s pause).
 *
 * No "-logfn": with it every ps_init swaps pocketsphinx's one global log FILE and fcloses the old
 * one, so two decoders made at once closed the same FILE twice (a "free(): invalid pointer" abort
 * in the keeper thread, test_selfheal_breaker). Logging is off process-wide instead
 * (err_set_logfp(NULL) in ps_load), which ps_init leaves alone. */
static ps_decoder_t *decoder_create(const stt_model_t *m)
{
    cmd_ln_t *c = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", m->hmm, "-lm", m->lm, "-dict", m->dict,
                              "-fwdflat", m->fwdflat ? "yes" : "no", "-remove_silence", "no",
                              NULL);
    if (!c)
        return NULL;
    ps_decoder_t *ps = ps_init(c);
    cmd_ln_free_r(c); /* ps_init retained its own reference */
    return ps;
}

/* Runs one short utterance of noise through a new decoder. A decoder's first utterance is several
 * times slower than later ones (first touch of its model copy): measured 100-220 ms for the
 * first 0.32 s of speech on a fresh decoder against ~10 ms on a used one. Paying that here keeps
 * it off a caller's first partial. */
static int decoder_warm(ps_decoder_t *ps)
{
    int16_t buf[1600];
    uint32_t x = 2463534242u; /* xorshift: deterministic noise at about -30 dBFS */
    ps_start_stream(ps);      /* a fresh noise estimate, as every utterance gets (ps_begin) */
    if (ps_start_utt(ps) < 0)
        return -1;
    int rc = 0;
    for (int k = 0; k < 10; k++) {
        for (int i = 0; i < 1600; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            buf[i] = (int16_t)((int32_t)(x % 2001) - 1000);
        }
        if (ps_process_raw(ps, buf, 1600, FALSE, FALSE) < 0)
            rc = -1;
    }
    if (ps_end_utt(ps) < 0)
        rc = -1;
    return rc;
}

static int file_readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fclose(f);
    return 1;
}

static int ps_load(const stt_config_t *cfg, stt_model_t **out, char *err, size_t errlen)
{
    char mdef[4096];
    snprintf(mdef, sizeof(mdef), "%s/mdef", cfg->ps_hmm);
    const char *missing = !file_readable(mdef)           ? mdef
                          : !file_readable(cfg->ps_lm)   ? cfg->ps_lm
                          : !file_readable(cfg->ps_dict) ? cfg->ps_dict
                                                         : NULL;
    if (missing) {
        snprintf(err, errlen,
                 "pocketsphinx model file %s not found (install the Debian package "
                 "pocketsphinx-en-us, or set --ps_hmm/--ps_lm/--ps_dict)",
                 missing);
        return STT_ENOENT;
    }
    /* pocketsphinx logs every load to stderr; our own logs say what matters. */
    err_set_logfp(NULL);

    stt_model_t *m = stt_calloc(1, sizeof(*m));
    m->hmm = stt_strdup(cfg->ps_hmm);
    m->lm = stt_strdup(cfg->ps_lm);
    m->dict = stt_strdup(cfg->ps_dict);
    m->fwdflat = cfg->ps_fwdflat;
    int workers = (int)cfg->workers;
    m->cap = cfg->decoders > 0 ? (int)cfg->decoders : 8 * (workers > 0 ? workers : 1);
    m->free_list = stt_calloc((size_t)m->cap, sizeof(*m->free_list));
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->keeper_cv, NULL);

    /* Create one decoder now so a broken model fails at startup, not on the first call. */
    ps_decoder_t *ps = decoder_create(m);
    if (!ps) {
        snprintf(err, errlen, "pocketsphinx failed to initialise a decoder from %s", m->hmm);
        pthread_cond_destroy(&m->keeper_cv);
        pthread_mutex_destroy(&m->mu);
        free(m->free_list);
        free(m->hmm), free(m->lm), free(m->dict);
        free(m);
        return STT_EENGINE;
    }
    m->free_list[m->n_free++] = ps;
    m->n_created = 1;
    feat_t *feat = ps_get_feat(ps);
    if (feat && feat->cmn_struct && feat->cmn_struct->veclen <= MAX_CEP) {
        m->cmn_len = feat->cmn_struct->veclen;
        memcpy(m->cmn_init, feat->cmn_struct->cmn_mean, sizeof(mfcc_t) * (size_t)m->cmn_len);
    }
    *out = m;
    return 0;
}

static void ps_unload(stt_model_t *m)
{
    if (!m)
        return;
    if (m->keeper_started) {
        pthread_mutex_lock(&m->mu);
        m->keeper_stop = 1;
        pthread_cond_signal(&m->keeper_cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->keeper, NULL);
    }
    for (int i = 0; i < m->n_free; i++)
        ps_free(m->free_list[i]);
    pthread_cond_destroy(&m->keeper_cv);
    pthread_mutex_destroy(&m->mu);
    free(m->free_list);
    free(m->hmm), free(m->lm), free(m->dict);
    free(m);
}

/* Takes an idle decoder, or reserves a slot to create one. Returns NULL with *busy set when the
 * pool is at its cap. */
static ps_decoder_t *pool_take(stt_model_t *m, int *busy)
{
    *busy = 0;
    pthread_mutex_lock(&m->mu);
    if (m->n_free > 0) {
        ps_decoder_t *ps = m->free_list[--m->n_free];
        if (m->keeper_started && m->n_free < m->spare && m->n_created < m->cap)
            pthread_cond_signal(&m->keeper_cv);
        pthread_mutex_unlock(&m->mu);
        return ps;
    }
    if (m->n_created >= m->cap) {
        pthread_mutex_unlock(&m->mu);
        *busy = 1;
        return NULL;
    }
    m->n_created++;
    pthread_mutex_unlock(&m->mu);

    ps_decoder_t *ps = decoder_create(m); /* slow (~0.5 s): outside the lock */
    if (!ps) {
        pthread_mutex_lock(&m->mu);
        m->n_created--;
        pthread_mutex_unlock(&m->mu);
    }
    return ps;
}

static void pool_give(stt_model_t *m, ps_decoder_t *ps)
{
    pthread_mutex_lock(&m->mu);
    m->free_list[m->n_free++] = ps;
    pthread_mutex_unlock(&m->mu);
}

static int ps_probe(stt_model_t *m)
{
    int busy;
    ps_decoder_t *ps = pool_take(m, &busy);
    if (!ps)
        return busy ? 0 : STT_EENGINE;
    int rc = decoder_warm(ps);
    pool_give(m, ps);
    return rc == 0 ? 0 : STT_EENGINE;
}

static int ps_begin(stt_model_t *m, const stt_utt_options_t *opt, stt_utt_t **out)
{
    int busy;
    ps_decoder_t *ps = pool_take(m, &busy);
    if (!ps)
        return busy ? STT_EBUSY : STT_EENGINE;
    /* Nothing of the previous utterance on this decoder may shape this one: the front end's
     * noise estimate (spectral subtraction, -remove_noise) lives for a "stream", so start a new
     * one, and the cepstral mean goes back to the model's. Without the stream reset a decoder
     * warmed on noise decoded the 0930 recording differently from a fresh one. */
    ps_start_stream(ps);
    feat_t *feat = ps_get_feat(ps);
    if (m->cmn_len && feat && feat->cmn_struct)
        cmn_live_set(feat->cmn_struct, m->cmn_init);
    if (ps_start_utt(ps) < 0) {
        /* A decoder that cannot start is broken: drop it rather than pool it. */
        ps_free(ps);
        pthread_mutex_lock(&m->mu);
        m->n_created--;
        pthread_mutex_unlock(&m->mu);
        return STT_EENGINE;
    }
    stt_utt_t *u = stt_calloc(1, sizeof(*u));
    u->m = m;
    u->ps = ps;
    *out = u;
    return 0;
}

/* 1 for what is not a word of the text: the noise dictionary's fillers and silences (<s>, </s>,
 * <sil>, [NOISE], [SPEECH]; older models spell them ++NOISE++). */
static int is_filler(const char *w)
{
    size_t n = strlen(w);
    return n >= 2 && ((w[0] == '<' && w[n - 1] == '>') || (w[0] == '[' && w[n - 1] == ']') ||
                      (n >= 4 && strncmp(w, "++", 2) == 0 && strcmp(w + n - 2, "++") == 0));
}

/* The length of w without an alternate pronunciation's "(2)" suffix. */
static size_t word_len(const char *w)
{
    size_t n = strlen(w), i = n;
    if (n < 4 || w[n - 1] != ')')
        return n;
    for (i = n - 1; i > 0 && w[i - 1] >= '0' && w[i - 1] <= '9'; i--)
        ;
    return i > 1 && i < n - 1 && w[i - 1] == '(' ? i - 1 : n;
}

/* The words of the current hypothesis from its segmentation (the same search result as
 * ps_get_hyp's text: the lattice's best path on a final, the forward search's backtrace on a
 * partial, which costs about what the hypothesis did). Segment frames count from the utterance's
 * first frame (ps_begin starts a stream per utterance, and -remove_silence is off, see
 * decoder_create); frame k starts at sample k * samprate / frate, so a word spans
 * [sf / frate, (ef + 1) / frate) (ef is inclusive). A final's posterior is a probability;
 * pocketsphinx computes none for a partial (ps_seg_prob returns 0 there), so partials say -1. */
static void words_into(ps_decoder_t *ps, int final, uint64_t samples, stt_result_t *r)
{
    cmd_ln_t *c = ps_get_config(ps);
    double frate = cmd_ln_exists_r(c, "-frate") ? (double)cmd_ln_int32_r(c, "-frate") : 100;
    if (!(frate > 0))
        frate = 100;
    logmath_t *lmath = ps_get_logmath(ps);
    for (ps_seg_t *it = ps_seg_iter(ps); it; it = ps_seg_next(it)) {
        const char *w = ps_seg_word(it);
        if (!w || is_filler(w))
            continue;
        int sf = 0, ef = 0;
        ps_seg_frames(it, &sf, &ef);
        double conf = -1;
        if (final) {
            conf = logmath_exp(lmath, ps_seg_prob(it, NULL, NULL, NULL));
            conf = conf < 0 ? 0 : conf > 1 ? 1 : conf;
        }
        stt_words_add(r, w, word_len(w), sf / frate, (ef + 1) / frate, conf);
    }
    /* The last frame can reach past the audio by the front end's padding of the last window. */
    stt_words_clamp(r, (double)samples / RATE);
}

static int hyp_into(stt_utt_t *u, int final, stt_result_t *r)
{
    int32 score = 0;
    const char *hyp = ps_get_hyp(u->ps, &score);
    r->text = stt_strdup(hyp ? hyp : "");
    r->confidence = -1;
    if (r->text[0])
        words_into(u->ps, final, u->samples, r);
    /* A final's confidence: its words' mean posterior. ps_get_prob's posterior of the whole
     * hypothesis is the product over its words, near 0 for any sentence of some length. */
    if (final)
        r->confidence = stt_words_mean_confidence(r);
    return 0;
}

static int ps_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                   stt_result_t *partial)
{
    if (n > 0 && ps_process_raw(u->ps, pcm, n, FALSE, FALSE) < 0)
        return STT_EENGINE;
    u->samples += n;
    if (want_partial)
        return hyp_into(u, 0, partial);
    return 0;
}

static void ps_abort(stt_utt_t *u)
{
    if (!u)
        return;
    ps_end_utt(u->ps);
    pool_give(u->m, u->ps);
    free(u);
}

static int ps_end(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *final_result)
{
    int rc = 0;
    if (n > 0 && ps_process_raw(u->ps, pcm, n, FALSE, FALSE) < 0)
        rc = STT_EENGINE;
    u->samples += n;
    if (ps_end_utt(u->ps) < 0)
        rc = STT_EENGINE;
    if (rc == 0)
        hyp_into(u, 1, final_result);
    pool_give(u->m, u->ps);
    free(u);
    return rc;
}

/* Creates one warmed decoder into the idle pool if fewer than `want` are idle and the cap
 * allows; called with m->mu held, drops it while creating. Returns 1 if it made one. */
static int top_up_one(stt_model_t *m, int want)
{
    if (m->n_free >= want || m->n_created >= m->cap)
        return 0;
    m->n_created++; /* reserve the slot, create outside the lock */
    m->n_creating++;
    pthread_mutex_unlock(&m->mu);
    ps_decoder_t *ps = decoder_create(m);
    if (ps)
        decoder_warm(ps);
    pthread_mutex_lock(&m->mu);
    m->n_creating--;
    if (!ps) {
        m->n_created--;
        return 0;
    }
    m->free_list[m->n_free++] = ps;
    return 1;
}

static void *keeper_main(void *arg)
{
    stt_model_t *m = arg;
    /* Spare decoders are made from idle CPU only: at normal priority the keeper took ~0.6 s of a
     * core per decoder from the workers exactly when calls start together, and their partials
     * were paced out. When it cannot keep up, utt_begin still creates one inline. */
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    pthread_mutex_lock(&m->mu);
    while (!m->keeper_stop) {
        if (!top_up_one(m, m->spare))
            pthread_cond_wait(&m->keeper_cv, &m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* Keeps n decoders idle from now on: the background keeper makes them from idle CPU as the pool
 * runs low (and right away, if the machine is idle), never past the cap. It does not make them
 * on the caller's thread: the server calls this once it is ready, when the first calls may
 * already be streaming, and creating them at normal priority took the CPU those calls needed. */
static void ps_prewarm(stt_model_t *m, int n)
{
    pthread_mutex_lock(&m->mu);
    if (n > m->spare)
        m->spare = n;
    if (!m->keeper_started && pthread_create(&m->keeper, NULL, keeper_main, m) == 0)
        m->keeper_started = 1;
    pthread_cond_signal(&m->keeper_cv);
    pthread_mutex_unlock(&m->mu);
}

static void ps_stats(stt_model_t *m, int *in_use, int *pooled)
{
    pthread_mutex_lock(&m->mu);
    *in_use = m->n_created - m->n_free - m->n_creating;
    *pooled = m->n_free;
    pthread_mutex_unlock(&m->mu);
}

const stt_engine_vtable_t stt_engine_pocketsphinx = {
    .name = "pocketsphinx",
    .incremental = 1,
    .load = ps_load,
    .unload = ps_unload,
    .probe = ps_probe,
    .utt_begin = ps_begin,
    .utt_feed = ps_feed,
    .utt_end = ps_end,
    .utt_abort = ps_abort,
    .prewarm = ps_prewarm,
    .leases_per_utterance = 1,
    .stats = ps_stats,
};

/* Null engine: no recognition. It consumes audio and returns empty text so the network path,
 * sessions and scheduling can be measured without inference cost (DESIGN section 3). As a test
 * tool it can say a fixed text instead (stt_null_set_text), with words spread evenly over the
 * audio, so what carries results and word times can be tested without a recognizer.
 * Threads: utt_* run on engine workers; shared state: the in-use atomic and the test text (a
 * process-wide string under a mutex, copied into each result). */
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"
#include "words.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define RATE 16000

static pthread_mutex_t g_text_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_text; /* NULL: empty text */

void stt_null_set_text(const char *text)
{
    char *t = text && text[0] ? stt_strdup(text) : NULL;
    pthread_mutex_lock(&g_text_mu);
    char *old = g_text;
    g_text = t;
    pthread_mutex_unlock(&g_text_mu);
    free(old);
}

/* The text (set or empty) with its words over the `samples` fed so far. */
static void result_into(uint64_t samples, stt_result_t *r)
{
    pthread_mutex_lock(&g_text_mu);
    r->text = stt_strdup(g_text ? g_text : "");
    pthread_mutex_unlock(&g_text_mu);
    r->confidence = -1;
    stt_words_spread(r, r->text, (double)samples / RATE, 1.0);
}

struct stt_model {
    atomic_int in_use;
};

struct stt_utt {
    stt_model_t *m;
    uint64_t samples;
};

static int null_load(const stt_config_t *cfg, stt_model_t **out, char *err, size_t errlen)
{
    *out = stt_calloc(1, sizeof(**out));
    return 0;
}

static void null_unload(stt_model_t *m)
{
    free(m);
}

static int null_probe(stt_model_t *m)
{
    return 0;
}

static int null_begin(stt_model_t *m, const stt_utt_options_t *opt, stt_utt_t **out)
{
    stt_utt_t *u = stt_calloc(1, sizeof(*u));
    u->m = m;
    atomic_fetch_add(&m->in_use, 1);
    *out = u;
    return 0;
}

static int null_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                     stt_result_t *partial)
{
    u->samples += n;
    if (want_partial)
        result_into(u->samples, partial);
    return 0;
}

static void null_abort(stt_utt_t *u)
{
    if (!u)
        return;
    atomic_fetch_sub(&u->m->in_use, 1);
    free(u);
}

static int null_end(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *final_result)
{
    u->samples += n;
    result_into(u->samples, final_result);
    null_abort(u);
    return 0;
}

static void null_stats(stt_model_t *m, int *in_use, int *pooled)
{
    *in_use = atomic_load(&m->in_use);
    *pooled = 0;
}

const stt_engine_vtable_t stt_engine_null = {
    .name = "null",
    .incremental = 1,
    .load = null_load,
    .unload = null_unload,
    .probe = null_probe,
    .utt_begin = null_begin,
    .utt_feed = null_feed,
    .utt_end = null_end,
    .utt_abort = null_abort,
    .leases_per_utterance = 1,
    .stats = null_stats,
};

/* Null engine: no recognition. It consumes audio and returns empty text so the network path,
 * sessions and scheduling can be measured without inference cost (DESIGN section 3).
 * Threads: utt_* run on engine workers; no shared mutable state except atomics. */
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"

#include <stdatomic.h>
#include <stdlib.h>

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
    if (want_partial) {
        partial->text = stt_strdup("");
        partial->confidence = -1;
    }
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
    final_result->text = stt_strdup("");
    final_result->confidence = -1;
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

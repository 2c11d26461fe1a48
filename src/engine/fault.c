/* Fault-injection engine: a TEST TOOL, refused unless --fault_injection is given.
 *
 * It wraps a real engine (--fault_inner: null or pocketsphinx) and, per job, on purpose: fails
 * it (engine error, --fault_fail_rate), hangs it for --fault_hang_s until the job is cancelled
 * (--fault_hang_rate), or stretches it to --fault_slow_factor times the wrapped engine's time.
 * The settings are process-wide and live: the control call_method "fault" changes them while
 * calls stream, so tests can cause an outage and end it.
 *
 * Threads: utt_* on engine workers; the settings are read under a mutex once per job. A
 * hanging or slowed job sleeps in 10 ms steps and polls stt_engine_cancelled(), like a real
 * engine's abort callback, so cancellation and the watchdog can be tested against it. */
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stt_model {
    const stt_engine_vtable_t *inner;
    stt_model_t *im;
};

struct stt_utt {
    stt_model_t *m;
    stt_utt_t *iu;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static stt_fault_params_t g_params = {0, 0, 10, 1};
static atomic_uint g_seed = 2463534242u;

void stt_fault_set(const stt_fault_params_t *p)
{
    pthread_mutex_lock(&g_mu);
    g_params = *p;
    pthread_mutex_unlock(&g_mu);
}

void stt_fault_get(stt_fault_params_t *p)
{
    pthread_mutex_lock(&g_mu);
    *p = g_params;
    pthread_mutex_unlock(&g_mu);
}

/* Uniform in [0, 1): xorshift on a shared atomic seed (a race only mixes it further). */
static double uniform(void)
{
    unsigned x = atomic_load(&g_seed);
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    atomic_store(&g_seed, x);
    return (double)x / 4294967296.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleeps `secs` in 10 ms steps; returns STT_ECANCELED as soon as the job is cancelled. */
static int sleep_cancellable(double secs)
{
    double end = now_s() + secs;
    while (now_s() < end) {
        if (stt_engine_cancelled())
            return STT_ECANCELED;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return stt_engine_cancelled() ? STT_ECANCELED : 0;
}

static const stt_engine_vtable_t *inner_engine(const stt_config_t *cfg)
{
    const char *name = cfg->fault_inner && cfg->fault_inner[0] ? cfg->fault_inner : "null";
    if (strcmp(name, "null") != 0 && strcmp(name, "pocketsphinx") != 0)
        return NULL;
    return stt_engine_find(name);
}

static int fault_check(const stt_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->fault_injection) {
        snprintf(err, errlen, "--engine fault is a test tool that fails calls on purpose; add "
                              "--fault_injection to run it");
        return STT_EINVAL;
    }
    const stt_engine_vtable_t *in = inner_engine(cfg);
    if (!in) {
        snprintf(err, errlen, "--fault_inner must be null or pocketsphinx, not '%s'",
                 cfg->fault_inner);
        return STT_EINVAL;
    }
    return in->check ? in->check(cfg, err, errlen) : 0;
}

static int fault_load(const stt_config_t *cfg, stt_model_t **out, char *err, size_t errlen)
{
    int rc = fault_check(cfg, err, errlen);
    if (rc != 0)
        return rc;
    stt_model_t *m = stt_calloc(1, sizeof(*m));
    m->inner = inner_engine(cfg);
    rc = m->inner->load(cfg, &m->im, err, errlen);
    if (rc != 0) {
        free(m);
        return rc;
    }
    stt_fault_params_t p = {cfg->fault_fail_rate, cfg->fault_hang_rate, cfg->fault_hang_s,
                            cfg->fault_slow_factor};
    stt_fault_set(&p);
    STT_WARN(0, "fault_injection",
             "TEST TOOL: fault engine over %s: fail %.2f, hang %.2f for %.1f s, slow x%.1f",
             m->inner->name, p.fail_rate, p.hang_rate, p.hang_s, p.slow_factor);
    *out = m;
    return 0;
}

static void fault_unload(stt_model_t *m)
{
    if (!m)
        return;
    m->inner->unload(m->im);
    free(m);
}

static int fault_probe(stt_model_t *m)
{
    return m->inner->probe ? m->inner->probe(m->im) : 0;
}

static int fault_begin(stt_model_t *m, const stt_utt_options_t *opt, stt_utt_t **out)
{
    stt_utt_t *u = stt_calloc(1, sizeof(*u));
    u->m = m;
    int rc = m->inner->utt_begin(m->im, opt, &u->iu);
    if (rc != 0) {
        free(u);
        return rc;
    }
    *out = u;
    return 0;
}

/* Decides this job's fault before the wrapped engine runs: 0 (none), or the error to return. */
static int before_job(void)
{
    stt_fault_params_t p;
    stt_fault_get(&p);
    if (p.fail_rate > 0 && uniform() < p.fail_rate)
        return STT_EENGINE;
    if (p.hang_rate > 0 && uniform() < p.hang_rate) {
        int rc = sleep_cancellable(p.hang_s);
        return rc ? rc : STT_EENGINE; /* a hang that ends on its own is a failure too */
    }
    return 0;
}

static int after_job(double t0)
{
    stt_fault_params_t p;
    stt_fault_get(&p);
    if (p.slow_factor > 1)
        return sleep_cancellable((p.slow_factor - 1) * (now_s() - t0));
    return 0;
}

static int fault_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                      stt_result_t *partial)
{
    int rc = before_job();
    if (rc != 0)
        return rc; /* the pool then aborts u */
    double t0 = now_s();
    rc = u->m->inner->utt_feed(u->iu, pcm, n, want_partial, partial);
    int rc2 = after_job(t0);
    return rc ? rc : rc2;
}

static void fault_abort(stt_utt_t *u)
{
    if (!u)
        return;
    u->m->inner->utt_abort(u->iu);
    free(u);
}

static int fault_end(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *final_result)
{
    int rc = before_job();
    if (rc != 0) {
        fault_abort(u); /* utt_end frees u whatever the outcome */
        return rc;
    }
    double t0 = now_s();
    rc = u->m->inner->utt_end(u->iu, pcm, n, final_result);
    free(u);
    int rc2 = after_job(t0);
    if (rc == 0 && rc2 != 0)
        stt_result_dispose(final_result);
    return rc ? rc : rc2;
}

static void fault_stats(stt_model_t *m, int *in_use, int *pooled)
{
    *in_use = *pooled = 0;
    if (m->inner->stats)
        m->inner->stats(m->im, in_use, pooled);
}

static void fault_prewarm(stt_model_t *m, int n)
{
    if (m->inner->prewarm)
        m->inner->prewarm(m->im, n);
}

const stt_engine_vtable_t stt_engine_fault = {
    .name = "fault",
    .incremental = 0, /* a failed job loses the utterance's engine state: keep its audio */
    .check = fault_check,
    .load = fault_load,
    .unload = fault_unload,
    .probe = fault_probe,
    .utt_begin = fault_begin,
    .utt_feed = fault_feed,
    .utt_end = fault_end,
    .utt_abort = fault_abort,
    .prewarm = fault_prewarm,
    .stats = fault_stats,
};

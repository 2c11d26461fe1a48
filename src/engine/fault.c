/* Fault-injection engine: a TEST TOOL, refused unless --fault_injection is given.
 *
 * It wraps a real engine (--fault_inner: null or pocketsphinx) and, per job, on purpose: fails
 * it (engine error, --fault_fail_rate), hangs it for --fault_hang_s until the job is cancelled
 * (--fault_hang_rate), or stretches it to --fault_slow_factor times the wrapped engine's time
 * and --fault_cost_per_audio_s per second of audio (an engine of known speed, for scheduling
 * tests).
 * One-shot faults hit the next N jobs: fail, hang, corrupt ("crash") the worker thread's engine
 * state, or leak a decoding state (stt_fault_params_t). The settings are process-wide and live:
 * the control call_method "fault" changes them while calls stream, so tests can cause an outage
 * and end it. Faults hit pool jobs only; the loader's startup probe is exempt.
 *
 * Each worker thread has a simulated engine state, as whisper has a whisper_state per worker:
 * 256 KiB of scratch, a canary that a crash overwrites, and the decoding states it leaked. A
 * thread with a corrupted state fails every job until the pool calls worker_reset, which frees
 * the state (and what it leaked) and makes a new one.
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

/* A decoding state leaked on command, parked on the worker state that leaked it. */
typedef struct leak {
    struct leak *next;
    stt_model_t *m;
    stt_utt_t *iu;
} leak_t;

#define STATE_OK 0x57a7e0c0u
#define STATE_SCRATCH (256 * 1024)

typedef struct {
    uint32_t canary; /* STATE_OK unless a crash overwrote it */
    leak_t *leaked;
    unsigned char *scratch;
} worker_state_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static stt_fault_params_t g_params = {.hang_s = 10, .slow_factor = 1};
static int g_loaded_once; /* a reload keeps the live settings, except break_model */
static pthread_key_t g_state_key;
static pthread_once_t g_state_once = PTHREAD_ONCE_INIT;
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
    double end = now_s() + secs, left;
    while ((left = end - now_s()) > 0) {
        if (stt_engine_cancelled())
            return STT_ECANCELED;
        long ns = left < 0.01 ? (long)(left * 1e9) : 10 * 1000 * 1000;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
    }
    return stt_engine_cancelled() ? STT_ECANCELED : 0;
}

static void state_free(void *arg)
{
    worker_state_t *st = arg;
    if (!st)
        return;
    while (st->leaked) {
        leak_t *l = st->leaked;
        st->leaked = l->next;
        l->m->inner->utt_abort(l->iu);
        free(l);
    }
    free(st->scratch);
    free(st);
}

static void state_key_init(void)
{
    if (pthread_key_create(&g_state_key, state_free) != 0)
        stt_fatal(__FILE__, __LINE__, "pthread_key_create failed");
}

/* This worker thread's state, made on its first job. */
static worker_state_t *worker_state(void)
{
    pthread_once(&g_state_once, state_key_init);
    worker_state_t *st = pthread_getspecific(g_state_key);
    if (!st) {
        st = stt_calloc(1, sizeof(*st));
        st->canary = STATE_OK;
        st->scratch = stt_calloc(1, STATE_SCRATCH);
        pthread_setspecific(g_state_key, st);
    }
    return st;
}

static int fault_worker_reset(stt_model_t *m)
{
    (void)m;
    pthread_once(&g_state_once, state_key_init);
    state_free(pthread_getspecific(g_state_key));
    pthread_setspecific(g_state_key, NULL);
    worker_state(); /* anew */
    return 0;
}

/* Takes one of a one-shot fault counter (0 if none left). */
static int take_next(int *counter)
{
    pthread_mutex_lock(&g_mu);
    int hit = *counter > 0;
    *counter -= hit;
    pthread_mutex_unlock(&g_mu);
    return hit;
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
    stt_fault_params_t p;
    memset(&p, 0, sizeof(p));
    pthread_mutex_lock(&g_mu);
    if (g_loaded_once) {
        g_params.break_model = 0; /* a fresh model */
    } else {
        g_params.fail_rate = cfg->fault_fail_rate;
        g_params.hang_rate = cfg->fault_hang_rate;
        g_params.hang_s = cfg->fault_hang_s;
        g_params.slow_factor = cfg->fault_slow_factor;
        g_params.cost_per_audio_s = cfg->fault_cost_per_audio_s;
        g_loaded_once = 1;
    }
    p = g_params;
    pthread_mutex_unlock(&g_mu);
    STT_WARN(0, "fault_injection",
             "TEST TOOL: fault engine over %s: fail %.2f, hang %.2f for %.1f s, slow x%.1f, "
             "%.3f s per audio s",
             m->inner->name, p.fail_rate, p.hang_rate, p.hang_s, p.slow_factor,
             p.cost_per_audio_s);
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

static int before_job(void);

static int fault_probe(stt_model_t *m)
{
    int rc = before_job();
    if (rc != 0)
        return rc;
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
    if (stt_engine_in_job() && take_next(&g_params.leak_next)) {
        leak_t *l = stt_calloc(1, sizeof(*l));
        l->m = m;
        if (m->inner->utt_begin(m->im, opt, &l->iu) == 0) {
            worker_state_t *st = worker_state();
            l->next = st->leaked;
            st->leaked = l;
            STT_WARN(0, "fault_leak", "TEST TOOL: leaked a decoding state on purpose");
        } else {
            free(l);
        }
    }
    *out = u;
    return 0;
}

/* A hang: hang_s seconds, cancellable unless hang_uncancellable. */
static int hang(const stt_fault_params_t *p)
{
    int rc = 0;
    if (p->hang_uncancellable) {
        struct timespec ts = {(time_t)p->hang_s,
                              (long)((p->hang_s - (double)(time_t)p->hang_s) * 1e9)};
        nanosleep(&ts, NULL);
    } else {
        rc = sleep_cancellable(p->hang_s);
    }
    return rc ? rc : STT_EENGINE; /* a hang that ends on its own is a failure too */
}

/* Decides this job's fault before the wrapped engine runs: 0 (none), or the error to return. */
static int before_job(void)
{
    if (!stt_engine_in_job())
        return 0; /* the startup probe */
    worker_state_t *st = worker_state();
    if (st->canary != STATE_OK)
        return STT_EENGINE; /* corrupted by an earlier crash: fails until recreated */
    stt_fault_params_t p;
    pthread_mutex_lock(&g_mu);
    p = g_params;
    if (p.break_model) {
        pthread_mutex_unlock(&g_mu);
        return STT_EENGINE; /* the shared model is broken: fails until reloaded */
    }
    int crash = g_params.crash_next > 0, fail = !crash && g_params.fail_next > 0;
    int hang_now = !crash && !fail && g_params.hang_next > 0;
    g_params.crash_next -= crash;
    g_params.fail_next -= fail;
    g_params.hang_next -= hang_now;
    pthread_mutex_unlock(&g_mu);
    if (crash) {
        memset(st->scratch, 0xa5, STATE_SCRATCH);
        st->canary = 0xdeadbeefu;
        STT_WARN(0, "fault_crash", "TEST TOOL: corrupted this worker's engine state on purpose");
        return STT_EENGINE;
    }
    if (fail || (p.fail_rate > 0 && uniform() < p.fail_rate))
        return STT_EENGINE;
    if (hang_now || (p.hang_rate > 0 && uniform() < p.hang_rate))
        return hang(&p);
    return 0;
}

/* The slowdown after the wrapped engine ran on n samples since t0. */
static int after_job(double t0, size_t n)
{
    if (!stt_engine_in_job())
        return 0;
    stt_fault_params_t p;
    stt_fault_get(&p);
    double extra = (p.slow_factor - 1) * (now_s() - t0) + p.cost_per_audio_s * (double)n / 16000.0;
    return extra > 0 ? sleep_cancellable(extra) : 0;
}

static int fault_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                      stt_result_t *partial)
{
    int rc = before_job();
    if (rc != 0)
        return rc; /* the pool then aborts u */
    double t0 = now_s();
    rc = u->m->inner->utt_feed(u->iu, pcm, n, want_partial, partial);
    int rc2 = after_job(t0, n);
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
    int rc2 = after_job(t0, n);
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
    .worker_reset = fault_worker_reset,
    .leases_per_utterance = 1,
    .stats = fault_stats,
};

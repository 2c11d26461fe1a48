/* Unit tests for the engine worker pool (src/server/pool.c), on the null engine and on a "gate"
 * engine (the null engine whose feed blocks until the test opens a gate, so the test can hold
 * workers busy at a known point).
 *
 * Covered: every job comes back exactly once through stt_pool_take_done, with batched wakeups;
 * finals and aborts run before queued feeds; jobs wait for the model; stt_pool_stop cancels
 * queued jobs when no model ever loaded, and runs them when one did (regression: a stopping
 * worker used to exit with jobs still queued, losing them); after stop, submit runs inline;
 * stt_pool_disable_wakeup and stt_pool_cancel_queued (shutdown order); stt_pool_stats counts
 * queued, busy and leased; the bulkhead keeps batch jobs to their workers and a live final
 * runs beside them.
 *
 * Every wait is bounded by a deadline and fails the test instead of hanging. The test thread plays
 * the loop thread: it alone submits, drains and stops. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pool.h"
#include "stt/config.h"
#include "stt/error.h"
#include "stt/log.h"

#define DEADLINE_S 20.0 /* generous for sanitizer builds on 2 cores; only reached on failure */

/* ---- loop-side wakeup: counts calls and lets the test thread sleep until one arrives ---- */

typedef struct {
    atomic_int calls;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t gen; /* bumped under mu on each call, so a waiter cannot miss one */
} wake_t;

static void wake_cb(void *data)
{
    wake_t *w = data;
    atomic_fetch_add(&w->calls, 1);
    pthread_mutex_lock(&w->mu);
    w->gen++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wake_init(wake_t *w)
{
    atomic_init(&w->calls, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->gen = 0;
}

static void wake_dispose(wake_t *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- jobs ---- */

static stt_job_t *job_new(stt_job_kind_t kind, uint32_t seq, size_t n_samples, int want_partial)
{
    stt_job_t *j = stt_calloc(1, sizeof(*j));
    j->kind = kind;
    j->utt_seq = seq;
    j->done_data = (void *)(uintptr_t)(seq + 1);
    j->n_samples = n_samples;
    if (n_samples) {
        j->pcm = stt_calloc(n_samples, sizeof(int16_t));
        for (size_t i = 0; i < n_samples; i++)
            j->pcm[i] = (int16_t)((i * 37) % 2000 - 1000);
    }
    j->want_partial = want_partial;
    j->status = 1; /* neither 0 nor an STT_E*: proves the pool wrote it */
    return j;
}

static void job_free(stt_job_t *j)
{
    stt_result_dispose(&j->result);
    free(j->pcm);
    free(j);
}

/* Collects finished jobs, in completion order. */
typedef struct {
    stt_job_t **v;
    size_t n, cap;
} done_list_t;

static size_t drain(stt_pool_t *p, done_list_t *d)
{
    size_t got = 0;
    for (stt_job_t *j = stt_pool_take_done(p); j;) {
        stt_job_t *next = j->next;
        j->next = NULL;
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 64;
            d->v = realloc(d->v, d->cap * sizeof(*d->v));
            assert_non_null(d->v);
        }
        d->v[d->n++] = j;
        got++;
        j = next;
    }
    return got;
}

/* Drains until `want` jobs in total have come back, sleeping on the wakeup between drains. */
static void wait_done(stt_pool_t *p, wake_t *w, done_list_t *d, size_t want)
{
    double deadline = stt_now_s() + DEADLINE_S;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        uint64_t gen = w->gen;
        pthread_mutex_unlock(&w->mu);
        drain(p, d);
        if (d->n >= want)
            break;
        if (stt_now_s() > deadline)
            fail_msg("timed out: %zu of %zu jobs came back", d->n, want);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000L; /* 5 ms cap: the generation check makes this a fallback only */
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&w->mu);
        while (w->gen == gen) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
                break;
        }
        pthread_mutex_unlock(&w->mu);
    }
    assert_int_equal(d->n, want);
}

static void done_list_free(done_list_t *d, const stt_engine_vtable_t *e)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i]->utt) /* a FEED keeps its utterance: the "session" releases it */
            e->utt_abort(d->v[i]->utt);
        job_free(d->v[i]);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static stt_model_t *load_null(const stt_engine_vtable_t *e)
{
    stt_config_t cfg;
    assert_int_equal(stt_config_init(&cfg), 0);
    char err[256] = "";
    stt_model_t *m = NULL;
    assert_int_equal(e->load(&cfg, &m, err, sizeof(err)), 0);
    assert_non_null(m);
    stt_config_dispose(&cfg);
    return m;
}

/* ---- gate engine: the null engine, but feed blocks until the gate opens ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int let_through; /* calls that may pass the closed gate */
    int entered;     /* calls that reached the gate */
    int hold_finals; /* ends wait at the gate too (else they only count samples) */
    size_t samples;  /* samples given to feed and end calls, in total */
    int nice_feed, nice_end; /* the thread's nice value in the last feed and end calls */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0};

static int thread_nice(void)
{
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

/* Waits at the gate; returns nonzero if the test never opened it. */
static int gate_pass(size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)DEADLINE_S;
    int rc = 0;
    pthread_mutex_lock(&gate.mu);
    gate.entered++;
    gate.samples += n;
    pthread_cond_broadcast(&gate.cv);
    while (!gate.open && gate.let_through == 0 && rc == 0)
        rc = pthread_cond_timedwait(&gate.cv, &gate.mu, &ts);
    if (rc == 0 && !gate.open)
        gate.let_through--;
    pthread_mutex_unlock(&gate.mu);
    return rc;
}

static int gate_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                     stt_result_t *partial)
{
    int nice = thread_nice();
    pthread_mutex_lock(&gate.mu);
    gate.nice_feed = nice;
    pthread_mutex_unlock(&gate.mu);
    if (gate_pass(n) != 0)
        return STT_EENGINE; /* the test never opened the gate: fail the job, don't hang */
    return stt_engine_null.utt_feed(u, pcm, n, want_partial, partial);
}

static int gate_end(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *final_result)
{
    int nice = thread_nice();
    pthread_mutex_lock(&gate.mu);
    gate.nice_end = nice;
    int hold = gate.hold_finals;
    if (!hold)
        gate.samples += n;
    pthread_mutex_unlock(&gate.mu);
    if (hold && gate_pass(n) != 0) {
        stt_engine_null.utt_abort(u);
        return STT_EENGINE;
    }
    return stt_engine_null.utt_end(u, pcm, n, final_result);
}

static stt_engine_vtable_t gate_engine;

static void gate_reset(void)
{
    gate_engine = stt_engine_null;
    gate_engine.name = "gate";
    gate_engine.utt_feed = gate_feed;
    gate_engine.utt_end = gate_end;
    pthread_mutex_lock(&gate.mu);
    gate.open = 0;
    gate.let_through = 0;
    gate.entered = 0;
    gate.hold_finals = 0;
    gate.samples = 0;
    pthread_mutex_unlock(&gate.mu);
}

static void gate_set_open(void)
{
    pthread_mutex_lock(&gate.mu);
    gate.open = 1;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
}

static void gate_wait_entered(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)DEADLINE_S;
    pthread_mutex_lock(&gate.mu);
    int rc = 0;
    while (gate.entered < n && rc == 0)
        rc = pthread_cond_timedwait(&gate.cv, &gate.mu, &ts);
    int entered = gate.entered;
    pthread_mutex_unlock(&gate.mu);
    if (entered < n)
        fail_msg("timed out: %d of %d feeds reached the gate", entered, n);
}

/* ---- tests ---- */

/* A pool of `workers` threads on the gate engine (gate closed), with its model and wakeup. */
static stt_pool_t *gate_pool(int workers, wake_t *w, stt_model_t **m)
{
    gate_reset();
    *m = load_null(&gate_engine);
    wake_init(w);
    stt_pool_t *p = stt_pool_create(&gate_engine, workers, wake_cb, w);
    stt_pool_set_model(p, *m);
    return p;
}

static void gate_pool_free(stt_pool_t *p, stt_model_t *m, wake_t *w)
{
    stt_pool_destroy(p);
    gate_engine.unload(m);
    wake_dispose(w);
}

/* 2,000 jobs of every kind over 4 workers, submitted while the workers run and drained while
 * they finish: each comes back exactly once with its own result; wakeups are batched. */
static void test_every_job_back_exactly_once(void **state)
{
    enum { N = 2000, WORKERS = 4 };
    const stt_engine_vtable_t *e = stt_engine_find("null");
    assert_non_null(e);
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, WORKERS, wake_cb, &w);
    stt_pool_set_model(p, m);
    assert_ptr_equal(stt_pool_model(p), m);

    done_list_t d = {0};
    for (uint32_t i = 0; i < N; i++) {
        stt_job_kind_t kind = i % 5 == 0   ? STT_JOB_FINAL
                              : i % 7 == 0 ? STT_JOB_ABORT
                                           : STT_JOB_FEED;
        stt_pool_submit(p, job_new(kind, i, 160 + i % 320, (int)(i & 1)));
        if (i % 64 == 0) {
            /* The loop reads stats (metrics) while workers run: under TSan this checks the
             * gauges are read under the pool's lock. */
            stt_pool_stats_t mid;
            stt_pool_stats(p, &mid);
            assert_true(mid.busy >= 0 && mid.busy <= WORKERS);
            assert_true(mid.queued_final + mid.queued_feed <= i + 1);
            assert_true(mid.decoders_in_use >= 0);
            drain(p, &d);
        }
    }
    wait_done(p, &w, &d, N);

    unsigned char *seen = calloc(N, 1);
    assert_non_null(seen);
    size_t n_feed_utts = 0;
    for (size_t k = 0; k < d.n; k++) {
        stt_job_t *j = d.v[k];
        assert_true(j->utt_seq < N);
        assert_ptr_equal(j->done_data, (void *)(uintptr_t)(j->utt_seq + 1));
        assert_int_equal(seen[j->utt_seq], 0);
        seen[j->utt_seq] = 1;
        assert_int_equal(j->status, 0);
        assert_null(j->next);
        assert_true(j->submitted_s <= j->started_s && j->started_s <= j->finished_s);
        switch (j->kind) {
        case STT_JOB_FEED:
            assert_non_null(j->utt); /* began an utterance and handed it back */
            n_feed_utts++;
            if (j->utt_seq & 1)
                assert_string_equal(j->result.text, "");
            else
                assert_null(j->result.text);
            break;
        case STT_JOB_FINAL:
            assert_null(j->utt); /* utt_end freed it */
            assert_string_equal(j->result.text, "");
            break;
        case STT_JOB_ABORT:
            assert_null(j->utt);
            assert_null(j->result.text);
            break;
        case STT_JOB_PROBE: /* not submitted here */
            fail();
            break;
        }
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    free(seen);

    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.workers, WORKERS);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.queued_final, 0);
    assert_int_equal(st.queued_feed, 0);
    assert_int_equal(st.decoders_in_use, (int)n_feed_utts);
    assert_int_equal(st.decoders_pooled, 0);

    done_list_free(&d, e); /* aborts the FEED utterances */
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);

    /* A worker calls wakeup after it publishes the job, so the last calls may trail the last
     * drain; once the workers are joined the count is exact. */
    stt_pool_stop(p);
    /* Wakeups are batched (one per push onto an empty done list): at least one, at most N. */
    assert_in_range(atomic_load(&w.calls), 1, N);
    assert_null(stt_pool_take_done(p));
    stt_pool_destroy(p);
    e->unload(m);
    wake_dispose(&w);
}

/* With one worker and no model yet, queue feeds and finals/aborts interleaved; once the model is
 * set, all finals and aborts run (FIFO among themselves) before any feed (FIFO). */
/* Wakeups are batched (only a push onto an empty done list wakes the loop). This loop drains
 * only when woken, never by polling: a lost wakeup leaves jobs in the done list with nobody
 * coming for them, and the bounded wait fails. Jobs are submitted in bursts from the loop while
 * workers complete them, to hit the empty/non-empty transitions from both sides. */
static void test_batched_wakeups_never_lost(void **state)
{
    enum { N = 5000, WORKERS = 2, BURST = 50 };
    const stt_engine_vtable_t *e = stt_engine_find("null");
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, WORKERS, wake_cb, &w);
    stt_pool_set_model(p, m);
    done_list_t d = {0};
    uint32_t submitted = 0;
    uint64_t seen_gen = 0;
    while (d.n < N) {
        for (int k = 0; k < BURST && submitted < N; k++, submitted++)
            stt_pool_submit(p, job_new(STT_JOB_FEED, submitted, 160, 0));
        /* Wait for a wakeup newer than the last one handled, then drain everything. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)DEADLINE_S;
        pthread_mutex_lock(&w.mu);
        while (w.gen == seen_gen)
            if (pthread_cond_timedwait(&w.cv, &w.mu, &ts) != 0)
                break;
        int woken = w.gen != seen_gen;
        seen_gen = w.gen;
        pthread_mutex_unlock(&w.mu);
        if (!woken)
            fail_msg("lost wakeup: %zu of %u jobs back, %u submitted", d.n, N, submitted);
        drain(p, &d);
    }
    assert_int_equal(d.n, N);
    stt_pool_stop(p);
    assert_in_range(atomic_load(&w.calls), 1, N);
    done_list_free(&d, e);
    stt_pool_destroy(p);
    e->unload(m);
    wake_dispose(&w);
}

static void test_finals_before_feeds(void **state)
{
    const stt_engine_vtable_t *e = stt_engine_find("null");
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, 1, wake_cb, &w);

    static const stt_job_kind_t kinds[] = {STT_JOB_FEED,  STT_JOB_FEED,  STT_JOB_FINAL,
                                           STT_JOB_FEED,  STT_JOB_ABORT, STT_JOB_FEED,
                                           STT_JOB_FINAL, STT_JOB_FEED};
    enum { N = sizeof(kinds) / sizeof(kinds[0]) };
    for (uint32_t i = 0; i < N; i++)
        stt_pool_submit(p, job_new(kinds[i], i, 320, 1));
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.queued_final, 3);
    assert_int_equal(st.queued_feed, 5);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.decoders_in_use, 0); /* no model: gauges stay zero */

    stt_pool_set_model(p, m);
    done_list_t d = {0};
    wait_done(p, &w, &d, N);
    static const uint32_t want[] = {2, 4, 6, 0, 1, 3, 5, 7};
    for (size_t k = 0; k < N; k++) {
        assert_int_equal(d.v[k]->utt_seq, want[k]);
        assert_int_equal(d.v[k]->status, 0);
        if (k > 0) /* one worker: completion order is start order */
            assert_true(d.v[k]->started_s >= d.v[k - 1]->finished_s);
    }
    done_list_free(&d, e);
    stt_pool_destroy(p);
    /* Wakeups are batched (one per push onto an empty done list): at least one, at most N. */
    assert_in_range(atomic_load(&w.calls), 1, N);
    e->unload(m);
    wake_dispose(&w);
}

/* Jobs submitted before the model is published stay queued (nothing runs, nothing wakes the
 * loop), then all run once it is set. */
static void test_jobs_wait_for_model(void **state)
{
    enum { N = 10 };
    const stt_engine_vtable_t *e = stt_engine_find("null");
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, 2, wake_cb, &w);
    assert_null(stt_pool_model(p));
    for (uint32_t i = 0; i < N; i++)
        stt_pool_submit(p, job_new(i % 2 ? STT_JOB_FINAL : STT_JOB_FEED, i, 160, 0));

    /* Watch for 50 ms in 1 ms steps: a worker that ran a job early would show up here. */
    done_list_t d = {0};
    stt_pool_stats_t st;
    for (int k = 0; k < 50; k++) {
        assert_int_equal(drain(p, &d), 0);
        stt_pool_stats(p, &st);
        assert_int_equal(st.busy, 0);
        assert_int_equal(st.queued_final + st.queued_feed, N);
        sleep_ms(1);
    }
    assert_int_equal(atomic_load(&w.calls), 0);

    double t_set = stt_now_s();
    stt_pool_set_model(p, m);
    wait_done(p, &w, &d, N);
    for (size_t k = 0; k < N; k++) {
        assert_int_equal(d.v[k]->status, 0);
        assert_true(d.v[k]->submitted_s < t_set);
        assert_true(d.v[k]->started_s >= t_set);
    }
    done_list_free(&d, e);
    stt_pool_destroy(p);
    /* Wakeups are batched (one per push onto an empty done list): at least one, at most N. */
    assert_in_range(atomic_load(&w.calls), 1, N);
    e->unload(m);
    wake_dispose(&w);
}

/* The model never loaded: stop hands every queued job back as STT_ECANCELED, untouched by the
 * engine; a job submitted after stop comes back canceled too, exactly once. */
static void test_stop_without_model_cancels(void **state)
{
    enum { N = 6 };
    const stt_engine_vtable_t *e = stt_engine_find("null");
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, 3, wake_cb, &w);
    for (uint32_t i = 0; i < N; i++)
        stt_pool_submit(p, job_new((stt_job_kind_t)(i % 3), i, 160, 1));
    stt_pool_stop(p);
    stt_pool_stop(p); /* idempotent */

    done_list_t d = {0};
    assert_int_equal(drain(p, &d), N);
    unsigned seen = 0;
    for (size_t k = 0; k < N; k++) {
        assert_int_equal(d.v[k]->status, STT_ECANCELED);
        assert_null(d.v[k]->utt);
        assert_null(d.v[k]->result.text);
        seen |= 1u << d.v[k]->utt_seq;
    }
    assert_int_equal(seen, (1u << N) - 1);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.queued_final + st.queued_feed, 0);
    assert_int_equal(st.busy, 0);

    stt_pool_submit(p, job_new(STT_JOB_FINAL, N, 160, 0));
    assert_int_equal(drain(p, &d), 1);
    assert_int_equal(d.v[N]->utt_seq, N);
    assert_int_equal(d.v[N]->status, STT_ECANCELED);
    assert_null(stt_pool_take_done(p));
    assert_int_equal(atomic_load(&w.calls), 0); /* after stop the loop drains by itself */

    done_list_free(&d, e);
    stt_pool_destroy(p);
    wake_dispose(&w);
}

/* After stop with a model, submit runs the job inline on the calling thread: it comes back
 * exactly once, with a real result, and an utterance begun inline can be finished inline. */
static void test_submit_after_stop_runs_inline(void **state)
{
    const stt_engine_vtable_t *e = stt_engine_find("null");
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, 2, wake_cb, &w);
    stt_pool_set_model(p, m);
    stt_pool_stop(p);

    stt_job_t *feed = job_new(STT_JOB_FEED, 1, 320, 1);
    stt_pool_submit(p, feed);
    stt_job_t *j = stt_pool_take_done(p);
    assert_ptr_equal(j, feed);
    assert_null(j->next);
    assert_int_equal(j->status, 0);
    assert_non_null(j->utt);
    assert_string_equal(j->result.text, "");
    assert_null(stt_pool_take_done(p));

    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 1);

    stt_job_t *fin = job_new(STT_JOB_FINAL, 1, 160, 0);
    fin->utt = feed->utt; /* the session moves its utterance to the next job */
    feed->utt = NULL;
    stt_pool_submit(p, fin);
    j = stt_pool_take_done(p);
    assert_ptr_equal(j, fin);
    assert_null(j->next);
    assert_int_equal(j->status, 0);
    assert_null(j->utt);
    assert_string_equal(j->result.text, "");
    assert_null(stt_pool_take_done(p));
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);
    assert_int_equal(atomic_load(&w.calls), 0);

    job_free(feed);
    job_free(fin);
    /* Jobs left in the done queue are destroy's to free (checked by ASan's leak detector). */
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 2, 160, 0));
    stt_pool_destroy(p);
    e->unload(m);
    wake_dispose(&w);
}

typedef struct {
    stt_pool_t *p;
} stopper_arg_t;

static void *stopper_main(void *arg)
{
    stt_pool_stop(((stopper_arg_t *)arg)->p);
    return NULL;
}

/* Stops the pool from another thread while its worker is held in the gate, then opens the
 * gate. The pause gives stop time to raise its flag while the worker is still held. There is
 * nothing to poll for; if stop were slower than this the test would pass without exercising the
 * race, never fail spuriously. */
static void stop_while_held(stt_pool_t *p)
{
    pthread_t stopper;
    stopper_arg_t arg = {p};
    assert_int_equal(pthread_create(&stopper, NULL, stopper_main, &arg), 0);
    sleep_ms(30);
    gate_set_open();
    assert_int_equal(pthread_join(stopper, NULL), 0);
}

/* A one-worker gate pool whose worker is held inside the feed of job 0, with jobs 1..queued
 * queued behind it (every final_every-th a FINAL, the rest FEEDs). */
static stt_pool_t *pool_one_held(wake_t *w, stt_model_t **m, uint32_t queued, uint32_t final_every)
{
    stt_pool_t *p = gate_pool(1, w, m);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 0, 160, 1));
    gate_wait_entered(1);
    for (uint32_t i = 1; i <= queued; i++)
        stt_pool_submit(p, job_new(i % final_every == 0 ? STT_JOB_FINAL : STT_JOB_FEED, i, 160, 0));
    return p;
}

/* Regression: stop with a model and jobs still queued. A stopping worker used to check
 * `stopping` before the queues and exit, so queued jobs never came back (and their utterances
 * leaked). The one worker is held inside a feed while stop begins; every queued job must still
 * run and come back. */
static void test_stop_runs_queued_jobs(void **state)
{
    enum { QUEUED = 9 };
    stt_model_t *m;
    wake_t w;
    stt_pool_t *p = pool_one_held(&w, &m, QUEUED, 3);

    stop_while_held(p);

    done_list_t d = {0};
    drain(p, &d);
    assert_int_equal(d.n, QUEUED + 1);
    for (size_t k = 0; k < d.n; k++)
        assert_int_equal(d.v[k]->status, 0);
    assert_in_range(atomic_load(&w.calls), 1, QUEUED + 1);
    done_list_free(&d, &gate_engine);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);
    gate_pool_free(p, m, &w);
}

/* Shutdown order: stt_pool_disable_wakeup returns only when no worker is inside the wakeup
 * callback and no later completion calls it (the loop then destroys what the callback uses);
 * stt_pool_cancel_queued hands back, as STT_ECANCELED and unrun, every job no worker took, while
 * the one running job finishes normally. Regression: a shutdown under overload crashed in a
 * wakeup that ran on the destroyed lws context, after a backlog the pool decoded in full. */
static void test_cancel_queued_and_disable_wakeup(void **state)
{
    enum { QUEUED = 7 };
    stt_model_t *m;
    wake_t w;
    stt_pool_t *p = pool_one_held(&w, &m, QUEUED, 2);

    stt_pool_disable_wakeup(p);
    int calls_before = atomic_load(&w.calls);
    assert_int_equal(stt_pool_cancel_queued(p), QUEUED);
    gate_set_open();
    stt_pool_stop(p);

    done_list_t d = {0};
    drain(p, &d);
    assert_int_equal(d.n, QUEUED + 1);
    size_t ran = 0, cancelled = 0;
    for (size_t k = 0; k < d.n; k++) {
        if (d.v[k]->utt_seq == 0) {
            assert_int_equal(d.v[k]->status, 0);
            ran++;
        } else {
            assert_int_equal(d.v[k]->status, STT_ECANCELED);
            assert_null(d.v[k]->utt); /* never began: nothing to release */
            cancelled++;
        }
    }
    assert_int_equal(ran, 1);
    assert_int_equal(cancelled, QUEUED);
    assert_int_equal(atomic_load(&w.calls), calls_before); /* no wakeup after disable */
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}

/* A job cancelled while queued (its session went away) is taken by a worker but never decoded:
 * it comes back as STT_ECANCELED, marked as started, its engine utterance released, and no
 * audio reached the engine. The job queued beside it still runs. */
static void test_cancelled_while_queued_not_decoded(void **state)
{
    stt_model_t *m;
    wake_t w;
    stt_pool_t *p = pool_one_held(&w, &m, 0, 1);
    stt_job_t *feed = job_new(STT_JOB_FEED, 1, 160, 1);
    stt_job_t *fin = job_new(STT_JOB_FINAL, 2, 320, 0);
    stt_job_t *kept = job_new(STT_JOB_FEED, 3, 480, 0);
    assert_int_equal(gate_engine.utt_begin(m, &feed->opt, &feed->utt), 0);
    assert_int_equal(gate_engine.utt_begin(m, &fin->opt, &fin->utt), 0);
    stt_pool_submit(p, feed);
    stt_pool_submit(p, fin);
    stt_pool_submit(p, kept);
    __atomic_store_n(&feed->cancel, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&fin->cancel, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&gate.mu);
    size_t samples_before = gate.samples; /* job 0's feed */
    pthread_mutex_unlock(&gate.mu);
    gate_set_open();

    done_list_t d = {0};
    wait_done(p, &w, &d, 4);
    for (size_t k = 0; k < d.n; k++) {
        stt_job_t *j = d.v[k];
        if (j == feed || j == fin) {
            assert_int_equal(j->status, STT_ECANCELED);
            assert_null(j->utt);
            assert_true(j->started_s > 0);
        } else {
            assert_int_equal(j->status, 0);
        }
    }
    pthread_mutex_lock(&gate.mu);
    assert_int_equal(gate.samples - samples_before, 480); /* only the kept feed's audio */
    pthread_mutex_unlock(&gate.mu);
    done_list_free(&d, &gate_engine);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);
    assert_int_equal(st.audio_s * 16000.0 + 0.5, 160 + 480);
    gate_pool_free(p, m, &w);
}

/* stats while two workers are held inside feeds with more work queued behind them. */
static void test_stats_counts(void **state)
{
    gate_reset();
    stt_model_t *m = load_null(&gate_engine);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(&gate_engine, 2, wake_cb, &w);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.workers, 2);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.queued_final + st.queued_feed, 0);

    stt_pool_set_model(p, m);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 0, 160, 1));
    stt_pool_submit(p, job_new(STT_JOB_FEED, 1, 160, 1));
    gate_wait_entered(2);
    /* Both workers are inside a feed now, so everything below stays queued. */
    stt_pool_submit(p, job_new(STT_JOB_FEED, 2, 160, 0));
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 3, 160, 0));
    stt_pool_submit(p, job_new(STT_JOB_FEED, 4, 160, 0));
    stt_pool_submit(p, job_new(STT_JOB_ABORT, 5, 0, 0));
    stt_pool_stats(p, &st);
    assert_int_equal(st.workers, 2);
    assert_int_equal(st.busy, 2);
    assert_int_equal(st.queued_final, 2);
    assert_int_equal(st.queued_feed, 2);
    assert_int_equal(st.decoders_in_use, 2); /* the two held feeds began utterances */
    assert_int_equal(st.decoders_pooled, 0);
    assert_int_equal(atomic_load(&w.calls), 0);

    gate_set_open();
    done_list_t d = {0};
    wait_done(p, &w, &d, 6);
    stt_pool_stats(p, &st);
    assert_int_equal(st.busy, 0);
    assert_int_equal(st.queued_final + st.queued_feed, 0);
    assert_int_equal(st.decoders_in_use, 4); /* four FEED jobs hold their utterances */
    done_list_free(&d, &gate_engine);
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);
    gate_pool_free(p, m, &w);
}

/* A failed feed (here: the engine errors) aborts the utterance and reports the error; the job
 * still comes back exactly once. */
static int failing_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                        stt_result_t *partial)
{
    return STT_EENGINE;
}

static void test_failed_feed_releases_utterance(void **state)
{
    stt_engine_vtable_t failing = stt_engine_null;
    failing.utt_feed = failing_feed;
    stt_model_t *m = load_null(&failing);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(&failing, 1, wake_cb, &w);
    stt_pool_set_model(p, m);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 0, 160, 1));
    done_list_t d = {0};
    wait_done(p, &w, &d, 1);
    assert_int_equal(d.v[0]->status, STT_EENGINE);
    assert_null(d.v[0]->utt);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.decoders_in_use, 0);
    done_list_free(&d, &failing);
    stt_pool_destroy(p);
    failing.unload(m);
    wake_dispose(&w);
}

/* An expedited feed (its utterance's speech ended) leaves the feeds' queue for the finals';
 * ending feeds are submitted there; a running job cannot be expedited. Then the same for a feed
 * turned into a final. */
static void test_expedite(void **state)
{
    stt_model_t *m;
    wake_t w;
    stt_pool_t *p = gate_pool(1, &w, &m);
    stt_job_t *held = job_new(STT_JOB_FEED, 0, 160, 0);
    stt_pool_submit(p, held);
    gate_wait_entered(1);
    stt_job_t *v[4];
    for (uint32_t i = 1; i <= 3; i++)
        stt_pool_submit(p, v[i] = job_new(STT_JOB_FEED, i, 160, 0));
    assert_int_equal(stt_pool_expedite(p, held), 0); /* running */
    assert_int_equal(stt_pool_expedite(p, v[3]), 1);
    assert_int_equal(stt_pool_expedite(p, v[3]), 0); /* already moved */
    stt_job_t *ending = job_new(STT_JOB_FEED, 4, 160, 0);
    ending->ending = 1;
    stt_pool_submit(p, ending);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.queued_final, 2);
    assert_int_equal(st.queued_feed, 2);
    gate_set_open();
    done_list_t d = {0};
    wait_done(p, &w, &d, 5);
    static const uint32_t want[] = {0, 3, 4, 1, 2};
    for (size_t k = 0; k < 5; k++)
        assert_int_equal(d.v[k]->utt_seq, want[k]);
    done_list_free(&d, &gate_engine);

    /* A queued feed turned into its utterance's final runs with the finals, as a final (the
     * utterance is ended and freed: no handle comes back); a running one cannot be. */
    gate_reset();
    held = job_new(STT_JOB_FEED, 5, 160, 0);
    stt_pool_submit(p, held);
    gate_wait_entered(1);
    stt_pool_submit(p, v[1] = job_new(STT_JOB_FEED, 6, 160, 1));
    stt_pool_submit(p, v[2] = job_new(STT_JOB_FEED, 7, 160, 1));
    assert_int_equal(stt_pool_convert_to_final(p, held), 0);
    assert_int_equal(stt_pool_convert_to_final(p, v[2]), 1);
    assert_int_equal(v[2]->kind, STT_JOB_FINAL);
    gate_set_open();
    wait_done(p, &w, &d, 3);
    assert_int_equal(d.v[0]->utt_seq, 5);
    assert_int_equal(d.v[1]->utt_seq, 7);
    assert_null(d.v[1]->utt);
    assert_string_equal(d.v[1]->result.text, "");
    assert_int_equal(d.v[2]->utt_seq, 6);
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}

/* With slices, a feed held in its first slice yields to the final and the first-partial feed
 * submitted meanwhile, then resumes where it stopped: every sample reaches the engine exactly
 * once, the partial comes with the last slice, and the engine handle stays with the job. A feed
 * that yielded and is turned into a final ends with only the samples it had not fed yet. */
static void test_slices_yield(void **state)
{
    gate_reset();
    stt_model_t *m = load_null(&gate_engine);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(&gate_engine, 1, wake_cb, &w);
    stt_pool_set_slice(p, 100);
    stt_pool_set_model(p, m);
    stt_job_t *held = job_new(STT_JOB_FEED, 0, 450, 1); /* 5 slices: 4 x 100 + 50 */
    stt_pool_submit(p, held);
    gate_wait_entered(1);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 1, 160, 1));
    stt_job_t *urgent = job_new(STT_JOB_FEED, 2, 160, 1);
    urgent->urgent = 1;
    stt_pool_submit(p, urgent);
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 3, 100, 0));
    gate_set_open();
    done_list_t d = {0};
    wait_done(p, &w, &d, 4);
    static const uint32_t want[] = {3, 2, 0, 1};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(d.v[k]->utt_seq, want[k]);
        assert_int_equal(d.v[k]->status, 0);
    }
    assert_non_null(d.v[2]->utt);
    assert_string_equal(d.v[2]->result.text, "");
    assert_int_equal(d.v[2]->done_samples, 450);
    assert_true(stt_job_engine_s(d.v[2]) >= 0);
    pthread_mutex_lock(&gate.mu);
    assert_int_equal(gate.samples, 450 + 160 + 160 + 100);
    assert_int_equal(gate.entered, 5 + 2 + 2); /* slices of 100 samples */
    pthread_mutex_unlock(&gate.mu);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.preemptions, 1);
    done_list_free(&d, &gate_engine);

    gate_reset();
    pthread_mutex_lock(&gate.mu);
    gate.hold_finals = 1;
    pthread_mutex_unlock(&gate.mu);
    held = job_new(STT_JOB_FEED, 4, 450, 1);
    stt_pool_submit(p, held);
    gate_wait_entered(1);
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 5, 100, 0));
    pthread_mutex_lock(&gate.mu);
    gate.let_through = 1; /* the feed's first slice; it yields, and the final waits at the gate */
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    gate_wait_entered(2);
    assert_int_equal(stt_pool_convert_to_final(p, held), 1); /* queued again, one slice done */
    gate_set_open();
    wait_done(p, &w, &d, 2);
    assert_int_equal(d.v[0]->utt_seq, 5);
    assert_int_equal(d.v[1]->utt_seq, 4);
    assert_int_equal(d.v[1]->kind, STT_JOB_FINAL);
    assert_int_equal(d.v[1]->status, 0);
    assert_null(d.v[1]->utt);
    pthread_mutex_lock(&gate.mu);
    assert_int_equal(gate.samples, 450 + 100);
    assert_int_equal(gate.entered, 1 + 1 + 1); /* a slice, the final, the rest as one end */
    pthread_mutex_unlock(&gate.mu);
    stt_pool_stats(p, &st);
    assert_int_equal(st.preemptions, 2);
    assert_int_equal(st.decoders_in_use, 0);
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}


/* The fourth class: batch jobs (file uploads) run only when no live job waits, and a batch feed
 * yields between slices to any live job, even an ordinary feed. */
static void test_batch_class_last(void **state)
{
    gate_reset();
    stt_model_t *m = load_null(&gate_engine);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(&gate_engine, 1, wake_cb, &w);
    stt_pool_set_slice(p, 100);
    stt_pool_set_model(p, m);
    stt_job_t *held = job_new(STT_JOB_FEED, 0, 450, 1); /* a batch feed: 5 slices */
    held->batch = 1;
    stt_pool_submit(p, held);
    gate_wait_entered(1);
    stt_job_t *bfinal = job_new(STT_JOB_FINAL, 1, 100, 0);
    bfinal->batch = 1;
    stt_pool_submit(p, bfinal);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 2, 160, 1)); /* live feed: before both batch jobs */
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 3, 100, 0));
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.queued_batch, 1);
    gate_set_open();
    done_list_t d = {0};
    wait_done(p, &w, &d, 4);
    static const uint32_t want[] = {3, 2, 0, 1};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(d.v[k]->utt_seq, want[k]);
        assert_int_equal(d.v[k]->status, 0);
    }
    assert_int_equal(d.v[2]->done_samples, 450);
    stt_pool_stats(p, &st);
    assert_int_equal(st.preemptions, 1);
    assert_int_equal(st.queued_batch, 0);
    /* expedite never moves a batch feed into the finals' class */
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}

/* Completion by callback: stt_pool_dispatch_done calls each job's own `done` exactly once, on
 * the calling (loop) thread, with its own data. */
typedef struct {
    int calls[8];
    pthread_t thread;
    int wrong_thread;
} done_count_t;

static done_count_t g_done;

static void count_done(stt_job_t *j, void *data)
{
    int *slot = data;
    (*slot)++;
    if (!pthread_equal(pthread_self(), g_done.thread))
        g_done.wrong_thread++;
    job_free(j);
}

static void test_done_callbacks(void **state)
{
    const stt_engine_vtable_t *e = stt_engine_find("null");
    stt_model_t *m = load_null(e);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(e, 2, wake_cb, &w);
    stt_pool_set_model(p, m);
    memset(&g_done, 0, sizeof(g_done));
    g_done.thread = pthread_self();
    for (uint32_t i = 0; i < 8; i++) {
        stt_job_t *j = job_new(STT_JOB_FINAL, i, 320, 0);
        j->done = count_done;
        j->done_data = &g_done.calls[i];
        j->batch = i % 2;
        stt_pool_submit(p, j);
    }
    size_t back = 0;
    double deadline = stt_now_s() + DEADLINE_S;
    while (back < 8 && stt_now_s() < deadline) {
        back += stt_pool_dispatch_done(p);
        sleep_ms(1);
    }
    assert_int_equal(back, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(g_done.calls[i], 1);
    assert_int_equal(g_done.wrong_thread, 0);
    assert_int_equal(stt_pool_dispatch_done(p), 0);
    stt_pool_destroy(p);
    e->unload(m);
    wake_dispose(&w);
}

/* ---- stall engine: the null engine, but a feed with audio runs until cancelled, or (when
 * stall_ignores_cancel) sleeps 0.5 s whatever happens; a feed without audio returns at once ---- */

static atomic_int stall_ignores_cancel;

static int stall_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                      stt_result_t *partial)
{
    if (n == 0)
        return stt_engine_null.utt_feed(u, pcm, n, want_partial, partial);
    if (atomic_load(&stall_ignores_cancel)) {
        sleep_ms(500);
        return 0;
    }
    double deadline = stt_now_s() + DEADLINE_S;
    while (!stt_engine_cancelled() && stt_now_s() < deadline)
        sleep_ms(2);
    return stt_engine_cancelled() ? STT_ECANCELED : STT_EENGINE;
}

/* Calls the watchdog (as the loop's tick does) until `cond` holds for the pool's stats. */
static size_t watch_until(stt_pool_t *p, double grace_s, int (*cond)(const stt_pool_stats_t *))
{
    double deadline = stt_now_s() + DEADLINE_S;
    size_t expired = 0;
    stt_job_t *v[4];
    stt_pool_stats_t st;
    for (;;) {
        expired += stt_pool_watchdog(p, stt_now_s(), grace_s, v, 4, NULL, NULL);
        stt_pool_stats(p, &st);
        if (cond(&st))
            return expired;
        if (stt_now_s() > deadline)
            fail_msg("watchdog condition not reached");
        sleep_ms(5);
    }
}

static int one_timeout(const stt_pool_stats_t *st)
{
    return st->timeouts == 1;
}

static int one_replaced(const stt_pool_stats_t *st)
{
    return st->workers_replaced == 1;
}

/* A job past its timeout is cancelled and comes back as STT_ETIMEDOUT; one whose engine
 * ignores the cancel has its worker replaced, and the pool keeps serving meanwhile. */
static void test_watchdog(void **state)
{
    stt_engine_vtable_t stall = stt_engine_null;
    stall.name = "stall";
    stall.utt_feed = stall_feed;
    stt_model_t *m = load_null(&stall);
    wake_t w;
    wake_init(&w);
    stt_pool_t *p = stt_pool_create(&stall, 1, wake_cb, &w);
    stt_pool_set_model(p, m);

    atomic_store(&stall_ignores_cancel, 0);
    stt_job_t *j = job_new(STT_JOB_FEED, 0, 320, 0);
    j->timeout_s = 0.05;
    stt_pool_submit(p, j);
    assert_int_equal(watch_until(p, 10.0, one_timeout), 1);
    done_list_t d = {0};
    wait_done(p, &w, &d, 1);
    assert_int_equal(d.v[0]->status, STT_ETIMEDOUT);
    assert_true(d.v[0]->timed_out);

    atomic_store(&stall_ignores_cancel, 1);
    j = job_new(STT_JOB_FEED, 1, 320, 0);
    j->timeout_s = 0.05;
    stt_pool_submit(p, j);
    watch_until(p, 0.05, one_replaced);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 2, 0, 0)); /* served by the new worker */
    wait_done(p, &w, &d, 3);
    assert_int_equal(d.v[1]->utt_seq, 2);
    assert_int_equal(d.v[1]->status, 0);
    assert_int_equal(d.v[2]->utt_seq, 1); /* the stuck one, once its call returned: its */
    assert_int_equal(d.v[2]->status, 0);  /* late success stands */
    assert_true(d.v[2]->timed_out);
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(st.workers, 1);
    assert_int_equal(st.timeouts, 2);
    assert_int_equal(st.workers_replaced, 1);
    assert_int_equal(st.submitted, 3);
    assert_int_equal(st.handed_back, 3);
    done_list_free(&d, &stall);
    assert_int_equal(stt_pool_destroy(p), 0);
    stall.unload(m);
    wake_dispose(&w);
}

/* Batched hand-over: staged jobs reach no worker until the flush, then every one comes back
 * exactly once; a pool call that looks at the queues (expedite here) flushes first, so it finds
 * a staged job; stop runs what is still staged. */
static void test_batched_handover(void **state)
{
    enum { N = 300 };
    stt_model_t *m;
    wake_t w;
    stt_pool_t *p = gate_pool(2, &w, &m);
    gate_set_open();
    stt_pool_set_batched(p, 1);
    for (uint32_t i = 0; i < N; i++)
        stt_pool_submit(p, job_new(i % 4 == 0 ? STT_JOB_FINAL : STT_JOB_FEED, i, 160, 1));
    sleep_ms(30);
    done_list_t d = {0};
    assert_int_equal(drain(p, &d), 0); /* staged: no worker has seen them */
    assert_int_equal(atomic_load(&w.calls), 0);
    stt_pool_flush(p);
    wait_done(p, &w, &d, N);
    char *seen = calloc(N, 1);
    assert_non_null(seen);
    for (size_t k = 0; k < d.n; k++) {
        assert_int_equal(d.v[k]->status, 0);
        assert_int_equal(seen[d.v[k]->utt_seq]++, 0);
    }
    free(seen);
    done_list_free(&d, &gate_engine);

    stt_pool_destroy(p);

    /* One worker held in a feed; two more staged; expediting the second must find it. */
    gate_reset();
    p = stt_pool_create(&gate_engine, 1, wake_cb, &w);
    stt_pool_set_model(p, m);
    stt_pool_set_batched(p, 1);
    stt_job_t *held = job_new(STT_JOB_FEED, 1000, 160, 0), *v1, *v2;
    stt_pool_submit(p, held);
    stt_pool_flush(p);
    gate_wait_entered(1);
    stt_pool_submit(p, v1 = job_new(STT_JOB_FEED, 1001, 160, 0));
    stt_pool_submit(p, v2 = job_new(STT_JOB_FEED, 1002, 160, 0));
    assert_int_equal(stt_pool_expedite(p, v2), 1);
    stt_pool_submit(p, job_new(STT_JOB_FEED, 1003, 160, 0)); /* staged at stop */
    stop_while_held(p);
    drain(p, &d);
    assert_int_equal(d.n, 4);
    static const uint32_t want[] = {1000, 1002, 1001, 1003};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(d.v[k]->utt_seq, want[k]);
    (void)v1;
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}

/* The bulkhead (stt_pool_set_batch_workers): with 1 of 2 workers for batch jobs, a second upload
 * job waits while the first holds its worker, and a live final runs at once on the other worker
 * (regression: two upload jobs took both workers, and a live final waited until an upload's
 * decode ended; a batch FINAL never yields). The slot comes back when the batch job ends. Without
 * the bulkhead (the default) both workers take batch jobs, which is what the first part would
 * catch. */
static int gate_entered(void)
{
    pthread_mutex_lock(&gate.mu);
    int n = gate.entered;
    pthread_mutex_unlock(&gate.mu);
    return n;
}

static void test_batch_bulkhead(void **state)
{
    wake_t w;
    stt_model_t *m;
    stt_pool_t *p = gate_pool(2, &w, &m); /* no slicing: a batch feed holds its worker */
    stt_pool_set_batch_workers(p, 1);
    /* Batch jobs at nice 10 where the process may lower it again (root in CI), else none. */
    int niced = stt_pool_set_batch_nice(p, 10) == 0;
    stt_job_t *a = job_new(STT_JOB_FEED, 0, 160, 0), *b = job_new(STT_JOB_FEED, 1, 160, 0);
    a->batch = b->batch = 1;
    stt_pool_submit(p, a);
    stt_pool_submit(p, b);
    gate_wait_entered(1);
    sleep_ms(100); /* without the bulkhead the idle worker takes b at once */
    stt_pool_stats_t st;
    stt_pool_stats(p, &st);
    assert_int_equal(gate_entered(), 1);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.busy_batch, 1);
    assert_int_equal(st.queued_batch, 1);
    assert_int_equal(st.batch_workers, 1);
    /* A live final (ends do not wait at the gate) runs on the free worker meanwhile. */
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 2, 100, 0));
    done_list_t d = {0};
    wait_done(p, &w, &d, 1);
    assert_int_equal(d.v[0]->utt_seq, 2);
    assert_int_equal(d.v[0]->status, 0);
    assert_int_equal(gate_entered(), 1);
    pthread_mutex_lock(&gate.mu);
    assert_int_equal(gate.nice_feed, niced ? 10 : 0); /* the batch feed */
    assert_int_equal(gate.nice_end, 0);               /* the live final */
    pthread_mutex_unlock(&gate.mu);
    gate_set_open(); /* a ends, its slot goes to b */
    wait_done(p, &w, &d, 3);
    assert_int_equal(d.v[1]->utt_seq, 0);
    assert_int_equal(d.v[2]->utt_seq, 1);
    stt_pool_stats(p, &st);
    assert_int_equal(st.busy_batch, 0);
    assert_int_equal(st.batch_nice, niced ? 10 : 0);
    /* A live job on a worker that ran a batch job is back at normal priority. */
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 3, 100, 0));
    stt_pool_submit(p, job_new(STT_JOB_FINAL, 4, 100, 0));
    wait_done(p, &w, &d, 5);
    pthread_mutex_lock(&gate.mu);
    assert_int_equal(gate.nice_end, 0);
    pthread_mutex_unlock(&gate.mu);
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);

    /* The default: no bulkhead, both workers run batch jobs. */
    p = gate_pool(2, &w, &m);
    a = job_new(STT_JOB_FEED, 0, 160, 0), b = job_new(STT_JOB_FEED, 1, 160, 0);
    a->batch = b->batch = 1;
    stt_pool_submit(p, a);
    stt_pool_submit(p, b);
    gate_wait_entered(2);
    stt_pool_stats(p, &st);
    assert_int_equal(st.busy_batch, 2);
    assert_int_equal(st.batch_workers, 2);
    gate_set_open();
    wait_done(p, &w, &d, 2);
    done_list_free(&d, &gate_engine);
    gate_pool_free(p, m, &w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_back_exactly_once),
        cmocka_unit_test(test_batched_wakeups_never_lost),
        cmocka_unit_test(test_finals_before_feeds),
        cmocka_unit_test(test_jobs_wait_for_model),
        cmocka_unit_test(test_stop_without_model_cancels),
        cmocka_unit_test(test_submit_after_stop_runs_inline),
        cmocka_unit_test(test_stop_runs_queued_jobs),
        cmocka_unit_test(test_cancel_queued_and_disable_wakeup),
        cmocka_unit_test(test_cancelled_while_queued_not_decoded),
        cmocka_unit_test(test_stats_counts),
        cmocka_unit_test(test_failed_feed_releases_utterance),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_expedite),
        cmocka_unit_test(test_slices_yield),
        cmocka_unit_test(test_batch_class_last),
        cmocka_unit_test(test_batch_bulkhead),
        cmocka_unit_test(test_done_callbacks),
        cmocka_unit_test(test_batched_handover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

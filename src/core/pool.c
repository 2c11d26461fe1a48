/* Engine worker pool (see pool.h).
 *
 * Threads: the loop thread submits and drains; worker threads run engine calls. One mutex guards
 * both queues and the done list; it is never held during an engine call, so the loop thread never
 * waits on inference. */
#include "pool.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A FIFO of jobs on the intrusive list (stt/list.h) through stt_job_t.qlink; a job knows the
 * queue it is in (job->queue), so taking it out is O(1). */
typedef struct job_queue {
    stt_list_t jobs;
    size_t len; /* written under the pool lock, atomically: should_yield reads it without */
} job_queue_t;

static void q_len_add(job_queue_t *q, int d)
{
    __atomic_store_n(&q->len, q->len + (size_t)d, __ATOMIC_RELAXED);
}

/* One worker thread. `job` is what it runs now (under the pool lock); a retired worker (hung
 * past the watchdog's grace) leaves the pool's count and exits once its engine call returns. */
typedef struct stt_worker {
    struct stt_worker *next;
    stt_pool_t *pool;
    pthread_t thread;
    stt_job_t *job;
    int batch; /* job is a batch job: it holds one of the pool's batch slots */
    int niced; /* the thread runs at the batch jobs' lower CPU priority now */
    int retired;
    int needs_reset; /* its last job failed: recreate the engine state before the next one */
} stt_worker_t;

struct stt_pool {
    const stt_engine_vtable_t *engine;
    stt_model_t *model;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_queue_t finals, urgent, feeds, batch, done;
    int stopping;
    int n_workers;    /* live (not retired) workers */
    stt_worker_t *workers;
    int retired_running; /* retired workers still inside an engine call */
    int busy;
    /* The bulkhead (stt_pool_set_batch_workers): at most batch_max workers run batch jobs at
     * once; batch_busy of them do now. */
    int batch_max, batch_busy;
    int batch_nice; /* nice value of a worker thread while it runs a batch job; 0 = none */
    double busy_s;    /* total seconds workers spent running jobs */
    double cpu_s;     /* total CPU seconds of the worker threads while running jobs */
    double wait_s;    /* total seconds jobs waited in the queues */
    uint64_t started; /* jobs taken by a worker */
    uint64_t samples; /* audio samples of the FEED and FINAL jobs that ran */
    uint64_t submitted, handed_back, timeouts, replaced, resets, reset_failures, preemptions;
    size_t slice; /* samples per feed slice; 0 = no slicing */
    int running; /* worker threads exist (between create and stop) */
    stt_pool_wakeup_cb wakeup;
    void *wakeup_data;
    int wake_enabled; /* cleared by stt_pool_disable_wakeup */
    int waking;       /* workers inside the wakeup callback */
    int idle;         /* workers waiting on cv for a job */
    /* Batched hand-over (stt_pool_set_batched): jobs submitted by the loop wait here, without
     * the lock, until stt_pool_flush hands them all over at once. Loop thread only. */
    int batched;
    job_queue_t staged;
};

/* CPU seconds of the calling thread: a job's CPU time, unlike its wall time, leaves out the
 * time its worker waited for a core (another worker, the loop thread, other processes). */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void q_init(job_queue_t *q)
{
    stt_list_init(&q->jobs);
    q->len = 0;
}

static void q_push(job_queue_t *q, stt_job_t *j)
{
    j->next = NULL;
    stt_list_insert_tail(&q->jobs, &j->qlink);
    j->queue = q;
    q_len_add(q, 1);
}

static void q_unlink(stt_job_t *j)
{
    job_queue_t *q = j->queue;
    stt_list_remove(&j->qlink);
    j->queue = NULL;
    q_len_add(q, -1);
}

static stt_job_t *q_pop(job_queue_t *q)
{
    if (stt_list_empty(&q->jobs))
        return NULL;
    stt_job_t *j = stt_container_of(q->jobs.next, stt_job_t, qlink);
    q_unlink(j);
    j->next = NULL;
    return j;
}

static void q_push_front(job_queue_t *q, stt_job_t *j)
{
    stt_list_insert_head(&q->jobs, &j->qlink);
    j->queue = q;
    q_len_add(q, 1);
}

/* The queue a job waits in: see pool.h (Priorities). */
static job_queue_t *q_for(stt_pool_t *p, const stt_job_t *j)
{
    if (j->batch)
        return &p->batch;
    if (j->kind != STT_JOB_FEED || j->ending)
        return &p->finals;
    return j->urgent ? &p->urgent : &p->feeds;
}

/* Unlinks j from q if it is there (O(1): the job knows its queue); returns 1 if it was. */
static int q_remove(job_queue_t *q, stt_job_t *j)
{
    if (j->queue != q)
        return 0;
    q_unlink(j);
    j->next = NULL;
    return 1;
}

static int run_job_body(stt_pool_t *p, stt_job_t *j, int may_yield);

/* Runs a job (or the rest of it). Returns 1 if it yielded between slices (pool.h, Slices): it is
 * then unfinished and must be queued again. */
static int run_job(stt_pool_t *p, stt_job_t *j, int may_yield)
{
    stt_engine_set_cancel_flag(&j->cancel);
    int yielded = run_job_body(p, j, may_yield);
    stt_engine_set_cancel_flag(NULL);
    return yielded;
}

/* Whether a feed should yield now: a job of a higher class is waiting. A hint read without the
 * lock (a slice boundary costs no lock); a job that is gone by the time the worker requeues this
 * one only costs a requeue. */
static int should_yield(stt_pool_t *p, const stt_job_t *j)
{
    if (j->batch)
        return __atomic_load_n(&p->finals.len, __ATOMIC_RELAXED) > 0 ||
               __atomic_load_n(&p->urgent.len, __ATOMIC_RELAXED) > 0 ||
               __atomic_load_n(&p->feeds.len, __ATOMIC_RELAXED) > 0;
    if (j->ending)
        return 0; /* runs with the finals already */
    return __atomic_load_n(&p->finals.len, __ATOMIC_RELAXED) > 0 ||
           (!j->urgent && __atomic_load_n(&p->urgent.len, __ATOMIC_RELAXED) > 0);
}

/* Gives the feed's audio to the engine a slice at a time, the partial with the last slice. */
static int feed_slices(stt_pool_t *p, stt_job_t *j, int may_yield)
{
    const stt_engine_vtable_t *e = p->engine;
    for (;;) {
        size_t left = j->n_samples - j->done_samples;
        size_t n = p->slice && left > p->slice ? p->slice : left;
        int last = n == left;
        j->status = e->utt_feed(j->utt, j->pcm + j->done_samples, n, last && j->want_partial,
                                &j->result);
        if (j->status == 0 && !last && __atomic_load_n(&j->cancel, __ATOMIC_RELAXED))
            j->status = STT_ECANCELED;
        if (j->status != 0) {
            e->utt_abort(j->utt);
            j->utt = NULL;
            return 0;
        }
        j->done_samples += n;
        if (last)
            return 0;
        if (may_yield && should_yield(p, j))
            return 1;
    }
}

static int run_job_body(stt_pool_t *p, stt_job_t *j, int may_yield)
{
    const stt_engine_vtable_t *e = p->engine;
    int yielded = 0;
    if (j->started_s == 0) /* run inline (a worker sets it when it takes the job) */
        j->started_s = stt_now_s();
    j->status = 0;
    if (j->kind == STT_JOB_PROBE) {
        j->status = e->probe ? e->probe(p->model) : 0;
    } else if (j->kind == STT_JOB_ABORT || __atomic_load_n(&j->cancel, __ATOMIC_RELAXED)) {
        /* A feed or final whose session went away while it was queued costs no decoding: a
         * hang-up under load frees its worker at once (and the engine's utterance with it). */
        if (j->kind != STT_JOB_ABORT)
            j->status = STT_ECANCELED;
        if (j->utt)
            e->utt_abort(j->utt);
        j->utt = NULL;
    } else if (!j->utt && (j->status = e->utt_begin(p->model, &j->opt, &j->utt)) != 0) {
        j->utt = NULL;
    } else if (j->kind == STT_JOB_FEED) {
        yielded = feed_slices(p, j, may_yield);
    } else {
        j->status = e->utt_end(j->utt, j->pcm + j->done_samples, j->n_samples - j->done_samples,
                               &j->result);
        j->utt = NULL; /* utt_end frees it whatever the outcome */
    }
    j->finished_s = stt_now_s();
    return yielded;
}

/* Recreates this worker's engine state after a failed job (engine.h, worker_reset). */
static void reset_worker_state(stt_pool_t *p)
{
    int rc = p->engine->worker_reset(p->model);
    pthread_mutex_lock(&p->mu);
    p->resets++;
    p->reset_failures += rc != 0;
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        STT_ERROR(0, "worker_reset_failed", "engine state could not be recreated: %s",
                  stt_strerror(rc));
    else
        STT_WARN(0, "worker_reset", "[PRODUCTION] engine state of a worker recreated after a "
                                    "failed job");
}

/* The calling thread's nice value (Linux: per thread). Returns 0 or -1. */
static int set_thread_nice(int nice)
{
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

/* Whether this process may lower a thread's nice value back to 0 after raising it (root, or
 * CAP_SYS_NICE, or RLIMIT_NICE >= 20): tried on a thread of its own, which then exits. */
static void *probe_renice(void *arg)
{
    int *ok = arg;
    *ok = set_thread_nice(1) == 0 && set_thread_nice(0) == 0;
    return NULL;
}

static int can_renice(void)
{
    pthread_t t;
    int ok = 0;
    if (pthread_create(&t, NULL, probe_renice, &ok) != 0)
        return 0;
    pthread_join(t, NULL);
    return ok;
}

/* Puts the worker's thread at the batch priority while it runs a batch job and back to normal
 * for a live one (only when it changes: a system call). Called by the worker itself, without
 * the pool lock (w->niced is the worker's own). */
static void worker_priority(stt_worker_t *w, int batch, int nice)
{
    int want = batch && nice > 0;
    if (want != w->niced && set_thread_nice(want ? nice : 0) == 0)
        w->niced = want;
}

static void *worker_main(void *arg)
{
    stt_worker_t *w = arg;
    stt_pool_t *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        stt_job_t *j = NULL;
        /* Take a job before looking at `stopping`: stt_pool_stop promises that queued jobs still
         * run and come back, so a stopping worker exits only once the queues are empty. */
        while (!(p->model &&
                 ((j = q_pop(&p->finals)) || (j = q_pop(&p->urgent)) || (j = q_pop(&p->feeds)) ||
                  (p->batch_busy < p->batch_max && (j = q_pop(&p->batch))))) &&
               !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (!j) /* stopping and nothing left (but batch jobs a batch worker will take) */
            break;
        p->busy++;
        w->batch = j->batch;
        p->batch_busy += w->batch;
        p->started++;
        j->started_s = stt_now_s(); /* under the lock: the watchdog reads it */
        p->wait_s += j->started_s - j->submitted_s;
        w->job = j;
        int reset = w->needs_reset && p->engine->worker_reset;
        w->needs_reset = 0;
        int nice = p->batch_nice, batch = w->batch; /* (the watchdog may clear w->batch) */
        pthread_mutex_unlock(&p->mu);

        worker_priority(w, batch, nice);

        if (reset)
            reset_worker_state(p);
        double cpu0 = thread_cpu_s();
        int yielded = run_job(p, j, 1);
        double cpu = thread_cpu_s() - cpu0;

        pthread_mutex_lock(&p->mu);
        w->job = NULL;
        if (w->batch) { /* its slot is free: another worker may take the next batch job */
            w->batch = 0;
            p->batch_busy--;
            if (p->batch.len > 0)
                pthread_cond_signal(&p->cv);
        }
        double ran = j->finished_s - j->started_s;
        p->busy--;
        p->busy_s += ran;
        p->cpu_s += cpu;
        if (yielded) {
            /* Back to the head of its queue, after the job it yields to (pool.h, Slices). */
            p->preemptions++;
            j->ran_s += ran;
            j->submitted_s = j->finished_s;
            q_push_front(q_for(p, j), j);
            pthread_cond_signal(&p->cv);
            if (w->retired)
                break;
            continue;
        }
        if (j->timed_out && j->status != 0) /* aborted by the watchdog (a late success stands) */
            j->status = STT_ETIMEDOUT;
        if (j->status == STT_EENGINE || j->status == STT_ETIMEDOUT)
            w->needs_reset = 1;
        if (j->kind == STT_JOB_FEED || j->kind == STT_JOB_FINAL) /* a cancel: what it fed */
            p->samples += j->status == STT_ECANCELED ? j->done_samples : j->n_samples;
        /* One wakeup per batch: the loop takes the whole done list at once, so only the push
         * onto an empty list needs to wake it (at thousands of jobs a second, a pipe write per
         * job would cost the loop more than the jobs). */
        int wake = p->done.len == 0 && p->wake_enabled;
        q_push(&p->done, j);
        p->waking += wake;
        pthread_mutex_unlock(&p->mu);
        if (wake)
            p->wakeup(p->wakeup_data);
        pthread_mutex_lock(&p->mu);
        if (wake && --p->waking == 0 && !p->wake_enabled)
            pthread_cond_broadcast(&p->cv); /* stt_pool_disable_wakeup waits for this */
        if (w->retired)
            break;
    }
    if (w->retired) {
        /* Replaced long ago; nobody joins this thread (it was detached when retired). */
        p->retired_running--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        free(w);
        return NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Starts one worker thread and links it (caller holds p->mu, or no thread runs yet). */
static void add_worker(stt_pool_t *p)
{
    stt_worker_t *w = stt_calloc(1, sizeof(*w));
    w->pool = p;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        stt_fatal(__FILE__, __LINE__, "pthread_create failed");
    w->next = p->workers;
    p->workers = w;
    p->n_workers++;
}

void stt_pool_reset_workers(stt_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    for (stt_worker_t *w = p->workers; w; w = w->next)
        w->needs_reset = 1;
    pthread_mutex_unlock(&p->mu);
}

size_t stt_pool_watchdog(stt_pool_t *p, double now, double grace_s, stt_job_t **expired,
                         size_t max, stt_job_t **retired, size_t *n_retired)
{
    size_t n = 0, nr = 0;
    pthread_mutex_lock(&p->mu);
    for (stt_worker_t **wp = &p->workers; *wp;) {
        stt_worker_t *w = *wp;
        stt_job_t *j = w->job;
        double ran = j ? now - j->started_s : 0;
        if (j && j->timeout_s > 0 && ran > j->timeout_s && !j->timed_out && n < max) {
            j->timed_out = 1;
            __atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
            p->timeouts++;
            expired[n++] = j;
        }
        if (j && j->timed_out && ran > j->timeout_s + grace_s && !p->stopping &&
            (!retired || nr < max)) {
            /* The engine ignores the abort: give up on this thread, start another. */
            w->retired = 1;
            if (w->batch) { /* its replacement may run batch jobs: the slot goes with it */
                w->batch = 0;
                p->batch_busy--;
            }
            *wp = w->next;
            p->n_workers--;
            p->retired_running++;
            p->replaced++;
            pthread_detach(w->thread);
            if (retired)
                retired[nr++] = j;
            STT_ERROR(0, "worker_retired",
                      "[PRODUCTION] a worker stuck %.1f s in one job was retired and replaced",
                      ran);
            add_worker(p);
            continue;
        }
        wp = &w->next;
    }
    pthread_mutex_unlock(&p->mu);
    if (n_retired)
        *n_retired = nr;
    return n;
}

stt_pool_t *stt_pool_create(const stt_engine_vtable_t *engine, int n_workers,
                            stt_pool_wakeup_cb wakeup, void *wakeup_data)
{
    stt_pool_t *p = stt_calloc(1, sizeof(*p));
    p->engine = engine;
    p->wakeup = wakeup;
    p->wakeup_data = wakeup_data;
    p->wake_enabled = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    q_init(&p->finals);
    q_init(&p->urgent);
    q_init(&p->feeds);
    q_init(&p->batch);
    q_init(&p->done);
    q_init(&p->staged);
    pthread_mutex_lock(&p->mu);
    p->batch_max = n_workers;
    for (int i = 0; i < n_workers; i++)
        add_worker(p);
    p->running = 1;
    pthread_mutex_unlock(&p->mu);
    return p;
}

void stt_pool_set_slice(stt_pool_t *p, size_t samples)
{
    pthread_mutex_lock(&p->mu);
    p->slice = samples;
    pthread_mutex_unlock(&p->mu);
}

void stt_pool_set_batch_workers(stt_pool_t *p, int n)
{
    pthread_mutex_lock(&p->mu);
    p->batch_max = n > 0 ? n : 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int stt_pool_set_batch_nice(stt_pool_t *p, int nice)
{
    if (nice < 0)
        nice = 0;
    if (nice > 19)
        nice = 19;
    int ok = nice == 0 || can_renice();
    pthread_mutex_lock(&p->mu);
    p->batch_nice = ok ? nice : 0;
    pthread_mutex_unlock(&p->mu);
    return ok ? 0 : STT_EUNSUPPORTED;
}

void stt_pool_set_batched(stt_pool_t *p, int on)
{
    stt_pool_flush(p);
    p->batched = on;
}

void stt_pool_flush(stt_pool_t *p)
{
    if (stt_list_empty(&p->staged.jobs))
        return;
    pthread_mutex_lock(&p->mu);
    int n = 0;
    stt_job_t *j;
    while ((j = q_pop(&p->staged))) {
        q_push(q_for(p, j), j);
        n++;
    }
    /* Wake as many idle workers as there are jobs, no more: a worker that finds work after
     * its job takes the next one without sleeping. */
    if (n >= p->idle)
        pthread_cond_broadcast(&p->cv);
    else
        while (n-- > 0)
            pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void stt_pool_set_model(stt_pool_t *p, stt_model_t *m)
{
    pthread_mutex_lock(&p->mu);
    p->model = m;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

stt_model_t *stt_pool_model(stt_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    stt_model_t *m = p->model;
    pthread_mutex_unlock(&p->mu);
    return m;
}

void stt_pool_submit(stt_pool_t *p, stt_job_t *job)
{
    job->submitted_s = stt_now_s();
    __atomic_add_fetch(&p->submitted, 1, __ATOMIC_RELAXED);
    if (!p->running) {
        /* Stopped (shutdown): run inline so the job still comes back exactly once. */
        if (p->model)
            run_job(p, job, 0);
        else
            job->status = STT_ECANCELED;
        pthread_mutex_lock(&p->mu);
        q_push(&p->done, job);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    if (p->batched) {
        q_push(&p->staged, job);
        return;
    }
    pthread_mutex_lock(&p->mu);
    q_push(q_for(p, job), job);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int stt_pool_expedite(stt_pool_t *p, stt_job_t *job)
{
    stt_pool_flush(p);
    pthread_mutex_lock(&p->mu);
    int moved = !job->batch && (q_remove(&p->feeds, job) || q_remove(&p->urgent, job));
    if (moved) {
        job->ending = 1;
        q_push(&p->finals, job);
    }
    pthread_mutex_unlock(&p->mu);
    return moved;
}

int stt_pool_convert_to_final(stt_pool_t *p, stt_job_t *job)
{
    stt_pool_flush(p);
    pthread_mutex_lock(&p->mu);
    int queued = job->kind == STT_JOB_FEED &&
                 (q_remove(&p->finals, job) || q_remove(&p->feeds, job) ||
                  q_remove(&p->urgent, job) || q_remove(&p->batch, job));
    if (queued) {
        job->kind = STT_JOB_FINAL;
        job->want_partial = 0;
        q_push(q_for(p, job), job);
    }
    pthread_mutex_unlock(&p->mu);
    return queued;
}

size_t stt_pool_dispatch_done(stt_pool_t *p)
{
    size_t n = 0;
    stt_job_t *j = stt_pool_take_done(p);
    while (j) {
        stt_job_t *next = j->next;
        j->next = NULL;
        j->done(j, j->done_data);
        j = next;
        n++;
    }
    return n;
}

stt_job_t *stt_pool_take_done(stt_pool_t *p)
{
    stt_list_t taken;
    pthread_mutex_lock(&p->mu); /* O(1) under the lock: the whole list moves */
    p->handed_back += p->done.len;
    stt_list_move_all(&p->done.jobs, &taken);
    __atomic_store_n(&p->done.len, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
    stt_job_t *head = NULL, **tail = &head;
    while (!stt_list_empty(&taken)) { /* handed back as a list linked by `next` */
        stt_job_t *j = stt_container_of(taken.next, stt_job_t, qlink);
        stt_list_remove(&j->qlink);
        j->queue = NULL;
        j->next = NULL;
        *tail = j;
        tail = &j->next;
    }
    return head;
}

void stt_pool_stats(stt_pool_t *p, stt_pool_stats_t *out)
{
    stt_pool_flush(p);
    pthread_mutex_lock(&p->mu);
    out->workers = p->n_workers;
    out->busy = p->busy;
    out->queued_final = p->finals.len;
    out->queued_feed = p->feeds.len + p->urgent.len;
    out->queued_batch = p->batch.len;
    out->busy_batch = p->batch_busy;
    out->batch_workers = p->batch_max;
    out->batch_nice = p->batch_nice;
    out->busy_s = p->busy_s;
    out->cpu_s = p->cpu_s;
    out->wait_s = p->wait_s;
    out->started = p->started;
    out->audio_s = (double)p->samples / 16000.0;
    out->submitted = __atomic_load_n(&p->submitted, __ATOMIC_RELAXED);
    out->handed_back = p->handed_back;
    out->timeouts = p->timeouts;
    out->preemptions = p->preemptions;
    out->workers_replaced = p->replaced;
    out->worker_resets = p->resets;
    out->worker_reset_failures = p->reset_failures;
    out->retired_running = p->retired_running;
    out->done_waiting = p->done.len;
    stt_model_t *m = p->model;
    pthread_mutex_unlock(&p->mu);
    out->decoders_in_use = out->decoders_pooled = 0;
    if (m && p->engine->stats)
        p->engine->stats(m, &out->decoders_in_use, &out->decoders_pooled);
}

/* Moves every queued job to the done list as STT_ECANCELED; caller holds p->mu. */
static size_t cancel_queued_locked(stt_pool_t *p)
{
    size_t n = 0;
    stt_job_t *j;
    while ((j = q_pop(&p->finals)) || (j = q_pop(&p->urgent)) || (j = q_pop(&p->feeds)) ||
           (j = q_pop(&p->batch))) {
        j->status = STT_ECANCELED;
        q_push(&p->done, j);
        n++;
    }
    return n;
}

void stt_pool_disable_wakeup(stt_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->wake_enabled = 0;
    while (p->waking > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

size_t stt_pool_cancel_queued(stt_pool_t *p)
{
    stt_pool_flush(p);
    pthread_mutex_lock(&p->mu);
    size_t n = cancel_queued_locked(p);
    pthread_mutex_unlock(&p->mu);
    return n;
}

void stt_pool_stop(stt_pool_t *p)
{
    if (!p || !p->running)
        return;
    stt_pool_flush(p);
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    if (!p->model)
        cancel_queued_locked(p); /* never loaded: queued jobs cannot run */
    pthread_cond_broadcast(&p->cv);
    stt_worker_t *ws = p->workers;
    p->workers = NULL;
    pthread_mutex_unlock(&p->mu);
    while (ws) {
        stt_worker_t *next = ws->next;
        pthread_join(ws->thread, NULL);
        free(ws);
        ws = next;
    }
    /* Retired workers are cancelled already; give them a moment to come back. */
    pthread_mutex_lock(&p->mu);
    double until = stt_now_s() + 2.0;
    while (p->retired_running > 0 && stt_now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    p->n_workers = 0;
    p->running = 0;
    pthread_mutex_unlock(&p->mu);
}

int stt_pool_destroy(stt_pool_t *p)
{
    if (!p)
        return 0;
    stt_pool_stop(p);
    pthread_mutex_lock(&p->mu);
    int stuck = p->retired_running;
    pthread_mutex_unlock(&p->mu);
    if (stuck > 0) {
        /* A thread is still inside an engine call that never returned: it will touch the pool
         * when it does, so the pool (and that call's job) is left allocated. */
        STT_ERROR(0, "worker_stuck", "%d retired worker(s) never returned; pool not freed",
                  stuck);
        return -1;
    }
    stt_job_t *j;
    while ((j = q_pop(&p->done))) {
        stt_result_dispose(&j->result);
        free(j->pcm);
        free(j);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return 0;
}

/* Engine worker pool: a fixed set of threads that run engine jobs.
 *
 * Threads: stt_pool_submit/stt_pool_take_done/stt_pool_stats are called by the loop thread;
 * workers run the job bodies. Jobs move by hand-off only: the loop gives a job to the pool
 * (ownership transferred), a worker runs it, and the job comes back exactly once through the done
 * queue, after which the pool calls `wakeup` so the loop drains it (lws_cancel_service). A worker
 * never touches a session or a socket.
 *
 * Completion: every job carries its submitter's `done` callback (libuv's after_work_cb). The
 * loop calls stt_pool_dispatch_done when woken; each job comes back exactly once, on the loop
 * thread, to the function that submitted it, so a new kind of job owner (a stream, a probe, a
 * file upload) never edits the loop.
 *
 * Priorities (four classes): finals (and aborts, and feeds of utterances whose speech has ended:
 * `ending`, the final waits for them), then feeds of utterances that have no partial yet
 * (`urgent`: a caller waiting for the first words), then other feeds, then `batch` jobs (file
 * uploads: any kind, lowest class, and a batch feed yields between slices to any live job, so
 * an upload never delays a live call's final or first partial); within a class, FIFO. Every
 * stream has at most one job in flight per utterance (the stream enforces it), so FIFO is
 * round-robin across streams.
 *
 * Bulkhead: priorities decide only which job a free worker takes next; a batch job already
 * running keeps its worker until it ends or (a feed) yields at a slice boundary, and a batch
 * FINAL (the decode of a whole upload window: seconds with whisper) never yields. So at most
 * `batch_workers` workers run batch jobs at once (stt_pool_set_batch_workers); the others only
 * ever take live jobs, and a live final never waits for an upload's decode. */
#ifndef STT_CORE_POOL_H
#define STT_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "stt/clock.h"
#include "stt/engine.h"
#include "stt/list.h"

typedef enum {
    STT_JOB_FEED = 0, /* push audio, maybe return a partial */
    STT_JOB_FINAL,    /* push the rest of the audio, end the utterance, return the final */
    STT_JOB_ABORT,    /* release the utterance without a result */
    STT_JOB_PROBE     /* the circuit breaker's health probe: engine->probe (owner NULL) */
} stt_job_kind_t;

typedef struct stt_job stt_job_t;

/* Called once per job on the loop thread when it comes back (done, failed, cancelled or timed
 * out; see `status`). The callee owns the job again and frees it. */
typedef void (*stt_job_done_cb)(stt_job_t *job, void *data);

struct stt_job {
    struct stt_job *next;  /* links the list stt_pool_take_done returns */
    stt_list_t qlink;      /* pool-private: its place in a queue */
    struct job_queue *queue; /* pool-private: that queue, NULL when in none */
    stt_job_kind_t kind;
    stt_job_done_cb done; /* required */
    void *done_data;      /* the submitter's (a stream's utterance, the recognizer for probes) */
    uint32_t utt_seq;     /* the stream's utterance number */
    stt_utt_t *utt;   /* in: NULL = begin a new utterance; out: the handle (FEED) */
    stt_utt_options_t opt;
    int16_t *pcm; /* owned by the job */
    size_t n_samples;
    int want_partial;
    int urgent; /* FEED only: the utterance has no partial yet; runs before other feeds */
    int ending; /* FEED only: the utterance's speech has ended; its final follows, so it runs
                 * with the finals */
    int batch;  /* lowest class (file uploads): runs only when no live job waits */
    volatile int cancel; /* set (atomically) by the loop while the job runs: stop early */
    double timeout_s;    /* watchdog: seconds the job may run (0 = no deadline) */
    int timed_out;       /* the watchdog fired (written under the pool lock; read by the loop) */
    /* results, written by the worker */
    int status; /* 0 or STT_E* (STT_EBUSY: no decoder free, retry later) */
    stt_result_t result;
    double submitted_s, started_s, finished_s; /* monotonic seconds (of the last run, if the
                                                * job yielded: submitted_s is then its requeue) */
    /* pool-private progress of a job that yielded between slices */
    size_t done_samples; /* samples already given to the engine */
    double ran_s;        /* engine seconds of the runs before the last one */
};

/* Engine seconds the job took, over all its runs. */
static inline double stt_job_engine_s(const stt_job_t *j)
{
    return j->ran_s + (j->finished_s - j->started_s);
}

typedef struct stt_pool stt_pool_t;

typedef void (*stt_pool_wakeup_cb)(void *data);

/* Starts n_workers threads. They wait until stt_pool_set_model() provides a model. */
stt_pool_t *stt_pool_create(const stt_engine_vtable_t *engine, int n_workers,
                            stt_pool_wakeup_cb wakeup, void *wakeup_data);

/* Sets the slice size in 16 kHz samples (pool.h, Slices); 0 = every feed in one piece. Call before
 * stt_pool_set_model. */
void stt_pool_set_slice(stt_pool_t *p, size_t samples);

/* The bulkhead (see Bulkhead above): at most n workers (at least 1) run batch jobs at once.
 * Default: every worker (no bulkhead). Any thread; takes effect for the next job taken. */
void stt_pool_set_batch_workers(stt_pool_t *p, int n);

/* CPU priority of batch jobs: a worker's thread runs them at nice `nice` (1..19; 0 = the
 * normal priority) and live jobs at 0, so on a machine whose cores are busy an upload's decode
 * gets the CPU live calls leave (the bulkhead above only keeps workers free; a free worker
 * still shares a core with a busy one). Needs the right to lower a thread's nice value again
 * (root, CAP_SYS_NICE or RLIMIT_NICE >= 20), which is checked once here: without it batch jobs
 * run at normal priority and STT_EUNSUPPORTED is returned. Loop thread, before jobs arrive. */
int stt_pool_set_batch_nice(stt_pool_t *p, int nice);

/* Publishes the loaded model (from the loader thread); workers start taking jobs. */
void stt_pool_set_model(stt_pool_t *p, stt_model_t *m);
stt_model_t *stt_pool_model(stt_pool_t *p);

/* Hands a job to the pool (loop thread). */
void stt_pool_submit(stt_pool_t *p, stt_job_t *job);

/* Batched hand-over (loop thread). With it on, stt_pool_submit only stages the job; the loop
 * calls stt_pool_flush once per pass, which hands every staged job over under one lock and wakes
 * only as many idle workers as there are jobs. At 1,000 null-engine calls the per-job lock and
 * wake-up were a third of the server's CPU (bench/README.md). Every other pool call that looks
 * at the queues flushes first, so a staged job is never missed. */
void stt_pool_set_batched(stt_pool_t *p, int on);
void stt_pool_flush(stt_pool_t *p);

/* Moves a queued FEED job to the finals' queue (its utterance just ended: the final waits for
 * it). Returns 1 if it was still queued (loop thread). */
int stt_pool_expedite(stt_pool_t *p, stt_job_t *job);

/* Turns a queued FEED job into its utterance's FINAL (the utterance ended and the feed already
 * carries all the audio the final needs), saving the final a second wait for a worker. Returns
 * 1 if it was still queued (loop thread). */
int stt_pool_convert_to_final(stt_pool_t *p, stt_job_t *job);

/* Takes every finished job, as a list linked by `next` in completion order (loop thread). */
stt_job_t *stt_pool_take_done(stt_pool_t *p);

/* Takes every finished job and calls each one's `done` callback, in completion order (loop
 * thread). A callback may submit new jobs. Returns how many came back. */
size_t stt_pool_dispatch_done(stt_pool_t *p);

typedef struct {
    int workers;
    int busy;
    size_t queued_final, queued_feed, queued_batch;
    int busy_batch;    /* workers running a batch job now */
    int batch_workers; /* the bulkhead: the most that may (stt_pool_set_batch_workers) */
    int batch_nice;    /* nice value of batch jobs' threads; 0 = normal priority */
    int decoders_in_use, decoders_pooled;
    double busy_s;    /* cumulative worker seconds spent in jobs */
    double cpu_s;     /* cumulative CPU seconds of the workers in jobs (busy_s less waits for a
                       * core) */
    double wait_s;    /* cumulative seconds jobs spent queued before a worker took them */
    uint64_t started; /* cumulative jobs taken by workers */
    double audio_s;   /* cumulative seconds of 16 kHz audio in the jobs that ran */
    uint64_t submitted, handed_back; /* jobs given to the pool / returned by stt_pool_take_done */
    uint64_t timeouts;               /* jobs the watchdog expired */
    uint64_t preemptions;            /* feeds that yielded between slices to a higher class */
    uint64_t workers_replaced;       /* hung workers retired and replaced */
    uint64_t worker_resets, worker_reset_failures; /* engine state recreated after a failure */
    int retired_running;             /* retired workers still inside an engine call */
    size_t done_waiting;             /* finished jobs the loop has not taken yet */
} stt_pool_stats_t;

void stt_pool_stats(stt_pool_t *p, stt_pool_stats_t *out);

/* Asks every worker to recreate its engine state (engine.h, worker_reset) before its next job:
 * the consistency check's remedy for state leaked inside the engine. */
void stt_pool_reset_workers(stt_pool_t *p);

/* The watchdog, called by the loop a few times a second. A running job past its timeout_s is
 * marked timed_out and cancelled (engines that poll stt_engine_cancelled() return at once; its
 * status then becomes STT_ETIMEDOUT, unless the engine call succeeded after all) and stored in
 * `expired` (up to max; the job still belongs to the pool until it comes back). A job still
 * running grace_s after that has its worker retired: a new worker thread takes its place at
 * once, and the old one exits when (if) the engine call returns, handing the job back as
 * usual; the job is stored in `retired` (if not NULL; up to max, count in *n_retired) so its
 * owner can stop waiting for it. Returns how many jobs expired now. */
size_t stt_pool_watchdog(stt_pool_t *p, double now, double grace_s, stt_job_t **expired,
                         size_t max, stt_job_t **retired, size_t *n_retired);

/* Stops calling `wakeup` and returns once no worker is inside it, so the loop may destroy what
 * the callback uses (the lws context). Finished jobs still reach the done list. */
void stt_pool_disable_wakeup(stt_pool_t *p);

/* Hands every job that no worker has taken yet back through the done list with status
 * STT_ECANCELED, engine handles untouched (shutdown: their sessions are gone). Returns how many. */
size_t stt_pool_cancel_queued(stt_pool_t *p);

/* Stops the workers once the queues are empty and joins them (if the model never loaded, queued
 * jobs come back as STT_ECANCELED). Afterwards stt_pool_take_done returns what is left. */
void stt_pool_stop(stt_pool_t *p);

/* Stops (if needed) and frees the pool, freeing any job still in the done queue. Returns 0, or
 * -1 when a retired worker never came back from its engine call: then nothing is freed, and the
 * caller must not unload the model either. */
int stt_pool_destroy(stt_pool_t *p);

#endif /* STT_CORE_POOL_H */

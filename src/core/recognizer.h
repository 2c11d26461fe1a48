/* The recognizer: everything between the streams and the engine, behind one object. It owns the
 * worker pool, the circuit breaker and its probes, model loading (a loader thread) and reload,
 * the watchdog glue, the engine's measured load (admission pricing) and the metrics, and it
 * keeps the list of live streams (for engine-state news, retries and reload).
 *
 * Threads: the loop thread calls everything here. The loader thread only loads the model and
 * publishes it through an atomic pointer, then calls `wakeup`; engine workers push finished jobs
 * into the pool's done queue and call `wakeup` too. The loop answers a wakeup with
 * stt_recognizer_dispatch (jobs back to their submitters) and runs stt_recognizer_tick every
 * 50 ms. Nothing here touches a socket. */
#ifndef STT_CORE_RECOGNIZER_H
#define STT_CORE_RECOGNIZER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/breaker.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "stt/silero.h"
#include "stt/config.h"
#include "stt/engine.h"
#include "stt/list.h"
#include "stt/stream.h"

/* Engine load, sampled once a second from the pool's cumulative counters. */
typedef struct {
    double sample_s, busy_s, wait_s;
    uint64_t started;
    double utilization; /* smoothed fraction of worker time spent in jobs, 0..1 */
    double queue_wait;  /* smoothed mean seconds a job waited for a worker */
    int overloaded;     /* admission closed */
    double pace_s;      /* extra spacing of realtime passes while jobs queue */
    /* What the streams cost, measured: the engine's worker seconds per second of audio (the
     * probe's timing until calls have been decoded) times the streams' talk shares, summed
     * (stt_stream_talk_share). */
    double audio_s, rtf;
    double talk_sum;
} stt_load_t;

#define STT_TALK_PRIOR_S 5.0

typedef void (*stt_recognizer_wakeup_cb)(void *data);

struct stt_recognizer {
    const stt_config_t *cfg; /* borrowed for the recognizer's life */
    const stt_engine_vtable_t *engine;
    const stt_silero_model_t *vad_model; /* --vad silero: borrowed from main, else NULL */
    stt_pool_t *pool;
    stt_model_t *model;       /* set on the loop once loaded (NULL while loading/reloading) */
    volatile int model_state; /* 0 loading, 1 ready, -1 failed (written by the loader thread) */
    char model_error[256];
    _Atomic(stt_model_t *) loaded; /* the loader's hand-off to the loop */
    pthread_t loader;
    int loader_running;
    int n_workers;
    double probe_rtf; /* written by the loader before it publishes the model */
    stt_breaker_t breaker;
    int probe_inflight;
    stt_load_t load;
    stt_metrics_t m;
    int leak_suspect;
    int64_t jobs_in_flight; /* jobs handed to the pool and not yet back (the loop's count) */
    /* model reload (--breaker_reload_after): 1 releasing utterance states, 2 loading */
    int reload_phase;
    stt_model_t *reload_old;
    volatile int reload_failed;
    pthread_t reload_thread;
    stt_list_t streams; /* live stt_stream_t (not closing) */
    stt_list_t waiting; /* streams with a retry pending: the only ones the tick visits */
    int n_streams;
    stt_recognizer_wakeup_cb wakeup;
    void *wakeup_data;
};

/* The bulkhead's size for a pool of `workers`: --batch_workers, capped at workers; 0 (auto) is
 * half the workers, at least 1. */
int stt_recognizer_batch_workers(const stt_config_t *cfg, int workers);

/* Creates the pool and starts loading the model on a loader thread. */
stt_recognizer_t *stt_recognizer_create(const stt_config_t *cfg,
                                        const stt_engine_vtable_t *engine, int workers,
                                        stt_recognizer_wakeup_cb wakeup, void *wakeup_data);

/* What a tick saw happen. */
typedef enum {
    STT_REC_NOTHING = 0,
    STT_REC_READY,       /* the model was published for the first time */
    STT_REC_LOAD_FAILED, /* the first load failed (model_error says why): stop the server */
} stt_rec_news_t;

/* Every 50 ms on the loop: publishes a loaded model, samples the load, runs the watchdog,
 * polls the breaker, steps a reload, hands finished jobs back, and lets the streams that wait
 * (for a decoder, for the engine, for a final's retry) try again; streams with nothing waiting
 * are not visited. */
stt_rec_news_t stt_recognizer_tick(stt_recognizer_t *rec, double now);

/* Hands every finished job back to its submitter (answer to a wakeup). */
void stt_recognizer_dispatch(stt_recognizer_t *rec);

/* The engine takes jobs: loaded and the circuit breaker closed. */
int stt_recognizer_engine_up(const stt_recognizer_t *rec);

/* Feeds a stream job's outcome (0 or STT_E*) to the circuit breaker. */
void stt_recognizer_job_outcome(stt_recognizer_t *rec, int status);

/* 1 when the engine is ready to serve and admission is open (loaded, breaker closed, not
 * overloaded); draining is the server's business. */
int stt_recognizer_ready(const stt_recognizer_t *rec);

/* Why a new call should be refused now, or NULL: "engine unavailable" (breaker not closed,
 * counted), "overloaded" (measured load or pricing, counted). Logs the refusal for `who`. */
const char *stt_recognizer_refusal(stt_recognizer_t *rec, const char *who);

/* Would n live streams load the engine past --admission_max_load at the measured cost per
 * stream? Never while admission control is off. */
int stt_recognizer_load_full(const stt_recognizer_t *rec, int n);

/* Engine-side consistency check (the jobs the loop counts against the pool's, leaked decoding
 * states); returns the number of problems found (logged). */
int stt_recognizer_check(stt_recognizer_t *rec);

/* Shutdown, step 0: streams still finishing (stt_stream_finish: their connection is gone, their
 * finals were not all back by the drain deadline) are closed now. Returns how many. */
int stt_recognizer_cut_finishing(stt_recognizer_t *rec);

/* Shutdown, step 1: joins the loader (and reload) thread and makes the workers stop calling
 * `wakeup`, so what it uses may be destroyed. */
void stt_recognizer_quiesce(stt_recognizer_t *rec);

/* Shutdown, step 2, after every stream was closed: cancels queued jobs, stops the workers, hands
 * everything back, joins the loader, unloads the model and frees the recognizer. */
void stt_recognizer_destroy(stt_recognizer_t *rec);

#endif /* STT_CORE_RECOGNIZER_H */

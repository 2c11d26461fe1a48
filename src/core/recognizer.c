/* The recognizer (recognizer.h): pool, circuit breaker and probes, model load and reload,
 * watchdog glue, measured load, and the registry of live streams.
 *
 * Threads: the loop thread runs everything here except loader_main, which runs on the loader
 * thread (first load) or the reload thread: it loads the model, publishes it through
 * rec->loaded and wakes the loop; the loop's tick takes it from there. */
#include "core/recognizer.h"
#include "core/stream_internal.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_GRACE_S 2.0 /* a cancelled job still running this much later: replace worker */

static void *loader_main(void *arg);

/* ---- circuit breaker (breaker.h) and its probes ---- */

int stt_recognizer_engine_up(const stt_recognizer_t *rec)
{
    return rec->model != NULL && rec->breaker.state == STT_BREAKER_CLOSED;
}

int stt_recognizer_ready(const stt_recognizer_t *rec)
{
    return rec->model != NULL && !rec->load.overloaded &&
           rec->breaker.state == STT_BREAKER_CLOSED;
}

/* Tells every live stream about the engine's state (an ENGINE_STATE event). */
static void broadcast_engine_state(stt_recognizer_t *rec)
{
    const stt_breaker_t *b = &rec->breaker;
    char msg[300];
    const char *code;
    if (b->state == STT_BREAKER_OPEN) {
        code = "engine_unavailable";
        snprintf(msg, sizeof(msg),
                 "speech engine unavailable (%s); this call's audio is kept and transcribed "
                 "when it recovers (next try in %.1f s)",
                 b->reason, b->retry_at_s - stt_now_s());
    } else if (b->state == STT_BREAKER_CLOSED) {
        code = "engine_recovered";
        snprintf(msg, sizeof(msg), "speech engine recovered after %.1f s",
                 stt_now_s() - b->opened_s);
    } else {
        return;
    }
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &rec->streams)
        stt_stream_engine_news(stt_stream_of_node(n), code, msg);
}

static void start_reload(stt_recognizer_t *rec);
static void probe_done(stt_job_t *j, void *data);

/* One probe job (engine->probe: a second of audio) while half-open. */
static void submit_probe(stt_recognizer_t *rec)
{
    if (rec->probe_inflight || !rec->pool)
        return;
    stt_job_t *j = stt_calloc(1, sizeof(*j));
    j->kind = STT_JOB_PROBE;
    j->done = probe_done;
    j->done_data = rec;
    j->timeout_s = rec->cfg->job_timeout + rec->cfg->job_timeout_per_audio_second;
    rec->probe_inflight = 1;
    rec->jobs_in_flight++;
    stt_pool_submit(rec->pool, j);
}

/* After a transition: start probing (half-open), tell the streams (open, closed). The tick
 * polls an open breaker for its backoff to end. */
static void breaker_changed(stt_recognizer_t *rec)
{
    stt_breaker_t *b = &rec->breaker;
    rec->m.consecutive_errors = (uint64_t)b->consecutive_failures;
    if (b->state == STT_BREAKER_HALF_OPEN) {
        rec->m.recovery_attempts++;
        int every = (int)rec->cfg->breaker_reload_after;
        if (!rec->reload_phase &&
            (!rec->model /* the last reload failed */ ||
             (every > 0 && b->openings >= every && b->openings % every == 0)))
            start_reload(rec);
        else
            submit_probe(rec);
    } else {
        broadcast_engine_state(rec);
    }
}

void stt_recognizer_job_outcome(stt_recognizer_t *rec, int status)
{
    double now = stt_now_s();
    int changed = stt_breaker_record(&rec->breaker, status == 0, now);
    rec->m.consecutive_errors = (uint64_t)rec->breaker.consecutive_failures;
    if (status == 0)
        rec->m.last_success_s = now; /* the seed's last_successful_processing */
    if (changed)
        breaker_changed(rec);
}

static void probe_done(stt_job_t *j, void *data)
{
    stt_recognizer_t *rec = data;
    rec->probe_inflight = 0;
    rec->jobs_in_flight--;
    if (j->status != 0 && j->status != STT_ECANCELED)
        STT_WARN(0, "probe_failed", "engine probe failed: %s", stt_strerror(j->status));
    if (j->status == 0)
        rec->m.last_success_s = stt_now_s();
    int changed = j->status != STT_ECANCELED &&
                  stt_breaker_probe_done(&rec->breaker, j->status == 0, stt_now_s());
    if (changed)
        breaker_changed(rec);
    else if (rec->breaker.state == STT_BREAKER_HALF_OPEN && j->status == 0)
        submit_probe(rec); /* the next one */
    free(j);
}

/* ---- model reload: when recreated worker states did not help, the model itself ---- */

static void start_reload(stt_recognizer_t *rec)
{
    STT_WARN(0, "model_reload",
             "[PRODUCTION] engine still failing after %d openings of the breaker: reloading the "
             "model", rec->breaker.openings);
    rec->reload_phase = 1;
    rec->reload_failed = 0;
}

/* Tick while reloading: phase 1 waits until no utterance holds engine state of the old model
 * and no job runs on it (releasing states as jobs hand them back), then the reload thread
 * unloads it and loads it anew (phase 2); the tick publishes the new model like the first. */
static void reload_step(stt_recognizer_t *rec)
{
    if (rec->reload_phase == 1) {
        int held = 0;
        stt_list_t *n, *nx;
        stt_list_foreach_safe(n, nx, &rec->streams)
            held += stt_stream_release_engine_state(stt_stream_of_node(n));
        if (held > 0 || rec->jobs_in_flight > 0)
            return;
        rec->reload_phase = 2;
        rec->reload_old = rec->model;
        rec->model = NULL; /* the tick publishes the new one */
        atomic_store(&rec->loaded, NULL);
        stt_pool_set_model(rec->pool, NULL);
        if (pthread_create(&rec->reload_thread, NULL, loader_main, rec) != 0)
            stt_fatal(__FILE__, __LINE__, "pthread_create failed");
    } else if (rec->reload_phase == 2 && rec->reload_failed) {
        pthread_join(rec->reload_thread, NULL);
        rec->reload_phase = 0;
        rec->reload_old = NULL;
        rec->m.model_reload_failures++;
        if (stt_breaker_probe_done(&rec->breaker, 0, stt_now_s()))
            breaker_changed(rec); /* reopens; the next half-open tries again */
    }
}

/* The tick published a reloaded model. */
static void reload_done(stt_recognizer_t *rec)
{
    pthread_join(rec->reload_thread, NULL);
    rec->reload_phase = 0;
    rec->reload_old = NULL;
    rec->m.model_reloads++;
    STT_INFO(0, "model_reloaded", "[PRODUCTION] model reloaded; probing it");
    if (rec->breaker.state == STT_BREAKER_HALF_OPEN)
        submit_probe(rec);
}

/* ---- model loading ---- */

static void *loader_main(void *arg)
{
    stt_recognizer_t *rec = arg;
    double t0 = stt_now_s();
    stt_model_t *m = NULL;
    char err[256] = "";
    int reload = rec->reload_phase != 0;
    if (reload && rec->reload_old) /* the broken one goes first: two large models may not fit */
        rec->engine->unload(rec->reload_old);
    int rc = rec->engine->load(rec->cfg, &m, err, sizeof(err));
    /* Probe twice: the first decode on a cold decoder is several times slower than the rest; the
     * second one decodes one second of audio, and its time is the engine's cost per audio second
     * until calls are measured (published to the loop with the model). */
    if (rc == 0 && rec->engine->probe) {
        double t = 0;
        if (rec->engine->probe(m) == 0 && (t = stt_now_s(), rec->engine->probe(m) == 0)) {
            rec->probe_rtf = stt_now_s() - t;
        } else {
            snprintf(err, sizeof(err), "engine probe failed");
            rec->engine->unload(m);
            rc = STT_EENGINE;
        }
    }
    if (rc != 0 && reload) {
        STT_ERROR(0, "model_reload_failed", "%s", err);
        rec->reload_failed = 1; /* the loop retries at the breaker's next half-open */
    } else if (rc != 0) {
        snprintf(rec->model_error, sizeof(rec->model_error), "%s", err);
        rec->model_state = -1;
    } else {
        STT_INFO(0, "model_loaded", "%s engine loaded in %.2f s (probe: %.3f s per audio s)",
                 rec->engine->name, stt_now_s() - t0, rec->probe_rtf);
        atomic_store(&rec->loaded, m);
        rec->wakeup(rec->wakeup_data);
        /* Ready already; now keep a spare decoder per worker and as many again idle, so
         * concurrent calls find one waiting (made in the background, see engine.h). */
        if (rec->engine->prewarm)
            rec->engine->prewarm(m, 2 * rec->n_workers);
        return NULL;
    }
    rec->wakeup(rec->wakeup_data);
    return NULL;
}

/* ---- admission pricing ---- */

int stt_recognizer_load_full(const stt_recognizer_t *rec, int n)
{
    const stt_load_t *l = &rec->load;
    if (!rec->cfg->admission_control || rec->n_workers <= 0 || n <= 0)
        return 0;
    /* The live streams at their shares; any beyond them (the newcomer) fully. */
    double shares = l->talk_sum + (n > rec->n_streams ? n - rec->n_streams : 0);
    return l->rtf * shares / rec->n_workers > rec->cfg->admission_max_load;
}

const char *stt_recognizer_refusal(stt_recognizer_t *rec, const char *who)
{
    if (rec->breaker.state != STT_BREAKER_CLOSED) {
        rec->m.sessions_rejected_unavailable++;
        STT_WARN(0, "session_rejected", "engine circuit breaker %s; refusing %s",
                 stt_breaker_state_name(rec->breaker.state), who);
        return "speech engine unavailable, try again later";
    }
    if (rec->load.overloaded || stt_recognizer_load_full(rec, rec->n_streams + 1)) {
        rec->m.sessions_rejected_overload++;
        STT_WARN(0, "session_rejected",
                 "engine overloaded (load %.2f, queue wait %.3f s; %d streams priced at "
                 "%.1f talking, engine %.3f s per audio s); refusing %s",
                 rec->load.utilization, rec->load.queue_wait, rec->n_streams,
                 rec->load.talk_sum, rec->load.rtf, who);
        return "server overloaded, try again later";
    }
    return NULL;
}

/* Admission control by measured load: once a second, the pool's cumulative busy and wait times
 * give the workers' utilisation and the mean queue wait over the last second (smoothed). New
 * calls are refused while either is over its limit, with hysteresis so admission does not
 * flap; live calls are never cut. Those two only see a call once it talks, so calls that
 * arrive together would all be admitted before the load shows; a third, predictive check
 * refuses a call when the live streams plus it would exceed the limit at the measured cost of
 * a stream (stt_recognizer_load_full, checked at every connect). While jobs queue, realtime
 * passes are spaced out (pace_s), which trades partial frequency for headroom before anything
 * else degrades. */
static void load_sample(stt_recognizer_t *rec, double now)
{
    stt_load_t *l = &rec->load;
    if (now - l->sample_s < 1.0)
        return;
    stt_pool_stats_t ps;
    stt_pool_stats(rec->pool, &ps);
    double dt = now - l->sample_s;
    if (l->sample_s > 0) {
        double util = (ps.busy_s - l->busy_s) / (dt * (ps.workers > 0 ? ps.workers : 1));
        uint64_t jobs = ps.started - l->started;
        double wait = jobs ? (ps.wait_s - l->wait_s) / (double)jobs : 0.0;
        if (util > 1.0)
            util = 1.0;
        l->utilization = 0.6 * l->utilization + 0.4 * util;
        l->queue_wait = 0.6 * l->queue_wait + 0.4 * wait;
        /* Cost per audio second: over everything decoded so far for the first minute of audio
         * (a moving average from the probe's prior converged too slowly: a 20 s burst at 3x
         * capacity was priced at half its cost and 2x capacity got in), then smoothed. */
        double audio = ps.audio_s - l->audio_s;
        if (ps.audio_s >= 1.0 && ps.audio_s < 60.0)
            l->rtf = ps.busy_s / ps.audio_s;
        else if (audio >= 0.5)
            l->rtf = 0.8 * l->rtf + 0.2 * (ps.busy_s - l->busy_s) / audio;
    }
    l->sample_s = now;
    l->talk_sum = 0;
    stt_list_t *n;
    stt_list_foreach(n, &rec->streams)
        l->talk_sum += stt_stream_talk_share(stt_stream_of_node(n));
    l->audio_s = ps.audio_s;
    l->busy_s = ps.busy_s;
    l->wait_s = ps.wait_s;
    l->started = ps.started;

    const stt_config_t *cfg = rec->cfg;
    int over = cfg->admission_control && (l->utilization > cfg->admission_max_load ||
                                          l->queue_wait > cfg->admission_max_queue_delay ||
                                          stt_recognizer_load_full(rec, rec->n_streams + 1));
    int clear = !cfg->admission_control ||
                (l->utilization < 0.8 * cfg->admission_max_load &&
                 l->queue_wait < 0.5 * cfg->admission_max_queue_delay &&
                 !stt_recognizer_load_full(rec, rec->n_streams + 1));
    if (!l->overloaded && over) {
        l->overloaded = 1;
        STT_WARN(0, "overload",
                 "[PRODUCTION] engine overloaded (load %.2f, queue wait %.3f s): "
                 "refusing new sessions",
                 l->utilization, l->queue_wait);
    } else if (l->overloaded && clear) {
        l->overloaded = 0;
        STT_INFO(0, "overload_cleared", "[PRODUCTION] engine load back to %.2f: admitting",
                 l->utilization);
    }
    l->pace_s = l->queue_wait > 0.05 ? (4 * l->queue_wait > 1.0 ? 1.0 : 4 * l->queue_wait) : 0;
}

/* ---- watchdog ---- */

static void watchdog_step(stt_recognizer_t *rec, double now)
{
    stt_job_t *expired[64], *retired[64];
    size_t nr = 0;
    size_t n = stt_pool_watchdog(rec->pool, now, WATCHDOG_GRACE_S, expired, 64, retired, &nr);
    for (size_t i = 0; i < n; i++) {
        if (!stt_stream_owns_job(expired[i]))
            STT_WARN(0, "engine_timeout", "engine probe ran past %.1f s", expired[i]->timeout_s);
        else
            stt_stream_job_timeout(expired[i]);
    }
    for (size_t i = 0; i < nr; i++)
        if (stt_stream_owns_job(retired[i]))
            stt_stream_job_retired(retired[i]);
}

/* ---- consistency ---- */

int stt_recognizer_check(stt_recognizer_t *rec)
{
    int bad = 0, streams = 0;
    long handles = 0;
    stt_recognizer_dispatch(rec); /* jobs in the done list are with neither side */
    stt_list_t *n;
    stt_list_foreach(n, &rec->streams) {
        streams++;
        handles += stt_stream_engine_handles(stt_stream_of_node(n));
    }
    if (streams != rec->n_streams) {
        STT_ERROR(0, "consistency", "stream list holds %d streams; the gauge says %d", streams,
                  rec->n_streams);
        bad++;
    }
    stt_pool_stats_t ps;
    stt_pool_stats(rec->pool, &ps);
    int64_t pool_out = (int64_t)(ps.submitted - ps.handed_back);
    /* busy includes retired workers still inside their job */
    int64_t pool_seen = (int64_t)ps.queued_final + (int64_t)ps.queued_feed +
                        (int64_t)ps.queued_batch + ps.busy + (int64_t)ps.done_waiting;
    if (pool_out != rec->jobs_in_flight || pool_seen != pool_out) {
        STT_ERROR(0, "consistency", "jobs: the loop counts %lld in flight, the pool %lld handed "
                  "out and %lld queued, running or done", (long long)rec->jobs_in_flight,
                  (long long)pool_out, (long long)pool_seen);
        bad++;
    }
    if (rec->engine->leases_per_utterance && ps.decoders_in_use > handles + rec->jobs_in_flight) {
        if (++rec->leak_suspect >= 2) {
            STT_ERROR(0, "consistency", "the engine holds %d decoding states; utterances and "
                      "jobs account for %ld: recreating every worker's engine state",
                      ps.decoders_in_use, handles + (long)rec->jobs_in_flight);
            stt_pool_reset_workers(rec->pool);
            rec->leak_suspect = 0;
            bad++;
        }
    } else {
        rec->leak_suspect = 0;
    }
    return bad;
}

/* ---- loop side ---- */

void stt_recognizer_dispatch(stt_recognizer_t *rec)
{
    stt_pool_dispatch_done(rec->pool);
}

stt_rec_news_t stt_recognizer_tick(stt_recognizer_t *rec, double now)
{
    stt_rec_news_t news = STT_REC_NOTHING;
    if (!rec->model) {
        stt_model_t *m = atomic_load(&rec->loaded);
        if (m) {
            rec->model = m;
            rec->load.rtf = rec->probe_rtf;
            stt_pool_set_model(rec->pool, m);
            if (rec->reload_phase) {
                reload_done(rec);
            } else {
                rec->model_state = 1;
                news = STT_REC_READY;
            }
        } else if (rec->model_state < 0) {
            return STT_REC_LOAD_FAILED;
        }
    }
    if (rec->model) {
        load_sample(rec, now);
        watchdog_step(rec, now);
    }
    if (rec->breaker.state == STT_BREAKER_OPEN && now >= rec->breaker.retry_at_s &&
        stt_breaker_poll(&rec->breaker, now))
        breaker_changed(rec);
    if (rec->reload_phase)
        reload_step(rec);
    stt_recognizer_dispatch(rec);
    /* The waiting list is taken whole: a stream that still waits links itself again. */
    stt_list_t batch;
    stt_list_move_all(&rec->waiting, &batch);
    while (!stt_list_empty(&batch))
        stt_stream_tick(stt_stream_of_wait_node(batch.next), now);
    return news;
}

/* ---- lifecycle ---- */

int stt_recognizer_batch_workers(const stt_config_t *cfg, int workers)
{
    if (cfg->batch_workers > 0)
        return cfg->batch_workers < workers ? (int)cfg->batch_workers : workers;
    return workers / 2 > 1 ? workers / 2 : 1;
}

stt_recognizer_t *stt_recognizer_create(const stt_config_t *cfg,
                                        const stt_engine_vtable_t *engine, int workers,
                                        stt_recognizer_wakeup_cb wakeup, void *wakeup_data)
{
    stt_recognizer_t *rec = stt_calloc(1, sizeof(*rec));
    rec->cfg = cfg;
    rec->engine = engine;
    rec->n_workers = workers;
    rec->wakeup = wakeup;
    rec->wakeup_data = wakeup_data;
    atomic_init(&rec->loaded, NULL);
    stt_list_init(&rec->streams);
    stt_list_init(&rec->waiting);
    stt_breaker_config_t bc = {.failures = (int)cfg->breaker_failures,
                               .failure_rate = cfg->breaker_failure_rate,
                               .window_s = cfg->breaker_window,
                               .min_jobs = (int)cfg->breaker_min_jobs,
                               .backoff_s = cfg->breaker_backoff,
                               .backoff_max_s = cfg->breaker_backoff_max,
                               .probes = (int)cfg->breaker_probes};
    stt_breaker_init(&rec->breaker, &bc, (uint32_t)time(NULL) ^ (uint32_t)getpid());
    rec->pool = stt_pool_create(engine, workers, wakeup, wakeup_data);
    stt_pool_set_slice(rec->pool, (size_t)(cfg->engine_slice * 16000.0 + 0.5));
    stt_pool_set_batched(rec->pool, 1);
    stt_pool_set_batch_workers(rec->pool, stt_recognizer_batch_workers(cfg, workers));
    if (stt_pool_set_batch_nice(rec->pool, (int)cfg->batch_nice) != 0)
        STT_WARN(0, "batch_nice", "--batch_nice %d needs root or CAP_SYS_NICE; uploads run at "
                                  "normal CPU priority", (int)cfg->batch_nice);
    if (pthread_create(&rec->loader, NULL, loader_main, rec) != 0)
        stt_fatal(__FILE__, __LINE__, "pthread_create failed");
    rec->loader_running = 1;
    return rec;
}

int stt_recognizer_cut_finishing(stt_recognizer_t *rec)
{
    int n = 0;
    stt_list_t *node, *next;
    stt_list_foreach_safe(node, next, &rec->streams)
        n += stt_stream_cut_finish(stt_stream_of_node(node));
    return n;
}

void stt_recognizer_quiesce(stt_recognizer_t *rec)
{
    if (rec->loader_running) {
        pthread_join(rec->loader, NULL);
        rec->loader_running = 0;
    }
    if (rec->reload_phase == 2) {
        pthread_join(rec->reload_thread, NULL);
        rec->reload_phase = 0;
    }
    stt_pool_disable_wakeup(rec->pool);
}

void stt_recognizer_destroy(stt_recognizer_t *rec)
{
    if (!rec)
        return;
    /* Jobs still queued belong to closed streams and are cancelled rather than decoded, the
     * running ones finish, and everything that comes back is handed back (cancelled utterances
     * release their decoders through ABORT jobs, run inline once the pool has stopped). */
    size_t cancelled = stt_pool_cancel_queued(rec->pool);
    if (cancelled)
        STT_INFO(0, "stop", "cancelled %zu queued engine jobs of closed sessions", cancelled);
    stt_pool_stop(rec->pool);
    while (stt_pool_dispatch_done(rec->pool) > 0)
        ;
    stt_model_t *m = atomic_load(&rec->loaded);
    if (stt_pool_destroy(rec->pool) == 0 && m)
        rec->engine->unload(m); /* not while a stuck worker may still be inside it */
    free(rec);
}

/* Server-internal types shared by the files of src/server.
 *
 * Threads: everything declared here is owned and touched by the network loop thread only, except
 * the pool (pool.h), whose jobs come back to the loop through the done queue. */
#ifndef STT_SERVER_SERVER_H
#define STT_SERVER_SERVER_H

#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include <libwebsockets.h>

#include "core/breaker.h"
#include "core/pool.h"
#include "stt/config.h"
#include "stt/engine.h"
#include "stt/resample.h"
#include "stt/turn.h"
#include "stt/vad.h"

typedef struct stt_server stt_server_t;
typedef struct stt_session stt_session_t;
typedef struct stt_ctl stt_ctl_t;

/* One queued outgoing WebSocket text message; buf has LWS_PRE bytes of headroom. */
typedef struct stt_outmsg {
    struct stt_outmsg *next;
    size_t len;
    unsigned char buf[];
} stt_outmsg_t;

typedef struct {
    stt_outmsg_t *head, *tail;
    size_t count, bytes;
    uint64_t sent; /* messages taken off the queue (written) so far */
} stt_outq_t;

/* Engine-side state of one utterance. Owned by its session; referenced by at most one job at a
 * time (inflight). Freed when its FINAL/ABORT job came back, or at once if it never reached the
 * engine. */
typedef struct stt_uttstate {
    struct stt_uttstate *next; /* in session->finishing */
    stt_session_t *session;
    uint32_t seq;
    stt_utt_t *handle;  /* engine handle while no job holds it */
    int inflight;       /* a job for this utterance is with the pool */
    stt_job_t *job;     /* that job (valid until it comes back through the done list) */
    size_t fed;         /* samples already handed to the engine */
    size_t fed_start;   /* where the engine's audio begins (--engine_pre_roll) */
    int ended;          /* recording stopped: final wanted */
    int abandoned;      /* session gone or aborted: release, no result */
    int16_t *final_pcm; /* the utterance once ended (owned): samples [final_base, final_n) */
    size_t final_base;  /* > 0 when the head was released (see release_fed) */
    size_t final_n;     /* the utterance's length */
    size_t job_end;     /* end of the audio in the FEED job out (what it acknowledges) */
    double retry_at_s;  /* no decoder free, or a failed final: retry after this time */
    int retries;        /* finals decoded again after a failure */
    int rewind;         /* an ABORT out to drop the engine state (model reload): keep the
                         * utterance and decode it again from fed_start */
    double stop_wall_s; /* monotonic time of recording_stop */
    double start_wall_s;
    int partials_sent;
    char *last_partial;
    double same_text_since_s; /* dynamic silence timing: when the partial text last changed */
    uint8_t *speech;          /* per 512-sample chunk of the recording: 1 if the VAD heard speech */
    size_t n_chunks, chunks_cap;
} stt_uttstate_t;

struct stt_session {
    uint64_t id;
    stt_server_t *srv;
    struct lws *wsi;                 /* NULL once the socket is gone */
    struct stt_session *next, *prev; /* server->sessions */
    char ip[64];
    char name[64];
    stt_ctl_t *ctl; /* paired control connection, or NULL */
    double opened_s;
    double last_audio_s; /* when the last audio frame arrived (--idle_timeout) */
    double out_moved_s;   /* when queued output last moved or was empty (--stuck_socket_timeout) */
    uint64_t out_last_sent;
    int max_duration_hit; /* --max_session_duration: recording ended, closing once idle */
    stt_session_params_t params;
    uint64_t talk_chunks; /* 512-sample chunks received while recording (admission pricing) */

    /* receive assembly of one (possibly fragmented) binary message */
    uint8_t *rx;
    size_t rx_len, rx_cap;

    /* DSP */
    stt_resampler_t *rs;
    int16_t *rs_out;
    size_t rs_out_cap;
    int16_t chunk[STT_TURN_CHUNK_SAMPLES];
    size_t chunk_fill;
    stt_vad_t vad;
    stt_turn_t *turn;
    FILE *wav; /* -W output, raw input PCM */
    uint64_t wav_bytes;
    int wav_rate;

    /* recognition */
    uint32_t utt_seq;
    stt_uttstate_t *cur;       /* utterance being recorded */
    stt_uttstate_t *finishing; /* ended utterances awaiting their final */
    stt_uttstate_t *stopped;   /* just stopped; transcription_start not yet sent */
    int vad_start_pending;     /* vad_detect_start held back until the final is out */
    int jobs_out;              /* jobs with the pool */
    double last_partial_start_s;
    int16_t *last_utt; /* audio of the last final, for last_transcription_bytes_b64 */
    size_t last_utt_n;
    double listen_start_epoch, recording_stop_epoch, speech_end_silence_epoch;

    /* output */
    stt_outq_t out;
    int closing; /* close after the queue drains */
    int close_code;
    char close_reason[120];
    int drain_close;        /* close with 1001 once idle (SIGTERM) */
    int drain_ignore_audio; /* draining and the last utterance has stopped */
};

/* A control-socket connection. */
struct stt_ctl {
    stt_server_t *srv;
    struct lws *wsi;
    struct stt_ctl *next, *prev;
    char ip[64];
    char name[64];
    double opened_s;
    stt_session_t *session;       /* paired data session, or NULL */
    stt_session_params_t overlay; /* parameters set before a session was paired */
    int overlay_set;
    stt_outq_t out;
    double out_moved_s; /* --stuck_socket_timeout, as for sessions */
    uint64_t out_last_sent;
    char *rx; /* control message assembly (64 KiB, lazily) */
    size_t rx_len;
    int closing;
};

#define STT_HIST_BUCKETS 15

typedef struct {
    uint64_t counts[STT_HIST_BUCKETS + 1]; /* +Inf last */
    double sum;
    uint64_t count;
} stt_hist_t;

extern const double stt_hist_bounds[STT_HIST_BUCKETS];
void stt_hist_observe(stt_hist_t *h, double v);

typedef struct {
    uint64_t sessions_total, sessions_rejected_capacity, sessions_rejected_draining;
    uint64_t sessions_rejected_overload, sessions_rejected_unavailable;
    uint64_t sessions_closed_idle, sessions_closed_max_duration, sockets_stuck;
    uint64_t finals_retried, finals_failed;
    uint64_t consistency_errors;
    uint64_t model_reloads, model_reload_failures;
    uint64_t control_total;
    uint64_t frames_total, frame_errors[16];
    double audio_seconds;
    uint64_t utterances, partials_sent, finals_sent, finals_dropped;
    uint64_t jobs_cancelled; /* engine jobs stopped early because their session went away */
    uint64_t transcription_errors, recorder_errors, consecutive_errors, recovery_attempts;
    uint64_t decoder_waits;
    uint64_t chunks_dropped, speech_chunks_dropped; /* --handle_buffer_overflow */
    uint64_t close_codes[5];                        /* 1000, 1001, 1007, 1009, other */
    uint64_t conn_minute[60]; /* data connections per second slot, for connections_per_minute */
    int64_t conn_minute_sec[60];
    double last_activity_s;
    stt_hist_t final_latency, first_partial_latency, job_final, job_feed;
    stt_hist_t ingest_latency; /* client's server_sent_to_stt -> frame through the VAD */
} stt_metrics_t;

/* Engine load, sampled by the loop tick once a second from the pool's cumulative counters. */
typedef struct {
    double sample_s, busy_s, wait_s;
    uint64_t started;
    double utilization; /* smoothed fraction of worker time spent in jobs, 0..1 */
    double queue_wait;  /* smoothed mean seconds a job waited for a worker */
    int overloaded;     /* admission closed */
    double pace_s;      /* extra spacing of realtime passes while jobs queue */
    /* What the sessions cost, measured: the engine's worker seconds per second of audio (the
     * probe's timing until calls have been decoded) times the sessions' talk shares, summed.
     * A session's share is the fraction of its audio received while recording, with a prior of
     * STT_TALK_PRIOR_S seconds of talking, so a new session counts fully and its own history
     * takes over as it accumulates (stt_session_talk_share). */
    double audio_s, rtf;
    double talk_sum;
} stt_load_t;

#define STT_TALK_PRIOR_S 5.0

struct stt_server {
    stt_config_t *cfg;
    struct lws_context *ctx;
    const stt_engine_vtable_t *engine;
    stt_pool_t *pool;
    stt_model_t *model;       /* set on the loop once loaded */
    volatile int model_state; /* 0 loading, 1 ready, -1 failed (written by the loader thread) */
    char model_error[256];
    stt_session_t *sessions;
    stt_ctl_t *ctls;
    int n_sessions, n_ctls;
    uint64_t next_session_id;
    double started_s;
    double started_epoch;
    int draining;
    double drain_deadline_s;
    double ctl_close_s; /* when draining started closing control connections */
    int stop_loop;
    stt_metrics_t m;
    stt_load_t load;
    lws_sorted_usec_list_t tick;
    int n_workers;
    double probe_rtf; /* written by the loader before it publishes the model */
    /* self-healing */
    stt_breaker_t breaker;
    lws_sorted_usec_list_t breaker_sul; /* fires when an open breaker may go half-open */
    int probe_inflight;                 /* a half-open probe job is with the pool */
    double next_consistency_s;
    int leak_suspect; /* consecutive checks that found more decoding states than holders */
    int64_t jobs_in_flight; /* jobs handed to the pool and not yet back (loop's own count) */
    /* model reload (--breaker_reload_after): 1 releasing utterance states, 2 loading */
    int reload_phase;
    stt_model_t *reload_old; /* the model the reload thread unloads first */
    volatile int reload_failed;
    pthread_t reload_thread;
    int base_fds;     /* fds open when the server became ready (listeners, pipes, logs) */
};

/* server.c */
/* Runs the server until SIGTERM/SIGINT drained it; returns the process exit code. */
int stt_server_run(stt_config_t *cfg, const stt_engine_vtable_t *engine, int workers);
void stt_server_request_write(struct lws *wsi);
/* Drops a peer that stopped reading (output stuck for --stuck_socket_timeout, or, cap_hit,
 * its queue full) at once, without a close handshake it would not read either: frees its
 * queue `q` and counts it in stt_sessions_closed_total{reason="stuck_socket"}. id: the
 * session's, 0 for a control peer. Callers mark the peer closing first (sessions through
 * stt_session_drop_stuck), so nothing counts it twice. */
void stt_server_drop_stuck(stt_server_t *srv, struct lws *wsi, uint64_t id, stt_outq_t *q,
                           int cap_hit);

/* The engine takes jobs: loaded and the circuit breaker closed. */
int stt_server_engine_up(const stt_server_t *srv);

/* Feeds a session job's outcome (0 or STT_E*) to the circuit breaker. */
void stt_server_job_outcome(stt_server_t *srv, int status);

/* Would n live data sessions load the engine past --admission_max_load at the measured cost per
 * session (stt_load_t)? Never while admission control is off. */
int stt_load_full(const stt_server_t *srv, int n);

/* session.c */
/* The session's talk share for admission pricing (see stt_load_t). */
double stt_session_talk_share(const stt_session_t *s);
stt_session_t *stt_session_create(stt_server_t *srv, struct lws *wsi, const char *ip,
                                  const char *name);
/* Handles one complete binary message. Returns 0, or -1 if the session is now closing. */
int stt_session_on_message(stt_session_t *s, const uint8_t *buf, size_t len);
/* Appends a fragment; returns 0, or -1 if the message exceeds the frame cap (session closing). */
int stt_session_on_fragment(stt_session_t *s, const uint8_t *in, size_t len, int final);
void stt_session_on_job_done(stt_job_t *job, void *data);
/* The watchdog expired the session's running job (it comes back later, as STT_ETIMEDOUT). */
void stt_session_on_job_timeout(stt_job_t *job);
/* The watchdog retired the worker stuck in `job`: its utterance stops waiting for it. */
void stt_session_on_job_retired(stt_job_t *job);
void stt_session_send_error(stt_session_t *s, const char *code, const char *message);
/* Model reload: hands back every engine state the session's utterances hold (ABORT jobs; the
 * utterances stay and are decoded again later). Returns how many it still holds or has with
 * the pool. */
int stt_session_release_engine_state(stt_session_t *s);
/* The socket is gone: detach and free once no job is outstanding. */
void stt_session_detach(stt_session_t *s);
void stt_session_tick(stt_session_t *s, double now);
/* Queues a JSON text message (takes ownership of the string from cJSON_Print). */
void stt_session_send_json(stt_session_t *s, char *json);
void stt_session_close(stt_session_t *s, int code, const char *reason);
/* A data client that stopped reading: closing (1008), dropped at once (stt_server_drop_stuck). */
void stt_session_drop_stuck(stt_session_t *s, int cap_hit);
/* Applies parameters (after set_parameter or pairing). */
void stt_session_params_changed(stt_session_t *s);
int stt_session_is_idle(const stt_session_t *s);

/* control.c */
void stt_ctl_on_message(stt_ctl_t *c, const char *msg, size_t len);

/* outq helpers (session.c). A peer's queue holds at most STT_OUTQ_MAX_BYTES: past that it
 * is not reading, and stt_outq_push refuses the message (-1; the caller drops the peer). */
#define STT_OUTQ_MAX_BYTES ((size_t)64 << 20)
int stt_outq_push(stt_outq_t *q, const char *data, size_t len);
stt_outmsg_t *stt_outq_pop(stt_outq_t *q);
void stt_outq_clear(stt_outq_t *q);

/* monitor.c */
int stt_monitor_http(stt_server_t *srv, struct lws *wsi, const char *path, char **body,
                     size_t *body_len, const char **content_type);
int stt_server_is_ready(const stt_server_t *srv);
int stt_open_fds(void);

#endif /* STT_SERVER_SERVER_H */

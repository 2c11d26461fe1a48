/* Counters, gauges' inputs and latency histograms of one server, written on the loop thread by
 * the core (streams, recognizer) and the server (connections, adapters), read by the monitor.
 *
 * Threads: the loop thread only. */
#ifndef STT_CORE_METRICS_H
#define STT_CORE_METRICS_H

#include <stdint.h>

#define STT_HIST_BUCKETS 15

typedef struct {
    uint64_t counts[STT_HIST_BUCKETS + 1]; /* +Inf last */
    double sum;
    uint64_t count;
} stt_hist_t;

/* Upper bounds of the buckets, seconds. */
extern const double stt_hist_bounds[STT_HIST_BUCKETS];
void stt_hist_observe(stt_hist_t *h, double v);
/* Approximate quantile (the upper bound of the bucket that holds it); 0 when empty. */
double stt_hist_quantile(const stt_hist_t *h, double q);

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
    uint64_t jobs_cancelled; /* engine jobs stopped early because their stream went away */
    uint64_t transcription_errors, recorder_errors, consecutive_errors, recovery_attempts;
    uint64_t decoder_waits;
    uint64_t chunks_dropped, speech_chunks_dropped; /* --handle_buffer_overflow */
    uint64_t close_codes[5];                        /* 1000, 1001, 1007, 1009, other */
    uint64_t conn_minute[60]; /* data connections per second slot, for connections_per_minute */
    int64_t conn_minute_sec[60];
    double last_activity_s;
    double last_success_s; /* when an engine job last succeeded (0: none yet); monotonic */
    stt_hist_t final_latency, first_partial_latency, job_final, job_feed;
    stt_hist_t ingest_latency; /* client's server_sent_to_stt -> frame through the VAD */
} stt_metrics_t;

#endif /* STT_CORE_METRICS_H */

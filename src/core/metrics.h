/* Counters, gauges' inputs and latency histograms of one server, written on the loop thread by
 * the core (streams, recognizer) and the server (connections, adapters), read by the monitor.
 *
 * Threads: the loop thread only. */
#ifndef STT_CORE_METRICS_H
#define STT_CORE_METRICS_H

#include <stddef.h>
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

/* Protocol errors by protocol and error name, for stt_protocol_errors_total: the names are
 * static strings (an adapter's error table), the first STT_PROTOCOL_ERROR_SLOTS pairs seen get a
 * row and later ones count in a row named ("other", "other"). */
#define STT_PROTOCOL_ERROR_SLOTS 64
typedef struct {
    const char *protocol, *error;
    uint64_t count;
} stt_protocol_error_t;

/* Results of the file API's requests (POST /v1/audio/...), for stt_uploads_total{result}. */
#define STT_UPLOAD_RESULT_MAP(XX)                                                                \
    XX(OK, "ok")                      /* transcribed and answered */                             \
    XX(BAD_REQUEST, "bad_request")    /* 400: a bad field, no file, truncated multipart */       \
    XX(UNSUPPORTED, "unsupported")    /* 400: not audio the decoder reads */                     \
    XX(TOO_LARGE, "too_large")        /* 413: --upload_max_bytes or --upload_max_duration */     \
    XX(BUSY, "busy")                  /* 429: --max_uploads */                                   \
    XX(FAILED, "failed")              /* 500/503: the engine failed */                           \
    XX(DISCONNECTED, "disconnected")  /* the client left before the answer */

typedef enum {
#define STT_UPLOAD_ENUM(name, str) STT_UPLOAD_##name,
    STT_UPLOAD_RESULT_MAP(STT_UPLOAD_ENUM)
#undef STT_UPLOAD_ENUM
    STT_UPLOAD_RESULTS
} stt_upload_result_t;

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
    stt_hist_t media_lateness; /* a media message through the VAD, against its own timestamp
                                * (Twilio family): see adapters/twilio.c note_lateness() */
    stt_protocol_error_t protocol_errors[STT_PROTOCOL_ERROR_SLOTS];
    size_t n_protocol_errors;
    uint64_t uploads[STT_UPLOAD_RESULTS]; /* the file API's requests, by result */
    double upload_audio_seconds;          /* audio decoded from uploads */
    int uploads_active;                   /* file API transcriptions now (--max_uploads) */
} stt_metrics_t;

/* Counts one protocol error (protocol and error: static strings). */
void stt_metrics_protocol_error(stt_metrics_t *m, const char *protocol, const char *error);

#endif /* STT_CORE_METRICS_H */

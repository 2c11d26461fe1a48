/* Webhooks: out-of-band call events POSTed to HTTP(S) endpoints, from a dedicated sender thread
 * (libcurl's multi interface), so the loop thread only copies an event into a queue and wakes
 * the sender: it never resolves, connects, writes or waits.
 *
 * Per destination (one URL: --webhook_url, or one a call asked for and --webhook_allow
 * permitted) there is one sink (sink.h) shared by every call that posts there. Per call: a
 * bounded queue (--webhook_queue events; when full the oldest waiting partial, else the oldest
 * waiting event, is dropped and counted) and at most one request in flight, so a call's events
 * arrive in order. Per destination: at most --webhook_concurrency requests in flight. A
 * request that cannot connect, times out (--webhook_timeout) or gets 5xx or 429 is retried up
 * to --webhook_retries times after a jittered exponential backoff (a wait drawn between half
 * and all of 0.5 s * 2^(retry-1), at most 30 s); other answers (2xx: ok; other 4xx: failed) are
 * final.
 *
 * Each request: `POST <url>`, `Content-Type: application/json`, the event as the body, and
 * with --webhook_secret the headers `X-STT-Timestamp: <Unix seconds>` and
 * `X-STT-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; also
 * `X-STT-Event`, `X-STT-Call-Id` and `X-STT-Seq`.
 *
 * Threads: stt_webhook_create/destroy and the sinks' calls on the loop thread; delivery on the
 * sender thread; the queues between them under one mutex. Ownership: the webhook owns the
 * thread, the destinations and every queued event (copied at enqueue). */
#ifndef STT_SERVER_SINKS_WEBHOOK_H
#define STT_SERVER_SINKS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "stt/config.h"
#include "stt/webhook_url.h" /* the URL rules */

typedef struct stt_webhook stt_webhook_t;

typedef struct {
    uint64_t ok, failed, retried, dropped; /* deliveries: 2xx; given up; attempts retried;
                                            * dropped from a full per-call queue */
    uint64_t queued;                       /* events waiting or in flight now */
} stt_webhook_stats_t;

/* The sender and its thread. NULL with a logged reason when libcurl cannot start. */
stt_webhook_t *stt_webhook_create(const stt_config_t *cfg);
/* Stops the thread: requests in flight get at most --webhook_timeout to finish (events still
 * waiting are dropped and counted), then everything is freed. NULL-safe. */
void stt_webhook_destroy(stt_webhook_t *wh);

/* A new reference to the sink of destination `url` (created on first use, freed with its last
 * reference). The URL must be valid (stt_webhook_url_valid). */
stt_sink_t *stt_webhook_sink(stt_webhook_t *wh, const char *url);

void stt_webhook_stats(stt_webhook_t *wh, stt_webhook_stats_t *out);

/* The signature header's value: "sha256=" and the lower-case hex HMAC-SHA256 of
 * "<timestamp>.<body>" under `secret` (out: at least 72 bytes). */
void stt_webhook_sign(const char *secret, long long timestamp, const char *body, size_t len,
                      char *out, size_t cap);

/* The loop thread's cost of one enqueue is measured by tests/unit/server/test_calls.c. */

#endif /* STT_SERVER_SINKS_WEBHOOK_H */

/* Out-of-band results: the server's registry of calls whose results leave somewhere other than
 * their own socket (Twilio-family streams, AudioSocket, audio_fork), keyed by the platform's call
 * id. Each call's stream events become one JSON event schema, the same for every protocol, and
 * fan out (through the sinks of sink.h) to:
 *   - webhooks: HTTP(S) POSTs to --webhook_url, or to a URL the call asked for in its custom
 *     parameters when --webhook_allow permits it (never to a host chosen by client input
 *     alone); HMAC-SHA256 signed, retried with jittered backoff, bounded per call (drops
 *     counted), a concurrency cap per destination; delivery runs on the webhook sender thread
 *     (webhook.c), never on the loop;
 *   - subscribers: WebSocket clients of `/v1/calls/{call_id}/events` on the data port; any
 *     number per call, subscribing before the call starts works; a subscriber whose queue
 *     grows past its cap is dropped, never the call.
 *
 * The event schema (docs/protocol.md, "Call events"): one JSON object per event,
 *   {"event": "call_start"|"speech_start"|"partial"|"final"|"final_failed"|"dtmf"|"call_end",
 *    "call_id", "protocol", "stream_id" (or null), "track" ("inbound", "outbound", "caller",
 *    "channel_1", ...), "channel" (the track's number), "seq" (per call, from 1, no gaps at the
 *    source), "time" (Unix seconds), and per event: "utterance", "text", "confidence", "start",
 *    "end" (stream seconds), "words" [{word, start, end, confidence}] (partial, final);
 *    "digit" (dtmf); "parameters" {} (call_start: the call's custom parameters); "reason",
 *    "duration" (call_end); "message" (final_failed)}.
 *
 * Threads: the loop thread only (webhook delivery hands off to its own thread). Ownership: the
 * registry belongs to the server; a call returned by stt_call_start belongs to its adapter until
 * stt_call_end, which frees it. Strings in stt_call_info_t are copied. */
#ifndef STT_SERVER_SINKS_CALLS_H
#define STT_SERVER_SINKS_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "stt/config.h"
#include "stt/stream.h"

typedef struct stt_calls stt_calls_t; /* the registry: one per server */
typedef struct stt_call stt_call_t;   /* one call's delivery */

/* The longest call id accepted (a Twilio CallSid is 34 bytes, a UUID 36). */
#define STT_CALL_ID_MAX 128

typedef struct {
    const char *name, *value;
} stt_call_param_t;

typedef struct {
    const char *protocol;    /* the adapter's name: "twilio", "telnyx", "audiosocket", ... */
    const char *call_id;     /* the key subscribers use (callSid, call_control_id, UUID, the
                              * `call_id` custom parameter); printable, 1..STT_CALL_ID_MAX bytes */
    const char *stream_id;   /* streamSid / stream_id; NULL when the protocol has none */
    const char *webhook_url; /* a URL the call asked for (custom parameter); NULL: none. Used
                              * only when --webhook_allow permits it (logged and counted when
                              * not), in addition to --webhook_url */
    const stt_call_param_t *params; /* custom parameters, echoed in call_start */
    size_t n_params;
    uint64_t conn_id; /* for log lines */
} stt_call_info_t;

/* The registry, created with the server (after the configuration is valid) and destroyed after
 * the loop ended. Returns NULL with a logged reason when the webhook configuration is unusable
 * (a malformed --webhook_url or --webhook_allow entry). */
stt_calls_t *stt_calls_create(const stt_config_t *cfg);
void stt_calls_destroy(stt_calls_t *calls); /* NULL-safe */

/* Checks a call id (the rules above): 0, or STT_EINVAL. */
int stt_call_id_valid(const char *id);

/* Starts out-of-band delivery for a call and sends its call_start event. Returns the call, or
 * NULL when info->call_id is invalid (nothing is sent; the adapter answers in its protocol). A
 * call id already live gets its events too: both calls' events go to its subscribers. */
stt_call_t *stt_call_start(stt_calls_t *calls, const stt_call_info_t *info);

/* One stream event of the call's track `track` (0-based; `track_name` such as "inbound",
 * NULL: "channel_<track+1>"). SPEECH_START, PARTIAL, FINAL and FINAL_FAILED become events;
 * other kinds are ignored. Returns 1 when the event was a partial with new text (the adapter
 * then calls stt_stream_partial_delivered), else 0. */
int stt_call_stream_event(stt_call_t *call, int track, const char *track_name,
                          const stt_stream_event_t *ev);

/* Adds a sink of the adapter's own to the call (retained until stt_call_end): it gets every
 * event from the next one on. 0, or -1 when the call has STT_SINK_SET_MAX sinks already. */
struct stt_sink;
int stt_call_add_sink(stt_call_t *call, struct stt_sink *sink);

/* A DTMF digit on a track. */
void stt_call_dtmf(stt_call_t *call, int track, const char *track_name, const char *digit);

/* The call is over (`reason`: "stop", "hangup", "closed", "shutdown", ...): sends call_end and
 * frees the call. Call it after the last final was delivered (stt_stream_finish's closed_cb).
 * NULL-safe. */
void stt_call_end(stt_call_t *call, const char *reason);

/* ---- Subscribers and counters (the subscriber adapter, adapters/call_events.c, and the
 * monitor use these) ---- */

struct stt_conn;

/* Adds a connection as a subscriber of call id `call_id` (the call need not exist yet: the
 * registry keeps the id's subscriber list until no call and no subscriber of it remains). Every
 * event of every call with that id is sent to it as one text message; call_end too, after which
 * the subscriber stays subscribed for a later call of the same id. Returns 0, or STT_EINVAL for
 * an invalid id. The connection is borrowed until stt_calls_unsubscribe. */
int stt_calls_subscribe(stt_calls_t *calls, const char *call_id, struct stt_conn *conn);
/* The subscriber's socket is gone (or it is dropped): forgets it. NULL-safe, idempotent. */
void stt_calls_unsubscribe(stt_calls_t *calls, const char *call_id, struct stt_conn *conn);

typedef struct {
    uint64_t calls_live;            /* calls between stt_call_start and stt_call_end */
    uint64_t calls_total;
    uint64_t ids_live;              /* call ids with a call or a subscriber */
    uint64_t subscribers_live;
    uint64_t subscribers_dropped;   /* closed for a queue past --subscriber_max_queue_bytes */
    uint64_t events_total;          /* events built (each sent to every sink of its call) */
    uint64_t webhook_urls_refused;  /* URLs calls asked for that --webhook_allow did not permit */
    uint64_t webhook_ok, webhook_failed, webhook_retried, webhook_dropped; /* webhook.h */
    uint64_t webhook_queued;        /* webhook events waiting or in flight now */
} stt_calls_stats_t;

/* The registry's counters (the webhook's read under its lock). */
void stt_calls_stats(stt_calls_t *calls, stt_calls_stats_t *out);

#endif /* STT_SERVER_SINKS_CALLS_H */

/* Sinks: out-of-band delivery of a call's stream events, to somewhere other than the call's own
 * connection (telephony streams are audio-in only: Twilio, AudioSocket; results go to a webhook
 * or to subscriber sockets, keyed by the platform's call id).
 *
 * Implemented by webhook.c and subscribe.c. The call registry (calls.c) keeps an stt_sink_set_t
 * per call and hands every call event to stt_sink_set_emit, already built as the one JSON event
 * schema (calls.h), so each sink sends the same bytes and no sink rebuilds them; the set holds
 * references, so one sink (a webhook destination, a call id's subscribers) serves many calls.
 * (The first draft handed sinks the raw stream event; call_start, dtmf and call_end are no
 * stream events, and `seq` must be the same for every sink, so the registry builds the event.)
 *
 * Threads: the loop thread only. A sink never blocks it: delivery that takes time (HTTP) is
 * queued by the sink itself, bounded, with drops counted. Ownership: each member of a set is
 * retained by stt_sink_set_add and released by stt_sink_set_clear. */
#ifndef STT_SERVER_SINKS_SINK_H
#define STT_SERVER_SINKS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "stt/stream.h"

/* Which call (and which of its streams) an event belongs to; borrowed for the call. */
typedef struct {
    const char *call_id;  /* the platform's id (callSid, call_control_id, AudioSocket UUID, ...) */
    const char *protocol; /* the adapter's name */
    int track;            /* stream number within the call (inbound/outbound, channel) */
    uint64_t conn_id;     /* the connection's id in the logs */
    uint64_t key;         /* unique per call for the server's life (two calls may share an id):
                           * what a sink keys per-call state by */
} stt_call_ref_t;

/* One event of a call, built once by the registry; borrowed for the on_event call. */
typedef struct {
    const char *kind; /* the schema's "event": "call_start", "partial", "final", ... */
    const char *json; /* the event: one JSON object, NUL-terminated */
    size_t len;       /* strlen(json) */
    uint64_t seq;     /* the event's "seq" */
} stt_call_event_t;

typedef struct stt_sink stt_sink_t;

typedef struct {
    const char *name; /* "webhook", "subscribers" */
    /* One event of the call. Must not block; may drop (and count) under pressure. */
    void (*on_event)(stt_sink_t *sink, const stt_call_ref_t *call, const stt_call_event_t *ev);
    /* The call ended (its connection closed): the last thing a sink hears of it. */
    void (*on_call_end)(stt_sink_t *sink, const stt_call_ref_t *call);
    /* The last reference went away. */
    void (*destroy)(stt_sink_t *sink);
} stt_sink_ops_t;

/* The common part of every sink; implementations embed it first. */
struct stt_sink {
    const stt_sink_ops_t *ops;
    int refs;
};

void stt_sink_retain(stt_sink_t *s);
void stt_sink_release(stt_sink_t *s); /* NULL-safe */

#define STT_SINK_SET_MAX 4

/* The sinks one call's events fan out to. Caller-allocated, zero-initialised. */
typedef struct {
    stt_sink_t *sinks[STT_SINK_SET_MAX];
    size_t n;
} stt_sink_set_t;

/* Adds (and retains) a sink; returns 0, or -1 when the set is full. */
int stt_sink_set_add(stt_sink_set_t *set, stt_sink_t *s);
/* Hands the event to every sink of the set, in the order they were added. */
void stt_sink_set_emit(const stt_sink_set_t *set, const stt_call_ref_t *call,
                       const stt_call_event_t *ev);
/* The call ended: tells every sink, then releases them. */
void stt_sink_set_clear(stt_sink_set_t *set, const stt_call_ref_t *call);

#endif /* STT_SERVER_SINKS_SINK_H */

/* Subscriber sockets (subscribe.h): one sink per call id; each event goes to every subscriber of
 * the id as one text message. A subscriber that does not keep up (its unsent output would pass
 * --subscriber_max_queue_bytes) is dropped at once (its queue freed, its socket killed without a
 * close handshake it would not read: stt_conn_drop) and counted: the call only ever pays for a
 * queue append per subscriber.
 *
 * Threads: the loop thread only. Ownership: the sink owns its array of borrowed connections;
 * it is freed with its last reference. */
#include "subscribe.h"

#include "../conn.h"

#include "stt/error.h"
#include "stt/log.h"

#include <stdlib.h>
#include <string.h>

struct stt_subs {
    stt_sink_t base; /* first: the sink */
    size_t max_queue_bytes;
    uint64_t *dropped;
    stt_conn_t **conns; /* borrowed */
    size_t n, cap;
};

static void subs_event(stt_sink_t *sink, const stt_call_ref_t *call, const stt_call_event_t *ev)
{
    stt_subs_t *s = (stt_subs_t *)sink;
    for (size_t i = 0; i < s->n; i++) {
        stt_conn_t *c = s->conns[i];
        if (stt_conn_closing(c))
            continue;
        size_t queued = stt_conn_queued_bytes(c);
        /* One event alone may be larger than the cap (a long final's words): only a backlog
         * counts, as for the connection's own 64 MiB cap. */
        if (queued > 0 && queued + ev->len > s->max_queue_bytes) {
            (*s->dropped)++;
            STT_WARN(call->conn_id, "subscriber_too_slow",
                     "a subscriber of call %s from %s has %zu bytes unsent (cap %zu): dropping it",
                     call->call_id, stt_conn_ip(c), queued, s->max_queue_bytes);
            /* At once: a close frame would only queue behind what it does not read. */
            stt_conn_drop(c, 1008, "subscriber too slow");
            continue;
        }
        stt_conn_send(c, 0, ev->json, ev->len);
    }
}

static void subs_destroy(stt_sink_t *sink)
{
    stt_subs_t *s = (stt_subs_t *)sink;
    free(s->conns);
    free(s);
}

/* call_end is an event like the others (sent by the registry); the subscribers stay. */
static const stt_sink_ops_t subs_ops = {"subscribers", subs_event, NULL, subs_destroy};

stt_subs_t *stt_subs_create(size_t max_queue_bytes, uint64_t *dropped)
{
    stt_subs_t *s = stt_calloc(1, sizeof(*s));
    s->base.ops = &subs_ops;
    s->base.refs = 1;
    s->max_queue_bytes = max_queue_bytes;
    s->dropped = dropped;
    return s;
}

stt_sink_t *stt_subs_sink(stt_subs_t *subs)
{
    return &subs->base;
}

void stt_subs_add(stt_subs_t *s, stt_conn_t *conn)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->conns = stt_realloc(s->conns, s->cap * sizeof(*s->conns));
    }
    s->conns[s->n++] = conn;
}

int stt_subs_remove(stt_subs_t *s, stt_conn_t *conn)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->conns[i] == conn) {
            memmove(s->conns + i, s->conns + i + 1, (s->n - i - 1) * sizeof(*s->conns));
            s->n--;
            return 1;
        }
    }
    return 0;
}

size_t stt_subs_count(const stt_subs_t *s)
{
    return s->n;
}

/* Subscriber sockets: the WebSocket clients of `/v1/calls/{call_id}/events` (adapter
 * adapters/call_events.c), as one sink per call id that the registry (calls.c) adds to the sink
 * set of every call with that id. Each event goes to every subscriber as one text message (the
 * event's JSON). A subscriber whose unsent output would grow past its cap is closed with 1008
 * "subscriber too slow" and counted; the call never waits for it and is never affected.
 *
 * Threads: the loop thread only. Ownership: the sink is reference-counted (sink.h); the
 * registry holds one reference while the id is known, each live call of the id one more. The
 * subscriber connections are borrowed from their adapter, which removes them when their socket
 * is gone. */
#ifndef STT_SERVER_SINKS_SUBSCRIBE_H
#define STT_SERVER_SINKS_SUBSCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

struct stt_conn;
typedef struct stt_subs stt_subs_t;

/* A sink with no subscribers yet (one reference, the caller's). `max_queue_bytes`: the cap of
 * a subscriber's unsent output; `dropped`: where subscribers closed for it are counted
 * (borrowed for the sink's life). */
stt_subs_t *stt_subs_create(size_t max_queue_bytes, uint64_t *dropped);
stt_sink_t *stt_subs_sink(stt_subs_t *subs);

/* Adds a subscriber (the connection is borrowed until stt_subs_remove). */
void stt_subs_add(stt_subs_t *subs, struct stt_conn *conn);
/* Removes one; 1 when it was there, 0 when not. */
int stt_subs_remove(stt_subs_t *subs, struct stt_conn *conn);
size_t stt_subs_count(const stt_subs_t *subs);

#endif /* STT_SERVER_SINKS_SUBSCRIBE_H */

/* Admission: whether a new connection is accepted, decided before any WebSocket upgrade.
 * Loop thread. */
#ifndef STT_SERVER_ADMIT_H
#define STT_SERVER_ADMIT_H

#include "server.h"

typedef struct {
    stt_close_t why;   /* TRY_LATER (503), ... mapped per transport */
    int retry_after_s; /* the client's Retry-After */
    const char *code;  /* machine-readable: draining, engine_unavailable, overloaded, capacity */
    const char *message;
} stt_refusal_t;

/* 0: admit a connection for adapter `a` from `ip`; -1: refused (counted, logged, *r says how
 * to answer). Calls (adapters that count_as_call) face the draining, circuit breaker, load and
 * --max_sessions checks; HTTP requests (uploads) the draining and engine checks; other
 * connections (control, subscribers) are always admitted. */
int stt_admit(stt_server_t *srv, const stt_adapter_t *a, const char *ip, stt_refusal_t *r);

#endif /* STT_SERVER_ADMIT_H */

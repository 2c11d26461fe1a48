/* The server's loop-level state: the libwebsockets context, the recognizer, the connections and
 * the drain. Declares no function: each file of src/server has its own header, and this one
 * includes none of them, so the files that read this state (loop, router, admission,
 * housekeeping, monitor) form no include cycle.
 *
 * Threads: the loop thread only. */
#ifndef STT_SERVER_SERVER_H
#define STT_SERVER_SERVER_H

#include <stdint.h>

#include "adapter.h"
#include "conn.h"
#include "core/recognizer.h"

struct lws_context;

typedef struct stt_server {
    stt_config_t *cfg;
    struct lws_context *ctx;
    stt_recognizer_t *rec;
    stt_adapter_env_t adapter_env; /* what adapters get: cfg + recognizer + call registry */
    struct stt_calls *calls;       /* out-of-band results (sinks/calls.h), owned */
    stt_conn_env_t conn_env;       /* what connections get: cfg + metrics */
    stt_list_t conns;              /* every open connection (stt_conn_t) */
    int n_calls;                   /* connections whose adapter counts_as_call */
    int n_other;                   /* control connections and the like */
    int n_paced;                   /* open connections whose adapter has on_pace (uploads) */
    uint64_t next_conn_id;
    double started_s;
    double started_epoch;
    int draining;
    double drain_deadline_s;
    double ctl_close_s; /* when draining started closing non-call connections */
    int stop_loop;      /* 1 drained, 2 the model failed to load */
    double next_cleanup_s, next_consistency_s;
    int base_fds; /* fds open when the server became ready (listeners, pipes, logs) */
} stt_server_t;

#endif /* STT_SERVER_SERVER_H */

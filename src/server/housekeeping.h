/* Housekeeping of connections: stuck peers, idle timeout, maximum duration, the drain, and the
 * periodic consistency check (housekeeping.c). Loop thread. */
#ifndef STT_SERVER_HOUSEKEEPING_H
#define STT_SERVER_HOUSEKEEPING_H

#include "server.h"

/* Once a second: stuck peers are dropped, idle and over-age calls closed. */
void stt_housekeeping_cleanup(stt_server_t *srv, double now);

/* Every tick: the adapters' on_pace hooks of the open connections that have one. */
void stt_housekeeping_tick_adapters(stt_server_t *srv, double now);

/* Every --consistency_check_interval: counts, jobs, fds; hands heap back to the kernel. */
void stt_housekeeping_consistency(stt_server_t *srv, double now);

/* SIGTERM: stop admitting, let every call's current utterance end, close what is idle. */
void stt_housekeeping_begin_drain(stt_server_t *srv);

/* Every tick while draining; sets srv->stop_loop once everything is closed. */
void stt_housekeeping_drain_step(stt_server_t *srv, double now);

#endif /* STT_SERVER_HOUSEKEEPING_H */

/* Monitoring endpoints (monitor.c): /health, /livez, /readyz, /metrics. Loop thread. */
#ifndef STT_SERVER_MONITOR_H
#define STT_SERVER_MONITOR_H

#include "server.h"

struct lws_protocols;

/* The monitoring listener's protocol table (router.c creates the listener). */
extern const struct lws_protocols *const stt_monitor_protocols;

/* File descriptors this process has open (/proc/self/fd). */
int stt_open_fds(void);

#endif /* STT_SERVER_MONITOR_H */

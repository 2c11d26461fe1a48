/* The router: listeners and their path -> adapter tables (router.c). Loop thread. */
#ifndef STT_SERVER_ROUTER_H
#define STT_SERVER_ROUTER_H

#include "server.h"

/* Creates every listener of the configuration on srv->ctx. Returns 0, or -1 (logged). */
int stt_router_listen(stt_server_t *srv);

#endif /* STT_SERVER_ROUTER_H */

/* Transports and the server's close reasons, mapped per transport in one table. A header
 * shared by connections (conn.h) and adapters (adapter.h); the mapping functions live in
 * conn.c. Loop thread. */
#ifndef STT_SERVER_TRANSPORT_H
#define STT_SERVER_TRANSPORT_H

typedef enum { STT_TRANSPORT_WS = 0, STT_TRANSPORT_HTTP, STT_TRANSPORT_RAW } stt_transport_t;

/* Why the server ends (or refuses) a connection, and what each transport makes of it: a
 * WebSocket close code, an HTTP status (refusals carry Retry-After), or, on raw TCP, a hang-up.
 *      name          WS    HTTP  text */
#define STT_CLOSE_MAP(XX)                                                                        \
    XX(NORMAL, 1000, 200, "normal")                                                              \
    XX(GOING_AWAY, 1001, 503, "server shutting down")                                            \
    XX(BAD_INPUT, 1007, 400, "invalid payload")                                                  \
    XX(POLICY, 1008, 400, "policy violation")                                                    \
    XX(TOO_BIG, 1009, 413, "too large")                                                          \
    XX(UNAUTHORIZED, 1008, 401, "unauthorized")                                                  \
    XX(RATE_LIMITED, 1008, 429, "rate limited")                                                  \
    XX(TRY_LATER, 1013, 503, "try again later")

typedef enum {
#define STT_CLOSE_ENUM(name, ws, http, text) STT_CLOSE_##name,
    STT_CLOSE_MAP(STT_CLOSE_ENUM)
#undef STT_CLOSE_ENUM
} stt_close_t;

/* The close reason's WebSocket code, HTTP status and text (conn.c). */
int stt_close_ws_code(stt_close_t why);
int stt_close_http_status(stt_close_t why);
const char *stt_close_text(stt_close_t why);

#endif /* STT_SERVER_TRANSPORT_H */

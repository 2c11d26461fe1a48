/* The call-event subscriber WebSocket (`/v1/calls/{call_id}/events` on the data port): a client
 * that subscribes receives every event of every out-of-band call with that id (Twilio-family
 * callSid, AudioSocket UUID, ...), one JSON text message each, in the schema of
 * sinks/calls.h (docs/protocol.md, "Call events"). Subscribing before the call starts works;
 * after call_end the subscriber stays subscribed for a later call with the same id, until it
 * closes. The client sends nothing (its messages are logged and ignored). A path without a valid
 * call id is closed at once with 1008 and a reason naming the expected path. A subscriber that
 * does not read is dropped at once by the sink (stt_conn_drop), never the call.
 *
 * Threads: the loop thread only. Ownership: the state is freed in on_closed, after the
 * subscription was removed. */
#include "../adapter.h"
#include "../conn.h"
#include "../sinks/calls.h"

#include "stt/error.h"
#include "stt/log.h"

#include <stdlib.h>
#include <string.h>

#define PREFIX "/v1/calls/"
#define SUFFIX "/events"

typedef struct {
    const stt_adapter_env_t *env;
    stt_conn_t *conn;
    char call_id[STT_CALL_ID_MAX + 1];
    int subscribed;
} sub_t;

/* The call id of "/v1/calls/<id>/events" (an optional "?..." after it ignored) into id;
 * 0, or -1 when the path is not of that form. */
static int path_call_id(const char *path, char *id, size_t cap)
{
    size_t np = strlen(PREFIX), ns = strlen(SUFFIX);
    if (strncmp(path, PREFIX, np) != 0)
        return -1;
    const char *s = path + np;
    size_t len = strcspn(s, "?");
    if (len <= ns || strncmp(s + len - ns, SUFFIX, ns) != 0)
        return -1;
    size_t idn = len - ns;
    if (idn >= cap)
        return -1;
    memcpy(id, s, idn);
    id[idn] = '\0';
    return stt_call_id_valid(id) == 0 ? 0 : -1;
}

static int adapter_open(const stt_adapter_env_t *env, stt_conn_t *c, const stt_request_t *req,
                        void **state)
{
    sub_t *s = stt_calloc(1, sizeof(*s));
    s->env = env;
    s->conn = c;
    *state = s;
    stt_conn_set_accept(c, 0); /* subscribers only listen */
    stt_conn_set_max_message(c, 4096);
    if (!env->calls || path_call_id(req->path, s->call_id, sizeof(s->call_id)) != 0) {
        STT_WARN(0, "subscriber_bad_path", "%s asked for %.200s: not /v1/calls/{call_id}/events",
                 req->ip, req->path);
        stt_conn_close_code(c, 1008,
                            "expected /v1/calls/{call_id}/events with a printable call id of "
                            "1-128 characters");
        return 0;
    }
    stt_calls_subscribe(env->calls, s->call_id, c);
    s->subscribed = 1;
    STT_INFO(0, "subscriber_open", "%s subscribed to call %s", req->ip, s->call_id);
    return 0;
}

static int on_message(void *state, int binary, const uint8_t *buf, size_t len)
{
    return 0; /* not accepted (stt_conn_set_accept): never called */
}

static void adapter_closed(void *state)
{
    sub_t *s = state;
    if (s->subscribed) {
        stt_calls_unsubscribe(s->env->calls, s->call_id, s->conn);
        STT_INFO(0, "subscriber_closed", "a subscriber of call %s left", s->call_id);
    }
    free(s);
}

const stt_adapter_t stt_adapter_call_events = {
    .name = "call_events",
    .transport = STT_TRANSPORT_WS,
    .counts_as_call = 0,
    .open = adapter_open,
    .on_message = on_message,
    .on_closed = adapter_closed,
};

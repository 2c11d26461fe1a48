/* Admission (admit.h): draining, the engine's circuit breaker, measured load and the session cap,
 * checked at the filter stage so a refusal is an HTTP answer with Retry-After.
 *
 * Threads: the loop thread only. */
#include "admit.h"

#include "stt/clock.h"
#include "stt/log.h"

#include <math.h>

static int refused(stt_refusal_t *r, int retry_after_s, const char *code, const char *message)
{
    r->why = STT_CLOSE_TRY_LATER;
    r->retry_after_s = retry_after_s > 0 ? retry_after_s : 1;
    r->code = code;
    r->message = message;
    return -1;
}

int stt_admit(stt_server_t *srv, const stt_adapter_t *a, const char *ip, stt_refusal_t *r)
{
    stt_recognizer_t *rec = srv->rec;
    if (!a->counts_as_call && a->transport != STT_TRANSPORT_HTTP)
        return 0; /* control connections: accepted, closed with 1001 once the calls are gone */
    if (srv->draining) {
        rec->m.sessions_rejected_draining++;
        return refused(r, 5, "draining", "server is draining");
    }
    if (!a->counts_as_call) {
        /* HTTP requests (file uploads): refused while draining or while the engine is not up
         * (loading, circuit breaker open); their jobs are in the batch class, so measured load
         * does not refuse them, and they are capped by their adapter (--max_uploads), not by
         * --max_sessions. */
        if (!stt_recognizer_engine_up(rec)) {
            double wait = rec->breaker.state != STT_BREAKER_CLOSED
                              ? rec->breaker.retry_at_s - stt_now_s() : 1;
            return refused(r, (int)ceil(wait > 1 ? wait : 1), "engine_unavailable",
                           "the speech engine is not available");
        }
        return 0;
    }
    const char *why = stt_recognizer_refusal(rec, ip);
    if (why && rec->breaker.state != STT_BREAKER_CLOSED) { /* retry when the breaker may */
        double wait = rec->breaker.retry_at_s - stt_now_s();
        return refused(r, (int)ceil(wait > 1 ? wait : 1), "engine_unavailable", why);
    }
    if (why)
        return refused(r, 5, "overloaded", why);
    if (srv->n_calls >= srv->cfg->max_sessions) {
        rec->m.sessions_rejected_capacity++;
        STT_WARN(0, "session_rejected", "max_sessions %lld reached; refusing %s",
                 (long long)srv->cfg->max_sessions, ip);
        return refused(r, 5, "capacity", "server at capacity, try again later");
    }
    return 0;
}

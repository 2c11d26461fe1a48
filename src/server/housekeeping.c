/* Housekeeping (housekeeping.h): the policies that end connections the clients did not end
 * themselves, written once for every protocol in terms of a connection's streams.
 *
 * Threads: the loop thread only. */
#include "housekeeping.h"

#include "adapter.h"
#include "conn.h"
#include "monitor.h"

#include "stt/log.h"

#include <malloc.h>

#define DRAIN_NATURAL_S 3.0 /* how long SIGTERM lets utterances end by themselves */
#define MAX_DURATION_GRACE_S 30.0 /* --max_session_duration: the last final's allowance */
#define FD_SLACK 32 /* fds beyond listeners + sockets the consistency check tolerates */

/* 1 when every stream of the connection is idle (no recording, final or job). */
static int conn_idle(const stt_conn_t *c)
{
    size_t n;
    stt_stream_t *const *s = stt_conn_streams(c, &n);
    for (size_t i = 0; i < n; i++)
        if (!stt_stream_idle(s[i]))
            return 0;
    return 1;
}

static int conn_recording(const stt_conn_t *c)
{
    size_t n;
    stt_stream_t *const *s = stt_conn_streams(c, &n);
    for (size_t i = 0; i < n; i++)
        if (stt_stream_recording(s[i]))
            return 1;
    return 0;
}

/* Ends every stream's utterance now so its final is delivered; one shorter than
 * min_length_of_recording cannot be stopped and is discarded. */
static void conn_stop_recording(stt_conn_t *c)
{
    size_t n;
    stt_stream_t *const *s = stt_conn_streams(c, &n);
    for (size_t i = 0; i < n; i++)
        if (stt_stream_recording(s[i]) && stt_stream_finalize(s[i], 0) != 0)
            stt_stream_abort(s[i]);
}

static void conn_end_input(stt_conn_t *c, int after_current)
{
    size_t n;
    stt_stream_t *const *s = stt_conn_streams(c, &n);
    for (size_t i = 0; i < n; i++)
        stt_stream_end_input(s[i], after_current);
}

static void shutdown_conn(stt_conn_t *c, stt_close_t why)
{
    const stt_adapter_t *a = stt_conn_adapter(c);
    if (a->on_shutdown)
        a->on_shutdown(stt_conn_state(c), why);
}

/* --max_session_duration: past the limit, the recording ends so its final is delivered, later
 * audio is ignored, and the connection closes once idle (or after a grace). */
static void max_duration(stt_server_t *srv, stt_conn_t *c, double now)
{
    const stt_config_t *cfg = srv->cfg;
    double age = now - stt_conn_opened_s(c);
    if (cfg->max_session_duration <= 0 || age < cfg->max_session_duration)
        return;
    if (stt_conn_mark_shutdown(c, STT_CLOSE_NORMAL)) {
        shutdown_conn(c, STT_CLOSE_NORMAL);
        conn_end_input(c, 0);
        conn_stop_recording(c);
        STT_INFO(stt_conn_id(c), "max_duration",
                 "session reached %.0f s: closing after its last final",
                 cfg->max_session_duration);
    }
    if (conn_idle(c) || age > cfg->max_session_duration + MAX_DURATION_GRACE_S) {
        srv->rec->m.sessions_closed_max_duration++;
        stt_conn_close(c, STT_CLOSE_NORMAL, "maximum session duration reached");
    }
}

void stt_housekeeping_cleanup(stt_server_t *srv, double now)
{
    const stt_config_t *cfg = srv->cfg;
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &srv->conns) {
        stt_conn_t *c = stt_conn_of_node(n);
        if (stt_conn_check_stuck(c, now) || stt_conn_closing(c) || srv->draining)
            continue;
        const stt_adapter_t *a = stt_conn_adapter(c);
        if (!a->counts_as_call)
            continue;
        if (a->on_tick && stt_conn_state(c) && a->on_tick(stt_conn_state(c),
                                                          stt_conn_idle_s(c, now)))
            continue;
        if (cfg->idle_timeout > 0 && stt_conn_idle_s(c, now) > cfg->idle_timeout) {
            char why[80];
            snprintf(why, sizeof(why), "idle timeout: no audio for %.0f s", cfg->idle_timeout);
            srv->rec->m.sessions_closed_idle++;
            STT_INFO(stt_conn_id(c), "idle_timeout", "%s", why);
            stt_conn_close(c, STT_CLOSE_NORMAL, why);
            continue;
        }
        max_duration(srv, c, now);
    }
}

void stt_housekeeping_tick_adapters(stt_server_t *srv, double now)
{
    if (srv->n_paced == 0)
        return; /* the common case: no walk over thousands of calls every 50 ms */
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &srv->conns) {
        stt_conn_t *c = stt_conn_of_node(n);
        const stt_adapter_t *a = stt_conn_adapter(c);
        if (a->on_pace && !stt_conn_closing(c) && stt_conn_state(c))
            a->on_pace(stt_conn_state(c), now);
    }
}

void stt_housekeeping_consistency(stt_server_t *srv, double now)
{
    const stt_config_t *cfg = srv->cfg;
    if (cfg->consistency_check_interval <= 0 || now < srv->next_consistency_s ||
        !srv->rec->model)
        return;
    srv->next_consistency_s = now + cfg->consistency_check_interval;
    int bad = stt_recognizer_check(srv->rec), calls = 0, other = 0;
    stt_list_t *n;
    stt_list_foreach(n, &srv->conns) {
        if (stt_conn_adapter(stt_conn_of_node(n))->counts_as_call)
            calls++;
        else
            other++;
    }
    if (calls != srv->n_calls || other != srv->n_other) {
        STT_ERROR(0, "consistency", "connection list holds %d calls and %d other connections; "
                  "gauges say %d and %d", calls, other, srv->n_calls, srv->n_other);
        bad++;
    }
    int fds = stt_open_fds(), fd_limit = srv->base_fds + srv->n_calls + srv->n_other + FD_SLACK;
    if (srv->base_fds > 0 && fds > fd_limit) {
        STT_ERROR(0, "consistency", "%d fds open; expected at most %d (%d at start, %d "
                  "connections)", fds, fd_limit, srv->base_fds, srv->n_calls + srv->n_other);
        bad++;
    }
    srv->rec->m.consistency_errors += (uint64_t)bad;
    /* Hand freed heap pages back to the kernel: after a burst of calls glibc keeps them (RSS
     * stayed 20-40 % above its baseline after 1,000 short calls on the null engine), so
     * memory would only ever ratchet up to the busiest moment. */
    malloc_trim(0);
}

void stt_housekeeping_begin_drain(stt_server_t *srv)
{
    srv->draining = 1;
    srv->drain_deadline_s = stt_now_s() + srv->cfg->drain_timeout;
    STT_INFO(0, "drain", "[PRODUCTION] SIGTERM: draining %d sessions (deadline %.0f s)",
             srv->n_calls, srv->cfg->drain_timeout);
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &srv->conns) {
        stt_conn_t *c = stt_conn_of_node(n);
        if (!stt_conn_adapter(c)->counts_as_call)
            continue;
        if (stt_conn_mark_shutdown(c, STT_CLOSE_GOING_AWAY))
            shutdown_conn(c, STT_CLOSE_GOING_AWAY);
        conn_end_input(c, 1);
        if (conn_idle(c) && !conn_recording(c))
            stt_conn_close(c, STT_CLOSE_GOING_AWAY, "server shutting down");
    }
}

void stt_housekeeping_drain_step(stt_server_t *srv, double now)
{
    double started = srv->drain_deadline_s - srv->cfg->drain_timeout;
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &srv->conns) {
        stt_conn_t *c = stt_conn_of_node(n);
        if (stt_conn_closing(c) || !stt_conn_adapter(c)->counts_as_call)
            continue;
        if (now >= srv->drain_deadline_s) {
            stt_conn_close(c, STT_CLOSE_GOING_AWAY, "server shutting down");
        } else if (now - started >= DRAIN_NATURAL_S && conn_recording(c)) {
            /* The utterance did not end by itself: end it now so its final is delivered. */
            conn_stop_recording(c);
        } else if (conn_idle(c)) {
            stt_conn_close(c, STT_CLOSE_GOING_AWAY, "server shutting down");
        }
    }
    /* Non-call connections close once no call is left, and no stream of a call that hung up
     * is still finishing: its last final and call_end still go to the call's subscribers. */
    if (srv->n_calls == 0 && (srv->rec->n_streams == 0 || now >= srv->drain_deadline_s)) {
        if (srv->ctl_close_s == 0)
            srv->ctl_close_s = now;
        stt_list_foreach_safe(n, nx, &srv->conns) {
            stt_conn_t *c = stt_conn_of_node(n);
            if (!stt_conn_closing(c))
                stt_conn_close(c, STT_CLOSE_GOING_AWAY, "server shutting down");
        }
    }
    /* Control peers that do not answer the close handshake get 1 s, not lws' own timeout.
     * Streams of calls that hung up (out-of-band results, stt_stream_finish) still finish. */
    if (srv->n_calls == 0 && srv->rec->n_streams == 0 &&
        (srv->n_other == 0 || now - srv->ctl_close_s >= 1.0))
        srv->stop_loop = 1;
    if (now >= srv->drain_deadline_s + 2.0)
        srv->stop_loop = 1; /* sockets that ignore the close handshake */
}

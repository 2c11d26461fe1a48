/* The network loop: the libwebsockets context (on poll or libev), the 50 ms tick, signals, the
 * SIGTERM drain and the server's lifecycle.
 *
 * Threads: one loop thread runs every callback and owns every connection, stream and timer.
 * Engine workers and the model loader only push finished work and call lws_cancel_service(),
 * which makes the loop run LWS_CALLBACK_EVENT_WAIT_CANCELLED (router.c), where jobs go back to
 * their submitters. Nothing here blocks, sleeps or runs inference. */
#include "loop.h"

#include "housekeeping.h"
#include "monitor.h"
#include "router.h"
#include "server.h"
#include "sinks/calls.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/log.h"

#include <ev.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_US (50 * LWS_US_PER_MS)

static volatile sig_atomic_t g_signal;

static void on_lws_signal(void *loop, int sig)
{
    g_signal = sig;
}

static void on_signal(int sig)
{
    g_signal = sig;
}

/* Workers and the loader: wake the loop (EVENT_WAIT_CANCELLED). Any thread. */
static void wakeup_loop(void *data)
{
    stt_server_t *srv = data;
    lws_cancel_service(srv->ctx);
}

typedef struct {
    lws_sorted_usec_list_t sul;
    stt_server_t *srv;
} tick_t;

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    tick_t *t = lws_container_of(sul, tick_t, sul);
    stt_server_t *srv = t->srv;
    double now = stt_now_s();
    stt_rec_news_t news = stt_recognizer_tick(srv->rec, now);
    if (news == STT_REC_READY) {
        srv->base_fds = stt_open_fds();
        srv->next_consistency_s = now + srv->cfg->consistency_check_interval;
        STT_INFO(0, "ready", "[PRODUCTION] Server ready (start to ready %.2f s)",
                 now - srv->started_s);
    } else if (news == STT_REC_LOAD_FAILED) {
        STT_ERROR(0, "model_failed", "%s", srv->rec->model_error);
        srv->stop_loop = 2;
    }
    if (srv->rec->model) {
        if (now >= srv->next_cleanup_s) {
            srv->next_cleanup_s = now + 1.0;
            stt_housekeeping_cleanup(srv, now);
        }
        stt_housekeeping_consistency(srv, now);
        stt_housekeeping_tick_adapters(srv, now);
    }
    if (g_signal && !srv->draining)
        stt_housekeeping_begin_drain(srv);
    if (srv->draining)
        stt_housekeeping_drain_step(srv, now);
    lws_sul_schedule(srv->ctx, 0, sul, tick_cb, TICK_US);
}

int stt_server_run(stt_config_t *cfg, const stt_engine_vtable_t *engine, int workers,
                   const stt_silero_model_t *vad_model)
{
    stt_server_t *srv = stt_calloc(1, sizeof(*srv));
    struct ev_loop *evl = NULL; /* --event_loop libev */
    int rc = 1;
    srv->cfg = cfg;
    srv->started_s = stt_now_s();
    srv->started_epoch = (double)time(NULL);
    stt_list_init(&srv->conns);
    /* Before any port opens: a wrong --webhook_* option (logged, one line) exits 2. */
    srv->calls = stt_calls_create(cfg);
    if (!srv->calls) {
        free(srv);
        return 2;
    }

    lws_set_log_level(
        cfg->debug_websockets ? (LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO) : LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = srv;
    info.count_threads = 1;
    info.fd_limit_per_thread = 0;
    void *foreign[1];
    if (strcmp(cfg->event_loop, "libev") == 0) {
        /* lws on our libev loop (epoll), run one iteration at a time like lws_service(). */
        evl = ev_loop_new(EVFLAG_AUTO);
        if (!evl) {
            STT_ERROR(0, "event_loop", "cannot create the libev loop");
            goto fail_ctx;
        }
        foreign[0] = evl;
        info.foreign_loops = foreign;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.signal_cb = on_lws_signal;
    }
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        STT_ERROR(0, "lws", "cannot create the websocket context");
        goto fail_ctx;
    }
    if (stt_router_listen(srv) != 0)
        goto fail_vhost;

    srv->rec = stt_recognizer_create(cfg, engine, workers, wakeup_loop, srv);
    srv->rec->vad_model = vad_model;
    srv->adapter_env = (stt_adapter_env_t){.cfg = cfg, .rec = srv->rec, .calls = srv->calls};
    srv->conn_env = (stt_conn_env_t){.cfg = cfg, .m = &srv->rec->m};

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *h = cfg->host && cfg->host[0] ? cfg->host : "0.0.0.0";
    STT_INFO(0, "start",
             "[PRODUCTION] stt-server %s starting: control ws://%s:%lld data ws://%s:%lld "
             "monitoring http://%s:%lld engine=%s workers=%d",
             STT_VERSION, h, (long long)cfg->control_port, h, (long long)cfg->data_port, h,
             (long long)cfg->monitor_port, engine->name, workers);

    tick_t tick = {.srv = srv};
    lws_sul_schedule(srv->ctx, 0, &tick.sul, tick_cb, TICK_US);
    while (!srv->stop_loop) {
        if (evl)
            ev_run(evl, EVRUN_ONCE);
        else if (lws_service(srv->ctx, 0) < 0)
            break;
        stt_pool_flush(srv->rec->pool); /* the jobs this pass submitted, handed over together */
    }

    rc = srv->stop_loop == 2 ? 1 : 0;
    lws_sul_cancel(&tick.sul);
    /* Workers must stop waking the loop before the context goes (a wakeup on a destroyed
     * context crashed a shutdown under overload). Destroying the context closes every socket
     * (CLOSED callbacks close the streams); then the recognizer cancels what is queued, stops
     * the workers and hands everything back. */
    stt_recognizer_cut_finishing(srv->rec); /* hung-up calls whose finals are still out */
    stt_recognizer_quiesce(srv->rec);
    lws_context_destroy(srv->ctx);
    srv->ctx = NULL;
    stt_recognizer_destroy(srv->rec);
    /* After the streams: the last calls ended (call_end queued) when their streams closed. The
     * webhook sender gets --webhook_timeout to deliver what is in flight. */
    stt_calls_destroy(srv->calls);
    STT_INFO(0, "stop", "[PRODUCTION] stt-server stopped (exit %d)", rc);
    if (evl)
        ev_loop_destroy(evl);
    free(srv);
    return rc;

fail_vhost:
    lws_context_destroy(srv->ctx);
fail_ctx:
    if (evl)
        ev_loop_destroy(evl);
    stt_calls_destroy(srv->calls);
    free(srv);
    return 1;
}

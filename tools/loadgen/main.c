/* stt-loadgen: opens N concurrent simulated calls against an stt-server data WebSocket (or, for
 * AudioSocket, its raw TCP port), in the protocol of a client codec (--protocol: RealtimeSTT by
 * default, spec section 3; vosk, twilio, jambonz, audiofork, audiosocket), and
 * measures what the capacity benchmarks need: connect failures and close codes, send lateness,
 * time to the first partial, partial cadence, final latency, missing finals, and the server's
 * RSS and CPU. loadgen.h says which file does what.
 *
 * This file: setup, the run and teardown. Threading: one thread. Everything after setup runs on
 * the libwebsockets event loop and nothing in it sleeps. Every call sends frame k at t_start +
 * k * frame_ms on CLOCK_MONOTONIC; one timer (wheel.c) drives the tick below, which starts the
 * connections on the ramp, wakes the calls whose frame is due, samples the server and ends the
 * test. Ownership: see loadgen.h.
 *
 * Exit codes: 0 the test ran (problems it measured are in the report), 1 setup failure or no
 * connection could be made at all, 2 usage error, 130 interrupted.
 */
#include <errno.h>
#include <ev.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/opts.h"
#include "loadgen.h"
#include "stt/error.h"
#include "stt/log.h"

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static const struct lws_protocols protocols[] = {
    /* A 4 KiB receive buffer per connection: lws allocates it for every open connection, and
     * the events are small; bigger messages arrive in fragments and are assembled. */
    {"stt-loadgen", lg_calls_callback, 0, 4096, 0, NULL, 0},
    {"stt-loadgen-timer", lg_wheel_timer_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the tick ----------------------------------------------------------------------------- */

static int64_t call_connect_at(const loadgen_t *g, int i)
{
    if (g->o.calls <= 1)
        return g->epoch_us;
    return g->epoch_us + (int64_t)(g->o.ramp_s * 1e6 * i / g->o.calls);
}

static void begin_stop(loadgen_t *g, int64_t now)
{
    if (g->stopping)
        return;
    g->stopping = 1;
    g->stopped_us = now;
    if (now < g->deadline_us)
        g->deadline_us = now; /* interrupted: the test ends here */
    g->hard_end_us = now + CLOSE_GRACE_US;
    for (int i = 0; i < g->o.calls; i++)
        lg_calls_stop(g, &g->calls[i], g->deadline_us);
    lg_sample_server(g);
}

static void progress(loadgen_t *g, int64_t now)
{
    if (g->o.quiet)
        return;
    fprintf(stderr,
            "stt-loadgen: t=%5.1fs open=%d connecting=%d failed=%u dropped=%u frames=%llu "
            "late>100ms=%llu realtime=%llu finals=%llu\n",
            (double)(now - g->epoch_us) / 1e6, g->n_open, g->n_connecting, g->connect_failed,
            g->dropped_by_server, (unsigned long long)g->frames_sent,
            (unsigned long long)g->frames_late, (unsigned long long)g->ev_realtime,
            (unsigned long long)g->ev_full);
}

void lg_tick(loadgen_t *g)
{
    int64_t now = stt_tool_now_us();
    g->tick_at_us = INT64_MAX;

    if (g_interrupted && !g->stopping)
        begin_stop(g, now);
    if (!g->stopping && now >= g->deadline_us)
        begin_stop(g, now);
    if (g->stopping) {
        if ((g->n_open == 0 && g->n_connecting == 0) || now >= g->hard_end_us) {
            g->done = 1;
            lws_cancel_service(g->ctx);
            return;
        }
        lg_wheel_arm_tick(g, now + 10000);
        return;
    }

    while (g->next_connect < g->o.calls && call_connect_at(g, g->next_connect) <= now)
        lg_calls_connect(g, &g->calls[g->next_connect++]);
    lg_wheel_advance(g, lg_wheel_ms(g, now));
    if (now >= g->next_sample_us) {
        lg_sample_server(g);
        g->next_sample_us += SAMPLE_US;
    }
    if (now >= g->next_progress_us) {
        progress(g, now);
        g->next_progress_us += PROGRESS_US;
    }

    /* Next wakeup: the earliest of the next non-empty wheel slot, connect, sample, deadline. */
    int64_t next = g->deadline_us;
    if (g->next_sample_us < next)
        next = g->next_sample_us;
    if (g->next_progress_us < next)
        next = g->next_progress_us;
    if (g->next_connect < g->o.calls && call_connect_at(g, g->next_connect) < next)
        next = call_connect_at(g, g->next_connect);
    int64_t slot = lg_wheel_next_us(g, g->o.frame_ms + 2);
    if (slot < next)
        next = slot;
    lg_wheel_arm_tick(g, next);
}

/* ---- setup and teardown ------------------------------------------------------------------- */

/* Raises the open-file limit to the hard limit; returns the soft limit now in force. */
static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

/* The audio every call plays and the transmit buffer; 0, or < 0 after printing. */
static int prepare_audio(loadgen_t *g)
{
    g->frame_samples = (size_t)g->o.rate_hz * (size_t)g->o.frame_ms / 1000;
    g->frame_us = (int64_t)g->o.frame_ms * 1000;
    /* One buffer for every message a call sends: frames, and the codec's text messages. */
    size_t msg = OPENING_MAX_BYTES; /* also the most an end-of-stream message may take */
    if (!g->o.idle) {
        size_t frame = g->o.proto->audio_max_bytes(&g->params, g->frame_samples);
        if (frame == 0) {
            fprintf(stderr, "stt-loadgen: --protocol %s cannot carry %d Hz in %d ms frames\n",
                    g->o.proto->name, g->o.rate_hz, g->o.frame_ms);
            return STT_EINVAL;
        }
        msg = frame > msg ? frame : msg;
    }
    g->txcap = LWS_PRE + msg;
    g->tx = stt_malloc(g->txcap);
    if (g->o.idle)
        return 0;
    int rc = lg_pcm_load(g);
    if (rc < 0)
        return rc;
    /* Speech is the file; the gap makes it R of each cycle, but never so short that the
     * server would merge two utterances into one. */
    double file_s = (double)g->speech_frames * (double)g->frame_us / 1e6;
    double gap_s = g->o.talk_ratio > 0 ? file_s * (1.0 - g->o.talk_ratio) / g->o.talk_ratio
                                       : g->o.duration_s + file_s;
    if (gap_s < (double)MIN_GAP_US / 1e6)
        gap_s = (double)MIN_GAP_US / 1e6;
    g->gap_frames = (int64_t)ceil(gap_s * 1e6 / (double)g->frame_us);
    g->cycle_frames = g->speech_frames + g->gap_frames;
    g->silence = stt_calloc(g->frame_samples, sizeof(int16_t));
    return 0;
}

static void announce(const loadgen_t *g)
{
    if (g->o.quiet)
        return;
    const char *proto = g->o.proto != stt_client_proto_default() ? g->o.proto->name : "";
    const char *sep = *proto ? " " : "";
    if (g->o.idle)
        fprintf(stderr, "stt-loadgen: %d idle %s%scalls to %s for %.1f s (ramp %.1f s)\n",
                g->o.calls, proto, sep, g->o.url, g->o.duration_s, g->o.ramp_s);
    else
        fprintf(stderr,
                "stt-loadgen: %d %s%scalls to %s for %.1f s (ramp %.1f s); %.2f s file (speech "
                "%.2f..%.2f s) + %.2f s silence, %d ms frames at %d Hz\n",
                g->o.calls, proto, sep, g->o.url, g->o.duration_s, g->o.ramp_s, g->file_s,
                (double)g->onset_us / 1e6, (double)g->end_us / 1e6,
                (double)(g->gap_frames * g->frame_us) / 1e6, g->o.frame_ms, g->o.rate_hz);
}

/* Runs the loop until the tick says the test is done; returns the elapsed time in seconds. */
static double run(loadgen_t *g)
{
    getrusage(RUSAGE_SELF, &g->ru_start);
    g->epoch_us = stt_tool_now_us();
    g->deadline_us = g->epoch_us + (int64_t)(g->o.duration_s * 1e6);
    g->hard_end_us = g->deadline_us + CLOSE_GRACE_US;
    g->next_sample_us = g->epoch_us;
    g->next_progress_us = g->epoch_us + PROGRESS_US;
    g->wheel_pos_ms = -1;
    lg_sample_server(g);
    lg_wheel_arm_tick(g, g->epoch_us);

    while (!g->done) {
        if (stt_tool_lws_service(g->ctx, g->evl) < 0)
            break;
        /* A signal interrupts poll(); the tick turns it into an orderly stop. */
        if (g_interrupted && !g->stopping)
            lg_wheel_arm_tick(g, stt_tool_now_us());
        if (stt_tool_now_us() > g->hard_end_us + CLOSE_GRACE_US)
            break; /* the hard bound holds even if the tick could not run */
    }
    return (double)(g->stopped_us ? g->stopped_us - g->epoch_us : stt_tool_now_us() - g->epoch_us) /
           1e6;
}

int main(int argc, char **argv)
{
    static loadgen_t g; /* the wheel and histograms are ~100 KiB: keep them off the stack */
    g.o = (lg_opts_t){
        .url = DEFAULT_URL,
        .proto = stt_client_proto_default(),
        .calls = 10,
        .duration_s = 30,
        .ramp_s = 5,
        .drain_s = -1,
        .wav = DEFAULT_WAV,
        .talk_ratio = 0.4,
        .frame_ms = 20,
    };
    int result = EXIT_FAIL;
    int rc = lg_args_parse(argc, argv, &g.o);
    if (rc == STT_TOOL_OPTS_HELP) {
        lg_args_usage(stdout);
        lg_args_dispose(&g.o);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "Try 'stt-loadgen --help'.\n");
        lg_args_dispose(&g.o);
        return EXIT_USAGE;
    }
    g.params.rate_hz = g.o.rate_hz;
    g.params.api_key = g.o.api_key;
    /* Plain ws:// (or tcp://) only: the context below is created without TLS. */
    if (stt_client_proto_target(&g.target, g.o.proto, &g.params, g.o.url, NULL) < 0 ||
        g.target.tls) {
        fprintf(stderr, "stt-loadgen: bad URL '%s' (expected %s)\n", g.o.url,
                g.o.proto->transport == STT_CLIENT_TRANSPORT_TCP ? "tcp://HOST:PORT"
                                                                 : "ws://HOST:PORT/PATH");
        result = EXIT_USAGE;
        goto fail_target;
    }
    if (prepare_audio(&g) < 0) {
        result = EXIT_USAGE;
        goto fail_audio;
    }
    if (g.o.ramp_s >= g.o.duration_s && g.o.calls > 1)
        fprintf(stderr,
                "stt-loadgen: warning: --ramp %.1f s is not shorter than --duration %.1f s; "
                "only the calls whose start falls inside the test are opened\n",
                g.o.ramp_s, g.o.duration_s);
    double drain_s = g.o.drain_s >= 0 ? g.o.drain_s : fmin(5.0, g.o.duration_s / 4);
    g.drain_us = (int64_t)(drain_s * 1e6);

    rlim_t nofile = raise_nofile();
    if ((rlim_t)g.o.calls + 32 > nofile)
        fprintf(stderr,
                "stt-loadgen: warning: %d calls but only %llu file descriptors (raise the hard "
                "limit: ulimit -Hn)\n",
                g.o.calls, (unsigned long long)nofile);

    stt_tool_signals_install(on_sigint);

    lws_set_log_level(g.o.quiet ? 0 : LLL_ERR, NULL);
    g.evl = g.o.libev_loop ? ev_loop_new(EVFLAG_AUTO) : NULL;
    g.ctx = stt_tool_lws_context_create(
        protocols, &g, (unsigned)(nofile > 0x7fffffff ? 0x7fffffff : nofile), 0, g.evl);
    if (!g.ctx) {
        fprintf(stderr, "stt-loadgen: cannot create the libwebsockets context\n");
        goto fail_ctx;
    }
    if (lg_wheel_timer_create(&g) < 0)
        goto fail_timer;

    g.calls = stt_calloc((size_t)g.o.calls, sizeof(lg_call_t));
    for (int i = 0; i < g.o.calls; i++) {
        g.calls[i].idx = i;
        g.calls[i].wdue_ms = -1;
        g.calls[i].rt_utt = -1;
    }
    announce(&g);

    double elapsed_s = run(&g);
    struct rusage ru_end;
    getrusage(RUSAGE_SELF, &ru_end);

    cJSON *r = lg_report_json(&g, elapsed_s, &ru_end);
    lg_report_table(&g, r);
    int wrc = lg_report_write(&g, r);
    cJSON_Delete(r);
    if (g_interrupted)
        result = EXIT_INTERRUPTED;
    else if (wrc < 0 || g.established == 0)
        result = EXIT_FAIL;
    else
        result = EXIT_OK;

    /* Calls still open are closed by the context; their callbacks still find the calls, and
     * must not count these closes as the server's. */
    g.stopping = 1;
    lws_context_destroy(g.ctx);
    for (int i = 0; i < g.o.calls; i++)
        stt_tool_rx_dispose(&g.calls[i].rx);
    free(g.calls);
    goto done;
fail_timer:
    lws_context_destroy(g.ctx);
fail_ctx:
done:
    if (g.evl)
        ev_loop_destroy(g.evl);
fail_audio:
    free(g.silence);
    free(g.speech);
    free(g.tx);
fail_target:
    stt_tool_target_dispose(&g.target);
    lg_args_dispose(&g.o);
    return result;
}

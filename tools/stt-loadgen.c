/* stt-loadgen: opens N concurrent simulated calls against an stt-server data WebSocket
 * (RealtimeSTT data protocol, spec section 3) and measures what the capacity benchmarks need:
 * connect failures and close codes, send lateness, time to the first partial, partial cadence,
 * final latency, missing finals, and the server's RSS and CPU.
 *
 * Threading: one thread. Everything after setup runs on the libwebsockets event loop and nothing
 * in it sleeps. Every call sends frame k at t_start + k * frame_ms on CLOCK_MONOTONIC. One timer
 * drives a 1 ms timer wheel that holds each call at the slot of its next frame: lws keeps its
 * own timers (lws_sul) in one sorted list, so a per-call timer rescheduled 50 times a second
 * costs O(calls) per insertion, which thousands of calls cannot afford. That one timer is a
 * timerfd adopted into the lws loop rather than an lws_sul: lws 4.1 turns the time to its next
 * sul into a poll() timeout in whole milliseconds rounded down and then polls with timeout 0
 * until the sul is due, so a tick every millisecond or two kept the loop spinning and the
 * generator burnt the CPU the server under test needed (measured: 0.77 cores for 200 calls).
 *
 * No coordinated omission: lateness is measured from each frame's scheduled time. A call whose
 * socket was not writeable catches up one frame per writeable callback, and frames still unsent
 * at the end count with their lateness at the end of the test.
 *
 * Ownership: main() owns the lws context and the one loadgen_t, which owns every call_t (one
 * array), the shared read-only PCM (the speech file at the send rate, padded to whole frames), a
 * shared block of silence and the one transmit buffer (single thread, and lws_write copies what
 * the socket does not take). A call owns only a receive buffer, and only while a fragmented
 * message is being assembled.
 *
 * Exit codes: 0 the test ran (problems it measured are in the report), 1 setup failure or no
 * connection could be made at all, 2 usage error, 130 interrupted.
 */
#include <cJSON.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/client_util.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/resample.h"
#include "stt/rtstt_frame.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_INTERRUPTED = 130,
};

#define DEFAULT_URL "ws://127.0.0.1:8012/"
#define DEFAULT_WAV                                                                                \
    "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
#define MAX_MESSAGE_BYTES 65536 /* events we measure are small; bigger ones are skipped */
#define LATE_US 100000          /* a frame this late counts as late */
#define MIN_GAP_US 1500000      /* silence between utterances: > the server's 0.86 s endpoint */
#define CLOSE_GRACE_US 2000000  /* after the test, wait this long for closes to complete */
#define SAMPLE_US 250000        /* server /proc sampling period */
#define PROGRESS_US 5000000
#define WHEEL_SLOTS 4096 /* 1 ms slots; > frame_ms + any loop stall we tolerate */
#define MAX_SOURCES 254
#define MAX_CLOSE_CODES 16
#define SPEECH_THRESHOLD_DB (-24.0) /* frame RMS relative to the loudest frame */


/* ---- histogram ----------------------------------------------------------------------------
 * Log-linear, values in microseconds: exact below 64 us, then 32 buckets per power of two
 * (about 3 % resolution). Shared by all calls so memory does not grow with the call count. */

#define HIST_BUCKETS (64 + 40 * 32)

typedef struct {
    uint64_t n;
    int64_t max_us;
    double sum_us;
    uint64_t b[HIST_BUCKETS];
} hist_t;

static int hist_index(uint64_t v)
{
    if (v < 64)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 5; /* v >> shift lies in [32, 64) */
    int idx = 64 + (shift - 1) * 32 + (int)((v >> shift) - 32);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_bucket_mid(int idx)
{
    if (idx < 64)
        return (uint64_t)idx;
    int shift = (idx - 64) / 32 + 1;
    uint64_t lo = (uint64_t)((idx - 64) % 32 + 32) << shift;
    return lo + ((1ull << shift) >> 1);
}

static void hist_add(hist_t *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->n++;
    h->sum_us += (double)us;
    if (us > h->max_us)
        h->max_us = us;
    h->b[hist_index((uint64_t)us)]++;
}

/* Value at quantile q (0..1) in microseconds; 0 for an empty histogram. */
static int64_t hist_quantile(const hist_t *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            int64_t v = (int64_t)hist_bucket_mid(i);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

/* ---- state -------------------------------------------------------------------------------- */

typedef struct {
    const char *url;
    int calls;
    double duration_s;
    double ramp_s;
    double drain_s; /* < 0: min(5, duration / 4) */
    const char *wav;
    double talk_ratio;
    int frame_ms;
    int rate_hz;
    int idle;
    char *sources[MAX_SOURCES];
    int n_sources;
    const char *json_path;
    long server_pid;
    int quiet;
    int libev_loop; /* --event-loop libev */
} opts_t;

enum { CALL_PENDING, CALL_CONNECTING, CALL_OPEN, CALL_CLOSED, CALL_FAILED };

typedef struct call call_t;
struct call {
    int idx;
    int state;
    int closing; /* send a close frame from the next writeable callback */
    struct lws *wsi;

    call_t *wnext; /* timer wheel slot list */
    call_t *wprev;
    int64_t wdue_ms; /* -1: not in the wheel */

    int64_t connect_us;
    int64_t established_us;
    int64_t t_start_us; /* scheduled time of frame 0, a whole ms after the epoch */
    uint64_t next_frame;
    int64_t offset_frames; /* silence before the first utterance: staggers the talk phases */
    int u_planned;         /* utterances that end early enough to expect their final */
    int u_started;         /* utterances whose first frame was sent */
    int u_sent;            /* utterances whose last frame was sent */
    int u_final;           /* utterances that got their final (in order) */
    int rt_utt;            /* utterance of the last realtime event; -1 none */
    int64_t last_rt_us;
    int peer_close_code;

    stt_tool_rx_t rx; /* holds memory only while a fragmented message is assembled */
};

typedef struct {
    int code;
    char reason[64];
    unsigned count;
} code_count_t;

typedef struct {
    int64_t rss_start_kb, rss_end_kb, rss_peak_kb, hwm_end_kb;
    double cpu_start_s, cpu_end_s;
    int ok;
} server_stats_t;

typedef struct {
    opts_t o;
    struct lws_context *ctx;
    struct ev_loop *evl; /* NULL: lws's poll() loop */
    stt_tool_target_t target;

    int16_t *speech; /* the speech file at the send rate, padded to whole frames */
    int16_t *silence;
    size_t frame_samples;
    int64_t frame_us;
    int64_t speech_frames;
    int64_t gap_frames;
    int64_t cycle_frames;
    int64_t onset_us; /* first voiced frame, from the start of the file */
    int64_t end_us;   /* end of the last voiced frame */
    double file_s;
    uint8_t *tx;
    size_t txcap;

    call_t *calls;
    int next_connect;
    int n_connecting;
    int n_open;

    int tfd; /* timerfd for the tick, owned by its adopted lws wsi once adopted */
    int64_t tick_at_us;
    int64_t epoch_us;
    int64_t deadline_us;
    int64_t drain_us;
    int64_t hard_end_us;
    int64_t next_sample_us;
    int64_t next_progress_us;
    int64_t wheel_pos_ms;
    call_t *wheel[WHEEL_SLOTS];
    int stopping;
    int done;
    int64_t stopped_us;

    /* results */
    hist_t h_connect, h_late, h_ttfr, h_cadence, h_final;
    uint64_t frames_sent, frames_late, frames_unsent, bytes_sent;
    uint64_t ev_realtime, ev_full, ev_other, ev_unparsed, ev_oversize;
    uint64_t finals_early, finals_unexpected, realtime_stale;
    unsigned connect_failed, established, dropped_by_server, rejected, write_errors;
    char first_connect_error[160];
    code_count_t close_codes[MAX_CLOSE_CODES];
    int n_close_codes;
    server_stats_t srv;
    struct rusage ru_start;
} loadgen_t;

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* ---- speech source ------------------------------------------------------------------------ */

/* Loads the file as mono int16 at rate_hz, padded with zeros to whole frames, and finds where
 * the speech in it starts and ends. */
static int pcm_load(loadgen_t *g)
{
    SF_INFO info;
    SNDFILE *sf = stt_tool_sf_open("stt-loadgen", g->o.wav, &info);
    if (!sf)
        return STT_EIO;
    if (info.channels < 1 || info.samplerate < 1 || info.frames < 1) {
        fprintf(stderr, "stt-loadgen: %s: no audio\n", g->o.wav);
        sf_close(sf);
        return STT_EUNSUPPORTED;
    }
    size_t n_in = (size_t)info.frames;
    float *f = stt_malloc(n_in * (size_t)info.channels * sizeof(float));
    sf_count_t got = sf_readf_float(sf, f, info.frames);
    sf_close(sf);
    if (got <= 0) {
        fprintf(stderr, "stt-loadgen: %s: read error\n", g->o.wav);
        free(f);
        return STT_EIO;
    }
    n_in = (size_t)got;
    int16_t *mono = stt_malloc(n_in * sizeof(int16_t));
    stt_tool_mix_to_mono(f, n_in, info.channels, mono);
    free(f);

    int16_t *pcm = mono;
    size_t n = n_in;
    if (info.samplerate != g->o.rate_hz) {
        stt_resampler_t *rs =
            stt_resampler_create(info.samplerate, g->o.rate_hz, STT_RESAMPLE_QUALITY_DEFAULT);
        if (!rs) {
            fprintf(stderr, "stt-loadgen: cannot resample %d Hz to %d Hz\n", info.samplerate,
                    g->o.rate_hz);
            free(mono);
            return STT_EUNSUPPORTED;
        }
        /* A tenth of a second of zeros flushes the filter delay out with the speech. */
        size_t flush = (size_t)info.samplerate / 10;
        size_t total_in = n_in + flush;
        uint8_t *le = stt_calloc(total_in, 2);
        stt_tool_s16_to_le(mono, n_in, le);
        size_t cap = stt_resampler_max_output(rs, total_in);
        pcm = stt_malloc(cap * sizeof(int16_t));
        int rc = stt_resampler_process(rs, le, total_in, pcm, cap, &n);
        stt_resampler_destroy(rs);
        free(le);
        free(mono);
        if (rc < 0 || n == 0) {
            fprintf(stderr, "stt-loadgen: resampling failed: %s\n", stt_strerror(rc));
            free(pcm);
            return rc < 0 ? rc : STT_EIO;
        }
    }

    size_t fs = g->frame_samples;
    g->speech_frames = (int64_t)((n + fs - 1) / fs);
    g->speech = stt_calloc((size_t)g->speech_frames * fs, sizeof(int16_t));
    memcpy(g->speech, pcm, n * sizeof(int16_t));
    free(pcm);
    g->file_s = (double)n / g->o.rate_hz;

    /* Speech onset and end by frame energy against the loudest frame: the measurements start
     * from the speech, not from the file's leading or trailing room noise. */
    double peak = 0;
    double *rms = stt_malloc((size_t)g->speech_frames * sizeof(double));
    for (int64_t k = 0; k < g->speech_frames; k++) {
        double acc = 0;
        for (size_t i = 0; i < fs; i++) {
            double x = g->speech[(size_t)k * fs + i];
            acc += x * x;
        }
        rms[k] = sqrt(acc / (double)fs);
        if (rms[k] > peak)
            peak = rms[k];
    }
    double thr = peak * pow(10.0, SPEECH_THRESHOLD_DB / 20.0);
    int64_t first = -1, last = -1;
    for (int64_t k = 0; k < g->speech_frames; k++) {
        if (rms[k] >= thr && rms[k] > 0) {
            if (first < 0)
                first = k;
            last = k;
        }
    }
    free(rms);
    if (first < 0) {
        fprintf(stderr, "stt-loadgen: %s: no speech found (all silence)\n", g->o.wav);
        return STT_EINVAL;
    }
    g->onset_us = first * g->frame_us;
    g->end_us = (last + 1) * g->frame_us;
    return 0;
}

/* ---- timer wheel -------------------------------------------------------------------------- */

static void tick(loadgen_t *g);

static int64_t to_ms(const loadgen_t *g, int64_t t_us)
{
    return (t_us - g->epoch_us) / 1000;
}

/* Sets the tick to fire at at_us (CLOCK_MONOTONIC); a time already past fires at once. */
static void arm_tick(loadgen_t *g, int64_t at_us)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (at_us < 1)
        at_us = 1; /* zero would disarm it */
    its.it_value.tv_sec = at_us / 1000000;
    its.it_value.tv_nsec = (long)(at_us % 1000000) * 1000;
    g->tick_at_us = at_us;
    if (timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        stt_fatal(__FILE__, __LINE__, "timerfd_settime");
}

static void wheel_remove(loadgen_t *g, call_t *c)
{
    if (c->wdue_ms < 0)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        g->wheel[c->wdue_ms % WHEEL_SLOTS] = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wnext = c->wprev = NULL;
    c->wdue_ms = -1;
}

/* Wakes every call whose slot is at or before now_ms. */
static void wheel_advance(loadgen_t *g, int64_t now_ms)
{
    int64_t from = g->wheel_pos_ms + 1;
    if (now_ms - from >= WHEEL_SLOTS)
        from = now_ms - WHEEL_SLOTS + 1; /* after a long stall every slot is due: visit each once */
    for (int64_t m = from; m <= now_ms; m++) {
        call_t *c = g->wheel[m % WHEEL_SLOTS];
        while (c) {
            call_t *next = c->wnext;
            if (c->wdue_ms <= now_ms) {
                wheel_remove(g, c);
                if (c->wsi)
                    lws_callback_on_writable(c->wsi);
            }
            c = next;
        }
    }
    if (now_ms > g->wheel_pos_ms)
        g->wheel_pos_ms = now_ms;
}

static void wheel_insert(loadgen_t *g, call_t *c, int64_t due_us)
{
    int64_t due_ms = to_ms(g, due_us);
    if (due_ms <= g->wheel_pos_ms) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (due_ms - g->wheel_pos_ms >= WHEEL_SLOTS)
        wheel_advance(g, to_ms(g, stt_tool_now_us())); /* the tick is late: catch the wheel up first */
    if (due_ms <= g->wheel_pos_ms) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    wheel_remove(g, c);
    call_t **slot = &g->wheel[due_ms % WHEEL_SLOTS];
    c->wdue_ms = due_ms;
    c->wprev = NULL;
    c->wnext = *slot;
    if (*slot)
        (*slot)->wprev = c;
    *slot = c;
    int64_t slot_us = g->epoch_us + due_ms * 1000;
    if (slot_us < g->tick_at_us)
        arm_tick(g, slot_us);
}

/* ---- schedule ----------------------------------------------------------------------------- */

static int64_t frame_due_us(const loadgen_t *g, const call_t *c, uint64_t k)
{
    return c->t_start_us + (int64_t)k * g->frame_us;
}

static int64_t utt_file_start_us(const loadgen_t *g, const call_t *c, int u)
{
    return c->t_start_us + (c->offset_frames + (int64_t)u * g->cycle_frames) * g->frame_us;
}

/* Frame k of a call: silence before the first utterance, then cycles of the speech file and a
 * gap. Sets *u and *pos to the utterance and the frame within it, or *u = -1 for silence. */
static const int16_t *frame_pcm(const loadgen_t *g, const call_t *c, uint64_t k, int *u,
                                int64_t *pos)
{
    *u = -1;
    *pos = 0;
    if ((int64_t)k < c->offset_frames)
        return g->silence;
    int64_t j = (int64_t)k - c->offset_frames;
    int64_t cyc = j / g->cycle_frames, r = j % g->cycle_frames;
    if (cyc >= c->u_planned || r >= g->speech_frames)
        return g->silence;
    *u = (int)cyc;
    *pos = r;
    return g->speech + (size_t)r * g->frame_samples;
}

static void plan_call(loadgen_t *g, call_t *c, int64_t established_us)
{
    /* Whole milliseconds after the epoch, so every frame falls exactly on a wheel slot. */
    int64_t ms = (established_us - g->epoch_us + 999) / 1000;
    c->t_start_us = g->epoch_us + ms * 1000;
    c->next_frame = 0;
    /* Golden-ratio spread of the start phase over one whole cycle: once every call has run a
     * cycle, the fraction talking at any moment is the talk ratio instead of a burst. */
    double phase = fmod((c->idx + 1) * 0.6180339887498949, 1.0);
    c->offset_frames = (int64_t)(phase * (double)g->cycle_frames);
    int64_t avail_frames = (g->deadline_us - g->drain_us - c->t_start_us) / g->frame_us;
    int64_t room = avail_frames - c->offset_frames - g->speech_frames;
    c->u_planned = room < 0 ? 0 : (int)(room / g->cycle_frames + 1);
}

/* ---- sending ------------------------------------------------------------------------------ */

static int on_writeable(loadgen_t *g, call_t *c)
{
    if (c->closing) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (g->o.idle || g->stopping)
        return 0;
    int64_t now = stt_tool_now_us();
    int64_t due = frame_due_us(g, c, c->next_frame);
    if (due >= g->deadline_us)
        return 0;
    if (due > now) {
        wheel_insert(g, c, due); /* woken early by lws: wait for the slot */
        return 0;
    }
    int u;
    int64_t pos;
    const int16_t *pcm = frame_pcm(g, c, c->next_frame, &u, &pos);
    uint8_t *frame = g->tx + LWS_PRE;
    /* The RealtimeSTT clients' latency probe: the server measures from this stamp to the frame
     * having passed its VAD (stt_ingest_latency_seconds). */
    char stamp[48];
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    snprintf(stamp, sizeof(stamp), "\"server_sent_to_stt\": %lld",
             (long long)wall.tv_sec * 1000000000LL + wall.tv_nsec);
    size_t len = stt_rtstt_frame_build(frame, g->txcap - LWS_PRE, g->o.rate_hz, pcm,
                                       g->frame_samples, stamp);
    if (len == 0) {
        fprintf(stderr, "stt-loadgen: cannot build a frame of %zu samples\n", g->frame_samples);
        g->write_errors++;
        return -1;
    }
    now = stt_tool_now_us();
    int w = lws_write(c->wsi, frame, len, LWS_WRITE_BINARY);
    if (w < (int)len) {
        g->write_errors++;
        return -1;
    }
    int64_t late = now - due;
    hist_add(&g->h_late, late);
    if (late > LATE_US)
        g->frames_late++;
    g->frames_sent++;
    g->bytes_sent += len;
    if (u >= 0 && pos == 0)
        c->u_started = u + 1;
    if (u >= 0 && pos == g->speech_frames - 1)
        c->u_sent = u + 1;
    c->next_frame++;
    due = frame_due_us(g, c, c->next_frame);
    if (due >= g->deadline_us)
        return 0;
    if (due <= stt_tool_now_us())
        lws_callback_on_writable(c->wsi); /* behind: catch up at once */
    else
        wheel_insert(g, c, due);
    return 0;
}

/* Frames that were due before end_us (the end of the test, or the moment the server closed the
 * call) but never went out count as sent at end_us, so a server that stops reading cannot hide
 * its backlog from the lateness figures. */
static void count_unsent(loadgen_t *g, call_t *c, int64_t end_us)
{
    if (g->o.idle || c->state != CALL_OPEN || c->t_start_us == 0)
        return;
    if (end_us > g->deadline_us)
        end_us = g->deadline_us;
    for (uint64_t k = c->next_frame;; k++) {
        int64_t due = frame_due_us(g, c, k);
        if (due >= end_us)
            break;
        int64_t late = end_us - due;
        hist_add(&g->h_late, late);
        if (late > LATE_US)
            g->frames_late++;
        g->frames_unsent++;
    }
    c->next_frame = UINT64_MAX / 2; /* counted once */
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void on_realtime(loadgen_t *g, call_t *c, int64_t now)
{
    g->ev_realtime++;
    int u = c->u_started - 1; /* realtime text belongs to the utterance being spoken */
    if (u < 0 || u < c->u_final) {
        g->realtime_stale++; /* before any speech, or after its final */
        return;
    }
    if (c->rt_utt != u) {
        c->rt_utt = u;
        hist_add(&g->h_ttfr, now - (utt_file_start_us(g, c, u) + g->onset_us));
    } else {
        hist_add(&g->h_cadence, now - c->last_rt_us);
    }
    c->last_rt_us = now;
}

/* Finals are matched to utterances in order. One that arrives before the utterance's speech
 * ended is the server splitting it, and does not close the utterance. */
static void on_full_sentence(loadgen_t *g, call_t *c, int64_t now)
{
    g->ev_full++;
    if (c->u_final >= c->u_started) {
        g->finals_unexpected++;
        return;
    }
    int64_t end = utt_file_start_us(g, c, c->u_final) + g->end_us;
    if (now < end) {
        g->finals_early++;
        return;
    }
    hist_add(&g->h_final, now - end);
    c->u_final++;
}

static void handle_message(loadgen_t *g, call_t *c, const char *buf, size_t len)
{
    int64_t now = stt_tool_now_us();
    cJSON *msg = cJSON_ParseWithLength(buf, len);
    const char *type = stt_tool_json_str(msg, "type");
    if (!type) {
        g->ev_unparsed++;
    } else if (strcmp(type, "realtime") == 0) {
        on_realtime(g, c, now);
    } else if (strcmp(type, "fullSentence") == 0) {
        on_full_sentence(g, c, now);
    } else {
        g->ev_other++;
    }
    cJSON_Delete(msg);
}

static void on_receive(loadgen_t *g, call_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi))
        return;
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    if (first && final) {
        handle_message(g, c, in, len); /* the common case: no copy */
        return;
    }
    if (first)
        stt_tool_rx_dispose(&c->rx); /* a message cut short by a new one is dropped */
    int rc = stt_tool_rx_add(&c->rx, in, len, final, MAX_MESSAGE_BYTES);
    if (rc == STT_TOOL_RX_MORE)
        return;
    if (rc == STT_TOOL_RX_DROPPED)
        g->ev_oversize++;
    else
        handle_message(g, c, c->rx.buf, c->rx.len);
    stt_tool_rx_dispose(&c->rx); /* thousands of idle calls must not each keep a buffer */
}

/* ---- connections -------------------------------------------------------------------------- */

/* Counts close frames by code and reason. The reason is kept because libwebsockets 4.1 hands
 * the client codes 1012..2999 (1013 "try again later" among them) as 1002: the server's text is
 * then the only way to tell a capacity refusal from a protocol error. */
static void note_close_code(loadgen_t *g, int code, const uint8_t *reason, size_t len)
{
    char r[64];
    size_t n = len < sizeof(r) - 1 ? len : sizeof(r) - 1;
    for (size_t i = 0; i < n; i++)
        r[i] = reason[i] < 0x20 || reason[i] == 0x7f || reason[i] == '"' ? ' ' : (char)reason[i];
    r[n] = '\0';
    for (int i = 0; i < g->n_close_codes; i++) {
        if (g->close_codes[i].code == code && strcmp(g->close_codes[i].reason, r) == 0) {
            g->close_codes[i].count++;
            return;
        }
    }
    if (g->n_close_codes < MAX_CLOSE_CODES) {
        code_count_t *cc = &g->close_codes[g->n_close_codes++];
        cc->code = code;
        memcpy(cc->reason, r, n + 1);
        cc->count = 1;
    }
}

static void connect_failed(loadgen_t *g, call_t *c, const char *why)
{
    if (c->state == CALL_CONNECTING)
        g->n_connecting--;
    c->state = CALL_FAILED;
    c->wsi = NULL;
    g->connect_failed++;
    if (!g->first_connect_error[0])
        snprintf(g->first_connect_error, sizeof(g->first_connect_error), "%s",
                 why ? why : "unknown error");
}

static void start_connect(loadgen_t *g, call_t *c)
{
    struct lws_client_connect_info ci;
    stt_tool_connect_info_init(&ci, g->ctx, &g->target, &c->wsi);
    ci.opaque_user_data = c;
    if (g->o.n_sources)
        ci.iface = g->o.sources[c->idx % g->o.n_sources];
    c->state = CALL_CONNECTING;
    c->connect_us = stt_tool_now_us();
    g->n_connecting++;
    if (!lws_client_connect_via_info(&ci) && c->state == CALL_CONNECTING)
        connect_failed(g, c, "lws_client_connect_via_info failed");
}

static void on_established(loadgen_t *g, call_t *c, struct lws *wsi)
{
    int64_t now = stt_tool_now_us();
    c->wsi = wsi;
    g->n_connecting--;
    g->n_open++;
    g->established++;
    c->state = CALL_OPEN;
    c->established_us = now;
    hist_add(&g->h_connect, now - c->connect_us);
    if (g->stopping) {
        c->closing = 1;
        lws_callback_on_writable(wsi);
        return;
    }
    if (g->o.idle)
        return;
    plan_call(g, c, now);
    wheel_insert(g, c, c->t_start_us);
}

static void on_closed(loadgen_t *g, call_t *c)
{
    wheel_remove(g, c);
    if (c->state == CALL_OPEN) {
        if (!g->stopping) {
            int64_t now = stt_tool_now_us();
            count_unsent(g, c, now);
            g->dropped_by_server++;
            if (now - c->established_us < 1000000)
                g->rejected++; /* refused right after the handshake (capacity, draining) */
            if (!c->peer_close_code)
                note_close_code(g, LWS_CLOSE_STATUS_ABNORMAL_CLOSE, NULL, 0); /* 1006 */
        }
        g->n_open--;
    } else if (c->state == CALL_CONNECTING) {
        connect_failed(g, c, "closed during the handshake");
    }
    if (c->state != CALL_FAILED)
        c->state = CALL_CLOSED;
    c->wsi = NULL;
    stt_tool_rx_dispose(&c->rx);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    loadgen_t *g = ctx ? lws_context_user(ctx) : NULL;
    call_t *c = lws_get_opaque_user_data(wsi);
    if (!g || !c)
        return 0;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state == CALL_CONNECTING)
            connect_failed(g, c, in ? (const char *)in : NULL);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        on_established(g, c, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c->state == CALL_OPEN ? on_writeable(g, c) : 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(g, c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const uint8_t *p = in;
        int code = len >= 2 ? (p[0] << 8) | p[1] : LWS_CLOSE_STATUS_NO_STATUS;
        c->peer_close_code = code;
        if (!g->stopping)
            note_close_code(g, code, len > 2 ? p + 2 : NULL, len > 2 ? len - 2 : 0);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_closed(g, c);
        return 0;
    default:
        return 0;
    }
}


/* ---- server process sampling -------------------------------------------------------------- */

static int proc_sample(long pid, int64_t *rss_kb, int64_t *hwm_kb, double *cpu_s)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return STT_EIO;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses; fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return STT_EIO;
    unsigned long long ut = 0, st = 0;
    /* Fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return STT_EIO;
    *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return STT_EIO;
    *rss_kb = *hwm_kb = -1;
    while (fgets(buf, sizeof(buf), f)) {
        long long v;
        if (sscanf(buf, "VmRSS: %lld", &v) == 1)
            *rss_kb = v;
        else if (sscanf(buf, "VmHWM: %lld", &v) == 1)
            *hwm_kb = v;
    }
    fclose(f);
    return *rss_kb >= 0 ? 0 : STT_EIO;
}

static void server_sample(loadgen_t *g)
{
    if (g->o.server_pid <= 0)
        return;
    int64_t rss, hwm;
    double cpu;
    if (proc_sample(g->o.server_pid, &rss, &hwm, &cpu) < 0)
        return; /* the server died or is not ours to read: keep the last sample */
    if (!g->srv.ok) {
        g->srv.ok = 1;
        g->srv.rss_start_kb = g->srv.rss_peak_kb = rss;
        g->srv.cpu_start_s = cpu;
    }
    if (rss > g->srv.rss_peak_kb)
        g->srv.rss_peak_kb = rss;
    g->srv.rss_end_kb = rss;
    g->srv.hwm_end_kb = hwm;
    g->srv.cpu_end_s = cpu;
}

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
    for (int i = 0; i < g->o.calls; i++) {
        call_t *c = &g->calls[i];
        wheel_remove(g, c);
        if (c->state == CALL_OPEN) {
            count_unsent(g, c, g->deadline_us);
            c->closing = 1;
            lws_callback_on_writable(c->wsi);
        }
    }
    server_sample(g);
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

static void tick(loadgen_t *g)
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
        arm_tick(g, now + 10000);
        return;
    }

    while (g->next_connect < g->o.calls && call_connect_at(g, g->next_connect) <= now)
        start_connect(g, &g->calls[g->next_connect++]);
    wheel_advance(g, to_ms(g, now));
    if (now >= g->next_sample_us) {
        server_sample(g);
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
    int64_t horizon = g->wheel_pos_ms + g->o.frame_ms + 2;
    for (int64_t m = g->wheel_pos_ms + 1; m <= horizon; m++) {
        if (g->wheel[m % WHEEL_SLOTS]) {
            int64_t t = g->epoch_us + m * 1000;
            if (t < next)
                next = t;
            break;
        }
    }
    arm_tick(g, next);
}

static int timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    struct lws_context *ctx = lws_get_context(wsi);
    loadgen_t *g = ctx ? lws_context_user(ctx) : NULL;
    if (!g || reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    uint64_t expirations;
    if (read(g->tfd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
        return 0; /* re-armed to a later time since it became readable: nothing is due */
    tick(g);
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* A 4 KiB receive buffer per connection: lws allocates it for every open connection, and
     * the events are small; bigger messages arrive in fragments and are assembled. */
    {"stt-loadgen", callback, 0, 4096, 0, NULL, 0},
    {"stt-loadgen-timer", timer_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- report ------------------------------------------------------------------------------- */

static cJSON *hist_json(const hist_t *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)h->n);
    cJSON_AddNumberToObject(o, "mean_ms", h->n ? h->sum_us / (double)h->n / 1e3 : 0);
    cJSON_AddNumberToObject(o, "p50_ms", (double)hist_quantile(h, 0.50) / 1e3);
    cJSON_AddNumberToObject(o, "p95_ms", (double)hist_quantile(h, 0.95) / 1e3);
    cJSON_AddNumberToObject(o, "p99_ms", (double)hist_quantile(h, 0.99) / 1e3);
    cJSON_AddNumberToObject(o, "max_ms", (double)h->max_us / 1e3);
    return o;
}

static void hist_row(const char *name, const hist_t *h)
{
    if (h->n == 0) {
        fprintf(stderr, "  %-22s %9s\n", name, "-");
        return;
    }
    fprintf(stderr, "  %-22s %9llu %9.1f %9.1f %9.1f %9.1f\n", name, (unsigned long long)h->n,
            (double)hist_quantile(h, 0.50) / 1e3, (double)hist_quantile(h, 0.95) / 1e3,
            (double)hist_quantile(h, 0.99) / 1e3, (double)h->max_us / 1e3);
}

typedef struct {
    unsigned long long utt_planned, utt_sent, finals_matched, finals_missing;
    unsigned calls_missing, utt_no_realtime;
} utt_totals_t;

static utt_totals_t utt_totals(const loadgen_t *g)
{
    utt_totals_t t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < g->o.calls; i++) {
        const call_t *c = &g->calls[i];
        t.utt_planned += (unsigned long long)c->u_planned;
        t.utt_sent += (unsigned long long)c->u_sent;
        int matched = c->u_final < c->u_sent ? c->u_final : c->u_sent;
        t.finals_matched += (unsigned long long)c->u_final;
        if (c->u_sent > matched) {
            t.finals_missing += (unsigned long long)(c->u_sent - matched);
            t.calls_missing++;
        }
    }
    /* Every utterance with a first realtime event contributed one ttfr sample. */
    t.utt_no_realtime =
        t.utt_sent > g->h_ttfr.n ? (unsigned)(t.utt_sent - g->h_ttfr.n) : 0;
    return t;
}

static cJSON *report_json(const loadgen_t *g, double elapsed_s, const struct rusage *ru_end)
{
    utt_totals_t t = utt_totals(g);
    cJSON *r = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(r, "config");
    cJSON_AddStringToObject(cfg, "url", g->o.url);
    cJSON_AddNumberToObject(cfg, "calls", g->o.calls);
    cJSON_AddNumberToObject(cfg, "duration_s", g->o.duration_s);
    cJSON_AddNumberToObject(cfg, "ramp_s", g->o.ramp_s);
    cJSON_AddNumberToObject(cfg, "drain_s", (double)g->drain_us / 1e6);
    cJSON_AddStringToObject(cfg, "wav", g->o.wav);
    cJSON_AddStringToObject(cfg, "event_loop", g->evl ? "libev" : "poll");
    cJSON_AddNumberToObject(cfg, "file_s", g->file_s);
    cJSON_AddNumberToObject(cfg, "speech_onset_s", (double)g->onset_us / 1e6);
    cJSON_AddNumberToObject(cfg, "speech_end_s", (double)g->end_us / 1e6);
    cJSON_AddNumberToObject(cfg, "talk_ratio", g->o.talk_ratio);
    cJSON_AddNumberToObject(cfg, "gap_s", (double)(g->gap_frames * g->frame_us) / 1e6);
    cJSON_AddNumberToObject(cfg, "frame_ms", g->o.frame_ms);
    cJSON_AddNumberToObject(cfg, "rate_hz", g->o.rate_hz);
    cJSON_AddBoolToObject(cfg, "idle", g->o.idle);
    cJSON_AddNumberToObject(cfg, "sources", g->o.n_sources ? g->o.n_sources : 1);
    cJSON_AddNumberToObject(r, "elapsed_s", elapsed_s);

    cJSON *cn = cJSON_AddObjectToObject(r, "connections");
    cJSON_AddNumberToObject(cn, "attempted", g->next_connect);
    cJSON_AddNumberToObject(cn, "established", g->established);
    cJSON_AddNumberToObject(cn, "connect_failed", g->connect_failed);
    cJSON_AddNumberToObject(cn, "closed_by_server", g->dropped_by_server);
    cJSON_AddNumberToObject(cn, "rejected_within_1s", g->rejected);
    cJSON_AddNumberToObject(cn, "write_errors", g->write_errors);
    if (g->first_connect_error[0])
        cJSON_AddStringToObject(cn, "first_connect_error", g->first_connect_error);
    cJSON *codes = cJSON_AddArrayToObject(cn, "server_close_codes");
    for (int i = 0; i < g->n_close_codes; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "code", g->close_codes[i].code);
        cJSON_AddStringToObject(e, "reason", g->close_codes[i].reason);
        cJSON_AddNumberToObject(e, "count", g->close_codes[i].count);
        cJSON_AddItemToArray(codes, e);
    }
    cJSON_AddItemToObject(cn, "connect_time", hist_json(&g->h_connect));

    cJSON *fr = cJSON_AddObjectToObject(r, "frames");
    cJSON_AddNumberToObject(fr, "sent", (double)g->frames_sent);
    cJSON_AddNumberToObject(fr, "bytes_sent", (double)g->bytes_sent);
    cJSON_AddNumberToObject(fr, "late_over_100ms", (double)g->frames_late);
    cJSON_AddNumberToObject(fr, "unsent_at_end", (double)g->frames_unsent);
    cJSON_AddItemToObject(fr, "send_lateness", hist_json(&g->h_late));

    cJSON *u = cJSON_AddObjectToObject(r, "utterances");
    cJSON_AddNumberToObject(u, "planned", (double)t.utt_planned);
    cJSON_AddNumberToObject(u, "sent", (double)t.utt_sent);
    cJSON_AddNumberToObject(u, "finals_matched", (double)t.finals_matched);
    cJSON_AddNumberToObject(u, "finals_missing", (double)t.finals_missing);
    cJSON_AddNumberToObject(u, "calls_with_missing_finals", t.calls_missing);
    cJSON_AddNumberToObject(u, "finals_before_speech_end", (double)g->finals_early);
    cJSON_AddNumberToObject(u, "finals_unexpected", (double)g->finals_unexpected);
    cJSON_AddNumberToObject(u, "without_realtime", t.utt_no_realtime);
    cJSON_AddItemToObject(u, "time_to_first_realtime", hist_json(&g->h_ttfr));
    cJSON_AddItemToObject(u, "realtime_cadence", hist_json(&g->h_cadence));
    cJSON_AddItemToObject(u, "final_latency", hist_json(&g->h_final));

    cJSON *ev = cJSON_AddObjectToObject(r, "events");
    cJSON_AddNumberToObject(ev, "realtime", (double)g->ev_realtime);
    cJSON_AddNumberToObject(ev, "realtime_stale", (double)g->realtime_stale);
    cJSON_AddNumberToObject(ev, "fullSentence", (double)g->ev_full);
    cJSON_AddNumberToObject(ev, "other", (double)g->ev_other);
    cJSON_AddNumberToObject(ev, "unparsed", (double)g->ev_unparsed);
    cJSON_AddNumberToObject(ev, "oversize_skipped", (double)g->ev_oversize);

    if (g->o.server_pid > 0) {
        cJSON *s = cJSON_AddObjectToObject(r, "server");
        cJSON_AddNumberToObject(s, "pid", (double)g->o.server_pid);
        cJSON_AddBoolToObject(s, "sampled", g->srv.ok);
        if (g->srv.ok) {
            double cpu = g->srv.cpu_end_s - g->srv.cpu_start_s;
            cJSON_AddNumberToObject(s, "rss_start_kb", (double)g->srv.rss_start_kb);
            cJSON_AddNumberToObject(s, "rss_end_kb", (double)g->srv.rss_end_kb);
            cJSON_AddNumberToObject(s, "rss_peak_kb", (double)g->srv.rss_peak_kb);
            cJSON_AddNumberToObject(s, "vmhwm_kb", (double)g->srv.hwm_end_kb);
            cJSON_AddNumberToObject(s, "rss_per_connection_kb",
                                    g->established ? (double)(g->srv.rss_peak_kb -
                                                              g->srv.rss_start_kb) /
                                                         g->established
                                                   : 0);
            cJSON_AddNumberToObject(s, "cpu_s", cpu);
            cJSON_AddNumberToObject(s, "cpu_cores_avg", elapsed_s > 0 ? cpu / elapsed_s : 0);
        }
    }
    double lg_cpu = (double)(ru_end->ru_utime.tv_sec - g->ru_start.ru_utime.tv_sec) +
                    (double)(ru_end->ru_stime.tv_sec - g->ru_start.ru_stime.tv_sec) +
                    (double)(ru_end->ru_utime.tv_usec - g->ru_start.ru_utime.tv_usec) / 1e6 +
                    (double)(ru_end->ru_stime.tv_usec - g->ru_start.ru_stime.tv_usec) / 1e6;
    cJSON *me = cJSON_AddObjectToObject(r, "loadgen");
    cJSON_AddNumberToObject(me, "cpu_s", lg_cpu);
    cJSON_AddNumberToObject(me, "max_rss_kb", (double)ru_end->ru_maxrss);
    return r;
}

static void report_table(const loadgen_t *g, const cJSON *r)
{
    utt_totals_t t = utt_totals(g);
    fprintf(stderr, "\nstt-loadgen: %d calls%s, %.1f s, %s\n", g->o.calls,
            g->o.idle ? " (idle)" : "",
            cJSON_GetObjectItem(r, "elapsed_s")->valuedouble, g->o.url);
    fprintf(stderr,
            "  connections: %u established, %u failed, %u closed by the server (%u within 1 s "
            "of the handshake)\n",
            g->established, g->connect_failed, g->dropped_by_server, g->rejected);
    for (int i = 0; i < g->n_close_codes; i++)
        fprintf(stderr, "  server close %d x%u%s%s\n", g->close_codes[i].code,
                g->close_codes[i].count, g->close_codes[i].reason[0] ? ": " : "",
                g->close_codes[i].reason);
    if (g->first_connect_error[0])
        fprintf(stderr, "  first connect error: %s\n", g->first_connect_error);
    if (!g->o.idle) {
        fprintf(stderr,
                "  frames: %llu sent, %llu late >100 ms, %llu unsent at the end\n",
                (unsigned long long)g->frames_sent, (unsigned long long)g->frames_late,
                (unsigned long long)g->frames_unsent);
        fprintf(stderr,
                "  utterances: %llu sent, %llu finals matched, %llu MISSING (%u calls), "
                "%u without realtime, %llu early/split finals, %llu unexpected\n",
                t.utt_sent, t.finals_matched, t.finals_missing, t.calls_missing,
                t.utt_no_realtime, (unsigned long long)g->finals_early,
                (unsigned long long)g->finals_unexpected);
    }
    fprintf(stderr, "  %-22s %9s %9s %9s %9s %9s\n", "(ms)", "count", "p50", "p95", "p99",
            "max");
    hist_row("connect", &g->h_connect);
    if (!g->o.idle) {
        hist_row("send lateness", &g->h_late);
        hist_row("first realtime", &g->h_ttfr);
        hist_row("realtime cadence", &g->h_cadence);
        hist_row("final latency", &g->h_final);
    }
    const cJSON *s = cJSON_GetObjectItem(r, "server");
    if (s && g->srv.ok) {
        fprintf(stderr,
                "  server pid %ld: RSS %.1f -> %.1f MiB (peak %.1f, %.1f KiB/connection), "
                "CPU %.2f s = %.2f cores\n",
                g->o.server_pid, (double)g->srv.rss_start_kb / 1024,
                (double)g->srv.rss_end_kb / 1024, (double)g->srv.rss_peak_kb / 1024,
                cJSON_GetObjectItem(s, "rss_per_connection_kb")->valuedouble,
                cJSON_GetObjectItem(s, "cpu_s")->valuedouble,
                cJSON_GetObjectItem(s, "cpu_cores_avg")->valuedouble);
    } else if (g->o.server_pid > 0) {
        fprintf(stderr, "  server pid %ld: could not be sampled\n", g->o.server_pid);
    }
    const cJSON *me = cJSON_GetObjectItem(r, "loadgen");
    fprintf(stderr, "  loadgen: CPU %.2f s, max RSS %.1f MiB\n",
            cJSON_GetObjectItem(me, "cpu_s")->valuedouble,
            cJSON_GetObjectItem(me, "max_rss_kb")->valuedouble / 1024);
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stt-loadgen [options]\n"
            "Opens N concurrent simulated calls against an stt-server data WebSocket and\n"
            "measures connect failures, send lateness, partial and final latency.\n"
            "A table goes to stderr, JSON to stdout (or --json FILE).\n"
            "\n"
            "  --url ws://HOST:PORT/PATH  data socket (default " DEFAULT_URL ")\n"
            "  --calls N                  concurrent connections (default 10)\n"
            "  --duration SEC             total test length, a hard bound (default 30)\n"
            "  --ramp SEC                 spread the connection starts over SEC (default 5)\n"
            "  --drain SEC                no utterance starts later than its length plus SEC\n"
            "                             before the end, so its final can still arrive\n"
            "                             (default min(5, duration/4))\n"
            "  --wav FILE                 speech source (default the pocketsphinx test file);\n"
            "                             mixed to mono and resampled to the send rate\n"
            "  --talk-ratio R             fraction of time talking, 0..1 (default 0.4): each\n"
            "                             call alternates the file with silence (at least\n"
            "                             %.1f s, so the server ends each utterance)\n"
            "  --frame-ms MS              frame length (default 20)\n"
            "  --rate HZ                  send rate %d..%d (default 16000; 8000 = phone)\n"
            "  --idle                     connect and hold without sending audio\n"
            "  --sources IP,IP,...        bind each connection's local address round robin\n"
            "  --source-count K           same with 127.0.0.1 .. 127.0.0.K\n"
            "  --json FILE                write the JSON results to FILE\n"
            "  --server-pid PID           sample that process's RSS and CPU from /proc\n"
            "  --event-loop poll|libev    the generator's own event loop (default poll;\n"
            "                             libev = epoll, no faster here: its cost is TCP)\n"
            "  -q, --quiet                no progress lines\n"
            "  -h, --help                 this help\n"
            "\n"
            "Each call starts at a different phase of the talk/silence cycle, so after one\n"
            "cycle the share of calls talking equals the talk ratio. Latencies count from\n"
            "scheduled times: time to first realtime from the first voiced frame of the\n"
            "utterance, final latency from the end of its last voiced frame.\n",
            (double)MIN_GAP_US / 1e6, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ);
}

static void free_sources(opts_t *o)
{
    for (int i = 0; i < o->n_sources; i++)
        free(o->sources[i]);
    o->n_sources = 0;
}

static int parse_sources(opts_t *o, const char *list)
{
    free_sources(o);
    char *copy = stt_strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_sources == MAX_SOURCES) {
            free(copy);
            return STT_ERANGE;
        }
        o->sources[o->n_sources++] = stt_strdup(tok);
    }
    free(copy);
    return o->n_sources ? 0 : STT_EINVAL;
}

enum {
    OPT_URL = 256,
    OPT_CALLS,
    OPT_DURATION,
    OPT_RAMP,
    OPT_DRAIN,
    OPT_WAV,
    OPT_TALK,
    OPT_FRAME,
    OPT_RATE,
    OPT_IDLE,
    OPT_SOURCES,
    OPT_SOURCE_COUNT,
    OPT_JSON,
    OPT_PID,
    OPT_EVENT_LOOP,
};

static int parse_args(int argc, char **argv, opts_t *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"calls", required_argument, NULL, OPT_CALLS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"ramp", required_argument, NULL, OPT_RAMP},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"wav", required_argument, NULL, OPT_WAV},
        {"talk-ratio", required_argument, NULL, OPT_TALK},
        {"frame-ms", required_argument, NULL, OPT_FRAME},
        {"rate", required_argument, NULL, OPT_RATE},
        {"idle", no_argument, NULL, OPT_IDLE},
        {"sources", required_argument, NULL, OPT_SOURCES},
        {"source-count", required_argument, NULL, OPT_SOURCE_COUNT},
        {"json", required_argument, NULL, OPT_JSON},
        {"server-pid", required_argument, NULL, OPT_PID},
        {"event-loop", required_argument, NULL, OPT_EVENT_LOOP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long l;
    int opt;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_URL:
            o->url = optarg;
            break;
        case OPT_CALLS:
            if (stt_tool_parse_long(optarg, 1, 1000000, &l) < 0) {
                fprintf(stderr, "stt-loadgen: --calls must be 1..1000000\n");
                return -1;
            }
            o->calls = (int)l;
            break;
        case OPT_DURATION:
            if (stt_tool_parse_double(optarg, 0.1, 86400, &o->duration_s) < 0) {
                fprintf(stderr, "stt-loadgen: --duration must be 0.1..86400 seconds\n");
                return -1;
            }
            break;
        case OPT_RAMP:
            if (stt_tool_parse_double(optarg, 0, 86400, &o->ramp_s) < 0) {
                fprintf(stderr, "stt-loadgen: --ramp must be 0..86400 seconds\n");
                return -1;
            }
            break;
        case OPT_DRAIN:
            if (stt_tool_parse_double(optarg, 0, 86400, &o->drain_s) < 0) {
                fprintf(stderr, "stt-loadgen: --drain must be 0..86400 seconds\n");
                return -1;
            }
            break;
        case OPT_WAV:
            o->wav = optarg;
            break;
        case OPT_TALK:
            if (stt_tool_parse_double(optarg, 0, 1, &o->talk_ratio) < 0) {
                fprintf(stderr, "stt-loadgen: --talk-ratio must be 0..1\n");
                return -1;
            }
            break;
        case OPT_FRAME:
            if (stt_tool_parse_long(optarg, 1, 1000, &l) < 0) {
                fprintf(stderr, "stt-loadgen: --frame-ms must be 1..1000\n");
                return -1;
            }
            o->frame_ms = (int)l;
            break;
        case OPT_RATE:
            if (stt_tool_parse_long(optarg, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ, &l) < 0) {
                fprintf(stderr, "stt-loadgen: --rate must be %d..%d\n", STT_FRAME_MIN_RATE_HZ,
                        STT_FRAME_MAX_RATE_HZ);
                return -1;
            }
            o->rate_hz = (int)l;
            break;
        case OPT_IDLE:
            o->idle = 1;
            break;
        case OPT_SOURCES:
            if (parse_sources(o, optarg) < 0) {
                fprintf(stderr, "stt-loadgen: --sources needs 1..%d comma-separated addresses\n",
                        MAX_SOURCES);
                return -1;
            }
            break;
        case OPT_SOURCE_COUNT: {
            if (stt_tool_parse_long(optarg, 1, MAX_SOURCES, &l) < 0) {
                fprintf(stderr, "stt-loadgen: --source-count must be 1..%d\n", MAX_SOURCES);
                return -1;
            }
            free_sources(o);
            for (long i = 1; i <= l; i++) {
                char ip[32];
                snprintf(ip, sizeof(ip), "127.0.0.%ld", i);
                o->sources[o->n_sources++] = stt_strdup(ip);
            }
            break;
        }
        case OPT_JSON:
            o->json_path = optarg;
            break;
        case OPT_PID:
            if (stt_tool_parse_long(optarg, 1, 1L << 30, &o->server_pid) < 0) {
                fprintf(stderr, "stt-loadgen: --server-pid must be a process id\n");
                return -1;
            }
            break;
        case OPT_EVENT_LOOP:
            if (strcmp(optarg, "libev") != 0 && strcmp(optarg, "poll") != 0) {
                fprintf(stderr, "stt-loadgen: --event-loop must be libev or poll\n");
                return -1;
            }
            o->libev_loop = strcmp(optarg, "libev") == 0;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            free_sources(o);
            exit(EXIT_OK);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stt-loadgen: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if ((o->rate_hz * o->frame_ms) % 1000) {
        fprintf(stderr, "stt-loadgen: --frame-ms %d is not a whole number of samples at %d Hz\n",
                o->frame_ms, o->rate_hz);
        return -1;
    }
    return 0;
}

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

static int write_json(const loadgen_t *g, const cJSON *r)
{
    char *text = cJSON_Print(r);
    if (!text)
        stt_fatal(__FILE__, __LINE__, "cJSON_Print");
    int rc = 0;
    if (g->o.json_path) {
        FILE *f = fopen(g->o.json_path, "w");
        if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
            fprintf(stderr, "stt-loadgen: cannot write %s: %s\n", g->o.json_path,
                    strerror(errno));
            rc = STT_EIO;
        }
    } else {
        fprintf(stdout, "%s\n", text);
        fflush(stdout);
    }
    cJSON_free(text);
    return rc;
}

int main(int argc, char **argv)
{
    static loadgen_t g; /* the wheel and histograms are ~100 KiB: keep them off the stack */
    g.o = (opts_t){
        .url = DEFAULT_URL,
        .calls = 10,
        .duration_s = 30,
        .ramp_s = 5,
        .drain_s = -1,
        .wav = DEFAULT_WAV,
        .talk_ratio = 0.4,
        .frame_ms = 20,
        .rate_hz = 16000,
    };
    int result = EXIT_FAIL;
    if (parse_args(argc, argv, &g.o) < 0) {
        fprintf(stderr, "Try 'stt-loadgen --help'.\n");
        free_sources(&g.o);
        return EXIT_USAGE;
    }
    /* Plain ws:// only: the context below is created without TLS. */
    if (stt_tool_target_parse(&g.target, g.o.url, NULL, NULL, NULL) < 0 || g.target.tls) {
        fprintf(stderr, "stt-loadgen: bad URL '%s' (expected ws://HOST:PORT/PATH)\n", g.o.url);
        result = EXIT_USAGE;
        goto fail_target;
    }
    g.frame_samples = (size_t)g.o.rate_hz * (size_t)g.o.frame_ms / 1000;
    g.frame_us = (int64_t)g.o.frame_ms * 1000;
    if (!g.o.idle) {
        if (pcm_load(&g) < 0) {
            result = EXIT_USAGE;
            goto fail_pcm;
        }
        /* Speech is the file; the gap makes it R of each cycle, but never so short that the
         * server would merge two utterances into one. */
        double file_s = (double)g.speech_frames * (double)g.frame_us / 1e6;
        double gap_s = g.o.talk_ratio > 0 ? file_s * (1.0 - g.o.talk_ratio) / g.o.talk_ratio
                                          : g.o.duration_s + file_s;
        if (gap_s < (double)MIN_GAP_US / 1e6)
            gap_s = (double)MIN_GAP_US / 1e6;
        g.gap_frames = (int64_t)ceil(gap_s * 1e6 / (double)g.frame_us);
        g.cycle_frames = g.speech_frames + g.gap_frames;
        g.silence = stt_calloc(g.frame_samples, sizeof(int16_t));
        g.txcap = LWS_PRE + 128 + 2 * g.frame_samples; /* prefix, metadata with the stamp */
        g.tx = stt_malloc(g.txcap);
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

    g.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g.tfd < 0) {
        fprintf(stderr, "stt-loadgen: timerfd_create: %s\n", strerror(errno));
        goto fail_timer;
    }
    lws_sock_file_fd_type fd;
    fd.filefd = g.tfd;
    struct lws_vhost *vh = lws_get_vhost_by_name(g.ctx, "default");
    if (!vh || !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "stt-loadgen-timer",
                                           NULL)) {
        fprintf(stderr, "stt-loadgen: cannot add the timer to the event loop\n");
        close(g.tfd);
        goto fail_timer;
    }

    g.calls = stt_calloc((size_t)g.o.calls, sizeof(call_t));
    for (int i = 0; i < g.o.calls; i++) {
        g.calls[i].idx = i;
        g.calls[i].wdue_ms = -1;
        g.calls[i].rt_utt = -1;
    }
    if (!g.o.quiet) {
        if (g.o.idle)
            fprintf(stderr, "stt-loadgen: %d idle calls to %s for %.1f s (ramp %.1f s)\n",
                    g.o.calls, g.o.url, g.o.duration_s, g.o.ramp_s);
        else
            fprintf(stderr,
                    "stt-loadgen: %d calls to %s for %.1f s (ramp %.1f s); %.2f s file (speech "
                    "%.2f..%.2f s) + %.2f s silence, %d ms frames at %d Hz\n",
                    g.o.calls, g.o.url, g.o.duration_s, g.o.ramp_s, g.file_s,
                    (double)g.onset_us / 1e6, (double)g.end_us / 1e6,
                    (double)(g.gap_frames * g.frame_us) / 1e6, g.o.frame_ms, g.o.rate_hz);
    }

    getrusage(RUSAGE_SELF, &g.ru_start);
    g.epoch_us = stt_tool_now_us();
    g.deadline_us = g.epoch_us + (int64_t)(g.o.duration_s * 1e6);
    g.hard_end_us = g.deadline_us + CLOSE_GRACE_US;
    g.next_sample_us = g.epoch_us;
    g.next_progress_us = g.epoch_us + PROGRESS_US;
    g.wheel_pos_ms = -1;
    server_sample(&g);
    arm_tick(&g, g.epoch_us);

    while (!g.done) {
        if (stt_tool_lws_service(g.ctx, g.evl) < 0)
            break;
        /* A signal interrupts poll(); the tick turns it into an orderly stop. */
        if (g_interrupted && !g.stopping)
            arm_tick(&g, stt_tool_now_us());
        if (stt_tool_now_us() > g.hard_end_us + CLOSE_GRACE_US)
            break; /* the hard bound holds even if the tick could not run */
    }
    double elapsed_s = (double)(g.stopped_us ? g.stopped_us - g.epoch_us
                                             : stt_tool_now_us() - g.epoch_us) /
                       1e6;
    struct rusage ru_end;
    getrusage(RUSAGE_SELF, &ru_end);

    cJSON *r = report_json(&g, elapsed_s, &ru_end);
    report_table(&g, r);
    int wrc = write_json(&g, r);
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
    free(g.tx);
    free(g.silence);
    free(g.speech);
fail_pcm:
fail_target:
    stt_tool_target_dispose(&g.target);
    free_sources(&g.o);
    return result;
}

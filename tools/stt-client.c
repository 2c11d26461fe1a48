/* stt-client: streams WAV files to an stt-server data WebSocket and prints the transcripts. The
 * protocol is a client codec (tools/common/client_proto.h, --protocol): RealtimeSTT's data
 * protocol (spec section 3) by default, or vosk-server's. The codec builds what is sent and reads
 * what comes back into typed events; this file paces the audio and shows the events.
 *
 * Threading: one thread. Everything after option parsing runs on the libwebsockets event loop:
 * sends are paced by lws timers (lws_sul) on a fixed CLOCK_MONOTONIC schedule, so a slow write
 * delays one chunk without shifting the ones after it, and nothing in the loop ever sleeps.
 *
 * Ownership: main() owns the lws context and one conn_t per file; a conn_t owns its audio source,
 * its send and receive buffers and its two timers, and is freed only after its connection closed
 * and its timers were cancelled.
 *
 * Exit codes: 0 success, 1 connection failure or error close, 2 usage error (also an unreadable
 * input file, detected before connecting), 3 timeout without a final transcript, 130 interrupted.
 */
#include <cJSON.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/client_proto.h"
#include "common/client_util.h"
#include "common/opts.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/resample.h"
#include "stt/rtstt_frame.h" /* the rates the server accepts */

enum {
    EXIT_OK = 0,
    EXIT_CONN = 1,
    EXIT_USAGE = 2,
    EXIT_TIMEOUT = 3,
    EXIT_INTERRUPTED = 130,
};

#define DEFAULT_URL "ws://127.0.0.1:8012/"
#define DEFAULT_CHUNK_SAMPLES 1024
#define MAX_CHUNK_SAMPLES 262144      /* 512 KiB of PCM: stays under the server's 1 MiB frame cap */
#define MAX_MESSAGE_BYTES (64u << 20) /* transcription_start of a ~10 min utterance still fits */
#define QUIET_US 2000000      /* no events for this long after the audio means we are done */
#define OPENING_MAX_BYTES 512 /* one opening text message of the codec */

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef struct {
    const char *url;
    const stt_client_proto_t *proto;
    int fast;
    size_t chunk_samples;
    int rate_hz; /* 0: send at the file's own rate */
    int json;
    double tail_silence_s;
    double timeout_s;
    const char *session;
    const char *api_key;
    int quiet;
} client_opts_t;

/* Mono int16 audio at the send rate: the file, then the tail silence, through the resampler. */
typedef struct {
    SNDFILE *sf;
    int channels;
    int in_rate_hz;
    int out_rate_hz;
    int64_t file_frames;
    int file_done;
    int64_t tail_left_frames; /* input-rate frames of silence still to append */
    stt_resampler_t *rs;      /* NULL when the rates are equal */
    size_t block_frames;      /* input frames read per refill */
    float *fbuf;              /* interleaved, block_frames * channels */
    int16_t *mono;            /* block_frames */
    uint8_t *le;              /* block_frames * 2: little-endian bytes for the resampler */
    int16_t *pend;            /* output-rate samples not yet sent */
    size_t pend_len;
    size_t pend_cap;
} audio_src_t;

typedef struct {
    const client_opts_t *o;
    const char *file;
    struct lws_context *ctx;
    struct lws *wsi;
    audio_src_t src;

    stt_client_params_t params; /* what the codec is told about the audio */
    lws_sorted_usec_list_t send_sul;
    lws_sorted_usec_list_t finish_sul;
    uint8_t *txbuf; /* LWS_PRE headroom + one message */
    size_t txcap;
    unsigned opening_sent; /* opening messages of the codec sent so far */
    int eos_pending;       /* the codec's end-of-stream message is still to go */
    int16_t *chunk;
    int64_t t0_us;
    uint64_t chunks_sent;
    uint64_t samples_sent;
    int audio_done;
    int64_t audio_done_us;

    stt_tool_rx_t rx; /* current incoming message, accumulated over fragments */

    unsigned n_full;
    unsigned n_stop;
    int recording;
    int listening_after_stop;
    int64_t last_event_us;
    char *last_partial;
    int partial_on_tty; /* an overwritable partial line is on stderr */

    int established;
    int closing;  /* a close frame is to be sent from the next writeable callback */
    int finished; /* the connection is gone; the loop may stop */
    int decided;  /* result holds the outcome */
    int result;
    int peer_close_code; /* 0: the server sent no close frame */
} conn_t;

static volatile sig_atomic_t g_interrupted;
static int g_stderr_tty;
static unsigned g_files; /* files streamed so far: their default call ids */

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted++;
}

/* ---- audio source ------------------------------------------------------------------------ */

static int audio_src_open(audio_src_t *s, const char *path, int rate_hz, double tail_s, int quiet,
                          size_t chunk_samples)
{
    SF_INFO info;
    memset(s, 0, sizeof(*s));
    s->sf = stt_tool_sf_open("stt-client", path, &info);
    if (!s->sf)
        return STT_EIO;
    if (info.channels < 1 || info.samplerate < 1) {
        fprintf(stderr, "stt-client: %s: no audio channels\n", path);
        sf_close(s->sf);
        s->sf = NULL;
        return STT_EUNSUPPORTED;
    }
    s->channels = info.channels;
    s->in_rate_hz = info.samplerate;
    s->file_frames = info.frames;
    s->out_rate_hz = rate_hz ? rate_hz : info.samplerate;
    /* The server only accepts 8..48 kHz frames; rather than be refused, send the closest rate. */
    if (s->out_rate_hz < STT_FRAME_MIN_RATE_HZ || s->out_rate_hz > STT_FRAME_MAX_RATE_HZ) {
        s->out_rate_hz =
            s->out_rate_hz < STT_FRAME_MIN_RATE_HZ ? STT_FRAME_MIN_RATE_HZ : STT_FRAME_MAX_RATE_HZ;
        if (!quiet)
            fprintf(stderr, "stt-client: %s: %d Hz is outside %d..%d Hz, resampling to %d Hz\n",
                    path, s->in_rate_hz, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ,
                    s->out_rate_hz);
    }
    if (s->out_rate_hz != s->in_rate_hz) {
        s->rs = stt_resampler_create(s->in_rate_hz, s->out_rate_hz, STT_RESAMPLE_QUALITY_DEFAULT);
        if (!s->rs) {
            fprintf(stderr, "stt-client: %s: cannot resample %d Hz to %d Hz\n", path, s->in_rate_hz,
                    s->out_rate_hz);
            sf_close(s->sf);
            s->sf = NULL;
            return STT_EUNSUPPORTED;
        }
    }
    /* The silence goes through the resampler too, which also flushes its filter delay. */
    s->tail_left_frames = (int64_t)llround(tail_s * s->in_rate_hz);
    s->block_frames = chunk_samples < 256 ? 256 : chunk_samples;
    s->fbuf = stt_malloc(s->block_frames * (size_t)s->channels * sizeof(float));
    s->mono = stt_malloc(s->block_frames * sizeof(int16_t));
    s->le = stt_malloc(s->block_frames * 2);
    s->pend_cap = chunk_samples + 2 * s->block_frames;
    s->pend = stt_malloc(s->pend_cap * sizeof(int16_t));
    return 0;
}

static void audio_src_dispose(audio_src_t *s)
{
    if (s->sf)
        sf_close(s->sf);
    stt_resampler_destroy(s->rs);
    free(s->fbuf);
    free(s->mono);
    free(s->le);
    free(s->pend);
    memset(s, 0, sizeof(*s));
}

/* Reads one block of input-rate mono samples (file, then silence). Returns how many, 0 at the
 * end, or STT_EIO. */
static long read_block(audio_src_t *s)
{
    if (!s->file_done) {
        sf_count_t got = sf_readf_float(s->sf, s->fbuf, (sf_count_t)s->block_frames);
        if (got < 0 || sf_error(s->sf) != SF_ERR_NO_ERROR)
            return STT_EIO;
        if (got < (sf_count_t)s->block_frames)
            s->file_done = 1;
        if (got > 0) {
            stt_tool_mix_to_mono(s->fbuf, (size_t)got, s->channels, s->mono);
            return (long)got;
        }
    }
    if (s->tail_left_frames > 0) {
        size_t n = s->tail_left_frames < (int64_t)s->block_frames ? (size_t)s->tail_left_frames
                                                                  : s->block_frames;
        memset(s->mono, 0, n * sizeof(int16_t));
        s->tail_left_frames -= (int64_t)n;
        return (long)n;
    }
    return 0;
}

static int audio_src_exhausted(const audio_src_t *s)
{
    return s->pend_len == 0 && s->file_done && s->tail_left_frames == 0;
}

/* Fills out with up to n output-rate samples; stores the count (0 at the end) in *got. */
static int audio_src_next(audio_src_t *s, int16_t *out, size_t n, size_t *got)
{
    while (s->pend_len < n && !(s->file_done && s->tail_left_frames == 0)) {
        long in = read_block(s);
        if (in < 0)
            return (int)in;
        if (in == 0)
            continue; /* the file just ended; the next pass reads the silence */
        if (!s->rs) {
            memcpy(s->pend + s->pend_len, s->mono, (size_t)in * sizeof(int16_t));
            s->pend_len += (size_t)in;
            continue;
        }
        size_t need = s->pend_len + stt_resampler_max_output(s->rs, (size_t)in);
        if (need > s->pend_cap) {
            s->pend_cap = need;
            s->pend = stt_realloc(s->pend, s->pend_cap * sizeof(int16_t));
        }
        stt_tool_s16_to_le(s->mono, (size_t)in, s->le);
        size_t w = 0;
        int rc = stt_resampler_process(s->rs, s->le, (size_t)in, s->pend + s->pend_len,
                                       s->pend_cap - s->pend_len, &w);
        if (rc < 0)
            return rc;
        s->pend_len += w;
    }
    size_t k = s->pend_len < n ? s->pend_len : n;
    memcpy(out, s->pend, k * sizeof(int16_t));
    memmove(s->pend, s->pend + k, (s->pend_len - k) * sizeof(int16_t));
    s->pend_len -= k;
    *got = k;
    return 0;
}

/* ---- display ------------------------------------------------------------------------------ */

/* Copies text for display with control characters turned into spaces, so a server string can
 * neither break the one-line-per-sentence output nor inject terminal escapes. */
static char *sanitize(const char *text)
{
    char *s = stt_strdup(text);
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    return 80;
}

static void clear_partial(conn_t *c)
{
    if (c->partial_on_tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        c->partial_on_tty = 0;
    }
}

static void show_partial(conn_t *c, const char *text)
{
    if (c->last_partial && strcmp(c->last_partial, text) == 0)
        return; /* the server does not dedupe; repeating a line adds nothing */
    free(c->last_partial);
    c->last_partial = stt_strdup(text);
    char *s = sanitize(text);
    if (g_stderr_tty) {
        /* Show the end of the text: a line that wraps cannot be overwritten with \r. Columns
         * are counted as UTF-8 code points, which is right for most scripts. */
        size_t max_cols = (size_t)terminal_columns() - 1, cols = 0;
        const char *start = s + strlen(s);
        while (start > s) {
            const char *p = start - 1;
            while (p > s && ((unsigned char)*p & 0xc0) == 0x80)
                p--;
            if (cols + 1 > max_cols)
                break;
            cols++;
            start = p;
        }
        fprintf(stderr, "\r\033[K%s", start);
        c->partial_on_tty = 1;
    } else {
        fprintf(stderr, "%s\n", s);
    }
    fflush(stderr);
    free(s);
}

static void show_final(conn_t *c, const char *text)
{
    clear_partial(c);
    free(c->last_partial);
    c->last_partial = NULL;
    char *s = sanitize(text);
    fprintf(stdout, "%s\n", s);
    fflush(stdout);
    free(s);
}

/* ---- completion --------------------------------------------------------------------------- */

/* Records the outcome and asks for a clean close from the writeable callback. */
static void decide(conn_t *c, int result)
{
    if (c->decided)
        return;
    c->decided = 1;
    c->result = result;
    lws_sul_cancel(&c->send_sul);
    lws_sul_cancel(&c->finish_sul);
    if (c->wsi && !c->finished) {
        c->closing = 1;
        lws_callback_on_writable(c->wsi);
    }
}

static void finish_sul_cb(lws_sorted_usec_list_t *sul);

/* Called after the audio is sent and on every event since: decides success, timeout or waiting,
 * and arms the timer for the next moment the answer could change. */
static void check_done(conn_t *c)
{
    if (c->decided || !c->audio_done)
        return;
    if (c->o->proto->results_out_of_band) {
        if (c->eos_pending)
            return; /* the end-of-stream message goes out first */
        if (!c->o->quiet)
            fprintf(stderr,
                    "stt-client: %s: sent; --protocol %s gets no results on this connection "
                    "(they leave out of band: docs/protocol.md)\n",
                    c->file, c->o->proto->name);
        decide(c, EXIT_OK);
        return;
    }
    int64_t now = stt_tool_now_us();
    int64_t deadline = c->audio_done_us + (int64_t)(c->o->timeout_s * 1e6);
    int64_t next = deadline;
    unsigned pending = c->n_stop > c->n_full ? c->n_stop - c->n_full : 0;

    /* After the end-of-stream message of a protocol whose server then answers and closes
     * (vosk), that close ends the call; the quiet rule would cut off its last final. */
    int await_close = c->o->proto->closes_after_eos;
    if (c->n_full > 0 && pending == 0 && !c->recording && !await_close) {
        /* With --fast the server may still hold a backlog of our audio, so its "listening" state
         * says nothing about the end of the file; only silence from it does. */
        if (c->listening_after_stop && !c->o->fast) {
            decide(c, EXIT_OK);
            return;
        }
        int64_t quiet_from =
            c->last_event_us > c->audio_done_us ? c->last_event_us : c->audio_done_us;
        if (now - quiet_from >= QUIET_US) {
            decide(c, EXIT_OK);
            return;
        }
        if (quiet_from + QUIET_US < next)
            next = quiet_from + QUIET_US;
    }
    if (now >= deadline) {
        clear_partial(c);
        if (c->n_full > 0) {
            fprintf(stderr,
                    "stt-client: %s: gave up after %.1f s waiting for the server to "
                    "finish (%u utterance(s) still pending)\n",
                    c->file, c->o->timeout_s, pending + (unsigned)c->recording);
            decide(c, EXIT_OK);
        } else {
            fprintf(stderr,
                    "stt-client: %s: no final transcript within %.1f s after the "
                    "audio ended\n",
                    c->file, c->o->timeout_s);
            decide(c, EXIT_TIMEOUT);
        }
        return;
    }
    lws_sul_schedule(c->ctx, 0, &c->finish_sul, finish_sul_cb, next - now);
}

static void finish_sul_cb(lws_sorted_usec_list_t *sul)
{
    check_done(CONTAINER_OF(sul, conn_t, finish_sul));
}

/* ---- sending ------------------------------------------------------------------------------ */

static void send_sul_cb(lws_sorted_usec_list_t *sul)
{
    conn_t *c = CONTAINER_OF(sul, conn_t, send_sul);
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static int64_t chunk_due_us(const conn_t *c, uint64_t k)
{
    return c->t0_us +
           (int64_t)(k * (uint64_t)c->o->chunk_samples * 1000000u / (uint64_t)c->src.out_rate_hz);
}

/* Arms the wakeup for the next chunk: at once with --fast or when it is already due (we are
 * behind after backpressure and catch up), otherwise at its slot on the fixed clock. */
static void schedule_send(conn_t *c)
{
    int64_t delay = c->o->fast ? 0 : chunk_due_us(c, c->chunks_sent) - stt_tool_now_us();
    if (delay <= 0)
        lws_callback_on_writable(c->wsi);
    else
        lws_sul_schedule(c->ctx, 0, &c->send_sul, send_sul_cb, delay);
}

static void audio_finished(conn_t *c)
{
    c->audio_done = 1;
    c->audio_done_us = stt_tool_now_us();
    if (c->o->proto->eos) {
        c->eos_pending = 1;
        lws_callback_on_writable(c->wsi);
    }
    if (!c->o->quiet && !c->o->json) {
        clear_partial(c);
        double secs = (double)c->samples_sent / c->src.out_rate_hz;
        fprintf(stderr,
                "stt-client: sent %.2f s of audio in %.2f s (%llu frames); waiting for "
                "the transcript\n",
                secs, (double)(c->audio_done_us - c->t0_us) / 1e6,
                (unsigned long long)c->chunks_sent);
    }
    check_done(c);
}

/* Writes one text message of the codec; 0, or -1 (decided) when the write failed. */
static int write_text(conn_t *c, const char *text, size_t len)
{
    uint8_t *p = c->txbuf + LWS_PRE;
    memcpy(p, text, len); /* txcap holds OPENING_MAX_BYTES and the eos message */
    if (lws_write(c->wsi, p, len, LWS_WRITE_TEXT) < (int)len) {
        fprintf(stderr, "stt-client: %s: write failed\n", c->file);
        c->decided = 1;
        c->result = EXIT_CONN;
        return -1;
    }
    return 0;
}

/* The codec's opening messages (before any audio) and its end-of-stream message (after it),
 * one per writeable callback. Returns 1 when it wrote one, 0 when none was due, -1 when the
 * write failed. */
static int send_control(conn_t *c)
{
    char msg[OPENING_MAX_BYTES];
    size_t len = c->o->proto->opening(&c->params, c->opening_sent, msg, sizeof(msg));
    if (len > 0) {
        c->opening_sent++;
        if (write_text(c, msg, len) < 0)
            return -1;
        lws_callback_on_writable(c->wsi); /* the next one, or the first chunk */
        return 1;
    }
    if (c->eos_pending) {
        c->eos_pending = 0;
        len = c->o->proto->eos(&c->params, c->chunks_sent, msg, sizeof(msg));
        if (len && write_text(c, msg, len) < 0)
            return -1;
        check_done(c);
        return 1;
    }
    return 0;
}

/* One message per writeable callback: lws buffers what the socket does not take and holds back
 * the next WRITEABLE until it drained, which is our backpressure. */
static int on_writeable(conn_t *c)
{
    if (c->closing) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (c->decided)
        return 0;
    int sent = send_control(c);
    if (sent)
        return sent < 0 ? -1 : 0;
    if (c->audio_done)
        return 0;
    if (!c->o->fast && stt_tool_now_us() < chunk_due_us(c, c->chunks_sent)) {
        schedule_send(c); /* woken early by lws; wait for the slot */
        return 0;
    }
    size_t n = 0;
    int rc = audio_src_next(&c->src, c->chunk, c->o->chunk_samples, &n);
    if (rc < 0) {
        fprintf(stderr, "stt-client: %s: read error: %s\n", c->file, stt_strerror(rc));
        decide(c, EXIT_CONN);
        return 0;
    }
    if (n == 0) {
        audio_finished(c);
        return 0;
    }
    uint8_t *frame = c->txbuf + LWS_PRE;
    size_t len = c->o->proto->audio(&c->params, c->chunk, n, 0, c->chunks_sent, c->samples_sent,
                                    frame, c->txcap - LWS_PRE);
    if (len == 0) {
        fprintf(stderr, "stt-client: cannot build a frame of %zu samples\n", n);
        decide(c, EXIT_CONN);
        return 0;
    }
    int w = lws_write(c->wsi, frame, len,
                      c->o->proto->audio_is_text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
    if (w < (int)len) {
        fprintf(stderr, "stt-client: %s: write failed\n", c->file);
        c->decided = 1;
        c->result = EXIT_CONN;
        return -1;
    }
    c->chunks_sent++;
    c->samples_sent += n;
    if (audio_src_exhausted(&c->src))
        audio_finished(c);
    else
        schedule_send(c);
    return 0;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void print_json_event(cJSON *msg, const char *type)
{
    /* The utterance audio is megabytes of base64; its size is what a reader of the log wants. */
    if (type && strcmp(type, "transcription_start") == 0) {
        const char *b64 = stt_tool_json_str(msg, "audio_bytes_base64");
        if (b64)
            cJSON_ReplaceItemInObjectCaseSensitive(msg, "audio_bytes_base64",
                                                   cJSON_CreateNumber((double)strlen(b64)));
    }
    char *line = cJSON_PrintUnformatted(msg);
    if (!line)
        stt_fatal(__FILE__, __LINE__, "cJSON_PrintUnformatted");
    fprintf(stdout, "%s\n", line);
    fflush(stdout);
    cJSON_free(line);
}

static void handle_message(conn_t *c)
{
    c->last_event_us = stt_tool_now_us();
    stt_client_event_t ev;
    c->o->proto->parse(c->rx.buf, c->rx.len, &ev);
    if (!cJSON_IsObject(ev.json)) {
        fprintf(stderr,
                "stt-client: ignoring a %zu-byte text message that is not a JSON "
                "object\n",
                c->rx.len);
        stt_client_event_dispose(&ev);
        return;
    }
    if (c->o->json)
        print_json_event(ev.json, ev.name);
    switch (ev.kind) {
    case STT_CLIENT_EV_PARTIAL:
        /* show_partial() drops a repeat; an empty one (vosk, before its first word) says
         * nothing. */
        if (ev.text && *ev.text && !c->o->json && !c->o->quiet)
            show_partial(c, ev.text);
        break;
    case STT_CLIENT_EV_FINAL:
        c->n_full++;
        if (!c->o->json)
            show_final(c, ev.text ? ev.text : "");
        break;
    case STT_CLIENT_EV_SPEECH_START:
        c->recording = 1;
        c->listening_after_stop = 0;
        break;
    case STT_CLIENT_EV_SPEECH_END:
        c->recording = 0;
        c->n_stop++;
        c->listening_after_stop = 0;
        break;
    case STT_CLIENT_EV_LISTENING:
        if (c->n_stop > 0)
            c->listening_after_stop = 1;
        break;
    case STT_CLIENT_EV_ERROR: {
        char *s = sanitize(ev.text ? ev.text : c->rx.buf);
        clear_partial(c);
        fprintf(stderr, "stt-client: server error: %s\n", s);
        free(s);
        break;
    }
    case STT_CLIENT_EV_UNPARSED:
        stt_client_event_dispose(&ev);
        return; /* an object of no shape this protocol knows: nothing changed */
    case STT_CLIENT_EV_OTHER:
        break;
    }
    stt_client_event_dispose(&ev);
    check_done(c);
}

static void on_receive(conn_t *c, const void *in, size_t len)
{
    int was_overflow = c->rx.in_message && c->rx.overflow;
    int rc = stt_tool_rx_add(&c->rx, in, len, lws_is_final_fragment(c->wsi), MAX_MESSAGE_BYTES);
    if (c->rx.overflow && !was_overflow)
        fprintf(stderr, "stt-client: dropping a server message larger than %u bytes\n",
                MAX_MESSAGE_BYTES);
    if (rc != STT_TOOL_RX_DONE)
        return;
    if (lws_frame_is_binary(c->wsi)) {
        fprintf(stderr, "stt-client: ignoring a %zu-byte binary message\n", c->rx.len);
        return;
    }
    handle_message(c);
}

/* ---- connection ----------------------------------------------------------------------------- */

static void on_closed(conn_t *c)
{
    c->finished = 1;
    c->wsi = NULL;
    lws_sul_cancel(&c->send_sul);
    lws_sul_cancel(&c->finish_sul);
    clear_partial(c);
    if (c->decided)
        return;
    c->decided = 1;
    if (c->peer_close_code && c->peer_close_code != LWS_CLOSE_STATUS_NORMAL) {
        c->result = EXIT_CONN; /* already printed when the close frame arrived */
    } else if (c->audio_done && c->n_full > 0) {
        c->result = EXIT_OK;
    } else if (!c->established) {
        fprintf(stderr, "stt-client: cannot connect to %s: closed during the handshake\n",
                c->o->url);
        c->result = EXIT_CONN;
    } else {
        fprintf(stderr,
                "stt-client: %s: the server closed the connection before the transcript "
                "was complete\n",
                c->file);
        c->result = EXIT_CONN;
    }
}

static void on_peer_close(conn_t *c, const uint8_t *in, size_t len)
{
    int code = len >= 2 ? (in[0] << 8) | in[1] : 0;
    c->peer_close_code = code ? code : LWS_CLOSE_STATUS_NORMAL;
    if (code == 0 || code == LWS_CLOSE_STATUS_NORMAL)
        return;
    char reason[128];
    size_t rlen = len - 2 < sizeof(reason) - 1 ? len - 2 : sizeof(reason) - 1;
    memcpy(reason, in + 2, rlen);
    reason[rlen] = '\0';
    char *s = sanitize(reason);
    clear_partial(c);
    fprintf(stderr, "stt-client: %s: server closed the connection: code %d%s%s\n", c->file, code,
            *s ? ", reason: " : "", s);
    free(s);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    conn_t *c = ctx ? *(conn_t **)lws_context_user(ctx) : NULL;
    if (!c)
        return 0;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "stt-client: cannot connect to %s: %s\n", c->o->url,
                in ? (const char *)in : "unknown error");
        c->wsi = NULL;
        c->finished = 1;
        if (!c->decided) {
            c->decided = 1;
            c->result = EXIT_CONN;
        }
        lws_sul_cancel(&c->send_sul);
        lws_sul_cancel(&c->finish_sul);
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        char auth[512];
        if (c->o->proto->authorization &&
            c->o->proto->authorization(&c->params, auth, sizeof(auth)) > 0)
            return stt_tool_append_header(wsi, in, len, "authorization:", auth);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->wsi = wsi;
        c->established = 1;
        c->t0_us = stt_tool_now_us();
        c->last_event_us = c->t0_us;
        schedule_send(c);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(c, in, len);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_closed(c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"stt-client", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Streams one file over its own connection; returns an exit code. */
static int run_file(struct lws_context *ctx, conn_t **slot, const client_opts_t *o,
                    const char *file, int announce)
{
    conn_t *c = stt_calloc(1, sizeof(*c));
    c->o = o;
    c->file = file;
    c->ctx = ctx;
    int result = EXIT_CONN;
    stt_tool_target_t t;
    if (audio_src_open(&c->src, file, o->rate_hz, o->tail_silence_s, o->quiet || o->json,
                       o->chunk_samples) < 0)
        goto fail_src;
    c->params.rate_hz = c->src.out_rate_hz;
    c->params.api_key = o->api_key;
    /* The call's identity for the protocols that name calls: the session, else one per file. */
    char call_id[64];
    snprintf(call_id, sizeof(call_id), "stt-client-%ld-%u", (long)getpid(), ++g_files);
    c->params.call_id = o->session ? o->session : call_id;
    /* Again for this file's rate, which the codec may put in the query; main() checked it. */
    if (stt_client_proto_target(&t, o->proto, &c->params, o->url, o->session) < 0) {
        result = EXIT_USAGE;
        goto fail_target;
    }
    size_t msg = o->proto->audio_max_bytes(&c->params, o->chunk_samples);
    if (msg == 0) {
        fprintf(stderr, "stt-client: --protocol %s cannot carry %d Hz audio in chunks of %zu\n",
                o->proto->name, c->params.rate_hz, o->chunk_samples);
        result = EXIT_USAGE;
        goto fail_buf;
    }
    if (msg < OPENING_MAX_BYTES)
        msg = OPENING_MAX_BYTES;
    c->txcap = LWS_PRE + msg;
    c->txbuf = stt_malloc(c->txcap);
    c->chunk = stt_malloc(o->chunk_samples * sizeof(int16_t));
    if (announce)
        fprintf(stderr,
                "stt-client: %s: %.2f s, %d Hz, %d channel(s); sending at %d Hz to "
                "%s%s\n",
                file, (double)c->src.file_frames / c->src.in_rate_hz, c->src.in_rate_hz,
                c->src.channels, c->src.out_rate_hz, o->url, o->fast ? " (fast)" : "");

    struct lws_client_connect_info ci;
    stt_tool_connect_info_init(&ci, ctx, &t, &c->wsi);
    ci.protocol = o->proto->subprotocol;
    ci.local_protocol_name = "stt-client";
    *slot = c;
    if (!lws_client_connect_via_info(&ci) && !c->decided) {
        /* Some failures return before the CONNECTION_ERROR callback could report them. */
        fprintf(stderr, "stt-client: cannot connect to %s\n", o->url);
        c->decided = 1;
        c->result = EXIT_CONN;
        c->finished = 1;
    }
    int interrupts_seen = 0;
    while (!c->finished) {
        if (g_interrupted > interrupts_seen) {
            interrupts_seen = (int)g_interrupted;
            if (interrupts_seen > 1 || !c->wsi || !c->established)
                break; /* a second ^C, or nothing to close cleanly: leave now */
            clear_partial(c);
            c->decided = 0; /* an interrupt overrides any outcome still being closed */
            decide(c, EXIT_INTERRUPTED);
        }
        if (lws_service(ctx, 0) < 0)
            break;
    }
    result = c->decided ? c->result : EXIT_INTERRUPTED;
    lws_sul_cancel(&c->send_sul);
    lws_sul_cancel(&c->finish_sul);
    free(c->txbuf);
    free(c->chunk);
    stt_tool_rx_dispose(&c->rx);
    free(c->last_partial);
fail_buf:
fail_target:
    stt_tool_target_dispose(&t);
fail_src:
    audio_src_dispose(&c->src);
    /* A connection left open by a second ^C still points here; its callbacks must find none. */
    *slot = NULL;
    free(c);
    return result;
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stt-client [options] FILE.wav [FILE2.wav ...]\n"
            "Streams audio files to an stt-server data WebSocket (RealtimeSTT protocol, or\n"
            "another client codec) and prints each final sentence on stdout, partial text\n"
            "on stderr.\n"
            "\n"
            "  --url ws://HOST:PORT/PATH  server data socket (default " DEFAULT_URL ");\n"
            "                             without a path, the protocol's own (vosk: /vosk,\n"
            "                             twilio: /twilio, jambonz: /jambonz, audiofork:\n"
            "                             /audio_fork)\n"
            "  --protocol " STT_CLIENT_PROTO_NAMES "\n"
            "                             what to speak (default rtstt; vosk sends its\n"
            "                             config message first and {\"eof\" : 1} last;\n"
            "                             twilio, jambonz and audiofork send at 8000 Hz\n"
            "                             unless --rate says otherwise (twilio: only 8000);\n"
            "                             twilio and audiofork get no transcript back: their\n"
            "                             results go out of band, so the file is done once\n"
            "                             sent; audiosocket is raw TCP, for stt-loadgen only)\n"
            "  --fast                     send as fast as the server reads, not in real time\n"
            "  --chunk N                  frames per message (default %d)\n"
            "  --rate HZ                  resample to HZ (%d..%d) before sending\n"
            "                             (default: the file's own rate)\n"
            "  --json                     print every server event as one JSON line on stdout\n"
            "                             (audio_bytes_base64 is replaced by its length)\n"
            "  --tail-silence SEC         silence appended after each file (default 1.5)\n"
            "  --timeout SEC              wait this long for the final after the audio (30)\n"
            "  --session ID               append ?session=ID to the URL; also the call id of\n"
            "                             the protocols that name calls (twilio, jambonz,\n"
            "                             audiofork; default stt-client-PID-N)\n"
            "  --api-key KEY              jambonz: send Authorization: Bearer KEY\n"
            "  -q, --quiet                only final sentences and errors\n"
            "  -h, --help                 this help\n"
            "\n"
            "Reads any format libsndfile reads; channels are mixed down to mono, and a\n"
            "file outside %d..%d Hz is resampled to the nearest of the two. Each file\n"
            "uses its own connection. wss:// works when libwebsockets has TLS.\n"
            "\n"
            "Exit status: 0 ok, 1 connection failure or error close, 2 usage error or\n"
            "unreadable file, 3 no final transcript before the timeout, 130 interrupted.\n",
            DEFAULT_CHUNK_SAMPLES, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ,
            STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ);
}

static int opt_session(void *out, const char *prog, const char *arg)
{
    if (!*arg) {
        fprintf(stderr, "%s: --session needs a non-empty id\n", prog);
        return STT_EINVAL;
    }
    *(const char **)out = arg;
    return 0;
}

/* 0, STT_TOOL_OPTS_HELP, or < 0 after printing what is wrong; *first: the first file. */
static int parse_args(int argc, char **argv, client_opts_t *o, int *first)
{
    const stt_tool_opt_t opts[] = {
        STT_TOOL_OPT_STR("url", &o->url),
        STT_TOOL_OPT_CALL("protocol", &o->proto, stt_client_proto_opt),
        STT_TOOL_OPT_BOOL("fast", 0, &o->fast),
        STT_TOOL_OPT_NUM("chunk", &o->chunk_samples, 1, MAX_CHUNK_SAMPLES, NULL),
        STT_TOOL_OPT_NUM("rate", &o->rate_hz, STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ, NULL),
        STT_TOOL_OPT_BOOL("json", 0, &o->json),
        STT_TOOL_OPT_NUM("tail-silence", &o->tail_silence_s, 0, 600, " seconds"),
        STT_TOOL_OPT_NUM("timeout", &o->timeout_s, 0.1, 86400, " seconds"),
        STT_TOOL_OPT_CALL("session", &o->session, opt_session),
        STT_TOOL_OPT_STR("api-key", &o->api_key),
        STT_TOOL_OPT_BOOL("quiet", 'q', &o->quiet),
        STT_TOOL_OPT_HELP_ROW,
    };
    int rc =
        stt_tool_opts_parse("stt-client", opts, sizeof(opts) / sizeof(opts[0]), argc, argv, first);
    if (rc == 0 && *first >= argc) {
        fprintf(stderr, "stt-client: no input file\n");
        return STT_EINVAL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    client_opts_t o = {
        .url = DEFAULT_URL,
        .proto = stt_client_proto_default(),
        .chunk_samples = DEFAULT_CHUNK_SAMPLES,
        .tail_silence_s = 1.5,
        .timeout_s = 30,
    };
    int first;
    int rc = parse_args(argc, argv, &o, &first);
    if (rc == STT_TOOL_OPTS_HELP) {
        usage(stdout);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "Try 'stt-client --help'.\n");
        return EXIT_USAGE;
    }
    if (o.proto->transport != STT_CLIENT_TRANSPORT_WS) {
        fprintf(stderr, "stt-client: --protocol %s is raw TCP; use stt-loadgen for it\n",
                o.proto->name);
        return EXIT_USAGE;
    }
    if (!o.rate_hz)
        o.rate_hz = o.proto->default_rate_hz; /* 0: the file's own */
    g_stderr_tty = isatty(STDERR_FILENO);

    /* Check every input before connecting, so a typo in the third name fails at once. */
    for (int i = first; i < argc; i++) {
        SF_INFO info;
        SNDFILE *sf = stt_tool_sf_open("stt-client", argv[i], &info);
        if (!sf)
            return EXIT_USAGE;
        sf_close(sf);
    }

    /* The URL is checked here, before anything connects; each file's call parses it again
     * with its own rate (run_file). */
    stt_tool_target_t t;
    stt_client_params_t p = {.rate_hz = o.rate_hz};
    rc = stt_client_proto_target(&t, o.proto, &p, o.url, o.session);
    int tls = t.tls;
    stt_tool_target_dispose(&t);
    if (rc < 0) {
        fprintf(stderr, "stt-client: %s URL '%s' (expected ws://HOST:PORT/PATH)\n",
                rc == STT_EUNSUPPORTED ? "TLS is not available for" : "bad", o.url);
        return EXIT_USAGE;
    }

    stt_tool_signals_install(on_sigint);

    lws_set_log_level(o.quiet ? 0 : LLL_ERR, NULL);
    conn_t *current = NULL;
    struct lws_context *ctx = stt_tool_lws_context_create(protocols, &current, 16, tls, NULL);
    if (!ctx) {
        fprintf(stderr, "stt-client: cannot create the libwebsockets context\n");
        return EXIT_CONN;
    }

    int result = EXIT_OK;
    for (int i = first; i < argc && !g_interrupted; i++) {
        if (argc - first > 1 && !o.quiet && !o.json)
            fprintf(stderr, "==> %s <==\n", argv[i]);
        rc = run_file(ctx, &current, &o, argv[i], !o.quiet && !o.json);
        if (rc != EXIT_OK && result == EXIT_OK)
            result = rc;
    }
    if (g_interrupted)
        result = EXIT_INTERRUPTED;
    lws_context_destroy(ctx);
    return result;
}

/* stt-loadgen's calls: one connection each, speaking the protocol of the client codec
 * (--protocol): a WebSocket, or a raw TCP stream for a codec on that transport (AudioSocket),
 * through the same lws loop (method "RAW"), with the same clock and the same measurements. A
 * call connects, sends the codec's opening messages, then frame k of its audio at t_start + k *
 * frame_ms (the timer wheel wakes it), and at the end of the test the codec's end-of-stream
 * message (if it has one) and a close. What the server sends back is read by the codec and
 * matched to the utterances: time to the first partial, partial cadence, final latency.
 *
 * No coordinated omission: lateness is measured from each frame's scheduled time. A call whose
 * socket was not writeable catches up one frame per writeable callback, and frames still unsent
 * at the end count with their lateness at the end of the test.
 *
 * Threading: the loop thread; lws calls lg_calls_callback() for every connection. Ownership: the
 * calls belong to the loadgen_t; a call's wsi belongs to lws and is forgotten when it closes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "stt/error.h"

/* ---- sending ------------------------------------------------------------------------------ */

static int is_raw(const loadgen_t *g)
{
    return g->o.proto->transport == STT_CLIENT_TRANSPORT_TCP;
}

/* The codec's parameters for call c: the shared ones with the call's own id in id (which must
 * outlive the use). The id holds the generator's pid, so runs against one server never share
 * one. */
static stt_client_params_t call_params(const loadgen_t *g, const lg_call_t *c, char id[48])
{
    stt_client_params_t p = g->params;
    snprintf(id, 48, "lg-%ld-%d", (long)getpid(), c->idx);
    p.call_id = id;
    return p;
}

/* Writes one text message (bytes, on raw TCP) from the transmit buffer; 0, or -1 when lws took
 * less than all. */
static int write_text(loadgen_t *g, lg_call_t *c, const char *text, size_t len)
{
    uint8_t *p = g->tx + LWS_PRE;
    if (len > g->txcap - LWS_PRE)
        return -1;
    memcpy(p, text, len);
    if (lws_write(c->wsi, p, len, is_raw(g) ? LWS_WRITE_RAW : LWS_WRITE_TEXT) < (int)len) {
        g->write_errors++;
        return -1;
    }
    return 0;
}

/* The codec's messages other than audio, one per writeable callback (lws takes one write per
 * callback): its opening messages before the first frame, and its end-of-stream message once the
 * call is closing, just before the close (a call that closes before it opened sends only that).
 * Returns 1 when it wrote one, 0 when none was due, -1 on a write error. */
static int send_control(loadgen_t *g, lg_call_t *c)
{
    char id[48], msg[OPENING_MAX_BYTES];
    stt_client_params_t par = call_params(g, c, id);
    if (c->eos_pending) {
        c->eos_pending = 0;
        size_t len = g->o.proto->eos(&par, c->frames_out, msg, sizeof(msg));
        if (len == 0 || write_text(g, c, msg, len) < 0)
            return -1;
        lws_callback_on_writable(c->wsi); /* the close follows */
        return 1;
    }
    if (c->closing)
        return 0;
    size_t len = g->o.proto->opening(&par, c->opening_sent, msg, sizeof(msg));
    if (len == 0)
        return 0;
    c->opening_sent++;
    if (write_text(g, c, msg, len) < 0)
        return -1;
    lws_callback_on_writable(c->wsi); /* the next opening message, or the first frame */
    return 1;
}

static int on_writeable(loadgen_t *g, lg_call_t *c)
{
    int sent = send_control(g, c);
    if (sent)
        return sent < 0 ? -1 : 0;
    if (c->closing) {
        if (!is_raw(g))
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    if (g->o.idle || g->stopping)
        return 0;
    int64_t now = stt_tool_now_us();
    int64_t due = lg_pcm_frame_due_us(g, c, c->next_frame);
    if (due >= g->deadline_us)
        return 0;
    if (due > now) {
        lg_wheel_insert(g, c, due); /* woken early by lws: wait for the slot */
        return 0;
    }
    int u;
    int64_t pos;
    const int16_t *pcm = lg_pcm_frame(g, c, c->next_frame, &u, &pos);
    uint8_t *frame = g->tx + LWS_PRE;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    char id[48];
    stt_client_params_t par = call_params(g, c, id);
    size_t len = g->o.proto->audio(&par, pcm, g->frame_samples,
                                   (int64_t)wall.tv_sec * 1000000000LL + wall.tv_nsec,
                                   c->frames_out, c->frames_out * g->frame_samples, frame,
                                   g->txcap - LWS_PRE);
    if (len == 0) {
        fprintf(stderr, "stt-loadgen: cannot build a frame of %zu samples\n", g->frame_samples);
        g->write_errors++;
        return -1;
    }
    now = stt_tool_now_us();
    int w = lws_write(c->wsi, frame, len,
                      is_raw(g)                  ? LWS_WRITE_RAW
                      : g->o.proto->audio_is_text ? LWS_WRITE_TEXT
                                                  : LWS_WRITE_BINARY);
    if (w < (int)len) {
        g->write_errors++;
        return -1;
    }
    c->frames_out++;
    int64_t late = now - due;
    stt_tool_hist_add(&g->h_late, late);
    if (late > LATE_US)
        g->frames_late++;
    g->frames_sent++;
    g->bytes_sent += len;
    if (u >= 0 && pos == 0)
        c->u_started = u + 1;
    if (u >= 0 && pos == g->speech_frames - 1)
        c->u_sent = u + 1;
    c->next_frame++;
    due = lg_pcm_frame_due_us(g, c, c->next_frame);
    if (due >= g->deadline_us)
        return 0;
    if (due <= stt_tool_now_us())
        lws_callback_on_writable(c->wsi); /* behind: catch up at once */
    else
        lg_wheel_insert(g, c, due);
    return 0;
}

/* Frames that were due before end_us (the end of the test, or the moment the server closed the
 * call) but never went out count as sent at end_us, so a server that stops reading cannot hide
 * its backlog from the lateness figures. */
static void count_unsent(loadgen_t *g, lg_call_t *c, int64_t end_us)
{
    if (g->o.idle || c->state != CALL_OPEN || c->t_start_us == 0)
        return;
    if (end_us > g->deadline_us)
        end_us = g->deadline_us;
    for (uint64_t k = c->next_frame;; k++) {
        int64_t due = lg_pcm_frame_due_us(g, c, k);
        if (due >= end_us)
            break;
        int64_t late = end_us - due;
        stt_tool_hist_add(&g->h_late, late);
        if (late > LATE_US)
            g->frames_late++;
        g->frames_unsent++;
    }
    c->next_frame = UINT64_MAX / 2; /* counted once */
}

void lg_calls_stop(loadgen_t *g, lg_call_t *c, int64_t end_us)
{
    lg_wheel_remove(g, c);
    if (c->state != CALL_OPEN)
        return;
    count_unsent(g, c, end_us);
    c->eos_pending = g->o.proto->eos != NULL;
    c->closing = 1;
    lws_callback_on_writable(c->wsi);
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* FNV-1a of a partial's text, never 0 (0 stands for "no partial yet"). */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h ? h : 1;
}

/* A codec that repeats its hypothesis on every audio message (vosk) would make every frame a
 * partial: there only a non-empty text that differs from the call's last one is news. */
static int partial_is_news(const loadgen_t *g, lg_call_t *c, const char *text)
{
    if (!g->o.proto->repeats_partials)
        return 1;
    if (!text || !*text)
        return 0;
    uint64_t h = text_hash(text);
    if (h == c->partial_hash)
        return 0;
    c->partial_hash = h;
    return 1;
}

static void on_realtime(loadgen_t *g, lg_call_t *c, int64_t now)
{
    g->ev_realtime++;
    int u = c->u_started - 1; /* realtime text belongs to the utterance being spoken */
    if (u < 0 || u < c->u_final) {
        g->realtime_stale++; /* before any speech, or after its final */
        return;
    }
    if (c->rt_utt != u) {
        c->rt_utt = u;
        stt_tool_hist_add(&g->h_ttfr, now - (lg_pcm_utt_start_us(g, c, u) + g->onset_us));
    } else {
        stt_tool_hist_add(&g->h_cadence, now - c->last_rt_us);
    }
    c->last_rt_us = now;
}

/* Finals are matched to utterances in order. One that arrives before the utterance's speech
 * ended is the server splitting it, and does not close the utterance. */
static void on_full_sentence(loadgen_t *g, lg_call_t *c, int64_t now)
{
    g->ev_full++;
    c->partial_hash = 0; /* the next utterance's first partial is news even if it is the same */
    if (c->u_final >= c->u_started) {
        g->finals_unexpected++;
        return;
    }
    int64_t end = lg_pcm_utt_start_us(g, c, c->u_final) + g->end_us;
    if (now < end) {
        g->finals_early++;
        return;
    }
    stt_tool_hist_add(&g->h_final, now - end);
    c->u_final++;
}

static void handle_message(loadgen_t *g, lg_call_t *c, const char *buf, size_t len)
{
    int64_t now = stt_tool_now_us();
    stt_client_event_t ev;
    g->o.proto->parse(buf, len, &ev);
    switch (ev.kind) {
    case STT_CLIENT_EV_UNPARSED:
        g->ev_unparsed++;
        break;
    case STT_CLIENT_EV_PARTIAL:
        if (partial_is_news(g, c, ev.text))
            on_realtime(g, c, now);
        else
            g->ev_other++;
        break;
    case STT_CLIENT_EV_FINAL:
        on_full_sentence(g, c, now);
        break;
    default:
        g->ev_other++;
        break;
    }
    stt_client_event_dispose(&ev);
}

static void on_receive(loadgen_t *g, lg_call_t *c, struct lws *wsi, const void *in, size_t len)
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
        lg_code_count_t *cc = &g->close_codes[g->n_close_codes++];
        cc->code = code;
        memcpy(cc->reason, r, n + 1);
        cc->count = 1;
    }
}

static void connect_failed(loadgen_t *g, lg_call_t *c, const char *why)
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

void lg_calls_connect(loadgen_t *g, lg_call_t *c)
{
    struct lws_client_connect_info ci;
    stt_tool_connect_info_init(&ci, g->ctx, &g->target, &c->wsi);
    ci.opaque_user_data = c;
    ci.local_protocol_name = "stt-loadgen";
    ci.protocol = g->o.proto->subprotocol;
    if (is_raw(g))
        ci.method = "RAW";
    if (g->o.n_sources)
        ci.iface = g->o.sources[c->idx % g->o.n_sources];
    c->state = CALL_CONNECTING;
    c->connect_us = stt_tool_now_us();
    g->n_connecting++;
    if (!lws_client_connect_via_info(&ci) && c->state == CALL_CONNECTING)
        connect_failed(g, c, "lws_client_connect_via_info failed");
}

static void on_established(loadgen_t *g, lg_call_t *c, struct lws *wsi)
{
    int64_t now = stt_tool_now_us();
    c->wsi = wsi;
    g->n_connecting--;
    g->n_open++;
    g->established++;
    c->state = CALL_OPEN;
    c->established_us = now;
    stt_tool_hist_add(&g->h_connect, now - c->connect_us);
    if (g->stopping) {
        c->closing = 1;
        lws_callback_on_writable(wsi);
        return;
    }
    /* The codec's opening messages go first, idle or not: they are the protocol's handshake,
     * not audio. on_writeable() sends them before any frame, whichever wakeup comes first. */
    char id[48], msg[OPENING_MAX_BYTES];
    stt_client_params_t par = call_params(g, c, id);
    if (g->o.proto->opening(&par, 0, msg, sizeof(msg)) > 0)
        lws_callback_on_writable(wsi);
    if (g->o.idle)
        return;
    lg_pcm_plan_call(g, c, now);
    lg_wheel_insert(g, c, c->t_start_us);
}

static void on_closed(loadgen_t *g, lg_call_t *c)
{
    lg_wheel_remove(g, c);
    if (c->state == CALL_OPEN) {
        if (!g->stopping) {
            int64_t now = stt_tool_now_us();
            count_unsent(g, c, now);
            g->dropped_by_server++;
            if (now - c->established_us < 1000000)
                g->rejected++; /* refused right after the handshake (capacity, draining) */
            if (is_raw(g))
                note_close_code(g, 0, (const uint8_t *)"TCP closed", 10); /* no codes there */
            else if (!c->peer_close_code)
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

int lg_calls_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    loadgen_t *g = ctx ? lws_context_user(ctx) : NULL;
    lg_call_t *c = lws_get_opaque_user_data(wsi);
    if (!g || !c)
        return 0;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state == CALL_CONNECTING)
            connect_failed(g, c, in ? (const char *)in : NULL);
        return 0;
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        char id[48], auth[512];
        stt_client_params_t par = call_params(g, c, id);
        if (g->o.proto->authorization &&
            g->o.proto->authorization(&par, auth, sizeof(auth)) > 0)
            return stt_tool_append_header(wsi, in, len, "authorization:", auth);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_RAW_CONNECTED:
        on_established(g, c, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_RAW_WRITEABLE:
        return c->state == CALL_OPEN ? on_writeable(g, c) : 0;
    case LWS_CALLBACK_RAW_RX:
        g->raw_rx_bytes += len; /* AudioSocket's server sends nothing the generator reads */
        return 0;
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
    case LWS_CALLBACK_RAW_CLOSE:
        on_closed(g, c);
        return 0;
    default:
        return 0;
    }
}

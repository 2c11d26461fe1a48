/* The stream core on the null engine, without sockets: synthetic speech in, event sequences and
 * stream-time positions out; finalize, abort, clear and the two-phase close.
 *
 * The test is its own loop: after each 20 ms of audio it hands staged jobs to the pool and takes
 * finished ones back (what the server's loop does every pass), and it ticks the recognizer. The
 * null engine says a fixed text (stt_null_set_text) with its words spread over the audio, so
 * results and word times can be checked. */
#include <math.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/recognizer.h"
#include "stt/clock.h"
#include "stt/config.h"
#include "stt/error.h"
#include "stt/g711.h"
#include "stt/log.h"
#include "stt/stream.h"

#define RATE 16000
#define TOL_S 0.1 /* turn boundaries: a chunk (32 ms) plus the resampler's and VAD's delays */
#define MAX_EVENTS 512

typedef struct {
    stt_stream_event_kind_t kind;
    uint32_t utt;
    uint64_t start_sample, end_sample;
    int finals_pending;
    char text[128];
    size_t n_words;
    double word_start_s, word_end_s; /* first word's start, last word's end (stream time) */
    int has_pcm;
    size_t n_samples;
} rec_event_t;

typedef struct {
    rec_event_t ev[MAX_EVENTS];
    size_t n;
    int closed;
    int after_close; /* events delivered after stt_stream_close */
    int closing;
} log_t;

static void on_event(void *data, const stt_stream_event_t *ev)
{
    log_t *l = data;
    if (l->closing)
        l->after_close++;
    if (l->n == MAX_EVENTS)
        return;
    rec_event_t *r = &l->ev[l->n++];
    memset(r, 0, sizeof(*r));
    r->kind = ev->kind;
    r->utt = ev->utt;
    r->start_sample = ev->start_sample;
    r->end_sample = ev->end_sample;
    r->finals_pending = ev->finals_pending;
    r->has_pcm = ev->pcm != NULL;
    r->n_samples = ev->n_samples;
    if (ev->result) {
        snprintf(r->text, sizeof(r->text), "%s", ev->result->text ? ev->result->text : "");
        r->n_words = ev->result->n_words;
        if (r->n_words) {
            double origin = (double)ev->start_sample / 16000.0;
            r->word_start_s = origin + ev->result->words[0].start_s;
            r->word_end_s = origin + ev->result->words[r->n_words - 1].end_s;
        }
    }
}

static void on_closed(void *data)
{
    ((log_t *)data)->closed++;
}

static void wake(void *data)
{
}

/* ---- the fixture: a recognizer on the null engine, loaded ---- */

static stt_config_t g_cfg;

static void pump(stt_recognizer_t *rec)
{
    stt_pool_flush(rec->pool);
    stt_recognizer_dispatch(rec);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A recognizer on `engine`: "null", or "fault" (the fault-injection engine over null). */
static stt_recognizer_t *rec_new_engine(const char *engine)
{
    stt_config_init(&g_cfg);
    g_cfg.consistency_check_interval = 0;
    g_cfg.fault_injection = 1;
    const stt_engine_vtable_t *e = stt_engine_find(engine);
    stt_recognizer_t *rec = stt_recognizer_create(&g_cfg, e, 2, wake, NULL);
    double deadline = stt_now_s() + 20;
    while (stt_recognizer_tick(rec, stt_now_s()) != STT_REC_READY) {
        assert_true(stt_now_s() < deadline);
        sleep_ms(5);
    }
    return rec;
}

static stt_recognizer_t *rec_new(void)
{
    return rec_new_engine("null");
}

static void rec_free(stt_recognizer_t *rec)
{
    assert_int_equal(rec->n_streams, 0);
    stt_recognizer_quiesce(rec);
    stt_recognizer_destroy(rec);
    stt_config_dispose(&g_cfg);
}

/* Lets jobs come back until cond() holds or 10 s passed. */
static void settle(stt_recognizer_t *rec, int (*cond)(const log_t *), const log_t *l)
{
    double deadline = stt_now_s() + 10;
    while (!cond(l) && stt_now_s() < deadline) {
        pump(rec);
        stt_recognizer_tick(rec, stt_now_s());
        sleep_ms(2);
    }
}

/* ---- synthetic audio (as tests/unit/audio/test_vad.c) ---- */

/* Speech-like voiced sound from t0 to t1 seconds: harmonics of a gliding pitch, a 4 Hz
 * syllabic envelope; plus quiet white noise everywhere. */
static int16_t *speech(double total_s, double t0, double t1, int rate, size_t *n_out)
{
    size_t n = (size_t)(total_s * rate);
    int16_t *p = malloc(n * sizeof(int16_t));
    assert_non_null(p);
    uint32_t seed = 12345;
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate, x = 0;
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        x += 30.0 * ((double)seed / 2147483648.0 - 1.0);
        if (t >= t0 && t < t1) {
            double u = t - t0;
            double f0 = 160.0 + 40.0 * sin(2.0 * M_PI * 0.7 * u);
            phase += 2.0 * M_PI * f0 / rate;
            double s = 0;
            for (int k = 1; k * f0 < 3500.0 && k * f0 < rate / 2.0; k++)
                s += sin(k * phase) / k;
            double env = 0.55 + 0.45 * cos(2.0 * M_PI * 4.0 * u);
            double edge = fmin(u, t1 - t) / 0.005;
            if (edge < 1.0)
                env *= 0.5 - 0.5 * cos(M_PI * edge);
            x += 0.16 * 32768.0 * env * s;
        }
        p[i] = (int16_t)lrint(fmax(-32768.0, fmin(32767.0, x)));
    }
    *n_out = n;
    return p;
}

/* Feeds pcm (already in `fmt`, n samples of `bytes_per` bytes) in 20 ms pieces, pumping. */
static void feed_all(stt_recognizer_t *rec, stt_stream_t *s, stt_pcm_format_t fmt, int rate,
                     const uint8_t *bytes, size_t n)
{
    size_t step = (size_t)rate / 50, bps = stt_pcm_sample_bytes(fmt);
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        assert_int_equal(stt_stream_feed(s, fmt, rate, bytes + off * bps, k), 0);
        pump(rec);
    }
}

static const rec_event_t *find(const log_t *l, stt_stream_event_kind_t kind, size_t from,
                               size_t *at)
{
    for (size_t i = from; i < l->n; i++) {
        if (l->ev[i].kind == kind) {
            if (at)
                *at = i;
            return &l->ev[i];
        }
    }
    return NULL;
}

static int has_final(const log_t *l)
{
    return find(l, STT_SEV_FINAL, 0, NULL) != NULL;
}

static int has_closed(const log_t *l)
{
    return l->closed > 0;
}

/* The two-phase close: the recognizer forgets the stream at once, the closed callback runs
 * exactly once after its jobs came back, and nothing is delivered after the close. */
static void close_stream(stt_recognizer_t *rec, stt_stream_t *s, log_t *l)
{
    l->closing = 1;
    stt_stream_close(s, on_closed, l);
    assert_int_equal(rec->n_streams, 0);
    settle(rec, has_closed, l);
    assert_int_equal(l->closed, 1);
    assert_int_equal(l->after_close, 0);
}

static double sec(uint64_t samples)
{
    return (double)samples / 16000.0;
}

/* One utterance of speech at 1.0..3.0 s in 5 s of audio, as `fmt` at `rate`: the events come in
 * RealtimeSTT's order with stream-time positions at the speech's boundaries. */
static void check_utterance(stt_pcm_format_t fmt, int rate)
{
    stt_recognizer_t *rec = rec_new();
    stt_null_set_text("hello stream core");
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    p.keep_utterance_audio = 1; /* UTTERANCE_END carries the whole utterance */
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    size_t n;
    int16_t *pcm = speech(5.0, 1.0, 3.0, rate, &n);
    uint8_t *bytes = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        if (fmt == STT_PCM_S16LE) {
            memcpy(bytes + 2 * i, &pcm[i], 2);
        } else if (fmt == STT_PCM_F32LE) {
            float f = (float)pcm[i] / 32768.0f;
            memcpy(bytes + 4 * i, &f, 4);
        } else { /* encode by searching the decoder's table: exact inverse for the test */
            int best = 0, bestd = 1 << 30;
            for (int c = 0; c < 256; c++) {
                int v = fmt == STT_PCM_MULAW ? stt_g711_mulaw_to_s16((uint8_t)c)
                                             : stt_g711_alaw_to_s16((uint8_t)c);
                int d = abs(v - pcm[i]);
                if (d < bestd) {
                    bestd = d;
                    best = c;
                }
            }
            bytes[i] = (uint8_t)best;
        }
    }
    feed_all(rec, s, fmt, rate, bytes, n);
    settle(rec, has_final, l);
    assert_int_equal(stt_stream_backlog_samples(s), 0); /* everything went through the engine */

    size_t i_start = 0, i_stop = 0, i_end = 0, i_final = 0;
    const rec_event_t *start = find(l, STT_SEV_RECORDING_START, 0, &i_start);
    assert_non_null(start);
    assert_non_null(find(l, STT_SEV_SPEECH_START, 0, NULL));
    const rec_event_t *stop = find(l, STT_SEV_RECORDING_STOP, i_start, &i_stop);
    assert_non_null(stop);
    const rec_event_t *end = find(l, STT_SEV_UTTERANCE_END, i_stop, &i_end);
    assert_non_null(end);
    const rec_event_t *fin = find(l, STT_SEV_FINAL, i_end, &i_final);
    assert_non_null(fin);
    assert_non_null(find(l, STT_SEV_LISTENING, i_end, NULL)); /* listening again after */
    assert_int_equal(start->utt, 1);
    assert_int_equal(fin->utt, 1);
    assert_int_equal(end->finals_pending, 1);
    assert_int_equal(fin->finals_pending, 0);
    /* onset confirmed within a few chunks of 1.0 s; the stop after the speech plus the
     * post-speech silence plus the VAD's hangover (measured 0.3 s: 4.00 s in every format) */
    double onset = sec(start->start_sample);
    double stop_s = sec(stop->start_sample);
    double post = p.turn.post_speech_silence_s;
    assert_true(onset > 1.0 - TOL_S && onset < 1.0 + 0.2);
    assert_true(stop_s > 3.0 + post - TOL_S && stop_s < 3.0 + post + 0.4);
    /* the utterance's audio: from the pre-roll to the stop */
    assert_true(sec(end->start_sample) <= onset && sec(end->end_sample) >= stop_s - TOL_S);
    assert_true(end->has_pcm);
    assert_int_equal(end->n_samples, end->end_sample - end->start_sample);
    /* the final: the engine's text, words inside the audio it covers, in stream time */
    assert_string_equal(fin->text, "hello stream core");
    assert_int_equal(fin->n_words, 3);
    assert_true(fin->word_start_s >= sec(fin->start_sample) - 1e-9);
    assert_true(fin->word_end_s <= sec(fin->end_sample) + 1e-9);
    assert_true(fin->word_start_s < 1.0 && fin->word_end_s > 3.0);
    /* every position is monotonic along the sequence of turn events */
    uint64_t last = 0;
    for (size_t i = 0; i < l->n; i++) {
        const rec_event_t *e = &l->ev[i];
        if (e->kind == STT_SEV_PARTIAL || e->kind == STT_SEV_FINAL ||
            e->kind == STT_SEV_UTTERANCE_END)
            continue;
        assert_true(e->start_sample >= last);
        last = e->start_sample;
    }
    assert_int_equal(stt_stream_position(s), (uint64_t)(5.0 * 16000) / 512 * 512 +
                                                 stt_stream_position(s) % 512);
    close_stream(rec, s, l);
    stt_null_set_text(NULL);
    free(bytes);
    free(pcm);
    free(l);
    rec_free(rec);
}

static void test_utterance_s16_16k(void **state)
{
    check_utterance(STT_PCM_S16LE, 16000);
}

static void test_utterance_mulaw_8k(void **state)
{
    check_utterance(STT_PCM_MULAW, 8000);
}

static void test_utterance_alaw_8k(void **state)
{
    check_utterance(STT_PCM_ALAW, 8000);
}

static void test_utterance_f32_48k(void **state)
{
    check_utterance(STT_PCM_F32LE, 48000);
}

static void test_utterance_s16_44k1(void **state)
{
    check_utterance(STT_PCM_S16LE, 44100);
}

/* finalize(1) ends a recording at once, however short; the final follows. abort ends one with
 * no final. */
static void test_finalize_and_abort(void **state)
{
    stt_recognizer_t *rec = rec_new();
    stt_null_set_text("short");
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    size_t n;
    int16_t *pcm = speech(10.0, 1.0, 9.0, RATE, &n);
    /* up to 1.4 s: recording for about 0.4 s, below min_length_of_recording */
    size_t cut = (size_t)(1.4 * RATE);
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)pcm, cut);
    assert_true(stt_stream_recording(s));
    assert_int_equal(stt_stream_finalize(s, 0), STT_EBUSY); /* too short for a plain stop */
    assert_int_equal(stt_stream_finalize(s, 1), 0);
    assert_false(stt_stream_recording(s));
    assert_int_equal(stt_stream_finals_pending(s), 1);
    settle(rec, has_final, l);
    const rec_event_t *fin = find(l, STT_SEV_FINAL, 0, NULL);
    assert_non_null(fin);
    assert_string_equal(fin->text, "short");
    assert_true(sec(fin->end_sample) <= 1.4 + 1e-9);
    assert_int_equal(stt_stream_finalize(s, 1), STT_ENOTREADY);

    /* the rest of the speech starts a second utterance; abort it: no second final */
    l->n = 0;
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)(pcm + cut), (size_t)(2 * RATE));
    assert_true(stt_stream_recording(s));
    stt_stream_abort(s);
    assert_false(stt_stream_recording(s));
    settle(rec, has_final, l); /* waits the full 10 s only if the test fails */
    assert_null(find(l, STT_SEV_FINAL, 0, NULL));
    assert_true(stt_stream_idle(s));

    close_stream(rec, s, l);
    stt_null_set_text(NULL);
    free(pcm);
    free(l);
    rec_free(rec);
}

/* Closing mid-utterance: the jobs out come back, nothing is delivered after the close, the
 * closed callback runs once, and the recognizer forgets the stream at once. */
static void test_close_mid_utterance(void **state)
{
    stt_recognizer_t *rec = rec_new();
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    assert_int_equal(rec->n_streams, 1);
    size_t n;
    int16_t *pcm = speech(4.0, 0.5, 4.0, RATE, &n);
    for (size_t off = 0; off < n; off += 320) /* no pump: jobs stay out */
        stt_stream_feed(s, STT_PCM_S16LE, RATE, pcm + off, 320);
    assert_true(stt_stream_recording(s));
    /* audio received and not through the engine yet: at least what came after the first job */
    assert_true(stt_stream_backlog_samples(s) > (size_t)(2.0 * RATE));
    close_stream(rec, s, l);
    free(pcm);
    free(l);
    rec_free(rec);
}

/* clear_audio_queue: the pre-roll is forgotten, so speech fed before it never counts. end_input
 * after the current utterance: the utterance gets its final, later audio is ignored, IDLE comes. */
static void test_end_input(void **state)
{
    stt_recognizer_t *rec = rec_new();
    stt_null_set_text("last words");
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    size_t n;
    int16_t *pcm = speech(8.0, 1.0, 2.5, RATE, &n);
    size_t mid = (size_t)(2.0 * RATE);
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)pcm, mid);
    assert_true(stt_stream_recording(s));
    stt_stream_end_input(s, 1);
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)(pcm + mid), n - mid);
    settle(rec, has_final, l);
    assert_non_null(find(l, STT_SEV_FINAL, 0, NULL));
    uint64_t pos = stt_stream_position(s);
    /* audio after the end is ignored: the position stops */
    int16_t more[3200] = {0};
    stt_stream_feed(s, STT_PCM_S16LE, RATE, more, 3200);
    assert_int_equal(stt_stream_position(s), pos);
    assert_true(stt_stream_idle(s));
    assert_non_null(find(l, STT_SEV_IDLE, 0, NULL));
    close_stream(rec, s, l);
    stt_null_set_text(NULL);
    free(pcm);
    free(l);
    rec_free(rec);
}

/* finish (a caller hung up mid-utterance): the utterance ends at once however short, its final
 * is still delivered, IDLE follows, and only then does the stream close (closed_cb once);
 * audio after the finish is ignored. Finishing an idle stream closes it at once. */
static void test_finish(void **state)
{
    stt_recognizer_t *rec = rec_new();
    stt_null_set_text("last words before the hang-up");
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    size_t n;
    int16_t *pcm = speech(3.0, 0.5, 3.0, RATE, &n); /* still speaking when the audio stops */
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)pcm, n);
    assert_true(stt_stream_recording(s));
    stt_stream_finish(s, on_closed, l);
    assert_int_equal(l->closed, 0); /* the final is still due */
    assert_int_equal(stt_stream_feed(s, STT_PCM_S16LE, RATE, pcm, 320), 0); /* ignored */
    settle(rec, has_closed, l);
    assert_int_equal(l->closed, 1);
    assert_int_equal(rec->n_streams, 0);
    size_t at_final = 0, at_idle = 0;
    const rec_event_t *f = find(l, STT_SEV_FINAL, 0, &at_final);
    assert_non_null(f);
    assert_string_equal(f->text, "last words before the hang-up");
    assert_non_null(find(l, STT_SEV_RECORDING_STOP, 0, NULL));
    assert_non_null(find(l, STT_SEV_IDLE, at_final, &at_idle));
    assert_int_equal(at_idle, l->n - 1); /* IDLE is the last event */

    /* An idle stream: closed from inside the call. */
    log_t *l2 = calloc(1, sizeof(*l2));
    stt_stream_t *s2 = stt_stream_create(rec, &p, on_event, l2);
    int16_t quiet[1600] = {0};
    stt_stream_feed(s2, STT_PCM_S16LE, RATE, quiet, 1600);
    stt_stream_finish(s2, on_closed, l2);
    assert_int_equal(l2->closed, 1);
    assert_null(find(l2, STT_SEV_FINAL, 0, NULL));
    stt_null_set_text(NULL);
    free(pcm);
    free(l);
    free(l2);
    rec_free(rec);
}

/* ---- finals in utterance order ---- */

enum { ORDER_RETRY, ORDER_FAILED, ORDER_CLOSE, ORDER_MUTE };

static int final_events(const log_t *l, uint32_t utt, size_t *at)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if ((l->ev[i].kind == STT_SEV_FINAL || l->ev[i].kind == STT_SEV_FINAL_FAILED) &&
            l->ev[i].utt == utt) {
            n++;
            if (at)
                *at = i;
        }
    }
    return n;
}

static void pump_for(stt_recognizer_t *rec, double secs)
{
    double end = stt_now_s() + secs;
    while (stt_now_s() < end) {
        pump(rec);
        stt_recognizer_tick(rec, stt_now_s());
        sleep_ms(2);
    }
}

/* A stream's finals come in utterance order whatever order their jobs finish in. Two workers:
 * utterance 1's final job hangs (the fault engine) for HANG_S and then fails, while utterance
 * 2's final is decoded at once on the other worker. Utterance 2's result then waits, still
 * pending, until utterance 1's final is delivered: after a retry (ORDER_RETRY), or as
 * FINAL_FAILED when --final_hold allows no retry (ORDER_FAILED). A waiting result is freed and
 * counted as dropped when the stream closes (ORDER_CLOSE) or its client is gone (ORDER_MUTE). */
#define HANG_S 3.0
static void check_final_order(int mode)
{
    stt_recognizer_t *rec = rec_new_engine("fault");
    if (mode == ORDER_FAILED)
        g_cfg.final_hold = 0;
    stt_null_set_text("in order");
    log_t *l = calloc(1, sizeof(*l));
    stt_stream_params_t p = stt_stream_default_params(rec);
    p.partials = 0;
    stt_stream_t *s = stt_stream_create(rec, &p, on_event, l);
    size_t n;
    int16_t *pcm = speech(5.0, 0.5, 5.0, RATE, &n);
    size_t cut = 2 * RATE;
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)pcm, cut);
    assert_true(stt_stream_recording(s));
    double deadline = stt_now_s() + 10;
    while (rec->jobs_in_flight > 0 && stt_now_s() < deadline) /* utterance 1 is all fed */
        pump_for(rec, 0.005);
    assert_int_equal(rec->jobs_in_flight, 0);

    /* the next job, utterance 1's final, hangs */
    stt_fault_params_t f, f0;
    stt_fault_get(&f0);
    f = f0;
    f.hang_next = 1;
    f.hang_s = HANG_S;
    stt_fault_set(&f);
    double t_stop1 = stt_now_s();
    assert_int_equal(stt_stream_finalize(s, 1), 0);
    do {
        pump_for(rec, 0.005);
        stt_fault_get(&f);
    } while (f.hang_next > 0 && stt_now_s() < deadline);
    assert_int_equal(f.hang_next, 0);

    /* utterance 2 (the speech goes on), ended by finish; its final is decoded at once */
    feed_all(rec, s, STT_PCM_S16LE, RATE, (const uint8_t *)(pcm + cut), n - cut);
    assert_true(stt_stream_recording(s));
    if (mode == ORDER_MUTE)
        stt_stream_mute(s);
    stt_stream_finish(s, on_closed, l);
    double t_stop2 = stt_now_s(); /* utterance 2 ended before this */
    while (rec->m.job_final.count < 1 && stt_now_s() < deadline)
        pump_for(rec, 0.005);
    assert_int_equal(rec->m.job_final.count, 1); /* utterance 2's; utterance 1's still hangs */
    assert_true(stt_now_s() - t_stop1 < HANG_S); /* else the test proves nothing */
    assert_int_equal(final_events(l, 1, NULL) + final_events(l, 2, NULL), 0);
    assert_int_equal(stt_stream_finals_pending(s), 2); /* the decoded one still counts */
    assert_false(stt_stream_idle(s));
    assert_int_equal(l->closed, 0);

    if (mode == ORDER_CLOSE) {
        close_stream(rec, s, l);
        assert_int_equal(rec->m.finals_dropped, 2);
        assert_int_equal(final_events(l, 1, NULL) + final_events(l, 2, NULL), 0);
    } else {
        settle(rec, has_closed, l); /* finish closes the stream after IDLE */
        assert_int_equal(l->closed, 1);
    }
    if (mode == ORDER_MUTE) { /* utterance 1 failed (no retry for a gone client), 2 dropped */
        assert_int_equal(final_events(l, 1, NULL) + final_events(l, 2, NULL), 0);
        assert_int_equal(rec->m.finals_failed, 1);
        assert_int_equal(rec->m.finals_dropped, 1);
    }
    if (mode == ORDER_RETRY || mode == ORDER_FAILED) {
        size_t at1 = 0, at2 = 0, at_idle = 0;
        assert_int_equal(final_events(l, 1, &at1), 1);
        assert_int_equal(final_events(l, 2, &at2), 1);
        assert_true(at1 < at2);
        assert_int_equal(l->ev[at1].kind,
                         mode == ORDER_RETRY ? STT_SEV_FINAL : STT_SEV_FINAL_FAILED);
        assert_int_equal(l->ev[at2].kind, STT_SEV_FINAL);
        assert_string_equal(l->ev[at2].text, "in order");
        assert_int_equal(l->ev[at1].finals_pending, 1);
        assert_int_equal(l->ev[at2].finals_pending, 0);
        assert_true(l->ev[at1].end_sample <= l->ev[at2].start_sample);
        assert_non_null(find(l, STT_SEV_IDLE, at2, &at_idle));
        assert_int_equal(at_idle, l->n - 1); /* IDLE after the last final */
        assert_int_equal(rec->m.finals_retried, mode == ORDER_RETRY ? 1 : 0);
        assert_int_equal(rec->m.finals_failed, mode == ORDER_FAILED ? 1 : 0);
        assert_int_equal(rec->m.finals_sent, mode == ORDER_RETRY ? 2 : 1);
        assert_int_equal(rec->m.finals_dropped, 0);
        /* utterance 2's latency includes its wait for utterance 1 */
        assert_int_equal(rec->m.final_latency.count, mode == ORDER_RETRY ? 2 : 1);
        assert_true(rec->m.final_latency.sum >= t_stop1 + HANG_S - t_stop2);
    }
    stt_fault_set(&f0);
    stt_null_set_text(NULL);
    free(pcm);
    free(l);
    rec_free(rec);
}

static void test_final_order_retry(void **state)
{
    check_final_order(ORDER_RETRY);
}

static void test_final_order_failed(void **state)
{
    check_final_order(ORDER_FAILED);
}

static void test_final_order_close(void **state)
{
    check_final_order(ORDER_CLOSE);
}

static void test_final_order_mute(void **state)
{
    check_final_order(ORDER_MUTE);
}

/* G.711 against the ITU formulas' well-known points. */
static void test_g711(void **state)
{
    assert_int_equal(stt_g711_mulaw_to_s16(0xff), 0);
    assert_int_equal(stt_g711_mulaw_to_s16(0x7f), 0);
    assert_int_equal(stt_g711_mulaw_to_s16(0x00), -32124);
    assert_int_equal(stt_g711_mulaw_to_s16(0x80), 32124);
    assert_int_equal(stt_g711_alaw_to_s16(0xd5), 8);
    assert_int_equal(stt_g711_alaw_to_s16(0x55), -8);
    assert_int_equal(stt_g711_alaw_to_s16(0xaa), 32256);
    assert_int_equal(stt_g711_alaw_to_s16(0x2a), -32256);
    for (int c = 0; c < 128; c++) { /* symmetric */
        assert_int_equal(stt_g711_mulaw_to_s16((uint8_t)c), -stt_g711_mulaw_to_s16((uint8_t)(c | 0x80)));
        assert_int_equal(stt_g711_alaw_to_s16((uint8_t)c), -stt_g711_alaw_to_s16((uint8_t)(c | 0x80)));
    }
}

int main(void)
{
    stt_log_setup(STT_LOG_WARN, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_g711),
        cmocka_unit_test(test_utterance_s16_16k),
        cmocka_unit_test(test_utterance_mulaw_8k),
        cmocka_unit_test(test_utterance_alaw_8k),
        cmocka_unit_test(test_utterance_f32_48k),
        cmocka_unit_test(test_utterance_s16_44k1),
        cmocka_unit_test(test_finalize_and_abort),
        cmocka_unit_test(test_close_mid_utterance),
        cmocka_unit_test(test_end_input),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_final_order_retry),
        cmocka_unit_test(test_final_order_failed),
        cmocka_unit_test(test_final_order_close),
        cmocka_unit_test(test_final_order_mute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

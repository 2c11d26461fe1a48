/* Unit tests for the turn state machine (src/audio/turn.c).
 *
 * The machine is driven by synthetic VAD decisions. Every sample of chunk i holds the value i, so
 * an utterance tells exactly which chunks it is made of. Positions are in samples at the end of a
 * chunk: after feeding chunks 0..k-1 the position is k * 512, written P(k) below.
 *
 * Reference timeline with the defaults (used by several tests): silence on chunks 0..39, onset
 * and speech on 40..99, silence from 100 on.
 *   - onset_chunks = 2: chunks 40 and 41 confirm the onset; the recording starts at P(42) with the
 *     31-chunk pre-roll 10..40 followed by chunk 41;
 *   - the silence run starts at the first sample of chunk 100; 0.16 s = 2560 samples = 5 chunks,
 *     so it is confirmed on chunk 104: start_turn_detection at P(105);
 *   - early transcription when more than 0.2 s = 3200 samples passed: 7 chunks, P(112);
 *   - stop when at least 0.7 s = 11200 samples passed: 22 chunks, P(127), so the utterance is
 *     chunks 10..126. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/error.h"
#include "stt/turn.h"

#define CH STT_TURN_CHUNK_SAMPLES
#define P(k) (CH * (uint64_t)(k))
#define MAX_EVENTS 64

typedef struct {
    stt_turn_event_t ev;
    uint64_t at;
} ev_t;

/* What the callback saw: the events plus the getters' view at each of them. */
typedef struct {
    stt_turn_t *t;
    ev_t ev[MAX_EVENTS];
    stt_turn_state_t state_at[MAX_EVENTS];
    size_t rec_len_at[MAX_EVENTS];
    uint64_t sess_at[MAX_EVENTS];
    int awaiting_at[MAX_EVENTS];
    size_t n;
    int chunk; /* index of the next chunk to feed */

    int take_in_cb; /* take the utterance inside RECORDING_STOP */
    int16_t *utt;
    size_t utt_len;
    int utts; /* utterances taken in the callback (NULL takes not counted) */
    int null_takes;
} cap_t;

static void on_event(void *data, stt_turn_event_t ev, uint64_t at)
{
    cap_t *c = data;
    assert_true(c->n < MAX_EVENTS);
    size_t len = 0;
    stt_turn_recording(c->t, &len);
    c->ev[c->n] = (ev_t){ev, at};
    c->state_at[c->n] = stt_turn_state(c->t);
    c->rec_len_at[c->n] = len;
    c->sess_at[c->n] = stt_turn_speech_end_silence_start(c->t);
    c->awaiting_at[c->n] = stt_turn_awaiting_speech_end(c->t);
    c->n++;
    if (ev == STT_TEV_RECORDING_STOP && c->take_in_cb) {
        size_t n = 0;
        int16_t *u = stt_turn_take_utterance(c->t, &n);
        if (u) {
            free(c->utt);
            c->utt = u;
            c->utt_len = n;
            c->utts++;
        } else {
            assert_int_equal(n, 0);
            c->null_takes++;
        }
    }
}

static cap_t *cap_new(const stt_turn_params_t *p, int take_in_cb)
{
    cap_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->take_in_cb = take_in_cb;
    c->t = stt_turn_create(p, on_event, c);
    assert_non_null(c->t);
    stt_turn_start(c->t);
    return c;
}

static void cap_free(cap_t *c)
{
    stt_turn_destroy(c->t);
    free(c->utt);
    free(c);
}

/* Feeds `n` chunks tagged with their index. */
static void feed(cap_t *c, int n, int onset, int active)
{
    int16_t buf[CH];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < CH; j++)
            buf[j] = (int16_t)c->chunk;
        c->chunk++;
        stt_turn_feed(c->t, buf, onset, active);
        assert_int_equal(stt_turn_position(c->t), P(c->chunk));
    }
}

/* Feeds chunks up to (not including) chunk index `upto`. */
static void feed_to(cap_t *c, int upto, int onset, int active)
{
    assert_true(upto >= c->chunk);
    feed(c, upto - c->chunk, onset, active);
}

static void expect_events_(const cap_t *c, const ev_t *want, size_t n, int line)
{
    int ok = c->n == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = c->ev[i].ev == want[i].ev && c->ev[i].at == want[i].at;
    if (ok)
        return;
    print_error("line %d: event mismatch\n  got:\n", line);
    for (size_t i = 0; i < c->n; i++)
        print_error("    %s @ %llu (chunk %.2f)\n", stt_turn_event_name(c->ev[i].ev),
                    (unsigned long long)c->ev[i].at, c->ev[i].at / (double)CH);
    print_error("  want:\n");
    for (size_t i = 0; i < n; i++)
        print_error("    %s @ %llu (chunk %.2f)\n", stt_turn_event_name(want[i].ev),
                    (unsigned long long)want[i].at, want[i].at / (double)CH);
    fail();
}
#define EXPECT_EVENTS(c, ...)                                                                      \
    do {                                                                                           \
        const ev_t want_[] = {__VA_ARGS__};                                                        \
        expect_events_((c), want_, sizeof(want_) / sizeof(want_[0]), __LINE__);                    \
    } while (0)

/* Asserts that `u` is made of chunks first..first+n-1, each one whole and in order. */
static void expect_chunks(const int16_t *u, size_t len, int first, int n)
{
    assert_non_null(u);
    assert_int_equal(len, (size_t)n * CH);
    for (int k = 0; k < n; k++)
        for (int j = 0; j < CH; j++)
            if (u[(size_t)k * CH + j] != first + k)
                fail_msg("sample %d of utterance chunk %d is %d, want %d", j, k,
                         u[(size_t)k * CH + j], first + k);
}

/* Asserts that the recording in progress is made of chunks first..first+n-1. */
static void expect_recording(const cap_t *c, int first, int n)
{
    size_t len = 0;
    const int16_t *r = stt_turn_recording(c->t, &len);
    expect_chunks(r, len, first, n);
}

#define E(ev, k) ((ev_t){STT_TEV_##ev, P(k)})

/* ---------------------------------------------------------------------------------------------- */

static void test_event_names_and_defaults(void **state)
{
    assert_string_equal(stt_turn_event_name(STT_TEV_VAD_DETECT_START), "vad_detect_start");
    assert_string_equal(stt_turn_event_name(STT_TEV_VAD_DETECT_STOP), "vad_detect_stop");
    assert_string_equal(stt_turn_event_name(STT_TEV_RECORDING_START), "recording_start");
    assert_string_equal(stt_turn_event_name(STT_TEV_START_TURN_DETECTION), "start_turn_detection");
    assert_string_equal(stt_turn_event_name(STT_TEV_STOP_TURN_DETECTION), "stop_turn_detection");
    assert_string_equal(stt_turn_event_name(STT_TEV_RECORDING_STOP), "recording_stop");
    assert_string_equal(stt_turn_event_name(STT_TEV_EARLY_TRANSCRIPTION), "early_transcription");
    assert_string_equal(stt_turn_event_name((stt_turn_event_t)99), "unknown");

    stt_turn_params_t p = stt_turn_default_params();
    assert_true(p.min_length_of_recording_s == 1.1);
    assert_true(p.min_gap_between_recordings_s == 0.0);
    assert_true(p.deactivity_silence_confirmation_s == 0.16);
    assert_true(p.post_speech_silence_s == 0.7);
    assert_true(p.early_transcription_on_silence_s == 0.2);
    assert_true(p.pre_recording_buffer_s == 1.0);
    assert_true(p.max_utterance_s == 60.0);
    assert_int_equal(p.onset_chunks, 2);

    /* Creation emits nothing; start emits the first vad_detect_start at position 0. */
    cap_t *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->t = stt_turn_create(NULL, on_event, c);
    assert_int_equal(c->n, 0);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_LISTENING);
    stt_turn_start(c->t);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0));
    cap_free(c);
    stt_turn_destroy(NULL);
}

static void test_one_utterance_exact(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);

    feed_to(c, 40, 0, 0);
    feed(c, 1, 1, 1); /* chunk 40: one onset chunk is not enough */
    assert_int_equal(stt_turn_state(c->t), STT_TURN_LISTENING);
    assert_int_equal(c->n, 1);
    feed(c, 1, 1, 1); /* chunk 41 */
    assert_int_equal(stt_turn_state(c->t), STT_TURN_RECORDING);
    assert_int_equal(stt_turn_recording_start(c->t), P(42));
    /* At recording_start the recording is the 31-chunk pre-roll plus the onset chunk. */
    assert_int_equal(c->state_at[2], STT_TURN_RECORDING);
    assert_int_equal(c->rec_len_at[2], 32 * CH);
    size_t len = 0;
    const int16_t *r = stt_turn_recording(c->t, &len);
    expect_chunks(r, len, 10, 32);

    feed_to(c, 100, 1, 1);
    feed_to(c, 104, 0, 0); /* 4 silent chunks: still debouncing */
    assert_int_equal(stt_turn_speech_end_silence_start(c->t), 0);
    assert_int_equal(stt_turn_awaiting_speech_end(c->t), 0);
    assert_int_equal(c->n, 3);
    feed(c, 1, 0, 0); /* chunk 104: 160 ms of silence */
    assert_int_equal(stt_turn_speech_end_silence_start(c->t), P(105));
    assert_int_equal(stt_turn_awaiting_speech_end(c->t), 1);
    feed_to(c, 126, 0, 0);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_RECORDING);
    assert_int_equal(c->utts, 0);
    feed(c, 1, 0, 0); /* chunk 126 ends the turn */
    assert_int_equal(stt_turn_state(c->t), STT_TURN_LISTENING);
    feed_to(c, 140, 0, 0);

    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127));
    /* The getters seen from the callback. */
    assert_int_equal(c->sess_at[3], P(105));
    assert_int_equal(c->awaiting_at[3], 1);
    assert_int_equal(c->state_at[5], STT_TURN_LISTENING);
    assert_int_equal(c->rec_len_at[5], 0);
    assert_int_equal(c->sess_at[5], 0);

    assert_int_equal(c->utts, 1);
    expect_chunks(c->utt, c->utt_len, 10, 117); /* pre-roll 10..40, 41, speech, 27 silent */
    assert_int_equal(stt_turn_recording_stop(c->t), P(127));
    assert_int_equal(stt_turn_recording_start(c->t), P(42));
    size_t n = 99;
    assert_null(stt_turn_take_utterance(c->t, &n)); /* already taken */
    assert_int_equal(n, 0);
    assert_null(stt_turn_recording(c->t, &n));
    assert_int_equal(n, 0);
    cap_free(c);
}

static void test_take_after_callback_and_supersede(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 0);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 140, 0, 0); /* stop at P(127) */
    size_t n = 0;
    int16_t *u = stt_turn_take_utterance(c->t, &n);
    expect_chunks(u, n, 10, 117);
    free(u);
    assert_null(stt_turn_take_utterance(c->t, &n));

    /* An utterance nobody takes is replaced by the next one, not leaked (ASan checks). */
    feed_to(c, 200, 1, 1);
    feed_to(c, 240, 0, 0);
    feed_to(c, 300, 1, 1);
    feed_to(c, 340, 0, 0);
    u = stt_turn_take_utterance(c->t, &n);
    assert_non_null(u);
    assert_int_equal(u[n - 1], 300 + 26); /* stopped on the 27th silent chunk */
    free(u);
    cap_free(c);
}

/* stt_turn_release frees the head of the recording: what is held and the offsets follow, a
 * release below the offset is a no-op, one past the end clamps, lengths still count released
 * audio (the stop comes at the same chunk), and the utterance handed over is the held tail with
 * its offset. */
static void test_release_keeps_only_unconsumed(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 0);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    expect_recording(c, 10, 90);
    assert_int_equal(stt_turn_recording_offset(c->t), 0);
    stt_turn_release(c->t, P(50));
    expect_recording(c, 60, 40);
    assert_int_equal(stt_turn_recording_offset(c->t), P(50));
    stt_turn_release(c->t, P(30));
    expect_recording(c, 60, 40);
    feed_to(c, 110, 1, 1);
    expect_recording(c, 60, 50);
    stt_turn_release(c->t, P(1000));
    assert_int_equal(stt_turn_recording_offset(c->t), P(100));
    expect_recording(c, 110, 0);
    feed_to(c, 150, 0, 0); /* stops at P(137), as without releases */
    assert_int_equal(stt_turn_recording_stop(c->t), P(137));
    size_t n = 0;
    int16_t *u = stt_turn_take_utterance(c->t, &n);
    expect_chunks(u, n, 110, 27);
    assert_int_equal(stt_turn_utterance_offset(c->t), P(100));
    free(u);
    /* The next recording starts whole again. */
    feed_to(c, 200, 1, 1);
    assert_int_equal(stt_turn_recording_offset(c->t), 0);
    cap_free(c);
}

static void test_short_silence_is_debounced(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 80, 1, 1);
    feed_to(c, 84, 0, 0); /* 4 chunks = 128 ms < 160 ms */
    feed_to(c, 100, 1, 1);
    feed_to(c, 140, 0, 0);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127));

    /* With no debounce the first silent chunk already confirms the silence. */
    p.deactivity_silence_confirmation_s = 0;
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    feed_to(d, 100, 1, 1);
    feed_to(d, 140, 0, 0);
    EXPECT_EVENTS(d, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 101), E(EARLY_TRANSCRIPTION, 108), E(RECORDING_STOP, 123),
                  E(STOP_TURN_DETECTION, 123), E(VAD_DETECT_START, 123));
    cap_free(c);
    cap_free(d);
}

static void test_speech_resumes_during_turn_detection(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 108, 0, 0); /* turn detection from P(105), early not yet due */
    feed_to(c, 110, 1, 1); /* speech returns on chunk 108 */
    assert_int_equal(stt_turn_speech_end_silence_start(c->t), 0);
    assert_int_equal(stt_turn_awaiting_speech_end(c->t), 0);
    feed_to(c, 115, 0, 0); /* silence run from 110, confirmed on 114 */
    feed_to(c, 125, 0, 0); /* early due at P(115 + 7) */
    feed_to(c, 130, 1, 1); /* speech again on chunk 125: re-allows early transcription */
    feed_to(c, 170, 0, 0); /* silence from 130: turn at P(135), early P(142), stop P(157) */
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(STOP_TURN_DETECTION, 109),
                  E(START_TURN_DETECTION, 115), E(EARLY_TRANSCRIPTION, 122),
                  E(STOP_TURN_DETECTION, 126), E(START_TURN_DETECTION, 135),
                  E(EARLY_TRANSCRIPTION, 142), E(RECORDING_STOP, 157), E(STOP_TURN_DETECTION, 157),
                  E(VAD_DETECT_START, 157));
    expect_chunks(c->utt, c->utt_len, 10, 147);
    cap_free(c);
}

static void test_early_transcription_off(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    p.early_transcription_on_silence_s = 0;
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 140, 0, 0);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(RECORDING_STOP, 127), E(STOP_TURN_DETECTION, 127),
                  E(VAD_DETECT_START, 127));
    cap_free(c);
}

static void test_min_length_blocks_endpointing(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 45, 1, 1); /* recording starts at P(42); speech ends after chunk 44 */
    /* Silence is confirmed on chunk 49, but the recording must be longer than 1.1 s = 17600
     * samples: 35 chunks after P(42), so turn detection starts at P(77). */
    feed_to(c, 76, 0, 0);
    assert_int_equal(stt_turn_speech_end_silence_start(c->t), 0);
    assert_int_equal(c->n, 3);
    feed_to(c, 120, 0, 0);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 77), E(EARLY_TRANSCRIPTION, 84), E(RECORDING_STOP, 99),
                  E(STOP_TURN_DETECTION, 99), E(VAD_DETECT_START, 99));
    expect_chunks(c->utt, c->utt_len, 10, 89);

    /* A shorter minimum lets the confirmed silence start turn detection right away. */
    p.min_length_of_recording_s = 0.1;
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    feed_to(d, 45, 1, 1);
    feed_to(d, 120, 0, 0);
    EXPECT_EVENTS(d, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 50), E(EARLY_TRANSCRIPTION, 57), E(RECORDING_STOP, 72),
                  E(STOP_TURN_DETECTION, 72), E(VAD_DETECT_START, 72));

    /* On a chunk boundary the original's operators show: turn detection needs a recording
     * strictly longer than the minimum, the control stop one at least as long. 1.024 s = 16384
     * samples = 32 chunks; early transcription needs strictly more than 0.192 s = 6 chunks. */
    p = stt_turn_default_params();
    p.min_length_of_recording_s = 1.024;
    p.early_transcription_on_silence_s = 0.192;
    cap_t *e = cap_new(&p, 1);
    feed_to(e, 40, 0, 0);
    feed_to(e, 45, 1, 1);
    feed_to(e, 120, 0, 0);
    EXPECT_EVENTS(e, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 75), E(EARLY_TRANSCRIPTION, 82), E(RECORDING_STOP, 97),
                  E(STOP_TURN_DETECTION, 97), E(VAD_DETECT_START, 97));
    cap_t *f = cap_new(&p, 1);
    feed_to(f, 40, 0, 0);
    feed_to(f, 73, 1, 1);
    assert_int_equal(stt_turn_stop(f->t), STT_EBUSY); /* 31 chunks */
    feed(f, 1, 1, 1);
    assert_int_equal(stt_turn_stop(f->t), 0); /* 32 chunks = 16384 samples */
    cap_free(c);
    cap_free(d);
    cap_free(e);
    cap_free(f);
}

/* Runs the reference timeline with one post_speech_silence and returns the stop position. */
static uint64_t stop_position(double post_s)
{
    stt_turn_params_t p = stt_turn_default_params();
    p.post_speech_silence_s = post_s;
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 200, 0, 0);
    uint64_t at = 0;
    int stops = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->ev[i].ev == STT_TEV_RECORDING_STOP) {
            at = c->ev[i].at;
            stops++;
        }
    }
    assert_int_equal(stops, 1);
    assert_int_equal(c->utt_len, at - P(10)); /* the utterance runs up to the stop */
    cap_free(c);
    return at;
}

static void test_post_speech_silence_moves_stop(void **state)
{
    /* Turn detection starts at P(105); stop when >= post * 16000 samples passed. */
    assert_int_equal(stop_position(0.7), P(105 + 22));   /* 11200 -> 22 chunks */
    assert_int_equal(stop_position(0.3), P(105 + 10));   /* 4800 -> 10 chunks */
    assert_int_equal(stop_position(1.5), P(105 + 47));   /* 24000 -> 47 chunks */
    assert_int_equal(stop_position(0.512), P(105 + 16)); /* exactly 16 chunks: >= holds */
    assert_int_equal(stop_position(0), P(105));          /* stops on the confirming chunk */
}

static void test_preroll_length_and_content(void **state)
{
    static const struct {
        double pre_s;
        int first; /* first chunk in the utterance */
    } cases[] = {
        {1.0, 10},  /* int(31 * 1.0) = 31 chunks before the onset chunk 41 */
        {0.5, 26},  /* int(15.5) = 15 */
        {0.25, 34}, /* int(7.75) = 7 */
        {2.0, 0},   /* 62 chunks wanted, only 41 exist */
        {0.0, 41},  /* no pre-roll: even the first onset chunk is not kept */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stt_turn_params_t p = stt_turn_default_params();
        p.pre_recording_buffer_s = cases[i].pre_s;
        cap_t *c = cap_new(&p, 1);
        feed_to(c, 40, 0, 0);
        feed_to(c, 42, 1, 1);
        size_t len = 0;
        const int16_t *r = stt_turn_recording(c->t, &len);
        expect_chunks(r, len, cases[i].first, 42 - cases[i].first);
        feed_to(c, 100, 1, 1);
        feed_to(c, 140, 0, 0);
        expect_chunks(c->utt, c->utt_len, cases[i].first, 127 - cases[i].first);
        cap_free(c);
    }

    /* The original's maxlen is int((16000 // 512) * duration): 124 chunks for 4 s, not 125. */
    {
        stt_turn_params_t p = stt_turn_default_params();
        p.pre_recording_buffer_s = 4.0;
        cap_t *c = cap_new(&p, 1);
        feed_to(c, 200, 0, 0);
        feed_to(c, 202, 1, 1);
        expect_recording(c, 201 - 124, 124 + 1); /* 124 chunks before the onset chunk 201 */
        cap_free(c);
    }

    /* clear_preroll empties the ring but keeps the onset counter (clear_audio_queue does not
     * touch the VAD): the chunk after the clear completes the onset, and the recording is that
     * chunk alone. */
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed(c, 1, 1, 1);
    stt_turn_clear_preroll(c->t);
    feed(c, 1, 1, 1);
    expect_recording(c, 41, 1);
    /* During a recording it changes nothing. */
    feed_to(c, 60, 1, 1);
    stt_turn_clear_preroll(c->t);
    expect_recording(c, 41, 19);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_RECORDING);
    cap_free(c);
}

static void test_control_stop(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);

    /* Idle: refused, and no spurious recording_stop. */
    assert_int_equal(stt_turn_stop(c->t), STT_ENOTREADY);
    feed_to(c, 40, 0, 0);
    assert_int_equal(stt_turn_stop(c->t), STT_ENOTREADY);
    feed_to(c, 42, 1, 1); /* recording from P(42) */

    /* Younger than 1.1 s = 17600 samples: 34 chunks (17408) are not enough, 35 are. */
    assert_int_equal(stt_turn_stop(c->t), STT_EBUSY);
    feed_to(c, 76, 1, 1);
    assert_int_equal(stt_turn_stop(c->t), STT_EBUSY);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_RECORDING);
    feed(c, 1, 1, 1);
    assert_int_equal(stt_turn_stop(c->t), 0);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_LISTENING);
    assert_int_equal(stt_turn_stop(c->t), STT_ENOTREADY);
    /* Not in turn detection: no stop_turn_detection. */
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 77), E(VAD_DETECT_START, 77));
    expect_chunks(c->utt, c->utt_len, 10, 67);
    assert_int_equal(stt_turn_recording_stop(c->t), P(77));

    /* Stop during turn detection: stop_turn_detection follows recording_stop. */
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    feed_to(d, 100, 1, 1);
    feed_to(d, 110, 0, 0);
    assert_int_equal(stt_turn_stop(d->t), 0);
    EXPECT_EVENTS(d, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(RECORDING_STOP, 110), E(STOP_TURN_DETECTION, 110),
                  E(VAD_DETECT_START, 110));
    expect_chunks(d->utt, d->utt_len, 10, 100);
    assert_int_equal(stt_turn_speech_end_silence_start(d->t), 0);
    assert_int_equal(stt_turn_awaiting_speech_end(d->t), 0);
    cap_free(c);
    cap_free(d);
}

static void test_abort(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    assert_int_equal(stt_turn_abort(c->t), 0); /* idle: nothing to discard, no event */
    feed_to(c, 40, 0, 0);
    feed_to(c, 50, 1, 1);
    assert_int_equal(stt_turn_abort(c->t), 1);
    assert_int_equal(stt_turn_state(c->t), STT_TURN_LISTENING);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 50), E(VAD_DETECT_START, 50));
    assert_int_equal(c->utts, 0);
    assert_int_equal(c->null_takes, 1); /* nothing to take inside recording_stop */
    size_t n = 0;
    assert_null(stt_turn_take_utterance(c->t, &n));

    /* The pre-roll was cleared: the next recording starts with chunks fed after the abort. */
    feed_to(c, 60, 0, 0);
    feed_to(c, 62, 1, 1);
    expect_recording(c, 50, 12);

    /* Abort while listening clears the pre-roll too. */
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    assert_int_equal(stt_turn_abort(d->t), 0);
    feed_to(d, 42, 1, 1);
    expect_recording(d, 40, 2);

    /* Abort during turn detection closes it, and drops an utterance nobody took. */
    cap_t *e = cap_new(&p, 0);
    feed_to(e, 40, 0, 0);
    feed_to(e, 100, 1, 1);
    feed_to(e, 140, 0, 0); /* utterance 1 left untaken */
    feed_to(e, 200, 1, 1);
    feed_to(e, 206, 0, 0); /* turn detection from P(205) */
    assert_int_equal(stt_turn_awaiting_speech_end(e->t), 1);
    assert_int_equal(stt_turn_abort(e->t), 1);
    EXPECT_EVENTS(e, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127), E(VAD_DETECT_STOP, 142),
                  E(RECORDING_START, 142), E(START_TURN_DETECTION, 205), E(RECORDING_STOP, 206),
                  E(STOP_TURN_DETECTION, 206), E(VAD_DETECT_START, 206));
    assert_null(stt_turn_take_utterance(e->t, &n));
    cap_free(c);
    cap_free(d);
    cap_free(e);
}

static void test_max_utterance_force_stop(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    p.max_utterance_s = 2.0; /* 32000 samples -> 62 whole chunks */
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 80, 1, 1);
    /* Recording 10..41 at P(42) (32 chunks), full at 62 chunks: chunk 71. Speech goes on: a new
     * onset needs two chunks again (72, 73), with a pre-roll of what came after the stop. */
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 72), E(VAD_DETECT_START, 72), E(VAD_DETECT_STOP, 74),
                  E(RECORDING_START, 74));
    expect_chunks(c->utt, c->utt_len, 10, 62);
    expect_recording(c, 72, 8);

    /* The default 60 s cap: 1875 chunks exactly. */
    p = stt_turn_default_params();
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    feed_to(d, 3000, 1, 1);
    assert_int_equal(d->utts, 1);
    expect_chunks(d->utt, d->utt_len, 10, 1875);
    assert_int_equal(stt_turn_recording_stop(d->t), P(10 + 1875));

    /* A cap smaller than the pre-roll: the pre-roll shrinks to fit. */
    p.max_utterance_s = 0.5; /* 8000 samples -> 15 chunks, pre-roll at most 14 */
    cap_t *e = cap_new(&p, 1);
    feed_to(e, 40, 0, 0);
    feed_to(e, 42, 1, 1);
    /* Ring 27..40 plus the onset chunk fill the cap: stopped on the onset chunk itself. */
    assert_int_equal(stt_turn_state(e->t), STT_TURN_LISTENING);
    EXPECT_EVENTS(e, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 42), E(VAD_DETECT_START, 42));
    assert_int_equal(e->rec_len_at[2], 15 * CH);
    expect_chunks(e->utt, e->utt_len, 27, 15);

    /* Below one chunk, one chunk is the cap. */
    p.max_utterance_s = 0.001;
    cap_t *f = cap_new(&p, 1);
    feed_to(f, 40, 0, 0);
    feed_to(f, 42, 1, 1);
    EXPECT_EVENTS(f, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 42), E(VAD_DETECT_START, 42));
    expect_chunks(f->utt, f->utt_len, 41, 1);
    cap_free(c);
    cap_free(d);
    cap_free(e);
    cap_free(f);
}

static void test_min_gap(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    p.min_gap_between_recordings_s = 1.0; /* 16000 samples = 31.25 chunks -> 32 */
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 127, 0, 0); /* stop at P(127) */
    assert_int_equal(stt_turn_recording_stop(c->t), P(127));
    feed_to(c, 200, 1, 1); /* voice right away */
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127), E(VAD_DETECT_STOP, 159),
                  E(RECORDING_START, 159));
    /* The 31 chunks fed during the gap form the pre-roll, then the onset chunk 158. */
    expect_recording(c, 127, 200 - 127);

    /* A gap of exactly 16 chunks (0.512 s) is over on the 16th chunk after the stop. */
    p.min_gap_between_recordings_s = 0.512;
    cap_t *e = cap_new(&p, 1);
    feed_to(e, 40, 0, 0);
    feed_to(e, 100, 1, 1);
    feed_to(e, 127, 0, 0);
    feed_to(e, 142, 1, 1);
    assert_int_equal(stt_turn_state(e->t), STT_TURN_LISTENING);
    feed(e, 1, 1, 1);
    assert_int_equal(stt_turn_state(e->t), STT_TURN_RECORDING);
    assert_int_equal(stt_turn_recording_start(e->t), P(143));
    cap_free(e);

    /* Without a gap the onset restarts after two chunks. */
    p.min_gap_between_recordings_s = 0;
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0);
    feed_to(d, 100, 1, 1);
    feed_to(d, 127, 0, 0);
    feed_to(d, 130, 1, 1);
    EXPECT_EVENTS(d, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127), E(VAD_DETECT_STOP, 129),
                  E(RECORDING_START, 129));
    cap_free(c);
    cap_free(d);
}

static void test_two_utterances_back_to_back(void **state)
{
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 140, 0, 0);
    expect_chunks(c->utt, c->utt_len, 10, 117);
    feed_to(c, 200, 1, 1); /* onset at 140, 141: recording at P(142) */
    feed_to(c, 260, 0, 0); /* silence from 200: turn P(205), early P(212), stop P(227) */
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 127),
                  E(STOP_TURN_DETECTION, 127), E(VAD_DETECT_START, 127), E(VAD_DETECT_STOP, 142),
                  E(RECORDING_START, 142), E(START_TURN_DETECTION, 205),
                  E(EARLY_TRANSCRIPTION, 212), E(RECORDING_STOP, 227), E(STOP_TURN_DETECTION, 227),
                  E(VAD_DETECT_START, 227));
    assert_int_equal(c->utts, 2);
    /* The pre-roll was cleared at the first stop: nothing of utterance 1 is repeated. */
    expect_chunks(c->utt, c->utt_len, 127, 100);
    assert_int_equal(stt_turn_recording_start(c->t), P(142));
    assert_int_equal(stt_turn_recording_stop(c->t), P(227));
    cap_free(c);
}

static void test_set_params_mid_stream(void **state)
{
    /* post_speech_silence lowered during turn detection applies from the next chunk. */
    stt_turn_params_t p = stt_turn_default_params();
    cap_t *c = cap_new(&p, 1);
    feed_to(c, 40, 0, 0);
    feed_to(c, 100, 1, 1);
    feed_to(c, 109, 0, 0);
    p.post_speech_silence_s = 0.3; /* 10 chunks after P(105) */
    stt_turn_set_params(c->t, &p);
    feed_to(c, 140, 0, 0);
    EXPECT_EVENTS(c, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 115),
                  E(STOP_TURN_DETECTION, 115), E(VAD_DETECT_START, 115));
    expect_chunks(c->utt, c->utt_len, 10, 105);

    /* Growing the pre-roll keeps what the ring holds; shrinking keeps the newest chunks. */
    p = stt_turn_default_params();
    p.pre_recording_buffer_s = 0.5;
    cap_t *d = cap_new(&p, 1);
    feed_to(d, 40, 0, 0); /* ring: 25..39 */
    p.pre_recording_buffer_s = 1.0;
    stt_turn_set_params(d->t, &p);
    feed_to(d, 42, 1, 1);
    expect_recording(d, 25, 17);

    p = stt_turn_default_params();
    cap_t *e = cap_new(&p, 1);
    feed_to(e, 40, 0, 0); /* ring: 9..39 */
    p.pre_recording_buffer_s = 0.25;
    stt_turn_set_params(e->t, &p);
    feed_to(e, 42, 1, 1); /* ring 33..39, then 40, trimmed to 34..40, then 41 */
    expect_recording(e, 34, 8);

    /* onset_chunks raised to 3 takes three onset chunks. */
    p = stt_turn_default_params();
    cap_t *f = cap_new(&p, 1);
    feed_to(f, 40, 0, 0);
    p.onset_chunks = 3;
    stt_turn_set_params(f->t, &p);
    feed_to(f, 42, 1, 1);
    assert_int_equal(stt_turn_state(f->t), STT_TURN_LISTENING);
    feed(f, 1, 1, 1);
    assert_int_equal(stt_turn_state(f->t), STT_TURN_RECORDING);
    assert_int_equal(stt_turn_recording_start(f->t), P(43));

    /* min_length raised after turn detection started: the stop is refused (as the original's
     * stop() does) and retried on each chunk, without duplicating the chunk; it succeeds once the
     * recording is 5 s = 80000 samples old: P(42) + 80000 -> P(199). */
    p = stt_turn_default_params();
    cap_t *g = cap_new(&p, 1);
    feed_to(g, 40, 0, 0);
    feed_to(g, 100, 1, 1);
    feed_to(g, 110, 0, 0);
    p.min_length_of_recording_s = 5.0;
    stt_turn_set_params(g->t, &p);
    feed_to(g, 250, 0, 0);
    EXPECT_EVENTS(g, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(START_TURN_DETECTION, 105), E(EARLY_TRANSCRIPTION, 112), E(RECORDING_STOP, 199),
                  E(STOP_TURN_DETECTION, 199), E(VAD_DETECT_START, 199));
    expect_chunks(g->utt, g->utt_len, 10, 189);

    /* max_utterance lowered below what is already recorded: stopped on the next chunk, which
     * is not kept. */
    p = stt_turn_default_params();
    cap_t *h = cap_new(&p, 1);
    feed_to(h, 40, 0, 0);
    feed_to(h, 90, 1, 1); /* 10..89 recorded: 80 chunks */
    p.max_utterance_s = 1.0;
    stt_turn_set_params(h->t, &p);
    feed(h, 1, 1, 1);
    EXPECT_EVENTS(h, E(VAD_DETECT_START, 0), E(VAD_DETECT_STOP, 42), E(RECORDING_START, 42),
                  E(RECORDING_STOP, 91), E(VAD_DETECT_START, 91));
    expect_chunks(h->utt, h->utt_len, 10, 80);

    cap_free(c);
    cap_free(d);
    cap_free(e);
    cap_free(f);
    cap_free(g);
    cap_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names_and_defaults),
        cmocka_unit_test(test_one_utterance_exact),
        cmocka_unit_test(test_take_after_callback_and_supersede),
        cmocka_unit_test(test_release_keeps_only_unconsumed),
        cmocka_unit_test(test_short_silence_is_debounced),
        cmocka_unit_test(test_speech_resumes_during_turn_detection),
        cmocka_unit_test(test_early_transcription_off),
        cmocka_unit_test(test_min_length_blocks_endpointing),
        cmocka_unit_test(test_post_speech_silence_moves_stop),
        cmocka_unit_test(test_preroll_length_and_content),
        cmocka_unit_test(test_control_stop),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_max_utterance_force_stop),
        cmocka_unit_test(test_min_gap),
        cmocka_unit_test(test_two_utterances_back_to_back),
        cmocka_unit_test(test_set_params_mid_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

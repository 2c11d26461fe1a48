/* Turn state machine: RealtimeSTT's recorder worker (_recording_worker, start, stop) replayed in
 * stream time.
 *
 * The original measures every duration with time.time() while a worker drains the chunk queue;
 * here "now" is the stream position at the end of the chunk being processed, so the same audio
 * always ends at the same sample. Comparisons keep the original's operators (">" for the minimum
 * length that arms turn detection and for early transcription, ">=" for the stop timeout), so
 * boundaries fall on the same chunk the original reaches when it keeps up with real time.
 *
 * One deliberate reading of the spec: the silence debounce measures how long the silence has
 * lasted, from the start of the first non-active chunk. With the defaults this confirms silence on
 * the 5th silent chunk (160 ms) and stops on the 27th (864 ms), the "0.16 s + 0.7 s ~ 0.86 s" of
 * spec section 5.5.
 *
 * Memory: the pre-roll ring is a fixed array sized from pre_recording_buffer_s (at create and
 * set_params only); the recording buffer is allocated at onset, grows by doubling up to
 * max_utterance_s and is handed over (or freed) at stop, so an idle machine holds only the ring.
 *
 * Runs on its session's loop thread; no locks. */
#include "stt/turn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stt/error.h"
#include "stt/log.h"

#define CHUNK STT_TURN_CHUNK_SAMPLES

struct stt_turn {
    stt_turn_params_t p;
    stt_turn_cb cb;
    void *cb_data;
    stt_turn_state_t state;
    uint64_t pos; /* samples fed so far = end of the chunk being processed */

    /* Pre-roll: the last ring_cap chunks seen while listening, oldest at ring_head. */
    int16_t *ring;
    size_t ring_cap; /* chunks */
    size_t ring_head;
    size_t ring_len;
    int onset_run; /* consecutive chunks with onset=1 */

    /* Current recording (NULL while listening). */
    int16_t *rec;       /* holds samples [rec_off, rec_len) of the recording */
    size_t rec_len;     /* samples recorded */
    size_t rec_off;     /* samples released by stt_turn_release (no longer held) */
    size_t rec_cap;     /* samples allocated */
    uint64_t rec_start; /* position of the onset decision (the original's recording_start_time) */
    uint64_t rec_stop;  /* position of the last stop; never 0 once a recording has ended */
    int in_silence;     /* inside a run of non-active chunks */
    uint64_t silence_from; /* first sample of that run */
    uint64_t sess;         /* speech_end_silence_start, 0 = not in turn detection */
    int awaiting_speech_end;
    int early_allowed;

    /* Finished utterance waiting for stt_turn_take_utterance: samples [utt_off, utt_off +
     * utt_len) of it (utt_off > 0 when its head was released). */
    int16_t *utt;
    size_t utt_len;
    size_t utt_off;
};

static const char *const event_names[] = {
    [STT_TEV_VAD_DETECT_START] = "vad_detect_start",
    [STT_TEV_VAD_DETECT_STOP] = "vad_detect_stop",
    [STT_TEV_RECORDING_START] = "recording_start",
    [STT_TEV_START_TURN_DETECTION] = "start_turn_detection",
    [STT_TEV_STOP_TURN_DETECTION] = "stop_turn_detection",
    [STT_TEV_RECORDING_STOP] = "recording_stop",
    [STT_TEV_EARLY_TRANSCRIPTION] = "early_transcription",
};

const char *stt_turn_event_name(stt_turn_event_t ev)
{
    if ((unsigned)ev >= sizeof(event_names) / sizeof(event_names[0]))
        return "unknown";
    return event_names[ev];
}

stt_turn_params_t stt_turn_default_params(void)
{
    stt_turn_params_t p = {
        .min_length_of_recording_s = 1.1,
        .min_gap_between_recordings_s = 0.0,
        .deactivity_silence_confirmation_s = 0.16,
        .post_speech_silence_s = 0.7,
        .early_transcription_on_silence_s = 0.2,
        .pre_recording_buffer_s = 1.0,
        .max_utterance_s = 60.0,
        .onset_chunks = 2,
    };
    return p;
}

/* Seconds to samples, rounded to the nearest sample; negative and NaN mean 0 so a bad value
 * degrades to "no wait" instead of wrapping around. */
static uint64_t to_samples(double s)
{
    if (!(s > 0.0))
        return 0;
    double n = s * STT_TURN_RATE_HZ + 0.5;
    if (n >= 1e18)
        return (uint64_t)1e18;
    return (uint64_t)n;
}

/* Largest utterance in samples: whole chunks, at least one, so a finished recording never
 * exceeds max_utterance_s and the buffer growth is bounded by configuration. */
static size_t max_utt_samples(const stt_turn_params_t *p)
{
    uint64_t chunks = to_samples(p->max_utterance_s) / CHUNK;
    if (chunks < 1)
        chunks = 1;
    if (chunks > SIZE_MAX / 2 / CHUNK / sizeof(int16_t))
        chunks = SIZE_MAX / 2 / CHUNK / sizeof(int16_t);
    return (size_t)chunks * CHUNK;
}

/* The original's deque maxlen: int((16000 // 512) * pre_recording_buffer_duration), i.e. 31
 * chunks for 1.0 s. Capped below the utterance limit: the pre-roll becomes part of the utterance,
 * and this also bounds the allocation a set_parameter request can cause. */
static size_t ring_chunks(const stt_turn_params_t *p)
{
    double d = p->pre_recording_buffer_s;
    if (!(d > 0.0))
        return 0;
    double n = floor((double)(STT_TURN_RATE_HZ / CHUNK) * d + 1e-9);
    size_t limit = max_utt_samples(p) / CHUNK - 1; /* leave room for the onset chunk */
    if (n >= (double)limit)
        return limit;
    return (size_t)n;
}

static void emit(stt_turn_t *t, stt_turn_event_t ev)
{
    if (t->cb)
        t->cb(t->cb_data, ev, t->pos);
}

/* Copies the ring's chunks, oldest first, into `dst` (ring_len * CHUNK samples). */
static void ring_copy_out(const stt_turn_t *t, int16_t *dst)
{
    for (size_t i = 0; i < t->ring_len; i++) {
        size_t slot = (t->ring_head + i) % t->ring_cap;
        memcpy(dst + i * CHUNK, t->ring + slot * CHUNK, CHUNK * sizeof(int16_t));
    }
}

static void ring_push(stt_turn_t *t, const int16_t *chunk)
{
    if (t->ring_cap == 0)
        return;
    size_t slot;
    if (t->ring_len < t->ring_cap) {
        slot = (t->ring_head + t->ring_len) % t->ring_cap;
        t->ring_len++;
    } else {
        slot = t->ring_head;
        t->ring_head = (t->ring_head + 1) % t->ring_cap;
    }
    memcpy(t->ring + slot * CHUNK, chunk, CHUNK * sizeof(int16_t));
}

/* Resizes the ring, keeping the newest chunks that still fit. */
static void ring_resize(stt_turn_t *t, size_t cap)
{
    if (cap == t->ring_cap && (t->ring || cap == 0))
        return;
    int16_t *ring = cap ? stt_malloc(cap * CHUNK * sizeof(int16_t)) : NULL;
    size_t keep = t->ring_len < cap ? t->ring_len : cap;
    for (size_t i = 0; i < keep; i++) {
        size_t slot = (t->ring_head + t->ring_len - keep + i) % t->ring_cap;
        memcpy(ring + i * CHUNK, t->ring + slot * CHUNK, CHUNK * sizeof(int16_t));
    }
    free(t->ring);
    t->ring = ring;
    t->ring_cap = cap;
    t->ring_head = 0;
    t->ring_len = keep;
}

static void rec_append(stt_turn_t *t, const int16_t *chunk)
{
    size_t held = t->rec_len - t->rec_off;
    if (held + CHUNK > t->rec_cap) {
        size_t cap = t->rec_cap ? t->rec_cap * 2 : 64 * CHUNK; /* ~2 s before the first grow */
        size_t limit = max_utt_samples(&t->p) - t->rec_off;
        if (cap > limit)
            cap = limit;
        if (cap < held + CHUNK)
            cap = held + CHUNK;
        t->rec = stt_realloc(t->rec, cap * sizeof(int16_t));
        t->rec_cap = cap;
    }
    memcpy(t->rec + held, chunk, CHUNK * sizeof(int16_t));
    t->rec_len += CHUNK;
}

stt_turn_t *stt_turn_create(const stt_turn_params_t *p, stt_turn_cb cb, void *cb_data)
{
    stt_turn_t *t = stt_calloc(1, sizeof(*t));
    t->p = p ? *p : stt_turn_default_params();
    t->cb = cb;
    t->cb_data = cb_data;
    t->state = STT_TURN_LISTENING;
    ring_resize(t, ring_chunks(&t->p));
    return t;
}

void stt_turn_destroy(stt_turn_t *t)
{
    if (!t)
        return;
    free(t->ring);
    free(t->rec);
    free(t->utt);
    free(t);
}

void stt_turn_start(stt_turn_t *t)
{
    emit(t, STT_TEV_VAD_DETECT_START);
}

void stt_turn_set_params(stt_turn_t *t, const stt_turn_params_t *p)
{
    t->p = *p;
    ring_resize(t, ring_chunks(&t->p));
}

static void clear_preroll(stt_turn_t *t)
{
    t->ring_head = 0;
    t->ring_len = 0;
}

/* Back to listening. The state is settled before any event goes out, so a callback sees the
 * machine as it is after the stop (and the utterance, if kept, is already takeable). */
static void end_recording(stt_turn_t *t, int keep)
{
    int was_turn = t->sess != 0;

    free(t->utt); /* an utterance nobody took is superseded */
    t->utt = NULL;
    t->utt_len = 0;
    t->utt_off = 0;
    if (keep) {
        t->utt = t->rec;
        t->utt_len = t->rec_len - t->rec_off;
        t->utt_off = t->rec_off;
    } else {
        free(t->rec);
    }
    t->rec = NULL;
    t->rec_len = 0;
    t->rec_off = 0;
    t->rec_cap = 0;
    t->state = STT_TURN_LISTENING;
    t->rec_stop = t->pos;
    t->in_silence = 0;
    t->sess = 0;
    t->awaiting_speech_end = 0;
    t->onset_run = 0; /* the next recording needs a fresh onset */
    clear_preroll(t);

    emit(t, STT_TEV_RECORDING_STOP);
    if (was_turn)
        emit(t, STT_TEV_STOP_TURN_DETECTION);
    emit(t, STT_TEV_VAD_DETECT_START);
}

static void start_recording(stt_turn_t *t, const int16_t *chunk)
{
    /* Pre-roll first, then the chunk that confirmed the onset, as the original's
     * frames.extend(audio_buffer) followed by frames.append(data). */
    size_t need = (t->ring_len + 1) * CHUNK; /* <= the utterance cap, see ring_chunks() */
    size_t cap = need > 64 * CHUNK ? need : 64 * CHUNK;
    size_t limit = max_utt_samples(&t->p);
    if (cap > limit)
        cap = limit;
    t->rec = stt_malloc(cap * sizeof(int16_t));
    t->rec_cap = cap;
    ring_copy_out(t, t->rec);
    t->rec_len = t->ring_len * CHUNK;
    rec_append(t, chunk);
    clear_preroll(t);

    t->state = STT_TURN_RECORDING;
    t->rec_start = t->pos;
    t->in_silence = 0;
    t->sess = 0;
    t->awaiting_speech_end = 0;
    t->early_allowed = 1;
    emit(t, STT_TEV_VAD_DETECT_STOP);
    emit(t, STT_TEV_RECORDING_START);
    /* A cap of one chunk is already full; stop now rather than on a chunk we could not keep. */
    if (t->state == STT_TURN_RECORDING && t->rec_len + CHUNK > max_utt_samples(&t->p))
        end_recording(t, 1);
}

static void feed_listening(stt_turn_t *t, const int16_t *chunk, int onset)
{
    int need = t->p.onset_chunks > 0 ? t->p.onset_chunks : 1;

    /* Saturates at `need`, so the counter cannot overflow while a min gap blocks the start. */
    if (!onset)
        t->onset_run = 0;
    else if (t->onset_run < need)
        t->onset_run++;
    if (t->onset_run >= need) {
        uint64_t gap = to_samples(t->p.min_gap_between_recordings_s);
        if (!t->rec_stop || t->pos - t->rec_stop >= gap) {
            start_recording(t, chunk);
            return;
        }
    }
    ring_push(t, chunk);
}

/* Runs the original's end-of-speech logic for one chunk while recording; events go out before
 * the chunk is appended, as in the original (frames.append comes last in its loop). Returns 1
 * when the post-speech silence has elapsed and the recording should stop on this chunk. */
static int end_of_speech(stt_turn_t *t, int active)
{
    uint64_t now = t->pos;
    int silent = 0;

    if (!active) {
        /* Debounce: a non-active chunk counts as speech until the silence has lasted the
         * confirmation time, measured from the first sample of its first chunk. */
        if (!t->in_silence) {
            t->in_silence = 1;
            t->silence_from = now - CHUNK;
        }
        silent = now - t->silence_from >= to_samples(t->p.deactivity_silence_confirmation_s);
    } else {
        t->in_silence = 0;
    }

    if (silent) {
        if (!t->sess && now - t->rec_start > to_samples(t->p.min_length_of_recording_s)) {
            t->sess = now;
            t->awaiting_speech_end = 1;
            emit(t, STT_TEV_START_TURN_DETECTION);
        }
        uint64_t early = to_samples(t->p.early_transcription_on_silence_s);
        if (t->sess && early > 0 && now - t->sess > early && t->early_allowed) {
            t->early_allowed = 0;
            emit(t, STT_TEV_EARLY_TRANSCRIPTION);
        }
    } else {
        t->awaiting_speech_end = 0;
        if (t->sess) {
            t->sess = 0;
            t->early_allowed = 1;
            emit(t, STT_TEV_STOP_TURN_DETECTION);
        }
    }

    if (t->sess && now - t->sess >= to_samples(t->p.post_speech_silence_s)) {
        t->awaiting_speech_end = 0;
        return 1;
    }
    return 0;
}

static void feed_recording(stt_turn_t *t, const int16_t *chunk, int active)
{
    size_t limit = max_utt_samples(&t->p);
    int want_stop = end_of_speech(t, active);

    if (t->rec_len + CHUNK > limit) {
        /* Only reachable when set_params lowered max_utterance_s below what is recorded. */
        end_recording(t, 1);
        return;
    }
    rec_append(t, chunk);
    /* stop() refuses a recording younger than min_length_of_recording; with turn detection
     * armed only past that length, this happens only if set_params raised it meanwhile. Like the
     * original, the chunk stays recorded and the stop is retried on the next chunk. */
    if (want_stop && t->pos - t->rec_start >= to_samples(t->p.min_length_of_recording_s)) {
        end_recording(t, 1);
        return;
    }
    /* Force-stop once the next chunk would no longer fit, so the cap holds exactly. */
    if (t->rec_len + CHUNK > limit)
        end_recording(t, 1);
}

void stt_turn_feed(stt_turn_t *t, const int16_t *chunk, int onset, int active)
{
    t->pos += CHUNK;
    if (t->state == STT_TURN_LISTENING)
        feed_listening(t, chunk, onset);
    else
        feed_recording(t, chunk, active);
}

int stt_turn_stop(stt_turn_t *t)
{
    if (t->state != STT_TURN_RECORDING)
        return STT_ENOTREADY;
    if (t->pos - t->rec_start < to_samples(t->p.min_length_of_recording_s))
        return STT_EBUSY;
    end_recording(t, 1);
    return 0;
}

int stt_turn_stop_now(stt_turn_t *t)
{
    if (t->state != STT_TURN_RECORDING)
        return STT_ENOTREADY;
    end_recording(t, 1);
    return 0;
}

int stt_turn_abort(stt_turn_t *t)
{
    if (t->state != STT_TURN_RECORDING) {
        clear_preroll(t);
        t->onset_run = 0;
        return 0;
    }
    end_recording(t, 0);
    return 1;
}

void stt_turn_clear_preroll(stt_turn_t *t)
{
    clear_preroll(t);
}

const int16_t *stt_turn_recording(const stt_turn_t *t, size_t *n_samples)
{
    if (t->state != STT_TURN_RECORDING) {
        *n_samples = 0;
        return NULL;
    }
    *n_samples = t->rec_len - t->rec_off;
    return t->rec;
}

size_t stt_turn_recording_offset(const stt_turn_t *t)
{
    return t->state == STT_TURN_RECORDING ? t->rec_off : 0;
}

void stt_turn_release(stt_turn_t *t, size_t upto)
{
    if (t->state != STT_TURN_RECORDING || upto <= t->rec_off)
        return;
    if (upto > t->rec_len)
        upto = t->rec_len;
    size_t drop = upto - t->rec_off, keep = t->rec_len - upto;
    memmove(t->rec, t->rec + drop, keep * sizeof(int16_t));
    t->rec_off = upto;
    /* Give the memory back once a grown buffer is mostly empty, never below the first
     * allocation (64 chunks): shrinking to a few chunks made every other append grow it again,
     * and the realloc churn on the loop made 2,000 null-engine calls fall 0.7 s behind. */
    size_t want = 2 * (keep + CHUNK) > 64 * CHUNK ? 2 * (keep + CHUNK) : 64 * CHUNK;
    if (t->rec_cap >= 2 * want) {
        t->rec = stt_realloc(t->rec, want * sizeof(int16_t));
        t->rec_cap = want;
    }
}

int16_t *stt_turn_take_utterance(stt_turn_t *t, size_t *n_samples)
{
    int16_t *u = t->utt;
    *n_samples = u ? t->utt_len : 0;
    t->utt = NULL;
    t->utt_len = 0;
    return u;
}

size_t stt_turn_utterance_offset(const stt_turn_t *t)
{
    return t->utt_off;
}

stt_turn_state_t stt_turn_state(const stt_turn_t *t)
{
    return t->state;
}

uint64_t stt_turn_position(const stt_turn_t *t)
{
    return t->pos;
}

uint64_t stt_turn_recording_start(const stt_turn_t *t)
{
    return t->rec_start; /* kept after the stop, so RECORDING_STOP handlers can time the turn */
}

uint64_t stt_turn_recording_stop(const stt_turn_t *t)
{
    return t->rec_stop;
}

uint64_t stt_turn_speech_end_silence_start(const stt_turn_t *t)
{
    return t->sess;
}

int stt_turn_awaiting_speech_end(const stt_turn_t *t)
{
    return t->awaiting_speech_end;
}

/* Bounded reorder buffer (include/stt/reorder.h).
 *
 * Slots are a ring indexed by seq % W covering [next, next + W). `done` remembers which of the
 * 64 numbers before `next` were emitted (bit i: next - 1 - i), so a number below `next` can be
 * told duplicate (emitted) from late (given up as missing). */
#include "stt/reorder.h"

#include "stt/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int full;
} slot_t;

struct stt_reorder {
    size_t window, held;
    uint64_t next;
    uint64_t done; /* emission history of the 64 numbers below next */
    size_t last_len;
    stt_reorder_emit_cb cb;
    void *cb_data;
    stt_reorder_stats_t st;
    slot_t *slots;
};

stt_reorder_t *stt_reorder_create(size_t window, uint64_t first, stt_reorder_emit_cb cb,
                                  void *cb_data)
{
    stt_reorder_t *r = stt_calloc(1, sizeof(*r));
    r->window = window > STT_REORDER_MAX_WINDOW ? STT_REORDER_MAX_WINDOW : window;
    r->next = first;
    r->cb = cb;
    r->cb_data = cb_data;
    r->slots = stt_calloc(r->window ? r->window : 1, sizeof(slot_t));
    return r;
}

void stt_reorder_destroy(stt_reorder_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->window; i++)
        free(r->slots[i].buf);
    free(r->slots);
    free(r);
}

size_t stt_reorder_held(const stt_reorder_t *r)
{
    return r->held;
}

const stt_reorder_stats_t *stt_reorder_stats(const stt_reorder_t *r)
{
    return &r->st;
}

/* Moves past `next`: emits its chunk, or silence for it when missing. */
static void advance(stt_reorder_t *r, int fill_missing)
{
    slot_t *s = &r->slots[r->next % r->window];
    int emitted = 0;
    if (s->full) {
        s->full = 0;
        r->held--;
        r->last_len = s->len;
        r->st.emitted++;
        r->cb(r->cb_data, r->next, s->buf, s->len);
        emitted = 1;
    } else if (fill_missing && r->last_len > 0) {
        r->st.missing_filled++;
        r->cb(r->cb_data, r->next, NULL, r->last_len);
    } else {
        r->st.missing_skipped++;
    }
    r->done = r->done << 1 | (uint64_t)emitted;
    r->next++;
}

static void drain(stt_reorder_t *r)
{
    while (r->slots[r->next % r->window].full)
        advance(r, 1);
}

stt_reorder_result_t stt_reorder_push(stt_reorder_t *r, uint64_t seq, const uint8_t *data,
                                      size_t len)
{
    if (r->window == 0) {
        r->st.emitted++;
        r->cb(r->cb_data, seq, data, len);
        return STT_REORDER_EMITTED;
    }
    if (seq < r->next) {
        uint64_t back = r->next - 1 - seq;
        if (back < 64 && (r->done >> back & 1)) {
            r->st.duplicate++;
            return STT_REORDER_DUPLICATE;
        }
        r->st.late++;
        return STT_REORDER_LATE;
    }
    uint64_t w = r->window;
    if (seq - r->next >= 2 * w) {
        /* A jump: what is held comes out with its gaps filled, the rest is skipped and the
         * new chunk is the next one. */
        while (r->held > 0)
            advance(r, 1);
        r->st.missing_skipped += seq - r->next;
        r->done = 0;
        r->next = seq;
    }
    while (seq - r->next >= w) /* slide the window until seq fits */
        advance(r, 1);
    slot_t *s = &r->slots[seq % w];
    if (s->full) {
        r->st.duplicate++;
        return STT_REORDER_DUPLICATE;
    }
    if (seq != r->next)
        r->st.reordered++;
    if (len > s->cap) {
        s->buf = stt_realloc(s->buf, len);
        s->cap = len;
    }
    memcpy(s->buf, data, len);
    s->len = len;
    s->full = 1;
    r->held++;
    if (r->held > r->st.held_max)
        r->st.held_max = r->held;
    drain(r);
    return STT_REORDER_EMITTED;
}

void stt_reorder_flush(stt_reorder_t *r)
{
    while (r->held > 0)
        advance(r, 1);
}

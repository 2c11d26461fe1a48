/* libFuzzer driver for the reorder buffer (src/proto/reorder.c, Telnyx chunk reordering).
 *
 * Input: byte 0 picks the window (0..16); then 2-byte records, each one push: a chunk number
 * 1..1024 (10 bits) and a length 1..64 (6 bits); the chunk's bytes are the record's index, so a
 * chunk can be recognised when it comes out. After the last push the buffer is flushed. Checked,
 * against a model kept here:
 *   - a number is accepted (EMITTED) at most once, and every accepted chunk comes out exactly
 *     once, with its own bytes, by the end of the flush;
 *   - with a window, chunks come out in strictly increasing number order, never more than the
 *     window held at once; silence (data NULL) only for a number never accepted, as long as the
 *     last chunk emitted before it; emitted and duplicate/late counters match what happened;
 *   - without a window, every push comes out at once, in arrival order.
 * Any broken promise aborts, so libFuzzer reports it like a crash. Replayed as a test from
 * tests/fuzz/corpus/reorder/ by tests/fuzz/replay_main.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/reorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_reorder: check failed: %s (line %d)\n", #cond, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_SEQ 1024

typedef struct {
    size_t window;
    int accepted[MAX_SEQ + 1]; /* the push index + 1 that was accepted for the number, or 0 */
    size_t acc_len[MAX_SEQ + 1];
    int out[MAX_SEQ + 1];      /* times the number came out with data */
    uint64_t last_seq;         /* the last number out (window > 0) */
    size_t last_len;           /* the last real chunk's length */
    int any_out;
    uint64_t real_out;
    int expect_push;           /* window 0: the push index that must come out next */
} model_t;

static void emit(void *ud, uint64_t seq, const uint8_t *d, size_t len)
{
    model_t *m = ud;
    CHECK(seq >= 1 && seq <= MAX_SEQ);
    if (m->window > 0) {
        CHECK(!m->any_out || seq > m->last_seq);
        m->last_seq = seq;
        m->any_out = 1;
    }
    if (!d) {
        CHECK(m->window > 0);
        CHECK(!m->accepted[seq]);
        CHECK(len == m->last_len && len > 0);
        return;
    }
    int idx = m->accepted[seq];
    CHECK(idx > 0 && len == m->acc_len[seq]);
    for (size_t i = 0; i < len; i++)
        CHECK(d[i] == (uint8_t)(idx - 1));
    if (m->window == 0)
        CHECK(idx - 1 == m->expect_push);
    m->out[seq]++;
    m->real_out++;
    m->last_len = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static model_t m;
    memset(&m, 0, sizeof(m));
    m.window = data[0] % 17;
    stt_reorder_t *r = stt_reorder_create(m.window, 1, emit, &m);
    uint8_t chunk[64];
    uint64_t dropped = 0;
    size_t n = (size - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = data + 1 + 2 * i;
        uint64_t seq = 1 + ((uint64_t)rec[0] | (uint64_t)(rec[1] & 3) << 8);
        size_t len = (size_t)(rec[1] >> 2) + 1;
        memset(chunk, (int)(uint8_t)i, len);
        if (m.window == 0) { /* each push comes out at once, whatever its number */
            memset(m.accepted, 0, sizeof(m.accepted));
            m.accepted[seq] = (int)(uint8_t)i + 1;
            m.acc_len[seq] = len;
            m.expect_push = (int)(uint8_t)i;
            uint64_t before = m.real_out;
            CHECK(stt_reorder_push(r, seq, chunk, len) == STT_REORDER_EMITTED);
            CHECK(m.real_out == before + 1);
            continue;
        }
        int was = m.accepted[seq];
        m.accepted[seq] = (int)(uint8_t)i + 1; /* provisionally: emit() may run inside push */
        size_t saved_len = m.acc_len[seq];
        m.acc_len[seq] = len;
        stt_reorder_result_t res = stt_reorder_push(r, seq, chunk, len);
        if (res == STT_REORDER_EMITTED) {
            CHECK(!was); /* a number is accepted once */
        } else {
            m.accepted[seq] = was;
            m.acc_len[seq] = saved_len;
            dropped++;
        }
        CHECK(stt_reorder_held(r) <= m.window);
    }
    stt_reorder_flush(r);
    CHECK(stt_reorder_held(r) == 0);
    const stt_reorder_stats_t *st = stt_reorder_stats(r);
    CHECK(st->emitted == m.real_out);
    if (m.window > 0) {
        CHECK(st->late + st->duplicate == dropped);
        for (size_t s = 1; s <= MAX_SEQ; s++)
            CHECK(m.out[s] == (m.accepted[s] ? 1 : 0));
    }
    stt_reorder_destroy(r);
    return 0;
}

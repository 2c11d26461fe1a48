/* Unit tests for the bounded reorder buffer (src/proto/reorder.c).
 *
 * Covered: in-order chunks come out at once; any shuffle within the window comes out in order
 * (every permutation of 5 chunks, window 8); duplicates (held or emitted) and late chunks are
 * dropped and counted; a lost chunk becomes one chunk of silence once the window slides past
 * it, holding back at most W chunks; a jump of 2W or more is skipped without silence; flush
 * emits what is held with its gaps filled; window 0 passes chunks through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/reorder.h"

typedef struct {
    uint64_t seq[256];
    int silence[256];
    size_t len[256];
    int n;
} out_t;

static void emit(void *d, uint64_t seq, const uint8_t *data, size_t len)
{
    out_t *o = d;
    assert_true(o->n < 256);
    o->seq[o->n] = seq;
    o->silence[o->n] = data == NULL;
    o->len[o->n] = len;
    if (data)
        assert_int_equal(data[0], (uint8_t)seq); /* the bytes of that chunk */
    o->n++;
}

static stt_reorder_result_t push(stt_reorder_t *r, uint64_t seq, size_t len)
{
    uint8_t b[64];
    memset(b, (int)(uint8_t)seq, sizeof(b));
    return stt_reorder_push(r, seq, b, len);
}

static void test_in_order(void **state)
{
    (void)state;
    out_t o = {0};
    stt_reorder_t *r = stt_reorder_create(8, 1, emit, &o);
    for (uint64_t s = 1; s <= 20; s++) {
        assert_int_equal(push(r, s, 10), STT_REORDER_EMITTED);
        assert_int_equal(o.n, (int)s); /* no delay */
    }
    assert_int_equal(stt_reorder_stats(r)->reordered, 0);
    stt_reorder_destroy(r);
}

static int next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, h = n - 1; l < h; l++, h--) {
        t = a[l];
        a[l] = a[h];
        a[h] = t;
    }
    return 1;
}

static void test_every_shuffle(void **state)
{
    (void)state;
    int p[5] = {0, 1, 2, 3, 4}, count = 0;
    do {
        out_t o = {0};
        stt_reorder_t *r = stt_reorder_create(8, 1, emit, &o);
        for (int i = 0; i < 5; i++)
            assert_int_equal(push(r, (uint64_t)p[i] + 1, 10), STT_REORDER_EMITTED);
        assert_int_equal(o.n, 5);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(o.seq[i], i + 1);
            assert_false(o.silence[i]);
        }
        assert_int_equal(stt_reorder_held(r), 0);
        stt_reorder_destroy(r);
        count++;
    } while (next_perm(p, 5));
    assert_int_equal(count, 120);
}

static void test_duplicates_and_late(void **state)
{
    (void)state;
    out_t o = {0};
    stt_reorder_t *r = stt_reorder_create(4, 1, emit, &o);
    push(r, 1, 10);
    assert_int_equal(push(r, 1, 10), STT_REORDER_DUPLICATE); /* emitted before */
    push(r, 3, 10);
    assert_int_equal(push(r, 3, 10), STT_REORDER_DUPLICATE); /* held */
    /* 2 is lost: chunk 6 is 4 ahead of the next expected (2), so 2 is given up as silence. */
    push(r, 4, 10);
    push(r, 5, 10);
    assert_int_equal(o.n, 1);
    push(r, 6, 10);
    assert_int_equal(o.n, 6);
    assert_int_equal(o.seq[1], 2);
    assert_true(o.silence[1]);
    assert_int_equal(o.len[1], 10);
    assert_int_equal(push(r, 2, 10), STT_REORDER_LATE); /* too late: dropped */
    const stt_reorder_stats_t *st = stt_reorder_stats(r);
    assert_int_equal(st->duplicate, 2);
    assert_int_equal(st->late, 1);
    assert_int_equal(st->missing_filled, 1);
    assert_int_equal(st->emitted, 5);
    stt_reorder_destroy(r);
}

static void test_jump_and_flush(void **state)
{
    (void)state;
    out_t o = {0};
    stt_reorder_t *r = stt_reorder_create(4, 1, emit, &o);
    push(r, 1, 10);
    push(r, 3, 10); /* held, 2 missing */
    push(r, 1000000, 10); /* a jump: 3 comes out (2 as silence), the rest is skipped */
    assert_int_equal(o.n, 4);
    assert_int_equal(o.seq[1], 2);
    assert_true(o.silence[1]);
    assert_int_equal(o.seq[2], 3);
    assert_int_equal(o.seq[3], 1000000);
    assert_false(o.silence[3]);
    assert_true(stt_reorder_stats(r)->missing_skipped >= 1000000 - 4);
    push(r, 1000002, 10);
    push(r, 1000004, 10);
    assert_int_equal(stt_reorder_held(r), 2);
    stt_reorder_flush(r);
    assert_int_equal(o.n, 8); /* 1000001 silence, 1000002, 1000003 silence, 1000004 */
    assert_true(o.silence[4] && !o.silence[5] && o.silence[6] && !o.silence[7]);
    assert_int_equal(stt_reorder_held(r), 0);
    stt_reorder_destroy(r);
}

static void test_window_zero(void **state)
{
    (void)state;
    out_t o = {0};
    stt_reorder_t *r = stt_reorder_create(0, 1, emit, &o);
    push(r, 5, 10);
    push(r, 2, 10);
    push(r, 2, 10);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.seq[1], 2);
    stt_reorder_destroy(r);
    stt_reorder_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),        cmocka_unit_test(test_every_shuffle),
        cmocka_unit_test(test_duplicates_and_late), cmocka_unit_test(test_jump_and_flush),
        cmocka_unit_test(test_window_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

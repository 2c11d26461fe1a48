/* The sink interface: fan-out order, call end, references (a destination shared by calls lives
 * until the last call let go of it). The sink here records what it is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../src/server/sinks/sink.h"

typedef struct {
    stt_sink_t base;
    char log[256];
    int destroyed;
} rec_sink_t;

static void rec_event(stt_sink_t *s, const stt_call_ref_t *call, const stt_call_event_t *ev)
{
    rec_sink_t *r = (rec_sink_t *)s;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, "%s:%d:%s ", call->call_id, call->track, ev->kind);
}

static void rec_end(stt_sink_t *s, const stt_call_ref_t *call)
{
    rec_sink_t *r = (rec_sink_t *)s;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof(r->log) - n, "%s:end ", call->call_id);
}

static void rec_destroy(stt_sink_t *s)
{
    ((rec_sink_t *)s)->destroyed++;
}

static const stt_sink_ops_t rec_ops = {"record", rec_event, rec_end, rec_destroy};

static void test_fan_out_and_refs(void **state)
{
    rec_sink_t a = {.base = {&rec_ops, 1}}, b = {.base = {&rec_ops, 1}};
    stt_sink_set_t call1 = {0}, call2 = {0};
    assert_int_equal(stt_sink_set_add(&call1, &a.base), 0);
    assert_int_equal(stt_sink_set_add(&call1, &b.base), 0);
    assert_int_equal(stt_sink_set_add(&call2, &a.base), 0); /* a serves two calls */
    stt_call_ref_t c1 = {"CA1", "twilio", 0, 1, 1}, c2 = {"CA2", "twilio", 1, 2, 2};
    stt_call_event_t ev = {.kind = "partial", .json = "{}", .len = 2, .seq = 1};
    stt_sink_set_emit(&call1, &c1, &ev);
    ev.kind = "final";
    stt_sink_set_emit(&call2, &c2, &ev);
    stt_sink_set_clear(&call1, &c1);
    assert_int_equal(call1.n, 0);
    assert_string_equal(a.log, "CA1:0:partial CA2:1:final CA1:end ");
    assert_string_equal(b.log, "CA1:0:partial CA1:end ");
    assert_int_equal(b.destroyed, 0); /* the creator's reference is still held */
    stt_sink_release(&b.base);
    assert_int_equal(b.destroyed, 1);
    stt_sink_set_clear(&call2, &c2);
    stt_sink_release(&a.base);
    assert_int_equal(a.destroyed, 1);
    stt_sink_release(NULL);
}

static void test_set_full(void **state)
{
    rec_sink_t a = {.base = {&rec_ops, 1}};
    stt_sink_set_t set = {0};
    for (int i = 0; i < STT_SINK_SET_MAX; i++)
        assert_int_equal(stt_sink_set_add(&set, &a.base), 0);
    assert_int_equal(stt_sink_set_add(&set, &a.base), -1);
    assert_int_equal(a.base.refs, 1 + STT_SINK_SET_MAX);
    stt_call_ref_t c = {"X", "vosk", 0, 3, 3};
    stt_sink_set_clear(&set, &c);
    assert_int_equal(a.base.refs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fan_out_and_refs),
        cmocka_unit_test(test_set_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

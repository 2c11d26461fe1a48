/* Unit tests of the tools' shared code: the client codecs (tools/common/client_proto.c), the
 * option table (opts.c) and the histogram (hist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/client_proto.h"
#include "common/hist.h"
#include "common/opts.h"
#include "stt/error.h"
#include "stt/rtstt_frame.h"

static void test_find(void **state)
{
    (void)state;
    assert_non_null(stt_client_proto_find("rtstt"));
    assert_non_null(stt_client_proto_find("vosk"));
    assert_null(stt_client_proto_find("deepgram"));
    assert_ptr_equal(stt_client_proto_default(), stt_client_proto_find("rtstt"));
    const stt_client_proto_t *p = NULL;
    assert_int_equal(stt_client_proto_opt(&p, "t", "vosk"), 0);
    assert_string_equal(p->name, "vosk");
    assert_int_equal(stt_client_proto_opt(&p, "t", "nope"), STT_EINVAL);
}

/* The rtstt codec builds exactly what stt_rtstt_frame_build does, stamp included. */
static void test_rtstt_audio(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("rtstt");
    stt_client_params_t par = {.rate_hz = 16000};
    int16_t pcm[320];
    for (int i = 0; i < 320; i++)
        pcm[i] = (int16_t)(i * 97 - 15000);
    uint8_t a[1024], b[1024];
    size_t cap = p->audio_max_bytes(&par, 320);
    assert_true(cap <= sizeof(a));
    size_t n = p->audio(&par, pcm, 320, 0, a, cap);
    assert_int_equal(n, stt_rtstt_frame_build(b, sizeof(b), 16000, pcm, 320, NULL));
    assert_memory_equal(a, b, n);
    n = p->audio(&par, pcm, 320, INT64_MAX, a, cap);
    size_t m = stt_rtstt_frame_build(b, sizeof(b), 16000, pcm, 320,
                                     "\"server_sent_to_stt\": 9223372036854775807");
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n);
    assert_int_equal(p->audio(&par, pcm, 320, 1, a, 100), 0); /* does not fit */
    char msg[64];
    assert_int_equal(p->opening(&par, 0, msg, sizeof(msg)), 0);
    assert_null(p->eos);
    assert_false(p->audio_is_text);
}

static void test_vosk_messages(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("vosk");
    stt_client_params_t par = {.rate_hz = 8000};
    char msg[64];
    size_t n = p->opening(&par, 0, msg, sizeof(msg));
    assert_int_equal(n, strlen("{\"config\": {\"sample_rate\": 8000}}"));
    assert_memory_equal(msg, "{\"config\": {\"sample_rate\": 8000}}", n);
    assert_int_equal(p->opening(&par, 1, msg, sizeof(msg)), 0);
    assert_int_equal(p->opening(&par, 0, msg, 10), 0); /* does not fit */
    assert_string_equal(p->eos, "{\"eof\" : 1}");
    assert_true(p->closes_after_eos);
    int16_t pcm[3] = {1, -2, 0x1234};
    uint8_t out[6];
    assert_int_equal(p->audio_max_bytes(&par, 3), 6);
    assert_int_equal(p->audio(&par, pcm, 3, 123, out, sizeof(out)), 6);
    const uint8_t want[6] = {0x01, 0x00, 0xfe, 0xff, 0x34, 0x12};
    assert_memory_equal(out, want, 6);
    assert_int_equal(p->audio(&par, pcm, 3, 0, out, 5), 0);
}

static void expect_event(const stt_client_proto_t *p, const char *msg, stt_client_ev_kind_t kind,
                         const char *name, const char *text)
{
    stt_client_event_t ev;
    p->parse(msg, strlen(msg), &ev);
    assert_int_equal(ev.kind, kind);
    if (name)
        assert_string_equal(ev.name, name);
    else
        assert_null(ev.name);
    if (text)
        assert_string_equal(ev.text, text);
    else
        assert_null(ev.text);
    stt_client_event_dispose(&ev);
    assert_null(ev.json);
}

static void test_rtstt_parse(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("rtstt");
    expect_event(p, "{\"type\":\"realtime\",\"text\":\"hel\"}", STT_CLIENT_EV_PARTIAL, "realtime",
                 "hel");
    expect_event(p, "{\"type\":\"fullSentence\",\"text\":\"hello.\"}", STT_CLIENT_EV_FINAL,
                 "fullSentence", "hello.");
    expect_event(p, "{\"type\":\"fullSentence\"}", STT_CLIENT_EV_FINAL, "fullSentence", NULL);
    expect_event(p, "{\"type\":\"error\",\"code\":\"x\",\"message\":\"bad\"}", STT_CLIENT_EV_ERROR,
                 "error", "bad");
    expect_event(p, "{\"type\":\"recording_start\"}", STT_CLIENT_EV_SPEECH_START,
                 "recording_start", NULL);
    expect_event(p, "{\"type\":\"recording_stop\"}", STT_CLIENT_EV_SPEECH_END, "recording_stop",
                 NULL);
    expect_event(p, "{\"type\":\"vad_detect_start\"}", STT_CLIENT_EV_LISTENING,
                 "vad_detect_start", NULL);
    expect_event(p, "{\"type\":\"transcription_start\"}", STT_CLIENT_EV_OTHER,
                 "transcription_start", NULL);
    expect_event(p, "{\"text\":\"no type\"}", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    expect_event(p, "{\"type\":3}", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    expect_event(p, "not json", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    /* len bounds the parse: the rest of the buffer is not read */
    stt_client_event_t ev;
    const char *two = "{\"type\":\"realtime\",\"text\":\"a\"}{garbage";
    p->parse(two, strlen(two) - 8, &ev);
    assert_int_equal(ev.kind, STT_CLIENT_EV_PARTIAL);
    stt_client_event_dispose(&ev);
}

static void test_vosk_parse(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("vosk");
    expect_event(p, "{\"partial\" : \"\"}", STT_CLIENT_EV_PARTIAL, "partial", "");
    expect_event(p, "{\"partial\": \"one two\"}", STT_CLIENT_EV_PARTIAL, "partial", "one two");
    expect_event(p,
                 "{\"result\": [{\"conf\": 1.0, \"end\": 1.2, \"start\": 0.9, \"word\": \"one\"}], "
                 "\"text\": \"one\"}",
                 STT_CLIENT_EV_FINAL, "text", "one");
    expect_event(p, "{\"text\": \"\"}", STT_CLIENT_EV_FINAL, "text", "");
    expect_event(p, "{\"alternatives\": [{\"confidence\": 1.0, \"text\": \"a b\"}]}",
                 STT_CLIENT_EV_FINAL, "alternatives", "a b");
    expect_event(p, "{\"alternatives\": []}", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    expect_event(p, "{}", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    expect_event(p, "[1]", STT_CLIENT_EV_UNPARSED, NULL, NULL);
    expect_event(p, "", STT_CLIENT_EV_UNPARSED, NULL, NULL);
}

static void test_target(void **state)
{
    (void)state;
    stt_client_params_t par = {.rate_hz = 16000};
    const stt_client_proto_t *vosk = stt_client_proto_find("vosk");
    const stt_client_proto_t *rtstt = stt_client_proto_find("rtstt");
    stt_tool_target_t t;
    assert_int_equal(stt_client_proto_target(&t, vosk, &par, "ws://h:1", NULL), 0);
    assert_string_equal(t.path, "/vosk");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, vosk, &par, "ws://h:1/", "a b"), 0);
    assert_string_equal(t.path, "/vosk?session=a%20b");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, vosk, &par, "ws://h:1/asr?x=1", "s"), 0);
    assert_string_equal(t.path, "/asr?x=1&session=s");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, rtstt, &par, "ws://h:1", NULL), 0);
    assert_string_equal(t.path, "/");
    assert_string_equal(t.host, "h:1");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, rtstt, &par, "http://h:1/", NULL), STT_EINVAL);
    stt_tool_target_dispose(&t);
}

/* A codec with a query, the seam Deepgram-style protocols will use. */
static size_t q_rate(const stt_client_params_t *p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "encoding=linear16&sample_rate=%d", p->rate_hz);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void test_target_query(void **state)
{
    (void)state;
    stt_client_proto_t q = *stt_client_proto_find("rtstt");
    q.default_path = "/v1/listen";
    q.query = q_rate;
    stt_client_params_t par = {.rate_hz = 8000};
    stt_tool_target_t t;
    assert_int_equal(stt_client_proto_target(&t, &q, &par, "ws://h:1/", "id"), 0);
    assert_string_equal(t.path, "/v1/listen?encoding=linear16&sample_rate=8000&session=id");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, &q, &par, "ws://h:1/x?a=b", NULL), 0);
    assert_string_equal(t.path, "/x?a=b&encoding=linear16&sample_rate=8000");
    stt_tool_target_dispose(&t);
}

static int fn_calls;
static int opt_fn(void *out, const char *prog, const char *arg)
{
    (void)prog;
    fn_calls++;
    *(const char **)out = arg;
    return strcmp(arg, "bad") == 0 ? STT_EINVAL : 0;
}

typedef struct {
    const char *s;
    const char *f;
    int flag, i, q;
    long l;
    size_t z;
    double d;
} o_t;

static int run_opts(o_t *o, int argc, char **argv, int *first)
{
    const stt_tool_opt_t opts[] = {
        STT_TOOL_OPT_STR("str", &o->s),
        STT_TOOL_OPT_BOOL("flag", 0, &o->flag),
        STT_TOOL_OPT_NUM("int", &o->i, -5, 5, NULL),
        STT_TOOL_OPT_NUM("long", &o->l, 1, 1L << 40, NULL),
        STT_TOOL_OPT_NUM("size", &o->z, 1, 100, NULL),
        STT_TOOL_OPT_NUM("dbl", &o->d, 0.5, 2.5, " seconds"),
        STT_TOOL_OPT_CALL("fn", &o->f, opt_fn),
        STT_TOOL_OPT_BOOL("quiet", 'q', &o->q),
        STT_TOOL_OPT_HELP_ROW,
    };
    optind = 0; /* glibc: reinitialise getopt for the next vector */
    return stt_tool_opts_parse("t", opts, sizeof(opts) / sizeof(opts[0]), argc, argv, first);
}

static void test_opts(void **state)
{
    (void)state;
    o_t o;
    memset(&o, 0, sizeof(o));
    int first = 0;
    char *ok[] = {"t",     "--str", "abc",  "--flag", "--int",    "-5",     "--long", "1099511627776",
                  "--size", "100",  "--dbl", "2.5",   "--fn",     "good",   "-q",     "file1",
                  "file2",  NULL};
    assert_int_equal(run_opts(&o, 17, ok, &first), 0);
    assert_string_equal(o.s, "abc");
    assert_int_equal(o.flag, 1);
    assert_int_equal(o.i, -5);
    assert_true(o.l == 1L << 40);
    assert_int_equal(o.z, 100);
    assert_true(o.d == 2.5);
    assert_string_equal(o.f, "good");
    assert_int_equal(o.q, 1);
    assert_int_equal(first, 15);
    assert_string_equal(ok[first], "file1");

    char *bad_int[] = {"t", "--int", "6", NULL};
    assert_int_equal(run_opts(&o, 3, bad_int, &first), STT_EINVAL);
    char *bad_dbl[] = {"t", "--dbl", "0.4", NULL};
    assert_int_equal(run_opts(&o, 3, bad_dbl, &first), STT_EINVAL);
    char *bad_num[] = {"t", "--size", "7x", NULL};
    assert_int_equal(run_opts(&o, 3, bad_num, &first), STT_EINVAL);
    fn_calls = 0;
    char *bad_fn[] = {"t", "--fn", "bad", "--fn", "good", NULL};
    assert_int_equal(run_opts(&o, 5, bad_fn, &first), STT_EINVAL);
    assert_int_equal(fn_calls, 1); /* parsing stops at the first error */
    char *unknown[] = {"t", "--nope", NULL};
    assert_int_equal(run_opts(&o, 2, unknown, &first), STT_EINVAL);
    char *help[] = {"t", "-h", "--int", "99", NULL};
    assert_int_equal(run_opts(&o, 4, help, &first), STT_TOOL_OPTS_HELP);
    char *none[] = {"t", NULL};
    assert_int_equal(run_opts(&o, 1, none, &first), 0);
    assert_int_equal(first, 1);
}

static void test_hist(void **state)
{
    (void)state;
    static stt_tool_hist_t h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(stt_tool_hist_quantile(&h, 0.5), 0);
    for (int i = 1; i <= 1000; i++)
        stt_tool_hist_add(&h, i * 1000); /* 1..1000 ms */
    stt_tool_hist_add(&h, -5);           /* counts as 0 */
    assert_int_equal(h.n, 1001);
    assert_int_equal(h.max_us, 1000000);
    int64_t p50 = stt_tool_hist_quantile(&h, 0.5), p99 = stt_tool_hist_quantile(&h, 0.99);
    assert_true(p50 > 500000 * 0.97 && p50 < 500000 * 1.03);
    assert_true(p99 > 990000 * 0.97 && p99 <= 1000000);
    assert_int_equal(stt_tool_hist_quantile(&h, 1.0), 1000000);
    assert_int_equal(stt_tool_hist_quantile(&h, 0.0), 0);
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < 64; i++)
        stt_tool_hist_add(&h, i); /* exact below 64 us */
    assert_int_equal(stt_tool_hist_quantile(&h, 0.5), 31);
    stt_tool_hist_add(&h, INT64_MAX); /* the top bucket; max stays exact */
    assert_true(h.max_us == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),          cmocka_unit_test(test_rtstt_audio),
        cmocka_unit_test(test_vosk_messages), cmocka_unit_test(test_rtstt_parse),
        cmocka_unit_test(test_vosk_parse),    cmocka_unit_test(test_target),
        cmocka_unit_test(test_target_query),  cmocka_unit_test(test_opts),
        cmocka_unit_test(test_hist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

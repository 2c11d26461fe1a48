/* Unit tests for src/proto/jambonz.c: the start message as mod_jambonz_transcribe sends it, each
 * default, each leniency, each error with its code, close code and message, hints in every shape
 * jambonz passes on, the prompt made of hints, and the exact bytes of both replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/jambonz.h"

/* Parses a C string from an exactly sized copy, so ASan flags any read past the end. */
static stt_jambonz_err_t parse(const char *text, size_t max, stt_jambonz_msg_t *m, char *err,
                               size_t errlen)
{
    size_t n = strlen(text);
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    stt_jambonz_err_t rc = stt_jambonz_parse(copy, n, max, m, err, errlen);
    free(copy);
    return rc;
}

static void expect_ok(const char *text, stt_jambonz_kind_t kind, stt_jambonz_msg_t *m)
{
    char err[256];
    stt_jambonz_err_t rc = parse(text, 0, m, err, sizeof(err));
    if (rc != STT_JAMBONZ_ERR_OK)
        fail_msg("%s: got %s (%s)", text, stt_jambonz_err_name(rc), err);
    assert_string_equal(err, "");
    assert_int_equal(m->kind, kind);
}

static void expect_err(const char *text, stt_jambonz_err_t want, int close_code, const char *msg)
{
    stt_jambonz_msg_t m;
    char err[256];
    stt_jambonz_err_t rc = parse(text, 0, &m, err, sizeof(err));
    if (rc != want)
        fail_msg("%s: got %s (%s), want %s", text, stt_jambonz_err_name(rc), err,
                 stt_jambonz_err_name(want));
    assert_string_equal(err, msg);
    assert_int_equal(stt_jambonz_err_close_code(rc), close_code);
    assert_int_equal(m.kind, STT_JAMBONZ_MSG_NONE);
    assert_null(m.mem);
    assert_null(m.start.hints);
    assert_int_equal(m.start.n_hints, 0);
    stt_jambonz_msg_dispose(&m);
}

/* The start mod_jambonz_transcribe sends (jb_transcribe_glue.cpp), with hints and callSid. */
static void test_start_full(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    expect_ok("{\"type\":\"start\",\"language\":\"en-GB\",\"format\":\"raw\","
              "\"encoding\":\"LINEAR16\",\"interimResults\":true,\"sampleRateHz\":16000,"
              "\"options\":{\"hints\":[\"sales\",\"customer support\"],\"hintsBoost\":20,"
              "\"callSid\":\"8a7f1c2e-1111-2222-3333-444455556666\",\"model\":\"x\"}}",
              STT_JAMBONZ_MSG_START, &m);
    assert_string_equal(m.start.language, "en-GB");
    assert_int_equal(m.start.sample_rate_hz, 16000);
    assert_int_equal(m.start.interim_results, 1);
    assert_string_equal(m.start.call_sid, "8a7f1c2e-1111-2222-3333-444455556666");
    assert_int_equal(m.start.n_hints, 2);
    assert_string_equal(m.start.hints[0], "sales");
    assert_string_equal(m.start.hints[1], "customer support");
    assert_true(m.start.hints_boost == 20.0);
    stt_jambonz_msg_dispose(&m);
    assert_null(m.mem);
    stt_jambonz_msg_dispose(&m); /* twice is harmless */
    stt_jambonz_msg_dispose(NULL);
}

static void test_start_defaults(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    expect_ok("{\"type\":\"start\"}", STT_JAMBONZ_MSG_START, &m);
    assert_string_equal(m.start.language, "en-US");
    assert_int_equal(m.start.sample_rate_hz, 8000);
    assert_int_equal(m.start.interim_results, 0);
    assert_string_equal(m.start.call_sid, "");
    assert_int_equal(m.start.n_hints, 0);
    assert_null(m.mem);
    stt_jambonz_msg_dispose(&m);
    /* options always present, possibly empty; nulls count as absent */
    expect_ok("{\"type\":\"start\",\"options\":{},\"language\":null,\"sampleRateHz\":null,"
              "\"interimResults\":null}",
              STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(m.start.sample_rate_hz, 8000);
    stt_jambonz_msg_dispose(&m);
    expect_ok("{\"type\":\"start\",\"options\":null}", STT_JAMBONZ_MSG_START, &m);
    stt_jambonz_msg_dispose(&m);
}

static void test_leniencies(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    expect_ok(" {\"type\":\"START\",\"format\":\"RAW\",\"encoding\":\"linear16\","
              "\"sampleRateHz\":\"8000\",\"interimResults\":1} \n",
              STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(m.start.interim_results, 1);
    stt_jambonz_msg_dispose(&m);
    expect_ok("{\"type\":\"start\",\"sampleRateHz\":24000.0,\"interimResults\":0}",
              STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(m.start.sample_rate_hz, 24000);
    assert_int_equal(m.start.interim_results, 0);
    stt_jambonz_msg_dispose(&m);
    /* the last of duplicated keys, as JSON.parse */
    expect_ok("{\"type\":\"start\",\"sampleRateHz\":8000,\"sampleRateHz\":48000}",
              STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(m.start.sample_rate_hz, 48000);
    stt_jambonz_msg_dispose(&m);
}

static void test_stop_and_other(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    expect_ok("{\"type\": \"stop\"}", STT_JAMBONZ_MSG_STOP, &m);
    assert_null(m.mem);
    stt_jambonz_msg_dispose(&m);
    /* a stop's other keys do not matter, even malformed ones */
    expect_ok("{\"type\":\"Stop\",\"sampleRateHz\":\"fast\"}", STT_JAMBONZ_MSG_STOP, &m);
    stt_jambonz_msg_dispose(&m);
    expect_ok("{\"type\":\"keepalive\\n\"}", STT_JAMBONZ_MSG_OTHER, &m);
    assert_string_equal(m.other_type, "keepalive?");
    stt_jambonz_msg_dispose(&m);
    expect_ok("{\"type\":\"a-type-name-much-longer-than-thirty-one-bytes\"}",
              STT_JAMBONZ_MSG_OTHER, &m);
    assert_string_equal(m.other_type, "a-type-name-much-longer-than-th");
    stt_jambonz_msg_dispose(&m);
}

static void test_hints_shapes(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    /* strings, objects with a phrase, JSON-stringified objects; the rest skipped; trimmed */
    expect_ok("{\"type\":\"start\",\"options\":{\"hints\":[\" alpha \",{\"phrase\":\"beta\","
              "\"boost\":5},\"{\\\"phrase\\\":\\\"gamma ray\\\",\\\"boost\\\":3}\",\"\",\"  \","
              "7,null,{\"boost\":1},[\"x\"],\"{not json\",\"caf\xc3\xa9\"]}}",
              STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(m.start.n_hints, 4);
    assert_string_equal(m.start.hints[0], "alpha");
    assert_string_equal(m.start.hints[1], "beta");
    assert_string_equal(m.start.hints[2], "gamma ray");
    assert_string_equal(m.start.hints[3], "caf\xc3\xa9");
    stt_jambonz_msg_dispose(&m);
    /* hints as an object or a string: no hints, not an error */
    expect_ok("{\"type\":\"start\",\"options\":{\"hints\":{\"a\":1}}}", STT_JAMBONZ_MSG_START,
              &m);
    assert_int_equal(m.start.n_hints, 0);
    stt_jambonz_msg_dispose(&m);
    /* a long hint is cut to 256 bytes on a character boundary (é is 2 bytes: 128 fit) */
    char text[1200], hint[700] = "";
    for (int i = 0; i < 300; i++)
        strcat(hint, "\xc3\xa9");
    snprintf(text, sizeof(text), "{\"type\":\"start\",\"options\":{\"hints\":[\"%s\"]}}", hint);
    expect_ok(text, STT_JAMBONZ_MSG_START, &m);
    assert_int_equal(strlen(m.start.hints[0]), 256);
    stt_jambonz_msg_dispose(&m);
}

static void test_hints_cap(void **state)
{
    (void)state;
    size_t cap = 16 + 1001 * 4 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    strcpy(text, "{\"type\":\"start\",\"options\":{\"hints\":[");
    for (int i = 0; i < 1001; i++)
        strcat(text, i ? ",\"a\"" : "\"a\"");
    strcat(text, "]}}");
    expect_err(text, STT_JAMBONZ_ERR_HINTS, 1007, "1001 hints, more than 1000");
    free(text);
}

static void test_errors(void **state)
{
    (void)state;
    expect_err("", STT_JAMBONZ_ERR_JSON, 1007, "message is empty");
    expect_err("{\"type\":", STT_JAMBONZ_ERR_JSON, 1007,
               "message is not valid JSON (error at offset 7 of 8)");
    expect_err("{\"type\":\"stop\"} x", STT_JAMBONZ_ERR_JSON, 1007,
               "message has trailing data after the JSON value (offset 16 of 17)");
    expect_err("{\"type\":\"st\xff\"}", STT_JAMBONZ_ERR_JSON, 1007,
               "message is not valid UTF-8 (byte 0xff at offset 11 of 14)");
    expect_err("[\"start\"]", STT_JAMBONZ_ERR_NOTOBJ, 1007,
               "message must be a JSON object, got array");
    expect_err("{\"language\":\"en-US\"}", STT_JAMBONZ_ERR_TYPE, 1007,
               "message has no \"type\" string");
    expect_err("{\"type\":1}", STT_JAMBONZ_ERR_TYPE, 1007, "message has no \"type\" string");
    expect_err("{\"type\":\"start\",\"language\":\"en US\"}", STT_JAMBONZ_ERR_LANGUAGE, 1007,
               "language must be a language tag of 1..35 printable characters");
    expect_err("{\"type\":\"start\",\"language\":\"\"}", STT_JAMBONZ_ERR_LANGUAGE, 1007,
               "language must be a language tag of 1..35 printable characters");
    expect_err("{\"type\":\"start\",\"format\":\"wav\"}", STT_JAMBONZ_ERR_FORMAT, 1003,
               "format must be \"raw\" (PCM in binary frames)");
    expect_err("{\"type\":\"start\",\"encoding\":\"MULAW\"}", STT_JAMBONZ_ERR_ENCODING, 1003,
               "encoding must be \"LINEAR16\" (16-bit little-endian PCM)");
    expect_err("{\"type\":\"start\",\"sampleRateHz\":7999}", STT_JAMBONZ_ERR_RATE, 1007,
               "sampleRateHz 7999 is not a whole number in 8000..48000");
    expect_err("{\"type\":\"start\",\"sampleRateHz\":96000}", STT_JAMBONZ_ERR_RATE, 1007,
               "sampleRateHz 96000 is not a whole number in 8000..48000");
    expect_err("{\"type\":\"start\",\"sampleRateHz\":8000.5}", STT_JAMBONZ_ERR_RATE, 1007,
               "sampleRateHz 8000.5 is not a whole number in 8000..48000");
    expect_err("{\"type\":\"start\",\"sampleRateHz\":1e300}", STT_JAMBONZ_ERR_RATE, 1007,
               "sampleRateHz 1e+300 is not a whole number in 8000..48000");
    expect_err("{\"type\":\"start\",\"sampleRateHz\":\"fast\"}", STT_JAMBONZ_ERR_RATE, 1007,
               "sampleRateHz must be a number, got string");
    expect_err("{\"type\":\"start\",\"interimResults\":\"yes\"}", STT_JAMBONZ_ERR_INTERIM, 1007,
               "interimResults must be a boolean, got string");
    expect_err("{\"type\":\"start\",\"interimResults\":2}", STT_JAMBONZ_ERR_INTERIM, 1007,
               "interimResults must be a boolean, got number");
    expect_err("{\"type\":\"start\",\"options\":[]}", STT_JAMBONZ_ERR_OPTIONS, 1007,
               "options must be an object, got array");
    expect_err("{\"type\":\"start\",\"options\":{\"callSid\":\"a b\"}}", STT_JAMBONZ_ERR_CALLSID,
               1007, "options.callSid must be 1..128 printable characters");
    expect_err("{\"type\":\"start\",\"options\":{\"callSid\":5}}", STT_JAMBONZ_ERR_CALLSID, 1007,
               "options.callSid must be 1..128 printable characters");
    /* an error after hints were read leaves nothing allocated (checked in expect_err) */
    expect_err("{\"type\":\"start\",\"options\":{\"hints\":[\"a\"],\"callSid\":\"\"}}",
               STT_JAMBONZ_ERR_CALLSID, 1007, "options.callSid must be 1..128 printable characters");
}

static void test_size_cap(void **state)
{
    (void)state;
    stt_jambonz_msg_t m;
    char err[128];
    const char *t = "{\"type\":\"stop\"}"; /* 15 bytes */
    assert_int_equal(stt_jambonz_parse(t, strlen(t), 14, &m, err, sizeof(err)),
                     STT_JAMBONZ_ERR_TOOBIG);
    assert_string_equal(err, "message of 15 bytes exceeds the 14-byte limit");
    assert_int_equal(stt_jambonz_err_close_code(STT_JAMBONZ_ERR_TOOBIG), 1009);
    assert_int_equal(stt_jambonz_parse(t, strlen(t), 15, &m, NULL, 0), STT_JAMBONZ_ERR_OK);
    assert_int_equal(stt_jambonz_parse(NULL, 5, 0, &m, NULL, 0), STT_JAMBONZ_ERR_JSON);
    assert_string_equal(stt_jambonz_err_name((stt_jambonz_err_t)99), "unknown_jambonz_error");
    assert_int_equal(stt_jambonz_err_close_code((stt_jambonz_err_t)99), 1011);
}

static void test_prompt(void **state)
{
    (void)state;
    const char *hints[] = {"sales", "customer support", "refund"};
    char buf[64];
    assert_int_equal(stt_jambonz_hints_prompt(hints, 3, buf, sizeof(buf)), 31);
    assert_string_equal(buf, "sales, customer support, refund");
    /* whole hints only: "sales, customer support" is 23 bytes */
    assert_int_equal(stt_jambonz_hints_prompt(hints, 3, buf, 24), 23);
    assert_string_equal(buf, "sales, customer support");
    assert_int_equal(stt_jambonz_hints_prompt(hints, 3, buf, 5), 0);
    assert_string_equal(buf, "");
    assert_int_equal(stt_jambonz_hints_prompt(hints, 0, buf, sizeof(buf)), 0);
    assert_int_equal(stt_jambonz_hints_prompt(hints, 3, NULL, 0), 0);
}

static void test_build(void **state)
{
    (void)state;
    stt_jambonz_transcription_t t = {.is_final = 1, .transcript = "hello \"world\"",
                                     .confidence = 0.5, .language = "en-GB", .channel = 1};
    char *s = stt_jambonz_build_transcription(&t);
    assert_string_equal(s, "{\"type\":\"transcription\",\"is_final\":true,\"alternatives\":"
                           "[{\"transcript\":\"hello \\\"world\\\"\",\"confidence\":0.5}],"
                           "\"language\":\"en-GB\",\"channel\":1}");
    free(s);
    /* unknown confidence -> 1, NULL text -> "", NULL language -> en-US, bad UTF-8 -> U+FFFD */
    stt_jambonz_transcription_t u = {.is_final = 0, .transcript = "a\xff", .confidence = -1,
                                     .channel = 2};
    s = stt_jambonz_build_transcription(&u);
    assert_string_equal(s, "{\"type\":\"transcription\",\"is_final\":false,\"alternatives\":"
                           "[{\"transcript\":\"a\xef\xbf\xbd\",\"confidence\":1}],"
                           "\"language\":\"en-US\",\"channel\":2}");
    free(s);
    u.transcript = NULL;
    u.confidence = 7;
    s = stt_jambonz_build_transcription(&u);
    assert_non_null(strstr(s, "\"transcript\":\"\",\"confidence\":1}"));
    free(s);
    s = stt_jambonz_build_error("binary audio before \"start\"");
    assert_string_equal(s, "{\"type\":\"error\",\"error\":\"binary audio before \\\"start\\\"\"}");
    free(s);
    s = stt_jambonz_build_error(NULL);
    assert_string_equal(s, "{\"type\":\"error\",\"error\":\"\"}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_full),    cmocka_unit_test(test_start_defaults),
        cmocka_unit_test(test_leniencies),    cmocka_unit_test(test_stop_and_other),
        cmocka_unit_test(test_hints_shapes),  cmocka_unit_test(test_hints_cap),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_prompt),        cmocka_unit_test(test_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

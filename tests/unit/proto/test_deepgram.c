/* Unit tests for src/proto/deepgram.c: the query as the official @deepgram/sdk sends it, each
 * default, each rule and error text, keyterm/keywords into the prompt, the control messages
 * and their close codes, and the exact shape of every server message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "stt/deepgram.h"

static int parse(const char *q, int decode, stt_dg_params_t *p, char *err)
{
    size_t n = strlen(q);
    char *copy = malloc(n ? n : 1); /* exactly sized: ASan flags any read past the end */
    assert_non_null(copy);
    memcpy(copy, q, n);
    int rc = stt_dg_parse_query(copy, n, decode, p, err, 256);
    free(copy);
    return rc;
}

static void expect_err(const char *q, const char *msg)
{
    stt_dg_params_t p;
    char err[256];
    assert_int_equal(parse(q, 1, &p, err), -1);
    if (strstr(err, msg) == NULL)
        fail_msg("%s: got \"%s\", want \"%s\"", q, err, msg);
}

static void test_defaults(void **state)
{
    (void)state;
    stt_dg_params_t p;
    char err[256];
    assert_int_equal(parse("", 1, &p, err), 0);
    assert_int_equal(p.encoding, STT_DG_LINEAR16);
    assert_false(p.encoding_given);
    assert_int_equal(p.sample_rate_hz, 16000);
    assert_int_equal(p.channels, 1);
    assert_false(p.multichannel || p.interim_results || p.vad_events || p.punctuate);
    assert_int_equal(p.endpointing_ms, STT_DG_ENDPOINTING_DEFAULT);
    assert_int_equal(p.utterance_end_ms, 0);
    assert_string_equal(p.language, "");
    assert_string_equal(p.model, "");
    assert_string_equal(p.prompt, "");
}

/* What the SDK's listen.v1.connect sends for a typical voice agent. */
static void test_sdk_query(void **state)
{
    (void)state;
    stt_dg_params_t p;
    char err[256];
    assert_int_equal(parse("model=tiny.en&language=en-US&encoding=mulaw&sample_rate=8000&"
                           "channels=2&multichannel=true&interim_results=true&endpointing=300&"
                           "utterance_end_ms=1000&vad_events=true&punctuate=true&"
                           "smart_format=false&diarize=true&tag=x",
                           1, &p, err),
                     0);
    assert_int_equal(p.encoding, STT_DG_MULAW);
    assert_int_equal(p.sample_rate_hz, 8000);
    assert_int_equal(p.channels, 2);
    assert_true(p.multichannel && p.interim_results && p.vad_events && p.punctuate);
    assert_false(p.smart_format);
    assert_int_equal(p.endpointing_ms, 300);
    assert_int_equal(p.utterance_end_ms, 1000);
    assert_string_equal(p.language, "en-US");
    assert_string_equal(p.model, "tiny.en");
    assert_int_equal(p.n_ignored, 2);
    assert_string_equal(p.ignored, "diarize, tag");
    assert_int_equal(parse("endpointing=false", 1, &p, err), 0);
    assert_int_equal(p.endpointing_ms, STT_DG_ENDPOINTING_OFF);
    assert_int_equal(parse("endpointing=true&encoding=alaw&sample_rate=16000", 1, &p, err), 0);
    assert_int_equal(p.endpointing_ms, 10);
    assert_int_equal(p.encoding, STT_DG_ALAW);
}

static void test_terms(void **state)
{
    (void)state;
    stt_dg_params_t p;
    char err[256];
    assert_int_equal(parse("keyterm=Dashwood&keyterm=Norland+Park&keywords=C%2B%2B:2&"
                           "keywords=leisure:-1.5&keyterm=%20&keywords=ratio:x",
                           1, &p, err),
                     0);
    assert_string_equal(p.prompt, "Dashwood, Norland Park, C++, leisure, ratio:x");
    assert_int_equal(p.n_terms, 6);
    /* already decoded by the HTTP parser: '+' stays */
    assert_int_equal(parse("keyterm=C++", 0, &p, err), 0);
    assert_string_equal(p.prompt, "C++");
    /* whole terms only */
    char q[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(q, "keyterm=abcdefghij&");
    assert_int_equal(parse(q, 1, &p, err), 0);
    assert_true(strlen(p.prompt) < STT_DG_PROMPT_MAX);
    assert_int_equal(strlen(p.prompt) % 12, 10); /* "abcdefghij" + k * ", abcdefghij" */
}

static void test_errors(void **state)
{
    (void)state;
    expect_err("encoding=linear16", "a sample_rate is required when 'encoding' is given");
    expect_err("utterance_end_ms=1000", "requires interim_results=true");
    expect_err("interim_results=true&utterance_end_ms=999",
               "Invalid 'utterance_end_ms' value of '999'.");
    expect_err("encoding=opus&sample_rate=48000", "Invalid 'encoding' value of 'opus'.");
    expect_err("sample_rate=4000", "Invalid 'sample_rate' value of '4000'.");
    expect_err("sample_rate=16k", "Invalid 'sample_rate' value of '16k'.");
    expect_err("channels=0", "Invalid 'channels' value of '0'.");
    expect_err("channels=9", "Invalid 'channels' value of '9'.");
    expect_err("punctuate=1", "Invalid 'punctuate' value of '1'.");
    expect_err("endpointing=-1", "Invalid 'endpointing' value of '-1'.");
    expect_err("endpointing=60001", "Invalid 'endpointing'");
    expect_err("language=en%20US", "Invalid 'language' value of 'en US'.");
    expect_err("model=", "Invalid 'model' value of ''.");
    expect_err("keyterm=a%00b", "too long or malformed");
    stt_dg_params_t p;
    char err[256];
    char big[STT_DG_MAX_QUERY_BYTES + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(parse(big, 1, &p, err), -1);
    assert_non_null(strstr(err, "longer than"));
    assert_int_equal(p.channels, 1); /* defaults left on error */
}

static void expect_ctl(const char *m, int rc_want, int kind, int channel, int code_want)
{
    stt_dg_control_t c;
    int code = 0;
    char err[256] = "";
    int rc = stt_dg_parse_control(m, strlen(m), &c, &code, err, sizeof(err));
    if (rc != rc_want)
        fail_msg("%s: rc %d (%s)", m, rc, err);
    if (rc == 0) {
        assert_int_equal(c.kind, kind);
        assert_int_equal(c.channel, channel);
    } else {
        assert_int_equal(code, code_want);
        assert_true(err[0] != '\0');
    }
}

static void test_control(void **state)
{
    (void)state;
    expect_ctl("{\"type\":\"KeepAlive\"}", 0, STT_DG_CTL_KEEPALIVE, -1, 0);
    expect_ctl("{\"type\":\"Finalize\"}", 0, STT_DG_CTL_FINALIZE, -1, 0);
    expect_ctl("{\"type\":\"Finalize\",\"channel\":1}", 0, STT_DG_CTL_FINALIZE, 1, 0);
    expect_ctl("{\"type\":\"Finalize\",\"channel\":[1,2]}", 0, STT_DG_CTL_FINALIZE, 1, 0);
    expect_ctl(" {\"type\": \"CloseStream\"} ", 0, STT_DG_CTL_CLOSESTREAM, -1, 0);
    expect_ctl("{\"type\":\"Finalize\",\"channel\":8}", -1, 0, 0, 1008);
    expect_ctl("{\"type\":\"Finalize\",\"channel\":\"x\"}", -1, 0, 0, 1008);
    expect_ctl("{\"type\":\"keepalive\"}", -1, 0, 0, 1008);
    expect_ctl("{\"type\":\"Configure\"}", -1, 0, 0, 1008);
    expect_ctl("{\"kind\":\"KeepAlive\"}", -1, 0, 0, 1007);
    expect_ctl("[1]", -1, 0, 0, 1007);
    expect_ctl("KeepAlive", -1, 0, 0, 1007);
    expect_ctl("", -1, 0, 0, 1007);
    char big[STT_DG_MAX_CONTROL_BYTES + 2];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_ctl(big, -1, 0, 0, 1009);
}

static void test_results(void **state)
{
    (void)state;
    stt_dg_word_t w[2] = {{"Hello,", 1.5, 1.9, 0.9}, {"World.", 2.0, 2.4, -1}};
    stt_dg_results_t r = {.channel_index = 1, .channels = 2, .start_s = 1.25,
                          .duration_s = 1.5, .is_final = 1, .speech_final = 1,
                          .transcript = "Hello, World.", .confidence = 0.8, .words = w,
                          .n_words = 2, .request_id = "r-1", .model_name = "tiny.en",
                          .model_uuid = "u-1"};
    char *js = stt_dg_build_results(&r);
    assert_string_equal(
        js, "{\"type\":\"Results\",\"channel_index\":[1,2],\"duration\":1.5,\"start\":1.25,"
            "\"is_final\":true,\"speech_final\":true,\"from_finalize\":false,\"channel\":"
            "{\"alternatives\":[{\"transcript\":\"Hello, World.\",\"confidence\":0.8,\"words\":"
            "[{\"word\":\"hello\",\"start\":1.5,\"end\":1.9,\"confidence\":0.9,"
            "\"punctuated_word\":\"Hello,\"},{\"word\":\"world\",\"start\":2,\"end\":2.4,"
            "\"confidence\":0.8,\"punctuated_word\":\"World.\"}]}]},\"metadata\":"
            "{\"request_id\":\"r-1\",\"model_info\":{\"name\":\"tiny.en\",\"version\":"
            "\"stt-server\",\"arch\":\"stt-server\"},\"model_uuid\":\"u-1\"}}");
    free(js);
    js = stt_dg_build_utterance_end(0, 1, 3.4567891);
    assert_string_equal(js, "{\"type\":\"UtteranceEnd\",\"channel\":[0,1],"
                            "\"last_word_end\":3.456789}");
    free(js);
    js = stt_dg_build_speech_started(1, 2, -3);
    assert_string_equal(js, "{\"type\":\"SpeechStarted\",\"channel\":[1,2],\"timestamp\":0}");
    free(js);
    stt_dg_metadata_t m = {.request_id = "r", .sha256_hex = "ab", .created = "t",
                           .duration_s = 2.5, .channels = 1, .model_name = "n",
                           .model_uuid = "u"};
    js = stt_dg_build_metadata(&m);
    assert_string_equal(js, "{\"type\":\"Metadata\",\"transaction_key\":\"deprecated\","
                            "\"request_id\":\"r\",\"sha256\":\"ab\",\"created\":\"t\","
                            "\"duration\":2.5,\"channels\":1,\"models\":[\"u\"],\"model_info\":"
                            "{\"u\":{\"name\":\"n\",\"version\":\"stt-server\",\"arch\":"
                            "\"stt-server\"}}}");
    free(js);
    js = stt_dg_build_http_error("INVALID_AUTH", "Invalid credentials.", "id");
    assert_string_equal(js, "{\"err_code\":\"INVALID_AUTH\",\"err_msg\":\"Invalid credentials.\","
                            "\"request_id\":\"id\"}");
    free(js);
    assert_string_equal(stt_dg_err_code_for_status(401), "INVALID_AUTH");
    assert_string_equal(stt_dg_err_code_for_status(400), "Bad Request");
    char *t = stt_dg_plain_text("  Hello,  Mr. \"Dashwood\"! ");
    assert_string_equal(t, "hello mr dashwood");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_sdk_query),
        cmocka_unit_test(test_terms),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_control),  cmocka_unit_test(test_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/proto/audiofork.c: the jambonz listen header, opaque mod_audio_fork
 * metadata, the URL-argument forms of rate and mix, each error with its code and message, and
 * the exact bytes of the in-band transcription event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/audiofork.h"

static stt_af_err_t parse(const char *text, stt_af_header_t *hd, char *err, size_t errlen)
{
    size_t n = strlen(text);
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    stt_af_err_t rc = stt_af_parse_header(copy, n, 0, hd, err, errlen);
    free(copy);
    return rc;
}

static void expect_ok(const char *text, stt_af_header_t *hd)
{
    char err[256];
    stt_af_err_t rc = parse(text, hd, err, sizeof(err));
    if (rc != STT_AF_ERR_OK)
        fail_msg("%s: got %s (%s)", text, stt_af_err_name(rc), err);
    assert_string_equal(err, "");
}

static void expect_err(const char *text, stt_af_err_t want, const char *msg)
{
    stt_af_header_t hd;
    char err[256];
    stt_af_err_t rc = parse(text, &hd, err, sizeof(err));
    if (rc != want)
        fail_msg("%s: got %s (%s), want %s", text, stt_af_err_name(rc), err,
                 stt_af_err_name(want));
    assert_string_equal(err, msg);
    assert_int_equal(stt_af_err_close_code(rc), rc == STT_AF_ERR_TOOBIG ? 1009 : 1007);
    assert_int_equal(hd.is_json, 0); /* left unset */
    assert_int_equal(hd.rate_hz, 0);
    assert_int_equal(hd.transcribe, -1);
}

/* What jambonz's listen verb sends (docs: webhooks/listen). */
static void test_jambonz_listen(void **state)
{
    (void)state;
    stt_af_header_t hd;
    expect_ok("{\"callSid\":\"b7d0a3c2-5c1e-4f4e-9a57-3c2f2a0e9d11\",\"direction\":\"inbound\","
              "\"from\":\"+15083084809\",\"to\":\"+15083727463\",\"callId\":\"x@y\","
              "\"sipStatus\":200,\"accountSid\":\"a\",\"applicationSid\":\"b\","
              "\"sampleRate\":16000,\"mixType\":\"stereo\",\"metadata\":{\"transcribe\":true,"
              "\"interim\":\"yes\"}}",
              &hd);
    assert_int_equal(hd.is_json, 1);
    assert_int_equal(hd.rate_hz, 16000);
    assert_int_equal(hd.mix, STT_AF_MIX_STEREO);
    assert_int_equal(hd.channels, 0);
    assert_string_equal(hd.call_id, "b7d0a3c2-5c1e-4f4e-9a57-3c2f2a0e9d11");
    assert_int_equal(hd.transcribe, 1);
    assert_int_equal(hd.interim, 1);
    /* top-level flags win over the application's metadata */
    expect_ok("{\"transcribe\":0,\"metadata\":{\"transcribe\":1},\"sample_rate\":\"24k\","
              "\"channels\":1,\"mix\":\"MIXED\",\"uuid\":\"u-1\"}",
              &hd);
    assert_int_equal(hd.transcribe, 0);
    assert_int_equal(hd.interim, -1);
    assert_int_equal(hd.rate_hz, 24000);
    assert_int_equal(hd.mix, STT_AF_MIX_MIXED);
    assert_int_equal(hd.channels, 1);
    assert_string_equal(hd.call_id, "u-1");
    /* nulls count as absent; unknown flag strings stay unset */
    expect_ok("{\"sampleRate\":null,\"mixType\":null,\"transcribe\":\"maybe\"}", &hd);
    assert_int_equal(hd.rate_hz, 0);
    assert_int_equal(hd.mix, STT_AF_MIX_UNSET);
    assert_int_equal(hd.transcribe, -1);
}

static void test_opaque(void **state)
{
    (void)state;
    stt_af_header_t hd;
    const char *opaque[] = {"", "hello metadata", "agent=42;queue=sales", "[1,2]", "16000",
                            "{not json", "{\"a\":1} trailing", "  \"a string\""};
    for (size_t i = 0; i < sizeof(opaque) / sizeof(opaque[0]); i++) {
        expect_ok(opaque[i], &hd);
        assert_int_equal(hd.is_json, 0);
        assert_int_equal(hd.rate_hz, 0);
        assert_int_equal(hd.mix, STT_AF_MIX_UNSET);
        assert_string_equal(hd.call_id, "");
        assert_int_equal(hd.transcribe, -1);
    }
    expect_ok("  {}  ", &hd);
    assert_int_equal(hd.is_json, 1);
    assert_int_equal(stt_af_parse_header(NULL, 5, 0, &hd, NULL, 0), STT_AF_ERR_OK);
}

static void test_errors(void **state)
{
    (void)state;
    const char *rate = "sampleRate must be a multiple of 8000 in 8000..64000 (a number, or "
                       "\"16k\")";
    expect_err("{\"sampleRate\":44100}", STT_AF_ERR_RATE, rate);
    expect_err("{\"sampleRate\":4000}", STT_AF_ERR_RATE, rate);
    expect_err("{\"sampleRate\":72000}", STT_AF_ERR_RATE, rate);
    expect_err("{\"sampleRate\":8000.5}", STT_AF_ERR_RATE, rate);
    expect_err("{\"sampleRate\":\"fast\"}", STT_AF_ERR_RATE, rate);
    expect_err("{\"sampleRate\":true}", STT_AF_ERR_RATE, rate);
    expect_err("{\"mixType\":\"quad\"}", STT_AF_ERR_MIX,
               "mixType must be \"mono\", \"mixed\" or \"stereo\"");
    expect_err("{\"mixType\":2}", STT_AF_ERR_MIX,
               "mixType must be \"mono\", \"mixed\" or \"stereo\"");
    expect_err("{\"channels\":3}", STT_AF_ERR_CHANNELS, "channels must be 1 or 2");
    expect_err("{\"mixType\":\"stereo\",\"channels\":1}", STT_AF_ERR_CHANNELS,
               "channels 1 contradicts mixType (stereo is 2 channels, mono and mixed 1)");
    expect_err("{\"callSid\":\"a b\"}", STT_AF_ERR_CALLID,
               "callSid must be 1..128 printable characters");
    expect_err("{\"callSid\":7}", STT_AF_ERR_CALLID, "callSid must be 1..128 printable characters");
    stt_af_header_t hd;
    char err[128];
    assert_int_equal(stt_af_parse_header("{}", 2, 1, &hd, err, sizeof(err)), STT_AF_ERR_TOOBIG);
    assert_string_equal(err, "metadata of 2 bytes exceeds the 1-byte limit");
    assert_int_equal(stt_af_err_close_code(STT_AF_ERR_TOOBIG), 1009);
    assert_string_equal(stt_af_err_name((stt_af_err_t)77), "unknown_audiofork_error");
    assert_int_equal(stt_af_err_close_code((stt_af_err_t)77), 1011);
}

static void test_url_forms(void **state)
{
    (void)state;
    assert_int_equal(stt_af_parse_rate("8000"), 8000);
    assert_int_equal(stt_af_parse_rate("8k"), 8000);
    assert_int_equal(stt_af_parse_rate("16K"), 16000);
    assert_int_equal(stt_af_parse_rate("64k"), 64000);
    assert_int_equal(stt_af_parse_rate("48000"), 48000);
    assert_int_equal(stt_af_parse_rate("44100"), -1);
    assert_int_equal(stt_af_parse_rate("72k"), -1);
    assert_int_equal(stt_af_parse_rate("0"), -1);
    assert_int_equal(stt_af_parse_rate(""), -1);
    assert_int_equal(stt_af_parse_rate("16kk"), -1);
    assert_int_equal(stt_af_parse_rate("-8000"), -1);
    assert_int_equal(stt_af_parse_rate("99999999999999"), -1);
    assert_int_equal(stt_af_parse_rate(NULL), -1);
    assert_int_equal(stt_af_parse_mix("Stereo"), STT_AF_MIX_STEREO);
    assert_int_equal(stt_af_parse_mix("mono"), STT_AF_MIX_MONO);
    assert_int_equal(stt_af_parse_mix("mixed"), STT_AF_MIX_MIXED);
    assert_int_equal(stt_af_parse_mix("both"), STT_AF_MIX_UNSET);
    assert_int_equal(stt_af_parse_mix(NULL), STT_AF_MIX_UNSET);
    assert_int_equal(stt_af_mix_channels(STT_AF_MIX_STEREO), 2);
    assert_int_equal(stt_af_mix_channels(STT_AF_MIX_MIXED), 1);
    assert_int_equal(stt_af_mix_channels(STT_AF_MIX_UNSET), 1);
}

static void test_build(void **state)
{
    (void)state;
    stt_af_transcription_t t = {.is_final = 1, .transcript = "he was not \"ill\"",
                                .confidence = 0.25, .channel = 2, .language = "en",
                                .call_id = "abc"};
    char *s = stt_af_build_transcription(&t);
    assert_string_equal(s, "{\"type\":\"transcription\",\"data\":{\"is_final\":true,"
                           "\"alternatives\":[{\"transcript\":\"he was not \\\"ill\\\"\","
                           "\"confidence\":0.25}],\"channel\":2,\"language\":\"en\","
                           "\"callSid\":\"abc\"}}");
    free(s);
    stt_af_transcription_t u = {.transcript = "x\xc3", .confidence = -1, .channel = 1};
    s = stt_af_build_transcription(&u);
    assert_string_equal(s, "{\"type\":\"transcription\",\"data\":{\"is_final\":false,"
                           "\"alternatives\":[{\"transcript\":\"x\xef\xbf\xbd\","
                           "\"confidence\":1}],\"channel\":1,\"language\":\"en\"}}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jambonz_listen), cmocka_unit_test(test_opaque),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_url_forms),
        cmocka_unit_test(test_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

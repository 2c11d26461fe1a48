/* Unit tests for src/proto/openai_files.c: each form field as the official SDK and curl send
 * it, each error with OpenAI's status, param and message, the combinations checked at the end,
 * and the exact bytes of every response format and of the SSE events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/openai_files.h"

/* One field from an exactly sized copy, so ASan flags any read past the end. */
static int field(stt_oaf_request_t *r, const char *name, const char *v, stt_oaf_error_t *err)
{
    size_t n = strlen(v);
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, v, n);
    int rc = stt_oaf_field(r, name, copy, n, err);
    free(copy);
    return rc;
}

static void expect_err(const char *name, const char *v, const char *param, const char *msg_part)
{
    stt_oaf_request_t r;
    stt_oaf_error_t e;
    stt_oaf_request_init(&r);
    assert_int_equal(field(&r, name, v, &e), -1);
    assert_int_equal(e.status, 400);
    if (param)
        assert_string_equal(e.param, param);
    if (!strstr(e.message, msg_part))
        fail_msg("message \"%s\" lacks \"%s\"", e.message, msg_part);
}

static void test_fields(void **st)
{
    stt_oaf_request_t r;
    stt_oaf_error_t e;
    stt_oaf_request_init(&r);
    assert_int_equal(r.format, STT_OAF_JSON);
    assert_int_equal(stt_oaf_check(&r, &e), -1); /* no model */
    assert_string_equal(e.message, "you must provide a model parameter");
    assert_string_equal(e.param, "model");
    assert_int_equal(field(&r, "model", "whisper-1", &e), 0);
    assert_string_equal(r.model, "whisper-1");
    assert_int_equal(field(&r, "language", "EN", &e), 0);
    assert_string_equal(r.language, "en");
    assert_int_equal(field(&r, "language", "yue", &e), 0);
    assert_string_equal(r.language, "yue");
    assert_int_equal(field(&r, "temperature", "0.2", &e), 0);
    assert_true(r.temperature > 0.19 && r.temperature < 0.21);
    assert_int_equal(field(&r, "temperature", "1", &e), 0);
    assert_int_equal(field(&r, "response_format", "verbose_json", &e), 0);
    assert_int_equal(r.format, STT_OAF_VERBOSE_JSON);
    assert_int_equal(field(&r, "timestamp_granularities[]", "word", &e), 0);
    assert_int_equal(field(&r, "timestamp_granularities[]", "segment", &e), 0);
    assert_true(r.want_words && r.want_segments);
    assert_int_equal(field(&r, "stream", "false", &e), 0);
    assert_int_equal(field(&r, "chunking_strategy", "auto", &e), 0); /* ignored */
    assert_int_equal(field(&r, "include[]", "logprobs", &e), 0);
    assert_int_equal(field(&r, "prompt", " Quirke, Mr. Quilter ", &e), 0);
    assert_string_equal(r.prompt, " Quirke, Mr. Quilter "); /* kept as given */
    assert_int_equal(r.raw, STT_OAF_RAW_NONE);
    assert_int_equal(stt_oaf_check(&r, &e), 0);
    /* Raw PCM parameters of our own. */
    assert_int_equal(field(&r, "sample_rate", "8000", &e), 0);
    assert_int_equal(r.raw, STT_OAF_RAW_S16LE);
    assert_int_equal(r.sample_rate_hz, 8000);
    assert_int_equal(field(&r, "encoding", "mulaw", &e), 0);
    assert_int_equal(r.raw, STT_OAF_RAW_MULAW);
    assert_int_equal(field(&r, "channels", "2", &e), 0);
    assert_int_equal(r.channels, 2);
    /* stream with json/text */
    stt_oaf_request_init(&r);
    field(&r, "model", "whisper-1", &e);
    assert_int_equal(field(&r, "stream", "true", &e), 0);
    assert_int_equal(stt_oaf_check(&r, &e), 0);
    field(&r, "response_format", "text", &e);
    assert_int_equal(stt_oaf_check(&r, &e), 0);
}

static void test_field_errors(void **st)
{
    expect_err("response_format", "xml", "response_format",
               "'xml' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt']");
    expect_err("temperature", "5", "temperature", "between 0 and 1");
    expect_err("temperature", "-0.1", "temperature", "between 0 and 1");
    expect_err("temperature", "warm", "temperature", "between 0 and 1");
    expect_err("temperature", "nan", "temperature", "between 0 and 1");
    expect_err("temperature", "", "temperature", "between 0 and 1");
    expect_err("timestamp_granularities[]", "sentence", "timestamp_granularities",
               "'sentence' is not one of ['word', 'segment']");
    expect_err("stream", "yes", "stream", "not a valid boolean");
    expect_err("language", "english!", "language", "ISO-639-1");
    expect_err("language", "xx", "language", "Invalid language 'xx'");
    expect_err("sample_rate", "4000", "sample_rate", "8000 to 48000");
    expect_err("sample_rate", "16k", "sample_rate", "8000 to 48000");
    expect_err("channels", "9", "channels", "1 to 8");
    expect_err("encoding", "opus", "encoding", "'opus' is not one of");
    /* A client value shown in a message is cut and quote-free. */
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[3] = '\'';
    stt_oaf_request_t r;
    stt_oaf_error_t e;
    stt_oaf_request_init(&r);
    assert_int_equal(field(&r, "response_format", big, &e), -1);
    assert_null(strstr(e.message, "aaa'"));
    assert_true(strlen(e.message) < 160);
    /* The field cap. */
    char *huge = malloc(STT_OAF_FIELD_MAX_BYTES + 2);
    memset(huge, 'x', STT_OAF_FIELD_MAX_BYTES + 1);
    huge[STT_OAF_FIELD_MAX_BYTES + 1] = '\0';
    assert_int_equal(field(&r, "prompt", huge, &e), -1);
    assert_non_null(strstr(e.message, "too long"));
    /* A long prompt within the cap keeps its tail. */
    huge[STT_OAF_FIELD_MAX_BYTES] = '\0';
    huge[STT_OAF_FIELD_MAX_BYTES - 1] = 'Z';
    assert_int_equal(field(&r, "prompt", huge, &e), 0);
    assert_int_equal(strlen(r.prompt), STT_OAF_PROMPT_MAX - 1);
    assert_int_equal(r.prompt[STT_OAF_PROMPT_MAX - 2], 'Z');
    free(huge);
}

static void test_check(void **st)
{
    stt_oaf_request_t r;
    stt_oaf_error_t e;
    stt_oaf_request_init(&r);
    field(&r, "model", "whisper-1", &e);
    field(&r, "timestamp_granularities[]", "word", &e);
    assert_int_equal(stt_oaf_check(&r, &e), -1);
    assert_string_equal(e.param, "timestamp_granularities");
    assert_non_null(strstr(e.message, "verbose_json"));
    field(&r, "response_format", "verbose_json", &e);
    assert_int_equal(stt_oaf_check(&r, &e), 0);
    field(&r, "stream", "true", &e);
    assert_int_equal(stt_oaf_check(&r, &e), -1);
    assert_string_equal(e.param, "stream");
    stt_oaf_request_init(&r);
    field(&r, "model", "whisper-1", &e);
    field(&r, "stream", "true", &e);
    field(&r, "response_format", "srt", &e);
    assert_int_equal(stt_oaf_check(&r, &e), -1);
    assert_non_null(strstr(e.message, "'srt'"));
    /* model "" is no model */
    stt_oaf_request_init(&r);
    field(&r, "model", "", &e);
    assert_int_equal(stt_oaf_check(&r, &e), -1);
}

static void test_error_body(void **st)
{
    stt_oaf_error_t e;
    stt_oaf_error_set(&e, 400, NULL, NULL, "you must provide a model parameter");
    char *s = stt_oaf_build_error(&e);
    assert_string_equal(s, "{\"error\":{\"message\":\"you must provide a model parameter\","
                           "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
    free(s);
    stt_oaf_error_set(&e, 400, "response_format", "invalid_value", "x \"y\"");
    s = stt_oaf_build_error(&e);
    assert_string_equal(s, "{\"error\":{\"message\":\"x \\\"y\\\"\",\"type\":"
                           "\"invalid_request_error\",\"param\":\"response_format\","
                           "\"code\":\"invalid_value\"}}");
    free(s);
}

static const stt_oaf_segment_t SEGS[] = {
    {"Hello there.", 0.5, 2.25, -0.105, 0.25},
    {"", 3.0, 3.5, 0, 0},
    {"General \"Kenobi\".", 61.0, 3725.0015, 0, 0},
};
static const stt_oaf_word_t WORDS[] = {
    {"Hello", 0.5, 0.9}, {"there.", 1.0, 2.25}, {"General", 61.0, 61.5},
    {"\"Kenobi\".", 61.6, 3725.0015}};

static stt_oaf_transcript_t transcript(void)
{
    stt_oaf_transcript_t t = {.task = "transcribe",
                              .language = "en",
                              .duration_s = 3726.2,
                              .segments = SEGS,
                              .n_segments = 3,
                              .words = WORDS,
                              .n_words = 4};
    return t;
}

static void test_formats(void **st)
{
    stt_oaf_transcript_t t = transcript();
    size_t len;
    char *s = stt_oaf_build_response(&t, STT_OAF_JSON, &len);
    assert_string_equal(s, "{\"text\":\"Hello there. General \\\"Kenobi\\\".\",\"usage\":"
                           "{\"type\":\"duration\",\"seconds\":3727}}");
    assert_int_equal(len, strlen(s));
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_TEXT, &len);
    assert_string_equal(s, "Hello there. General \"Kenobi\".\n");
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_SRT, &len);
    assert_string_equal(s, "1\n00:00:00,500 --> 00:00:02,250\nHello there.\n\n"
                           "2\n00:01:01,000 --> 01:02:05,002\nGeneral \"Kenobi\".\n\n");
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_VTT, &len);
    assert_string_equal(s, "WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nHello there.\n\n"
                           "00:01:01.000 --> 01:02:05.002\nGeneral \"Kenobi\".\n\n");
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_VERBOSE_JSON, &len);
    assert_string_equal(
        s, "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":3726.2,\"text\":"
           "\"Hello there. General \\\"Kenobi\\\".\",\"segments\":[{\"id\":0,\"seek\":50,"
           "\"start\":0.5,\"end\":2.25,\"text\":\" Hello there.\",\"tokens\":[],\"temperature\":"
           "0,\"avg_logprob\":-0.105,\"compression_ratio\":0,\"no_speech_prob\":0.25},{\"id\":1,"
           "\"seek\":300,\"start\":3,\"end\":3.5,\"text\":\" \",\"tokens\":[],\"temperature\":0,"
           "\"avg_logprob\":0,\"compression_ratio\":0,\"no_speech_prob\":0},{\"id\":2,\"seek\":"
           "6100,\"start\":61,\"end\":3725.002,\"text\":\" General \\\"Kenobi\\\".\",\"tokens\":"
           "[],\"temperature\":0,\"avg_logprob\":0,\"compression_ratio\":0,\"no_speech_prob\":0}"
           "],\"usage\":{\"type\":\"duration\",\"seconds\":3727}}");
    free(s);
    /* words only */
    t.want_words = 1;
    s = stt_oaf_build_response(&t, STT_OAF_VERBOSE_JSON, &len);
    assert_null(strstr(s, "\"segments\""));
    assert_non_null(strstr(s, "\"words\":[{\"word\":\"Hello\",\"start\":0.5,\"end\":0.9},"));
    free(s);
    t.want_segments = 1;
    s = stt_oaf_build_response(&t, STT_OAF_VERBOSE_JSON, &len);
    assert_non_null(strstr(s, "\"segments\""));
    assert_non_null(strstr(s, "\"words\""));
    free(s);
    /* nothing said */
    stt_oaf_transcript_t empty = {.task = "translate", .language = "", .duration_s = 0.4};
    s = stt_oaf_build_response(&empty, STT_OAF_SRT, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    s = stt_oaf_build_response(&empty, STT_OAF_VTT, &len);
    assert_string_equal(s, "WEBVTT\n\n");
    free(s);
    s = stt_oaf_build_response(&empty, STT_OAF_VERBOSE_JSON, &len);
    assert_string_equal(s, "{\"task\":\"translate\",\"language\":\"\",\"duration\":0.4,\"text\":"
                           "\"\",\"segments\":[],\"usage\":{\"type\":\"duration\",\"seconds\":1}}");
    free(s);
}

static void test_sse(void **st)
{
    size_t len;
    char *s = stt_oaf_sse_delta(" world", &len);
    assert_string_equal(s, "data: {\"type\":\"transcript.text.delta\",\"delta\":\" world\"}\n\n");
    assert_int_equal(len, strlen(s));
    free(s);
    s = stt_oaf_sse_done("Hello world", &len);
    assert_string_equal(s,
                        "data: {\"type\":\"transcript.text.done\",\"text\":\"Hello world\"}\n\n");
    free(s);
    stt_oaf_error_t e;
    stt_oaf_error_set(&e, 500, NULL, "engine_error", "transcription failed");
    e.type = "server_error";
    s = stt_oaf_sse_error(&e, &len);
    assert_string_equal(s, "data: {\"error\":{\"message\":\"transcription failed\",\"type\":"
                           "\"server_error\",\"param\":null,\"code\":\"engine_error\"}}\n\n");
    free(s);
}

static void test_helpers(void **st)
{
    char b[32];
    stt_oaf_timecode(0, ',', b, sizeof(b));
    assert_string_equal(b, "00:00:00,000");
    stt_oaf_timecode(-3, '.', b, sizeof(b));
    assert_string_equal(b, "00:00:00.000");
    stt_oaf_timecode(59.9995, '.', b, sizeof(b));
    assert_string_equal(b, "00:01:00.000");
    stt_oaf_timecode(1e12, ',', b, sizeof(b));
    assert_string_equal(b, "99:59:59,999");
    stt_oaf_tail_utf8("abc\xc3\xa9xyz", b, 6); /* "éxyz" is 5 bytes: fits */
    assert_string_equal(b, "\xc3\xa9xyz");
    stt_oaf_tail_utf8("abc\xc3\xa9xyz", b, 5); /* 4 bytes: not half a character */
    assert_string_equal(b, "xyz");
    stt_oaf_tail_utf8("ab", b, 10);
    assert_string_equal(b, "ab");
    assert_string_equal(stt_oaf_language_name("en"), "english");
    assert_string_equal(stt_oaf_language_name("English"), "english");
    assert_string_equal(stt_oaf_language_name("zz"), "");
    assert_string_equal(stt_oaf_format_content_type(STT_OAF_VERBOSE_JSON), "application/json");
    assert_string_equal(stt_oaf_format_name(STT_OAF_VTT), "vtt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),  cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_check),   cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_formats), cmocka_unit_test(test_sse),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

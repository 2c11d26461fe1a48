/* Unit tests for src/proto/openai_realtime.c: every client event the official SDK sends (with
 * and without event_id), session updates applied to the defaults, each error with OpenAI's
 * code and param, the base64 rules and the audio cap, and the exact shape of the server
 * events. Also the shared base64 decoder (src/proto/base64.c) that the codec uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/base64.h"
#include "stt/text.h"
#include "stt/openai_realtime.h"

/* Parses a C string from an exactly sized copy, so ASan flags any read past the end. */
static int parse(const char *text, size_t max_audio, stt_oairt_event_t *ev, stt_oairt_error_t *e)
{
    size_t n = strlen(text);
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    int rc = stt_oairt_parse(copy, n, 0, max_audio, ev, e);
    free(copy);
    return rc;
}

static void expect_error(const char *text, const char *code, const char *param,
                         const char *event_id, const char *in_message)
{
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    assert_int_equal(parse(text, 0, &ev, &e), -1);
    assert_int_equal(ev.kind, STT_OAIRT_EV_NONE);
    assert_null(ev.audio);
    assert_string_equal(e.code, code);
    assert_string_equal(e.param, param);
    assert_string_equal(e.event_id, event_id);
    if (in_message && !strstr(e.message, in_message))
        fail_msg("message \"%s\" lacks \"%s\"", e.message, in_message);
}

static void test_simple_events(void **st)
{
    (void)st;
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    assert_int_equal(parse("{\"type\":\"input_audio_buffer.commit\"}", 0, &ev, &e), 0);
    assert_int_equal(ev.kind, STT_OAIRT_EV_COMMIT);
    assert_string_equal(ev.event_id, "");
    assert_int_equal(parse("{\"event_id\":\"ev_1\",\"type\":\"input_audio_buffer.clear\"}", 0,
                           &ev, &e),
                     0);
    assert_int_equal(ev.kind, STT_OAIRT_EV_CLEAR);
    assert_string_equal(ev.event_id, "ev_1");
    assert_string_equal(stt_oairt_kind_name(ev.kind), "input_audio_buffer.clear");
}

static void test_append(void **st)
{
    (void)st;
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    /* "AQIDBA==" is 01 02 03 04. */
    assert_int_equal(
        parse("{\"type\":\"input_audio_buffer.append\",\"audio\":\"AQIDBA==\"}", 0, &ev, &e), 0);
    assert_int_equal(ev.kind, STT_OAIRT_EV_APPEND);
    assert_int_equal(ev.audio_bytes, 4);
    assert_memory_equal(ev.audio, "\x01\x02\x03\x04", 4);
    stt_oairt_event_dispose(&ev);
    assert_null(ev.audio);
    assert_int_equal(parse("{\"type\":\"input_audio_buffer.append\",\"audio\":\"\"}", 0, &ev, &e),
                     0);
    assert_int_equal(ev.audio_bytes, 0);
    stt_oairt_event_dispose(&ev);
    /* The cap is checked on the decoded size, before allocating. */
    assert_int_equal(
        parse("{\"type\":\"input_audio_buffer.append\",\"audio\":\"AQIDBA==\"}", 3, &ev, &e), -1);
    assert_string_equal(e.code, "invalid_value");
    assert_string_equal(e.param, "audio");
    assert_non_null(strstr(e.message, "4 bytes"));
    expect_error("{\"type\":\"input_audio_buffer.append\",\"audio\":\"AQID!A==\","
                 "\"event_id\":\"x\"}",
                 "invalid_value", "audio", "x", "Expected base64-encoded audio");
    expect_error("{\"type\":\"input_audio_buffer.append\",\"audio\":\"AQI\"}", "invalid_value",
                 "audio", "", "multiple of 4");
    expect_error("{\"type\":\"input_audio_buffer.append\",\"audio\":\"AQIDBB==\"}",
                 "invalid_value", "audio", "", "bits set");
    expect_error("{\"type\":\"input_audio_buffer.append\"}", "missing_required_parameter",
                 "audio", "", "'audio'");
    expect_error("{\"type\":\"input_audio_buffer.append\",\"audio\":12}", "invalid_type", "audio",
                 "", "got number");
}

static void test_session_update(void **st)
{
    (void)st;
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    const char *full =
        "{\"type\":\"transcription_session.update\",\"event_id\":\"u1\",\"session\":{"
        "\"input_audio_format\":\"g711_ulaw\","
        "\"input_audio_transcription\":{\"model\":\"whisper-1\",\"language\":\"en\","
        "\"prompt\":\"Quist, Ethelbert\"},"
        "\"turn_detection\":{\"type\":\"server_vad\",\"threshold\":0.7,\"prefix_padding_ms\":200,"
        "\"silence_duration_ms\":800},"
        "\"input_audio_noise_reduction\":{\"type\":\"near_field\"},"
        "\"include\":[\"item.input_audio_transcription.logprobs\"]}}";
    assert_int_equal(parse(full, 0, &ev, &e), 0);
    assert_int_equal(ev.kind, STT_OAIRT_EV_SESSION_UPDATE);
    stt_oairt_session_t s;
    stt_oairt_session_defaults(&s);
    assert_int_equal(s.format, STT_OAIRT_PCM16);
    assert_int_equal(s.turn_detection, 1);
    assert_int_equal(s.silence_duration_ms, 500);
    stt_oairt_session_apply(&s, &ev.update);
    assert_int_equal(s.format, STT_OAIRT_G711_ULAW);
    assert_int_equal(stt_oairt_format_rate_hz(s.format), 8000);
    assert_string_equal(s.model, "whisper-1");
    assert_string_equal(s.language, "en");
    assert_string_equal(s.prompt, "Quist, Ethelbert");
    assert_true(s.threshold == 0.7);
    assert_int_equal(s.prefix_padding_ms, 200);
    assert_int_equal(s.silence_duration_ms, 800);
    assert_string_equal(s.noise_reduction, "near_field");
    assert_int_equal(s.include_logprobs, 1);
    /* A partial update keeps the rest; a turn_detection object replaces the whole of it. */
    assert_int_equal(parse("{\"type\":\"transcription_session.update\",\"session\":{"
                           "\"turn_detection\":{\"silence_duration_ms\":300}}}",
                           0, &ev, &e),
                     0);
    stt_oairt_session_apply(&s, &ev.update);
    assert_int_equal(s.format, STT_OAIRT_G711_ULAW);
    assert_string_equal(s.model, "whisper-1");
    assert_int_equal(s.silence_duration_ms, 300);
    assert_int_equal(s.prefix_padding_ms, 300);
    assert_true(s.threshold == 0.5);
    /* null turn detection: manual commits. */
    assert_int_equal(parse("{\"type\":\"transcription_session.update\",\"session\":{"
                           "\"turn_detection\":null,\"input_audio_noise_reduction\":null}}",
                           0, &ev, &e),
                     0);
    stt_oairt_session_apply(&s, &ev.update);
    assert_int_equal(s.turn_detection, 0);
    assert_string_equal(s.noise_reduction, "");
    /* Options of conversation sessions that the SDK's type allows are accepted. */
    assert_int_equal(parse("{\"type\":\"transcription_session.update\",\"session\":{"
                           "\"modalities\":[\"text\"],\"turn_detection\":{\"type\":\"server_vad\","
                           "\"create_response\":false}}}",
                           0, &ev, &e),
                     0);
}

static void test_session_errors(void **st)
{
    (void)st;
#define UPD(x) "{\"type\":\"transcription_session.update\",\"event_id\":\"e9\",\"session\":" x "}"
    expect_error(UPD("{\"input_audio_format\":\"opus\"}"), "invalid_value",
                 "session.input_audio_format", "e9", "'opus'");
    expect_error(UPD("{\"input_audio_format\":3}"), "invalid_type", "session.input_audio_format",
                 "e9", "expected a string");
    expect_error(UPD("{\"turn_detection\":{\"type\":\"semantic_vad\"}}"), "invalid_value",
                 "session.turn_detection.type", "e9", "semantic_vad");
    expect_error(UPD("{\"turn_detection\":{\"threshold\":1.5}}"), "invalid_value",
                 "session.turn_detection.threshold", "e9", "between 0.0 and 1.0");
    expect_error(UPD("{\"turn_detection\":{\"silence_duration_ms\":12.5}}"), "invalid_type",
                 "session.turn_detection.silence_duration_ms", "e9", "integer");
    expect_error(UPD("{\"turn_detection\":{\"prefix_padding_ms\":-1}}"), "invalid_value",
                 "session.turn_detection.prefix_padding_ms", "e9", "between 0 and");
    expect_error(UPD("{\"turn_detection\":{\"foo\":1}}"), "unknown_parameter",
                 "session.turn_detection.foo", "e9", "Unknown parameter");
    expect_error(UPD("{\"voice\":\"alloy\"}"), "unknown_parameter", "session.voice", "e9",
                 "'session.voice'");
    expect_error(UPD("{\"input_audio_transcription\":{\"language\":\"e n\"}}"), "invalid_value",
                 "session.input_audio_transcription.language", "e9", NULL);
    expect_error(UPD("{\"input_audio_transcription\":{\"model\":[]}}"), "invalid_type",
                 "session.input_audio_transcription.model", "e9", "got array");
    expect_error(UPD("{\"input_audio_noise_reduction\":{\"type\":\"studio\"}}"), "invalid_value",
                 "session.input_audio_noise_reduction.type", "e9", "near_field");
    expect_error(UPD("{\"include\":[\"x\"]}"), "invalid_value", "session.include", "e9", "'x'");
    expect_error(UPD("[]"), "invalid_type", "session", "e9", "an object");
    expect_error("{\"type\":\"transcription_session.update\"}", "missing_required_parameter",
                 "session", "", NULL);
#undef UPD
    char big[1200 + 128];
    int n = snprintf(big, sizeof(big),
                     "{\"type\":\"transcription_session.update\",\"session\":{"
                     "\"input_audio_transcription\":{\"prompt\":\"");
    memset(big + n, 'a', 1100);
    snprintf(big + n + 1100, sizeof(big) - (size_t)n - 1100, "\"}}}");
    expect_error(big, "invalid_value", "session.input_audio_transcription.prompt", "",
                 "maximum length 1024");
}

static void test_event_errors(void **st)
{
    (void)st;
    expect_error("{\"type\":", "invalid_json", "", "", "not valid JSON");
    expect_error("", "invalid_json", "", "", NULL);
    expect_error("[1]", "invalid_type", "", "", "got array");
    expect_error("{\"event_id\":\"a\"}", "missing_required_parameter", "type", "a", NULL);
    expect_error("{\"type\":7}", "invalid_type", "type", "", NULL);
    expect_error("{\"type\":\"nope\",\"event_id\":\"q\"}", "invalid_value", "type", "q",
                 "'nope'");
    expect_error("{\"type\":\"response.create\"}", "unsupported_event", "type", "",
                 "transcription sessions only");
    expect_error("{\"type\":\"session.update\",\"session\":{}}", "unsupported_event", "type", "",
                 NULL);
    expect_error("{\"type\":\"input_audio_buffer.commit\",\"extra\":1}", "unknown_parameter",
                 "extra", "", "'extra'");
    expect_error("{\"type\":\"input_audio_buffer.commit\",\"event_id\":5}", "invalid_type",
                 "event_id", "", NULL);
    char id[200];
    snprintf(id, sizeof(id), "{\"type\":\"input_audio_buffer.commit\",\"event_id\":\"%080d\"}", 0);
    expect_error(id, "invalid_value", "event_id", "", "too long");
    /* The byte cap. */
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    const char *t = "{\"type\":\"input_audio_buffer.commit\"}";
    assert_int_equal(stt_oairt_parse(t, strlen(t), 10, 0, &ev, &e), -1);
    assert_string_equal(e.code, "invalid_value");
    assert_int_equal(stt_oairt_parse(NULL, 0, 0, 0, &ev, &e), -1);
    assert_string_equal(e.code, "invalid_json");
}

static void test_build(void **st)
{
    (void)st;
    char *s = stt_oairt_build_speech_started("event_1", 1234, "item_1");
    assert_string_equal(s, "{\"type\":\"input_audio_buffer.speech_started\",\"event_id\":"
                           "\"event_1\",\"audio_start_ms\":1234,\"item_id\":\"item_1\"}");
    free(s);
    s = stt_oairt_build_speech_stopped("event_2", 2500, "item_1");
    assert_string_equal(s, "{\"type\":\"input_audio_buffer.speech_stopped\",\"event_id\":"
                           "\"event_2\",\"audio_end_ms\":2500,\"item_id\":\"item_1\"}");
    free(s);
    s = stt_oairt_build_committed("event_3", NULL, "item_1");
    assert_string_equal(s, "{\"type\":\"input_audio_buffer.committed\",\"event_id\":\"event_3\","
                           "\"previous_item_id\":null,\"item_id\":\"item_1\"}");
    free(s);
    s = stt_oairt_build_committed("event_4", "item_1", "item_2");
    assert_non_null(strstr(s, "\"previous_item_id\":\"item_1\",\"item_id\":\"item_2\""));
    free(s);
    s = stt_oairt_build_cleared("event_5");
    assert_string_equal(s, "{\"type\":\"input_audio_buffer.cleared\",\"event_id\":\"event_5\"}");
    free(s);
    s = stt_oairt_build_item_created("event_6", "item_1", "item_2");
    assert_string_equal(
        s, "{\"type\":\"conversation.item.created\",\"event_id\":\"event_6\",\"previous_item_id\":"
           "\"item_1\",\"item\":{\"id\":\"item_2\",\"object\":\"realtime.item\",\"type\":"
           "\"message\",\"status\":\"completed\",\"role\":\"user\",\"content\":[{\"type\":"
           "\"input_audio\",\"transcript\":null}]}}");
    free(s);
    s = stt_oairt_build_delta("event_7", "item_2", " world");
    assert_string_equal(s, "{\"type\":\"conversation.item.input_audio_transcription.delta\","
                           "\"event_id\":\"event_7\",\"item_id\":\"item_2\",\"content_index\":0,"
                           "\"delta\":\" world\"}");
    free(s);
    s = stt_oairt_build_completed("event_8", "item_2", "Hello \xff");
    assert_string_equal(s, "{\"type\":\"conversation.item.input_audio_transcription.completed\","
                           "\"event_id\":\"event_8\",\"item_id\":\"item_2\",\"content_index\":0,"
                           "\"transcript\":\"Hello \xef\xbf\xbd\"}");
    free(s);
    s = stt_oairt_build_failed("event_9", "item_3", "engine_timeout", "took too long");
    assert_string_equal(s, "{\"type\":\"conversation.item.input_audio_transcription.failed\","
                           "\"event_id\":\"event_9\",\"item_id\":\"item_3\",\"content_index\":0,"
                           "\"error\":{\"type\":\"server_error\",\"code\":\"engine_timeout\","
                           "\"message\":\"took too long\",\"param\":null}}");
    free(s);
    stt_oairt_error_t e = {.code = "invalid_value", .message = "bad", .param = "audio",
                           .event_id = "c1"};
    s = stt_oairt_build_error("event_10", "invalid_request_error", &e);
    assert_string_equal(s, "{\"type\":\"error\",\"event_id\":\"event_10\",\"error\":{\"type\":"
                           "\"invalid_request_error\",\"code\":\"invalid_value\",\"message\":"
                           "\"bad\",\"param\":\"audio\",\"event_id\":\"c1\"}}");
    free(s);
    stt_oairt_error_t e2 = {.code = "invalid_json", .message = "m"};
    s = stt_oairt_build_error("event_11", NULL, &e2);
    assert_non_null(strstr(s, "\"param\":null,\"event_id\":null"));
    free(s);
    stt_oairt_session_t ss;
    stt_oairt_session_defaults(&ss);
    snprintf(ss.id, sizeof(ss.id), "sess_1");
    snprintf(ss.model, sizeof(ss.model), "whisper-1");
    s = stt_oairt_build_session("transcription_session.created", "event_12", &ss);
    assert_string_equal(
        s, "{\"type\":\"transcription_session.created\",\"event_id\":\"event_12\",\"session\":{"
           "\"id\":\"sess_1\",\"object\":\"realtime.transcription_session\","
           "\"input_audio_format\":\"pcm16\",\"input_audio_transcription\":{\"model\":"
           "\"whisper-1\",\"language\":\"\",\"prompt\":\"\"},\"turn_detection\":{\"type\":"
           "\"server_vad\",\"threshold\":0.5,\"prefix_padding_ms\":300,\"silence_duration_ms\":"
           "500},\"input_audio_noise_reduction\":null,\"include\":[]}}");
    free(s);
    ss.turn_detection = 0;
    s = stt_oairt_build_session("transcription_session.updated", "event_13", &ss);
    assert_non_null(strstr(s, "\"turn_detection\":null"));
    free(s);
}

static void test_base64(void **st)
{
    (void)st;
    uint8_t out[8];
    size_t n = 99;
    char err[128];
    assert_int_equal(stt_base64_strict_len("AQIDBA==", 8), 4);
    assert_int_equal(stt_base64_strict_len("AQIDBA=", 7), 0);
    assert_int_equal(stt_base64_strict_decode("AQIDBA==", 8, out, sizeof(out), &n, "x", err, 128),
                     STT_BASE64_OK);
    assert_int_equal(n, 4);
    assert_int_equal(stt_base64_strict_decode("AQIDBAUG", 8, out, 5, &n, "x", err, 128),
                     STT_BASE64_TOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(stt_base64_strict_decode("AQ D", 4, out, 8, &n, "x", err, 128),
                     STT_BASE64_BAD);
    assert_string_equal(err, "x: byte ' ' at offset 2 is not base64");
    char enc[16];
    assert_int_equal(stt_base64_encode((const uint8_t *)"\x01\x02\x03\x04", 4, enc), 8);
    assert_string_equal(enc, "AQIDBA==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_events), cmocka_unit_test(test_append),
        cmocka_unit_test(test_session_update), cmocka_unit_test(test_session_errors),
        cmocka_unit_test(test_event_errors),  cmocka_unit_test(test_build),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the Twilio-family media stream codec (src/proto/twilio.c).
 *
 * Covered: a Twilio call's messages (connected, start with string counters, custom parameters,
 * both tracks, media with its payload decoded, dtmf, mark, stop); the other dialects' start and
 * media (Telnyx snake_case with L16 big-endian and PCMA, Plivo numbers and extra_headers split,
 * SignalWire L16 16 kHz, Exotel audio/x-raw with a string rate, Vonage websocket:connected
 * headers and websocket:dtmf); each error's code and one line (garbage, non-canonical and
 * oversize base64, unknown codec, rates, channels, counters, ids, tracks, no payload, JSON);
 * parameters over the caps dropped and counted; the builder's output parsing back. Arbitrary
 * inputs are covered by the fuzz driver (tests/fuzz/fuzz_twilio.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/twilio.h"

static uint8_t pay[4096];
static stt_tw_msg_t m;
static char err[256];

static stt_tw_err_t parse(const char *s)
{
    return stt_tw_parse(s, strlen(s), 0, pay, sizeof(pay), &m, err, sizeof(err));
}

static void test_twilio_call(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_CONNECTED);
    assert_int_equal(m.dialect, STT_TW_DIALECT_NONE);

    assert_int_equal(
        parse("{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{\"accountSid\":\"AC1\","
              "\"streamSid\":\"MZ1\",\"callSid\":\"CA1\",\"tracks\":[\"inbound\",\"outbound\"],"
              "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1},"
              "\"customParameters\":{\"call_id\":\"order-1\",\"webhook_url\":\"https://h/x\"}},"
              "\"streamSid\":\"MZ1\"}"),
        STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_START);
    assert_int_equal(m.dialect, STT_TW_DIALECT_TWILIO);
    assert_int_equal(m.sequence, 1);
    assert_string_equal(m.stream_id, "MZ1");
    assert_string_equal(m.call_id, "CA1");
    assert_string_equal(m.account_id, "AC1");
    assert_int_equal(m.tracks, (1u << STT_TW_TRACK_INBOUND) | (1u << STT_TW_TRACK_OUTBOUND));
    assert_int_equal(m.format.encoding, STT_TW_ENC_MULAW);
    assert_int_equal(m.format.rate_hz, 8000);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(stt_tw_param(&m, "call_id"), "order-1");
    assert_string_equal(stt_tw_param(&m, "webhook_url"), "https://h/x");
    assert_null(stt_tw_param(&m, "nope"));

    /* "AQID" = 01 02 03 */
    assert_int_equal(parse("{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":{\"track\":"
                           "\"outbound\",\"chunk\":\"2\",\"timestamp\":\"25\",\"payload\":\"AQID\"},"
                           "\"streamSid\":\"MZ1\"}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_MEDIA);
    assert_int_equal(m.track, STT_TW_TRACK_OUTBOUND);
    assert_int_equal(m.chunk, 2);
    assert_int_equal(m.timestamp_ms, 25);
    assert_int_equal(m.payload_len, 3);
    assert_ptr_equal(m.payload, pay);
    assert_memory_equal(m.payload, "\x01\x02\x03", 3);

    assert_int_equal(parse("{\"event\":\"dtmf\",\"streamSid\":\"MZ1\",\"sequenceNumber\":\"5\","
                           "\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"7\"}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_DTMF);
    assert_string_equal(m.digit, "7");
    assert_int_equal(m.track, STT_TW_TRACK_INBOUND);

    assert_int_equal(parse("{\"event\":\"mark\",\"streamSid\":\"MZ1\",\"mark\":{\"name\":\"x\"}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_MARK);
    assert_string_equal(m.mark, "x");

    assert_int_equal(parse("{\"event\":\"stop\",\"sequenceNumber\":\"9\",\"streamSid\":\"MZ1\","
                           "\"stop\":{\"accountSid\":\"AC1\",\"callSid\":\"CA1\"}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_STOP);
    assert_string_equal(m.call_id, "CA1");
}

static void test_dialects(void **state)
{
    (void)state;
    /* Telnyx: snake_case, L16 is big-endian, ids under their names. */
    assert_int_equal(parse("{\"event\":\"start\",\"sequence_number\":\"1\",\"start\":{\"user_id\":"
                           "\"U1\",\"call_control_id\":\"v3:abc\",\"custom_parameters\":{\"k\":"
                           "\"v\"},\"media_format\":{\"encoding\":\"L16\",\"sample_rate\":16000,"
                           "\"channels\":1}},\"stream_id\":\"S-1\"}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.dialect, STT_TW_DIALECT_TELNYX);
    assert_int_equal(m.format.encoding, STT_TW_ENC_L16BE);
    assert_int_equal(m.format.rate_hz, 16000);
    assert_string_equal(m.call_id, "v3:abc");
    assert_string_equal(m.account_id, "U1");
    assert_string_equal(m.stream_id, "S-1");
    assert_string_equal(stt_tw_param(&m, "k"), "v");
    assert_int_equal(parse("{\"event\":\"start\",\"stream_id\":\"S\",\"start\":{\"media_format\":"
                           "{\"encoding\":\"PCMA\",\"sample_rate\":8000}}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.format.encoding, STT_TW_ENC_ALAW);

    /* Plivo: numbers, camelCase ids of its own, extra_headers split on ';' or ','. */
    assert_int_equal(parse("{\"event\":\"start\",\"sequenceNumber\":1,\"start\":{\"callId\":\"c-1\","
                           "\"streamId\":\"s-1\",\"accountId\":\"MA1\",\"tracks\":[\"inbound\"],"
                           "\"mediaFormat\":{\"encoding\":\"audio/x-l16\",\"sampleRate\":8000}},"
                           "\"extra_headers\":\"userId=12345;sessionId=abc,flag\"}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.dialect, STT_TW_DIALECT_PLIVO);
    assert_int_equal(m.format.encoding, STT_TW_ENC_L16LE);
    assert_string_equal(m.stream_id, "s-1");
    assert_string_equal(m.call_id, "c-1");
    assert_int_equal(m.n_params, 0);
    stt_tw_split_headers(&m);
    assert_int_equal(m.n_params, 3);
    assert_string_equal(stt_tw_param(&m, "userId"), "12345");
    assert_string_equal(stt_tw_param(&m, "sessionId"), "abc");
    assert_string_equal(stt_tw_param(&m, "flag"), "");

    /* SignalWire: Twilio's names, L16 16 kHz (rate in the media type also works). */
    assert_int_equal(parse("{\"event\":\"start\",\"streamSid\":\"S\",\"start\":{\"callSid\":\"C\","
                           "\"mediaFormat\":{\"encoding\":\"audio/L16;rate=24000\"}}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.dialect, STT_TW_DIALECT_TWILIO);
    assert_int_equal(m.format.encoding, STT_TW_ENC_L16LE);
    assert_int_equal(m.format.rate_hz, 24000);

    /* Exotel: stream_sid, a string rate, audio/x-raw, media without a track. */
    assert_int_equal(parse("{\"event\":\"start\",\"sequence_number\":\"1\",\"stream_sid\":\"MZ\","
                           "\"start\":{\"call_sid\":\"CA\",\"account_sid\":\"AC\",\"media_format\":"
                           "{\"encoding\":\"audio/x-raw\",\"sample_rate\":\"8000\",\"bit_rate\":"
                           "\"16\"}}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.dialect, STT_TW_DIALECT_EXOTEL);
    assert_int_equal(m.format.encoding, STT_TW_ENC_L16LE);
    assert_string_equal(m.call_id, "CA");

    /* Vonage: headers become parameters; numbers and booleans as text. */
    assert_int_equal(parse("{\"event\":\"websocket:connected\",\"content-type\":"
                           "\"audio/l16;rate=16000\",\"call_id\":\"abc\",\"n\":12,\"vip\":true,"
                           "\"obj\":{\"x\":1}}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.dialect, STT_TW_DIALECT_VONAGE);
    assert_int_equal(m.event, STT_TW_EV_START);
    assert_int_equal(m.format.encoding, STT_TW_ENC_L16LE);
    assert_int_equal(m.format.rate_hz, 16000);
    assert_string_equal(stt_tw_param(&m, "call_id"), "abc");
    assert_string_equal(stt_tw_param(&m, "n"), "12");
    assert_string_equal(stt_tw_param(&m, "vip"), "true");
    assert_int_equal(m.params_dropped, 1);
    assert_int_equal(parse("{\"event\":\"websocket:dtmf\",\"digit\":\"5\",\"duration\":260}"),
                     STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_DTMF);
    assert_string_equal(m.digit, "5");
    assert_int_equal(m.duration_ms, 260);
    assert_int_equal(parse("{\"event\":\"websocket:notify\"}"), STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_UNKNOWN);
    assert_int_equal(parse("{\"event\":\"playedStream\",\"streamId\":\"s\"}"), STT_TW_ERR_OK);
    assert_int_equal(m.event, STT_TW_EV_UNKNOWN);
    assert_string_equal(m.event_name, "playedStream");
}

static void expect(const char *msg, stt_tw_err_t e, const char *needle)
{
    stt_tw_err_t got = parse(msg);
    if (got != e || !strstr(err, needle))
        fail_msg("%s: got %s \"%s\", expected %s with \"%s\"", msg, stt_tw_err_name(got), err,
                 stt_tw_err_name(e), needle);
    assert_int_equal(m.event, STT_TW_EV_NONE);
    assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
    (void)state;
    expect("", STT_TW_ERR_JSON, "empty");
    expect("{\"event\":\"x\"} y", STT_TW_ERR_JSON, "after the JSON");
    expect("[1]", STT_TW_ERR_NOTOBJ, "object");
    expect("{\"streamSid\":\"a\"}", STT_TW_ERR_EVENT, "no \"event\"");
    expect("{\"event\":\"media\",\"media\":{\"payload\":\"!!!!\"}}", STT_TW_ERR_BASE64,
           "byte '!' at offset 0");
    expect("{\"event\":\"media\",\"media\":{\"payload\":\"QUJDR\"}}", STT_TW_ERR_BASE64,
           "multiple of 4");
    expect("{\"event\":\"media\",\"media\":{\"payload\":\"QR==\"}}", STT_TW_ERR_BASE64,
           "bits set past the data");
    expect("{\"event\":\"media\",\"media\":{\"payload\":\"QQ==QUJD\"}}", STT_TW_ERR_BASE64,
           "'=' at offset 2");
    expect("{\"event\":\"media\",\"media\":{\"track\":\"inbound\"}}", STT_TW_ERR_NO_PAYLOAD,
           "media.payload is missing");
    expect("{\"event\":\"media\"}", STT_TW_ERR_FIELD, "needs a media object");
    expect("{\"event\":\"media\",\"media\":{\"track\":\"both\",\"payload\":\"\"}}",
           STT_TW_ERR_TRACK, "\"both\"");
    expect("{\"event\":\"start\",\"start\":{\"mediaFormat\":{\"encoding\":\"audio/opus\"}}}",
           STT_TW_ERR_CODEC, "\"audio/opus\" is not supported");
    expect("{\"event\":\"start\",\"start\":{\"mediaFormat\":{\"encoding\":\"PCMU\","
           "\"sampleRate\":4000}}}",
           STT_TW_ERR_RATE, "8000..48000");
    expect("{\"event\":\"start\",\"start\":{\"mediaFormat\":{\"encoding\":\"PCMU\","
           "\"channels\":2}}}",
           STT_TW_ERR_CHANNELS, "mono");
    expect("{\"event\":\"start\",\"streamSid\":\"a\"}", STT_TW_ERR_FIELD, "needs a start object");
    expect("{\"event\":\"media\",\"sequenceNumber\":\"1e3\",\"media\":{\"payload\":\"\"}}",
           STT_TW_ERR_COUNTER, "decimal digits");
    expect("{\"event\":\"media\",\"sequenceNumber\":-2,\"media\":{\"payload\":\"\"}}",
           STT_TW_ERR_COUNTER, ">= 0");
    expect("{\"event\":\"media\",\"streamSid\":\"a b\",\"media\":{\"payload\":\"\"}}",
           STT_TW_ERR_ID, "printable ASCII");
    expect("{\"event\":\"dtmf\",\"dtmf\":{}}", STT_TW_ERR_DTMF, "digit");
    expect("{\"event\":\"websocket:connected\",\"content-type\":\"audio/x-mulaw\"}",
           STT_TW_ERR_CODEC, "Vonage");
    /* Over the caller's payload cap, and over the message cap. */
    char big[200];
    snprintf(big, sizeof(big), "{\"event\":\"media\",\"media\":{\"payload\":\"AAAAAAAA\"}}");
    assert_int_equal(stt_tw_parse(big, strlen(big), 0, pay, 5, &m, err, sizeof(err)),
                     STT_TW_ERR_PAYLOAD_TOOBIG);
    assert_non_null(strstr(err, "6 bytes (at most 5)"));
    assert_int_equal(stt_tw_parse(big, strlen(big), 10, pay, 5, &m, err, sizeof(err)),
                     STT_TW_ERR_TOOBIG);
    /* Empty payload: fine for the codec (the adapter counts it). */
    assert_int_equal(parse("{\"event\":\"media\",\"media\":{\"payload\":\"\"}}"), STT_TW_ERR_OK);
    assert_int_equal(m.payload_len, 0);
    /* Close codes and names. */
    assert_int_equal(stt_tw_err_close_code(STT_TW_ERR_BASE64), 1007);
    assert_int_equal(stt_tw_err_close_code(STT_TW_ERR_NO_START), 1008);
    assert_int_equal(stt_tw_err_close_code(STT_TW_ERR_EMPTY_PAYLOAD), 0);
    assert_string_equal(stt_tw_err_name(STT_TW_ERR_CODEC), "unsupported_codec");
}

static void test_param_caps(void **state)
{
    (void)state;
    char msg[16384];
    size_t n = (size_t)snprintf(msg, sizeof(msg),
                                "{\"event\":\"start\",\"start\":{\"customParameters\":{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s\"p%d\":\"v\"", i ? "," : "", i);
    n += (size_t)snprintf(msg + n, sizeof(msg) - n, ",\"long\":\"");
    memset(msg + n, 'a', STT_TW_PARAM_VALUE_MAX + 1);
    n += STT_TW_PARAM_VALUE_MAX + 1;
    snprintf(msg + n, sizeof(msg) - n, "\"}}}");
    assert_int_equal(parse(msg), STT_TW_ERR_OK);
    assert_int_equal(m.n_params, STT_TW_MAX_PARAMS);
    assert_int_equal(m.params_dropped, 40 - STT_TW_MAX_PARAMS + 1);
}

static void test_build_round_trip(void **state)
{
    (void)state;
    static const char *const msgs[] = {
        "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{\"streamSid\":\"MZ1\","
        "\"callSid\":\"CA1\",\"tracks\":[\"inbound\"],\"customParameters\":{\"a\":\"b\"}},"
        "\"streamSid\":\"MZ1\"}",
        "{\"event\":\"media\",\"sequence_number\":\"4\",\"stream_id\":\"S\",\"media\":{\"track\":"
        "\"inbound\",\"chunk\":\"2\",\"timestamp\":\"40\",\"payload\":\"//79\"}}",
        "{\"event\":\"websocket:connected\",\"content-type\":\"audio/l16;rate=8000\",\"uuid\":\"u\"}",
    };
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        assert_int_equal(parse(msgs[i]), STT_TW_ERR_OK);
        stt_tw_dialect_t d = m.dialect;
        stt_tw_event_t ev = m.event;
        char *j = stt_tw_build(&m, d);
        stt_tw_msg_t *again = malloc(sizeof(*again));
        uint8_t pay2[64];
        assert_int_equal(stt_tw_parse(j, strlen(j), 0, pay2, sizeof(pay2), again, err, sizeof(err)),
                         STT_TW_ERR_OK);
        assert_int_equal(again->dialect, d);
        assert_int_equal(again->event, ev);
        assert_string_equal(again->stream_id, m.stream_id);
        assert_int_equal(again->n_params, m.n_params);
        assert_int_equal(again->payload_len, m.payload_len);
        free(again);
        free(j);
    }
    /* A Vonage media message has no JSON form. */
    assert_int_equal(parse("{\"event\":\"media\",\"media\":{\"payload\":\"\"}}"), STT_TW_ERR_OK);
    assert_null(stt_tw_build(&m, STT_TW_DIALECT_VONAGE));
    /* base64 encoding */
    char b[16];
    assert_int_equal(stt_tw_base64_encode((const uint8_t *)"\x01\x02\x03\x04", 4, b), 8);
    assert_string_equal(b, "AQIDBA==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twilio_call),      cmocka_unit_test(test_dialects),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_param_caps),
        cmocka_unit_test(test_build_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

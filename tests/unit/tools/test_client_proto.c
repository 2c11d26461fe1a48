/* Unit tests of the tools' shared code: the client codecs (tools/common/client_proto.c), the
 * mu-law encoder (mulaw.c), the option table (opts.c) and the histogram (hist.c). The telephony
 * codecs' messages are checked byte for byte against the layouts of
 * ../shared/specs/telephony-protocols.md (sections 1, 2.1, 3.1, 4.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/client_proto.h"
#include "common/hist.h"
#include "common/mulaw.h"
#include "common/opts.h"
#include "stt/audiosocket.h"
#include "stt/error.h"
#include "stt/g711.h"
#include "stt/rtstt_frame.h"
#include "stt/text.h"

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
    /* Which servers answer on the connection, and which send their results elsewhere. */
    static const struct {
        const char *name;
        int oob;
    } oob[] = {{"rtstt", 0},  {"vosk", 0},      {"twilio", 1},
               {"jambonz", 0}, {"audiofork", 1}, {"audiosocket", 1}};
    for (size_t i = 0; i < sizeof(oob) / sizeof(oob[0]); i++)
        assert_int_equal(stt_client_proto_find(oob[i].name)->results_out_of_band, oob[i].oob);
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
    size_t n = p->audio(&par, pcm, 320, 0, 0, 0, a, cap);
    assert_int_equal(n, stt_rtstt_frame_build(b, sizeof(b), 16000, pcm, 320, NULL));
    assert_memory_equal(a, b, n);
    n = p->audio(&par, pcm, 320, INT64_MAX, 7, 7 * 320, a, cap);
    size_t m = stt_rtstt_frame_build(b, sizeof(b), 16000, pcm, 320,
                                     "\"server_sent_to_stt\": 9223372036854775807");
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n);
    assert_int_equal(p->audio(&par, pcm, 320, 1, 0, 0, a, 100), 0); /* does not fit */
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
    assert_int_equal(p->eos(&par, 9, msg, sizeof(msg)), strlen("{\"eof\" : 1}"));
    assert_string_equal(msg, "{\"eof\" : 1}");
    assert_int_equal(p->eos(&par, 9, msg, 5), 0);
    assert_true(p->closes_after_eos);
    int16_t pcm[3] = {1, -2, 0x1234};
    uint8_t out[6];
    assert_int_equal(p->audio_max_bytes(&par, 3), 6);
    assert_int_equal(p->audio(&par, pcm, 3, 123, 0, 0, out, sizeof(out)), 6);
    const uint8_t want[6] = {0x01, 0x00, 0xfe, 0xff, 0x34, 0x12};
    assert_memory_equal(out, want, 6);
    assert_int_equal(p->audio(&par, pcm, 3, 0, 0, 0, out, 5), 0);
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

/* The encoder inverts the server's decoder on every code (but -0, which decodes as +0), and
 * every sample lands on the decoder's value within one step of its segment, monotonically. */
static void test_mulaw(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        uint8_t back = stt_tool_mulaw_from_s16(stt_g711_mulaw_to_s16((uint8_t)c));
        assert_int_equal(back, c == 0x7f ? 0xff : c);
    }
    int prev = -40000;
    for (int x = -32768; x <= 32767; x++) {
        uint8_t code = stt_tool_mulaw_from_s16((int16_t)x);
        int y = stt_g711_mulaw_to_s16(code);
        int seg = ((~code) >> 4) & 7;
        int ax = x < 0 ? -x : x;
        if (ax <= 32635) {
            assert_true(y - x <= (1 << (seg + 3)) && x - y <= (1 << (seg + 3)));
            assert_true((y >= 0) == (x >= 0) || y == 0);
        }
        assert_true(y >= prev);
        prev = y;
    }
    /* Against an independent encoder (Python's audioop.lin2ulaw, base64). */
    const int16_t pcm[6] = {0, 1000, -1000, 32767, -32768, 12345};
    uint8_t ul[6];
    char b64[16];
    stt_tool_mulaw_encode(pcm, 6, ul);
    stt_base64_encode(ul, 6, b64);
    assert_string_equal(b64, "/85OgACX");
}

static void test_call_uuid(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    const uint8_t c1[16] = {0x08, 0xa2, 0x7f, 0x07, 0xb5, 0x4a, 0x48, 0x59,
                            0xb4, 0xe0, 0x75, 0xcb, 0x03, 0xb4, 0xa9, 0xbc};
    stt_client_call_uuid("c1", a);
    assert_memory_equal(a, c1, 16);
    stt_client_call_uuid("c2", b);
    assert_memory_not_equal(a, b, 16);
    assert_int_equal(b[6] >> 4, 4);
    assert_int_equal(b[8] >> 6, 2);
    stt_client_call_uuid(NULL, a);
    stt_client_call_uuid("call", b);
    assert_memory_equal(a, b, 16);
    /* 10,000 loadgen-style ids: all distinct in their first 8 bytes already. */
    static uint64_t seen[10000];
    for (int i = 0; i < 10000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "lg-1234-%d", i);
        stt_client_call_uuid(id, a);
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v = v << 8 | a[k];
        for (int j = 0; j < i; j += 1)
            if (seen[j] == v)
                fail_msg("ids %d and %d share a uuid", i, j);
        seen[i] = v;
    }
}

#define C1_HEX "08a27f07b54a4859b4e075cb03b4a9bc"

static void test_twilio_messages(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("twilio");
    stt_client_params_t par = {.rate_hz = 8000, .call_id = "c1"};
    assert_int_equal(p->transport, STT_CLIENT_TRANSPORT_WS);
    assert_string_equal(p->default_path, "/twilio");
    assert_int_equal(p->default_rate_hz, 8000);
    assert_true(p->audio_is_text);
    assert_null(p->subprotocol);
    char msg[512];
    const char *connected = "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}";
    assert_int_equal(p->opening(&par, 0, msg, sizeof(msg)), strlen(connected));
    assert_string_equal(msg, connected);
    const char *start =
        "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"start\":{\"accountSid\":"
        "\"AC00000000000000000000000000000000\",\"streamSid\":\"MZ" C1_HEX
        "\",\"callSid\":\"CA" C1_HEX "\",\"tracks\":[\"inbound\"],\"customParameters\":{"
        "\"call_id\":\"c1\"},\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":"
        "8000,\"channels\":1}},\"streamSid\":\"MZ" C1_HEX "\"}";
    assert_int_equal(p->opening(&par, 1, msg, sizeof(msg)), strlen(start));
    assert_string_equal(msg, start);
    assert_int_equal(p->opening(&par, 2, msg, sizeof(msg)), 0);
    assert_int_equal(p->opening(&par, 1, msg, 100), 0); /* does not fit */
    /* An id that needs escaping stays valid JSON. */
    stt_client_params_t q = {.rate_hz = 8000, .call_id = "a\"b\\c"};
    size_t n = p->opening(&q, 1, msg, sizeof(msg));
    cJSON *j = cJSON_ParseWithLength(msg, n);
    assert_non_null(j);
    const cJSON *cp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "start"), "customParameters");
    assert_string_equal(cJSON_GetObjectItem(cp, "call_id")->valuestring, "a\"b\\c");
    cJSON_Delete(j);

    /* media: the fifth message (index 4, 640 samples before it = 80 ms) */
    const int16_t six[6] = {0, 1000, -1000, 32767, -32768, 12345};
    uint8_t out[1024];
    const char *media = "{\"event\":\"media\",\"sequenceNumber\":\"6\",\"media\":{"
                        "\"track\":\"inbound\",\"chunk\":\"5\",\"timestamp\":\"80\","
                        "\"payload\":\"/85OgACX\"},\"streamSid\":\"MZ" C1_HEX "\"}";
    n = p->audio(&par, six, 6, 0, 4, 640, out, sizeof(out));
    assert_int_equal(n, strlen(media));
    assert_memory_equal(out, media, n);
    /* A 20 ms frame: 160 mu-law bytes, 216 base64 characters, as Twilio sends them. */
    int16_t pcm[160];
    for (int i = 0; i < 160; i++)
        pcm[i] = (int16_t)(i * 401 - 32000);
    size_t cap = p->audio_max_bytes(&par, 160);
    assert_true(cap <= sizeof(out));
    n = p->audio(&par, pcm, 160, 0, 0, 0, out, cap);
    assert_true(n > 0);
    j = cJSON_ParseWithLength((const char *)out, n);
    assert_non_null(j);
    const cJSON *m = cJSON_GetObjectItem(j, "media");
    assert_string_equal(cJSON_GetObjectItem(m, "chunk")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItem(m, "timestamp")->valuestring, "0");
    assert_string_equal(cJSON_GetObjectItem(j, "sequenceNumber")->valuestring, "2");
    const char *b64 = cJSON_GetObjectItem(m, "payload")->valuestring;
    assert_int_equal(strlen(b64), 216);
    uint8_t ul[160];
    assert_int_equal(stt_base64_decode(b64, strlen(b64), ul), 160);
    for (int i = 0; i < 160; i++)
        assert_int_equal(ul[i], stt_tool_mulaw_from_s16(pcm[i]));
    cJSON_Delete(j);
    assert_int_equal(p->audio(&par, pcm, 160, 0, 0, 0, out, cap - 1), 0);
    /* mu-law at 8 kHz only */
    stt_client_params_t wide = {.rate_hz = 16000, .call_id = "c1"};
    assert_int_equal(p->audio_max_bytes(&wide, 320), 0);
    assert_int_equal(p->audio(&wide, pcm, 160, 0, 0, 0, out, sizeof(out)), 0);

    const char *stop = "{\"event\":\"stop\",\"sequenceNumber\":\"52\",\"streamSid\":\"MZ" C1_HEX
                       "\",\"stop\":{\"accountSid\":\"AC00000000000000000000000000000000\","
                       "\"callSid\":\"CA" C1_HEX "\"}}";
    assert_int_equal(p->eos(&par, 50, msg, sizeof(msg)), strlen(stop));
    assert_string_equal(msg, stop);
    assert_false(p->closes_after_eos);
    /* Nothing should come back; whatever does is not a transcript. */
    stt_client_event_t ev;
    p->parse("{\"event\":\"mark\"}", 16, &ev);
    assert_int_equal(ev.kind, STT_CLIENT_EV_OTHER);
    stt_client_event_dispose(&ev);
    p->parse("nope", 4, &ev);
    assert_int_equal(ev.kind, STT_CLIENT_EV_UNPARSED);
    stt_client_event_dispose(&ev);
}

static void test_jambonz_messages(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("jambonz");
    stt_client_params_t par = {.rate_hz = 8000, .call_id = "c1"};
    assert_string_equal(p->default_path, "/jambonz");
    assert_null(p->subprotocol);
    assert_false(p->audio_is_text);
    char msg[512];
    assert_int_equal(p->authorization(&par, msg, sizeof(msg)), 0);
    par.api_key = "s3cret";
    assert_int_equal(p->authorization(&par, msg, sizeof(msg)), strlen("Bearer s3cret"));
    assert_string_equal(msg, "Bearer s3cret");
    assert_int_equal(p->authorization(&par, msg, 8), 0);
    const char *start = "{\"type\":\"start\",\"language\":\"en-US\",\"format\":\"raw\","
                        "\"encoding\":\"LINEAR16\",\"interimResults\":true,\"sampleRateHz\":"
                        "8000,\"options\":{\"callSid\":\"CA" C1_HEX "\"}}";
    assert_int_equal(p->opening(&par, 0, msg, sizeof(msg)), strlen(start));
    assert_string_equal(msg, start);
    assert_int_equal(p->opening(&par, 1, msg, sizeof(msg)), 0);
    int16_t pcm[3] = {1, -2, 0x1234};
    uint8_t out[6];
    const uint8_t want[6] = {0x01, 0x00, 0xfe, 0xff, 0x34, 0x12};
    assert_int_equal(p->audio_max_bytes(&par, 3), 6);
    assert_int_equal(p->audio(&par, pcm, 3, 0, 0, 0, out, sizeof(out)), 6);
    assert_memory_equal(out, want, 6);
    assert_int_equal(p->eos(&par, 3, msg, sizeof(msg)), strlen("{\"type\":\"stop\"}"));
    assert_string_equal(msg, "{\"type\":\"stop\"}");
    assert_true(p->closes_after_eos);
}

static void test_jambonz_parse(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("jambonz");
    static const struct {
        const char *msg;
        stt_client_ev_kind_t kind;
        const char *text;
    } cases[] = {
        {"{\"type\":\"transcription\",\"is_final\":true,\"alternatives\":[{\"transcript\":"
         "\"hello there\",\"confidence\":0.9}],\"language\":\"en-US\",\"channel\":1}",
         STT_CLIENT_EV_FINAL, "hello there"},
        {"{\"type\":\"transcription\",\"is_final\":false,\"alternatives\":[{\"transcript\":"
         "\"hel\"}]}",
         STT_CLIENT_EV_PARTIAL, "hel"},
        {"{\"type\":\"error\",\"error\":\"bad start\"}", STT_CLIENT_EV_ERROR, "bad start"},
        {"{\"type\":\"ping\"}", STT_CLIENT_EV_OTHER, NULL},
        {"{\"is_final\":true}", STT_CLIENT_EV_UNPARSED, NULL},
        {"[1,2", STT_CLIENT_EV_UNPARSED, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        stt_client_event_t ev;
        p->parse(cases[i].msg, strlen(cases[i].msg), &ev);
        assert_int_equal(ev.kind, cases[i].kind);
        if (cases[i].text)
            assert_string_equal(ev.text, cases[i].text);
        else
            assert_null(ev.text);
        stt_client_event_dispose(&ev);
    }
}

static void test_audiofork_messages(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("audiofork");
    stt_client_params_t par = {.rate_hz = 16000, .call_id = "c1"};
    assert_string_equal(p->subprotocol, "audio.jambonz.org");
    assert_string_equal(p->default_path, "/audio_fork");
    assert_null(p->authorization);
    assert_null(p->eos);
    char msg[512];
    const char *meta = "{\"callSid\":\"CA" C1_HEX "\",\"from\":\"+15550100\",\"to\":\"+15550199\","
                       "\"direction\":\"inbound\",\"sampleRate\":16000,\"mixType\":\"mono\","
                       "\"metadata\":{\"call_id\":\"c1\"}}";
    assert_int_equal(p->opening(&par, 0, msg, sizeof(msg)), strlen(meta));
    assert_string_equal(msg, meta);
    assert_int_equal(p->opening(&par, 1, msg, sizeof(msg)), 0);
    int16_t pcm[2] = {-1, 256};
    uint8_t out[4];
    const uint8_t want[4] = {0xff, 0xff, 0x00, 0x01};
    assert_int_equal(p->audio(&par, pcm, 2, 0, 0, 0, out, sizeof(out)), 4);
    assert_memory_equal(out, want, 4);
    stt_client_event_t ev;
    const char *t = "{\"type\":\"transcription\",\"data\":{\"is_final\":true,\"alternatives\":"
                    "[{\"transcript\":\"ok\"}]}}";
    p->parse(t, strlen(t), &ev);
    assert_int_equal(ev.kind, STT_CLIENT_EV_FINAL);
    assert_string_equal(ev.text, "ok");
    stt_client_event_dispose(&ev);
    const char *e = "{\"type\":\"error\",\"data\":{\"error\":\"bad header\"}}";
    p->parse(e, strlen(e), &ev);
    assert_int_equal(ev.kind, STT_CLIENT_EV_ERROR);
    assert_string_equal(ev.text, "bad header");
    stt_client_event_dispose(&ev);
}

/* The codec's bytes, read back by the server's own AudioSocket parser. */
static int as_collect(const stt_as_msg_t *msg, void *ud)
{
    stt_as_msg_t *seen = ud;
    seen[seen[0].len ? 1 : 0] = *msg;
    return 0;
}

static void test_audiosocket_messages(void **state)
{
    (void)state;
    const stt_client_proto_t *p = stt_client_proto_find("audiosocket");
    stt_client_params_t par = {.rate_hz = 8000, .call_id = "c1"};
    assert_int_equal(p->transport, STT_CLIENT_TRANSPORT_TCP);
    assert_null(p->eos);
    assert_int_equal(p->default_rate_hz, 8000);
    char msg[64];
    const uint8_t uuid[19] = {0x01, 0x00, 0x10, 0x08, 0xa2, 0x7f, 0x07, 0xb5, 0x4a,
                              0x48, 0x59, 0xb4, 0xe0, 0x75, 0xcb, 0x03, 0xb4, 0xa9, 0xbc};
    assert_int_equal(p->opening(&par, 0, msg, sizeof(msg)), 19);
    assert_memory_equal(msg, uuid, 19);
    assert_int_equal(p->opening(&par, 1, msg, sizeof(msg)), 0);
    assert_int_equal(p->opening(&par, 0, msg, 18), 0);

    int16_t pcm[160];
    for (int i = 0; i < 160; i++)
        pcm[i] = (int16_t)(i * 300 - 24000);
    uint8_t out[400];
    assert_int_equal(p->audio_max_bytes(&par, 160), 323);
    assert_int_equal(p->audio(&par, pcm, 160, 0, 0, 0, out, sizeof(out)), 323);
    assert_int_equal(out[0], 0x10);
    assert_int_equal(out[1], 0x01);
    assert_int_equal(out[2], 0x40);
    assert_int_equal(out[3], (uint8_t)(pcm[0] & 0xff));
    assert_int_equal(out[4], (uint8_t)((uint16_t)pcm[0] >> 8));
    assert_int_equal(p->audio(&par, pcm, 160, 0, 0, 0, out, 322), 0);

    /* The server's parser reads the UUID and an audio frame of 160 samples at 8 kHz. */
    stt_as_parser_t *ps = malloc(sizeof(*ps));
    stt_as_init(ps);
    stt_as_msg_t seen[2];
    memset(seen, 0, sizeof(seen));
    char err[128];
    assert_int_equal(stt_as_feed(ps, (const uint8_t *)msg, 19, as_collect, seen, err,
                                 sizeof(err)),
                     0);
    assert_int_equal(seen[0].kind, STT_AS_UUID);
    assert_string_equal(seen[0].uuid, "08a27f07-b54a-4859-b4e0-75cb03b4a9bc");
    seen[0].len = 1;
    assert_int_equal(stt_as_feed(ps, out, 323, as_collect, seen, err, sizeof(err)), 0);
    assert_int_equal(seen[1].kind, STT_AS_AUDIO);
    assert_int_equal(seen[1].rate_hz, 8000);
    assert_int_equal(seen[1].len, 320);
    stt_as_dispose(ps);
    free(ps);

    /* Other rates take their own types (0x12 = slin16); a rate with none cannot be sent. */
    par.rate_hz = 16000;
    assert_int_equal(p->audio(&par, pcm, 160, 0, 0, 0, out, sizeof(out)), 323);
    assert_int_equal(out[0], 0x12);
    par.rate_hz = 11025;
    assert_int_equal(p->audio_max_bytes(&par, 160), 0);
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
    /* The scheme must suit the transport: AudioSocket is tcp://, the others are not. */
    const stt_client_proto_t *as = stt_client_proto_find("audiosocket");
    assert_int_equal(stt_client_proto_target(&t, as, &par, "tcp://h:9093", NULL), 0);
    assert_true(t.raw);
    assert_int_equal(t.port, 9093);
    assert_string_equal(t.address, "h");
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, as, &par, "ws://h:9093", NULL), STT_EINVAL);
    stt_tool_target_dispose(&t);
    assert_int_equal(stt_client_proto_target(&t, rtstt, &par, "tcp://h:1", NULL), STT_EINVAL);
    stt_tool_target_dispose(&t);
    const stt_client_proto_t *tw = stt_client_proto_find("twilio");
    assert_int_equal(stt_client_proto_target(&t, tw, &par, "ws://h:1", NULL), 0);
    assert_string_equal(t.path, "/twilio");
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
        cmocka_unit_test(test_mulaw),
        cmocka_unit_test(test_call_uuid),
        cmocka_unit_test(test_twilio_messages),
        cmocka_unit_test(test_jambonz_messages),
        cmocka_unit_test(test_jambonz_parse),
        cmocka_unit_test(test_audiofork_messages),
        cmocka_unit_test(test_audiosocket_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

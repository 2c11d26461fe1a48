/* Unit tests for src/proto/rtstt_frame.c (spec 3.1): every error class with its code, close code
 * and message; valid frames; build/parse round trips; and a seeded mutation loop that checks the
 * parser never crashes (run it under -DSTT_SANITIZE=ON) and that OK results are self-consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/rtstt_frame.h"

#define MiB ((size_t)1 << 20)

/* Builds a raw frame: 4-byte LE length `meta_len_field`, `meta` bytes, then `pcm_bytes` bytes of
 * a ramp. Returns a malloc'ed buffer of exactly the frame size so ASan sees any overread. */
static uint8_t *raw_frame(uint32_t meta_len_field, const void *meta, size_t meta_bytes,
                          size_t pcm_bytes, size_t *len_out)
{
    size_t len = 4 + meta_bytes + pcm_bytes;
    uint8_t *buf = malloc(len > 0 ? len : 1);
    assert_non_null(buf);
    buf[0] = (uint8_t)meta_len_field;
    buf[1] = (uint8_t)(meta_len_field >> 8);
    buf[2] = (uint8_t)(meta_len_field >> 16);
    buf[3] = (uint8_t)(meta_len_field >> 24);
    if (meta_bytes > 0)
        memcpy(buf + 4, meta, meta_bytes);
    for (size_t i = 0; i < pcm_bytes; i++)
        buf[4 + meta_bytes + i] = (uint8_t)i;
    *len_out = len;
    return buf;
}

/* A well-formed frame whose metadata is the C string `meta`. */
static uint8_t *frame(const char *meta, size_t pcm_bytes, size_t *len_out)
{
    size_t n = strlen(meta);
    return raw_frame((uint32_t)n, meta, n, pcm_bytes, len_out);
}

/* Parses and asserts the code, the close code and the exact message. */
static void expect_err(const uint8_t *buf, size_t len, const stt_frame_limits_t *limits,
                       stt_frame_err_t want, int close_code, const char *msg)
{
    stt_rtstt_frame_t f;
    char err[256];
    memset(err, 'x', sizeof(err));
    stt_frame_err_t rc = stt_rtstt_frame_parse(buf, len, limits, &f, err, sizeof(err));
    if (rc != want)
        fail_msg("got %s (%s), want %s", stt_frame_err_name(rc), err, stt_frame_err_name(want));
    assert_int_equal(stt_frame_err_close_code(rc), close_code);
    assert_string_equal(err, msg);
    /* A failed parse leaves no half-filled result behind. */
    assert_null(f.pcm);
    assert_int_equal(f.n_samples, 0);
    assert_int_equal(f.sample_rate_hz, 0);
}

static void expect_meta_err(const char *meta, stt_frame_err_t want, const char *msg)
{
    size_t len;
    uint8_t *buf = frame(meta, 64, &len);
    expect_err(buf, len, NULL, want, 1007, msg);
    free(buf);
}

static void test_names_and_close_codes(void **state)
{
    (void)state;
    assert_string_equal(stt_frame_err_name(STT_FRAME_OK), "ok");
    assert_string_equal(stt_frame_err_name(STT_FRAME_SHORT), "frame_too_short");
    assert_string_equal(stt_frame_err_name(STT_FRAME_METALEN), "bad_metadata_length");
    assert_string_equal(stt_frame_err_name(STT_FRAME_METABIG), "metadata_too_large");
    assert_string_equal(stt_frame_err_name(STT_FRAME_JSON), "metadata_not_json");
    assert_string_equal(stt_frame_err_name(STT_FRAME_NOTOBJ), "metadata_not_object");
    assert_string_equal(stt_frame_err_name(STT_FRAME_NORATE), "missing_sample_rate");
    assert_string_equal(stt_frame_err_name(STT_FRAME_RATETYPE), "bad_sample_rate");
    assert_string_equal(stt_frame_err_name(STT_FRAME_RATERANGE), "unsupported_sample_rate");
    assert_string_equal(stt_frame_err_name(STT_FRAME_CHANNELS), "unsupported_channels");
    assert_string_equal(stt_frame_err_name(STT_FRAME_ODD), "odd_pcm_length");
    assert_string_equal(stt_frame_err_name(STT_FRAME_TOOBIG), "frame_too_large");
    assert_string_equal(stt_frame_err_name((stt_frame_err_t)99), "unknown_frame_error");

    assert_int_equal(stt_frame_err_close_code(STT_FRAME_OK), 1000);
    assert_int_equal(stt_frame_err_close_code(STT_FRAME_METABIG), 1009);
    assert_int_equal(stt_frame_err_close_code(STT_FRAME_TOOBIG), 1009);
    stt_frame_err_t invalid[] = {STT_FRAME_SHORT,     STT_FRAME_METALEN,  STT_FRAME_JSON,
                                 STT_FRAME_NOTOBJ,    STT_FRAME_NORATE,   STT_FRAME_RATETYPE,
                                 STT_FRAME_RATERANGE, STT_FRAME_CHANNELS, STT_FRAME_ODD};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        assert_int_equal(stt_frame_err_close_code(invalid[i]), 1007);
    assert_int_equal(stt_frame_err_close_code((stt_frame_err_t)99), 1011);
}

static void test_short(void **state)
{
    (void)state;
    const uint8_t three[3] = {1, 0, 0};
    expect_err(NULL, 0, NULL, STT_FRAME_SHORT, 1007,
               "frame of 0 bytes is shorter than the 4-byte metadata length");
    expect_err(three, 0, NULL, STT_FRAME_SHORT, 1007,
               "frame of 0 bytes is shorter than the 4-byte metadata length");
    expect_err(three, 3, NULL, STT_FRAME_SHORT, 1007,
               "frame of 3 bytes is shorter than the 4-byte metadata length");
}

static void test_bad_metadata_length(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = raw_frame(900, "{\"sampleRate\":16000}", 20, 96, &len);
    assert_int_equal(len, 120);
    expect_err(buf, len, NULL, STT_FRAME_METALEN, 1007,
               "metadata length 900 exceeds frame size 120 (at most 116 bytes follow the "
               "length)");
    free(buf);
    /* One byte too many, and the all-ones length a headerless PCM frame tends to produce. */
    buf = raw_frame(21, "{\"sampleRate\":16000}", 20, 0, &len);
    expect_err(buf, len, NULL, STT_FRAME_METALEN, 1007,
               "metadata length 21 exceeds frame size 24 (at most 20 bytes follow the length)");
    free(buf);
    buf = raw_frame(0xFFFFFFFFu, "", 0, 2048, &len);
    expect_err(buf, len, NULL, STT_FRAME_METALEN, 1007,
               "metadata length 4294967295 exceeds frame size 2052 (at most 2048 bytes follow "
               "the length)");
    free(buf);
    /* Length only, nothing after it. */
    buf = raw_frame(1, "", 0, 0, &len);
    expect_err(buf, len, NULL, STT_FRAME_METALEN, 1007,
               "metadata length 1 exceeds frame size 4 (at most 0 bytes follow the length)");
    free(buf);
}

static void test_metadata_too_large(void **state)
{
    (void)state;
    /* Default cap: 65536 bytes of metadata pass, 65537 do not (padded with JSON whitespace). */
    size_t meta_len = STT_FRAME_MAX_METADATA_BYTES + 1;
    char *meta = malloc(meta_len + 1);
    assert_non_null(meta);
    memset(meta, ' ', meta_len);
    memcpy(meta, "{\"sampleRate\":16000}", 20);
    meta[meta_len] = '\0';
    size_t len;
    uint8_t *buf = frame(meta, 2, &len);
    expect_err(buf, len, NULL, STT_FRAME_METABIG, 1009,
               "metadata length 65537 exceeds the 65536-byte metadata limit");
    free(buf);

    meta[meta_len - 1] = '\0';
    buf = frame(meta, 2, &len);
    stt_rtstt_frame_t f;
    char err[128];
    assert_int_equal(stt_rtstt_frame_parse(buf, len, NULL, &f, err, sizeof(err)), STT_FRAME_OK);
    assert_int_equal(f.n_samples, 1);
    free(buf);
    free(meta);

    /* A configured cap below the default. */
    stt_frame_limits_t lim = {.max_frame_bytes = 0, .max_metadata_bytes = 19};
    buf = frame("{\"sampleRate\":16000}", 0, &len);
    expect_err(buf, len, &lim, STT_FRAME_METABIG, 1009,
               "metadata length 20 exceeds the 19-byte metadata limit");
    lim.max_metadata_bytes = 20;
    assert_int_equal(stt_rtstt_frame_parse(buf, len, &lim, &f, err, sizeof(err)), STT_FRAME_OK);
    free(buf);
}

static void test_frame_too_large(void **state)
{
    (void)state;
    stt_rtstt_frame_t f;
    char err[128];
    size_t len;
    /* Default cap 1 MiB: exactly 1 MiB passes, one sample more does not. */
    const char *meta = "{\"sampleRate\":16000}";
    uint8_t *buf = frame(meta, MiB - 4 - 20, &len);
    assert_int_equal(len, MiB);
    assert_int_equal(stt_rtstt_frame_parse(buf, len, NULL, &f, err, sizeof(err)), STT_FRAME_OK);
    assert_int_equal(f.n_samples, (MiB - 24) / 2);
    assert_ptr_equal(f.pcm, buf + 24);
    free(buf);
    buf = frame(meta, MiB - 4 - 20 + 2, &len);
    expect_err(buf, len, NULL, STT_FRAME_TOOBIG, 1009,
               "frame of 1048578 bytes exceeds the 1048576-byte limit");
    free(buf);

    /* The frame cap is checked before anything else, even a garbage length prefix. */
    stt_frame_limits_t lim = {.max_frame_bytes = 100, .max_metadata_bytes = 0};
    buf = raw_frame(0xFFFFFFFFu, "", 0, 98, &len);
    expect_err(buf, len, &lim, STT_FRAME_TOOBIG, 1009,
               "frame of 102 bytes exceeds the 100-byte limit");
    free(buf);
    buf = frame(meta, 76, &len);
    assert_int_equal(len, 100);
    assert_int_equal(stt_rtstt_frame_parse(buf, len, &lim, &f, err, sizeof(err)), STT_FRAME_OK);
    free(buf);
}

static void test_odd_pcm(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = frame("{\"sampleRate\":16000}", 1023, &len);
    expect_err(buf, len, NULL, STT_FRAME_ODD, 1007,
               "PCM payload of 1023 bytes is not a whole number of 16-bit samples");
    free(buf);
    buf = frame("{\"sampleRate\":16000}", 1, &len);
    expect_err(buf, len, NULL, STT_FRAME_ODD, 1007,
               "PCM payload of 1 bytes is not a whole number of 16-bit samples");
    free(buf);
}

static void test_not_json(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = raw_frame(0, "", 0, 4, &len);
    expect_err(buf, len, NULL, STT_FRAME_JSON, 1007, "metadata is empty (length 0)");
    free(buf);

    /* Offsets are where cJSON gave up; a document cut short reports its last byte. */
    expect_meta_err("{\"sampleRate\": 16000", STT_FRAME_JSON,
                    "metadata is not valid JSON (error at offset 19 of 20)");
    expect_meta_err("{\"sampleRate\" 16000}", STT_FRAME_JSON,
                    "metadata is not valid JSON (error at offset 14 of 20)");
    expect_meta_err("{\"sampleRate\":16000} x", STT_FRAME_JSON,
                    "metadata has trailing data after the JSON value (offset 21 of 22)");
    expect_meta_err("{\"sampleRate\":16000}{}", STT_FRAME_JSON,
                    "metadata has trailing data after the JSON value (offset 20 of 22)");
    expect_meta_err("{'sampleRate':16000}", STT_FRAME_JSON,
                    "metadata is not valid JSON (error at offset 2 of 20)");
    expect_meta_err("{\"sampleRate\":NaN}", STT_FRAME_JSON,
                    "metadata is not valid JSON (error at offset 14 of 18)");
    /* Invalid UTF-8: a stray 0xFF, an overlong '/', a UTF-16 surrogate, a truncated sequence. */
    expect_meta_err("{\"a\":\"\xff\",\"sampleRate\":16000}", STT_FRAME_JSON,
                    "metadata is not valid UTF-8 (byte 0xff at offset 6 of 28)");
    expect_meta_err("{\"a\":\"\xc0\xaf\",\"sampleRate\":16000}", STT_FRAME_JSON,
                    "metadata is not valid UTF-8 (byte 0xc0 at offset 6 of 29)");
    expect_meta_err("{\"a\":\"\xed\xa0\x80\",\"sampleRate\":16000}", STT_FRAME_JSON,
                    "metadata is not valid UTF-8 (byte 0xed at offset 6 of 30)");
    expect_meta_err("{\"sampleRate\":16000,\"a\":\"\xe2\x82", STT_FRAME_JSON,
                    "metadata is not valid UTF-8 (byte 0xe2 at offset 25 of 27)");
    /* Raw control bytes (a NUL here) are invalid JSON even though cJSON would accept them. */
    buf = raw_frame(21, "{\"sampleRate\":16000}\0", 21, 0, &len);
    expect_err(buf, len, NULL, STT_FRAME_JSON, 1007,
               "metadata has control byte 0x00 at offset 20 of 21");
    free(buf);
    expect_meta_err("{\"a\":\"\x01\",\"sampleRate\":16000}", STT_FRAME_JSON,
                    "metadata has control byte 0x01 at offset 6 of 28");
}

static void test_not_object(void **state)
{
    (void)state;
    expect_meta_err("[16000]", STT_FRAME_NOTOBJ, "metadata is a JSON array, not an object");
    expect_meta_err("16000", STT_FRAME_NOTOBJ, "metadata is a JSON number, not an object");
    expect_meta_err("\"x\"", STT_FRAME_NOTOBJ, "metadata is a JSON string, not an object");
    expect_meta_err("null", STT_FRAME_NOTOBJ, "metadata is a JSON null, not an object");
    expect_meta_err("true", STT_FRAME_NOTOBJ, "metadata is a JSON boolean, not an object");
}

static void test_missing_rate(void **state)
{
    (void)state;
    expect_meta_err("{}", STT_FRAME_NORATE, "metadata has no \"sampleRate\" key");
    /* Keys are case-sensitive, as in Python. */
    expect_meta_err("{\"samplerate\":16000,\"sample_rate\":16000}", STT_FRAME_NORATE,
                    "metadata has no \"sampleRate\" key");
    /* A nested sampleRate does not count. */
    expect_meta_err("{\"x\":{\"sampleRate\":16000}}", STT_FRAME_NORATE,
                    "metadata has no \"sampleRate\" key");
}

static void test_bad_rate_type(void **state)
{
    (void)state;
    expect_meta_err("{\"sampleRate\":\"16000\"}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got string");
    expect_meta_err("{\"sampleRate\":16000.5}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got 16000.5");
    expect_meta_err("{\"sampleRate\":true}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got boolean");
    expect_meta_err("{\"sampleRate\":null}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got null");
    expect_meta_err("{\"sampleRate\":[16000]}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got array");
    expect_meta_err("{\"sampleRate\":{}}", STT_FRAME_RATETYPE,
                    "sampleRate must be an integer, got object");
}

static void test_rate_range(void **state)
{
    (void)state;
    expect_meta_err("{\"sampleRate\":96000}", STT_FRAME_RATERANGE,
                    "sampleRate 96000 outside 8000..48000");
    expect_meta_err("{\"sampleRate\":7999}", STT_FRAME_RATERANGE,
                    "sampleRate 7999 outside 8000..48000");
    expect_meta_err("{\"sampleRate\":48001}", STT_FRAME_RATERANGE,
                    "sampleRate 48001 outside 8000..48000");
    expect_meta_err("{\"sampleRate\":0}", STT_FRAME_RATERANGE, "sampleRate 0 outside 8000..48000");
    expect_meta_err("{\"sampleRate\":-16000}", STT_FRAME_RATERANGE,
                    "sampleRate -16000 outside 8000..48000");
    /* Values far outside int's range must not be cast (UBSan would catch that). */
    expect_meta_err("{\"sampleRate\":1e20}", STT_FRAME_RATERANGE,
                    "sampleRate 100000000000000000000 outside 8000..48000");
    expect_meta_err("{\"sampleRate\":1e999}", STT_FRAME_RATERANGE,
                    "sampleRate inf outside 8000..48000");
}

static void test_channels(void **state)
{
    (void)state;
    expect_meta_err("{\"sampleRate\":16000,\"channels\":2}", STT_FRAME_CHANNELS,
                    "channels 2 not supported (only mono, channels 1)");
    expect_meta_err("{\"sampleRate\":16000,\"channels\":0}", STT_FRAME_CHANNELS,
                    "channels 0 not supported (only mono, channels 1)");
    expect_meta_err("{\"sampleRate\":16000,\"channels\":1.5}", STT_FRAME_CHANNELS,
                    "channels 1.5 not supported (only mono, channels 1)");
    expect_meta_err("{\"sampleRate\":16000,\"channels\":\"1\"}", STT_FRAME_CHANNELS,
                    "channels must be the number 1, got string");
}

static stt_rtstt_frame_t expect_ok(const uint8_t *buf, size_t len, int rate, size_t n_samples)
{
    stt_rtstt_frame_t f;
    char err[128] = "junk";
    stt_frame_err_t rc = stt_rtstt_frame_parse(buf, len, NULL, &f, err, sizeof(err));
    if (rc != STT_FRAME_OK)
        fail_msg("unexpected %s: %s", stt_frame_err_name(rc), err);
    assert_string_equal(err, "");
    assert_int_equal(f.sample_rate_hz, rate);
    assert_int_equal(f.n_samples, n_samples);
    return f;
}

static void test_valid_frames(void **state)
{
    (void)state;
    size_t len;
    struct {
        const char *meta;
        int rate;
        int64_t ts;
    } ok[] = {
        {"{\"sampleRate\": 16000}", 16000, 0},
        {"{\"sampleRate\":44100}", 44100, 0},
        {"{\"sampleRate\":8000}", 8000, 0},
        {"{\"sampleRate\":48000}", 48000, 0},
        {" \t\r\n{\"sampleRate\":16000} \n", 16000, 0},
        {"\xef\xbb\xbf{\"sampleRate\":16000}", 16000, 0}, /* UTF-8 BOM */
        {"{\"sampleRate\":16000.0}", 16000, 0},           /* integral float accepted */
        {"{\"sampleRate\":1.6e4}", 16000, 0},
        {"{\"sampleRate\":16000,\"channels\":1}", 16000, 0},
        {"{\"sampleRate\":16000,\"channels\":1.0}", 16000, 0},
        {"{\"sampleRate\":96000,\"sampleRate\":22050}", 22050, 0}, /* last duplicate wins */
        {"{\"sampleRate\":16000,\"server_sent_to_stt\":123456789}", 16000, 123456789},
        {"{\"sampleRate\":16000,\"server_sent_to_stt\":-5}", 16000, -5},
        /* Malformed timestamps are ignored, not refused: the original never reads them. */
        {"{\"sampleRate\":16000,\"server_sent_to_stt\":\"123\"}", 16000, 0},
        {"{\"sampleRate\":16000,\"server_sent_to_stt\":1.5}", 16000, 0},
        {"{\"sampleRate\":16000,\"server_sent_to_stt\":1e300}", 16000, 0},
        /* Extra keys, like the Python client's feed_audio() adds, are ignored. */
        {"{\"sampleRate\":16000,\"server_sent_to_stt_formatted\":\"12:00:00.000\","
         "\"user\":{\"id\":[1,2,{\"x\":null}]},\"text\":\"h\\u00e9llo \xe2\x82\xac\"}",
         16000, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint8_t *buf = frame(ok[i].meta, 8, &len);
        stt_rtstt_frame_t f = expect_ok(buf, len, ok[i].rate, 4);
        assert_int_equal(f.server_sent_to_stt_ns, ok[i].ts);
        assert_ptr_equal(f.pcm, buf + 4 + strlen(ok[i].meta));
        assert_int_equal(f.pcm[0], 0);
        assert_int_equal(f.pcm[7], 7);
        free(buf);
    }

    /* A nanosecond epoch timestamp is above 2^53, so it comes back within half a double ulp. */
    uint8_t *buf =
        frame("{\"sampleRate\":16000,\"server_sent_to_stt\":1718000000123456789}", 0, &len);
    stt_rtstt_frame_t f = expect_ok(buf, len, 16000, 0);
    int64_t d = f.server_sent_to_stt_ns - 1718000000123456789LL;
    assert_true(d >= -128 && d <= 128);
    free(buf);

    /* Zero-length PCM is valid: pcm points just past the metadata, at the end of the frame. */
    buf = frame("{\"sampleRate\":16000}", 0, &len);
    f = expect_ok(buf, len, 16000, 0);
    assert_ptr_equal(f.pcm, buf + len);
    free(buf);

    /* err may be NULL or tiny; a tiny buffer gets a truncated, terminated message. */
    buf = frame("{\"sampleRate\":1}", 0, &len);
    assert_int_equal(stt_rtstt_frame_parse(buf, len, NULL, &f, NULL, 0), STT_FRAME_RATERANGE);
    char tiny[8];
    assert_int_equal(stt_rtstt_frame_parse(buf, len, NULL, &f, tiny, sizeof(tiny)),
                     STT_FRAME_RATERANGE);
    assert_string_equal(tiny, "sampleR");
    free(buf);
}

static void test_build_round_trip(void **state)
{
    (void)state;
    int16_t pcm[1024];
    for (int i = 0; i < 1024; i++)
        pcm[i] = (int16_t)(i * 64 - 32768 + (i & 1)); /* covers negative and odd values */
    uint8_t out[4096];
    int rates[] = {8000, 16000, 44100, 48000};
    for (size_t r = 0; r < 4; r++) {
        size_t n = stt_rtstt_frame_build(out, sizeof(out), rates[r], pcm, 1024, NULL);
        char meta[32];
        snprintf(meta, sizeof(meta), "{\"sampleRate\": %d}", rates[r]);
        assert_int_equal(n, 4 + strlen(meta) + 2048);
        assert_memory_equal(out + 4, meta, strlen(meta));
        stt_rtstt_frame_t f = expect_ok(out, n, rates[r], 1024);
        for (int i = 0; i < 1024; i++) {
            int16_t v = (int16_t)(f.pcm[2 * i] | f.pcm[2 * i + 1] << 8);
            assert_int_equal(v, pcm[i]);
        }
    }
    /* The exact bytes the Python client sends. */
    size_t n = stt_rtstt_frame_build(out, sizeof(out), 16000, pcm, 1, NULL);
    assert_int_equal(n, 4 + 21 + 2);
    assert_memory_equal(out, "\x15\0\0\0{\"sampleRate\": 16000}\0\x80", n);

    n = stt_rtstt_frame_build(out, sizeof(out), 16000, pcm, 10,
                              "\"server_sent_to_stt\": 1234, \"x\": [1]");
    assert_true(n > 0);
    stt_rtstt_frame_t f = expect_ok(out, n, 16000, 10);
    assert_int_equal(f.server_sent_to_stt_ns, 1234);
    assert_memory_equal(out + 4, "{\"sampleRate\": 16000, \"server_sent_to_stt\": 1234", 47);

    /* Zero samples, NULL pcm. */
    n = stt_rtstt_frame_build(out, sizeof(out), 44100, NULL, 0, "");
    assert_int_equal(n, 25);
    expect_ok(out, n, 44100, 0);

    /* Capacity: exactly enough works, one byte less returns 0 and writes nothing useful. */
    size_t need = stt_rtstt_frame_build(out, sizeof(out), 16000, pcm, 100, NULL);
    assert_int_equal(stt_rtstt_frame_build(out, need, 16000, pcm, 100, NULL), need);
    assert_int_equal(stt_rtstt_frame_build(out, need - 1, 16000, pcm, 100, NULL), 0);
    assert_int_equal(stt_rtstt_frame_build(NULL, 0, 16000, pcm, 100, NULL), 0);
    assert_int_equal(stt_rtstt_frame_build(out, sizeof(out), 16000, NULL, 3, NULL), 0);
    assert_int_equal(stt_rtstt_frame_build(out, sizeof(out), 16000, pcm, SIZE_MAX / 2, NULL), 0);
    /* The builder does not validate: an out-of-range rate is for testing the parser. */
    n = stt_rtstt_frame_build(out, sizeof(out), 96000, pcm, 2, NULL);
    expect_err(out, n, NULL, STT_FRAME_RATERANGE, 1007, "sampleRate 96000 outside 8000..48000");
}

/* --- Mutation loop ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Kept packed by hand: clang-format would put one token per line. */
/* clang-format off */
static const char *const TOKENS[] = {
    "{", "}", "[", "]", ",", ":", "\"sampleRate\"", "16000", "44100", "-1", "1e5", "16000.0",
    "\"", "\\u00e9", "null", "true", " ", "\xff", "\xc3", "\"channels\"", "2", "1",
    "\"server_sent_to_stt\"", "\0", "99999999999999999999"};
/* clang-format on */

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
    int ops = 1 + (int)(rng_next() % 4);
    for (int k = 0; k < ops; k++) {
        size_t pos = len > 0 ? (size_t)(rng_next() % len) : 0;
        switch (rng_next() % 8) {
        case 0: /* flip a bit */
            if (len > 0)
                buf[pos] ^= (uint8_t)(1u << (rng_next() % 8));
            break;
        case 1: /* random byte */
            if (len > 0)
                buf[pos] = (uint8_t)rng_next();
            break;
        case 2: /* truncate */
            len = pos;
            break;
        case 3: /* rewrite the length prefix near its true value, or anything */
            if (len >= 4) {
                uint32_t v = (rng_next() % 4 == 0) ? (uint32_t)rng_next()
                                                   : (uint32_t)(buf[0] | buf[1] << 8) +
                                                         (uint32_t)(rng_next() % 9) - 4;
                buf[0] = (uint8_t)v;
                buf[1] = (uint8_t)(v >> 8);
                buf[2] = (uint8_t)(v >> 16);
                buf[3] = (uint8_t)(v >> 24);
            }
            break;
        case 4: { /* insert a JSON-ish token */
            const char *t = TOKENS[rng_next() % (sizeof(TOKENS) / sizeof(TOKENS[0]))];
            size_t tl = t[0] == '\0' ? 1 : strlen(t);
            if (len + tl <= cap) {
                memmove(buf + pos + tl, buf + pos, len - pos);
                memcpy(buf + pos, t, tl);
                len += tl;
            }
            break;
        }
        case 5: /* delete a range */
            if (len > 0) {
                size_t n = 1 + (size_t)(rng_next() % 8);
                if (pos + n > len)
                    n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
            }
            break;
        case 6: /* append a byte */
            if (len < cap)
                buf[len++] = (uint8_t)rng_next();
            break;
        default: /* duplicate a range */
            if (len > 0) {
                size_t n = 1 + (size_t)(rng_next() % 16);
                if (pos + n > len)
                    n = len - pos;
                if (len + n <= cap) {
                    memmove(buf + pos + n, buf + pos, len - pos);
                    len += n;
                }
            }
            break;
        }
    }
    return len;
}

static void test_mutation_loop(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "{\"sampleRate\": 16000}",
        "{\"sampleRate\":44100,\"channels\":1}",
        "{\"sampleRate\":48000,\"server_sent_to_stt\":1718000000123456789,\"x\":[1,{\"y\":\"z\"}]}",
        "{\"sampleRate\":8000.0,\"a\":\"\\u00e9\xe2\x82\xac\"}",
        "[{\"sampleRate\":16000}]",
        "{\"sampleRate\":\"16000\"}",
    };
    const size_t n_seeds = sizeof(seeds) / sizeof(seeds[0]);
    enum { CAP = 512, ITERS = 200000 };
    uint8_t work[CAP];
    int16_t pcm[16] = {0, 1, -1, 32767, -32768, 5, 6, 7};
    size_t counts[STT_FRAME_TOOBIG + 1] = {0};
    /* Tight limits on every other frame so the size classes are hit too. */
    stt_frame_limits_t lim = {.max_frame_bytes = 80, .max_metadata_bytes = 48};

    rng_state = 0x5DEECE66Dull;
    for (int it = 0; it < ITERS; it++) {
        const char *seed = seeds[rng_next() % n_seeds];
        size_t len = stt_rtstt_frame_build(work, CAP, 16000, pcm, rng_next() % 17, NULL);
        /* Rebuild with the chosen metadata verbatim (the builder adds its own sampleRate). */
        size_t ml = strlen(seed), pl = (len - 25);
        len = 4 + ml + pl;
        memmove(work + 4 + ml, work + 25, pl);
        memcpy(work + 4, seed, ml);
        work[0] = (uint8_t)ml;
        work[1] = (uint8_t)(ml >> 8);
        work[2] = work[3] = 0;
        len = mutate(work, len, CAP);

        /* Exact-size heap copy so ASan catches a read past the end. */
        uint8_t *buf = malloc(len > 0 ? len : 1);
        assert_non_null(buf);
        memcpy(buf, work, len);
        stt_rtstt_frame_t f;
        char err[160];
        const stt_frame_limits_t *l = (it & 1) ? &lim : NULL;
        stt_frame_err_t rc = stt_rtstt_frame_parse(buf, len, l, &f, err, sizeof(err));
        assert_true(rc >= STT_FRAME_OK && rc <= STT_FRAME_TOOBIG);
        counts[rc]++;
        if (rc == STT_FRAME_OK) {
            uint32_t ml2 = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                           (uint32_t)buf[3] << 24;
            assert_string_equal(err, "");
            assert_ptr_equal(f.pcm, buf + 4 + ml2);
            assert_int_equal(4 + (size_t)ml2 + f.n_samples * 2, len);
            assert_true(f.sample_rate_hz >= STT_FRAME_MIN_RATE_HZ &&
                        f.sample_rate_hz <= STT_FRAME_MAX_RATE_HZ);
            assert_true(ml2 <= (l ? lim.max_metadata_bytes : STT_FRAME_MAX_METADATA_BYTES));
            if (l)
                assert_true(len <= lim.max_frame_bytes);
            /* Touch every PCM byte so ASan checks the whole claimed range. */
            unsigned sum = 0;
            for (size_t i = 0; i < f.n_samples * 2; i++)
                sum += f.pcm[i];
            (void)sum;
        } else {
            assert_true(strlen(err) > 10);
            int cc = stt_frame_err_close_code(rc);
            assert_true(cc == 1007 || cc == 1009);
            assert_null(f.pcm);
        }
        free(buf);
    }
    /* The loop must actually exercise both sides and most error classes. */
    printf("mutation loop: %d frames:", ITERS);
    for (int c = 0; c <= STT_FRAME_TOOBIG; c++)
        printf(" %s=%zu", stt_frame_err_name((stt_frame_err_t)c), counts[c]);
    printf("\n");
    assert_true(counts[STT_FRAME_OK] > ITERS / 50);
    for (int c = STT_FRAME_SHORT; c <= STT_FRAME_TOOBIG; c++) {
        if (counts[c] == 0)
            fail_msg("mutation loop never produced %s", stt_frame_err_name((stt_frame_err_t)c));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_close_codes),
        cmocka_unit_test(test_short),
        cmocka_unit_test(test_bad_metadata_length),
        cmocka_unit_test(test_metadata_too_large),
        cmocka_unit_test(test_frame_too_large),
        cmocka_unit_test(test_odd_pcm),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_missing_rate),
        cmocka_unit_test(test_bad_rate_type),
        cmocka_unit_test(test_rate_range),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_valid_frames),
        cmocka_unit_test(test_build_round_trip),
        cmocka_unit_test(test_mutation_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

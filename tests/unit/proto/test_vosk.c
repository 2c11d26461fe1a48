/* Unit tests for src/proto/vosk.c: every message kind, every error with its code, close code and
 * exact message, and the exact bytes of every reply shape. The expected replies were checked
 * against vosk-api's own printer (src/json.h dump() driven the way recognizer.cc drives it): the
 * shapes below are what a vosk-server client receives from vosk, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>

#include "stt/vosk.h"

/* Parses a C string; the copy is exactly sized so ASan flags any read past the end. */
static stt_vosk_err_t parse(const char *text, size_t max, stt_vosk_msg_t *m, char *err,
                            size_t errlen)
{
    size_t n = strlen(text);
    char *copy = malloc(n > 0 ? n : 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    stt_vosk_err_t rc = stt_vosk_parse(copy, n, max, m, err, errlen);
    free(copy);
    return rc;
}

static void expect_ok(const char *text, stt_vosk_kind_t kind, stt_vosk_msg_t *m)
{
    char err[256];
    memset(err, 'x', sizeof(err));
    stt_vosk_err_t rc = parse(text, 0, m, err, sizeof(err));
    if (rc != STT_VOSK_ERR_OK)
        fail_msg("%s: got %s (%s)", text, stt_vosk_err_name(rc), err);
    assert_string_equal(err, "");
    assert_int_equal(m->kind, kind);
}

static void expect_err(const char *text, stt_vosk_err_t want, const char *msg)
{
    stt_vosk_msg_t m;
    char err[256];
    stt_vosk_err_t rc = parse(text, 0, &m, err, sizeof(err));
    if (rc != want)
        fail_msg("%s: got %s (%s), want %s", text, stt_vosk_err_name(rc), err,
                 stt_vosk_err_name(want));
    assert_string_equal(err, msg);
    /* A failed parse leaves nothing behind. */
    assert_int_equal(m.kind, STT_VOSK_MSG_NONE);
    assert_null(m.mem);
    assert_null(m.config.phrases);
    assert_null(m.config.model);
    assert_int_equal(m.config.present, 0);
    stt_vosk_msg_dispose(&m);
}

/* Asserts a builder's result and frees it; also checks that it is JSON cJSON can read. */
static void expect_reply(char *got, const char *want)
{
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("reply differs\n--- got ---\n%s\n--- want ---\n%s", got, want);
    cJSON *j = cJSON_Parse(got);
    assert_non_null(j);
    cJSON_Delete(j);
    free(got);
}

/* ------------------------------------------------------------------------------------------ */

static void test_names_and_close_codes(void **state)
{
    (void)state;
    static const struct {
        stt_vosk_err_t e;
        const char *name;
        int close;
    } table[] = {
        {STT_VOSK_ERR_OK, "ok", 1000},
        {STT_VOSK_ERR_TOOBIG, "message_too_large", 1009},
        {STT_VOSK_ERR_JSON, "not_json", 1007},
        {STT_VOSK_ERR_NOTOBJ, "not_object", 1007},
        {STT_VOSK_ERR_UNKNOWN, "unknown_message", 1007},
        {STT_VOSK_ERR_AMBIGUOUS, "ambiguous_message", 1007},
        {STT_VOSK_ERR_EOFVAL, "bad_eof", 1007},
        {STT_VOSK_ERR_RESETVAL, "bad_reset", 1007},
        {STT_VOSK_ERR_CONFIG, "bad_config", 1007},
        {STT_VOSK_ERR_RATETYPE, "bad_sample_rate", 1007},
        {STT_VOSK_ERR_RATERANGE, "unsupported_sample_rate", 1007},
        {STT_VOSK_ERR_WORDS, "bad_words", 1007},
        {STT_VOSK_ERR_ALTS, "bad_max_alternatives", 1007},
        {STT_VOSK_ERR_PHRASES, "bad_phrase_list", 1007},
        {STT_VOSK_ERR_MODEL, "bad_model", 1007},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_string_equal(stt_vosk_err_name(table[i].e), table[i].name);
        assert_int_equal(stt_vosk_err_close_code(table[i].e), table[i].close);
    }
    assert_int_equal(STT_VOSK_ERR_MODEL + 1, sizeof(table) / sizeof(table[0]));
    assert_string_equal(stt_vosk_err_name((stt_vosk_err_t)99), "unknown_vosk_error");
    assert_int_equal(stt_vosk_err_close_code((stt_vosk_err_t)99), 1011);
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing: the three message kinds                                                            */
/* ------------------------------------------------------------------------------------------ */

static void test_eof_and_reset(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    /* What vosk-server compares against, and what its clients send. */
    expect_ok("{\"eof\" : 1}", STT_VOSK_MSG_EOF, &m);
    assert_null(m.mem);
    stt_vosk_msg_dispose(&m);
    expect_ok("{\"reset\" : 1}", STT_VOSK_MSG_RESET, &m);
    stt_vosk_msg_dispose(&m);
    /* What vosk-server would mistake for audio: other spacing, 1.0, true, extra keys. */
    const char *eofs[] = {"{\"eof\":1}", " {\n\t\"eof\" :  1 } \n", "{\"eof\": 1.0}",
                          "{\"eof\": 1e0}", "{\"eof\": true}", "{\"eof\": 1, \"id\": \"x\"}",
                          "{\"eof\": 0, \"eof\": 1}", "\xEF\xBB\xBF{\"eof\": 1}"};
    for (size_t i = 0; i < sizeof(eofs) / sizeof(eofs[0]); i++) {
        expect_ok(eofs[i], STT_VOSK_MSG_EOF, &m);
        stt_vosk_msg_dispose(&m);
    }
    expect_ok("{\"reset\":true,\"note\":[1,2]}", STT_VOSK_MSG_RESET, &m);
    stt_vosk_msg_dispose(&m);
}

static void test_config_all_fields(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    expect_ok("{\"config\": {\"sample_rate\": 16000, \"words\": true, \"max_alternatives\": 3, "
              "\"phrase_list\": [\"zero one two\", \"\\u00e9t\\u00e9\", \"\"], "
              "\"model\": \"en-us\"}}",
              STT_VOSK_MSG_CONFIG, &m);
    const stt_vosk_config_t *c = &m.config;
    assert_int_equal(c->present, STT_VOSK_HAS_SAMPLE_RATE | STT_VOSK_HAS_WORDS |
                                     STT_VOSK_HAS_MAX_ALTERNATIVES | STT_VOSK_HAS_PHRASE_LIST |
                                     STT_VOSK_HAS_MODEL);
    assert_int_equal(c->sample_rate_hz, 16000);
    assert_int_equal(c->words, 1);
    assert_int_equal(c->max_alternatives, 3);
    assert_int_equal(c->n_phrases, 3);
    assert_string_equal(c->phrases[0], "zero one two");
    assert_string_equal(c->phrases[1], "\xC3\xA9t\xC3\xA9");
    assert_string_equal(c->phrases[2], "");
    assert_string_equal(c->model, "en-us");
    assert_non_null(m.mem);
    stt_vosk_msg_dispose(&m);
    assert_null(m.mem);
    assert_null(m.config.phrases);
    assert_null(m.config.model);
    assert_int_equal(m.kind, STT_VOSK_MSG_NONE);
    stt_vosk_msg_dispose(&m); /* twice is harmless */
    stt_vosk_msg_dispose(NULL);
}

static void test_config_defaults_and_leniency(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    /* vosk-server's sample clients send exactly this. */
    expect_ok("{ \"config\" : { \"sample_rate\" : 8000 } }", STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.present, STT_VOSK_HAS_SAMPLE_RATE);
    assert_int_equal(m.config.sample_rate_hz, 8000);
    assert_int_equal(m.config.words, STT_VOSK_DEFAULT_WORDS);
    assert_int_equal(m.config.max_alternatives, 0);
    assert_null(m.config.phrases);
    assert_int_equal(m.config.n_phrases, 0);
    assert_null(m.config.model);
    assert_null(m.mem);
    stt_vosk_msg_dispose(&m);

    /* An empty config changes nothing; absent fields hold the defaults. */
    expect_ok("{\"config\": {}}", STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.present, 0);
    assert_int_equal(m.config.sample_rate_hz, STT_VOSK_DEFAULT_RATE_HZ);
    assert_int_equal(m.config.words, 1);
    stt_vosk_msg_dispose(&m);

    /* vosk's float() and bool(): numeric strings, integral floats, numbers as booleans. */
    expect_ok("{\"config\": {\"sample_rate\": \"16000\", \"words\": 0}}", STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.sample_rate_hz, 16000);
    assert_int_equal(m.config.words, 0);
    assert_int_equal(m.config.present, STT_VOSK_HAS_SAMPLE_RATE | STT_VOSK_HAS_WORDS);
    stt_vosk_msg_dispose(&m);
    expect_ok("{\"config\": {\"sample_rate\": \" 44100.0 \", \"words\": 2}}", STT_VOSK_MSG_CONFIG,
              &m);
    assert_int_equal(m.config.sample_rate_hz, 44100);
    assert_int_equal(m.config.words, 1);
    stt_vosk_msg_dispose(&m);
    expect_ok("{\"config\": {\"sample_rate\": 4.8e4, \"words\": false, \"max_alternatives\": 32}}",
              STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.sample_rate_hz, 48000);
    assert_int_equal(m.config.words, 0);
    assert_int_equal(m.config.max_alternatives, 32);
    stt_vosk_msg_dispose(&m);

    /* Unknown config keys are ignored (as vosk-server does); duplicates take the last value;
     * phrase_list null is no list; an empty list is a list. */
    expect_ok("{\"config\": {\"sample_rate\": 8000, \"sample_rate\": 22050, \"num_channels\": 1, "
              "\"phrase_list\": null}}",
              STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.sample_rate_hz, 22050);
    assert_int_equal(m.config.present, STT_VOSK_HAS_SAMPLE_RATE);
    stt_vosk_msg_dispose(&m);
    expect_ok("{\"config\": {\"phrase_list\": []}}", STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.present, STT_VOSK_HAS_PHRASE_LIST);
    assert_int_equal(m.config.n_phrases, 0);
    stt_vosk_msg_dispose(&m);

    /* A model alone; kept verbatim, including a path the adapter must refuse. */
    expect_ok("{\"config\": {\"model\": \"../../etc/passwd\"}}", STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.present, STT_VOSK_HAS_MODEL);
    assert_string_equal(m.config.model, "../../etc/passwd");
    assert_null(m.config.phrases);
    stt_vosk_msg_dispose(&m);
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing: every error                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void test_err_size(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    char err[256];
    const char *eof = "{\"eof\" : 1}";
    assert_int_equal(parse(eof, 10, &m, err, sizeof(err)), STT_VOSK_ERR_TOOBIG);
    assert_string_equal(err, "message of 11 bytes exceeds the 10-byte limit");
    assert_int_equal(parse(eof, 11, &m, err, sizeof(err)), STT_VOSK_ERR_OK);

    /* The default cap: a 64 KiB config (one long phrase) passes, one byte more does not. */
    const char *head = "{\"config\": {\"phrase_list\": [\"";
    const char *tail = "\"]}}";
    size_t cap = STT_VOSK_MAX_MESSAGE_BYTES;
    char *big = malloc(cap + 1);
    assert_non_null(big);
    for (size_t n = cap; n <= cap + 1; n++) {
        size_t fill = n - strlen(head) - strlen(tail);
        memcpy(big, head, strlen(head));
        memset(big + strlen(head), 'a', fill);
        memcpy(big + strlen(head) + fill, tail, strlen(tail));
        stt_vosk_err_t rc = stt_vosk_parse(big, n, 0, &m, err, sizeof(err));
        if (n == cap) {
            assert_int_equal(rc, STT_VOSK_ERR_OK);
            assert_int_equal(m.config.n_phrases, 1);
            assert_int_equal(strlen(m.config.phrases[0]), fill);
            stt_vosk_msg_dispose(&m);
        } else {
            assert_int_equal(rc, STT_VOSK_ERR_TOOBIG);
            assert_string_equal(err, "message of 65537 bytes exceeds the 65536-byte limit");
            /* A caller's larger cap lets it through. */
            assert_int_equal(stt_vosk_parse(big, n, n, &m, err, sizeof(err)), STT_VOSK_ERR_OK);
            stt_vosk_msg_dispose(&m);
        }
    }
    free(big);
}

static void test_err_json(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    char err[256];
    assert_int_equal(stt_vosk_parse(NULL, 5, 0, &m, err, sizeof(err)), STT_VOSK_ERR_JSON);
    assert_string_equal(err, "message is empty");
    expect_err("", STT_VOSK_ERR_JSON, "message is empty");
    expect_err("eof", STT_VOSK_ERR_JSON, "message is not valid JSON (error at offset 0 of 3)");
    expect_err("{\"eof\" : 1", STT_VOSK_ERR_JSON,
               "message is not valid JSON (error at offset 9 of 10)");
    expect_err("{\"eof\" : 1}}", STT_VOSK_ERR_JSON,
               "message has trailing data after the JSON value (offset 11 of 12)");
    expect_err("{\"eof\" : 1}{\"eof\" : 1}", STT_VOSK_ERR_JSON,
               "message has trailing data after the JSON value (offset 11 of 22)");
    expect_err("{\"eof\"\x01: 1}", STT_VOSK_ERR_JSON,
               "message has control byte 0x01 at offset 6 of 11");
    expect_err("{\"config\": {\"model\": \"\xC3\x28\"}}", STT_VOSK_ERR_JSON,
               "message is not valid UTF-8 (byte 0xc3 at offset 22 of 27)");
    expect_err("{\"eof\": 1, \"x\": \"\xED\xA0\x80\"}", STT_VOSK_ERR_JSON,
               "message is not valid UTF-8 (byte 0xed at offset 17 of 22)");
    expect_err("\xFF", STT_VOSK_ERR_JSON,
               "message is not valid UTF-8 (byte 0xff at offset 0 of 1)");
    /* A NUL inside the message (the parse is by length, not by C string). */
    assert_int_equal(stt_vosk_parse("{\"eof\": 1}\0", 11, 0, &m, err, sizeof(err)),
                     STT_VOSK_ERR_JSON);
    assert_string_equal(err, "message has control byte 0x00 at offset 10 of 11");
    /* Lone surrogate escapes and nesting beyond cJSON's limit are not JSON either. */
    expect_err("{\"eof\": 1, \"x\": \"\\ud800\"}", STT_VOSK_ERR_JSON,
               "message is not valid JSON (error at offset 17 of 25)");
    char deep[2200];
    memset(deep, '[', 1100);
    memset(deep + 1100, ']', 1100);
    assert_int_equal(stt_vosk_parse(deep, sizeof(deep), 0, &m, err, sizeof(err)),
                     STT_VOSK_ERR_JSON);
    assert_int_equal(strncmp(err, "message is not valid JSON", 25), 0);
}

static void test_err_shape(void **state)
{
    (void)state;
    expect_err("[1]", STT_VOSK_ERR_NOTOBJ, "message is a JSON array, not an object");
    expect_err("1", STT_VOSK_ERR_NOTOBJ, "message is a JSON number, not an object");
    expect_err("\"eof\"", STT_VOSK_ERR_NOTOBJ, "message is a JSON string, not an object");
    expect_err("null", STT_VOSK_ERR_NOTOBJ, "message is a JSON null, not an object");
    expect_err("{}", STT_VOSK_ERR_UNKNOWN,
               "unknown message: an empty object (expected \"config\", \"eof\" or \"reset\")");
    expect_err("{\"EOF\": 1}", STT_VOSK_ERR_UNKNOWN,
               "unknown message: expected \"config\", \"eof\" or \"reset\", got key \"EOF\"");
    expect_err("{\"text\": \"hello\", \"eof\": 1, \"reset\": 1}", STT_VOSK_ERR_AMBIGUOUS,
               "message has more than one of \"config\", \"eof\" and \"reset\"");
    expect_err("{\"config\": {}, \"eof\": 1}", STT_VOSK_ERR_AMBIGUOUS,
               "message has more than one of \"config\", \"eof\" and \"reset\"");
    expect_err("{\"eof\": 0}", STT_VOSK_ERR_EOFVAL, "eof must be 1, got 0");
    expect_err("{\"eof\": \"1\"}", STT_VOSK_ERR_EOFVAL, "eof must be 1, got string \"1\"");
    expect_err("{\"eof\": false}", STT_VOSK_ERR_EOFVAL, "eof must be 1, got boolean");
    expect_err("{\"eof\": 1, \"eof\": 2}", STT_VOSK_ERR_EOFVAL, "eof must be 1, got 2");
    expect_err("{\"reset\": null}", STT_VOSK_ERR_RESETVAL, "reset must be 1, got null");
    expect_err("{\"reset\": 1.5}", STT_VOSK_ERR_RESETVAL, "reset must be 1, got 1.5");
    expect_err("{\"config\": 16000}", STT_VOSK_ERR_CONFIG, "config must be an object, got 16000");
    expect_err("{\"config\": [\"sample_rate\", 8000]}", STT_VOSK_ERR_CONFIG,
               "config must be an object, got array");
}

static void test_err_config_fields(void **state)
{
    (void)state;
    /* sample_rate */
    expect_err("{\"config\": {\"sample_rate\": \"x\"}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got string \"x\"");
    expect_err("{\"config\": {\"sample_rate\": \"16 kHz\"}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got string \"16 kHz\"");
    expect_err("{\"config\": {\"sample_rate\": \"\"}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got string \"\"");
    expect_err("{\"config\": {\"sample_rate\": \"0123456789012345678901234567890\"}}",
               STT_VOSK_ERR_RATERANGE, "sample_rate 1.23456789e+29 outside 8000..48000");
    expect_err("{\"config\": {\"sample_rate\": \"abcdefghijklmnopqrstuvwxyz\"}}",
               STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got string \"abcdefghijklmnopqrstuvwx...\"");
    expect_err("{\"config\": {\"sample_rate\": true}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got boolean");
    expect_err("{\"config\": {\"sample_rate\": null}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a number, got null");
    expect_err("{\"config\": {\"sample_rate\": 8000.5}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a whole number, got 8000.5");
    expect_err("{\"config\": {\"sample_rate\": \"8000.5\"}}", STT_VOSK_ERR_RATETYPE,
               "sample_rate must be a whole number, got string \"8000.5\"");
    expect_err("{\"config\": {\"sample_rate\": 7999}}", STT_VOSK_ERR_RATERANGE,
               "sample_rate 7999 outside 8000..48000");
    expect_err("{\"config\": {\"sample_rate\": 48001}}", STT_VOSK_ERR_RATERANGE,
               "sample_rate 48001 outside 8000..48000");
    expect_err("{\"config\": {\"sample_rate\": -16000}}", STT_VOSK_ERR_RATERANGE,
               "sample_rate -16000 outside 8000..48000");
    expect_err("{\"config\": {\"sample_rate\": 1e400}}", STT_VOSK_ERR_RATERANGE,
               "sample_rate inf outside 8000..48000");
    expect_err("{\"config\": {\"sample_rate\": 99999999999999999999}}", STT_VOSK_ERR_RATERANGE,
               "sample_rate 1e+20 outside 8000..48000");
    /* words */
    expect_err("{\"config\": {\"words\": \"true\"}}", STT_VOSK_ERR_WORDS,
               "words must be a boolean or a number, got string \"true\"");
    expect_err("{\"config\": {\"words\": null}}", STT_VOSK_ERR_WORDS,
               "words must be a boolean or a number, got null");
    expect_err("{\"config\": {\"words\": {}}}", STT_VOSK_ERR_WORDS,
               "words must be a boolean or a number, got object");
    /* max_alternatives */
    expect_err("{\"config\": {\"max_alternatives\": 33}}", STT_VOSK_ERR_ALTS,
               "max_alternatives 33 outside 0..32");
    expect_err("{\"config\": {\"max_alternatives\": -1}}", STT_VOSK_ERR_ALTS,
               "max_alternatives -1 outside 0..32");
    expect_err("{\"config\": {\"max_alternatives\": 1.5}}", STT_VOSK_ERR_ALTS,
               "max_alternatives must be a whole number, got 1.5");
    expect_err("{\"config\": {\"max_alternatives\": \"2\"}}", STT_VOSK_ERR_ALTS,
               "max_alternatives must be a whole number, got string \"2\"");
    /* phrase_list and model */
    expect_err("{\"config\": {\"phrase_list\": \"one two\"}}", STT_VOSK_ERR_PHRASES,
               "phrase_list must be an array of strings, got string \"one two\"");
    expect_err("{\"config\": {\"phrase_list\": [\"one\", 2]}}", STT_VOSK_ERR_PHRASES,
               "phrase_list[1] must be a string, got 2");
    expect_err("{\"config\": {\"model\": 5}}", STT_VOSK_ERR_MODEL, "model must be a string, got 5");
    expect_err("{\"config\": {\"model\": null}}", STT_VOSK_ERR_MODEL,
               "model must be a string, got null");
    /* The first bad field wins, in the documented order; a good phrase list before a bad model
     * is not leaked (ASan). */
    expect_err("{\"config\": {\"model\": 1, \"words\": \"x\", \"sample_rate\": 1}}",
               STT_VOSK_ERR_RATERANGE, "sample_rate 1 outside 8000..48000");
    expect_err("{\"config\": {\"phrase_list\": [\"a\"], \"model\": []}}", STT_VOSK_ERR_MODEL,
               "model must be a string, got array");
}

static void test_err_message_truncated(void **state)
{
    (void)state;
    stt_vosk_msg_t m;
    char err[16];
    assert_int_equal(parse("{\"config\": {\"sample_rate\": \"x\"}}", 0, &m, err, sizeof(err)),
                     STT_VOSK_ERR_RATETYPE);
    assert_string_equal(err, "sample_rate mus");
    /* No buffer at all is fine too. */
    assert_int_equal(parse("[]", 0, &m, NULL, 0), STT_VOSK_ERR_NOTOBJ);
    /* A quoted value is cut on a character boundary and never carries control bytes. */
    char big[128];
    assert_int_equal(parse("{\"config\": {\"sample_rate\": \"\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                           "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                           "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                           "\"}}",
                           0, &m, big, sizeof(big)),
                     STT_VOSK_ERR_RATETYPE);
    assert_string_equal(big, "sample_rate must be a number, got string \"\xE2\x82\xAC\xE2\x82\xAC"
                             "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                             "\xE2\x82\xAC...\"");
    assert_int_equal(parse("{\"config\": {\"model\": \"a\\nb\"}, \"eof\": 1}", 0, &m, big,
                           sizeof(big)),
                     STT_VOSK_ERR_AMBIGUOUS);
    assert_int_equal(parse("{\"config\": {\"words\": \"a\\nb\"}}", 0, &m, big, sizeof(big)),
                     STT_VOSK_ERR_WORDS);
    assert_string_equal(big, "words must be a boolean or a number, got string \"a...\"");
}

/* ------------------------------------------------------------------------------------------ */
/* Replies                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const stt_vosk_word_t HELLO_WORLD[] = {
    {"hello", 0.36, 0.78, 1.0},
    {"world", 0.78, 1.2, 0.5},
};

static void test_partial(void **state)
{
    (void)state;
    expect_reply(stt_vosk_build_partial("hello world"), "{\n  \"partial\" : \"hello world\"\n}");
    expect_reply(stt_vosk_build_partial(""), "{\n  \"partial\" : \"\"\n}");
    expect_reply(stt_vosk_build_partial(NULL), "{\n  \"partial\" : \"\"\n}");
    /* Unicode passes through unescaped, as vosk writes it. */
    expect_reply(stt_vosk_build_partial("\xD0\xBF\xD0\xBE\xD0\xB4\xD0\xBD\xD0\xB8\xD0\xBC\xD0\xB8"
                                        "\xD1\x82\xD0\xB5 \xE4\xBD\xA0\xE5\xA5\xBD "
                                        "\xF0\x9F\x98\x80"),
                 "{\n  \"partial\" : \"\xD0\xBF\xD0\xBE\xD0\xB4\xD0\xBD\xD0\xB8\xD0\xBC\xD0\xB8"
                 "\xD1\x82\xD0\xB5 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80\"\n}");
    /* vosk's escapes, \u00XX for other control bytes, '/' and DEL left alone. */
    expect_reply(stt_vosk_build_partial("a\"b\\c\b\f\n\r\t\x01\x1f/\x7f"),
                 "{\n  \"partial\" : \"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f/\x7f\"\n}");
    /* Invalid UTF-8: U+FFFD per bad byte (stray continuation, overlong, truncated). */
    expect_reply(stt_vosk_build_partial("a\x80" "b\xC0\xAF" "c\xE2\x82"),
                 "{\n  \"partial\" : \"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD"
                 "c\xEF\xBF\xBD\xEF\xBF\xBD\"\n}");
}

static void test_final_words(void **state)
{
    (void)state;
    stt_vosk_hyp_t h = {NULL, -1, HELLO_WORLD, 2};
    stt_vosk_final_opts_t words = {.words = 1};
    expect_reply(stt_vosk_build_final(&h, 1, &words),
                 "{\n"
                 "  \"result\" : [{\n"
                 "      \"conf\" : 1.000000,\n"
                 "      \"end\" : 0.780000,\n"
                 "      \"start\" : 0.360000,\n"
                 "      \"word\" : \"hello\"\n"
                 "    }, {\n"
                 "      \"conf\" : 0.500000,\n"
                 "      \"end\" : 1.200000,\n"
                 "      \"start\" : 0.780000,\n"
                 "      \"word\" : \"world\"\n"
                 "    }],\n"
                 "  \"text\" : \"hello world\"\n"
                 "}");
    /* Words off: text only. opts NULL means words off. */
    expect_reply(stt_vosk_build_final(&h, 1, &(stt_vosk_final_opts_t){0}),
                 "{\n  \"text\" : \"hello world\"\n}");
    expect_reply(stt_vosk_build_final(&h, 1, NULL), "{\n  \"text\" : \"hello world\"\n}");
    /* No words, or no hypothesis: {"text" : ""} and no "result", as vosk-api prints it. */
    stt_vosk_hyp_t none = {NULL, -1, NULL, 0};
    expect_reply(stt_vosk_build_final(&none, 1, &words), "{\n  \"text\" : \"\"\n}");
    expect_reply(stt_vosk_build_final(NULL, 0, &words), "{\n  \"text\" : \"\"\n}");
    expect_reply(stt_vosk_build_final(NULL, 3, &words), "{\n  \"text\" : \"\"\n}");
    /* Given text wins over the joined words (the caller's own spacing). */
    stt_vosk_hyp_t texted = {"hello  world", 0.9, HELLO_WORLD, 2};
    expect_reply(stt_vosk_build_final(&texted, 1, NULL), "{\n  \"text\" : \"hello  world\"\n}");
    /* Only the first hypothesis counts without alternatives. */
    stt_vosk_hyp_t two[] = {{"first", -1, NULL, 0}, {"second", -1, NULL, 0}};
    expect_reply(stt_vosk_build_final(two, 2, &words), "{\n  \"text\" : \"first\"\n}");
}

static void test_final_times_and_confidences(void **state)
{
    (void)state;
    /* Stream time: offset_s moves utterance-relative times onto the call's clock. Unknown
     * confidence (-1) is 1.0, above 1 is 1, NaN is unknown; negative times are 0; an end before
     * its start is the start; infinities clamp. Rounding is to the nearest millionth. */
    const stt_vosk_word_t w[] = {
        {"a", 0.0, 0.25, -1},         {"b", -3.0, -1.0, 1.5},          {"c", 2.0, 1.0, NAN},
        {"d", 0.1234564, 0.1234566, 0.0}, {"e", INFINITY, NAN, 0.999999},
    };
    stt_vosk_hyp_t h = {NULL, -1, w, 5};
    stt_vosk_final_opts_t o = {.words = 1, .offset_s = 10.5};
    expect_reply(stt_vosk_build_final(&h, 1, &o),
                 "{\n"
                 "  \"result\" : [{\n"
                 "      \"conf\" : 1.000000,\n"
                 "      \"end\" : 10.750000,\n"
                 "      \"start\" : 10.500000,\n"
                 "      \"word\" : \"a\"\n"
                 "    }, {\n"
                 "      \"conf\" : 1.000000,\n"
                 "      \"end\" : 9.500000,\n"
                 "      \"start\" : 7.500000,\n"
                 "      \"word\" : \"b\"\n"
                 "    }, {\n"
                 "      \"conf\" : 1.000000,\n"
                 "      \"end\" : 12.500000,\n"
                 "      \"start\" : 12.500000,\n"
                 "      \"word\" : \"c\"\n"
                 "    }, {\n"
                 "      \"conf\" : 0.000000,\n"
                 "      \"end\" : 10.623457,\n"
                 "      \"start\" : 10.623456,\n"
                 "      \"word\" : \"d\"\n"
                 "    }, {\n"
                 "      \"conf\" : 0.999999,\n"
                 "      \"end\" : 0.000000,\n"
                 "      \"start\" : 0.000000,\n"
                 "      \"word\" : \"e\"\n"
                 "    }],\n"
                 "  \"text\" : \"a b c d e\"\n"
                 "}");
    /* Without the offset, negative times clamp to 0. */
    const stt_vosk_word_t neg[] = {{"x", -0.5, -0.25, 0.5}};
    stt_vosk_hyp_t hn = {NULL, -1, neg, 1};
    char *s = stt_vosk_build_final(&hn, 1, &(stt_vosk_final_opts_t){.words = 1});
    assert_non_null(strstr(s, "\"end\" : 0.000000,\n      \"start\" : 0.000000,"));
    free(s);
    /* Huge times are clamped so the number stays short; a non-finite offset is ignored. */
    const stt_vosk_word_t huge[] = {{"x", 1e300, 1e300, 0.5}};
    stt_vosk_hyp_t hh = {NULL, -1, huge, 1};
    s = stt_vosk_build_final(&hh, 1, &(stt_vosk_final_opts_t){.words = 1, .offset_s = NAN});
    assert_non_null(strstr(s, "\"end\" : 1000000000000.000000,"));
    free(s);
}

static void test_final_unicode(void **state)
{
    (void)state;
    const stt_vosk_word_t w[] = {
        {"caf\xC3\xA9", 1.5, 2.25, 0.875},
        {"\"q\"\\", 2.25, 3.0, 0.125},
    };
    stt_vosk_hyp_t h = {NULL, -1, w, 2};
    expect_reply(stt_vosk_build_final(&h, 1, &(stt_vosk_final_opts_t){.words = 1}),
                 "{\n"
                 "  \"result\" : [{\n"
                 "      \"conf\" : 0.875000,\n"
                 "      \"end\" : 2.250000,\n"
                 "      \"start\" : 1.500000,\n"
                 "      \"word\" : \"caf\xC3\xA9\"\n"
                 "    }, {\n"
                 "      \"conf\" : 0.125000,\n"
                 "      \"end\" : 3.000000,\n"
                 "      \"start\" : 2.250000,\n"
                 "      \"word\" : \"\\\"q\\\"\\\\\"\n"
                 "    }],\n"
                 "  \"text\" : \"caf\xC3\xA9 \\\"q\\\"\\\\\"\n"
                 "}");
    /* A NULL word is an empty string, in the result and in the joined text. */
    const stt_vosk_word_t nul[] = {{NULL, 0, 1, 1}, {"x", 1, 2, 1}};
    stt_vosk_hyp_t hn = {NULL, -1, nul, 2};
    expect_reply(stt_vosk_build_final(&hn, 1, NULL), "{\n  \"text\" : \" x\"\n}");
}

static void test_final_alternatives(void **state)
{
    (void)state;
    const stt_vosk_word_t word[] = {{"hello", 0.36, 0.78, 1.0}, {"word", 0.78, 1.2, 0.5}};
    stt_vosk_hyp_t hs[] = {{NULL, 0.75, HELLO_WORLD, 2}, {NULL, 0.25, word, 2},
                           {"third", -1, NULL, 0}};
    /* vosk-api's NbestResult: "confidence", then "result" without "conf", then "text". */
    expect_reply(stt_vosk_build_final(hs, 3, &(stt_vosk_final_opts_t){.words = 1,
                                                                      .max_alternatives = 2}),
                 "{\n"
                 "  \"alternatives\" : [{\n"
                 "      \"confidence\" : 0.750000,\n"
                 "      \"result\" : [{\n"
                 "          \"end\" : 0.780000,\n"
                 "          \"start\" : 0.360000,\n"
                 "          \"word\" : \"hello\"\n"
                 "        }, {\n"
                 "          \"end\" : 1.200000,\n"
                 "          \"start\" : 0.780000,\n"
                 "          \"word\" : \"world\"\n"
                 "        }],\n"
                 "      \"text\" : \"hello world\"\n"
                 "    }, {\n"
                 "      \"confidence\" : 0.250000,\n"
                 "      \"result\" : [{\n"
                 "          \"end\" : 0.780000,\n"
                 "          \"start\" : 0.360000,\n"
                 "          \"word\" : \"hello\"\n"
                 "        }, {\n"
                 "          \"end\" : 1.200000,\n"
                 "          \"start\" : 0.780000,\n"
                 "          \"word\" : \"word\"\n"
                 "        }],\n"
                 "      \"text\" : \"hello word\"\n"
                 "    }]\n"
                 "}");
    /* Words off; fewer hypotheses than allowed; a wordless one has no "result" even with words;
     * unknown confidence is 1.0. */
    expect_reply(stt_vosk_build_final(hs, 3, &(stt_vosk_final_opts_t){.max_alternatives = 5}),
                 "{\n"
                 "  \"alternatives\" : [{\n"
                 "      \"confidence\" : 0.750000,\n"
                 "      \"text\" : \"hello world\"\n"
                 "    }, {\n"
                 "      \"confidence\" : 0.250000,\n"
                 "      \"text\" : \"hello word\"\n"
                 "    }, {\n"
                 "      \"confidence\" : 1.000000,\n"
                 "      \"text\" : \"third\"\n"
                 "    }]\n"
                 "}");
    char *s = stt_vosk_build_final(hs + 2, 1, &(stt_vosk_final_opts_t){.words = 1,
                                                                       .max_alternatives = 1});
    assert_string_equal(s, "{\n  \"alternatives\" : [{\n      \"confidence\" : 1.000000,\n"
                           "      \"text\" : \"third\"\n    }]\n}");
    free(s);
    /* Nothing recognised: one empty alternative with confidence 1, like vosk's empty result. */
    expect_reply(stt_vosk_build_final(NULL, 0, &(stt_vosk_final_opts_t){.words = 1,
                                                                       .max_alternatives = 3}),
                 "{\n  \"alternatives\" : [{\n      \"confidence\" : 1.000000,\n"
                 "      \"text\" : \"\"\n    }]\n}");
}

static void test_error_reply(void **state)
{
    (void)state;
    expect_reply(stt_vosk_build_error("bad_sample_rate",
                                      "sample_rate must be a number, got string \"x\""),
                 "{\n  \"code\" : \"bad_sample_rate\",\n"
                 "  \"error\" : \"sample_rate must be a number, got string \\\"x\\\"\"\n}");
    expect_reply(stt_vosk_build_error(NULL, NULL), "{\n  \"code\" : \"\",\n  \"error\" : \"\"\n}");
    /* Whatever a parse error message carries (a cut UTF-8 key, control bytes) is escaped. */
    stt_vosk_msg_t m;
    char err[256];
    assert_int_equal(parse("{\"\\u0001\\u00e9\": 1}", 0, &m, err, sizeof(err)),
                     STT_VOSK_ERR_UNKNOWN);
    expect_reply(stt_vosk_build_error(stt_vosk_err_name(STT_VOSK_ERR_UNKNOWN), err),
                 "{\n  \"code\" : \"unknown_message\",\n  \"error\" : \"unknown message: "
                 "expected \\\"config\\\", \\\"eof\\\" or \\\"reset\\\", got key "
                 "\\\"\\u0001\xC3\xA9\\\"\"\n}");
}

static void test_config_round_trip(void **state)
{
    (void)state;
    const char *ph[] = {"zero one", "caf\xC3\xA9 \"x\"", ""};
    stt_vosk_config_t c = {
        .present = STT_VOSK_HAS_SAMPLE_RATE | STT_VOSK_HAS_WORDS | STT_VOSK_HAS_MAX_ALTERNATIVES |
                   STT_VOSK_HAS_PHRASE_LIST | STT_VOSK_HAS_MODEL,
        .sample_rate_hz = 16000,
        .words = 1,
        .max_alternatives = 2,
        .phrases = ph,
        .n_phrases = 3,
        .model = "m",
    };
    char *s = stt_vosk_build_config(&c);
    assert_string_equal(s, "{\n"
                           "  \"config\" : {\n"
                           "    \"max_alternatives\" : 2,\n"
                           "    \"model\" : \"m\",\n"
                           "    \"phrase_list\" : [\"zero one\", "
                           "\"caf\xC3\xA9 \\\"x\\\"\", \"\"],\n"
                           "    \"sample_rate\" : 16000,\n"
                           "    \"words\" : true\n"
                           "  }\n"
                           "}");
    stt_vosk_msg_t m;
    expect_ok(s, STT_VOSK_MSG_CONFIG, &m);
    free(s);
    assert_int_equal(m.config.present, c.present);
    assert_int_equal(m.config.sample_rate_hz, 16000);
    assert_int_equal(m.config.words, 1);
    assert_int_equal(m.config.max_alternatives, 2);
    assert_int_equal(m.config.n_phrases, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(m.config.phrases[i], ph[i]);
    assert_string_equal(m.config.model, "m");
    stt_vosk_msg_dispose(&m);

    /* Only the present keys; words false; nothing present. */
    stt_vosk_config_t w = {.present = STT_VOSK_HAS_WORDS, .words = 0};
    s = stt_vosk_build_config(&w);
    assert_string_equal(s, "{\n  \"config\" : {\n    \"words\" : false\n  }\n}");
    free(s);
    stt_vosk_config_t none = {0};
    s = stt_vosk_build_config(&none);
    assert_string_equal(s, "{\n  \"config\" : {}\n}");
    expect_ok(s, STT_VOSK_MSG_CONFIG, &m);
    assert_int_equal(m.config.present, 0);
    stt_vosk_msg_dispose(&m);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_close_codes),
        cmocka_unit_test(test_eof_and_reset),
        cmocka_unit_test(test_config_all_fields),
        cmocka_unit_test(test_config_defaults_and_leniency),
        cmocka_unit_test(test_err_size),
        cmocka_unit_test(test_err_json),
        cmocka_unit_test(test_err_shape),
        cmocka_unit_test(test_err_config_fields),
        cmocka_unit_test(test_err_message_truncated),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_final_words),
        cmocka_unit_test(test_final_times_and_confidences),
        cmocka_unit_test(test_final_unicode),
        cmocka_unit_test(test_final_alternatives),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_config_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer driver for the jambonz custom-STT codec (src/proto/jambonz.c).
 *
 * Each input is used three ways.
 * 1. As one control text message, parsed with the default cap and with a 64-byte cap. An error
 *    must have a known code, a 1003/1007/1009 close code, a reason, and leave nothing allocated.
 *    An OK start must be in range (rate 8000..48000, a short printable language and call sid,
 *    at most 1000 hints, each non-empty, strict UTF-8, at most 256 bytes, trimmed), and a start
 *    message written back from it (by this driver, with cJSON) must parse to the same start:
 *    the round trip. A message whose "type" is "stop" in any case must parse as a stop
 *    whatever else it holds (the reference: cJSON's own reading of the same bytes).
 * 2. The hints of an OK start joined into a prompt at several caps: never longer than the cap,
 *    always whole hints in order, separated by ", ".
 * 3. The bytes up to the first NUL as a transcript: the transcription and error replies must be
 *    strict UTF-8 JSON of the documented shape, with the transcript back unchanged when it was
 *    valid UTF-8 and the confidence in 0..1.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/jambonz/) as an ordinary test without clang. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "stt/jambonz.h"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

static void check_start(const stt_jambonz_start_t *st)
{
    CHECK(st->sample_rate_hz >= STT_JAMBONZ_MIN_RATE_HZ &&
          st->sample_rate_hz <= STT_JAMBONZ_MAX_RATE_HZ);
    CHECK(st->interim_results == 0 || st->interim_results == 1);
    CHECK(strlen(st->language) > 0 && strlen(st->language) < STT_JAMBONZ_LANGUAGE_MAX);
    CHECK(printable(st->language));
    CHECK(strlen(st->call_sid) < STT_JAMBONZ_CALL_SID_MAX && printable(st->call_sid));
    CHECK(st->n_hints <= STT_JAMBONZ_MAX_HINTS);
    CHECK(isfinite(st->hints_boost));
    for (size_t i = 0; i < st->n_hints; i++) {
        size_t n = strlen(st->hints[i]);
        CHECK(n > 0 && n <= STT_JAMBONZ_HINT_MAX_BYTES);
        CHECK(st->hints[i][0] != ' ' && st->hints[i][n - 1] != ' ');
        CHECK(utf8_valid((const unsigned char *)st->hints[i], n));
    }
}

/* Writes st back as a start message and parses it again: the same start must come back. */
static void check_round_trip(const stt_jambonz_start_t *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "start");
    cJSON_AddStringToObject(o, "language", st->language);
    cJSON_AddStringToObject(o, "format", "raw");
    cJSON_AddStringToObject(o, "encoding", "LINEAR16");
    cJSON_AddBoolToObject(o, "interimResults", st->interim_results);
    cJSON_AddNumberToObject(o, "sampleRateHz", st->sample_rate_hz);
    cJSON *opt = cJSON_AddObjectToObject(o, "options");
    if (st->call_sid[0])
        cJSON_AddStringToObject(opt, "callSid", st->call_sid);
    cJSON *hints = cJSON_AddArrayToObject(opt, "hints");
    for (size_t i = 0; i < st->n_hints; i++)
        cJSON_AddItemToArray(hints, cJSON_CreateString(st->hints[i]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    CHECK(text != NULL);
    stt_jambonz_msg_t back;
    char err[256];
    CHECK(stt_jambonz_parse(text, strlen(text), 1 << 20, &back, err, sizeof(err)) ==
          STT_JAMBONZ_ERR_OK);
    CHECK(back.kind == STT_JAMBONZ_MSG_START);
    CHECK(strcmp(back.start.language, st->language) == 0);
    CHECK(strcmp(back.start.call_sid, st->call_sid) == 0);
    CHECK(back.start.sample_rate_hz == st->sample_rate_hz);
    CHECK(back.start.interim_results == st->interim_results);
    CHECK(back.start.n_hints == st->n_hints);
    for (size_t i = 0; i < st->n_hints; i++)
        CHECK(strcmp(back.start.hints[i], st->hints[i]) == 0);
    stt_jambonz_msg_dispose(&back);
    free(text);
}

static void check_prompt(const stt_jambonz_start_t *st)
{
    static const size_t caps[] = {0, 1, 8, 64, 4096};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        char buf[4096];
        size_t n = stt_jambonz_hints_prompt(st->hints, st->n_hints, caps[c] ? buf : NULL, caps[c]);
        if (caps[c] == 0) {
            CHECK(n == 0);
            continue;
        }
        CHECK(n < caps[c] && strlen(buf) == n);
        /* whole hints in order */
        size_t o = 0;
        for (size_t i = 0; i < st->n_hints && o < n; i++) {
            if (i > 0) {
                CHECK(strncmp(buf + o, ", ", 2) == 0);
                o += 2;
            }
            size_t len = strlen(st->hints[i]);
            CHECK(strncmp(buf + o, st->hints[i], len) == 0);
            o += len;
        }
        CHECK(o == n);
    }
}

/* The reference reading of "type is stop": cJSON over the same bytes, when they are an object
 * whose last "type" member is the string "stop" in any case. */
static int reference_is_stop(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    int stop = 0;
    if (cJSON_IsObject(root)) {
        const cJSON *type = NULL;
        for (const cJSON *it = root->child; it; it = it->next)
            if (it->string && strcmp(it->string, "type") == 0)
                type = it;
        stop = cJSON_IsString(type) && strcasecmp(type->valuestring, "stop") == 0;
    }
    cJSON_Delete(root);
    return stop;
}

static void check_parse(const uint8_t *data, size_t size, size_t cap)
{
    stt_jambonz_msg_t m;
    char err[256];
    stt_jambonz_err_t rc = stt_jambonz_parse((const char *)data, size, cap, &m, err, sizeof(err));
    if (rc != STT_JAMBONZ_ERR_OK) {
        CHECK(strcmp(stt_jambonz_err_name(rc), "unknown_jambonz_error") != 0);
        int code = stt_jambonz_err_close_code(rc);
        CHECK(code == 1003 || code == 1007 || code == 1009);
        CHECK(err[0] != '\0');
        CHECK(m.kind == STT_JAMBONZ_MSG_NONE && m.mem == NULL && m.start.n_hints == 0);
        CHECK(rc != STT_JAMBONZ_ERR_TOOBIG || size > (cap ? cap : STT_JAMBONZ_MAX_MESSAGE_BYTES));
        return;
    }
    CHECK(size <= (cap ? cap : STT_JAMBONZ_MAX_MESSAGE_BYTES));
    CHECK(utf8_valid(data, size));
    if (reference_is_stop(data, size))
        CHECK(m.kind == STT_JAMBONZ_MSG_STOP);
    if (m.kind == STT_JAMBONZ_MSG_START) {
        check_start(&m.start);
        check_round_trip(&m.start);
        check_prompt(&m.start);
    } else {
        CHECK(m.kind == STT_JAMBONZ_MSG_STOP || m.kind == STT_JAMBONZ_MSG_OTHER);
        CHECK(m.mem == NULL);
    }
    stt_jambonz_msg_dispose(&m);
}

static void check_replies(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && data[n] != 0)
        n++;
    char *text = malloc(n + 1);
    CHECK(text != NULL);
    memcpy(text, data, n);
    text[n] = '\0';
    double conf = size >= 8 ? 0 : -1;
    if (size >= 8)
        memcpy(&conf, data + size - 8, 8); /* any double: NaN, infinities, negatives */
    stt_jambonz_transcription_t t = {.is_final = (int)(size & 1), .transcript = text,
                                     .confidence = conf, .language = "en-US", .channel = 1};
    char *js = stt_jambonz_build_transcription(&t);
    CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
    cJSON *o = cJSON_Parse(js);
    CHECK(cJSON_IsObject(o));
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "transcription") == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_final")) == (int)(size & 1));
    const cJSON *alts = cJSON_GetObjectItemCaseSensitive(o, "alternatives");
    CHECK(cJSON_GetArraySize(alts) == 1);
    const cJSON *a = cJSON_GetArrayItem(alts, 0);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(a, "transcript");
    CHECK(cJSON_IsString(tr));
    if (utf8_valid((const unsigned char *)text, n))
        CHECK(strcmp(tr->valuestring, text) == 0);
    double c = cJSON_GetObjectItemCaseSensitive(a, "confidence")->valuedouble;
    CHECK(c >= 0 && c <= 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "channel")->valuedouble == 1);
    cJSON_Delete(o);
    free(js);

    js = stt_jambonz_build_error(text);
    CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
    o = cJSON_Parse(js);
    CHECK(cJSON_IsObject(o));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    CHECK(cJSON_IsString(e));
    if (utf8_valid((const unsigned char *)text, n))
        CHECK(strcmp(e->valuestring, text) == 0);
    cJSON_Delete(o);
    free(js);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size, 0);
    check_parse(data, size, 64);
    check_replies(data, size);
    return 0;
}

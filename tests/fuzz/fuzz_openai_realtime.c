/* libFuzzer driver for the OpenAI Realtime transcription codec (src/proto/openai_realtime.c)
 * and the shared base64 decoder (src/proto/base64.c).
 *
 * Each input is used three ways.
 * 1. As one client event, parsed with the default caps and with a 64-byte audio cap. An error
 *    must carry one of the documented codes, a message, and leave nothing allocated. An OK
 *    append's audio must match the base64 rules, checked against cJSON's reading of the same
 *    bytes: the string's length a multiple of 4, the decoded length len / 4 * 3 minus the
 *    padding, at most the cap, and the audio encoded again giving the very same string. An OK
 *    session update is applied to the defaults, the session event built from it, and that
 *    session object sent back as a client update (by this driver, with cJSON): it must parse,
 *    and applying it to the defaults must give the same session (the round trip).
 * 2. As base64 text on its own: the decoder must refuse or decode to exactly
 *    stt_base64_strict_len bytes, and re-encoding what it decoded must give the input back.
 * 3. The bytes up to the first NUL as a transcript: the delta, completed and error events must
 *    be strict UTF-8 JSON of the documented shape with the text back unchanged when it was
 *    valid UTF-8.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/openai_realtime/) as an ordinary test. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/base64.h"
#include "stt/text.h"
#include "stt/openai_realtime.h"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const char *const codes[] = {"invalid_value",     "invalid_type", "unknown_parameter",
                                    "missing_required_parameter", "invalid_json",
                                    "unsupported_event", NULL};

static int known_code(const char *c)
{
    for (size_t i = 0; c && codes[i]; i++)
        if (strcmp(c, codes[i]) == 0)
            return 1;
    return 0;
}

static int same_session(const stt_oairt_session_t *a, const stt_oairt_session_t *b)
{
    return a->format == b->format && strcmp(a->model, b->model) == 0 &&
           strcmp(a->language, b->language) == 0 && strcmp(a->prompt, b->prompt) == 0 &&
           a->turn_detection == b->turn_detection &&
           (!a->turn_detection ||
            (a->threshold == b->threshold && a->prefix_padding_ms == b->prefix_padding_ms &&
             a->silence_duration_ms == b->silence_duration_ms)) &&
           strcmp(a->noise_reduction, b->noise_reduction) == 0 &&
           a->include_logprobs == b->include_logprobs;
}

/* The session event's session object, less id and object, sent back as an update. */
static void round_trip_session(const stt_oairt_update_t *u)
{
    stt_oairt_session_t s;
    stt_oairt_session_defaults(&s);
    stt_oairt_session_apply(&s, u);
    char *js = stt_oairt_build_session("transcription_session.updated", "event_1", &s);
    CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
    cJSON *o = cJSON_Parse(js);
    free(js);
    CHECK(cJSON_IsObject(o));
    cJSON *sess = cJSON_DetachItemFromObjectCaseSensitive(o, "session");
    CHECK(cJSON_IsObject(sess));
    cJSON_DeleteItemFromObjectCaseSensitive(sess, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(sess, "object");
    cJSON_Delete(o);
    cJSON *upd = cJSON_CreateObject();
    cJSON_AddStringToObject(upd, "type", "transcription_session.update");
    cJSON_AddItemToObject(upd, "session", sess);
    char *text = cJSON_PrintUnformatted(upd);
    cJSON_Delete(upd);
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    CHECK(stt_oairt_parse(text, strlen(text), 0, 0, &ev, &e) == 0);
    CHECK(ev.kind == STT_OAIRT_EV_SESSION_UPDATE);
    stt_oairt_session_t back;
    stt_oairt_session_defaults(&back);
    stt_oairt_session_apply(&back, &ev.update);
    CHECK(same_session(&s, &back));
    free(text);
}

static void check_append(const uint8_t *data, size_t size, const stt_oairt_event_t *ev,
                         size_t cap)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    CHECK(root != NULL);
    const cJSON *a = NULL;
    for (const cJSON *c = root->child; c; c = c->next) /* the last "audio" wins */
        if (strcmp(c->string, "audio") == 0)
            a = c;
    CHECK(cJSON_IsString(a));
    size_t len = strlen(a->valuestring);
    CHECK(len % 4 == 0);
    size_t pad = len && a->valuestring[len - 1] == '=' ? (a->valuestring[len - 2] == '=' ? 2 : 1)
                                                       : 0;
    CHECK(ev->audio_bytes == len / 4 * 3 - pad);
    CHECK(cap == 0 || ev->audio_bytes <= cap);
    char *enc = malloc(len + 5);
    CHECK(stt_base64_encode(ev->audio, ev->audio_bytes, enc) == len);
    CHECK(strcmp(enc, a->valuestring) == 0);
    free(enc);
    cJSON_Delete(root);
}

static void check_parse(const uint8_t *data, size_t size, size_t audio_cap)
{
    stt_oairt_event_t ev;
    stt_oairt_error_t e;
    int rc = stt_oairt_parse((const char *)data, size, 0, audio_cap, &ev, &e);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(known_code(e.code));
        CHECK(e.message[0] != '\0');
        CHECK(ev.kind == STT_OAIRT_EV_NONE && ev.audio == NULL);
        char *js = stt_oairt_build_error("event_1", "invalid_request_error", &e);
        CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
        cJSON *o = cJSON_Parse(js);
        CHECK(cJSON_IsObject(o));
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "error");
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(er, "code")->valuestring, e.code) == 0);
        cJSON_Delete(o);
        free(js);
        return;
    }
    CHECK(ev.kind >= STT_OAIRT_EV_SESSION_UPDATE && ev.kind <= STT_OAIRT_EV_CLEAR);
    CHECK(strlen(ev.event_id) < STT_OAIRT_EVENT_ID_MAX);
    if (ev.kind == STT_OAIRT_EV_APPEND)
        check_append(data, size, &ev, audio_cap);
    else
        CHECK(ev.audio == NULL);
    if (ev.kind == STT_OAIRT_EV_SESSION_UPDATE)
        round_trip_session(&ev.update);
    stt_oairt_event_dispose(&ev);
}

static void check_base64(const uint8_t *data, size_t size)
{
    uint8_t *out = malloc(size + 1);
    size_t n = 7;
    if (stt_base64_strict_decode((const char *)data, size, out, size, &n, "x", NULL, 0) ==
        STT_BASE64_OK) {
        CHECK(size % 4 == 0);
        CHECK(n == stt_base64_strict_len((const char *)data, size));
        char *enc = malloc(size + 5);
        CHECK(stt_base64_encode(out, n, enc) == size);
        CHECK(memcmp(enc, data, size) == 0);
        free(enc);
    } else {
        CHECK(n == 0);
    }
    free(out);
}

static void check_text(const uint8_t *data, size_t size)
{
    size_t n = strnlen((const char *)data, size);
    char *text = malloc(n + 1);
    memcpy(text, data, n);
    text[n] = '\0';
    int valid = utf8_valid((const unsigned char *)text, n);
    char *js = stt_oairt_build_delta("event_1", "item_1", text);
    CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
    cJSON *o = cJSON_Parse(js);
    CHECK(cJSON_IsObject(o));
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "delta");
    CHECK(cJSON_IsString(d));
    if (valid)
        CHECK(strcmp(d->valuestring, text) == 0);
    cJSON_Delete(o);
    free(js);
    js = stt_oairt_build_completed("event_2", "item_1", text);
    o = cJSON_Parse(js);
    d = cJSON_GetObjectItemCaseSensitive(o, "transcript");
    CHECK(cJSON_IsString(d));
    if (valid)
        CHECK(strcmp(d->valuestring, text) == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "content_index")->valuedouble == 0);
    cJSON_Delete(o);
    free(js);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size, 0);
    check_parse(data, size, 64);
    check_base64(data, size);
    check_text(data, size);
    return 0;
}

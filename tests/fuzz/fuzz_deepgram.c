/* libFuzzer driver for the Deepgram live streaming codec (src/proto/deepgram.c).
 *
 * Each input is used four ways.
 * 1. As a query string, with and without %-decoding: never a crash; an error leaves the
 *    defaults and gives a reason; an accepted query is within the documented ranges (rate
 *    8000..48000, channels 1..8, endpointing default/off/1..60000, utterance_end_ms 0 or
 *    1000..5000 and then interim_results, encoding given only with sample_rate, language and
 *    model short and printable, the prompt UTF-8 and under its cap), and the parameters written
 *    back as a query (by this driver) parse to the same values: the round trip.
 * 2. As a control message: an accepted one is one of the three types, and cJSON's own reading
 *    of the same bytes (the reference) agrees on the type; a refused one has a close code of
 *    1007, 1008 or 1009 and a reason.
 * 3. The bytes up to the first NUL as a transcript and a word: Results, UtteranceEnd,
 *    SpeechStarted, Metadata and the HTTP error are strict UTF-8 JSON of the documented shape
 *    that cJSON reads back with the same values (the transcript unchanged when it was valid
 *    UTF-8, times never negative, confidence in 0..1).
 * 4. The same text through stt_dg_plain_text: no ASCII mark or capital left, no double space.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/deepgram/) as an ordinary test without clang. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/deepgram.h"

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
        if (*s < 0x21 || *s > 0x7e)
            return 0;
    return 1;
}

static void check_ranges(const stt_dg_params_t *p)
{
    CHECK(p->sample_rate_hz >= STT_DG_MIN_RATE_HZ && p->sample_rate_hz <= STT_DG_MAX_RATE_HZ);
    CHECK(p->channels >= 1 && p->channels <= STT_DG_MAX_CHANNELS);
    CHECK(p->endpointing_ms == STT_DG_ENDPOINTING_DEFAULT ||
          (p->endpointing_ms >= 0 && p->endpointing_ms <= STT_DG_MAX_ENDPOINTING_MS));
    CHECK(p->utterance_end_ms == 0 || (p->utterance_end_ms >= STT_DG_MIN_UTTERANCE_END_MS &&
                                       p->utterance_end_ms <= STT_DG_MAX_UTTERANCE_END_MS));
    CHECK(p->utterance_end_ms == 0 || p->interim_results);
    CHECK(!p->encoding_given || p->sample_rate_given);
    CHECK(p->encoding == STT_DG_LINEAR16 || p->encoding == STT_DG_MULAW ||
          p->encoding == STT_DG_ALAW);
    CHECK(strlen(p->language) < STT_DG_LANGUAGE_MAX && printable(p->language));
    CHECK(strlen(p->model) < STT_DG_MODEL_MAX && printable(p->model));
    CHECK(strlen(p->prompt) < STT_DG_PROMPT_MAX);
    CHECK(utf8_valid((const unsigned char *)p->prompt, strlen(p->prompt)));
    CHECK(p->n_terms <= STT_DG_MAX_TERMS);
    CHECK(strlen(p->ignored) < sizeof(p->ignored));
    int flags[] = {p->multichannel, p->interim_results, p->vad_events, p->punctuate,
                   p->smart_format};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        CHECK(flags[i] == 0 || flags[i] == 1);
}

/* %-encodes s into out (every byte outside [A-Za-z0-9]). */
static void enc(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void check_round_trip(const stt_dg_params_t *p)
{
    static const char *const encs[] = {"linear16", "mulaw", "alaw"};
    char q[4096], v[1024];
    int n = 0;
    if (p->encoding_given)
        n += snprintf(q + n, sizeof(q) - (size_t)n, "encoding=%s&", encs[p->encoding]);
    if (p->sample_rate_given)
        n += snprintf(q + n, sizeof(q) - (size_t)n, "sample_rate=%d&", p->sample_rate_hz);
    n += snprintf(q + n, sizeof(q) - (size_t)n,
                  "channels=%d&multichannel=%s&interim_results=%s&vad_events=%s&punctuate=%s&"
                  "smart_format=%s&",
                  p->channels, p->multichannel ? "true" : "false",
                  p->interim_results ? "true" : "false", p->vad_events ? "true" : "false",
                  p->punctuate ? "true" : "false", p->smart_format ? "true" : "false");
    if (p->endpointing_ms != STT_DG_ENDPOINTING_DEFAULT)
        n += snprintf(q + n, sizeof(q) - (size_t)n, "endpointing=%d&", p->endpointing_ms);
    if (p->utterance_end_ms)
        n += snprintf(q + n, sizeof(q) - (size_t)n, "utterance_end_ms=%d&", p->utterance_end_ms);
    if (p->language[0]) {
        enc(p->language, v, sizeof(v));
        n += snprintf(q + n, sizeof(q) - (size_t)n, "language=%s&", v);
    }
    if (p->model[0]) {
        enc(p->model, v, sizeof(v));
        n += snprintf(q + n, sizeof(q) - (size_t)n, "model=%s&", v);
    }
    int with_prompt = p->prompt[0] && strlen(p->prompt) <= STT_DG_TERM_MAX_BYTES;
    if (with_prompt) { /* the joined prompt as one keyterm comes back as it is */
        enc(p->prompt, v, sizeof(v));
        n += snprintf(q + n, sizeof(q) - (size_t)n, "keyterm=%s", v);
    }
    CHECK(n > 0 && (size_t)n < sizeof(q));
    stt_dg_params_t b;
    char err[256];
    CHECK(stt_dg_parse_query(q, (size_t)n, 1, &b, err, sizeof(err)) == 0);
    CHECK(b.encoding == p->encoding && b.encoding_given == p->encoding_given);
    CHECK(b.sample_rate_hz == p->sample_rate_hz && b.channels == p->channels);
    CHECK(b.multichannel == p->multichannel && b.interim_results == p->interim_results);
    CHECK(b.vad_events == p->vad_events && b.punctuate == p->punctuate);
    CHECK(b.smart_format == p->smart_format);
    CHECK(b.endpointing_ms == p->endpointing_ms && b.utterance_end_ms == p->utterance_end_ms);
    CHECK(strcmp(b.language, p->language) == 0 && strcmp(b.model, p->model) == 0);
    CHECK(!with_prompt || strcmp(b.prompt, p->prompt) == 0);
}

static void check_query(const uint8_t *data, size_t size, int decode)
{
    stt_dg_params_t p;
    char err[256];
    int rc = stt_dg_parse_query((const char *)data, size, decode, &p, err, sizeof(err));
    if (rc != 0) {
        CHECK(rc == -1 && err[0] != '\0');
        stt_dg_params_t d;
        stt_dg_params_init(&d);
        CHECK(memcmp(&d, &p, sizeof(d)) == 0);
        return;
    }
    check_ranges(&p);
    check_round_trip(&p);
}

/* The reference reading of a control message's type: cJSON over the same bytes. */
static const char *reference_type(const uint8_t *data, size_t size, char *buf, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    const char *out = NULL;
    if (cJSON_IsObject(root)) {
        const cJSON *type = NULL;
        for (const cJSON *it = root->child; it; it = it->next)
            if (it->string && strcmp(it->string, "type") == 0)
                type = it;
        if (cJSON_IsString(type)) {
            snprintf(buf, cap, "%s", type->valuestring);
            out = buf;
        }
    }
    cJSON_Delete(root);
    return out;
}

static void check_control(const uint8_t *data, size_t size)
{
    stt_dg_control_t c;
    int code = 0;
    char err[256];
    int rc = stt_dg_parse_control((const char *)data, size, &c, &code, err, sizeof(err));
    if (rc != 0) {
        CHECK(code == 1007 || code == 1008 || code == 1009);
        CHECK(err[0] != '\0');
        CHECK(code != 1009 || size > STT_DG_MAX_CONTROL_BYTES);
        return;
    }
    CHECK(size <= STT_DG_MAX_CONTROL_BYTES);
    CHECK(utf8_valid(data, size));
    char tb[64];
    const char *t = reference_type(data, size, tb, sizeof(tb));
    CHECK(t != NULL);
    switch (c.kind) {
    case STT_DG_CTL_KEEPALIVE:
        CHECK(strcmp(t, "KeepAlive") == 0);
        break;
    case STT_DG_CTL_FINALIZE:
        CHECK(strcmp(t, "Finalize") == 0);
        CHECK(c.channel >= -1 && c.channel < STT_DG_MAX_CHANNELS);
        break;
    case STT_DG_CTL_CLOSESTREAM:
        CHECK(strcmp(t, "CloseStream") == 0);
        break;
    default:
        CHECK(0);
    }
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    CHECK(v != NULL);
    return v;
}

static cJSON *parse_out(char *js)
{
    CHECK(js != NULL && utf8_valid((const unsigned char *)js, strlen(js)));
    cJSON *o = cJSON_Parse(js);
    CHECK(cJSON_IsObject(o));
    free(js);
    return o;
}

static void check_builders(const uint8_t *data, size_t size)
{
    size_t n = 0;
    while (n < size && data[n] != 0)
        n++;
    char *text = malloc(n + 1);
    CHECK(text != NULL);
    memcpy(text, data, n);
    text[n] = '\0';
    int valid = utf8_valid((const unsigned char *)text, n);
    double x = -1;
    if (size >= 8)
        memcpy(&x, data + size - 8, 8); /* any double: NaN, infinities, negatives */
    stt_dg_word_t w[2] = {{text, x, x + 0.5, x}, {"World.", 1.0, 0.5, 2.0}};
    stt_dg_results_t r = {.channel_index = (int)(size % 3), .channels = 3, .start_s = x,
                          .duration_s = 1.25, .is_final = (int)(size & 1),
                          .speech_final = (int)((size >> 1) & 1), .from_finalize = 0,
                          .transcript = text, .confidence = x, .words = w, .n_words = 2,
                          .request_id = "rid", .model_name = text, .model_uuid = "uuid"};
    cJSON *o = parse_out(stt_dg_build_results(&r));
    CHECK(strcmp(get(o, "type")->valuestring, "Results") == 0);
    const cJSON *ci = get(o, "channel_index");
    CHECK(cJSON_GetArraySize(ci) == 2 && cJSON_GetArrayItem(ci, 0)->valueint == (int)(size % 3));
    CHECK(cJSON_IsTrue(get(o, "is_final")) == (int)(size & 1));
    CHECK(cJSON_IsTrue(get(o, "speech_final")) == (int)((size >> 1) & 1));
    CHECK(cJSON_IsFalse(get(o, "from_finalize")));
    CHECK(get(o, "start")->valuedouble >= 0 && get(o, "duration")->valuedouble == 1.25);
    const cJSON *alt = cJSON_GetArrayItem(get(get(o, "channel"), "alternatives"), 0);
    CHECK(alt != NULL);
    if (valid)
        CHECK(strcmp(get(alt, "transcript")->valuestring, text) == 0);
    double c = get(alt, "confidence")->valuedouble;
    CHECK(c >= 0 && c <= 1);
    const cJSON *words = get(alt, "words");
    CHECK(cJSON_GetArraySize(words) == 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *wo = cJSON_GetArrayItem(words, i);
        double s = get(wo, "start")->valuedouble, e = get(wo, "end")->valuedouble;
        double wc = get(wo, "confidence")->valuedouble;
        CHECK(s >= 0 && e >= s && wc >= 0 && wc <= 1);
        CHECK(cJSON_IsString(get(wo, "word")) && cJSON_IsString(get(wo, "punctuated_word")));
    }
    const cJSON *w1 = cJSON_GetArrayItem(words, 1);
    CHECK(strcmp(get(w1, "word")->valuestring, "world") == 0);
    CHECK(strcmp(get(w1, "punctuated_word")->valuestring, "World.") == 0);
    if (valid)
        CHECK(strcmp(get(cJSON_GetArrayItem(words, 0), "punctuated_word")->valuestring, text) ==
              0);
    const cJSON *md = get(o, "metadata");
    CHECK(strcmp(get(md, "request_id")->valuestring, "rid") == 0);
    CHECK(strcmp(get(md, "model_uuid")->valuestring, "uuid") == 0);
    if (valid)
        CHECK(strcmp(get(get(md, "model_info"), "name")->valuestring, text) == 0);
    cJSON_Delete(o);

    o = parse_out(stt_dg_build_utterance_end(1, 2, x));
    CHECK(strcmp(get(o, "type")->valuestring, "UtteranceEnd") == 0);
    CHECK(get(o, "last_word_end")->valuedouble >= 0);
    CHECK(cJSON_GetArrayItem(get(o, "channel"), 1)->valueint == 2);
    if (isfinite(x) && x >= 0 && x < 1e6)
        CHECK(fabs(get(o, "last_word_end")->valuedouble - x) <= 1e-6);
    cJSON_Delete(o);

    o = parse_out(stt_dg_build_speech_started(0, 1, x));
    CHECK(strcmp(get(o, "type")->valuestring, "SpeechStarted") == 0);
    CHECK(get(o, "timestamp")->valuedouble >= 0);
    cJSON_Delete(o);

    stt_dg_metadata_t m = {.request_id = text, .sha256_hex = "ab", .created = "c",
                           .duration_s = x, .channels = 2, .model_name = "m",
                           .model_uuid = text};
    o = parse_out(stt_dg_build_metadata(&m));
    CHECK(strcmp(get(o, "type")->valuestring, "Metadata") == 0);
    CHECK(strcmp(get(o, "transaction_key")->valuestring, "deprecated") == 0);
    CHECK(get(o, "duration")->valuedouble >= 0 && get(o, "channels")->valueint == 2);
    const char *uuid = cJSON_GetArrayItem(get(o, "models"), 0)->valuestring;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(get(o, "model_info"), uuid);
    CHECK(info != NULL && strcmp(get(info, "name")->valuestring, "m") == 0);
    if (valid)
        CHECK(strcmp(get(o, "request_id")->valuestring, text) == 0 && strcmp(uuid, text) == 0);
    cJSON_Delete(o);

    o = parse_out(stt_dg_build_http_error("Bad Request", text, "id"));
    CHECK(strcmp(get(o, "err_code")->valuestring, "Bad Request") == 0);
    if (valid)
        CHECK(strcmp(get(o, "err_msg")->valuestring, text) == 0);
    cJSON_Delete(o);

    char *plain = stt_dg_plain_text(text);
    CHECK(utf8_valid((const unsigned char *)plain, strlen(plain)));
    for (size_t i = 0; plain[i]; i++) {
        CHECK(!strchr(".,?!;:\"", plain[i]) && !(plain[i] >= 'A' && plain[i] <= 'Z'));
        CHECK(!(plain[i] == ' ' && (i == 0 || plain[i + 1] == ' ' || plain[i + 1] == '\0')));
    }
    free(plain);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_query(data, size, 1);
    check_query(data, size, 0);
    check_control(data, size);
    check_builders(data, size);
    return 0;
}

/* libFuzzer driver for the OpenAI file transcription codec (src/proto/openai_files.c).
 *
 * The input is a form: lines "name=value" split at '\n' (a value may hold any byte but '\n').
 * 1. Each line goes through stt_oaf_field like a completed multipart field. An error must be
 *    400 with a non-empty message of printable ASCII, a static param, and an error body that
 *    cJSON reads back with the same message, type, param and code. After every field the
 *    request must stay in range: a known format, temperature in 0..1, a language Whisper names,
 *    a rate in 8000..48000, 1..8 channels, granularity count within its cap, and a prompt that
 *    is the tail of the last prompt sent, shorter than its cap and not cut inside a character.
 *    A refused field leaves the request as it was. The end check must fail exactly when the
 *    reference rules (written here) say so.
 * 2. Each line's value that is valid UTF-8 becomes a segment (times from the line number) and
 *    its words: the json and verbose_json responses must read back (text = the segments
 *    joined, segment count, word count), srt must have one numbered cue per non-empty segment,
 *    and the SSE events must read back to the same delta and text.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/openai_files/). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/openai_files.h"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define MAX_LINES 64

static void check_error(const stt_oaf_error_t *e)
{
    CHECK(e->status == 400);
    size_t n = strlen(e->message);
    CHECK(n > 0 && n < sizeof(e->message));
    for (size_t i = 0; i < n; i++)
        CHECK(e->message[i] >= 0x20 && e->message[i] < 0x7f);
    char *body = stt_oaf_build_error(e);
    cJSON *j = cJSON_Parse(body);
    CHECK(j);
    cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "error");
    CHECK(cJSON_IsObject(o));
    cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
    CHECK(cJSON_IsString(m) && strcmp(m->valuestring, e->message) == 0);
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "type")));
    cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "param");
    CHECK(e->param ? cJSON_IsString(p) && strcmp(p->valuestring, e->param) == 0 : cJSON_IsNull(p));
    cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "code");
    CHECK(e->code ? cJSON_IsString(c) && strcmp(c->valuestring, e->code) == 0 : cJSON_IsNull(c));
    cJSON_Delete(j);
    free(body);
}

static void check_request(const stt_oaf_request_t *r, const char *last_prompt, size_t plen)
{
    CHECK((unsigned)r->format <= STT_OAF_VERBOSE_JSON);
    CHECK(r->temperature >= 0 && r->temperature <= 1);
    CHECK(r->language[0] == '\0' || stt_oaf_language_name(r->language)[0]);
    CHECK(r->sample_rate_hz >= STT_OAF_MIN_RATE_HZ && r->sample_rate_hz <= STT_OAF_MAX_RATE_HZ);
    CHECK(r->channels >= 1 && r->channels <= STT_OAF_MAX_CHANNELS);
    CHECK(r->n_granularities <= STT_OAF_GRANULARITIES_MAX);
    CHECK(r->stream == 0 || r->stream == 1);
    CHECK(strlen(r->model) < STT_OAF_MODEL_MAX);
    size_t n = strlen(r->prompt);
    CHECK(n < STT_OAF_PROMPT_MAX);
    if (last_prompt) {
        CHECK(n <= plen && memcmp(r->prompt, last_prompt + (plen - n), n) == 0);
        CHECK(((unsigned char)r->prompt[0] & 0xC0) != 0x80);
        /* Only as much dropped as the cap forces, plus at most 3 continuation bytes. */
        size_t forced = plen > STT_OAF_PROMPT_MAX - 1 ? plen - (STT_OAF_PROMPT_MAX - 1) : 0;
        CHECK(plen - n <= forced + 3);
    }
}

/* The end check's reference. */
static int ref_check_ok(const stt_oaf_request_t *r)
{
    if (!r->has_model || !r->model[0])
        return 0;
    if (r->n_granularities > 0 && r->format != STT_OAF_VERBOSE_JSON)
        return 0;
    if (r->stream && r->format != STT_OAF_JSON && r->format != STT_OAF_TEXT)
        return 0;
    return 1;
}

static void check_responses(const stt_oaf_segment_t *segs, size_t ns, const stt_oaf_word_t *words,
                            size_t nw)
{
    stt_oaf_transcript_t t = {.task = "transcribe", .language = "en", .duration_s = ns * 2.0,
                              .segments = segs, .n_segments = ns, .words = words, .n_words = nw,
                              .want_segments = 1, .want_words = 1};
    char *joined = stt_oaf_join_text(&t);
    size_t len;
    char *s = stt_oaf_build_response(&t, STT_OAF_JSON, &len);
    CHECK(strlen(s) == len);
    cJSON *j = cJSON_Parse(s);
    CHECK(j && strcmp(cJSON_GetObjectItemCaseSensitive(j, "text")->valuestring, joined) == 0);
    cJSON_Delete(j);
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_VERBOSE_JSON, &len);
    j = cJSON_Parse(s);
    CHECK(j);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "text")->valuestring, joined) == 0);
    CHECK((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "segments")) == ns);
    CHECK((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "words")) == nw);
    cJSON_Delete(j);
    free(s);
    s = stt_oaf_build_response(&t, STT_OAF_SRT, &len);
    size_t cues = 0;
    for (size_t i = 0; i < ns; i++)
        cues += segs[i].text[0] != '\0';
    size_t arrows = 0;
    for (const char *p = s; (p = strstr(p, " --> ")) != NULL; p += 5)
        arrows++;
    /* A segment's own text may hold " --> " too: at least one per cue. */
    CHECK(arrows >= cues);
    CHECK(cues == 0 ? len == 0 : strncmp(s, "1\n00:00:", 8) == 0);
    free(s);
    s = stt_oaf_sse_done(joined, &len);
    CHECK(strncmp(s, "data: ", 6) == 0 && len >= 8 && strcmp(s + len - 2, "\n\n") == 0);
    s[len - 2] = '\0';
    j = cJSON_Parse(s + 6);
    CHECK(j && strcmp(cJSON_GetObjectItemCaseSensitive(j, "text")->valuestring, joined) == 0);
    cJSON_Delete(j);
    free(s);
    free(joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stt_oaf_request_t r;
    stt_oaf_request_init(&r);
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *last_prompt = NULL;
    size_t last_plen = 0;
    stt_oaf_segment_t segs[MAX_LINES];
    stt_oaf_word_t words[MAX_LINES];
    char *texts[MAX_LINES];
    size_t ns = 0;
    size_t pos = 0;
    while (pos < size && ns < MAX_LINES) {
        char *line = buf + pos;
        char *nl = memchr(line, '\n', size - pos);
        size_t llen = nl ? (size_t)(nl - line) : size - pos;
        pos += llen + 1;
        char *eq = memchr(line, '=', llen);
        if (!eq)
            continue;
        *eq = '\0';
        const char *value = eq + 1;
        size_t vlen = llen - (size_t)(eq + 1 - line);
        stt_oaf_error_t e;
        stt_oaf_request_t before = r;
        int rc = stt_oaf_field(&r, line, value, vlen, &e);
        int is_prompt = strcmp(line, "prompt") == 0;
        if (rc != 0) {
            check_error(&e);
            CHECK(memcmp(&before, &r, sizeof(r)) == 0); /* a refused field changes nothing */
        } else if (is_prompt) {
            free(last_prompt);
            last_prompt = malloc(vlen + 1);
            memcpy(last_prompt, value, vlen);
            last_prompt[vlen] = '\0';
            last_plen = vlen;
        }
        CHECK(rc == 0 || rc == -1);
        check_request(&r, last_prompt, last_plen);
        if (utf8_valid((const unsigned char *)value, vlen) && !memchr(value, '\0', vlen)) {
            texts[ns] = malloc(vlen + 1);
            memcpy(texts[ns], value, vlen);
            texts[ns][vlen] = '\0';
            segs[ns] = (stt_oaf_segment_t){texts[ns], ns * 2.0, ns * 2.0 + 1.5, 0, 0};
            words[ns] = (stt_oaf_word_t){texts[ns], ns * 2.0, ns * 2.0 + 1.0};
            ns++;
        }
    }
    stt_oaf_error_t e;
    int ok = stt_oaf_check(&r, &e) == 0;
    CHECK(ok == ref_check_ok(&r));
    if (!ok)
        check_error(&e);
    check_responses(segs, ns, words, ns);
    for (size_t i = 0; i < ns; i++)
        free(texts[i]);
    free(last_prompt);
    free(buf);
    return 0;
}

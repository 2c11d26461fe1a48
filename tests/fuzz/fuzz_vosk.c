/* libFuzzer driver for the vosk-server protocol codec (src/proto/vosk.c).
 *
 * Each input is used twice.
 * 1. As one client text message, parsed with the default cap and with a tight one (64 bytes, so
 *    small inputs also reach the size class). An error must have a known code, a 1007/1009 close
 *    code, a message and leave nothing allocated; an OK config must be in range, and
 *    stt_vosk_build_config() of it must parse back to the same config (the round trip).
 * 2. As reply material: the bytes up to the first NUL are a transcript, split at spaces into
 *    words whose times and confidences are raw doubles taken from the input (NaN, infinities and
 *    negatives included). Every reply built from them must be valid UTF-8 and valid JSON of
 *    vosk's shape, with times clamped to 0 <= start <= end and confidences to 0..1; text that is
 *    valid UTF-8 must come back unchanged after a JSON parse.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/vosk/) as an ordinary test without clang. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/vosk.h"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_WORDS 64

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_config_round_trip(const stt_vosk_config_t *c)
{
    char *text = stt_vosk_build_config(c);
    CHECK(utf8_valid((const unsigned char *)text, strlen(text)));
    stt_vosk_msg_t back;
    char err[256];
    /* The printed form can be longer than the input (spacing, escapes): cap at its own size. */
    stt_vosk_err_t rc = stt_vosk_parse(text, strlen(text), strlen(text), &back, err, sizeof(err));
    CHECK(rc == STT_VOSK_ERR_OK && back.kind == STT_VOSK_MSG_CONFIG);
    const stt_vosk_config_t *b = &back.config;
    CHECK(b->present == c->present && b->sample_rate_hz == c->sample_rate_hz &&
          b->words == c->words && b->max_alternatives == c->max_alternatives &&
          b->n_phrases == c->n_phrases);
    for (size_t i = 0; i < c->n_phrases; i++)
        CHECK(strcmp(b->phrases[i], c->phrases[i]) == 0);
    CHECK((b->model == NULL) == (c->model == NULL));
    CHECK(c->model == NULL || strcmp(b->model, c->model) == 0);
    stt_vosk_msg_dispose(&back);
    free(text);
}

static void check_parse(const uint8_t *data, size_t size, size_t max_bytes)
{
    stt_vosk_msg_t m;
    char err[256];
    stt_vosk_err_t rc = stt_vosk_parse((const char *)data, size, max_bytes, &m, err, sizeof(err));
    CHECK(rc >= STT_VOSK_ERR_OK && rc <= STT_VOSK_ERR_MODEL);
    if (rc != STT_VOSK_ERR_OK) {
        int cc = stt_vosk_err_close_code(rc);
        CHECK(cc == 1007 || cc == 1009);
        CHECK(err[0] != '\0' && m.kind == STT_VOSK_MSG_NONE && m.mem == NULL);
        CHECK(m.config.phrases == NULL && m.config.model == NULL && m.config.present == 0);
        /* The error reply must be a JSON object carrying the code and the message. */
        char *reply = stt_vosk_build_error(stt_vosk_err_name(rc), err);
        CHECK(utf8_valid((const unsigned char *)reply, strlen(reply)));
        cJSON *j = cJSON_Parse(reply);
        CHECK(j != NULL);
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
        CHECK(cJSON_IsString(code) && strcmp(code->valuestring, stt_vosk_err_name(rc)) == 0);
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
        cJSON_Delete(j);
        free(reply);
        return;
    }
    CHECK(err[0] == '\0');
    CHECK(max_bytes == 0 || size <= max_bytes);
    CHECK(m.kind == STT_VOSK_MSG_CONFIG || m.kind == STT_VOSK_MSG_EOF ||
          m.kind == STT_VOSK_MSG_RESET);
    if (m.kind == STT_VOSK_MSG_CONFIG) {
        const stt_vosk_config_t *c = &m.config;
        CHECK(c->sample_rate_hz >= STT_VOSK_MIN_RATE_HZ &&
              c->sample_rate_hz <= STT_VOSK_MAX_RATE_HZ);
        CHECK(c->words == 0 || c->words == 1);
        CHECK(c->max_alternatives >= 0 && c->max_alternatives <= STT_VOSK_MAX_ALTERNATIVES);
        CHECK((c->n_phrases == 0) || c->phrases != NULL);
        CHECK(!(c->present & STT_VOSK_HAS_MODEL) == (c->model == NULL));
        /* Touch every string so ASan checks they live inside the message's block. */
        volatile size_t sink = 0;
        for (size_t i = 0; i < c->n_phrases; i++)
            sink += strlen(c->phrases[i]);
        if (c->model != NULL)
            sink += strlen(c->model);
        (void)sink;
        check_config_round_trip(c);
    } else {
        CHECK(m.mem == NULL);
    }
    stt_vosk_msg_dispose(&m);
    CHECK(m.mem == NULL && m.kind == STT_VOSK_MSG_NONE);
}

/* A double from 8 input bytes at a rotating position (any bit pattern: NaN, inf, denormals). */
static double raw_double(const uint8_t *data, size_t size, size_t *pos)
{
    double v = 0;
    if (size >= sizeof(v)) {
        size_t at = *pos % (size - sizeof(v) + 1);
        memcpy(&v, data + at, sizeof(v));
        *pos += 3;
    }
    return v;
}

static double number(const cJSON *obj, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);
    CHECK(cJSON_IsNumber(n) && isfinite(n->valuedouble));
    return n->valuedouble;
}

/* Checks a "result" array against the words it was built from. */
static void check_words(const cJSON *result, const stt_vosk_word_t *w, size_t n, int with_conf,
                        int text_ok)
{
    CHECK(cJSON_IsArray(result) && (size_t)cJSON_GetArraySize(result) == n);
    size_t i = 0;
    for (const cJSON *it = result->child; it != NULL; it = it->next, i++) {
        double start = number(it, "start"), end = number(it, "end");
        CHECK(start >= 0 && start <= end && end <= 1e12 + 1);
        if (with_conf) {
            double conf = number(it, "conf");
            CHECK(conf >= 0 && conf <= 1);
        } else {
            CHECK(cJSON_GetObjectItemCaseSensitive(it, "conf") == NULL);
        }
        const cJSON *word = cJSON_GetObjectItemCaseSensitive(it, "word");
        CHECK(cJSON_IsString(word));
        CHECK(!text_ok || strcmp(word->valuestring, w[i].word) == 0);
    }
}

static void check_replies(const uint8_t *data, size_t size)
{
    /* The transcript: input bytes up to the first NUL. */
    size_t tlen = strnlen((const char *)data, size);
    char *text = malloc(tlen + 1);
    CHECK(text != NULL);
    memcpy(text, data, tlen);
    text[tlen] = '\0';
    int text_ok = utf8_valid((const unsigned char *)text, tlen);

    /* Words: the transcript split at spaces (a copy with NULs in place of the spaces). */
    char *split = malloc(tlen + 1);
    CHECK(split != NULL);
    memcpy(split, text, tlen + 1);
    stt_vosk_word_t words[MAX_WORDS];
    size_t n = 0, pos = 0;
    for (char *tok = split;;) {
        /* The last word takes the rest, spaces and all, so the joined words are the input. */
        char *sp = n + 1 < MAX_WORDS ? strchr(tok, ' ') : NULL;
        if (sp != NULL)
            *sp = '\0';
        words[n].word = tok;
        words[n].start_s = raw_double(data, size, &pos);
        words[n].end_s = raw_double(data, size, &pos);
        words[n].conf = raw_double(data, size, &pos);
        n++;
        if (sp == NULL)
            break;
        tok = sp + 1;
    }

    char *reply = stt_vosk_build_partial(text);
    CHECK(utf8_valid((const unsigned char *)reply, strlen(reply)));
    cJSON *j = cJSON_Parse(reply);
    CHECK(j != NULL && cJSON_GetArraySize(j) == 1);
    const cJSON *partial = cJSON_GetObjectItemCaseSensitive(j, "partial");
    CHECK(cJSON_IsString(partial) && (!text_ok || strcmp(partial->valuestring, text) == 0));
    cJSON_Delete(j);
    free(reply);

    stt_vosk_hyp_t hyps[3] = {
        {NULL, raw_double(data, size, &pos), words, n},
        {text, raw_double(data, size, &pos), words, n / 2},
        {NULL, -1, NULL, 0},
    };
    int max_alts = size > 0 ? data[0] % 5 : 0;
    for (int with_words = 0; with_words <= 1; with_words++) {
        stt_vosk_final_opts_t o = {with_words, max_alts, raw_double(data, size, &pos)};
        reply = stt_vosk_build_final(hyps, 3, &o);
        CHECK(utf8_valid((const unsigned char *)reply, strlen(reply)));
        j = cJSON_Parse(reply);
        CHECK(j != NULL);
        if (max_alts == 0) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
            CHECK(cJSON_IsString(t));
            /* hyps[0] has no text of its own: the words joined by spaces, i.e. the input. */
            CHECK(!text_ok || strcmp(t->valuestring, text) == 0);
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result");
            CHECK(with_words ? r != NULL : r == NULL);
            if (r != NULL)
                check_words(r, words, n, 1, text_ok);
        } else {
            const cJSON *alts = cJSON_GetObjectItemCaseSensitive(j, "alternatives");
            CHECK(cJSON_IsArray(alts) && cJSON_GetArraySize(alts) == (max_alts < 3 ? max_alts : 3));
            int k = 0;
            for (const cJSON *a = alts->child; a != NULL; a = a->next, k++) {
                double conf = number(a, "confidence");
                CHECK(conf >= 0 && conf <= 1);
                CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a, "text")));
                const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "result");
                CHECK((with_words && hyps[k].n_words > 0) == (r != NULL));
                if (r != NULL)
                    check_words(r, hyps[k].words, hyps[k].n_words, 0, text_ok);
            }
        }
        cJSON_Delete(j);
        free(reply);
    }
    free(split);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size, 0);
    check_parse(data, size, 64);
    check_replies(data, size);
    return 0;
}

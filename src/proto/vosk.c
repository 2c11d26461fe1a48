/* vosk-server WebSocket protocol codec (include/stt/vosk.h).
 *
 * Parsing. vosk-server's Python loop treats any text message containing the substring "config"
 * as a config (json.loads(message)['config']), compares eof and reset byte for byte with
 * '{"eof" : 1}' and '{"reset" : 1}', and hands every other message to the recognizer as audio,
 * where a text message raises and the connection dies with 1011. We parse every text message as
 * JSON instead and give each failure its own code, so a client learns what was wrong:
 *   1. TOOBIG     above max_bytes                        (before any parsing)
 *   2. JSON       empty, not strict UTF-8, raw control bytes, not JSON, trailing data
 *   3. NOTOBJ     not an object
 *   4. UNKNOWN    none of "config", "eof", "reset"; AMBIGUOUS: more than one of them
 *   5. EOFVAL / RESETVAL   the value is not 1 (1, 1.0, 1e0 and true are 1)
 *   6. CONFIG     "config" not an object, then per key: RATETYPE, RATERANGE, WORDS, ALTS,
 *                 PHRASES, MODEL, in that order
 * Leniencies, each matching what vosk-server accepts:
 * - eof and reset in any spacing, with any other keys beside them (vosk: exact bytes only).
 * - sample_rate may be an integral float (16000.0) or a string holding a plain decimal number
 *   ("16000"), because vosk-server runs float() over it. A fraction (8000.5) is refused: the
 *   resampler takes whole hertz.
 * - words may be a boolean or any number (nonzero = on), as vosk's bool() makes of it.
 * - phrase_list null counts as absent (vosk: a falsy list means no grammar).
 * - Unknown keys inside "config" are ignored, as vosk-server does; a duplicated key takes its
 *   last value, as Python's dict does.
 * "model" is returned uninterpreted: vosk-server loads whatever path a client names, which the
 * adapter must not do; it maps the string to a loaded model or refuses it.
 *
 * Building. vosk-server sends what vosk-api's recognizer returns, printed by vosk-api's json.h:
 * keys sorted (a std::map), `"key" : value`, each object member on its own line indented two
 * spaces per level, array elements separated by ", " on the same line, floats as
 * std::to_string() prints them (six decimals) and strings with only " \ \b \f \n \r \t escaped.
 * We print the same bytes, so a client that matches strings rather than parsing JSON (some do:
 * vosk-server's Java sample looks for the substring "partial") sees what vosk would send. Where
 * vosk-api writes invalid JSON (raw control bytes, invalid UTF-8 passed through) we escape them
 * as \u00XX or replace them with U+FFFD instead. Numbers are formatted by hand, not with
 * printf("%f"), so a locale set by a library can never turn "1.500000" into "1,500000".
 *
 * Thread-safety caveat: cJSON records the position of a parse failure in a process-wide variable
 * (cJSON_GetErrorPtr) even when, as here, the caller asks for it via return_parse_end. Concurrent
 * failing parses race on it; nothing reads it, so the race is harmless, but TSan reports it. */
#include "stt/vosk.h"
#include "stt/error.h"

#include "json_text.h"

#include "stt/log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Error table                                                                                 */
/* ------------------------------------------------------------------------------------------ */

const char *stt_vosk_err_name(stt_vosk_err_t e)
{
    switch (e) {
#define STT_VOSK_ERR_NAME(name, str, code)                                                         \
    case STT_VOSK_ERR_##name:                                                                      \
        return str;
        STT_VOSK_ERR_MAP(STT_VOSK_ERR_NAME)
#undef STT_VOSK_ERR_NAME
    }
    return "unknown_vosk_error";
}

int stt_vosk_err_close_code(stt_vosk_err_t e)
{
    switch (e) {
#define STT_VOSK_ERR_CODE(name, str, code)                                                         \
    case STT_VOSK_ERR_##name:                                                                      \
        return code;
        /* Many classes share a close code; the table, not the switch, is the source of truth. */
        STT_VOSK_ERR_MAP(STT_VOSK_ERR_CODE) /* NOLINT(bugprone-branch-clone) */
#undef STT_VOSK_ERR_CODE
    }
    return 1011; /* internal error: an out-of-range value is a bug in the caller */
}

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* UTF-8                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A string like Python's float() would turn into a plain number: optional ASCII whitespace,
 * digits, optionally '.' and more digits, optional whitespace. Exponents, signs, "inf" and
 * underscores are not worth the surprise. Returns 1 and the value, or 0. */
static int numeric_string(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    double v = 0, scale = 0.1;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        v = v * 10 + (*s - '0');
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits++, scale /= 10)
            v += (*s - '0') * scale;
    }
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (digits == 0 || *s != '\0')
        return 0;
    *out = v;
    return 1;
}

/* The value of "eof" or "reset" must be 1: the number 1 (in any spelling cJSON accepts) or
 * true, which Python compares equal to 1. */
static int is_one(const cJSON *item)
{
    return cJSON_IsTrue(item) || (cJSON_IsNumber(item) && item->valuedouble == 1.0);
}

/* Writes a short, printable rendering of a refused value into buf (strings quoted and cut). */
static const char *describe(const cJSON *item, char *buf, size_t cap)
{
    if (cJSON_IsNumber(item)) {
        snprintf(buf, cap, "%.10g", item->valuedouble);
    } else if (cJSON_IsString(item)) {
        /* Cut on a character boundary and keep control bytes out of the message. */
        const unsigned char *s = (const unsigned char *)item->valuestring;
        size_t len = strlen(item->valuestring), n = 0;
        char quoted[40];
        while (n < len && n < 24) {
            size_t k = stt_utf8_seq_len(s + n, len - n);
            if (k == 0 || s[n] < 0x20 || n + k > 24)
                break;
            n += k;
        }
        memcpy(quoted, s, n);
        quoted[n] = '\0';
        snprintf(buf, cap, "string \"%s%s\"", quoted, s[n] != '\0' ? "..." : "");
    } else {
        snprintf(buf, cap, "%s", stt_json_type_name(item));
    }
    return buf;
}

static stt_vosk_err_t check_rate(const cJSON *v, stt_vosk_config_t *c, char *err, size_t errlen)
{
    char what[64];
    double r;
    if (cJSON_IsNumber(v))
        r = v->valuedouble;
    else if (!cJSON_IsString(v) || !numeric_string(v->valuestring, &r))
        return fail(STT_VOSK_ERR_RATETYPE, err, errlen, "sample_rate must be a number, got %s",
                    describe(v, what, sizeof(what)));
    if (isfinite(r) && !stt_json_is_integral(r))
        return fail(STT_VOSK_ERR_RATETYPE, err, errlen,
                    "sample_rate must be a whole number, got %s", describe(v, what, sizeof(what)));
    /* Compare as double: casting an out-of-range double to int is undefined behaviour. */
    if (!(r >= STT_VOSK_MIN_RATE_HZ && r <= STT_VOSK_MAX_RATE_HZ))
        return fail(STT_VOSK_ERR_RATERANGE, err, errlen, "sample_rate %.10g outside %d..%d", r,
                    STT_VOSK_MIN_RATE_HZ, STT_VOSK_MAX_RATE_HZ);
    c->sample_rate_hz = (int)r;
    c->present |= STT_VOSK_HAS_SAMPLE_RATE;
    return STT_VOSK_ERR_OK;
}

static stt_vosk_err_t check_alts(const cJSON *v, stt_vosk_config_t *c, char *err, size_t errlen)
{
    char what[64];
    if (!cJSON_IsNumber(v) || !stt_json_is_integral(v->valuedouble))
        return fail(STT_VOSK_ERR_ALTS, err, errlen,
                    "max_alternatives must be a whole number, got %s",
                    describe(v, what, sizeof(what)));
    double n = v->valuedouble;
    if (n < 0 || n > STT_VOSK_MAX_ALTERNATIVES)
        return fail(STT_VOSK_ERR_ALTS, err, errlen, "max_alternatives %.10g outside 0..%d", n,
                    STT_VOSK_MAX_ALTERNATIVES);
    c->max_alternatives = (int)n;
    c->present |= STT_VOSK_HAS_MAX_ALTERNATIVES;
    return STT_VOSK_ERR_OK;
}

/* Checks phrase_list and model and copies them into one block owned by the message: the phrase
 * pointer array, then the phrases, then the model, so one free() releases everything. */
static stt_vosk_err_t copy_strings(const cJSON *phrases, const cJSON *model, stt_vosk_msg_t *out,
                                   char *err, size_t errlen)
{
    char what[64];
    size_t n = 0, bytes = 0, i = 0;
    if (phrases != NULL && cJSON_IsNull(phrases))
        phrases = NULL;
    if (phrases != NULL) {
        if (!cJSON_IsArray(phrases))
            return fail(STT_VOSK_ERR_PHRASES, err, errlen,
                        "phrase_list must be an array of strings, got %s",
                        describe(phrases, what, sizeof(what)));
        for (const cJSON *it = phrases->child; it != NULL; it = it->next, n++) {
            if (!cJSON_IsString(it))
                return fail(STT_VOSK_ERR_PHRASES, err, errlen,
                            "phrase_list[%zu] must be a string, got %s", n,
                            describe(it, what, sizeof(what)));
            bytes += strlen(it->valuestring) + 1;
        }
    }
    if (model != NULL) {
        if (!cJSON_IsString(model))
            return fail(STT_VOSK_ERR_MODEL, err, errlen, "model must be a string, got %s",
                        describe(model, what, sizeof(what)));
        bytes += strlen(model->valuestring) + 1;
    }
    if (phrases == NULL && model == NULL)
        return STT_VOSK_ERR_OK;

    /* Sizes are bounded by the message cap, so none of this can overflow. */
    char **ptrs = stt_malloc(n * sizeof(char *) + bytes);
    char *p = (char *)(ptrs + n);
    if (phrases != NULL) {
        for (const cJSON *it = phrases->child; it != NULL; it = it->next, i++) {
            size_t k = strlen(it->valuestring) + 1;
            memcpy(p, it->valuestring, k);
            ptrs[i] = p;
            p += k;
        }
        out->config.phrases = (const char *const *)ptrs;
        out->config.n_phrases = n;
        out->config.present |= STT_VOSK_HAS_PHRASE_LIST;
    }
    if (model != NULL) {
        memcpy(p, model->valuestring, strlen(model->valuestring) + 1);
        out->config.model = p;
        out->config.present |= STT_VOSK_HAS_MODEL;
    }
    out->mem = ptrs;
    return STT_VOSK_ERR_OK;
}

static stt_vosk_err_t check_config(const cJSON *cfg, stt_vosk_msg_t *out, char *err,
                                   size_t errlen)
{
    char what[64];
    stt_vosk_config_t *c = &out->config;
    if (!cJSON_IsObject(cfg))
        return fail(STT_VOSK_ERR_CONFIG, err, errlen, "config must be an object, got %s",
                    describe(cfg, what, sizeof(what)));

    stt_vosk_err_t rc;
    const cJSON *v = stt_json_last_member(cfg, "sample_rate");
    if (v != NULL && (rc = check_rate(v, c, err, errlen)) != STT_VOSK_ERR_OK)
        return rc;
    v = stt_json_last_member(cfg, "words");
    if (v != NULL) {
        if (cJSON_IsBool(v))
            c->words = cJSON_IsTrue(v);
        else if (cJSON_IsNumber(v))
            c->words = v->valuedouble != 0.0;
        else
            return fail(STT_VOSK_ERR_WORDS, err, errlen,
                        "words must be a boolean or a number, got %s",
                        describe(v, what, sizeof(what)));
        c->present |= STT_VOSK_HAS_WORDS;
    }
    v = stt_json_last_member(cfg, "max_alternatives");
    if (v != NULL && (rc = check_alts(v, c, err, errlen)) != STT_VOSK_ERR_OK)
        return rc;
    return copy_strings(stt_json_last_member(cfg, "phrase_list"), stt_json_last_member(cfg, "model"), out, err,
                        errlen);
}

/* Classifies a parsed object and fills out. */
static stt_vosk_err_t check_message(const cJSON *root, stt_vosk_msg_t *out, char *err,
                                    size_t errlen)
{
    char what[64];
    if (!cJSON_IsObject(root))
        return fail(STT_VOSK_ERR_NOTOBJ, err, errlen, "message is a JSON %s, not an object",
                    stt_json_type_name(root));
    const cJSON *cfg = stt_json_last_member(root, "config");
    const cJSON *eof = stt_json_last_member(root, "eof");
    const cJSON *reset = stt_json_last_member(root, "reset");
    int n = (cfg != NULL) + (eof != NULL) + (reset != NULL);
    if (n == 0) {
        if (root->child == NULL)
            return fail(STT_VOSK_ERR_UNKNOWN, err, errlen,
                        "unknown message: an empty object (expected \"config\", \"eof\" or "
                        "\"reset\")");
        return fail(STT_VOSK_ERR_UNKNOWN, err, errlen,
                    "unknown message: expected \"config\", \"eof\" or \"reset\", got key "
                    "\"%.40s\"",
                    root->child->string != NULL ? root->child->string : "");
    }
    if (n > 1)
        return fail(STT_VOSK_ERR_AMBIGUOUS, err, errlen,
                    "message has more than one of \"config\", \"eof\" and \"reset\"");
    if (eof != NULL) {
        if (!is_one(eof))
            return fail(STT_VOSK_ERR_EOFVAL, err, errlen, "eof must be 1, got %s",
                        describe(eof, what, sizeof(what)));
        out->kind = STT_VOSK_MSG_EOF;
        return STT_VOSK_ERR_OK;
    }
    if (reset != NULL) {
        if (!is_one(reset))
            return fail(STT_VOSK_ERR_RESETVAL, err, errlen, "reset must be 1, got %s",
                        describe(reset, what, sizeof(what)));
        out->kind = STT_VOSK_MSG_RESET;
        return STT_VOSK_ERR_OK;
    }
    stt_vosk_err_t rc = check_config(cfg, out, err, errlen);
    if (rc == STT_VOSK_ERR_OK)
        out->kind = STT_VOSK_MSG_CONFIG;
    return rc;
}

static void empty_msg(stt_vosk_msg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->config.sample_rate_hz = STT_VOSK_DEFAULT_RATE_HZ;
    m->config.words = STT_VOSK_DEFAULT_WORDS;
    m->config.max_alternatives = STT_VOSK_DEFAULT_MAX_ALTERNATIVES;
}

stt_vosk_err_t stt_vosk_parse(const char *buf, size_t len, size_t max_bytes, stt_vosk_msg_t *out,
                              char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)buf;
    if (max_bytes == 0)
        max_bytes = STT_VOSK_MAX_MESSAGE_BYTES;
    empty_msg(out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (buf == NULL)
        len = 0;

    if (len > max_bytes)
        return fail(STT_VOSK_ERR_TOOBIG, err, errlen,
                    "message of %zu bytes exceeds the %zu-byte limit", len, max_bytes);
    if (len == 0)
        return fail(STT_VOSK_ERR_JSON, err, errlen, "message is empty");
    int is_control;
    size_t bad = stt_json_bad_byte(s, len, &is_control);
    if (bad < len)
        return fail(STT_VOSK_ERR_JSON, err, errlen,
                    is_control ? "message has control byte 0x%02x at offset %zu of %zu"
                               : "message is not valid UTF-8 (byte 0x%02x at offset %zu of %zu)",
                    s[bad], bad, len);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL) {
        size_t at = (end != NULL && end >= buf) ? (size_t)(end - buf) : 0;
        return fail(STT_VOSK_ERR_JSON, err, errlen,
                    "message is not valid JSON (error at offset %zu of %zu)", at, len);
    }
    /* cJSON stops after the first value; anything but whitespace after it is garbage that
     * Python's json.loads would refuse ("Extra data"). */
    size_t pos = (size_t)(end - buf);
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    stt_vosk_err_t rc;
    if (pos < len)
        rc = fail(STT_VOSK_ERR_JSON, err, errlen,
                  "message has trailing data after the JSON value (offset %zu of %zu)", pos, len);
    else
        rc = check_message(root, out, err, errlen);
    cJSON_Delete(root);
    if (rc != STT_VOSK_ERR_OK) {
        stt_vosk_msg_dispose(out);
        empty_msg(out);
    }
    return rc;
}

void stt_vosk_msg_dispose(stt_vosk_msg_t *msg)
{
    if (msg == NULL)
        return;
    free(msg->mem);
    msg->mem = NULL;
    msg->config.phrases = NULL;
    msg->config.n_phrases = 0;
    msg->config.model = NULL;
    msg->kind = STT_VOSK_MSG_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Building: a growable buffer and vosk-api's printing conventions                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len;
    size_t cap;
} buf_t;

static void put_n(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 128;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = stt_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(buf_t *b, const char *s)
{
    put_n(b, s, strlen(s));
}

/* Two spaces per nesting level, as json.h's dump() indents. */
static void pad(buf_t *b, int depth)
{
    for (int i = 0; i < depth; i++)
        put_n(b, "  ", 2);
}

/* A JSON string: the escapes vosk's json_escape() writes, \u00XX for the other control bytes,
 * and U+FFFD for each byte that does not start a strict UTF-8 sequence. */
static void put_string(buf_t *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str != NULL ? str : "");
    size_t len = strlen((const char *)s);
    put_n(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc != NULL) {
            put(b, esc);
            i++;
        } else if (c < 0x20) {
            char u[8];
            snprintf(u, sizeof(u), "\\u%04x", c);
            put(b, u);
            i++;
        } else {
            size_t n = stt_utf8_seq_len(s + i, len - i);
            if (n == 0) {
                put(b, "\xEF\xBF\xBD");
                i++;
            } else {
                put_n(b, (const char *)s + i, n);
                i += n;
            }
        }
    }
    put_n(b, "\"", 1);
}

/* A non-negative number as std::to_string(double) prints it ("%f": six decimals), rounded to the
 * nearest millionth. Callers clamp to [0, 1e12], which keeps micro-units inside int64. */
static void put_float(buf_t *b, double v)
{
    long long micro = llround(v * 1e6);
    char num[40];
    snprintf(num, sizeof(num), "%lld.%06lld", micro / 1000000, micro % 1000000);
    put(b, num);
}

static double clamp(double v, double lo, double hi)
{
    if (!isfinite(v) || v < lo)
        return lo;
    return v > hi ? hi : v;
}

/* A confidence: unknown (negative or NaN) is 1.0, everything else is clamped to 0..1. */
static double conf_value(double c)
{
    if (isnan(c) || c < 0)
        return 1.0;
    return c > 1.0 ? 1.0 : c;
}

/* `"key" : ` at the given depth, after the separator from the previous member. */
static void key(buf_t *b, int depth, const char *name, int first)
{
    put(b, first ? "\n" : ",\n");
    pad(b, depth);
    put_n(b, "\"", 1);
    put(b, name);
    put(b, "\" : ");
}

static void close_obj(buf_t *b, int depth)
{
    put_n(b, "\n", 1);
    pad(b, depth - 1);
    put_n(b, "}", 1);
}

#define MAX_TIME_S 1e12 /* ~31,700 years: only a bug or a fuzzer gets near it */

/* The "result" array; objects at depth (members indented 2*depth). vosk writes "conf" in a
 * plain final and leaves it out of alternatives. */
static void put_words(buf_t *b, const stt_vosk_hyp_t *h, int depth, double offset_s,
                      int with_conf)
{
    put_n(b, "[", 1);
    for (size_t i = 0; i < h->n_words; i++) {
        const stt_vosk_word_t *w = &h->words[i];
        double start = clamp(w->start_s + offset_s, 0, MAX_TIME_S);
        double end = clamp(w->end_s + offset_s, start, MAX_TIME_S);
        if (i > 0)
            put(b, ", ");
        put_n(b, "{", 1);
        if (with_conf) {
            key(b, depth, "conf", 1);
            put_float(b, conf_value(w->conf));
        }
        key(b, depth, "end", !with_conf);
        put_float(b, end);
        key(b, depth, "start", 0);
        put_float(b, start);
        key(b, depth, "word", 0);
        put_string(b, w->word);
        close_obj(b, depth);
    }
    put_n(b, "]", 1);
}

/* The hypothesis text: given, or the words joined by single spaces (vosk's own text). */
static void put_text(buf_t *b, const stt_vosk_hyp_t *h)
{
    if (h == NULL) {
        put_string(b, "");
        return;
    }
    if (h->text != NULL) {
        put_string(b, h->text);
        return;
    }
    buf_t joined = {0};
    put(&joined, "");
    for (size_t i = 0; i < h->n_words; i++) {
        if (i > 0)
            put_n(&joined, " ", 1);
        put(&joined, h->words[i].word != NULL ? h->words[i].word : "");
    }
    put_string(b, joined.p);
    free(joined.p);
}

char *stt_vosk_build_partial(const char *text)
{
    buf_t b = {0};
    put_n(&b, "{", 1);
    key(&b, 1, "partial", 1);
    put_string(&b, text);
    close_obj(&b, 1);
    return b.p;
}

char *stt_vosk_build_final(const stt_vosk_hyp_t *hyps, size_t n_hyps,
                           const stt_vosk_final_opts_t *opts)
{
    static const stt_vosk_final_opts_t defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    if (hyps == NULL)
        n_hyps = 0;
    double offset = isfinite(opts->offset_s) ? opts->offset_s : 0;
    buf_t b = {0};
    put_n(&b, "{", 1);
    if (opts->max_alternatives <= 0) {
        const stt_vosk_hyp_t *h = n_hyps > 0 ? &hyps[0] : NULL;
        int first = 1;
        if (opts->words && h != NULL && h->n_words > 0 && h->words != NULL) {
            key(&b, 1, "result", 1);
            put_words(&b, h, 3, offset, 1);
            first = 0;
        }
        key(&b, 1, "text", first);
        put_text(&b, h);
        close_obj(&b, 1);
        return b.p;
    }

    key(&b, 1, "alternatives", 1);
    put_n(&b, "[", 1);
    size_t n = n_hyps < (size_t)opts->max_alternatives ? n_hyps : (size_t)opts->max_alternatives;
    for (size_t i = 0; i == 0 || i < n; i++) {
        const stt_vosk_hyp_t *h = i < n ? &hyps[i] : NULL;
        if (i > 0)
            put(&b, ", ");
        put_n(&b, "{", 1);
        key(&b, 3, "confidence", 1);
        put_float(&b, h != NULL ? conf_value(h->confidence) : 1.0);
        if (opts->words && h != NULL && h->n_words > 0 && h->words != NULL) {
            key(&b, 3, "result", 0);
            put_words(&b, h, 5, offset, 0);
        }
        key(&b, 3, "text", 0);
        put_text(&b, h);
        close_obj(&b, 3);
    }
    put_n(&b, "]", 1);
    close_obj(&b, 1);
    return b.p;
}

char *stt_vosk_build_error(const char *code, const char *message)
{
    buf_t b = {0};
    put_n(&b, "{", 1);
    key(&b, 1, "code", 1);
    put_string(&b, code);
    key(&b, 1, "error", 0);
    put_string(&b, message);
    close_obj(&b, 1);
    return b.p;
}

char *stt_vosk_build_config(const stt_vosk_config_t *c)
{
    buf_t b = {0};
    char num[32];
    int first = 1;
    put_n(&b, "{", 1);
    key(&b, 1, "config", 1);
    put_n(&b, "{", 1);
    /* Sorted keys, as json.h prints them. */
    if (c->present & STT_VOSK_HAS_MAX_ALTERNATIVES) {
        key(&b, 2, "max_alternatives", first);
        snprintf(num, sizeof(num), "%d", c->max_alternatives);
        put(&b, num);
        first = 0;
    }
    if (c->present & STT_VOSK_HAS_MODEL) {
        key(&b, 2, "model", first);
        put_string(&b, c->model);
        first = 0;
    }
    if (c->present & STT_VOSK_HAS_PHRASE_LIST) {
        key(&b, 2, "phrase_list", first);
        put_n(&b, "[", 1);
        for (size_t i = 0; i < c->n_phrases; i++) {
            if (i > 0)
                put(&b, ", ");
            put_string(&b, c->phrases[i]);
        }
        put_n(&b, "]", 1);
        first = 0;
    }
    if (c->present & STT_VOSK_HAS_SAMPLE_RATE) {
        key(&b, 2, "sample_rate", first);
        snprintf(num, sizeof(num), "%d", c->sample_rate_hz);
        put(&b, num);
        first = 0;
    }
    if (c->present & STT_VOSK_HAS_WORDS) {
        key(&b, 2, "words", first);
        put(&b, c->words ? "true" : "false");
        first = 0;
    }
    if (first)
        put(&b, "}"); /* json.h prints an empty object as "{\n<pad>}"; we keep "{}" */
    else
        close_obj(&b, 2);
    close_obj(&b, 1);
    return b.p;
}

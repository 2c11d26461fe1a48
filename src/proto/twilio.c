/* Twilio-family media stream codec (include/stt/twilio.h).
 *
 * Parsing, in order: the message cap; strict UTF-8 and no raw control bytes (json_text.c);
 * JSON with nothing after the value; an object with a string "event"; the dialect (from member
 * names, see the header); then the members the event carries. A member whose value is null
 * counts as absent (some platforms send "customParameters": null). Members are looked up under
 * every dialect's name, Twilio's first, so a platform that mixes conventions still parses; the
 * dialect only decides what a message cannot say by itself: L16's byte order (big-endian in the
 * Telnyx dialect, whose payload is an RTP payload, RFC 3551; little-endian elsewhere: Plivo,
 * SignalWire, Exotel and Vonage send raw little-endian PCM) and, for Vonage, that the top-level
 * members are headers.
 *
 * Leniencies: counters as JSON numbers or strings of decimal digits (Twilio's examples use
 * strings, Plivo numbers); encodings by any of their common names, case-insensitively, with an
 * optional ";rate=N" (which gives the rate when no sampleRate is sent); an unknown event is
 * UNKNOWN, not an error. Custom parameters over the caps, or whose value is not a string,
 * number or boolean, are dropped and counted instead of failing the call.
 *
 * Strictness: ids must be printable ASCII (they become keys, URLs and log fields); base64 must
 * be canonical (a payload that is not is garbage, not audio worth guessing at).
 *
 * Building writes the same members back under a dialect's names with cJSON, so a parse of the
 * result gives the same struct (the fuzz driver's round trip). */
#include "stt/twilio.h"
#include "stt/error.h"
#include "stt/base64.h"
#include "stt/text.h"

#include "json_text.h"

#include "stt/log.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tables ---- */

const char *stt_tw_err_name(stt_tw_err_t e)
{
    switch (e) {
#define STT_TW_ERR_NAME(name, str, code)                                                           \
    case STT_TW_ERR_##name:                                                                        \
        return str;
        STT_TW_ERR_MAP(STT_TW_ERR_NAME)
#undef STT_TW_ERR_NAME
    default:
        return "unknown_twilio_error";
    }
}

int stt_tw_err_close_code(stt_tw_err_t e)
{
    switch (e) {
#define STT_TW_ERR_CODE(name, str, code)                                                           \
    case STT_TW_ERR_##name:                                                                        \
        return code;
        /* Many errors share a close code; the table, not the switch, is the source of truth. */
        STT_TW_ERR_MAP(STT_TW_ERR_CODE) /* NOLINT(bugprone-branch-clone) */
#undef STT_TW_ERR_CODE
    default:
        return 1011;
    }
}

const char *stt_tw_dialect_name(stt_tw_dialect_t d)
{
    static const char *const names[] = {"unknown", "twilio", "telnyx", "plivo", "exotel",
                                         "vonage"};
    return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "unknown";
}

size_t stt_tw_sample_bytes(stt_tw_encoding_t e)
{
    switch (e) {
    case STT_TW_ENC_MULAW:
    case STT_TW_ENC_ALAW:
        return 1;
    case STT_TW_ENC_L16LE:
    case STT_TW_ENC_L16BE:
        return 2;
    default:
        return 0;
    }
}

const char *stt_tw_track_name(stt_tw_track_t t)
{
    return t == STT_TW_TRACK_INBOUND ? "inbound" : t == STT_TW_TRACK_OUTBOUND ? "outbound" : "";
}

/* ---- helpers ---- */

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

/* The last member named key, or NULL when absent or null. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    if (!obj)
        return NULL;
    const cJSON *m = stt_json_last_member(obj, key);
    return m && !cJSON_IsNull(m) ? m : NULL;
}

/* The first of several names present; *which gets the name. */
static const cJSON *member_of(const cJSON *obj, const char *const *names, const char **which)
{
    for (; *names; names++) {
        const cJSON *m = member(obj, *names);
        if (m) {
            if (which)
                *which = *names;
            return m;
        }
    }
    return NULL;
}

/* Printable ASCII copy, cut to cap - 1 bytes; other bytes become '?'. */
static void copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = '\0';
}

/* A counter: a JSON number that is whole and in 0..2^53, or a string of 1..18 decimal digits. */
static stt_tw_err_t counter(const cJSON *v, const char *what, uint64_t *out, char *err,
                            size_t errlen)
{
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!stt_json_is_integral(d) || d < 0 || d > 9007199254740992.0)
            return fail(STT_TW_ERR_COUNTER, err, errlen,
                        "%s must be a whole number >= 0, got %.17g", what, d);
        *out = (uint64_t)d;
        return STT_TW_ERR_OK;
    }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
            return fail(STT_TW_ERR_COUNTER, err, errlen,
                        "%s must be a string of 1 to 18 decimal digits, got \"%.40s\"", what, s);
        *out = strtoull(s, NULL, 10);
        return STT_TW_ERR_OK;
    }
    return fail(STT_TW_ERR_COUNTER, err, errlen, "%s must be a number or a string of digits, got %s",
                what, stt_json_type_name(v));
}

/* An id: a string of 1..STT_TW_ID_MAX printable ASCII bytes without spaces. */
static stt_tw_err_t id(const cJSON *v, const char *what, char *dst, char *err, size_t errlen)
{
    if (!cJSON_IsString(v))
        return fail(STT_TW_ERR_ID, err, errlen, "%s must be a string, got %s", what,
                    stt_json_type_name(v));
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0)
        return fail(STT_TW_ERR_ID, err, errlen, "%s is empty", what);
    if (n > STT_TW_ID_MAX)
        return fail(STT_TW_ERR_ID, err, errlen, "%s is %zu bytes long (at most %d)", what, n,
                    STT_TW_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return fail(STT_TW_ERR_ID, err, errlen,
                        "%s has byte 0x%02x at offset %zu (printable ASCII only)", what, c, i);
    }
    memcpy(dst, s, n + 1);
    return STT_TW_ERR_OK;
}

/* Copies s into the message's storage; NULL when it does not fit. */
static const char *store(stt_tw_msg_t *m, const char *s, size_t n)
{
    if (n + 1 > sizeof(m->text) - m->text_used)
        return NULL;
    char *p = m->text + m->text_used;
    memcpy(p, s, n);
    p[n] = '\0';
    m->text_used += n + 1;
    return p;
}

/* Adds one parameter, or counts it dropped when over a cap. */
static void add_param(stt_tw_msg_t *m, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    if (m->n_params == STT_TW_MAX_PARAMS || nlen == 0 || nlen > STT_TW_PARAM_NAME_MAX ||
        vlen > STT_TW_PARAM_VALUE_MAX || nlen + vlen + 2 > sizeof(m->text) - m->text_used) {
        m->params_dropped++;
        return;
    }
    stt_tw_param_t *p = &m->params[m->n_params++];
    p->name = store(m, name, nlen);
    p->value = store(m, value, vlen);
}

/* A parameter from a JSON member: strings as they are, numbers and booleans as text. */
static void add_json_param(stt_tw_msg_t *m, const cJSON *item)
{
    char num[64];
    const char *v = NULL;
    if (cJSON_IsString(item)) {
        v = item->valuestring;
    } else if (cJSON_IsNumber(item)) {
        snprintf(num, sizeof(num), "%.17g", item->valuedouble);
        v = num;
    } else if (cJSON_IsBool(item)) {
        v = cJSON_IsTrue(item) ? "true" : "false";
    }
    if (!v || !item->string) {
        m->params_dropped++;
        return;
    }
    add_param(m, item->string, strlen(item->string), v, strlen(v));
}

void stt_tw_split_headers(stt_tw_msg_t *m)
{
    const char *s = m->extra_headers;
    while (*s) {
        size_t n = strcspn(s, ";,");
        if (n > 0) {
            const char *eq = memchr(s, '=', n);
            size_t klen = eq ? (size_t)(eq - s) : n;
            const char *v = eq ? eq + 1 : s + n;
            size_t vlen = eq ? n - klen - 1 : 0;
            add_param(m, s, klen, v, vlen);
        }
        s += n;
        if (*s)
            s++;
    }
}

const char *stt_tw_param(const stt_tw_msg_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

/* ---- base64 (src/proto/base64.c) ---- */

stt_tw_err_t stt_tw_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                                  size_t *out_len, const char *what, char *err, size_t errlen)
{
    switch (stt_base64_strict_decode(s, len, out, cap, out_len, what, err, errlen)) {
    case STT_BASE64_OK:
        return STT_TW_ERR_OK;
    case STT_BASE64_TOOBIG:
        return STT_TW_ERR_PAYLOAD_TOOBIG;
    default:
        return STT_TW_ERR_BASE64;
    }
}

size_t stt_tw_base64_encode(const uint8_t *in, size_t n, char *out)
{
    return stt_base64_encode(in, n, out);
}

/* ---- member names per dialect ---- */

static const char *const names_stream[] = {"streamSid", "streamId", "stream_id", "stream_sid", NULL};
static const char *const names_sequence[] = {"sequenceNumber", "sequence_number", NULL};
static const char *const names_call[] = {"callSid", "callId", "call_control_id", "call_sid", NULL};
static const char *const names_account[] = {"accountSid", "accountId", "user_id", "account_sid",
                                            NULL};
static const char *const names_params[] = {"customParameters", "custom_parameters", NULL};
static const char *const names_format[] = {"mediaFormat", "media_format", NULL};
static const char *const names_rate[] = {"sampleRate", "sample_rate", NULL};

static int has_any(const cJSON *obj, const char *const *keys)
{
    for (; obj && *keys; keys++)
        if (member(obj, *keys))
            return 1;
    return 0;
}

static stt_tw_dialect_t detect(const cJSON *root, const char *event, const cJSON *start,
                               const cJSON *stop)
{
    static const char *const exo_top[] = {"stream_sid", NULL};
    static const char *const exo_start[] = {"stream_sid", "call_sid", "account_sid", NULL};
    static const char *const exo_stop[] = {"call_sid", "account_sid", NULL};
    static const char *const tel_top[] = {"stream_id", "sequence_number", NULL};
    static const char *const tel_start[] = {"call_control_id", "user_id", "custom_parameters",
                                            "media_format", NULL};
    static const char *const tel_stop[] = {"call_control_id", "user_id", NULL};
    static const char *const pli_top[] = {"streamId", "extra_headers", NULL};
    static const char *const pli_start[] = {"streamId", "callId", "accountId", NULL};
    static const char *const twi_top[] = {"streamSid", "sequenceNumber", NULL};
    static const char *const twi_start[] = {"streamSid", "callSid", "accountSid",
                                            "customParameters", "mediaFormat", NULL};
    static const char *const twi_stop[] = {"callSid", "accountSid", NULL};
    if (strncmp(event, "websocket:", 10) == 0)
        return STT_TW_DIALECT_VONAGE;
    if (has_any(root, exo_top) || has_any(start, exo_start) || has_any(stop, exo_stop))
        return STT_TW_DIALECT_EXOTEL;
    if (has_any(root, tel_top) || has_any(start, tel_start) || has_any(stop, tel_stop))
        return STT_TW_DIALECT_TELNYX;
    if (has_any(root, pli_top) || has_any(start, pli_start))
        return STT_TW_DIALECT_PLIVO;
    if (has_any(root, twi_top) || has_any(start, twi_start) || has_any(stop, twi_stop))
        return STT_TW_DIALECT_TWILIO;
    return STT_TW_DIALECT_NONE;
}

/* ---- members ---- */

/* The value after "rate=" in a media type's parameters (";rate=16000", "; rate=8000"), or NULL. */
static const char *find_rate(const char *params)
{
    for (const char *p = params; *p; p++)
        if ((p[0] == ';' || p[0] == ' ') && strncasecmp(p + 1, "rate=", 5) == 0)
            return p + 1;
    return NULL;
}

static stt_tw_err_t parse_encoding(const char *s, stt_tw_dialect_t d, stt_tw_format_t *f,
                                   int *rate_from_type, const char *what, char *err,
                                   size_t errlen)
{
    static const char *const mulaw[] = {"audio/x-mulaw", "audio/mulaw", "audio/x-ulaw",
                                        "audio/ulaw",    "audio/pcmu",  "audio/basic",
                                        "pcmu",          "mulaw",       "ulaw",
                                        NULL};
    static const char *const alaw[] = {"audio/x-alaw", "audio/alaw", "audio/pcma", "pcma", "alaw",
                                       NULL};
    static const char *const l16[] = {"audio/x-l16", "audio/l16", "l16", "audio/x-raw", NULL};
    size_t n = strcspn(s, ";");
    while (n > 0 && s[n - 1] == ' ')
        n--;
    f->encoding = STT_TW_ENC_NONE;
    for (const char *const *p = mulaw; *p && !f->encoding; p++)
        if (strlen(*p) == n && strncasecmp(s, *p, n) == 0)
            f->encoding = STT_TW_ENC_MULAW;
    for (const char *const *p = alaw; *p && !f->encoding; p++)
        if (strlen(*p) == n && strncasecmp(s, *p, n) == 0)
            f->encoding = STT_TW_ENC_ALAW;
    for (const char *const *p = l16; *p && !f->encoding; p++)
        if (strlen(*p) == n && strncasecmp(s, *p, n) == 0)
            f->encoding = d == STT_TW_DIALECT_TELNYX ? STT_TW_ENC_L16BE : STT_TW_ENC_L16LE;
    if (!f->encoding)
        return fail(STT_TW_ERR_CODEC, err, errlen,
                    "%s \"%.60s\" is not supported (mu-law, A-law or L16)", what, s);
    *rate_from_type = 0;
    const char *r = find_rate(s + n);
    if (r) {
        char *end;
        long v = strtol(r + 5, &end, 10);
        if (end == r + 5 || v < STT_TW_MIN_RATE_HZ || v > STT_TW_MAX_RATE_HZ ||
            (*end && *end != ';' && *end != ' '))
            return fail(STT_TW_ERR_RATE, err, errlen, "%s \"%.60s\": rate must be %d..%d", what,
                        s, STT_TW_MIN_RATE_HZ, STT_TW_MAX_RATE_HZ);
        f->rate_hz = (int)v;
        *rate_from_type = 1;
    }
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_format(const cJSON *fo, const char *fname, stt_tw_dialect_t d,
                                 stt_tw_msg_t *m, char *err, size_t errlen)
{
    char what[64];
    if (!cJSON_IsObject(fo))
        return fail(STT_TW_ERR_FIELD, err, errlen, "start.%s must be an object, got %s", fname,
                    stt_json_type_name(fo));
    const cJSON *enc = member(fo, "encoding");
    snprintf(what, sizeof(what), "start.%s.encoding", fname);
    if (!enc)
        return fail(STT_TW_ERR_CODEC, err, errlen, "%s is missing", what);
    if (!cJSON_IsString(enc))
        return fail(STT_TW_ERR_FIELD, err, errlen, "%s must be a string, got %s", what,
                    stt_json_type_name(enc));
    int from_type;
    stt_tw_err_t e = parse_encoding(enc->valuestring, d, &m->format, &from_type, what, err, errlen);
    if (e)
        return e;
    const char *rname = "sampleRate";
    const cJSON *rate = member_of(fo, names_rate, &rname);
    if (rate) {
        uint64_t v;
        snprintf(what, sizeof(what), "start.%s.%s", fname, rname);
        if (counter(rate, what, &v, err, errlen) || v < STT_TW_MIN_RATE_HZ ||
            v > STT_TW_MAX_RATE_HZ)
            return fail(STT_TW_ERR_RATE, err, errlen, "%s must be a whole number %d..%d", what,
                        STT_TW_MIN_RATE_HZ, STT_TW_MAX_RATE_HZ);
        m->format.rate_hz = (int)v;
    }
    const cJSON *ch = member(fo, "channels");
    if (ch) {
        uint64_t v = 0;
        snprintf(what, sizeof(what), "start.%s.channels", fname);
        if (counter(ch, what, &v, err, errlen) || v != 1)
            return fail(STT_TW_ERR_CHANNELS, err, errlen, "%s must be 1 (mono)", what);
    }
    m->present |= STT_TW_HAS_FORMAT;
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_track(const cJSON *v, const char *what, stt_tw_track_t *t, char *err,
                                size_t errlen)
{
    if (!cJSON_IsString(v))
        return fail(STT_TW_ERR_TRACK, err, errlen, "%s must be a string, got %s", what,
                    stt_json_type_name(v));
    const char *s = v->valuestring;
    if (strcmp(s, "inbound") == 0 || strcmp(s, "inbound_track") == 0)
        *t = STT_TW_TRACK_INBOUND;
    else if (strcmp(s, "outbound") == 0 || strcmp(s, "outbound_track") == 0)
        *t = STT_TW_TRACK_OUTBOUND;
    else
        return fail(STT_TW_ERR_TRACK, err, errlen,
                    "%s \"%.40s\" is not inbound or outbound", what, s);
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_ids(const cJSON *obj, const char *oname, stt_tw_msg_t *m, char *err,
                              size_t errlen)
{
    char what[64];
    const char *n = NULL;
    const cJSON *v = member_of(obj, names_call, &n);
    stt_tw_err_t e;
    if (v) {
        snprintf(what, sizeof(what), "%s.%s", oname, n);
        if ((e = id(v, what, m->call_id, err, errlen)))
            return e;
    }
    if ((v = member_of(obj, names_account, &n))) {
        snprintf(what, sizeof(what), "%s.%s", oname, n);
        if ((e = id(v, what, m->account_id, err, errlen)))
            return e;
    }
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_start(const cJSON *root, const cJSON *st, stt_tw_msg_t *m, char *err,
                                size_t errlen)
{
    if (!st)
        return fail(STT_TW_ERR_FIELD, err, errlen, "a start message needs a start object");
    if (!cJSON_IsObject(st))
        return fail(STT_TW_ERR_FIELD, err, errlen, "start must be an object, got %s",
                    stt_json_type_name(st));
    stt_tw_err_t e = parse_ids(st, "start", m, err, errlen);
    if (e)
        return e;
    const char *n = NULL;
    char what[64];
    const cJSON *v;
    if (!m->stream_id[0] && (v = member_of(st, names_stream, &n))) {
        snprintf(what, sizeof(what), "start.%s", n);
        if ((e = id(v, what, m->stream_id, err, errlen)))
            return e;
    }
    if ((v = member(st, "tracks"))) {
        if (!cJSON_IsArray(v))
            return fail(STT_TW_ERR_FIELD, err, errlen, "start.tracks must be an array, got %s",
                        stt_json_type_name(v));
        const cJSON *t;
        cJSON_ArrayForEach(t, v)
        {
            stt_tw_track_t tr;
            if ((e = parse_track(t, "start.tracks[]", &tr, err, errlen)))
                return e;
            m->tracks |= 1u << tr;
        }
        m->present |= STT_TW_HAS_TRACKS;
    }
    if ((v = member_of(st, names_params, &n))) {
        if (!cJSON_IsObject(v))
            return fail(STT_TW_ERR_FIELD, err, errlen, "start.%s must be an object, got %s", n,
                        stt_json_type_name(v));
        const cJSON *p;
        cJSON_ArrayForEach(p, v) add_json_param(m, p);
        m->present |= STT_TW_HAS_PARAMS;
    }
    if ((v = member_of(st, names_format, &n)) &&
        (e = parse_format(v, n, m->dialect, m, err, errlen)))
        return e;
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_media(const cJSON *root, stt_tw_msg_t *m, uint8_t *buf, size_t cap,
                                char *err, size_t errlen)
{
    const cJSON *md = member(root, "media"), *v;
    if (!md)
        return fail(STT_TW_ERR_FIELD, err, errlen, "a media message needs a media object");
    if (!cJSON_IsObject(md))
        return fail(STT_TW_ERR_FIELD, err, errlen, "media must be an object, got %s",
                    stt_json_type_name(md));
    stt_tw_err_t e;
    if ((v = member(md, "track")) && (e = parse_track(v, "media.track", &m->track, err, errlen)))
        return e;
    if ((v = member(md, "chunk"))) {
        if ((e = counter(v, "media.chunk", &m->chunk, err, errlen)))
            return e;
        m->present |= STT_TW_HAS_CHUNK;
    }
    if ((v = member(md, "timestamp"))) {
        if ((e = counter(v, "media.timestamp", &m->timestamp_ms, err, errlen)))
            return e;
        m->present |= STT_TW_HAS_TIMESTAMP;
    }
    if (!(v = member(md, "payload")))
        return fail(STT_TW_ERR_NO_PAYLOAD, err, errlen, "media.payload is missing");
    if (!cJSON_IsString(v))
        return fail(STT_TW_ERR_FIELD, err, errlen, "media.payload must be a string, got %s",
                    stt_json_type_name(v));
    static uint8_t none[1];
    if ((e = stt_tw_base64_decode(v->valuestring, strlen(v->valuestring), buf ? buf : none,
                                  buf ? cap : 0, &m->payload_len, "media.payload", err, errlen)))
        return e;
    m->payload = buf ? buf : none;
    m->present |= STT_TW_HAS_PAYLOAD;
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_dtmf(const cJSON *root, stt_tw_msg_t *m, char *err, size_t errlen)
{
    /* Vonage puts digit and duration at the top level, the others in a dtmf object. */
    const cJSON *o = m->dialect == STT_TW_DIALECT_VONAGE ? root : member(root, "dtmf"), *v;
    const char *where = m->dialect == STT_TW_DIALECT_VONAGE ? "" : "dtmf.";
    if (!o || !cJSON_IsObject(o))
        return fail(STT_TW_ERR_DTMF, err, errlen, "a dtmf message needs a dtmf object");
    stt_tw_err_t e;
    char what[32];
    v = member(o, "digit");
    if (!v || !cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= sizeof(m->digit))
        return fail(STT_TW_ERR_DTMF, err, errlen, "%sdigit must be a string of 1 to 7 bytes",
                    where);
    copy_printable(m->digit, sizeof(m->digit), v->valuestring);
    if (m->dialect != STT_TW_DIALECT_VONAGE && (v = member(o, "track"))) {
        snprintf(what, sizeof(what), "%strack", where);
        if ((e = parse_track(v, what, &m->track, err, errlen)))
            return e;
    }
    if ((v = member(o, "duration"))) {
        snprintf(what, sizeof(what), "%sduration", where);
        if ((e = counter(v, what, &m->duration_ms, err, errlen)))
            return e;
        m->present |= STT_TW_HAS_DURATION;
    }
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_vonage_start(const cJSON *root, stt_tw_msg_t *m, char *err,
                                       size_t errlen)
{
    const cJSON *ct = member(root, "content-type");
    if (!ct)
        return fail(STT_TW_ERR_CODEC, err, errlen, "websocket:connected without a content-type");
    if (!cJSON_IsString(ct))
        return fail(STT_TW_ERR_FIELD, err, errlen, "content-type must be a string, got %s",
                    stt_json_type_name(ct));
    int from_type;
    m->format.rate_hz = 16000; /* a content-type without rate= */
    stt_tw_err_t e = parse_encoding(ct->valuestring, m->dialect, &m->format, &from_type,
                                    "content-type", err, errlen);
    if (e)
        return e;
    if (m->format.encoding != STT_TW_ENC_L16LE)
        return fail(STT_TW_ERR_CODEC, err, errlen,
                    "content-type \"%.60s\" is not supported (Vonage sends audio/l16)",
                    ct->valuestring);
    m->present |= STT_TW_HAS_FORMAT | STT_TW_HAS_PARAMS;
    const cJSON *p;
    cJSON_ArrayForEach(p, root)
    {
        if (p->string && strcmp(p->string, "event") != 0 && strcmp(p->string, "content-type") != 0 &&
            !cJSON_IsNull(p))
            add_json_param(m, p);
    }
    return STT_TW_ERR_OK;
}

static stt_tw_err_t parse_error_event(const cJSON *root, stt_tw_msg_t *m, char *err,
                                      size_t errlen)
{
    const cJSON *pl = member(root, "payload"), *v;
    if (!pl || !cJSON_IsObject(pl))
        return STT_TW_ERR_OK; /* an error without details is still an error report */
    stt_tw_err_t e;
    if ((v = member(pl, "code"))) {
        if ((e = counter(v, "payload.code", &m->error_code, err, errlen)))
            return e;
        m->present |= STT_TW_HAS_ERROR_CODE;
    }
    if ((v = member(pl, "title")) && cJSON_IsString(v))
        copy_printable(m->error_title, sizeof(m->error_title), v->valuestring);
    if ((v = member(pl, "detail")) && cJSON_IsString(v))
        copy_printable(m->error_detail, sizeof(m->error_detail), v->valuestring);
    return STT_TW_ERR_OK;
}

static stt_tw_event_t event_kind(const char *s)
{
    static const struct {
        const char *name;
        stt_tw_event_t ev;
    } t[] = {{"connected", STT_TW_EV_CONNECTED}, {"start", STT_TW_EV_START},
             {"media", STT_TW_EV_MEDIA},         {"dtmf", STT_TW_EV_DTMF},
             {"mark", STT_TW_EV_MARK},           {"stop", STT_TW_EV_STOP},
             {"error", STT_TW_EV_ERROR},         {"websocket:connected", STT_TW_EV_START},
             {"websocket:dtmf", STT_TW_EV_DTMF}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(s, t[i].name) == 0)
            return t[i].ev;
    return STT_TW_EV_UNKNOWN;
}

static stt_tw_err_t parse_object(const cJSON *root, stt_tw_msg_t *m, uint8_t *buf, size_t cap,
                                 char *err, size_t errlen)
{
    if (!cJSON_IsObject(root))
        return fail(STT_TW_ERR_NOTOBJ, err, errlen, "message must be a JSON object, got %s",
                    stt_json_type_name(root));
    const cJSON *ev = member(root, "event");
    if (!ev)
        return fail(STT_TW_ERR_EVENT, err, errlen, "message has no \"event\"");
    if (!cJSON_IsString(ev))
        return fail(STT_TW_ERR_EVENT, err, errlen, "\"event\" must be a string, got %s",
                    stt_json_type_name(ev));
    stt_tw_event_t kind = event_kind(ev->valuestring);
    copy_printable(m->event_name, sizeof(m->event_name), ev->valuestring);
    const cJSON *start = kind == STT_TW_EV_START ? member(root, "start") : NULL;
    const cJSON *stop = kind == STT_TW_EV_STOP ? member(root, "stop") : NULL;
    m->dialect = detect(root, ev->valuestring, cJSON_IsObject(start) ? start : NULL,
                        cJSON_IsObject(stop) ? stop : NULL);
    m->format.encoding = STT_TW_ENC_MULAW;
    m->format.rate_hz = 8000;
    m->format.channels = 1;
    stt_tw_err_t e = STT_TW_ERR_OK;
    if (m->dialect == STT_TW_DIALECT_VONAGE) {
        m->event = kind;
        if (kind == STT_TW_EV_START)
            return parse_vonage_start(root, m, err, errlen);
        if (kind == STT_TW_EV_DTMF)
            return parse_dtmf(root, m, err, errlen);
        m->event = STT_TW_EV_UNKNOWN; /* websocket:notify, websocket:cleared, ... */
        return STT_TW_ERR_OK;
    }
    m->event = kind;
    const char *n = NULL;
    char what[64];
    const cJSON *v;
    if ((v = member_of(root, names_sequence, &n))) {
        if ((e = counter(v, n, &m->sequence, err, errlen)))
            return e;
        m->present |= STT_TW_HAS_SEQUENCE;
    }
    if ((v = member_of(root, names_stream, &n))) {
        snprintf(what, sizeof(what), "%s", n);
        if ((e = id(v, what, m->stream_id, err, errlen)))
            return e;
    }
    if ((v = member(root, "extra_headers"))) { /* Plivo: on start and media */
        if (!cJSON_IsString(v))
            return fail(STT_TW_ERR_FIELD, err, errlen, "extra_headers must be a string, got %s",
                        stt_json_type_name(v));
        if (strlen(v->valuestring) > STT_TW_EXTRA_HEADERS_MAX)
            return fail(STT_TW_ERR_FIELD, err, errlen, "extra_headers is over %d bytes",
                        STT_TW_EXTRA_HEADERS_MAX);
        snprintf(m->extra_headers, sizeof(m->extra_headers), "%s", v->valuestring);
        m->present |= STT_TW_HAS_EXTRA_HEADERS;
    }
    switch (kind) {
    case STT_TW_EV_START:
        return parse_start(root, start, m, err, errlen);
    case STT_TW_EV_MEDIA:
        return parse_media(root, m, buf, cap, err, errlen);
    case STT_TW_EV_DTMF:
        return parse_dtmf(root, m, err, errlen);
    case STT_TW_EV_MARK:
        if ((v = member(root, "mark")) && cJSON_IsObject(v)) {
            const cJSON *name = member(v, "name");
            if (name && cJSON_IsString(name)) {
                copy_printable(m->mark, sizeof(m->mark), name->valuestring);
                m->present |= STT_TW_HAS_MARK;
            }
        }
        return STT_TW_ERR_OK;
    case STT_TW_EV_STOP:
        if (stop && !cJSON_IsObject(stop))
            return fail(STT_TW_ERR_FIELD, err, errlen, "stop must be an object, got %s",
                        stt_json_type_name(stop));
        return stop ? parse_ids(stop, "stop", m, err, errlen) : STT_TW_ERR_OK;
    case STT_TW_EV_ERROR:
        return parse_error_event(root, m, err, errlen);
    default:
        return STT_TW_ERR_OK;
    }
}

stt_tw_err_t stt_tw_parse(const char *buf, size_t len, size_t max_bytes, uint8_t *payload_buf,
                          size_t payload_cap, stt_tw_msg_t *out, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)buf;
    memset(out, 0, offsetof(stt_tw_msg_t, text));
    out->text_used = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!buf)
        len = 0;
    if (max_bytes == 0)
        max_bytes = STT_TW_MAX_MESSAGE_BYTES;
    if (len > max_bytes)
        return fail(STT_TW_ERR_TOOBIG, err, errlen, "message of %zu bytes exceeds %zu", len,
                    max_bytes);
    if (len == 0)
        return fail(STT_TW_ERR_JSON, err, errlen, "message is empty");
    int is_control;
    size_t bad = stt_json_bad_byte(s, len, &is_control);
    if (bad < len)
        return fail(STT_TW_ERR_JSON, err, errlen,
                    is_control ? "message has control byte 0x%02x at offset %zu"
                               : "message is not valid UTF-8 (byte 0x%02x at offset %zu)",
                    s[bad], bad);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
        return fail(STT_TW_ERR_JSON, err, errlen, "message is not valid JSON (error at offset %zu)",
                    at);
    }
    size_t pos = (size_t)(end - buf);
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    stt_tw_err_t rc =
        pos < len ? (stt_tw_err_t)fail(STT_TW_ERR_JSON, err, errlen,
                                       "message has data after the JSON value (offset %zu)", pos)
                  : parse_object(root, out, payload_buf, payload_cap, err, errlen);
    cJSON_Delete(root);
    if (rc != STT_TW_ERR_OK) {
        memset(out, 0, offsetof(stt_tw_msg_t, text));
        out->text_used = 0;
    }
    return rc;
}

/* ---- building ---- */

typedef struct {
    const char *stream, *sequence, *call, *account, *params, *format, *rate;
    int string_counters;
    const char *mulaw, *alaw, *l16;
} names_t;

static const names_t dialect_names[] = {
    [STT_TW_DIALECT_NONE] = {"streamSid", "sequenceNumber", "callSid", "accountSid",
                             "customParameters", "mediaFormat", "sampleRate", 1,
                             "audio/x-mulaw", "audio/x-alaw", "audio/x-l16"},
    [STT_TW_DIALECT_TWILIO] = {"streamSid", "sequenceNumber", "callSid", "accountSid",
                               "customParameters", "mediaFormat", "sampleRate", 1,
                               "audio/x-mulaw", "audio/x-alaw", "audio/x-l16"},
    [STT_TW_DIALECT_TELNYX] = {"stream_id", "sequence_number", "call_control_id", "user_id",
                               "custom_parameters", "media_format", "sample_rate", 1, "PCMU",
                               "PCMA", "L16"},
    [STT_TW_DIALECT_PLIVO] = {"streamId", "sequenceNumber", "callId", "accountId",
                              "customParameters", "mediaFormat", "sampleRate", 0,
                              "audio/x-mulaw", "audio/x-alaw", "audio/x-l16"},
    [STT_TW_DIALECT_EXOTEL] = {"stream_sid", "sequence_number", "call_sid", "account_sid",
                               "custom_parameters", "media_format", "sample_rate", 1,
                               "audio/x-mulaw", "audio/x-alaw", "audio/x-raw"},
};

static void add_counter(cJSON *o, const char *key, uint64_t v, int as_string)
{
    if (as_string || v > ((uint64_t)1 << 53)) { /* a double holds whole numbers to 2^53 */
        char s[24];
        snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
        cJSON_AddStringToObject(o, key, s);
    } else {
        cJSON_AddNumberToObject(o, key, (double)v);
    }
}

static const char *encoding_name(const names_t *nm, stt_tw_encoding_t e)
{
    return e == STT_TW_ENC_ALAW ? nm->alaw : e == STT_TW_ENC_MULAW ? nm->mulaw : nm->l16;
}

static char *print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        stt_fatal(__FILE__, __LINE__, "cJSON_PrintUnformatted");
    return s;
}

static char *build_vonage(const stt_tw_msg_t *m)
{
    cJSON *o = cJSON_CreateObject();
    if (m->event == STT_TW_EV_MEDIA) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "event", m->event == STT_TW_EV_START  ? "websocket:connected"
                                        : m->event == STT_TW_EV_DTMF ? "websocket:dtmf"
                                                                     : m->event_name);
    if (m->event == STT_TW_EV_START) {
        char ct[64];
        snprintf(ct, sizeof(ct), "audio/l16;rate=%d", m->format.rate_hz);
        cJSON_AddStringToObject(o, "content-type", ct);
        for (size_t i = 0; i < m->n_params; i++)
            cJSON_AddStringToObject(o, m->params[i].name, m->params[i].value);
    } else if (m->event == STT_TW_EV_DTMF) {
        cJSON_AddStringToObject(o, "digit", m->digit);
        if (m->present & STT_TW_HAS_DURATION)
            cJSON_AddNumberToObject(o, "duration", (double)m->duration_ms);
    }
    return print(o);
}

static void build_start(cJSON *o, const stt_tw_msg_t *m, const names_t *nm, stt_tw_dialect_t d)
{
    cJSON *st = cJSON_AddObjectToObject(o, "start");
    if (m->stream_id[0] && d != STT_TW_DIALECT_TELNYX)
        cJSON_AddStringToObject(st, nm->stream, m->stream_id);
    if (m->account_id[0])
        cJSON_AddStringToObject(st, nm->account, m->account_id);
    if (m->call_id[0])
        cJSON_AddStringToObject(st, nm->call, m->call_id);
    if (m->present & STT_TW_HAS_TRACKS) {
        cJSON *tr = cJSON_AddArrayToObject(st, "tracks");
        for (int t = STT_TW_TRACK_INBOUND; t <= STT_TW_TRACK_OUTBOUND; t++)
            if (m->tracks & (1u << t))
                cJSON_AddItemToArray(tr, cJSON_CreateString(stt_tw_track_name(t)));
    }
    if (m->present & STT_TW_HAS_PARAMS) {
        cJSON *p = cJSON_AddObjectToObject(st, nm->params);
        for (size_t i = 0; i < m->n_params; i++)
            cJSON_AddStringToObject(p, m->params[i].name, m->params[i].value);
    }
    if (m->present & STT_TW_HAS_FORMAT) {
        cJSON *f = cJSON_AddObjectToObject(st, nm->format);
        cJSON_AddStringToObject(f, "encoding", encoding_name(nm, m->format.encoding));
        add_counter(f, nm->rate, (uint64_t)m->format.rate_hz, d == STT_TW_DIALECT_EXOTEL);
        cJSON_AddNumberToObject(f, "channels", 1);
    }
}

char *stt_tw_build(const stt_tw_msg_t *m, stt_tw_dialect_t d)
{
    if (d == STT_TW_DIALECT_VONAGE)
        return build_vonage(m);
    if ((unsigned)d >= sizeof(dialect_names) / sizeof(dialect_names[0]))
        d = STT_TW_DIALECT_TWILIO;
    const names_t *nm = &dialect_names[d];
    cJSON *o = cJSON_CreateObject();
    static const char *const ev_names[] = {"", "connected", "start", "media", "dtmf",
                                           "mark", "stop", "error"};
    cJSON_AddStringToObject(o, "event",
                            m->event == STT_TW_EV_UNKNOWN || m->event == STT_TW_EV_NONE
                                ? m->event_name
                                : ev_names[m->event]);
    if (m->event == STT_TW_EV_CONNECTED && (d == STT_TW_DIALECT_TWILIO || d == STT_TW_DIALECT_NONE)) {
        cJSON_AddStringToObject(o, "protocol", "Call");
        cJSON_AddStringToObject(o, "version", "1.0.0");
    }
    if (m->present & STT_TW_HAS_SEQUENCE)
        add_counter(o, nm->sequence, m->sequence, nm->string_counters);
    if (m->stream_id[0])
        cJSON_AddStringToObject(o, nm->stream, m->stream_id);
    if (m->present & STT_TW_HAS_EXTRA_HEADERS)
        cJSON_AddStringToObject(o, "extra_headers", m->extra_headers);
    switch (m->event) {
    case STT_TW_EV_START:
        build_start(o, m, nm, d);
        break;
    case STT_TW_EV_MEDIA: {
        cJSON *md = cJSON_AddObjectToObject(o, "media");
        if (m->track)
            cJSON_AddStringToObject(md, "track", stt_tw_track_name(m->track));
        if (m->present & STT_TW_HAS_CHUNK)
            add_counter(md, "chunk", m->chunk, nm->string_counters);
        if (m->present & STT_TW_HAS_TIMESTAMP)
            add_counter(md, "timestamp", m->timestamp_ms, 1);
        if (m->present & STT_TW_HAS_PAYLOAD) {
            char *b = stt_malloc(m->payload_len / 3 * 4 + 5);
            stt_tw_base64_encode(m->payload, m->payload_len, b);
            cJSON_AddStringToObject(md, "payload", b);
            free(b);
        }
        break;
    }
    case STT_TW_EV_DTMF: {
        cJSON *dt = cJSON_AddObjectToObject(o, "dtmf");
        if (m->track)
            cJSON_AddStringToObject(dt, "track", m->track == STT_TW_TRACK_INBOUND
                                                     ? "inbound_track"
                                                     : "outbound_track");
        cJSON_AddStringToObject(dt, "digit", m->digit);
        if (m->present & STT_TW_HAS_DURATION)
            add_counter(dt, "duration", m->duration_ms, nm->string_counters);
        break;
    }
    case STT_TW_EV_MARK:
        if (m->present & STT_TW_HAS_MARK)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "mark"), "name", m->mark);
        break;
    case STT_TW_EV_STOP:
        if (m->call_id[0] || m->account_id[0]) {
            cJSON *sp = cJSON_AddObjectToObject(o, "stop");
            if (m->account_id[0])
                cJSON_AddStringToObject(sp, nm->account, m->account_id);
            if (m->call_id[0])
                cJSON_AddStringToObject(sp, nm->call, m->call_id);
        }
        break;
    case STT_TW_EV_ERROR:
        if ((m->present & STT_TW_HAS_ERROR_CODE) || m->error_title[0] || m->error_detail[0]) {
            cJSON *pl = cJSON_AddObjectToObject(o, "payload");
            if (m->present & STT_TW_HAS_ERROR_CODE)
                cJSON_AddNumberToObject(pl, "code", (double)m->error_code);
            if (m->error_title[0])
                cJSON_AddStringToObject(pl, "title", m->error_title);
            if (m->error_detail[0])
                cJSON_AddStringToObject(pl, "detail", m->error_detail);
        }
        break;
    default:
        break;
    }
    return print(o);
}

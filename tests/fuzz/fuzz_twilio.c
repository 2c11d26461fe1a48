/* libFuzzer driver for the Twilio-family media stream codec (src/proto/twilio.c).
 *
 * The input is one text message. Checked, aborting on any broken promise:
 *   - invariants of a successful parse: payload within the caller's cap, ids printable and
 *     within STT_TW_ID_MAX, parameters within their caps and inside the message's storage, a
 *     sample rate in range and mono, an event and no error line; of a failed one: an error
 *     line and an empty message;
 *   - the media payload against a reference base64 decoder written here (a bit accumulator, not
 *     the codec's quantum decoder): a parse succeeds with exactly its bytes, or fails as
 *     bad_base64 / payload_too_large exactly when the reference refuses or overflows the cap;
 *   - the whole input as base64 through both decoders (same verdict, same bytes), and the
 *     input's bytes through the encoder and back;
 *   - round trips: stt_tw_build of the parsed message in its own dialect parses back to the
 *     same message, and built in each other JSON dialect parses back to the same fields (the
 *     dialect, and L16's byte order that the dialect implies, aside).
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/twilio/) as an ordinary test without clang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/twilio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_twilio: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define CAP 4096

/* Reference strict base64: 1 and *n bytes, or 0 when refused. No cap. */
static int ref_b64(const uint8_t *s, size_t len, uint8_t *out, size_t *n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    *n = 0;
    if (len % 4)
        return 0;
    size_t pad = 0;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len - pad; i++) {
        const char *p = s[i] ? strchr(alpha, s[i]) : NULL;
        if (!p)
            return 0;
        acc = (acc << 6 | (uint32_t)(p - alpha)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            out[(*n)++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (acc & ((1u << bits) - 1)) == 0;
}

static uint8_t buf[CAP], buf2[CAP], refbuf[1 << 20];
static stt_tw_msg_t msg, back;
static char err[256], err2[256];

static int printable_id(const char *s, int may_be_empty)
{
    size_t n = strlen(s);
    if (n > STT_TW_ID_MAX || (!may_be_empty && n == 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static void invariants(const stt_tw_msg_t *m)
{
    CHECK(m->event != STT_TW_EV_NONE);
    CHECK(printable_id(m->stream_id, 1) && printable_id(m->call_id, 1) &&
          printable_id(m->account_id, 1));
    CHECK(m->n_params <= STT_TW_MAX_PARAMS && m->text_used <= sizeof(m->text));
    for (size_t i = 0; i < m->n_params; i++) {
        const char *n = m->params[i].name, *v = m->params[i].value;
        CHECK(n >= m->text && n < m->text + m->text_used);
        CHECK(v >= m->text && v < m->text + m->text_used);
        CHECK(strlen(n) >= 1 && strlen(n) <= STT_TW_PARAM_NAME_MAX);
        CHECK(strlen(v) <= STT_TW_PARAM_VALUE_MAX);
    }
    CHECK(m->format.rate_hz >= STT_TW_MIN_RATE_HZ && m->format.rate_hz <= STT_TW_MAX_RATE_HZ);
    CHECK(m->format.channels == 1);
    CHECK(stt_tw_sample_bytes(m->format.encoding) >= 1);
    CHECK(m->format.encoding != STT_TW_ENC_L16BE || m->dialect == STT_TW_DIALECT_TELNYX);
    if (m->present & STT_TW_HAS_PAYLOAD) {
        CHECK(m->event == STT_TW_EV_MEDIA && m->payload_len <= CAP);
        CHECK(m->payload == buf);
    } else {
        CHECK(m->payload == NULL && m->payload_len == 0);
    }
    CHECK(m->event != STT_TW_EV_MEDIA || (m->present & STT_TW_HAS_PAYLOAD));
    CHECK(m->event != STT_TW_EV_DTMF || (m->digit[0] && strlen(m->digit) < 8));
    CHECK(m->dialect != STT_TW_DIALECT_VONAGE || m->event != STT_TW_EV_MEDIA);
}

/* Field-by-field equality; `exact` also compares the dialect and the encoding as such. */
static void same(const stt_tw_msg_t *a, const stt_tw_msg_t *b, int exact)
{
    CHECK(a->event == b->event);
    CHECK(strcmp(a->event_name, b->event_name) == 0 || a->event != STT_TW_EV_UNKNOWN);
    CHECK(strcmp(a->stream_id, b->stream_id) == 0);
    CHECK((a->present & STT_TW_HAS_SEQUENCE) == (b->present & STT_TW_HAS_SEQUENCE));
    CHECK(!(a->present & STT_TW_HAS_SEQUENCE) || a->sequence == b->sequence);
    CHECK(strcmp(a->call_id, b->call_id) == 0 && strcmp(a->account_id, b->account_id) == 0);
    CHECK(a->tracks == b->tracks);
    CHECK(a->format.rate_hz == b->format.rate_hz && a->format.channels == b->format.channels);
    if (exact) {
        CHECK(a->dialect == b->dialect && a->present == b->present);
        CHECK(a->format.encoding == b->format.encoding);
    } else {
        CHECK(stt_tw_sample_bytes(a->format.encoding) == stt_tw_sample_bytes(b->format.encoding));
    }
    CHECK(a->n_params == b->n_params && b->params_dropped == 0);
    for (size_t i = 0; i < a->n_params; i++)
        CHECK(strcmp(a->params[i].name, b->params[i].name) == 0 &&
              strcmp(a->params[i].value, b->params[i].value) == 0);
    CHECK(strcmp(a->extra_headers, b->extra_headers) == 0);
    CHECK(a->track == b->track && a->chunk == b->chunk && a->timestamp_ms == b->timestamp_ms);
    CHECK(a->payload_len == b->payload_len);
    CHECK(a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
    CHECK(strcmp(a->digit, b->digit) == 0 && a->duration_ms == b->duration_ms);
    CHECK(strcmp(a->mark, b->mark) == 0);
    CHECK(a->error_code == b->error_code && strcmp(a->error_title, b->error_title) == 0 &&
          strcmp(a->error_detail, b->error_detail) == 0);
}

/* Rebuilds m in dialect d and parses it back into `back`. */
static void round_trip(const stt_tw_msg_t *m, stt_tw_dialect_t d, int exact)
{
    char *j = stt_tw_build(m, d);
    if (d == STT_TW_DIALECT_VONAGE && m->event == STT_TW_EV_MEDIA) {
        CHECK(j == NULL);
        return;
    }
    CHECK(j != NULL);
    stt_tw_err_t e = stt_tw_parse(j, strlen(j), 1 << 20, buf2, CAP, &back, err2, sizeof(err2));
    if (e != STT_TW_ERR_OK)
        fprintf(stderr, "fuzz_twilio: rebuilt %s does not parse: %s\n%s\n",
                stt_tw_dialect_name(d), err2, j);
    CHECK(e == STT_TW_ERR_OK);
    free(j);
    same(m, &back, exact);
}

/* The last member named key (the codec keeps the last of duplicated keys). */
static const cJSON *last(const cJSON *o, const char *key)
{
    const cJSON *found = NULL, *c;
    if (!cJSON_IsObject(o))
        return NULL;
    cJSON_ArrayForEach(c, o) if (c->string && strcmp(c->string, key) == 0) found = c;
    return found;
}

static void check_payload_against_reference(const uint8_t *data, size_t size, stt_tw_err_t e)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    const cJSON *ev = last(root, "event"), *md = last(root, "media"), *pl = last(md, "payload");
    /* Only the plain case: one media member, one payload string, event "media". */
    if (cJSON_IsString(ev) && strcmp(ev->valuestring, "media") == 0 && cJSON_IsString(pl) &&
        (e == STT_TW_ERR_OK || e == STT_TW_ERR_BASE64 || e == STT_TW_ERR_PAYLOAD_TOOBIG)) {
        size_t n, len = strlen(pl->valuestring);
        int ok = len < sizeof(refbuf) && ref_b64((const uint8_t *)pl->valuestring, len, refbuf, &n);
        if (e == STT_TW_ERR_OK) {
            CHECK(ok && n == msg.payload_len && memcmp(refbuf, msg.payload, n) == 0);
        } else if (e == STT_TW_ERR_BASE64) {
            CHECK(!ok);
        } else {
            CHECK(ok && n > CAP);
        }
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input as a message. */
    memset(err, 'x', sizeof(err));
    stt_tw_err_t e = stt_tw_parse((const char *)data, size, 0, buf, CAP, &msg, err, sizeof(err));
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    if (e == STT_TW_ERR_OK) {
        CHECK(err[0] == '\0');
        invariants(&msg);
        check_payload_against_reference(data, size, e);
        round_trip(&msg, msg.dialect, 1);
        if (msg.dialect != STT_TW_DIALECT_VONAGE)
            for (int d = STT_TW_DIALECT_TWILIO; d <= STT_TW_DIALECT_EXOTEL; d++)
                round_trip(&msg, (stt_tw_dialect_t)d, 0);
    } else {
        CHECK(e > STT_TW_ERR_OK && e <= STT_TW_ERR_DTMF); /* only the codec's own errors */
        CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        CHECK(msg.event == STT_TW_EV_NONE && msg.n_params == 0 && msg.payload == NULL);
        CHECK(stt_tw_err_close_code(e) >= 1000);
        check_payload_against_reference(data, size, e);
    }

    /* The input as base64 text, through both decoders, and its bytes through the encoder. */
    size_t n_ref, n_got;
    int ok = size < sizeof(refbuf) && ref_b64(data, size, refbuf, &n_ref);
    e = stt_tw_base64_decode((const char *)data, size, buf, CAP, &n_got, "x", err, sizeof(err));
    if (!ok) {
        CHECK(e == STT_TW_ERR_BASE64);
    } else if (n_ref > CAP) {
        CHECK(e == STT_TW_ERR_PAYLOAD_TOOBIG);
    } else {
        CHECK(e == STT_TW_ERR_OK && n_got == n_ref && memcmp(buf, refbuf, n_ref) == 0);
    }
    size_t raw = size > 3000 ? 3000 : size;
    char *enc = malloc(raw / 3 * 4 + 5);
    size_t elen = stt_tw_base64_encode(data, raw, enc);
    CHECK(elen == (raw + 2) / 3 * 4 && strlen(enc) == elen);
    e = stt_tw_base64_decode(enc, elen, buf, CAP, &n_got, "x", err, sizeof(err));
    CHECK(e == STT_TW_ERR_OK && n_got == raw && memcmp(buf, data, raw) == 0);
    free(enc);
    return 0;
}

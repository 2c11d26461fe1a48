/* Asterisk AudioSocket codec (include/stt/audiosocket.h). */
#include "stt/audiosocket.h"
#include "stt/error.h"
#include "stt/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stt_as_init(stt_as_parser_t *p)
{
    p->hdr_got = 0;
    p->len = p->got = 0;
    p->seen_uuid = 0;
    p->failed = 0;
    p->buf = NULL;
    p->cap = 0;
}

void stt_as_dispose(stt_as_parser_t *p)
{
    free(p->buf);
    p->buf = NULL;
    p->cap = 0;
}

int stt_as_rate(uint8_t type)
{
    static const int rates[] = {8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000};
    return type >= 0x10 && type <= 0x18 ? rates[type - 0x10] : 0;
}

void stt_as_header(uint8_t type, uint16_t len, uint8_t out[3])
{
    out[0] = type;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)len;
}

static int violation(stt_as_parser_t *p, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int violation(stt_as_parser_t *p, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    p->failed = 1;
    return STT_EPARSE;
}

/* One complete message: checked, described, handed to cb. */
static int deliver(stt_as_parser_t *p, const uint8_t *payload, stt_as_cb cb, void *ud, char *err,
                   size_t errlen)
{
    uint8_t type = p->hdr[0];
    size_t len = p->len;
    stt_as_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.payload = payload;
    m.len = len;
    if (!p->seen_uuid && type != 0x01)
        return violation(p, err, errlen,
                         "audiosocket: the first message is type 0x%02x (%zu bytes), not the UUID",
                         type, len);
    if (type == 0x01) {
        if (len != 16)
            return violation(p, err, errlen, "audiosocket: a UUID of %zu bytes (16 expected)", len);
        m.kind = STT_AS_UUID;
        static const char hex[] = "0123456789abcdef";
        char *o = m.uuid;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                *o++ = '-';
            *o++ = hex[payload[i] >> 4];
            *o++ = hex[payload[i] & 15];
        }
        *o = '\0';
        p->seen_uuid = 1;
    } else if (type == 0x00) {
        m.kind = STT_AS_HANGUP;
    } else if (type == 0x03) {
        if (len != 1)
            return violation(p, err, errlen, "audiosocket: a DTMF message of %zu bytes (1 expected)",
                             len);
        m.kind = STT_AS_DTMF;
        m.digit = (char)payload[0];
    } else if (stt_as_rate(type)) {
        /* An empty audio message carries nothing: reported (len 0) for the caller to skip, not
         * a violation; hanging up a live call for it would cost more than it protects. */
        m.kind = STT_AS_AUDIO;
        m.rate_hz = stt_as_rate(type);
    } else if (type == 0xff) {
        m.kind = STT_AS_ERROR;
        m.error_code = len ? payload[0] : 0;
    } else {
        m.kind = STT_AS_UNKNOWN;
    }
    return cb ? cb(&m, ud) : 0;
}

int stt_as_feed(stt_as_parser_t *p, const uint8_t *data, size_t n, stt_as_cb cb, void *ud,
                char *err, size_t errlen)
{
    if (p->failed) {
        snprintf(err, errlen, "audiosocket: the stream already failed");
        return STT_EPARSE;
    }
    size_t i = 0;
    while (i < n) {
        if (p->hdr_got < 3) {
            p->hdr[p->hdr_got++] = data[i++];
            if (p->hdr_got < 3)
                continue;
            p->len = (size_t)p->hdr[1] << 8 | p->hdr[2];
            p->got = 0;
            if (p->len > 0)
                continue;
        }
        const uint8_t *payload = p->buf;
        size_t want = p->len - p->got;
        if (p->got == 0 && n - i >= want) { /* whole in this read: hand it out in place */
            payload = data + i;
            i += want;
        } else {
            if (p->cap < p->len) { /* the payload's length, from the header: at most 65,535 */
                p->cap = p->len < 512 ? 512 : p->len;
                p->buf = stt_realloc(p->buf, p->cap);
            }
            payload = p->buf;
            size_t take = n - i < want ? n - i : want;
            memcpy(p->buf + p->got, data + i, take);
            p->got += take;
            i += take;
            if (p->got < p->len)
                return 0;
        }
        p->hdr_got = 0;
        int rc = deliver(p, payload, cb, ud, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

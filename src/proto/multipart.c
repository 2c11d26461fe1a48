/* Incremental multipart/form-data parser (include/stt/multipart.h).
 *
 * The body is a byte stream scanned for the delimiter D = CRLF "--" boundary (at most 74 bytes)
 * with Knuth-Morris-Pratt, so a delimiter split across any chunk boundary is found without
 * keeping bytes: the bytes of a partial match at the end of a chunk are always the prefix
 * D[0..k) of the delimiter itself, so they are re-emitted from D when the match fails. Part
 * bytes are handed to part_data in runs: at the end of each chunk (up to the start of a
 * possible partial match) and when a delimiter completes.
 *
 * The first delimiter may start the body without its CRLF (RFC 2046 "dash-boundary"): the
 * scanner starts as if "\r\n" had just been seen. Only the part header block is kept (in a
 * fixed STT_MP_MAX_HEADER_BYTES buffer), parsed once its empty line arrives: unfolded, split
 * into lines, Content-Disposition / Content-Type / Content-Transfer-Encoding read, the strings
 * decoded into a second fixed buffer (decoding never lengthens: see decode_ext_value).
 *
 * Pure: no globals, no I/O; one parser per body, one thread at a time. */
#include "stt/multipart.h"

#include "stt/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELIM_MAX (4 + STT_MP_MAX_BOUNDARY)

typedef enum {
    ST_PREAMBLE,    /* before the first delimiter */
    ST_AFTER_DELIM, /* a delimiter matched: "--", padding or CRLF follow */
    ST_HEADERS,     /* a part's header block, up to its empty line */
    ST_DATA,        /* a part's bytes */
    ST_EPILOGUE,    /* after the closing delimiter: ignored */
} state_t;

/* What follows a matched delimiter (ST_AFTER_DELIM). */
typedef enum { AD_START, AD_DASH, AD_PAD, AD_CR } after_t;

struct stt_multipart {
    stt_multipart_cb_t cb;
    void *user;
    char delim[DELIM_MAX + 1]; /* "\r\n--" boundary */
    size_t dlen;
    unsigned char fail[DELIM_MAX]; /* KMP failure function of delim */
    state_t state;
    after_t after;
    int err;   /* sticky error, 0 when none */
    int parts; /* parts begun */
    size_t k;  /* bytes of delim matched so far */
    uint64_t abs;     /* body offset of the next byte fed */
    uint64_t emitted; /* ST_DATA: body offset up to which part bytes went to part_data */
    size_t hlen;
    char hdr[STT_MP_MAX_HEADER_BYTES + 1];
    char strs[STT_MP_MAX_HEADER_BYTES + 8];
};

const char *stt_multipart_error(int code)
{
    switch (code) {
#define STT_MP_ERR_STR(name, val, msg)                                                             \
    case STT_MP_E_##name:                                                                          \
        return msg;
        STT_MP_ERR_MAP(STT_MP_ERR_STR)
#undef STT_MP_ERR_STR
    default:
        return "unknown multipart error";
    }
}

/* ---- lexical helpers ---- */

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* RFC 7230 tchar. */
static int is_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 bchars (space included; the caller refuses a trailing one). */
static int is_bchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("'()+_,-./:=? ", c) != NULL;
}

static int valid_boundary(const char *s, size_t n)
{
    if (n < 1 || n > STT_MP_MAX_BOUNDARY || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)s[i]))
            return 0;
    return 1;
}

static int token_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* One ";name=value" parameter: the value raw (quoted: between the quotes, escapes still in). */
typedef struct {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
    int quoted;
} param_t;

/* Reads the next parameter at *pp. Returns 1 (one read, *pp after it), 0 (end of the value,
 * a trailing ';' allowed) or -1 (malformed). */
static int next_param(const char **pp, const char *end, param_t *prm)
{
    const char *p = *pp;
    while (p < end && is_ows((unsigned char)*p))
        p++;
    if (p == end)
        return 0;
    if (*p != ';')
        return -1;
    p++;
    while (p < end && is_ows((unsigned char)*p))
        p++;
    if (p == end)
        return 0;
    prm->name = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    prm->nlen = (size_t)(p - prm->name);
    if (prm->nlen == 0)
        return -1;
    while (p < end && is_ows((unsigned char)*p))
        p++;
    if (p == end || *p != '=')
        return -1;
    p++;
    while (p < end && is_ows((unsigned char)*p))
        p++;
    if (p < end && *p == '"') {
        prm->val = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
                p++;
            p++;
        }
        if (p == end)
            return -1; /* unterminated */
        prm->vlen = (size_t)(p - prm->val);
        prm->quoted = 1;
        p++;
    } else {
        prm->val = p;
        while (p < end && !is_ows((unsigned char)*p) && *p != ';' && *p != '"')
            p++;
        prm->vlen = (size_t)(p - prm->val);
        prm->quoted = 0;
        if (prm->vlen == 0 || (p < end && *p == '"'))
            return -1;
    }
    *pp = p;
    return 1;
}

/* Copies a parameter value into dst, quoted-pair escapes removed; returns the length written
 * (never more than prm->vlen). dst gets a NUL after it. */
static size_t unquote(const param_t *prm, char *dst)
{
    size_t n = 0;
    for (size_t i = 0; i < prm->vlen; i++) {
        if (prm->quoted && prm->val[i] == '\\' && i + 1 < prm->vlen)
            i++;
        dst[n++] = prm->val[i];
    }
    dst[n] = '\0';
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes an RFC 5987 ext-value (charset'language'pct-encoded) into dst. Returns the length
 * written (at most vlen: "%XX" is 3 bytes for at most 2 out, a literal byte is 1 for 1), -1
 * when malformed, -2 for a charset other than UTF-8 or ISO-8859-1 (then ignored, RFC 6266). */
static long decode_ext_value(const param_t *prm, char *dst)
{
    if (prm->quoted)
        return -1;
    const char *v = prm->val, *end = v + prm->vlen;
    const char *q1 = memchr(v, '\'', prm->vlen);
    if (q1 == NULL)
        return -1;
    const char *q2 = memchr(q1 + 1, '\'', (size_t)(end - q1 - 1));
    if (q2 == NULL)
        return -1;
    int latin1;
    if (token_eq(v, (size_t)(q1 - v), "utf-8"))
        latin1 = 0;
    else if (token_eq(v, (size_t)(q1 - v), "iso-8859-1"))
        latin1 = 1;
    else
        return -2;
    size_t n = 0;
    for (const char *p = q2 + 1; p < end; p++) {
        unsigned c = (unsigned char)*p;
        if (c == '%') {
            if (end - p < 3 || hexval(p[1]) < 0 || hexval(p[2]) < 0)
                return -1;
            c = (unsigned)(hexval(p[1]) << 4 | hexval(p[2]));
            p += 2;
            if (c < 0x20 || c == 0x7f)
                return -1; /* no NUL or control characters in a file name */
        } else if (c >= 0x80 && latin1) {
            return -1; /* raw 8-bit bytes are not attr-chars */
        } else if (c == '\'') {
            return -1;
        }
        if (latin1 && c >= 0x80) {
            dst[n++] = (char)(0xC0 | c >> 6);
            dst[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return (long)n;
}

/* ---- the part header block ---- */

typedef struct {
    const char *name, *filename, *content_type;
    char *out; /* next free byte of mp->strs */
} part_info_t;

static char *put_str(part_info_t *pi, const char *s, size_t n)
{
    char *d = pi->out;
    memcpy(d, s, n);
    d[n] = '\0';
    pi->out += n + 1;
    return d;
}

/* Content-Disposition: form-data; name="..."; filename="..."; filename*=UTF-8''... */
static int parse_disposition(const char *v, part_info_t *pi)
{
    const char *end = v + strlen(v);
    while (v < end && is_ows((unsigned char)*v))
        v++;
    const char *t = v;
    while (v < end && is_tchar((unsigned char)*v))
        v++;
    if (!token_eq(t, (size_t)(v - t), "form-data"))
        return STT_MP_E_DISPOSITION;
    const char *filename = NULL, *filename_ext = NULL;
    param_t prm;
    int r;
    while ((r = next_param(&v, end, &prm)) == 1) {
        if (token_eq(prm.name, prm.nlen, "name")) {
            if (pi->name != NULL)
                return STT_MP_E_DISPOSITION;
            pi->name = pi->out;
            pi->out += unquote(&prm, pi->out) + 1;
        } else if (token_eq(prm.name, prm.nlen, "filename")) {
            if (filename != NULL)
                return STT_MP_E_DISPOSITION;
            filename = pi->out;
            pi->out += unquote(&prm, pi->out) + 1;
        } else if (token_eq(prm.name, prm.nlen, "filename*")) {
            if (filename_ext != NULL)
                return STT_MP_E_DISPOSITION;
            long n = decode_ext_value(&prm, pi->out);
            if (n == -1)
                return STT_MP_E_DISPOSITION;
            if (n >= 0) {
                filename_ext = pi->out;
                pi->out += n + 1;
            }
        }
        /* Other parameters (name*, size, creation-date, ...) are ignored (RFC 7578 4.2). */
    }
    if (r < 0)
        return STT_MP_E_DISPOSITION;
    if (pi->name == NULL)
        return STT_MP_E_NO_NAME;
    pi->filename = filename_ext ? filename_ext : filename ? filename : "";
    return 0;
}

/* Parses mp->hdr[0..hlen), which ends with the empty line (CRLF CRLF, or a lone CRLF for no
 * headers). Returns 0 with pi filled, or an error. */
static int parse_headers(stt_multipart_t *mp, part_info_t *pi)
{
    char *h = mp->hdr;
    size_t n = mp->hlen - 2; /* drop the empty line's CRLF: lines end in CRLF from here */
    /* Validate and unfold in place: a CRLF followed by SP/HT is removed (RFC 5322 2.2.3). */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '\r') {
            if (i + 1 >= n || h[i + 1] != '\n')
                return STT_MP_E_HEADER; /* a bare CR */
            if (i + 2 < n && is_ows((unsigned char)h[i + 2])) {
                i++; /* folded: drop CRLF, keep the whitespace */
                continue;
            }
            h[w++] = '\0'; /* end of a line */
            i++;
            continue;
        }
        if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f)
            return STT_MP_E_HEADER;
        h[w++] = (char)c;
    }
    pi->name = pi->filename = pi->content_type = NULL;
    pi->out = mp->strs;
    int have_disp = 0;
    for (size_t i = 0; i < w;) {
        char *line = h + i;
        size_t len = strlen(line);
        i += len + 1;
        char *colon = memchr(line, ':', len);
        if (colon == NULL || colon == line)
            return STT_MP_E_HEADER;
        for (char *p = line; p < colon; p++)
            if (!is_tchar((unsigned char)*p))
                return STT_MP_E_HEADER; /* also a first line that starts with whitespace */
        size_t nlen = (size_t)(colon - line);
        char *v = colon + 1, *vend = line + len;
        while (v < vend && is_ows((unsigned char)*v))
            v++;
        while (vend > v && is_ows((unsigned char)vend[-1]))
            *--vend = '\0';
        if (token_eq(line, nlen, "content-disposition")) {
            if (have_disp)
                return STT_MP_E_DISPOSITION;
            have_disp = 1;
            int rc = parse_disposition(v, pi);
            if (rc < 0)
                return rc;
        } else if (token_eq(line, nlen, "content-type")) {
            if (pi->content_type == NULL)
                pi->content_type = put_str(pi, v, (size_t)(vend - v));
        } else if (token_eq(line, nlen, "content-transfer-encoding")) {
            size_t vl = (size_t)(vend - v);
            if (!token_eq(v, vl, "binary") && !token_eq(v, vl, "8bit") && !token_eq(v, vl, "7bit"))
                return STT_MP_E_ENCODING;
        }
    }
    if (!have_disp)
        return STT_MP_E_NO_DISPOSITION;
    if (pi->content_type == NULL)
        pi->content_type = "";
    return 0;
}

/* ---- the scanner ---- */

static int fail_with(stt_multipart_t *mp, int err)
{
    mp->err = err;
    return err;
}

/* One chunk being fed: part bytes in [a, b) (body offsets) may lie in the held partial match
 * (held bytes before the chunk, equal to delim[0..held)) or in the chunk itself. */
typedef struct {
    const uint8_t *buf;
    uint64_t base; /* body offset of buf[0] */
    size_t held;   /* ST_DATA's partial match carried into this chunk */
} chunk_t;

static int emit(stt_multipart_t *mp, const chunk_t *c, uint64_t a, uint64_t b)
{
    if (a >= b || mp->cb.part_data == NULL)
        return 0;
    if (a < c->base) {
        uint64_t hb = b < c->base ? b : c->base;
        const char *src = mp->delim + (size_t)(a - (c->base - c->held));
        if (mp->cb.part_data(mp->user, (const uint8_t *)src, (size_t)(hb - a)) != 0)
            return STT_MP_E_ABORTED;
        a = hb;
    }
    if (a < b &&
        mp->cb.part_data(mp->user, c->buf + (size_t)(a - c->base), (size_t)(b - a)) != 0)
        return STT_MP_E_ABORTED;
    return 0;
}

/* Advances the KMP match by one byte; returns 1 when the delimiter is complete. */
static int match_byte(stt_multipart_t *mp, uint8_t ch)
{
    size_t k = mp->k;
    while (k > 0 && (uint8_t)mp->delim[k] != ch)
        k = mp->fail[k - 1];
    if ((uint8_t)mp->delim[k] == ch)
        k++;
    if (k == mp->dlen) {
        mp->k = 0;
        return 1;
    }
    mp->k = k;
    return 0;
}

static int begin_part(stt_multipart_t *mp)
{
    part_info_t pi;
    int rc = parse_headers(mp, &pi);
    if (rc < 0)
        return rc;
    mp->parts++;
    if (mp->cb.part_begin &&
        mp->cb.part_begin(mp->user, pi.name, pi.filename, pi.content_type) != 0)
        return STT_MP_E_ABORTED;
    return 0;
}

/* What follows a delimiter: "--" (the end), or transport padding and CRLF (a part). */
static int after_delim(stt_multipart_t *mp, uint8_t ch)
{
    switch (mp->after) {
    case AD_START:
        if (ch == '-') {
            mp->after = AD_DASH;
            return 0;
        }
        /* fall through */
    case AD_PAD:
        if (is_ows(ch)) {
            mp->after = AD_PAD;
            return 0;
        }
        if (ch == '\r') {
            mp->after = AD_CR;
            return 0;
        }
        return STT_MP_E_DELIMITER;
    case AD_DASH:
        if (ch != '-')
            return STT_MP_E_DELIMITER;
        mp->state = ST_EPILOGUE;
        return 0;
    case AD_CR:
        if (ch != '\n')
            return STT_MP_E_DELIMITER;
        if (mp->parts >= STT_MP_MAX_PARTS)
            return STT_MP_E_TOO_MANY_PARTS;
        mp->state = ST_HEADERS;
        mp->hlen = 0;
        return 0;
    }
    return STT_MP_E_DELIMITER;
}

static int header_byte(stt_multipart_t *mp, uint8_t ch)
{
    if (mp->hlen >= STT_MP_MAX_HEADER_BYTES)
        return STT_MP_E_HEADER_TOO_BIG;
    mp->hdr[mp->hlen++] = (char)ch;
    size_t n = mp->hlen;
    if (ch != '\n' || n < 2 || mp->hdr[n - 2] != '\r')
        return 0;
    if (n == 2 || (n >= 4 && memcmp(mp->hdr + n - 4, "\r\n\r\n", 4) == 0)) {
        mp->hdr[n] = '\0';
        int rc = begin_part(mp);
        if (rc < 0)
            return rc;
        mp->state = ST_DATA;
        mp->k = 0;
        mp->emitted = mp->abs; /* abs already counts this byte */
    }
    return 0;
}

/* Scans part bytes from buf[i]; returns the index after the delimiter that ended the part, or
 * len when the chunk ended inside the part (its bytes up to a partial match emitted). */
static size_t data_run(stt_multipart_t *mp, const chunk_t *c, size_t i, size_t len, int *rc)
{
    while (i < len) {
        if (mp->k == 0) {
            /* Nothing matched: jump to the next CR, the delimiter's first byte. */
            const uint8_t *cr = memchr(c->buf + i, '\r', len - i);
            if (cr == NULL) {
                i = len;
                break;
            }
            i = (size_t)(cr - c->buf);
        }
        uint8_t ch = c->buf[i++];
        if (match_byte(mp, ch)) {
            uint64_t end = c->base + i;
            *rc = emit(mp, c, mp->emitted, end - mp->dlen);
            if (*rc == 0 && mp->cb.part_end && mp->cb.part_end(mp->user) != 0)
                *rc = STT_MP_E_ABORTED;
            mp->state = ST_AFTER_DELIM;
            mp->after = AD_START;
            return i;
        }
    }
    uint64_t end = c->base + len;
    *rc = emit(mp, c, mp->emitted, end - mp->k);
    mp->emitted = end - mp->k;
    return len;
}

int stt_multipart_feed(stt_multipart_t *mp, const uint8_t *buf, size_t len)
{
    if (mp == NULL || (buf == NULL && len > 0))
        return STT_MP_E_INVAL;
    if (mp->err)
        return mp->err;
    chunk_t c = {buf, mp->abs, mp->state == ST_DATA ? mp->k : 0};
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        switch (mp->state) {
        case ST_PREAMBLE:
            mp->abs++;
            if (match_byte(mp, buf[i++])) {
                mp->state = ST_AFTER_DELIM;
                mp->after = AD_START;
            } else if (mp->abs > STT_MP_MAX_PREAMBLE_BYTES + mp->k) {
                /* A delimiter could now only start after more than the allowed preamble. */
                rc = STT_MP_E_PREAMBLE;
            }
            continue;
        case ST_AFTER_DELIM:
            mp->abs++;
            rc = after_delim(mp, buf[i++]);
            continue;
        case ST_HEADERS:
            mp->abs++;
            rc = header_byte(mp, buf[i++]);
            continue;
        case ST_DATA: {
            size_t j = data_run(mp, &c, i, len, &rc);
            mp->abs += j - i;
            i = j;
            continue;
        }
        case ST_EPILOGUE:
            mp->abs += len - i;
            i = len;
            continue;
        }
    }
    if (rc < 0)
        return fail_with(mp, rc);
    return 0;
}

int stt_multipart_finish(stt_multipart_t *mp)
{
    if (mp == NULL)
        return STT_MP_E_INVAL;
    if (mp->err)
        return mp->err;
    if (mp->state == ST_EPILOGUE)
        return 0;
    return fail_with(mp, mp->state == ST_PREAMBLE ? STT_MP_E_NO_DELIMITER : STT_MP_E_TRUNCATED);
}

int stt_multipart_parts(const stt_multipart_t *mp)
{
    return mp ? mp->parts : 0;
}

int stt_multipart_boundary(const char *content_type_header, char *out, size_t cap)
{
    if (content_type_header == NULL || out == NULL || cap < STT_MP_MAX_BOUNDARY + 1)
        return STT_MP_E_INVAL;
    out[0] = '\0';
    const char *p = content_type_header, *end = p + strlen(p);
    while (p < end && is_ows((unsigned char)*p))
        p++;
    const char *t = p;
    while (p < end && *p != ';' && !is_ows((unsigned char)*p))
        p++;
    if (!token_eq(t, (size_t)(p - t), "multipart/form-data"))
        return STT_MP_E_NOT_MULTIPART;
    param_t prm;
    int found = 0;
    for (;;) {
        int r = next_param(&p, end, &prm);
        if (r == 0)
            break;
        if (r < 0) {
            /* A malformed parameter: skip it (a broken charset must not hide a good boundary),
             * unless it is the boundary itself. */
            while (p < end && (is_ows((unsigned char)*p) || *p == ';'))
                p++;
            const char *q = p;
            while (q < end && is_tchar((unsigned char)*q))
                q++;
            if (token_eq(p, (size_t)(q - p), "boundary"))
                return STT_MP_E_BAD_BOUNDARY;
            const char *semi = memchr(q, ';', (size_t)(end - q));
            if (semi == NULL)
                break;
            p = semi;
            continue;
        }
        if (!token_eq(prm.name, prm.nlen, "boundary"))
            continue;
        if (found || prm.vlen > 2 * STT_MP_MAX_BOUNDARY)
            return STT_MP_E_BAD_BOUNDARY; /* twice, or far too long to unquote into out */
        char tmp[2 * STT_MP_MAX_BOUNDARY + 1];
        size_t n = unquote(&prm, tmp);
        if (!valid_boundary(tmp, n))
            return STT_MP_E_BAD_BOUNDARY;
        memcpy(out, tmp, n + 1);
        found = 1;
    }
    return found ? 0 : STT_MP_E_NO_BOUNDARY;
}

stt_multipart_t *stt_multipart_create(const char *boundary, const stt_multipart_cb_t *cb,
                                      void *user)
{
    if (boundary == NULL || cb == NULL)
        return NULL;
    size_t blen = strlen(boundary);
    if (!valid_boundary(boundary, blen))
        return NULL;
    stt_multipart_t *mp = stt_calloc(1, sizeof(*mp)); /* fixed size; aborts on failure */
    mp->cb = *cb;
    mp->user = user;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, blen + 1);
    mp->dlen = 4 + blen;
    /* KMP failure function: fail[i] = length of the longest proper prefix of delim[0..i] that
     * is also its suffix. */
    mp->fail[0] = 0;
    for (size_t i = 1, f = 0; i < mp->dlen; i++) {
        while (f > 0 && mp->delim[i] != mp->delim[f])
            f = mp->fail[f - 1];
        if (mp->delim[i] == mp->delim[f])
            f++;
        mp->fail[i] = (unsigned char)f;
    }
    mp->state = ST_PREAMBLE;
    mp->k = 2; /* as if a CRLF came before the body: the first "--boundary" needs none */
    return mp;
}

void stt_multipart_destroy(stt_multipart_t *mp)
{
    free(mp);
}

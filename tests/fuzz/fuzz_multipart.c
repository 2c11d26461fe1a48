/* libFuzzer driver for the multipart/form-data parser (src/proto/multipart.c).
 *
 * Each input is used three ways.
 * 1. As a seed for a well-formed body built by this driver (the reference): a random boundary
 *    (1..70 RFC 2046 characters), an optional preamble, 1..8 parts with random names and file
 *    names (quoted with escapes, or as filename*=UTF-8''%XX), optional Content-Type, random
 *    header casing, folding and unknown headers, bodies rich in CR, LF, '-' and near-miss
 *    delimiters (a prefix of CRLF--boundary, then a different byte), random transport padding
 *    after each boundary, an optional epilogue. The body is fed whole, byte by byte, and in
 *    random chunk splits (small ones around the delimiter length, and large ones); every split
 *    must report exactly the parts built (names, file names, content types, bytes) and finish 0.
 * 2. As a raw body (after the first line, which names the boundary), fed whole, byte by byte
 *    and in random splits: the callbacks must be well ordered (data and end only inside a part),
 *    never report more data bytes than were fed, and every split must give the same events,
 *    the same bytes and the same final code (the parse cannot depend on the chunking).
 * 3. As a Content-Type header value: a boundary found must be valid, and quoting it back must
 *    find it again.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/multipart/) as an ordinary test without clang. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- a growable byte buffer ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf_t;

static void put(buf_t *b, const void *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p != NULL);
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putc_(buf_t *b, uint8_t c)
{
    put(b, &c, 1);
}

/* ---- a small PRNG seeded from the input ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* ---- recording the callbacks ---- */

#define MAX_REC_PARTS (STT_MP_MAX_PARTS + 1)

typedef struct {
    char *name, *filename, *ctype;
    buf_t body;
    int ended;
} rec_part_t;

typedef struct {
    rec_part_t parts[MAX_REC_PARTS];
    int n;
    int open;       /* a part begun and not ended */
    size_t data_bytes;
    int abort_at;   /* stop (return 1) at this part_begin, -1 never */
} rec_t;

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    CHECK(d != NULL);
    memcpy(d, s, n + 1);
    return d;
}

static int on_begin(void *user, const char *name, const char *filename, const char *ctype)
{
    rec_t *r = user;
    CHECK(!r->open);
    CHECK(name != NULL && filename != NULL && ctype != NULL);
    for (const char *s = name; *s; s++)
        CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
    for (const char *s = filename; *s; s++)
        CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
    CHECK(r->n < MAX_REC_PARTS);
    CHECK(r->n < STT_MP_MAX_PARTS);
    if (r->abort_at == r->n)
        return 1;
    rec_part_t *p = &r->parts[r->n++];
    p->name = dup_str(name);
    p->filename = dup_str(filename);
    p->ctype = dup_str(ctype);
    memset(&p->body, 0, sizeof(p->body));
    p->ended = 0;
    r->open = 1;
    return 0;
}

static int on_data(void *user, const uint8_t *d, size_t n)
{
    rec_t *r = user;
    CHECK(r->open && n > 0 && d != NULL);
    put(&r->parts[r->n - 1].body, d, n);
    r->data_bytes += n;
    return 0;
}

static int on_end(void *user)
{
    rec_t *r = user;
    CHECK(r->open);
    r->open = 0;
    r->parts[r->n - 1].ended = 1;
    return 0;
}

static void rec_free(rec_t *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->parts[i].name);
        free(r->parts[i].filename);
        free(r->parts[i].ctype);
        free(r->parts[i].body.p);
    }
    r->n = 0;
}

static const stt_multipart_cb_t CB = {on_begin, on_data, on_end};

/* Split modes: 0 whole, 1 byte by byte, 2 small random chunks, 3 large random chunks. */
static int run_split(const char *boundary, const uint8_t *body, size_t len, int mode, rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->abort_at = -1;
    stt_multipart_t *mp = stt_multipart_create(boundary, &CB, r);
    CHECK(mp != NULL);
    size_t off = 0, fed = 0;
    int rc = 0;
    while (off < len) {
        size_t n = len - off;
        if (mode == 1)
            n = 1;
        else if (mode == 2)
            n = 1 + below(strlen(boundary) + 6);
        else if (mode == 3)
            n = 1 + below(len);
        if (n > len - off)
            n = len - off;
        /* An exactly sized copy, so ASan flags any read past the chunk. */
        uint8_t *chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, body + off, n);
        rc = stt_multipart_feed(mp, chunk, n);
        free(chunk);
        off += n;
        fed += n;
        CHECK(r->data_bytes <= fed);
        if (rc < 0) {
            CHECK(stt_multipart_feed(mp, body, len) == rc); /* sticky, no callback */
            break;
        }
    }
    CHECK(stt_multipart_feed(mp, NULL, 0) == rc);
    int fin = stt_multipart_finish(mp);
    if (rc < 0)
        CHECK(fin == rc);
    CHECK(fin <= 0 && strcmp(stt_multipart_error(fin == 0 ? -1 : fin), "unknown multipart error"));
    CHECK(stt_multipart_parts(mp) == r->n);
    stt_multipart_destroy(mp);
    return fin;
}

static void same_records(const rec_t *a, const rec_t *b)
{
    CHECK(a->n == b->n);
    CHECK(a->open == b->open);
    for (int i = 0; i < a->n; i++) {
        CHECK(strcmp(a->parts[i].name, b->parts[i].name) == 0);
        CHECK(strcmp(a->parts[i].filename, b->parts[i].filename) == 0);
        CHECK(strcmp(a->parts[i].ctype, b->parts[i].ctype) == 0);
        CHECK(a->parts[i].body.n == b->parts[i].body.n);
        CHECK(a->parts[i].body.n == 0 ||
              memcmp(a->parts[i].body.p, b->parts[i].body.p, a->parts[i].body.n) == 0);
        CHECK(a->parts[i].ended == b->parts[i].ended);
    }
}

/* ---- 1. generated well-formed bodies ---- */

typedef struct {
    char name[64], filename[64], ctype[40];
    buf_t body;
} gen_part_t;

static const char BCHARS[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=? ";

static void random_text(char *s, size_t max, int allow_empty)
{
    static const char *pieces[] = {"a", "b", "file", "model", "x y", "\"", "\\", ";", "=", "'",
                                   "\xc3\xa9", "\xe2\x82\xac", "%", "--",
                                   "timestamp_granularities[]"};
    size_t n = below(5) + (allow_empty ? 0 : 1), len = 0;
    s[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        if (len + strlen(p) + 1 > max)
            break;
        memcpy(s + len, p, strlen(p) + 1);
        len += strlen(p);
    }
    if (!allow_empty && len == 0)
        memcpy(s, "f", 2);
}

static void put_quoted(buf_t *b, const char *s)
{
    putc_(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putc_(b, '\\');
        putc_(b, (uint8_t)*s);
    }
    putc_(b, '"');
}

static void put_ext_value(buf_t *b, const char *s)
{
    puts_(b, below(2) ? "UTF-8''" : "utf-8'en'");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') {
            putc_(b, c);
        } else {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", c);
            puts_(b, hex);
        }
    }
}

static void put_cased(buf_t *b, const char *s)
{
    int mode = (int)below(3);
    for (; *s; s++) {
        char c = *s;
        if (mode == 1 && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (mode == 2 && below(2) && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        putc_(b, (uint8_t)c);
    }
}

static void random_body(buf_t *b, const char *delim, size_t dlen)
{
    size_t len = below(8) == 0 ? below(70000) : below(300);
    while (b->n < len) {
        switch (below(6)) {
        case 0: /* a near miss: a proper prefix of the delimiter, then something else */
            put(b, delim, below(dlen));
            putc_(b, (uint8_t)(below(2) ? 'Z' : '\r'));
            break;
        case 1:
            puts_(b, "\r\n");
            break;
        case 2:
            puts_(b, "--");
            break;
        default:
            putc_(b, (uint8_t)rnd());
        }
    }
}

/* Where the delimiter occurs in CRLF+body+delim before the one put at its end (the CRLF
 * stands for the end of the header block, or the parser's virtual CRLF before a preamble): the
 * index of a body byte inside that false delimiter, or -1 when there is none. */
static long spurious(const buf_t *body, const char *delim, size_t dlen)
{
    buf_t t = {0};
    puts_(&t, "\r\n");
    put(&t, body->p, body->n);
    put(&t, delim, dlen);
    const uint8_t *hit = memmem(t.p, t.n, delim, dlen);
    long at = hit == t.p + 2 + body->n ? -1 : (long)(hit - t.p);
    free(t.p);
    return at < 0 ? -1 : at >= 2 ? at - 2 : 0;
}

static void generated(void)
{
    char boundary[STT_MP_MAX_BOUNDARY + 1];
    size_t blen = 1 + below(below(4) ? 40 : STT_MP_MAX_BOUNDARY);
    for (size_t i = 0; i < blen; i++)
        boundary[i] = BCHARS[below(sizeof(BCHARS) - 1)];
    if (boundary[blen - 1] == ' ')
        boundary[blen - 1] = 'q';
    boundary[blen] = 0;
    char delim[4 + STT_MP_MAX_BOUNDARY + 1];
    snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    size_t dlen = strlen(delim);

    /* The Content-Type header a client would send finds the same boundary. */
    char ct[160], got[STT_MP_MAX_BOUNDARY + 1];
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"", boundary);
    CHECK(stt_multipart_boundary(ct, got, sizeof(got)) == 0 && strcmp(got, boundary) == 0);

    int nparts = 1 + (int)below(8);
    gen_part_t parts[8];
    buf_t msg = {0};
    if (below(3) == 0) { /* a preamble that holds no delimiter */
        buf_t pre = {0};
        puts_(&pre, "preamble ");
        random_body(&pre, delim, dlen);
        if (pre.n > 1000)
            pre.n = 1000;
        for (long at; (at = spurious(&pre, delim, dlen)) >= 0;)
            pre.n = (size_t)at;
        put(&msg, pre.p, pre.n);
        free(pre.p);
        puts_(&msg, "\r\n");
        put(&msg, delim + 2, dlen - 2);
    } else {
        put(&msg, delim + 2, dlen - 2);
    }
    for (int i = 0; i < nparts; i++) {
        gen_part_t *p = &parts[i];
        memset(p, 0, sizeof(*p));
        random_text(p->name, sizeof(p->name), 1);
        int fmode = (int)below(4); /* 0 none, 1 filename, 2 filename*, 3 both */
        if (fmode)
            random_text(p->filename, sizeof(p->filename), 0);
        if (below(2))
            snprintf(p->ctype, sizeof(p->ctype), "%s",
                     below(2) ? "audio/wav" : "application/octet-stream");
        for (size_t n = below(3); n > 0; n--)
            putc_(&msg, below(2) ? ' ' : '\t'); /* transport padding */
        puts_(&msg, "\r\n");
        if (below(3) == 0)
            puts_(&msg, "X-Unknown: 1\r\n");
        put_cased(&msg, "Content-Disposition");
        puts_(&msg, ": form-data");
        puts_(&msg, below(4) == 0 ? ";\r\n\t" : "; ");
        puts_(&msg, "name=");
        put_quoted(&msg, p->name);
        if (fmode == 1 || fmode == 3) {
            puts_(&msg, below(4) == 0 ? "\r\n ; " : "; ");
            puts_(&msg, "filename=");
            put_quoted(&msg, fmode == 3 ? "fallback.wav" : p->filename);
        }
        if (fmode >= 2) {
            puts_(&msg, "; filename*=");
            put_ext_value(&msg, p->filename);
        }
        puts_(&msg, "\r\n");
        if (p->ctype[0]) {
            put_cased(&msg, "Content-Type");
            puts_(&msg, below(2) ? ": " : ":");
            puts_(&msg, p->ctype);
            puts_(&msg, below(2) ? "  \r\n" : "\r\n");
        }
        if (below(4) == 0)
            puts_(&msg, "Content-Transfer-Encoding: binary\r\n");
        puts_(&msg, "\r\n");
        random_body(&p->body, delim, dlen);
        for (long at; (at = spurious(&p->body, delim, dlen)) >= 0;)
            p->body.p[at] ^= 0x40; /* break the false delimiter */
        put(&msg, p->body.p, p->body.n);
        put(&msg, delim, dlen);
    }
    puts_(&msg, "--");
    size_t close_end = msg.n;
    if (below(2)) {
        puts_(&msg, "\r\nepilogue ");
        put(&msg, delim, dlen); /* the epilogue is ignored whatever it holds */
        puts_(&msg, "\r\n");
    }

    rec_t *r = malloc(sizeof(*r));
    CHECK(r != NULL);
    for (int mode = 0; mode < 4; mode++) {
        if (mode == 1 && msg.n > 20000)
            continue;
        for (int rep = 0; rep < (mode >= 2 ? 3 : 1); rep++) {
            int fin = run_split(boundary, msg.p, msg.n, mode, r);
            if (fin != 0)
                fprintf(stderr, "generated body: %s\n", stt_multipart_error(fin));
            CHECK(fin == 0);
            CHECK(r->n == nparts && !r->open);
            for (int i = 0; i < nparts; i++) {
                CHECK(strcmp(r->parts[i].name, parts[i].name) == 0);
                CHECK(strcmp(r->parts[i].filename, parts[i].filename) == 0);
                CHECK(strcmp(r->parts[i].ctype, parts[i].ctype) == 0);
                CHECK(r->parts[i].body.n == parts[i].body.n);
                CHECK(parts[i].body.n == 0 ||
                      memcmp(r->parts[i].body.p, parts[i].body.p, parts[i].body.n) == 0);
                CHECK(r->parts[i].ended);
            }
            rec_free(r);
        }
    }
    /* Cut short anywhere before the end of the closing "--": never 0. */
    size_t cut = below(close_end);
    int fin = run_split(boundary, msg.p, cut, 2, r);
    CHECK(fin == STT_MP_E_TRUNCATED || fin == STT_MP_E_NO_DELIMITER);
    rec_free(r);
    free(r);
    for (int i = 0; i < nparts; i++)
        free(parts[i].body.p);
    free(msg.p);
}

/* ---- 2. raw bodies ---- */

static void raw(const uint8_t *data, size_t size)
{
    /* The first line (up to 70 bytes) names the boundary when it is a valid one. */
    char boundary[STT_MP_MAX_BOUNDARY + 1] = "b";
    const uint8_t *nl = memchr(data, '\n', size < 72 ? size : 72);
    const uint8_t *body = data;
    size_t len = size;
    if (nl != NULL) {
        size_t n = (size_t)(nl - data);
        if (n > 0 && data[n - 1] == '\r')
            n--;
        if (n >= 1 && n <= STT_MP_MAX_BOUNDARY) {
            memcpy(boundary, data, n);
            boundary[n] = 0;
            stt_multipart_t *t = stt_multipart_create(boundary, &CB, NULL);
            if (t == NULL)
                snprintf(boundary, sizeof(boundary), "b");
            stt_multipart_destroy(t);
        }
        body = nl + 1;
        len = size - (size_t)(body - data);
    }
    rec_t *whole = malloc(sizeof(*whole)), *other = malloc(sizeof(*other));
    CHECK(whole != NULL && other != NULL);
    int fin = run_split(boundary, body, len, 0, whole);
    for (int mode = 1; mode < 4; mode++) {
        if (mode == 1 && len > 20000)
            continue;
        int f = run_split(boundary, body, len, mode, other);
        CHECK(f == fin);
        same_records(whole, other);
        rec_free(other);
    }
    /* A receiver that stops at the first part stops the parser there. */
    if (whole->n > 0) {
        memset(other, 0, sizeof(*other));
        other->abort_at = 0;
        stt_multipart_t *mp = stt_multipart_create(boundary, &CB, other);
        CHECK(stt_multipart_feed(mp, body, len) == STT_MP_E_ABORTED);
        CHECK(stt_multipart_finish(mp) == STT_MP_E_ABORTED);
        CHECK(other->n == 0);
        stt_multipart_destroy(mp);
    }
    rec_free(whole);
    free(whole);
    free(other);
}

/* ---- 3. Content-Type values ---- */

static void content_type(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = 0;
    char out[STT_MP_MAX_BOUNDARY + 1];
    int rc = stt_multipart_boundary(s, out, sizeof(out));
    CHECK(rc == 0 || rc == STT_MP_E_NOT_MULTIPART || rc == STT_MP_E_NO_BOUNDARY ||
          rc == STT_MP_E_BAD_BOUNDARY);
    if (rc == 0) {
        size_t n = strlen(out);
        CHECK(n >= 1 && n <= STT_MP_MAX_BOUNDARY && out[n - 1] != ' ');
        stt_multipart_t *mp = stt_multipart_create(out, &CB, NULL);
        CHECK(mp != NULL);
        stt_multipart_destroy(mp);
        char ct[120], again[STT_MP_MAX_BOUNDARY + 1];
        snprintf(ct, sizeof(ct), "Multipart/Form-Data;boundary=\"%s\"", out);
        CHECK(stt_multipart_boundary(ct, again, sizeof(again)) == 0 && strcmp(again, out) == 0);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    rng_state = h | 1;
    generated();
    raw(data, size);
    content_type(data, size);
    return 0;
}

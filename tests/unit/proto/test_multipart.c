/* Unit tests for src/proto/multipart.c: the boundary of a Content-Type header, the bodies that
 * curl -F and node's FormData really send (captured into the fuzz seed corpus), fed in every
 * chunk size; quoting, filename*, folding, padding, preamble and epilogue; each error with its
 * code and message; the caps on header bytes, parts and preamble at their exact edges; a
 * receiver that stops the parser; sticky errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/multipart.h"

#define MAXP 80

typedef struct {
    int n;
    char name[MAXP][128], filename[MAXP][128], ctype[MAXP][64];
    size_t len[MAXP];
    uint8_t *data[MAXP];
    int ended[MAXP];
    int stop_begin, stop_data, stop_end; /* stop at the Nth call (1-based), 0 never */
    int begins, datas, ends;
} rec_t;

static int on_begin(void *u, const char *name, const char *filename, const char *ctype)
{
    rec_t *r = u;
    if (++r->begins == r->stop_begin)
        return 1;
    assert_true(r->n < MAXP);
    snprintf(r->name[r->n], 128, "%s", name);
    snprintf(r->filename[r->n], 128, "%s", filename);
    snprintf(r->ctype[r->n], 64, "%s", ctype);
    r->len[r->n] = 0;
    r->data[r->n] = NULL;
    r->ended[r->n] = 0;
    r->n++;
    return 0;
}

static int on_data(void *u, const uint8_t *p, size_t n)
{
    rec_t *r = u;
    if (++r->datas == r->stop_data)
        return 1;
    int i = r->n - 1;
    r->data[i] = realloc(r->data[i], r->len[i] + n);
    memcpy(r->data[i] + r->len[i], p, n);
    r->len[i] += n;
    return 0;
}

static int on_end(void *u)
{
    rec_t *r = u;
    if (++r->ends == r->stop_end)
        return 1;
    r->ended[r->n - 1] = 1;
    return 0;
}

static const stt_multipart_cb_t CB = {on_begin, on_data, on_end};

static void rec_reset(rec_t *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->data[i]);
    memset(r, 0, sizeof(*r));
}

/* Parses body in chunks of `chunk` bytes (0: whole); returns the finish code. */
static int parse(const char *boundary, const void *body, size_t len, size_t chunk, rec_t *r)
{
    stt_multipart_t *mp = stt_multipart_create(boundary, &CB, r);
    assert_non_null(mp);
    const uint8_t *p = body;
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
        uint8_t *copy = malloc(n); /* exactly sized: ASan sees reads past the chunk */
        memcpy(copy, p + off, n);
        rc = stt_multipart_feed(mp, copy, n);
        free(copy);
        off += n;
    }
    int fin = stt_multipart_finish(mp);
    if (rc != 0)
        assert_int_equal(fin, rc);
    stt_multipart_destroy(mp);
    return fin;
}

static int parse_str(const char *boundary, const char *body, rec_t *r)
{
    return parse(boundary, body, strlen(body), 0, r);
}

static void test_boundary(void **state)
{
    (void)state;
    char b[STT_MP_MAX_BOUNDARY + 1];
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=abc", b, sizeof(b)), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(
        stt_multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=\"a b:c?\"", b,
                               sizeof(b)),
        0);
    assert_string_equal(b, "a b:c?");
    assert_int_equal(stt_multipart_boundary("  multipart/form-data ;  boundary = x  ", b,
                                            sizeof(b)),
                     0);
    assert_string_equal(b, "x");
    /* A broken parameter before the boundary does not hide it. */
    assert_int_equal(stt_multipart_boundary("multipart/form-data; x=\"; y; boundary=q", b,
                                            sizeof(b)),
                     0);
    assert_string_equal(b, "q");
    assert_int_equal(stt_multipart_boundary("multipart/form-data; x; boundary=q", b, sizeof(b)),
                     0);
    assert_string_equal(b, "q");
    char b70[80], ct[120];
    memset(b70, 'z', 70);
    b70[70] = 0;
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b70);
    assert_int_equal(stt_multipart_boundary(ct, b, sizeof(b)), 0);
    assert_string_equal(b, b70);
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%sz", b70);
    assert_int_equal(stt_multipart_boundary(ct, b, sizeof(b)), STT_MP_E_BAD_BOUNDARY);
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=\"ab \"", b, sizeof(b)),
                     STT_MP_E_BAD_BOUNDARY); /* a trailing space */
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof(b)),
                     STT_MP_E_BAD_BOUNDARY);
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=a{b", b, sizeof(b)),
                     STT_MP_E_BAD_BOUNDARY);
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=\"abc", b, sizeof(b)),
                     STT_MP_E_BAD_BOUNDARY); /* unterminated quote */
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=a; boundary=a", b,
                                            sizeof(b)),
                     STT_MP_E_BAD_BOUNDARY);
    assert_int_equal(stt_multipart_boundary("multipart/form-data", b, sizeof(b)),
                     STT_MP_E_NO_BOUNDARY);
    assert_int_equal(stt_multipart_boundary("multipart/mixed; boundary=a", b, sizeof(b)),
                     STT_MP_E_NOT_MULTIPART);
    assert_int_equal(stt_multipart_boundary("application/json", b, sizeof(b)),
                     STT_MP_E_NOT_MULTIPART);
    assert_int_equal(stt_multipart_boundary("multipart/form-datax; boundary=a", b, sizeof(b)),
                     STT_MP_E_NOT_MULTIPART);
    assert_int_equal(stt_multipart_boundary("", b, sizeof(b)), STT_MP_E_NOT_MULTIPART);
    assert_int_equal(stt_multipart_boundary(NULL, b, sizeof(b)), STT_MP_E_INVAL);
    assert_int_equal(stt_multipart_boundary("multipart/form-data; boundary=a", b, 70),
                     STT_MP_E_INVAL);
    assert_null(stt_multipart_create("", &CB, NULL));
    assert_null(stt_multipart_create("bad{", &CB, NULL));
    assert_null(stt_multipart_create("a", NULL, NULL));
    stt_multipart_destroy(NULL);
}

static uint8_t *read_corpus(const char *name, size_t *len)
{
    const char *src = getenv("STT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/multipart/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (STT_SOURCE_DIR unset?)", path);
    uint8_t *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* A captured body: first line the boundary (as the client's Content-Type named it), then the
 * body exactly as the client sent it. */
static void check_captured(const char *file, const char *want_filename,
                           const char *const *want_names, int n_names)
{
    size_t len;
    uint8_t *raw = read_corpus(file, &len);
    uint8_t *nl = memchr(raw, '\n', len);
    char boundary[STT_MP_MAX_BOUNDARY + 1];
    size_t bl = (size_t)(nl - raw) - 1;
    memcpy(boundary, raw, bl);
    boundary[bl] = 0;
    const uint8_t *body = nl + 1;
    size_t blen = len - (size_t)(body - raw);
    rec_t r = {0};
    for (size_t chunk = 0; chunk <= 97; chunk++) {
        assert_int_equal(parse(boundary, body, blen, chunk, &r), 0);
        assert_int_equal(r.n, n_names);
        for (int i = 0; i < n_names; i++) {
            assert_string_equal(r.name[i], want_names[i]);
            assert_true(r.ended[i]);
            if (strcmp(want_names[i], "file") == 0) {
                assert_string_equal(r.filename[i], want_filename);
                assert_string_equal(r.ctype[i], "audio/wav");
                assert_int_equal(r.len[i], 4844); /* the 0.3 s 8 kHz WAV that was sent */
                assert_memory_equal(r.data[i], "RIFF", 4);
            } else {
                assert_string_equal(r.filename[i], "");
                assert_string_equal(r.ctype[i], "");
            }
            if (strcmp(want_names[i], "model") == 0)
                assert_memory_equal(r.data[i], "whisper-1", r.len[i]);
            if (strcmp(want_names[i], "prompt") == 0) {
                assert_int_equal(r.len[i], 8);
                assert_memory_equal(r.data[i], "say \"hi\"", 8);
            }
        }
        rec_reset(&r);
    }
    free(raw);
}

static void test_curl_body(void **state)
{
    (void)state;
    /* curl -F model=whisper-1 -F file=@tiny.wav;type=audio/wav -F 'prompt=say "hi"'
     *      -F response_format=verbose_json -F 'timestamp_granularities[]=word' */
    static const char *const names[] = {"model", "file", "prompt", "response_format",
                                        "timestamp_granularities[]"};
    check_captured("curl_F_openai_form.bin", "tiny.wav", names, 5);
}

static void test_node_body(void **state)
{
    (void)state;
    /* node 20 FormData (undici): a file named 'tiny "q".wav' is sent percent-encoded, as the
     * HTML standard says; the parser passes the name on as sent. */
    static const char *const names[] = {"model", "file", "language"};
    check_captured("node_formdata_openai_form.bin", "tiny %22q%22.wav", names, 3);
}

static void test_quoting_and_lines(void **state)
{
    (void)state;
    rec_t r = {0};
    const char *body =
        "preamble, ignored\r\n"
        "--XX \t \r\n"
        "content-disposition: FORM-DATA; name=\"a\\\"b;c\"; "
        "filename=\"C:\\\\x\\\\a \\\"b\\\".wav\"\r\n"
        "Content-Type:   audio/x-wav ; rate=8000  \r\n"
        "X-Other: 1\r\n"
        "\r\n"
        "line1\r\n\r\n--X not a delimiter\r\n\r\n"
        "--XX\r\n"
        "Content-Disposition: form-data;\r\n"
        "\tname=plain; filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.wav; filename=\"ascii.wav\"\r\n"
        "\r\n"
        "\r\n"
        "--XX\r\n"
        "Content-Disposition: form-data; name=\"latin\"; filename*=iso-8859-1'fr'%E9t%E9.wav\r\n"
        "Content-Transfer-Encoding: BINARY\r\n"
        "\r\n"
        "\r\n--XX--\r\n"
        "--XX\r\nepilogue, ignored\r\n";
    for (size_t chunk = 0; chunk < 40; chunk++) {
        assert_int_equal(parse("XX", body, strlen(body), chunk, &r), 0);
        assert_int_equal(r.n, 3);
        assert_string_equal(r.name[0], "a\"b;c");
        assert_string_equal(r.filename[0], "C:\\x\\a \"b\".wav");
        assert_string_equal(r.ctype[0], "audio/x-wav ; rate=8000");
        const char *d0 = "line1\r\n\r\n--X not a delimiter\r\n";
        assert_int_equal(r.len[0], strlen(d0)); /* the CRLF before "--XX" is not data */
        assert_memory_equal(r.data[0], d0, strlen(d0));
        assert_string_equal(r.name[1], "plain");
        assert_string_equal(r.filename[1], "\xc3\xa9t\xc3\xa9 \xe2\x82\xac.wav"); /* * wins */
        assert_int_equal(r.len[1], 0); /* "\r\n" of an empty body is the delimiter's */
        assert_string_equal(r.name[2], "latin");
        assert_string_equal(r.filename[2], "\xc3\xa9t\xc3\xa9.wav");
        assert_int_equal(r.len[2], 0);
        assert_true(r.ended[0] && r.ended[1] && r.ended[2]);
        rec_reset(&r);
    }
    /* An unknown filename* charset is ignored (RFC 6266): filename stays. */
    assert_int_equal(parse_str("b",
                               "--b\r\nContent-Disposition: form-data; name=f; "
                               "filename*=koi8-r''%C1; filename=x.wav\r\n\r\nz\r\n--b--",
                               &r),
                     0);
    assert_string_equal(r.filename[0], "x.wav");
    rec_reset(&r);
    /* No parts at all: what a browser sends for an empty form. */
    assert_int_equal(parse_str("b", "--b--\r\n", &r), 0);
    assert_int_equal(r.n, 0);
    rec_reset(&r);
    /* name="" is a name (the adapter decides); an absent one is not. */
    assert_int_equal(parse_str("b",
                               "--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n\r\n--b--",
                               &r),
                     0);
    assert_string_equal(r.name[0], "");
    rec_reset(&r);
}

static void expect_error(const char *body, int code)
{
    rec_t r = {0};
    for (size_t chunk = 0; chunk < 8; chunk++) {
        int rc = parse("b", body, strlen(body), chunk, &r);
        if (rc != code)
            fail_msg("%s: got %d (%s), want %d (%s)", body, rc, stt_multipart_error(rc), code,
                     stt_multipart_error(code));
        rec_reset(&r);
    }
}

static void test_errors(void **state)
{
    (void)state;
    const char *d = "Content-Disposition: form-data; name=a\r\n";
    char buf[512];
    expect_error("", STT_MP_E_NO_DELIMITER);
    expect_error("{\"model\": \"whisper-1\"}", STT_MP_E_NO_DELIMITER);
    snprintf(buf, sizeof(buf), "--b\r\n%s\r\nabc", d);
    expect_error(buf, STT_MP_E_TRUNCATED);
    snprintf(buf, sizeof(buf), "--b\r\n%s\r\nabc\r\n--b", d);
    expect_error(buf, STT_MP_E_TRUNCATED);
    snprintf(buf, sizeof(buf), "--b\r\n%s\r\nabc\r\n--b-", d);
    expect_error(buf, STT_MP_E_TRUNCATED);
    snprintf(buf, sizeof(buf), "--b\r\n%s", d);
    expect_error(buf, STT_MP_E_TRUNCATED);
    snprintf(buf, sizeof(buf), "--bx\r\n%s\r\n\r\n--b--", d);
    expect_error(buf, STT_MP_E_DELIMITER);
    snprintf(buf, sizeof(buf), "--b\r\n%s\r\nabc\r\n--b-x", d);
    expect_error(buf, STT_MP_E_DELIMITER);
    snprintf(buf, sizeof(buf), "--b \rx%s\r\n\r\n--b--", d);
    expect_error(buf, STT_MP_E_DELIMITER);
    expect_error("--b\nContent-Disposition: form-data; name=a\n\nx\n--b--\n", STT_MP_E_DELIMITER);
    expect_error("--b\r\nContent-Disposition: form-data; name=a\nX: 1\r\n\r\n\r\n--b--",
                 STT_MP_E_HEADER); /* bare LF */
    expect_error("--b\r\nContent-Disposition: form-data; name=a\rX: 1\r\n\r\n\r\n--b--",
                 STT_MP_E_HEADER); /* bare CR */
    expect_error("--b\r\nNoColon\r\n\r\n\r\n--b--", STT_MP_E_HEADER);
    expect_error("--b\r\n: empty name\r\n\r\n\r\n--b--", STT_MP_E_HEADER);
    expect_error("--b\r\nBad Name: x\r\n\r\n\r\n--b--", STT_MP_E_HEADER);
    expect_error("--b\r\n folded first: x\r\n\r\n\r\n--b--", STT_MP_E_HEADER);
    expect_error("--b\r\nX: a\x01z\r\n\r\n\r\n--b--", STT_MP_E_HEADER);
    expect_error("--b\r\n\r\nno headers\r\n--b--", STT_MP_E_NO_DISPOSITION);
    expect_error("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", STT_MP_E_NO_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data name=a\r\n\r\nx\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''a%00b\r\n\r\n"
                 "x\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''a%4\r\n\r\n"
                 "x\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; name=a\r\n"
                 "Content-Disposition: form-data; name=b\r\n\r\nx\r\n--b--",
                 STT_MP_E_DISPOSITION);
    expect_error("--b\r\nContent-Disposition: form-data; filename=\"a.wav\"\r\n\r\nx\r\n--b--",
                 STT_MP_E_NO_NAME);
    expect_error("--b\r\nContent-Disposition: form-data; name=a\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b--",
                 STT_MP_E_ENCODING);
    /* The messages are the specific ones the adapter shows. */
    assert_string_equal(stt_multipart_error(STT_MP_E_TRUNCATED),
                        "no closing boundary: the upload was cut short");
    assert_string_equal(stt_multipart_error(STT_MP_E_HEADER_TOO_BIG),
                        "part headers longer than 8 KiB");
    assert_string_equal(stt_multipart_error(STT_MP_E_NO_NAME),
                        "part without Content-Disposition name");
    assert_string_equal(stt_multipart_error(STT_MP_E_PREAMBLE),
                        "garbage before the first boundary (more than 4 KiB)");
    assert_string_equal(stt_multipart_error(0), "unknown multipart error");
    assert_string_equal(stt_multipart_error(-999), "unknown multipart error");
}

static void test_caps(void **state)
{
    (void)state;
    rec_t r = {0};
    /* Header block of exactly STT_MP_MAX_HEADER_BYTES (its final CRLF CRLF included) is fine;
     * one byte more is not. */
    const char *disp = "Content-Disposition: form-data; name=a\r\nX: ";
    size_t fixed = strlen(disp) + 4; /* + "\r\n\r\n" */
    char *body = malloc(STT_MP_MAX_HEADER_BYTES + 200);
    for (int extra = 0; extra <= 1; extra++) {
        size_t pad = STT_MP_MAX_HEADER_BYTES - fixed + (size_t)extra;
        int n = sprintf(body, "--b\r\n%s", disp);
        memset(body + n, 'v', pad);
        n += (int)pad;
        n += sprintf(body + n, "\r\n\r\nx\r\n--b--");
        int rc = parse("b", body, (size_t)n, 0, &r);
        assert_int_equal(rc, extra ? STT_MP_E_HEADER_TOO_BIG : 0);
        if (!extra)
            assert_int_equal(r.n, 1);
        rec_reset(&r);
    }
    free(body);
    /* STT_MP_MAX_PARTS parts are fine, one more is not. */
    size_t cap = (STT_MP_MAX_PARTS + 1) * 64 + 16;
    body = malloc(cap);
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = 0;
        for (int i = 0; i < STT_MP_MAX_PARTS + extra; i++)
            n += (size_t)sprintf(body + n,
                                 "--b\r\nContent-Disposition: form-data; name=p%d\r\n\r\nv\r\n", i);
        n += (size_t)sprintf(body + n, "--b--");
        int rc = parse("b", body, n, 7, &r);
        assert_int_equal(rc, extra ? STT_MP_E_TOO_MANY_PARTS : 0);
        assert_int_equal(r.n, STT_MP_MAX_PARTS);
        rec_reset(&r);
    }
    free(body);
    /* A preamble of STT_MP_MAX_PREAMBLE_BYTES before the first delimiter's CRLF is fine. */
    body = malloc(STT_MP_MAX_PREAMBLE_BYTES + 200);
    for (int extra = 0; extra <= 1; extra++) {
        size_t pad = STT_MP_MAX_PREAMBLE_BYTES + (size_t)extra;
        memset(body, 'p', pad);
        int n = (int)pad;
        n += sprintf(body + n,
                     "\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--b--");
        int rc = parse("b", body, (size_t)n, 0, &r);
        assert_int_equal(rc, extra ? STT_MP_E_PREAMBLE : 0);
        rec_reset(&r);
    }
    free(body);
}

static void test_abort_and_sticky(void **state)
{
    (void)state;
    const char *body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nxyz\r\n"
                       "--b\r\nContent-Disposition: form-data; name=c\r\n\r\nw\r\n--b--";
    for (int which = 0; which < 3; which++) {
        rec_t r = {0};
        if (which == 0)
            r.stop_begin = 2;
        else if (which == 1)
            r.stop_data = 1;
        else
            r.stop_end = 1;
        stt_multipart_t *mp = stt_multipart_create("b", &CB, &r);
        assert_int_equal(stt_multipart_feed(mp, (const uint8_t *)body, strlen(body)),
                         STT_MP_E_ABORTED);
        int calls = r.begins + r.datas + r.ends;
        assert_int_equal(stt_multipart_feed(mp, (const uint8_t *)body, strlen(body)),
                         STT_MP_E_ABORTED);
        assert_int_equal(stt_multipart_finish(mp), STT_MP_E_ABORTED);
        assert_int_equal(r.begins + r.datas + r.ends, calls); /* no callback after an error */
        stt_multipart_destroy(mp);
        rec_reset(&r);
    }
    /* NULL callbacks are allowed: a receiver may only want the part names. */
    stt_multipart_cb_t none = {0};
    stt_multipart_t *mp = stt_multipart_create("b", &none, NULL);
    assert_int_equal(stt_multipart_feed(mp, (const uint8_t *)body, strlen(body)), 0);
    assert_int_equal(stt_multipart_finish(mp), 0);
    assert_int_equal(stt_multipart_parts(mp), 2);
    assert_int_equal(stt_multipart_feed(NULL, (const uint8_t *)"x", 1), STT_MP_E_INVAL);
    assert_int_equal(stt_multipart_feed(mp, NULL, 1), STT_MP_E_INVAL);
    stt_multipart_destroy(mp);
}

/* A delimiter whose own prefix repeats ("\r\n--aa\r\n--aab" style) split at every byte: the
 * KMP fallback must hand back the bytes of a failed partial match as data. */
static void test_near_misses(void **state)
{
    (void)state;
    const char *payload = "\r\n--a\r\n--aa\r\n--aab\r\n--a\r\r\n--aa-\r\n-";
    char body[512];
    snprintf(body, sizeof(body),
             "--aaa\r\nContent-Disposition: form-data; name=f\r\n\r\n%s\r\n--aaa--", payload);
    rec_t r = {0};
    for (size_t chunk = 0; chunk < 20; chunk++) {
        assert_int_equal(parse("aaa", body, strlen(body), chunk, &r), 0);
        assert_int_equal(r.len[0], strlen(payload));
        assert_memory_equal(r.data[0], payload, strlen(payload));
        rec_reset(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),         cmocka_unit_test(test_curl_body),
        cmocka_unit_test(test_node_body),        cmocka_unit_test(test_quoting_and_lines),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_caps),
        cmocka_unit_test(test_abort_and_sticky), cmocka_unit_test(test_near_misses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

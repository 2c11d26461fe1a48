/* libFuzzer driver for the webhook URL rules (src/proto/webhook_url.c): the checks that keep a
 * call's custom parameters from choosing where the server sends requests.
 *
 * Input: byte 0 = the length of the allow-list prefix, then the prefix, then the URL (both cut
 * at a NUL). Checked, for every input:
 *   1. stt_webhook_url_valid agrees with a reference written differently here (a scan of the
 *      URL's parts into scheme, authority and the rest);
 *   2. stt_webhook_url_allowed({prefix}, url) agrees with the reference rule;
 *   3. the invariant the allow-list exists for: an allowed URL's host (its authority up to a
 *      ':') is the prefix's host, and the URL is valid;
 *   4. an empty allow-list admits nothing.
 * Replayed over tests/fuzz/corpus/webhook_url/ as the ctest fuzz.replay_webhook_url. */
#include "stt/webhook_url.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_webhook_url: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

typedef struct {
    int ok;
    char auth[512]; /* the authority */
    char host[512]; /* the authority up to ':' */
    size_t auth_end; /* offset in the URL where the authority ends */
} parts_t;

static parts_t split(const char *u)
{
    parts_t p;
    memset(&p, 0, sizeof(p));
    size_t skip = 0;
    if (memcmp(u, "http://", 7) == 0)
        skip = 7;
    else if (memcmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return p;
    size_t i = skip, a = 0;
    while (u[i] && u[i] != '/' && u[i] != '?' && u[i] != '#') {
        if (a + 1 < sizeof(p.auth))
            p.auth[a++] = u[i];
        i++;
    }
    p.auth_end = i;
    size_t h = 0;
    while (p.auth[h] && p.auth[h] != ':') {
        p.host[h] = p.auth[h];
        h++;
    }
    p.ok = 1;
    return p;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static int ref_valid(const char *u)
{
    parts_t p = split(u);
    if (!p.ok || p.auth[0] == '\0' || p.auth[0] == ':' || strchr(p.auth, '@'))
        return 0;
    for (const unsigned char *c = (const unsigned char *)u; *c; c++)
        if (*c < 0x21 || *c > 0x7e || *c == '\\')
            return 0;
    const char *rest = u + p.auth_end;
    if (strstr(rest, "/../") || strstr(rest, "/./") || ends_with(rest, "/..") ||
        ends_with(rest, "/."))
        return 0;
    return 1;
}

static int ref_allowed(const char *pre, const char *u)
{
    if (!ref_valid(pre) || !ref_valid(u) || strncmp(u, pre, strlen(pre)) != 0)
        return 0;
    parts_t pp = split(pre);
    if (pre[pp.auth_end] != '\0')
        return 1; /* the prefix names a path (or query): the host is fixed by it */
    char next = u[strlen(pre)];
    return next == '\0' || next == '/' || next == '?' || next == '#' || next == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = data[0];
    if (n > size - 1)
        n = size - 1;
    char pre[256], url[1024];
    size_t lu = size - 1 - n < sizeof(url) - 1 ? size - 1 - n : sizeof(url) - 1;
    memcpy(pre, data + 1, n);
    pre[n] = '\0';
    memcpy(url, data + 1 + n, lu);
    url[lu] = '\0';

    int valid = stt_webhook_url_valid(url);
    CHECK(valid == ref_valid(url));
    CHECK(stt_webhook_url_valid(pre) == ref_valid(pre));
    char *items[1] = {pre};
    stt_strlist_t one = {1, items}, none = {0, NULL};
    int allowed = stt_webhook_url_allowed(&one, url);
    CHECK(allowed == ref_allowed(pre, url));
    CHECK(stt_webhook_url_allowed(&none, url) == 0);
    if (allowed) {
        CHECK(valid);
        parts_t pu = split(url), pp = split(pre);
        CHECK(strcmp(pu.host, pp.host) == 0);
    }
    return 0;
}

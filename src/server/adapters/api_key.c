/* --api_key checks (api_key.h). Loop thread. */
#include "api_key.h"

#include <string.h>
#include <strings.h>

/* Constant-time comparison of a candidate of `n` bytes with the NUL-terminated key: the time
 * taken does not tell how much of a guess was right. */
static int same_key(const char *given, size_t n, const char *key, size_t kn)
{
    unsigned char diff = (unsigned char)(n != kn);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(given[i] ^ key[kn ? i % kn : 0]);
    return diff == 0 && kn > 0;
}

/* 1 when the `n` bytes at `given` are one of the comma-separated keys of `keys` (spaces
 * around each key ignored). Every key is compared, whatever matched. */
static int known_key(const char *keys, const char *given, size_t n)
{
    int found = 0;
    const char *p = keys;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t kn = (size_t)(e - p);
        while (kn > 0 && p[kn - 1] == ' ')
            kn--;
        if (kn > 0)
            found |= same_key(given, n, p, kn);
        p = e;
    }
    return found;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

int stt_api_key_check(const stt_adapter_env_t *env, const stt_request_t *req, const char **why)
{
    const char *keys = env->cfg->api_key;
    if (!keys || !keys[0])
        return 0;
    char h[1024];
    int hn = req->header ? req->header(req->req, "authorization", h, sizeof(h)) : -1;
    if (hn >= 0) {
        const char *v = h;
        size_t n = (size_t)hn;
        trim(&v, &n);
        size_t skip = 0;
        if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0)
            skip = 7;
        else if (n > 6 && strncasecmp(v, "Token ", 6) == 0)
            skip = 6;
        if (!skip) {
            *why = "Authorization must be Bearer <api key> or Token <api key>";
            return 401;
        }
        v += skip;
        n -= skip;
        trim(&v, &n);
        if (!known_key(keys, v, n)) {
            *why = "invalid API key";
            return 401;
        }
        return 0;
    }
    /* The browser form: Sec-WebSocket-Protocol: token, KEY */
    int pn = req->header ? req->header(req->req, "sec-websocket-protocol", h, sizeof(h)) : -1;
    if (pn >= 0) {
        const char *v = h;
        size_t n = (size_t)pn;
        trim(&v, &n);
        if (n > 6 && strncasecmp(v, "token", 5) == 0 && (v[5] == ',' || v[5] == ' ')) {
            v += 5;
            n -= 5;
            while (n > 0 && (*v == ',' || *v == ' ')) {
                v++;
                n--;
            }
            const char *comma = memchr(v, ',', n);
            if (comma)
                n = (size_t)(comma - v);
            trim(&v, &n);
            if (known_key(keys, v, n))
                return 0;
            *why = "invalid API key";
            return 401;
        }
    }
    *why = "missing API key: send Authorization: Bearer <api key> (or Token <api key>)";
    return 401;
}

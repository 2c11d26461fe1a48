/* Webhook URL rules (include/stt/webhook_url.h): which URLs are http(s) URLs the server will
 * POST to, and which a call may ask for under --webhook_allow. Pure string checks: no sockets,
 * no allocation; any thread. */
#include "stt/webhook_url.h"

#include <string.h>

int stt_webhook_url_valid(const char *url)
{
    if (!url)
        return 0;
    const char *p;
    if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else
        return 0;
    size_t host = strcspn(p, "/?#");
    if (host == 0 || p[0] == ':')
        return 0;
    for (size_t i = 0; i < host; i++)
        if (p[i] == '@') /* user info: "https://allowed.example@evil.net/" */
            return 0;
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '\\')
            return 0;
    /* Dot segments would let a path climb out of an allowed prefix once curl normalises it. */
    const char *path = p + host;
    if (strstr(path, "/../") || strstr(path, "/./"))
        return 0;
    size_t n = strlen(path);
    if ((n >= 3 && strcmp(path + n - 3, "/..") == 0) || (n >= 2 && strcmp(path + n - 2, "/.") == 0))
        return 0;
    return 1;
}

int stt_webhook_url_allowed(const stt_strlist_t *allow, const char *url)
{
    if (!stt_webhook_url_valid(url))
        return 0;
    for (size_t i = 0; i < allow->count; i++) {
        const char *pre = allow->items[i];
        size_t n = strlen(pre);
        /* A prefix that is no URL admits nothing ("http" would admit every host). */
        if (!stt_webhook_url_valid(pre) || strncmp(url, pre, n) != 0)
            continue;
        const char *auth = strstr(pre, "://") + 3;
        if (auth[strcspn(auth, "/?#")] != '\0')
            return 1; /* the prefix has a path: the host is fixed */
        char next = url[n];
        if (next == '\0' || next == '/' || next == '?' || next == ':' || next == '#')
            return 1;
    }
    return 0;
}


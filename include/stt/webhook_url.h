/* Webhook URL rules: the checks that keep client input from choosing where the server sends
 * requests (issue 14, item 3). A call may name its own webhook URL (a custom parameter); it is
 * used only when it starts with one of the configured --webhook_allow prefixes. Pure string
 * functions, fuzzed by tests/fuzz/fuzz_webhook_url.c against a reference implementation and the
 * invariant that an allowed URL's host is the prefix's host. Any thread. */
#ifndef STT_WEBHOOK_URL_H
#define STT_WEBHOOK_URL_H

#include "stt/config.h"

/* 1 when `url` is an http(s) URL with a host and no user info, whitespace, control characters,
 * backslashes or dot segments ("/../", "/./", a trailing "/.." or "/."), else 0. */
int stt_webhook_url_valid(const char *url);

/* 1 when `url` is valid and starts with one of the allowed prefixes (each itself a valid URL;
 * others admit nothing); a prefix that ends at its host (no path) must be followed by '/',
 * '?', '#', ':' or the end of the URL, so the prefix "https://a.example" does not admit
 * "https://a.example.evil.net/". 0 otherwise. */
int stt_webhook_url_allowed(const stt_strlist_t *allow, const char *url);

#endif /* STT_WEBHOOK_URL_H */

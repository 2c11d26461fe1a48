#include "stt/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static stt_log_level_t g_min_level = STT_LOG_INFO;
static int g_json;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void stt_log_setup(stt_log_level_t min_level, int json)
{
    g_min_level = min_level;
    g_json = json;
}

int stt_log_enabled(stt_log_level_t level)
{
    return level >= g_min_level;
}

/* Copies src into dst escaping control characters, quotes and backslashes, so that a client
 * string can neither forge a log line nor break the JSON. Returns bytes written. */
static size_t escape_into(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", *p);
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = '\0';
    return o;
}

void stt_log(stt_log_level_t level, uint64_t sid, const char *event, const char *fmt, ...)
{
    if (level < g_min_level)
        return;
    char msg[2048], esc[4096], line[6144];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    escape_into(esc, sizeof(esc), msg);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    size_t tl = strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tbuf + tl, sizeof(tbuf) - tl, ".%03ldZ", ts.tv_nsec / 1000000);

    int n;
    if (g_json) {
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\",\"session_id\":%llu,"
                     "\"msg\":\"%s\"}\n",
                     tbuf, level_names[level], event, (unsigned long long)sid, esc);
    } else if (sid) {
        n = snprintf(line, sizeof(line), "%s %-5s [%s] sid=%llu %s\n", tbuf, level_names[level],
                     event, (unsigned long long)sid, esc);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s [%s] %s\n", tbuf, level_names[level], event, esc);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

_Noreturn void stt_fatal(const char *file, int line, const char *what)
{
    fprintf(stderr, "fatal: %s at %s:%d\n", what, file, line);
    abort();
}

void *stt_malloc_(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        stt_fatal(file, line, "out of memory");
    return p;
}

void *stt_calloc_(size_t count, size_t n, const char *file, int line)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        stt_fatal(file, line, "out of memory");
    return p;
}

void *stt_realloc_(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        stt_fatal(file, line, "out of memory");
    return q;
}

char *stt_strdup_(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = stt_malloc_(n, file, line);
    memcpy(p, s, n);
    return p;
}

/* Logging: one line per event, text or JSON Lines, on stderr.
 *
 * Thread-safe: each line is formatted into a local buffer and written with one write(2).
 * Every line may carry a session id (0 = none). Client-supplied strings must be passed as
 * arguments, never as the format; control characters in them are escaped (CWE-117). */
#ifndef STT_LOG_H
#define STT_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { STT_LOG_DEBUG = 0, STT_LOG_INFO, STT_LOG_WARN, STT_LOG_ERROR } stt_log_level_t;

/* Sets the minimum level printed and the format (json != 0 for JSON Lines). Call before threads
 * start. */
void stt_log_setup(stt_log_level_t min_level, int json);

/* Returns 1 if lines at this level are printed. */
int stt_log_enabled(stt_log_level_t level);

/* Writes one line. `sid` is a session id or 0; `event` a short snake_case tag. */
void stt_log(stt_log_level_t level, uint64_t sid, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define STT_DEBUG(sid, ev, ...)                                                                    \
    do {                                                                                           \
        if (stt_log_enabled(STT_LOG_DEBUG))                                                        \
            stt_log(STT_LOG_DEBUG, (sid), (ev), __VA_ARGS__);                                      \
    } while (0)
#define STT_INFO(sid, ev, ...) stt_log(STT_LOG_INFO, (sid), (ev), __VA_ARGS__)
#define STT_WARN(sid, ev, ...) stt_log(STT_LOG_WARN, (sid), (ev), __VA_ARGS__)
#define STT_ERROR(sid, ev, ...) stt_log(STT_LOG_ERROR, (sid), (ev), __VA_ARGS__)

/* Aborts with file:line after printing `what`; used when an allocation fails (h2o style). */
_Noreturn void stt_fatal(const char *file, int line, const char *what);

/* Allocation helpers that never return NULL. */
void *stt_malloc_(size_t n, const char *file, int line);
void *stt_calloc_(size_t count, size_t n, const char *file, int line);
void *stt_realloc_(void *p, size_t n, const char *file, int line);
char *stt_strdup_(const char *s, const char *file, int line);
#define stt_malloc(n) stt_malloc_((n), __FILE__, __LINE__)
#define stt_calloc(c, n) stt_calloc_((c), (n), __FILE__, __LINE__)
#define stt_realloc(p, n) stt_realloc_((p), (n), __FILE__, __LINE__)
#define stt_strdup(s) stt_strdup_((s), __FILE__, __LINE__)

#endif /* STT_LOG_H */

/* Error codes shared by every module.
 *
 * Functions return 0 on success or a negative STT_E* code. The table below is the only place a
 * code is defined; it also generates stt_strerror() (libuv's UV_ERRNO_MAP pattern). */
#ifndef STT_ERROR_H
#define STT_ERROR_H

#include <stddef.h>

#define STT_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(ERANGE, -3, "value out of range")                                                           \
    XX(EPARSE, -4, "parse error")                                                                  \
    XX(ETOOBIG, -5, "size limit exceeded")                                                         \
    XX(EIO, -6, "input/output error")                                                              \
    XX(ENOENT, -7, "not found")                                                                    \
    XX(EBUSY, -8, "resource busy")                                                                 \
    XX(ENOTREADY, -9, "not ready")                                                                 \
    XX(ECANCELED, -10, "operation canceled")                                                       \
    XX(EENGINE, -11, "engine failure")                                                             \
    XX(EUNSUPPORTED, -12, "not supported")                                                         \
    XX(ESHUTDOWN, -13, "shutting down")                                                            \
    XX(EAGAIN, -14, "try again")                                                                   \
    XX(ETIMEDOUT, -15, "timed out")

enum stt_errno {
#define STT_ERRNO_ENUM(name, val, msg) STT_##name = (val),
    STT_ERRNO_MAP(STT_ERRNO_ENUM)
#undef STT_ERRNO_ENUM
};

/* Returns a static, human-readable string for an STT_E* code (or "unknown error"). */
const char *stt_strerror(int err);

/* Returns the symbolic name ("EINVAL") for an STT_E* code, or "UNKNOWN". */
const char *stt_err_name(int err);

/* Formats a one-line reason into err (err_len bytes; err may be NULL) and returns `code`, so a
 * parser can `return stt_error_fmt(err, err_len, STT_EPARSE, "...", ...);`. */
int stt_error_fmt(char *err, size_t err_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* STT_ERROR_H */

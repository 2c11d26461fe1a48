#include "stt/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *stt_strerror(int err)
{
    switch (err) {
#define STT_ERRNO_MSG(name, val, msg)                                                              \
    case STT_##name:                                                                               \
        return msg;
        STT_ERRNO_MAP(STT_ERRNO_MSG)
#undef STT_ERRNO_MSG
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *stt_err_name(int err)
{
    switch (err) {
#define STT_ERRNO_NAME(name, val, msg)                                                             \
    case STT_##name:                                                                               \
        return #name;
        STT_ERRNO_MAP(STT_ERRNO_NAME)
#undef STT_ERRNO_NAME
    case 0:
        return "OK";
    default:
        return "UNKNOWN";
    }
}

int stt_error_fmt(char *err, size_t err_len, int code, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

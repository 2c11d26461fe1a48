/* Per-session parameters over the control socket: get_parameter and set_parameter read and
 * write a session's stt_session_params_t as cJSON values, with the table's type and range rules
 * and error texts that quote the value the client sent.
 *
 * No state of its own: each call works on a params block the caller owns (a session's, or a
 * control connection's overlay; the control protocol calls in on the loop thread). Returned cJSON
 * values are owned by the caller. */
#include "stt/config.h"
#include "config_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "stt/error.h"
#include "stt/pyfmt.h"

/* Writes "value for P <rule>, got <json>" into err. */
static int value_error(int code, const stt_option_t *opt, const char *rule, const cJSON *value,
                       char *err, size_t errlen)
{
    if (!err || !errlen)
        return code;
    char *got = value ? cJSON_PrintUnformatted(value) : NULL;
    char shown[128];
    snprintf(shown, sizeof(shown), "%s", got ? got : "null");
    if (got && strlen(got) >= sizeof(shown))
        memcpy(shown + sizeof(shown) - 4, "...", 4);
    cJSON_free(got);
    snprintf(err, errlen, "value for %s %s, got %s", opt->name, rule, shown);
    return code;
}

int stt_session_param_set_json(stt_session_params_t *params, const stt_option_t *opt,
                               const cJSON *value, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!params || !opt || opt->scope != STT_SCOPE_SESSION) {
        if (err && errlen)
            snprintf(err, errlen, "%s is not a per-session parameter", opt ? opt->name : "?");
        return STT_EINVAL;
    }
    char *p = (char *)params + opt->offset;
    char rule[400], range[100] = "";
    /* A negative minimum in the table is a command-line sentinel (post_speech_silence_duration
     * -1 = use unknown_sentence_detection_pause) resolved at startup; a session's value is
     * always a real one. */
    double min = opt->min < 0 ? 0 : opt->min;
    if (stt_config_bounded(opt))
        stt_config_format_range(range, sizeof(range), min, opt->max);

    switch (opt->type) {
    case STT_OPT_BOOL:
        if (!cJSON_IsBool(value))
            return value_error(STT_EINVAL, opt, "must be true or false", value, err, errlen);
        *(int *)p = cJSON_IsTrue(value) ? 1 : 0;
        return 0;
    case STT_OPT_INT:
    case STT_OPT_FLOAT: {
        bool is_int = opt->type == STT_OPT_INT;
        snprintf(rule, sizeof(rule), "must be %s%s%s", is_int ? "an integer" : "a number",
                 range[0] ? " " : "", range);
        if (!cJSON_IsNumber(value))
            return value_error(STT_EINVAL, opt, rule, value, err, errlen);
        double v = value->valuedouble;
        if (!isfinite(v) || (is_int && (v != floor(v) || fabs(v) >= 9.2e18)))
            return value_error(STT_EINVAL, opt, rule, value, err, errlen);
        if (stt_config_bounded(opt) && (v < min || v > opt->max))
            return value_error(STT_ERANGE, opt, rule, value, err, errlen);
        if (is_int)
            *(int64_t *)p = (int64_t)v;
        else
            *(double *)p = v;
        return 0;
    }
    case STT_OPT_STR: {
        if (!cJSON_IsString(value) || !value->valuestring)
            return value_error(STT_EINVAL, opt, "must be a string", value, err, errlen);
        const char *s = value->valuestring;
        if (strlen(s) >= opt->size) {
            snprintf(rule, sizeof(rule), "must be a string of at most %zu bytes", opt->size - 1);
            return value_error(STT_ERANGE, opt, rule, value, err, errlen);
        }
        char why[300];
        if (!stt_config_check_string(opt, s, why, sizeof(why))) {
            snprintf(rule, sizeof(rule), "is not accepted (%s)", why);
            return value_error(STT_EINVAL, opt, rule, value, err, errlen);
        }
        memcpy(p, s, strlen(s) + 1);
        return 0;
    }
    default:
        return value_error(STT_EINVAL, opt, "cannot be set", value, err, errlen);
    }
}

cJSON *stt_session_param_get_json(const stt_session_params_t *params, const stt_option_t *opt)
{
    if (!params || !opt || opt->scope != STT_SCOPE_SESSION)
        return NULL;
    const char *p = (const char *)params + opt->offset;
    switch (opt->type) {
    case STT_OPT_BOOL:
        return cJSON_CreateBool(*(const int *)p);
    case STT_OPT_INT:
        return cJSON_CreateNumber((double)*(const int64_t *)p);
    case STT_OPT_FLOAT:
        return cJSON_CreateNumber(*(const double *)p);
    case STT_OPT_STR:
        /* The array is always terminated by set; refuse to read past it if it is not. */
        return memchr(p, '\0', opt->size) ? cJSON_CreateString(p) : NULL;
    default:
        return NULL;
    }
}

/* stt_pyfmt_str() into a fixed buffer, truncated like snprintf. */
void stt_config_python_str(const cJSON *value, char *buf, size_t buflen)
{
    if (!buf || !buflen)
        return;
    stt_sbuf_t sb = {0};
    stt_pyfmt_str(&sb, value);
    stt_sbuf_copy(&sb, buf, buflen);
    stt_sbuf_dispose(&sb);
}

/* The configuration table and what every other part of the module builds on: the option rows
 * generated from STT_CONFIG_MAP, their choices, validation of one value in argparse's wording
 * ("invalid int value: 'x'"), storing it, defaults, and init/dispose.
 *
 * The rest of the module (see config_internal.h): config_argv.c parses the command line,
 * config_doc.c prints --help and docs/config.md, config_json.c gets and sets session parameters
 * for the control protocol. The config owns its global strings and lists; stt_config_dispose()
 * frees them.
 *
 * Nothing here is thread-aware: parsing happens once before threads start (see config.h). */
#include "stt/config.h"
#include "config_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/error.h"
#include "stt/log.h"
#include "stt/pyfmt.h"

/* ---- the table ------------------------------------------------------------------------------- */

#define MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define OPT_BASE_G stt_config_t
#define OPT_BASE_S stt_session_params_t
#define OPT_SCOPE_G STT_SCOPE_GLOBAL
#define OPT_SCOPE_S STT_SCOPE_SESSION

#define OPT_ROW(scope, type, field, flags, def, min, max, help)                                    \
    {#field,                                                                                       \
     flags,                                                                                        \
     STT_OPT_##type,                                                                               \
     OPT_SCOPE_##scope,                                                                            \
     offsetof(OPT_BASE_##scope, field),                                                            \
     MEMBER_SIZE(OPT_BASE_##scope, field),                                                         \
     def,                                                                                          \
     min,                                                                                          \
     max,                                                                                          \
     help},

const stt_option_t stt_options[] = {STT_CONFIG_MAP(OPT_ROW){.name = NULL}};
const size_t stt_options_count = sizeof(stt_options) / sizeof(stt_options[0]) - 1;

/* stt_session_params_t is written by hand, so check that each S row's field has the C type its
 * column type promises; the G fields are generated from the table and cannot disagree. A
 * session STR field is a char array, which _Generic sees as char *. */
/* clang-format off */
#define TYPECHECK_STR char * : 1
#define TYPECHECK_INT int64_t : 1
#define TYPECHECK_FLOAT double : 1
#define TYPECHECK_BOOL int : 1
/* clang-format on */
#define OPT_CHECK_G(type, field)
#define OPT_CHECK_S(type, field)                                                                   \
    _Static_assert(_Generic(((stt_session_params_t *)0)->field, TYPECHECK_##type, default : 0),    \
                   "stt_session_params_t." #field " does not match its STT_CONFIG_MAP type");
#define OPT_CHECK(scope, type, field, flags, def, min, max, help) OPT_CHECK_##scope(type, field)
STT_CONFIG_MAP(OPT_CHECK)

/* Options whose help text promises a fixed set of values. Kept here rather than as a table
 * column because only a few rows need it. */
static const char *const engine_choices[] = {"auto", "pocketsphinx", "whisper", "null", "fault", NULL};
static const char *const log_format_choices[] = {"text", "json", NULL};
static const char *const event_loop_choices[] = {"libev", "poll", NULL};
static const char *const device_choices[] = {"cuda", "cpu", NULL};
static const char *const vad_choices[] = {"auto", "energy", "silero", NULL};
static const char *const audiosocket_format_choices[] = {"slin", "ulaw", "alaw", NULL};
static const char *const wakeword_backend_choices[] = {
    "none",         "pvporcupine",   "pvp",           "porcupine", "oww",
    "openwakeword", "openwakewords", "open_wakeword", NULL};

static const struct {
    const char *name;
    const char *const *values;
} choice_table[] = {
    {"engine", engine_choices},
    {"log_format", log_format_choices},
    {"event_loop", event_loop_choices},
    {"device", device_choices},
    {"vad", vad_choices},
    {"audiosocket_format", audiosocket_format_choices},
    {"wakeword_backend", wakeword_backend_choices},
};

const char *const *stt_config_choices(const stt_option_t *opt)
{
    for (size_t i = 0; i < sizeof(choice_table) / sizeof(choice_table[0]); i++) {
        if (strcmp(choice_table[i].name, opt->name) == 0)
            return choice_table[i].values;
    }
    return NULL;
}

/* The original replaces a literal backslash-n in both prompts with a newline so that prompts
 * can be passed through a command line (the autostarting client escapes them that way). */
static bool option_unescapes_newlines(const stt_option_t *opt)
{
    return strcmp(opt->name, "initial_prompt") == 0 ||
           strcmp(opt->name, "initial_prompt_realtime") == 0;
}

const stt_option_t *stt_config_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < stt_options_count; i++) {
        if (strcmp(stt_options[i].name, name) == 0)
            return &stt_options[i];
    }
    return NULL;
}

void *stt_config_field(stt_config_t *cfg, const stt_option_t *opt)
{
    char *base = opt->scope == STT_SCOPE_SESSION ? (char *)&cfg->sess : (char *)cfg;
    return base + opt->offset;
}

/* ---- converting and storing one value -------------------------------------------------------- */

/* Skips the trailing whitespace that Python's int() and float() ignore (strtoll and strtod
 * already skip the leading one). */
static bool only_space(const char *s)
{
    return s[strspn(s, " \t\n\r\f\v")] == '\0';
}

/* Python's int() on a command-line string, restricted to what strtoll takes in full. */
static bool parse_int(const char *s, int64_t *out)
{
    if (only_space(s))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!only_space(end) || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* Python's float(): decimal only (strtod's hex floats are refused), finite values only. An
 * underflow to 0 is accepted as Python accepts it. */
static bool parse_float(const char *s, double *out)
{
    if (only_space(s) || strpbrk(s, "xX"))
        return false;
    char *end;
    double v = strtod(s, &end);
    if (!only_space(end) || !isfinite(v))
        return false;
    *out = v;
    return true;
}

void stt_config_format_range(char *buf, size_t cap, double min, double max)
{
    stt_sbuf_t sb = {0};
    stt_sbuf_puts(&sb, "between ");
    stt_pyfmt_number(&sb, min);
    stt_sbuf_puts(&sb, " and ");
    stt_pyfmt_number(&sb, max);
    stt_sbuf_copy(&sb, buf, cap);
    stt_sbuf_dispose(&sb);
}

static bool check_range(const stt_option_t *opt, double v, const char *text, char *why,
                        size_t whylen)
{
    if (!stt_config_bounded(opt) || (v >= opt->min && v <= opt->max))
        return true;
    char range[100];
    stt_config_format_range(range, sizeof(range), opt->min, opt->max);
    snprintf(why, whylen, "invalid value: '%s' (must be %s)", text, range);
    return false;
}

bool stt_config_check_string(const stt_option_t *opt, const char *s, char *why, size_t whylen)
{
    const char *const *choices = stt_config_choices(opt);
    if (choices) {
        bool found = false;
        for (size_t i = 0; choices[i]; i++)
            found = found || strcmp(choices[i], s) == 0;
        if (!found) {
            stt_sbuf_t sb = {0};
            stt_sbuf_printf(&sb, "invalid choice: '%s' (choose from ", s);
            for (size_t i = 0; choices[i]; i++)
                stt_sbuf_printf(&sb, "%s'%s'", i ? ", " : "", choices[i]);
            stt_sbuf_putc(&sb, ')');
            stt_sbuf_copy(&sb, why, whylen);
            stt_sbuf_dispose(&sb);
            return false;
        }
    }
    if (opt->scope == STT_SCOPE_SESSION && strlen(s) >= opt->size) {
        snprintf(why, whylen, "value too long: '%s' (at most %zu bytes)", s, opt->size - 1);
        return false;
    }
    /* An endpoint path: the router matches it as a prefix of the request's path. */
    if ((strcmp(opt->name, "twilio_path") == 0 || strcmp(opt->name, "jambonz_path") == 0) &&
        (s[0] != '/' || strlen(s) > 200 || strcspn(s, " ?#") != strlen(s))) {
        snprintf(why, whylen, "must be a path starting with '/' (no spaces, '?' or '#', at most "
                              "200 bytes), got '%s'", s);
        return false;
    }
    /* Wake-word detection is not implemented; silently running without the wake words a user
     * asked for would make every utterance trigger, so a non-empty list is refused. */
    if (strcmp(opt->name, "wake_words") == 0 && *s) {
        snprintf(why, whylen,
                 "wake-word detection is not implemented; only an empty value is "
                 "accepted, got '%s'",
                 s);
        return false;
    }
    return true;
}

/* Replaces every literal backslash-n with a newline, left to right like str.replace. */
static char *unescape_newlines(const char *s)
{
    char *out = stt_strdup(s);
    char *w = out;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') {
            *w++ = '\n';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

int stt_config_set_scalar(stt_config_t *cfg, const stt_option_t *opt, const char *text,
                          char *why, size_t whylen)
{
    void *p = stt_config_field(cfg, opt);
    switch (opt->type) {
    case STT_OPT_STR: {
        char *s = option_unescapes_newlines(opt) ? unescape_newlines(text) : stt_strdup(text);
        if (!stt_config_check_string(opt, s, why, whylen)) {
            free(s);
            return STT_EINVAL;
        }
        if (opt->scope == STT_SCOPE_SESSION) {
            memcpy(p, s, strlen(s) + 1);
            free(s);
        } else {
            free(*(char **)p);
            *(char **)p = s;
        }
        return 0;
    }
    case STT_OPT_INT: {
        int64_t v;
        if (!parse_int(text, &v)) {
            snprintf(why, whylen, "invalid int value: '%s'", text);
            return STT_EINVAL;
        }
        if (!check_range(opt, (double)v, text, why, whylen))
            return STT_EINVAL;
        *(int64_t *)p = v;
        return 0;
    }
    case STT_OPT_FLOAT: {
        double v;
        if (!parse_float(text, &v)) {
            snprintf(why, whylen, "invalid float value: '%s'", text);
            return STT_EINVAL;
        }
        if (!check_range(opt, v, text, why, whylen))
            return STT_EINVAL;
        *(double *)p = v;
        return 0;
    }
    case STT_OPT_BOOL:
        /* Only reached for table defaults; on the command line booleans take no value. */
        if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0) {
            snprintf(why, whylen, "invalid boolean default: '%s'", text);
            return STT_EINVAL;
        }
        *(int *)p = text[0] == '1';
        return 0;
    default:
        snprintf(why, whylen, "not a scalar option");
        return STT_EINVAL;
    }
}

static void intlist_dispose(stt_intlist_t *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void strlist_dispose(stt_strlist_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* A new list replaces the previous one because argparse's store action keeps only the last
 * occurrence of an option. */
int stt_config_set_list(stt_config_t *cfg, const stt_option_t *opt, const char *const *vals,
                        size_t count, char *why, size_t whylen)
{
    void *p = stt_config_field(cfg, opt);
    if (opt->type == STT_OPT_INTLIST) {
        int64_t *items = count ? stt_calloc(count, sizeof(*items)) : NULL;
        for (size_t i = 0; i < count; i++) {
            if (!parse_int(vals[i], &items[i])) {
                snprintf(why, whylen, "invalid int value: '%s'", vals[i]);
                free(items);
                return STT_EINVAL;
            }
        }
        stt_intlist_t *l = p;
        intlist_dispose(l);
        l->items = items;
        l->count = count;
        return 0;
    }
    if (opt->type == STT_OPT_STRLIST) {
        char **items = count ? stt_calloc(count, sizeof(*items)) : NULL;
        for (size_t i = 0; i < count; i++)
            items[i] = stt_strdup(vals[i]);
        stt_strlist_t *l = p;
        strlist_dispose(l);
        l->items = items;
        l->count = count;
        return 0;
    }
    snprintf(why, whylen, "not a list option");
    return STT_EINVAL;
}

/* Applies a table default ("" or space-separated values for lists). */
static int set_default(stt_config_t *cfg, const stt_option_t *opt, char *why, size_t whylen)
{
    if (opt->type != STT_OPT_INTLIST && opt->type != STT_OPT_STRLIST)
        return stt_config_set_scalar(cfg, opt, opt->def, why, whylen);
    char *copy = stt_strdup(opt->def);
    size_t n = 0;
    const char **vals = stt_calloc(strlen(copy) / 2 + 1, sizeof(*vals));
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        vals[n++] = tok;
    int rc = stt_config_set_list(cfg, opt, vals, n, why, whylen);
    free(vals);
    free(copy);
    return rc;
}

/* ---- init / dispose -------------------------------------------------------------------------- */

void stt_config_resolve_post_speech_silence(stt_config_t *cfg)
{
    cfg->sess.post_speech_silence_duration = cfg->unknown_sentence_detection_pause;
}

int stt_config_init(stt_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < stt_options_count; i++) {
        char why[256];
        if (set_default(cfg, &stt_options[i], why, sizeof(why)) != 0) {
            /* A default that fails its own validation is a bug in the table. */
            char what[400];
            snprintf(what, sizeof(what), "bad default for %s: %s", stt_options[i].name, why);
            stt_fatal(__FILE__, __LINE__, what);
        }
    }
    /* The original passes unknown_sentence_detection_pause as the recorder's
     * post_speech_silence_duration; -1 in the table stands for that. */
    if (cfg->sess.post_speech_silence_duration < 0)
        stt_config_resolve_post_speech_silence(cfg);
    return 0;
}

void stt_config_dispose(stt_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *opt = &stt_options[i];
        if (opt->scope != STT_SCOPE_GLOBAL)
            continue;
        void *p = stt_config_field(cfg, opt);
        if (opt->type == STT_OPT_STR) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (opt->type == STT_OPT_INTLIST) {
            intlist_dispose(p);
        } else if (opt->type == STT_OPT_STRLIST) {
            strlist_dispose(p);
        }
    }
}

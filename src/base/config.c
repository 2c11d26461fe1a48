/* The configuration table and everything generated from it: defaults, argparse-compatible
 * command-line parsing, --help, docs/config.md, and JSON get/set of per-session parameters.
 *
 * The parser follows Python argparse closely because the original stt-server is an argparse
 * program and RealtimeSTT clients autostart it with a fixed argv (spec section 4.2): arguments
 * are first classified as option-like ('O') or values ('A') the way argparse's _parse_optional
 * does, then options consume the values that follow them. Error texts use argparse's wording
 * ("argument -b/--batch/--batch_size: invalid int value: 'x'") so operators can grep for them.
 *
 * Nothing here is thread-aware: parsing happens once before threads start (see config.h). */
#include "stt/config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/error.h"
#include "stt/log.h"

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
    {"wakeword_backend", wakeword_backend_choices},
};

static const char *const *option_choices(const stt_option_t *opt)
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

static bool option_bounded(const stt_option_t *opt)
{
    return opt->min <= opt->max;
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

static void *field_ptr(stt_config_t *cfg, const stt_option_t *opt)
{
    char *base = opt->scope == STT_SCOPE_SESSION ? (char *)&cfg->sess : (char *)cfg;
    return base + opt->offset;
}

/* ---- bounded string building and number formatting ------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} sbuf_t;

static void sb_init(sbuf_t *sb, char *buf, size_t cap)
{
    sb->buf = buf;
    sb->cap = cap;
    sb->len = 0;
    if (cap > 0)
        buf[0] = '\0';
}

static void sb_putc(sbuf_t *sb, char c)
{
    if (sb->len + 1 < sb->cap) {
        sb->buf[sb->len++] = c;
        sb->buf[sb->len] = '\0';
    }
}

static void sb_puts(sbuf_t *sb, const char *s)
{
    while (*s)
        sb_putc(sb, *s++);
}

/* Formats v like Python's repr(float), except that integral values below 1e15 print without
 * ".0": cJSON keeps every number as a double and cannot tell 1 from 1.0, and clients mostly
 * send integers as integers. */
static void format_number(char *buf, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%lld", (long long)v);
        return;
    }
    /* Shortest decimal that reads back as the same double, as repr() does. */
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    /* sci is "[-]d[.ddd]e[+-]XX": split it into sign, digits and exponent. */
    bool neg = sci[0] == '-';
    char digits[24];
    size_t nd = 0;
    const char *p = sci + (neg ? 1 : 0);
    for (; *p && *p != 'e'; p++) {
        if (*p != '.' && nd + 1 < sizeof(digits))
            digits[nd++] = *p;
    }
    digits[nd] = '\0';
    int exp = *p == 'e' ? atoi(p + 1) : 0;

    sbuf_t sb;
    sb_init(&sb, buf, cap);
    if (neg)
        sb_putc(&sb, '-');
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            sb_puts(&sb, "0.");
            for (int i = 0; i < -exp - 1; i++)
                sb_putc(&sb, '0');
            sb_puts(&sb, digits);
        } else {
            for (int i = 0; i <= exp; i++)
                sb_putc(&sb, (size_t)i < nd ? digits[i] : '0');
            sb_putc(&sb, '.');
            if ((size_t)exp + 1 < nd)
                sb_puts(&sb, digits + exp + 1);
            else
                sb_putc(&sb, '0');
        }
    } else {
        sb_putc(&sb, digits[0]);
        if (nd > 1) {
            sb_putc(&sb, '.');
            sb_puts(&sb, digits + 1);
        }
        char e[16];
        snprintf(e, sizeof(e), "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        sb_puts(&sb, e);
    }
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

static void format_range(char *buf, size_t cap, double min, double max)
{
    char a[40], b[40];
    format_number(a, sizeof(a), min);
    format_number(b, sizeof(b), max);
    snprintf(buf, cap, "between %s and %s", a, b);
}

static bool check_range(const stt_option_t *opt, double v, const char *text, char *why,
                        size_t whylen)
{
    if (!option_bounded(opt) || (v >= opt->min && v <= opt->max))
        return true;
    char range[100];
    format_range(range, sizeof(range), opt->min, opt->max);
    snprintf(why, whylen, "invalid value: '%s' (must be %s)", text, range);
    return false;
}

/* Checks a string value against the option's choices, size and meaning. */
static bool check_string(const stt_option_t *opt, const char *s, char *why, size_t whylen)
{
    const char *const *choices = option_choices(opt);
    if (choices) {
        bool found = false;
        for (size_t i = 0; choices[i]; i++)
            found = found || strcmp(choices[i], s) == 0;
        if (!found) {
            sbuf_t sb;
            sb_init(&sb, why, whylen);
            sb_puts(&sb, "invalid choice: '");
            sb_puts(&sb, s);
            sb_puts(&sb, "' (choose from ");
            for (size_t i = 0; choices[i]; i++) {
                sb_puts(&sb, i ? ", '" : "'");
                sb_puts(&sb, choices[i]);
                sb_putc(&sb, '\'');
            }
            sb_putc(&sb, ')');
            return false;
        }
    }
    if (opt->scope == STT_SCOPE_SESSION && strlen(s) >= opt->size) {
        snprintf(why, whylen, "value too long: '%s' (at most %zu bytes)", s, opt->size - 1);
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

/* Converts, validates and stores one value of an STR/INT/FLOAT/BOOL option. On failure the
 * field is unchanged and `why` holds the reason in argparse wording. */
static int set_scalar(stt_config_t *cfg, const stt_option_t *opt, const char *text, char *why,
                      size_t whylen)
{
    void *p = field_ptr(cfg, opt);
    switch (opt->type) {
    case STT_OPT_STR: {
        char *s = option_unescapes_newlines(opt) ? unescape_newlines(text) : stt_strdup(text);
        if (!check_string(opt, s, why, whylen)) {
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

/* Converts and stores the values of an INTLIST/STRLIST option, replacing the previous list
 * (argparse's store action keeps only the last occurrence). All-or-nothing. */
static int set_list(stt_config_t *cfg, const stt_option_t *opt, const char *const *vals,
                    size_t count, char *why, size_t whylen)
{
    void *p = field_ptr(cfg, opt);
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
        return set_scalar(cfg, opt, opt->def, why, whylen);
    char *copy = stt_strdup(opt->def);
    size_t n = 0;
    const char **vals = stt_calloc(strlen(copy) / 2 + 1, sizeof(*vals));
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        vals[n++] = tok;
    int rc = set_list(cfg, opt, vals, n, why, whylen);
    free(vals);
    free(copy);
    return rc;
}

/* ---- init / dispose -------------------------------------------------------------------------- */

static void resolve_post_speech_silence(stt_config_t *cfg)
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
        resolve_post_speech_silence(cfg);
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
        void *p = field_ptr(cfg, opt);
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

/* ---- command line ---------------------------------------------------------------------------- */

typedef enum { ACT_OPT, ACT_NEG, ACT_HELP, ACT_VERSION, ACT_MD } act_kind_t;

/* One option string and the action it triggers, in argparse's registration order: -h/--help
 * first (argparse adds it first), then the table with each boolean's --no-<name> after its own
 * flags, then our extras. Order matters for the "could match" list of an ambiguous prefix. */
typedef struct {
    char str[80];
    act_kind_t kind;
    const stt_option_t *opt; /* ACT_OPT / ACT_NEG */
} optstr_t;

typedef struct {
    optstr_t *v;
    size_t n;
} optmap_t;

static void optmap_add(optmap_t *m, size_t cap, const char *s, size_t len, act_kind_t kind,
                       const stt_option_t *opt)
{
    if (m->n >= cap || len >= sizeof(m->v[0].str))
        stt_fatal(__FILE__, __LINE__, "option string table overflow");
    optstr_t *o = &m->v[m->n++];
    memcpy(o->str, s, len);
    o->str[len] = '\0';
    o->kind = kind;
    o->opt = opt;
}

static void optmap_build(optmap_t *m)
{
    size_t cap = 8;
    for (size_t i = 0; i < stt_options_count; i++) {
        for (const char *c = stt_options[i].flags; *c; c++)
            cap += *c == ',';
        cap += 2;
    }
    m->v = stt_calloc(cap, sizeof(*m->v));
    m->n = 0;
    optmap_add(m, cap, "-h", 2, ACT_HELP, NULL);
    optmap_add(m, cap, "--help", 6, ACT_HELP, NULL);
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *opt = &stt_options[i];
        const char *s = opt->flags;
        while (*s) {
            size_t len = strcspn(s, ",");
            optmap_add(m, cap, s, len, ACT_OPT, opt);
            s += len + (s[len] == ',');
        }
        if (opt->type == STT_OPT_BOOL) {
            char neg[80];
            int len = snprintf(neg, sizeof(neg), "--no-%s", opt->name);
            optmap_add(m, cap, neg, (size_t)len, ACT_NEG, opt);
        }
    }
    optmap_add(m, cap, "--version", 9, ACT_VERSION, NULL);
    optmap_add(m, cap, "--dump-config-md", 16, ACT_MD, NULL);
}

static const optstr_t *optmap_exact(const optmap_t *m, const char *s, size_t len)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strlen(m->v[i].str) == len && memcmp(m->v[i].str, s, len) == 0)
            return &m->v[i];
    }
    return NULL;
}

/* How one argv element was classified (argparse's 'O' / 'A' pattern letters). */
typedef struct {
    char cls;                 /* 'O' option-like, 'A' value, '-' the "--" separator */
    const optstr_t *os;       /* 'O' only; NULL for an unrecognised option */
    const char *explicit_arg; /* "value" of --opt=value or -mvalue; NULL if none */
} argclass_t;

typedef struct {
    const char *prog;
    char *err;
    size_t errlen;
} errctx_t;

static int fail(const errctx_t *e, const char *fmt, const char *a, const char *b)
{
    if (e->err && e->errlen) {
        char msg[1024];
        snprintf(msg, sizeof(msg), fmt, a, b);
        snprintf(e->err, e->errlen, "%s: error: %s", e->prog, msg);
    }
    return STT_EINVAL;
}

/* argparse's _negative_number_matcher: '^-\d+$|^-\d*\.\d+$'. No option string of ours looks
 * like a negative number, so such arguments are always values. */
static bool looks_like_negative_number(const char *s)
{
    if (s[0] != '-')
        return false;
    s++;
    size_t int_digits = strspn(s, "0123456789");
    s += int_digits;
    if (*s == '\0')
        return int_digits > 0;
    if (*s != '.')
        return false;
    s++;
    size_t frac_digits = strspn(s, "0123456789");
    return frac_digits > 0 && s[frac_digits] == '\0';
}

/* argparse's _parse_optional plus _get_option_tuples (allow_abbrev=True). */
static int classify(const optmap_t *m, const errctx_t *e, const char *arg, argclass_t *c)
{
    c->cls = 'A';
    c->os = NULL;
    c->explicit_arg = NULL;
    if (arg[0] != '-')
        return 0;
    if ((c->os = optmap_exact(m, arg, strlen(arg))) != NULL) {
        c->cls = 'O';
        return 0;
    }
    if (arg[1] == '\0')
        return 0;
    const char *eq = strchr(arg, '=');
    if (eq && (c->os = optmap_exact(m, arg, (size_t)(eq - arg))) != NULL) {
        c->cls = 'O';
        c->explicit_arg = eq + 1;
        return 0;
    }

    /* Abbreviations: "--pre[=v]" matches every long option starting with "--pre"; "-xyz"
     * matches the short option "-x" with value "yz" and any option starting with "-xyz". */
    size_t nmatch = 0;
    const optstr_t *match = NULL;
    const char *match_arg = NULL;
    char list[1024];
    sbuf_t sb;
    sb_init(&sb, list, sizeof(list));
    bool long_form = arg[1] == '-';
    size_t plen = long_form && eq ? (size_t)(eq - arg) : strlen(arg);
    for (size_t i = 0; i < m->n; i++) {
        const char *s = m->v[i].str;
        const char *explicit_arg = NULL;
        if (!long_form && strlen(s) == 2 && strncmp(s, arg, 2) == 0)
            explicit_arg = arg + 2;
        else if (strncmp(s, arg, plen) == 0)
            explicit_arg = long_form && eq ? eq + 1 : NULL;
        else
            continue;
        if (nmatch++)
            sb_puts(&sb, ", ");
        sb_puts(&sb, s);
        match = &m->v[i];
        match_arg = explicit_arg;
    }
    if (nmatch > 1)
        return fail(e, "ambiguous option: %s could match %s", arg, list);
    if (nmatch == 1) {
        c->cls = 'O';
        c->os = match;
        c->explicit_arg = match_arg;
        return 0;
    }
    if (looks_like_negative_number(arg) || strchr(arg, ' '))
        return 0;
    c->cls = 'O'; /* an unrecognised option: reported with the other leftovers */
    return 0;
}

/* argparse names an action by all its option strings joined with '/'. */
static void action_name(const optstr_t *os, char *buf, size_t cap)
{
    sbuf_t sb;
    sb_init(&sb, buf, cap);
    switch (os->kind) {
    case ACT_OPT:
        for (const char *s = os->opt->flags; *s; s++)
            sb_putc(&sb, *s == ',' ? '/' : *s);
        break;
    case ACT_HELP:
        sb_puts(&sb, "-h/--help");
        break;
    default:
        sb_puts(&sb, os->str);
        break;
    }
}

static bool takes_no_value(const optstr_t *os)
{
    return os->kind != ACT_OPT || os->opt->type == STT_OPT_BOOL;
}

typedef struct {
    stt_config_t *cfg;
    const optmap_t *map;
    const errctx_t *e;
    int *want_help, *want_md, *want_version;
    bool stop;          /* -h/--help, --version or --dump-config-md seen */
    bool post_explicit; /* --post_speech_silence_duration given with a value >= 0 */
} parser_t;

static int fail_action(parser_t *ps, const optstr_t *os, const char *why)
{
    char name[300];
    action_name(os, name, sizeof(name));
    return fail(ps->e, "argument %s: %s", name, why);
}

/* Runs an action that takes no value. */
static void apply_flag(parser_t *ps, const optstr_t *os)
{
    int *flag = NULL;
    switch (os->kind) {
    case ACT_OPT:
        *(int *)field_ptr(ps->cfg, os->opt) = 1;
        return;
    case ACT_NEG:
        *(int *)field_ptr(ps->cfg, os->opt) = 0;
        return;
    case ACT_HELP:
        flag = ps->want_help;
        break;
    case ACT_VERSION:
        flag = ps->want_version;
        break;
    case ACT_MD:
        flag = ps->want_md;
        break;
    }
    if (flag)
        *flag = 1;
    /* argparse's help and version actions exit at once; the rest of argv is not looked at. */
    ps->stop = true;
}

static int apply_values(parser_t *ps, const optstr_t *os, const char *const *vals, size_t n)
{
    char why[600];
    const stt_option_t *opt = os->opt;
    int rc;
    if (opt->type == STT_OPT_INTLIST || opt->type == STT_OPT_STRLIST)
        rc = set_list(ps->cfg, opt, vals, n, why, sizeof(why));
    else
        rc = set_scalar(ps->cfg, opt, vals[0], why, sizeof(why));
    if (rc != 0)
        return fail_action(ps, os, why);
    if (opt->scope == STT_SCOPE_SESSION &&
        opt->offset == offsetof(stt_session_params_t, post_speech_silence_duration))
        ps->post_explicit = ps->cfg->sess.post_speech_silence_duration >= 0;
    return 0;
}

/* argparse's consume_optional: handles the option at argv[*i] and the values it takes. */
static int consume_option(parser_t *ps, int argc, char **argv, const argclass_t *cls, int *i)
{
    const optstr_t *os = cls[*i].os;
    const char *explicit_arg = cls[*i].explicit_arg;
    char why[300];
    (*i)++;

    /* Flags: "-Ds" is "-D -s"; "-Dmtiny" is "-D -m tiny". argparse checks the whole cluster
     * before it runs any of it, so "-hx" is an error rather than a help request. */
    const optstr_t *cur = os;
    const char *rest = explicit_arg;
    while (takes_no_value(cur) && rest) {
        const optstr_t *next = NULL;
        if (cur->str[1] != '-' && rest[0] != '\0') {
            char s[3] = {'-', rest[0], '\0'};
            next = optmap_exact(ps->map, s, 2);
        }
        if (!next) {
            snprintf(why, sizeof(why), "ignored explicit argument '%s'", rest);
            return fail_action(ps, cur, why);
        }
        cur = next;
        rest = rest[1] ? rest + 1 : NULL;
    }
    while (takes_no_value(os)) {
        apply_flag(ps, os);
        if (ps->stop || !explicit_arg)
            return 0;
        char s[3] = {'-', explicit_arg[0], '\0'};
        os = optmap_exact(ps->map, s, 2);
        explicit_arg = explicit_arg[1] ? explicit_arg + 1 : NULL;
    }

    if (explicit_arg)
        return apply_values(ps, os, &explicit_arg, 1);

    bool list = os->opt->type == STT_OPT_INTLIST || os->opt->type == STT_OPT_STRLIST;
    int start = *i;
    while (*i < argc && cls[*i].cls == 'A' && (list || *i == start))
        (*i)++;
    if (!list && *i == start)
        return fail_action(ps, os, "expected one argument");
    return apply_values(ps, os, (const char *const *)argv + start, (size_t)(*i - start));
}

static const char *prog_name(int argc, char **argv)
{
    if (argc < 1 || !argv[0] || !argv[0][0])
        return "stt-server";
    const char *slash = strrchr(argv[0], '/');
    return slash ? slash + 1 : argv[0];
}

int stt_config_parse_argv(stt_config_t *cfg, int argc, char **argv, char *err, size_t errlen,
                          int *want_help, int *want_md, int *want_version)
{
    errctx_t e = {prog_name(argc, argv), err, errlen};
    if (err && errlen)
        err[0] = '\0';
    optmap_t map;
    optmap_build(&map);
    argclass_t *cls = stt_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*cls));
    int *extras = stt_calloc((size_t)(argc > 0 ? argc : 1), sizeof(*extras));
    size_t nextras = 0;
    int rc = 0;

    /* Like argparse, classify everything first: an ambiguous abbreviation is an error wherever
     * it appears, and after "--" everything is a value. */
    bool after_separator = false;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (after_separator) {
            cls[i].cls = 'A';
        } else if (strcmp(argv[i], "--") == 0) {
            cls[i].cls = '-';
            after_separator = true;
        } else {
            rc = classify(&map, &e, argv[i], &cls[i]);
        }
    }

    parser_t ps = {cfg, &map, &e, want_help, want_md, want_version, false, false};
    for (int i = 1; i < argc && rc == 0 && !ps.stop;) {
        if (cls[i].cls != 'O' || !cls[i].os) {
            /* No positional arguments exist, so values nobody consumed, "--" and unknown
             * options all end up as "unrecognized arguments". */
            extras[nextras++] = i;
            i++;
            continue;
        }
        rc = consume_option(&ps, argc, argv, cls, &i);
    }

    if (rc == 0 && !ps.stop && nextras > 0) {
        char list[1024];
        sbuf_t sb;
        sb_init(&sb, list, sizeof(list));
        for (size_t k = 0; k < nextras; k++) {
            if (k)
                sb_putc(&sb, ' ');
            sb_puts(&sb, argv[extras[k]]);
        }
        rc = fail(&e, "unrecognized arguments: %s%s", list, "");
    }
    if (rc == 0 && !ps.post_explicit)
        resolve_post_speech_silence(cfg);

    free(extras);
    free(cls);
    free(map.v);
    return rc;
}

/* ---- --help and docs/config.md --------------------------------------------------------------- */

static bool is_list(const stt_option_t *opt)
{
    return opt->type == STT_OPT_INTLIST || opt->type == STT_OPT_STRLIST;
}

static const char *type_name(const stt_option_t *opt)
{
    switch (opt->type) {
    case STT_OPT_STR:
        return "str";
    case STT_OPT_INT:
        return "int";
    case STT_OPT_FLOAT:
        return "float";
    case STT_OPT_BOOL:
        return "bool";
    case STT_OPT_INTLIST:
        return "int list";
    case STT_OPT_STRLIST:
        return "str list";
    }
    return "?";
}

/* argparse's metavar: the destination in upper case. */
static void metavar(const stt_option_t *opt, char *buf, size_t cap)
{
    sbuf_t sb;
    sb_init(&sb, buf, cap);
    if (is_list(opt))
        sb_putc(&sb, '[');
    for (const char *s = opt->name; *s; s++)
        sb_putc(&sb, (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s);
    if (is_list(opt))
        sb_puts(&sb, " ...]");
}

/* The flags an option answers to, ", "-separated, booleans with their --no- form. */
static void flag_list(const stt_option_t *opt, char *buf, size_t cap, bool code)
{
    sbuf_t sb;
    sb_init(&sb, buf, cap);
    const char *s = opt->flags;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (s != opt->flags)
            sb_puts(&sb, ", ");
        if (code)
            sb_putc(&sb, '`');
        for (size_t k = 0; k < len; k++)
            sb_putc(&sb, s[k]);
        if (code)
            sb_putc(&sb, '`');
        s += len + (s[len] == ',');
    }
    if (opt->type == STT_OPT_BOOL) {
        sb_puts(&sb, code ? ", `--no-" : ", --no-");
        sb_puts(&sb, opt->name);
        if (code)
            sb_putc(&sb, '`');
    }
}

/* The default as a reader should see it: booleans as true/false, lists as written. */
static const char *default_text(const stt_option_t *opt)
{
    if (opt->type == STT_OPT_BOOL)
        return strcmp(opt->def, "1") == 0 ? "true" : "false";
    return opt->def;
}

static void range_text(const stt_option_t *opt, char *buf, size_t cap, const char *sep)
{
    buf[0] = '\0';
    const char *const *choices = option_choices(opt);
    if (choices) {
        sbuf_t sb;
        sb_init(&sb, buf, cap);
        for (size_t i = 0; choices[i]; i++) {
            if (i)
                sb_puts(&sb, sep);
            sb_puts(&sb, choices[i]);
        }
        return;
    }
    if ((opt->type == STT_OPT_INT || opt->type == STT_OPT_FLOAT) && option_bounded(opt)) {
        char a[40], b[40];
        format_number(a, sizeof(a), opt->min);
        format_number(b, sizeof(b), opt->max);
        snprintf(buf, cap, "%s..%s", a, b);
    }
    if (opt->scope == STT_SCOPE_SESSION && opt->type == STT_OPT_STR)
        snprintf(buf, cap, "at most %zu bytes", opt->size - 1);
}

void stt_config_print_help(void *out, const char *prog)
{
    FILE *f = out;
    if (!prog || !*prog)
        prog = "stt-server";
    fprintf(f, "usage: %s [-h] [--version] [--dump-config-md] [OPTION ...]\n\n", prog);
    fprintf(f, "Speech-to-text server compatible with RealtimeSTT's stt-server.\n"
               "Booleans take no value: --flag turns one on, --no-flag turns it off.\n"
               "Long options may be abbreviated to any unique prefix.\n\n");
    fprintf(f, "options:\n");
    fprintf(f, "  %-44s  %s\n", "-h, --help", "show this help message and exit");
    fprintf(f, "  %-44s  %s\n", "--version", "show the version and exit");
    fprintf(f, "  %-44s  %s\n", "--dump-config-md",
            "print the option reference (docs/config.md) and exit");
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *opt = &stt_options[i];
        char flags[300], mv[80], range[200], left[400];
        flag_list(opt, flags, sizeof(flags), false);
        metavar(opt, mv, sizeof(mv));
        if (opt->type == STT_OPT_BOOL)
            snprintf(left, sizeof(left), "%s", flags);
        else
            snprintf(left, sizeof(left), "%s %s", flags, mv);
        range_text(opt, range, sizeof(range), ",");
        const char *q = opt->type == STT_OPT_STR ? "\"" : "";
        const char *open = option_choices(opt) ? " {" : (range[0] ? " " : "");
        const char *close = option_choices(opt) ? "}" : "";
        /* One line per option keeps the output greppable; terminals wrap it. */
        fprintf(f, "  %-44s  %s [%s%s%s%s, default: %s%s%s%s]\n", left, opt->help, type_name(opt),
                open, range, close, q, default_text(opt), q,
                opt->scope == STT_SCOPE_SESSION ? "; per session" : "");
    }
}

/* Writes s for a markdown table cell: '|' escaped, newlines as spaces. */
static void md_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void md_code(FILE *f, const char *s)
{
    if (strchr(s, '`')) {
        md_text(f, s);
        return;
    }
    fputc('`', f);
    md_text(f, s);
    fputc('`', f);
}

void stt_config_print_markdown(void *out)
{
    FILE *f = out;
    fputs("# stt-server configuration\n"
          "\n"
          "This file is generated by `stt-server --dump-config-md` from the option table "
          "`STT_CONFIG_MAP` in\n"
          "`include/stt/config.h`. To change an option, edit the table and regenerate this "
          "file.\n"
          "\n"
          "How the command line works:\n"
          "\n"
          "- The option strings are exactly those of the original RealtimeSTT `stt-server` "
          "(Python argparse),\n"
          "  so the command line a RealtimeSTT client uses to autostart the server is accepted "
          "verbatim.\n"
          "  Values may follow as the next argument or after `=` (`--beam_size 5`, "
          "`--beam_size=5`); short\n"
          "  options also take them attached (`-mtiny`). Any unique prefix of a long option "
          "works\n"
          "  (`--beam_size_r 3`); an ambiguous prefix is an error that lists the candidates.\n"
          "- Booleans are flags that take no value: `--flag` turns the option on and "
          "`--no-flag` turns it\n"
          "  off (for example `--no-enable_realtime_transcription`).\n"
          "- List options take zero or more values (`--suppress_tokens -1 50`); negative "
          "numbers are values.\n"
          "- Numbers are checked against the range shown; strings with a fixed set of values "
          "accept only\n"
          "  those.\n"
          "- An unknown flag, a missing value or a bad value (wrong type, out of range, not one "
          "of the\n"
          "  choices) makes the server print a one-line error that names the flag and exit "
          "with status 2.\n"
          "- `-h`/`--help` prints a summary of the options, `--version` the version, and\n"
          "  `--dump-config-md` this file.\n"
          "\n"
          "Scope: a *process* option is fixed at startup. A *per-session (control)* option "
          "gives the initial\n"
          "value for every new session; a client can read and change it for its session over "
          "the control\n"
          "WebSocket (`get_parameter` / `set_parameter`), where the value must have the type "
          "and range shown.\n"
          "A negative minimum in the Range column is a command-line sentinel (`-1` = use "
          "another option);\n"
          "the control socket refuses it.\n"
          "\n"
          "| Flags | Type | Default | Range | Scope | Description |\n"
          "|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *opt = &stt_options[i];
        char flags[400], range[200];
        flag_list(opt, flags, sizeof(flags), true);
        range_text(opt, range, sizeof(range), ", ");
        fputs("| ", f);
        md_text(f, flags);
        fprintf(f, " | %s | ", type_name(opt));
        if (opt->def[0] == '\0')
            fputs(is_list(opt) ? "*(none)*" : "*(empty)*", f);
        else
            md_code(f, default_text(opt));
        fputs(" | ", f);
        if (option_choices(opt)) {
            fputs("one of ", f);
            const char *const *choices = option_choices(opt);
            for (size_t k = 0; choices[k]; k++) {
                if (k)
                    fputs(", ", f);
                md_code(f, choices[k]);
            }
        } else {
            md_text(f, range);
        }
        fprintf(f, " | %s | ",
                opt->scope == STT_SCOPE_SESSION ? "per-session (control)" : "process");
        md_text(f, opt->help);
        fputs(" |\n", f);
    }
}

/* ---- per-session parameters over the control socket ------------------------------------------ */

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
    if (option_bounded(opt))
        format_range(range, sizeof(range), min, opt->max);

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
        if (option_bounded(opt) && (v < min || v > opt->max))
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
        if (!check_string(opt, s, why, sizeof(why))) {
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

/* Python's repr() of a str: single quotes unless the text has single but no double quotes. */
static void py_repr_string(sbuf_t *sb, const char *s)
{
    char q = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
    sb_putc(sb, q);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == (unsigned char)q || *c == '\\') {
            sb_putc(sb, '\\');
            sb_putc(sb, (char)*c);
        } else if (*c == '\n') {
            sb_puts(sb, "\\n");
        } else if (*c == '\r') {
            sb_puts(sb, "\\r");
        } else if (*c == '\t') {
            sb_puts(sb, "\\t");
        } else if (*c < 0x20 || *c == 0x7f) {
            char hex[8];
            snprintf(hex, sizeof(hex), "\\x%02x", *c);
            sb_puts(sb, hex);
        } else {
            sb_putc(sb, (char)*c);
        }
    }
    sb_putc(sb, q);
}

/* str() at the top level, repr() inside containers, as Python prints them. */
static void py_str(sbuf_t *sb, const cJSON *v, bool top)
{
    if (!v || cJSON_IsNull(v)) {
        sb_puts(sb, "None");
    } else if (cJSON_IsBool(v)) {
        sb_puts(sb, cJSON_IsTrue(v) ? "True" : "False");
    } else if (cJSON_IsNumber(v)) {
        char num[40];
        format_number(num, sizeof(num), v->valuedouble);
        sb_puts(sb, num);
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring ? v->valuestring : "";
        if (top)
            sb_puts(sb, s);
        else
            py_repr_string(sb, s);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        bool obj = cJSON_IsObject(v);
        sb_putc(sb, obj ? '{' : '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                sb_puts(sb, ", ");
            if (obj) {
                py_repr_string(sb, c->string ? c->string : "");
                sb_puts(sb, ": ");
            }
            py_str(sb, c, false);
        }
        sb_putc(sb, obj ? '}' : ']');
    } else {
        sb_puts(sb, "None");
    }
}

void stt_config_python_str(const cJSON *value, char *buf, size_t buflen)
{
    if (!buf || !buflen)
        return;
    sbuf_t sb;
    sb_init(&sb, buf, buflen);
    py_str(&sb, value, true);
}

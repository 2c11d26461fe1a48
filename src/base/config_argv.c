/* The command line: an emulation of Python argparse, so that the argv a RealtimeSTT client uses
 * to autostart the original stt-server (spec section 4.2) is accepted verbatim and errors read
 * the same.
 *
 * Arguments are first classified as option-like ('O') or values ('A') the way argparse's
 * _parse_optional does, then options consume the values that follow them. Error texts use
 * argparse's wording ("argument -b/--batch/--batch_size: invalid int value: 'x'") so operators
 * can grep for them. Values are converted and stored by config.c (config_internal.h).
 *
 * Runs once, before threads start. The option-string map and the classification are allocated
 * per call and freed before it returns; strings stored into the config are owned by it. */
#include "stt/config.h"
#include "config_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt/error.h"
#include "stt/log.h"
#include "stt/pyfmt.h"

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
    stt_sbuf_t list = {0};
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
            stt_sbuf_puts(&list, ", ");
        stt_sbuf_puts(&list, s);
        match = &m->v[i];
        match_arg = explicit_arg;
    }
    if (nmatch > 1) {
        int rc = fail(e, "ambiguous option: %s could match %s", arg, list.buf);
        stt_sbuf_dispose(&list);
        return rc;
    }
    stt_sbuf_dispose(&list);
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
static void action_name(const optstr_t *os, stt_sbuf_t *sb)
{
    switch (os->kind) {
    case ACT_OPT:
        for (const char *s = os->opt->flags; *s; s++)
            stt_sbuf_putc(sb, *s == ',' ? '/' : *s);
        break;
    case ACT_HELP:
        stt_sbuf_puts(sb, "-h/--help");
        break;
    default:
        stt_sbuf_puts(sb, os->str);
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
    stt_sbuf_t name = {0};
    action_name(os, &name);
    int rc = fail(ps->e, "argument %s: %s", name.buf, why);
    stt_sbuf_dispose(&name);
    return rc;
}

/* Runs an action that takes no value. */
static void apply_flag(parser_t *ps, const optstr_t *os)
{
    int *flag = NULL;
    switch (os->kind) {
    case ACT_OPT:
        *(int *)stt_config_field(ps->cfg, os->opt) = 1;
        return;
    case ACT_NEG:
        *(int *)stt_config_field(ps->cfg, os->opt) = 0;
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
        rc = stt_config_set_list(ps->cfg, opt, vals, n, why, sizeof(why));
    else
        rc = stt_config_set_scalar(ps->cfg, opt, vals[0], why, sizeof(why));
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
        stt_sbuf_t list = {0};
        for (size_t k = 0; k < nextras; k++) {
            if (k)
                stt_sbuf_putc(&list, ' ');
            stt_sbuf_puts(&list, argv[extras[k]]);
        }
        rc = fail(&e, "unrecognized arguments: %s%s", list.buf, "");
        stt_sbuf_dispose(&list);
    }
    if (rc == 0 && !ps.post_explicit)
        stt_config_resolve_post_speech_silence(cfg);

    free(extras);
    free(cls);
    free(map.v);
    return rc;
}

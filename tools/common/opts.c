/* The tools' command-line tables; see opts.h. */
#include "opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "client_util.h"
#include "stt/error.h"
#include "stt/log.h"

/* getopt_long reports a long-only option as this plus its row. */
#define ROW_BASE 256

static int range_error(const char *prog, const stt_tool_opt_t *o)
{
    if (o->err)
        fprintf(stderr, "%s: --%s %s\n", prog, o->name, o->err);
    else if (o->kind == STT_TOOL_OPT_DOUBLE)
        fprintf(stderr, "%s: --%s must be %g..%g%s\n", prog, o->name, o->lo, o->hi,
                o->unit ? o->unit : "");
    else
        fprintf(stderr, "%s: --%s must be %ld..%ld%s\n", prog, o->name, (long)o->lo, (long)o->hi,
                o->unit ? o->unit : "");
    return STT_EINVAL;
}

/* Stores the value of one option; 0, STT_TOOL_OPTS_HELP, or STT_EINVAL after printing. */
static int apply(const char *prog, const stt_tool_opt_t *o, const char *arg)
{
    long l;
    switch (o->kind) {
    case STT_TOOL_OPT_FLAG:
        *(int *)o->out = 1;
        return 0;
    case STT_TOOL_OPT_STRING:
        *(const char **)o->out = arg;
        return 0;
    case STT_TOOL_OPT_INT:
    case STT_TOOL_OPT_LONG:
    case STT_TOOL_OPT_SIZE:
        if (stt_tool_parse_long(arg, (long)o->lo, (long)o->hi, &l) < 0)
            return range_error(prog, o);
        if (o->kind == STT_TOOL_OPT_INT)
            *(int *)o->out = (int)l;
        else if (o->kind == STT_TOOL_OPT_LONG)
            *(long *)o->out = l;
        else
            *(size_t *)o->out = (size_t)l;
        return 0;
    case STT_TOOL_OPT_DOUBLE:
        if (stt_tool_parse_double(arg, o->lo, o->hi, (double *)o->out) < 0)
            return range_error(prog, o);
        return 0;
    case STT_TOOL_OPT_FN:
        return o->fn(o->out, prog, arg) < 0 ? STT_EINVAL : 0;
    case STT_TOOL_OPT_HELP:
        return STT_TOOL_OPTS_HELP;
    }
    return STT_EINVAL;
}

int stt_tool_opts_parse(const char *prog, const stt_tool_opt_t *opts, size_t n, int argc,
                        char **argv, int *operands)
{
    struct option *longopts = stt_calloc(n + 1, sizeof(*longopts));
    char *letters = stt_calloc(2 * n + 1, 1);
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        int has_arg = opts[i].kind == STT_TOOL_OPT_FLAG || opts[i].kind == STT_TOOL_OPT_HELP
                          ? no_argument
                          : required_argument;
        longopts[i] = (struct option){opts[i].name, has_arg, NULL,
                                      opts[i].letter ? opts[i].letter : ROW_BASE + (int)i};
        if (opts[i].letter) {
            letters[nl++] = (char)opts[i].letter;
            if (has_arg == required_argument)
                letters[nl++] = ':';
        }
    }
    int rc = 0, opt;
    while (rc == 0 && (opt = getopt_long(argc, argv, letters, longopts, NULL)) != -1) {
        const stt_tool_opt_t *o = NULL;
        if (opt >= ROW_BASE && opt < ROW_BASE + (int)n)
            o = &opts[opt - ROW_BASE];
        for (size_t i = 0; !o && opt < ROW_BASE && i < n; i++)
            if (opts[i].letter == opt)
                o = &opts[i];
        rc = o ? apply(prog, o, optarg) : STT_EINVAL; /* '?': getopt_long printed why */
    }
    free(letters);
    free(longopts);
    *operands = optind;
    return rc;
}

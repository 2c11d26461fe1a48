/* Command-line options of the tools as a table: each row names an option, where its value goes
 * and what it may be, and one call runs getopt_long over the table, checks every value and
 * prints the error for a bad one. The tools had the same getopt switch, case for case.
 *
 * Threading: uses getopt_long's globals (optind, optarg); main thread, once.
 * Tool code, not library code: errors are printed as "PROG: --NAME ...", and nothing exits.
 */
#ifndef STT_TOOLS_OPTS_H
#define STT_TOOLS_OPTS_H

#include <stddef.h>

typedef enum {
    STT_TOOL_OPT_FLAG,   /* no argument: *(int *)out = 1 */
    STT_TOOL_OPT_STRING, /* *(const char **)out = the argument, borrowed from argv */
    STT_TOOL_OPT_INT,    /* a whole number in [lo, hi] into *(int *)out */
    STT_TOOL_OPT_LONG,   /* a whole number in [lo, hi] into *(long *)out */
    STT_TOOL_OPT_SIZE,   /* a whole number in [lo, hi] into *(size_t *)out */
    STT_TOOL_OPT_DOUBLE, /* a number in [lo, hi] into *(double *)out */
    STT_TOOL_OPT_FN,     /* fn(out, prog, argument) checks and stores it */
    STT_TOOL_OPT_HELP,   /* no argument: stt_tool_opts_parse() returns STT_TOOL_OPTS_HELP */
} stt_tool_opt_kind_t;

typedef struct {
    const char *name; /* the long name, without "--" */
    int letter;       /* the short name ('q'), or 0 for none */
    stt_tool_opt_kind_t kind;
    void *out; /* borrowed: where the value goes, of the type the kind names */
    double lo, hi;
    const char *unit; /* appended to the range in the error ("must be 0..600 seconds") */
    const char *err;  /* replaces "must be LO..HI UNIT" in the error when not NULL */
    /* STT_TOOL_OPT_FN: stores arg in out, or prints "PROG: --NAME ..." and returns < 0. */
    int (*fn)(void *out, const char *prog, const char *arg);
} stt_tool_opt_t;

/* A numeric option whose kind follows from the type of ptr (int, long, size_t or double *).
 * clang-format would put each association of the _Generic on a line of its own. */
/* clang-format off */
#define STT_TOOL_OPT_NUM(name_, ptr_, lo_, hi_, unit_)                                             \
    {                                                                                              \
        .name = (name_),                                                                           \
        .kind = _Generic((ptr_), int *: STT_TOOL_OPT_INT, long *: STT_TOOL_OPT_LONG,               \
                         size_t *: STT_TOOL_OPT_SIZE, double *: STT_TOOL_OPT_DOUBLE),              \
        .out = (ptr_), .lo = (lo_), .hi = (hi_), .unit = (unit_),                                  \
    }
/* clang-format on */
#define STT_TOOL_OPT_STR(name_, ptr_)                                                              \
    {.name = (name_), .kind = STT_TOOL_OPT_STRING, .out = _Generic((ptr_), const char **: ptr_)}
#define STT_TOOL_OPT_BOOL(name_, letter_, ptr_)                                                    \
    {.name = (name_),                                                                              \
     .letter = (letter_),                                                                          \
     .kind = STT_TOOL_OPT_FLAG,                                                                    \
     .out = _Generic((ptr_), int *: ptr_)}
#define STT_TOOL_OPT_CALL(name_, out_, fn_)                                                        \
    {.name = (name_), .kind = STT_TOOL_OPT_FN, .out = (out_), .fn = (fn_)}
#define STT_TOOL_OPT_HELP_ROW {.name = "help", .letter = 'h', .kind = STT_TOOL_OPT_HELP}

enum { STT_TOOL_OPTS_HELP = 1 };

/* Parses the options of argv against the n rows of opts; *operands receives the index of the
 * first argument that is not an option. Returns 0, STT_TOOL_OPTS_HELP when --help was given
 * (the caller prints its usage and exits 0), or STT_EINVAL after the error was printed (by
 * getopt_long for an unknown option, here or by a row's fn for a bad value). */
int stt_tool_opts_parse(const char *prog, const stt_tool_opt_t *opts, size_t n, int argc,
                        char **argv, int *operands);

#endif

/* --help and docs/config.md, both generated from the option table so that neither can drift
 * from what the parser accepts. The docs.config_md_current test diffs the markdown against the
 * checked-in docs/config.md.
 *
 * Runs once, before threads start; writes to a FILE * the caller owns. */
#include "stt/config.h"
#include "config_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "stt/pyfmt.h"

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
static void metavar(const stt_option_t *opt, stt_sbuf_t *sb)
{
    if (is_list(opt))
        stt_sbuf_putc(sb, '[');
    for (const char *s = opt->name; *s; s++)
        stt_sbuf_putc(sb, (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s);
    if (is_list(opt))
        stt_sbuf_puts(sb, " ...]");
}

/* The flags an option answers to, ", "-separated, booleans with their --no- form. */
static void flag_list(const stt_option_t *opt, stt_sbuf_t *sb, bool code)
{
    const char *s = opt->flags;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (s != opt->flags)
            stt_sbuf_puts(sb, ", ");
        if (code)
            stt_sbuf_putc(sb, '`');
        stt_sbuf_put(sb, s, len);
        if (code)
            stt_sbuf_putc(sb, '`');
        s += len + (s[len] == ',');
    }
    if (opt->type == STT_OPT_BOOL) {
        stt_sbuf_puts(sb, code ? ", `--no-" : ", --no-");
        stt_sbuf_puts(sb, opt->name);
        if (code)
            stt_sbuf_putc(sb, '`');
    }
}

/* The default as a reader should see it: booleans as true/false, lists as written. */
static const char *default_text(const stt_option_t *opt)
{
    if (opt->type == STT_OPT_BOOL)
        return strcmp(opt->def, "1") == 0 ? "true" : "false";
    return opt->def;
}

/* The values an option takes: its choices joined with sep, "min..max", a session string's size
 * limit, or nothing. */
static void range_text(const stt_option_t *opt, stt_sbuf_t *sb, const char *sep)
{
    const char *const *choices = stt_config_choices(opt);
    if (choices) {
        for (size_t i = 0; choices[i]; i++) {
            if (i)
                stt_sbuf_puts(sb, sep);
            stt_sbuf_puts(sb, choices[i]);
        }
        return;
    }
    if ((opt->type == STT_OPT_INT || opt->type == STT_OPT_FLOAT) && stt_config_bounded(opt)) {
        stt_pyfmt_number(sb, opt->min);
        stt_sbuf_puts(sb, "..");
        stt_pyfmt_number(sb, opt->max);
    }
    if (opt->scope == STT_SCOPE_SESSION && opt->type == STT_OPT_STR)
        stt_sbuf_printf(sb, "at most %zu bytes", opt->size - 1);
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
        stt_sbuf_t left = {0}, range = {0};
        flag_list(opt, &left, false);
        if (opt->type != STT_OPT_BOOL) {
            stt_sbuf_putc(&left, ' ');
            metavar(opt, &left);
        }
        range_text(opt, &range, ",");
        const char *q = opt->type == STT_OPT_STR ? "\"" : "";
        const char *open = stt_config_choices(opt) ? " {" : (range.len ? " " : "");
        const char *close = stt_config_choices(opt) ? "}" : "";
        /* One line per option keeps the output greppable; terminals wrap it. */
        fprintf(f, "  %-44s  %s [%s%s%s%s, default: %s%s%s%s]\n", left.buf, opt->help,
                type_name(opt), open, stt_sbuf_str(&range), close, q, default_text(opt), q,
                opt->scope == STT_SCOPE_SESSION ? "; per session" : "");
        stt_sbuf_dispose(&left);
        stt_sbuf_dispose(&range);
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
        stt_sbuf_t flags = {0}, range = {0};
        flag_list(opt, &flags, true);
        range_text(opt, &range, ", ");
        fputs("| ", f);
        md_text(f, flags.buf);
        fprintf(f, " | %s | ", type_name(opt));
        if (opt->def[0] == '\0')
            fputs(is_list(opt) ? "*(none)*" : "*(empty)*", f);
        else
            md_code(f, default_text(opt));
        fputs(" | ", f);
        if (stt_config_choices(opt)) {
            fputs("one of ", f);
            const char *const *choices = stt_config_choices(opt);
            for (size_t k = 0; choices[k]; k++) {
                if (k)
                    fputs(", ", f);
                md_code(f, choices[k]);
            }
        } else {
            md_text(f, stt_sbuf_str(&range));
        }
        fprintf(f, " | %s | ",
                opt->scope == STT_SCOPE_SESSION ? "per-session (control)" : "process");
        md_text(f, opt->help);
        fputs(" |\n", f);
        stt_sbuf_dispose(&flags);
        stt_sbuf_dispose(&range);
    }
}

/* What the four parts of the configuration module share; private to src/base/config*.c.
 *
 *   config.c       the option table, validation, defaults, init/dispose, storing one value
 *   config_argv.c  the argparse emulator (stt_config_parse_argv)
 *   config_doc.c   --help and docs/config.md
 *   config_json.c  per-session parameters as JSON for the control protocol
 *
 * Validation failures are reported in argparse's wording into a caller-supplied `why` buffer,
 * truncated to whylen - 1 bytes. Nothing here is thread-aware (see stt/config.h). */
#ifndef STT_BASE_CONFIG_INTERNAL_H
#define STT_BASE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "stt/config.h"

/* The values an option's help text promises (NULL-terminated), or NULL if any value goes. */
const char *const *stt_config_choices(const stt_option_t *opt);

/* Whether the table's min/max apply: min > max marks an unbounded option. */
static inline bool stt_config_bounded(const stt_option_t *opt)
{
    return opt->min <= opt->max;
}

/* Where the option's value lives in cfg (in cfg->sess for session options). Borrowed. */
void *stt_config_field(stt_config_t *cfg, const stt_option_t *opt);

/* Writes "between <min> and <max>", the numbers as Python's str() prints them, into buf
 * (truncated to cap - 1 bytes). */
void stt_config_format_range(char *buf, size_t cap, double min, double max);

/* Checks a string value against the option's choices, size and meaning. */
bool stt_config_check_string(const stt_option_t *opt, const char *s, char *why, size_t whylen);

/* Converts, validates and stores one value of an STR/INT/FLOAT/BOOL option, or all values of an
 * INTLIST/STRLIST option (replacing the old list). All-or-nothing: on failure the field is
 * unchanged, STT_EINVAL is returned and `why` says why. */
int stt_config_set_scalar(stt_config_t *cfg, const stt_option_t *opt, const char *text,
                          char *why, size_t whylen);
int stt_config_set_list(stt_config_t *cfg, const stt_option_t *opt, const char *const *vals,
                        size_t count, char *why, size_t whylen);

/* Gives post_speech_silence_duration the value of unknown_sentence_detection_pause, which is
 * what the table's -1 for it means. */
void stt_config_resolve_post_speech_silence(stt_config_t *cfg);

#endif /* STT_BASE_CONFIG_INTERNAL_H */

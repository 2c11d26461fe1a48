/* Unit tests for the configuration table (src/base/config.c): defaults, argparse-compatible
 * parsing (aliases, abbreviations, --no- booleans, lists, errors), the RealtimeSTT autostart
 * command line, --help / markdown output, and session parameters over JSON. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stt/config.h"
#include "stt/error.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct {
    stt_config_t cfg;
    char err[512];
    int help, md, version;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    stt_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    stt_config_dispose(&f->cfg);
    free(f);
    return 0;
}

/* Parses argv (argv[0] included) into a fresh config. */
static int parse(fixture_t *f, int argc, const char **argv)
{
    stt_config_dispose(&f->cfg);
    stt_config_init(&f->cfg);
    f->err[0] = '\0';
    f->help = f->md = f->version = 0;
    return stt_config_parse_argv(&f->cfg, argc, (char **)argv, f->err, sizeof(f->err), &f->help,
                                 &f->md, &f->version);
}

static void assert_parse_error(fixture_t *f, int argc, const char **argv, const char *expected)
{
    int rc = parse(f, argc, argv);
    if (rc != STT_EINVAL || !strstr(f->err, expected))
        fail_msg("argv[1]=%s: rc=%d err='%s', expected '%s'", argc > 1 ? argv[1] : "", rc, f->err,
                 expected);
    assert_non_null(strstr(f->err, "stt-server: error: "));
    assert_null(strchr(f->err, '\n'));
}

/* ---- table ----------------------------------------------------------------------------------- */

static void test_table_shape(void **state)
{
    (void)state;
    assert_true(stt_options_count > 60);
    assert_null(stt_options[stt_options_count].name);
    const stt_option_t *lang = stt_config_find("language");
    assert_non_null(lang);
    assert_int_equal(lang->scope, STT_SCOPE_SESSION);
    assert_int_equal(lang->type, STT_OPT_STR);
    assert_int_equal(lang->size, STT_LANGUAGE_MAX);
    assert_int_equal(lang->offset, offsetof(stt_session_params_t, language));
    const stt_option_t *cp = stt_config_find("control_port");
    assert_int_equal(cp->scope, STT_SCOPE_GLOBAL);
    assert_int_equal(cp->offset, offsetof(stt_config_t, control_port));
    assert_int_equal(cp->size, sizeof(int64_t));
    assert_null(stt_config_find("nope"));
    assert_null(stt_config_find(NULL));

    /* The S rows must cover stt_session_params_t exactly: sorted by offset, each field starts
     * where the previous one ends (up to alignment), and the last one ends the struct. */
    size_t covered = 0, count = 0;
    for (;;) {
        const stt_option_t *next = NULL;
        for (size_t i = 0; i < stt_options_count; i++) {
            const stt_option_t *o = &stt_options[i];
            if (o->scope == STT_SCOPE_SESSION && o->offset >= covered &&
                (!next || o->offset < next->offset))
                next = o;
        }
        if (!next)
            break;
        assert_true(next->offset - covered < 8);
        covered = next->offset + next->size;
        count++;
    }
    assert_true(sizeof(stt_session_params_t) - covered < 8);
    assert_int_equal(count, 15);
}

/* ---- defaults -------------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    fixture_t *f = *state;
    stt_config_t *c = &f->cfg;
    assert_string_equal(c->model, "");
    assert_string_equal(c->rt_model, "");
    assert_string_equal(c->sess.language, "en");
    assert_int_equal(c->input_device_index, 1);
    assert_int_equal(c->control_port, 8011);
    assert_int_equal(c->data_port, 8012);
    assert_string_equal(c->wake_words, "");
    assert_int_equal(c->debug, 0);
    /* The lead may flip this default (the original's -s was dead code); follow the table. */
    assert_int_equal(c->silence_timing, strcmp(stt_config_find("silence_timing")->def, "1") == 0);
    assert_int_equal(c->enable_realtime_transcription, 1);
    assert_int_equal(c->silero_deactivity_detection, 1);
    assert_int_equal(c->batch_size, 16);
    assert_string_equal(c->initial_prompt, STT_DEFAULT_INITIAL_PROMPT);
    assert_string_equal(c->initial_prompt_realtime, "");
    assert_true(c->sess.silero_sensitivity == 0.05);
    assert_int_equal(c->sess.webrtc_sensitivity, 3);
    assert_true(c->sess.min_length_of_recording == 1.1);
    assert_true(c->sess.deactivity_silence_confirmation_duration == 0.16);
    assert_int_equal(c->sess.beam_size, 5);
    assert_int_equal(c->sess.beam_size_realtime, 3);
    assert_true(c->unknown_sentence_detection_pause == 0.7);
    assert_true(c->mid_sentence_detection_pause == 2.0);
    assert_string_equal(c->wakeword_backend, "none");
    assert_int_equal(c->openwakeword_model_paths.count, 0);
    assert_string_equal(c->openwakeword_inference_framework, "tensorflow");
    assert_string_equal(c->device, "cuda");
    assert_int_equal(c->suppress_tokens.count, 1);
    assert_int_equal(c->suppress_tokens.items[0], -1);
    assert_int_equal(c->allowed_latency_limit, 100);
    assert_int_equal(c->monitor_port, 8080);
    assert_string_equal(c->engine, "auto");
    assert_int_equal(c->max_frame_bytes, 1048576);
    assert_string_equal(c->ps_hmm, STT_PS_MODEL_DIR "/en-us");
    assert_string_equal(c->log_format, "text");
    assert_true(c->sess.pre_recording_buffer_duration == 1.0);
    assert_int_equal(c->sess.transcription_start_audio, 1);
    /* -1 resolves to unknown_sentence_detection_pause, as the original passes it. */
    assert_true(c->sess.post_speech_silence_duration == 0.7);

    /* An empty command line keeps every default. */
    const char *argv[] = {"stt-server"};
    assert_int_equal(parse(f, ARGC(argv), argv), 0);
    assert_int_equal(f->cfg.control_port, 8011);
    assert_true(f->cfg.sess.post_speech_silence_duration == 0.7);
    assert_int_equal(f->help + f->md + f->version, 0);
}

static void test_dispose_zeroed_and_twice(void **state)
{
    (void)state;
    stt_config_t c;
    memset(&c, 0, sizeof(c));
    stt_config_dispose(&c);
    stt_config_init(&c);
    stt_config_dispose(&c);
    stt_config_dispose(&c);
    stt_config_dispose(NULL);
}

/* ---- aliases --------------------------------------------------------------------------------- */

static void test_aliases(void **state)
{
    fixture_t *f = *state;
    static const char *const str_cases[][3] = {
        {"-m", "small", "model"},
        {"--model", "small", "model"},
        {"-r", "base", "rt_model"},
        {"--rt-model", "base", "rt_model"},
        {"--realtime_model_type", "base", "rt_model"},
        {"-w", "", "wake_words"},
        {"--wake_words", "", "wake_words"},
        {"-W", "/tmp/x.wav", "write"},
        {"--write", "/tmp/x.wav", "write"},
        {"--root", "/models", "download_root"},
        {"--download_root", "/models", "download_root"},
    };
    for (size_t i = 0; i < sizeof(str_cases) / sizeof(str_cases[0]); i++) {
        const char *argv[] = {"stt-server", str_cases[i][0], str_cases[i][1]};
        assert_int_equal(parse(f, ARGC(argv), argv), 0);
        const stt_option_t *o = stt_config_find(str_cases[i][2]);
        assert_string_equal(*(char **)((char *)&f->cfg + o->offset), str_cases[i][1]);
    }

    static const char *const lang_flags[] = {"-l", "--lang", "--language"};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[] = {"stt-server", lang_flags[i], "de"};
        assert_int_equal(parse(f, ARGC(argv), argv), 0);
        assert_string_equal(f->cfg.sess.language, "de");
    }

    static const struct {
        const char *flag;
        const char *field;
        int64_t v;
    } int_cases[] = {
        {"-i", "input_device_index", 4},
        {"--input-device", "input_device_index", 5},
        {"--input-device-index", "input_device_index", 6},
        {"-c", "control_port", 9001},
        {"--control", "control_port", 9002},
        {"--control_port", "control_port", 9003},
        {"-d", "data_port", 9004},
        {"--data", "data_port", 9005},
        {"--data_port", "data_port", 9006},
        {"-b", "batch_size", 1},
        {"--batch", "batch_size", 2},
        {"--batch_size", "batch_size", 3},
    };
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        char val[32];
        snprintf(val, sizeof(val), "%lld", (long long)int_cases[i].v);
        const char *argv[] = {"stt-server", int_cases[i].flag, val};
        assert_int_equal(parse(f, ARGC(argv), argv), 0);
        const stt_option_t *o = stt_config_find(int_cases[i].field);
        assert_int_equal(*(int64_t *)((char *)&f->cfg + o->offset), int_cases[i].v);
    }

    const char *d[] = {"stt-server", "-D"};
    assert_int_equal(parse(f, ARGC(d), d), 0);
    assert_int_equal(f->cfg.debug, 1);
    const char *s[] = {"stt-server", "-s"};
    assert_int_equal(parse(f, ARGC(s), s), 0);
    assert_int_equal(f->cfg.silence_timing, 1);
    const char *s2[] = {"stt-server", "--no-silence_timing", "--silence_timing"};
    assert_int_equal(parse(f, ARGC(s2), s2), 0);
    assert_int_equal(f->cfg.silence_timing, 1);
}

static void test_value_forms(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server", "-mtiny", "--beam_size=7", "-c=9100", "--lang=", "-Ds"};
    assert_int_equal(parse(f, ARGC(a), a), 0);
    assert_string_equal(f->cfg.model, "tiny");
    assert_int_equal(f->cfg.sess.beam_size, 7);
    assert_int_equal(f->cfg.control_port, 9100);
    assert_string_equal(f->cfg.sess.language, "");
    assert_int_equal(f->cfg.debug, 1);

    /* The last occurrence wins, and values that start with '-' but contain a space or look
     * like negative numbers are values. */
    const char *b[] = {"stt-server", "--model",          "a",       "--model",
                       "-1",         "--initial_prompt", "-a b\\nc"};
    assert_int_equal(parse(f, ARGC(b), b), 0);
    assert_string_equal(f->cfg.model, "-1");
    assert_string_equal(f->cfg.initial_prompt, "-a b\nc");

    const char *c[] = {"stt-server", "--initial_prompt_realtime", "x\\ny\\\\nz"};
    assert_int_equal(parse(f, ARGC(c), c), 0);
    assert_string_equal(f->cfg.initial_prompt_realtime, "x\ny\\\nz");

    /* Whitespace around numbers is accepted as Python's int()/float() accept it. */
    const char *d[] = {"stt-server", "--beam_size", " 9 ", "--silero_sensitivity", "0.5 "};
    assert_int_equal(parse(f, ARGC(d), d), 0);
    assert_int_equal(f->cfg.sess.beam_size, 9);
    assert_true(f->cfg.sess.silero_sensitivity == 0.5);

    const char *e[] = {"stt-server", "--post_speech_silence_duration", "0.3",
                       "--unknown_sentence_detection_pause", "1.5"};
    assert_int_equal(parse(f, ARGC(e), e), 0);
    assert_true(f->cfg.sess.post_speech_silence_duration == 0.3);
    const char *g[] = {"stt-server", "--unknown_sentence_detection_pause", "1.5"};
    assert_int_equal(parse(f, ARGC(g), g), 0);
    assert_true(f->cfg.sess.post_speech_silence_duration == 1.5);
    const char *h[] = {"stt-server", "--post_speech_silence_duration", "-1",
                       "--unknown_sentence_detection_pause", "2.5"};
    assert_int_equal(parse(f, ARGC(h), h), 0);
    assert_true(f->cfg.sess.post_speech_silence_duration == 2.5);
}

/* ---- abbreviations --------------------------------------------------------------------------- */

static void test_prefix_abbreviation(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server", "--beam_size_r", "4",   "--realtime_b", "8",
                       "--mod=x",    "--silero_sen",  "0.3", "--handle",     "--rt",
                       "base"};
    assert_int_equal(parse(f, ARGC(a), a), 0);
    assert_int_equal(f->cfg.sess.beam_size_realtime, 4);
    assert_int_equal(f->cfg.realtime_batch_size, 8);
    assert_string_equal(f->cfg.model, "x");
    assert_true(f->cfg.sess.silero_sensitivity == 0.3);
    assert_int_equal(f->cfg.handle_buffer_overflow, 1);
    assert_string_equal(f->cfg.rt_model, "base");

    /* An exact option string wins over longer ones it is a prefix of. */
    const char *b[] = {"stt-server", "--beam_size", "6", "--debug", "--control", "9000"};
    assert_int_equal(parse(f, ARGC(b), b), 0);
    assert_int_equal(f->cfg.sess.beam_size, 6);
    assert_int_equal(f->cfg.sess.beam_size_realtime, 3);
    assert_int_equal(f->cfg.debug, 1);
    assert_int_equal(f->cfg.debug_websockets, 0);
    assert_int_equal(f->cfg.control_port, 9000);

    const char *c[] = {"stt-server", "--b", "5"};
    assert_parse_error(f, ARGC(c), c,
                       "ambiguous option: --b could match --batch, --batch_size, --beam_size, "
                       "--beam_size_realtime");
    const char *d[] = {"stt-server", "--beam", "5"};
    assert_parse_error(f, ARGC(d), d,
                       "ambiguous option: --beam could match --beam_size, --beam_size_realtime");
    /* argparse reports an ambiguous prefix wherever it is, even after a bad value. */
    const char *e[] = {"stt-server", "--beam_size", "x", "--wake"};
    assert_parse_error(f, ARGC(e), e, "ambiguous option: --wake could match");
}

/* ---- booleans -------------------------------------------------------------------------------- */

static void test_no_booleans(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server",
                       "--no-enable_realtime_transcription",
                       "--no-silero_deactivity_detection",
                       "--no-silence_timing",
                       "--no-transcription_start_audio",
                       "--use_main_model_for_realtime"};
    assert_int_equal(parse(f, ARGC(a), a), 0);
    assert_int_equal(f->cfg.enable_realtime_transcription, 0);
    assert_int_equal(f->cfg.silero_deactivity_detection, 0);
    assert_int_equal(f->cfg.silence_timing, 0);
    assert_int_equal(f->cfg.sess.transcription_start_audio, 0);
    assert_int_equal(f->cfg.use_main_model_for_realtime, 1);

    /* Every boolean has a --no- form. */
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *o = &stt_options[i];
        if (o->type != STT_OPT_BOOL)
            continue;
        char on[96], off[96];
        snprintf(on, sizeof(on), "--%s", o->name);
        snprintf(off, sizeof(off), "--no-%s", o->name);
        const char *x[] = {"stt-server", on};
        assert_int_equal(parse(f, ARGC(x), x), 0);
        char *base = o->scope == STT_SCOPE_SESSION ? (char *)&f->cfg.sess : (char *)&f->cfg;
        assert_int_equal(*(int *)(base + o->offset), 1);
        const char *y[] = {"stt-server", on, off};
        assert_int_equal(parse(f, ARGC(y), y), 0);
        base = o->scope == STT_SCOPE_SESSION ? (char *)&f->cfg.sess : (char *)&f->cfg;
        assert_int_equal(*(int *)(base + o->offset), 0);
    }

    const char *b[] = {"stt-server", "--debug=1"};
    assert_parse_error(f, ARGC(b), b, "argument -D/--debug: ignored explicit argument '1'");
    const char *c[] = {"stt-server", "-Dx"};
    assert_parse_error(f, ARGC(c), c, "argument -D/--debug: ignored explicit argument 'x'");
    const char *d[] = {"stt-server", "--no-d"};
    assert_parse_error(f, ARGC(d), d,
                       "ambiguous option: --no-d could match --no-debug, "
                       "--no-debug_websockets");
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server", "--beam_size", "abc"};
    assert_parse_error(f, ARGC(a), a,
                       "stt-server: error: argument --beam_size: invalid int "
                       "value: 'abc'");
    const char *a2[] = {"stt-server", "-b", "1.5"};
    assert_parse_error(f, ARGC(a2), a2,
                       "argument -b/--batch/--batch_size: invalid int value: "
                       "'1.5'");
    const char *a3[] = {"stt-server", "--beam_size", ""};
    assert_parse_error(f, ARGC(a3), a3, "argument --beam_size: invalid int value: ''");
    const char *a4[] = {"stt-server", "--beam_size", "99999999999999999999"};
    assert_parse_error(f, ARGC(a4), a4, "invalid int value: '99999999999999999999'");

    const char *b[] = {"stt-server", "--silero_sensitivity", "high"};
    assert_parse_error(f, ARGC(b), b,
                       "argument --silero_sensitivity: invalid float value: "
                       "'high'");
    static const char *const bad_floats[] = {"nan", "inf", "1e999", "0x1p3", "1.5.2", "", "1,5"};
    for (size_t i = 0; i < sizeof(bad_floats) / sizeof(bad_floats[0]); i++) {
        const char *x[] = {"stt-server", "--min_length_of_recording", bad_floats[i]};
        assert_parse_error(f, ARGC(x), x, "argument --min_length_of_recording: invalid float");
    }
    /* "-inf" is not a negative number to argparse, so it reads as an (unknown) option. */
    const char *b2[] = {"stt-server", "--min_length_of_recording", "-inf"};
    assert_parse_error(f, ARGC(b2), b2,
                       "argument --min_length_of_recording: expected one "
                       "argument");

    const char *c[] = {"stt-server", "--webrtc_sensitivity", "4"};
    assert_parse_error(f, ARGC(c), c,
                       "argument --webrtc_sensitivity: invalid value: '4' (must "
                       "be between 0 and 3)");
    const char *c2[] = {"stt-server", "-c", "70000"};
    assert_parse_error(f, ARGC(c2), c2, "argument -c/--control/--control_port: invalid value");
    const char *c3[] = {"stt-server", "--silero_sensitivity", "1.01"};
    assert_parse_error(f, ARGC(c3), c3, "(must be between 0 and 1)");
    const char *c4[] = {"stt-server", "--post_speech_silence_duration", "-2"};
    assert_parse_error(f, ARGC(c4), c4, "(must be between -1 and 3600)");

    const char *d[] = {"stt-server", "--bogus"};
    assert_parse_error(f, ARGC(d), d, "stt-server: error: unrecognized arguments: --bogus");
    const char *d2[] = {"stt-server", "--bogus", "x", "-m", "tiny", "-1e5"};
    assert_parse_error(f, ARGC(d2), d2, "unrecognized arguments: --bogus x -1e5");
    const char *d3[] = {"stt-server", "positional"};
    assert_parse_error(f, ARGC(d3), d3, "unrecognized arguments: positional");
    const char *d4[] = {"stt-server", "--", "--model", "x"};
    assert_parse_error(f, ARGC(d4), d4, "unrecognized arguments: -- --model x");

    const char *e[] = {"stt-server", "--beam_size"};
    assert_parse_error(f, ARGC(e), e, "argument --beam_size: expected one argument");
    const char *e2[] = {"stt-server", "-m", "--debug"};
    assert_parse_error(f, ARGC(e2), e2, "argument -m/--model: expected one argument");
    const char *e3[] = {"stt-server", "--model", "-x"};
    assert_parse_error(f, ARGC(e3), e3, "argument -m/--model: expected one argument");

    const char *g[] = {"stt-server", "--device", "gpu"};
    assert_parse_error(f, ARGC(g), g,
                       "argument --device: invalid choice: 'gpu' (choose from "
                       "'cuda', 'cpu')");
    const char *g2[] = {"stt-server", "--engine", "kaldi"};
    assert_parse_error(f, ARGC(g2), g2, "argument --engine: invalid choice: 'kaldi'");
    const char *g3[] = {"stt-server", "--log_format", "xml"};
    assert_parse_error(f, ARGC(g3), g3, "argument --log_format: invalid choice");
    const char *g4[] = {"stt-server", "--wakeword_backend", "snowboy"};
    assert_parse_error(f, ARGC(g4), g4, "argument --wakeword_backend: invalid choice");
    static const char *const backends[] = {"none",          "pvporcupine",  "pvp",
                                           "porcupine",     "oww",          "openwakeword",
                                           "openwakewords", "open_wakeword"};
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const char *x[] = {"stt-server", "--wakeword_backend", backends[i]};
        assert_int_equal(parse(f, ARGC(x), x), 0);
        assert_string_equal(f->cfg.wakeword_backend, backends[i]);
    }
    const char *g5[] = {"stt-server", "--engine", "null", "--log_format",
                        "json",       "--device", "cpu"};
    assert_int_equal(parse(f, ARGC(g5), g5), 0);
    assert_string_equal(f->cfg.engine, "null");

    const char *h[] = {"stt-server", "--lang", "0123456789abcdef"};
    assert_parse_error(f, ARGC(h), h, "argument -l/--lang/--language: value too long");
    const char *h2[] = {"stt-server", "--lang", "0123456789abcde"};
    assert_int_equal(parse(f, ARGC(h2), h2), 0);
    assert_string_equal(f->cfg.sess.language, "0123456789abcde");

    const char *w[] = {"stt-server", "-w", "jarvis"};
    assert_parse_error(f, ARGC(w), w,
                       "argument -w/--wake_words: wake-word detection is not "
                       "implemented");

    /* A NULL or tiny error buffer is fine. */
    const char *z[] = {"stt-server", "--bogus"};
    assert_int_equal(stt_config_parse_argv(&f->cfg, ARGC(z), (char **)z, NULL, 0, NULL, NULL, NULL),
                     STT_EINVAL);
    char tiny[8];
    assert_int_equal(
        stt_config_parse_argv(&f->cfg, ARGC(z), (char **)z, tiny, sizeof(tiny), NULL, NULL, NULL),
        STT_EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

/* ---- lists ----------------------------------------------------------------------------------- */

static void test_lists(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server", "--suppress_tokens", "-1", "-2", "50", "--beam_size", "3"};
    assert_int_equal(parse(f, ARGC(a), a), 0);
    assert_int_equal(f->cfg.suppress_tokens.count, 3);
    assert_int_equal(f->cfg.suppress_tokens.items[0], -1);
    assert_int_equal(f->cfg.suppress_tokens.items[1], -2);
    assert_int_equal(f->cfg.suppress_tokens.items[2], 50);
    assert_int_equal(f->cfg.sess.beam_size, 3);

    const char *b[] = {"stt-server", "--suppress_tokens"};
    assert_int_equal(parse(f, ARGC(b), b), 0);
    assert_int_equal(f->cfg.suppress_tokens.count, 0);

    const char *c[] = {"stt-server", "--suppress_tokens", "1", "abc"};
    assert_parse_error(f, ARGC(c), c, "argument --suppress_tokens: invalid int value: 'abc'");
    const char *c2[] = {"stt-server", "--suppress_tokens", "-1.5"};
    assert_parse_error(f, ARGC(c2), c2, "argument --suppress_tokens: invalid int value: '-1.5'");

    const char *d[] = {"stt-server", "--suppress_tokens=7", "--suppress_tokens", "8", "9"};
    assert_int_equal(parse(f, ARGC(d), d), 0);
    assert_int_equal(f->cfg.suppress_tokens.count, 2);
    assert_int_equal(f->cfg.suppress_tokens.items[0], 8);

    const char *e[] = {"stt-server", "--openwakeword_model_paths", "a.onnx,b.onnx", "c d", "-D"};
    assert_int_equal(parse(f, ARGC(e), e), 0);
    assert_int_equal(f->cfg.openwakeword_model_paths.count, 2);
    assert_string_equal(f->cfg.openwakeword_model_paths.items[0], "a.onnx,b.onnx");
    assert_string_equal(f->cfg.openwakeword_model_paths.items[1], "c d");
    assert_int_equal(f->cfg.debug, 1);
}

/* ---- the RealtimeSTT client's autostart command line (spec section 4.2) ---------------------- */

static void test_autostart_argv(void **state)
{
    fixture_t *f = *state;
    /* clang-format off */
    const char *argv[] = {"stt-server",
                          "--model", "tiny",
                          "--realtime_model_type", "tiny",
                          "--batch", "16",
                          "--realtime_batch_size", "16",
                          "--init_realtime_after_seconds", "0.2",
                          "--debug",
                          "--language", "en",
                          "--silero_sensitivity", "0.4",
                          "--webrtc_sensitivity", "3",
                          "--min_length_of_recording", "0.5",
                          "--min_gap_between_recordings", "0",
                          "--realtime_processing_pause", "0.2",
                          "--early_transcription_on_silence", "0",
                          "--deactivity_silence_confirmation_duration", "0.16",
                          "--beam_size", "5",
                          "--beam_size_realtime", "3",
                          "--wake_words", "",
                          "--wake_words_sensitivity", "0.6",
                          "--wake_word_timeout", "5.0",
                          "--wake_word_activation_delay", "0.0",
                          "--wakeword_backend", "pvporcupine",
                          "--openwakeword_inference_framework", "onnx",
                          "--wake_word_buffer_duration", "0.1",
                          "--control_port", "8011",
                          "--data_port", "8012"};
    /* clang-format on */
    assert_int_equal(parse(f, ARGC(argv), argv), 0);
    stt_config_t *c = &f->cfg;
    assert_string_equal(c->model, "tiny");
    assert_string_equal(c->rt_model, "tiny");
    assert_int_equal(c->batch_size, 16);
    assert_int_equal(c->debug, 1);
    assert_string_equal(c->sess.language, "en");
    assert_true(c->sess.silero_sensitivity == 0.4);
    assert_true(c->sess.min_length_of_recording == 0.5);
    assert_true(c->sess.realtime_processing_pause == 0.2);
    assert_true(c->sess.early_transcription_on_silence == 0.0);
    assert_string_equal(c->wake_words, "");
    assert_true(c->wake_words_sensitivity == 0.6);
    assert_string_equal(c->wakeword_backend, "pvporcupine");
    assert_string_equal(c->openwakeword_inference_framework, "onnx");
    assert_true(c->wake_word_buffer_duration == 0.1);
    assert_int_equal(c->control_port, 8011);
    assert_int_equal(c->data_port, 8012);
    assert_true(c->sess.post_speech_silence_duration == 0.7);

    /* Without --debug and --language (client language ""), plus every conditional addition. */
    /* clang-format off */
    const char *argv2[] = {"stt-server", "--model", "tiny", "--realtime_model_type", "tiny",
                           "--batch", "16", "--realtime_batch_size", "16",
                           "--init_realtime_after_seconds", "0.2", "--silero_sensitivity", "0.4",
                           "--wake_words", "", "--wakeword_backend", "pvporcupine",
                           "--root", "/models",
                           "--initial_prompt_realtime", "a\\nb",
                           "--initial_prompt", "Be brief.\\nThanks",
                           "--silero_use_onnx", "--silero_deactivity_detection",
                           "--use_main_model_for_realtime", "--use_extended_logging",
                           "--openwakeword_model_paths", "x.onnx,y.onnx",
                           "--control_port", "9011", "--data_port", "9012"};
    /* clang-format on */
    assert_int_equal(parse(f, ARGC(argv2), argv2), 0);
    assert_string_equal(c->download_root, "/models");
    assert_string_equal(c->initial_prompt_realtime, "a\nb");
    assert_string_equal(c->initial_prompt, "Be brief.\nThanks");
    assert_int_equal(c->silero_use_onnx, 1);
    assert_int_equal(c->use_extended_logging, 1);
    assert_int_equal(c->openwakeword_model_paths.count, 1);
    assert_int_equal(c->control_port, 9011);
    assert_string_equal(c->sess.language, "en");
}

static void test_help_version_md_flags(void **state)
{
    fixture_t *f = *state;
    const char *a[] = {"stt-server", "-m", "x", "--help", "--bogus"};
    assert_int_equal(parse(f, ARGC(a), a), 0);
    assert_int_equal(f->help, 1);
    const char *b[] = {"stt-server", "-h"};
    assert_int_equal(parse(f, ARGC(b), b), 0);
    assert_int_equal(f->help, 1);
    const char *c[] = {"stt-server", "--dump-config-md"};
    assert_int_equal(parse(f, ARGC(c), c), 0);
    assert_int_equal(f->md, 1);
    assert_int_equal(f->help, 0);
    const char *d[] = {"stt-server", "--version"};
    assert_int_equal(parse(f, ARGC(d), d), 0);
    assert_int_equal(f->version, 1);
    const char *e[] = {"stt-server", "--vers"};
    assert_int_equal(parse(f, ARGC(e), e), 0);
    assert_int_equal(f->version, 1);
    /* argparse checks a flag cluster before running any of it. */
    const char *g[] = {"stt-server", "--help=x"};
    assert_parse_error(f, ARGC(g), g, "argument -h/--help: ignored explicit argument 'x'");
    assert_int_equal(f->help, 0);
    const char *h[] = {"stt-server", "-hDx"};
    assert_parse_error(f, ARGC(h), h, "argument -D/--debug: ignored explicit argument 'x'");
    assert_int_equal(f->help, 0);
    const char *k[] = {"stt-server", "-Dh", "--bogus"};
    assert_int_equal(parse(f, ARGC(k), k), 0);
    assert_int_equal(f->help, 1);
    assert_int_equal(f->cfg.debug, 1);
}

/* ---- --help and markdown --------------------------------------------------------------------- */

/* noinline: GCC 12 otherwise mistakes the memstream buffer for a dangling local. */
__attribute__((noinline)) static char *capture(void (*fn)(FILE *, const char *), const char *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    assert_non_null(mf);
    fn(mf, arg);
    fclose(mf);
    return buf;
}

static void print_help_cb(FILE *f, const char *prog)
{
    stt_config_print_help(f, prog);
}

static void print_md_cb(FILE *f, const char *unused)
{
    (void)unused;
    stt_config_print_markdown(f);
}

/* Checks that every option string of every row (and each boolean's --no- form) appears. */
static void assert_mentions_every_flag(const char *text, bool backticked)
{
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *o = &stt_options[i];
        char want[128];
        const char *s = o->flags;
        while (*s) {
            size_t len = strcspn(s, ",");
            snprintf(want, sizeof(want), backticked ? "`%.*s`" : "%.*s", (int)len, s);
            if (!strstr(text, want))
                fail_msg("output lacks %s", want);
            s += len + (s[len] == ',');
        }
        if (o->type == STT_OPT_BOOL) {
            snprintf(want, sizeof(want), backticked ? "`--no-%s`" : "--no-%s", o->name);
            if (!strstr(text, want))
                fail_msg("output lacks %s", want);
        }
        if (!strstr(text, o->help))
            fail_msg("output lacks help of %s", o->name);
    }
}

static void test_help_output(void **state)
{
    (void)state;
    char *help = capture(print_help_cb, "stt-server");
    assert_non_null(strstr(help, "usage: stt-server"));
    assert_non_null(strstr(help, "-h, --help"));
    assert_non_null(strstr(help, "--dump-config-md"));
    assert_non_null(strstr(help, "--version"));
    assert_non_null(strstr(help, "-c, --control, --control_port CONTROL_PORT"));
    assert_non_null(strstr(help, "[int 1..65535, default: 8011]"));
    assert_non_null(strstr(help, "--suppress_tokens [SUPPRESS_TOKENS ...]"));
    assert_non_null(strstr(help, "{cuda,cpu}"));
    assert_mentions_every_flag(help, false);
    /* One line per option (plus the header lines). */
    size_t lines = 0;
    for (const char *p = help; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, stt_options_count + 3 + 7);
    free(help);
}

static void test_markdown_output(void **state)
{
    (void)state;
    char *md = capture(print_md_cb, NULL);
    assert_non_null(strstr(md, "`stt-server --dump-config-md`"));
    assert_non_null(strstr(md, "include/stt/config.h"));
    assert_non_null(strstr(md, "`--no-flag`"));
    assert_non_null(strstr(md, "exit with status 2"));
    assert_non_null(strstr(md, "| Flags | Type | Default | Range | Scope | Description |"));
    assert_non_null(strstr(md, "| `-l`, `--lang`, `--language` | str | `en` | at most 15 bytes "
                               "| per-session (control) |"));
    assert_non_null(strstr(md, "| `-c`, `--control`, `--control_port` | int | `8011` | "
                               "1..65535 | process |"));
    assert_mentions_every_flag(md, true);
    size_t rows = 0;
    const char *table = strstr(md, "|---|");
    assert_non_null(table);
    for (size_t off = (size_t)(table - md); (table = strstr(md + off, "\n| `")) != NULL;) {
        rows++;
        off = (size_t)(table - md) + 1;
    }
    assert_int_equal(rows, stt_options_count);
    free(md);
}

/* ---- session parameters over JSON ------------------------------------------------------------ */

static int set_json(stt_session_params_t *p, const char *name, const char *json, char *err,
                    size_t errlen)
{
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    int rc = stt_session_param_set_json(p, stt_config_find(name), v, err, errlen);
    cJSON_Delete(v);
    return rc;
}

static void test_session_param_set_get(void **state)
{
    fixture_t *f = *state;
    stt_session_params_t p = f->cfg.sess;
    char err[256];

    assert_int_equal(set_json(&p, "post_speech_silence_duration", "1.25", err, sizeof(err)), 0);
    assert_true(p.post_speech_silence_duration == 1.25);
    assert_int_equal(set_json(&p, "silero_sensitivity", "1", err, sizeof(err)), 0);
    assert_true(p.silero_sensitivity == 1.0);
    assert_int_equal(set_json(&p, "language", "\"\"", err, sizeof(err)), 0);
    assert_string_equal(p.language, "");
    assert_int_equal(set_json(&p, "language", "\"de\"", err, sizeof(err)), 0);
    assert_string_equal(p.language, "de");
    assert_int_equal(set_json(&p, "beam_size", "7", err, sizeof(err)), 0);
    assert_int_equal(p.beam_size, 7);
    assert_int_equal(set_json(&p, "beam_size", "8.0", err, sizeof(err)), 0);
    assert_int_equal(p.beam_size, 8);
    assert_int_equal(set_json(&p, "transcription_start_audio", "false", err, sizeof(err)), 0);
    assert_int_equal(p.transcription_start_audio, 0);

    assert_int_equal(set_json(&p, "post_speech_silence_duration", "\"abc\"", err, sizeof(err)),
                     STT_EINVAL);
    assert_string_equal(err, "value for post_speech_silence_duration must be a number between 0 "
                             "and 3600, got \"abc\"");
    assert_int_equal(set_json(&p, "post_speech_silence_duration", "-1", err, sizeof(err)),
                     STT_ERANGE);
    assert_string_equal(err, "value for post_speech_silence_duration must be a number between 0 "
                             "and 3600, got -1");
    assert_true(p.post_speech_silence_duration == 1.25);
    assert_int_equal(set_json(&p, "silero_sensitivity", "\"0.5\"", err, sizeof(err)), STT_EINVAL);
    assert_int_equal(set_json(&p, "silero_sensitivity", "1.5", err, sizeof(err)), STT_ERANGE);
    assert_string_equal(err, "value for silero_sensitivity must be a number between 0 and 1, got "
                             "1.5");
    assert_int_equal(set_json(&p, "silero_sensitivity", "true", err, sizeof(err)), STT_EINVAL);
    assert_int_equal(set_json(&p, "beam_size", "2.5", err, sizeof(err)), STT_EINVAL);
    assert_string_equal(err, "value for beam_size must be an integer between 1 and 64, got 2.5");
    assert_int_equal(set_json(&p, "beam_size", "65", err, sizeof(err)), STT_ERANGE);
    assert_int_equal(set_json(&p, "beam_size", "1e300", err, sizeof(err)), STT_EINVAL);
    assert_int_equal(p.beam_size, 8);
    assert_int_equal(set_json(&p, "transcription_start_audio", "1", err, sizeof(err)), STT_EINVAL);
    assert_string_equal(err, "value for transcription_start_audio must be true or false, got 1");
    assert_int_equal(set_json(&p, "language", "5", err, sizeof(err)), STT_EINVAL);
    assert_string_equal(err, "value for language must be a string, got 5");
    assert_int_equal(set_json(&p, "language", "null", err, sizeof(err)), STT_EINVAL);
    assert_int_equal(set_json(&p, "language", "\"0123456789abcdef\"", err, sizeof(err)),
                     STT_ERANGE);
    assert_string_equal(p.language, "de");
    assert_int_equal(set_json(&p, "language", "[\"a\"]", err, sizeof(err)), STT_EINVAL);
    /* A long value is cut in the message. */
    char big[400];
    memset(big, 'x', sizeof(big));
    big[0] = '"';
    big[sizeof(big) - 2] = '"';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(set_json(&p, "language", big, err, sizeof(err)), STT_ERANGE);
    assert_non_null(strstr(err, "xxx..."));
    assert_true(strlen(err) < 200);

    /* Process-wide options are not session parameters. */
    cJSON *n = cJSON_CreateNumber(9000);
    assert_int_equal(
        stt_session_param_set_json(&p, stt_config_find("control_port"), n, err, sizeof(err)),
        STT_EINVAL);
    assert_non_null(strstr(err, "control_port"));
    assert_int_equal(stt_session_param_set_json(&p, NULL, n, err, sizeof(err)), STT_EINVAL);
    assert_null(stt_session_param_get_json(&p, stt_config_find("control_port")));
    cJSON_Delete(n);

    cJSON *v = stt_session_param_get_json(&p, stt_config_find("post_speech_silence_duration"));
    assert_true(cJSON_IsNumber(v));
    assert_true(v->valuedouble == 1.25);
    cJSON_Delete(v);
    v = stt_session_param_get_json(&p, stt_config_find("language"));
    assert_true(cJSON_IsString(v));
    assert_string_equal(v->valuestring, "de");
    cJSON_Delete(v);
    v = stt_session_param_get_json(&p, stt_config_find("beam_size"));
    assert_true(cJSON_IsNumber(v));
    assert_int_equal(v->valueint, 8);
    cJSON_Delete(v);
    v = stt_session_param_get_json(&p, stt_config_find("transcription_start_audio"));
    assert_true(cJSON_IsFalse(v));
    cJSON_Delete(v);

    /* Every session option round-trips its own value. */
    for (size_t i = 0; i < stt_options_count; i++) {
        const stt_option_t *o = &stt_options[i];
        if (o->scope != STT_SCOPE_SESSION)
            continue;
        v = stt_session_param_get_json(&f->cfg.sess, o);
        assert_non_null(v);
        assert_int_equal(stt_session_param_set_json(&p, o, v, err, sizeof(err)), 0);
        cJSON_Delete(v);
    }
    assert_int_equal(memcmp(&p, &f->cfg.sess, sizeof(p)), 0);
}

/* ---- Python str() ---------------------------------------------------------------------------- */

static void assert_py(const char *json, const char *expected)
{
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    char buf[128];
    stt_config_python_str(v, buf, sizeof(buf));
    cJSON_Delete(v);
    if (strcmp(buf, expected) != 0)
        fail_msg("str(%s): got '%s', expected '%s'", json, buf, expected);
}

static void test_python_str(void **state)
{
    (void)state;
    assert_py("true", "True");
    assert_py("false", "False");
    assert_py("null", "None");
    assert_py("0", "0");
    assert_py("5", "5");
    assert_py("-3", "-3");
    assert_py("1.0", "1"); /* cJSON cannot tell 1.0 from 1 */
    assert_py("0.5", "0.5");
    assert_py("1.3", "1.3");
    assert_py("0.1", "0.1");
    assert_py("0.16", "0.16");
    assert_py("-2.75", "-2.75");
    assert_py("0.0001", "0.0001");
    assert_py("0.00001", "1e-05");
    assert_py("1.5e-7", "1.5e-07");
    assert_py("123456.789", "123456.789");
    assert_py("1e15", "1000000000000000.0");
    assert_py("1.5e15", "1500000000000000.0");
    assert_py("1e16", "1e+16");
    assert_py("1.2345e20", "1.2345e+20");
    assert_py("0.30000000000000004", "0.30000000000000004");
    assert_py("\"en\"", "en");
    assert_py("\"\"", "");
    assert_py("[1, \"a\", true, null, 0.5]", "[1, 'a', True, None, 0.5]");
    assert_py("{\"k\": \"it's\"}", "{'k': \"it's\"}");
    assert_py("[\"a\\nb\"]", "['a\\nb']");

    char buf[4];
    cJSON *v = cJSON_CreateString("truncated");
    stt_config_python_str(v, buf, sizeof(buf));
    assert_string_equal(buf, "tru");
    stt_config_python_str(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "Non");
    cJSON_Delete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test(test_dispose_zeroed_and_twice),
        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_abbreviation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autostart_argv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_version_md_flags, setup, teardown),
        cmocka_unit_test(test_help_output),
        cmocka_unit_test(test_markdown_output),
        cmocka_unit_test_setup_teardown(test_session_param_set_get, setup, teardown),
        cmocka_unit_test(test_python_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

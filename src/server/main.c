/* stt-server entry point: parse the command line, pick the engine, run the server.
 * Threads: the main thread becomes the network loop thread (server.c). */
#include "loop.h"

#include "stt/config.h"
#include "stt/error.h"
#include "stt/log.h"
#include "stt/silero.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    stt_config_t cfg;
    stt_config_init(&cfg);
    char err[3072] = "";
    int want_help = 0, want_md = 0, want_version = 0;
    if (stt_config_parse_argv(&cfg, argc, argv, err, sizeof(err), &want_help, &want_md,
                              &want_version) != 0) {
        fprintf(stderr, "usage: stt-server [options] (see --help)\n%s\n", err);
        stt_config_dispose(&cfg);
        return 2;
    }
    if (want_help || want_md || want_version) {
        if (want_help)
            stt_config_print_help(stdout, "stt-server");
        else if (want_md)
            stt_config_print_markdown(stdout);
        else
            printf("stt-server %s\n", STT_VERSION);
        stt_config_dispose(&cfg);
        return 0;
    }
    stt_log_setup(cfg.debug ? STT_LOG_DEBUG : STT_LOG_INFO, strcmp(cfg.log_format, "json") == 0);
    const char *engine_name = strcmp(cfg.engine, "auto") == 0 ? stt_engine_auto_name(&cfg)
                                                              : cfg.engine;
    const stt_engine_vtable_t *engine = stt_engine_find(engine_name);
    if (!engine) {
        if (strcmp(engine_name, "whisper") == 0)
            fprintf(stderr, "stt-server: error: this build has no whisper engine; run "
                            "scripts/setup.sh (it builds whisper.cpp) and rebuild\n");
        else
            fprintf(stderr, "stt-server: error: argument --engine: unknown engine '%s'\n",
                    engine_name);
        stt_config_dispose(&cfg);
        return 2;
    }
    if (engine->check && engine->check(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "stt-server: error: %s\n", err);
        stt_config_dispose(&cfg);
        return 2;
    }
    if (strcmp(engine->name, "pocketsphinx") == 0 && cfg.model && cfg.model[0])
        STT_INFO(0, "config", "--model %s is a Whisper model; the pocketsphinx engine ignores it",
                 cfg.model);
    int workers = (int)cfg.workers;
    if (workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (int)n : 1;
        cfg.workers = workers; /* engines size their pools from it */
    }
    /* The Silero model is loaded here, once, so that a missing or broken file is one line and
     * exit status 2 before any port opens; every stream then borrows it read-only. --vad auto
     * (the default) takes Silero where the engine bounds a machine to tens of calls (whisper:
     * Silero's cost is a few percent of a core there, its gain in noisy calls is real) and the
     * energy detector where the loop must carry thousands (docs/vad.md, "Default"); auto
     * without a Silero model file falls back to energy with a warning instead of refusing. */
    stt_silero_model_t *vad_model = NULL;
    int want_silero = strcmp(cfg.vad, "silero") == 0 ||
                      (strcmp(cfg.vad, "auto") == 0 && strcmp(engine->name, "whisper") == 0);
    if (want_silero) {
        const char *path = cfg.silero_model && cfg.silero_model[0] ? cfg.silero_model
                                                                   : STT_SILERO_MODEL_DEFAULT;
        if (stt_silero_model_load(path, &vad_model, err, sizeof(err)) != 0) {
            if (strcmp(cfg.vad, "silero") == 0) {
                fprintf(stderr, "stt-server: error: --vad silero: %s\n", err);
                stt_config_dispose(&cfg);
                return 2;
            }
            STT_WARN(0, "config", "--vad auto: no Silero model (%s); using the energy VAD", err);
        } else {
            STT_INFO(0, "config", "VAD: Silero (%s, %zu KiB shared)%s", path,
                     stt_silero_model_bytes(vad_model) / 1024,
                     strcmp(cfg.vad, "auto") == 0 ? ", --vad auto with the whisper engine" : "");
        }
    }
    int rc = stt_server_run(&cfg, engine, workers, vad_model);
    stt_silero_model_destroy(vad_model);
    stt_config_dispose(&cfg);
    return rc;
}

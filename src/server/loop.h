/* The network loop (loop.c). Main thread. */
#ifndef STT_SERVER_LOOP_H
#define STT_SERVER_LOOP_H

#include "stt/config.h"
#include "stt/engine.h"
#include "stt/silero.h"

/* Runs the server until SIGTERM/SIGINT drained it; returns the process exit code. vad_model:
 * the Silero model for --vad silero (borrowed; outlives the call), or NULL. */
int stt_server_run(stt_config_t *cfg, const stt_engine_vtable_t *engine, int workers,
                   const stt_silero_model_t *vad_model);

#endif /* STT_SERVER_LOOP_H */

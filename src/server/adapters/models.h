/* The model names the standard APIs accept (OpenAI `model`, Deepgram `model`) and list
 * (GET /v1/models): the one loaded model under every name a client may use for it. Loop
 * thread; reads the configuration and the recognizer's engine only.
 *
 * Names, in listing order: the loaded model's own name (the --model value's last path
 * component, "tiny.en" or "faster-whisper-tiny.en"; for pocketsphinx "pocketsphinx-en-us"),
 * the engine's name ("whisper", "pocketsphinx", "null"), "whisper-1" when the engine is whisper
 * (OpenAI clients' default), then each --served_model_names name. */
#ifndef STT_SERVER_ADAPTERS_MODELS_H
#define STT_SERVER_ADAPTERS_MODELS_H

#include <stddef.h>

#include "../adapter.h"

#define STT_MODELS_MAX 16
#define STT_MODEL_NAME_MAX 96

typedef struct {
    char names[STT_MODELS_MAX][STT_MODEL_NAME_MAX];
    size_t n;
    const char *engine;   /* "whisper", "pocketsphinx", "null" */
    int multilingual;     /* translations possible (whisper, a model without ".en") */
} stt_models_t;

/* Fills *m with the accepted names (duplicates once). */
void stt_models_list(const stt_adapter_env_t *env, stt_models_t *m);

/* 1 when `name` is one of them (exact match, case-sensitive as the APIs are), or when `name`
 * is NULL or "" (the API's default model). */
int stt_models_known(const stt_models_t *m, const char *name);

/* "tiny.en, whisper, whisper-1": the names joined for an error message. */
void stt_models_join(const stt_models_t *m, char *buf, size_t cap);

#endif /* STT_SERVER_ADAPTERS_MODELS_H */

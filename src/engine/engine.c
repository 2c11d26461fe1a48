/* Engine registry and shared result helpers. Runs on any thread; holds no state. */
#include "stt/engine.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void stt_result_dispose(stt_result_t *r)
{
    if (!r)
        return;
    free(r->text);
    r->text = NULL;
    cJSON_Delete(r->segments);
    r->segments = NULL;
}

static _Thread_local const volatile int *tl_cancel;

void stt_engine_set_cancel_flag(const volatile int *flag)
{
    tl_cancel = flag;
}

int stt_engine_cancelled(void)
{
    return tl_cancel && __atomic_load_n(tl_cancel, __ATOMIC_RELAXED);
}

int stt_engine_in_job(void)
{
    return tl_cancel != NULL;
}

const char *stt_engine_auto_name(const stt_config_t *cfg)
{
    if ((cfg->model && cfg->model[0]) || (cfg->rt_model && cfg->rt_model[0]))
        return "whisper";
    return "pocketsphinx";
}

const stt_engine_vtable_t *stt_engine_find(const char *name)
{
    static const stt_engine_vtable_t *const all[] = {
        &stt_engine_pocketsphinx, &stt_engine_null, &stt_engine_fault,
#ifdef STT_HAVE_WHISPER
        &stt_engine_whisper,
#endif
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* Engine registry and shared result helpers. Runs on any thread; holds no state. */
#include "stt/engine.h"

#include <stdlib.h>
#include <string.h>

void stt_result_dispose(stt_result_t *r)
{
    if (!r)
        return;
    free(r->text);
    r->text = NULL;
}

const stt_engine_vtable_t *stt_engine_find(const char *name)
{
    static const stt_engine_vtable_t *const all[] = {&stt_engine_pocketsphinx, &stt_engine_null};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

/* Model names of the standard APIs (models.h). Loop thread. */
#include "models.h"

#include "core/recognizer.h"

#include <stdio.h>
#include <string.h>

static void add(stt_models_t *m, const char *name, size_t len)
{
    while (len > 0 && (*name == ' ')) {
        name++;
        len--;
    }
    while (len > 0 && name[len - 1] == ' ')
        len--;
    if (len == 0 || len >= STT_MODEL_NAME_MAX || m->n == STT_MODELS_MAX)
        return;
    for (size_t i = 0; i < m->n; i++)
        if (strlen(m->names[i]) == len && memcmp(m->names[i], name, len) == 0)
            return;
    memcpy(m->names[m->n], name, len);
    m->names[m->n][len] = '\0';
    m->n++;
}

/* The last non-empty path component of `path` ("/x/faster-whisper-tiny.en/" ->
 * "faster-whisper-tiny.en"). */
static void base_name(const char *path, const char **out, size_t *len)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    *out = path + b;
    *len = n - b;
}

void stt_models_list(const stt_adapter_env_t *env, stt_models_t *m)
{
    memset(m, 0, sizeof(*m));
    const stt_config_t *cfg = env->cfg;
    m->engine = env->rec && env->rec->engine ? env->rec->engine->name : "null";
    int whisper = strcmp(m->engine, "whisper") == 0;
    const char *model = cfg->model && cfg->model[0] ? cfg->model : NULL;
    if (whisper && !model)
        model = cfg->rt_model && cfg->rt_model[0] ? cfg->rt_model : "tiny";
    if (model) {
        const char *b;
        size_t n;
        base_name(model, &b, &n);
        add(m, b, n);
        m->multilingual = whisper && !(n > 3 && memcmp(b + n - 3, ".en", 3) == 0);
    } else if (strcmp(m->engine, "pocketsphinx") == 0) {
        add(m, "pocketsphinx-en-us", strlen("pocketsphinx-en-us"));
    }
    add(m, m->engine, strlen(m->engine));
    if (whisper)
        add(m, "whisper-1", strlen("whisper-1"));
    const char *a = cfg->served_model_names ? cfg->served_model_names : "";
    while (*a) {
        const char *e = strchr(a, ',');
        size_t n = e ? (size_t)(e - a) : strlen(a);
        add(m, a, n);
        a += n;
        if (*a == ',')
            a++;
    }
}

int stt_models_known(const stt_models_t *m, const char *name)
{
    if (!name || !name[0])
        return 1;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->names[i], name) == 0)
            return 1;
    return 0;
}

void stt_models_join(const stt_models_t *m, char *buf, size_t cap)
{
    size_t off = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < m->n && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", m->names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

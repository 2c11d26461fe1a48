/* whisper.cpp engine: finals from the main Whisper model, partials from the realtime model.
 *
 * Threads: load/unload/check on the main or loader thread; utt_* on engine workers. Each model
 * file is loaded once into a whisper_context, shared read-only by every worker. The mutable
 * decoding state (KV caches, mel, logits: a whisper_state) is per worker thread, made on the
 * worker's first job and kept in a thread-local slot; the model keeps a list of them and frees
 * them at unload, after the pool has joined its workers. A session never owns a state: memory
 * grows by one state per worker and model, not per call.
 *
 * Whisper is not incremental: an utterance keeps its audio (float, 16 kHz) and the final decodes
 * all of it with the main model. A partial decodes at most the newest --realtime_window seconds
 * with the realtime model (its encoder shortened to that audio with audio_ctx); the text of
 * audio that left the window is kept from the pass that last saw it, so a partial costs the same
 * late in a long utterance as early (bench/whisper.py measures both ways).
 *
 * Language detection (--language ""): whisper_full detects with an extra encoder pass and one
 * decoder step before it decodes. A final detects on all of its audio (and reports the
 * language). Partials detect on their first pass and again each time the window has doubled
 * since the last detection, and otherwise decode in the language found, so an utterance's
 * previews do not flip between languages and a partial costs about what it costs with a fixed
 * language (bench/whisper.py). scripts/whisper-patches/0001 makes the detection encode the
 * partial's own audio_ctx, not the one the worker's state used last.
 *
 * Words (stt_result_t.words) come with finals only: the final decodes the utterance's audio from
 * its first sample with token timestamps, so whisper's times are already the utterance times
 * engine.h defines; BPE tokens are merged into words (segment_words), a punctuation-only token
 * joins the word before it, and the final's confidence is its words' mean probability (whisper
 * has no score of the whole text that reads as one). Partials have none: their
 * text joins passes over different windows, and their token times are not computed.
 *
 * Every whisper call polls an abort callback: a cancelled job (stt_engine_cancelled: its session
 * went away) or unload stops it between two graph computations. */
#include "stt/clock.h"
#include "stt/ct2.h"
#include "stt/engine.h"
#include "stt/error.h"
#include "stt/log.h"
#include "words.h"

#ifdef STT_HAVE_WHISPER

#include <cjson/cJSON.h>
#include <whisper.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RATE 16000
#define SAMPLES_PER_CTX 320   /* one encoder position: 2 mel frames of 10 ms */
#define MAX_AUDIO_CTX 1500    /* 30 s */
#define PROMPT_TAIL_CHARS 200 /* committed text handed to the realtime pass as its prompt */
#define PARTIAL_TOKENS_BASE 8
#define PARTIAL_TOKENS_PER_S 6
#define CROSS_PAD 256         /* whisper.cpp pads the cross-attention to this many positions */

typedef struct wstate {
    struct wstate *next;
    /* Finals decode in main, partials in rt, also when the realtime model is the main one (then
     * rt is made on the worker's first partial): a partial's short encode leaves stale
     * cross-attention positions behind (partial()) that a final in the same state would read. */
    struct whisper_state *main, *rt;
} wstate_t;

struct stt_model {
    struct whisper_context *main, *rt; /* rt == main when shared */
    int n_threads;
    double rt_window_s;
    double final_min_window_s; /* 0: finals encode whisper's full 30 s window */
    int fallback;
    int word_timestamps;
    char *prompt, *prompt_rt;
    int suppress_nst;
    int *suppress_ids;
    size_t n_suppress;
    uint64_t gen; /* tells a worker's thread-local slot from one of an unloaded model */
    atomic_int closing;
    pthread_mutex_t mu;
    wstate_t *states;
    int n_states;
};

struct stt_utt {
    stt_model_t *m;
    float *pcm;
    size_t n, cap;
    char language[STT_LANGUAGE_MAX]; /* as asked; "" = detect */
    char detected[STT_LANGUAGE_MAX];  /* partials, language "": what the last detection found */
    size_t detected_len;              /* the window length (samples) that detection saw */
    int beam, beam_rt;
    size_t win_start;  /* first sample the realtime pass still decodes */
    size_t win_end;    /* end of the audio the last pass decoded */
    char *window_text; /* that pass's text */
    char *committed;   /* partial text of the audio before win_start */
    char *hints;       /* the call's vocabulary hints (stt_utt_options_t.prompt), "" if none */
    int translate;     /* finals translated to English (stt_utt_options_t.translate) */
};

static atomic_uint_fast64_t g_gen;
static _Thread_local struct {
    uint64_t gen;
    wstate_t *ws;
} tls;

/* ---- model names and files ---- */

static const char *const known_models[] = {
    "tiny",   "tiny.en",  "base",     "base.en",  "small",    "small.en",       "medium",
    "medium.en", "large-v1", "large-v2", "large-v3", "large-v3-turbo", NULL};

static int is_known_model(const char *name)
{
    for (int i = 0; known_models[i]; i++)
        if (strcmp(known_models[i], name) == 0)
            return 1;
    return 0;
}

/* The file suffix for --compute_type: the float types use the published f16 file; the integer
 * types the quantised variants (whisper-quantize makes them). NULL if unknown. */
static const char *compute_suffix(const char *ct)
{
    static const struct {
        const char *type, *suffix;
    } map[] = {{"default", ""},       {"auto", ""},          {"float16", ""},
               {"float32", ""},       {"f16", ""},           {"f32", ""},
               {"bfloat16", ""},      {"int8", "-q8_0"},     {"int8_float16", "-q8_0"},
               {"int8_float32", "-q8_0"}, {"int8_bfloat16", "-q8_0"}, {"q8_0", "-q8_0"},
               {"q5_0", "-q5_0"},     {"q5_1", "-q5_1"},     {"q4_0", "-q4_0"},
               {"q4_1", "-q4_1"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].type, ct) == 0)
            return map[i].suffix;
    return NULL;
}

/* The directory model names resolve in: --download_root, $STT_MODEL_DIR,
 * $XDG_CACHE_HOME/stt-server/models, ~/.cache/stt-server/models (tools/download-model and
 * tools/gen-test-model use the same rule). */
static void model_dir(const stt_config_t *cfg, char *out, size_t cap)
{
    const char *env = getenv("STT_MODEL_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (cfg->download_root && cfg->download_root[0])
        snprintf(out, cap, "%s", cfg->download_root);
    else if (env && env[0])
        snprintf(out, cap, "%s", env);
    else if (xdg && xdg[0])
        snprintf(out, cap, "%s/stt-server/models", xdg);
    else
        snprintf(out, cap, "%s/.cache/stt-server/models", home && home[0] ? home : ".");
}

/* The Hugging Face hub caches faster-whisper downloads into, most specific first:
 * --download_root (faster-whisper's download_root is the hub cache it downloads into),
 * $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub. */
static int hf_roots(const stt_config_t *cfg, char roots[5][1024])
{
    const char *hub = getenv("HF_HUB_CACHE"), *hf = getenv("HF_HOME");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = 0;
    if (cfg->download_root && cfg->download_root[0])
        snprintf(roots[n++], 1024, "%s", cfg->download_root);
    if (hub && hub[0])
        snprintf(roots[n++], 1024, "%s", hub);
    if (hf && hf[0])
        snprintf(roots[n++], 1024, "%s/hub", hf);
    if (xdg && xdg[0])
        snprintf(roots[n++], 1024, "%s/huggingface/hub", xdg);
    snprintf(roots[n++], 1024, "%s/.cache/huggingface/hub", home && home[0] ? home : ".");
    return n;
}

/* A faster-whisper directory: its ggml conversion in the model directory (converted on first
 * use, reused after; src/engine/ct2_cache.c). Returns 0 or STT_EINVAL (err says why). */
static int from_ct2_dir(const stt_config_t *cfg, const char *dir, char *path, size_t cap,
                        char *err, size_t errlen)
{
    char cache[1024];
    model_dir(cfg, cache, sizeof(cache));
    int converted = 0;
    double t0 = stt_now_s();
    int rc = stt_ct2_cached_ggml(dir, cache, path, cap, &converted, err, errlen);
    if (rc != 0)
        return STT_EINVAL;
    if (converted)
        STT_INFO(0, "whisper_convert", "converted the faster-whisper model %s into %s in %.2f s",
                 dir, path, stt_now_s() - t0);
    return 0;
}

/* A faster-whisper model by name (a size or a repository id) in a Hugging Face hub cache.
 * Returns 0 (path set), STT_ENOENT (not there) or STT_EINVAL (found, but not convertible). */
static int from_hf_cache(const stt_config_t *cfg, const char *name, char *path, size_t cap,
                         char *err, size_t errlen)
{
    char roots[5][1024], dir[4096];
    const char *r[5];
    int n = hf_roots(cfg, roots);
    for (int i = 0; i < n; i++)
        r[i] = roots[i];
    if (stt_ct2_hf_lookup(name, r, n, dir, sizeof(dir)) != 0)
        return STT_ENOENT;
    return from_ct2_dir(cfg, dir, path, cap, err, errlen);
}

/* Resolves a --model/--rt-model value to a ggml file path: a ggml file; a faster-whisper
 * (CTranslate2) directory; a size whose ggml file is in the model directory; a size or a
 * repository id ("Systran/faster-whisper-small") in a Hugging Face hub cache. A faster-whisper
 * model is converted into the model directory once (docs/whisper.md). Returns 0, STT_EINVAL
 * (unknown name or compute type, a model that cannot be converted; message in err) or
 * STT_ENOENT (file missing; *download set when a download would fetch it). */
static int resolve_model(const stt_config_t *cfg, const char *name, char *path, size_t cap,
                         int *download, char *err, size_t errlen)
{
    *download = 0;
    struct stat st;
    if (stat(name, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!stt_ct2_is_model_dir(name)) {
            snprintf(err, errlen, "model %s is a directory without model.bin (a faster-whisper "
                     "model directory has model.bin, config.json and a tokenizer)", name);
            return STT_EINVAL;
        }
        return from_ct2_dir(cfg, name, path, cap, err, errlen);
    }
    if (strchr(name, '/') || strstr(name, ".bin")) {
        int rc = stat(name, &st) != 0 ? from_hf_cache(cfg, name, path, cap, err, errlen)
                                      : STT_ENOENT;
        if (rc != STT_ENOENT)
            return rc;
        snprintf(path, cap, "%s", name);
        if (stat(path, &st) != 0) {
            snprintf(err, errlen, "model file %s: %s", path, strerror(errno));
            return STT_ENOENT;
        }
        return 0;
    }
    if (!is_known_model(name)) {
        int rc = stt_ct2_repo_for_size(name) ? from_hf_cache(cfg, name, path, cap, err, errlen)
                                             : STT_ENOENT;
        if (rc != STT_ENOENT)
            return rc;
        snprintf(err, errlen,
                 "unknown model '%s' (tiny, tiny.en, base, base.en, small, small.en, medium, "
                 "medium.en, large-v1, large-v2, large-v3, large-v3-turbo, a ggml file, a "
                 "faster-whisper directory, or a faster-whisper name in the Hugging Face cache)",
                 name);
        return STT_EINVAL;
    }
    const char *suffix = compute_suffix(cfg->compute_type);
    if (!suffix) {
        snprintf(err, errlen,
                 "unknown --compute_type '%s' (default, float16, float32, int8, q8_0, q5_0, "
                 "q5_1, q4_0, q4_1)",
                 cfg->compute_type);
        return STT_EINVAL;
    }
    char dir[1024];
    model_dir(cfg, dir, sizeof(dir));
    snprintf(path, cap, "%s/ggml-%s%s.bin", dir, name, suffix);
    if (stat(path, &st) == 0)
        return 0;
    int rc = from_hf_cache(cfg, name, path, cap, err, errlen);
    if (rc != STT_ENOENT)
        return rc;
    snprintf(path, cap, "%s/ggml-%s%s.bin", dir, name, suffix);
    *download = 1;
    return STT_ENOENT;
}

static const char *rt_model_name(const stt_config_t *cfg)
{
    if (cfg->use_main_model_for_realtime)
        return cfg->model;
    return cfg->rt_model && cfg->rt_model[0] ? cfg->rt_model : "tiny";
}

/* Resolves --model and the realtime model to files (main_path, rt_path: cap bytes each).
 * Every missing file and the command that fetches them go into one line in err. */
static int resolve_models(const stt_config_t *cfg, char *main_path, char *rt_path, size_t cap,
                          char *err, size_t errlen)
{
    if (!cfg->model || !cfg->model[0]) {
        snprintf(err, errlen, "the whisper engine needs --model (a Whisper size or a ggml file)");
        return STT_EINVAL;
    }
    const char *names[2] = {cfg->model, rt_model_name(cfg)};
    char *paths[2] = {main_path, rt_path};
    char missing[2600] = "", fetch[256] = "", one[512];
    for (int i = 0; i < 2; i++) {
        int dl = 0;
        int rc = resolve_model(cfg, names[i], paths[i], cap, &dl, one, sizeof(one));
        if (rc == STT_EINVAL || (rc != 0 && !dl)) {
            snprintf(err, errlen, "%s", one);
            return rc;
        }
        if (rc != 0 && (i == 0 || strcmp(paths[0], paths[1]) != 0)) {
            size_t l = strlen(missing), f = strlen(fetch);
            snprintf(missing + l, sizeof(missing) - l, "%s%s", l ? " and " : "", paths[i]);
            snprintf(fetch + f, sizeof(fetch) - f, " %s%s", names[i],
                     compute_suffix(cfg->compute_type));
        }
    }
    if (missing[0]) {
        char dir[1024];
        model_dir(cfg, dir, sizeof(dir));
        snprintf(err, errlen, "model file %s not found; download it with: tools/download-model "
                 "--root %s%s",
                 missing, dir, fetch);
        return STT_ENOENT;
    }
    return 0;
}

/* Checks that both model files exist before the server starts. */
static int wh_check(const stt_config_t *cfg, char *err, size_t errlen)
{
    char main_path[1200], rt_path[1200];
    return resolve_models(cfg, main_path, rt_path, sizeof(main_path), err, errlen);
}

/* ---- loading ---- */

static void log_from_whisper(enum ggml_log_level level, const char *text, void *data)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    if (n == 0)
        return;
    if (level >= GGML_LOG_LEVEL_WARN)
        STT_WARN(0, "whisper", "%.*s", (int)n, text);
    else
        STT_DEBUG(0, "whisper", "%.*s", (int)n, text);
}

static struct whisper_context *load_one(const stt_config_t *cfg, const char *path)
{
    struct whisper_context_params cp = whisper_context_default_params();
    cp.use_gpu = strcmp(cfg->device, "cuda") == 0;
    cp.gpu_device = (int)cfg->gpu_device_index;
    return whisper_init_from_file_with_params_no_state(path, cp);
}

static void wh_unload(stt_model_t *m);

static int wh_load(const stt_config_t *cfg, stt_model_t **out, char *err, size_t errlen)
{
    whisper_log_set(log_from_whisper, NULL);
    char main_path[1200], rt_path[1200];
    int rc = resolve_models(cfg, main_path, rt_path, sizeof(main_path), err, errlen);
    if (rc != 0)
        return rc;

    stt_model_t *m = stt_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
    m->gen = atomic_fetch_add(&g_gen, 1) + 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cfg->workers > 0 ? (int)cfg->workers : 1;
    m->n_threads = cfg->whisper_threads > 0 ? (int)cfg->whisper_threads
                                            : (int)(cores > workers ? cores / workers : 1);
    m->rt_window_s = cfg->realtime_window;
    m->final_min_window_s = cfg->final_min_window;
    m->fallback = cfg->whisper_fallback;
    m->word_timestamps = cfg->word_timestamps;
    /* (the option parser has already turned a literal "\n" into a newline) */
    m->prompt = stt_strdup(cfg->initial_prompt ? cfg->initial_prompt : "");
    m->prompt_rt = stt_strdup(cfg->initial_prompt_realtime ? cfg->initial_prompt_realtime : "");
    for (size_t i = 0; i < cfg->suppress_tokens.count; i++) {
        int64_t t = cfg->suppress_tokens.items[i];
        if (t == -1) {
            m->suppress_nst = 1;
        } else if (t >= 0) {
            m->suppress_ids = realloc(m->suppress_ids, (m->n_suppress + 1) * sizeof(int));
            if (!m->suppress_ids)
                stt_fatal(__FILE__, __LINE__, "out of memory");
            m->suppress_ids[m->n_suppress++] = (int)t;
        }
    }
    if (strcmp(cfg->device, "cuda") == 0 && !STT_WHISPER_CUDA)
        STT_WARN(0, "whisper_device",
                 "--device cuda, but this build has no CUDA backend (see docs/whisper.md): "
                 "running on the CPU");
    m->main = load_one(cfg, main_path);
    if (!m->main) {
        snprintf(err, errlen, "whisper.cpp could not load %s (not a ggml Whisper file?)",
                 main_path);
        wh_unload(m);
        return STT_EENGINE;
    }
    if (strcmp(main_path, rt_path) == 0) {
        m->rt = m->main;
    } else if (!(m->rt = load_one(cfg, rt_path))) {
        snprintf(err, errlen, "whisper.cpp could not load %s (not a ggml Whisper file?)",
                 rt_path);
        wh_unload(m);
        return STT_EENGINE;
    }
    STT_INFO(0, "whisper_loaded", "main %s, realtime %s, %d threads per job, window %.1f s",
             main_path, m->rt == m->main ? "(the main model)" : rt_path, m->n_threads,
             m->rt_window_s);
    *out = m;
    return 0;
}

static void wh_unload(stt_model_t *m)
{
    if (!m)
        return;
    atomic_store(&m->closing, 1);
    wstate_t *ws = m->states;
    while (ws) {
        wstate_t *next = ws->next;
        if (ws->main)
            whisper_free_state(ws->main);
        if (ws->rt)
            whisper_free_state(ws->rt);
        free(ws);
        ws = next;
    }
    if (m->rt && m->rt != m->main)
        whisper_free(m->rt);
    if (m->main)
        whisper_free(m->main);
    free(m->prompt);
    free(m->prompt_rt);
    free(m->suppress_ids);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* This worker's decoding states, made on its first job. */
static wstate_t *worker_states(stt_model_t *m)
{
    if (tls.gen == m->gen && tls.ws)
        return tls.ws;
    wstate_t *ws = stt_calloc(1, sizeof(*ws));
    ws->main = whisper_init_state(m->main);
    if (m->rt != m->main)
        ws->rt = whisper_init_state(m->rt);
    if (!ws->main || (m->rt != m->main && !ws->rt)) {
        if (ws->main)
            whisper_free_state(ws->main);
        if (ws->rt)
            whisper_free_state(ws->rt);
        free(ws);
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    ws->next = m->states;
    m->states = ws;
    m->n_states++;
    pthread_mutex_unlock(&m->mu);
    tls.gen = m->gen;
    tls.ws = ws;
    return ws;
}

/* ---- decoding ---- */

typedef struct {
    stt_utt_t *u;
    stt_model_t *m;
} job_ctx_t;

/* Polled by whisper.cpp before each graph computation (encoder, every decoder step). */
static bool abort_cb(void *data)
{
    job_ctx_t *c = data;
    return atomic_load(&c->m->closing) || stt_engine_cancelled();
}

static void suppress_cb(struct whisper_context *ctx, struct whisper_state *state,
                        const whisper_token_data *tokens, int n_tokens, float *logits, void *data)
{
    job_ctx_t *c = data;
    int n_vocab = whisper_n_vocab(ctx);
    for (size_t i = 0; i < c->m->n_suppress; i++)
        if (c->m->suppress_ids[i] < n_vocab)
            logits[c->m->suppress_ids[i]] = -INFINITY;
}

static struct whisper_full_params make_params(stt_model_t *m, const char *language, int beam,
                                              const char *prompt, job_ctx_t *c)
{
    struct whisper_full_params p =
        whisper_full_default_params(beam > 1 ? WHISPER_SAMPLING_BEAM_SEARCH
                                             : WHISPER_SAMPLING_GREEDY);
    p.n_threads = m->n_threads;
    p.no_context = true;
    p.print_progress = p.print_realtime = p.print_timestamps = p.print_special = false;
    p.beam_search.beam_size = beam;
    p.language = language[0] ? language : "auto";
    p.detect_language = false;
    p.initial_prompt = prompt && prompt[0] ? prompt : NULL;
    p.suppress_nst = m->suppress_nst;
    if (!m->fallback)
        p.temperature_inc = 0.0f;
    p.abort_callback = abort_cb;
    p.abort_callback_user_data = c;
    if (m->n_suppress) {
        p.logits_filter_callback = suppress_cb;
        p.logits_filter_callback_user_data = c;
    }
    return p;
}

/* Joins the text of every segment, as whisper-cli prints it. Owned by the caller. */
static char *segments_text(struct whisper_state *st, int from)
{
    size_t len = 0, cap = 256;
    char *s = stt_malloc(cap);
    s[0] = '\0';
    int n = whisper_full_n_segments_from_state(st);
    for (int i = from; i < n; i++) {
        const char *t = whisper_full_get_segment_text_from_state(st, i);
        size_t k = strlen(t);
        if (len + k + 1 > cap) {
            while (len + k + 1 > cap)
                cap *= 2;
            s = realloc(s, cap);
            if (!s)
                stt_fatal(__FILE__, __LINE__, "out of memory");
        }
        memcpy(s + len, t, k + 1);
        len += k;
    }
    return s;
}

static int run(struct whisper_context *ctx, struct whisper_state *st,
               struct whisper_full_params p, const float *pcm, size_t n)
{
    int rc = whisper_full_with_state(ctx, st, p, pcm, (int)n);
    if (rc == 0)
        return 0;
    job_ctx_t *c = p.abort_callback_user_data;
    return abort_cb(c) ? STT_ECANCELED : STT_EENGINE;
}

/* Appends the words of segment i of the last decode to out. BPE tokens merge into words: a
 * token that begins with a space starts a new word, any other continues the open one (so
 * punctuation stays with its word); special tokens (id >= eot: [_BEG_], timestamps, <|...|>)
 * are skipped. A word spans its first token's t0 to its last token's t1 (token_timestamps: 10 ms
 * units from the first sample of the audio given to whisper_full, which is the utterance's first
 * sample); its confidence is the mean of its tokens' p. Times outside the segment are pulled
 * into it: token times are estimates, a segment's are the decoder's own. */
static void segment_words(struct whisper_context *ctx, struct whisper_state *st, int i,
                          stt_result_t *out)
{
    double seg_t0 = whisper_full_get_segment_t0_from_state(st, i) / 100.0;
    double seg_t1 = whisper_full_get_segment_t1_from_state(st, i) / 100.0;
    whisper_token eot = whisper_token_eot(ctx);
    int nt = whisper_full_n_tokens_from_state(st, i);
    char *buf = NULL;
    size_t bl = 0, cap = 0;
    double t0 = 0, t1 = 0, psum = 0;
    int pn = 0;
    for (int k = 0; k <= nt; k++) {
        whisper_token_data td = {0};
        const char *txt = "";
        if (k < nt) {
            td = whisper_full_get_token_data_from_state(st, i, k);
            if (td.id >= eot)
                continue;
            txt = whisper_full_get_token_text_from_state(ctx, st, i, k);
        }
        if (pn && (k == nt || txt[0] == ' ')) { /* close the open word */
            t0 = t0 < seg_t0 ? seg_t0 : t0 > seg_t1 ? seg_t1 : t0;
            t1 = t1 < t0 ? t0 : t1 > seg_t1 ? seg_t1 : t1;
            stt_words_add(out, buf, bl, t0, t1, psum / pn);
            bl = 0, psum = 0, pn = 0;
        }
        if (k == nt)
            break;
        if (pn == 0)
            t0 = td.t0 / 100.0;
        t1 = td.t1 / 100.0;
        size_t tl = strlen(txt);
        if (bl + tl + 1 > cap) {
            cap = 2 * (bl + tl + 1);
            buf = realloc(buf, cap);
            if (!buf)
                stt_fatal(__FILE__, __LINE__, "out of memory");
        }
        memcpy(buf + bl, txt, tl);
        bl += tl;
        psum += td.p;
        pn++;
    }
    free(buf);
}

/* The final's words (out->words, for every segment) and its segments, with their words when
 * --word_timestamps, for the extended event. The words' times are kept within the utterance's
 * `duration_s` (whisper pads to 30 s windows, and the last segment can end in the padding). */
static cJSON *final_words_and_segments(struct whisper_context *ctx, struct whisper_state *st,
                                       int seg_words, double duration_s, stt_result_t *out)
{
    cJSON *arr = cJSON_CreateArray();
    int n = whisper_full_n_segments_from_state(st);
    size_t *first = stt_calloc((size_t)n + 1, sizeof(*first));
    for (int i = 0; i < n; i++) {
        first[i] = out->n_words;
        /* Punctuation-only tokens (" -", " ...") join a word of their own segment. */
        stt_result_t seg = {0};
        segment_words(ctx, st, i, &seg);
        stt_words_attach_punct(&seg);
        for (size_t k = 0; k < seg.n_words; k++) {
            const stt_word_t *w = &seg.words[k];
            stt_words_add(out, w->word, strlen(w->word), w->start_s, w->end_s, w->confidence);
        }
        stt_result_dispose(&seg);
    }
    first[n] = out->n_words;
    stt_words_clamp(out, duration_s);
    for (int i = 0; i < n; i++) {
        cJSON *seg = cJSON_CreateObject();
        double t0 = whisper_full_get_segment_t0_from_state(st, i) / 100.0;
        cJSON_AddNumberToObject(seg, "start", t0);
        cJSON_AddNumberToObject(seg, "end", whisper_full_get_segment_t1_from_state(st, i) / 100.0);
        cJSON_AddStringToObject(seg, "text", whisper_full_get_segment_text_from_state(st, i));
        cJSON_AddNumberToObject(seg, "no_speech_prob",
                                whisper_full_get_segment_no_speech_prob_from_state(st, i));
        if (seg_words) {
            cJSON *wa = cJSON_AddArrayToObject(seg, "words");
            for (size_t k = first[i]; k < first[i + 1]; k++) {
                const stt_word_t *w = &out->words[k];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "start", w->start_s);
                cJSON_AddNumberToObject(o, "end", w->end_s);
                cJSON_AddStringToObject(o, "word", w->word);
                cJSON_AddNumberToObject(o, "probability", w->confidence);
                cJSON_AddItemToArray(wa, o);
            }
        }
        cJSON_AddItemToArray(arr, seg);
    }
    free(first);
    return arr;
}

/* ---- the engine interface ---- */

static int wh_probe(stt_model_t *m)
{
    /* One second of quiet noise through the realtime model on a state of its own (the loader
     * thread is not a worker). */
    struct whisper_state *st = whisper_init_state(m->rt);
    if (!st)
        return STT_EENGINE;
    float pcm[RATE];
    uint32_t x = 2463534242u;
    for (int i = 0; i < RATE; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        pcm[i] = (float)((int32_t)(x % 2001) - 1000) / 32768.0f;
    }
    stt_utt_t u = {.m = m, .language = "en"};
    job_ctx_t c = {&u, m};
    struct whisper_full_params p = make_params(m, u.language, 1, NULL, &c);
    p.audio_ctx = RATE / SAMPLES_PER_CTX + 16;
    p.max_tokens = 8;
    int rc = run(m->rt, st, p, pcm, RATE);
    whisper_free_state(st);
    return rc;
}

/* The encoder positions for n samples: the audio's own (two 10 ms mel frames each) plus 16, at
 * least min_s seconds, rounded up to whole CROSS_PAD blocks (whisper.cpp's flash-attention
 * decoder attends, unmasked, to audio_ctx rounded up to CROSS_PAD: every position it reads must
 * be one the encoder wrote, see partial()). 0 (the full 30 s window) when that is not shorter. */
static int fitted_audio_ctx(size_t n, double min_s)
{
    size_t actx = (n + SAMPLES_PER_CTX - 1) / SAMPLES_PER_CTX + 16;
    size_t min_ctx = (size_t)(min_s * RATE / SAMPLES_PER_CTX);
    if (actx < min_ctx)
        actx = min_ctx;
    actx = (actx + CROSS_PAD - 1) / CROSS_PAD * CROSS_PAD;
    return actx < MAX_AUDIO_CTX ? (int)actx : 0;
}

static int wh_begin(stt_model_t *m, const stt_utt_options_t *opt, stt_utt_t **out)
{
    stt_utt_t *u = stt_calloc(1, sizeof(*u));
    u->m = m;
    snprintf(u->language, sizeof(u->language), "%s", opt->language);
    u->beam = opt->beam_size > 0 ? opt->beam_size : 1;
    u->beam_rt = opt->beam_size_realtime > 0 ? opt->beam_size_realtime : 1;
    u->committed = stt_strdup("");
    u->hints = stt_strdup(opt->prompt);
    u->translate = opt->translate;
    *out = u;
    return 0;
}

static void append_pcm(stt_utt_t *u, const int16_t *pcm, size_t n)
{
    if (u->n + n > u->cap) {
        size_t cap = u->cap ? u->cap : RATE;
        while (cap < u->n + n)
            cap *= 2;
        float *p = realloc(u->pcm, cap * sizeof(float));
        if (!p)
            stt_fatal(__FILE__, __LINE__, "out of memory");
        u->pcm = p;
        u->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        u->pcm[u->n + i] = (float)pcm[i] / 32768.0f;
    u->n += n;
}

static char *join_text(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = stt_malloc(la + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* a and b joined by one space (none when either is empty). */
static char *join_words(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), sep = la && lb ? 1 : 0;
    char *s = stt_malloc(la + sep + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, " ", sep);
    memcpy(s + la + sep, b, lb + 1);
    return s;
}

/* A partial: the realtime model over the window [win_start, n), one segment,
 * a bounded number of tokens. Once the window is longer than --realtime_window, the text of
 * the previous pass (which covered [win_start, win_end)) is committed and the window restarts
 * at win_end: every pass decodes at most --realtime_window seconds plus what arrived since the
 * last one. The committed text's tail is the next passes' prompt, for continuity. */
static int partial(stt_utt_t *u, wstate_t *ws, stt_result_t *out)
{
    stt_model_t *m = u->m;
    size_t W = (size_t)(m->rt_window_s * RATE);
    if (W && u->n - u->win_start > W && u->win_end > u->win_start) {
        char *c2 = join_text(u->committed, u->window_text ? u->window_text : "");
        free(u->committed);
        u->committed = c2;
        u->win_start = u->win_end;
    }
    size_t len = u->n - u->win_start;
    size_t cl = strlen(u->committed);
    const char *tail = u->committed + (cl > PROMPT_TAIL_CHARS ? cl - PROMPT_TAIL_CHARS : 0);
    char *head = join_words(m->prompt_rt, u->hints);
    char *prompt = join_text(head, tail);
    free(head);
    job_ctx_t c = {u, m};
    /* Detect again only once the window is twice what the last detection saw. */
    int detect = !u->language[0] && (!u->detected[0] || len >= 2 * u->detected_len);
    const char *lang = u->language[0] ? u->language : detect ? "" : u->detected;
    struct whisper_full_params p = make_params(m, lang, u->beam_rt, prompt, &c);
    /* whisper.cpp's flash-attention decoder attends, unmasked, to audio_ctx rounded up to
     * CROSS_PAD positions, while the encoder writes only audio_ctx of them: the rest hold what
     * the state's last encode left there (another call's audio, whose words came back in this
     * call's partials) or zeros (a 1 s window then repeated itself up to the token cap). Whole
     * multiples of CROSS_PAD are encoded in full: past the audio, whisper's own padding. */
    p.audio_ctx = fitted_audio_ctx(len, 0);
    p.single_segment = true;
    /* Timestamp tokens stay on (a few more decoder steps): without them tiny.en repeated short
     * windows up to the token cap ("He was not. He was not. He was not."; bench/README.md). */
    p.no_timestamps = false;
    /* A preview is decoded once and briefly: no temperature fallback, and at most ~6 tokens
     * per second of audio (people say 2-4), so a repetition loop cannot hold a worker for the
     * 224 tokens whisper allows a window. */
    p.temperature_inc = 0.0f;
    p.max_tokens = PARTIAL_TOKENS_BASE + (int)(len * PARTIAL_TOKENS_PER_S / RATE);
    if (!ws->rt && !(ws->rt = whisper_init_state(m->rt))) {
        free(prompt);
        return STT_ENOMEM;
    }
    struct whisper_state *st = ws->rt;
    int rc = run(m->rt, st, p, u->pcm + u->win_start, len);
    free(prompt);
    if (rc != 0)
        return rc;
    if (detect) {
        int id = whisper_full_lang_id_from_state(st);
        if (id >= 0) {
            snprintf(u->detected, sizeof(u->detected), "%s", whisper_lang_str(id));
            u->detected_len = len;
        }
    }
    free(u->window_text);
    u->window_text = segments_text(st, 0);
    u->win_end = u->n;
    out->text = join_text(u->committed, u->window_text);
    out->confidence = -1;
    return 0;
}

static int wh_feed(stt_utt_t *u, const int16_t *pcm, size_t n, int want_partial,
                   stt_result_t *out)
{
    append_pcm(u, pcm, n);
    if (!want_partial)
        return 0;
    wstate_t *ws = worker_states(u->m);
    if (!ws)
        return STT_ENOMEM;
    return partial(u, ws, out);
}

static void utt_free(stt_utt_t *u)
{
    free(u->pcm);
    free(u->committed);
    free(u->window_text);
    free(u->hints);
    free(u);
}

static void wh_abort(stt_utt_t *u)
{
    if (u)
        utt_free(u);
}

static int wh_end(stt_utt_t *u, const int16_t *pcm, size_t n, stt_result_t *out)
{
    stt_model_t *m = u->m;
    append_pcm(u, pcm, n);
    wstate_t *ws = worker_states(m);
    int rc = ws ? 0 : STT_ENOMEM;
    out->confidence = -1;
    if (rc == 0 && u->n > 0) {
        job_ctx_t c = {u, m};
        char *prompt = join_words(m->prompt, u->hints);
        struct whisper_full_params p = make_params(m, u->language, u->beam, prompt, &c);
        p.translate = u->translate != 0;
        /* Token times for the words of every final (--word_timestamps only decides whether the
         * segments carry them too). They come from the timestamp tokens' probabilities the
         * decoder computes anyway, plus one pass over the signal's energy: the decoded text is
         * the same with or without them. */
        p.token_timestamps = true;
        /* --final_min_window: encode the utterance (at least that long), not 30 s. */
        if (m->final_min_window_s > 0)
            p.audio_ctx = fitted_audio_ctx(u->n, m->final_min_window_s);
        rc = run(m->main, ws->main, p, u->pcm, u->n);
        free(prompt);
        if (rc == 0) {
            out->text = segments_text(ws->main, 0);
            out->segments = final_words_and_segments(m->main, ws->main, m->word_timestamps,
                                                     (double)u->n / RATE, out);
            out->confidence = stt_words_mean_confidence(out);
            int lang = whisper_full_lang_id_from_state(ws->main);
            if (lang >= 0)
                snprintf(out->language, sizeof(out->language), "%s", whisper_lang_str(lang));
        }
    } else if (rc == 0) {
        out->text = stt_strdup("");
    }
    utt_free(u);
    return rc;
}

/* Frees this worker's decoding states (after a failed job) and makes new ones. */
static int wh_worker_reset(stt_model_t *m)
{
    wstate_t *ws = tls.gen == m->gen ? tls.ws : NULL;
    if (ws) {
        pthread_mutex_lock(&m->mu);
        for (wstate_t **pp = &m->states; *pp; pp = &(*pp)->next) {
            if (*pp == ws) {
                *pp = ws->next;
                m->n_states--;
                break;
            }
        }
        pthread_mutex_unlock(&m->mu);
        if (ws->main)
            whisper_free_state(ws->main);
        if (ws->rt)
            whisper_free_state(ws->rt);
        free(ws);
        tls.ws = NULL;
    }
    return worker_states(m) ? 0 : STT_ENOMEM;
}

static void wh_stats(stt_model_t *m, int *in_use, int *pooled)
{
    pthread_mutex_lock(&m->mu);
    *in_use = m->n_states;
    pthread_mutex_unlock(&m->mu);
    *pooled = 0;
}

const stt_engine_vtable_t stt_engine_whisper = {
    .name = "whisper",
    .incremental = 0,
    .check = wh_check,
    .load = wh_load,
    .unload = wh_unload,
    .probe = wh_probe,
    .utt_begin = wh_begin,
    .utt_feed = wh_feed,
    .utt_end = wh_end,
    .utt_abort = wh_abort,
    .worker_reset = wh_worker_reset,
    .stats = wh_stats,
};

#endif /* STT_HAVE_WHISPER */

/* Engine registry and shared result helpers (words.h). Runs on any thread; holds no state. */
#include "stt/engine.h"
#include "stt/log.h"
#include "words.h"

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
    for (size_t i = 0; i < r->n_words; i++)
        free(r->words[i].word);
    free(r->words);
    r->words = NULL;
    r->n_words = 0;
}

/* The length of the valid UTF-8 sequence at s (at most `left` bytes), or 0 if it is not one
 * (a stray continuation byte, a truncated sequence, an overlong form, a surrogate, > U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    size_t n = 0;
    if (s[0] < 0x80)
        n = 1;
    else if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Capacity of a words array of n (not stored: it grows by doubling from 8). */
static size_t words_cap(size_t n)
{
    size_t cap = 0;
    while (cap < n)
        cap = cap ? 2 * cap : 8;
    return cap;
}

void stt_words_add(stt_result_t *r, const char *s, size_t len, double start_s, double end_s,
                   double confidence)
{
    while (len && is_space(s[0]))
        s++, len--;
    while (len && is_space(s[len - 1]))
        len--;
    char *w = stt_malloc(len + 1);
    size_t wl = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq_len((const unsigned char *)s + i, len - i);
        if (k == 0) {
            i++; /* drop the byte */
            continue;
        }
        memcpy(w + wl, s + i, k);
        wl += k, i += k;
    }
    w[wl] = '\0';
    if (wl == 0) {
        free(w);
        return;
    }
    if (r->n_words == words_cap(r->n_words)) {
        size_t cap = words_cap(r->n_words + 1);
        stt_word_t *a = realloc(r->words, cap * sizeof(*a));
        if (!a)
            stt_fatal(__FILE__, __LINE__, "out of memory");
        r->words = a;
    }
    r->words[r->n_words++] = (stt_word_t){w, start_s, end_s, confidence};
}

void stt_words_clamp(stt_result_t *r, double duration_s)
{
    double prev_end = 0;
    if (!(duration_s > 0))
        duration_s = 0;
    for (size_t i = 0; i < r->n_words; i++) {
        stt_word_t *w = &r->words[i];
        /* (written so that a NaN time ends up at the bound too) */
        if (!(w->start_s >= prev_end))
            w->start_s = prev_end;
        if (w->start_s > duration_s)
            w->start_s = duration_s;
        if (!(w->end_s >= w->start_s))
            w->end_s = w->start_s;
        if (w->end_s > duration_s)
            w->end_s = duration_s;
        prev_end = w->end_s;
    }
}

void stt_words_spread(stt_result_t *r, const char *text, double duration_s, double confidence)
{
    size_t k = 0;
    for (const char *p = text; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        k++;
        while (*p && !is_space(*p))
            p++;
    }
    size_t i = 0;
    for (const char *p = text; *p;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *b = p;
        while (*p && !is_space(*p))
            p++;
        stt_words_add(r, b, (size_t)(p - b), duration_s * (double)i / (double)k,
                      duration_s * (double)(i + 1) / (double)k, confidence);
        i++;
    }
    stt_words_clamp(r, duration_s);
}

static int has_alnum(const char *w)
{
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        if (*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
            return 1;
    return 0;
}

/* Writes `from`'s text after (append) or before `into`'s, and widens into's times. */
static void merge_word(stt_word_t *into, const stt_word_t *from, int append)
{
    size_t a = strlen(into->word), b = strlen(from->word);
    char *w = stt_malloc(a + b + 1);
    if (append) {
        memcpy(w, into->word, a);
        memcpy(w + a, from->word, b + 1);
    } else {
        memcpy(w, from->word, b);
        memcpy(w + b, into->word, a + 1);
    }
    free(into->word);
    into->word = w;
    if (from->start_s < into->start_s)
        into->start_s = from->start_s;
    if (from->end_s > into->end_s)
        into->end_s = from->end_s;
}

void stt_words_attach_punct(stt_result_t *r)
{
    size_t first = 0; /* the first word with a letter */
    while (first < r->n_words && !has_alnum(r->words[first].word))
        first++;
    if (first == r->n_words)
        return;
    /* Leading punctuation goes to the first real word, the last piece first (so the order
     * stays); then each later piece to the real word kept before it. */
    for (size_t i = first; i-- > 0;) {
        merge_word(&r->words[first], &r->words[i], 0);
        free(r->words[i].word);
    }
    size_t out = 0;
    for (size_t i = first; i < r->n_words; i++) {
        if (out > 0 && !has_alnum(r->words[i].word)) {
            merge_word(&r->words[out - 1], &r->words[i], 1);
            free(r->words[i].word);
            continue;
        }
        r->words[out++] = r->words[i];
    }
    r->n_words = out;
}

double stt_words_mean_confidence(const stt_result_t *r)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n_words; i++) {
        if (r->words[i].confidence >= 0) {
            sum += r->words[i].confidence;
            n++;
        }
    }
    return n ? sum / (double)n : -1;
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

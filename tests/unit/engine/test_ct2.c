/* Unit tests for the faster-whisper model helpers (src/engine/ct2.c, ct2_cache.c, mel.c).
 *
 * Covered: the model.bin reader on a hand-written image (scalars, a tensor, an alias followed to
 * its target, a dangling alias) and its refusals (every cut of the image, a size that does not
 * match the shape, an unknown dtype, binary version 3); the Hugging Face cache lookup (sizes to
 * repository ids, refs/main's snapshot, the newest snapshot with a model.bin when refs/main is
 * missing or stale, roots searched in order, names that are no size and no repository id, ".."
 * refused); the conversion cache's refusal of a directory without model.bin; the mel filters'
 * shape (each triangle non-negative, peaking once). Conversion itself and the filters' exact
 * values are checked against independent implementations in tests/integ/test_ct2_convert.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "stt/ct2.h"
#include "stt/error.h"

typedef struct {
    uint8_t b[512];
    size_t n;
} img_t;

static void put(img_t *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof(m->b));
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void u32(img_t *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(m, b, 4);
}

static void str(img_t *m, const char *s)
{
    uint16_t n = (uint16_t)(strlen(s) + 1);
    uint8_t b[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
    put(m, b, 2);
    put(m, s, n);
}

/* version 6, "WhisperSpec" rev 3: a/scalar (int16 7), b/tensor [2,3] f16, aliases
 * c/alias -> b/tensor and d/dangling -> no/such. dtype and size of b/tensor can be broken. */
static void image(img_t *m, uint32_t version, uint8_t dtype, uint32_t nbytes)
{
    memset(m, 0, sizeof(*m));
    u32(m, version);
    str(m, "WhisperSpec");
    u32(m, 3);
    u32(m, 2);
    str(m, "a/scalar");
    uint8_t rank0 = 0, i16 = 2;
    put(m, &rank0, 1);
    put(m, &i16, 1);
    u32(m, 2);
    uint8_t seven[2] = {7, 0};
    put(m, seven, 2);
    str(m, "b/tensor");
    uint8_t rank2 = 2;
    put(m, &rank2, 1);
    u32(m, 2);
    u32(m, 3);
    put(m, &dtype, 1);
    u32(m, nbytes);
    uint8_t data[12] = {0, 0x3c, 0, 0x40, 0, 0x42, 0, 0x44, 0, 0x45, 0, 0x46}; /* 1..6 in f16 */
    put(m, data, sizeof(data));
    u32(m, 2);
    str(m, "c/alias");
    str(m, "b/tensor");
    str(m, "d/dangling");
    str(m, "no/such");
}

static void test_parse(void **state)
{
    (void)state;
    img_t m;
    image(&m, 6, STT_CT2_F16, 12);
    stt_ct2_model_t model;
    char err[256] = "";
    assert_int_equal(stt_ct2_parse(m.b, m.n, &model, err, sizeof(err)), 0);
    assert_string_equal(model.spec, "WhisperSpec");
    assert_int_equal(model.revision, 3);
    assert_int_equal(model.n_vars, 2);
    assert_int_equal(model.n_aliases, 2);
    const stt_ct2_var_t *t = stt_ct2_find(&model, "c/alias");
    assert_non_null(t);
    assert_string_equal(t->name, "b/tensor");
    assert_int_equal(t->rank, 2);
    assert_int_equal(t->dims[0], 2);
    assert_int_equal(t->dims[1], 3);
    assert_int_equal(t->nbytes, 12);
    assert_int_equal(t->data[1], 0x3c);
    const stt_ct2_var_t *s = stt_ct2_find(&model, "a/scalar");
    assert_non_null(s);
    assert_int_equal(s->rank, 0);
    assert_int_equal(s->data[0], 7);
    assert_null(stt_ct2_find(&model, "d/dangling"));
    assert_null(stt_ct2_find(&model, "e/none"));
    stt_ct2_close(&model);

    /* Every proper prefix is refused with a message, and so is one byte more. */
    for (size_t cut = 0; cut < m.n; cut++) {
        err[0] = '\0';
        assert_int_not_equal(stt_ct2_parse(m.b, cut, &model, err, sizeof(err)), 0);
        assert_true(err[0] != '\0');
        assert_null(model.vars);
    }
    uint8_t longer[sizeof(m.b) + 1];
    memcpy(longer, m.b, m.n);
    longer[m.n] = 0;
    assert_int_equal(stt_ct2_parse(longer, m.n + 1, &model, err, sizeof(err)), STT_EPARSE);
    assert_non_null(strstr(err, "after the last alias"));

    image(&m, 6, STT_CT2_F16, 10);
    assert_int_equal(stt_ct2_parse(m.b, m.n, &model, err, sizeof(err)), STT_EPARSE);
    assert_non_null(strstr(err, "b/tensor: 10 bytes for 6 values"));
    image(&m, 6, 8, 12);
    assert_int_equal(stt_ct2_parse(m.b, m.n, &model, err, sizeof(err)), STT_EUNSUPPORTED);
    assert_non_null(strstr(err, "unknown dtype id 8"));
    image(&m, 3, STT_CT2_F16, 12);
    assert_int_equal(stt_ct2_parse(m.b, m.n, &model, err, sizeof(err)), STT_EUNSUPPORTED);
    assert_non_null(strstr(err, "binary version 3"));
}

static char root[64];

static void mk(const char *rel, int file)
{
    char path[512], *p;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    if (file) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("x", f);
        fclose(f);
    } else {
        mkdir(path, 0755);
    }
}

static void write_text(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_hf_lookup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test-ct2-%ld", (long)getpid());
    mkdir(root, 0755);
    assert_string_equal(stt_ct2_repo_for_size("tiny.en"), "Systran/faster-whisper-tiny.en");
    assert_string_equal(stt_ct2_repo_for_size("distil-large-v3"),
                        "Systran/faster-distil-whisper-large-v3");
    assert_null(stt_ct2_repo_for_size("huge"));

    const char *E = "h1/models--Systran--faster-whisper-tiny.en";
    char rel[256], out[1024];
    snprintf(rel, sizeof(rel), "%s/snapshots/aaa/model.bin", E);
    mk(rel, 1);
    sleep(1); /* a newer snapshot by mtime */
    snprintf(rel, sizeof(rel), "%s/snapshots/bbb/model.bin", E);
    mk(rel, 1);
    snprintf(rel, sizeof(rel), "%s/snapshots/ccc", E); /* newest, but no model.bin */
    sleep(1);
    mk(rel, 0);
    char h1[128], h2[128];
    snprintf(h1, sizeof(h1), "%s/h1", root);
    snprintf(h2, sizeof(h2), "%s/h2", root);
    const char *roots[3] = {h2, "", h1};

    /* No refs/main: the newest snapshot that holds a model. */
    assert_int_equal(stt_ct2_hf_lookup("tiny.en", roots, 3, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "/h1/models--Systran--faster-whisper-tiny.en/snapshots/bbb"));
    /* refs/main wins; a stale refs/main falls back to the newest. */
    snprintf(rel, sizeof(rel), "%s/refs/main", E);
    mk(rel, 1);
    write_text(rel, "aaa\n");
    assert_int_equal(stt_ct2_hf_lookup("Systran/faster-whisper-tiny.en", roots, 3, out,
                                       sizeof(out)), 0);
    assert_non_null(strstr(out, "/snapshots/aaa"));
    write_text(rel, "zzz");
    assert_int_equal(stt_ct2_hf_lookup("tiny.en", roots, 3, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "/snapshots/bbb"));
    /* An earlier root wins. */
    mk("h2/models--Systran--faster-whisper-tiny.en/snapshots/ddd/model.bin", 1);
    assert_int_equal(stt_ct2_hf_lookup("tiny.en", roots, 3, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "/h2/models--Systran--faster-whisper-tiny.en/snapshots/ddd"));

    assert_int_equal(stt_ct2_hf_lookup("small", roots, 3, out, sizeof(out)), STT_ENOENT);
    assert_int_equal(stt_ct2_hf_lookup("org/model", roots, 3, out, sizeof(out)), STT_ENOENT);
    assert_int_equal(stt_ct2_hf_lookup("huge", roots, 3, out, sizeof(out)), STT_EINVAL);
    assert_int_equal(stt_ct2_hf_lookup("../x", roots, 3, out, sizeof(out)), STT_EINVAL);
    assert_int_equal(stt_ct2_hf_lookup("a/b/c", roots, 3, out, sizeof(out)), STT_EINVAL);
    assert_int_equal(stt_ct2_hf_lookup("/abs", roots, 3, out, sizeof(out)), STT_EINVAL);

    /* The cache refuses a directory without model.bin, without creating anything. */
    int converted = 1;
    char err[512] = "", cache[128];
    snprintf(cache, sizeof(cache), "%s/cache", root);
    assert_int_equal(stt_ct2_cached_ggml(h2, cache, out, sizeof(out), &converted, err,
                                         sizeof(err)), STT_ENOENT);
    assert_int_equal(converted, 0);
    assert_non_null(strstr(err, "no model.bin"));
    struct stat st;
    assert_int_not_equal(stat(cache, &st), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static void test_mel_shape(void **state)
{
    (void)state;
    static float f[128 * 201];
    for (int n_mels = 80; n_mels <= 128; n_mels += 48) {
        stt_mel_filters(n_mels, f);
        for (int i = 0; i < n_mels; i++) {
            const float *row = f + i * 201;
            int peak = 0, rises = 1, nonzero = 0;
            for (int k = 0; k < 201; k++) {
                assert_true(row[k] >= 0.0f);
                nonzero += row[k] > 0.0f;
                if (row[k] > row[peak])
                    peak = k;
            }
            assert_true(nonzero >= 1);
            for (int k = 1; k < 201; k++) { /* up to the peak, then down: one triangle */
                if (k > peak && row[k] > row[k - 1])
                    rises = 0;
                if (k <= peak && row[k] < row[k - 1])
                    rises = 0;
            }
            assert_true(rises);
            if (i > 0) { /* centres move up the spectrum */
                int prev = 0;
                for (int k = 0; k < 201; k++)
                    if (f[(i - 1) * 201 + k] > f[(i - 1) * 201 + prev])
                        prev = k;
                assert_true(peak >= prev);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_hf_lookup),
        cmocka_unit_test(test_mel_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

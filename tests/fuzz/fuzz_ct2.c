/* libFuzzer driver for the CTranslate2 model.bin reader and the ggml converter
 * (src/engine/ct2.c, src/engine/ct2_ggml.c).
 *
 * Each input is a model.bin.
 * 1. stt_ct2_parse: an error must come with a message; a success must describe the input
 *    exactly: every variable's data inside the input with nbytes = prod(dims) x item size, every
 *    name and alias a NUL-terminated string inside it, stt_ct2_find() finding each name, and the
 *    table written back by an independent serializer here must equal the input byte for byte
 *    (the format has one encoding, so anything else is a misread).
 * 2. stt_ct2_convert on a directory holding the input as model.bin and a Whisper-sized
 *    vocabulary: an error leaves no output and no temporary file; a success leaves a file that
 *    starts with the ggml magic. Shapes are whatever the input says, so the converter's size
 *    arithmetic meets every shape the reader accepts.
 * Any broken promise aborts, so libFuzzer reports it like a crash.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/ct2/, written by tests/fuzz/make_ct2_corpus.py) as
 * an ordinary test without clang. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stt/ct2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_ct2: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
    const uint8_t *b = p;
    return b >= buf && n <= len && (size_t)(b - buf) <= len - n;
}

static size_t item_size(int dtype)
{
    static const size_t sizes[] = {4, 1, 2, 4, 2, 2};
    return dtype >= 0 && dtype <= 5 ? sizes[dtype] : 0;
}

/* The serializer, written from the format description (python/ctranslate2/specs). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} out_t;

static void put(out_t *o, const void *src, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        CHECK(o->p);
    }
    memcpy(o->p + o->n, src, n);
    o->n += n;
}

static void put_u32(out_t *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}

static void put_str(out_t *o, const char *s)
{
    size_t n = strlen(s) + 1;
    uint8_t b[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
    put(o, b, 2);
    put(o, s, n);
}

static void check_parse(const uint8_t *data, size_t size)
{
    stt_ct2_model_t m;
    char err[512] = "";
    int rc = stt_ct2_parse(data, size, &m, err, sizeof(err));
    if (rc != 0) {
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
        CHECK(m.vars == NULL);
        return;
    }
    out_t o = {0};
    put_u32(&o, m.binary_version);
    put_str(&o, m.spec);
    put_u32(&o, m.revision);
    put_u32(&o, (uint32_t)m.n_vars);
    for (size_t i = 0; i < m.n_vars; i++) {
        const stt_ct2_var_t *v = &m.vars[i];
        CHECK(v->target == NULL && v->data != NULL);
        CHECK(inside(v->name, strlen(v->name) + 1, data, size));
        size_t count = 1;
        for (int d = 0; d < v->rank; d++)
            count *= v->dims[d];
        CHECK(item_size(v->dtype) != 0 && v->nbytes == count * item_size(v->dtype));
        CHECK(inside(v->data, v->nbytes, data, size));
        const stt_ct2_var_t *found = stt_ct2_find(&m, v->name);
        CHECK(found && strcmp(found->name, v->name) == 0);
        put_str(&o, v->name);
        uint8_t rank = (uint8_t)v->rank, dt = (uint8_t)v->dtype;
        put(&o, &rank, 1);
        for (int d = 0; d < v->rank; d++)
            put_u32(&o, v->dims[d]);
        put(&o, &dt, 1);
        put_u32(&o, (uint32_t)v->nbytes);
        put(&o, v->data, v->nbytes);
    }
    put_u32(&o, (uint32_t)m.n_aliases);
    for (size_t i = m.n_vars; i < m.n_vars + m.n_aliases; i++) {
        const stt_ct2_var_t *a = &m.vars[i];
        CHECK(a->target && a->data == NULL);
        CHECK(inside(a->name, strlen(a->name) + 1, data, size));
        CHECK(inside(a->target, strlen(a->target) + 1, data, size));
        const stt_ct2_var_t *found = stt_ct2_find(&m, a->name);
        CHECK(!found || !found->target); /* resolved to a variable, or dangling */
        put_str(&o, a->name);
        put_str(&o, a->target);
    }
    CHECK(o.n == size && memcmp(o.p, data, size) == 0);
    free(o.p);
    stt_ct2_close(&m);
}

static char dir[64];

/* A model directory with a Whisper-sized vocabulary.txt: ids 0..50255 short ASCII tokens, then
 * <|endoftext|>, <|startoftranscript|> and fillers to 51864. Made once per process. */
static void make_dir(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "/tmp/fuzz-ct2-%ld", (long)getpid());
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/vocabulary.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    for (int i = 0; i < 50256; i++)
        fprintf(f, "t%d\n", i);
    fprintf(f, "<|endoftext|>\n<|startoftranscript|>\n");
    for (int i = 50258; i < 51864; i++)
        fprintf(f, "<|s%d|>\n", i);
    CHECK(fclose(f) == 0);
}

static void check_convert(const uint8_t *data, size_t size)
{
    make_dir();
    char model[128], out[128];
    snprintf(model, sizeof(model), "%s/model.bin", dir);
    snprintf(out, sizeof(out), "%s/out.bin", dir);
    FILE *f = fopen(model, "wb");
    CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
    unlink(out);
    char err[1024] = "";
    int rc = stt_ct2_convert(dir, out, NULL, err, sizeof(err));
    FILE *g = fopen(out, "rb");
    if (rc != 0) {
        CHECK(err[0] != '\0' && g == NULL);
    } else {
        uint8_t magic[4] = {0};
        CHECK(g && fread(magic, 1, 4, g) == 4);
        CHECK(magic[0] == 0x6c && magic[1] == 0x6d && magic[2] == 0x67 && magic[3] == 0x67);
    }
    if (g)
        fclose(g);
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d)))
        CHECK(!strstr(e->d_name, ".tmp."));
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_convert(data, size);
    return 0;
}

/* CTranslate2 model.bin reader (include/stt/ct2.h).
 *
 * Threads: any; a model is owned by its caller. The file is mapped read-only and parsed in place:
 * variables point into the mapping, only the variable table is allocated.
 *
 * Layout (CTranslate2 python/ctranslate2/specs/model_spec.py, src/models/model.cc), little-endian,
 * packed: u32 binary_version; str spec; u32 revision; u32 n; n x (str name, u8 rank, u32 dims[rank],
 * u8 dtype, u32 nbytes, bytes); u32 n_aliases; n_aliases x (str alias, str target). A str is a
 * u16 length that counts a trailing NUL, then the bytes. Versions 4 and later carry a dtype id
 * (older ones an item size), the only kind faster-whisper's models are written in.
 * Every length is checked against what is left and every size against its shape and dtype, so a
 * truncated or altered file is an error, never a read past the end (tests/fuzz/fuzz_ct2.c). */
#include "stt/ct2.h"
#include "stt/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VARS 100000 /* large-v3 has ~1,300; a count beyond this is a broken file */

typedef struct {
    const uint8_t *start, *p, *end;
    char *err;
    size_t errlen;
    int failed;
} rd_t;

static int fail(rd_t *r, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    r->failed = 1;
    return -1;
}

static int need(rd_t *r, size_t n, const char *what)
{
    if (r->failed)
        return -1;
    if ((size_t)(r->end - r->p) < n)
        return fail(r, "truncated: %zu bytes, %s at byte %zu needs %zu", (size_t)(r->end - r->start),
                    what, (size_t)(r->p - r->start), n);
    return 0;
}

static uint32_t u32(rd_t *r, const char *what)
{
    if (need(r, 4, what))
        return 0;
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static uint8_t u8(rd_t *r, const char *what)
{
    if (need(r, 1, what))
        return 0;
    return *r->p++;
}

/* A length-prefixed string; returns a pointer to its NUL-terminated bytes in the buffer. */
static const char *str(rd_t *r, const char *what)
{
    if (need(r, 2, what))
        return NULL;
    size_t n = (size_t)r->p[0] | (size_t)r->p[1] << 8;
    r->p += 2;
    if (n == 0) {
        fail(r, "empty string for %s", what);
        return NULL;
    }
    if (need(r, n, what))
        return NULL;
    const char *s = (const char *)r->p;
    if (s[n - 1] != '\0' || memchr(s, '\0', n - 1)) {
        fail(r, "%s is not a NUL-terminated string", what);
        return NULL;
    }
    r->p += n;
    return s;
}

static size_t dtype_size(int dtype)
{
    switch (dtype) {
    case STT_CT2_I8:
        return 1;
    case STT_CT2_I16:
    case STT_CT2_F16:
    case STT_CT2_BF16:
        return 2;
    case STT_CT2_F32:
    case STT_CT2_I32:
        return 4;
    default:
        return 0;
    }
}

int stt_ct2_parse(const uint8_t *buf, size_t len, stt_ct2_model_t *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    rd_t r = {buf, buf, buf + len, err, errlen, 0};
    m->binary_version = u32(&r, "binary version");
    if (r.failed)
        return STT_EPARSE;
    if (m->binary_version < 4 || m->binary_version > 6) {
        snprintf(err, errlen, "unsupported CTranslate2 binary version %u (4..6 are read)",
                 m->binary_version);
        return STT_EUNSUPPORTED;
    }
    m->spec = str(&r, "spec name");
    m->revision = u32(&r, "spec revision");
    uint32_t n = u32(&r, "variable count");
    if (r.failed)
        return STT_EPARSE;
    if (n > MAX_VARS || (size_t)n * 8 > (size_t)(r.end - r.p)) {
        snprintf(err, errlen, "truncated: %zu bytes cannot hold %u variables", len, n);
        return STT_EPARSE;
    }
    m->vars = calloc(n ? n : 1, sizeof(*m->vars));
    if (!m->vars)
        return STT_ENOMEM;
    for (uint32_t i = 0; i < n && !r.failed; i++) {
        stt_ct2_var_t *v = &m->vars[i];
        v->name = str(&r, "variable name");
        v->rank = u8(&r, "rank");
        if (r.failed)
            break;
        if (v->rank > STT_CT2_MAX_RANK) {
            fail(&r, "%s: rank %d (at most %d)", v->name, v->rank, STT_CT2_MAX_RANK);
            break;
        }
        uint64_t count = 1;
        for (int d = 0; d < v->rank; d++) {
            v->dims[d] = u32(&r, "dimension");
            count *= v->dims[d];
            if (count > ((uint64_t)1 << 40)) {
                fail(&r, "%s: implausible shape", v->name);
                break;
            }
        }
        v->dtype = u8(&r, "dtype");
        uint32_t nbytes = u32(&r, "byte count");
        if (r.failed)
            break;
        size_t isz = dtype_size(v->dtype);
        if (isz == 0) {
            snprintf(err, errlen, "%s: unknown dtype id %d (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, "
                     "5 bf16)", v->name, v->dtype);
            stt_ct2_close(m);
            return STT_EUNSUPPORTED;
        }
        if ((uint64_t)nbytes != count * isz) {
            fail(&r, "%s: %u bytes for %llu values of %zu bytes", v->name, nbytes,
                 (unsigned long long)count, isz);
            break;
        }
        if (need(&r, nbytes, v->name))
            break;
        v->data = r.p;
        v->nbytes = nbytes;
        r.p += nbytes;
        m->n_vars++;
    }
    uint32_t na = r.failed ? 0 : u32(&r, "alias count");
    if (!r.failed && (size_t)na * 4 > (size_t)(r.end - r.p))
        fail(&r, "implausible alias count %u", na);
    if (!r.failed && na) {
        stt_ct2_var_t *grown = realloc(m->vars, (m->n_vars + na) * sizeof(*grown));
        if (!grown) {
            stt_ct2_close(m);
            return STT_ENOMEM;
        }
        m->vars = grown;
        for (uint32_t i = 0; i < na && !r.failed; i++) {
            stt_ct2_var_t *a = &m->vars[m->n_vars + i];
            memset(a, 0, sizeof(*a));
            a->name = str(&r, "alias name");
            a->target = str(&r, "alias target");
            if (!r.failed)
                m->n_aliases++;
        }
    }
    if (!r.failed && r.p != r.end)
        fail(&r, "%zu bytes after the last alias", (size_t)(r.end - r.p));
    if (r.failed) {
        stt_ct2_close(m);
        return STT_EPARSE;
    }
    return 0;
}

int stt_ct2_open(const char *path, stt_ct2_model_t *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? STT_ENOENT : STT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        snprintf(err, errlen, "%s: %s", path, st.st_size == 0 ? "empty file" : strerror(errno));
        close(fd);
        return STT_EPARSE;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return STT_EIO;
    }
    char why[400];
    int rc = stt_ct2_parse(map, (size_t)st.st_size, m, why, sizeof(why));
    if (rc != 0) {
        munmap(map, (size_t)st.st_size);
        snprintf(err, errlen, "%s: %s", path, why);
        return rc;
    }
    m->map = map;
    m->map_len = (size_t)st.st_size;
    return 0;
}

void stt_ct2_close(stt_ct2_model_t *m)
{
    free(m->vars);
    if (m->map)
        munmap(m->map, m->map_len);
    memset(m, 0, sizeof(*m));
}

const stt_ct2_var_t *stt_ct2_find(const stt_ct2_model_t *m, const char *name)
{
    /* Aliases point at variables, never at other aliases (the writer resolves them); one hop. */
    for (int hop = 0; hop < 2; hop++) {
        const stt_ct2_var_t *hit = NULL;
        for (size_t i = 0; i < m->n_vars + m->n_aliases; i++)
            if (strcmp(m->vars[i].name, name) == 0) {
                hit = &m->vars[i];
                break;
            }
        if (!hit || !hit->target)
            return hit;
        name = hit->target;
    }
    return NULL;
}

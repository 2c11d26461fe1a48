/* Where faster-whisper models are found and where their conversions are kept
 * (include/stt/ct2.h: stt_ct2_hf_lookup, stt_ct2_cached_ggml).
 *
 * Threads: the loader thread (server start and reloads). The conversion cache is a directory of
 * ggml files named by a SHA-256 over the model's source files, so a changed model gets a new
 * file and an unchanged one is converted once, whoever asks: two servers starting at once both
 * convert and both rename into place, which is harmless (the files are equal). Hashing large-v3's
 * 3 GB takes seconds, so a stamp per source directory records the files' size, mtime and inode
 * with the key; while they match, the key is taken from the stamp without reading the files. */
#include "stt/ct2.h"
#include "stt/error.h"

#include <openssl/evp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files a model directory is made of, in hashing order; missing ones are skipped. */
static const char *const source_files[] = {"model.bin",      "config.json",
                                           "vocabulary.json", "vocabulary.txt",
                                           "tokenizer.json", "preprocessor_config.json", NULL};

/* faster-whisper 1.2's size names (faster_whisper/utils.py _MODELS). */
static const struct {
    const char *size, *repo;
} sizes[] = {
    {"tiny.en", "Systran/faster-whisper-tiny.en"},
    {"tiny", "Systran/faster-whisper-tiny"},
    {"base.en", "Systran/faster-whisper-base.en"},
    {"base", "Systran/faster-whisper-base"},
    {"small.en", "Systran/faster-whisper-small.en"},
    {"small", "Systran/faster-whisper-small"},
    {"medium.en", "Systran/faster-whisper-medium.en"},
    {"medium", "Systran/faster-whisper-medium"},
    {"large-v1", "Systran/faster-whisper-large-v1"},
    {"large-v2", "Systran/faster-whisper-large-v2"},
    {"large-v3", "Systran/faster-whisper-large-v3"},
    {"large", "Systran/faster-whisper-large-v3"},
    {"distil-large-v2", "Systran/faster-distil-whisper-large-v2"},
    {"distil-medium.en", "Systran/faster-distil-whisper-medium.en"},
    {"distil-small.en", "Systran/faster-distil-whisper-small.en"},
    {"distil-large-v3", "Systran/faster-distil-whisper-large-v3"},
    {"distil-large-v3.5", "distil-whisper/distil-large-v3.5-ct2"},
    {"large-v3-turbo", "mobiuslabs/faster-whisper-large-v3-turbo"},
    {"turbo", "mobiuslabs/faster-whisper-large-v3-turbo"},
};

const char *stt_ct2_repo_for_size(const char *name)
{
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (strcmp(sizes[i].size, name) == 0)
            return sizes[i].repo;
    return NULL;
}

/* A repository id: ORG/NAME, each part non-empty, no other slash, no "..". */
static int is_repo_id(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash && slash != s && slash[1] && !strchr(slash + 1, '/') && !strstr(s, "..");
}

/* out = a + b; -1 when it does not fit (a path that long is not a model's). */
static int join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The snapshot of one hub cache entry: refs/main's revision, else the newest snapshot. */
static int pick_snapshot(const char *entry, char *out, size_t cap)
{
    char path[PATH_MAX];
    FILE *f = join(path, sizeof(path), entry, "/refs/main") == 0 ? fopen(path, "r") : NULL;
    if (f) {
        char rev[128] = "";
        int ok = fgets(rev, sizeof(rev), f) != NULL;
        fclose(f);
        rev[strcspn(rev, "\r\n")] = '\0';
        char snap[PATH_MAX];
        if (ok && rev[0] && !strchr(rev, '/') && join(snap, sizeof(snap), entry, "/snapshots/") == 0 &&
            strlen(snap) + strlen(rev) < cap) {
            snprintf(out, cap, "%s%s", snap, rev);
            if (stt_ct2_is_model_dir(out))
                return 0;
        }
    }
    DIR *d = join(path, sizeof(path), entry, "/snapshots") == 0 ? opendir(path) : NULL;
    if (!d)
        return STT_ENOENT;
    struct dirent *e;
    time_t best = 0;
    int found = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char snap[PATH_MAX + 256];
        struct stat st;
        if (snprintf(snap, sizeof(snap), "%s/%s", path, e->d_name) < (int)sizeof(snap) &&
            strlen(snap) < cap && stt_ct2_is_model_dir(snap) && stat(snap, &st) == 0 && (!found || st.st_mtime > best)) {
            best = st.st_mtime;
            found = 1;
            snprintf(out, cap, "%s", snap);
        }
    }
    closedir(d);
    return found ? 0 : STT_ENOENT;
}

int stt_ct2_hf_lookup(const char *name, const char *const *roots, int n_roots, char *out,
                      size_t cap)
{
    const char *repo = stt_ct2_repo_for_size(name);
    if (!repo && is_repo_id(name))
        repo = name;
    if (!repo)
        return STT_EINVAL;
    char entry_name[512];
    snprintf(entry_name, sizeof(entry_name), "models--%s", repo);
    for (char *p = entry_name; *p; p++)
        if (*p == '/')
            *p = '-', memmove(p + 1, p, strlen(p) + 1), p++; /* ORG/NAME -> ORG--NAME */
    for (int i = 0; i < n_roots; i++) {
        if (!roots[i] || !roots[i][0])
            continue;
        char entry[PATH_MAX];
        snprintf(entry, sizeof(entry), "%s/%s", roots[i], entry_name);
        if (pick_snapshot(entry, out, cap) == 0)
            return 0;
    }
    return STT_ENOENT;
}

/* ---- the conversion cache ---- */

typedef struct {
    char line[6][128]; /* "name size mtime_ns inode" per present source file */
    int n;
} stamp_t;

static void stat_sources(const char *dir, stamp_t *s)
{
    s->n = 0;
    for (int i = 0; source_files[i]; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, source_files[i]);
        if (stat(path, &st) != 0)
            continue;
        snprintf(s->line[s->n++], sizeof(s->line[0]), "%s %lld %lld %llu", source_files[i],
                 (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                 (unsigned long long)st.st_ino);
    }
}

/* SHA-256 over each present source file's name, size and bytes; hex into key (65 bytes). */
static int hash_sources(const char *dir, char key[65], char *err, size_t errlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        snprintf(err, errlen, "SHA-256 is not available");
        return STT_EIO;
    }
    static unsigned char buf[1 << 20];
    int rc = 0;
    for (int i = 0; source_files[i] && rc == 0; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, source_files[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st;
        char head[160];
        fstat(fd, &st);
        int hl = snprintf(head, sizeof(head), "%s %lld\n", source_files[i], (long long)st.st_size);
        EVP_DigestUpdate(md, head, (size_t)hl);
        ssize_t got;
        while ((got = read(fd, buf, sizeof(buf))) > 0)
            EVP_DigestUpdate(md, buf, (size_t)got);
        if (got < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            rc = STT_EIO;
        }
        close(fd);
    }
    unsigned char digest[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, digest, &dl);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(key + 2 * i, 3, "%02x", digest[i]);
    return rc;
}

/* The stamp's path: one per source directory, named by a hash of its real path. */
static void stamp_path(const char *dir, const char *cache_dir, char *out, size_t cap)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        snprintf(real, sizeof(real), "%s", dir);
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(real, strlen(real), d, &dl, EVP_sha256(), NULL);
    snprintf(out, cap, "%s/.ct2-%02x%02x%02x%02x%02x%02x%02x%02x.stamp", cache_dir, d[0], d[1],
             d[2], d[3], d[4], d[5], d[6], d[7]);
}

/* Reads the key recorded in the stamp if the stamp's file lines equal now's. */
static int stamp_key(const char *path, const stamp_t *now, char key[65])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int i = 0, ok = 1;
    key[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "key ", 4) == 0) {
            if (strlen(line + 4) == 64)
                memcpy(key, line + 4, 65);
        } else if (i >= now->n || strcmp(line, now->line[i++]) != 0) {
            ok = 0;
        }
    }
    fclose(f);
    return ok && i == now->n && strlen(key) == 64 ? 0 : -1;
}

static void stamp_write(const char *path, const stamp_t *now, const char *key)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return; /* only a speed-up: the next start hashes again */
    for (int i = 0; i < now->n; i++)
        fprintf(f, "%s\n", now->line[i]);
    fprintf(f, "key %s\n", key);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int stt_ct2_cached_ggml(const char *dir, const char *cache_dir, char *out, size_t cap,
                        int *converted, char *err, size_t errlen)
{
    *converted = 0;
    if (!stt_ct2_is_model_dir(dir)) {
        snprintf(err, errlen, "%s is not a faster-whisper model directory (no model.bin)", dir);
        return STT_ENOENT;
    }
    if (mkdir_p(cache_dir) != 0) {
        snprintf(err, errlen, "cannot create the model cache %s: %s (set --download_root)",
                 cache_dir, strerror(errno));
        return STT_EIO;
    }
    stamp_t now;
    stat_sources(dir, &now);
    char spath[PATH_MAX], key[65];
    stamp_path(dir, cache_dir, spath, sizeof(spath));
    struct stat st;
    if (stamp_key(spath, &now, key) == 0) {
        snprintf(out, cap, "%s/ggml-ct2-%.16s.bin", cache_dir, key);
        if (stat(out, &st) == 0)
            return 0;
    }
    int rc = hash_sources(dir, key, err, errlen);
    if (rc != 0)
        return rc;
    snprintf(out, cap, "%s/ggml-ct2-%.16s.bin", cache_dir, key);
    if (stat(out, &st) != 0) {
        rc = stt_ct2_convert(dir, out, NULL, err, errlen);
        if (rc != 0)
            return rc;
        *converted = 1;
    }
    stamp_write(spath, &now, key);
    return 0;
}

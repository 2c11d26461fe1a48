/* Replays a libFuzzer corpus without libFuzzer: feeds every regular file in the directories
 * given as arguments to LLVMFuzzerTestOneInput, once each, then exits 0. Links with any
 * tests/fuzz/fuzz_*.c driver so the seed corpus runs as an ordinary ctest (and under the
 * sanitizer build) on machines without clang. A missing or empty directory is an error, so a
 * misconfigured test cannot pass by replaying nothing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file into an exactly sized buffer, so ASan flags reads past the input. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && st.st_size >= 0) {
        *size = (size_t)st.st_size;
        buf = malloc(*size > 0 ? *size : 1);
        if (buf != NULL && fread(buf, 1, *size, fp) != *size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

static int replay_dir(const char *dir, long *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
            continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t size = 0;
        uint8_t *buf = read_file(path, &size);
        if (buf == NULL) {
            fprintf(stderr, "%s: cannot read\n", path);
            rc = -1;
            break;
        }
        LLVMFuzzerTestOneInput(buf, size);
        free(buf);
        (*count)++;
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    long count = 0;
    for (int i = 1; i < argc; i++) {
        if (replay_dir(argv[i], &count) != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "no inputs found\n");
        return 1;
    }
    printf("replayed %ld inputs\n", count);
    return 0;
}

/* stt-decode: decodes an audio file with the server's upload decoder (src/audio/decode.c) to
 * mono s16le at the file's own rate on stdout, or times the decode.
 *
 *   stt-decode FILE > out.raw            one line on stderr: format, rate, channels, duration
 *   stt-decode --raw FMT RATE CH FILE    raw PCM in (FMT: s16le, mulaw, alaw, f32le)
 *   stt-decode --bench SLICE_S FILE      JSON on stdout: open time and the cost of reading
 *                                        SLICE_S-second slices (mean, p99, max), total, x real time
 *
 * bench/README.md ("Decoding uploads") holds the figures for MP3, FLAC and WAV.
 * Exit status: 0 decoded, 1 usage, 2 the file cannot be opened or decoded (one line says why). */
#include "stt/decode.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(void)
{
    fprintf(stderr, "usage: stt-decode [--bench SLICE_S | --raw FMT RATE CH] FILE\n");
    return 1;
}

int main(int argc, char **argv)
{
    double bench = 0;
    int raw = 0, rate = 0, ch = 0;
    stt_pcm_format_t fmt = STT_PCM_S16LE;
    int i = 1;
    if (i + 2 < argc && strcmp(argv[i], "--bench") == 0) {
        bench = atof(argv[i + 1]);
        i += 2;
        if (bench <= 0)
            return usage();
    } else if (i + 4 < argc && strcmp(argv[i], "--raw") == 0) {
        static const char *const names[] = {"s16le", "mulaw", "alaw", "f32le"};
        int k = 0;
        while (k < 4 && strcmp(argv[i + 1], names[k]) != 0)
            k++;
        if (k == 4)
            return usage();
        fmt = (stt_pcm_format_t)k;
        rate = atoi(argv[i + 2]);
        ch = atoi(argv[i + 3]);
        raw = 1;
        i += 4;
    }
    if (i + 1 != argc)
        return usage();
    const char *file = argv[i];
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        perror(file);
        return 2;
    }
    char err[256];
    stt_decoder_t *d;
    double t0 = now_s();
    int rc = raw ? stt_decoder_open_raw(fd, fmt, rate, ch, &d, err, sizeof(err))
                 : stt_decoder_open_fd(fd, &d, err, sizeof(err));
    double t_open = now_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "stt-decode: %s: %s\n", file, err);
        close(fd);
        return 2;
    }
    size_t slice = bench > 0 ? (size_t)(bench * stt_decoder_rate(d)) : 16384;
    if (slice == 0)
        slice = 1;
    int16_t *buf = malloc(slice * sizeof(int16_t));
    size_t n_slices = 0, cap = 1024;
    double *cost = malloc(cap * sizeof(double));
    long long frames = 0;
    long got;
    double t1 = now_s();
    for (;;) {
        double a = now_s();
        got = stt_decoder_read(d, buf, slice);
        double b = now_s();
        if (got <= 0)
            break;
        if (n_slices == cap)
            cost = realloc(cost, (cap *= 2) * sizeof(double));
        cost[n_slices++] = b - a;
        frames += got;
        if (bench == 0 && fwrite(buf, sizeof(int16_t), (size_t)got, stdout) != (size_t)got)
            break;
    }
    double total = now_s() - t1;
    int status = 0;
    if (got < 0) {
        fprintf(stderr, "stt-decode: %s: %s\n", file, stt_decoder_error(d));
        status = 2;
    }
    double audio_s = (double)frames / stt_decoder_rate(d);
    if (status == 0 && bench > 0) {
        qsort(cost, n_slices, sizeof(double), cmp_double);
        double sum = 0;
        for (size_t k = 0; k < n_slices; k++)
            sum += cost[k];
        size_t p99 = n_slices ? (n_slices * 99 + 99) / 100 - 1 : 0;
        printf("{\"file\": \"%s\", \"format\": \"%s\", \"rate_hz\": %d, \"channels\": %d, "
               "\"audio_s\": %.2f, \"open_ms\": %.3f, \"slice_s\": %g, \"slices\": %zu, "
               "\"slice_mean_ms\": %.3f, \"slice_p99_ms\": %.3f, \"slice_max_ms\": %.3f, "
               "\"total_ms\": %.1f, \"x_real_time\": %.0f}\n",
               file, stt_decoder_format_name(d), stt_decoder_rate(d), stt_decoder_channels(d),
               audio_s, t_open * 1e3, bench, n_slices,
               n_slices ? sum / (double)n_slices * 1e3 : 0, n_slices ? cost[p99] * 1e3 : 0,
               n_slices ? cost[n_slices - 1] * 1e3 : 0, total * 1e3,
               total > 0 ? audio_s / total : 0);
    } else if (status == 0) {
        fprintf(stderr, "%s: %s, %d Hz, %d channels, declared %.3f s, decoded %.3f s\n", file,
                stt_decoder_format_name(d), stt_decoder_rate(d), stt_decoder_channels(d),
                stt_decoder_duration_s(d), audio_s);
    }
    free(cost);
    free(buf);
    stt_decoder_close(d);
    close(fd);
    return status;
}

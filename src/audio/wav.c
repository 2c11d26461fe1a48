/* WAV writer (stt/wav.h). */
#include "stt/wav.h"

#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void write_header(stt_wav_writer_t *w)
{
    uint8_t h[44];
    uint32_t data = (uint32_t)w->data_bytes;
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1); /* PCM */
    put16(h + 22, 1); /* mono */
    put32(h + 24, (uint32_t)w->rate_hz);
    put32(h + 28, (uint32_t)w->rate_hz * 2);
    put16(h + 32, 2);
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
    fseek(w->f, 0, SEEK_SET);
    fwrite(h, 1, sizeof(h), w->f);
    fseek(w->f, 0, SEEK_END);
}

int stt_wav_open(stt_wav_writer_t *w, const char *path, int rate_hz)
{
    w->f = fopen(path, "wb+");
    w->data_bytes = 0;
    w->rate_hz = rate_hz;
    if (!w->f)
        return -1;
    write_header(w);
    return 0;
}

void stt_wav_write(stt_wav_writer_t *w, const void *pcm, size_t n)
{
    if (!w->f)
        return;
    fwrite(pcm, 2, n, w->f);
    w->data_bytes += n * 2;
    write_header(w);
}

void stt_wav_close(stt_wav_writer_t *w)
{
    if (w && w->f) {
        fclose(w->f);
        w->f = NULL;
    }
}

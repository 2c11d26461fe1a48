/* A WAV writer for raw 16-bit mono PCM (-W/--write): the header is rewritten after every write,
 * so the file is valid at any moment. Loop thread (one writer per stream). */
#ifndef STT_WAV_H
#define STT_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    uint64_t data_bytes;
    int rate_hz;
} stt_wav_writer_t;

/* Opens path for writing at rate_hz. Returns 0 or -1 (errno set). */
int stt_wav_open(stt_wav_writer_t *w, const char *path, int rate_hz);
/* Appends n samples (16-bit little-endian bytes). No-op when not open. */
void stt_wav_write(stt_wav_writer_t *w, const void *pcm, size_t n);
/* Closes (NULL-safe, idempotent). */
void stt_wav_close(stt_wav_writer_t *w);

#endif /* STT_WAV_H */

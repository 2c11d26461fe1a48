/* PCM sample formats of the wire protocols and uploads. A type only: the stream core (stt/stream.h)
 * decodes them, the upload decoder (stt/decode.h) reads them from raw files. It lives here, below
 * both, so that src/audio can name it without including a core header. */
#ifndef STT_PCM_H
#define STT_PCM_H

typedef enum {
    STT_PCM_S16LE = 0, /* 2 bytes per sample */
    STT_PCM_MULAW,     /* G.711 mu-law, 1 byte per sample */
    STT_PCM_ALAW,      /* G.711 A-law, 1 byte per sample */
    STT_PCM_F32LE      /* 4 bytes per sample, [-1, 1] */
} stt_pcm_format_t;

#endif /* STT_PCM_H */

/* Audio file decoder for uploads: reads a whole audio file (WAV, FLAC, Ogg Vorbis, Ogg Opus,
 * MP3 and the other formats libsndfile reads) or raw headerless PCM from an open file
 * descriptor, and yields mono signed 16-bit samples at the file's own sample rate.
 *
 * The descriptor is BORROWED, never dup'ed or closed: it must stay open until
 * stt_decoder_close. The decoder reads it with pread() from offset 0, so the descriptor's own
 * file offset is neither used nor moved (an upload spooled into an unlinked temp file can be
 * handed over as is). The file must not change while a decoder reads it.
 *
 * Built on libsndfile (Debian 12: 1.2.0, with FLAC, Vorbis, Opus and mpg123), measured in
 * tests/unit/audio/test_decode.c against sox's and opusdec's decodes. What that means here:
 *   - WAV (PCM 16/24-bit, float, mu-law, A-law, WAVE_FORMAT_EXTENSIBLE), FLAC, Ogg Vorbis:
 *     exact (to the downmix's rounding) and the declared duration is exact.
 *   - MP3 (MPEG-1/2 layer III, with or without an ID3v2 tag): libsndfile 1.2.0 does not trim
 *     the encoder delay and padding, so a file decodes about 1,100 samples longer than its
 *     source; the declared duration is mpg123's estimate (wrong after a large ID3 tag).
 *   - Ogg Opus: decoded at the input rate its header records when Opus supports that rate (8,
 *     12, 16, 24, 48 kHz), else at 48 kHz (a 44.1 kHz source comes back at 48 kHz).
 *   - Impossible with libsndfile 1.2.0: MP4/M4A/AAC, WebM/Matroska (what browsers'
 *     MediaRecorder makes), AMR, Opus outside Ogg. MP4/M4A, WebM and AMR are recognised by
 *     their magic bytes and refused as STT_EUNSUPPORTED with a message naming them.
 *   - libsndfile 1.2.0 leaks about 5.8 KB (libvorbis' codec setup) each time an Ogg Vorbis
 *     file cut or corrupted in its headers fails to open (tests/unit/audio/decode.lsan.supp).
 *
 * Threads: one decoder is used by one thread at a time; decoders share nothing. Opening reads
 * only the headers (for MP3 the first frames); reading decodes on the caller's thread (see
 * src/audio/decode.c for measured costs before putting it on the loop thread). */
#ifndef STT_AUDIO_DECODE_H
#define STT_AUDIO_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "stt/pcm.h"

typedef struct stt_decoder stt_decoder_t;

/* Limits on what a file may declare. */
#define STT_DECODE_MIN_RATE_HZ 8000
#define STT_DECODE_MAX_RATE_HZ 192000
#define STT_DECODE_MAX_CHANNELS 8

/* Opens the audio file in fd (borrowed; see above). Returns 0 and *out (owned by the caller,
 * freed with stt_decoder_close), or an error with a one-line reason in err (errlen bytes; err
 * may be NULL) and *out NULL:
 *   STT_EPARSE        "not an audio file libsndfile can read (<libsndfile's reason>)",
 *                     "no audio frames", a truncated or corrupt header
 *   STT_EUNSUPPORTED  "unsupported: <what>" (a rate or channel count out of range, a codec
 *                     libsndfile knows but does not decode)
 *   STT_EIO           the descriptor cannot be read (fstat/pread failed)
 *   STT_EINVAL        fd < 0 or out NULL */
int stt_decoder_open_fd(int fd, stt_decoder_t **out, char *err, size_t errlen);

/* Opens raw headerless PCM in fd (borrowed): fmt s16le/mulaw/alaw/f32le (stt/pcm.h), rate_hz in
 * STT_DECODE_MIN_RATE_HZ..STT_DECODE_MAX_RATE_HZ, channels 1..STT_DECODE_MAX_CHANNELS
 * (interleaved). Returns 0 and *out, or STT_EINVAL (a parameter out of range, with the reason in
 * err), STT_EPARSE ("no audio frames": shorter than one frame), STT_EIO. A trailing partial
 * frame is ignored. */
int stt_decoder_open_raw(int fd, stt_pcm_format_t fmt, int rate_hz, int channels,
                         stt_decoder_t **out, char *err, size_t errlen);

/* The file's sample rate (Hz) and channel count, as declared. */
int stt_decoder_rate(const stt_decoder_t *d);
int stt_decoder_channels(const stt_decoder_t *d);

/* The duration in seconds as the header declares it (for MP3, libsndfile's estimate), or -1
 * when unknown. */
double stt_decoder_duration_s(const stt_decoder_t *d);

/* "wav", "flac", "ogg/vorbis", "ogg/opus", "mp3", "raw", or for another libsndfile format its
 * usual extension ("aiff", "au", "caf", ...). Static string. */
const char *stt_decoder_format_name(const stt_decoder_t *d);

/* Reads up to max_frames frames, downmixed to mono (the mean of the channels) s16 at the file's
 * own rate, into out (max_frames samples). Returns the number of samples written, 0 at the end,
 * or STT_EPARSE on a decode error (the reason from stt_decoder_error). After an error every
 * later read returns the error again. */
long stt_decoder_read(stt_decoder_t *d, int16_t *out, size_t max_frames);

/* The reason of the last error of stt_decoder_read ("" when none). Borrowed until the next
 * call on d. */
const char *stt_decoder_error(const stt_decoder_t *d);

/* Closes the decoder (NULL-safe). The descriptor stays open (it was borrowed). */
void stt_decoder_close(stt_decoder_t *d);

#endif /* STT_AUDIO_DECODE_H */

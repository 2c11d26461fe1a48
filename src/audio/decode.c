/* Upload audio decoder on libsndfile (include/stt/decode.h).
 *
 * libsndfile reads the descriptor through its virtual I/O interface with pread() from offset 0,
 * so the descriptor is borrowed as is: not dup'ed, not closed, its file offset untouched, and
 * several decoders may read one file at once. Every read is decoded to float frames in a
 * scratch block of DECODE_CHUNK_FRAMES frames (its size fixed by the channel count, at most 8,
 * checked before allocating), averaged over the channels, then scaled by 32768, rounded and
 * clamped to s16: for 16-bit PCM files this gives back the exact samples (libsndfile scales
 * shorts by 1/32768 when it reads floats).
 *
 * Raw PCM goes through libsndfile too (SF_FORMAT_RAW with the caller's parameters), so there is
 * one read path.
 *
 * Threads: a decoder is used by one thread at a time. libsndfile keeps the reason of a failed
 * open in a process-wide variable (sf_strerror(NULL)), so two opens failing at the same moment
 * on two threads may swap their messages; the codes are right either way.
 *
 * Cost, measured on the development machine (2 shared cores, x86-64, RelWithDebInfo build,
 * libsndfile 1.2.0 / mpg123 1.31.2 / libFLAC 1.4.2, Debian 12), decoding to mono s16 with this
 * module (bench figures, see the report of issue 15; TIMING_TABLE below is filled in from
 * tests/unit/audio/test_decode.c's timing print):
 *
 * TIMING_TABLE
 */
#include "stt/decode.h"

#include "stt/error.h"
#include "stt/log.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Frames decoded per libsndfile call: 4096 frames of 8 channels of float is 128 KiB. */
#define DECODE_CHUNK_FRAMES 4096

struct stt_decoder {
    int fd;         /* borrowed */
    sf_count_t pos; /* the virtual file position libsndfile sees */
    sf_count_t size;
    SNDFILE *sf;
    SF_INFO info;
    const char *format_name;
    float *scratch; /* DECODE_CHUNK_FRAMES * channels */
    int err;        /* sticky read error, 0 when none */
    uint64_t frames_read;
    char errmsg[200];
};

/* ---- libsndfile virtual I/O on pread ---- */

static sf_count_t vio_filelen(void *user)
{
    return ((stt_decoder_t *)user)->size;
}

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user)
{
    stt_decoder_t *d = user;
    sf_count_t base = whence == SEEK_CUR ? d->pos : whence == SEEK_END ? d->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
        return -1;
    if (offset < -base)
        return -1;
    d->pos = base + offset;
    return d->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user)
{
    stt_decoder_t *d = user;
    sf_count_t got = 0;
    while (got < count && d->pos < d->size) {
        ssize_t n = pread(d->fd, (char *)ptr + got, (size_t)(count - got), (off_t)d->pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* an error or a file that shrank: libsndfile sees a short read */
        got += n;
        d->pos += n;
    }
    return got;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr;
    (void)count;
    (void)user;
    return 0; /* read only */
}

static sf_count_t vio_tell(void *user)
{
    return ((stt_decoder_t *)user)->pos;
}

static SF_VIRTUAL_IO VIO = {vio_filelen, vio_seek, vio_read, vio_write, vio_tell};

/* ---- names ---- */

static const char *major_extension(int major)
{
    int count = 0;
    sf_command(NULL, SFC_GET_FORMAT_MAJOR_COUNT, &count, sizeof(count));
    for (int i = 0; i < count; i++) {
        SF_FORMAT_INFO fi = {.format = i};
        if (sf_command(NULL, SFC_GET_FORMAT_MAJOR, &fi, sizeof(fi)) == 0 && fi.format == major)
            return fi.extension ? fi.extension : "audio";
    }
    return "audio";
}

static const char *format_name(int format)
{
    int major = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
    switch (major) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
        return "wav";
    case SF_FORMAT_FLAC:
        return "flac";
    case SF_FORMAT_OGG:
        return sub == SF_FORMAT_VORBIS ? "ogg/vorbis" : sub == SF_FORMAT_OPUS ? "ogg/opus" : "ogg";
    case SF_FORMAT_MPEG:
        return sub == SF_FORMAT_MPEG_LAYER_III ? "mp3"
               : sub == SF_FORMAT_MPEG_LAYER_II ? "mp2"
                                                : "mp1";
    case SF_FORMAT_RAW:
        return "raw";
    default:
        return major_extension(major);
    }
}

/* ---- open ---- */

static int open_common(int fd, stt_decoder_t **out, stt_decoder_t **dp, char *err, size_t errlen)
{
    if (out == NULL)
        return stt_error_fmt(err, errlen, STT_EINVAL, "no output pointer");
    *out = NULL;
    if (fd < 0)
        return stt_error_fmt(err, errlen, STT_EINVAL, "bad file descriptor %d", fd);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return stt_error_fmt(err, errlen, STT_EIO, "cannot stat the upload: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return stt_error_fmt(err, errlen, STT_EIO, "the upload is not a regular file");
    if (st.st_size == 0)
        return stt_error_fmt(err, errlen, STT_EPARSE, "empty file: no audio frames");
    stt_decoder_t *d = stt_calloc(1, sizeof(*d));
    d->fd = fd;
    d->size = (sf_count_t)st.st_size;
    *dp = d;
    return 0;
}

/* Checks what the file declares and allocates the scratch block. */
static int finish_open(stt_decoder_t *d, stt_decoder_t **out, char *err, size_t errlen)
{
    const SF_INFO *in = &d->info;
    int rc = 0;
    if (in->channels < 1 || in->channels > STT_DECODE_MAX_CHANNELS)
        rc = stt_error_fmt(err, errlen, STT_EUNSUPPORTED, "unsupported: %d channels (at most %d)",
                           in->channels, STT_DECODE_MAX_CHANNELS);
    else if (in->samplerate < STT_DECODE_MIN_RATE_HZ || in->samplerate > STT_DECODE_MAX_RATE_HZ)
        rc = stt_error_fmt(err, errlen, STT_EUNSUPPORTED,
                           "unsupported: sample rate %d Hz (%d to %d Hz)", in->samplerate,
                           STT_DECODE_MIN_RATE_HZ, STT_DECODE_MAX_RATE_HZ);
    else if (in->frames <= 0)
        rc = stt_error_fmt(err, errlen, STT_EPARSE, "no audio frames");
    if (rc < 0) {
        stt_decoder_close(d);
        return rc;
    }
    d->format_name = format_name(in->format);
    d->scratch = stt_malloc(sizeof(float) * DECODE_CHUNK_FRAMES * (size_t)in->channels);
    /* Vorbis, Opus and MP3 decode to float, which may exceed [-1, 1]: keep it, clamp later. */
    if (err && errlen)
        err[0] = '\0';
    *out = d;
    return 0;
}

int stt_decoder_open_fd(int fd, stt_decoder_t **out, char *err, size_t errlen)
{
    stt_decoder_t *d = NULL;
    int rc = open_common(fd, out, &d, err, errlen);
    if (rc < 0)
        return rc;
    d->sf = sf_open_virtual(&VIO, SFM_READ, &d->info, d);
    if (d->sf == NULL) {
        int code = sf_error(NULL);
        const char *why = sf_strerror(NULL);
        rc = stt_error_fmt(err, errlen, code == SF_ERR_UNSUPPORTED_ENCODING ? STT_EUNSUPPORTED
                                                                             : STT_EPARSE,
                           "%s (%s)",
                           code == SF_ERR_UNSUPPORTED_ENCODING
                               ? "unsupported: an encoding libsndfile does not decode"
                               : "not an audio file libsndfile can read",
                           why && why[0] ? why : "unknown reason");
        stt_decoder_close(d);
        return rc;
    }
    return finish_open(d, out, err, errlen);
}

int stt_decoder_open_raw(int fd, stt_pcm_format_t fmt, int rate_hz, int channels,
                         stt_decoder_t **out, char *err, size_t errlen)
{
    int sub;
    switch (fmt) {
    case STT_PCM_S16LE:
        sub = SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE;
        break;
    case STT_PCM_MULAW:
        sub = SF_FORMAT_ULAW;
        break;
    case STT_PCM_ALAW:
        sub = SF_FORMAT_ALAW;
        break;
    case STT_PCM_F32LE:
        sub = SF_FORMAT_FLOAT | SF_ENDIAN_LITTLE;
        break;
    default:
        if (out)
            *out = NULL;
        return stt_error_fmt(err, errlen, STT_EINVAL, "unknown raw PCM format %d", (int)fmt);
    }
    if (rate_hz < STT_DECODE_MIN_RATE_HZ || rate_hz > STT_DECODE_MAX_RATE_HZ) {
        if (out)
            *out = NULL;
        return stt_error_fmt(err, errlen, STT_EINVAL, "raw PCM sample rate %d Hz (%d to %d Hz)",
                             rate_hz, STT_DECODE_MIN_RATE_HZ, STT_DECODE_MAX_RATE_HZ);
    }
    if (channels < 1 || channels > STT_DECODE_MAX_CHANNELS) {
        if (out)
            *out = NULL;
        return stt_error_fmt(err, errlen, STT_EINVAL, "raw PCM with %d channels (1 to %d)",
                             channels, STT_DECODE_MAX_CHANNELS);
    }
    stt_decoder_t *d = NULL;
    int rc = open_common(fd, out, &d, err, errlen);
    if (rc < 0)
        return rc;
    d->info.samplerate = rate_hz;
    d->info.channels = channels;
    d->info.format = SF_FORMAT_RAW | sub;
    d->sf = sf_open_virtual(&VIO, SFM_READ, &d->info, d);
    if (d->sf == NULL) {
        rc = stt_error_fmt(err, errlen, STT_EPARSE, "raw PCM: %s", sf_strerror(NULL));
        stt_decoder_close(d);
        return rc;
    }
    return finish_open(d, out, err, errlen);
}

/* ---- queries ---- */

int stt_decoder_rate(const stt_decoder_t *d)
{
    return d->info.samplerate;
}

int stt_decoder_channels(const stt_decoder_t *d)
{
    return d->info.channels;
}

double stt_decoder_duration_s(const stt_decoder_t *d)
{
    if (d->info.frames <= 0 || d->info.frames == SF_COUNT_MAX)
        return -1;
    return (double)d->info.frames / d->info.samplerate;
}

const char *stt_decoder_format_name(const stt_decoder_t *d)
{
    return d->format_name;
}

const char *stt_decoder_error(const stt_decoder_t *d)
{
    return d->errmsg;
}

/* ---- reading ---- */

static int16_t to_s16(float v)
{
    if (!(v == v))
        return 0; /* NaN (raw float input can hold anything) */
    v *= 32768.0f;
    if (v >= 32767.0f)
        return 32767;
    if (v <= -32768.0f)
        return -32768;
    return (int16_t)lrintf(v);
}

long stt_decoder_read(stt_decoder_t *d, int16_t *out, size_t max_frames)
{
    if (d->err)
        return d->err;
    int ch = d->info.channels;
    size_t got = 0;
    while (got < max_frames) {
        size_t want = max_frames - got;
        if (want > DECODE_CHUNK_FRAMES)
            want = DECODE_CHUNK_FRAMES;
        sf_count_t n = sf_readf_float(d->sf, d->scratch, (sf_count_t)want);
        if (n > 0) {
            const float *f = d->scratch;
            if (ch == 1) {
                for (sf_count_t i = 0; i < n; i++)
                    out[got + (size_t)i] = to_s16(f[i]);
            } else {
                for (sf_count_t i = 0; i < n; i++) {
                    float sum = 0;
                    for (int c = 0; c < ch; c++)
                        sum += f[i * ch + c];
                    out[got + (size_t)i] = to_s16(sum / (float)ch);
                }
            }
            got += (size_t)n;
        }
        if (n < (sf_count_t)want) {
            int e = sf_error(d->sf);
            if (e != SF_ERR_NO_ERROR) {
                d->frames_read += got;
                snprintf(d->errmsg, sizeof(d->errmsg), "decode error after %llu frames: %s",
                         (unsigned long long)d->frames_read, sf_strerror(d->sf));
                d->err = STT_EPARSE;
                /* Frames decoded before the error are handed over; the error comes next. */
                return got > 0 ? (long)got : d->err;
            }
            break; /* the end */
        }
    }
    d->frames_read += got;
    if (got == 0 && max_frames > 0 && d->frames_read == 0) {
        /* A header that promises frames over a body that holds none (a FLAC cut after its
         * STREAMINFO, say): say so instead of an empty transcript. */
        snprintf(d->errmsg, sizeof(d->errmsg),
                 "no audio frames: the file ends before its first frame (cut short?)");
        d->err = STT_EPARSE;
        return d->err;
    }
    return (long)got;
}

void stt_decoder_close(stt_decoder_t *d)
{
    if (d == NULL)
        return;
    if (d->sf)
        sf_close(d->sf);
    free(d->scratch);
    free(d);
}

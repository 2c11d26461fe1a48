/* Reader of the safetensors file format (an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw little-endian data), as the
 * silero-vad package ships its weights.
 *
 * Parses a buffer the caller holds; tensors point into that buffer (borrowed until the caller
 * frees it). Every size in the header is checked against the buffer before use, so a truncated
 * or hostile file is an error, never an out-of-bounds read. Not thread-safe per object; separate
 * objects are independent. */
#ifndef STT_AUDIO_SAFETENSORS_H
#define STT_AUDIO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define STT_ST_MAX_DIMS 8
#define STT_ST_MAX_HEADER_BYTES (16u << 20) /* a header longer than 16 MiB is refused */
#define STT_ST_MAX_TENSORS 4096

typedef enum {
    STT_ST_F32,
    STT_ST_F16,
    STT_ST_BF16,
    STT_ST_OTHER, /* a dtype this reader does not convert (I8, F64, ...); its bytes are checked */
} stt_st_dtype_t;

typedef struct {
    char *name;               /* owned by the stt_safetensors_t */
    stt_st_dtype_t dtype;
    int n_dims;
    int64_t shape[STT_ST_MAX_DIMS];
    const uint8_t *data;      /* borrowed from the parsed buffer */
    size_t n_bytes;
} stt_st_tensor_t;

typedef struct {
    stt_st_tensor_t *tensors; /* owned */
    size_t n_tensors;
} stt_safetensors_t;

/* Parses buf[0..n). Returns 0, or STT_EPARSE (malformed header, bad JSON, a tensor whose shape
 * and dtype disagree with its byte range, overlapping or out-of-range data) or STT_ETOOBIG (the
 * limits above), with a one-line reason in err (may be NULL). On error *st is left empty. */
int stt_safetensors_parse(stt_safetensors_t *st, const uint8_t *buf, size_t n, char *err,
                          size_t err_len);

/* The tensor called `name`, or NULL. */
const stt_st_tensor_t *stt_safetensors_find(const stt_safetensors_t *st, const char *name);

/* Number of elements of t (the product of its shape; 1 for a scalar). */
size_t stt_st_elements(const stt_st_tensor_t *t);

/* Frees what parse allocated; accepts an empty or disposed object. */
void stt_safetensors_dispose(stt_safetensors_t *st);

#endif /* STT_AUDIO_SAFETENSORS_H */

/* Incremental multipart/form-data parser (RFC 7578 on RFC 2046), for HTTP upload bodies such as
 * OpenAI's POST /v1/audio/transcriptions.
 *
 * The body is fed in chunks of any size as it arrives; the parser calls back for each part's
 * start (its field name, file name and Content-Type), for its body bytes and for its end. Part
 * bodies are never buffered: memory is one fixed-size object per parser (the part header block,
 * capped at STT_MP_MAX_HEADER_BYTES, is the only thing held), whatever the body's size.
 *
 * Grammar kept (RFC 2046 5.1.1): an optional preamble (at most STT_MP_MAX_PREAMBLE_BYTES, then
 * discarded), "--boundary", transport padding (spaces and tabs), CRLF, header lines, an empty
 * line, the part's bytes; each next part starts at "CRLF--boundary" (that CRLF belongs to the
 * delimiter, not to the data); "CRLF--boundary--" closes the body and what follows (the
 * epilogue) is ignored. Lines end in CRLF (a bare LF in a header block is an error). Header
 * lines may be folded. Content-Disposition must be form-data with a name; filename and
 * filename* (RFC 5987 ext-value, UTF-8 or ISO-8859-1; it wins over filename) are decoded;
 * Content-Transfer-Encoding other than 7bit/8bit/binary is refused.
 *
 * One parser serves one body on one thread; parsers share nothing (no globals). */
#ifndef STT_PROTO_MULTIPART_H
#define STT_PROTO_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

/* Limits: each is checked before the bytes it counts are kept. */
#define STT_MP_MAX_HEADER_BYTES 8192   /* one part's header block, its closing CRLFCRLF included */
#define STT_MP_MAX_PARTS 64            /* an OpenAI transcription form has about a dozen fields */
#define STT_MP_MAX_PREAMBLE_BYTES 4096 /* before the first boundary's CRLF (clients send none) */
#define STT_MP_MAX_BOUNDARY 70         /* RFC 2046: 1..70 characters */

/* Error codes (all < 0) and their messages. Every code a function returns is in this table. */
#define STT_MP_ERR_MAP(XX)                                                                         \
    XX(ABORTED, -1, "stopped by the receiver")                                                     \
    XX(TRUNCATED, -2, "no closing boundary: the upload was cut short")                            \
    XX(NO_DELIMITER, -3, "the body holds no boundary line: it is not the multipart body its "     \
                         "Content-Type announced")                                                 \
    XX(PREAMBLE, -4, "garbage before the first boundary (more than 4 KiB)")                        \
    XX(DELIMITER, -5, "a boundary line followed by other characters than '--' or CRLF")           \
    XX(HEADER_TOO_BIG, -6, "part headers longer than 8 KiB")                                       \
    XX(HEADER, -7, "malformed part header line (no colon, bad name, control characters or a "     \
                   "bare LF)")                                                                     \
    XX(NO_DISPOSITION, -8, "part without Content-Disposition")                                     \
    XX(DISPOSITION, -9, "malformed Content-Disposition (not form-data, a bad or repeated "        \
                        "parameter, or repeated header)")                                          \
    XX(NO_NAME, -10, "part without Content-Disposition name")                                      \
    XX(TOO_MANY_PARTS, -11, "too many parts (at most 64)")                                         \
    XX(ENCODING, -12, "unsupported Content-Transfer-Encoding (only binary, 8bit or 7bit)")        \
    XX(NOT_MULTIPART, -13, "Content-Type is not multipart/form-data")                              \
    XX(NO_BOUNDARY, -14, "multipart/form-data Content-Type without a boundary parameter")          \
    XX(BAD_BOUNDARY, -15, "bad boundary: RFC 2046 allows 1 to 70 characters (letters, digits, "   \
                          "'()+_,-./:=? and space, not last)")                                     \
    XX(INVAL, -16, "invalid argument")

enum {
#define STT_MP_ERR_ENUM(name, val, msg) STT_MP_E_##name = (val),
    STT_MP_ERR_MAP(STT_MP_ERR_ENUM)
#undef STT_MP_ERR_ENUM
};

typedef struct stt_multipart stt_multipart_t;

/* Callbacks, each called from inside stt_multipart_feed; any may be NULL. A nonzero return stops
 * the parser: that feed and every later call return STT_MP_E_ABORTED. After any error no
 * callback is called again (so a part begun may never see part_end). */
typedef struct {
    /* A part begins. name: the Content-Disposition name (never NULL; "" only when sent as
     * name=""); filename: its filename (filename* when given), "" when absent; content_type: the
     * part's Content-Type value as sent (trimmed), "" when absent. All are NUL-terminated UTF-8
     * or whatever bytes the client sent (never NUL or control characters), borrowed until the
     * callback returns. */
    int (*part_begin)(void *user, const char *name, const char *filename,
                      const char *content_type);
    /* The next n > 0 bytes of the current part's body, in any chunking (borrowed until return). */
    int (*part_data)(void *user, const uint8_t *p, size_t n);
    /* The current part ended (its delimiter was seen). */
    int (*part_end)(void *user);
} stt_multipart_cb_t;

/* Extracts the boundary from a Content-Type header value ("multipart/form-data;
 * boundary=XYZ", media type case-insensitive, boundary quoted or not) into out (cap bytes,
 * NUL-terminated; cap must be at least STT_MP_MAX_BOUNDARY + 1). Returns 0, or
 * STT_MP_E_NOT_MULTIPART, STT_MP_E_NO_BOUNDARY, STT_MP_E_BAD_BOUNDARY, STT_MP_E_INVAL. */
int stt_multipart_boundary(const char *content_type_header, char *out, size_t cap);

/* Creates a parser for one body. boundary: as returned by stt_multipart_boundary (copied); cb
 * is copied; user is passed to the callbacks. Returns NULL when boundary is not a valid RFC 2046
 * boundary or cb is NULL. */
stt_multipart_t *stt_multipart_create(const char *boundary, const stt_multipart_cb_t *cb,
                                      void *user);

/* Feeds the next len bytes of the body (buf borrowed for the call). Returns 0, or an error code
 * (< 0) that is sticky: every later feed and finish return it again without calling back. Bytes
 * after the closing boundary (the epilogue) are accepted and ignored. */
int stt_multipart_feed(stt_multipart_t *mp, const uint8_t *buf, size_t len);

/* Says the body is complete. Returns 0 when the closing boundary was seen; the sticky error
 * when there was one; STT_MP_E_NO_DELIMITER when not even the first boundary came; else
 * STT_MP_E_TRUNCATED. */
int stt_multipart_finish(stt_multipart_t *mp);

/* The message of an STT_MP_E_* code (static), or "unknown multipart error". */
const char *stt_multipart_error(int code);

/* Number of parts begun so far. */
int stt_multipart_parts(const stt_multipart_t *mp);

/* Frees the parser (NULL-safe). Calls no callback. */
void stt_multipart_destroy(stt_multipart_t *mp);

#endif /* STT_PROTO_MULTIPART_H */

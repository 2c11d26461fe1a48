/* Asterisk AudioSocket codec: the TCP byte stream in, messages out (issue 14, item 5).
 *
 * The protocol (Asterisk res_audiosocket.c; ../shared/specs/telephony-protocols.md, 2.1): Asterisk
 * connects and sends frames `type(1) | length(2, big-endian) | payload(length)`:
 *
 *   0x00  hangup (empty)                0x01  UUID, 16 raw bytes, always the first message
 *   0x03  DTMF, one ASCII digit         0x10  audio, slin 8 kHz (or the channel's codec bytes)
 *   0x11..0x18  slin 12, 16, 24, 32, 44.1, 48, 96, 192 kHz
 *   0xff  error, optional payload (legacy codes 0x01 caller hung up, 0x02 frame forwarding,
 *         0x04 memory)
 *
 * The parser is incremental: bytes may arrive split anywhere (one byte at a time, a header
 * across two reads, ten frames in one read) and give the same messages. A payload that arrived
 * whole in one read is handed out in place; a split one is gathered in the parser's buffer,
 * grown to the largest split payload seen (at most 65,535 bytes, the format's own limit; a
 * 20 ms call needs 320 bytes, so 10,000 idle calls do not hold 640 MB). Unknown types are reported (STT_AS_UNKNOWN),
 * not refused, as Asterisk's code advises; so are empty audio messages (STT_AS_AUDIO with len
 * 0: Asterisk never sends one, and a call is not worth hanging up for it); a protocol violation
 * (the first message not a 16-byte UUID, a DTMF of other than one byte) ends the stream with
 * an error. Pure: no sockets, no globals. One parser per connection, used by one
 * thread. */
#ifndef STT_PROTO_AUDIOSOCKET_H
#define STT_PROTO_AUDIOSOCKET_H

#include <stddef.h>
#include <stdint.h>

#define STT_AS_MAX_PAYLOAD 65535

typedef enum {
    STT_AS_HANGUP,  /* 0x00 */
    STT_AS_UUID,    /* 0x01: uuid set */
    STT_AS_DTMF,    /* 0x03: digit set */
    STT_AS_AUDIO,   /* 0x10..0x18: payload, rate_hz set; len may be 0 */
    STT_AS_ERROR,   /* 0xff: error_code set (0 when the payload is empty) */
    STT_AS_UNKNOWN, /* any other type: type and payload as received */
} stt_as_kind_t;

typedef struct {
    stt_as_kind_t kind;
    uint8_t type;
    const uint8_t *payload; /* valid during the callback only */
    size_t len;
    int rate_hz;   /* STT_AS_AUDIO */
    char uuid[37]; /* STT_AS_UUID: 8-4-4-4-12 lower-case hex */
    char digit;    /* STT_AS_DTMF */
    uint8_t error_code;
} stt_as_msg_t;

/* Called for each complete message; a non-zero return stops the feed (returned by it). */
typedef int (*stt_as_cb)(const stt_as_msg_t *msg, void *ud);

typedef struct {
    uint8_t hdr[3];
    size_t hdr_got;
    size_t len, got; /* current payload: length, bytes gathered */
    uint8_t *buf; /* owned; NULL until a payload arrives split */
    size_t cap;
    int seen_uuid;
    int failed; /* a violation was reported: later feeds return STT_EPARSE at once */
} stt_as_parser_t;

/* Prepares a parser (any previous contents are ignored: dispose it first when reusing). */
void stt_as_init(stt_as_parser_t *p);
/* Frees the parser's buffer. */
void stt_as_dispose(stt_as_parser_t *p);

/* Feeds n bytes. Returns 0, the callback's non-zero value, or STT_EPARSE with one line in err
 * (the parser then stays failed). */
int stt_as_feed(stt_as_parser_t *p, const uint8_t *data, size_t n, stt_as_cb cb, void *ud,
                char *err, size_t errlen);

/* The sample rate of an audio type (0x10..0x18), 0 for any other type. */
int stt_as_rate(uint8_t type);

/* Writes a frame header for a message of `type` with `len` payload bytes into out[3]. */
void stt_as_header(uint8_t type, uint16_t len, uint8_t out[3]);

#endif /* STT_PROTO_AUDIOSOCKET_H */

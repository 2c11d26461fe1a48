/* RealtimeSTT data-socket frame parser (spec section 3.1).
 *
 * The original server trusts every byte of this frame: it slices the metadata with an unchecked
 * length, lets json.loads() raise on garbage and feeds odd-length PCM into a byte stream, which
 * shifts the int16 alignment of everything that follows. We validate each field instead and give
 * every failure its own code, close code and a message carrying the offending numbers, so a
 * client developer can fix the client from the close reason alone.
 *
 * Check order, cheapest and most structural first, so that a bad frame never costs a JSON parse:
 *   1. TOOBIG    whole frame above limits->max_frame_bytes
 *   2. SHORT     fewer than 4 bytes (no length prefix)
 *   3. METALEN   L runs past the end of the frame
 *   4. METABIG   L above limits->max_metadata_bytes
 *   5. ODD       PCM byte count (len - 4 - L) is odd
 *   6. JSON      metadata empty, not strict UTF-8, raw control bytes, not JSON, trailing garbage
 *   7. NOTOBJ    JSON but not an object
 *   8. NORATE    no "sampleRate"
 *   9. RATETYPE  sampleRate not a number, or a number with a fractional part
 *  10. RATERANGE sampleRate outside 8000..48000
 *  11. CHANNELS  "channels" present and not the number 1
 * METALEN is checked before METABIG on purpose: a client that forgets the header entirely sends
 * PCM whose first 4 bytes decode to a random, usually huge L, and "metadata length 3452816845
 * exceeds frame size 2048" points at that mistake better than "metadata too large".
 *
 * Leniencies, each chosen to match what the original accepts:
 * - sampleRate may be written as an integral float (16000.0, 1.6e4): Python's json.loads gives
 *   a float that the original server uses without complaint, and float-typed clients exist.
 *   A fractional value (16000.5) is refused with RATETYPE; a string ("16000") too.
 * - Keys other than sampleRate, channels and server_sent_to_stt are ignored. A duplicated key
 *   takes its last value, as Python's dict does.
 * - server_sent_to_stt (ns since the epoch) is only used for latency logging. A value that is not
 *   an integral number inside int64 is ignored (reported as 0) rather than refused, because the
 *   original never looks at its type. cJSON stores numbers as doubles, so values above 2^53 are
 *   rounded: a present-day ns timestamp comes back within +-128 ns, plenty for logging.
 * - A UTF-8 byte order mark before the JSON is skipped (cJSON does this).
 *
 * Thread-safety caveat: cJSON records the position of a parse failure in a process-wide variable
 * (cJSON_GetErrorPtr) even when, as here, the caller asks for the position via return_parse_end.
 * Concurrent failing parses race on that variable; nothing reads it, so the race is harmless in
 * practice, but TSan will report it if frames are ever parsed on several threads at once. */
#include "stt/rtstt_frame.h"
#include "stt/error.h"

#include "json_text.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_FRAME_BYTES ((size_t)1 << 20) /* websockets' default max message size */
#define PREFIX_BYTES 4

const char *stt_frame_err_name(stt_frame_err_t e)
{
    switch (e) {
#define STT_FRAME_ERR_NAME(name, str, code)                                                        \
    case STT_FRAME_##name:                                                                         \
        return str;
        STT_FRAME_ERR_MAP(STT_FRAME_ERR_NAME)
#undef STT_FRAME_ERR_NAME
    }
    return "unknown_frame_error";
}

int stt_frame_err_close_code(stt_frame_err_t e)
{
    switch (e) {
#define STT_FRAME_ERR_CODE(name, str, code)                                                        \
    case STT_FRAME_##name:                                                                         \
        return code;
        /* Many classes share a close code; the table, not the switch, is the source of truth. */
        STT_FRAME_ERR_MAP(STT_FRAME_ERR_CODE) /* NOLINT(bugprone-branch-clone) */
#undef STT_FRAME_ERR_CODE
    }
    return 1011; /* internal error: an out-of-range value is a bug in the caller */
}

/* The codec's error path: the reason into err, the code returned (stt_error_fmt). */
#define fail(code, err, errlen, ...) \
    stt_error_fmt((err), (errlen), (code), __VA_ARGS__)

/* Validates the metadata object; on success fills rate and timestamp. */
static stt_frame_err_t check_metadata(const cJSON *root, stt_rtstt_frame_t *out, char *err,
                                      size_t errlen)
{
    if (!cJSON_IsObject(root))
        return fail(STT_FRAME_NOTOBJ, err, errlen, "metadata is a JSON %s, not an object",
                    stt_json_type_name(root));

    const cJSON *rate = stt_json_last_member(root, "sampleRate");
    if (rate == NULL)
        return fail(STT_FRAME_NORATE, err, errlen, "metadata has no \"sampleRate\" key");
    if (!cJSON_IsNumber(rate))
        return fail(STT_FRAME_RATETYPE, err, errlen, "sampleRate must be an integer, got %s",
                    stt_json_type_name(rate));
    double r = rate->valuedouble;
    if (isfinite(r) && !stt_json_is_integral(r))
        return fail(STT_FRAME_RATETYPE, err, errlen, "sampleRate must be an integer, got %.10g", r);
    /* Compare as double: casting an out-of-range double to int is undefined behaviour. */
    if (!(r >= STT_FRAME_MIN_RATE_HZ && r <= STT_FRAME_MAX_RATE_HZ))
        return fail(STT_FRAME_RATERANGE, err, errlen, "sampleRate %.0f outside %d..%d", r,
                    STT_FRAME_MIN_RATE_HZ, STT_FRAME_MAX_RATE_HZ);

    const cJSON *channels = stt_json_last_member(root, "channels");
    if (channels != NULL) {
        if (!cJSON_IsNumber(channels))
            return fail(STT_FRAME_CHANNELS, err, errlen, "channels must be the number 1, got %s",
                        stt_json_type_name(channels));
        if (channels->valuedouble != 1.0)
            return fail(STT_FRAME_CHANNELS, err, errlen,
                        "channels %.10g not supported (only mono, channels 1)",
                        channels->valuedouble);
    }

    out->sample_rate_hz = (int)r;
    out->server_sent_to_stt_ns = 0;
    const cJSON *ts = stt_json_last_member(root, "server_sent_to_stt");
    /* 2^63 is exact in a double; the range is half-open because INT64_MAX itself is not. */
    if (ts != NULL && cJSON_IsNumber(ts) && stt_json_is_integral(ts->valuedouble) &&
        ts->valuedouble >= -9223372036854775808.0 && ts->valuedouble < 9223372036854775808.0)
        out->server_sent_to_stt_ns = (int64_t)ts->valuedouble;
    return STT_FRAME_OK;
}

static stt_frame_err_t parse_metadata(const uint8_t *meta, size_t meta_len, stt_rtstt_frame_t *out,
                                      char *err, size_t errlen)
{
    if (meta_len == 0)
        return fail(STT_FRAME_JSON, err, errlen, "metadata is empty (length 0)");

    int is_control;
    size_t bad = stt_json_bad_byte(meta, meta_len, &is_control);
    if (bad < meta_len) {
        if (is_control)
            return fail(STT_FRAME_JSON, err, errlen,
                        "metadata has control byte 0x%02x at offset %zu of %zu", meta[bad], bad,
                        meta_len);
        return fail(STT_FRAME_JSON, err, errlen,
                    "metadata is not valid UTF-8 (byte 0x%02x at offset %zu of %zu)", meta[bad],
                    bad, meta_len);
    }

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)meta, meta_len, &end, 0);
    if (root == NULL) {
        size_t at =
            (end != NULL && end >= (const char *)meta) ? (size_t)(end - (const char *)meta) : 0;
        return fail(STT_FRAME_JSON, err, errlen,
                    "metadata is not valid JSON (error at offset %zu of %zu)", at, meta_len);
    }
    /* cJSON stops after the first value; anything but whitespace after it is garbage that
     * Python's json.loads would refuse ("Extra data"). */
    size_t pos = (size_t)(end - (const char *)meta);
    while (pos < meta_len &&
           (meta[pos] == ' ' || meta[pos] == '\t' || meta[pos] == '\n' || meta[pos] == '\r'))
        pos++;
    stt_frame_err_t rc;
    if (pos < meta_len)
        rc = fail(STT_FRAME_JSON, err, errlen,
                  "metadata has trailing data after the JSON value (offset %zu of %zu)", pos,
                  meta_len);
    else
        rc = check_metadata(root, out, err, errlen);
    cJSON_Delete(root);
    return rc;
}

stt_frame_err_t stt_rtstt_frame_parse(const uint8_t *buf, size_t len,
                                      const stt_frame_limits_t *limits, stt_rtstt_frame_t *out,
                                      char *err, size_t errlen)
{
    size_t max_frame = DEFAULT_MAX_FRAME_BYTES;
    size_t max_meta = STT_FRAME_MAX_METADATA_BYTES;
    if (limits != NULL && limits->max_frame_bytes > 0)
        max_frame = limits->max_frame_bytes;
    if (limits != NULL && limits->max_metadata_bytes > 0)
        max_meta = limits->max_metadata_bytes;

    memset(out, 0, sizeof(*out));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (buf == NULL)
        len = 0;

    if (len > max_frame)
        return fail(STT_FRAME_TOOBIG, err, errlen, "frame of %zu bytes exceeds the %zu-byte limit",
                    len, max_frame);
    if (len < PREFIX_BYTES)
        return fail(STT_FRAME_SHORT, err, errlen,
                    "frame of %zu bytes is shorter than the 4-byte metadata length", len);

    /* Assemble little-endian by hand: the buffer may be unaligned and the host big-endian. */
    uint32_t meta_len =
        (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    size_t room = len - PREFIX_BYTES;
    if (meta_len > room)
        return fail(STT_FRAME_METALEN, err, errlen,
                    "metadata length %u exceeds frame size %zu (at most %zu bytes follow the "
                    "length)",
                    (unsigned)meta_len, len, room);
    if (meta_len > max_meta)
        return fail(STT_FRAME_METABIG, err, errlen,
                    "metadata length %u exceeds the %zu-byte metadata limit", (unsigned)meta_len,
                    max_meta);
    size_t pcm_bytes = room - meta_len;
    if (pcm_bytes % 2 != 0)
        return fail(STT_FRAME_ODD, err, errlen,
                    "PCM payload of %zu bytes is not a whole number of 16-bit samples", pcm_bytes);

    stt_frame_err_t rc = parse_metadata(buf + PREFIX_BYTES, meta_len, out, err, errlen);
    if (rc != STT_FRAME_OK) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->pcm = buf + PREFIX_BYTES + meta_len;
    out->n_samples = pcm_bytes / 2;
    return STT_FRAME_OK;
}

size_t stt_rtstt_frame_build(uint8_t *out, size_t cap, int sample_rate_hz, const int16_t *pcm,
                             size_t n_samples, const char *extra_json)
{
    /* Same spacing as the Python client's json.dumps({"sampleRate": rate}). */
    char head[48];
    int head_len = snprintf(head, sizeof(head), "{\"sampleRate\": %d", sample_rate_hz);
    if (head_len < 0 || (size_t)head_len >= sizeof(head))
        return 0;
    size_t extra_len = (extra_json != NULL) ? strlen(extra_json) : 0;
    size_t meta_len = (size_t)head_len + (extra_len > 0 ? 2 + extra_len : 0) + 1;
    if (meta_len > UINT32_MAX || n_samples > (SIZE_MAX - PREFIX_BYTES - meta_len) / 2)
        return 0;
    size_t total = PREFIX_BYTES + meta_len + n_samples * 2;
    if (out == NULL || total > cap || (n_samples > 0 && pcm == NULL))
        return 0;

    out[0] = (uint8_t)(meta_len & 0xFF);
    out[1] = (uint8_t)((meta_len >> 8) & 0xFF);
    out[2] = (uint8_t)((meta_len >> 16) & 0xFF);
    out[3] = (uint8_t)((meta_len >> 24) & 0xFF);
    uint8_t *p = out + PREFIX_BYTES;
    memcpy(p, head, (size_t)head_len);
    p += head_len;
    if (extra_len > 0) {
        /* Binary frame, not a C string: no terminator wanted. */
        memcpy(p, ", ", 2);                   /* NOLINT(bugprone-not-null-terminated-result) */
        memcpy(p + 2, extra_json, extra_len); /* NOLINT(bugprone-not-null-terminated-result) */
        p += 2 + extra_len;
    }
    *p++ = '}';
    for (size_t i = 0; i < n_samples; i++) {
        uint16_t v = (uint16_t)pcm[i];
        *p++ = (uint8_t)(v & 0xFF);
        *p++ = (uint8_t)(v >> 8);
    }
    return total;
}

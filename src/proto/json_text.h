/* What the JSON codecs of src/proto share (private to src/proto): strict UTF-8 and JSON-text
 * checks before cJSON sees the bytes, and the small cJSON helpers every parser needs. Pure
 * functions; any thread. */
#ifndef STT_PROTO_JSON_TEXT_H
#define STT_PROTO_JSON_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Length of the strict UTF-8 (RFC 3629) sequence at s[0..len): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Returns 0 if the bytes there are not one. */
size_t stt_utf8_seq_len(const unsigned char *s, size_t len);

/* Offset of the first byte that is not strict UTF-8 or is a raw control byte other than JSON
 * whitespace (invalid anywhere in JSON text; cJSON would silently accept it, and refusing NUL
 * keeps cJSON's C-string handling of keys honest), or len if none. *is_control says which. */
size_t stt_json_bad_byte(const uint8_t *s, size_t len, int *is_control);

/* "string", "number", "boolean", "null", "array", "object" (for error messages). */
const char *stt_json_type_name(const cJSON *item);

/* The last member named key (Python's json.loads keeps the last of duplicated keys), or NULL. */
const cJSON *stt_json_last_member(const cJSON *obj, const char *key);

/* 1 if v is finite and whole. */
int stt_json_is_integral(double v);

/* Parses one complete JSON text of len bytes strictly: not empty, strict UTF-8 without raw
 * control bytes, one value and nothing but whitespace after it. Returns the tree (cJSON_Delete
 * it), or NULL with a one-line reason in err (may be NULL). Size caps are the caller's. */
cJSON *stt_json_parse_strict(const char *buf, size_t len, char *err, size_t errlen);

/* A malloc'd copy of the NUL-terminated s with U+FFFD in place of every byte that does not
 * start a strict UTF-8 sequence (engine text cut inside a character), so a reply built from it
 * is always a valid WebSocket text message. NULL gives "". Never NULL (allocation aborts). */
char *stt_utf8_sanitized(const char *s);

#endif /* STT_PROTO_JSON_TEXT_H */

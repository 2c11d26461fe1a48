/* libFuzzer driver for the JSON-text checks both codecs run before cJSON sees client bytes
 * (src/proto/json_text.c): stt_utf8_seq_len and stt_json_bad_byte, then the cJSON helpers on
 * whatever parses (type name, last of duplicated members).
 *
 * Beyond "no crash", every answer is checked against an independent decoder written from RFC
 * 3629 here: a sequence the checker accepts decodes to a scalar value (not a surrogate, not above
 * U+10FFFF) in the shortest form, with continuation bytes only; a rejected one is not such a
 * sequence; stt_json_bad_byte stops exactly at the first byte that is a raw control character or
 * does not start a valid sequence. Replayed over tests/fuzz/corpus/json_text/ as an ordinary
 * test (tests/fuzz/replay_main.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/proto/json_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length of the valid UTF-8 sequence at s[0..len), or 0: decode, then judge the value. */
static size_t reference_seq_len(const uint8_t *s, size_t len)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
             : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > len)
        return 0;
    uint32_t cp = n == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> n));
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int is_control(uint8_t c)
{
    return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Sequence lengths at every offset agree with the reference. */
    for (size_t i = 0; i < size; i++)
        if (stt_utf8_seq_len(data + i, size - i) != reference_seq_len(data + i, size - i))
            abort();

    int ctl = -1;
    size_t bad = stt_json_bad_byte(data, size, &ctl);
    if (bad > size || (ctl != 0 && ctl != 1))
        abort();
    /* Everything before `bad` is valid, in whole sequences, and free of control bytes. */
    size_t i = 0;
    while (i < bad) {
        size_t n = reference_seq_len(data + i, size - i);
        if (n == 0 || is_control(data[i]))
            abort();
        i += n;
    }
    if (i != bad)
        abort();
    if (bad < size) { /* and the byte at `bad` is the reason it stopped */
        if (ctl != is_control(data[bad]) || (!ctl && reference_seq_len(data + bad, size - bad)))
            abort();
    } else if (ctl) {
        abort();
    }

    /* Text the check lets through goes to cJSON; the helpers must cope with whatever parses. */
    if (bad == size) {
        cJSON *root = cJSON_ParseWithLength((const char *)data, size);
        if (root) {
            const char *t = stt_json_type_name(root);
            if (strcmp(t, "invalid") == 0)
                abort();
            /* The last member named like the first one (Python keeps the last duplicate). */
            const cJSON *first = root->child;
            if (cJSON_IsObject(root) && first && first->string) {
                const cJSON *last = first;
                for (const cJSON *it = first->next; it; it = it->next)
                    if (it->string && strcmp(it->string, first->string) == 0)
                        last = it;
                if (stt_json_last_member(root, first->string) != last)
                    abort();
            }
            cJSON_Delete(root);
        }
    }
    return 0;
}

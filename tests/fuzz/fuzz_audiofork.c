/* libFuzzer driver for the "metadata then raw PCM" header codec (src/proto/audiofork.c).
 *
 * Each input is used four ways.
 * 1. As the first text frame, parsed with the default cap and with a 32-byte cap. An error must
 *    have a known code, a 1007/1009 close code and a reason, and leave the header unset. An OK
 *    header must be in range (rate 0 or a multiple of 8000 in 8000..64000, a known mix, channels
 *    0/1/2 agreeing with a stereo mix, a printable call id, flags -1/0/1); an opaque one must be
 *    all unset. For a JSON object, cJSON's own reading of the same bytes is the reference for
 *    sampleRate: a number there must come back as the rate, or the parse must have failed.
 * 2. The round trip: a header written back from an OK parse (by this driver) parses to the same.
 * 3. The bytes up to the first NUL (at most 15) as a URL rate argument, against a reference
 *    written with strtol.
 * 4. The bytes as a transcript: the in-band event must be strict UTF-8 JSON of the documented
 *    shape with the transcript back unchanged when it was valid UTF-8.
 * Any broken promise aborts.
 *
 * Built with -fsanitize=fuzzer by -DSTT_FUZZ=ON, or linked with tests/fuzz/replay_main.c to
 * replay the seed corpus (tests/fuzz/corpus/audiofork/) as an ordinary test without clang. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stt/audiofork.h"

#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static int rate_ok(int r)
{
    return r >= 8000 && r <= 64000 && r % 8000 == 0;
}

static void check_unset(const stt_af_header_t *h)
{
    CHECK(h->rate_hz == 0 && h->mix == STT_AF_MIX_UNSET && h->channels == 0);
    CHECK(h->call_id[0] == '\0' && h->transcribe == -1 && h->interim == -1);
}

static void check_header(const stt_af_header_t *h)
{
    CHECK(h->rate_hz == 0 || rate_ok(h->rate_hz));
    CHECK(h->mix >= STT_AF_MIX_UNSET && h->mix <= STT_AF_MIX_STEREO);
    CHECK(h->channels >= 0 && h->channels <= 2);
    if (h->channels && h->mix)
        CHECK(h->channels == stt_af_mix_channels(h->mix));
    size_t n = strlen(h->call_id);
    CHECK(n < STT_AF_CALL_ID_MAX);
    for (size_t i = 0; i < n; i++)
        CHECK(h->call_id[i] > 0x20 && h->call_id[i] < 0x7f && h->call_id[i] != '"' &&
              h->call_id[i] != '\\');
    CHECK(h->transcribe >= -1 && h->transcribe <= 1 && h->interim >= -1 && h->interim <= 1);
    if (!h->is_json)
        check_unset(h);
}

static void check_round_trip(const stt_af_header_t *h)
{
    static const char *const mixes[] = {NULL, "mono", "mixed", "stereo"};
    cJSON *o = cJSON_CreateObject();
    if (h->rate_hz)
        cJSON_AddNumberToObject(o, "sampleRate", h->rate_hz);
    if (h->mix)
        cJSON_AddStringToObject(o, "mixType", mixes[h->mix]);
    if (h->channels)
        cJSON_AddNumberToObject(o, "channels", h->channels);
    if (h->call_id[0])
        cJSON_AddStringToObject(o, "callSid", h->call_id);
    if (h->transcribe >= 0)
        cJSON_AddBoolToObject(o, "transcribe", h->transcribe);
    if (h->interim >= 0)
        cJSON_AddBoolToObject(o, "interim", h->interim);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    CHECK(text != NULL);
    stt_af_header_t back;
    CHECK(stt_af_parse_header(text, strlen(text), 0, &back, NULL, 0) == STT_AF_ERR_OK);
    CHECK(back.is_json == 1 && back.rate_hz == h->rate_hz && back.mix == h->mix);
    CHECK(back.channels == h->channels && strcmp(back.call_id, h->call_id) == 0);
    CHECK(back.transcribe == h->transcribe && back.interim == h->interim);
    free(text);
}

/* cJSON's reading of sampleRate when the bytes are a JSON object whose "sampleRate" (the first
 * rate key the codec looks at) is a number: 1 and the value, else 0. */
static int reference_rate(const uint8_t *data, size_t size, double *rate)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    int found = 0;
    if (cJSON_IsObject(root)) {
        const cJSON *v = NULL;
        for (const cJSON *it = root->child; it; it = it->next)
            if (it->string && strcmp(it->string, "sampleRate") == 0)
                v = it;
        if (cJSON_IsNumber(v)) {
            *rate = v->valuedouble;
            found = 1;
        }
    }
    cJSON_Delete(root);
    return found;
}

static void check_parse(const uint8_t *data, size_t size, size_t cap)
{
    stt_af_header_t h;
    char err[256];
    stt_af_err_t rc = stt_af_parse_header((const char *)data, size, cap, &h, err, sizeof(err));
    if (rc != STT_AF_ERR_OK) {
        CHECK(strcmp(stt_af_err_name(rc), "unknown_audiofork_error") != 0);
        int code = stt_af_err_close_code(rc);
        CHECK(code == 1007 || code == 1009);
        CHECK(err[0] != '\0');
        CHECK(h.is_json == 0);
        check_unset(&h);
        return;
    }
    check_header(&h);
    double r;
    if (h.is_json && reference_rate(data, size, &r)) {
        CHECK(rate_ok((int)r) && (double)h.rate_hz == r);
    }
    if (h.is_json)
        check_round_trip(&h);
}

/* The reference for stt_af_parse_rate: digits, an optional k, a multiple of 8000 in range. */
static int reference_parse_rate(const char *s)
{
    if (!(*s >= '0' && *s <= '9') || strlen(s) > 12)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno)
        return -1;
    if (*end == 'k' || *end == 'K') {
        v *= 1000;
        end++;
    }
    if (*end != '\0' || !rate_ok((int)(v > 100000 ? 1 : v)))
        return -1;
    return (int)v;
}

static void check_rate_arg(const uint8_t *data, size_t size)
{
    char s[16];
    size_t n = 0;
    while (n < size && n < sizeof(s) - 1 && data[n] != 0) {
        s[n] = (char)data[n];
        n++;
    }
    s[n] = '\0';
    int got = stt_af_parse_rate(s), want = reference_parse_rate(s);
    /* The codec reads at most 9 digits; the reference up to 12 (both refuse what is past the
     * range, so long numbers agree too). */
    CHECK(got == want);
}

static void check_event(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    size_t n = strlen(text);
    stt_af_transcription_t t = {.is_final = (int)(size & 1), .transcript = text,
                                .confidence = size ? (double)data[0] / 100.0 - 1.0 : -1,
                                .channel = 2, .language = "en", .call_id = "c"};
    char *js = stt_af_build_transcription(&t);
    CHECK(utf8_valid((const unsigned char *)js, strlen(js)));
    cJSON *o = cJSON_Parse(js);
    CHECK(cJSON_IsObject(o));
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "transcription") == 0);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "is_final")) == (int)(size & 1));
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "alternatives"), 0);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(a, "transcript");
    CHECK(cJSON_IsString(tr));
    if (utf8_valid((const unsigned char *)text, n))
        CHECK(strcmp(tr->valuestring, text) == 0);
    double c = cJSON_GetObjectItemCaseSensitive(a, "confidence")->valuedouble;
    CHECK(c >= 0 && c <= 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(d, "channel")->valuedouble == 2);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(d, "callSid")->valuestring, "c") == 0);
    cJSON_Delete(o);
    free(js);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size, 0);
    check_parse(data, size, 32);
    check_rate_arg(data, size);
    check_event(data, size);
    return 0;
}

/* Building the words of a result (stt_result_t.words), shared by the engines. Private to
 * src/engine. Pure: any thread, on a result the calling thread owns. */
#ifndef STT_ENGINE_WORDS_H
#define STT_ENGINE_WORDS_H

#include <stddef.h>

#include "stt/engine.h"

/* Appends a word of `len` bytes at `s` (copied: bytes that are not valid UTF-8 are dropped,
 * spaces around it trimmed; nothing is added if that leaves it empty). Times in seconds of
 * utterance audio (engine.h); they are made consistent by stt_words_clamp, not here. */
void stt_words_add(stt_result_t *r, const char *s, size_t len, double start_s, double end_s,
                   double confidence);

/* Makes the words' times keep engine.h's promise for an utterance of `duration_s` seconds:
 * 0 <= start <= end <= duration_s, and no word starts before the previous one ended (a start
 * that does is moved to that end). Engines whose times can stray (whisper's token times) call
 * it once their words are complete. */
void stt_words_clamp(stt_result_t *r, double duration_s);

/* Words for `text` (split at spaces) spread evenly over [0, duration_s], confidence
 * `confidence`: for engines whose text has no times of its own. */
void stt_words_spread(stt_result_t *r, const char *text, double duration_s, double confidence);

#endif /* STT_ENGINE_WORDS_H */

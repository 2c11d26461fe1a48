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

/* Attaches every word that has no letter or digit (a punctuation-only token of whisper's: " -",
 * " ...", " \"") to the word before it, or to the word after it when it comes first: it is
 * written into that word (with no space, as the text would read once spaces are ignored) and
 * widens its times; its own confidence is dropped. A result of punctuation only keeps its
 * words. Bytes >= 0x80 (non-ASCII letters, but also non-ASCII punctuation) count as letters. */
void stt_words_attach_punct(stt_result_t *r);

/* The mean of the words' known (>= 0) confidences, or -1 when no word has one: a final's
 * confidence for engines without a score of the whole hypothesis. */
double stt_words_mean_confidence(const stt_result_t *r);

#endif /* STT_ENGINE_WORDS_H */

/* A bounded reorder buffer for numbered audio chunks (Telnyx media streams do not guarantee the
 * order of their messages: media.chunk numbers them per track, from 1).
 *
 * Chunks go in with their number in any order and come out through a callback in number order.
 * The window is W chunks: the buffer holds at most W chunks that wait for an earlier one.
 *   - The next expected chunk is emitted at once, with every held chunk that follows it.
 *   - A chunk ahead of the next expected one waits. When a chunk arrives W or more numbers ahead
 *     of the next expected one, the chunks in between are declared missing: the window slides
 *     (held chunks come out in order) until the new chunk fits in it. So a lost chunk delays the
 *     stream by at most W chunks (W x 20 ms).
 *   - A missing chunk becomes silence the length of the last chunk emitted (the emit callback
 *     gets data NULL): stream time stays call time, word times and both tracks stay aligned.
 *     A jump of 2W numbers or more (a restarted numbering, a hostile client) is skipped
 *     without silence and the new chunk is the next one, so no client can make the server
 *     invent more than 2W chunks of audio per chunk it sends.
 *   - A chunk numbered below the next expected one is dropped: a duplicate when it was emitted
 *     already (or is held), late when it had been declared missing.
 * stt_reorder_flush emits what is held, in order, with silence for the gaps between (the end of
 * the stream). W = 0 turns reordering off: chunks pass through in arrival order.
 *
 * Pure: no sockets; chunk bytes are copied into per-slot buffers the buffer owns (grown to the
 * largest chunk seen, so memory is about W x the chunk size). Not thread-safe; one per track. */
#ifndef STT_REORDER_H
#define STT_REORDER_H

#include <stddef.h>
#include <stdint.h>

#define STT_REORDER_MAX_WINDOW 256

/* One chunk out, in order. data NULL: a missing chunk, to be replaced by len bytes of silence.
 * data is borrowed for the call. */
typedef void (*stt_reorder_emit_cb)(void *cb_data, uint64_t seq, const uint8_t *data, size_t len);

typedef enum {
    STT_REORDER_EMITTED = 0, /* emitted (possibly with others) or held */
    STT_REORDER_LATE,        /* dropped: its place had been given up as missing */
    STT_REORDER_DUPLICATE    /* dropped: seen before */
} stt_reorder_result_t;

typedef struct {
    uint64_t emitted, held_max, late, duplicate, missing_filled, missing_skipped, reordered;
} stt_reorder_stats_t;

typedef struct stt_reorder stt_reorder_t;

/* window: 0..STT_REORDER_MAX_WINDOW (clamped); first: the number of the first chunk (1 for
 * Twilio-family chunk counters). Never NULL (allocation failure aborts). */
stt_reorder_t *stt_reorder_create(size_t window, uint64_t first, stt_reorder_emit_cb cb,
                                  void *cb_data);
void stt_reorder_destroy(stt_reorder_t *r); /* NULL-safe; held chunks are dropped */

/* One chunk (len > 0). Emits what is now in order from inside the call. */
stt_reorder_result_t stt_reorder_push(stt_reorder_t *r, uint64_t seq, const uint8_t *data,
                                      size_t len);

/* Emits every held chunk in order, silence for the gaps between them. */
void stt_reorder_flush(stt_reorder_t *r);

/* Chunks held now, and the counters since creation. */
size_t stt_reorder_held(const stt_reorder_t *r);
const stt_reorder_stats_t *stt_reorder_stats(const stt_reorder_t *r);

#endif /* STT_REORDER_H */

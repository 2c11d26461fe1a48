/* A latency histogram for the command-line tools: log-linear buckets over microseconds, exact
 * below 64 us, then 32 buckets per power of two (about 3 % resolution) up to 2^40 us. Its size
 * is fixed (about 10 KiB), so a load generator can keep one per measurement for all its calls
 * and its memory does not grow with the call count.
 *
 * Threading: none; a histogram belongs to one thread. Caller-allocated: zero-initialise it
 * (there is nothing to dispose).
 */
#ifndef STT_TOOLS_HIST_H
#define STT_TOOLS_HIST_H

#include <stdint.h>

#define STT_TOOL_HIST_BUCKETS (64 + 40 * 32)

typedef struct {
    uint64_t n;
    int64_t max_us;
    double sum_us;
    uint64_t b[STT_TOOL_HIST_BUCKETS];
} stt_tool_hist_t;

/* Adds one observation; a negative one counts as 0, one above the top bucket in the top one
 * (max_us keeps its exact value). */
void stt_tool_hist_add(stt_tool_hist_t *h, int64_t us);

/* Value at quantile q (0..1) in microseconds: the middle of the bucket holding that rank, never
 * more than max_us; 0 for an empty histogram. */
int64_t stt_tool_hist_quantile(const stt_tool_hist_t *h, double q);

#endif

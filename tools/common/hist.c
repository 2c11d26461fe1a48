/* Latency histogram of the command-line tools; see hist.h. */
#include "hist.h"

#include <math.h>

static int bucket_index(uint64_t v)
{
    if (v < 64)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 5; /* v >> shift lies in [32, 64) */
    int idx = 64 + (shift - 1) * 32 + (int)((v >> shift) - 32);
    return idx < STT_TOOL_HIST_BUCKETS ? idx : STT_TOOL_HIST_BUCKETS - 1;
}

static uint64_t bucket_mid(int idx)
{
    if (idx < 64)
        return (uint64_t)idx;
    int shift = (idx - 64) / 32 + 1;
    uint64_t lo = (uint64_t)((idx - 64) % 32 + 32) << shift;
    return lo + ((1ull << shift) >> 1);
}

void stt_tool_hist_add(stt_tool_hist_t *h, int64_t us)
{
    if (us < 0)
        us = 0;
    h->n++;
    h->sum_us += (double)us;
    if (us > h->max_us)
        h->max_us = us;
    h->b[bucket_index((uint64_t)us)]++;
}

int64_t stt_tool_hist_quantile(const stt_tool_hist_t *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < STT_TOOL_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            int64_t v = (int64_t)bucket_mid(i);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

/* Latency histograms and protocol error counts (metrics.h). Loop thread only. */
#include "core/metrics.h"

#include <string.h>

const double stt_hist_bounds[STT_HIST_BUCKETS] = {0.001, 0.002, 0.005, 0.01, 0.02,
                                                  0.025, 0.05,  0.1,   0.25, 0.5,
                                                  1.0,   2.5,   5.0,   10.0, 30.0};

void stt_hist_observe(stt_hist_t *h, double v)
{
    int i = 0;
    while (i < STT_HIST_BUCKETS && v > stt_hist_bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

double stt_hist_quantile(const stt_hist_t *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.5), acc = 0;
    for (int i = 0; i < STT_HIST_BUCKETS; i++) {
        acc += h->counts[i];
        if (acc >= want)
            return stt_hist_bounds[i];
    }
    return stt_hist_bounds[STT_HIST_BUCKETS - 1];
}

void stt_metrics_protocol_error(stt_metrics_t *m, const char *protocol, const char *error)
{
    size_t i = 0;
    for (; i < m->n_protocol_errors; i++)
        if (strcmp(m->protocol_errors[i].protocol, protocol) == 0 &&
            strcmp(m->protocol_errors[i].error, error) == 0)
            break;
    if (i == m->n_protocol_errors) {
        if (i == STT_PROTOCOL_ERROR_SLOTS) {
            i--; /* the last row collects the rest */
            m->protocol_errors[i].protocol = m->protocol_errors[i].error = "other";
        } else {
            m->protocol_errors[i].protocol = protocol;
            m->protocol_errors[i].error = error;
            m->n_protocol_errors++;
        }
    }
    m->protocol_errors[i].count++;
}

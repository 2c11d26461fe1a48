/* Circuit breaker (see breaker.h). Loop thread only. */
#include "breaker.h"

#include "stt/log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *stt_breaker_state_name(stt_breaker_state_t s)
{
    switch (s) {
    case STT_BREAKER_CLOSED:
        return "closed";
    case STT_BREAKER_OPEN:
        return "open";
    case STT_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

void stt_breaker_init(stt_breaker_t *b, const stt_breaker_config_t *cfg, uint32_t seed)
{
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    b->rng = seed ? seed : 0x9e3779b9u;
    for (int i = 0; i < STT_BREAKER_SLOTS; i++)
        b->slot_of[i] = -1;
}

static double uniform01(stt_breaker_t *b)
{
    uint32_t x = b->rng;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b->rng = x;
    return (double)x / 4294967296.0;
}

static int64_t slot_number(const stt_breaker_t *b, double now)
{
    return (int64_t)floor(now * STT_BREAKER_SLOTS / b->cfg.window_s);
}

double stt_breaker_window_rate(const stt_breaker_t *b, double now)
{
    int64_t cur = slot_number(b, now);
    uint64_t ok = 0, failed = 0;
    for (int i = 0; i < STT_BREAKER_SLOTS; i++) {
        if (b->slot_of[i] > cur - STT_BREAKER_SLOTS) {
            ok += b->ok[i];
            failed += b->failed[i];
        }
    }
    if (ok + failed < (uint64_t)b->cfg.min_jobs)
        return -1;
    return (double)failed / (double)(ok + failed);
}

static void window_add(stt_breaker_t *b, int ok, double now)
{
    int64_t n = slot_number(b, now);
    int i = (int)(n % STT_BREAKER_SLOTS);
    if (b->slot_of[i] != n) {
        b->slot_of[i] = n;
        b->ok[i] = b->failed[i] = 0;
    }
    if (ok)
        b->ok[i]++;
    else
        b->failed[i]++;
}

static void window_clear(stt_breaker_t *b)
{
    for (int i = 0; i < STT_BREAKER_SLOTS; i++) {
        b->slot_of[i] = -1;
        b->ok[i] = b->failed[i] = 0;
    }
}

static void open_now(stt_breaker_t *b, double now)
{
    b->openings++;
    double ceiling = b->cfg.backoff_s * pow(2.0, b->openings - 1);
    if (ceiling > b->cfg.backoff_max_s)
        ceiling = b->cfg.backoff_max_s;
    b->ceiling_s = ceiling;
    b->delay_s = uniform01(b) * ceiling;
    b->state = STT_BREAKER_OPEN;
    b->opened_s = now;
    b->retry_at_s = now + b->delay_s;
    b->probes_ok = 0;
    b->n_opened++;
    STT_WARN(0, "breaker_open",
             "[PRODUCTION] engine circuit breaker open (%s): backoff %.3f s of ceiling %.3f s "
             "(opening %d since last closed); new sessions refused, live calls buffer",
             b->reason, b->delay_s, b->ceiling_s, b->openings);
}

int stt_breaker_record(stt_breaker_t *b, int ok, double now)
{
    b->consecutive_failures = ok ? 0 : b->consecutive_failures + 1;
    if (b->state != STT_BREAKER_CLOSED)
        return 0;
    window_add(b, ok, now);
    if (ok)
        return 0;
    double rate = stt_breaker_window_rate(b, now);
    if (b->consecutive_failures >= b->cfg.failures) {
        snprintf(b->reason, sizeof(b->reason), "%d engine failures in a row",
                 b->consecutive_failures);
    } else if (rate > b->cfg.failure_rate) {
        snprintf(b->reason, sizeof(b->reason), "failure rate %.2f over the last %.0f s",
                 rate, b->cfg.window_s);
    } else {
        return 0;
    }
    open_now(b, now);
    return 1;
}

int stt_breaker_poll(stt_breaker_t *b, double now)
{
    if (b->state != STT_BREAKER_OPEN || now < b->retry_at_s)
        return 0;
    b->state = STT_BREAKER_HALF_OPEN;
    b->probes_ok = 0;
    b->n_half_opened++;
    STT_INFO(0, "breaker_half_open",
             "[PRODUCTION] engine circuit breaker half-open after %.3f s: probing (%d needed)",
             now - b->opened_s, b->cfg.probes);
    return 1;
}

int stt_breaker_probe_done(stt_breaker_t *b, int ok, double now)
{
    if (b->state != STT_BREAKER_HALF_OPEN)
        return 0;
    b->n_probes++;
    if (!ok) {
        b->n_probe_failures++;
        snprintf(b->reason, sizeof(b->reason), "probe failed while half-open");
        open_now(b, now);
        return 1;
    }
    if (++b->probes_ok < b->cfg.probes)
        return 0;
    STT_INFO(0, "breaker_closed",
             "[PRODUCTION] engine circuit breaker closed: %d probes passed, %.3f s after it "
             "opened (%d openings)",
             b->probes_ok, now - b->opened_s, b->openings);
    b->state = STT_BREAKER_CLOSED;
    b->openings = 0;
    b->consecutive_failures = 0;
    b->n_closed++;
    window_clear(b);
    return 1;
}

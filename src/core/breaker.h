/* Circuit breaker around the engine pool: a pure state machine, fed job outcomes and the time.
 *
 * Threads: loop thread only (the server feeds it from the done list and arms an lws timer for
 * stt_breaker_t.retry_at_s; nothing here sleeps or does I/O besides logging).
 *
 *   closed ──(N failures in a row, or failure rate > R over the window)──> open
 *   open ──(backoff timer)──> half-open: probe jobs run, sessions still wait
 *   half-open ──(M probes succeed in a row)──> closed
 *   half-open ──(a probe fails)──> open again, with the backoff ceiling doubled
 *
 * The backoff of the k-th opening since the breaker was last closed is drawn uniformly from
 * [0, min(max, base * 2^(k-1))] ("full jitter"), so a fleet of servers that failed together does
 * not retry together. */
#ifndef STT_CORE_BREAKER_H
#define STT_CORE_BREAKER_H

#include <stdint.h>

typedef enum { STT_BREAKER_CLOSED = 0, STT_BREAKER_OPEN, STT_BREAKER_HALF_OPEN } stt_breaker_state_t;

typedef struct {
    int failures;        /* consecutive failures that open it */
    double failure_rate; /* or a rate above this over the window */
    double window_s;
    int min_jobs; /* outcomes the window must hold before its rate counts */
    double backoff_s, backoff_max_s;
    int probes; /* successful probes in a row that close it */
} stt_breaker_config_t;

#define STT_BREAKER_SLOTS 64 /* the window, in slots of window_s / STT_BREAKER_SLOTS */

typedef struct {
    stt_breaker_config_t cfg;
    stt_breaker_state_t state;
    int consecutive_failures;
    uint32_t ok[STT_BREAKER_SLOTS], failed[STT_BREAKER_SLOTS];
    int64_t slot_of[STT_BREAKER_SLOTS]; /* which slot number each entry holds */
    int openings;                       /* since last closed: the backoff exponent */
    double opened_s;                    /* when it last opened */
    double retry_at_s;                  /* open: when it goes half-open */
    double delay_s, ceiling_s;          /* the last backoff drawn and its ceiling */
    int probes_ok;                      /* half-open: successful probes in a row */
    uint64_t n_opened, n_half_opened, n_closed, n_probes, n_probe_failures;
    uint32_t rng;
    char reason[160]; /* why it last opened */
} stt_breaker_t;

void stt_breaker_init(stt_breaker_t *b, const stt_breaker_config_t *cfg, uint32_t seed);

/* Records the outcome of a session's job (ok = 1 succeeded, 0 failed). While closed it may open
 * the breaker; returns 1 when the state changed. Outcomes while open or half-open only update
 * the counters (jobs that were already running). */
int stt_breaker_record(stt_breaker_t *b, int ok, double now);

/* Records a probe's outcome (half-open only); returns 1 when the state changed. */
int stt_breaker_probe_done(stt_breaker_t *b, int ok, double now);

/* Open and due: moves to half-open and returns 1. */
int stt_breaker_poll(stt_breaker_t *b, double now);

/* Failure rate over the window, or -1 while it holds fewer than min_jobs outcomes. */
double stt_breaker_window_rate(const stt_breaker_t *b, double now);

const char *stt_breaker_state_name(stt_breaker_state_t s);

#endif /* STT_CORE_BREAKER_H */

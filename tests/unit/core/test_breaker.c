/* Unit tests for the circuit breaker state machine (src/server/breaker.c), driven with explicit
 * times: consecutive failures and the windowed failure rate open it; the backoff ceiling doubles
 * per opening up to the cap with the delay drawn below it (full jitter); half-open needs the
 * configured probes in a row; a failed probe reopens with a longer ceiling; closing resets the
 * exponent; outcomes while open do not reopen it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/breaker.h"

static const stt_breaker_config_t CFG = {
    .failures = 3,
    .failure_rate = 0.5,
    .window_s = 10,
    .min_jobs = 10,
    .backoff_s = 1,
    .backoff_max_s = 8,
    .probes = 2,
};

static void opens_on_consecutive_failures(void **state)
{
    (void)state;
    stt_breaker_t b;
    stt_breaker_init(&b, &CFG, 1);
    assert_int_equal(stt_breaker_record(&b, 0, 1.0), 0);
    assert_int_equal(stt_breaker_record(&b, 0, 1.1), 0);
    assert_int_equal(stt_breaker_record(&b, 1, 1.2), 0); /* a success resets the run */
    assert_int_equal(stt_breaker_record(&b, 0, 1.3), 0);
    assert_int_equal(stt_breaker_record(&b, 0, 1.4), 0);
    assert_int_equal(b.state, STT_BREAKER_CLOSED);
    assert_int_equal(stt_breaker_record(&b, 0, 1.5), 1);
    assert_int_equal(b.state, STT_BREAKER_OPEN);
    assert_true(b.delay_s >= 0 && b.delay_s <= 1.0);
    assert_true(fabs(b.retry_at_s - (1.5 + b.delay_s)) < 1e-9);
    /* outcomes of jobs that were already running do not reopen it */
    assert_int_equal(stt_breaker_record(&b, 0, 1.6), 0);
    assert_int_equal(b.n_opened, 1);
}

static void opens_on_failure_rate(void **state)
{
    (void)state;
    stt_breaker_t b;
    stt_breaker_init(&b, &CFG, 2);
    /* 60 % failures, never 3 in a row: opens once the window holds min_jobs outcomes */
    static const int pattern[] = {0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1};
    int opened_at = -1;
    for (int i = 0; i < 12 && opened_at < 0; i++)
        if (stt_breaker_record(&b, pattern[i], 2.0 + 0.1 * i))
            opened_at = i;
    assert_int_equal(opened_at, 9); /* 10 outcomes, 6 failed */
    assert_int_equal(b.state, STT_BREAKER_OPEN);
}

static void old_outcomes_leave_the_window(void **state)
{
    (void)state;
    stt_breaker_t b;
    stt_breaker_init(&b, &CFG, 3);
    for (int i = 0; i < 9; i++) /* ok, ok, failed, ... : 3 of 9 failed */
        stt_breaker_record(&b, i % 3 != 2, 0.0 + 0.01 * i);
    assert_true(stt_breaker_window_rate(&b, 0.1) < 0); /* fewer than min_jobs */
    /* 20 s later the window is empty again */
    assert_true(stt_breaker_window_rate(&b, 20.0) < 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(stt_breaker_record(&b, 1, 20.0 + 0.01 * i), 0);
    assert_true(fabs(stt_breaker_window_rate(&b, 20.2)) < 1e-9);
}

static void backoff_grows_with_jitter_and_probes_close(void **state)
{
    (void)state;
    stt_breaker_t b;
    stt_breaker_init(&b, &CFG, 12345);
    double t = 0;
    for (int i = 0; i < 3; i++)
        stt_breaker_record(&b, 0, t);
    double ceilings[6], delays[6];
    for (int k = 0; k < 6; k++) {
        assert_int_equal(b.state, STT_BREAKER_OPEN);
        ceilings[k] = b.ceiling_s;
        delays[k] = b.delay_s;
        assert_int_equal(stt_breaker_poll(&b, b.retry_at_s - 1e-6), 0); /* not yet */
        t = b.retry_at_s;
        assert_int_equal(stt_breaker_poll(&b, t), 1);
        assert_int_equal(b.state, STT_BREAKER_HALF_OPEN);
        assert_int_equal(stt_breaker_probe_done(&b, 1, t), 0); /* 1 of 2 */
        assert_int_equal(stt_breaker_probe_done(&b, 0, t), 1); /* fails: reopens */
    }
    int jittered = 0;
    for (int k = 0; k < 6; k++) {
        double want = fmin(8.0, pow(2.0, k));
        assert_true(fabs(ceilings[k] - want) < 1e-9);
        assert_true(delays[k] >= 0 && delays[k] <= ceilings[k]);
        jittered += delays[k] < 0.99 * ceilings[k];
    }
    assert_true(jittered >= 3);
    /* half-open, two probes in a row: closed, exponent reset */
    t = b.retry_at_s;
    assert_int_equal(stt_breaker_poll(&b, t), 1);
    assert_int_equal(stt_breaker_probe_done(&b, 1, t), 0);
    assert_int_equal(stt_breaker_probe_done(&b, 1, t), 1);
    assert_int_equal(b.state, STT_BREAKER_CLOSED);
    assert_int_equal(b.openings, 0);
    for (int i = 0; i < 3; i++)
        stt_breaker_record(&b, 0, t + 1);
    assert_int_equal(b.state, STT_BREAKER_OPEN);
    assert_true(fabs(b.ceiling_s - 1.0) < 1e-9);
    assert_int_equal(b.n_opened, 8);
    assert_int_equal(b.n_closed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_on_consecutive_failures),
        cmocka_unit_test(opens_on_failure_rate),
        cmocka_unit_test(old_outcomes_leave_the_window),
        cmocka_unit_test(backoff_grows_with_jitter_and_probes_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

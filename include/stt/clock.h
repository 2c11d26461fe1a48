/* Monotonic time for every module (any thread). */
#ifndef STT_CLOCK_H
#define STT_CLOCK_H

/* CLOCK_MONOTONIC seconds: intervals, deadlines, timeouts. */
double stt_now_s(void);

/* CLOCK_REALTIME seconds since the Unix epoch: timestamps shown to clients and in logs. */
double stt_epoch_s(void);

#endif /* STT_CLOCK_H */

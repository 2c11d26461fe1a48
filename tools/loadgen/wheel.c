/* stt-loadgen's timer wheel: 1 ms slots, each a list of the calls whose next frame is due then,
 * driven by one timerfd. lws keeps its own timers (lws_sul) in one sorted list, so a per-call
 * timer rescheduled 50 times a second costs O(calls) per insertion, which thousands of calls
 * cannot afford; here an insertion is O(1). The one timer is a timerfd adopted into the lws loop
 * rather than an lws_sul: lws 4.1 turns the time to its next sul into a poll() timeout in whole
 * milliseconds rounded down and then polls with timeout 0 until the sul is due, so a tick every
 * millisecond or two kept the loop spinning and the generator burnt the CPU the server under
 * test needed (measured: 0.77 cores for 200 calls).
 *
 * Threading: the loop thread. Ownership: the wheel's slots are in the loadgen_t and link calls
 * it owns; the timerfd belongs to its adopted lws wsi once adopted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "stt/error.h"
#include "stt/log.h"

int64_t lg_wheel_ms(const loadgen_t *g, int64_t t_us)
{
    return (t_us - g->epoch_us) / 1000;
}

void lg_wheel_arm_tick(loadgen_t *g, int64_t at_us)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (at_us < 1)
        at_us = 1; /* zero would disarm it */
    its.it_value.tv_sec = at_us / 1000000;
    its.it_value.tv_nsec = (long)(at_us % 1000000) * 1000;
    g->tick_at_us = at_us;
    if (timerfd_settime(g->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        stt_fatal(__FILE__, __LINE__, "timerfd_settime");
}

void lg_wheel_remove(loadgen_t *g, lg_call_t *c)
{
    if (c->wdue_ms < 0)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        g->wheel[c->wdue_ms % WHEEL_SLOTS] = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wnext = c->wprev = NULL;
    c->wdue_ms = -1;
}

void lg_wheel_advance(loadgen_t *g, int64_t now_ms)
{
    int64_t from = g->wheel_pos_ms + 1;
    if (now_ms - from >= WHEEL_SLOTS)
        from = now_ms - WHEEL_SLOTS + 1; /* after a long stall every slot is due: visit each once */
    for (int64_t m = from; m <= now_ms; m++) {
        lg_call_t *c = g->wheel[m % WHEEL_SLOTS];
        while (c) {
            lg_call_t *next = c->wnext;
            if (c->wdue_ms <= now_ms) {
                lg_wheel_remove(g, c);
                if (c->wsi)
                    lws_callback_on_writable(c->wsi);
            }
            c = next;
        }
    }
    if (now_ms > g->wheel_pos_ms)
        g->wheel_pos_ms = now_ms;
}

void lg_wheel_insert(loadgen_t *g, lg_call_t *c, int64_t due_us)
{
    int64_t due_ms = lg_wheel_ms(g, due_us);
    if (due_ms <= g->wheel_pos_ms) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (due_ms - g->wheel_pos_ms >= WHEEL_SLOTS) /* the tick is late: catch the wheel up first */
        lg_wheel_advance(g, lg_wheel_ms(g, stt_tool_now_us()));
    if (due_ms <= g->wheel_pos_ms) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    lg_wheel_remove(g, c);
    lg_call_t **slot = &g->wheel[due_ms % WHEEL_SLOTS];
    c->wdue_ms = due_ms;
    c->wprev = NULL;
    c->wnext = *slot;
    if (*slot)
        (*slot)->wprev = c;
    *slot = c;
    int64_t slot_us = g->epoch_us + due_ms * 1000;
    if (slot_us < g->tick_at_us)
        lg_wheel_arm_tick(g, slot_us);
}

int64_t lg_wheel_next_us(const loadgen_t *g, int64_t horizon_ms)
{
    for (int64_t m = g->wheel_pos_ms + 1; m <= g->wheel_pos_ms + horizon_ms; m++)
        if (g->wheel[m % WHEEL_SLOTS])
            return g->epoch_us + m * 1000;
    return INT64_MAX;
}

int lg_wheel_timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    struct lws_context *ctx = lws_get_context(wsi);
    loadgen_t *g = ctx ? lws_context_user(ctx) : NULL;
    if (!g || reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    uint64_t expirations;
    if (read(g->tfd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
        return 0; /* re-armed to a later time since it became readable: nothing is due */
    lg_tick(g);
    return 0;
}

int lg_wheel_timer_create(loadgen_t *g)
{
    g->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g->tfd < 0) {
        fprintf(stderr, "stt-loadgen: timerfd_create: %s\n", strerror(errno));
        return STT_EIO;
    }
    lws_sock_file_fd_type fd;
    fd.filefd = g->tfd;
    struct lws_vhost *vh = lws_get_vhost_by_name(g->ctx, "default");
    if (!vh ||
        !lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "stt-loadgen-timer", NULL)) {
        fprintf(stderr, "stt-loadgen: cannot add the timer to the event loop\n");
        close(g->tfd);
        return STT_EIO;
    }
    return 0;
}

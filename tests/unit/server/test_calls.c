/* The out-of-band call registry (src/server/sinks/calls.c) and the webhook's pure parts and
 * queue (webhook.c), without sockets:
 *   - the event schema: every field of call_start, speech_start, partial, final (words in
 *     stream seconds), final_failed, dtmf and call_end, as JSON parsed back;
 *   - seq: 1, 2, 3, ... per call, separate for two calls of the same id;
 *   - repeated partials of a track's utterance suppressed (stt_call_stream_event returns 0), a
 *     new utterance or another track not; empty partials never sent;
 *   - call ids: the rules, and stt_call_start refusing a bad one;
 *   (the URL allow-list rules: tests/unit/proto/test_webhook_url.c)
 *   - the HMAC-SHA256 signature against a known answer from
 *     `printf '1700000000.{"event":"final"}' | openssl dgst -sha256 -hmac whsec_test`;
 *   - the per-call webhook queue bound: events past --webhook_queue dropped and counted (a
 *     destination that refuses connections, so nothing is delivered meanwhile), a registry
 *     with a refused client URL counted;
 *   - what a full queue gives up: a real HTTP receiver on 127.0.0.1 that holds its first
 *     request while another call's queue overflows (--webhook_concurrency 1): that call's
 *     call_start and call_end still arrive, only DTMF went;
 *   - the loop thread's cost of one webhook enqueue, printed (a measurement, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../../../src/server/sinks/calls.h"
#include "../../../src/server/sinks/sink.h"
#include "../../../src/server/sinks/webhook.h"

/* A sink that keeps every event's JSON. */
typedef struct {
    stt_sink_t base;
    char *json[64];
    size_t n;
    int ended;
} keep_sink_t;

static void keep_event(stt_sink_t *s, const stt_call_ref_t *call, const stt_call_event_t *ev)
{
    keep_sink_t *k = (keep_sink_t *)s;
    assert_true(k->n < 64);
    assert_int_equal(strlen(ev->json), ev->len);
    k->json[k->n++] = strdup(ev->json);
}

static void keep_end(stt_sink_t *s, const stt_call_ref_t *call)
{
    ((keep_sink_t *)s)->ended++;
}

static void keep_destroy(stt_sink_t *s)
{
    keep_sink_t *k = (keep_sink_t *)s;
    for (size_t i = 0; i < k->n; i++)
        free(k->json[i]);
    k->n = 0;
}

static const stt_sink_ops_t keep_ops = {"keep", keep_event, keep_end, keep_destroy};

static cJSON *ev_at(keep_sink_t *k, size_t i)
{
    assert_true(i < k->n);
    cJSON *o = cJSON_Parse(k->json[i]);
    assert_non_null(o);
    return o;
}

static const char *str_of(cJSON *o, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static double num_of(cJSON *o, const char *name)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static stt_config_t cfg;

static int setup(void **state)
{
    stt_config_init(&cfg);
    return 0;
}

static int teardown(void **state)
{
    stt_config_dispose(&cfg);
    return 0;
}

static stt_stream_event_t result_event(stt_stream_event_kind_t kind, uint32_t utt,
                                       stt_result_t *r, const char *text)
{
    r->text = (char *)text;
    stt_stream_event_t ev = {.kind = kind, .utt = utt, .result = r};
    ev.start_sample = 16000; /* 1.0 s */
    ev.end_sample = 48000;   /* 3.0 s */
    return ev;
}

static void test_schema_and_seq(void **state)
{
    stt_calls_t *calls = stt_calls_create(&cfg);
    assert_non_null(calls);
    stt_call_param_t params[] = {{"agent", "42"}};
    stt_call_info_t info = {.protocol = "twilio", .call_id = "CA123", .stream_id = "MZ9",
                            .params = params, .n_params = 1, .conn_id = 7};
    /* call_start goes to the sinks present at start; a sink added after sees what follows. */
    stt_call_t *call = stt_call_start(calls, &info);
    assert_non_null(call);
    keep_sink_t k = {.base = {&keep_ops, 1}};
    assert_int_equal(stt_call_add_sink(call, &k.base), 0);

    stt_stream_event_t sp = {.kind = STT_SEV_SPEECH_START, .start_sample = 8000};
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &sp), 0);
    stt_word_t words[2] = {{"hello", 0.1, 0.4, 0.9}, {"there", 0.5, 0.8, -1}};
    stt_result_t r = {.confidence = 0.75, .words = words, .n_words = 2};
    stt_stream_event_t p = result_event(STT_SEV_PARTIAL, 1, &r, " hello there ");
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 1);
    stt_stream_event_t f = result_event(STT_SEV_FINAL, 1, &r, "hello there");
    assert_int_equal(stt_call_stream_event(call, 1, NULL, &f), 0);
    stt_stream_event_t ff = {.kind = STT_SEV_FINAL_FAILED, .utt = 2, .message = "engine down"};
    stt_call_stream_event(call, 0, "inbound", &ff);
    stt_stream_event_t other = {.kind = STT_SEV_RECORDING_STOP};
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &other), 0); /* not an event */
    stt_call_dtmf(call, 0, "inbound", "7");
    stt_call_end(call, "stop");
    assert_int_equal(k.ended, 1);
    assert_int_equal(k.n, 6);

    const char *kinds[] = {"speech_start", "partial", "final", "final_failed", "dtmf", "call_end"};
    for (size_t i = 0; i < k.n; i++) {
        cJSON *o = ev_at(&k, i);
        assert_string_equal(str_of(o, "event"), kinds[i]);
        assert_string_equal(str_of(o, "call_id"), "CA123");
        assert_string_equal(str_of(o, "protocol"), "twilio");
        assert_string_equal(str_of(o, "stream_id"), "MZ9");
        assert_int_equal((int)num_of(o, "seq"), (int)i + 2); /* call_start was 1 */
        assert_true(num_of(o, "time") > 1.7e9);
        cJSON_Delete(o);
    }
    cJSON *o = ev_at(&k, 0);
    assert_string_equal(str_of(o, "track"), "inbound");
    assert_int_equal((int)num_of(o, "channel"), 1);
    assert_true(num_of(o, "start") == 0.5);
    cJSON_Delete(o);
    o = ev_at(&k, 1);
    assert_string_equal(str_of(o, "text"), "hello there"); /* trimmed */
    assert_int_equal((int)num_of(o, "utterance"), 1);
    assert_true(num_of(o, "confidence") == 0.75);
    assert_true(num_of(o, "start") == 1.0 && num_of(o, "end") == 3.0);
    cJSON *w = cJSON_GetObjectItem(o, "words");
    assert_int_equal(cJSON_GetArraySize(w), 2);
    cJSON *w0 = cJSON_GetArrayItem(w, 0), *w1 = cJSON_GetArrayItem(w, 1);
    assert_string_equal(str_of(w0, "word"), "hello");
    assert_true(num_of(w0, "start") == 1.1 && num_of(w0, "end") == 1.4); /* stream seconds */
    assert_true(num_of(w0, "confidence") == 0.9);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(w1, "confidence")));
    cJSON_Delete(o);
    o = ev_at(&k, 2);
    assert_string_equal(str_of(o, "track"), "channel_2"); /* track 1, no name */
    assert_int_equal((int)num_of(o, "channel"), 2);
    cJSON_Delete(o);
    o = ev_at(&k, 3);
    assert_string_equal(str_of(o, "message"), "engine down");
    assert_int_equal((int)num_of(o, "utterance"), 2);
    cJSON_Delete(o);
    o = ev_at(&k, 4);
    assert_string_equal(str_of(o, "digit"), "7");
    cJSON_Delete(o);
    o = ev_at(&k, 5);
    assert_string_equal(str_of(o, "reason"), "stop");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "track")));
    assert_true(num_of(o, "duration") >= 0);
    cJSON_Delete(o);

    stt_calls_stats_t st;
    stt_calls_stats(calls, &st);
    assert_int_equal(st.calls_live, 0);
    assert_int_equal(st.calls_total, 1);
    assert_int_equal(st.events_total, 7);
    assert_int_equal(st.ids_live, 0); /* no call, no subscriber: forgotten */
    stt_sink_release(&k.base);
    stt_calls_destroy(calls);
}

static void test_call_start_params_and_two_calls(void **state)
{
    stt_calls_t *calls = stt_calls_create(&cfg);
    keep_sink_t a = {.base = {&keep_ops, 1}}, b = {.base = {&keep_ops, 1}};
    stt_call_info_t info = {.protocol = "audiosocket", .call_id = "same-id"};
    stt_call_t *c1 = stt_call_start(calls, &info);
    stt_call_t *c2 = stt_call_start(calls, &info); /* the same id twice: both live */
    stt_call_add_sink(c1, &a.base);
    stt_call_add_sink(c2, &b.base);
    stt_call_dtmf(c1, 0, NULL, "1");
    stt_call_dtmf(c2, 0, NULL, "2");
    stt_call_dtmf(c1, 0, NULL, "3");
    stt_calls_stats_t st;
    stt_calls_stats(calls, &st);
    assert_int_equal(st.calls_live, 2);
    assert_int_equal(st.ids_live, 1);
    stt_call_end(c1, NULL);
    stt_call_end(c2, "hangup");
    assert_int_equal(a.n, 3);
    assert_int_equal(b.n, 2);
    cJSON *o = ev_at(&a, 1);
    assert_int_equal((int)num_of(o, "seq"), 3); /* c1's own count: call_start 1, dtmf 2, 3 */
    cJSON_Delete(o);
    o = ev_at(&b, 0);
    assert_int_equal((int)num_of(o, "seq"), 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "stream_id")));
    cJSON_Delete(o);
    o = ev_at(&a, 2);
    assert_string_equal(str_of(o, "reason"), "closed"); /* NULL reason */
    cJSON_Delete(o);
    stt_sink_release(&a.base);
    stt_sink_release(&b.base);
    stt_calls_destroy(calls);
}

static void test_partial_dedupe(void **state)
{
    stt_calls_t *calls = stt_calls_create(&cfg);
    keep_sink_t k = {.base = {&keep_ops, 1}};
    stt_call_info_t info = {.protocol = "twilio", .call_id = "CAdup"};
    stt_call_t *call = stt_call_start(calls, &info);
    stt_call_add_sink(call, &k.base);
    stt_result_t r = {0};
    stt_stream_event_t p = result_event(STT_SEV_PARTIAL, 1, &r, "one two");
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 1);
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 0); /* repeat */
    p.result = &r;
    r.text = " one two ";
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 0); /* same after trim */
    assert_int_equal(stt_call_stream_event(call, 1, "outbound", &p), 1); /* other track */
    r.text = "";
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 0); /* empty: never */
    r.text = "one two three";
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 1);
    stt_stream_event_t f = result_event(STT_SEV_FINAL, 1, &r, "one two three");
    stt_call_stream_event(call, 0, "inbound", &f);
    p = result_event(STT_SEV_PARTIAL, 2, &r, "one two three"); /* next utterance: new */
    assert_int_equal(stt_call_stream_event(call, 0, "inbound", &p), 1);
    stt_call_end(call, "stop");
    assert_int_equal(k.n, 6); /* 4 partials, final, call_end */
    stt_sink_release(&k.base);
    stt_calls_destroy(calls);
}

static void test_call_ids(void **state)
{
    assert_int_equal(stt_call_id_valid("CA0123456789abcdef0123456789abcdef"), 0);
    assert_int_equal(stt_call_id_valid("3f0e5a1c-0000-4000-8000-0123456789ab"), 0);
    assert_int_not_equal(stt_call_id_valid(""), 0);
    assert_int_not_equal(stt_call_id_valid(NULL), 0);
    assert_int_not_equal(stt_call_id_valid("a/b"), 0);
    assert_int_not_equal(stt_call_id_valid("a b"), 0);
    assert_int_not_equal(stt_call_id_valid("a\"b"), 0);
    assert_int_not_equal(stt_call_id_valid("caf\xc3\xa9"), 0);
    char longid[STT_CALL_ID_MAX + 2];
    memset(longid, 'x', sizeof(longid));
    longid[STT_CALL_ID_MAX] = '\0';
    assert_int_equal(stt_call_id_valid(longid), 0);
    longid[STT_CALL_ID_MAX] = 'x';
    longid[STT_CALL_ID_MAX + 1] = '\0';
    assert_int_not_equal(stt_call_id_valid(longid), 0);
    stt_calls_t *calls = stt_calls_create(&cfg);
    stt_call_info_t info = {.protocol = "twilio", .call_id = "bad id"};
    assert_null(stt_call_start(calls, &info));
    stt_calls_destroy(calls);
}

static void test_signature(void **state)
{
    char sig[80];
    const char *body = "{\"event\":\"final\"}";
    stt_webhook_sign("whsec_test", 1700000000LL, body, strlen(body), sig, sizeof(sig));
    assert_string_equal(sig, "sha256=b3843d1aec27162ba8b1d9ce070e4cbbf79fad64d1c2bee6d138a5ae5a3b907a");
    stt_webhook_sign("whsec_tesT", 1700000000LL, body, strlen(body), sig, sizeof(sig));
    assert_string_not_equal(sig,
                            "sha256=b3843d1aec27162ba8b1d9ce070e4cbbf79fad64d1c2bee6d138a5ae5a3b907a");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_queue_bound_and_refusals(void **state)
{
    /* Port 1 refuses connections: every attempt fails at once and backs off (0.5 s first), so
     * nothing leaves the queue while the test fills it. */
    free(cfg.webhook_url);
    cfg.webhook_url = strdup("http://127.0.0.1:1/hook");
    cfg.webhook_queue = 3;
    cfg.webhook_retries = 100;
    stt_calls_t *calls = stt_calls_create(&cfg);
    assert_non_null(calls);
    stt_call_info_t info = {.protocol = "audiosocket", .call_id = "q1",
                            .webhook_url = "https://elsewhere.example/hook"};
    stt_call_t *call = stt_call_start(calls, &info); /* 1 event; the client URL refused */
    for (int i = 0; i < 9; i++)
        stt_call_dtmf(call, 0, NULL, "1");
    stt_calls_stats_t st;
    stt_calls_stats(calls, &st);
    assert_int_equal(st.webhook_urls_refused, 1);
    assert_int_equal(st.webhook_dropped, 7); /* 10 events, 3 kept */
    assert_int_equal(st.webhook_queued, 3);
    assert_int_equal(st.webhook_ok, 0);
    stt_call_end(call, "stop");
    stt_calls_stats(calls, &st);
    assert_int_equal(st.webhook_dropped, 8);
    stt_calls_destroy(calls); /* leftovers dropped; the thread joins */

    /* The loop's cost of one enqueue: a copy, a lock, an append and, when the call's queue was
     * idle, a wake-up of the sender. Measured with and without a webhook on the same events:
     * (a) 20,000 DTMF events of one call whose queue already waits (no wake-up: the common
     * case while a request is in flight); (b) the call_start of 2,000 calls (a new queue each,
     * so a wake-up each). */
    double with_s[2], without_s[2];
    const int n = 20000, n_calls = 2000;
    stt_call_t **many = calloc((size_t)n_calls, sizeof(*many));
    for (int pass = 0; pass < 2; pass++) {
        free(cfg.webhook_url);
        cfg.webhook_url = strdup(pass == 0 ? "http://127.0.0.1:1/hook" : "");
        cfg.webhook_queue = 100000;
        calls = stt_calls_create(&cfg);
        info.webhook_url = NULL;
        info.call_id = "bench";
        call = stt_call_start(calls, &info);
        double t0 = now_s();
        for (int i = 0; i < n; i++)
            stt_call_dtmf(call, 0, NULL, "5"); /* ~190 bytes of JSON, enqueued */
        double busy = (now_s() - t0) / n;
        t0 = now_s();
        for (int i = 0; i < n_calls; i++)
            many[i] = stt_call_start(calls, &info);
        double fresh = (now_s() - t0) / n_calls;
        stt_calls_stats(calls, &st);
        assert_int_equal(st.webhook_dropped, 0);
        for (int i = 0; i < n_calls; i++)
            stt_call_end(many[i], "stop");
        stt_call_end(call, "stop");
        stt_calls_destroy(calls);
        (pass == 0 ? with_s : without_s)[0] = busy;
        (pass == 0 ? with_s : without_s)[1] = fresh;
    }
    free(many);
    printf("loop thread, per call event: a waiting queue %.2f us with a webhook, %.2f without "
           "(enqueue %.2f us); an idle queue (wakes the sender) %.2f us with, %.2f without "
           "(enqueue + wake-up %.2f us)\n",
           with_s[0] * 1e6, without_s[0] * 1e6, (with_s[0] - without_s[0]) * 1e6,
           with_s[1] * 1e6, without_s[1] * 1e6, (with_s[1] - without_s[1]) * 1e6);
}

/* A webhook receiver on 127.0.0.1: one request per connection (it answers "Connection:
 * close"), each held until the gate opens, its body kept. */
typedef struct {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_open, stop;
    int held; /* requests read and waiting at the gate */
    char *bodies[64];
    size_t n;
} receiver_t;

static void *receiver_main(void *arg)
{
    receiver_t *r = arg;
    for (;;) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return NULL;
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[8192];
        size_t got = 0;
        long body_len = -1;
        char *body = NULL;
        while (got < sizeof(buf) - 1) {
            ssize_t k = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (!end)
                continue;
            char *cl = strcasestr(buf, "content-length:");
            body_len = cl ? strtol(cl + 15, NULL, 10) : 0;
            if ((long)(got - (size_t)(end + 4 - buf)) >= body_len) {
                body = end + 4;
                break;
            }
        }
        pthread_mutex_lock(&r->mu);
        r->held++;
        while (!r->gate_open && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        r->held--;
        if (body && r->n < 64)
            r->bodies[r->n++] = strndup(body, (size_t)body_len);
        pthread_mutex_unlock(&r->mu);
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
}

static void receiver_start(receiver_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r->fd, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(r->fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->thread, NULL, receiver_main, r);
}

static void receiver_open_gate(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->gate_open = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static size_t receiver_count(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int receiver_held(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->held;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void receiver_stop(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    close(r->fd);
    for (size_t i = 0; i < r->n; i++)
        free(r->bodies[i]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* Call "held"'s call_start is in flight and held by the receiver; with one request per
 * destination, call "waiting" queues everything: its call_start, 9 DTMF and its call_end in a
 * queue of 3. What is dropped is DTMF: the receiver gets waiting's call_start, its last DTMF and
 * its call_end, in that order. */
static void test_queue_keeps_bookends(void **state)
{
    receiver_t r;
    receiver_start(&r);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", r.port);
    free(cfg.webhook_url);
    cfg.webhook_url = strdup(url);
    cfg.webhook_queue = 3;
    cfg.webhook_concurrency = 1;
    cfg.webhook_timeout = 10;
    stt_calls_t *calls = stt_calls_create(&cfg);
    assert_non_null(calls);
    stt_call_info_t a = {.protocol = "twilio", .call_id = "held"};
    stt_call_t *held = stt_call_start(calls, &a);
    double deadline = now_s() + 5;
    while (receiver_held(&r) == 0 && now_s() < deadline) { /* held's request is at the gate */
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(receiver_held(&r), 1);
    stt_call_info_t b = {.protocol = "twilio", .call_id = "waiting"};
    stt_call_t *waiting = stt_call_start(calls, &b);
    for (int i = 0; i < 9; i++)
        stt_call_dtmf(waiting, 0, "inbound", i == 8 ? "9" : "1");
    stt_call_end(waiting, "stop");
    stt_call_end(held, "stop");
    stt_calls_stats_t st;
    stt_calls_stats(calls, &st);
    assert_int_equal(st.webhook_dropped, 8); /* 11 events of "waiting" in 3 places */
    receiver_open_gate(&r);
    deadline = now_s() + 10;
    while (receiver_count(&r) < 5 && now_s() < deadline) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(receiver_count(&r), 5);
    const char *want[] = {"call_start", "dtmf", "call_end"};
    size_t k = 0;
    for (size_t i = 0; i < r.n; i++) {
        cJSON *o = cJSON_Parse(r.bodies[i]);
        assert_non_null(o);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "call_id"));
        const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(o, "event"));
        if (strcmp(id, "waiting") == 0) {
            assert_true(k < 3);
            assert_string_equal(ev, want[k]);
            if (k == 1) /* the newest DTMF stayed */
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "digit")), "9");
            k++;
        }
        cJSON_Delete(o);
    }
    assert_int_equal(k, 3);
    stt_calls_destroy(calls);
    receiver_stop(&r);
}

static void test_bad_config(void **state)
{
    free(cfg.webhook_url);
    cfg.webhook_url = strdup("not a url");
    assert_null(stt_calls_create(&cfg));
    free(cfg.webhook_url);
    cfg.webhook_url = strdup("");
    char *allow[] = {"https://ok.example/", "hooks.example.com"};
    stt_strlist_t saved = cfg.webhook_allow;
    cfg.webhook_allow = (stt_strlist_t){2, allow};
    assert_null(stt_calls_create(&cfg)); /* an allow entry that is no URL */
    cfg.webhook_allow = saved;
    char *kinds[] = {"final", "finals"};
    saved = cfg.webhook_events;
    cfg.webhook_events = (stt_strlist_t){2, kinds};
    assert_null(stt_calls_create(&cfg)); /* a typo in --webhook_events */
    cfg.webhook_events = saved;
    char *saved_ca = cfg.webhook_ca_file;
    cfg.webhook_ca_file = "/nonexistent/ca.pem";
    assert_null(stt_calls_create(&cfg)); /* --webhook_ca_file that cannot be read */
    cfg.webhook_ca_file = "/";
    assert_null(stt_calls_create(&cfg)); /* a directory */
    cfg.webhook_ca_file = saved_ca;
    stt_calls_t *ok = stt_calls_create(&cfg);
    assert_non_null(ok);
    stt_calls_destroy(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_start_params_and_two_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_ids, setup, teardown),
        cmocka_unit_test(test_signature),
        cmocka_unit_test_setup_teardown(test_queue_bound_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_keeps_bookends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

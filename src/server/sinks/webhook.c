/* Webhook delivery (webhook.h): destinations as sinks, per-call bounded queues, and the sender
 * thread that runs libcurl's multi interface.
 *
 * Threads: the sinks' on_event/on_call_end (the enqueue), stt_webhook_sink and the stats run on
 * the loop thread; everything that touches a socket runs on the sender thread. One mutex guards
 * the destinations list, the call queues and the counters; the loop holds it for a hash lookup
 * and a list append (then, when the call's queue was idle, curl_multi_wakeup), the sender for a
 * pass over the ready queues between two curl_multi_poll calls, never across network I/O.
 * Ownership: the webhook owns the destinations (freed once their last sink reference is gone
 * and no queue uses them), the call queues (freed once their call ended and they are empty, by
 * whichever thread sees that last) and the queued events
 * (copied at enqueue). A request's body is its queue head, which the loop never drops while the
 * request is in flight. */
#include "webhook.h"

#include "stt/clock.h"
#include "stt/error.h"
#include "stt/list.h"
#include "stt/log.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_BUCKETS 1024
#define BACKOFF_BASE_S 0.5
#define BACKOFF_MAX_S 30.0

typedef struct wev {
    struct wev *next;
    char kind[16];
    uint64_t seq;
    size_t len;
    char json[]; /* NUL-terminated */
} wev_t;

typedef struct dest {
    stt_sink_t base; /* first: the sink; refs touched on the loop thread only */
    stt_webhook_t *wh;
    stt_list_t link; /* in wh->dests */
    char *url;
    int released;    /* the last sink reference is gone (under the mutex) */
    int n_queues;    /* call queues that name it */
    int in_flight;
    int warned_tls;  /* its certificate failed verification, logged (reset by a success) */
} dest_t;

typedef struct callq {
    struct callq *hnext; /* in its bucket */
    stt_list_t link;     /* in wh->queues */
    stt_list_t ready;    /* in wh->ready while it has events and no request in flight */
    uint64_t key;
    dest_t *dest;
    char call_id[132];
    wev_t *head, *tail;
    size_t n;
    int in_flight, ended, attempts, warned_drop;
    double next_try_s; /* monotonic: when the head may be (re)tried */
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE]; /* curl's detail of the request in flight */
} callq_t;

struct stt_webhook {
    const stt_config_t *cfg;
    pthread_mutex_t mu;
    pthread_t thread;
    int stop;
    CURLM *multi;
    stt_list_t dests, queues;
    /* The queues the sender may start a request for: an event waiting and none in flight (some
     * wait for a backoff or a free slot of their destination). A wake-up looks at these only,
     * so a healthy destination costs O(1) per event whatever the number of calls. */
    stt_list_t ready;
    callq_t *buckets[N_BUCKETS];
    stt_webhook_stats_t st;
    unsigned seed;
};

/* ---- signatures (pure; the URL rules are src/proto/webhook_url.c) ---- */

void stt_webhook_sign(const char *secret, long long timestamp, const char *body, size_t len,
                      char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char ts[32];
    int tn = snprintf(ts, sizeof(ts), "%lld.", timestamp);
    unsigned char *msg = stt_malloc((size_t)tn + len + 1);
    memcpy(msg, ts, (size_t)tn);
    memcpy(msg + tn, body, len);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)tn + len, mac, &mac_len);
    free(msg);
    static const char hex[] = "0123456789abcdef";
    size_t o = (size_t)snprintf(out, cap, "sha256=");
    for (unsigned int i = 0; i < mac_len && o + 2 < cap; i++) {
        out[o++] = hex[mac[i] >> 4];
        out[o++] = hex[mac[i] & 15];
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* ---- queues (under the mutex) ---- */

static uint32_t bucket_of(uint64_t key, const dest_t *d)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)d;
    return (uint32_t)((h ^ (h >> 29)) % N_BUCKETS);
}

static callq_t *queue_find(stt_webhook_t *wh, uint64_t key, dest_t *d)
{
    for (callq_t *q = wh->buckets[bucket_of(key, d)]; q; q = q->hnext)
        if (q->key == key && q->dest == d)
            return q;
    return NULL;
}

static void queue_pop(callq_t *q)
{
    wev_t *e = q->head;
    q->head = e->next;
    if (!q->head)
        q->tail = NULL;
    q->n--;
    free(e);
}

/* Frees a destination nobody uses any more (its sink released, no queue names it). */
static void dest_maybe_free(dest_t *d)
{
    if (!d->released || d->n_queues > 0)
        return;
    stt_list_remove(&d->link);
    free(d->url);
    free(d);
}

static void queue_free(stt_webhook_t *wh, callq_t *q)
{
    for (callq_t **pp = &wh->buckets[bucket_of(q->key, q->dest)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == q) {
            *pp = q->hnext;
            break;
        }
    }
    stt_list_remove(&q->link);
    stt_list_remove(&q->ready);
    while (q->head) {
        queue_pop(q);
        wh->st.dropped++;
        wh->st.queued--;
    }
    dest_t *d = q->dest;
    d->n_queues--;
    free(q);
    dest_maybe_free(d);
}

/* What a full queue gives up first: a partial (a later partial or the final supersedes it),
 * then DTMF and speech_start, then finals; call_start and call_end, a receiver's bookends of
 * the call, last. */
static int keep_rank(const char *kind)
{
    if (strcmp(kind, "partial") == 0)
        return 0;
    if (strcmp(kind, "final") == 0 || strcmp(kind, "final_failed") == 0)
        return 2;
    if (strcmp(kind, "call_start") == 0 || strcmp(kind, "call_end") == 0)
        return 3;
    return 1;
}

/* A full queue and a new event of `kind`: the oldest waiting event of the lowest rank goes,
 * never the head while it is in flight. Returns 0 when every waiting event ranks above the new
 * one (or none waits): then the new event is the one dropped. */
static int drop_one(callq_t *q, const char *kind)
{
    wev_t *prev = q->in_flight ? q->head : NULL;
    wev_t *first = q->in_flight ? q->head->next : q->head;
    wev_t *victim = NULL, *victim_prev = NULL;
    int best = keep_rank(kind) + 1;
    for (wev_t *e = first; e; prev = e, e = e->next) {
        int r = keep_rank(e->kind);
        if (r < best) {
            best = r;
            victim = e;
            victim_prev = prev;
        }
    }
    if (!victim)
        return 0;
    if (victim_prev)
        victim_prev->next = victim->next;
    else
        q->head = victim->next;
    if (q->tail == victim)
        q->tail = victim_prev;
    q->n--;
    free(victim);
    return 1;
}

/* ---- the sinks (loop thread) ---- */

static int event_wanted(const stt_config_t *cfg, const char *kind)
{
    for (size_t i = 0; i < cfg->webhook_events.count; i++)
        if (strcmp(cfg->webhook_events.items[i], kind) == 0)
            return 1;
    return 0;
}

static void dest_event(stt_sink_t *sink, const stt_call_ref_t *call, const stt_call_event_t *ev)
{
    dest_t *d = (dest_t *)sink;
    stt_webhook_t *wh = d->wh;
    if (!event_wanted(wh->cfg, ev->kind))
        return;
    wev_t *e = stt_malloc(sizeof(*e) + ev->len + 1);
    e->next = NULL;
    snprintf(e->kind, sizeof(e->kind), "%s", ev->kind);
    e->seq = ev->seq;
    e->len = ev->len;
    memcpy(e->json, ev->json, ev->len + 1);
    int warn = 0;
    pthread_mutex_lock(&wh->mu);
    callq_t *q = queue_find(wh, call->key, d);
    if (!q) {
        q = stt_calloc(1, sizeof(*q));
        q->key = call->key;
        q->dest = d;
        snprintf(q->call_id, sizeof(q->call_id), "%s", call->call_id);
        stt_list_init(&q->ready);
        uint32_t b = bucket_of(call->key, d);
        q->hnext = wh->buckets[b];
        wh->buckets[b] = q;
        stt_list_insert_tail(&wh->queues, &q->link);
        d->n_queues++;
    }
    if (q->n >= (size_t)wh->cfg->webhook_queue) {
        wh->st.dropped++;
        warn = !q->warned_drop;
        q->warned_drop = 1;
        if (drop_one(q, e->kind)) {
            wh->st.queued--;
        } else {
            free(e);
            e = NULL;
        }
    }
    if (e) {
        if (q->tail)
            q->tail->next = e;
        else
            q->head = e;
        q->tail = e;
        q->n++;
        wh->st.queued++;
    }
    /* The sender needs waking only when the queue becomes ready: with a request in flight it
     * starts the next one when that ends, and a ready queue already waits for its turn. */
    int wake = !q->in_flight && !stt_list_linked(&q->ready);
    if (wake)
        stt_list_insert_tail(&wh->ready, &q->ready);
    pthread_mutex_unlock(&wh->mu);
    if (wake)
        curl_multi_wakeup(wh->multi);
    if (warn)
        STT_WARN(call->conn_id, "webhook_queue_full",
                 "call %s: %d webhook events waiting for %s; dropping (counted, logged once per "
                 "call)",
                 call->call_id, (int)wh->cfg->webhook_queue, d->url);
}

static void dest_call_end(stt_sink_t *sink, const stt_call_ref_t *call)
{
    dest_t *d = (dest_t *)sink;
    stt_webhook_t *wh = d->wh;
    pthread_mutex_lock(&wh->mu);
    callq_t *q = queue_find(wh, call->key, d);
    if (q) {
        q->ended = 1; /* freed once it is empty: now, or by the sender */
        if (!q->head && !q->in_flight)
            queue_free(wh, q);
    }
    pthread_mutex_unlock(&wh->mu);
}

static void dest_destroy(stt_sink_t *sink)
{
    dest_t *d = (dest_t *)sink;
    stt_webhook_t *wh = d->wh;
    pthread_mutex_lock(&wh->mu);
    d->released = 1;
    dest_maybe_free(d);
    pthread_mutex_unlock(&wh->mu);
}

static const stt_sink_ops_t dest_ops = {"webhook", dest_event, dest_call_end, dest_destroy};

stt_sink_t *stt_webhook_sink(stt_webhook_t *wh, const char *url)
{
    pthread_mutex_lock(&wh->mu);
    stt_list_t *n;
    stt_list_foreach(n, &wh->dests) {
        dest_t *d = stt_container_of(n, dest_t, link);
        if (!d->released && strcmp(d->url, url) == 0) {
            pthread_mutex_unlock(&wh->mu);
            stt_sink_retain(&d->base);
            return &d->base;
        }
    }
    dest_t *d = stt_calloc(1, sizeof(*d));
    d->base.ops = &dest_ops;
    d->base.refs = 1;
    d->wh = wh;
    d->url = stt_strdup(url);
    stt_list_insert_tail(&wh->dests, &d->link);
    pthread_mutex_unlock(&wh->mu);
    return &d->base;
}

void stt_webhook_stats(stt_webhook_t *wh, stt_webhook_stats_t *out)
{
    pthread_mutex_lock(&wh->mu);
    *out = wh->st;
    pthread_mutex_unlock(&wh->mu);
}

/* ---- the sender thread ---- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return size * nmemb;
}

/* Starts the request for the queue's head (under the mutex: no I/O happens here). */
static void start_request(stt_webhook_t *wh, callq_t *q)
{
    wev_t *e = q->head;
    CURL *c = curl_easy_init();
    if (!c) {
        q->next_try_s = stt_now_s() + 1.0;
        return;
    }
    struct curl_slist *h = NULL;
    char line[256];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    snprintf(line, sizeof(line), "X-STT-Event: %s", e->kind);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "X-STT-Call-Id: %s", q->call_id);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "X-STT-Seq: %llu", (unsigned long long)e->seq);
    h = curl_slist_append(h, line);
    const char *secret = wh->cfg->webhook_secret;
    if (secret && secret[0]) {
        long long ts = (long long)time(NULL);
        char sig[80];
        stt_webhook_sign(secret, ts, e->json, e->len, sig, sizeof(sig));
        snprintf(line, sizeof(line), "X-STT-Timestamp: %lld", ts);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "X-STT-Signature: %s", sig);
        h = curl_slist_append(h, line);
    }
    long timeout_ms = (long)(wh->cfg->webhook_timeout * 1000.0);
    curl_easy_setopt(c, CURLOPT_URL, q->dest->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Peer and host verification stay libcurl's default (on); there is no option to turn
     * them off. A private CA comes in through --webhook_ca_file. */
    const char *ca = wh->cfg->webhook_ca_file;
    if (ca && ca[0]) { /* the file replaces the store: no built-in CA directory beside it */
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    q->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)&e->json[0]);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)e->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "stt-server");
    curl_easy_setopt(c, CURLOPT_PRIVATE, q);
    q->easy = c;
    q->headers = h;
    stt_list_remove(&q->ready);
    q->in_flight = 1;
    q->dest->in_flight++;
    curl_multi_add_handle(wh->multi, c);
}

static double backoff_s(stt_webhook_t *wh, int attempt)
{
    double ceil_s = BACKOFF_BASE_S;
    for (int i = 1; i < attempt && ceil_s < BACKOFF_MAX_S; i++)
        ceil_s *= 2;
    if (ceil_s > BACKOFF_MAX_S)
        ceil_s = BACKOFF_MAX_S;
    /* Between half and all of the ceiling: calls that failed together spread out, and each
     * retry still waits longer than the one before on average. */
    double u = (double)rand_r(&wh->seed) / RAND_MAX;
    return ceil_s * (0.5 + 0.5 * u);
}

/* A certificate the receiver's TLS handshake did not verify against the CA store: it will not
 * fix itself within a retry's backoff, so it fails at once, like a 4xx. */
static int cert_error(CURLcode res)
{
    return res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE ||
           res == CURLE_SSL_ISSUER_ERROR || res == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* A request ended (under the mutex). */
static void finish_request(stt_webhook_t *wh, callq_t *q, CURLcode res)
{
    long code = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(wh->multi, q->easy);
    curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->headers);
    q->easy = NULL;
    q->headers = NULL;
    q->in_flight = 0;
    q->dest->in_flight--;
    int ok = res == CURLE_OK && code >= 200 && code < 300;
    int tls = cert_error(res);
    int retryable = (res != CURLE_OK && !tls) || code >= 500 || code == 429;
    if (!ok && retryable && q->attempts < wh->cfg->webhook_retries && !wh->stop) {
        q->attempts++;
        wh->st.retried++;
        q->next_try_s = stt_now_s() + backoff_s(wh, q->attempts);
        stt_list_insert_tail(&wh->ready, &q->ready); /* schedule() waits out the backoff */
        return;
    }
    if (ok) {
        wh->st.ok++;
        q->dest->warned_tls = 0;
    } else if (tls) {
        wh->st.failed++;
        if (!q->dest->warned_tls)
            STT_WARN(0, "webhook_tls",
                     "call %s: %s event %llu to %s failed: TLS certificate not verified: %s "
                     "(--webhook_ca_file names a private CA); its events fail without retries "
                     "(counted, logged once per destination)",
                     q->call_id, q->head->kind, (unsigned long long)q->head->seq, q->dest->url,
                     q->errbuf[0] ? q->errbuf : curl_easy_strerror(res));
        q->dest->warned_tls = 1;
    } else {
        wh->st.failed++;
        STT_WARN(0, "webhook_failed", "call %s: %s event %llu to %s failed after %d attempts: %s",
                 q->call_id, q->head->kind, (unsigned long long)q->head->seq, q->dest->url,
                 q->attempts + 1,
                 res != CURLE_OK ? (q->errbuf[0] ? q->errbuf : curl_easy_strerror(res))
                 : code ? "HTTP error" : "no answer");
    }
    q->attempts = 0;
    q->next_try_s = 0;
    queue_pop(q);
    wh->st.queued--;
    if (q->head)
        stt_list_insert_tail(&wh->ready, &q->ready);
    else if (q->ended)
        queue_free(wh, q);
}

/* Starts what may start among the ready queues; returns the ms until a backoff ends (capped). */
static long schedule(stt_webhook_t *wh)
{
    double now = stt_now_s();
    double wait_s = 1.0;
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &wh->ready) {
        callq_t *q = stt_container_of(n, callq_t, ready);
        if (!q->head) { /* not expected: a ready queue has an event */
            stt_list_remove(&q->ready);
            if (q->ended)
                queue_free(wh, q);
            continue;
        }
        if (wh->stop)
            continue;
        if (q->next_try_s > now) {
            if (q->next_try_s - now < wait_s)
                wait_s = q->next_try_s - now;
            continue;
        }
        if (q->dest->in_flight < wh->cfg->webhook_concurrency)
            start_request(wh, q); /* leaves the ready list */
    }
    return (long)(wait_s * 1000.0) + 1;
}

static void *sender_main(void *arg)
{
    stt_webhook_t *wh = arg;
    double stop_deadline = 0;
    for (;;) {
        pthread_mutex_lock(&wh->mu);
        long timeout_ms = schedule(wh);
        int stopping = wh->stop;
        pthread_mutex_unlock(&wh->mu);
        int running = 0;
        curl_multi_perform(wh->multi, &running);
        CURLMsg *msg;
        int left, finished = 0;
        while ((msg = curl_multi_info_read(wh->multi, &left))) {
            finished++;
            if (msg->msg != CURLMSG_DONE)
                continue;
            callq_t *q = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            CURLcode res = msg->data.result;
            pthread_mutex_lock(&wh->mu);
            finish_request(wh, q, res);
            pthread_mutex_unlock(&wh->mu);
        }
        if (stopping) {
            if (stop_deadline == 0)
                stop_deadline = stt_now_s() + wh->cfg->webhook_timeout;
            if (running == 0 || stt_now_s() > stop_deadline)
                break;
            timeout_ms = 50;
        }
        /* A finished request may have a successor waiting in its queue (enqueued while it
         * ran, its wakeup already spent): schedule again before sleeping. */
        if (finished && !stopping)
            continue;
        curl_multi_poll(wh->multi, NULL, 0, (int)timeout_ms, NULL);
    }
    return NULL;
}

stt_webhook_t *stt_webhook_create(const stt_config_t *cfg)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        STT_ERROR(0, "webhook", "libcurl failed to initialise");
        return NULL;
    }
    stt_webhook_t *wh = stt_calloc(1, sizeof(*wh));
    wh->cfg = cfg;
    wh->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)wh;
    pthread_mutex_init(&wh->mu, NULL);
    stt_list_init(&wh->dests);
    stt_list_init(&wh->queues);
    stt_list_init(&wh->ready);
    wh->multi = curl_multi_init();
    if (!wh->multi || pthread_create(&wh->thread, NULL, sender_main, wh) != 0) {
        STT_ERROR(0, "webhook", "cannot start the webhook sender");
        if (wh->multi)
            curl_multi_cleanup(wh->multi);
        pthread_mutex_destroy(&wh->mu);
        free(wh);
        curl_global_cleanup();
        return NULL;
    }
    return wh;
}

void stt_webhook_destroy(stt_webhook_t *wh)
{
    if (!wh)
        return;
    pthread_mutex_lock(&wh->mu);
    wh->stop = 1;
    pthread_mutex_unlock(&wh->mu);
    curl_multi_wakeup(wh->multi);
    pthread_join(wh->thread, NULL);
    /* Requests still running past the deadline are abandoned; queued events are dropped. */
    stt_list_t *n, *nx;
    stt_list_foreach_safe(n, nx, &wh->queues) {
        callq_t *q = stt_container_of(n, callq_t, link);
        if (q->easy) {
            curl_multi_remove_handle(wh->multi, q->easy);
            curl_easy_cleanup(q->easy);
            curl_slist_free_all(q->headers);
            q->easy = NULL;
            q->in_flight = 0;
            q->dest->in_flight--;
        }
        queue_free(wh, q);
    }
    if (wh->st.dropped)
        STT_INFO(0, "webhook_stop", "webhook sender stopped: %llu ok, %llu failed, %llu dropped",
                 (unsigned long long)wh->st.ok, (unsigned long long)wh->st.failed,
                 (unsigned long long)wh->st.dropped);
    stt_list_foreach_safe(n, nx, &wh->dests) {
        dest_t *d = stt_container_of(n, dest_t, link);
        stt_list_remove(&d->link);
        free(d->url);
        free(d);
    }
    curl_multi_cleanup(wh->multi);
    pthread_mutex_destroy(&wh->mu);
    free(wh);
    curl_global_cleanup();
}

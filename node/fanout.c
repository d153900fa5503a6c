/* fanout: per-peer queues of blocks, their POSTs and their waiters (see fanout.h).
 *
 * Design: other threads only touch the inbox (blocks submitted, under lock). The worker owns
 * the rest: one state per peer with a ring of cfg.queue entries and at most one POST in flight,
 * and the broadcasts whose waiter has not been answered. A block's JSON is shared by every
 * peer's queue (reference counted); each delivery its waiter waits for is "counted", and the
 * waiter is answered when the counted deliveries have all ended, or at its deadline. A full
 * queue drops its oldest block: a later block with a gap makes the peer sync, so nothing is lost
 * for good. */
#include "fanout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"
#include "xfer.h"

/* A block's JSON shared by the queues of every peer. */
struct bcast {
    unsigned refs;    /* worker-only after the inbox: queue entries, posts, the waiting list */
    unsigned pending; /* counted deliveries not yet ended */
    bool all_ok;      /* every counted delivery so far was answered 2xx */
    void (*done)(void *arg, bool ok, uint64_t height); /* the waiter, or NULL once answered */
    void *arg;
    int64_t deadline_ms;
    size_t len;
    struct bcast *next; /* inbox link */
    char data[];
};

/* A block queued for one peer. counted: the broadcast's waiter waits for this delivery. */
struct qentry {
    struct bcast *b;
    bool counted;
};

/* A POST of a block to a peer. */
struct post {
    struct xfer x;
    struct peer *peer;
    struct bcast *b; /* a reference */
    bool counted;
};

struct peer {
    struct fanout *f;
    char *url;
    struct qentry *queue; /* ring of cfg.queue entries */
    size_t qhead, qlen;
    struct post *post; /* in flight, or NULL */
    bool down;         /* the last request failed (logged once per change) */
    bool lagging;      /* missed a broadcast deadline: not waited for until it answers again */
};

struct fanout {
    CURLM *multi;
    struct chain *chain;
    struct config cfg;
    struct curl_slist *post_headers;
    struct fanout_stats stats; /* atomic */

    pthread_mutex_t lock; /* guards inbox and stopped */
    struct bcast *inbox, *inbox_tail;
    bool stopped;

    /* worker-only */
    struct peer **ps;
    size_t nps;
    struct bcast **waiting; /* broadcasts whose waiter has not been answered */
    size_t nwaiting, capwaiting;
};

struct fanout *fanout_new(CURLM *multi, struct chain *c, const struct config *cfg)
{
    struct fanout *f = xcalloc(1, sizeof(*f));
    f->multi = multi;
    f->chain = c;
    f->cfg = *cfg;
    if (f->cfg.queue == 0)
        f->cfg.queue = 1;
    f->post_headers = curl_slist_append(NULL, "Content-Type: application/json");
    f->post_headers = curl_slist_append(f->post_headers, "Expect:");
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

/* "INDEX SHORTHASH" of b's block, for log lines. */
static const char *bcast_label(const struct bcast *b, char out[BLOCK_LABEL_SIZE])
{
    return block_label(b->data, b->len, out);
}

static void bcast_unref(struct bcast *b)
{
    if (b && --b->refs == 0)
        free(b);
}

/* ---- waiters ---- */

/* Answer b's waiter (once). */
static void answer(struct fanout *f, struct bcast *b)
{
    if (b->done == NULL)
        return;
    void (*done)(void *, bool, uint64_t) = b->done;
    b->done = NULL;
    for (size_t i = 0; i < f->nwaiting; i++) {
        if (f->waiting[i] == b) {
            f->waiting[i] = f->waiting[--f->nwaiting];
            break;
        }
    }
    done(b->arg, b->all_ok && b->pending == 0, chain_tip(f->chain, NULL));
    bcast_unref(b);
}

/* One counted delivery of b ended (answered 2xx when ok). */
static void settle(struct fanout *f, struct bcast *b, bool ok)
{
    if (!ok)
        b->all_ok = false;
    if (b->pending > 0 && --b->pending == 0)
        answer(f, b);
}

/* Take the oldest entry of p's queue. */
static struct qentry dequeue(struct peer *p)
{
    struct qentry q = p->queue[p->qhead];
    p->qhead = (p->qhead + 1) % p->f->cfg.queue;
    p->qlen--;
    __atomic_sub_fetch(&p->f->stats.queued, 1, __ATOMIC_RELAXED);
    return q;
}

/* p answered (reachable) or failed on the network: log a change once. */
static void peer_mark(struct peer *p, bool reachable, const char *why)
{
    if (reachable && p->down)
        log_info("peer %s is reachable again", p->url);
    else if (!reachable && !p->down)
        log_warn("peer %s: %s", p->url, why);
    else if (!reachable)
        log_debug("peer %s: %s", p->url, why);
    p->down = !reachable;
}

/* ---- posts ---- */

static void post_done_cb(struct xfer *x, CURLcode rc, long status)
{
    struct post *po = x->arg;
    struct peer *p = po->peer;
    struct fanout *f = p->f;
    bool ok = rc == CURLE_OK && status >= 200 && status < 300;
    char what[256], why[200], label[BLOCK_LABEL_SIZE];
    if (po->counted)
        settle(f, po->b, ok);
    if (rc == CURLE_OK)
        p->lagging = false;
    if (rc != CURLE_OK)
        snprintf(what, sizeof(what), "POST /block failed: %s",
                 xfer_strerror(x, rc, why, sizeof(why)));
    else
        snprintf(what, sizeof(what), "POST /block answered HTTP %ld", status);
    peer_mark(p, rc == CURLE_OK, what);
    if (rc == CURLE_OK && !ok)
        log_debug("peer %s: %s", p->url, what);
    if (ok)
        log_debug("block %s relayed to %s (HTTP %ld)", bcast_label(po->b, label), p->url, status);
    else
        log_debug("block %s not relayed to %s: %s", bcast_label(po->b, label), p->url, what);
    __atomic_add_fetch(ok ? &f->stats.posts_sent : &f->stats.posts_failed, 1, __ATOMIC_RELAXED);
    p->post = NULL;
    bcast_unref(po->b);
    xfer_clear(x);
    free(po);
}

/* POST the oldest block of p's queue. */
static void post_start(struct fanout *f, struct peer *p)
{
    struct post *po = xcalloc(1, sizeof(*po));
    struct qentry q = dequeue(p);
    po->peer = p;
    po->b = q.b;
    po->counted = q.counted;
    xfer_init(&po->x, &f->cfg, p->url, "/block", post_done_cb, po);
    xfer_set_post(&po->x, po->b->data, po->b->len, f->post_headers);
    p->post = po;
    xfer_start(f->multi, &po->x);
}

/* Stop p's POST; a broadcast that waited for it counts it as failed. */
static void post_abort(struct fanout *f, struct peer *p)
{
    struct post *po = p->post;
    if (po == NULL)
        return;
    xfer_abort(f->multi, &po->x);
    if (po->counted)
        settle(f, po->b, false);
    bcast_unref(po->b);
    free(po);
    p->post = NULL;
}

/* ---- peers ---- */

static void peer_free(struct peer *p)
{
    struct fanout *f = p->f;
    post_abort(f, p);
    while (p->qlen > 0) {
        struct qentry q = dequeue(p);
        if (q.counted)
            settle(f, q.b, false);
        bcast_unref(q.b);
    }
    free(p->queue);
    free(p->url);
    free(p);
}

void fanout_set_peers(struct fanout *f, char *const *urls)
{
    size_t n = 0;
    while (urls[n])
        n++;
    struct peer **next = xcalloc(n ? n : 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < f->nps; j++) {
            if (f->ps[j] && strcmp(f->ps[j]->url, urls[i]) == 0) {
                next[i] = f->ps[j];
                f->ps[j] = NULL;
                break;
            }
        }
        if (next[i] == NULL) {
            next[i] = xcalloc(1, sizeof(struct peer));
            next[i]->f = f;
            next[i]->url = xstrdup(urls[i]);
            next[i]->queue = xcalloc(f->cfg.queue, sizeof(struct qentry));
        }
    }
    for (size_t j = 0; j < f->nps; j++) {
        if (f->ps[j])
            peer_free(f->ps[j]);
    }
    free(f->ps);
    f->ps = next;
    f->nps = n;
}

void fanout_mark_peer(struct fanout *f, const char *url, bool reachable, const char *why)
{
    for (size_t i = 0; i < f->nps; i++) {
        if (strcmp(f->ps[i]->url, url) == 0) {
            peer_mark(f->ps[i], reachable, why);
            return;
        }
    }
}

/* ---- broadcasts ---- */

void fanout_submit(struct fanout *f, const char *json, size_t len,
                   void (*done)(void *arg, bool ok, uint64_t height), void *arg)
{
    struct bcast *b = xmalloc(sizeof(*b) + len + 1);
    *b = (struct bcast){.all_ok = true, .len = len, .done = done, .arg = arg};
    memcpy(b->data, json, len);
    b->data[len] = '\0';
    if (done)
        b->deadline_ms = clock_now_ms() + f->cfg.broadcast_wait_ms;
    pthread_mutex_lock(&f->lock);
    bool stopped = f->stopped;
    if (!stopped) {
        if (f->inbox_tail)
            f->inbox_tail->next = b;
        else
            f->inbox = b;
        f->inbox_tail = b;
    }
    pthread_mutex_unlock(&f->lock);
    if (stopped) {
        free(b);
        if (done)
            done(arg, false, chain_tip(f->chain, NULL));
        return;
    }
    curl_multi_wakeup(f->multi);
}

/* Queue b for peer p, dropping the oldest entry of a full queue. */
static void enqueue(struct fanout *f, struct peer *p, struct bcast *b)
{
    if (p->qlen == f->cfg.queue) {
        struct qentry old = dequeue(p);
        char label[BLOCK_LABEL_SIZE];
        log_debug("block %s dropped from the full queue of %s", bcast_label(old.b, label), p->url);
        if (old.counted)
            settle(f, old.b, false);
        bcast_unref(old.b);
        __atomic_add_fetch(&f->stats.posts_dropped, 1, __ATOMIC_RELAXED);
    }
    /* A peer known to be down or slow is still sent the block, but not waited for. */
    bool counted = b->done != NULL && !p->down && !p->lagging;
    b->refs++;
    p->queue[(p->qhead + p->qlen) % f->cfg.queue] = (struct qentry){b, counted};
    p->qlen++;
    __atomic_add_fetch(&f->stats.queued, 1, __ATOMIC_RELAXED);
    if (counted)
        b->pending++;
}

/* Take the inbox (newest last). */
static struct bcast *take_inbox(struct fanout *f)
{
    pthread_mutex_lock(&f->lock);
    struct bcast *in = f->inbox;
    f->inbox = f->inbox_tail = NULL;
    pthread_mutex_unlock(&f->lock);
    return in;
}

void fanout_run(struct fanout *f)
{
    for (struct bcast *b = take_inbox(f), *next; b; b = next) {
        next = b->next;
        b->refs = 1; /* held by this loop until distributed */
        if (b->done) {
            b->refs++; /* held by the waiting list until answered */
            if (f->nwaiting == f->capwaiting) {
                f->capwaiting = f->capwaiting ? f->capwaiting * 2 : 64;
                f->waiting = xrealloc(f->waiting, f->capwaiting * sizeof(*f->waiting));
            }
            f->waiting[f->nwaiting++] = b;
        }
        for (size_t i = 0; i < f->nps; i++)
            enqueue(f, f->ps[i], b);
        if (b->done && b->pending == 0)
            answer(f, b);
        bcast_unref(b);
    }
    for (size_t i = 0; i < f->nps; i++) {
        if (f->ps[i]->post == NULL && f->ps[i]->qlen > 0)
            post_start(f, f->ps[i]);
    }
}

bool fanout_ready(struct fanout *f)
{
    pthread_mutex_lock(&f->lock);
    bool ready = f->inbox != NULL;
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < f->nps && !ready; i++)
        ready = f->ps[i]->post == NULL && f->ps[i]->qlen > 0;
    return ready;
}

/* b's deadline passed: the peers still holding it are lagging; answer its waiter. */
static void expire(struct fanout *f, struct bcast *b)
{
    for (size_t i = 0; i < f->nps; i++) {
        struct peer *p = f->ps[i];
        if (p->post && p->post->b == b && p->post->counted) {
            p->post->counted = false;
            p->lagging = true;
        }
        for (size_t k = 0; k < p->qlen; k++) {
            struct qentry *q = &p->queue[(p->qhead + k) % f->cfg.queue];
            if (q->b == b && q->counted) {
                q->counted = false;
                p->lagging = true;
            }
        }
        if (p->lagging)
            log_debug("peer %s is lagging: broadcasts no longer wait for it", p->url);
    }
    b->all_ok = false;
    answer(f, b);
}

int fanout_expire(struct fanout *f, int max_ms)
{
    int64_t now = clock_now_ms(), wait = max_ms;
    for (size_t i = 0; i < f->nwaiting;) {
        struct bcast *b = f->waiting[i];
        if (b->deadline_ms <= now) {
            expire(f, b); /* removes b from the list */
            continue;
        }
        if (b->deadline_ms - now < wait)
            wait = b->deadline_ms - now;
        i++;
    }
    return (int)wait;
}

void fanout_get_stats(struct fanout *f, struct fanout_stats *out)
{
    out->posts_sent = __atomic_load_n(&f->stats.posts_sent, __ATOMIC_RELAXED);
    out->posts_failed = __atomic_load_n(&f->stats.posts_failed, __ATOMIC_RELAXED);
    out->posts_dropped = __atomic_load_n(&f->stats.posts_dropped, __ATOMIC_RELAXED);
    out->queued = __atomic_load_n(&f->stats.queued, __ATOMIC_RELAXED);
}

void fanout_stop(struct fanout *f)
{
    pthread_mutex_lock(&f->lock);
    f->stopped = true;
    pthread_mutex_unlock(&f->lock);
    uint64_t height = chain_tip(f->chain, NULL);
    for (struct bcast *b = take_inbox(f), *next; b; b = next) {
        next = b->next;
        if (b->done)
            b->done(b->arg, false, height);
        free(b);
    }
    for (size_t i = 0; i < f->nps; i++)
        peer_free(f->ps[i]);
    free(f->ps);
    f->ps = NULL;
    f->nps = 0;
    while (f->nwaiting > 0)
        answer(f, f->waiting[0]);
    free(f->waiting);
    f->waiting = NULL;
    f->capwaiting = 0;
}

void fanout_free(struct fanout *f)
{
    if (f == NULL)
        return;
    fanout_stop(f);
    curl_slist_free_all(f->post_headers);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* gossip: the node's one worker thread that talks to peers (broadcasts and syncs).
 *
 * Design: other threads only touch the inbox (a list of blocks to broadcast, the sync request
 * counter and the waiters) under g->lock, then wake the worker with curl_multi_wakeup(). The
 * worker owns everything else: one state per peer with a bounded queue of blocks and at most one
 * POST in flight (so a peer receives blocks in order), and the sync in progress.
 *
 * Syncs are numbered. A request takes ticket = ++requested. When no sync runs and requested >
 * started, the worker starts one and sets started = requested: that sync began after every
 * request up to `started`, so when it finishes, completed = started and every waiter with
 * ticket <= completed is answered. Requests that arrive during a sync have a larger ticket and
 * cause exactly one more sync. */
#include "gossip.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xalloc.h"

/* A block's JSON shared by the queues of every peer. */
struct bcast {
    unsigned refs;               /* worker-only after the inbox: queue entries and posts */
    unsigned pending;            /* counted deliveries not yet settled */
    bool all_ok;                 /* every counted delivery so far was answered 2xx */
    struct gossip_waiter *waiter; /* answered when pending reaches 0 or at the deadline */
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

enum xfer_kind { XFER_POST_BLOCK, XFER_GET_BLOCKS };

struct peer_state;

struct xfer {
    enum xfer_kind kind;
    struct peer_state *peer;
    struct bcast *b;   /* XFER_POST_BLOCK: the block sent (a reference) */
    bool counted;      /* XFER_POST_BLOCK: its broadcast waits for this answer */
    struct buf body;   /* XFER_GET_BLOCKS: the answer so far */
    size_t cap;        /* XFER_GET_BLOCKS: bytes allowed */
    bool too_big;      /* the answer passed cap */
    CURL *easy;
};

struct peer_state {
    char *url;
    struct qentry *queue; /* ring of cfg.queue entries */
    size_t qhead, qlen;
    struct xfer *post;  /* in flight, or NULL */
    struct xfer *fetch; /* GET /blocks of the running sync, or NULL */
    bool down;          /* the last request failed (logged once per change) */
    bool lagging;       /* missed a broadcast deadline: not waited for until it answers again */
};

struct gossip {
    struct chain *chain;
    struct peers *peers;
    struct config cfg;
    CURLM *multi;
    struct curl_slist *post_headers;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards the fields down to stats */
    struct bcast *inbox, *inbox_tail;
    uint64_t requested, started_gen, completed;
    struct gossip_waiter *waiters;
    bool stopping;
    struct gossip_stats stats;

    /* worker-only state */
    struct peer_state **ps;
    size_t nps;
    uint64_t peers_gen;
    bool syncing;
    size_t fetches_left;
    struct chain *best; /* the longest valid chain fetched in this sync */
    uint64_t best_height;
    struct bcast **waiting; /* broadcasts whose waiter has not been answered */
    size_t nwaiting, capwaiting;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bcast_unref(struct bcast *b)
{
    if (b && --b->refs == 0)
        free(b);
}

struct gossip *gossip_new(struct chain *c, struct peers *p, const struct config *cfg)
{
    struct gossip *g = xcalloc(1, sizeof(*g));
    g->chain = c;
    g->peers = p;
    g->cfg = *cfg;
    if (g->cfg.queue == 0)
        g->cfg.queue = 1;
    pthread_mutex_init(&g->lock, NULL);
    g->peers_gen = UINT64_MAX;
    return g;
}

/* ---- broadcast waiters ---- */

/* Answer b's waiter (once). */
static void answer(struct gossip *g, struct bcast *b)
{
    struct gossip_waiter *w = b->waiter;
    if (w == NULL)
        return;
    b->waiter = NULL;
    for (size_t i = 0; i < g->nwaiting; i++) {
        if (g->waiting[i] == b) {
            g->waiting[i] = g->waiting[--g->nwaiting];
            break;
        }
    }
    w->cb(w->arg, b->all_ok && b->pending == 0, chain_tip(g->chain, NULL));
    bcast_unref(b);
}

/* One counted delivery of b ended (answered 2xx when ok). */
static void settle(struct gossip *g, struct bcast *b, bool ok)
{
    if (!ok)
        b->all_ok = false;
    if (b->pending > 0 && --b->pending == 0)
        answer(g, b);
}

/* ---- transfers ---- */

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static size_t collect_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    if (x->body.len + n > x->cap) {
        x->too_big = true;
        return 0; /* aborts the transfer */
    }
    buf_append(&x->body, ptr, n);
    return n;
}

static CURL *easy_for(struct gossip *g, struct xfer *x, const char *path)
{
    char url[CONFIG_MAX_URL + 16];
    CURL *e = curl_easy_init();
    if (e == NULL)
        abort();
    snprintf(url, sizeof(url), "%s%s", x->peer->url, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, g->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, g->cfg.timeout_ms);
    x->easy = e;
    return e;
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    bcast_unref(x->b);
    buf_free(&x->body);
    free(x);
}

static void start_post(struct gossip *g, struct peer_state *p)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->kind = XFER_POST_BLOCK;
    x->peer = p;
    x->b = p->queue[p->qhead].b;
    x->counted = p->queue[p->qhead].counted;
    p->qhead = (p->qhead + 1) % g->cfg.queue;
    p->qlen--;
    CURL *e = easy_for(g, x, "/block");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, &x->b->data[0]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->b->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, g->post_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
    p->post = x;
    curl_multi_add_handle(g->multi, e);
}

static void start_fetch(struct gossip *g, struct peer_state *p)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->kind = XFER_GET_BLOCKS;
    x->peer = p;
    x->cap = g->cfg.max_chain_bytes;
    CURL *e = easy_for(g, x, "/blocks");
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->cap);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    p->fetch = x;
    curl_multi_add_handle(g->multi, e);
}

static void abort_xfer(struct gossip *g, struct xfer *x)
{
    if (x == NULL)
        return;
    curl_multi_remove_handle(g->multi, x->easy);
    if (x->b && x->counted)
        settle(g, x->b, false);
    xfer_free(x);
}

/* ---- peers ---- */

static void peer_free(struct gossip *g, struct peer_state *p)
{
    abort_xfer(g, p->post);
    if (p->fetch) {
        abort_xfer(g, p->fetch);
        g->fetches_left--;
    }
    while (p->qlen > 0) {
        struct qentry q = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % g->cfg.queue;
        p->qlen--;
        if (q.counted)
            settle(g, q.b, false);
        bcast_unref(q.b);
    }
    free(p->queue);
    free(p->url);
    free(p);
}

/* Bring the worker's peer states in line with the peer set. */
static void reconcile_peers(struct gossip *g)
{
    uint64_t gen = peers_generation(g->peers);
    if (gen == g->peers_gen)
        return;
    char **urls = peers_list(g->peers, &gen);
    size_t n = 0;
    while (urls[n])
        n++;
    struct peer_state **next = xcalloc(n ? n : 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < g->nps; j++) {
            if (g->ps[j] && strcmp(g->ps[j]->url, urls[i]) == 0) {
                next[i] = g->ps[j];
                g->ps[j] = NULL;
                break;
            }
        }
        if (next[i] == NULL) {
            next[i] = xcalloc(1, sizeof(struct peer_state));
            next[i]->url = xstrdup(urls[i]);
            next[i]->queue = xcalloc(g->cfg.queue, sizeof(struct qentry));
        }
    }
    for (size_t j = 0; j < g->nps; j++) {
        if (g->ps[j])
            peer_free(g, g->ps[j]);
    }
    free(g->ps);
    g->ps = next;
    g->nps = n;
    g->peers_gen = gen;
    peers_list_free(urls);
}

static void enqueue(struct gossip *g, struct peer_state *p, struct bcast *b)
{
    if (p->qlen == g->cfg.queue) {
        /* Drop the oldest: a later block with a gap makes the peer sync, so nothing is lost. */
        struct qentry old = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % g->cfg.queue;
        p->qlen--;
        if (old.counted)
            settle(g, old.b, false);
        bcast_unref(old.b);
        pthread_mutex_lock(&g->lock);
        g->stats.posts_dropped++;
        pthread_mutex_unlock(&g->lock);
    }
    /* A peer known to be down or slow is still sent the block, but not waited for. */
    bool counted = b->waiter != NULL && !p->down && !p->lagging;
    b->refs++;
    p->queue[(p->qhead + p->qlen) % g->cfg.queue] = (struct qentry){b, counted};
    p->qlen++;
    if (counted)
        b->pending++;
}

/* b's deadline passed: the peers still holding it are lagging; answer its waiter. */
static void expire(struct gossip *g, struct bcast *b)
{
    for (size_t i = 0; i < g->nps; i++) {
        struct peer_state *p = g->ps[i];
        if (p->post && p->post->b == b && p->post->counted) {
            p->post->counted = false;
            p->lagging = true;
        }
        for (size_t k = 0; k < p->qlen; k++) {
            struct qentry *q = &p->queue[(p->qhead + k) % g->cfg.queue];
            if (q->b == b && q->counted) {
                q->counted = false;
                p->lagging = true;
            }
        }
        if (p->lagging)
            log_debug("peer %s is lagging: broadcasts no longer wait for it", p->url);
    }
    b->all_ok = false;
    answer(g, b);
}

static void mark_peer(struct peer_state *p, bool ok, const char *what)
{
    if (ok && p->down) {
        log_info("peer %s is reachable again", p->url);
    } else if (!ok && !p->down) {
        log_warn("peer %s: %s", p->url, what);
    } else if (!ok) {
        log_debug("peer %s: %s", p->url, what);
    }
    p->down = !ok;
}

/* ---- syncs ---- */

static void start_sync(struct gossip *g)
{
    g->syncing = true;
    g->fetches_left = 0;
    g->best = NULL;
    g->best_height = chain_tip(g->chain, NULL);
    for (size_t i = 0; i < g->nps; i++) {
        start_fetch(g, g->ps[i]);
        g->fetches_left++;
    }
    log_debug("sync started with %zu peers", g->fetches_left);
}

static void fetched(struct gossip *g, struct xfer *x, CURLcode rc, long status)
{
    char err[256];
    struct chain *c = NULL;
    if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, sizeof(err), "sync: ignoring the chain: more than %zu bytes", x->cap);
    } else if (rc != CURLE_OK) {
        snprintf(err, sizeof(err), "sync: GET /blocks failed: %s", curl_easy_strerror(rc));
    } else if (status != 200) {
        snprintf(err, sizeof(err), "sync: GET /blocks answered HTTP %ld", status);
    } else {
        char why[200];
        c = chain_parse(x->body.data ? x->body.data : "", x->body.len, why, sizeof(why));
        if (c == NULL)
            snprintf(err, sizeof(err), "sync: ignoring an invalid chain: %s", why);
    }
    if (c == NULL) {
        mark_peer(x->peer, rc == CURLE_OK, err);
        if (rc == CURLE_OK)
            log_warn("peer %s: %s", x->peer->url, err);
        return;
    }
    mark_peer(x->peer, true, NULL);
    uint64_t h = chain_tip(c, NULL);
    if (h > g->best_height) {
        chain_free(g->best);
        g->best = c;
        g->best_height = h;
    } else {
        chain_free(c);
    }
}

static void finish_sync(struct gossip *g)
{
    struct buf tip = BUF_INIT;
    bool replaced = false;
    if (g->best) {
        replaced = chain_adopt_if_longer(g->chain, g->best, &tip);
        chain_free(g->best);
        g->best = NULL;
    }
    uint64_t height = chain_tip(g->chain, NULL);
    if (replaced) {
        log_info("sync: replaced the chain, height now %llu", (unsigned long long)height);
        gossip_broadcast(g, tip.data, tip.len, NULL, NULL, NULL);
    } else {
        log_debug("sync: kept the chain at height %llu", (unsigned long long)height);
    }
    buf_free(&tip);
    g->syncing = false;

    struct gossip_waiter *ready = NULL;
    pthread_mutex_lock(&g->lock);
    g->completed = g->started_gen;
    g->stats.syncs++;
    g->stats.syncs_replaced += replaced;
    struct gossip_waiter **pp = &g->waiters;
    while (*pp) {
        struct gossip_waiter *w = *pp;
        if (w->ticket <= g->completed) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&g->lock);
    while (ready) {
        struct gossip_waiter *w = ready;
        ready = w->next;
        w->cb(w->arg, replaced, height);
    }
}

/* ---- the worker ---- */

static void done(struct gossip *g, CURL *e, CURLcode rc)
{
    struct xfer *x = NULL;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(g->multi, e);
    struct peer_state *p = x->peer;
    if (x->kind == XFER_POST_BLOCK) {
        bool ok = rc == CURLE_OK && status >= 200 && status < 300;
        if (x->counted)
            settle(g, x->b, ok);
        if (rc == CURLE_OK)
            p->lagging = false;
        char what[160];
        if (rc != CURLE_OK)
            snprintf(what, sizeof(what), "POST /block failed: %s", curl_easy_strerror(rc));
        else
            snprintf(what, sizeof(what), "POST /block answered HTTP %ld", status);
        mark_peer(p, rc == CURLE_OK, what);
        if (rc == CURLE_OK && !ok)
            log_debug("peer %s: %s", p->url, what);
        pthread_mutex_lock(&g->lock);
        if (ok)
            g->stats.posts_sent++;
        else
            g->stats.posts_failed++;
        pthread_mutex_unlock(&g->lock);
        p->post = NULL;
    } else {
        fetched(g, x, rc, status);
        p->fetch = NULL;
        g->fetches_left--;
    }
    xfer_free(x);
}

static void *worker_main(void *arg)
{
    struct gossip *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        bool stop = g->stopping;
        struct bcast *in = g->inbox;
        g->inbox = g->inbox_tail = NULL;
        bool want_sync = !g->syncing && g->requested > g->started_gen;
        if (want_sync)
            g->started_gen = g->requested;
        pthread_mutex_unlock(&g->lock);
        if (stop) {
            while (in) {
                struct bcast *b = in;
                in = b->next;
                if (b->waiter)
                    b->waiter->cb(b->waiter->arg, false, chain_tip(g->chain, NULL));
                free(b);
            }
            break;
        }

        reconcile_peers(g);
        while (in) {
            struct bcast *b = in;
            in = b->next;
            b->refs = 1; /* held by this loop until distributed */
            if (b->waiter) {
                b->refs++; /* held by the waiting list until answered */
                if (g->nwaiting == g->capwaiting) {
                    g->capwaiting = g->capwaiting ? g->capwaiting * 2 : 64;
                    g->waiting = xrealloc(g->waiting, g->capwaiting * sizeof(*g->waiting));
                }
                g->waiting[g->nwaiting++] = b;
            }
            for (size_t i = 0; i < g->nps; i++)
                enqueue(g, g->ps[i], b);
            if (b->waiter && b->pending == 0)
                answer(g, b);
            bcast_unref(b);
        }
        if (want_sync)
            start_sync(g);
        for (size_t i = 0; i < g->nps; i++) {
            if (g->ps[i]->post == NULL && g->ps[i]->qlen > 0)
                start_post(g, g->ps[i]);
        }

        int running = 0, left = 0;
        curl_multi_perform(g->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE)
                done(g, m->easy_handle, m->data.result);
        }
        if (g->syncing && g->fetches_left == 0)
            finish_sync(g);

        /* Answer the broadcasts whose deadline passed; sleep until the next deadline. */
        int64_t now = now_ms(), wait = 1000;
        for (size_t i = 0; i < g->nwaiting;) {
            struct bcast *b = g->waiting[i];
            if (b->deadline_ms <= now) {
                expire(g, b); /* removes b from the list */
                continue;
            }
            if (b->deadline_ms - now < wait)
                wait = b->deadline_ms - now;
            i++;
        }
        /* Loop again at once when there is queued work that could start now. */
        bool more = g->syncing && g->fetches_left == 0;
        pthread_mutex_lock(&g->lock);
        more = more || (!g->syncing && g->requested > g->started_gen) || g->inbox != NULL;
        pthread_mutex_unlock(&g->lock);
        for (size_t i = 0; i < g->nps && !more; i++)
            more = g->ps[i]->post == NULL && g->ps[i]->qlen > 0;
        if (!more)
            curl_multi_poll(g->multi, NULL, 0, (int)wait, NULL);
    }

    /* Stopping: abort everything and answer every waiter. */
    for (size_t i = 0; i < g->nps; i++)
        peer_free(g, g->ps[i]);
    free(g->ps);
    g->ps = NULL;
    g->nps = 0;
    chain_free(g->best);
    g->best = NULL;
    while (g->nwaiting > 0)
        answer(g, g->waiting[0]);
    free(g->waiting);
    g->waiting = NULL;
    uint64_t height = chain_tip(g->chain, NULL);
    pthread_mutex_lock(&g->lock);
    struct gossip_waiter *w = g->waiters;
    g->waiters = NULL;
    pthread_mutex_unlock(&g->lock);
    while (w) {
        struct gossip_waiter *next = w->next;
        w->cb(w->arg, false, height);
        w = next;
    }
    return NULL;
}

int gossip_start(struct gossip *g, char *err, size_t errsz)
{
    g->multi = curl_multi_init();
    if (g->multi == NULL) {
        snprintf(err, errsz, "cannot create a libcurl multi handle");
        return -1;
    }
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, (long)(g->cfg.max_peers * 2 + 4));
    g->post_headers = curl_slist_append(NULL, "Content-Type: application/json");
    g->post_headers = curl_slist_append(g->post_headers, "Expect:");
    if (pthread_create(&g->thread, NULL, worker_main, g) != 0) {
        snprintf(err, errsz, "cannot start the gossip thread");
        return -1;
    }
    g->started = true;
    return 0;
}

void gossip_broadcast(struct gossip *g, const char *json, size_t len, struct gossip_waiter *w,
                      gossip_done_cb cb, void *arg)
{
    struct bcast *b = xmalloc(sizeof(*b) + len + 1);
    *b = (struct bcast){.all_ok = true, .len = len};
    memcpy(b->data, json, len);
    b->data[len] = '\0';
    if (w) {
        w->cb = cb;
        w->arg = arg;
        b->waiter = w;
        b->deadline_ms = now_ms() + g->cfg.broadcast_wait_ms;
    }
    pthread_mutex_lock(&g->lock);
    bool stopping = g->stopping;
    if (!stopping) {
        if (g->inbox_tail)
            g->inbox_tail->next = b;
        else
            g->inbox = b;
        g->inbox_tail = b;
    }
    pthread_mutex_unlock(&g->lock);
    if (stopping) {
        free(b);
        if (w)
            cb(arg, false, chain_tip(g->chain, NULL));
        return;
    }
    if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_request_sync(struct gossip *g)
{
    pthread_mutex_lock(&g->lock);
    g->requested++;
    g->stats.sync_requests++;
    pthread_mutex_unlock(&g->lock);
    if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_sync_wait(struct gossip *g, struct gossip_waiter *w, gossip_done_cb cb, void *arg)
{
    w->cb = cb;
    w->arg = arg;
    pthread_mutex_lock(&g->lock);
    bool stopping = g->stopping;
    if (!stopping) {
        w->ticket = ++g->requested;
        g->stats.sync_requests++;
        w->next = g->waiters;
        g->waiters = w;
    }
    pthread_mutex_unlock(&g->lock);
    if (stopping)
        cb(arg, false, chain_tip(g->chain, NULL));
    else if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_get_stats(struct gossip *g, struct gossip_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    pthread_mutex_unlock(&g->lock);
}

void gossip_stop(struct gossip *g)
{
    if (g == NULL || !g->started)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_mutex_unlock(&g->lock);
    curl_multi_wakeup(g->multi);
    pthread_join(g->thread, NULL);
    g->started = false;
}

void gossip_free(struct gossip *g)
{
    if (g == NULL)
        return;
    gossip_stop(g);
    struct bcast *b = g->inbox;
    while (b) {
        struct bcast *next = b->next;
        if (b->waiter)
            b->waiter->cb(b->waiter->arg, false, chain_tip(g->chain, NULL));
        free(b);
        b = next;
    }
    if (g->multi)
        curl_multi_cleanup(g->multi);
    curl_slist_free_all(g->post_headers);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

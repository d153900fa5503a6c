/* gossip: the node's one worker thread that talks to peers (broadcasts and syncs).
 *
 * Design: the worker owns one libcurl multi handle, shared by the fan-out (fanout.c) and the
 * syncs (sync.c), and runs one loop: bring both in line with the peer set, start the work that
 * was asked for, let libcurl move every request, hand each finished request to its owner
 * (xfer_finish()), collect the pages the parsers have finished, end a sync whose fetches have
 * all settled, then sleep in curl_multi_poll() until a request moves, a deadline comes or
 * another thread wakes it (curl_multi_wakeup()).
 *
 * Syncs are numbered. A request takes ticket = ++requested. When no sync runs and requested >
 * started, the worker starts one and sets started = requested: that sync began after every
 * request up to `started`, so when it finishes, completed = started and every waiter with
 * ticket <= completed is answered. Requests that arrive during a sync have a larger ticket and
 * cause exactly one more sync. When a sync replaces the chain, the new tip is broadcast. */
#include "gossip.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "log.h"
#include "sync.h"
#include "xalloc.h"
#include "xfer.h"

#define GOSSIP_IDLE_MS 1000 /* the longest sleep of the worker with nothing to wait for */

struct gossip {
    struct chain *chain;
    struct peers *peers;
    struct config cfg;
    CURLM *multi;
    struct fanout *fanout;
    struct sync *sync;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards the fields down to sync_requests */
    uint64_t requested, started_gen, completed;
    struct gossip_waiter *waiters;
    bool stopping;
    uint64_t sync_requests;

    /* worker-only */
    uint64_t peers_gen;
    char **urls; /* the peer set as the worker last saw it (NULL-terminated) */
};

/* The sync reports a peer's health to the fan-out, which keeps it. */
static void gossip_peer_seen_cb(void *arg, const char *url, bool reachable, const char *why)
{
    struct gossip *g = arg;
    fanout_mark_peer(g->fanout, url, reachable, why);
}

struct gossip *gossip_new(struct chain *c, struct peers *p, const struct config *cfg)
{
    struct gossip *g = xcalloc(1, sizeof(*g));
    g->chain = c;
    g->peers = p;
    g->cfg = *cfg;
    if (g->cfg.sync_page == 0)
        g->cfg.sync_page = 1;
    g->multi = curl_multi_init();
    if (g->multi == NULL)
        abort(); /* out of memory */
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, (long)(g->cfg.max_peers * 2 + 4));
    g->fanout = fanout_new(g->multi, c, &g->cfg);
    g->sync = sync_new(g->multi, c, &g->cfg, gossip_peer_seen_cb, g);
    pthread_mutex_init(&g->lock, NULL);
    g->peers_gen = UINT64_MAX;
    g->urls = xcalloc(1, sizeof(char *));
    return g;
}

/* Bring the fan-out and the running sync in line with the peer set, when it changed. */
static void gossip_reconcile_peers(struct gossip *g)
{
    uint64_t gen = peers_generation(g->peers);
    if (gen == g->peers_gen)
        return;
    peers_list_free(g->urls);
    g->urls = peers_list(g->peers, &gen);
    g->peers_gen = gen;
    fanout_set_peers(g->fanout, g->urls);
    sync_keep_peers(g->sync, g->urls);
}

/* Take the waiters whose sync is over (ticket <= completed) off the list. Caller holds lock. */
static struct gossip_waiter *gossip_take_waiters(struct gossip *g, uint64_t completed)
{
    struct gossip_waiter *ready = NULL, **pp = &g->waiters;
    while (*pp) {
        struct gossip_waiter *w = *pp;
        if (w->ticket <= completed) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    return ready;
}

/* Answer each waiter of the list. */
static void gossip_answer_waiters(struct gossip_waiter *w, bool ok, uint64_t height)
{
    while (w) {
        struct gossip_waiter *next = w->next;
        w->cb(w->arg, ok, height);
        w = next;
    }
}

/* End the running sync if every fetch has settled: broadcast a new tip, answer its waiters. */
static void gossip_finish_sync(struct gossip *g)
{
    struct buf tip = BUF_INIT;
    bool replaced = false;
    if (!sync_finish(g->sync, &replaced, &tip))
        return;
    if (replaced)
        fanout_submit(g->fanout, tip.data, tip.len, NULL, NULL);
    buf_free(&tip);
    uint64_t height = chain_tip(g->chain, NULL);
    pthread_mutex_lock(&g->lock);
    g->completed = g->started_gen;
    struct gossip_waiter *ready = gossip_take_waiters(g, g->completed);
    pthread_mutex_unlock(&g->lock);
    gossip_answer_waiters(ready, replaced, height);
}

/* Whether the worker has work it could start now. */
static bool gossip_ready(struct gossip *g)
{
    pthread_mutex_lock(&g->lock);
    bool sync_due = !sync_running(g->sync) && g->requested > g->started_gen;
    pthread_mutex_unlock(&g->lock);
    return sync_due || fanout_ready(g->fanout);
}

static void *gossip_main(void *arg)
{
    struct gossip *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        bool stop = g->stopping;
        bool want_sync = !sync_running(g->sync) && g->requested > g->started_gen;
        if (want_sync)
            g->started_gen = g->requested;
        pthread_mutex_unlock(&g->lock);
        if (stop)
            break;

        gossip_reconcile_peers(g);
        fanout_run(g->fanout);
        if (want_sync)
            sync_start(g->sync, g->urls);

        int running = 0, left = 0;
        curl_multi_perform(g->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE)
                xfer_finish(g->multi, m->easy_handle, m->data.result);
        }
        sync_collect(g->sync);
        gossip_finish_sync(g);

        /* Answer the broadcasts whose deadline passed; sleep until the next deadline, unless
         * there is work that could start now. */
        int wait = fanout_expire(g->fanout, GOSSIP_IDLE_MS);
        if (!gossip_ready(g))
            curl_multi_poll(g->multi, NULL, 0, wait, NULL);
    }

    /* Stopping: abort everything and answer every waiter. */
    sync_stop(g->sync);
    fanout_stop(g->fanout);
    uint64_t height = chain_tip(g->chain, NULL);
    pthread_mutex_lock(&g->lock);
    struct gossip_waiter *w = g->waiters;
    g->waiters = NULL;
    pthread_mutex_unlock(&g->lock);
    gossip_answer_waiters(w, false, height);
    return NULL;
}

int gossip_start(struct gossip *g, char *err, size_t errsz)
{
    if (pthread_create(&g->thread, NULL, gossip_main, g) != 0) {
        snprintf(err, errsz, "cannot start the gossip thread");
        return -1;
    }
    g->started = true;
    return 0;
}

void gossip_broadcast(struct gossip *g, const char *json, size_t len, struct gossip_waiter *w,
                      gossip_done_cb cb, void *arg)
{
    if (w) {
        w->cb = cb;
        w->arg = arg;
    }
    fanout_submit(g->fanout, json, len, w ? cb : NULL, w ? arg : NULL);
}

void gossip_request_sync(struct gossip *g)
{
    pthread_mutex_lock(&g->lock);
    g->requested++;
    g->sync_requests++;
    pthread_mutex_unlock(&g->lock);
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
        g->sync_requests++;
        w->next = g->waiters;
        g->waiters = w;
    }
    pthread_mutex_unlock(&g->lock);
    if (stopping)
        cb(arg, false, chain_tip(g->chain, NULL));
    else
        curl_multi_wakeup(g->multi);
}

void gossip_get_stats(struct gossip *g, struct gossip_stats *out)
{
    struct fanout_stats fs;
    struct sync_stats ss;
    fanout_get_stats(g->fanout, &fs);
    sync_get_stats(g->sync, &ss);
    pthread_mutex_lock(&g->lock);
    out->sync_requests = g->sync_requests;
    pthread_mutex_unlock(&g->lock);
    out->syncs = ss.syncs;
    out->syncs_replaced = ss.syncs_replaced;
    out->posts_sent = fs.posts_sent;
    out->posts_failed = fs.posts_failed;
    out->posts_dropped = fs.posts_dropped;
    out->queued = fs.queued;
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
    sync_free(g->sync);
    fanout_free(g->fanout); /* answers what was submitted and never handed out */
    curl_multi_cleanup(g->multi);
    peers_list_free(g->urls);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

/* gossip: the node's one worker thread that talks to peers (broadcasts and syncs).
 *
 * Design: the worker owns one libcurl multi handle, shared by the fan-out (fanout.c), the syncs
 * (sync.c) and the peer exchange (pex.c), and runs one loop: bring them in line with the peer
 * set, start the work that was asked for or that a timer made due, let libcurl move every
 * request, hand each finished request to its owner (xfer_finish()), collect the pages the
 * parsers have finished, end a sync whose fetches have all settled, then sleep in
 * curl_multi_poll() until a request moves, a deadline or timer comes, or another thread wakes it
 * (curl_multi_wakeup()).
 *
 * Syncs are numbered. A request takes ticket = ++requested. When no sync runs and requested >
 * started, the worker starts one with every peer and sets started = requested: that sync began
 * after every request up to `started`, so when it finishes, completed = started and every waiter
 * with ticket <= completed is answered. Requests that arrive during a sync have a larger ticket
 * and cause exactly one more sync. When a sync replaces the chain, the new tip is broadcast (and,
 * with --reappend-orphans, the orphaned appends are appended again and broadcast).
 *
 * The variants add syncs with some peers only, run when no requested sync is due: with the peers
 * added since the last one (--sync-on-connect), or with one random peer every --anti-entropy ms.
 * They answer no waiter. Timers are jittered: an interval I fires after a uniform draw in
 * [I/2, 3I/2), so nodes started together do not ask in step. */
#include "gossip.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fanout.h"
#include "log.h"
#include "pex.h"
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
    struct pex *pex;         /* --peer-exchange, or NULL */
    struct orphans *orphans; /* --reappend-orphans (borrowed), or NULL */
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards the fields down to reappend_due */
    uint64_t requested, started_gen, completed;
    struct gossip_waiter *waiters;
    bool stopping;
    uint64_t sync_requests;
    bool reappend_due; /* an acknowledged append was orphaned before it was recorded */

    /* worker-only */
    uint64_t peers_gen;
    char **urls;    /* the peer set as the worker last saw it (NULL-terminated) */
    bool sync_full; /* the running sync is a requested one: it answers the waiters */
    char **targets; /* peers added since the last sync (--sync-on-connect), NULL-terminated */
    size_t ntargets;
    int64_t next_anti_entropy, next_pex; /* when the timers fire next */
    size_t pex_turn;                     /* the peer asked by the next exchange, round robin */
    unsigned rng;                        /* rand_r() state of the jitter and the random peer */
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
    if (g->cfg.peer_exchange)
        g->pex = pex_new(g->multi, p, &g->cfg, g->cfg.advertise ? g->cfg.advertise : "");
    pthread_mutex_init(&g->lock, NULL);
    g->peers_gen = UINT64_MAX;
    g->urls = xcalloc(1, sizeof(char *));
    g->targets = xcalloc(1, sizeof(char *));
    g->rng = (unsigned)getpid() ^ (unsigned)time(NULL);
    return g;
}

void gossip_set_orphans(struct gossip *g, struct orphans *o)
{
    g->orphans = o;
    g->reappend_due = o != NULL; /* once at start: a crash may have come between the two */
}

/* When a timer of interval ms set now fires: now + a uniform draw in [ms/2, 3ms/2). */
static int64_t gossip_jitter(struct gossip *g, long ms)
{
    return clock_now_ms() + ms / 2 + (ms > 0 ? rand_r(&g->rng) % ms : 0);
}

/* Whether list (NULL-terminated) holds url. */
static bool list_has(char *const *list, const char *url)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], url) == 0)
            return true;
    }
    return false;
}

/* Forget the peers waiting for a sync of their own. */
static void gossip_clear_targets(struct gossip *g)
{
    for (size_t i = 0; i < g->ntargets; i++)
        free(g->targets[i]);
    g->ntargets = 0;
    g->targets[0] = NULL;
}

/* Bring the fan-out and the running sync in line with the peer set, when it changed. With
 * --sync-on-connect the peers added since last time (since gossip_start() the first time) wait
 * for a sync of their own; the peers held at start are synced with by the start-up sync. */
static void gossip_reconcile_peers(struct gossip *g)
{
    uint64_t gen = peers_generation(g->peers);
    if (gen == g->peers_gen)
        return;
    char **urls = peers_list(g->peers, &gen);
    size_t n = 0;
    while (urls[n])
        n++;
    for (size_t i = 0; g->cfg.sync_on_connect && i < n; i++) {
        if (!list_has(g->urls, urls[i]) && !list_has(g->targets, urls[i])) {
            g->targets = xrealloc(g->targets, (g->ntargets + 2) * sizeof(char *));
            g->targets[g->ntargets++] = xstrdup(urls[i]);
            g->targets[g->ntargets] = NULL;
        }
    }
    peers_list_free(g->urls);
    g->urls = urls;
    g->peers_gen = gen;
    fanout_set_peers(g->fanout, g->urls);
    sync_keep_peers(g->sync, g->urls);
}

/* Start a sync when none runs: a requested one (full: true) with every peer; else one with the
 * peers added (--sync-on-connect); else, when its timer fired, one with a random peer
 * (--anti-entropy). */
static void gossip_start_sync(struct gossip *g, bool full, int64_t now)
{
    size_t n = 0;
    while (g->urls[n])
        n++;
    bool anti_entropy = g->cfg.anti_entropy_ms > 0 && now >= g->next_anti_entropy;
    if (anti_entropy)
        g->next_anti_entropy = gossip_jitter(g, g->cfg.anti_entropy_ms);
    if (sync_running(g->sync))
        return;
    if (full) {
        g->sync_full = true;
        gossip_clear_targets(g); /* they are in this one */
        sync_start(g->sync, g->urls);
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < g->ntargets; i++) {
        if (list_has(g->urls, g->targets[i]))
            g->targets[kept++] = g->targets[i];
        else
            free(g->targets[i]);
    }
    g->ntargets = kept;
    g->targets[kept] = NULL;
    if (kept > 0) {
        log_debug("sync-on-connect: syncing with %zu peers added", kept);
        g->sync_full = false;
        sync_start(g->sync, g->targets);
        gossip_clear_targets(g);
    } else if (anti_entropy && n > 0) {
        char *one[2] = {g->urls[(size_t)rand_r(&g->rng) % n], NULL};
        log_debug("anti-entropy: asking %s", one[0]);
        g->sync_full = false;
        sync_start(g->sync, one);
    }
}

/* Ask the next peer for its peers when the exchange timer fired (--peer-exchange). */
static void gossip_exchange_peers(struct gossip *g, int64_t now)
{
    if (g->pex == NULL || now < g->next_pex)
        return;
    g->next_pex = gossip_jitter(g, g->cfg.pex_interval_ms);
    size_t n = 0;
    while (g->urls[n])
        n++;
    if (n > 0 && pex_exchange(g->pex, g->urls[g->pex_turn % n]))
        g->pex_turn++;
}

/* Broadcast a block re-appended by the orphans record. */
static void gossip_reappended_cb(void *arg, const char *json, size_t len)
{
    struct gossip *g = arg;
    fanout_submit(g->fanout, json, len, NULL, NULL);
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

/* End the running sync if every fetch has settled: broadcast a new tip (and the orphaned appends
 * appended again), answer the waiters of a requested sync. */
static void gossip_finish_sync(struct gossip *g)
{
    struct buf tip = BUF_INIT;
    bool replaced = false;
    if (!sync_finish(g->sync, &replaced, &tip))
        return;
    if (replaced)
        fanout_submit(g->fanout, tip.data, tip.len, NULL, NULL);
    buf_free(&tip);
    if (replaced && g->orphans)
        orphans_reappend(g->orphans, gossip_reappended_cb, g);
    if (!g->sync_full)
        return;
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
    bool due = (!sync_running(g->sync) && g->requested > g->started_gen) || g->reappend_due;
    pthread_mutex_unlock(&g->lock);
    return due || (!sync_running(g->sync) && g->ntargets > 0) || fanout_ready(g->fanout);
}

/* ms until the next timer fires, at most wait. */
static int gossip_timers_wait(struct gossip *g, int64_t now, int wait)
{
    if (g->cfg.anti_entropy_ms > 0 && g->next_anti_entropy - now < wait)
        wait = (int)(g->next_anti_entropy - now);
    if (g->pex && g->next_pex - now < wait)
        wait = (int)(g->next_pex - now);
    return wait < 0 ? 0 : wait;
}

static void *gossip_main(void *arg)
{
    struct gossip *g = arg;
    g->next_anti_entropy = gossip_jitter(g, g->cfg.anti_entropy_ms);
    g->next_pex = gossip_jitter(g, g->cfg.pex_interval_ms);
    for (;;) {
        pthread_mutex_lock(&g->lock);
        bool stop = g->stopping;
        bool want_sync = !sync_running(g->sync) && g->requested > g->started_gen;
        if (want_sync)
            g->started_gen = g->requested;
        bool reappend = g->reappend_due;
        g->reappend_due = false;
        pthread_mutex_unlock(&g->lock);
        if (stop)
            break;

        int64_t now = clock_now_ms();
        gossip_reconcile_peers(g);
        if (reappend && g->orphans)
            orphans_reappend(g->orphans, gossip_reappended_cb, g);
        fanout_run(g->fanout);
        gossip_start_sync(g, want_sync, now);
        gossip_exchange_peers(g, now);

        int running = 0, left = 0;
        curl_multi_perform(g->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE)
                xfer_finish(g->multi, m->easy_handle, m->data.result);
        }
        sync_collect(g->sync);
        gossip_finish_sync(g);

        /* Answer the broadcasts whose deadline passed; sleep until the next deadline or timer,
         * unless there is work that could start now. */
        int wait = fanout_expire(g->fanout, GOSSIP_IDLE_MS);
        wait = gossip_timers_wait(g, clock_now_ms(), wait);
        if (!gossip_ready(g))
            curl_multi_poll(g->multi, NULL, 0, wait, NULL);
    }

    /* Stopping: abort everything and answer every waiter. */
    if (g->pex)
        pex_stop(g->pex);
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
    /* The peers held now are the start-up peers; the worker's first look at the set (peers_gen
     * is still unset) hands them to the fan-out, and counts only the others as added. */
    peers_list_free(g->urls);
    g->urls = peers_list(g->peers, NULL);
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

void gossip_note_append(struct gossip *g, const char *block_json, size_t len, const char *data,
                        size_t dlen)
{
    if (g->orphans == NULL || !orphans_record(g->orphans, block_json, len, data, dlen))
        return;
    pthread_mutex_lock(&g->lock);
    g->reappend_due = true;
    pthread_mutex_unlock(&g->lock);
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
    pex_free(g->pex);
    sync_free(g->sync);
    fanout_free(g->fanout); /* answers what was submitted and never handed out */
    curl_multi_cleanup(g->multi);
    peers_list_free(g->urls);
    gossip_clear_targets(g);
    free(g->targets);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

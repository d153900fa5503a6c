/* gossip: the node's one worker thread that talks to peers (broadcasts and syncs).
 *
 * Request handlers never wait on a peer: they hand work here and return. The worker owns a
 * libcurl multi handle and sends to all peers in parallel over reused keep-alive connections,
 * every request bounded by the connect and total timeouts of the config. It runs the fan-out of
 * blocks (fanout.h) and the syncs (sync.h, planned by syncplan.h), and keeps them in step with
 * the peer set. The protocol variants that act on their own run here too: anti-entropy
 * (--anti-entropy), syncs with peers as they are added (--sync-on-connect), peer exchange
 * (pex.h) and the re-append of orphaned appends (orphans.h). */
#ifndef CHAINLAB_GOSSIP_H
#define CHAINLAB_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "config.h"
#include "orphans.h"
#include "peers.h"

struct gossip;

/* Called once, on the worker thread (or the caller's, when the worker is stopping), when what was
 * waited for is over. For a sync: ok = the chain was replaced. For a broadcast: ok = every peer
 * waited for answered 2xx. height = the tip index then. Must not block. */
typedef void (*gossip_done_cb)(void *arg, bool ok, uint64_t height);

struct gossip_waiter {
    gossip_done_cb cb;
    void *arg;
    uint64_t ticket;            /* set by gossip_sync_wait() */
    struct gossip_waiter *next; /* owned by the gossip while queued */
};

struct gossip_stats {
    uint64_t syncs;          /* syncs run to completion */
    uint64_t syncs_replaced; /* syncs that replaced the held chain */
    uint64_t sync_requests;  /* requests for a sync, before coalescing */
    uint64_t posts_sent;     /* POST /block to a peer answered 2xx */
    uint64_t posts_failed;   /* POST /block that failed or got a non-2xx answer */
    uint64_t posts_dropped;  /* blocks dropped from a full per-peer queue */
    uint64_t queued;         /* blocks waiting in the per-peer queues now */
};

/* A worker for chain c and peer set p (both borrowed, must outlive it). cfg is copied.
 * Caller frees with gossip_free(). */
struct gossip *gossip_new(struct chain *c, struct peers *p, const struct config *cfg);
/* Re-append the orphaned appends recorded in o (borrowed; it must outlive g) after every sync
 * that replaced the chain (--reappend-orphans). Call before gossip_start(). */
void gossip_set_orphans(struct gossip *g, struct orphans *o);
/* Start the worker thread. Returns 0, or -1 with err set. */
int gossip_start(struct gossip *g, char *err, size_t errsz);
/* Queue the block JSON (len bytes, copied) to be POSTed to <peer>/block for every peer. With w
 * (may be NULL), w->cb is called when every peer that is neither down nor lagging has answered,
 * or when cfg.broadcast_wait_ms has passed (the peers still pending are then marked lagging and
 * not waited for again until they answer). w must stay valid until then. */
void gossip_broadcast(struct gossip *g, const char *json, size_t len, struct gossip_waiter *w,
                      gossip_done_cb cb, void *arg);
/* Ask for a sync. Syncs are single-flight; requests made while one runs are coalesced into
 * one more sync after it. */
void gossip_request_sync(struct gossip *g);
/* Ask for a sync and have w->cb called when a sync that started after this call has finished.
 * w (and its arg) must stay valid until the callback has run. */
void gossip_sync_wait(struct gossip *g, struct gossip_waiter *w, gossip_done_cb cb, void *arg);
/* An /append was acknowledged: block_json (len bytes) carries data (dlen bytes). Recorded for
 * --reappend-orphans; a no-op without it. Any thread. */
void gossip_note_append(struct gossip *g, const char *block_json, size_t len, const char *data,
                        size_t dlen);
/* Copy the counters. */
void gossip_get_stats(struct gossip *g, struct gossip_stats *out);
/* Stop the worker: abort transfers, run every pending waiter's callback, join the thread. Parses
 * already running are waited for (the queued ones are dropped). */
void gossip_stop(struct gossip *g);
/* Free (stops first if needed). NULL is a no-op. */
void gossip_free(struct gossip *g);

#endif

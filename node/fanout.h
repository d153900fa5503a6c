/* fanout: the broadcast of blocks to every peer (POST <peer>/block), and who waits for it.
 *
 * Any thread submits a block; the gossip worker hands it to every peer's bounded queue and
 * POSTs it, at most one POST in flight per peer so that a peer receives blocks in order, over
 * the worker's libcurl multi handle. A submitter may wait (a parked /append or POST /block):
 * it is answered when every peer that is neither down nor lagging has answered, or when
 * cfg.broadcast_wait_ms has passed; the peers still pending are then lagging and not waited for
 * again until they answer. The fanout also keeps each peer's health (down after a failed
 * request, logged once per change), which the sync reports into.
 *
 * fanout_new(), fanout_submit() and fanout_get_stats() may be called from any thread; every
 * other function runs on the worker thread. */
#ifndef CHAINLAB_FANOUT_H
#define CHAINLAB_FANOUT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "config.h"

struct fanout;

struct fanout_stats {
    uint64_t posts_sent;    /* POST /block to a peer answered 2xx */
    uint64_t posts_failed;  /* POST /block that failed or got a non-2xx answer */
    uint64_t posts_dropped; /* blocks dropped from a full per-peer queue */
    uint64_t queued;        /* blocks waiting in the per-peer queues now */
};

/* A fanout for chain c (borrowed: waiters are told its height) over multi (borrowed; both must
 * outlive it). cfg is copied. Caller frees with fanout_free(). */
struct fanout *fanout_new(CURLM *multi, struct chain *c, const struct config *cfg);
/* Queue the block JSON (len bytes, copied) for every peer and wake the worker. With done (may
 * be NULL), done(arg, ok, height) is called once on the worker thread when the peers have it
 * (ok: every peer waited for answered 2xx) or at the deadline (see above), or at once with ok
 * false when the fanout has stopped. */
void fanout_submit(struct fanout *f, const char *json, size_t len,
                   void (*done)(void *arg, bool ok, uint64_t height), void *arg);
/* Make the per-peer states match urls (NULL-terminated, borrowed): new peers get a state,
 * removed ones lose their queue (their waiters count them as failed). */
void fanout_set_peers(struct fanout *f, char *const *urls);
/* Queue the blocks submitted for every peer, and start a POST on each idle peer with a queue. */
void fanout_run(struct fanout *f);
/* Whether fanout_run() has work to start now. */
bool fanout_ready(struct fanout *f);
/* Answer the broadcasts whose deadline passed. Returns the ms until the next deadline, at most
 * max_ms. */
int fanout_expire(struct fanout *f, int max_ms);
/* The peer at url answered (reachable) or failed on the network (why says how). A change is
 * logged once; a peer not held is ignored. */
void fanout_mark_peer(struct fanout *f, const char *url, bool reachable, const char *why);
/* Copy the counters. */
void fanout_get_stats(struct fanout *f, struct fanout_stats *out);
/* Abort every POST, drop every queue and answer every waiter (ok false); from now on a submit
 * is answered at once. */
void fanout_stop(struct fanout *f);
/* Stop and free. NULL is a no-op. */
void fanout_free(struct fanout *f);

#endif

/* sync: a sync with the peers: tip probes, page requests, parsing and joining, on the gossip
 * worker's libcurl multi handle.
 *
 * A sync holds one fetch per peer: GET /block to learn the peer's height, then the peer's chain
 * in one GET /blocks or in pages of cfg.sync_page blocks (GET /blocks?from=&limit=). Each answer
 * is handed to a parse pool (threads that parse and validate it with chain_parse_segment()
 * without holding any lock) and comes back to the worker, which joins a fetch's pages in
 * order. What to ask and what to do with every answer is decided by syncplan.c; this module
 * does the I/O around those decisions. A fetch is settled (its chain compared with the best, its
 * errors logged, then freed) once none of its requests and parses is outstanding. At the end the
 * best chain replaces ours when it is longer: a whole chain is adopted, a segment fetched after
 * our tip is joined to our prefix (chain_extend_if_longer()).
 *
 * Every function but sync_new() and sync_get_stats() runs on the worker thread. */
#ifndef CHAINLAB_SYNC_H
#define CHAINLAB_SYNC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chain.h"
#include "config.h"

#define SYNC_TIP_BYTES  (1 << 20) /* bytes of a peer's GET /block read to learn its height */
#define SYNC_TRIM_BYTES (1 << 20) /* a sync fetching this much returns freed memory */

struct sync;

/* What one sync learnt of a peer: reachable or not, why (NULL when all went well). Used to
 * track which peers are down. */
typedef void (*sync_peer_cb)(void *arg, const char *url, bool reachable, const char *why);

struct sync_stats {
    uint64_t syncs;          /* syncs run to completion */
    uint64_t syncs_replaced; /* syncs that replaced the held chain */
};

/* Syncs of chain c (borrowed) over multi (borrowed; both must outlive it); cfg is copied.
 * peer_cb(arg, ...) reports each fetch's outcome. Caller frees with sync_free(). */
struct sync *sync_new(CURLM *multi, struct chain *c, const struct config *cfg, sync_peer_cb peer_cb,
                      void *arg);
/* Start a sync with the peers urls (NULL-terminated, borrowed). None may run. */
void sync_start(struct sync *s, char *const *urls);
/* Whether a sync runs. */
bool sync_running(struct sync *s);
/* The peer set is now urls: the fetches from peers that left it are dropped. */
void sync_keep_peers(struct sync *s, char *const *urls);
/* Take the pages the parsers have finished since the last call and go on with their fetches. */
void sync_collect(struct sync *s);
/* When every fetch of the running sync has settled: end it (the best chain replaces ours when it
 * wins; then its tip's JSON is appended to tip_json) and return true with *replaced set.
 * Otherwise return false. */
bool sync_finish(struct sync *s, bool *replaced, struct buf *tip_json);
/* Drop the running sync: abort its requests, wait for its parses. */
void sync_stop(struct sync *s);
/* Copy the counters (any thread). */
void sync_get_stats(struct sync *s, struct sync_stats *out);
/* Stop and free. NULL is a no-op. */
void sync_free(struct sync *s);

#endif

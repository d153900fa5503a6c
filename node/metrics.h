/* metrics: the node's counters, and their text for GET /metrics (Prometheus exposition 0.0.4).
 *
 * Design: the counters the HTTP handlers move (appends, blocks received, answers by status,
 * bytes served) live in a struct metrics of atomics, so counting takes no lock on the append
 * path. The worker's counters (posts, syncs) and the gauges (height, peers, queue depth) are
 * read where they live when the page is written; metrics_write() formats a snapshot of all of
 * them and touches nothing else. */
#ifndef CHAINLAB_METRICS_H
#define CHAINLAB_METRICS_H

#include <stdint.h>

#include "buf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MIN_CODE     100 /* HTTP status codes counted: [METRICS_MIN_CODE, ...MAX_CODE] */
#define METRICS_MAX_CODE     599

/* The counters of the HTTP handlers; every field is updated and read atomically. */
struct metrics {
    uint64_t appends;         /* POST /append acknowledged (a block made here) */
    uint64_t blocks_received; /* POST /block carrying a valid block */
    uint64_t blocks_appended; /* ... that was appended (it followed our tip) */
    uint64_t blocks_ignored;  /* ... that was ignored (not above our tip) */
    uint64_t bytes_served;    /* bytes of answer bodies sent (HEAD sends none) */
    uint64_t responses[METRICS_MAX_CODE - METRICS_MIN_CODE + 1]; /* answers sent, by status */
};

/* Everything GET /metrics shows, copied at one moment. */
struct metrics_snapshot {
    struct metrics http; /* a copy of the handlers' counters */
    uint64_t posts_sent, posts_failed, posts_dropped;
    uint64_t syncs, sync_replacements;
    uint64_t height;      /* the tip index */
    uint64_t peers;       /* peers held */
    uint64_t queue_depth; /* blocks waiting in the per-peer queues */
};

/* Add n to *counter (a field of struct metrics), atomically. */
void metrics_add(uint64_t *counter, uint64_t n);
/* Count one answer with status code (codes outside the range are not counted). */
void metrics_count_response(struct metrics *m, unsigned code);
/* Copy m field by field, each read atomically. */
void metrics_copy(const struct metrics *m, struct metrics *out);
/* Append the exposition of s to out: # HELP and # TYPE for every metric, then its samples. */
void metrics_write(const struct metrics_snapshot *s, struct buf *out);

#endif

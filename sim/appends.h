/* appends: the record of every append a run sent (steps and loads), for latency, failures and
 * lost-append checks. Thread-safe: loads record from their own threads. */
#ifndef CHAINLAB_APPENDS_H
#define CHAINLAB_APPENDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define APPENDS_FAILURES_KEPT 20 /* failed appends described in full; the rest are counted */

struct appends; /* opaque */

/* Is data in a node's chain? (the caller's snapshot). */
typedef bool (*appends_has_cb)(void *arg, const char *data);

/* An empty record. Caller frees with appends_free(). */
struct appends *appends_new(void);
/* Free a. NULL is a no-op. */
void appends_free(struct appends *a);
/* Record one append of data (copied) to node: acked when answered 2xx, sent at at_s (run
 * seconds), latency_s to its end. */
void appends_record(struct appends *a, unsigned node, const char *data, bool acked, double at_s,
                    double latency_s);
/* Keep the description of a failed append ({"node", "data", "reason", ...}; copied) among the
 * first APPENDS_FAILURES_KEPT. */
void appends_note_failure(struct appends *a, json_t *what);
/* {"count": failed appends, "first": [their descriptions]} (new reference). */
json_t *appends_failures(struct appends *a);
/* Number recorded so far. */
size_t appends_count(struct appends *a);
/* Acknowledged appends among the first upto recorded that has() says are missing; the first five
 * are written to list (may be NULL) as "\"data\", ...". Returns their number. */
int appends_lost(struct appends *a, size_t upto, appends_has_cb has, void *arg, struct buf *list);
/* The data of every acknowledged append among the first upto that has() lacks, as a new array. */
json_t *appends_lost_list(struct appends *a, size_t upto, appends_has_cb has, void *arg);
/* {"sent", "acked", "failed", "latency_ms": {"p50", "p95", "p99", "max"}} (new reference);
 * latency_ms is null when no append was acknowledged. */
json_t *appends_summary(struct appends *a);

#endif

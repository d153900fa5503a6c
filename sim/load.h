/* load: an open-loop stream of appends at a fixed rate, spread over nodes.
 *
 * Open loop: request k is due at start + k/rate whatever happened to the earlier ones, and its
 * latency is measured from that due time, so a slow node shows up as latency instead of slowing
 * the schedule down (no coordinated omission). */
#ifndef CHAINLAB_LOAD_H
#define CHAINLAB_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_MAX_IN_FLIGHT 1024 /* requests open at once; later ones wait, their latency grows */

struct load_spec {
    const uint16_t *ports;         /* HTTP port of each target (borrowed) */
    const unsigned *nodes;         /* node number of each target, for the callback (borrowed) */
    size_t ntargets;               /* appends go to the targets in turn */
    double per_s;                  /* appends per second */
    int64_t duration_ms;           /* how long new appends are sent */
    long timeout_ms;               /* bound on one append */
    const char *prefix;            /* payload k is "<prefix>-<k>" */
    volatile sig_atomic_t *cancel; /* stop early when it becomes non-zero (may be NULL) */
};

/* Called once per append when it ends: acked when it answered 2xx; due_s is its due time and
 * latency_s the time from then to its end (seconds since load_run started). */
typedef void (*load_done_cb)(void *arg, unsigned node, const char *data, bool acked, double due_s,
                             double latency_s);

struct load_stats {
    uint64_t sent, acked, failed;
    double behind_s; /* how far the latest start fell behind its due time */
};

/* Run the load described by spec; returns 0, or -1 when curl cannot be set up. */
int load_run(const struct load_spec *spec, load_done_cb cb, void *arg, struct load_stats *out);

#endif

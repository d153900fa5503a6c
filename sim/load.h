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
#include <netinet/in.h>

#define LOAD_MAX_IN_FLIGHT 1024 /* requests open at once; later ones wait, their latency grows */

struct load_spec {
    const struct sockaddr_in *addr; /* where each target listens (borrowed) */
    const unsigned *nodes;          /* node number of each target, for the callback (borrowed) */
    size_t ntargets;                /* appends go to the targets in turn */
    double per_s;                   /* appends per second */
    int64_t duration_ms;            /* how long new appends are sent */
    long timeout_ms;                /* bound on one append */
    const char *prefix;             /* payload k is "<prefix>-<k>" */
    volatile sig_atomic_t *cancel;  /* stop early when it becomes non-zero (may be NULL) */
};

#define LOAD_BODY_HEAD 512 /* bytes of each answer kept for the callback */

/* How one append ended. */
struct load_done {
    unsigned node;     /* the target's node number */
    const char *data;  /* the payload */
    bool acked;        /* answered 2xx */
    long status;       /* HTTP status, 0 when no answer came */
    const char *error; /* libcurl's reason when status is 0, else "" */
    const char *body;  /* the first LOAD_BODY_HEAD bytes of the answer, NUL-terminated */
    double due_s;      /* its due time, seconds since load_run started */
    double latency_s;  /* from the due time to its end */
};

/* Called once per append when it starts (may be NULL) and once when it ends, from the thread
 * that runs load_run(); the pointers are valid during the call only. */
typedef void (*load_sent_cb)(void *arg, unsigned node, const char *data, double due_s);
typedef void (*load_done_cb)(void *arg, const struct load_done *d);

struct load_stats {
    uint64_t sent, acked, failed;
    double behind_s; /* how far the latest start fell behind its due time */
};

/* Run the load described by spec; returns 0, or -1 when curl cannot be set up. */
int load_run(const struct load_spec *spec, load_sent_cb sent, load_done_cb done, void *arg,
             struct load_stats *out);

#endif

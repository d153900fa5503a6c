/* timeline: what happened when in a run, derived from its events.jsonl: the spans when faults
 * were active (cluster-wide kinds, each node's partition side, each node down or paused), the
 * steps and the appends. The charts (plot.c) and the HTML page (html.c) draw from it. */
#ifndef CHAINLAB_TIMELINE_H
#define CHAINLAB_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

enum timeline_family {
    TIMELINE_PARTITION, /* partition or cut (cluster-wide), or a node's side (node >= 0) */
    TIMELINE_LINK,      /* latency, loss, bandwidth, reset */
    TIMELINE_NODE,      /* a node killed, stopped, paused or exited */
};

struct timeline_span {
    double from, to; /* run seconds */
    int node;        /* the node it concerns, -1 for the whole cluster */
    int side;        /* TIMELINE_PARTITION with node >= 0: the node's side (0, 1, ...) */
    enum timeline_family family;
    char label[48]; /* "partition", "latency", "n3 killed", ... */
};

struct timeline_step {
    double t, took;
    unsigned line;
    bool ok;
};

struct timeline_append {
    double t;
    unsigned node;
    bool ok;
};

struct timeline {
    unsigned nodes; /* from the node events */
    double t_end;   /* the last event's time */
    struct timeline_span *spans;
    size_t nspans;
    struct timeline_step *steps; /* in order, one per step that ended */
    size_t nsteps;
    struct timeline_append *appends; /* acknowledged or failed */
    size_t nappends;
};

/* Read run_dir/events.jsonl into *tl (zeroed first; free with timeline_free()). Returns 0, or -1
 * with err when the file cannot be read. */
int timeline_load(const char *run_dir, struct timeline *tl, char *err, size_t errsz);
/* Free what tl holds. */
void timeline_free(struct timeline *tl);

#endif

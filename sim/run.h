/* run: the state of one scenario run and the helpers (run.c) shared by the modules that carry it
 * out: runner.c (set-up, the step loop, tear-down), step.c (each statement), observe.c (what the
 * nodes say: snapshots, conditions, sampling) and report.c (the result). Outside the sim's run
 * modules, runner.h is the contract and struct run stays opaque. */
#ifndef CHAINLAB_RUN_H
#define CHAINLAB_RUN_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "appends.h"
#include "buf.h"
#include "cluster.h"
#include "events.h"
#include "links.h"
#include "nodeset.h"
#include "pairset.h"
#include "partition.h"
#include "probe.h"
#include "rng.h"
#include "runner.h"
#include "scenario.h"
#include "topology.h"

#define RUN_REQUEST_MS     10000 /* bound on one append, peer change or probe */
#define RUN_WIRE_TRIES     3     /* attempts of a POST /peers that gets no answer while wiring */
#define RUN_SYNC_MS        60000 /* bound on one POST /sync */
#define RUN_LOAD_MS        5000  /* bound on one append of a load */
#define RUN_COMPRESS_NODES 200   /* from this many nodes, per-node lines are grouped into ranges */

/* Link faults an edge carries (bits of struct edge.faults). */
#define RUN_FAULT_LATENCY   1u
#define RUN_FAULT_LOSS      2u
#define RUN_FAULT_BANDWIDTH 4u
#define RUN_FAULT_RESET     8u

/* A directed edge the run created a link (or, with links direct, a peer entry) for. */
struct edge {
    unsigned from, to;
    unsigned faults; /* RUN_FAULT_* bits set on its link */
    bool cut;        /* the link layer has it cut */
};

struct bg_load; /* a background load (step.c) */
struct sampler; /* the sampling thread (observe.c) */

struct run {
    const struct scenario *sc;
    struct runner_opts o; /* copied; o.out may be NULL */
    char *run_dir;
    struct events *ev; /* the record and the run's clock */
    uint64_t seed;
    struct rng rng;
    struct topology *topo;
    struct links *links; /* NULL with `links direct` */
    struct cluster *cl;
    struct probe *probe; /* the main thread's client */
    uint16_t first_port; /* ports layout: n0's port; addresses layout: every node's port */
    bool addresses;      /* every node on its own loopback address (runner.h, layouts) */
    int port_hold;       /* addresses layout: the socket holding first_port on 127.0.0.1 */
    unsigned n;
    double deadline_s;      /* run time when the scenario's timeout passes */
    struct partition *part; /* sides and cuts */
    struct pairset wired;   /* (a, b) when a holds a peer entry for b */
    struct edge *edges;     /* links created, in order */
    size_t nedges, capedges;
    size_t nedges_written; /* edges in RUN_DIR/links.json */
    struct appends *appends;
    struct bg_load **loads; /* loads started, running or ended */
    size_t nloads;
    volatile sig_atomic_t stop_loads; /* set when the run ends early */
    struct sampler *sampler;          /* or NULL */
    json_t *steps;                    /* array of step records */
    json_t *awaits;                   /* array of {line, text, took_s} */
    json_t *loads_done;               /* array of load records, as each is joined */
    int code;                         /* RUNNER_* */
    json_t *failure;                  /* or NULL */
    json_t *diagnosis;                /* of the failure, made when it happened, or NULL */
    char *error;                      /* or NULL */
    /* The step running now (cleared by runner_step): its own assertion failure (as failure) and
     * diagnosis, or its error, each NULL when there is none. The run's failure, diagnosis and
     * error above are the first ones. */
    json_t *step_failure;
    json_t *step_diagnosis;
    char *step_error;
    long *ready_rss_kib; /* n: each node's RSS when the cluster was first ready; -1 unknown */
};

/* Seconds since the run started. */
double run_now(const struct run *r);
/* Print a line at verbosity level (to the output, and always to sim.log). */
void run_say(struct run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Append detail to out, grouped when it is a comma list of "nK WORDS" items ("n0 kept 2, n1 kept
 * 2, n2 kept 1" becomes "n0-n1 kept 2; n2 kept 1") or ends in "nK=VALUE" items ("held: n0=1 n1=1
 * n2=2" becomes "held: n0-n1=1 n2=2"). Anything else is appended as it is. */
void run_compress(const char *detail, struct buf *out);
/* The same for the "nK=VALUE" form only, and only with RUN_COMPRESS_NODES items or more: for
 * texts whose length grows with the cluster (a failure's "saw"). */
void run_compress_long(const char *detail, struct buf *out);
/* Record an assertion failure of st (the run's failure is the first one; the step's, this one).
 * Returns -1. */
int run_fail_step(struct run *r, const struct scenario_step *st, const char *expected,
                  const char *seen);
/* Record an error with code (RUNNER_*; the run's error and code are the first error's; the
 * step's error, this one). Returns -1. */
int run_fail(struct run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Between two polls: a node that died, Ctrl-C, the scenario timeout. Returns 0 or -1 (failed). */
int run_check_health(struct run *r, const struct scenario_step *st);
/* Sleep ms milliseconds (EINTR resumed). */
void run_sleep_ms(long ms);
/* SIGTERM-to-SIGKILL grace for this run. */
long run_grace_ms(const struct run *r);
/* True when node i is running (not paused, stopped or exited). */
bool run_node_running(const struct run *r, unsigned i);
/* s with `all` meaning every running node / every node. */
void run_resolve(const struct run *r, const struct nodeset *s, struct nodeset *out);
void run_resolve_all(const struct run *r, const struct nodeset *s, struct nodeset *out);
/* Where every node listens (a new array of r->n; caller frees). */
struct sockaddr_in *run_node_addrs(const struct run *r);
/* The peer URL node from uses for node to (its link, or to's own address with links direct). */
void run_peer_url(struct run *r, unsigned from, unsigned to, char *out, size_t outsz);
/* Make sure link from -> to exists. Returns 0 or -1 (run failed). */
int run_link_ensure(struct run *r, unsigned from, unsigned to);
/* Stall or release every link as the partition state says. */
void run_links_apply(struct run *r);
/* "nA->nB" names of the links, one per edge matching (from, to) of mask, as a new array. */
json_t *run_edge_names(const struct run *r, const bool *mask);
/* The run's edges as links.json entries {"from", "to", "listen_port", "target_port",
 * "listen_host", "target_host"} (new array; with links direct, listen is the target itself). */
json_t *run_edges_json(const struct run *r);
/* The names of the RUN_FAULT_* bits of mask ("latency", ...) as a new array. */
json_t *run_fault_names(unsigned mask);
/* The fault kinds active now ("partition", "cut", "latency", ...) as a new array. */
json_t *run_faults_active(const struct run *r);
/* The faults in place now as a new array of {"fault", "links" (the "nA->nB" links it holds)},
 * with "sides" for a partition: partition, cut, then latency, loss, bandwidth, reset. */
json_t *run_faults_json(const struct run *r);

#endif

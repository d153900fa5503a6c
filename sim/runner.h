/* runner: runs a parsed scenario against a real cluster and reports what happened.
 *
 * A run is set up (runner_open: run folder, ports, link layer, nodes, wiring), runs steps (from a
 * file or one at a time from elsewhere, runner_step) and is closed (runner_close: loads joined,
 * final table, result, tear-down); runner_run() does all three for a file. The steps, the report
 * so far and the close must come from one thread, the run's; runner_events() may be read from any.
 *
 * Exit codes (also the result's "exit_code"): 0 every step held, 1 an assertion failed (or the
 * scenario timed out), 2 the scenario cannot be run as written, 3 the cluster could not be run
 * (ports, a node that failed to start or exited on its own), 130 interrupted. */
#ifndef CHAINLAB_RUNNER_H
#define CHAINLAB_RUNNER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "events.h"
#include "scenario.h"

#define RUNNER_OK          0
#define RUNNER_FAILED      1
#define RUNNER_BAD         2
#define RUNNER_CLUSTER     3
#define RUNNER_INTERRUPTED 130

#define RUNNER_POLL_MS 10 /* pause between two evaluations of an await */

/* Where nodes listen (README, "Addresses"). */
enum runner_layout {
    RUNNER_LAYOUT_AUTO,      /* addresses when every node runs chainlab-node (no node-cmd, no
                              * --node-cmd) and there is no --base-port, else ports */
    RUNNER_LAYOUT_PORTS,     /* every node on 127.0.0.1, at sequential ports */
    RUNNER_LAYOUT_ADDRESSES, /* node i on 127.1.(i/256).(i%256), all at one port */
};

struct runner_opts {
    const char *node_bin;  /* chainlab-node, for the nodes that run no template */
    const char *node_cmd;  /* shell template for nodes without a node-cmd line, or NULL */
    uint16_t base_port;    /* first port to try (0: search from PORTS_LOW) */
    bool base_port_fixed;  /* --base-port: use exactly that range */
    const char *run_dir;   /* folder for this run's logs (made if missing); NULL: runs_root */
    const char *runs_root; /* parent of runs/<scenario>-<time>/ when run_dir is NULL */
    bool seed_given;       /* --seed overrides the file's seed */
    uint64_t seed;
    long grace_ms;   /* --stop-grace: SIGTERM to SIGKILL; 0: CLUSTER_GRACE_MS */
    long request_ms; /* --request-timeout: bound on every request to a node; 0: the runner's
                      * defaults (10 s; 5 s for an append of a load, 60 s for POST /sync) */
    enum runner_layout layout; /* --layout */
    unsigned link_processes;   /* --link-processes: relay processes; 0: as many as needed */
    bool keep;                 /* leave the cluster running at the end (and wait for Ctrl-C) */
    long sample_ms;            /* --sample: record every running node's tip this often; 0: off */
    long metrics_ms; /* --sample-metrics: record every running node's /metrics this often; 0: off */
    bool plots;      /* --plots: draw RUN_DIR/plots/ at the end */
    int verbosity;   /* -1 quiet, 0 normal, 1 verbose */
    FILE *out;       /* where the step lines go */
    volatile sig_atomic_t *interrupted; /* set by the caller's SIGINT/SIGTERM handler */
};

struct run; /* one run: its cluster, links, record and results (opaque here) */

/* Set up a run of sc (borrowed until runner_close; o is copied, its strings borrowed). *out is
 * always set, also on failure (then close it: the result says why). Returns RUNNER_OK or the
 * exit code of what failed. */
int runner_open(const struct scenario *sc, const struct runner_opts *o, struct run **out);
/* Run one step (st borrowed for the call). Returns 0, or -1 when it failed: an assertion
 * (runner_code() is RUNNER_FAILED; the run can go on) or worse. When outcome is not NULL,
 * *outcome is the step's record as in the report ({"line", "kind", "text", "start_s", "took_s",
 * "ok", "detail"}; new reference), and when it failed also "failure" (file, line, text, expected,
 * seen), "diagnosis" and "message" (the failure as the sim prints it) for an assertion, or
 * "error". */
int runner_step(struct run *r, const struct scenario_step *st, json_t **outcome);
/* Start the scenario's timeout again from now (chainlab-sim serve: each request has all of it). */
void runner_reset_timeout(struct run *r);
/* The run folder (borrowed; valid until runner_close). */
const char *runner_run_dir(const struct run *r);
/* The cluster now: {"nodes": [{"name", "url", "pid" (null when not running), "state"}],
 * "edges": [the entries of links.json], "faults": [{"fault", "links", "sides"}]} (new
 * reference). */
json_t *runner_cluster(struct run *r);
/* The run's exit code so far. */
int runner_code(const struct run *r);
/* The result as it stands, with the node table fetched now (new reference; see README.md
 * "Reports" for its fields). */
json_t *runner_report(struct run *r);
/* The run's event record (borrowed; valid until runner_close). Thread-safe. */
struct events *runner_events(struct run *r);
/* End the run: stop or join the loads, build the result, print the end of the output, wait for
 * Ctrl-C with --keep, tear everything down and free r. Returns the exit code and *result (new
 * reference). */
int runner_close(struct run *r, json_t **result);
/* Open, run every step of sc, close. Returns the exit code and *result (new reference). */
int runner_run(const struct scenario *sc, const struct runner_opts *o, json_t **result);

#endif

/* runner: runs one parsed scenario against a real cluster and reports what happened.
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

#include "scenario.h"

#define RUNNER_OK          0
#define RUNNER_FAILED      1
#define RUNNER_BAD         2
#define RUNNER_CLUSTER     3
#define RUNNER_INTERRUPTED 130

#define RUNNER_POLL_MS 10 /* pause between two evaluations of an await */

struct runner_opts {
    const char *node_bin;  /* chainlab-node to start (used when node_cmd is NULL) */
    const char *node_cmd;  /* shell template for any implementation, or NULL */
    uint16_t base_port;    /* first port to try (0: search from PORTS_LOW) */
    bool base_port_fixed;  /* --base-port: use exactly that range */
    const char *run_dir;   /* folder for this run's logs (made if missing); NULL: runs_root */
    const char *runs_root; /* parent of runs/<scenario>-<time>/ when run_dir is NULL */
    bool seed_given;       /* --seed overrides the file's seed */
    uint64_t seed;
    long grace_ms;   /* --stop-grace: SIGTERM to SIGKILL; 0: CLUSTER_GRACE_MS */
    long request_ms; /* --request-timeout: bound on every request to a node; 0: the runner's
                      * defaults (10 s; 5 s for an append of a load, 60 s for POST /sync) */
    bool keep;       /* leave the cluster running at the end (and wait for Ctrl-C) */
    int verbosity;   /* -1 quiet, 0 normal, 1 verbose */
    FILE *out;       /* where the step lines go */
    volatile sig_atomic_t *interrupted; /* set by the caller's SIGINT/SIGTERM handler */
};

/* Run sc. Returns the exit code above and *result, a new JSON object (new reference, caller
 * decrefs) describing the run; see README.md "Reports" for its fields. */
int runner_run(const struct scenario *sc, const struct runner_opts *o, json_t **result);

#endif

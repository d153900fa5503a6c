/* cluster: the node processes of one scenario run: start, readiness, state, teardown.
 *
 * Every node runs in its own process group with its output in <run_dir>/nK.log, and dies with the
 * sim (PR_SET_PDEATHSIG). The sim reaps its children itself; nothing here ever exits. */
#ifndef CHAINLAB_CLUSTER_H
#define CHAINLAB_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/types.h>

#include "buf.h"
#include "events.h"
#include "probe.h"

#define CLUSTER_GRACE_MS          2000  /* SIGTERM to SIGKILL by default (--stop-grace) */
#define CLUSTER_READY_MS          10000 /* how long the nodes may take to answer GET /block */
#define CLUSTER_READY_MS_PER_NODE 3     /* ... plus this per node: a large cluster starts slower */
#define CLUSTER_LOG_HEAD          5 /* first lines of a log shown when a node dies (usage errors) */
#define CLUSTER_LOG_TAIL          10 /* last lines shown */

enum node_state {
    NODE_NEW,     /* not started yet */
    NODE_RUNNING, /* started and not known to have exited */
    NODE_PAUSED,  /* stopped with SIGSTOP by the sim */
    NODE_EXITED,  /* exited (on its own or by a signal) and reaped */
};

struct cluster_node {
    unsigned index;             /* K of nK */
    struct sockaddr_in addr;    /* where it listens */
    char host[INET_ADDRSTRLEN]; /* addr's address as text */
    uint16_t port;              /* addr's port */
    pid_t pid;                  /* 0 when not running */
    enum node_state state;
    int wait_status;    /* from waitpid() once exited */
    bool expected_exit; /* the sim stopped it on purpose */
    char *dir;          /* <run_dir>/nK, the node's own folder (owned) */
    char *log_path;     /* <run_dir>/nK.log (owned) */
    char *cmd;          /* shell template it runs (owned), or NULL: the node program */
    char **args;        /* extra words, NULL-terminated (owned) */
};

struct cluster_spec {
    unsigned n;                     /* nodes */
    uint16_t first_port;            /* nK listens on 127.0.0.1:first_port + K, unless addr */
    const struct sockaddr_in *addr; /* n: where each node listens (copied), or NULL */
    bool own_address; /* chainlab nodes get --host and --source with their own address (the
                       * link layer tells them apart by the address they connect from) */
    const struct sockaddr_in *advertise; /* n: the public address each chainlab node announces
                                          * (--advertise), or NULL */
    bool spawn;              /* start chainlab nodes from a spawner (spawner.h) instead of exec */
    const char *run_dir;     /* existing directory for logs and node folders */
    const char *node_bin;    /* chainlab-node to run for nodes without a template */
    const char *node_cmd;    /* shell template with {port} {host} {node} {dir} for nodes without
                              * their own, or NULL (node_bin) */
    char *const *node_cmds;  /* per node: its own shell template or NULL; NULL for none at all */
    char **const *node_args; /* per node: NULL-terminated extra words ({node} {port} {dir}
                              * substituted); NULL for none at all */
    long grace_ms;           /* SIGTERM to SIGKILL at teardown; 0: CLUSTER_GRACE_MS */
    int *held_ports;         /* n sockets holding the ports (ports_reserve), or NULL; the cluster
                              * takes them and releases all of them when the first node starts */
    struct events *events;   /* where `node` events go (started, ready, stopped, killed, paused,
                              * resumed, exited), or NULL (borrowed; must outlive the cluster) */
};

struct cluster;

/* A cluster of spec->n nodes, none started; strings are copied. Caller frees with
 * cluster_free(), which tears down whatever still runs. Returns NULL with err set when the
 * node folders cannot be made. */
struct cluster *cluster_new(const struct cluster_spec *spec, char *err, size_t errsz);
/* Release every held port (see cluster_spec.held_ports): call right before starting the nodes,
 * one after the other. cluster_start() releases them too. */
void cluster_release_ports(struct cluster *c);
/* Start node i. Returns 0, or -1 with err set (fork failed). An exec failure shows later as an
 * early exit with the reason in the node's log. */
int cluster_start(struct cluster *c, unsigned i, char *err, size_t errsz);
/* Poll GET /block on every running node until all answer 200. Returns 0; -1 with err (and the
 * failing node's log tail) when a node exits first or timeout_ms passes. */
int cluster_wait_ready(struct cluster *c, struct probe *p, long timeout_ms, char *err,
                       size_t errsz);
/* Reap children that exited. Returns the index of a node that exited without the sim asking
 * (the lowest one), or -1 when there is none. */
int cluster_reap(struct cluster *c);
/* Send sig to node i's process group. Returns 0, or -1 when it has no process. */
int cluster_signal(struct cluster *c, unsigned i, int sig);
/* SIGKILL node i and reap it. Returns 0, or -1 when it has no process. */
int cluster_kill(struct cluster *c, unsigned i);
/* SIGTERM node i (resuming it first if paused), wait up to grace_ms for it to exit, then SIGKILL;
 * reaped either way. Returns 0 when it exited by itself, 1 when it had to be killed, -1 when it
 * had no process. */
int cluster_stop(struct cluster *c, unsigned i, long grace_ms);
/* SIGSTOP / SIGCONT node i. Returns 0, or -1 when it is not running / not paused. */
int cluster_pause(struct cluster *c, unsigned i);
int cluster_resume(struct cluster *c, unsigned i);
/* "new", "running", "paused" or "exited". */
const char *cluster_state_name(enum node_state s);
/* SIGTERM every running node, SIGKILL what is left after grace_ms, reap all. */
void cluster_stop_all(struct cluster *c, long grace_ms);
/* Node i (borrowed). */
/* Node i's resident memory in KiB now and at its peak (VmRSS, VmHWM of /proc/PID/status).
 * Returns 0, or -1 when it is not running or the numbers cannot be read. */
int cluster_rss(const struct cluster *c, unsigned i, long *rss_kib, long *peak_kib);
const struct cluster_node *cluster_node(const struct cluster *c, unsigned i);
unsigned cluster_size(const struct cluster *c);
/* Append the first CLUSTER_LOG_HEAD and last CLUSTER_LOG_TAIL lines of node i's log to out
 * (the whole log when it is that short). */
void cluster_log_excerpt(const struct cluster *c, unsigned i, struct buf *out);
/* Describe how node i ended ("exited with status 1", "killed by signal 9") into out. */
void cluster_describe_exit(const struct cluster *c, unsigned i, char *out, size_t outsz);
/* Stop and free. NULL is a no-op. */
void cluster_free(struct cluster *c);

#endif

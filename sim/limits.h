/* limits: what the machine must allow for a run of many nodes, checked (and where the kernel
 * lets root, raised) before anything starts, so that a run never fails half way.
 *
 * A run needs about nodes x tasks_per_node tasks (processes and threads) besides what already
 * runs: kernel.pid_max, kernel.threads-max and RLIMIT_NPROC must leave room for them, and the
 * memory available must hold nodes x bytes_per_node. Descriptors are the link layer's own plan
 * (links_plan_shards). */
#ifndef CHAINLAB_LIMITS_H
#define CHAINLAB_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define LIMITS_TASK_SLACK 2000    /* tasks kept free for everything else */
#define LIMITS_PID_MAX    4194304 /* the kernel's largest pid_max on 64-bit */
#define LIMITS_NOFILE_CAP 1048576 /* open-files soft limit taken when the hard one is unlimited */

struct limits_need {
    unsigned nodes;
    unsigned tasks_per_node; /* processes and threads of one node */
    uint64_t bytes_per_node; /* memory of one idle node; 0: not checked */
};

/* What the machine says now. */
struct limits_have {
    uint64_t pid_max;       /* kernel.pid_max */
    uint64_t threads_max;   /* kernel.threads-max */
    uint64_t nproc;         /* RLIMIT_NPROC soft limit (UINT64_MAX: unlimited) */
    uint64_t nproc_max;     /* its hard limit */
    uint64_t tasks;         /* tasks running now */
    uint64_t mem_available; /* bytes (MemAvailable) */
};

/* What to change so that need fits have. Pure: fills *want_pid_max and *want_threads_max with
 * the kernel limits to set (0: fine as it is) and *want_nproc with the RLIMIT_NPROC soft limit to
 * set (0: fine). Returns 0 when raising those is enough, or -1 with err saying which limit no
 * raise can meet (the hard RLIMIT_NPROC, pid_max's ceiling, the memory) and what to do. */
int limits_plan(const struct limits_need *need, const struct limits_have *have,
                uint64_t *want_pid_max, uint64_t *want_threads_max, uint64_t *want_nproc, char *err,
                size_t errsz);
/* Read have from /proc and getrlimit. Returns 0, or -1 with err. */
int limits_read(struct limits_have *have, char *err, size_t errsz);
/* Raise this process's open-files soft limit to its hard limit (LIMITS_NOFILE_CAP when that is
 * unlimited). Returns 0, or -1 with err. */
int limits_raise_nofile(char *err, size_t errsz);
/* Read, plan and apply: raise the kernel limits (root only) and RLIMIT_NPROC as planned. Writes
 * what was changed into done ("" when nothing). Returns 0, or -1 with err (what is short, the
 * value needed and the command that would change it) and nothing changed. */
int limits_prepare(const struct limits_need *need, char *done, size_t donesz, char *err,
                   size_t errsz);

#endif

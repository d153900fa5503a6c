/* limits: tasks and memory for a run, planned (a pure function) and applied. */
#include "limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LIMITS_PID_MAX_PATH     "/proc/sys/kernel/pid_max"
#define LIMITS_THREADS_MAX_PATH "/proc/sys/kernel/threads-max"

int limits_plan(const struct limits_need *need, const struct limits_have *have,
                uint64_t *want_pid_max, uint64_t *want_threads_max, uint64_t *want_nproc, char *err,
                size_t errsz)
{
    uint64_t tasks = have->tasks + (uint64_t)need->nodes * need->tasks_per_node + LIMITS_TASK_SLACK;
    *want_pid_max = *want_threads_max = *want_nproc = 0;
    if (tasks > have->pid_max) {
        if (tasks > LIMITS_PID_MAX) {
            snprintf(err, errsz,
                     "%u nodes need about %" PRIu64 " tasks, over the kernel's largest pid_max "
                     "(%d): use fewer nodes",
                     need->nodes, tasks, LIMITS_PID_MAX);
            return -1;
        }
        *want_pid_max = tasks * 2 < LIMITS_PID_MAX ? tasks * 2 : LIMITS_PID_MAX;
    }
    if (tasks > have->threads_max)
        *want_threads_max = tasks * 2;
    if (have->nproc != UINT64_MAX && tasks > have->nproc) {
        if (have->nproc_max != UINT64_MAX && tasks > have->nproc_max) {
            snprintf(err, errsz,
                     "%u nodes need about %" PRIu64 " tasks, over the hard limit on processes "
                     "(ulimit -Hu: %" PRIu64 "): raise it, or use fewer nodes",
                     need->nodes, tasks, have->nproc_max);
            return -1;
        }
        *want_nproc = have->nproc_max;
    }
    uint64_t bytes = (uint64_t)need->nodes * need->bytes_per_node;
    if (need->bytes_per_node > 0 && bytes > have->mem_available) {
        snprintf(err, errsz,
                 "%u nodes need about %" PRIu64 " MiB of memory and %" PRIu64
                 " MiB are available: use fewer nodes, or free memory",
                 need->nodes, bytes >> 20, have->mem_available >> 20);
        return -1;
    }
    return 0;
}

/* The first number in file path. Returns 0, or -1. */
static int limits_read_number(const char *path, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int rc = fscanf(f, "%" SCNu64, out) == 1 ? 0 : -1;
    fclose(f);
    return rc;
}

int limits_read(struct limits_have *have, char *err, size_t errsz)
{
    memset(have, 0, sizeof(*have));
    if (limits_read_number(LIMITS_PID_MAX_PATH, &have->pid_max) < 0 ||
        limits_read_number(LIMITS_THREADS_MAX_PATH, &have->threads_max) < 0) {
        snprintf(err, errsz, "cannot read the kernel's task limits: %s", strerror(errno));
        return -1;
    }
    FILE *f = fopen("/proc/loadavg", "r");
    unsigned long running = 0, total = 0;
    if (f == NULL || fscanf(f, "%*s %*s %*s %lu/%lu", &running, &total) != 2) {
        if (f)
            fclose(f);
        snprintf(err, errsz, "cannot read the number of tasks from /proc/loadavg");
        return -1;
    }
    fclose(f);
    have->tasks = total;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) < 0) {
        snprintf(err, errsz, "cannot read RLIMIT_NPROC: %s", strerror(errno));
        return -1;
    }
    have->nproc = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    have->nproc_max = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
    f = fopen("/proc/meminfo", "r");
    char line[128];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        uint64_t kib;
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1)
            have->mem_available = kib * 1024;
    }
    if (f)
        fclose(f);
    return 0;
}

/* Write value into the kernel setting at path. Returns 0, or -1 with err. */
static int limits_write(const char *path, const char *name, uint64_t value, char *err, size_t errsz)
{
    FILE *f = geteuid() == 0 ? fopen(path, "w") : NULL;
    int rc = -1;
    if (f != NULL) {
        rc = fprintf(f, "%" PRIu64 "\n", value) > 0 ? 0 : -1;
        rc |= fclose(f) == 0 ? 0 : -1;
    }
    if (rc < 0)
        snprintf(err, errsz,
                 "%s must be at least %" PRIu64 " and cannot be raised from here (%s): run "
                 "'sysctl -w %s=%" PRIu64 "' as root, or use fewer nodes",
                 name, value / 2, geteuid() == 0 ? strerror(errno) : "not root", name, value);
    return rc;
}

int limits_raise_nofile(char *err, size_t errsz)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errsz, "cannot read the open-files limit: %s", strerror(errno));
        return -1;
    }
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? LIMITS_NOFILE_CAP : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errsz, "cannot raise the open-files limit to %llu: %s",
                 (unsigned long long)want, strerror(errno));
        return -1;
    }
    return 0;
}

int limits_prepare(const struct limits_need *need, char *done, size_t donesz, char *err,
                   size_t errsz)
{
    struct limits_have have;
    uint64_t pid_max, threads_max, nproc;
    done[0] = '\0';
    if (limits_raise_nofile(err, errsz) < 0 || limits_read(&have, err, errsz) < 0 ||
        limits_plan(need, &have, &pid_max, &threads_max, &nproc, err, errsz) < 0)
        return -1;
    if (pid_max && limits_write(LIMITS_PID_MAX_PATH, "kernel.pid_max", pid_max, err, errsz) < 0)
        return -1;
    if (threads_max &&
        limits_write(LIMITS_THREADS_MAX_PATH, "kernel.threads-max", threads_max, err, errsz) < 0)
        return -1;
    if (nproc) {
        struct rlimit rl = {.rlim_cur = nproc == UINT64_MAX ? RLIM_INFINITY : nproc,
                            .rlim_max =
                                have.nproc_max == UINT64_MAX ? RLIM_INFINITY : have.nproc_max};
        if (setrlimit(RLIMIT_NPROC, &rl) < 0) {
            snprintf(err, errsz, "cannot raise RLIMIT_NPROC: %s", strerror(errno));
            return -1;
        }
    }
    size_t n = 0;
    if (pid_max)
        n += (size_t)snprintf(done + n, donesz - n, "kernel.pid_max %" PRIu64 " -> %" PRIu64 "; ",
                              have.pid_max, pid_max);
    if (threads_max && n < donesz)
        n += (size_t)snprintf(done + n, donesz - n,
                              "kernel.threads-max %" PRIu64 " -> %" PRIu64 "; ", have.threads_max,
                              threads_max);
    if (nproc && n < donesz)
        n += (size_t)snprintf(done + n, donesz - n, "RLIMIT_NPROC raised to its hard limit; ");
    if (n >= 2 && n < donesz)
        done[n - 2] = '\0';
    return 0;
}

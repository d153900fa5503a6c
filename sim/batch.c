/* batch: runs a list of scenario runs, one after the other or in child processes. */
#include "batch.h"

#include <errno.h>
#include <linux/limits.h> /* PATH_MAX (<limits.h> is sim/limits.h here) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "ports.h"
#include "xalloc.h"

/* A run in a child process. */
struct job {
    pid_t pid; /* 0 when no child runs for it */
    char out_path[PATH_MAX];
    char result_path[PATH_MAX];
};

int batch_severity(int code)
{
    switch (code) {
    case RUNNER_OK:
        return 0;
    case RUNNER_FAILED:
        return 1;
    case RUNNER_BAD:
        return 2;
    case RUNNER_CLUSTER:
        return 3;
    default:
        return 4;
    }
}

/* The options of item it: base with its run folder and seed. */
static struct runner_opts item_opts(const struct runner_opts *base, const struct batch_item *it)
{
    struct runner_opts o = *base;
    o.run_dir = it->run_dir;
    if (it->seed_given) {
        o.seed_given = true;
        o.seed = it->seed;
    }
    return o;
}

/* {"NAME": "value in force", ...} for a scenario with parameters (new reference), or NULL. */
static json_t *params_json(const struct scenario *sc)
{
    if (sc->n_params == 0)
        return NULL;
    json_t *obj = json_object();
    for (size_t i = 0; i < sc->n_params; i++)
        json_object_set_new(obj, sc->params[i].name, json_string(sc->params[i].value));
    return obj;
}

/* Record the end of item it (result: new reference or NULL) and tell the caller. */
static void finish(struct batch_item *it, size_t index, int code, json_t *result,
                   batch_done_cb done, void *arg)
{
    it->done = true;
    it->code = code;
    it->result = result;
    json_t *params = params_json(it->sc);
    if (result && params)
        json_object_set_new(result, "params", params);
    else
        json_decref(params);
    if (done)
        done(arg, index, it);
}

/* Run one item in a child process writing its output and result to files; returns its pid, or
 * -1 when fork failed. */
static pid_t spawn(const struct batch_item *it, struct runner_opts o, struct job *jb,
                   const char *tmpdir, size_t k)
{
    snprintf(jb->out_path, sizeof(jb->out_path), "%s/job%zu.out", tmpdir, k);
    snprintf(jb->result_path, sizeof(jb->result_path), "%s/job%zu.json", tmpdir, k);
    pid_t parent = getpid();
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        return -1;
    case 0: {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(RUNNER_INTERRUPTED);
        FILE *out = o.out ? fopen(jb->out_path, "w") : NULL;
        if (o.out)
            o.out = out ? out : stderr;
        json_t *res = NULL;
        int code = runner_run(it->sc, &o, &res);
        json_dump_file(res, jb->result_path, JSON_PRESERVE_ORDER);
        json_decref(res);
        if (out)
            fclose(out);
        _exit(code);
    }
    default:
        return pid;
    }
}

static void cat_file(const char *path, FILE *to)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, to);
    fclose(f);
    fflush(to);
}

/* Describe a child's wait status into out. */
static void describe_status(int st, char *out, size_t outsz)
{
    if (WIFSIGNALED(st))
        snprintf(out, outsz, "its process was killed by signal %d", WTERMSIG(st));
    else
        snprintf(out, outsz, "its process exited with status %d", WEXITSTATUS(st));
}

/* The port run k starts at (with --base-port: after the nodes of the runs before it), or where
 * its search for free ports starts (each run in its own part of the range; found ports are held,
 * so runs never share one). */
static uint16_t run_port(const struct runner_opts *base, const struct batch_item *items, size_t k)
{
    if (base->base_port_fixed) {
        unsigned offset = 0;
        for (size_t i = 0; i < k; i++)
            offset += items[i].sc->nodes;
        return (uint16_t)(base->base_port + offset);
    }
    uint16_t low, high;
    ports_search_range(&low, &high);
    return (uint16_t)(low + ((unsigned)getpid() * 7919u + (unsigned)k * 2503u) %
                                ((unsigned)high - low + 1));
}

static int run_serial(struct batch_item *items, size_t n, const struct runner_opts *base,
                      batch_done_cb done, void *arg)
{
    int worst = RUNNER_OK;
    for (size_t i = 0; i < n && !(base->interrupted && *base->interrupted); i++) {
        struct runner_opts o = item_opts(base, &items[i]);
        json_t *res = NULL;
        int code = runner_run(items[i].sc, &o, &res);
        finish(&items[i], i, code, res, done, arg);
        if (batch_severity(code) > batch_severity(worst))
            worst = code;
    }
    return worst;
}

static int run_parallel(struct batch_item *items, size_t n, const struct runner_opts *base,
                        unsigned jobs, batch_done_cb done, void *arg)
{
    char tmpdir[] = "/tmp/chainlab-sim-XXXXXX";
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "chainlab-sim: cannot make a temporary folder: %s\n", strerror(errno));
        return RUNNER_CLUSTER;
    }
    struct job *jb = xcalloc(n, sizeof(*jb));
    int worst = RUNNER_OK;
    size_t next = 0, running = 0;
    bool interrupted = false;
    while (next < n || running > 0) {
        interrupted = base->interrupted && *base->interrupted;
        while (next < n && running < jobs && !interrupted) {
            struct runner_opts o = item_opts(base, &items[next]);
            o.base_port = run_port(base, items, next);
            jb[next].pid = spawn(&items[next], o, &jb[next], tmpdir, next);
            if (jb[next].pid > 0) {
                running++;
            } else {
                jb[next].pid = 0;
                snprintf(items[next].why, sizeof(items[next].why), "fork failed: %s",
                         strerror(errno));
                finish(&items[next], next, RUNNER_CLUSTER, NULL, done, arg);
                worst =
                    batch_severity(RUNNER_CLUSTER) > batch_severity(worst) ? RUNNER_CLUSTER : worst;
            }
            next++;
        }
        if (interrupted)
            next = n; /* start nothing more */
        if (running == 0)
            continue;
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) {
                for (size_t i = 0; i < n; i++) {
                    if (jb[i].pid > 0)
                        kill(jb[i].pid, SIGTERM);
                }
                continue;
            }
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (jb[i].pid != pid)
                continue;
            running--;
            jb[i].pid = 0;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : RUNNER_CLUSTER;
            if (batch_severity(code) > batch_severity(worst))
                worst = code;
            if (base->out)
                cat_file(jb[i].out_path, base->out);
            json_t *res = json_load_file(jb[i].result_path, 0, NULL);
            if (res == NULL) {
                describe_status(st, items[i].why, sizeof(items[i].why));
                code = code == RUNNER_OK ? RUNNER_CLUSTER : code;
            }
            unlink(jb[i].out_path);
            unlink(jb[i].result_path);
            finish(&items[i], i, code, res, done, arg);
        }
    }
    rmdir(tmpdir);
    free(jb);
    return worst;
}

int batch_run(struct batch_item *items, size_t n, const struct runner_opts *base, unsigned jobs,
              batch_done_cb done, void *arg, char *err, size_t errsz)
{
    unsigned long ports = 0;
    for (size_t i = 0; i < n; i++)
        ports += items[i].sc->nodes;
    if (jobs < 1)
        jobs = 1;
    if (jobs > BATCH_MAX_JOBS)
        jobs = BATCH_MAX_JOBS;
    if (jobs > n)
        jobs = n > 0 ? (unsigned)n : 1;
    if (jobs > 1 && base->base_port_fixed && base->base_port + ports > 65536ul) {
        err_set(err, errsz,
                "--base-port %u with -j leaves no room for the %lu ports of these runs (the "
                "last would be %lu): pick a lower port, or leave the choice to the sim",
                base->base_port, ports, base->base_port + ports - 1);
        return RUNNER_BAD;
    }
    int worst = jobs <= 1 ? run_serial(items, n, base, done, arg)
                          : run_parallel(items, n, base, jobs, done, arg);
    /* With --keep, Ctrl-C ends the wait at the end of the run: its result stands. */
    if (base->interrupted && *base->interrupted && !base->keep)
        worst = RUNNER_INTERRUPTED;
    return worst;
}

void batch_clear(struct batch_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(items[i].result);
        items[i].result = NULL;
    }
}

/* cluster: the node processes of one scenario run. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ports.h"
#include "spawner.h"
#include "xalloc.h"

struct cluster {
    struct cluster_node *nodes;
    unsigned n;
    char *run_dir;
    char *node_bin;
    long grace_ms;           /* at teardown */
    int *held;               /* per node: the socket holding its port until it starts, or -1 */
    bool own_address;        /* pass --host and --source to chainlab nodes */
    char **advertise;        /* per node: the --advertise URL of chainlab nodes, or NULL */
    bool spawn;              /* chainlab nodes come from the spawner */
    struct spawner *spawner; /* started with the first such node, or NULL */
    char *spawner_log;       /* <run_dir>/spawner.log */
    struct events *ev;       /* or NULL */
    bool *announced;         /* per node: its `ready` event was recorded since it last started */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Record a `node` event: action on node i with its pid (0: none), and how it ended when exited. */
static void cluster_emit(struct cluster *c, unsigned i, const char *action, pid_t pid)
{
    if (c->ev == NULL)
        return;
    json_t *f =
        json_pack("{s:s, s:o, s:i, s:s, s:i}", "action", action, "node", json_sprintf("n%u", i),
                  "pid", (int)pid, "host", c->nodes[i].host, "port", (int)c->nodes[i].port);
    if (c->nodes[i].state == NODE_EXITED) {
        char how[64];
        cluster_describe_exit(c, i, how, sizeof(how));
        json_object_set_new(f, "how", json_string(how));
    }
    events_emit(c->ev, "node", f);
}

/* A copy of the NULL-terminated list words (NULL: an empty list). Caller frees with
 * free_argv(). */
static char **copy_words(char *const *words)
{
    size_t n = 0;
    while (words && words[n])
        n++;
    char **out = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(words[i]);
    return out;
}

static void free_argv(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}

struct cluster *cluster_new(const struct cluster_spec *spec, char *err, size_t errsz)
{
    struct cluster *c = xcalloc(1, sizeof(*c));
    c->n = spec->n;
    c->nodes = xcalloc(spec->n, sizeof(*c->nodes));
    c->run_dir = xstrdup(spec->run_dir);
    c->node_bin = spec->node_bin ? xstrdup(spec->node_bin) : NULL;
    c->grace_ms = spec->grace_ms > 0 ? spec->grace_ms : CLUSTER_GRACE_MS;
    c->ev = spec->events;
    c->own_address = spec->own_address;
    if (spec->advertise != NULL) {
        c->advertise = xcalloc(spec->n ? spec->n : 1, sizeof(char *));
        for (unsigned i = 0; i < spec->n; i++) {
            char host[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &spec->advertise[i].sin_addr, host, sizeof(host));
            c->advertise[i] = xasprintf("http://%s:%u", host, ntohs(spec->advertise[i].sin_port));
        }
    }
    c->spawn = spec->spawn;
    c->spawner_log = xasprintf("%s/spawner.log", spec->run_dir);
    c->announced = xcalloc(spec->n ? spec->n : 1, sizeof(bool));
    c->held = xcalloc(spec->n, sizeof(int));
    for (unsigned i = 0; i < spec->n; i++)
        c->held[i] = spec->held_ports ? spec->held_ports[i] : -1;
    for (unsigned i = 0; i < spec->n; i++) {
        struct cluster_node *nd = &c->nodes[i];
        nd->index = i;
        if (spec->addr != NULL) {
            nd->addr = spec->addr[i];
        } else {
            nd->addr = (struct sockaddr_in){.sin_family = AF_INET,
                                            .sin_port = htons((uint16_t)(spec->first_port + i))};
            nd->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
        nd->port = ntohs(nd->addr.sin_port);
        inet_ntop(AF_INET, &nd->addr.sin_addr, nd->host, sizeof(nd->host));
        nd->dir = xasprintf("%s/n%u", spec->run_dir, i);
        nd->log_path = xasprintf("%s/n%u.log", spec->run_dir, i);
        nd->cmd = spec->node_cmds && spec->node_cmds[i] ? xstrdup(spec->node_cmds[i])
                  : spec->node_cmd                      ? xstrdup(spec->node_cmd)
                                                        : NULL;
        nd->args = copy_words(spec->node_args ? spec->node_args[i] : NULL);
        if (mkdir(nd->dir, 0777) < 0 && errno != EEXIST) {
            snprintf(err, errsz, "cannot make %s: %s", nd->dir, strerror(errno));
            cluster_free(c);
            return NULL;
        }
    }
    return c;
}

/* Replace {node} {port} {host} {dir} in tmpl for node nd. Caller frees. */
static char *substitute(const char *tmpl, const struct cluster_node *nd)
{
    struct buf b = BUF_INIT;
    for (const char *s = tmpl; *s;) {
        if (strncmp(s, "{node}", 6) == 0) {
            buf_printf(&b, "n%u", nd->index);
            s += 6;
        } else if (strncmp(s, "{port}", 6) == 0) {
            buf_printf(&b, "%u", nd->port);
            s += 6;
        } else if (strncmp(s, "{host}", 6) == 0) {
            buf_append_str(&b, nd->host);
            s += 6;
        } else if (strncmp(s, "{dir}", 5) == 0) {
            buf_append_str(&b, nd->dir);
            s += 5;
        } else {
            buf_append_char(&b, *s++);
        }
    }
    return buf_steal(&b, NULL);
}

/* Append word to a shell command line, single-quoted. */
static void shell_quote(struct buf *b, const char *word)
{
    buf_append_char(b, '\'');
    for (const char *s = word; *s; s++) {
        if (*s == '\'')
            buf_append_str(b, "'\\''");
        else
            buf_append_char(b, *s);
    }
    buf_append_char(b, '\'');
}

/* The argv for node nd (NULL-terminated; caller frees with free_argv()). */
static char **node_argv(const struct cluster *c, const struct cluster_node *nd)
{
    size_t na = 0;
    while (nd->args[na])
        na++;
    char **argv = xcalloc(na + 12, sizeof(char *));
    size_t k = 0;
    if (nd->cmd) {
        struct buf cmd = BUF_INIT;
        char *t = substitute(nd->cmd, nd);
        buf_printf(&cmd, "exec %s", t);
        free(t);
        for (size_t i = 0; i < na; i++) {
            char *w = substitute(nd->args[i], nd);
            buf_append_char(&cmd, ' ');
            shell_quote(&cmd, w);
            free(w);
        }
        argv[k++] = xstrdup("/bin/sh");
        argv[k++] = xstrdup("-c");
        argv[k++] = buf_steal(&cmd, NULL);
    } else {
        argv[k++] = xstrdup(c->node_bin);
        argv[k++] = xasprintf("%u", nd->port);
        argv[k++] = xstrdup("--id");
        argv[k++] = xasprintf("n%u", nd->index);
        if (c->own_address) {
            argv[k++] = xstrdup("--host");
            argv[k++] = xstrdup(nd->host);
            argv[k++] = xstrdup("--source");
            argv[k++] = xstrdup(nd->host);
        }
        if (c->advertise != NULL) {
            argv[k++] = xstrdup("--advertise");
            argv[k++] = xstrdup(c->advertise[nd->index]);
        }
        for (size_t i = 0; i < na; i++)
            argv[k++] = substitute(nd->args[i], nd);
    }
    argv[k] = NULL;
    return argv;
}

/* Start node nd from the spawner (started the first time). Returns its pid, or -1 with err. */
static pid_t cluster_spawn(struct cluster *c, struct cluster_node *nd, char **argv, char *err,
                           size_t errsz)
{
    if (c->spawner == NULL) {
        c->spawner = spawner_new(c->node_bin, c->spawner_log, err, errsz);
        if (c->spawner == NULL)
            return -1;
    }
    return spawner_spawn(c->spawner, argv, nd->log_path, err, errsz);
}

/* The node's record once its process pid exists. */
static void cluster_started(struct cluster *c, unsigned i, pid_t pid)
{
    struct cluster_node *nd = &c->nodes[i];
    nd->pid = pid;
    nd->state = NODE_RUNNING;
    nd->expected_exit = false;
    c->announced[i] = false;
    cluster_emit(c, i, "started", pid);
}

int cluster_start(struct cluster *c, unsigned i, char *err, size_t errsz)
{
    struct cluster_node *nd = &c->nodes[i];
    char **argv = node_argv(c, nd);
    pid_t parent = getpid();
    cluster_release_ports(c); /* a child must not inherit a port another node binds */
    if (c->spawn && nd->cmd == NULL) {
        pid_t pid = cluster_spawn(c, nd, argv, err, errsz);
        free_argv(argv);
        if (pid < 0)
            return -1;
        cluster_started(c, i, pid);
        return 0;
    }
    int logfd = open(nd->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (logfd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", nd->log_path, strerror(errno));
        free_argv(argv);
        return -1;
    }
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(logfd);
        free_argv(argv);
        return -1;
    case 0: {
        /* The child: its own process group, dies with the sim, output to its log. */
        spawner_reset_signals();
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "chainlab-sim: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    default:
        break;
    }
    setpgid(pid, pid); /* also from the parent, so a signal right away reaches the group */
    close(logfd);
    free_argv(argv);
    cluster_started(c, i, pid);
    return 0;
}

void cluster_release_ports(struct cluster *c)
{
    for (unsigned i = 0; i < c->n; i++)
        ports_release(&c->held[i]);
}

int cluster_reap(struct cluster *c)
{
    /* One look at whether any child has exited (without reaping it) before asking each node:
     * this runs between two polls of every await, with up to tens of thousands of nodes. */
    siginfo_t info = {0};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0)
        return -1;
    int unexpected = -1;
    for (unsigned i = 0; i < c->n; i++) {
        struct cluster_node *nd = &c->nodes[i];
        if (nd->state != NODE_RUNNING && nd->state != NODE_PAUSED)
            continue;
        int st;
        pid_t pid = nd->pid;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            nd->state = NODE_EXITED;
            nd->wait_status = st;
            nd->pid = 0;
            if (!nd->expected_exit && unexpected < 0)
                unexpected = (int)i;
            if (!nd->expected_exit)
                cluster_emit(c, i, "exited", pid);
        }
    }
    return unexpected;
}

void cluster_describe_exit(const struct cluster *c, unsigned i, char *out, size_t outsz)
{
    int st = c->nodes[i].wait_status;
    if (WIFEXITED(st))
        snprintf(out, outsz, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, outsz, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(out, outsz, "ended (wait status %d)", st);
}

void cluster_log_excerpt(const struct cluster *c, unsigned i, struct buf *out)
{
    FILE *f = fopen(c->nodes[i].log_path, "r");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0, total = 0;
    char *tail[CLUSTER_LOG_TAIL] = {NULL};
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (total < CLUSTER_LOG_HEAD) {
            buf_append(out, line, (size_t)n);
        } else {
            free(tail[total % CLUSTER_LOG_TAIL]);
            tail[total % CLUSTER_LOG_TAIL] = xstrdup(line);
        }
        total++;
    }
    free(line);
    fclose(f);
    size_t from = CLUSTER_LOG_HEAD;
    if (total > CLUSTER_LOG_HEAD + CLUSTER_LOG_TAIL) {
        buf_printf(out, "... (%zu lines not shown)\n", total - CLUSTER_LOG_HEAD - CLUSTER_LOG_TAIL);
        from = total - CLUSTER_LOG_TAIL;
    }
    for (size_t k = from; k < total; k++) {
        buf_append_str(out, tail[k % CLUSTER_LOG_TAIL]);
        if (out->data[out->len - 1] != '\n')
            buf_append_char(out, '\n');
    }
    for (size_t k = 0; k < CLUSTER_LOG_TAIL; k++)
        free(tail[k]);
}

int cluster_wait_ready(struct cluster *c, struct probe *p, long timeout_ms, char *err, size_t errsz)
{
    int64_t deadline = now_ms() + timeout_ms;
    bool *ready = xcalloc(c->n, sizeof(bool));
    struct probe_req *reqs = xcalloc(c->n, sizeof(*reqs));
    int rc = -1;
    for (;;) {
        size_t k = 0;
        for (unsigned i = 0; i < c->n; i++) {
            if (c->nodes[i].state == NODE_RUNNING && !ready[i])
                reqs[k++] = (struct probe_req){.node = i, .method = "GET", .path = "/block"};
        }
        if (k == 0) {
            rc = 0;
            break;
        }
        probe_run(p, reqs, k, 500);
        for (size_t j = 0; j < k; j++) {
            if (reqs[j].reply.status == 200) {
                unsigned nk = reqs[j].node;
                ready[nk] = true;
                if (!c->announced[nk])
                    cluster_emit(c, nk, "ready", c->nodes[nk].pid);
                c->announced[nk] = true;
            }
            probe_reply_clear(&reqs[j].reply);
        }
        int dead = cluster_reap(c);
        if (dead >= 0) {
            char how[64];
            struct buf tail = BUF_INIT;
            cluster_describe_exit(c, (unsigned)dead, how, sizeof(how));
            cluster_log_excerpt(c, (unsigned)dead, &tail);
            snprintf(err, errsz, "n%d (port %u) %s before it was ready; the end of %s:\n%s", dead,
                     c->nodes[dead].port, how, c->nodes[dead].log_path,
                     tail.data ? tail.data : "(empty)\n");
            buf_free(&tail);
            break;
        }
        if (now_ms() > deadline) {
            for (unsigned i = 0; i < c->n; i++) {
                if (c->nodes[i].state == NODE_RUNNING && !ready[i]) {
                    snprintf(err, errsz, "n%u did not answer GET /block on port %u within %ldms", i,
                             c->nodes[i].port, timeout_ms);
                    break;
                }
            }
            break;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(ready);
    free(reqs);
    return rc;
}

int cluster_signal(struct cluster *c, unsigned i, int sig)
{
    struct cluster_node *nd = &c->nodes[i];
    if (nd->state != NODE_RUNNING && nd->state != NODE_PAUSED)
        return -1;
    return kill(-nd->pid, sig) == 0 || kill(nd->pid, sig) == 0 ? 0 : -1;
}

/* Wait for node i to exit, at most ms (forever when ms < 0). Returns true when it was reaped. */
static bool wait_exit(struct cluster *c, unsigned i, long ms)
{
    struct cluster_node *nd = &c->nodes[i];
    int64_t deadline = now_ms() + ms;
    for (;;) {
        int st;
        pid_t got = waitpid(nd->pid, &st, ms < 0 ? 0 : WNOHANG);
        if (got == nd->pid || (got < 0 && errno == ECHILD)) {
            nd->state = NODE_EXITED;
            nd->wait_status = got == nd->pid ? st : 0;
            nd->pid = 0;
            return true;
        }
        if (ms >= 0 && now_ms() > deadline)
            return false;
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int cluster_kill(struct cluster *c, unsigned i)
{
    pid_t pid = c->nodes[i].pid;
    c->nodes[i].expected_exit = true;
    if (cluster_signal(c, i, SIGKILL) < 0)
        return -1;
    wait_exit(c, i, -1);
    cluster_emit(c, i, "killed", pid);
    return 0;
}

int cluster_stop(struct cluster *c, unsigned i, long grace_ms)
{
    pid_t pid = c->nodes[i].pid;
    c->nodes[i].expected_exit = true;
    if (cluster_signal(c, i, SIGCONT) < 0)
        return -1;
    cluster_signal(c, i, SIGTERM);
    if (wait_exit(c, i, grace_ms)) {
        cluster_emit(c, i, "stopped", pid);
        return 0;
    }
    cluster_signal(c, i, SIGKILL);
    wait_exit(c, i, -1);
    cluster_emit(c, i, "killed", pid);
    return 1;
}

int cluster_pause(struct cluster *c, unsigned i)
{
    if (c->nodes[i].state != NODE_RUNNING || cluster_signal(c, i, SIGSTOP) < 0)
        return -1;
    c->nodes[i].state = NODE_PAUSED;
    cluster_emit(c, i, "paused", c->nodes[i].pid);
    return 0;
}

int cluster_resume(struct cluster *c, unsigned i)
{
    if (c->nodes[i].state != NODE_PAUSED || cluster_signal(c, i, SIGCONT) < 0)
        return -1;
    c->nodes[i].state = NODE_RUNNING;
    cluster_emit(c, i, "resumed", c->nodes[i].pid);
    return 0;
}

const char *cluster_state_name(enum node_state s)
{
    switch (s) {
    case NODE_NEW:
        return "new";
    case NODE_RUNNING:
        return "running";
    case NODE_PAUSED:
        return "paused";
    default:
        return "exited";
    }
}

void cluster_stop_all(struct cluster *c, long grace_ms)
{
    pid_t *pids = xcalloc(c->n ? c->n : 1, sizeof(pid_t));
    for (unsigned i = 0; i < c->n; i++) {
        if (c->nodes[i].state == NODE_RUNNING || c->nodes[i].state == NODE_PAUSED) {
            pids[i] = c->nodes[i].pid;
            c->nodes[i].expected_exit = true;
            cluster_signal(c, i, SIGCONT);
            cluster_signal(c, i, SIGTERM);
            c->nodes[i].state = NODE_RUNNING;
        }
    }
    int64_t deadline = now_ms() + grace_ms;
    for (;;) {
        cluster_reap(c);
        bool left = false;
        for (unsigned i = 0; i < c->n; i++)
            left |= c->nodes[i].state == NODE_RUNNING;
        if (!left)
            break;
        if (now_ms() > deadline) {
            for (unsigned i = 0; i < c->n; i++) {
                if (c->nodes[i].state == NODE_RUNNING) {
                    cluster_signal(c, i, SIGKILL);
                    int st;
                    waitpid(c->nodes[i].pid, &st, 0);
                    c->nodes[i].state = NODE_EXITED;
                    c->nodes[i].wait_status = st;
                    c->nodes[i].pid = 0;
                }
            }
            break;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < c->n; i++) {
        if (pids[i])
            cluster_emit(c, i, "stopped", pids[i]);
    }
    free(pids);
}

int cluster_rss(const struct cluster *c, unsigned i, long *rss_kib, long *peak_kib)
{
    const struct cluster_node *nd = &c->nodes[i];
    if (nd->pid <= 0 || nd->state == NODE_EXITED)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)nd->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int found = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", rss_kib) == 1 ||
            sscanf(line, "VmHWM: %ld kB", peak_kib) == 1)
            found++;
    }
    fclose(f);
    return found == 2 ? 0 : -1;
}

const struct cluster_node *cluster_node(const struct cluster *c, unsigned i)
{
    return &c->nodes[i];
}

unsigned cluster_size(const struct cluster *c)
{
    return c->n;
}

void cluster_free(struct cluster *c)
{
    if (c == NULL)
        return;
    cluster_stop_all(c, c->grace_ms);
    spawner_free(c->spawner);
    free(c->spawner_log);
    for (unsigned i = 0; i < c->n; i++) {
        ports_release(&c->held[i]);
        free(c->nodes[i].dir);
        free(c->nodes[i].log_path);
        free(c->nodes[i].cmd);
        free_argv(c->nodes[i].args);
    }
    free(c->held);
    free(c->announced);
    for (unsigned i = 0; c->advertise != NULL && i < c->n; i++)
        free(c->advertise[i]);
    free(c->advertise);
    free(c->nodes);
    free(c->run_dir);
    free(c->node_bin);
    free(c);
}

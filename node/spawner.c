/* spawner: nodes forked from one process that loaded the libraries once (see spawner.h). */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

#define SPAWNER_FD          3    /* the socket's number in the spawner process */
#define SPAWNER_REPARENT_MS 5000 /* how long a new node waits to become the caller's child */
#define SPAWNER_MAX_ARGS    1024 /* words of one argv */

struct spawner {
    pid_t pid;
    int fd;
};

/* One request, parsed in place: log path, then argv. */
struct spawn_request {
    const char *log_path;
    int argc;
    char *argv[SPAWNER_MAX_ARGS + 1];
};

/* Split msg (n bytes, NUL-separated words, the last one NUL-terminated) into rq. Returns 0, or
 * -1 when it is malformed. */
static int spawner_parse(char *msg, size_t n, struct spawn_request *rq)
{
    if (n == 0 || msg[n - 1] != '\0')
        return -1;
    rq->log_path = msg;
    rq->argc = 0;
    for (char *p = msg + strlen(msg) + 1; p < msg + n; p += strlen(p) + 1) {
        if (rq->argc == SPAWNER_MAX_ARGS)
            return -1;
        rq->argv[rq->argc++] = p;
    }
    rq->argv[rq->argc] = NULL;
    return rq->argc > 0 ? 0 : -1;
}

static int64_t spawner_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void spawner_reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
}

/* Point stdin at /dev/null and stdout and stderr at the end of log_path. Returns 0 or -1. */
static int spawner_redirect(const char *log_path)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0666);
    int rc = -1;
    if (in < 0 || out < 0)
        goto out;
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
        goto out;
    rc = 0;
out:
    if (in > STDERR_FILENO)
        close(in);
    if (out > STDERR_FILENO)
        close(out);
    return rc;
}

/* Write argv (NUL-separated, cut to fit) over the process's command line, NULs after it. */
static void spawner_set_title(char *title, size_t title_len, char *const argv[])
{
    size_t n = 0;
    for (size_t i = 0; argv[i] != NULL && n < title_len; i++) {
        size_t len = strlen(argv[i]) + 1;
        if (len > title_len - n)
            len = title_len - n;
        memcpy(title + n, argv[i], len);
        n += len;
    }
    memset(title + n, 0, title_len - n);
    if (title_len > 0)
        title[title_len - 1] = '\0';
}

/* The node: once the caller is its parent, tie its life to the caller's and run node_main. */
static void spawner_run_node(struct spawn_request *rq, pid_t caller, spawner_main_fn node_main,
                             char *title, size_t title_len)
{
    spawner_set_title(title, title_len, rq->argv);
    spawner_reset_signals();
    if (spawner_redirect(rq->log_path) < 0)
        _exit(127);
    int64_t deadline = spawner_now_ms() + SPAWNER_REPARENT_MS;
    while (getppid() != caller) {
        if (spawner_now_ms() > deadline) {
            fprintf(stderr, "chainlab-node: spawned, but never became the child of pid %d\n",
                    (int)caller);
            _exit(127);
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != caller)
        _exit(127); /* the caller died in between */
    optind = 1;     /* getopt starts afresh, as in a new process */
    fflush(NULL);
    exit(node_main(rq->argc, rq->argv));
}

/* Fork the intermediate, which forks the node, answers its pid on fd and exits at once. */
static void spawner_fork_node(int fd, struct spawn_request *rq, pid_t caller,
                              spawner_main_fn node_main, char *title, size_t title_len)
{
    pid_t mid;
    switch (mid = fork()) {
    case -1: {
        int32_t reply = -errno;
        send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
        return;
    }
    case 0: {
        pid_t node;
        switch (node = fork()) {
        case -1:
            node = -errno;
            break;
        case 0:
            close(fd);
            spawner_run_node(rq, caller, node_main, title, title_len);
            _exit(127); /* not reached */
        default:
            setpgid(node, node); /* before the caller learns the pid: it signals the group */
            break;
        }
        int32_t reply = (int32_t)node;
        send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
        _exit(0);
    }
    default:
        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
}

int spawner_serve(int fd, spawner_main_fn node_main, char *title, size_t title_len)
{
    char *const self[] = {"chainlab-node", "--spawner", NULL};
    spawner_set_title(title, title_len, self);
    pid_t caller = getppid();
    close_range(SPAWNER_FD + 1, ~0U, 0); /* nothing of the caller's leaks into the nodes */
    signal(SIGINT, SIG_IGN);             /* Ctrl-C goes to the caller's group; the caller decides */
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != caller)
        return -1;
    char *msg = xmalloc(SPAWNER_MSG_MAX);
    int rc = -1;
    for (;;) {
        ssize_t n = recv(fd, msg, SPAWNER_MSG_MAX, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break; /* the caller closed the socket */
        struct spawn_request rq;
        if (spawner_parse(msg, (size_t)n, &rq) < 0) {
            int32_t reply = -EINVAL;
            send(fd, &reply, sizeof(reply), MSG_NOSIGNAL);
            continue;
        }
        fflush(NULL);
        spawner_fork_node(fd, &rq, caller, node_main, title, title_len);
    }
    rc = 0;
out:
    free(msg);
    return rc;
}

struct spawner *spawner_new(const char *node_bin, const char *log_path, char *err, size_t errsz)
{
    int sv[2] = {-1, -1};
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        snprintf(err, errsz, "cannot become a subreaper: %s", strerror(errno));
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errsz, "socketpair: %s", strerror(errno));
        return NULL;
    }
    pid_t parent = getpid();
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return NULL;
    case 0:
        spawner_reset_signals();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (spawner_redirect(log_path) < 0 || dup2(sv[1], SPAWNER_FD) < 0)
            _exit(127);
        char pad[SPAWNER_TITLE];
        memset(pad, ' ', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        execl(node_bin, node_bin, "--spawner", "3", pad, (char *)NULL);
        dprintf(STDERR_FILENO, "chainlab-sim: cannot run %s: %s\n", node_bin, strerror(errno));
        _exit(127);
    default:
        break;
    }
    close(sv[1]);
    struct spawner *sp = xcalloc(1, sizeof(*sp));
    sp->pid = pid;
    sp->fd = sv[0];
    return sp;
}

pid_t spawner_spawn(struct spawner *sp, char *const argv[], const char *log_path, char *err,
                    size_t errsz)
{
    char *msg = xmalloc(SPAWNER_MSG_MAX);
    size_t n = 0;
    pid_t pid = -1;
    const char *word = log_path;
    for (size_t i = 0; word != NULL; word = argv[i++]) {
        size_t len = strlen(word) + 1;
        if (n + len > SPAWNER_MSG_MAX) {
            snprintf(err, errsz, "the command line is over %d bytes", SPAWNER_MSG_MAX);
            goto out;
        }
        memcpy(msg + n, word, len);
        n += len;
    }
    if (send(sp->fd, msg, n, MSG_NOSIGNAL) != (ssize_t)n) {
        snprintf(err, errsz, "the spawner (pid %d) is gone: %s", (int)sp->pid, strerror(errno));
        goto out;
    }
    struct pollfd pfd = {.fd = sp->fd, .events = POLLIN};
    int ready;
    while ((ready = poll(&pfd, 1, SPAWNER_REPLY_MS)) < 0 && errno == EINTR)
        ;
    int32_t reply = 0;
    if (ready <= 0 || recv(sp->fd, &reply, sizeof(reply), 0) != (ssize_t)sizeof(reply)) {
        snprintf(err, errsz, "the spawner (pid %d) did not answer", (int)sp->pid);
        goto out;
    }
    if (reply <= 0) {
        snprintf(err, errsz, "the spawner could not fork: %s", strerror(-reply));
        goto out;
    }
    pid = reply;
out:
    free(msg);
    return pid;
}

pid_t spawner_pid(const struct spawner *sp)
{
    return sp->pid;
}

void spawner_free(struct spawner *sp)
{
    if (sp == NULL)
        return;
    close(sp->fd);
    while (waitpid(sp->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    free(sp);
}

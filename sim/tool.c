/* tool: external programs run with a deadline. */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"

bool tool_exists(const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL || strchr(name, '/'))
        return access(name, X_OK) == 0;
    char *copy = xstrdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *full = xasprintf("%s/%s", *dir ? dir : ".", name);
        found = access(full, X_OK) == 0;
        free(full);
    }
    free(copy);
    return found;
}

static int64_t tool_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of data to fd, giving up when the reader is gone. */
static void tool_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        data += w;
        len -= (size_t)w;
    }
}

int tool_run(char *const argv[], const char *input, size_t len, const char *out_path,
             long timeout_ms, char *err, size_t errsz)
{
    if (!tool_exists(argv[0])) {
        snprintf(err, errsz, "%s: not found (install it; see tools/deps.sh)", argv[0]);
        return -1;
    }
    char errpath[] = "/tmp/chainlab-tool-XXXXXX";
    int errfd = mkstemp(errpath);
    int inpipe[2] = {-1, -1};
    if (errfd < 0 || pipe(inpipe) < 0) {
        snprintf(err, errsz, "%s: cannot set up: %s", argv[0], strerror(errno));
        if (errfd >= 0) {
            close(errfd);
            unlink(errpath);
        }
        return -1;
    }
    unlink(errpath);
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        snprintf(err, errsz, "%s: fork: %s", argv[0], strerror(errno));
        close(errfd);
        close(inpipe[0]);
        close(inpipe[1]);
        return -1;
    case 0: {
        int outfd = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666)
                             : open("/dev/null", O_WRONLY);
        dup2(inpipe[0], STDIN_FILENO);
        if (outfd >= 0)
            dup2(outfd, STDOUT_FILENO);
        dup2(errfd, STDERR_FILENO);
        close(inpipe[1]);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run: %s\n", strerror(errno));
        _exit(127);
    }
    default:
        break;
    }
    close(inpipe[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    if (input)
        tool_write_all(inpipe[1], input, len);
    close(inpipe[1]);
    signal(SIGPIPE, old);
    int64_t deadline = tool_now_ms() + timeout_ms;
    int st = 0;
    bool killed = false;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (tool_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            killed = true;
            break;
        }
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int rc = 0;
    if (killed) {
        snprintf(err, errsz, "%s: killed after %.0fs", argv[0], (double)timeout_ms / 1000.0);
        rc = -1;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char text[600] = "";
        ssize_t n = pread(errfd, text, sizeof(text) - 1, 0);
        text[n > 0 ? n : 0] = '\0';
        char *end = text + strlen(text);
        while (end > text && (end[-1] == '\n' || end[-1] == ' '))
            *--end = '\0';
        snprintf(err, errsz, "%s: exit %d: %s", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 text);
        rc = -1;
    }
    close(errfd);
    return rc;
}

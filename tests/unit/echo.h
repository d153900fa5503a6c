/* echo.h: an echo server in a thread and blocking clients, for the unit tests of the link layer
 * (header-only, included by the test files that need it). */
#ifndef CHAINLAB_TEST_ECHO_H
#define CHAINLAB_TEST_ECHO_H

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_MAX_CONNS 1024 /* connections one test server holds */
#define HOLD_MS          200  /* how long a stalled read must stay empty */
#define WAIT_MS          5000 /* deadline for anything that should happen */

/* An echo server on an ephemeral port of 127.0.0.1, in its own thread. It echoes every byte,
 * closes a connection after the client's FIN, and on server_push() writes a message to every
 * open connection unasked. */
struct server {
    int listen_fd;
    uint16_t port;
    int ctl[2]; /* pipe: 'q' quits, 'p' pushes push_msg */
    pthread_t thread;
    pthread_mutex_t mu;
    int fds[SERVER_MAX_CONNS]; /* server thread only */
    size_t nfds;               /* server thread only */
    size_t accepted;           /* under mu */
    size_t open;               /* connections open now, under mu */
    size_t received;           /* under mu */
    size_t pushes;             /* completed pushes, under mu */
    char push_msg[64];
};

static inline uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t now_ms(void)
{
    return now_us() / 1000;
}

/* Poll cond every 2 ms until it holds or WAIT_MS passes, then assert it. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        uint64_t deadline_ = now_ms() + WAIT_MS;                                                   \
        while (!(cond) && now_ms() < deadline_)                                                    \
            poll(NULL, 0, 2);                                                                      \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);                                  \
    } while (0)

static inline void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the peer went away; the test notices through what it reads */
        c += w;
        n -= (size_t)w;
    }
}

static inline size_t server_get(struct server *s, const size_t *field)
{
    pthread_mutex_lock(&s->mu);
    size_t v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static inline void *server_main(void *arg)
{
    struct server *s = arg;
    struct pollfd pfd[SERVER_MAX_CONNS + 2];
    char buf[16384];

    for (;;) {
        pfd[0] = (struct pollfd){.fd = s->ctl[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < s->nfds; i++)
            pfd[i + 2] = (struct pollfd){.fd = s->fds[i], .events = POLLIN};
        if (poll(pfd, s->nfds + 2, -1) < 0)
            continue;
        if (pfd[0].revents) {
            char cmd = 'q';
            if (read(s->ctl[0], &cmd, 1) != 1 || cmd == 'q')
                break;
            for (size_t i = 0; i < s->nfds; i++)
                send_all(s->fds[i], s->push_msg, strlen(s->push_msg));
            pthread_mutex_lock(&s->mu);
            s->pushes++;
            pthread_mutex_unlock(&s->mu);
        }
        size_t polled = s->nfds;
        if ((pfd[1].revents & POLLIN) && s->nfds < SERVER_MAX_CONNS) {
            int fd = accept(s->listen_fd, NULL, NULL);
            if (fd >= 0) {
                s->fds[s->nfds++] = fd;
                pthread_mutex_lock(&s->mu);
                s->accepted++;
                s->open++;
                pthread_mutex_unlock(&s->mu);
            }
        }
        /* Walk backwards: removing entry i moves a visited or new entry into its place. */
        for (size_t i = polled; i-- > 0;) {
            if (pfd[i + 2].revents == 0)
                continue;
            ssize_t n = recv(s->fds[i], buf, sizeof(buf), 0);
            if (n > 0) {
                pthread_mutex_lock(&s->mu);
                s->received += (size_t)n;
                pthread_mutex_unlock(&s->mu);
                send_all(s->fds[i], buf, (size_t)n);
                continue;
            }
            close(s->fds[i]);
            s->fds[i] = s->fds[--s->nfds];
            pthread_mutex_lock(&s->mu);
            s->open--;
            pthread_mutex_unlock(&s->mu);
        }
    }
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    return NULL;
}

/* A listening socket on host:port (port 0: an ephemeral one, written back). */
static inline int listen_at(const char *host, uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 512), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* An echo server on host:port (port 0: an ephemeral one, in s->port). */
static inline struct server *server_start_at(const char *host, uint16_t port)
{
    struct server *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    s->port = port;
    s->listen_fd = listen_at(host, &s->port);
    ck_assert_int_eq(pipe(s->ctl), 0);
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
    return s;
}

/* Make the server write msg to every open connection; returns once it has. */
static inline void server_push(struct server *s, const char *msg)
{
    size_t before = server_get(s, &s->pushes);
    snprintf(s->push_msg, sizeof(s->push_msg), "%s", msg);
    ck_assert_int_eq(write(s->ctl[1], "p", 1), 1);
    WAIT_FOR(server_get(s, &s->pushes) > before);
}

static inline void server_stop(struct server *s)
{
    ck_assert_int_eq(write(s->ctl[1], "q", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->ctl[0]);
    close(s->ctl[1]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static inline struct server *server_start(void)
{
    return server_start_at("127.0.0.1", 0);
}

/* A blocking client connected to host:port from source (NULL: the kernel's choice). */
static inline int client_connect_from(const char *source, const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    ck_assert_int_ge(fd, 0);
    if (source != NULL) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        ck_assert_int_eq(inet_pton(AF_INET, source, &src.sin_addr), 1);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A blocking client connected to 127.0.0.1:port. */
static inline int client_connect(int port)
{
    return client_connect_from(NULL, "127.0.0.1", port);
}

/* Read up to n bytes, waiting at most ms. Returns the count, 0 at EOF, -1 on error, -2 on
 * timeout. */
static inline ssize_t recv_timeout(int fd, char *buf, size_t n, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, ms);
    if (rc == 0)
        return -2;
    if (rc < 0)
        return -1;
    return recv(fd, buf, n, 0);
}

/* Read exactly strlen(want) bytes within WAIT_MS and compare them to want. */
static inline void expect_bytes(int fd, const char *want)
{
    size_t n = strlen(want);
    size_t got = 0;
    char buf[256];
    uint64_t deadline = now_ms() + WAIT_MS;

    ck_assert_uint_lt(n, sizeof(buf));
    while (got < n) {
        int left = (int)(deadline - now_ms());
        ck_assert_msg(deadline > now_ms(), "timed out after %zu of %zu bytes", got, n);
        ssize_t r = recv_timeout(fd, buf + got, n - got, left);
        ck_assert_msg(r > 0, "read returned %zd after %zu of %zu bytes", r, got, n);
        got += (size_t)r;
    }
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

/* Assert that nothing arrives on fd for HOLD_MS. */
static inline void expect_silence(int fd)
{
    char c;
    ck_assert_int_eq(recv_timeout(fd, &c, 1, HOLD_MS), -2);
}

/* Assert that the peer closes fd (EOF or reset) within WAIT_MS. */
static inline void expect_closed(int fd)
{
    char c;
    ssize_t r = recv_timeout(fd, &c, 1, WAIT_MS);
    ck_assert_msg(r == 0 || r == -1, "expected EOF or a reset, read returned %zd", r);
}

#endif

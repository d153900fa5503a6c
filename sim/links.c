/* links: the sim's link layer; relays TCP for every directed edge A -> B of the topology.
 *
 * Design: each link owns a listening socket on 127.0.0.1 (ephemeral port); node A's peer list
 * holds that address instead of B's. One thread runs one level-triggered epoll loop over every
 * listener and every relayed connection; the sim's main thread only calls the control functions,
 * which take the mutex, change state and wake the loop through an eventfd. The loop holds the
 * mutex while it handles a batch of events and drops it only inside epoll_wait(), so a control
 * call takes effect before it returns, and only the loop thread ever closes or frees a connection
 * (freeing waits for the end of the batch, so a later event of the same batch never touches freed
 * memory). A connection is two sockets, SIDE_SOURCE (accepted from A) and SIDE_TARGET (connected
 * to B, nonblocking), and two bounded rings, ring[s] holding bytes read from side s and not yet
 * written to the other side. A side is read only while its ring has room (backpressure); its FIN
 * is passed on with shutdown(SHUT_WR) once its ring has drained; the connection ends when both
 * FINs have been passed on, or at the first error, which is passed on as a reset (SO_LINGER 0).
 * The epoll interest of each socket is recomputed from that state after every change
 * (conn_watch), and a socket with nothing to do is taken out of the epoll set, so a hung-up socket
 * never spins the loop.
 * Faults live in struct link_faults, one per link, i.e. per direction of an edge, and are
 * consulted at three points of the forwarding path: conn_open() (a new connection: where loss
 * will pick connections to hang), conn_held() (the stall: nothing connected, read or written;
 * the one fault implemented today) and conn_write() (how many bytes may go now: where latency and
 * bandwidth will hold bytes back, with the loop's epoll_wait() timeout taken from the earliest
 * such deadline). A reset fault walks link->conns and closes them with conn_close(..., true,
 * true). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4() */
#endif
#include "links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define LINKS_EVENTS      256     /* epoll events handled per loop turn */
#define LINKS_PUMP_PASSES 4       /* read/write rounds per connection per event, for fairness */
#define LINKS_NOFILE_CAP  1048576 /* soft fd limit used when the hard limit is unlimited */

enum conn_side {
    SIDE_SOURCE = 0, /* the socket accepted from node A */
    SIDE_TARGET = 1, /* the socket connected to node B */
};

enum watch_kind {
    WATCH_WAKE,     /* the eventfd that control calls write to */
    WATCH_LISTENER, /* a link's listening socket */
    WATCH_CONN,     /* one side of a relayed connection */
};

/* One descriptor in the epoll set; its address is the epoll data pointer. */
struct watch {
    enum watch_kind kind;
    int fd;            /* -1 when closed or not yet opened */
    uint32_t events;   /* registered interest; 0 means not in the epoll set */
    struct link *link; /* WATCH_LISTENER: the link */
    struct conn *conn; /* WATCH_CONN: the connection */
    int side;          /* WATCH_CONN: enum conn_side */
};

/* Bytes waiting to be written, a ring of LINKS_PIPE_BYTES. */
struct ring {
    char *data;  /* allocated at the first read, released when drained; NULL when empty */
    size_t head; /* index of the first waiting byte */
    size_t len;  /* waiting bytes */
};

/* Faults of one link (one direction of an edge), consulted by the forwarding path. */
struct link_faults {
    bool blocked; /* stall: accept, but connect, read and write nothing */
};

struct conn {
    struct link *link;
    struct watch w[2];   /* indexed by enum conn_side */
    struct ring ring[2]; /* ring[s]: read from side s, to be written to side !s */
    bool connecting;     /* nonblocking connect to B in progress */
    bool eof[2];         /* side s sent its FIN */
    bool shut[2];        /* side s was sent our FIN (shutdown SHUT_WR) */
    bool carried;        /* a byte reached B: counted in stats.messages */
    bool dead;           /* closed; freed at the end of the loop turn */
    struct conn *prev;   /* the link's open connections */
    struct conn *next;   /* the link's open connections */
    struct conn *dead_next;
};

struct link {
    int from;
    int to;
    uint16_t target_port; /* B's port on 127.0.0.1 */
    uint16_t listen_port; /* our port on 127.0.0.1 */
    struct watch listener;
    bool accept_paused; /* out of descriptors: listener out of the epoll set */
    struct link_faults faults;
    bool dirty; /* faults changed since the loop last looked */
    struct link *dirty_next;
    struct link *hash_next;
    struct conn *conns; /* open connections */
    struct links_stats stats;
};

struct links {
    pthread_mutex_t mu; /* guards every field below and every link and connection */
    pthread_t thread;
    bool started;  /* the thread runs */
    bool stopping; /* links_free() asked the thread to end */
    int epfd;
    struct watch wake;
    struct link **all; /* in order of creation */
    size_t nlinks;
    size_t cap;
    struct link **buckets; /* hash of (from, to); nbuckets is a power of two */
    size_t nbuckets;
    struct link *dirty;  /* links whose faults changed */
    struct conn *dead;   /* closed connections to free */
    size_t paused_links; /* links with accept_paused set */
};

static void links_set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void links_set_err(char *err, size_t errsz, const char *fmt, ...)
{
    if (err == NULL || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* --- rings --- */

static size_t ring_space(const struct ring *r)
{
    return LINKS_PIPE_BYTES - r->len;
}

/* Describe the free space of r (allocating it if needed) in up to two iovecs; returns the count. */
static int ring_free_iov(struct ring *r, struct iovec iov[2])
{
    if (r->data == NULL)
        r->data = xmalloc(LINKS_PIPE_BYTES);
    size_t tail = (r->head + r->len) % LINKS_PIPE_BYTES;
    size_t space = ring_space(r);
    size_t first = LINKS_PIPE_BYTES - tail;
    if (first > space)
        first = space;
    iov[0].iov_base = r->data + tail;
    iov[0].iov_len = first;
    if (space == first)
        return 1;
    iov[1].iov_base = r->data;
    iov[1].iov_len = space - first;
    return 2;
}

/* Describe the waiting bytes of r (len > 0) in up to two iovecs; returns the count. */
static int ring_data_iov(struct ring *r, struct iovec iov[2])
{
    size_t first = LINKS_PIPE_BYTES - r->head;
    if (first > r->len)
        first = r->len;
    iov[0].iov_base = r->data + r->head;
    iov[0].iov_len = first;
    if (r->len == first)
        return 1;
    iov[1].iov_base = r->data;
    iov[1].iov_len = r->len - first;
    return 2;
}

static void ring_consume(struct ring *r, size_t n)
{
    r->head = (r->head + n) % LINKS_PIPE_BYTES;
    r->len -= n;
    if (r->len == 0) {
        free(r->data); /* an idle keep-alive connection holds no buffers */
        r->data = NULL;
        r->head = 0;
    }
}

/* --- epoll registrations --- */

/* Make want the registered interest of w (0: out of the epoll set). Returns 0, or -1 (logged). */
static int watch_set(struct links *ls, struct watch *w, uint32_t want)
{
    if (w->fd < 0 || want == w->events)
        return 0;
    struct epoll_event ev = {.events = want, .data.ptr = w};
    int op = EPOLL_CTL_MOD;
    if (w->events == 0)
        op = EPOLL_CTL_ADD;
    else if (want == 0)
        op = EPOLL_CTL_DEL;
    if (epoll_ctl(ls->epfd, op, w->fd, &ev) < 0) {
        log_error("links: epoll_ctl on fd %d: %s", w->fd, strerror(errno));
        return -1;
    }
    w->events = want;
    return 0;
}

/* Close w's descriptor, with a reset (RST instead of FIN) when reset is set. The explicit
 * EPOLL_CTL_DEL matters: a forked child may still share the socket, and epoll keeps a
 * registration while any copy is open. */
static void watch_close(struct links *ls, struct watch *w, bool reset)
{
    if (w->fd < 0)
        return;
    if (w->events != 0)
        watch_set(ls, w, 0);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(w->fd);
    w->fd = -1;
    w->events = 0;
}

static void links_wake(struct links *ls)
{
    uint64_t one = 1;
    if (ls->wake.fd >= 0 && write(ls->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_error("links: eventfd write: %s", strerror(errno));
}

/* --- link table --- */

static size_t links_hash(int from, int to)
{
    uint64_t k = ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
    k *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(k >> 32);
}

static struct link *links_find(struct links *ls, int from, int to)
{
    if (ls->nbuckets == 0)
        return NULL;
    struct link *l = ls->buckets[links_hash(from, to) & (ls->nbuckets - 1)];
    while (l != NULL && (l->from != from || l->to != to))
        l = l->hash_next;
    return l;
}

static void links_insert(struct links *ls, struct link *l)
{
    if (ls->nlinks == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 64;
        ls->all = xrealloc(ls->all, ls->cap * sizeof(*ls->all));
    }
    ls->all[ls->nlinks++] = l;
    if (ls->nlinks > ls->nbuckets) {
        /* Grow to keep at most one link per bucket on average, and rehash everything. */
        free(ls->buckets);
        ls->nbuckets = ls->nbuckets ? ls->nbuckets * 2 : 64;
        ls->buckets = xcalloc(ls->nbuckets, sizeof(*ls->buckets));
        for (size_t i = 0; i + 1 < ls->nlinks; i++)
            ls->all[i]->hash_next = NULL;
        for (size_t i = 0; i < ls->nlinks; i++) {
            struct link *x = ls->all[i];
            size_t b = links_hash(x->from, x->to) & (ls->nbuckets - 1);
            x->hash_next = ls->buckets[b];
            ls->buckets[b] = x;
        }
        return;
    }
    size_t b = links_hash(l->from, l->to) & (ls->nbuckets - 1);
    l->hash_next = ls->buckets[b];
    ls->buckets[b] = l;
}

/* Queue l for the loop to re-evaluate its connections after a fault change. */
static void link_mark_dirty(struct links *ls, struct link *l)
{
    if (l->dirty)
        return;
    l->dirty = true;
    l->dirty_next = ls->dirty;
    ls->dirty = l;
    links_wake(ls);
}

/* --- accept pausing when descriptors run out --- */

static void link_pause_accept(struct links *ls, struct link *l)
{
    if (l->accept_paused)
        return;
    l->accept_paused = true;
    ls->paused_links++;
    watch_set(ls, &l->listener, 0);
}

/* Listen again on every paused link; called whenever a descriptor may have been freed. */
static void links_resume_accept(struct links *ls)
{
    if (ls->paused_links == 0)
        return;
    for (size_t i = 0; i < ls->nlinks; i++) {
        struct link *l = ls->all[i];
        if (l->accept_paused) {
            l->accept_paused = false;
            watch_set(ls, &l->listener, EPOLLIN);
        }
    }
    ls->paused_links = 0;
}

/* --- connections --- */

/* True when no byte of c may move and no connect may start: the stall of a blocked link. */
static bool conn_held(const struct conn *c)
{
    return c->link->faults.blocked;
}

/* True when side s has a socket that can carry bytes (the connect to B has finished). */
static bool conn_usable(const struct conn *c, int s)
{
    return c->w[s].fd >= 0 && !(s == SIDE_TARGET && c->connecting);
}

/* Close both sockets of c, each with a reset when asked, and queue c to be freed. */
static void conn_close(struct links *ls, struct conn *c, bool reset_source, bool reset_target)
{
    struct link *l = c->link;

    log_debug("link n%d -> n%d: connection closed%s", l->from, l->to,
              reset_source || reset_target ? " with a reset" : "");
    watch_close(ls, &c->w[SIDE_SOURCE], reset_source);
    watch_close(ls, &c->w[SIDE_TARGET], reset_target);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->stats.open--;
    c->dead = true;
    c->dead_next = ls->dead;
    ls->dead = c;
    links_resume_accept(ls);
}

static void conn_free(struct conn *c)
{
    free(c->ring[0].data);
    free(c->ring[1].data);
    free(c);
}

/* The epoll interest side s of c needs in its current state. */
static uint32_t conn_want(const struct conn *c, int s)
{
    uint32_t want = 0;

    if (c->w[s].fd < 0)
        return 0;
    if (conn_held(c)) {
        /* Only notice the source giving up; B's socket is left alone until release. */
        if (s == SIDE_SOURCE && !c->eof[s])
            want = EPOLLRDHUP;
        return want;
    }
    if (s == SIDE_TARGET && c->connecting)
        return EPOLLOUT;
    if (!c->eof[s] && ring_space(&c->ring[s]) > 0)
        want |= EPOLLIN;
    if (c->ring[!s].len > 0)
        want |= EPOLLOUT;
    return want;
}

/* Register the interest of both sides of c. Returns 0, or -1 after closing c on failure. */
static int conn_watch(struct links *ls, struct conn *c)
{
    for (int s = 0; s < 2; s++) {
        if (watch_set(ls, &c->w[s], conn_want(c, s)) < 0) {
            conn_close(ls, c, true, true);
            return -1;
        }
    }
    return 0;
}

static void socket_set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Count a failed connect to B and reset the source. */
static void conn_connect_failed(struct links *ls, struct conn *c, int error)
{
    struct link *l = c->link;
    log_debug("link n%d -> n%d: connect to port %u: %s", l->from, l->to, l->target_port,
              strerror(error));
    l->stats.connect_errors++;
    conn_close(ls, c, true, false);
}

/* Start the nonblocking connect of c to B. Returns 0, or -1 after closing c. */
static int conn_connect(struct links *ls, struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->link->target_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int error = errno;
        log_warn("link n%d -> n%d: socket: %s", c->link->from, c->link->to, strerror(error));
        conn_connect_failed(ls, c, error);
        return -1;
    }
    socket_set_nodelay(fd);
    c->w[SIDE_TARGET].fd = fd;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        c->connecting = false;
        return 0;
    }
    if (errno != EINPROGRESS) {
        conn_connect_failed(ls, c, errno);
        return -1;
    }
    c->connecting = true;
    return 0;
}

/* The connect of c to B reported; returns 0 when it succeeded, or -1 after closing c. */
static int conn_finish_connect(struct links *ls, struct conn *c)
{
    int error = 0;
    socklen_t len = sizeof(error);

    if (getsockopt(c->w[SIDE_TARGET].fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
        error = errno;
    if (error != 0) {
        conn_connect_failed(ls, c, error);
        return -1;
    }
    c->connecting = false;
    return 0;
}

/* Read from side s into ring[s]. Returns 1 on progress (bytes or FIN), 0 when nothing could be
 * read, -1 on a socket error (errno set). */
static int conn_read(struct conn *c, int s)
{
    struct ring *r = &c->ring[s];
    struct iovec iov[2];

    if (!conn_usable(c, s) || c->eof[s] || ring_space(r) == 0)
        return 0;
    int cnt = ring_free_iov(r, iov);
    ssize_t n = readv(c->w[s].fd, iov, cnt);
    if (n < 0) {
        if (r->len == 0) {
            free(r->data);
            r->data = NULL;
        }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    if (n == 0) {
        c->eof[s] = true;
        if (r->len == 0) {
            free(r->data);
            r->data = NULL;
        }
        return 1;
    }
    r->len += (size_t)n;
    return 1;
}

/* Write ring[s] to the other side. Returns 1 on progress, 0 when nothing could be written, -1 on
 * a socket error (errno set). */
static int conn_write(struct conn *c, int s)
{
    int o = !s;
    struct ring *r = &c->ring[s];
    struct iovec iov[2];

    if (!conn_usable(c, o) || r->len == 0)
        return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)ring_data_iov(r, iov)};
    ssize_t n = sendmsg(c->w[o].fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    ring_consume(r, (size_t)n);
    if (o == SIDE_TARGET) {
        c->link->stats.bytes_to_target += (uint64_t)n;
        if (!c->carried) {
            c->carried = true;
            c->link->stats.messages++;
        }
    } else {
        c->link->stats.bytes_to_source += (uint64_t)n;
    }
    return n > 0;
}

/* Pass side s's FIN on to the other side once ring[s] has drained. Returns 1 on progress, 0 when
 * not due, -1 on a socket error. */
static int conn_pass_eof(struct conn *c, int s)
{
    int o = !s;

    if (!c->eof[s] || c->ring[s].len > 0 || c->shut[o] || !conn_usable(c, o))
        return 0;
    if (shutdown(c->w[o].fd, SHUT_WR) < 0)
        return -1;
    c->shut[o] = true;
    return 1;
}

/* Move every byte and FIN of c that can move now; close c when it is finished or broken. */
static void conn_pump(struct links *ls, struct conn *c)
{
    struct link *l = c->link;

    for (int pass = 0; pass < LINKS_PUMP_PASSES; pass++) {
        bool moved = false;
        for (int s = 0; s < 2; s++) {
            int rc = conn_read(c, s);
            if (rc < 0) {
                /* Side s failed: pass the reset on to the other side. */
                log_debug("link n%d -> n%d: read from %s: %s", l->from, l->to,
                          s == SIDE_SOURCE ? "source" : "target", strerror(errno));
                conn_close(ls, c, s != SIDE_SOURCE, s != SIDE_TARGET);
                return;
            }
            moved |= rc > 0;
            rc = conn_write(c, s);
            if (rc >= 0) {
                int shut = conn_pass_eof(c, s);
                rc = shut < 0 ? shut : rc | shut;
            }
            if (rc < 0) {
                /* The other side failed: reset side s, whose bytes cannot be delivered. */
                log_debug("link n%d -> n%d: write to %s: %s", l->from, l->to,
                          s == SIDE_SOURCE ? "target" : "source", strerror(errno));
                conn_close(ls, c, s == SIDE_SOURCE, s == SIDE_TARGET);
                return;
            }
            moved |= rc > 0;
        }
        if (!moved)
            break;
    }
    if (c->shut[SIDE_SOURCE] && c->shut[SIDE_TARGET]) {
        conn_close(ls, c, false, false);
        return;
    }
    conn_watch(ls, c);
}

/* A new connection accepted on l; takes ownership of fd. */
static void conn_open(struct links *ls, struct link *l, int fd)
{
    struct conn *c = xcalloc(1, sizeof(*c));

    c->link = l;
    for (int s = 0; s < 2; s++) {
        c->w[s].kind = WATCH_CONN;
        c->w[s].fd = -1;
        c->w[s].conn = c;
        c->w[s].side = s;
    }
    c->w[SIDE_SOURCE].fd = fd;
    c->next = l->conns;
    if (l->conns != NULL)
        l->conns->prev = c;
    l->conns = c;
    l->stats.accepted++;
    l->stats.open++;
    socket_set_nodelay(fd);
    log_debug("link n%d -> n%d: connection accepted%s", l->from, l->to,
              conn_held(c) ? " and held" : "");
    if (!conn_held(c) && conn_connect(ls, c) < 0)
        return;
    conn_watch(ls, c);
}

/* An event on one side of c. */
static void conn_event(struct links *ls, struct conn *c, int side, uint32_t events)
{
    if (c->dead)
        return;
    if (conn_held(c)) {
        if (side == SIDE_SOURCE && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            /* A gave up on a held connection (its timeout fired): drop it. */
            c->link->stats.dropped++;
            conn_close(ls, c, false, false);
            return;
        }
        conn_watch(ls, c);
        return;
    }
    if (side == SIDE_TARGET && c->connecting) {
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
            return;
        if (conn_finish_connect(ls, c) < 0)
            return;
    }
    conn_pump(ls, c);
}

/* --- the loop --- */

static void link_accept(struct links *ls, struct link *l)
{
    for (int i = 0; i < LINKS_ACCEPT_BURST; i++) {
        int fd = accept4(l->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(ls, l, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Leave the connection in the backlog until a descriptor is freed. */
            log_warn("link n%d -> n%d: accept paused: %s", l->from, l->to, strerror(errno));
            link_pause_accept(ls, l);
            return;
        }
        log_warn("link n%d -> n%d: accept: %s", l->from, l->to, strerror(errno));
        return;
    }
}

/* Re-evaluate every connection of every link whose faults changed. */
static void links_apply_dirty(struct links *ls)
{
    if (ls->dirty == NULL)
        return;
    while (ls->dirty != NULL) {
        struct link *l = ls->dirty;
        ls->dirty = l->dirty_next;
        l->dirty = false;
        l->dirty_next = NULL;
        struct conn *next = NULL;
        for (struct conn *c = l->conns; c != NULL; c = next) {
            next = c->next;
            if (conn_held(c)) {
                conn_watch(ls, c);
                continue;
            }
            if (c->w[SIDE_TARGET].fd < 0 && conn_connect(ls, c) < 0)
                continue;
            conn_pump(ls, c);
        }
    }
    links_resume_accept(ls);
}

static void links_dispatch(struct links *ls, struct watch *w, uint32_t events)
{
    uint64_t count;

    switch (w->kind) {
    case WATCH_WAKE:
        if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            log_error("links: eventfd read: %s", strerror(errno));
        break;
    case WATCH_LISTENER:
        link_accept(ls, w->link);
        break;
    case WATCH_CONN:
        conn_event(ls, w->conn, w->side, events);
        break;
    }
}

static void *links_loop(void *arg)
{
    struct links *ls = arg;
    struct epoll_event evs[LINKS_EVENTS];
    bool stop = false;

    while (!stop) {
        int n = epoll_wait(ls->epfd, evs, LINKS_EVENTS, -1);
        int error = errno;
        pthread_mutex_lock(&ls->mu);
        if (n < 0 && error != EINTR) {
            log_error("links: epoll_wait: %s; the link layer stops", strerror(error));
            stop = true;
        }
        for (int i = 0; i < n; i++)
            links_dispatch(ls, evs[i].data.ptr, evs[i].events);
        links_apply_dirty(ls);
        while (ls->dead != NULL) {
            struct conn *c = ls->dead;
            ls->dead = c->dead_next;
            conn_free(c);
        }
        stop |= ls->stopping;
        pthread_mutex_unlock(&ls->mu);
    }
    return NULL;
}

/* --- public API --- */

struct links *links_new(void)
{
    struct links *ls = xcalloc(1, sizeof(*ls));

    pthread_mutex_init(&ls->mu, NULL);
    ls->epfd = -1;
    ls->wake.kind = WATCH_WAKE;
    ls->wake.fd = -1;
    return ls;
}

void links_free(struct links *ls)
{
    if (ls == NULL)
        return;
    if (ls->started) {
        pthread_mutex_lock(&ls->mu);
        ls->stopping = true;
        links_wake(ls);
        pthread_mutex_unlock(&ls->mu);
        pthread_join(ls->thread, NULL);
    }
    for (size_t i = 0; i < ls->nlinks; i++) {
        struct link *l = ls->all[i];
        while (l->conns != NULL)
            conn_close(ls, l->conns, true, true);
        watch_close(ls, &l->listener, false);
        free(l);
    }
    while (ls->dead != NULL) {
        struct conn *c = ls->dead;
        ls->dead = c->dead_next;
        conn_free(c);
    }
    watch_close(ls, &ls->wake, false);
    if (ls->epfd >= 0)
        close(ls->epfd);
    free(ls->all);
    free(ls->buckets);
    pthread_mutex_destroy(&ls->mu);
    free(ls);
}

/* A listening socket on 127.0.0.1, ephemeral port. Returns the fd, or -1 with err. */
static int links_listen(uint16_t *port, char *err, size_t errsz)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        links_set_err(err, errsz, "cannot create a link socket: %s", strerror(errno));
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        links_set_err(err, errsz, "cannot bind a link socket on 127.0.0.1: %s", strerror(errno));
        goto fail;
    }
    if (listen(fd, LINKS_BACKLOG) < 0) {
        links_set_err(err, errsz, "cannot listen on a link socket: %s", strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        links_set_err(err, errsz, "cannot read a link socket's port: %s", strerror(errno));
        goto fail;
    }
    *port = ntohs(sa.sin_port);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

int links_add(struct links *ls, int from, int to, uint16_t target_port, uint16_t *listen_port,
              char *err, size_t errsz)
{
    struct link *l = NULL;
    uint16_t port = 0;
    int fd = -1;
    int rc = -1;

    pthread_mutex_lock(&ls->mu);
    if (from < 0 || to < 0 || from == to) {
        links_set_err(err, errsz, "link n%d -> n%d needs two different nodes", from, to);
        goto out;
    }
    if (target_port == 0) {
        links_set_err(err, errsz, "link n%d -> n%d needs a target port", from, to);
        goto out;
    }
    if (links_find(ls, from, to) != NULL) {
        links_set_err(err, errsz, "link n%d -> n%d already exists", from, to);
        goto out;
    }
    fd = links_listen(&port, err, errsz);
    if (fd < 0)
        goto out;
    l = xcalloc(1, sizeof(*l));
    l->from = from;
    l->to = to;
    l->target_port = target_port;
    l->listen_port = port;
    l->listener.kind = WATCH_LISTENER;
    l->listener.fd = fd;
    l->listener.link = l;
    fd = -1;
    if (ls->started && watch_set(ls, &l->listener, EPOLLIN) < 0) {
        links_set_err(err, errsz, "cannot add link n%d -> n%d to the epoll set", from, to);
        goto out;
    }
    links_insert(ls, l);
    log_debug("link n%d -> n%d: 127.0.0.1:%u -> 127.0.0.1:%u", from, to, port, target_port);
    l = NULL;
    if (listen_port != NULL)
        *listen_port = port;
    rc = 0;
out:
    if (l != NULL) {
        watch_close(ls, &l->listener, false);
        free(l);
    }
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

int links_start(struct links *ls, char *err, size_t errsz)
{
    sigset_t all;
    sigset_t old;
    int error = 0;
    int rc = -1;
    bool undo = false; /* this call created the epoll set and eventfd */

    pthread_mutex_lock(&ls->mu);
    if (ls->started) {
        links_set_err(err, errsz, "the link layer is already running");
        goto out;
    }
    undo = true;
    ls->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ls->epfd < 0) {
        links_set_err(err, errsz, "cannot create the link layer's epoll: %s", strerror(errno));
        goto out;
    }
    ls->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ls->wake.fd < 0) {
        links_set_err(err, errsz, "cannot create the link layer's eventfd: %s", strerror(errno));
        goto out;
    }
    if (watch_set(ls, &ls->wake, EPOLLIN) < 0) {
        links_set_err(err, errsz, "cannot add the link layer's eventfd to its epoll set");
        goto out;
    }
    for (size_t i = 0; i < ls->nlinks; i++) {
        if (watch_set(ls, &ls->all[i]->listener, EPOLLIN) < 0) {
            links_set_err(err, errsz, "cannot add a link socket to the epoll set");
            goto out;
        }
    }
    /* The thread blocks every signal, so they reach the sim's main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    error = pthread_create(&ls->thread, NULL, links_loop, ls);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (error != 0) {
        links_set_err(err, errsz, "cannot start the link layer's thread: %s", strerror(error));
        goto out;
    }
    ls->started = true;
    rc = 0;
out:
    if (rc < 0 && undo) {
        /* Closing the epoll fd drops every registration made above. */
        for (size_t i = 0; i < ls->nlinks; i++)
            ls->all[i]->listener.events = 0;
        ls->wake.events = 0;
        if (ls->wake.fd >= 0)
            close(ls->wake.fd);
        ls->wake.fd = -1;
        if (ls->epfd >= 0)
            close(ls->epfd);
        ls->epfd = -1;
    }
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

int links_listen_port(struct links *ls, int from, int to)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = links_find(ls, from, to);
    int port = l != NULL ? l->listen_port : -1;
    pthread_mutex_unlock(&ls->mu);
    return port;
}

int links_set_blocked(struct links *ls, int from, int to, bool blocked)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = links_find(ls, from, to);
    if (l != NULL && l->faults.blocked != blocked) {
        l->faults.blocked = blocked;
        link_mark_dirty(ls, l);
    }
    pthread_mutex_unlock(&ls->mu);
    return l != NULL ? 0 : -1;
}

bool links_blocked(struct links *ls, int from, int to)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = links_find(ls, from, to);
    bool blocked = l != NULL && l->faults.blocked;
    pthread_mutex_unlock(&ls->mu);
    return blocked;
}

void links_heal(struct links *ls)
{
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->nlinks; i++) {
        struct link *l = ls->all[i];
        if (l->faults.blocked) {
            l->faults.blocked = false;
            link_mark_dirty(ls, l);
        }
    }
    pthread_mutex_unlock(&ls->mu);
}

static void links_stats_add(struct links_stats *sum, const struct links_stats *s)
{
    sum->accepted += s->accepted;
    sum->messages += s->messages;
    sum->bytes_to_target += s->bytes_to_target;
    sum->bytes_to_source += s->bytes_to_source;
    sum->connect_errors += s->connect_errors;
    sum->dropped += s->dropped;
    sum->open += s->open;
}

void links_stats(struct links *ls, struct links_stats *total)
{
    memset(total, 0, sizeof(*total));
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->nlinks; i++)
        links_stats_add(total, &ls->all[i]->stats);
    pthread_mutex_unlock(&ls->mu);
}

int links_link_stats(struct links *ls, int from, int to, struct links_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&ls->mu);
    struct link *l = links_find(ls, from, to);
    if (l != NULL)
        *out = l->stats;
    pthread_mutex_unlock(&ls->mu);
    return l != NULL ? 0 : -1;
}

size_t links_count(struct links *ls)
{
    pthread_mutex_lock(&ls->mu);
    size_t n = ls->nlinks;
    pthread_mutex_unlock(&ls->mu);
    return n;
}

int links_raise_fd_limit(char *err, size_t errsz)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        links_set_err(err, errsz, "cannot read the open-file limit: %s", strerror(errno));
        return -1;
    }
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? LINKS_NOFILE_CAP : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        links_set_err(err, errsz, "cannot raise the open-file limit to %llu: %s",
                      (unsigned long long)want, strerror(errno));
        return -1;
    }
    return 0;
}

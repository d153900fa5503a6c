/* relay: one process's TCP forwarder for links of the sim's link layer (see relay.h, links.h).
 *
 * Design: a link is reached on its own listening socket (per edge) or on its target's, from the
 * source's own address (per target; relay.h). One thread runs one level-triggered epoll loop over
 * every listener and every relayed connection; the sim's main thread only calls the control
 * functions, which take the mutex, change state and wake the loop through an eventfd. The loop
 * holds the mutex while it handles a batch of events and drops it only inside epoll_wait(), so a
 * control call takes effect before it returns, and only the loop thread ever closes or frees a
 * connection (freeing waits for the end of the batch, so a later event of the same batch never
 * touches freed memory). A connection is two sockets, SIDE_SOURCE (accepted from A) and SIDE_TARGET
 * (connected to B, nonblocking), and two bounded rings, ring[s] holding bytes read from side s and
 * not yet written to the other side. A side is read only while its ring has room (backpressure);
 * its FIN is passed on with shutdown(SHUT_WR) once its ring has drained; the connection ends when
 * both FINs have been passed on, or at the first error, which is passed on as a reset (SO_LINGER
 * 0). The epoll interest of each socket is recomputed from that state after every change
 * (conn_watch), and a socket with nothing to do is taken out of the epoll set, so a hung-up socket
 * never spins the loop.
 * Faults live in struct link_faults, one per link, i.e. per direction of an edge; the arithmetic
 * (delay and loss draws, token buckets) is in fault.c. They are consulted at three points of the
 * forwarding path. conn_open(): a standing reset resets the new connection at once, and loss
 * draws from the link's seeded PRNG whether it is lost. conn_held(): the stall of a link that is
 * cut or whose nodes the sides keep apart (faults.blocked, recomputed when either changes),
 * of a lost connection, or of a link being reset (nothing connected, read or written). conn_read()
 * and conn_write(): with latency set, each chunk read (and a FIN) gets a mark in a per-connection,
 * per-direction FIFO with its release time max(now + delay + jitter, previous release), so order
 * is kept, and only released bytes may be written; with bandwidth set, writes are further limited
 * by the link's token bucket of that direction. Bytes waiting for either stay in the ring (so
 * backpressure still bounds memory) and the connection waits in a min-heap of timers, whose
 * earliest entry is the epoll_wait() timeout; a socket whose bytes all wait is not watched for
 * EPOLLOUT, so nothing spins. A link without latency or bandwidth takes none of these paths: no
 * clock reads, no timers, no per-byte work. A reset fault walks link->conns in the loop and
 * closes them with conn_close(..., true, true); it is a standing fault until cleared. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4() */
#endif
#include "relay.h"

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
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "xalloc.h"

#define RELAY_EVENTS      256 /* epoll events handled per loop turn */
#define RELAY_PUMP_PASSES 4   /* read/write rounds per connection per event, for fairness */

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
    int fd;                    /* -1 when closed or not yet opened */
    uint32_t events;           /* registered interest; 0 means not in the epoll set */
    struct listener *listener; /* WATCH_LISTENER: the listener */
    struct conn *conn;         /* WATCH_CONN: the connection */
    int side;                  /* WATCH_CONN: enum conn_side */
};

/* Bytes waiting to be written, a ring of RELAY_PIPE_BYTES. */
struct ring {
    char *data;  /* allocated at the first read, released when drained; NULL when empty */
    size_t head; /* index of the first waiting byte */
    size_t len;  /* waiting bytes */
};

/* Faults of one link (one direction of an edge), consulted by the forwarding path. Every fault
 * but the cut is removed by relay_clear_faults(); cuts and sides belong to relay_set_cut,
 * relay_set_sides and relay_heal. */
struct link_faults {
    bool cut;                      /* cut on its own (relay_set_cut) */
    bool blocked;                  /* stall: cut, or its nodes on different sides; accept, but
                                    * connect, read and write nothing */
    bool reset;                    /* standing reset: every connection is reset at once */
    int64_t delay_ms;              /* latency of every chunk, both byte directions */
    int64_t jitter_ms;             /* latency spread: uniform in [-jitter, +jitter] */
    uint32_t loss;                 /* parts per million of new connections that are lost */
    struct fault_bucket bucket[2]; /* bucket[s]: bytes read from side s; rate 0: unlimited */
    struct rng loss_rng;           /* FAULT_STREAM_LOSS of this link */
    struct rng jitter_rng;         /* FAULT_STREAM_JITTER of this link */
};

/* A latency mark: the next `bytes` bytes of a ring (after the earlier marks) wait until release. */
struct stamp {
    size_t bytes;       /* 0 for the mark of a FIN */
    int64_t release_us; /* monotonic microseconds; nondecreasing along the queue */
};

/* FIFO of stamps of one direction of a connection; at most one per read, so bounded by the ring. */
struct stamps {
    struct stamp *v; /* allocated at the first mark, released when empty */
    size_t head;
    size_t len;
    size_t cap;
};

struct conn {
    struct link *link;
    struct watch w[2];       /* indexed by enum conn_side */
    struct ring ring[2];     /* ring[s]: read from side s, to be written to side !s */
    bool connecting;         /* nonblocking connect to B in progress */
    bool eof[2];             /* side s sent its FIN */
    bool shut[2];            /* side s was sent our FIN (shutdown SHUT_WR) */
    bool carried;            /* a byte reached B: counted in stats.messages */
    bool lost;               /* chosen by the loss fault: held until A gives up */
    bool dead;               /* closed; freed at the end of the loop turn */
    struct stamps stamps[2]; /* stamps[s]: latency marks of ring[s] */
    size_t held[2];          /* bytes at the end of ring[s] covered by stamps[s], not yet due */
    int64_t last_release[2]; /* release time of the last mark of stamps[s] */
    size_t timer_pos;        /* 1-based index in links->timers; 0 when no timer is set */
    int64_t timer_us;        /* when the loop must pump c again */
    struct conn *prev;       /* the link's open connections */
    struct conn *next;       /* the link's open connections */
    struct conn *dead_next;
};

/* A listening socket: of one link (per-edge), or of one target node, whose connections are
 * assigned to the link from their source address (per-target). */
struct listener {
    struct watch w;
    struct link *link;          /* per-edge: the link; NULL for a target's listener */
    int target;                 /* per-target: the node connections go to */
    struct sockaddr_in forward; /* per-target: that node's address */
    struct sockaddr_in addr;    /* where it listens */
    bool accept_paused;         /* out of descriptors: out of the epoll set for now */
};

struct link {
    int from;
    int to;
    struct sockaddr_in forward; /* B's address */
    struct listener *listener;  /* per-edge: its own; NULL when it shares its target's */
    struct link_faults faults;
    bool dirty; /* faults changed since the loop last looked */
    struct link *dirty_next;
    struct link *hash_next;
    struct conn *conns; /* open connections */
    struct link_stats stats;
};

struct relay {
    pthread_mutex_t mu; /* guards every field below and every link and connection */
    pthread_t thread;
    bool started;  /* the thread runs */
    bool stopping; /* relay_free() asked the thread to end */
    int epfd;
    struct watch wake;
    struct link **all; /* in order of creation */
    size_t nlinks;
    size_t cap;
    struct link **buckets; /* hash of (from, to); nbuckets is a power of two */
    size_t nbuckets;
    struct link *dirty;          /* links whose faults changed */
    struct conn *dead;           /* closed connections to free */
    struct listener **listeners; /* every listener: links' own and targets' */
    size_t nlisteners;
    size_t listeners_cap;
    struct listener **targets; /* targets[i]: node i's listener (per-target), or NULL */
    size_t ntargets;
    size_t paused;   /* listeners with accept_paused set */
    int32_t *side;   /* side[i] of node i (relay_set_sides); NULL: no partition */
    uint8_t *bridge; /* bridge[i]: node i reaches every side */
    size_t nsides;
    struct source *sources;  /* source address -> node, a hash (relay_set_sources) */
    size_t nsources_cap;     /* buckets, a power of two; 0 when there are none */
    uint64_t unknown_source; /* connections refused: their source is no node's */
    uint64_t seed;           /* the run's seed: every link's PRNG streams derive from it */
    struct conn **timers; /* min-heap on timer_us of connections waiting for latency or bandwidth */
    size_t ntimers;
    size_t timers_cap;
};

static int64_t relay_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * FAULT_US_PER_S + ts.tv_nsec / 1000;
}

/* --- rings --- */

static size_t ring_space(const struct ring *r)
{
    return RELAY_PIPE_BYTES - r->len;
}

/* Describe the free space of r (allocating it if needed) in up to two iovecs; returns the count. */
static int ring_free_iov(struct ring *r, struct iovec iov[2])
{
    if (r->data == NULL)
        r->data = xmalloc(RELAY_PIPE_BYTES);
    size_t tail = (r->head + r->len) % RELAY_PIPE_BYTES;
    size_t space = ring_space(r);
    size_t first = RELAY_PIPE_BYTES - tail;
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

/* Describe the first n waiting bytes of r (0 < n <= len) in up to two iovecs; returns the count. */
static int ring_data_iov(struct ring *r, size_t n, struct iovec iov[2])
{
    size_t first = RELAY_PIPE_BYTES - r->head;
    if (first > n)
        first = n;
    iov[0].iov_base = r->data + r->head;
    iov[0].iov_len = first;
    if (n == first)
        return 1;
    iov[1].iov_base = r->data;
    iov[1].iov_len = n - first;
    return 2;
}

/* --- latency marks --- */

static void stamps_push(struct stamps *q, size_t bytes, int64_t release_us)
{
    if (q->len > 0) {
        struct stamp *tail = &q->v[(q->head + q->len - 1) % q->cap];
        if (tail->release_us == release_us) {
            tail->bytes += bytes; /* clamped behind the previous chunk: one mark */
            return;
        }
    }
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct stamp *v = xmalloc(cap * sizeof(*v));
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    q->v[(q->head + q->len) % q->cap] = (struct stamp){.bytes = bytes, .release_us = release_us};
    q->len++;
}

static const struct stamp *stamps_first(const struct stamps *q)
{
    return q->len > 0 ? &q->v[q->head] : NULL;
}

static void stamps_pop(struct stamps *q)
{
    q->head = (q->head + 1) % q->cap;
    q->len--;
    if (q->len == 0) {
        free(q->v);
        *q = (struct stamps){0};
    }
}

static void ring_consume(struct ring *r, size_t n)
{
    r->head = (r->head + n) % RELAY_PIPE_BYTES;
    r->len -= n;
    if (r->len == 0) {
        free(r->data); /* an idle keep-alive connection holds no buffers */
        r->data = NULL;
        r->head = 0;
    }
}

/* --- epoll registrations --- */

/* Make want the registered interest of w (0: out of the epoll set). Returns 0, or -1 (logged). */
static int watch_set(struct relay *ls, struct watch *w, uint32_t want)
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
static void watch_close(struct relay *ls, struct watch *w, bool reset)
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

/* Seed the PRNG streams of l from the run's seed. */
static void link_seed(struct link *l, uint64_t seed)
{
    rng_seed(&l->faults.loss_rng, fault_seed(seed, l->from, l->to, FAULT_STREAM_LOSS));
    rng_seed(&l->faults.jitter_rng, fault_seed(seed, l->from, l->to, FAULT_STREAM_JITTER));
}

static void relay_wake(struct relay *ls)
{
    uint64_t one = 1;
    if (ls->wake.fd >= 0 && write(ls->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_error("links: eventfd write: %s", strerror(errno));
}

/* --- link table --- */

static size_t relay_hash(int from, int to)
{
    uint64_t k = ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
    k *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(k >> 32);
}

static struct link *relay_find(struct relay *ls, int from, int to)
{
    if (ls->nbuckets == 0)
        return NULL;
    struct link *l = ls->buckets[relay_hash(from, to) & (ls->nbuckets - 1)];
    while (l != NULL && (l->from != from || l->to != to))
        l = l->hash_next;
    return l;
}

static void relay_insert(struct relay *ls, struct link *l)
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
            size_t b = relay_hash(x->from, x->to) & (ls->nbuckets - 1);
            x->hash_next = ls->buckets[b];
            ls->buckets[b] = x;
        }
        return;
    }
    size_t b = relay_hash(l->from, l->to) & (ls->nbuckets - 1);
    l->hash_next = ls->buckets[b];
    ls->buckets[b] = l;
}

/* Queue l for the loop to re-evaluate its connections after a fault change. */
static void link_mark_dirty(struct relay *ls, struct link *l)
{
    if (l->dirty)
        return;
    l->dirty = true;
    l->dirty_next = ls->dirty;
    ls->dirty = l;
    relay_wake(ls);
}

/* --- accept pausing when descriptors run out --- */

static void listener_pause_accept(struct relay *ls, struct listener *li)
{
    if (li->accept_paused)
        return;
    li->accept_paused = true;
    ls->paused++;
    watch_set(ls, &li->w, 0);
}

/* Listen again on every paused listener; called whenever a descriptor may have been freed. */
static void relay_resume_accept(struct relay *ls)
{
    if (ls->paused == 0)
        return;
    for (size_t i = 0; i < ls->nlisteners; i++) {
        struct listener *li = ls->listeners[i];
        if (li->accept_paused) {
            li->accept_paused = false;
            watch_set(ls, &li->w, EPOLLIN);
        }
    }
    ls->paused = 0;
}

/* --- sides, cuts and sources --- */

/* True when the partition's sides keep from away from to. */
static bool relay_sides_block(const struct relay *ls, int from, int to)
{
    if (ls->side == NULL || (size_t)from >= ls->nsides || (size_t)to >= ls->nsides)
        return false;
    return ls->side[from] != ls->side[to] && !ls->bridge[from] && !ls->bridge[to];
}

/* Recompute whether l is stalled; when that changed, have the loop look at it again. */
static void link_update_blocked(struct relay *ls, struct link *l)
{
    bool blocked = l->faults.cut || relay_sides_block(ls, l->from, l->to);
    if (blocked != l->faults.blocked) {
        l->faults.blocked = blocked;
        link_mark_dirty(ls, l);
    }
}

/* One entry of the source hash: a node's own address, from which it opens its connections. */
struct source {
    in_addr_t addr; /* network order; 0: empty */
    int node;
};

static size_t relay_source_slot(const struct relay *ls, in_addr_t addr)
{
    uint64_t k = (uint64_t)addr * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(k >> 32) & (ls->nsources_cap - 1);
    while (ls->sources[i].addr != 0 && ls->sources[i].addr != addr)
        i = (i + 1) & (ls->nsources_cap - 1);
    return i;
}

/* The node whose source address is addr, or -1. */
static int relay_source_node(const struct relay *ls, in_addr_t addr)
{
    if (ls->nsources_cap == 0 || addr == 0)
        return -1;
    const struct source *e = &ls->sources[relay_source_slot(ls, addr)];
    return e->addr == addr ? e->node : -1;
}

/* --- timers: a min-heap of connections on timer_us --- */

static void timers_place(struct relay *ls, size_t i, struct conn *c)
{
    ls->timers[i] = c;
    c->timer_pos = i + 1;
}

static void timers_up(struct relay *ls, size_t i)
{
    struct conn *c = ls->timers[i];
    while (i > 0 && ls->timers[(i - 1) / 2]->timer_us > c->timer_us) {
        timers_place(ls, i, ls->timers[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    timers_place(ls, i, c);
}

static void timers_down(struct relay *ls, size_t i)
{
    struct conn *c = ls->timers[i];
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= ls->ntimers)
            break;
        if (k + 1 < ls->ntimers && ls->timers[k + 1]->timer_us < ls->timers[k]->timer_us)
            k++;
        if (ls->timers[k]->timer_us >= c->timer_us)
            break;
        timers_place(ls, i, ls->timers[k]);
        i = k;
    }
    timers_place(ls, i, c);
}

/* Make when the time the loop pumps c again; INT64_MAX removes c's timer. */
static void conn_set_timer(struct relay *ls, struct conn *c, int64_t when)
{
    if (c->timer_pos != 0 && when == c->timer_us)
        return;
    if (c->timer_pos != 0) {
        size_t i = c->timer_pos - 1;
        struct conn *last = ls->timers[--ls->ntimers];
        c->timer_pos = 0;
        if (last != c) {
            timers_place(ls, i, last);
            timers_up(ls, i);
            timers_down(ls, last->timer_pos - 1);
        }
    }
    if (when == INT64_MAX)
        return;
    if (ls->ntimers == ls->timers_cap) {
        ls->timers_cap = ls->timers_cap ? ls->timers_cap * 2 : 64;
        ls->timers = xrealloc(ls->timers, ls->timers_cap * sizeof(*ls->timers));
    }
    c->timer_us = when;
    timers_place(ls, ls->ntimers++, c);
    timers_up(ls, c->timer_pos - 1);
}

/* --- connections --- */

/* True when no byte of c may move and no connect may start: the stall of a blocked link, of a
 * connection chosen by the loss fault, or of a link being reset. */
static bool conn_held(const struct conn *c)
{
    const struct link_faults *f = &c->link->faults;
    return f->blocked || c->lost || f->reset;
}

/* True when new chunks read from c get latency marks. */
static bool link_delays(const struct link *l)
{
    return l->faults.delay_ms > 0 || l->faults.jitter_ms > 0;
}

/* True when c's bytes need the clock: latency or bandwidth is set, or marks are still pending.
 * False on the fast path of a link without faults: no clock, no timers, no per-byte work. */
static bool conn_shaped(const struct conn *c)
{
    const struct link *l = c->link;
    return link_delays(l) || l->faults.bucket[0].rate != 0 || c->stamps[0].len != 0 ||
           c->stamps[1].len != 0;
}

/* Bytes of ring[s] that may be written at now_us (c shaped): the marks that are due are dropped,
 * then the bytes not held by a mark, limited by the link's bucket. *next is lowered to the
 * earliest time more may go; *throttled is set when the bucket cut the count. */
static size_t conn_sendable(struct conn *c, int s, int64_t now_us, int64_t *next, bool *throttled)
{
    struct stamps *q = &c->stamps[s];
    struct fault_bucket *b = &c->link->faults.bucket[s];
    const struct stamp *m;

    while ((m = stamps_first(q)) != NULL && m->release_us <= now_us) {
        c->held[s] -= m->bytes;
        stamps_pop(q);
    }
    if (m != NULL && m->release_us < *next)
        *next = m->release_us;
    size_t n = c->ring[s].len - c->held[s];
    if (n == 0 || b->rate == 0)
        return n;
    uint64_t tokens = fault_bucket_available(b, now_us);
    if (tokens < n) {
        int64_t ready = fault_bucket_ready_us(b, n);
        if (ready < *next)
            *next = ready;
        n = (size_t)tokens;
        *throttled = true;
    }
    return n;
}

/* Mark the n bytes (0 for a FIN) just read from side s of c with their latency release time. */
static void conn_stamp(struct conn *c, int s, size_t n)
{
    struct link *l = c->link;
    struct stamps *q = &c->stamps[s];
    int64_t delay = 0;

    if (!link_delays(l) && q->len == 0)
        return;
    int64_t now = relay_now_us();
    if (link_delays(l))
        delay = fault_delay_us(&l->faults.jitter_rng, l->faults.delay_ms, l->faults.jitter_ms);
    int64_t release = fault_release_us(now, delay, c->last_release[s]);
    if (release <= now && q->len == 0)
        return;
    c->last_release[s] = release;
    c->held[s] += n;
    l->stats.bytes_delayed += n;
    stamps_push(q, n, release);
}

/* True when side s has a socket that can carry bytes (the connect to B has finished). */
static bool conn_usable(const struct conn *c, int s)
{
    return c->w[s].fd >= 0 && !(s == SIDE_TARGET && c->connecting);
}

/* Close both sockets of c, each with a reset when asked, and queue c to be freed. */
static void conn_close(struct relay *ls, struct conn *c, bool reset_source, bool reset_target)
{
    struct link *l = c->link;

    log_debug("link n%d -> n%d: connection closed%s", l->from, l->to,
              reset_source || reset_target ? " with a reset" : "");
    watch_close(ls, &c->w[SIDE_SOURCE], reset_source);
    watch_close(ls, &c->w[SIDE_TARGET], reset_target);
    conn_set_timer(ls, c, INT64_MAX);
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
    relay_resume_accept(ls);
}

/* Close c with a reset on both sides, on behalf of the reset fault. */
static void conn_reset(struct relay *ls, struct conn *c)
{
    c->link->stats.reset++;
    conn_close(ls, c, true, true);
}

static void conn_free(struct conn *c)
{
    free(c->ring[0].data);
    free(c->ring[1].data);
    free(c->stamps[0].v);
    free(c->stamps[1].v);
    free(c);
}

/* The epoll interest side s of c needs in its current state; to_s is how many bytes may be
 * written to s now. */
static uint32_t conn_want(const struct conn *c, int s, size_t to_s)
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
    if (to_s > 0)
        want |= EPOLLOUT;
    return want;
}

/* Register the interest of both sides of c, and its timer when bytes wait for latency or
 * bandwidth (never for a held connection). Returns 0, or -1 after closing c on failure. */
static int conn_watch(struct relay *ls, struct conn *c)
{
    size_t sendable[2] = {c->ring[0].len, c->ring[1].len};
    int64_t next = INT64_MAX;

    if (conn_held(c)) {
        sendable[0] = sendable[1] = 0;
    } else if (conn_shaped(c)) {
        int64_t now = relay_now_us();
        bool throttled = false;
        for (int s = 0; s < 2; s++)
            sendable[s] = conn_sendable(c, s, now, &next, &throttled);
    }
    conn_set_timer(ls, c, next);
    for (int s = 0; s < 2; s++) {
        if (watch_set(ls, &c->w[s], conn_want(c, s, sendable[!s])) < 0) {
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
static void conn_connect_failed(struct relay *ls, struct conn *c, int error)
{
    struct link *l = c->link;
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &l->forward.sin_addr, addr, sizeof(addr));
    log_debug("link n%d -> n%d: connect to %s:%u: %s", l->from, l->to, addr,
              ntohs(l->forward.sin_port), strerror(error));
    l->stats.connect_errors++;
    conn_close(ls, c, true, false);
}

/* Start the nonblocking connect of c to B. Returns 0, or -1 after closing c. */
static int conn_connect(struct relay *ls, struct conn *c)
{
    struct sockaddr_in sa = c->link->forward;
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
static int conn_finish_connect(struct relay *ls, struct conn *c)
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
        conn_stamp(c, s, 0); /* the FIN keeps its place behind the delayed bytes */
        return 1;
    }
    r->len += (size_t)n;
    conn_stamp(c, s, (size_t)n);
    return 1;
}

/* Write ring[s] to the other side. Returns 1 on progress, 0 when nothing could be written, -1 on
 * a socket error (errno set). */
static int conn_write(struct conn *c, int s)
{
    int o = !s;
    struct ring *r = &c->ring[s];
    struct iovec iov[2];
    size_t len = r->len;
    bool shaped = conn_shaped(c);
    bool throttled = false;
    int64_t now = 0;

    if (shaped) {
        int64_t next = INT64_MAX;
        now = relay_now_us();
        len = conn_sendable(c, s, now, &next, &throttled);
    }
    if (!conn_usable(c, o) || len == 0)
        return 0;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)ring_data_iov(r, len, iov)};
    ssize_t n = sendmsg(c->w[o].fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->link->stats.throttled += throttled;
    if (shaped)
        fault_bucket_take(&c->link->faults.bucket[s], now, (uint64_t)n);
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

    if (!c->eof[s] || c->ring[s].len > 0 || c->stamps[s].len > 0 || c->shut[o] ||
        !conn_usable(c, o))
        return 0;
    if (shutdown(c->w[o].fd, SHUT_WR) < 0)
        return -1;
    c->shut[o] = true;
    return 1;
}

/* Move every byte and FIN of c that can move now; close c when it is finished or broken. */
static void conn_pump(struct relay *ls, struct conn *c)
{
    struct link *l = c->link;

    for (int pass = 0; pass < RELAY_PUMP_PASSES; pass++) {
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
static void conn_open(struct relay *ls, struct link *l, int fd)
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
    if (l->faults.reset) {
        log_debug("link n%d -> n%d: connection accepted and reset", l->from, l->to);
        conn_reset(ls, c);
        return;
    }
    if (l->faults.loss > 0 && fault_loss_draw(&l->faults.loss_rng, l->faults.loss)) {
        c->lost = true;
        l->stats.lost++;
    }
    socket_set_nodelay(fd);
    log_debug("link n%d -> n%d: connection accepted%s", l->from, l->to,
              c->lost        ? " and lost"
              : conn_held(c) ? " and held"
                             : "");
    if (!conn_held(c) && conn_connect(ls, c) < 0)
        return;
    conn_watch(ls, c);
}

/* An event on one side of c. */
static void conn_event(struct relay *ls, struct conn *c, int side, uint32_t events)
{
    if (c->dead)
        return;
    if (c->link->faults.reset) {
        conn_reset(ls, c); /* relay_apply_dirty() would do it at the end of this turn */
        return;
    }
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

static struct link *relay_link_make(struct relay *ls, int from, int to,
                                    const struct sockaddr_in *forward, struct listener *li);

/* The link a connection accepted on li from src belongs to: li's own, or for a target's listener
 * the link from the node whose address src is (made now when the topology had none: a node
 * learned that peer by itself). NULL when src is no node's (the connection is then refused). */
static struct link *listener_link(struct relay *ls, struct listener *li,
                                  const struct sockaddr_in *src)
{
    if (li->link != NULL)
        return li->link;
    int from = relay_source_node(ls, src->sin_addr.s_addr);
    if (from < 0 || from == li->target) {
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &src->sin_addr, addr, sizeof(addr));
        if (ls->unknown_source++ % 1000 == 0)
            log_warn("links: a connection to n%d from %s, which is no node's address, refused "
                     "(%llu so far): nodes must open their connections from their own address",
                     li->target, addr, (unsigned long long)ls->unknown_source);
        return NULL;
    }
    struct link *l = relay_find(ls, from, li->target);
    if (l == NULL) {
        l = relay_link_make(ls, from, li->target, &li->forward, NULL);
        log_info("link n%d -> n%d: made for a connection the topology did not have", from,
                 li->target);
    }
    return l;
}

static void listener_accept(struct relay *ls, struct listener *li)
{
    for (int i = 0; i < RELAY_ACCEPT_BURST; i++) {
        struct sockaddr_in src;
        socklen_t len = sizeof(src);
        int fd = accept4(li->w.fd, (struct sockaddr *)&src, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            struct link *l = listener_link(ls, li, &src);
            if (l != NULL) {
                conn_open(ls, l, fd);
            } else {
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(fd);
            }
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Leave the connection in the backlog until a descriptor is freed. */
            log_warn("links: accept on a listener of n%d paused: %s",
                     li->link ? li->link->to : li->target, strerror(errno));
            listener_pause_accept(ls, li);
            return;
        }
        log_warn("links: accept on a listener of n%d: %s", li->link ? li->link->to : li->target,
                 strerror(errno));
        return;
    }
}

/* Re-evaluate every connection of every link whose faults changed. */
static void relay_apply_dirty(struct relay *ls)
{
    if (ls->dirty == NULL)
        return;
    while (ls->dirty != NULL) {
        struct link *l = ls->dirty;
        ls->dirty = l->dirty_next;
        l->dirty = false;
        l->dirty_next = NULL;
        struct conn *next = NULL;
        while (l->faults.reset && l->conns != NULL)
            conn_reset(ls, l->conns);
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
    relay_resume_accept(ls);
}

static void relay_dispatch(struct relay *ls, struct watch *w, uint32_t events)
{
    uint64_t count;

    switch (w->kind) {
    case WATCH_WAKE:
        if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            log_error("links: eventfd read: %s", strerror(errno));
        break;
    case WATCH_LISTENER:
        listener_accept(ls, w->listener);
        break;
    case WATCH_CONN:
        conn_event(ls, w->conn, w->side, events);
        break;
    }
}

/* Pump every connection whose timer is due. Each is pumped once per turn: a timer set again for
 * now waits for the next turn instead of spinning here. */
static void relay_run_timers(struct relay *ls)
{
    if (ls->ntimers == 0)
        return;
    int64_t now = relay_now_us();
    size_t budget = ls->ntimers;
    while (budget-- > 0 && ls->ntimers > 0 && ls->timers[0]->timer_us <= now) {
        struct conn *c = ls->timers[0];
        conn_set_timer(ls, c, INT64_MAX);
        if (conn_held(c))
            conn_watch(ls, c);
        else
            conn_pump(ls, c);
    }
}

/* The epoll_wait() timeout in milliseconds until the earliest timer, rounded up; -1 for none. */
static int relay_timeout_ms(struct relay *ls)
{
    if (ls->ntimers == 0)
        return -1;
    int64_t wait = ls->timers[0]->timer_us - relay_now_us();
    if (wait <= 0)
        return 0;
    wait = (wait + 999) / 1000;
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

static void *relay_loop(void *arg)
{
    struct relay *ls = arg;
    struct epoll_event evs[RELAY_EVENTS];
    bool stop = false;
    int timeout = -1;

    while (!stop) {
        int n = epoll_wait(ls->epfd, evs, RELAY_EVENTS, timeout);
        int error = errno;
        pthread_mutex_lock(&ls->mu);
        if (n < 0 && error != EINTR) {
            log_error("links: epoll_wait: %s; the link layer stops", strerror(error));
            stop = true;
        }
        for (int i = 0; i < n; i++)
            relay_dispatch(ls, evs[i].data.ptr, evs[i].events);
        relay_apply_dirty(ls);
        relay_run_timers(ls);
        while (ls->dead != NULL) {
            struct conn *c = ls->dead;
            ls->dead = c->dead_next;
            conn_free(c);
        }
        timeout = relay_timeout_ms(ls);
        stop |= ls->stopping;
        pthread_mutex_unlock(&ls->mu);
    }
    return NULL;
}

/* --- public API --- */

struct relay *relay_new(void)
{
    struct relay *ls = xcalloc(1, sizeof(*ls));

    pthread_mutex_init(&ls->mu, NULL);
    ls->epfd = -1;
    ls->wake.kind = WATCH_WAKE;
    ls->wake.fd = -1;
    return ls;
}

void relay_free(struct relay *ls)
{
    if (ls == NULL)
        return;
    if (ls->started) {
        pthread_mutex_lock(&ls->mu);
        ls->stopping = true;
        relay_wake(ls);
        pthread_mutex_unlock(&ls->mu);
        pthread_join(ls->thread, NULL);
    }
    for (size_t i = 0; i < ls->nlinks; i++) {
        struct link *l = ls->all[i];
        while (l->conns != NULL)
            conn_close(ls, l->conns, true, true);
        free(l);
    }
    for (size_t i = 0; i < ls->nlisteners; i++) {
        watch_close(ls, &ls->listeners[i]->w, false);
        free(ls->listeners[i]);
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
    free(ls->timers);
    free(ls->listeners);
    free(ls->targets);
    free(ls->side);
    free(ls->bridge);
    free(ls->sources);
    pthread_mutex_destroy(&ls->mu);
    free(ls);
}

/* A nonblocking listening socket on addr (its port 0: an ephemeral one, written back). Returns
 * the fd, or -1 with err. */
static int relay_listen(struct sockaddr_in *addr, char *err, size_t errsz)
{
    socklen_t len = sizeof(*addr);
    char text[INET_ADDRSTRLEN];
    int fd = -1;
    int one = 1;

    inet_ntop(AF_INET, &addr->sin_addr, text, sizeof(text));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err_set(err, errsz, "cannot create a link socket: %s", strerror(errno));
        goto fail;
    }
    /* A port in TIME_WAIT from an earlier run on the same address is free to use. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0) {
        err_set(err, errsz, "cannot bind a link socket on %s:%u: %s", text, ntohs(addr->sin_port),
                strerror(errno));
        goto fail;
    }
    if (listen(fd, RELAY_BACKLOG) < 0) {
        err_set(err, errsz, "cannot listen on a link socket: %s", strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
        err_set(err, errsz, "cannot read a link socket's port: %s", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* A new listener on addr (port 0: ephemeral, written back into li->addr); registered with the
 * loop when it runs. Returns it, or NULL with err. Called locked. */
static struct listener *relay_listener_new(struct relay *ls, const struct sockaddr_in *addr,
                                           char *err, size_t errsz)
{
    struct listener *li = xcalloc(1, sizeof(*li));
    li->addr = *addr;
    li->target = -1;
    li->w.kind = WATCH_LISTENER;
    li->w.listener = li;
    li->w.fd = relay_listen(&li->addr, err, errsz);
    if (li->w.fd < 0 || (ls->started && watch_set(ls, &li->w, EPOLLIN) < 0)) {
        if (li->w.fd >= 0)
            err_set(err, errsz, "cannot add a link socket to the epoll set");
        watch_close(ls, &li->w, false);
        free(li);
        return NULL;
    }
    if (ls->nlisteners == ls->listeners_cap) {
        ls->listeners_cap = ls->listeners_cap ? ls->listeners_cap * 2 : 64;
        ls->listeners = xrealloc(ls->listeners, ls->listeners_cap * sizeof(*ls->listeners));
    }
    ls->listeners[ls->nlisteners++] = li;
    return li;
}

/* A new link from -> to forwarding to forward, on listener li (its own) or on its target's
 * (li NULL). Called locked; from -> to must not exist. */
static struct link *relay_link_make(struct relay *ls, int from, int to,
                                    const struct sockaddr_in *forward, struct listener *li)
{
    struct link *l = xcalloc(1, sizeof(*l));
    l->from = from;
    l->to = to;
    l->forward = *forward;
    l->listener = li;
    link_seed(l, ls->seed);
    l->faults.blocked = relay_sides_block(ls, from, to);
    relay_insert(ls, l);
    return l;
}

/* Check the nodes of a new link. Returns 0, or -1 with err. Called locked. */
static int relay_check_pair(struct relay *ls, int from, int to, char *err, size_t errsz)
{
    if (from < 0 || to < 0 || from == to) {
        err_set(err, errsz, "link n%d -> n%d needs two different nodes", from, to);
        return -1;
    }
    if (relay_find(ls, from, to) != NULL) {
        err_set(err, errsz, "link n%d -> n%d already exists", from, to);
        return -1;
    }
    return 0;
}

int relay_add(struct relay *ls, int from, int to, uint16_t target_port, uint16_t *listen_port,
              char *err, size_t errsz)
{
    int rc = -1;

    pthread_mutex_lock(&ls->mu);
    if (relay_check_pair(ls, from, to, err, errsz) < 0)
        goto out;
    if (target_port == 0) {
        err_set(err, errsz, "link n%d -> n%d needs a target port", from, to);
        goto out;
    }
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in forward = any;
    forward.sin_port = htons(target_port);
    struct listener *li = relay_listener_new(ls, &any, err, errsz);
    if (li == NULL)
        goto out;
    li->link = relay_link_make(ls, from, to, &forward, li);
    log_debug("link n%d -> n%d: 127.0.0.1:%u -> 127.0.0.1:%u", from, to, ntohs(li->addr.sin_port),
              target_port);
    if (listen_port != NULL)
        *listen_port = ntohs(li->addr.sin_port);
    rc = 0;
out:
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

int relay_add_target(struct relay *ls, int to, struct sockaddr_in *listen,
                     const struct sockaddr_in *forward, char *err, size_t errsz)
{
    int rc = -1;

    pthread_mutex_lock(&ls->mu);
    if (to < 0 || ((size_t)to < ls->ntargets && ls->targets[to] != NULL)) {
        err_set(err, errsz, "n%d cannot have a second listener", to);
        goto out;
    }
    struct listener *li = relay_listener_new(ls, listen, err, errsz);
    if (li == NULL)
        goto out;
    li->target = to;
    li->forward = *forward;
    *listen = li->addr;
    if ((size_t)to >= ls->ntargets) {
        size_t n = (size_t)to + 1 > 2 * ls->ntargets ? (size_t)to + 1 : 2 * ls->ntargets;
        ls->targets = xrealloc(ls->targets, n * sizeof(*ls->targets));
        memset(ls->targets + ls->ntargets, 0, (n - ls->ntargets) * sizeof(*ls->targets));
        ls->ntargets = n;
    }
    ls->targets[to] = li;
    rc = 0;
out:
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

int relay_add_link(struct relay *ls, int from, int to, char *err, size_t errsz)
{
    int rc = -1;

    pthread_mutex_lock(&ls->mu);
    if (relay_check_pair(ls, from, to, err, errsz) < 0)
        goto out;
    if ((size_t)to >= ls->ntargets || ls->targets[to] == NULL) {
        err_set(err, errsz, "link n%d -> n%d: n%d has no listener", from, to, to);
        goto out;
    }
    relay_link_make(ls, from, to, &ls->targets[to]->forward, NULL);
    rc = 0;
out:
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

void relay_set_sources(struct relay *ls, const struct in_addr *addr, unsigned n)
{
    pthread_mutex_lock(&ls->mu);
    free(ls->sources);
    ls->nsources_cap = 16;
    while (ls->nsources_cap < 2 * (size_t)n)
        ls->nsources_cap *= 2;
    ls->sources = xcalloc(ls->nsources_cap, sizeof(*ls->sources));
    for (unsigned i = 0; i < n; i++) {
        if (addr[i].s_addr == 0)
            continue;
        struct source *e = &ls->sources[relay_source_slot(ls, addr[i].s_addr)];
        e->addr = addr[i].s_addr;
        e->node = (int)i;
    }
    pthread_mutex_unlock(&ls->mu);
}

int relay_listen_port(struct relay *ls, int from, int to)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = relay_find(ls, from, to);
    int port = l != NULL && l->listener != NULL ? ntohs(l->listener->addr.sin_port) : -1;
    pthread_mutex_unlock(&ls->mu);
    return port;
}

int relay_set_cut(struct relay *ls, int from, int to, bool cut)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = relay_find(ls, from, to);
    if (l != NULL) {
        l->faults.cut = cut;
        link_update_blocked(ls, l);
    }
    pthread_mutex_unlock(&ls->mu);
    return l != NULL ? 0 : -1;
}

void relay_set_sides(struct relay *ls, const int32_t *side, const uint8_t *bridge, size_t n)
{
    pthread_mutex_lock(&ls->mu);
    free(ls->side);
    free(ls->bridge);
    ls->side = NULL;
    ls->bridge = NULL;
    ls->nsides = 0;
    if (side != NULL && n > 0) {
        ls->side = (int32_t *)(void *)xmemdup(side, n * sizeof(*side));
        ls->bridge = xcalloc(n, 1);
        if (bridge != NULL)
            memcpy(ls->bridge, bridge, n);
        ls->nsides = n;
    }
    for (size_t i = 0; i < ls->nlinks; i++)
        link_update_blocked(ls, ls->all[i]);
    pthread_mutex_unlock(&ls->mu);
}

bool relay_blocked(struct relay *ls, int from, int to)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = relay_find(ls, from, to);
    bool blocked = l != NULL && l->faults.blocked;
    pthread_mutex_unlock(&ls->mu);
    return blocked;
}

void relay_heal(struct relay *ls)
{
    pthread_mutex_lock(&ls->mu);
    free(ls->side);
    free(ls->bridge);
    ls->side = NULL;
    ls->bridge = NULL;
    ls->nsides = 0;
    for (size_t i = 0; i < ls->nlinks; i++) {
        ls->all[i]->faults.cut = false;
        link_update_blocked(ls, ls->all[i]);
    }
    pthread_mutex_unlock(&ls->mu);
}

int relay_start(struct relay *ls, char *err, size_t errsz)
{
    sigset_t all;
    sigset_t old;
    int error = 0;
    int rc = -1;
    bool undo = false; /* this call created the epoll set and eventfd */

    pthread_mutex_lock(&ls->mu);
    if (ls->started) {
        err_set(err, errsz, "the link layer is already running");
        goto out;
    }
    undo = true;
    ls->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ls->epfd < 0) {
        err_set(err, errsz, "cannot create the link layer's epoll: %s", strerror(errno));
        goto out;
    }
    ls->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ls->wake.fd < 0) {
        err_set(err, errsz, "cannot create the link layer's eventfd: %s", strerror(errno));
        goto out;
    }
    if (watch_set(ls, &ls->wake, EPOLLIN) < 0) {
        err_set(err, errsz, "cannot add the link layer's eventfd to its epoll set");
        goto out;
    }
    for (size_t i = 0; i < ls->nlisteners; i++) {
        if (watch_set(ls, &ls->listeners[i]->w, EPOLLIN) < 0) {
            err_set(err, errsz, "cannot add a link socket to the epoll set");
            goto out;
        }
    }
    /* The thread blocks every signal, so they reach the sim's main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    error = pthread_create(&ls->thread, NULL, relay_loop, ls);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (error != 0) {
        err_set(err, errsz, "cannot start the link layer's thread: %s", strerror(error));
        goto out;
    }
    ls->started = true;
    rc = 0;
out:
    if (rc < 0 && undo) {
        /* Closing the epoll fd drops every registration made above. */
        for (size_t i = 0; i < ls->nlisteners; i++)
            ls->listeners[i]->w.events = 0;
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

/* Find link from -> to and lock; returns NULL (unlocked) when there is none. */
static struct link *relay_lock_link(struct relay *ls, int from, int to)
{
    pthread_mutex_lock(&ls->mu);
    struct link *l = relay_find(ls, from, to);
    if (l == NULL)
        pthread_mutex_unlock(&ls->mu);
    return l;
}

/* Unlock after a fault of l changed, and have the loop re-evaluate l's connections. */
static void relay_unlock_dirty(struct relay *ls, struct link *l)
{
    link_mark_dirty(ls, l);
    pthread_mutex_unlock(&ls->mu);
}

int relay_set_latency(struct relay *ls, int from, int to, int64_t delay_ms, int64_t jitter_ms)
{
    if (delay_ms < 0 || delay_ms > FAULT_DELAY_MAX_MS || jitter_ms < 0 ||
        jitter_ms > FAULT_DELAY_MAX_MS)
        return -1;
    struct link *l = relay_lock_link(ls, from, to);
    if (l == NULL)
        return -1;
    l->faults.delay_ms = delay_ms;
    l->faults.jitter_ms = jitter_ms;
    relay_unlock_dirty(ls, l);
    return 0;
}

int relay_set_loss(struct relay *ls, int from, int to, uint32_t per_million)
{
    if (per_million > FAULT_LOSS_SCALE)
        return -1;
    struct link *l = relay_lock_link(ls, from, to);
    if (l == NULL)
        return -1;
    l->faults.loss = per_million;
    /* Open connections are drawn too: with keep-alive, new connections are rare, and loss 100%
     * must stall the link like a partition. */
    for (struct conn *c = l->conns; c != NULL && per_million > 0; c = c->next) {
        if (!c->lost && fault_loss_draw(&l->faults.loss_rng, per_million)) {
            c->lost = true;
            l->stats.lost++;
        }
    }
    relay_unlock_dirty(ls, l);
    return 0;
}

int relay_set_bandwidth(struct relay *ls, int from, int to, uint64_t bytes_per_s)
{
    struct link *l = relay_lock_link(ls, from, to);
    if (l == NULL)
        return -1;
    int64_t now = relay_now_us();
    for (int s = 0; s < 2; s++)
        fault_bucket_init(&l->faults.bucket[s], bytes_per_s, now);
    relay_unlock_dirty(ls, l);
    return 0;
}

int relay_set_reset(struct relay *ls, int from, int to, bool reset)
{
    struct link *l = relay_lock_link(ls, from, to);
    if (l == NULL)
        return -1;
    l->faults.reset = reset;
    relay_unlock_dirty(ls, l);
    return 0;
}

int relay_clear_faults(struct relay *ls, int from, int to)
{
    struct link *l = relay_lock_link(ls, from, to);
    if (l == NULL)
        return -1;
    l->faults.reset = false;
    l->faults.delay_ms = 0;
    l->faults.jitter_ms = 0;
    l->faults.loss = 0;
    for (int s = 0; s < 2; s++)
        fault_bucket_init(&l->faults.bucket[s], 0, 0);
    relay_unlock_dirty(ls, l);
    return 0;
}

void relay_set_seed(struct relay *ls, uint64_t seed)
{
    pthread_mutex_lock(&ls->mu);
    ls->seed = seed;
    for (size_t i = 0; i < ls->nlinks; i++)
        link_seed(ls->all[i], seed);
    pthread_mutex_unlock(&ls->mu);
}

void link_stats_add(struct link_stats *sum, const struct link_stats *s)
{
    sum->accepted += s->accepted;
    sum->messages += s->messages;
    sum->bytes_to_target += s->bytes_to_target;
    sum->bytes_to_source += s->bytes_to_source;
    sum->connect_errors += s->connect_errors;
    sum->dropped += s->dropped;
    sum->open += s->open;
    sum->lost += s->lost;
    sum->reset += s->reset;
    sum->bytes_delayed += s->bytes_delayed;
    sum->throttled += s->throttled;
    sum->refused += s->refused;
}

void relay_stats(struct relay *ls, struct link_stats *total)
{
    memset(total, 0, sizeof(*total));
    pthread_mutex_lock(&ls->mu);
    for (size_t i = 0; i < ls->nlinks; i++)
        link_stats_add(total, &ls->all[i]->stats);
    total->refused += ls->unknown_source;
    pthread_mutex_unlock(&ls->mu);
}

int relay_link_stats(struct relay *ls, int from, int to, struct link_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&ls->mu);
    struct link *l = relay_find(ls, from, to);
    if (l != NULL)
        *out = l->stats;
    pthread_mutex_unlock(&ls->mu);
    return l != NULL ? 0 : -1;
}

size_t relay_count(struct relay *ls)
{
    pthread_mutex_lock(&ls->mu);
    size_t n = ls->nlinks;
    pthread_mutex_unlock(&ls->mu);
    return n;
}

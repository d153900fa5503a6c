/* links: the link layer sharded over relay processes (see links.h). */
#include "links.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "limits.h"
#include "log.h"
#include "pairset.h"
#include "spawner.h"
#include "xalloc.h"

#define LINKS_RELAY_FD  3     /* the socket's number in a relay process */
#define LINKS_CHUNK     8192  /* nodes per message of a per-node array (sides, sources) */
#define LINKS_MSG_MAX   65536 /* bytes of the largest message */
#define LINKS_REPLY_MS  30000 /* how long a call waits for its relay */
#define LINKS_ERR_BYTES 240   /* of the message in a reply */

enum links_op {
    LINKS_OP_INIT = 1,   /* from: the relay's number, to: log level, a: seed, b: nodes */
    LINKS_OP_SOURCES,    /* a: first node, b: nodes; payload: in_addr[count] */
    LINKS_OP_TARGET,     /* to; addr[0]: listen, addr[1]: forward */
    LINKS_OP_START,      /* start forwarding */
    LINKS_OP_ADD_EDGE,   /* from, to, a: target port; reply: port */
    LINKS_OP_ADD_LINK,   /* from, to */
    LINKS_OP_CUT,        /* from, to, a: cut */
    LINKS_OP_SIDES,      /* a: first node, b: nodes (0: none); payload: int32[count], u8[count] */
    LINKS_OP_HEAL,       /* every link */
    LINKS_OP_LATENCY,    /* from, to, a: delay ms, b: jitter ms */
    LINKS_OP_LOSS,       /* from, to, a: per million */
    LINKS_OP_BANDWIDTH,  /* from, to, a: bytes/s */
    LINKS_OP_RESET,      /* from, to, a: reset */
    LINKS_OP_CLEAR,      /* from, to */
    LINKS_OP_STATS,      /* reply: the sum of the relay's counters */
    LINKS_OP_LINK_STATS, /* from, to; reply: that link's counters */
};

struct links_msg {
    uint32_t op;
    uint32_t count; /* elements of the payload */
    int32_t from;
    int32_t to;
    int64_t a;
    int64_t b;
    struct sockaddr_in addr[2];
};

struct links_reply {
    int32_t rc;
    uint32_t port;
    struct link_stats stats;
    char err[LINKS_ERR_BYTES];
};

struct shard {
    pid_t pid;
    int fd; /* -1 once the relay is gone */
};

struct links {
    enum links_layout layout;
    unsigned nodes;
    struct sockaddr_in *node_addr;
    struct sockaddr_in *public_addr; /* per target */
    struct shard *shards;
    unsigned nshards;
    struct pairset added; /* links added: (from, to) -> listen port (per edge) or 0 */
    /* One call at a time: the sampler thread asks for stats while the runner adds and faults
     * links, and a reply must reach the thread that sent its request. */
    pthread_mutex_t call_lock;
};

/* --- messages --- */

/* Send m (and payload, n bytes) to shard s and wait for its reply. Returns the reply's rc, or -1
 * with reply->err set when the relay is gone. */
static int links_call(struct links *ls, unsigned s, const struct links_msg *m, const void *payload,
                      size_t n, struct links_reply *reply)
{
    struct shard *sh = &ls->shards[s];
    memset(reply, 0, sizeof(*reply));
    reply->rc = -1;
    pthread_mutex_lock(&ls->call_lock);
    if (sh->fd < 0) {
        pthread_mutex_unlock(&ls->call_lock);
        snprintf(reply->err, sizeof(reply->err), "relay %u (pid %d) is gone", s, (int)sh->pid);
        return -1;
    }
    struct iovec iov[2] = {{(void *)m, sizeof(*m)}, {(void *)payload, n}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n > 0 ? 2 : 1};
    struct pollfd pfd = {.fd = sh->fd, .events = POLLIN};
    int ready = 0;
    if (sendmsg(sh->fd, &mh, MSG_NOSIGNAL) == (ssize_t)(sizeof(*m) + n)) {
        while ((ready = poll(&pfd, 1, LINKS_REPLY_MS)) < 0 && errno == EINTR)
            ;
    }
    if (ready <= 0 || recv(sh->fd, reply, sizeof(*reply), 0) != (ssize_t)sizeof(*reply)) {
        memset(reply, 0, sizeof(*reply));
        reply->rc = -1;
        snprintf(reply->err, sizeof(reply->err), "relay %u (pid %d) is gone", s, (int)sh->pid);
        log_error("links: %s", reply->err);
        close(sh->fd);
        sh->fd = -1;
        pthread_mutex_unlock(&ls->call_lock);
        return -1;
    }
    pthread_mutex_unlock(&ls->call_lock);
    return reply->rc;
}

/* The shard of every link to node `to`. */
static unsigned links_shard_of(const struct links *ls, unsigned to)
{
    return to % ls->nshards;
}

/* Send a per-node array (elem bytes per node, for every node) to every shard in chunks. Returns
 * 0, or -1 with err when a relay failed it. */
static int links_send_nodes(struct links *ls, uint32_t op, const void *a, size_t a_elem,
                            const void *b, size_t b_elem, char *err, size_t errsz)
{
    char *buf = xmalloc(LINKS_CHUNK * (a_elem + b_elem));
    int rc = 0;
    for (unsigned s = 0; s < ls->nshards && rc == 0; s++) {
        for (size_t first = 0; first < ls->nodes && rc == 0; first += LINKS_CHUNK) {
            size_t k = ls->nodes - first < LINKS_CHUNK ? ls->nodes - first : LINKS_CHUNK;
            memcpy(buf, (const char *)a + first * a_elem, k * a_elem);
            if (b != NULL)
                memcpy(buf + k * a_elem, (const char *)b + first * b_elem, k * b_elem);
            else
                memset(buf + k * a_elem, 0, k * b_elem);
            struct links_msg m = {
                .op = op, .count = (uint32_t)k, .a = (int64_t)first, .b = ls->nodes};
            struct links_reply r;
            if (links_call(ls, s, &m, buf, k * (a_elem + b_elem), &r) < 0) {
                err_set(err, errsz, "%s", r.err);
                rc = -1;
            }
        }
    }
    free(buf);
    return rc;
}

/* --- planning and start --- */

unsigned links_plan_shards(const struct links_spec *spec, char *err, size_t errsz)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        err_set(err, errsz, "cannot read the open-files limit: %s", strerror(errno));
        return 0;
    }
    uint64_t per_process = rl.rlim_max == RLIM_INFINITY ? 1048576 : (uint64_t)rl.rlim_max;
    if (per_process <= 2 * LINKS_FD_RESERVE) {
        err_set(err, errsz,
                "the open-files hard limit (ulimit -Hn) is %llu; the link layer needs at "
                "least %d: raise it",
                (unsigned long long)per_process, 2 * LINKS_FD_RESERVE);
        return 0;
    }
    uint64_t usable = per_process - LINKS_FD_RESERVE;
    uint64_t listeners =
        spec->layout == LINKS_PER_TARGET ? spec->nodes : (uint64_t)spec->expected_links;
    uint64_t need = listeners + (uint64_t)spec->expected_links * LINKS_FDS_PER_LINK;
    uint64_t shards = (need + usable - 1) / usable;
    if (shards == 0)
        shards = 1;
    if (shards > spec->nodes && spec->nodes > 0)
        shards = spec->nodes;
    if (shards > LINKS_MAX_SHARDS) {
        err_set(err, errsz,
                "%zu links need about %llu descriptors, over %d relay processes at the "
                "open-files hard limit of %llu (ulimit -Hn): raise that limit, or use fewer "
                "nodes or a smaller degree",
                spec->expected_links, (unsigned long long)need, LINKS_MAX_SHARDS,
                (unsigned long long)per_process);
        return 0;
    }
    return (unsigned)shards;
}

/* Fork and exec one relay process on a new socket. Returns 0, or -1 with err. */
static int links_spawn(struct shard *sh, const char *log_path, char *err, size_t errsz)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        err_set(err, errsz, "socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        err_set(err, errsz, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    case 0: {
        spawner_reset_signals();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0666) : -1;
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        if (dup2(sv[1], LINKS_RELAY_FD) < 0)
            _exit(127);
        execl("/proc/self/exe", "chainlab-relay", "--relay", "3", (char *)NULL);
        dprintf(STDERR_FILENO, "chainlab-sim: cannot start a relay process: %s\n", strerror(errno));
        _exit(127);
    }
    default:
        break;
    }
    close(sv[1]);
    sh->pid = pid;
    sh->fd = sv[0];
    return 0;
}

int links_new(const struct links_spec *spec, struct links **out, char *err, size_t errsz)
{
    *out = NULL;
    unsigned nshards = spec->shards ? spec->shards : links_plan_shards(spec, err, errsz);
    if (nshards == 0)
        return -1;
    struct links *ls = xcalloc(1, sizeof(*ls));
    pthread_mutex_init(&ls->call_lock, NULL);
    ls->layout = spec->layout;
    ls->nodes = spec->nodes;
    ls->node_addr = xcalloc(spec->nodes ? spec->nodes : 1, sizeof(*ls->node_addr));
    memcpy(ls->node_addr, spec->node_addr, spec->nodes * sizeof(*ls->node_addr));
    if (spec->layout == LINKS_PER_TARGET) {
        ls->public_addr = xcalloc(spec->nodes ? spec->nodes : 1, sizeof(*ls->public_addr));
        memcpy(ls->public_addr, spec->public_addr, spec->nodes * sizeof(*ls->public_addr));
    }
    ls->shards = xcalloc(nshards, sizeof(*ls->shards));
    for (unsigned s = 0; s < nshards; s++)
        ls->shards[s].fd = -1;
    struct links_reply r;
    for (unsigned s = 0; s < nshards; s++) {
        if (links_spawn(&ls->shards[s], spec->log_path, err, errsz) < 0)
            goto fail;
        ls->nshards = s + 1;
        struct links_msg m = {.op = LINKS_OP_INIT,
                              .from = (int32_t)s,
                              .to = (int32_t)log_threshold,
                              .a = (int64_t)spec->seed,
                              .b = spec->nodes};
        if (links_call(ls, s, &m, NULL, 0, &r) < 0)
            goto fail_reply;
    }
    if (spec->layout == LINKS_PER_TARGET) {
        struct in_addr *src = xcalloc(spec->nodes ? spec->nodes : 1, sizeof(*src));
        for (unsigned i = 0; i < spec->nodes; i++)
            src[i] = spec->node_addr[i].sin_addr;
        int rc = links_send_nodes(ls, LINKS_OP_SOURCES, src, sizeof(*src), NULL, 0, err, errsz);
        free(src);
        if (rc < 0)
            goto fail;
        for (unsigned i = 0; i < spec->nodes; i++) {
            struct links_msg m = {.op = LINKS_OP_TARGET, .to = (int32_t)i};
            m.addr[0] = spec->public_addr[i];
            m.addr[1] = spec->node_addr[i];
            if (links_call(ls, links_shard_of(ls, i), &m, NULL, 0, &r) < 0)
                goto fail_reply;
        }
    }
    for (unsigned s = 0; s < nshards; s++) {
        struct links_msg m = {.op = LINKS_OP_START};
        if (links_call(ls, s, &m, NULL, 0, &r) < 0)
            goto fail_reply;
    }
    *out = ls;
    return 0;
fail_reply:
    err_set(err, errsz, "%s", r.err);
fail:
    links_free(ls);
    return -1;
}

void links_free(struct links *ls)
{
    if (ls == NULL)
        return;
    for (unsigned s = 0; s < ls->nshards; s++) {
        if (ls->shards[s].fd >= 0)
            close(ls->shards[s].fd); /* the relay sees the end and exits */
    }
    for (unsigned s = 0; s < ls->nshards; s++) {
        while (waitpid(ls->shards[s].pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(ls->shards);
    pairset_free(&ls->added);
    free(ls->node_addr);
    free(ls->public_addr);
    pthread_mutex_destroy(&ls->call_lock);
    free(ls);
}

unsigned links_shards(const struct links *ls)
{
    return ls->nshards;
}

pid_t links_shard_pid(const struct links *ls, unsigned s)
{
    return ls->shards[s].pid;
}

/* --- links --- */

int links_add(struct links *ls, unsigned from, unsigned to, char *err, size_t errsz)
{
    if (from >= ls->nodes || to >= ls->nodes || from == to) {
        err_set(err, errsz, "link n%u -> n%u needs two different nodes of %u", from, to, ls->nodes);
        return -1;
    }
    if (pairset_get(&ls->added, from, to, NULL)) {
        err_set(err, errsz, "link n%u -> n%u already exists", from, to);
        return -1;
    }
    struct links_msg m = {.from = (int32_t)from, .to = (int32_t)to};
    if (ls->layout == LINKS_PER_EDGE) {
        m.op = LINKS_OP_ADD_EDGE;
        m.a = ntohs(ls->node_addr[to].sin_port);
    } else {
        m.op = LINKS_OP_ADD_LINK;
    }
    struct links_reply r;
    if (links_call(ls, links_shard_of(ls, to), &m, NULL, 0, &r) < 0) {
        err_set(err, errsz, "%s", r.err);
        return -1;
    }
    pairset_put(&ls->added, from, to, r.port);
    return 0;
}

bool links_has(const struct links *ls, unsigned from, unsigned to)
{
    return pairset_get(&ls->added, from, to, NULL);
}

int links_peer_addr(const struct links *ls, unsigned from, unsigned to, struct sockaddr_in *out)
{
    if (ls->layout == LINKS_PER_TARGET) {
        if (to >= ls->nodes)
            return -1;
        *out = ls->public_addr[to];
        return 0;
    }
    uint32_t port;
    if (!pairset_get(&ls->added, from, to, &port))
        return -1;
    *out = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

/* One control message on link from -> to. */
static int links_link_call(struct links *ls, uint32_t op, unsigned from, unsigned to, int64_t a,
                           int64_t b)
{
    if (!pairset_get(&ls->added, from, to, NULL))
        return -1;
    struct links_msg m = {.op = op, .from = (int32_t)from, .to = (int32_t)to, .a = a, .b = b};
    struct links_reply r;
    return links_call(ls, links_shard_of(ls, to), &m, NULL, 0, &r);
}

int links_set_cut(struct links *ls, unsigned from, unsigned to, bool cut)
{
    return links_link_call(ls, LINKS_OP_CUT, from, to, cut, 0);
}

int links_set_sides(struct links *ls, const int32_t *side, const uint8_t *bridge)
{
    if (side == NULL) {
        int rc = 0;
        for (unsigned s = 0; s < ls->nshards; s++) {
            struct links_msg m = {.op = LINKS_OP_SIDES};
            struct links_reply r;
            rc |= links_call(ls, s, &m, NULL, 0, &r);
        }
        return rc < 0 ? -1 : 0;
    }
    return links_send_nodes(ls, LINKS_OP_SIDES, side, sizeof(*side), bridge, sizeof(*bridge), NULL,
                            0);
}

int links_heal(struct links *ls)
{
    int rc = 0;
    for (unsigned s = 0; s < ls->nshards; s++) {
        struct links_msg m = {.op = LINKS_OP_HEAL};
        struct links_reply r;
        rc |= links_call(ls, s, &m, NULL, 0, &r);
    }
    return rc < 0 ? -1 : 0;
}

int links_set_latency(struct links *ls, unsigned from, unsigned to, int64_t delay_ms,
                      int64_t jitter_ms)
{
    return links_link_call(ls, LINKS_OP_LATENCY, from, to, delay_ms, jitter_ms);
}

int links_set_loss(struct links *ls, unsigned from, unsigned to, uint32_t per_million)
{
    return links_link_call(ls, LINKS_OP_LOSS, from, to, per_million, 0);
}

int links_set_bandwidth(struct links *ls, unsigned from, unsigned to, uint64_t bytes_per_s)
{
    return links_link_call(ls, LINKS_OP_BANDWIDTH, from, to, (int64_t)bytes_per_s, 0);
}

int links_set_reset(struct links *ls, unsigned from, unsigned to, bool reset)
{
    return links_link_call(ls, LINKS_OP_RESET, from, to, reset, 0);
}

int links_clear_faults(struct links *ls, unsigned from, unsigned to)
{
    return links_link_call(ls, LINKS_OP_CLEAR, from, to, 0, 0);
}

void links_stats(struct links *ls, struct link_stats *total)
{
    memset(total, 0, sizeof(*total));
    for (unsigned s = 0; s < ls->nshards; s++) {
        struct links_msg m = {.op = LINKS_OP_STATS};
        struct links_reply r;
        if (links_call(ls, s, &m, NULL, 0, &r) == 0)
            link_stats_add(total, &r.stats);
    }
}

int links_link_stats(struct links *ls, unsigned from, unsigned to, struct link_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (to >= ls->nodes)
        return -1;
    struct links_msg m = {.op = LINKS_OP_LINK_STATS, .from = (int32_t)from, .to = (int32_t)to};
    struct links_reply r;
    if (links_call(ls, links_shard_of(ls, to), &m, NULL, 0, &r) < 0)
        return -1;
    *out = r.stats;
    return 0;
}

size_t links_count(const struct links *ls)
{
    return ls->added.count;
}

/* --- the relay process --- */

/* The relay side of one process: its relay and the arrays being received in chunks. */
struct relay_server {
    struct relay *relay;
    size_t nodes;
    int32_t *side;       /* being received (LINKS_OP_SIDES) */
    uint8_t *bridge;     /* being received */
    struct in_addr *src; /* being received (LINKS_OP_SOURCES) */
};

/* Copy chunk (m->count elements from node m->a) of a per-node array into *dst (nodes elements of
 * elem bytes, allocated at the first chunk). Returns 1 when the chunk was the last, 0 when more
 * follow, -1 when it does not fit. */
static int relay_server_chunk(const struct links_msg *m, size_t nodes, const char *payload,
                              size_t n, size_t elem, size_t elem2, void **dst, void **dst2)
{
    size_t first = (size_t)m->a, k = m->count;
    if ((size_t)m->b != nodes || first > nodes || k > nodes - first || n != k * (elem + elem2))
        return -1;
    if (*dst == NULL)
        *dst = xcalloc(nodes ? nodes : 1, elem);
    memcpy((char *)*dst + first * elem, payload, k * elem);
    if (dst2 != NULL) {
        if (*dst2 == NULL)
            *dst2 = xcalloc(nodes ? nodes : 1, elem2);
        memcpy((char *)*dst2 + first * elem2, payload + k * elem, k * elem2);
    }
    return first + k == nodes;
}

/* Apply one message; fills reply. */
static void relay_server_handle(struct relay_server *sv, const struct links_msg *m,
                                const char *payload, size_t n, struct links_reply *r)
{
    char err[LINKS_ERR_BYTES] = "";
    uint16_t port = 0;
    int rc = -1;
    switch (m->op) {
    case LINKS_OP_INIT: {
        char id[32];
        snprintf(id, sizeof(id), "relay%d", m->from);
        log_setup(id, m->to >= LOG_ERROR && m->to <= LOG_DEBUG ? (enum log_level)m->to : LOG_INFO);
        relay_set_seed(sv->relay, (uint64_t)m->a);
        sv->nodes = (size_t)m->b;
        rc = 0;
        break;
    }
    case LINKS_OP_SOURCES:
        rc = relay_server_chunk(m, sv->nodes, payload, n, sizeof(struct in_addr), 0,
                                (void **)&sv->src, NULL);
        if (rc == 1) {
            relay_set_sources(sv->relay, sv->src, (unsigned)sv->nodes);
            free(sv->src);
            sv->src = NULL;
        }
        rc = rc < 0 ? -1 : 0;
        break;
    case LINKS_OP_TARGET: {
        struct sockaddr_in listen = m->addr[0];
        rc = relay_add_target(sv->relay, m->to, &listen, &m->addr[1], err, sizeof(err));
        port = ntohs(listen.sin_port);
    } break;
    case LINKS_OP_START:
        rc = relay_start(sv->relay, err, sizeof(err));
        break;
    case LINKS_OP_ADD_EDGE:
        rc = relay_add(sv->relay, m->from, m->to, (uint16_t)m->a, &port, err, sizeof(err));
        break;
    case LINKS_OP_ADD_LINK:
        rc = relay_add_link(sv->relay, m->from, m->to, err, sizeof(err));
        break;
    case LINKS_OP_CUT:
        rc = relay_set_cut(sv->relay, m->from, m->to, m->a != 0);
        break;
    case LINKS_OP_SIDES:
        if (m->count == 0) {
            relay_set_sides(sv->relay, NULL, NULL, 0);
            rc = 0;
            break;
        }
        rc = relay_server_chunk(m, sv->nodes, payload, n, sizeof(int32_t), 1, (void **)&sv->side,
                                (void **)&sv->bridge);
        if (rc == 1) {
            relay_set_sides(sv->relay, sv->side, sv->bridge, sv->nodes);
            free(sv->side);
            free(sv->bridge);
            sv->side = NULL;
            sv->bridge = NULL;
        }
        rc = rc < 0 ? -1 : 0;
        break;
    case LINKS_OP_HEAL:
        relay_heal(sv->relay);
        rc = 0;
        break;
    case LINKS_OP_LATENCY:
        rc = relay_set_latency(sv->relay, m->from, m->to, m->a, m->b);
        break;
    case LINKS_OP_LOSS:
        rc = m->a < 0 || m->a > UINT32_MAX
                 ? -1
                 : relay_set_loss(sv->relay, m->from, m->to, (uint32_t)m->a);
        break;
    case LINKS_OP_BANDWIDTH:
        rc = m->a < 0 ? -1 : relay_set_bandwidth(sv->relay, m->from, m->to, (uint64_t)m->a);
        break;
    case LINKS_OP_RESET:
        rc = relay_set_reset(sv->relay, m->from, m->to, m->a != 0);
        break;
    case LINKS_OP_CLEAR:
        rc = relay_clear_faults(sv->relay, m->from, m->to);
        break;
    case LINKS_OP_STATS:
        relay_stats(sv->relay, &r->stats);
        rc = 0;
        break;
    case LINKS_OP_LINK_STATS:
        rc = relay_link_stats(sv->relay, m->from, m->to, &r->stats);
        break;
    default:
        snprintf(err, sizeof(err), "unknown message %u", m->op);
        break;
    }
    r->rc = rc;
    r->port = port;
    snprintf(r->err, sizeof(r->err), "%s", err);
}

int links_relay_main(int fd)
{
    signal(SIGINT, SIG_IGN); /* the sim decides when the links go: it closes the socket */
    signal(SIGPIPE, SIG_IGN);
    close_range(LINKS_RELAY_FD + 1, ~0U, 0);
    char err[256];
    if (limits_raise_nofile(err, sizeof(err)) < 0)
        log_warn("links: %s", err);
    struct relay_server sv = {.relay = relay_new()};
    char *buf = xmalloc(LINKS_MSG_MAX);
    for (;;) {
        ssize_t n = recv(fd, buf, LINKS_MSG_MAX, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the sim closed the socket (or is gone) */
        struct links_reply r;
        memset(&r, 0, sizeof(r));
        if ((size_t)n < sizeof(struct links_msg)) {
            r.rc = -1;
            snprintf(r.err, sizeof(r.err), "a message of %zd bytes", n);
        } else {
            struct links_msg m;
            memcpy(&m, buf, sizeof(m));
            relay_server_handle(&sv, &m, buf + sizeof(m), (size_t)n - sizeof(m), &r);
        }
        if (send(fd, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r))
            break;
    }
    relay_free(sv.relay);
    free(sv.side);
    free(sv.bridge);
    free(sv.src);
    free(buf);
    return 0;
}

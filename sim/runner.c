/* runner: runs one parsed scenario against a real cluster and reports what happened.
 *
 * Design: the runner owns every resource of a run (ports, link layer, node processes, probe) and
 * releases them on every path through one teardown. Steps run in file order on the main thread;
 * the link layer forwards bytes on its own thread. Conditions are evaluated by asking the nodes
 * over HTTP, directly (never through links), in parallel. Every wait (await, sleep, sync) polls
 * with a short period and checks, each time round, for a node that died, Ctrl-C and the
 * scenario's own timeout. */
#include "runner.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "buf.h"
#include "cluster.h"
#include "links.h"
#include "load.h"
#include "ports.h"
#include "probe.h"
#include "rng.h"
#include "topology.h"
#include "xalloc.h"

#define REQUEST_MS 10000 /* bound on one append, peer change or probe */
#define SYNC_MS    60000 /* bound on one POST /sync */
#define LOAD_MS    5000  /* bound on one append of a load */

struct ack {
    char *data; /* owned */
    unsigned node;
    bool acked;       /* answered 2xx */
    double at_s;      /* when it was sent, since the start */
    double latency_s; /* time to the answer */
};

struct edge {
    unsigned from, to;
};

struct run;

/* A `load` step running in the background while the steps after it run. */
struct bg_load {
    struct run *r;
    unsigned line;
    pthread_t thread;
    struct load_spec spec;
    uint16_t *ports;
    unsigned *nodes;
    char prefix[32];
    double start_s; /* since the run's start */
    struct load_stats stats;
};

/* What the sim saw of one node. */
struct snap {
    bool ok; /* answered */
    uint64_t height;
    char tip[BLOCK_HASH_HEX + 1];
    json_t *data; /* GET /blocks only: an object whose keys are the data strings (new ref) */
    char err[120];
};

struct run {
    const struct scenario *sc;
    const struct runner_opts *o;
    char *run_dir;
    FILE *log;
    uint64_t seed;
    struct rng rng;
    struct topology *topo;
    struct links *links; /* NULL with `links direct` */
    struct cluster *cl;
    struct probe *probe;
    uint16_t first_port;
    unsigned n;
    int64_t t0_ms, deadline_ms;
    int *side;      /* partition group of each node */
    bool *bridge;   /* partition bridge nodes (reach every side) */
    uint8_t *cut;   /* n*n: cut[a*n+b] when a -> b is cut */
    uint8_t *wired; /* n*n: wired[a*n+b] when a holds a peer entry for b (re-wired on restart) */
    struct edge *edges; /* links created, in order */
    size_t nedges, capedges;
    pthread_mutex_t ack_lock; /* acks are added by background loads too */
    struct ack *acks;
    size_t nacks, capacks;
    struct bg_load **loads; /* loads started, running or ended */
    size_t nloads;
    volatile sig_atomic_t stop_loads; /* set when the run ends early */
    json_t *steps;                    /* array of step records */
    json_t *awaits;                   /* array of {line, took_s} */
    int code;                         /* RUNNER_* */
    json_t *failure;
    char *error;
    long *ready_rss_kib; /* n: each node's RSS when the cluster was first ready; -1 unknown */
};

/* ---- time and output ---- */

static long grace_ms(const struct run *r)
{
    return r->o->grace_ms > 0 ? r->o->grace_ms : CLUSTER_GRACE_MS;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double elapsed(const struct run *r)
{
    return now_s() - (double)r->t0_ms / 1000.0;
}

static void say(struct run *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct run *r, int level, const char *fmt, ...)
{
    va_list ap;
    if (r->log) {
        va_start(ap, fmt);
        vfprintf(r->log, fmt, ap);
        va_end(ap);
        fflush(r->log);
    }
    if (r->o->verbosity >= level && r->o->out) {
        va_start(ap, fmt);
        vfprintf(r->o->out, fmt, ap);
        va_end(ap);
        fflush(r->o->out);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- failure bookkeeping ---- */

static int fail_step(struct run *r, const struct scenario_step *st, const char *expected,
                     const char *seen)
{
    r->code = RUNNER_FAILED;
    if (r->failure == NULL)
        r->failure = json_pack("{s:s, s:i, s:s, s:s, s:s}", "file", r->sc->path, "line",
                               (int)st->line, "text", st->text, "expected", expected, "seen", seen);
    return -1;
}

static int fail_run(struct run *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_run(struct run *r, int code, const char *fmt, ...)
{
    if (r->code == RUNNER_OK || r->error == NULL) {
        struct buf b = BUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        free(r->error);
        r->error = buf_steal(&b, NULL);
        r->code = code;
    }
    return -1;
}

/* Between two polls: a node that died, Ctrl-C, the scenario timeout. Returns 0 or -1. */
static int check_health(struct run *r, const struct scenario_step *st)
{
    if (r->o->interrupted && *r->o->interrupted)
        return fail_run(r, RUNNER_INTERRUPTED, "interrupted");
    int dead = cluster_reap(r->cl);
    if (dead >= 0) {
        char how[64];
        struct buf tail = BUF_INIT;
        cluster_describe_exit(r->cl, (unsigned)dead, how, sizeof(how));
        cluster_log_excerpt(r->cl, (unsigned)dead, &tail);
        fail_run(r, RUNNER_CLUSTER, "n%d %s during the run; the end of %s:\n%s", dead, how,
                 cluster_node(r->cl, (unsigned)dead)->log_path,
                 tail.data ? tail.data : "(empty)\n");
        buf_free(&tail);
        return -1;
    }
    if (now_ms() > r->deadline_ms) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the scenario to finish within its timeout of %.3fs",
                 (double)r->sc->timeout_ms / 1000.0);
        return fail_step(r, st, msg, "it was still running at this step");
    }
    return 0;
}

/* ---- nodes ---- */

static bool node_running(const struct run *r, unsigned i)
{
    return cluster_node(r->cl, i)->state == NODE_RUNNING;
}

static void running_set(const struct run *r, struct nodeset *out)
{
    nodeset_clear(out);
    for (unsigned i = 0; i < r->n; i++) {
        if (node_running(r, i))
            nodeset_add(out, i);
    }
}

/* s with `all` meaning every node (for links, which exist whether their nodes run or not). */
static void resolve_all(const struct run *r, const struct nodeset *s, struct nodeset *out)
{
    if (s->all)
        nodeset_fill(out, r->n);
    else
        *out = *s;
}

static void resolve(const struct run *r, const struct nodeset *s, struct nodeset *out)
{
    struct nodeset running;
    running_set(r, &running);
    nodeset_resolve(s, &running, out);
}

static void snap_clear(struct snap *s)
{
    json_decref(s->data);
    memset(s, 0, sizeof(*s));
}

/* Ask every node of set for its tip (GET /block), or its whole chain with chains. snaps has r->n
 * entries; only members are filled. */
static void fetch(struct run *r, const struct nodeset *set, bool chains, struct snap *snaps)
{
    struct probe_req *reqs = xcalloc(r->n, sizeof(*reqs));
    size_t k = 0;
    for (int i = nodeset_next(set, -1); i >= 0; i = nodeset_next(set, i)) {
        snap_clear(&snaps[i]);
        if (!node_running(r, (unsigned)i)) {
            snprintf(snaps[i].err, sizeof(snaps[i].err), "not running");
            continue;
        }
        reqs[k++] = (struct probe_req){
            .node = (unsigned)i, .method = "GET", .path = chains ? "/blocks" : "/block"};
    }
    probe_run(r->probe, reqs, k, REQUEST_MS);
    for (size_t j = 0; j < k; j++) {
        struct snap *s = &snaps[reqs[j].node];
        struct probe_reply *rep = &reqs[j].reply;
        json_error_t jerr;
        json_t *doc = NULL;
        if (rep->status != 200) {
            snprintf(s->err, sizeof(s->err), "%s",
                     rep->status ? "answered with an error" : rep->err);
        } else if ((doc = json_loadb(rep->body.data, rep->body.len, 0, &jerr)) == NULL) {
            snprintf(s->err, sizeof(s->err), "answered malformed JSON");
        } else {
            json_t *tip = chains ? json_array_get(doc, json_array_size(doc) - 1) : doc;
            json_t *hash = json_object_get(tip, "hash");
            json_t *index = json_object_get(tip, "index");
            if (!json_is_string(hash) || !json_is_integer(index)) {
                snprintf(s->err, sizeof(s->err), "answered something that is not a block");
            } else {
                s->ok = true;
                s->height = (uint64_t)json_integer_value(index);
                snprintf(s->tip, sizeof(s->tip), "%s", json_string_value(hash));
                if (chains) {
                    s->data = json_object();
                    size_t idx;
                    json_t *b;
                    json_array_foreach(doc, idx, b)
                    {
                        json_t *d = json_object_get(b, "data");
                        if (json_is_string(d))
                            json_object_setn_nocheck(s->data, json_string_value(d),
                                                     json_string_length(d), json_true());
                    }
                }
            }
        }
        json_decref(doc);
        probe_reply_clear(rep);
    }
    free(reqs);
}

static bool snap_has(const struct snap *s, const char *data)
{
    return s->data && json_object_getn(s->data, data, strlen(data)) != NULL;
}

/* Node i's /status (new reference), or NULL when it has none (another implementation). */
static json_t *node_status(struct run *r, unsigned i)
{
    struct probe_reply rep = {0};
    json_t *st = NULL;
    if (node_running(r, i) && probe_one(r->probe, i, "GET", "/status", NULL, 0, REQUEST_MS, &rep) &&
        rep.status == 200)
        st = json_loadb(rep.body.data, rep.body.len, 0, NULL);
    probe_reply_clear(&rep); /* filled even without an answer */
    return json_is_object(st) ? st : (json_decref(st), NULL);
}

/* The table of every node: state, height, tip, and the sync and broadcast counters of its
 * /status where it has one. Appends lines to out and entries to arr (when not NULL). */
static json_t *kib_or_null(long kib)
{
    return kib >= 0 ? json_integer(kib) : json_null();
}

static void node_table(struct run *r, struct buf *out, json_t *arr)
{
    struct nodeset all;
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    nodeset_fill(&all, r->n);
    fetch(r, &all, false, snaps);
    buf_printf(out, "    %-6s %-6s %-8s %-8s %-6s %-6s %-8s %s\n", "node", "port", "state",
               "height", "syncs", "posts", "rss MiB", "tip");
    for (unsigned i = 0; i < r->n; i++) {
        const struct cluster_node *nd = cluster_node(r->cl, i);
        const char *state = cluster_state_name(nd->state);
        json_t *st = arr ? node_status(r, i) : NULL;
        json_t *syncs = json_object_get(st, "syncs");
        json_int_t posts = json_integer_value(json_object_get(st, "posts_sent")) +
                           json_integer_value(json_object_get(st, "posts_failed"));
        char h[24] = "-", sy[24] = "-", po[24] = "-", rs[24] = "-";
        long rss = -1, peak = -1;
        if (cluster_rss(r->cl, i, &rss, &peak) == 0)
            snprintf(rs, sizeof(rs), "%.1f", (double)rss / 1024.0);
        long ready = r->ready_rss_kib ? r->ready_rss_kib[i] : -1;
        if (snaps[i].ok)
            snprintf(h, sizeof(h), "%" PRIu64, snaps[i].height);
        if (st) {
            snprintf(sy, sizeof(sy), "%" JSON_INTEGER_FORMAT, json_integer_value(syncs));
            snprintf(po, sizeof(po), "%" JSON_INTEGER_FORMAT, posts);
        }
        buf_printf(out, "    n%-5u %-6u %-8s %-8s %-6s %-6s %-8s %s\n", i, nd->port, state, h, sy,
                   po, rs, snaps[i].ok ? snaps[i].tip : snaps[i].err);
        if (arr)
            json_array_append_new(
                arr,
                json_pack("{s:o, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "node",
                          json_sprintf("n%u", i), "port", (int)nd->port, "state", state, "height",
                          snaps[i].ok ? json_integer((json_int_t)snaps[i].height) : json_null(),
                          "tip", snaps[i].ok ? json_string(snaps[i].tip) : json_null(), "syncs",
                          st ? json_incref(syncs) : json_null(), "posts",
                          st ? json_integer(posts) : json_null(), "rss_kib", kib_or_null(rss),
                          "peak_rss_kib", kib_or_null(peak), "ready_rss_kib", kib_or_null(ready)));
        json_decref(st);
        snap_clear(&snaps[i]);
    }
    free(snaps);
}

/* ---- conditions ---- */

/* Acknowledged appends among the first `upto` recorded that s's chain lacks. Pass the count taken
 * before s was fetched: an append a running load gets acknowledged later may not be in it yet. */
static int lost_count(struct run *r, const struct snap *s, size_t upto, struct buf *list)
{
    int lost = 0;
    pthread_mutex_lock(&r->ack_lock);
    for (size_t i = 0; i < upto && i < r->nacks; i++) {
        if (r->acks[i].acked && !snap_has(s, r->acks[i].data)) {
            if (list && lost < 5)
                buf_printf(list, "%s\"%.40s\"", lost ? ", " : "", r->acks[i].data);
            lost++;
        }
    }
    pthread_mutex_unlock(&r->ack_lock);
    return lost;
}

/* Evaluate c now. Returns true when it holds; seen describes what was observed. */
static bool eval_cond(struct run *r, const struct scenario_cond *c, struct buf *seen)
{
    struct nodeset set;
    bool holds = true;
    buf_clear(seen);
    if (c->kind == SCENARIO_COND_LOST) {
        int ref = c->node;
        for (unsigned i = 0; ref < 0 && i < r->n; i++) {
            if (node_running(r, i))
                ref = (int)i;
        }
        if (ref < 0) {
            buf_append_str(seen, "no node is running");
            return false;
        }
        nodeset_clear(&set);
        nodeset_add(&set, (unsigned)ref);
        struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
        pthread_mutex_lock(&r->ack_lock);
        size_t known = r->nacks; /* acknowledged before the chain is read */
        pthread_mutex_unlock(&r->ack_lock);
        fetch(r, &set, true, snaps);
        if (!snaps[ref].ok) {
            buf_printf(seen, "n%d %s", ref, snaps[ref].err);
            holds = false;
        } else {
            struct buf list = BUF_INIT;
            int lost = lost_count(r, &snaps[ref], known, &list);
            holds = scenario_cmp_holds(c->op, (uint64_t)lost, c->value);
            buf_printf(seen, "lost %d on n%d", lost, ref);
            if (lost > 0)
                buf_printf(seen, ": %s%s", list.data, lost > 5 ? ", ..." : "");
            buf_free(&list);
        }
        snap_clear(&snaps[ref]);
        free(snaps);
        return holds;
    }
    resolve(r, &c->nodes, &set);
    if (c->kind == SCENARIO_COND_ALIVE || c->kind == SCENARIO_COND_DOWN) {
        /* Process state: here `all` means every node, running or not. */
        bool want = c->kind == SCENARIO_COND_ALIVE;
        struct nodeset which = c->nodes;
        if (which.all)
            nodeset_fill(&which, r->n);
        cluster_reap(r->cl);
        for (int i = nodeset_next(&which, -1); i >= 0; i = nodeset_next(&which, i)) {
            bool up = node_running(r, (unsigned)i);
            buf_printf(seen, "%sn%d %s", seen->len ? ", " : "", i, up ? "alive" : "down");
            if (up != want)
                holds = false;
        }
        return holds;
    }
    bool chains = c->kind == SCENARIO_COND_CONTAINS;
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    fetch(r, &set, chains, snaps);
    switch (c->kind) {
    case SCENARIO_COND_CONVERGED:
    case SCENARIO_COND_DIVERGED: {
        /* Group the nodes by tip. */
        bool same = true;
        int first = nodeset_next(&set, -1);
        for (int i = first; i >= 0; i = nodeset_next(&set, i)) {
            if (!snaps[i].ok || !snaps[first].ok || strcmp(snaps[i].tip, snaps[first].tip) != 0)
                same = false;
        }
        holds = c->kind == SCENARIO_COND_CONVERGED ? same : !same;
        bool *done = xcalloc(r->n, sizeof(bool));
        for (int i = first; i >= 0; i = nodeset_next(&set, i)) {
            if (done[i])
                continue;
            struct nodeset grp;
            nodeset_clear(&grp);
            for (int j = i; j >= 0; j = nodeset_next(&set, j)) {
                bool eq = snaps[i].ok ? snaps[j].ok && strcmp(snaps[i].tip, snaps[j].tip) == 0
                                      : !snaps[j].ok;
                if (!done[j] && eq) {
                    done[j] = true;
                    nodeset_add(&grp, (unsigned)j);
                }
            }
            buf_append_str(seen, seen->len ? "; " : "");
            nodeset_format(&grp, seen);
            if (snaps[i].ok)
                buf_printf(seen, " at height %" PRIu64 " tip %.12s", snaps[i].height, snaps[i].tip);
            else
                buf_printf(seen, " %s", snaps[i].err);
        }
        free(done);
        if (first < 0)
            buf_append_str(seen, "no nodes");
        break;
    }
    case SCENARIO_COND_HEIGHT:
        for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
            if (snaps[i].ok)
                buf_printf(seen, "%sn%d=%" PRIu64, seen->len ? " " : "", i, snaps[i].height);
            else
                buf_printf(seen, "%sn%d %s", seen->len ? " " : "", i, snaps[i].err);
            if (!snaps[i].ok || !scenario_cmp_holds(c->op, snaps[i].height, c->value))
                holds = false;
        }
        break;
    case SCENARIO_COND_CONTAINS: {
        struct nodeset missing;
        nodeset_clear(&missing);
        for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
            if (!snaps[i].ok || !snap_has(&snaps[i], c->data))
                nodeset_add(&missing, (unsigned)i);
        }
        holds = nodeset_count(&missing) == 0;
        if (holds) {
            buf_append_str(seen, "present on ");
            nodeset_format(&set, seen);
        } else {
            buf_append_str(seen, "missing on ");
            nodeset_format(&missing, seen);
        }
        break;
    }
    default:
        break;
    }
    for (unsigned i = 0; i < r->n; i++)
        snap_clear(&snaps[i]);
    free(snaps);
    return holds;
}

/* The condition as text, e.g. "height == 3 on n0-n2" (from the statement after its keyword). */
static const char *cond_text(const struct scenario_step *st)
{
    const char *t = st->text;
    const char *sp = strchr(t, ' ');
    return sp ? sp + 1 : t;
}

/* ---- links and partitions ---- */

static void peer_url(struct run *r, unsigned from, unsigned to, char *out, size_t outsz)
{
    int port =
        r->links ? links_listen_port(r->links, (int)from, (int)to) : cluster_node(r->cl, to)->port;
    snprintf(out, outsz, "http://127.0.0.1:%d", port);
}

static bool blocked(const struct run *r, unsigned a, unsigned b)
{
    if (r->cut[(size_t)a * r->n + b])
        return true;
    return r->side[a] != r->side[b] && !r->bridge[a] && !r->bridge[b];
}

static void apply_blocks(struct run *r)
{
    if (r->links == NULL)
        return;
    for (size_t i = 0; i < r->nedges; i++) {
        struct edge e = r->edges[i];
        links_set_blocked(r->links, (int)e.from, (int)e.to, blocked(r, e.from, e.to));
    }
}

/* Make sure link from -> to exists (with the link layer). Returns 0 or -1 (run failed). */
static int ensure_link(struct run *r, unsigned from, unsigned to)
{
    if (r->links == NULL || links_listen_port(r->links, (int)from, (int)to) >= 0)
        return 0;
    char err[200];
    uint16_t port;
    if (links_add(r->links, (int)from, (int)to, cluster_node(r->cl, to)->port, &port, err,
                  sizeof(err)) < 0)
        return fail_run(r, RUNNER_CLUSTER, "link n%u -> n%u: %s", from, to, err);
    if (r->nedges == r->capedges) {
        r->capedges = r->capedges ? r->capedges * 2 : 64;
        r->edges = xrealloc(r->edges, r->capedges * sizeof(*r->edges));
    }
    r->edges[r->nedges++] = (struct edge){from, to};
    links_set_blocked(r->links, (int)from, (int)to, blocked(r, from, to));
    return 0;
}

static void describe_sides(struct run *r, struct buf *out)
{
    int max = -1;
    for (unsigned i = 0; i < r->n; i++)
        max = r->side[i] > max && !r->bridge[i] ? r->side[i] : max;
    for (int g = 0; g <= max; g++) {
        struct nodeset s;
        nodeset_clear(&s);
        for (unsigned i = 0; i < r->n; i++) {
            if (r->side[i] == g && !r->bridge[i])
                nodeset_add(&s, i);
        }
        if (nodeset_count(&s) == 0)
            continue;
        buf_append_str(out, out->len ? " | " : "");
        nodeset_format(&s, out);
    }
    for (unsigned i = 0; i < r->n; i++) {
        if (r->bridge[i])
            buf_printf(out, " (bridge n%u)", i);
    }
}

static void partition(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    unsigned n = r->n;
    int *order = xcalloc(n, sizeof(int));
    for (unsigned i = 0; i < n; i++) {
        order[i] = (int)i;
        r->side[i] = 0;
        r->bridge[i] = false;
    }
    switch (st->partition.kind) {
    case SCENARIO_PARTITION_GROUPS:
        for (unsigned i = 0; i < n; i++)
            r->side[i] = (int)st->partition.n_groups; /* the unnamed rest */
        for (size_t g = 0; g < st->partition.n_groups; g++) {
            const struct nodeset *s = &st->partition.groups[g];
            for (int i = nodeset_next(s, -1); i >= 0; i = nodeset_next(s, i))
                r->side[i] = (int)g;
        }
        break;
    case SCENARIO_PARTITION_HALVES:
        for (unsigned i = 0; i < n; i++)
            r->side[i] = i < n / 2 ? 0 : 1;
        break;
    case SCENARIO_PARTITION_RANDOM_HALVES:
    case SCENARIO_PARTITION_MAJORITY: {
        unsigned first = st->partition.kind == SCENARIO_PARTITION_MAJORITY ? n / 2 + 1 : n / 2;
        rng_shuffle(&r->rng, order, n);
        for (unsigned k = 0; k < n; k++)
            r->side[order[k]] = k < first ? 0 : 1;
        break;
    }
    case SCENARIO_PARTITION_BRIDGE: {
        unsigned half = (n - 1) / 2;
        rng_shuffle(&r->rng, order, n);
        for (unsigned k = 0; k < n; k++)
            r->side[order[k]] = k < half ? 0 : 1;
        r->bridge[order[half]] = true;
        break;
    }
    }
    free(order);
    apply_blocks(r);
    describe_sides(r, detail);
}

/* ---- steps ---- */

static void record_ack(struct run *r, unsigned node, const char *data, bool acked, double at,
                       double latency)
{
    pthread_mutex_lock(&r->ack_lock);
    if (r->nacks == r->capacks) {
        r->capacks = r->capacks ? r->capacks * 2 : 256;
        r->acks = xrealloc(r->acks, r->capacks * sizeof(*r->acks));
    }
    r->acks[r->nacks++] = (struct ack){
        .data = xstrdup(data), .node = node, .acked = acked, .at_s = at, .latency_s = latency};
    pthread_mutex_unlock(&r->ack_lock);
}

static void load_ack_cb(void *arg, unsigned node, const char *data, bool acked, double due_s,
                        double latency_s)
{
    struct bg_load *l = arg;
    record_ack(l->r, node, data, acked, l->start_s + due_s, latency_s);
}

static void *load_thread(void *arg)
{
    struct bg_load *l = arg;
    load_run(&l->spec, load_ack_cb, l, &l->stats);
    return NULL;
}

/* load RATE/s for DURATION [on NODES]: starts in the background; the next steps run meanwhile. */
static int step_load(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset set;
    resolve(r, &st->load.nodes, &set);
    unsigned count = nodeset_count(&set);
    if (count == 0) {
        buf_append_str(detail, "no running node to load");
        return 0;
    }
    struct bg_load *l = xcalloc(1, sizeof(*l));
    l->r = r;
    l->line = st->line;
    l->ports = xcalloc(count, sizeof(uint16_t));
    l->nodes = xcalloc(count, sizeof(unsigned));
    size_t k = 0;
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i), k++) {
        l->nodes[k] = (unsigned)i;
        l->ports[k] = cluster_node(r->cl, (unsigned)i)->port;
    }
    snprintf(l->prefix, sizeof(l->prefix), "load-L%u", st->line);
    l->spec = (struct load_spec){.ports = l->ports,
                                 .nodes = l->nodes,
                                 .ntargets = count,
                                 .per_s = (double)st->load.per_s,
                                 .duration_ms = st->load.duration_ms,
                                 .timeout_ms = r->o->request_ms > 0 ? r->o->request_ms : LOAD_MS,
                                 .prefix = l->prefix,
                                 .cancel = &r->stop_loads};
    l->start_s = elapsed(r);
    if (pthread_create(&l->thread, NULL, load_thread, l) != 0) {
        free(l->ports);
        free(l->nodes);
        free(l);
        return fail_run(r, RUNNER_CLUSTER, "cannot start a load thread");
    }
    r->loads = xrealloc(r->loads, (r->nloads + 1) * sizeof(*r->loads));
    r->loads[r->nloads++] = l;
    buf_printf(detail, "started: %" PRIu64 "/s for %.3fs over %u nodes, in the background",
               st->load.per_s, (double)st->load.duration_ms / 1000.0, count);
    return 0;
}

/* Wait for every load to end; report each. Returns their records (new reference). */
static json_t *join_loads(struct run *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->nloads; i++) {
        struct bg_load *l = r->loads[i];
        pthread_join(l->thread, NULL);
        say(r, 0,
            "%8.3fs  L%-4u load ended: %" PRIu64 " sent, %" PRIu64 " acknowledged, %" PRIu64
            " failed, at most %.3fs behind schedule\n",
            elapsed(r), l->line, l->stats.sent, l->stats.acked, l->stats.failed, l->stats.behind_s);
        json_array_append_new(
            arr, json_pack("{s:i, s:I, s:I, s:I, s:f}", "line", (int)l->line, "sent",
                           (json_int_t)l->stats.sent, "acked", (json_int_t)l->stats.acked, "failed",
                           (json_int_t)l->stats.failed, "behind_s", l->stats.behind_s));
        free(l->ports);
        free(l->nodes);
        free(l);
    }
    free(r->loads);
    r->loads = NULL;
    r->nloads = 0;
    return arr;
}

/* POST /append data on node; records the outcome. Returns true when acknowledged. */
static bool do_append(struct run *r, unsigned node, const char *data, struct buf *detail)
{
    struct probe_reply rep = {0};
    double at = elapsed(r);
    bool ok = node_running(r, node) &&
              probe_one(r->probe, node, "POST", "/append", data, strlen(data), REQUEST_MS, &rep);
    bool acked = ok && rep.status >= 200 && rep.status < 300;
    record_ack(r, node, data, acked, at, ok ? rep.secs : 0);
    if (detail) {
        uint64_t h;
        bool asked;
        if (acked && probe_height_after(r->probe, node, &rep, REQUEST_MS, &h, &asked) == 0) {
            buf_printf(detail, "acknowledged at height %" PRIu64 "%s in %.1fms", h,
                       asked ? " (from GET /block)" : "", rep.secs * 1000);
        } else if (acked) {
            buf_printf(detail, "acknowledged in %.1fms (height unknown)", rep.secs * 1000);
        } else if (ok) {
            buf_printf(detail, "not acknowledged: HTTP %ld %.*s", rep.status,
                       (int)(rep.body.len > 120 ? 120 : rep.body.len), rep.body.data);
        } else {
            buf_printf(detail, "not acknowledged: %s",
                       node_running(r, node) ? rep.err : "node not running");
        }
    }
    probe_reply_clear(&rep); /* filled even without an answer */
    return acked;
}

static int step_append(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    unsigned node = st->append.node;
    if (st->append.data) {
        do_append(r, node, st->append.data, detail);
        return 0;
    }
    uint64_t acked = 0;
    for (uint64_t i = 0; i < st->append.count; i++) {
        char data[64];
        snprintf(data, sizeof(data), "n%u-L%u-%" PRIu64, node, st->line, i + 1);
        acked += do_append(r, node, data, NULL);
        if ((i & 63) == 63 && check_health(r, st) < 0)
            return -1;
    }
    buf_printf(detail, "%" PRIu64 " of %" PRIu64 " acknowledged", acked, st->append.count);
    return 0;
}

static int step_sync(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset set;
    resolve(r, &st->nodes, &set);
    struct probe_req *reqs = xcalloc(r->n, sizeof(*reqs));
    size_t k = 0;
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i))
        reqs[k++] = (struct probe_req){.node = (unsigned)i, .method = "POST", .path = "/sync"};
    probe_run(r->probe, reqs, k, SYNC_MS);
    int rc = 0;
    for (size_t j = 0; j < k; j++) {
        struct probe_reply *rep = &reqs[j].reply;
        json_t *doc =
            probe_reply_ok(rep) ? json_loadb(rep->body.data, rep->body.len, 0, NULL) : NULL;
        json_t *replaced = json_object_get(doc, "replaced");
        uint64_t h;
        bool asked;
        if (probe_reply_ok(rep)) {
            buf_printf(detail, "%sn%u %s", detail->len ? ", " : "", reqs[j].node,
                       !json_is_boolean(replaced) ? "synced, height"
                       : json_is_true(replaced)   ? "replaced"
                                                  : "kept");
            if (probe_height_after(r->probe, reqs[j].node, rep, REQUEST_MS, &h, &asked) == 0)
                buf_printf(detail, " %" PRIu64, h);
            else
                buf_append_str(detail, " unknown");
        } else {
            char seen[200];
            snprintf(seen, sizeof(seen), "n%u answered %s", reqs[j].node,
                     rep->status ? "an error" : rep->err);
            rc = fail_step(r, st, "POST /sync to answer 200", seen);
        }
        json_decref(doc);
        probe_reply_clear(rep);
    }
    free(reqs);
    return rc;
}

static int step_peer(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    unsigned a = st->peer.from, b = st->peer.to;
    bool add = st->kind == SCENARIO_STEP_PEER_ADD;
    if (add && ensure_link(r, a, b) < 0)
        return -1;
    char url[64];
    if (r->links && links_listen_port(r->links, (int)a, (int)b) < 0)
        snprintf(url, sizeof(url), "http://127.0.0.1:0"); /* never linked: the node says 404 */
    else
        peer_url(r, a, b, url, sizeof(url));
    struct probe_reply rep = {0};
    bool ok = probe_one(r->probe, a, add ? "POST" : "DELETE", "/peers", url, strlen(url),
                        REQUEST_MS, &rep);
    int rc = 0;
    if (ok && probe_reply_ok(&rep)) {
        r->wired[(size_t)a * r->n + b] = add;
        buf_printf(detail, "n%u %s %s", a, add ? "now reaches" : "no longer has", url);
    } else {
        char seen[300];
        snprintf(seen, sizeof(seen), "HTTP %ld %.200s", rep.status, ok ? rep.body.data : rep.err);
        rc = fail_step(r, st, add ? "POST /peers to answer 200" : "DELETE /peers to answer 200",
                       seen);
    }
    probe_reply_clear(&rep); /* filled even without an answer */
    return rc;
}

static void step_cut(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset from, to;
    resolve(r, &st->cut.from, &from);
    resolve(r, &st->cut.to, &to);
    unsigned count = 0;
    for (int a = nodeset_next(&from, -1); a >= 0; a = nodeset_next(&from, a)) {
        for (int b = nodeset_next(&to, -1); b >= 0; b = nodeset_next(&to, b)) {
            if (a == b)
                continue;
            r->cut[(size_t)a * r->n + (size_t)b] = 1;
            count++;
            if (!st->cut.one_way) {
                r->cut[(size_t)b * r->n + (size_t)a] = 1;
                count++;
            }
        }
    }
    apply_blocks(r);
    buf_printf(detail, "%u directions cut", count);
}

static void step_heal(struct run *r, struct buf *detail)
{
    memset(r->cut, 0, (size_t)r->n * r->n);
    for (unsigned i = 0; i < r->n; i++) {
        r->side[i] = 0;
        r->bridge[i] = false;
    }
    if (r->links)
        links_heal(r->links);
    buf_append_str(detail, "every link released");
}

static int step_wait(struct run *r, const struct scenario_step *st, int64_t ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        if (check_health(r, st) < 0)
            return -1;
        int64_t left = end - now_ms();
        sleep_ms(left > 20 ? 20 : (left > 0 ? (long)left : 0));
    }
    return 0;
}

static int step_await(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct buf seen = BUF_INIT;
    double start = now_s();
    int64_t deadline = now_ms() + st->await.within_ms;
    int rc = 0;
    unsigned polls = 0;
    for (;;) {
        polls++;
        if (eval_cond(r, &st->await.cond, &seen)) {
            double took = now_s() - start;
            buf_printf(detail, "held after %.3fs (%u polls): %s", took, polls, seen.data);
            json_array_append_new(r->awaits, json_pack("{s:i, s:s, s:f}", "line", (int)st->line,
                                                       "text", st->text, "took_s", took));
            break;
        }
        if (now_ms() > deadline) {
            char expected[400];
            snprintf(expected, sizeof(expected), "%s", cond_text(st)); /* "... within D" */
            rc = fail_step(r, st, expected, seen.data ? seen.data : "");
            break;
        }
        if (check_health(r, st) < 0) {
            rc = -1;
            break;
        }
        sleep_ms(RUNNER_POLL_MS);
    }
    buf_free(&seen);
    return rc;
}

static int step_expect(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct buf seen = BUF_INIT;
    int rc = 0;
    if (eval_cond(r, &st->expect, &seen))
        buf_printf(detail, "held: %s", seen.data);
    else
        rc = fail_step(r, st, cond_text(st), seen.data ? seen.data : "");
    buf_free(&seen);
    return rc;
}

/* True when link from -> to is one of those that l names. */
static bool links_match(const struct run *r, const struct scenario_links *l, unsigned from,
                        unsigned to)
{
    struct nodeset a, b;
    resolve_all(r, &l->a, &a);
    resolve_all(r, &l->b, &b);
    switch (l->kind) {
    case SCENARIO_LINKS_ALL:
        return true;
    case SCENARIO_LINKS_TOUCHING:
        return nodeset_has(&a, from) || nodeset_has(&a, to);
    case SCENARIO_LINKS_ONE_WAY:
        return nodeset_has(&a, from) && nodeset_has(&b, to);
    case SCENARIO_LINKS_BOTH_WAYS:
        return (nodeset_has(&a, from) && nodeset_has(&b, to)) ||
               (nodeset_has(&b, from) && nodeset_has(&a, to));
    }
    return false;
}

/* latency, loss, bandwidth, reset, clear: set on every link the statement names. */
static int step_link_fault(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    const struct scenario_links *l = st->kind == SCENARIO_STEP_LATENCY     ? &st->latency.links
                                     : st->kind == SCENARIO_STEP_LOSS      ? &st->loss.links
                                     : st->kind == SCENARIO_STEP_BANDWIDTH ? &st->bandwidth.links
                                                                           : &st->links;
    unsigned count = 0;
    for (size_t i = 0; i < r->nedges; i++) {
        unsigned a = r->edges[i].from, b = r->edges[i].to;
        if (!links_match(r, l, a, b))
            continue;
        int rc = 0;
        switch (st->kind) {
        case SCENARIO_STEP_LATENCY:
            rc = links_set_latency(r->links, (int)a, (int)b, st->latency.delay_ms,
                                   st->latency.jitter_ms);
            break;
        case SCENARIO_STEP_LOSS:
            rc = links_set_loss(r->links, (int)a, (int)b, st->loss.per_million);
            break;
        case SCENARIO_STEP_BANDWIDTH:
            rc = links_set_bandwidth(r->links, (int)a, (int)b, st->bandwidth.bytes_per_s);
            break;
        case SCENARIO_STEP_RESET:
            rc = links_set_reset(r->links, (int)a, (int)b, true);
            break;
        default:
            rc = links_clear_faults(r->links, (int)a, (int)b);
            break;
        }
        if (rc < 0)
            return fail_run(r, RUNNER_BAD, "%s:%u:%u: the link layer refused '%s' on n%u -> n%u",
                            r->sc->path, st->line, st->col, st->text, a, b);
        count++;
    }
    buf_printf(detail, "%u links", count);
    return 0;
}

/* POST /peers on node i for every peer it is wired to (after a restart). */
static int rewire(struct run *r, unsigned i, struct buf *detail)
{
    unsigned count = 0;
    for (unsigned b = 0; b < r->n; b++) {
        if (!r->wired[(size_t)i * r->n + b])
            continue;
        char url[64];
        struct probe_reply rep = {0};
        peer_url(r, i, b, url, sizeof(url));
        bool ok = probe_one(r->probe, i, "POST", "/peers", url, strlen(url), REQUEST_MS, &rep);
        long status = ok ? rep.status : 0;
        bool done = ok && probe_reply_ok(&rep);
        probe_reply_clear(&rep); /* filled even without an answer */
        if (!done)
            return fail_run(r, RUNNER_CLUSTER, "restarted n%u refused peer %s (HTTP %ld)", i, url,
                            status);
        count++;
    }
    buf_printf(detail, "%sn%u back with %u peers", detail->len ? ", " : "", i, count);
    return 0;
}

/* kill, stop, restart, pause, resume. `all` means every node here (a restart of all restarts
 * the running ones too). */
static int step_node_fault(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset set = st->nodes;
    char err[4096];
    if (set.all)
        nodeset_fill(&set, r->n);
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
        unsigned u = (unsigned)i;
        enum node_state before = cluster_node(r->cl, u)->state;
        const char *what = NULL;
        switch (st->kind) {
        case SCENARIO_STEP_KILL:
            what = cluster_kill(r->cl, u) == 0 ? "killed" : "was not running";
            break;
        case SCENARIO_STEP_STOP: {
            int rc = cluster_stop(r->cl, u, grace_ms(r));
            what = rc == 0  ? "stopped"
                   : rc > 0 ? "killed after the grace period"
                            : "was not running";
            break;
        }
        case SCENARIO_STEP_PAUSE:
            what = cluster_pause(r->cl, u) == 0 ? "paused" : "was not running";
            break;
        case SCENARIO_STEP_RESUME:
            what = cluster_resume(r->cl, u) == 0 ? "resumed" : "was not paused";
            break;
        case SCENARIO_STEP_RESTART:
            if (before == NODE_RUNNING || before == NODE_PAUSED)
                cluster_stop(r->cl, u, grace_ms(r));
            if (cluster_start(r->cl, u, err, sizeof(err)) < 0)
                return fail_run(r, RUNNER_CLUSTER, "restart n%u: %s", u, err);
            if (cluster_wait_ready(r->cl, r->probe, CLUSTER_READY_MS, err, sizeof(err)) < 0)
                return fail_run(r, RUNNER_CLUSTER, "%s", err);
            if (rewire(r, u, detail) < 0)
                return -1;
            continue;
        default:
            break;
        }
        buf_printf(detail, "%sn%u %s", detail->len ? ", " : "", u, what);
    }
    return 0;
}

static int run_step(struct run *r, const struct scenario_step *st)
{
    struct buf detail = BUF_INIT;
    double start = elapsed(r);
    int rc = 0;
    if (check_health(r, st) < 0)
        return -1;
    say(r, 1, "%8.3fs  L%-4u %s\n", start, st->line, st->text);
    switch (st->kind) {
    case SCENARIO_STEP_APPEND:
        rc = step_append(r, st, &detail);
        break;
    case SCENARIO_STEP_SYNC:
        rc = step_sync(r, st, &detail);
        break;
    case SCENARIO_STEP_PEER_ADD:
    case SCENARIO_STEP_PEER_REMOVE:
        rc = step_peer(r, st, &detail);
        break;
    case SCENARIO_STEP_PARTITION:
        partition(r, st, &detail);
        break;
    case SCENARIO_STEP_CUT:
        step_cut(r, st, &detail);
        break;
    case SCENARIO_STEP_HEAL:
        step_heal(r, &detail);
        break;
    case SCENARIO_STEP_SLEEP:
        rc = step_wait(r, st, st->sleep_ms);
        break;
    case SCENARIO_STEP_AWAIT:
        rc = step_await(r, st, &detail);
        break;
    case SCENARIO_STEP_EXPECT:
        rc = step_expect(r, st, &detail);
        break;
    case SCENARIO_STEP_LOG:
        break; /* the statement line is the output */
    case SCENARIO_STEP_LOAD:
        rc = step_load(r, st, &detail);
        break;
    case SCENARIO_STEP_LATENCY:
    case SCENARIO_STEP_LOSS:
    case SCENARIO_STEP_BANDWIDTH:
    case SCENARIO_STEP_RESET:
    case SCENARIO_STEP_CLEAR:
        rc = step_link_fault(r, st, &detail);
        break;
    case SCENARIO_STEP_KILL:
    case SCENARIO_STEP_STOP:
    case SCENARIO_STEP_RESTART:
    case SCENARIO_STEP_PAUSE:
    case SCENARIO_STEP_RESUME:
        rc = step_node_fault(r, st, &detail);
        break;
    default:
        /* Refused before the cluster started (runner_supported_kinds). */
        rc = fail_run(r, RUNNER_BAD, "%s:%u:%u: '%s' is not supported", r->sc->path, st->line,
                      st->col, scenario_step_kind_name(st->kind));
        break;
    }
    double took = elapsed(r) - start;
    json_array_append_new(r->steps,
                          json_pack("{s:i, s:s, s:s, s:f, s:f, s:b, s:s}", "line", (int)st->line,
                                    "kind", scenario_step_kind_name(st->kind), "text", st->text,
                                    "start_s", start, "took_s", took, "ok", rc == 0, "detail",
                                    detail.data ? detail.data : ""));
    if (rc == 0) {
        say(r, 0, "%8.3fs  L%-4u %-44s %s\n", start, st->line, st->text,
            detail.data ? detail.data : (st->kind == SCENARIO_STEP_LOG ? "" : "ok"));
    }
    buf_free(&detail);
    return rc;
}

/* ---- set-up ---- */

static enum topology_kind topology_kind_of(enum scenario_topology t)
{
    switch (t) {
    case SCENARIO_TOPOLOGY_LINE:
        return TOPOLOGY_LINE;
    case SCENARIO_TOPOLOGY_RING:
        return TOPOLOGY_RING;
    case SCENARIO_TOPOLOGY_STAR:
        return TOPOLOGY_STAR;
    case SCENARIO_TOPOLOGY_MESH:
        return TOPOLOGY_MESH;
    case SCENARIO_TOPOLOGY_TREE:
        return TOPOLOGY_TREE;
    case SCENARIO_TOPOLOGY_GRID:
        return TOPOLOGY_GRID;
    case SCENARIO_TOPOLOGY_RANDOM:
        return TOPOLOGY_RANDOM;
    case SCENARIO_TOPOLOGY_NONE:
    default:
        return TOPOLOGY_NONE;
    }
}

static int build_topology(struct run *r)
{
    const struct scenario *sc = r->sc;
    char err[200];
    if (topology_new((int)r->n, &r->topo, err, sizeof(err)) < 0 ||
        topology_generate(r->topo, topology_kind_of(sc->topology), sc->topology_arg, &r->rng, err,
                          sizeof(err)) < 0)
        return fail_run(r, RUNNER_BAD, "%s: topology: %s", sc->path, err);
    for (size_t i = 0; i < sc->n_edges; i++) {
        const struct scenario_edge_op *op = &sc->edges[i];
        struct nodeset from, to;
        nodeset_fill(&from, r->n);
        nodeset_fill(&to, r->n);
        if (!op->from.all)
            from = op->from;
        if (!op->to.all)
            to = op->to;
        for (int a = nodeset_next(&from, -1); a >= 0; a = nodeset_next(&from, a)) {
            for (int b = nodeset_next(&to, -1); b >= 0; b = nodeset_next(&to, b)) {
                if (a == b)
                    continue;
                if (op->remove)
                    topology_unlink(r->topo, a, b, !op->one_way, err, sizeof(err));
                else
                    topology_link(r->topo, a, b, !op->one_way, err, sizeof(err));
            }
        }
    }
    return 0;
}

/* POST /peers for every edge of the topology. */
static int wire(struct run *r)
{
    size_t ne = topology_edge_count(r->topo), k = 0;
    struct probe_req *reqs = xcalloc(ne ? ne : 1, sizeof(*reqs));
    char(*urls)[64] = xcalloc(ne ? ne : 1, sizeof(*urls));
    struct topology_edge e = TOPOLOGY_EDGE_START;
    int rc = 0;
    while (topology_next_edge(r->topo, &e)) {
        if (ensure_link(r, (unsigned)e.from, (unsigned)e.to) < 0) {
            rc = -1;
            goto out;
        }
        r->wired[(size_t)e.from * r->n + (size_t)e.to] = 1;
        peer_url(r, (unsigned)e.from, (unsigned)e.to, urls[k], sizeof(urls[k]));
        reqs[k] = (struct probe_req){.node = (unsigned)e.from,
                                     .method = "POST",
                                     .path = "/peers",
                                     .body = urls[k],
                                     .len = strlen(urls[k])};
        k++;
    }
    probe_run(r->probe, reqs, k, REQUEST_MS);
    for (size_t j = 0; j < k; j++) {
        if (!probe_reply_ok(&reqs[j].reply) && rc == 0)
            rc = fail_run(r, RUNNER_CLUSTER, "n%u refused peer %s: HTTP %ld %.200s", reqs[j].node,
                          urls[j], reqs[j].reply.status,
                          reqs[j].reply.status ? reqs[j].reply.body.data : reqs[j].reply.err);
        probe_reply_clear(&reqs[j].reply);
    }
out:
    free(reqs);
    free(urls);
    return rc;
}

static const char *base_name(const char *path, char *out, size_t outsz)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, outsz, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && strcmp(dot, ".scn") == 0)
        *dot = '\0';
    return out;
}

static int make_dirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

static int setup(struct run *r)
{
    const struct scenario *sc = r->sc;
    char err[4096], name[256];
    base_name(sc->path, name, sizeof(name));
    if (r->o->run_dir) {
        r->run_dir = xstrdup(r->o->run_dir);
    } else {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        r->run_dir = xasprintf("%s/%s-%s-%ld", r->o->runs_root ? r->o->runs_root : "runs", name,
                               stamp, (long)getpid());
    }
    if (make_dirs(r->run_dir) < 0)
        return fail_run(r, RUNNER_CLUSTER, "cannot make the run folder %s: %s", r->run_dir,
                        strerror(errno));
    char *logpath = xasprintf("%s/sim.log", r->run_dir);
    r->log = fopen(logpath, "w");
    free(logpath);

    if (build_topology(r) < 0)
        return -1;
    /* Without --base-port, start the search at a place of our own, so that sims started
     * together rarely look at the same ports (and never take the same: ports are held). */
    uint16_t low, high, base = r->o->base_port;
    ports_search_range(&low, &high);
    if (!r->o->base_port_fixed && base == 0)
        base = (uint16_t)(low + ((unsigned)getpid() * 7919u) % ((unsigned)high - low + 1));
    int *held = xcalloc(r->n, sizeof(int));
    if (ports_reserve(r->n, base, r->o->base_port_fixed, &r->first_port, held, err, sizeof(err)) <
        0) {
        free(held);
        return fail_run(r, RUNNER_CLUSTER, "%s", err);
    }
    struct cluster_spec spec = {.n = r->n,
                                .first_port = r->first_port,
                                .run_dir = r->run_dir,
                                .node_bin = r->o->node_bin,
                                .node_cmd = r->o->node_cmd,
                                .node_cmds = sc->node_cmds,
                                .node_args = sc->node_args,
                                .grace_ms = r->o->grace_ms,
                                .held_ports = held};
    r->cl = cluster_new(&spec, err, sizeof(err));
    free(held);
    if (r->cl == NULL)
        return fail_run(r, RUNNER_CLUSTER, "%s", err);
    uint16_t *ports = xcalloc(r->n, sizeof(uint16_t));
    for (unsigned i = 0; i < r->n; i++)
        ports[i] = cluster_node(r->cl, i)->port;
    r->probe = probe_new(ports, r->n);
    probe_set_cancel(r->probe, r->o->interrupted);
    probe_set_timeout(r->probe, r->o->request_ms);
    free(ports);
    if (!sc->links_direct) {
        if (links_raise_fd_limit(err, sizeof(err)) < 0)
            say(r, 1, "warning: %s\n", err);
        r->links = links_new();
        links_set_seed(r->links, r->seed);
        if (links_start(r->links, err, sizeof(err)) < 0)
            return fail_run(r, RUNNER_CLUSTER, "link layer: %s", err);
    }
    say(r, 0, "%s: %u nodes on ports %u-%u, topology %s, seed %" PRIu64 ", %s, logs in %s\n",
        sc->path, r->n, r->first_port, r->first_port + r->n - 1,
        scenario_topology_name(sc->topology), r->seed,
        sc->links_direct ? "links direct" : "through links", r->run_dir);
    for (unsigned i = 0; i < r->n; i++) {
        if (cluster_start(r->cl, i, err, sizeof(err)) < 0)
            return fail_run(r, RUNNER_CLUSTER, "n%u: %s", i, err);
    }
    if (cluster_wait_ready(r->cl, r->probe, CLUSTER_READY_MS, err, sizeof(err)) < 0)
        return fail_run(r, RUNNER_CLUSTER, "%s", err);
    if (wire(r) < 0)
        return -1;
    r->ready_rss_kib = xcalloc(r->n, sizeof(long));
    for (unsigned i = 0; i < r->n; i++) {
        long peak;
        if (cluster_rss(r->cl, i, &r->ready_rss_kib[i], &peak) < 0)
            r->ready_rss_kib[i] = -1;
    }
    say(r, 0, "%8.3fs  ready: %u nodes up, %zu edges wired\n", elapsed(r), r->n,
        topology_edge_count(r->topo));
    return 0;
}

/* ---- the report ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *appends_report(struct run *r)
{
    size_t acked = 0, k = 0;
    double *lat = xcalloc(r->nacks ? r->nacks : 1, sizeof(double));
    for (size_t i = 0; i < r->nacks; i++) {
        if (r->acks[i].acked) {
            acked++;
            lat[k++] = r->acks[i].latency_s * 1000.0;
        }
    }
    qsort(lat, k, sizeof(double), cmp_double);
/* Nearest rank: the smallest value with at least p of the samples at or below it. */
#define PCT(p) (k ? lat[(size_t)ceil((double)k * (p)) - 1] : 0.0)
    json_t *latency = json_pack("{s:f, s:f, s:f, s:f}", "p50", PCT(0.50), "p95", PCT(0.95), "p99",
                                PCT(0.99), "max", k ? lat[k - 1] : 0.0);
#undef PCT
    free(lat);

    json_t *lost = json_array();
    int ref = -1;
    for (unsigned i = 0; ref < 0 && r->cl && i < r->n; i++) {
        if (node_running(r, i))
            ref = (int)i;
    }
    if (ref >= 0 && r->nacks > 0) {
        struct nodeset set;
        struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
        nodeset_clear(&set);
        nodeset_add(&set, (unsigned)ref);
        fetch(r, &set, true, snaps);
        for (size_t i = 0; snaps[ref].ok && i < r->nacks; i++) {
            if (r->acks[i].acked && !snap_has(&snaps[ref], r->acks[i].data))
                json_array_append_new(lost, json_string(r->acks[i].data));
        }
        snap_clear(&snaps[ref]);
        free(snaps);
    }
    return json_pack("{s:i, s:i, s:i, s:o, s:o, s:o}", "sent", (int)r->nacks, "acked", (int)acked,
                     "failed", (int)(r->nacks - acked), "latency_ms", latency, "lost_on",
                     ref >= 0 ? json_sprintf("n%d", ref) : json_null(), "lost", lost);
}

static json_t *links_report(struct run *r, size_t acked)
{
    if (r->links == NULL)
        return json_null();
    struct links_stats st;
    links_stats(r->links, &st);
    return json_pack("{s:i, s:I, s:I, s:I, s:I, s:f}", "links", (int)links_count(r->links),
                     "connections", (json_int_t)st.accepted, "messages", (json_int_t)st.messages,
                     "bytes_to_target", (json_int_t)st.bytes_to_target, "bytes_to_source",
                     (json_int_t)st.bytes_to_source, "messages_per_append",
                     acked ? (double)st.messages / (double)acked : 0.0);
}

/* What the nodes say they sent (from /status): POST /block requests and syncs, in total and per
 * acknowledged append (Maelstrom's msgs-per-op). */
static json_t *gossip_report(json_t *final, size_t acked)
{
    json_int_t posts = 0, syncs = 0;
    bool any = false;
    size_t i;
    json_t *e;
    json_array_foreach(final, i, e)
    {
        if (json_is_integer(json_object_get(e, "posts"))) {
            any = true;
            posts += json_integer_value(json_object_get(e, "posts"));
            syncs += json_integer_value(json_object_get(e, "syncs"));
        }
    }
    if (!any)
        return json_null();
    return json_pack("{s:I, s:I, s:f}", "posts", posts, "syncs", syncs, "posts_per_append",
                     acked ? (double)posts / (double)acked : 0.0);
}

/* The measurements of a run as text: appends and their latency, lost appends, messages. */
static void print_measures(struct run *r, json_t *appends, json_t *gossip, json_t *linkrep,
                           int level)
{
    if (appends == NULL)
        return;
    json_t *lat = json_object_get(appends, "latency_ms");
    json_t *lost = json_object_get(appends, "lost");
    say(r, level,
        "  appends: %" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT
        " acknowledged, %" JSON_INTEGER_FORMAT " failed; latency p50 %.1fms p95 %.1fms p99 "
        "%.1fms max %.1fms\n",
        json_integer_value(json_object_get(appends, "sent")),
        json_integer_value(json_object_get(appends, "acked")),
        json_integer_value(json_object_get(appends, "failed")),
        json_real_value(json_object_get(lat, "p50")), json_real_value(json_object_get(lat, "p95")),
        json_real_value(json_object_get(lat, "p99")), json_real_value(json_object_get(lat, "max")));
    if (json_array_size(lost) > 0) {
        struct buf list = BUF_INIT;
        size_t i;
        json_t *d;
        json_array_foreach(lost, i, d)
        {
            if (i == 8) {
                buf_printf(&list, ", ... (%zu more)", json_array_size(lost) - i);
                break;
            }
            buf_printf(&list, "%s\"%.40s\"", i ? ", " : "", json_string_value(d));
        }
        say(r, level, "  lost on %s: %zu: %s\n",
            json_string_value(json_object_get(appends, "lost_on")), json_array_size(lost),
            list.data);
        buf_free(&list);
    }
    if (json_is_object(gossip))
        say(r, level,
            "  gossip: %" JSON_INTEGER_FORMAT " POST /block, %" JSON_INTEGER_FORMAT
            " syncs, %.2f posts per acknowledged append\n",
            json_integer_value(json_object_get(gossip, "posts")),
            json_integer_value(json_object_get(gossip, "syncs")),
            json_real_value(json_object_get(gossip, "posts_per_append")));
    if (json_is_object(linkrep))
        say(r, level,
            "  links: %" JSON_INTEGER_FORMAT " connections, %" JSON_INTEGER_FORMAT
            " bytes forwarded, %" JSON_INTEGER_FORMAT " back\n",
            json_integer_value(json_object_get(linkrep, "connections")),
            json_integer_value(json_object_get(linkrep, "bytes_to_target")),
            json_integer_value(json_object_get(linkrep, "bytes_to_source")));
}

static const char *result_name(int code)
{
    switch (code) {
    case RUNNER_OK:
        return "pass";
    case RUNNER_FAILED:
        return "fail";
    default:
        return "error";
    }
}

/* ---- the run ---- */

int runner_run(const struct scenario *sc, const struct runner_opts *o, json_t **result)
{
    struct run run = {.sc = sc, .o = o, .n = sc->nodes};
    struct run *r = &run;
    r->seed = o->seed_given ? o->seed : sc->seed;
    rng_seed(&r->rng, r->seed);
    r->t0_ms = now_ms();
    r->deadline_ms = r->t0_ms + sc->timeout_ms;
    r->side = xcalloc(r->n, sizeof(int));
    r->bridge = xcalloc(r->n, sizeof(bool));
    r->cut = xcalloc((size_t)r->n * r->n, 1);
    r->wired = xcalloc((size_t)r->n * r->n, 1);
    pthread_mutex_init(&r->ack_lock, NULL);
    r->steps = json_array();
    r->awaits = json_array();

    if (setup(r) == 0) {
        for (size_t i = 0; i < sc->n_steps; i++) {
            if (run_step(r, &sc->steps[i]) < 0)
                break;
        }
    }
    if (r->code != RUNNER_OK)
        r->stop_loads = 1; /* the run is over: loads stop sending */
    json_t *loads = join_loads(r);

    struct buf table = BUF_INIT;
    json_t *final = json_array();
    json_t *appends = NULL;
    size_t acked = 0;
    if (r->cl && r->code != RUNNER_INTERRUPTED) {
        cluster_reap(r->cl);
        node_table(r, &table, final);
        appends = appends_report(r);
        acked = (size_t)json_integer_value(json_object_get(appends, "acked"));
    }
    json_t *gossip = gossip_report(final, acked);
    json_t *linkrep = links_report(r, acked);
    double duration = elapsed(r);
    if (r->failure) {
        say(r, -1, "FAIL %s:%" JSON_INTEGER_FORMAT ": %s\n  expected: %s\n  saw:      %s\n",
            sc->path, json_integer_value(json_object_get(r->failure, "line")),
            json_string_value(json_object_get(r->failure, "text")),
            json_string_value(json_object_get(r->failure, "expected")),
            json_string_value(json_object_get(r->failure, "seen")));
        say(r, -1, "%s", table.data ? table.data : "");
        print_measures(r, appends, gossip, linkrep, -1);
    } else if (r->code != RUNNER_OK) {
        say(r, -1, "ERROR %s: %s\n", sc->path, r->error);
    } else {
        json_t *lost = appends ? json_object_get(appends, "lost") : NULL;
        say(r, 0, "%s", table.data ? table.data : "");
        print_measures(r, appends, gossip, linkrep, 0);
        say(r, -1, "PASS %s in %.3fs (%zu appends acknowledged, %zu lost)\n", sc->path, duration,
            acked, lost ? json_array_size(lost) : 0);
    }
    if (o->keep && r->cl && r->code != RUNNER_INTERRUPTED) {
        say(r, -1, "--keep: the cluster stays up on ports %u-%u (logs in %s); Ctrl-C ends it\n",
            r->first_port, r->first_port + r->n - 1, r->run_dir);
        while (!(o->interrupted && *o->interrupted))
            sleep_ms(100);
    }

    char name[256];
    *result = json_pack(
        "{s:s, s:s, s:s, s:i, s:f, s:I, s:i, s:s, s:s, s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o}",
        "scenario", base_name(sc->path, name, sizeof(name)), "file", sc->path, "result",
        result_name(r->code), "exit_code", r->code, "duration_s", duration, "seed",
        (json_int_t)r->seed, "nodes", (int)r->n, "topology", scenario_topology_name(sc->topology),
        "links_mode", sc->links_direct ? "direct" : "links", "run_dir", r->run_dir, "steps",
        r->steps, "awaits", r->awaits, "failure", r->failure ? r->failure : json_null(), "error",
        r->error ? json_string(r->error) : json_null(), "final", final, "appends",
        appends ? appends : json_null(), "links", linkrep, "loads", loads, "gossip", gossip);

    /* Teardown: nodes first (they may be talking through links), then the link layer. */
    cluster_free(r->cl);
    links_free(r->links);
    probe_free(r->probe);
    topology_free(r->topo);
    for (size_t i = 0; i < r->nacks; i++)
        free(r->acks[i].data);
    free(r->acks);
    free(r->edges);
    free(r->side);
    free(r->ready_rss_kib);
    free(r->bridge);
    free(r->cut);
    free(r->wired);
    pthread_mutex_destroy(&r->ack_lock);
    free(r->error);
    free(r->run_dir);
    buf_free(&table);
    if (r->log)
        fclose(r->log);
    return r->code;
}

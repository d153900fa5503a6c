/* observe: snapshots of the nodes, conditions and the node table. */
#include "observe.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promtext.h"
#include "xalloc.h"

void observe_snap_clear(struct snap *s)
{
    json_decref(s->data);
    memset(s, 0, sizeof(*s));
}

bool observe_snap_has(const struct snap *s, const char *data)
{
    return s->data && json_object_getn(s->data, data, strlen(data)) != NULL;
}

/* Fill s from a 200 answer of GET /block (a block), GET /blocks (a chain) or GET /peers. */
static void observe_parse(struct snap *s, const struct probe_reply *rep, enum observe_look look)
{
    json_error_t jerr;
    json_t *doc = NULL;
    s->look = look;
    if (rep->status != 200) {
        snprintf(s->err, sizeof(s->err), "%.119s",
                 rep->status ? "answered with an error" : rep->err);
    } else if ((doc = json_loadb(rep->body.data, rep->body.len, 0, &jerr)) == NULL) {
        snprintf(s->err, sizeof(s->err), "answered malformed JSON");
    } else if (look == OBSERVE_PEERS) {
        if (!json_is_array(doc)) {
            snprintf(s->err, sizeof(s->err), "answered something that is not a list of peers");
        } else {
            s->ok = true;
            s->peers = json_array_size(doc);
        }
    } else {
        bool chains = look == OBSERVE_CHAIN;
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
}

void observe_fetch(struct run *r, const struct nodeset *set, enum observe_look look,
                   struct snap *snaps)
{
    static const char *const paths[] = {
        [OBSERVE_TIP] = "/block", [OBSERVE_CHAIN] = "/blocks", [OBSERVE_PEERS] = "/peers"};
    struct probe_req *reqs = xcalloc(r->n, sizeof(*reqs));
    size_t k = 0;
    for (int i = nodeset_next(set, -1); i >= 0; i = nodeset_next(set, i)) {
        observe_snap_clear(&snaps[i]);
        snaps[i].look = look;
        if (!run_node_running(r, (unsigned)i)) {
            snprintf(snaps[i].err, sizeof(snaps[i].err), "not running");
            continue;
        }
        reqs[k++] = (struct probe_req){.node = (unsigned)i, .method = "GET", .path = paths[look]};
    }
    probe_run(r->probe, reqs, k, RUN_REQUEST_MS);
    for (size_t j = 0; j < k; j++) {
        observe_parse(&snaps[reqs[j].node], &reqs[j].reply, look);
        probe_reply_clear(&reqs[j].reply);
    }
    free(reqs);
}

void observe_emit(struct run *r, const struct nodeset *set, const struct snap *snaps,
                  const char *via, unsigned line, json_t *extra)
{
    json_t *height = json_object(), *tip = json_object(), *err = json_object();
    json_t *peers = NULL;
    for (int i = nodeset_next(set, -1); i >= 0; i = nodeset_next(set, i)) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        if (!snaps[i].ok) {
            json_object_set_new(err, name, json_string(snaps[i].err));
        } else if (snaps[i].look == OBSERVE_PEERS) {
            if (peers == NULL)
                peers = json_object();
            json_object_set_new(peers, name, json_integer((json_int_t)snaps[i].peers));
        } else {
            json_object_set_new(height, name, json_integer((json_int_t)snaps[i].height));
            json_object_set_new(tip, name, json_stringn(snaps[i].tip, 16));
        }
    }
    json_t *f = json_pack("{s:s}", "via", via);
    if (line > 0)
        json_object_set_new(f, "line", json_integer(line));
    json_object_set_new(f, "height", height);
    json_object_set_new(f, "tip", tip);
    if (peers != NULL)
        json_object_set_new(f, "peers", peers);
    if (json_object_size(err) > 0)
        json_object_set_new(f, "unreachable", err);
    else
        json_decref(err);
    if (extra)
        json_object_update(f, extra);
    json_decref(extra);
    events_emit(r->ev, "observe", f);
}

json_t *observe_status(struct run *r, unsigned i)
{
    struct probe_reply rep = {0};
    json_t *st = NULL;
    if (run_node_running(r, i) &&
        probe_one(r->probe, i, "GET", "/status", NULL, 0, RUN_REQUEST_MS, &rep) &&
        rep.status == 200)
        st = json_loadb(rep.body.data, rep.body.len, 0, NULL);
    probe_reply_clear(&rep); /* filled even without an answer */
    return json_is_object(st) ? st : (json_decref(st), NULL);
}

static json_t *kib_or_null(long kib)
{
    return kib >= 0 ? json_integer(kib) : json_null();
}

void observe_table(struct run *r, struct buf *out, json_t *arr)
{
    struct nodeset all;
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    nodeset_fill(&all, r->n);
    observe_fetch(r, &all, OBSERVE_TIP, snaps);
    struct buf grouped = BUF_INIT; /* at scale: "nK state, height H, tip" items to group */
    if (r->n < RUN_COMPRESS_NODES)
        buf_printf(out, "    %-6s %-*s %-8s %-8s %-6s %-6s %-8s %s\n", "node",
                   r->addresses ? 12 : 6, r->addresses ? "address" : "port", "state", "height",
                   "syncs", "posts", "rss MiB", "tip");
    for (unsigned i = 0; i < r->n; i++) {
        const struct cluster_node *nd = cluster_node(r->cl, i);
        const char *state = cluster_state_name(nd->state);
        json_t *st = arr ? observe_status(r, i) : NULL;
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
        char where[INET_ADDRSTRLEN + 8];
        if (r->addresses)
            snprintf(where, sizeof(where), "%s", nd->host);
        else
            snprintf(where, sizeof(where), "%u", nd->port);
        if (r->n < RUN_COMPRESS_NODES)
            buf_printf(out, "    n%-5u %-*s %-8s %-8s %-6s %-6s %-8s %s\n", i,
                       r->addresses ? 12 : 6, where, state, h, sy, po, rs,
                       snaps[i].ok ? snaps[i].tip : snaps[i].err);
        else
            buf_printf(&grouped, "%sn%u %s height %s tip %.16s", i ? "," : "", i, state, h,
                       snaps[i].ok ? snaps[i].tip : snaps[i].err);
        if (arr)
            json_array_append_new(
                arr,
                json_pack("{s:o, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "node",
                          json_sprintf("n%u", i), "host", nd->host, "port", (int)nd->port, "state",
                          state, "height",
                          snaps[i].ok ? json_integer((json_int_t)snaps[i].height) : json_null(),
                          "tip", snaps[i].ok ? json_string(snaps[i].tip) : json_null(), "syncs",
                          st ? json_incref(syncs) : json_null(), "posts",
                          st ? json_integer(posts) : json_null(), "rss_kib", kib_or_null(rss),
                          "peak_rss_kib", kib_or_null(peak), "ready_rss_kib", kib_or_null(ready)));
        json_decref(st);
        observe_snap_clear(&snaps[i]);
    }
    free(snaps);
    if (grouped.len) { /* one line per group; every node is in the report's "final" */
        struct buf lines = BUF_INIT;
        run_compress(grouped.data, &lines);
        for (char *p = lines.data, *save = NULL, *g = strtok_r(p, ";", &save); g;
             g = strtok_r(NULL, ";", &save))
            buf_printf(out, "    %s\n", g[0] == ' ' ? g + 1 : g);
        buf_free(&lines);
    }
    buf_free(&grouped);
}

static bool snap_has_cb(void *arg, const char *data)
{
    return observe_snap_has(arg, data);
}

/* lost OP N [on NODE]: against the chain of NODE (default the lowest running node). */
static bool observe_lost(struct run *r, const struct scenario_cond *c, struct buf *seen,
                         unsigned line)
{
    bool holds;
    int ref = c->node;
    for (unsigned i = 0; ref < 0 && i < r->n; i++) {
        if (run_node_running(r, i))
            ref = (int)i;
    }
    if (ref < 0) {
        buf_append_str(seen, "no node is running");
        return false;
    }
    struct nodeset set;
    nodeset_clear(&set);
    nodeset_add(&set, (unsigned)ref);
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    size_t known = appends_count(r->appends); /* acknowledged before the chain is read */
    observe_fetch(r, &set, OBSERVE_CHAIN, snaps);
    if (line > 0)
        observe_emit(r, &set, snaps, "await", line, NULL);
    if (!snaps[ref].ok) {
        buf_printf(seen, "n%d %s", ref, snaps[ref].err);
        holds = false;
    } else {
        struct buf list = BUF_INIT;
        int lost = appends_lost(r->appends, known, snap_has_cb, &snaps[ref], &list);
        holds = scenario_cmp_holds(c->op, (uint64_t)lost, c->value);
        buf_printf(seen, "lost %d on n%d", lost, ref);
        if (lost > 0)
            buf_printf(seen, ": %s%s", list.data, lost > 5 ? ", ..." : "");
        buf_free(&list);
    }
    observe_snap_clear(&snaps[ref]);
    free(snaps);
    return holds;
}

/* converged / diverged: the members grouped by tip into seen; returns whether all agree. */
static bool observe_groups(const struct nodeset *set, const struct snap *snaps, unsigned n,
                           struct buf *seen)
{
    bool same = true;
    int first = nodeset_next(set, -1);
    for (int i = first; i >= 0; i = nodeset_next(set, i)) {
        if (!snaps[i].ok || !snaps[first].ok || strcmp(snaps[i].tip, snaps[first].tip) != 0)
            same = false;
    }
    bool *done = xcalloc(n, sizeof(bool));
    for (int i = first; i >= 0; i = nodeset_next(set, i)) {
        if (done[i])
            continue;
        struct nodeset grp;
        nodeset_clear(&grp);
        for (int j = i; j >= 0; j = nodeset_next(set, j)) {
            bool eq =
                snaps[i].ok ? snaps[j].ok && strcmp(snaps[i].tip, snaps[j].tip) == 0 : !snaps[j].ok;
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
    return same;
}

bool observe_cond(struct run *r, const struct scenario_cond *c, struct buf *seen, unsigned line)
{
    struct nodeset set;
    bool holds = true;
    buf_clear(seen);
    if (c->kind == SCENARIO_COND_LOST)
        return observe_lost(r, c, seen, line);
    run_resolve(r, &c->nodes, &set);
    if (c->kind == SCENARIO_COND_ALIVE || c->kind == SCENARIO_COND_DOWN) {
        /* Process state: here `all` means every node, running or not. */
        bool want = c->kind == SCENARIO_COND_ALIVE;
        struct nodeset which;
        run_resolve_all(r, &c->nodes, &which);
        cluster_reap(r->cl);
        for (int i = nodeset_next(&which, -1); i >= 0; i = nodeset_next(&which, i)) {
            bool up = run_node_running(r, (unsigned)i);
            buf_printf(seen, "%sn%d %s", seen->len ? ", " : "", i, up ? "alive" : "down");
            if (up != want)
                holds = false;
        }
        return holds;
    }
    enum observe_look look = c->kind == SCENARIO_COND_CONTAINS ? OBSERVE_CHAIN
                             : c->kind == SCENARIO_COND_PEERS  ? OBSERVE_PEERS
                                                               : OBSERVE_TIP;
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    observe_fetch(r, &set, look, snaps);
    if (line > 0)
        observe_emit(r, &set, snaps, "await", line, NULL);
    switch (c->kind) {
    case SCENARIO_COND_CONVERGED:
    case SCENARIO_COND_DIVERGED: {
        bool same = observe_groups(&set, snaps, r->n, seen);
        holds = c->kind == SCENARIO_COND_CONVERGED ? same : !same;
        break;
    }
    case SCENARIO_COND_HEIGHT:
    case SCENARIO_COND_PEERS:
        for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
            uint64_t v = look == OBSERVE_PEERS ? snaps[i].peers : snaps[i].height;
            if (snaps[i].ok)
                buf_printf(seen, "%sn%d=%" PRIu64, seen->len ? " " : "", i, v);
            else
                buf_printf(seen, "%sn%d %s", seen->len ? " " : "", i, snaps[i].err);
            if (!snaps[i].ok || !scenario_cmp_holds(c->op, v, c->value))
                holds = false;
        }
        if (look == OBSERVE_PEERS)
            buf_append_str(seen, " peers");
        break;
    case SCENARIO_COND_CONTAINS: {
        struct nodeset missing;
        nodeset_clear(&missing);
        for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
            if (!snaps[i].ok || !observe_snap_has(&snaps[i], c->data))
                nodeset_add(&missing, (unsigned)i);
        }
        holds = nodeset_count(&missing) == 0;
        buf_append_str(seen, holds ? "present on " : "missing on ");
        nodeset_format(holds ? &set : &missing, seen);
        break;
    }
    default:
        break;
    }
    for (unsigned i = 0; i < r->n; i++)
        observe_snap_clear(&snaps[i]);
    free(snaps);
    return holds;
}

/* The running nodes grouped by tip into groups (array), unreachable ones into unreachable;
 * returns true when two groups hold different chains of the same height. */
static bool observe_group_tips(struct run *r, const struct snap *snaps, json_t *groups,
                               json_t *unreachable)
{
    bool *done = xcalloc(r->n, sizeof(bool));
    bool equal = false;
    for (unsigned i = 0; i < r->n; i++) {
        if (!run_node_running(r, i) || done[i])
            continue;
        if (!snaps[i].ok) {
            done[i] = true;
            json_array_append_new(
                unreachable,
                json_pack("{s:o, s:s}", "node", json_sprintf("n%u", i), "error", snaps[i].err));
            continue;
        }
        struct nodeset grp;
        struct buf names = BUF_INIT;
        nodeset_clear(&grp);
        for (unsigned j = i; j < r->n; j++) {
            if (!done[j] && snaps[j].ok && strcmp(snaps[i].tip, snaps[j].tip) == 0) {
                done[j] = true;
                nodeset_add(&grp, j);
            }
        }
        nodeset_format(&grp, &names);
        size_t k;
        json_t *g;
        json_array_foreach(groups, k, g)
        {
            if (json_integer_value(json_object_get(g, "height")) == (json_int_t)snaps[i].height)
                equal = true;
        }
        json_array_append_new(groups, json_pack("{s:s, s:I, s:s, s:i}", "nodes", names.data,
                                                "height", (json_int_t)snaps[i].height, "tip",
                                                snaps[i].tip, "count", (int)nodeset_count(&grp)));
        buf_free(&names);
    }
    free(done);
    return equal;
}

json_t *observe_diagnose(struct run *r)
{
    struct nodeset all;
    struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
    nodeset_fill(&all, r->n);
    cluster_reap(r->cl);
    observe_fetch(r, &all, OBSERVE_TIP, snaps);
    json_t *groups = json_array(), *unreachable = json_array(), *down = json_array();
    bool equal = observe_group_tips(r, snaps, groups, unreachable);
    for (unsigned i = 0; i < r->n; i++) {
        if (!run_node_running(r, i))
            json_array_append_new(down,
                                  json_pack("{s:o, s:s}", "node", json_sprintf("n%u", i), "state",
                                            cluster_state_name(cluster_node(r->cl, i)->state)));
        observe_snap_clear(&snaps[i]);
    }
    free(snaps);
    struct buf sides = BUF_INIT;
    if (partition_has_sides(r->part))
        partition_describe(r->part, &sides);
    const char *note =
        equal ? "groups hold different chains of the same height: the longest-chain rule never "
                "replaces a chain with one of equal length, so a sync cannot resolve this fork; "
                "only a new append on one side (making its chain longer) does"
              : NULL;
    json_t *d =
        json_pack("{s:f, s:o, s:s?, s:o, s:o, s:b, s:s?, s:o, s:o}", "at_s", run_now(r), "faults",
                  run_faults_active(r), "partition", sides.data, "down", down, "groups", groups,
                  "equal_height_forks", equal, "note", note, "failed_appends",
                  appends_failures(r->appends), "unreachable", unreachable);
    buf_free(&sides);
    return d;
}

void observe_diagnosis_text(json_t *d, struct buf *out)
{
    size_t i;
    json_t *e;
    struct buf line = BUF_INIT;
    json_array_foreach(json_object_get(d, "faults"), i, e)
        buf_printf(&line, "%s%s", i ? ", " : "", json_string_value(e));
    buf_printf(out, "    faults active: %s", line.len ? line.data : "none");
    if (json_is_string(json_object_get(d, "partition")))
        buf_printf(out, " (sides %s)", json_string_value(json_object_get(d, "partition")));
    buf_append_char(out, '\n');
    buf_clear(&line);
    json_array_foreach(json_object_get(d, "down"), i, e)
        buf_printf(&line, "%s%s (%s)", i ? ", " : "", json_string_value(json_object_get(e, "node")),
                   json_string_value(json_object_get(e, "state")));
    if (line.len)
        buf_printf(out, "    nodes not running: %s\n", line.data);
    json_array_foreach(json_object_get(d, "groups"), i, e)
        buf_printf(out, "    tip group %zu: %s at height %" JSON_INTEGER_FORMAT " tip %.12s\n",
                   i + 1, json_string_value(json_object_get(e, "nodes")),
                   json_integer_value(json_object_get(e, "height")),
                   json_string_value(json_object_get(e, "tip")));
    if (json_is_string(json_object_get(d, "note")))
        buf_printf(out, "    equal-height forks: %s\n",
                   json_string_value(json_object_get(d, "note")));
    json_t *fa = json_object_get(d, "failed_appends");
    if (json_integer_value(json_object_get(fa, "count")) > 0) {
        buf_printf(out, "    failed appends: %" JSON_INTEGER_FORMAT "\n",
                   json_integer_value(json_object_get(fa, "count")));
        json_array_foreach(json_object_get(fa, "first"), i, e)
        {
            if (i == 5)
                break;
            const char *why = json_string_value(json_object_get(e, "reason"));
            buf_printf(out, "      %s \"%.40s\": %s", json_string_value(json_object_get(e, "node")),
                       json_string_value(json_object_get(e, "data")), why ? why : "?");
            if (json_is_integer(json_object_get(e, "status")))
                buf_printf(out, " %" JSON_INTEGER_FORMAT " %.120s",
                           json_integer_value(json_object_get(e, "status")),
                           json_string_value(json_object_get(e, "body")));
            else if (json_is_string(json_object_get(e, "error")))
                buf_printf(out, " (%.120s)", json_string_value(json_object_get(e, "error")));
            buf_append_char(out, '\n');
        }
    }
    buf_clear(&line);
    json_array_foreach(json_object_get(d, "unreachable"), i, e)
        buf_printf(&line, "%s%s (%s)", i ? ", " : "", json_string_value(json_object_get(e, "node")),
                   json_string_value(json_object_get(e, "error")));
    if (line.len)
        buf_printf(out, "    unreachable: %s\n", line.data);
    buf_free(&line);
}

/* ---- sampling ---- */

struct sampler {
    struct run *r; /* the thread reads r->ev and r->n only */
    struct probe *probe;
    pthread_t thread;
    long period_ms;  /* observe rounds, 0: none */
    long metrics_ms; /* metrics rounds, 0: none */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled on stop */
    bool stop;           /* under lock */
    atomic_uchar *up;    /* n: node i runs (set by the run's thread) */
};

/* One round: GET /block on every running node, recorded as one `observe` event. */
static void observe_sample_round(struct sampler *s, struct snap *snaps, struct probe_req *reqs)
{
    struct run *r = s->r;
    struct nodeset set;
    size_t k = 0;
    nodeset_clear(&set);
    for (unsigned i = 0; i < r->n; i++) {
        if (atomic_load(&s->up[i])) {
            nodeset_add(&set, i);
            reqs[k++] = (struct probe_req){.node = i, .method = "GET", .path = "/block"};
        }
    }
    if (k == 0)
        return;
    probe_run(s->probe, reqs, k, OBSERVE_SAMPLE_TIMEOUT_MS);
    for (size_t j = 0; j < k; j++) {
        observe_snap_clear(&snaps[reqs[j].node]);
        observe_parse(&snaps[reqs[j].node], &reqs[j].reply, OBSERVE_TIP);
        probe_reply_clear(&reqs[j].reply);
    }
    json_t *extra = NULL;
    if (r->links) { /* thread-safe; the links outlive the sampler */
        struct link_stats ls;
        links_stats(r->links, &ls);
        extra = json_pack("{s:{s:I, s:I}}", "links", "bytes",
                          (json_int_t)(ls.bytes_to_target + ls.bytes_to_source), "connections",
                          (json_int_t)ls.accepted);
    }
    observe_emit(r, &set, snaps, "sample", 0, extra);
}

/* One round of GET /metrics on every running node: a `metrics` event for each node that
 * answers 200 with the Prometheus text format (a node without /metrics gives none). */
static void observe_metrics_round(struct sampler *s, struct probe_req *reqs)
{
    struct run *r = s->r;
    size_t k = 0;
    for (unsigned i = 0; i < r->n; i++) {
        if (atomic_load(&s->up[i]))
            reqs[k++] = (struct probe_req){.node = i, .method = "GET", .path = "/metrics"};
    }
    probe_run(s->probe, reqs, k, OBSERVE_SAMPLE_TIMEOUT_MS);
    for (size_t j = 0; j < k; j++) {
        json_t *values = NULL;
        char err[160];
        if (reqs[j].reply.status == 200 &&
            promtext_parse(reqs[j].reply.body.data, reqs[j].reply.body.len, &values, err,
                           sizeof(err)) == 0)
            events_emit(r->ev, "metrics",
                        json_pack("{s:o, s:o}", "node", json_sprintf("n%u", reqs[j].node), "values",
                                  values));
        probe_reply_clear(&reqs[j].reply);
    }
}

/* Run a round, then the time until the next: the period, or as long as the round took when that
 * is longer (busy: at most half of the time). */
static double observe_round(struct sampler *s, bool metrics, struct snap *snaps,
                            struct probe_req *reqs)
{
    double start = events_now(s->r->ev);
    if (metrics)
        observe_metrics_round(s, reqs);
    else
        observe_sample_round(s, snaps, reqs);
    double took = events_now(s->r->ev) - start;
    double period = (double)(metrics ? s->metrics_ms : s->period_ms) / 1000.0;
    return start + (period > 2 * took ? period : 2 * took);
}

static void *observe_sampler_thread(void *arg)
{
    struct sampler *s = arg;
    struct snap *snaps = xcalloc(s->r->n, sizeof(*snaps));
    struct probe_req *reqs = xcalloc(s->r->n, sizeof(*reqs));
    double next_sample = s->period_ms > 0 ? 0 : INFINITY;
    double next_metrics = s->metrics_ms > 0 ? 0 : INFINITY;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        double now = events_now(s->r->ev);
        if (now >= next_sample)
            next_sample = observe_round(s, false, snaps, reqs);
        if (now >= next_metrics)
            next_metrics = observe_round(s, true, snaps, reqs);
        double next = next_sample < next_metrics ? next_sample : next_metrics;
        struct timespec until;
        events_deadline(&until, (next - events_now(s->r->ev)) * 1000.0 + 1);
        pthread_mutex_lock(&s->lock);
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->r->n; i++)
        observe_snap_clear(&snaps[i]);
    free(snaps);
    free(reqs);
    return NULL;
}

int observe_sampler_start(struct run *r, long period_ms, long metrics_ms, char *err, size_t errsz)
{
    struct sampler *s = xcalloc(1, sizeof(*s));
    struct sockaddr_in *addr = run_node_addrs(r);
    s->r = r;
    s->period_ms = period_ms;
    s->metrics_ms = metrics_ms;
    s->probe = probe_new(addr, r->n);
    probe_set_limit(s->probe, OBSERVE_SAMPLE_IN_FLIGHT);
    free(addr);
    s->up = xcalloc(r->n, sizeof(*s->up));
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    r->sampler = s;
    observe_sampler_update(r);
    if (pthread_create(&s->thread, NULL, observe_sampler_thread, s) != 0) {
        snprintf(err, errsz, "cannot start the sampling thread");
        probe_free(s->probe);
        free(s->up);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        r->sampler = NULL;
        return -1;
    }
    return 0;
}

void observe_sampler_update(struct run *r)
{
    if (r->sampler == NULL)
        return;
    for (unsigned i = 0; i < r->n; i++)
        atomic_store(&r->sampler->up[i], run_node_running(r, i));
}

void observe_sampler_stop(struct run *r)
{
    struct sampler *s = r->sampler;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    probe_free(s->probe);
    free(s->up);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    r->sampler = NULL;
}

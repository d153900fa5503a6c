/* step: the statements of a scenario, carried out against the live cluster. */
#include "step.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "observe.h"
#include "xalloc.h"

/* A `load` step running in the background while the steps after it run. */
struct bg_load {
    struct run *r;
    unsigned line;
    pthread_t thread;
    struct load_spec spec;
    struct sockaddr_in *addr;
    unsigned *nodes;
    char prefix[32];
    double start_s; /* run time when it started */
    double end_s;   /* run time when it ended (set by its thread before done) */
    atomic_bool done;
    struct load_stats stats;
};

/* ---- appends ---- */

/* Why an append was not acknowledged, into f: "reason" (http, timeout, refused, not running,
 * error) and the status, error body or libcurl message. */
static void step_append_reason(json_t *f, bool running, long status, const char *error,
                               const char *body, size_t len)
{
    if (!running) {
        json_object_set_new(f, "reason", json_string("not running"));
    } else if (status) {
        json_object_set_new(f, "reason", json_string("http"));
        json_object_set_new(f, "status", json_integer(status));
        json_object_set_new(f, "body",
                            json_stringn_nocheck(body ? body : "", len > 300 ? 300 : len));
    } else {
        const char *why = strstr(error, "imeout") || strstr(error, "timed out") ? "timeout"
                          : strstr(error, "onnect")                             ? "refused"
                                                                                : "error";
        json_object_set_new(f, "reason", json_string(why));
        json_object_set_new(f, "error", json_string(error));
    }
}

/* Record the `append` event that ends an append. */
static void step_append_event(struct run *r, unsigned node, const char *data, unsigned line,
                              bool acked, json_int_t height, double latency_s, bool running,
                              long status, const char *error, const char *body, size_t len)
{
    json_t *f = json_pack("{s:s, s:o, s:s}", "action", acked ? "acked" : "failed", "node",
                          json_sprintf("n%u", node), "data", data);
    if (line)
        json_object_set_new(f, "line", json_integer(line));
    if (acked)
        json_object_set_new(f, "height", height >= 0 ? json_integer(height) : json_null());
    else
        step_append_reason(f, running, status, error, body, len);
    json_object_set_new(f, "latency_ms", json_real(latency_s * 1000.0));
    if (!acked)
        appends_note_failure(r->appends, f);
    events_emit(r->ev, "append", f);
}

static void step_append_sent(struct run *r, unsigned node, const char *data, unsigned line)
{
    json_t *f = json_pack("{s:s, s:o, s:s}", "action", "sent", "node", json_sprintf("n%u", node),
                          "data", data);
    if (line)
        json_object_set_new(f, "line", json_integer(line));
    events_emit(r->ev, "append", f);
}

/* The index of the block in an answer, or -1. */
static json_int_t step_block_index(const char *body, size_t len)
{
    json_t *b = json_loadb(body, len, 0, NULL);
    json_t *idx = json_object_get(b, "index");
    json_int_t h = json_is_integer(idx) ? json_integer_value(idx) : -1;
    json_decref(b);
    return h;
}

static void step_load_sent_cb(void *arg, unsigned node, const char *data, double due_s)
{
    struct bg_load *l = arg;
    (void)due_s;
    step_append_sent(l->r, node, data, l->line);
}

static void step_load_done_cb(void *arg, const struct load_done *d)
{
    struct bg_load *l = arg;
    size_t len = strlen(d->body);
    appends_record(l->r->appends, d->node, d->data, d->acked, l->start_s + d->due_s, d->latency_s);
    step_append_event(l->r, d->node, d->data, l->line, d->acked, step_block_index(d->body, len),
                      d->latency_s, true, d->status, d->error, d->body, len);
}

static void *step_load_thread(void *arg)
{
    struct bg_load *l = arg;
    load_run(&l->spec, step_load_sent_cb, step_load_done_cb, l, &l->stats);
    l->end_s = run_now(l->r);
    atomic_store(&l->done, true);
    events_emit(l->r->ev, "load",
                json_pack("{s:s, s:i, s:f, s:I, s:I, s:I, s:f}", "action", "end", "line",
                          (int)l->line, "rate", l->spec.per_s, "sent", (json_int_t)l->stats.sent,
                          "acked", (json_int_t)l->stats.acked, "failed",
                          (json_int_t)l->stats.failed, "behind_s", l->stats.behind_s));
    return NULL;
}

/* load RATE/s for DURATION [on NODES]: starts in the background; the next steps run meanwhile. */
static int step_load(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset set;
    run_resolve(r, &st->load.nodes, &set);
    unsigned count = nodeset_count(&set);
    if (count == 0) {
        buf_append_str(detail, "no running node to load");
        return 0;
    }
    struct bg_load *l = xcalloc(1, sizeof(*l));
    l->r = r;
    l->line = st->line;
    l->addr = xcalloc(count, sizeof(*l->addr));
    l->nodes = xcalloc(count, sizeof(unsigned));
    size_t k = 0;
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i), k++) {
        l->nodes[k] = (unsigned)i;
        l->addr[k] = cluster_node(r->cl, (unsigned)i)->addr;
    }
    snprintf(l->prefix, sizeof(l->prefix), "load-L%u", st->line);
    l->spec = (struct load_spec){.addr = l->addr,
                                 .nodes = l->nodes,
                                 .ntargets = count,
                                 .per_s = (double)st->load.per_s,
                                 .duration_ms = st->load.duration_ms,
                                 .timeout_ms = r->o.request_ms > 0 ? r->o.request_ms : RUN_LOAD_MS,
                                 .prefix = l->prefix,
                                 .cancel = &r->stop_loads};
    l->start_s = run_now(r);
    struct buf on = BUF_INIT;
    nodeset_format(&set, &on);
    events_emit(r->ev, "load",
                json_pack("{s:s, s:i, s:f, s:f, s:s}", "action", "begin", "line", (int)st->line,
                          "rate", l->spec.per_s, "duration_s",
                          (double)st->load.duration_ms / 1000.0, "nodes", on.data));
    buf_free(&on);
    if (pthread_create(&l->thread, NULL, step_load_thread, l) != 0) {
        free(l->addr);
        free(l->nodes);
        free(l);
        return run_fail(r, RUNNER_CLUSTER, "cannot start a load thread");
    }
    r->loads = xrealloc(r->loads, (r->nloads + 1) * sizeof(*r->loads));
    r->loads[r->nloads++] = l;
    buf_printf(detail, "started: %" PRIu64 "/s for %.3fs over %u nodes, in the background",
               st->load.per_s, (double)st->load.duration_ms / 1000.0, count);
    return 0;
}

void step_loads_join(struct run *r)
{
    for (size_t i = 0; i < r->nloads; i++) {
        struct bg_load *l = r->loads[i];
        pthread_join(l->thread, NULL);
        run_say(r, 0,
                "%8.3fs  L%-4u load ended: %" PRIu64 " sent, %" PRIu64 " acknowledged, %" PRIu64
                " failed, at most %.3fs behind schedule\n",
                l->end_s, l->line, l->stats.sent, l->stats.acked, l->stats.failed,
                l->stats.behind_s);
        json_array_append_new(
            r->loads_done,
            json_pack("{s:i, s:I, s:I, s:I, s:f, s:f, s:f, s:f}", "line", (int)l->line, "sent",
                      (json_int_t)l->stats.sent, "acked", (json_int_t)l->stats.acked, "failed",
                      (json_int_t)l->stats.failed, "behind_s", l->stats.behind_s, "rate",
                      l->spec.per_s, "start_s", l->start_s, "end_s", l->end_s));
        free(l->addr);
        free(l->nodes);
        free(l);
    }
    free(r->loads);
    r->loads = NULL;
    r->nloads = 0;
}

/* POST /append data on node; records the outcome. Returns true when acknowledged. */
static bool step_append_one(struct run *r, unsigned node, const char *data, unsigned line,
                            struct buf *detail)
{
    struct probe_reply rep = {0};
    double at = run_now(r);
    bool running = run_node_running(r, node);
    step_append_sent(r, node, data, line);
    bool ok = running && probe_one(r->probe, node, "POST", "/append", data, strlen(data),
                                   RUN_REQUEST_MS, &rep);
    bool acked = ok && rep.status >= 200 && rep.status < 300;
    appends_record(r->appends, node, data, acked, at, ok ? rep.secs : 0);
    /* One append on its own (with detail) asks GET /block for the height when the answer
     * carries none (other implementations); a series of appends reads the answers only. */
    json_int_t height = -1;
    uint64_t h;
    bool asked = false;
    if (acked && detail &&
        probe_height_after(r->probe, node, &rep, RUN_REQUEST_MS, &h, &asked) == 0)
        height = (json_int_t)h;
    else if (acked && !detail)
        height = step_block_index(rep.body.data, rep.body.len);
    step_append_event(r, node, data, line, acked, height, ok ? rep.secs : 0, running, rep.status,
                      rep.err, rep.body.data, rep.body.len);
    if (detail) {
        if (acked && height >= 0) {
            buf_printf(detail, "acknowledged at height %" JSON_INTEGER_FORMAT "%s in %.1fms",
                       height, asked ? " (from GET /block)" : "", rep.secs * 1000);
        } else if (acked) {
            buf_printf(detail, "acknowledged in %.1fms (height unknown)", rep.secs * 1000);
        } else if (ok) {
            buf_printf(detail, "not acknowledged: HTTP %ld %.*s", rep.status,
                       (int)(rep.body.len > 120 ? 120 : rep.body.len), rep.body.data);
        } else {
            buf_printf(detail, "not acknowledged: %s", running ? rep.err : "node not running");
        }
    }
    probe_reply_clear(&rep); /* filled even without an answer */
    return acked;
}

static int step_append(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    unsigned node = st->append.node;
    if (st->append.data) {
        step_append_one(r, node, st->append.data, st->line, detail);
        return 0;
    }
    uint64_t acked = 0;
    for (uint64_t i = 0; i < st->append.count; i++) {
        char data[64];
        snprintf(data, sizeof(data), "n%u-L%u-%" PRIu64, node, st->line, i + 1);
        acked += step_append_one(r, node, data, st->line, NULL);
        if ((i & 63) == 63 && run_check_health(r, st) < 0)
            return -1;
    }
    buf_printf(detail, "%" PRIu64 " of %" PRIu64 " acknowledged", acked, st->append.count);
    return 0;
}

/* ---- sync and peers ---- */

static int step_sync(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset set;
    run_resolve(r, &st->nodes, &set);
    struct probe_req *reqs = xcalloc(r->n, sizeof(*reqs));
    size_t k = 0;
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i))
        reqs[k++] = (struct probe_req){.node = (unsigned)i, .method = "POST", .path = "/sync"};
    probe_run(r->probe, reqs, k, RUN_SYNC_MS);
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
            if (probe_height_after(r->probe, reqs[j].node, rep, RUN_REQUEST_MS, &h, &asked) == 0)
                buf_printf(detail, " %" PRIu64, h);
            else
                buf_append_str(detail, " unknown");
        } else {
            char seen[200];
            if (rep->status)
                snprintf(seen, sizeof(seen), "n%u answered HTTP %ld %.120s", reqs[j].node,
                         rep->status, rep->body.data ? rep->body.data : "");
            else
                snprintf(seen, sizeof(seen), "n%u: %s", reqs[j].node, rep->err);
            rc = run_fail_step(r, st, "POST /sync to answer 2xx", seen);
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
    if (add && run_link_ensure(r, a, b) < 0)
        return -1;
    char url[64];
    run_peer_url(r, a, b, url, sizeof(url)); /* never linked: port 0, which the node refuses */
    struct probe_reply rep = {0};
    bool ok = probe_one(r->probe, a, add ? "POST" : "DELETE", "/peers", url, strlen(url),
                        RUN_REQUEST_MS, &rep);
    int rc = 0;
    if (ok && probe_reply_ok(&rep)) {
        if (add)
            pairset_put(&r->wired, a, b, 1);
        else
            pairset_del(&r->wired, a, b);
        buf_printf(detail, "n%u %s %s", a, add ? "now reaches" : "no longer has", url);
    } else {
        char seen[300];
        snprintf(seen, sizeof(seen), "HTTP %ld %.200s", rep.status, ok ? rep.body.data : rep.err);
        rc = run_fail_step(r, st, add ? "POST /peers to answer 2xx" : "DELETE /peers to answer 2xx",
                           seen);
    }
    probe_reply_clear(&rep); /* filled even without an answer */
    return rc;
}

/* ---- partitions and link faults ---- */

/* Record a `fault` event: action ("applied"/"removed"), fault kind, the links whose state mask
 * marks, and extra fields (stolen, may be NULL). */
static void step_fault_event(struct run *r, const struct scenario_step *st, const char *action,
                             const char *fault, const bool *mask, json_t *extra)
{
    json_t *f =
        json_pack("{s:s, s:s, s:i}", "action", action, "fault", fault, "line", (int)st->line);
    if (extra)
        json_object_update(f, extra);
    json_decref(extra);
    json_object_set_new(f, "links", run_edge_names(r, mask));
    json_object_set_new(f, "active", run_faults_active(r));
    events_emit(r->ev, "fault", f);
}

/* Which edges are blocked now, as a mask over r->edges (caller frees). */
static bool *step_blocked_mask(struct run *r)
{
    bool *m = xcalloc(r->nedges ? r->nedges : 1, sizeof(bool));
    for (size_t i = 0; i < r->nedges; i++)
        m[i] = partition_blocked(r->part, r->edges[i].from, r->edges[i].to);
    return m;
}

static void step_partition(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    bool *before = step_blocked_mask(r);
    bool had = partition_has_sides(r->part);
    partition_apply(r->part, st, &r->rng);
    run_links_apply(r);
    partition_describe(r->part, detail);
    bool *after = step_blocked_mask(r);
    bool *released = xcalloc(r->nedges ? r->nedges : 1, sizeof(bool));
    for (size_t i = 0; i < r->nedges; i++)
        released[i] = before[i] && !after[i];
    if (had)
        step_fault_event(r, st, "removed", "partition", released, NULL);
    step_fault_event(r, st, "applied", "partition", after,
                     json_pack("{s:s}", "sides", detail->data ? detail->data : ""));
    free(before);
    free(after);
    free(released);
}

static void step_cut(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct nodeset from, to;
    run_resolve(r, &st->cut.from, &from);
    run_resolve(r, &st->cut.to, &to);
    unsigned count = partition_cut(r->part, &from, &to, st->cut.one_way);
    run_links_apply(r);
    buf_printf(detail, "%u directions cut", count);
    bool *m = step_blocked_mask(r);
    step_fault_event(r, st, "applied", "cut", m, NULL);
    free(m);
}

static void step_heal(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    bool *m = step_blocked_mask(r);
    bool sides = partition_has_sides(r->part);
    unsigned cuts = partition_cuts(r->part);
    partition_heal(r->part);
    if (r->links)
        links_heal(r->links);
    for (size_t i = 0; i < r->nedges; i++)
        r->edges[i].cut = false;
    buf_append_str(detail, "every link released");
    if (sides || cuts)
        step_fault_event(r, st, "removed", sides ? "partition" : "cut", m,
                         json_pack("{s:b, s:b}", "partition", sides, "cut", cuts > 0));
    free(m);
}

/* True when link from -> to is one of those that l names. */
static bool step_links_match(const struct run *r, const struct scenario_links *l, unsigned from,
                             unsigned to)
{
    struct nodeset a, b;
    run_resolve_all(r, &l->a, &a);
    run_resolve_all(r, &l->b, &b);
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

/* The fault bit and name of a link-fault step (0, "clear" for clear). */
static unsigned step_fault_bit(enum scenario_step_kind k, const char **name)
{
    switch (k) {
    case SCENARIO_STEP_LATENCY:
        *name = "latency";
        return RUN_FAULT_LATENCY;
    case SCENARIO_STEP_LOSS:
        *name = "loss";
        return RUN_FAULT_LOSS;
    case SCENARIO_STEP_BANDWIDTH:
        *name = "bandwidth";
        return RUN_FAULT_BANDWIDTH;
    case SCENARIO_STEP_RESET:
        *name = "reset";
        return RUN_FAULT_RESET;
    default:
        *name = "clear";
        return 0;
    }
}

/* latency, loss, bandwidth, reset, clear: set on every link the statement names. */
static int step_link_fault(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    const struct scenario_links *l = st->kind == SCENARIO_STEP_LATENCY     ? &st->latency.links
                                     : st->kind == SCENARIO_STEP_LOSS      ? &st->loss.links
                                     : st->kind == SCENARIO_STEP_BANDWIDTH ? &st->bandwidth.links
                                                                           : &st->links;
    const char *name;
    unsigned bit = step_fault_bit(st->kind, &name);
    bool *mask = xcalloc(r->nedges ? r->nedges : 1, sizeof(bool));
    unsigned count = 0, cleared = 0;
    for (size_t i = 0; i < r->nedges; i++) {
        unsigned a = r->edges[i].from, b = r->edges[i].to;
        if (!step_links_match(r, l, a, b))
            continue;
        int rc = 0;
        switch (st->kind) {
        case SCENARIO_STEP_LATENCY:
            rc = links_set_latency(r->links, a, b, st->latency.delay_ms, st->latency.jitter_ms);
            break;
        case SCENARIO_STEP_LOSS:
            rc = links_set_loss(r->links, a, b, st->loss.per_million);
            break;
        case SCENARIO_STEP_BANDWIDTH:
            rc = links_set_bandwidth(r->links, a, b, st->bandwidth.bytes_per_s);
            break;
        case SCENARIO_STEP_RESET:
            rc = links_set_reset(r->links, a, b, true);
            break;
        default:
            rc = links_clear_faults(r->links, a, b);
            break;
        }
        if (rc < 0) {
            free(mask);
            return run_fail(r, RUNNER_BAD, "%s:%u:%u: the link layer refused '%s' on n%u -> n%u",
                            r->sc->path, st->line, st->col, st->text, a, b);
        }
        mask[i] = true;
        cleared |= r->edges[i].faults;
        r->edges[i].faults = bit ? r->edges[i].faults | bit : 0;
        count++;
    }
    buf_printf(detail, "%u links", count);
    json_t *extra = NULL;
    if (st->kind == SCENARIO_STEP_LATENCY)
        extra = json_pack("{s:f, s:f}", "delay_ms", (double)st->latency.delay_ms, "jitter_ms",
                          (double)st->latency.jitter_ms);
    else if (st->kind == SCENARIO_STEP_LOSS)
        extra = json_pack("{s:f}", "percent", (double)st->loss.per_million / 10000.0);
    else if (st->kind == SCENARIO_STEP_BANDWIDTH)
        extra = json_pack("{s:I}", "bytes_per_s", (json_int_t)st->bandwidth.bytes_per_s);
    else if (bit == 0)
        extra = json_pack("{s:o}", "cleared", run_fault_names(cleared));
    step_fault_event(r, st, bit ? "applied" : "removed", name, mask, extra);
    free(mask);
    return 0;
}

/* ---- node faults ---- */

/* POST /peers on node i for every peer it is wired to (after a restart). */
static int step_rewire(struct run *r, unsigned i, struct buf *detail)
{
    unsigned count = 0;
    for (unsigned b = 0; b < r->n; b++) {
        if (!pairset_get(&r->wired, i, b, NULL))
            continue;
        char url[64];
        struct probe_reply rep = {0};
        run_peer_url(r, i, b, url, sizeof(url));
        bool ok = probe_one(r->probe, i, "POST", "/peers", url, strlen(url), RUN_REQUEST_MS, &rep);
        long status = ok ? rep.status : 0;
        bool done = ok && probe_reply_ok(&rep);
        probe_reply_clear(&rep); /* filled even without an answer */
        if (!done)
            return run_fail(r, RUNNER_CLUSTER, "restarted n%u refused peer %s (HTTP %ld)", i, url,
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
    struct nodeset set;
    char err[4096];
    run_resolve_all(r, &st->nodes, &set);
    for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
        unsigned u = (unsigned)i;
        enum node_state before = cluster_node(r->cl, u)->state;
        const char *what = NULL;
        switch (st->kind) {
        case SCENARIO_STEP_KILL:
            what = cluster_kill(r->cl, u) == 0 ? "killed" : "was not running";
            break;
        case SCENARIO_STEP_STOP: {
            int rc = cluster_stop(r->cl, u, run_grace_ms(r));
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
                cluster_stop(r->cl, u, run_grace_ms(r));
            if (cluster_start(r->cl, u, err, sizeof(err)) < 0)
                return run_fail(r, RUNNER_CLUSTER, "restart n%u: %s", u, err);
            if (cluster_wait_ready(r->cl, r->probe, CLUSTER_READY_MS, err, sizeof(err)) < 0)
                return run_fail(r, RUNNER_CLUSTER, "%s", err);
            if (step_rewire(r, u, detail) < 0)
                return -1;
            events_emit(r->ev, "node",
                        json_pack("{s:s, s:o, s:i, s:i}", "action", "restarted", "node",
                                  json_sprintf("n%u", u), "pid", (int)cluster_node(r->cl, u)->pid,
                                  "line", (int)st->line));
            continue;
        default:
            break;
        }
        buf_printf(detail, "%sn%u %s", detail->len ? ", " : "", u, what);
    }
    return 0;
}

/* ---- waits and conditions ---- */

static int step_wait(struct run *r, const struct scenario_step *st, int64_t ms)
{
    double end = run_now(r) + (double)ms / 1000.0;
    while (run_now(r) < end) {
        if (run_check_health(r, st) < 0)
            return -1;
        double left = (end - run_now(r)) * 1000.0;
        run_sleep_ms(left > 20 ? 20 : (left > 0 ? (long)left : 0));
    }
    return 0;
}

/* The condition as text, e.g. "height == 3 on n0-n2" (from the statement after its keyword). */
static const char *step_cond_text(const struct scenario_step *st)
{
    const char *sp = strchr(st->text, ' ');
    return sp ? sp + 1 : st->text;
}

/* Evaluate c: `loads done` here (the loads are this module's), the others by observe_cond. */
static bool step_cond(struct run *r, const struct scenario_cond *c, struct buf *seen, unsigned line)
{
    if (c->kind != SCENARIO_COND_LOADS_DONE)
        return observe_cond(r, c, seen, line);
    unsigned running = 0;
    buf_clear(seen);
    for (size_t i = 0; i < r->nloads; i++) {
        if (!atomic_load(&r->loads[i]->done))
            buf_printf(seen, "%sL%u", running++ ? ", " : "", r->loads[i]->line);
    }
    if (running)
        buf_append_str(seen, " still running");
    else
        buf_printf(seen, "%zu loads ended", r->nloads);
    return running == 0;
}

static int step_await(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct buf seen = BUF_INIT;
    double start = run_now(r);
    double deadline = start + (double)st->await.within_ms / 1000.0;
    int rc = 0;
    unsigned polls = 0;
    for (;;) {
        polls++;
        if (step_cond(r, &st->await.cond, &seen, st->line)) {
            double took = run_now(r) - start;
            buf_printf(detail, "held after %.3fs (%u polls): %s", took, polls, seen.data);
            json_array_append_new(r->awaits, json_pack("{s:i, s:s, s:f}", "line", (int)st->line,
                                                       "text", st->text, "took_s", took));
            if (st->await.cond.kind == SCENARIO_COND_LOADS_DONE)
                step_loads_join(r); /* ended: their lines come now */
            break;
        }
        if (run_now(r) > deadline) {
            rc = run_fail_step(r, st, step_cond_text(st), seen.data ? seen.data : "");
            break;
        }
        if (run_check_health(r, st) < 0) {
            rc = -1;
            break;
        }
        run_sleep_ms(RUNNER_POLL_MS);
    }
    buf_free(&seen);
    return rc;
}

static int step_expect(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    struct buf seen = BUF_INIT;
    int rc = 0;
    if (step_cond(r, &st->expect, &seen, 0))
        buf_printf(detail, "held: %s", seen.data);
    else
        rc = run_fail_step(r, st, step_cond_text(st), seen.data ? seen.data : "");
    buf_free(&seen);
    return rc;
}

/* ---- one step ---- */

/* Carry out st, writing what it did to detail. Returns 0 or -1. */
static int step_dispatch(struct run *r, const struct scenario_step *st, struct buf *detail)
{
    switch (st->kind) {
    case SCENARIO_STEP_APPEND:
        return step_append(r, st, detail);
    case SCENARIO_STEP_SYNC:
        return step_sync(r, st, detail);
    case SCENARIO_STEP_PEER_ADD:
    case SCENARIO_STEP_PEER_REMOVE:
        return step_peer(r, st, detail);
    case SCENARIO_STEP_PARTITION:
        step_partition(r, st, detail);
        return 0;
    case SCENARIO_STEP_CUT:
        step_cut(r, st, detail);
        return 0;
    case SCENARIO_STEP_HEAL:
        step_heal(r, st, detail);
        return 0;
    case SCENARIO_STEP_SLEEP:
        return step_wait(r, st, st->sleep_ms);
    case SCENARIO_STEP_AWAIT:
        return step_await(r, st, detail);
    case SCENARIO_STEP_EXPECT:
        return step_expect(r, st, detail);
    case SCENARIO_STEP_LOG:
        return 0; /* the statement line is the output */
    case SCENARIO_STEP_LOAD:
        return step_load(r, st, detail);
    case SCENARIO_STEP_LATENCY:
    case SCENARIO_STEP_LOSS:
    case SCENARIO_STEP_BANDWIDTH:
    case SCENARIO_STEP_RESET:
    case SCENARIO_STEP_CLEAR:
        return step_link_fault(r, st, detail);
    case SCENARIO_STEP_KILL:
    case SCENARIO_STEP_STOP:
    case SCENARIO_STEP_RESTART:
    case SCENARIO_STEP_PAUSE:
    case SCENARIO_STEP_RESUME:
        return step_node_fault(r, st, detail);
    default:
        /* Refused before the cluster started (scenario_check_kinds). */
        return run_fail(r, RUNNER_BAD, "%s:%u:%u: '%s' is not supported", r->sc->path, st->line,
                        st->col, scenario_step_kind_name(st->kind));
    }
}

int step_run(struct run *r, const struct scenario_step *st)
{
    struct buf detail = BUF_INIT;
    double start = run_now(r);
    if (run_check_health(r, st) < 0)
        return -1;
    run_say(r, 1, "%8.3fs  L%-4u %s\n", start, st->line, st->text);
    events_emit(r->ev, "step",
                json_pack("{s:s, s:i, s:s, s:s}", "action", "start", "line", (int)st->line, "step",
                          scenario_step_kind_name(st->kind), "text", st->text));
    int rc = step_dispatch(r, st, &detail);
    if (rc < 0 && r->step_failure && r->cl) {
        r->step_diagnosis = observe_diagnose(r);
        if (r->diagnosis == NULL)
            r->diagnosis = json_incref(r->step_diagnosis);
    }
    double took = run_now(r) - start;
    const char *text = detail.data ? detail.data : "";
    if (rc < 0 && r->step_failure && detail.len == 0)
        text = json_string_value(json_object_get(r->step_failure, "seen"));
    else if (rc < 0 && r->step_error && detail.len == 0)
        text = r->step_error;
    json_array_append_new(r->steps,
                          json_pack("{s:i, s:s, s:s, s:f, s:f, s:b, s:s}", "line", (int)st->line,
                                    "kind", scenario_step_kind_name(st->kind), "text", st->text,
                                    "start_s", start, "took_s", took, "ok", rc == 0, "detail",
                                    detail.data ? detail.data : ""));
    events_emit(r->ev, "step",
                json_pack("{s:s, s:i, s:s, s:s, s:b, s:s, s:f}", "action", "end", "line",
                          (int)st->line, "step", scenario_step_kind_name(st->kind), "text",
                          st->text, "ok", rc == 0, "detail", text ? text : "", "took_s", took));
    if (rc == 0) {
        struct buf shown = BUF_INIT; /* at scale, per-node lists as ranges (full in the report) */
        if (r->n >= RUN_COMPRESS_NODES)
            run_compress(detail.data, &shown);
        else
            buf_append_str(&shown, detail.data ? detail.data : "");
        run_say(r, 0, "%8.3fs  L%-4u %-44s %s\n", start, st->line, st->text,
                shown.len ? shown.data : (st->kind == SCENARIO_STEP_LOG ? "" : "ok"));
        buf_free(&shown);
    }
    buf_free(&detail);
    return rc;
}

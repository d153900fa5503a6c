/* run: the state of one run and the helpers its modules share (output, failures, health,
 * node sets, links). */
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

double run_now(const struct run *r)
{
    return events_now(r->ev);
}

long run_grace_ms(const struct run *r)
{
    return r->o.grace_ms > 0 ? r->o.grace_ms : CLUSTER_GRACE_MS;
}

void run_say(struct run *r, int level, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.len == 0)
        return;
    events_log(r->ev, b.data);
    if (r->o.verbosity >= level && r->o.out) {
        fputs(b.data, r->o.out);
        fflush(r->o.out);
    }
    buf_free(&b);
}

void run_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int run_fail_step(struct run *r, const struct scenario_step *st, const char *expected,
                  const char *seen)
{
    r->code = RUNNER_FAILED;
    json_decref(r->step_failure);
    r->step_failure =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:f}", "file", r->sc->path, "line", (int)st->line,
                  "text", st->text, "expected", expected, "seen", seen, "at_s", run_now(r));
    if (r->failure == NULL)
        r->failure = json_incref(r->step_failure);
    return -1;
}

int run_fail(struct run *r, int code, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(r->step_error);
    r->step_error = buf_steal(&b, NULL);
    if (r->code == RUNNER_OK || r->error == NULL) {
        free(r->error);
        r->error = xstrdup(r->step_error);
        r->code = code;
    }
    return -1;
}

int run_check_health(struct run *r, const struct scenario_step *st)
{
    if (r->o.interrupted && *r->o.interrupted)
        return run_fail(r, RUNNER_INTERRUPTED, "interrupted");
    int dead = cluster_reap(r->cl);
    if (dead >= 0) {
        char how[64];
        struct buf tail = BUF_INIT;
        cluster_describe_exit(r->cl, (unsigned)dead, how, sizeof(how));
        cluster_log_excerpt(r->cl, (unsigned)dead, &tail);
        run_fail(r, RUNNER_CLUSTER, "n%d %s during the run; the end of %s:\n%s", dead, how,
                 cluster_node(r->cl, (unsigned)dead)->log_path,
                 tail.data ? tail.data : "(empty)\n");
        buf_free(&tail);
        return -1;
    }
    if (run_now(r) > r->deadline_s) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the scenario to finish within its timeout of %.3fs",
                 (double)r->sc->timeout_ms / 1000.0);
        return run_fail_step(r, st, msg, "it was still running at this step");
    }
    return 0;
}

bool run_node_running(const struct run *r, unsigned i)
{
    return cluster_node(r->cl, i)->state == NODE_RUNNING;
}

void run_resolve_all(const struct run *r, const struct nodeset *s, struct nodeset *out)
{
    if (s->all)
        nodeset_fill(out, r->n);
    else
        *out = *s;
}

void run_resolve(const struct run *r, const struct nodeset *s, struct nodeset *out)
{
    struct nodeset running;
    nodeset_clear(&running);
    for (unsigned i = 0; i < r->n; i++) {
        if (run_node_running(r, i))
            nodeset_add(&running, i);
    }
    nodeset_resolve(s, &running, out);
}

struct sockaddr_in *run_node_addrs(const struct run *r)
{
    struct sockaddr_in *addr = xcalloc(r->n ? r->n : 1, sizeof(*addr));
    for (unsigned i = 0; i < r->n; i++)
        addr[i] = cluster_node(r->cl, i)->addr;
    return addr;
}

/* The address from's peer entry for to holds: its link, or with links direct to's own. */
static struct sockaddr_in run_peer_addr(const struct run *r, unsigned from, unsigned to)
{
    struct sockaddr_in a = cluster_node(r->cl, to)->addr;
    if (r->links != NULL && links_peer_addr(r->links, from, to, &a) < 0)
        a.sin_port = 0; /* never linked: a URL the node refuses */
    return a;
}

void run_peer_url(struct run *r, unsigned from, unsigned to, char *out, size_t outsz)
{
    struct sockaddr_in a = run_peer_addr(r, from, to);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
    snprintf(out, outsz, "http://%s:%u", host, ntohs(a.sin_port));
}

void run_links_apply(struct run *r)
{
    if (r->links == NULL)
        return;
    if (partition_has_sides(r->part)) {
        int32_t *side = xcalloc(r->n ? r->n : 1, sizeof(*side));
        uint8_t *bridge = xcalloc(r->n ? r->n : 1, 1);
        for (unsigned i = 0; i < r->n; i++) {
            side[i] = partition_side(r->part, i);
            bridge[i] = partition_is_bridge(r->part, i);
        }
        links_set_sides(r->links, side, bridge);
        free(side);
        free(bridge);
    } else {
        links_set_sides(r->links, NULL, NULL);
    }
    /* Cuts are few: only the links whose cut changed are told. */
    for (size_t i = 0; i < r->nedges; i++) {
        struct edge *e = &r->edges[i];
        bool cut = partition_is_cut(r->part, e->from, e->to);
        if (cut != e->cut) {
            links_set_cut(r->links, e->from, e->to, cut);
            e->cut = cut;
        }
    }
}

int run_link_ensure(struct run *r, unsigned from, unsigned to)
{
    if (r->links == NULL || links_has(r->links, from, to))
        return 0;
    char err[300];
    if (links_add(r->links, from, to, err, sizeof(err)) < 0)
        return run_fail(r, RUNNER_CLUSTER, "link n%u -> n%u: %s", from, to, err);
    if (r->nedges == r->capedges) {
        r->capedges = r->capedges ? r->capedges * 2 : 64;
        r->edges = xrealloc(r->edges, r->capedges * sizeof(*r->edges));
    }
    bool cut = partition_is_cut(r->part, from, to);
    r->edges[r->nedges++] = (struct edge){from, to, 0, cut};
    if (cut)
        links_set_cut(r->links, from, to, true);
    return 0;
}

json_t *run_edge_names(const struct run *r, const bool *mask)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->nedges; i++) {
        if (mask == NULL || mask[i])
            json_array_append_new(arr, json_sprintf("n%u->n%u", r->edges[i].from, r->edges[i].to));
    }
    return arr;
}

json_t *run_edges_json(const struct run *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->nedges; i++) {
        unsigned a = r->edges[i].from, b = r->edges[i].to;
        const struct cluster_node *nd = cluster_node(r->cl, b);
        struct sockaddr_in listen = run_peer_addr(r, a, b);
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &listen.sin_addr, host, sizeof(host));
        json_array_append_new(arr, json_pack("{s:o, s:o, s:i, s:i, s:s, s:s}", "from",
                                             json_sprintf("n%u", a), "to", json_sprintf("n%u", b),
                                             "listen_port", (int)ntohs(listen.sin_port),
                                             "target_port", (int)nd->port, "listen_host", host,
                                             "target_host", nd->host));
    }
    return arr;
}

static const struct {
    unsigned bit;
    const char *name;
} run_fault_kinds[] = {{RUN_FAULT_LATENCY, "latency"},
                       {RUN_FAULT_LOSS, "loss"},
                       {RUN_FAULT_BANDWIDTH, "bandwidth"},
                       {RUN_FAULT_RESET, "reset"}};

json_t *run_fault_names(unsigned mask)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < sizeof(run_fault_kinds) / sizeof(run_fault_kinds[0]); k++) {
        if (mask & run_fault_kinds[k].bit)
            json_array_append_new(arr, json_string(run_fault_kinds[k].name));
    }
    return arr;
}

json_t *run_faults_active(const struct run *r)
{
    json_t *arr = json_array();
    unsigned mask = 0;
    if (partition_has_sides(r->part))
        json_array_append_new(arr, json_string("partition"));
    if (partition_cuts(r->part) > 0)
        json_array_append_new(arr, json_string("cut"));
    for (size_t i = 0; i < r->nedges; i++)
        mask |= r->edges[i].faults;
    json_t *links = run_fault_names(mask);
    json_array_extend(arr, links);
    json_decref(links);
    return arr;
}

json_t *run_faults_json(const struct run *r)
{
    json_t *arr = json_array();
    bool *mask = xcalloc(r->nedges + 1, sizeof(bool));
    if (partition_has_sides(r->part)) {
        struct buf sides = BUF_INIT;
        partition_describe(r->part, &sides);
        for (size_t i = 0; i < r->nedges; i++)
            mask[i] = partition_across(r->part, r->edges[i].from, r->edges[i].to);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "fault", "partition", "sides",
                                             sides.data ? sides.data : "", "links",
                                             run_edge_names(r, mask)));
        buf_free(&sides);
    }
    if (partition_cuts(r->part) > 0) {
        for (size_t i = 0; i < r->nedges; i++)
            mask[i] = partition_is_cut(r->part, r->edges[i].from, r->edges[i].to);
        json_array_append_new(
            arr, json_pack("{s:s, s:o}", "fault", "cut", "links", run_edge_names(r, mask)));
    }
    for (size_t k = 0; k < sizeof(run_fault_kinds) / sizeof(run_fault_kinds[0]); k++) {
        bool any = false;
        for (size_t i = 0; i < r->nedges; i++) {
            mask[i] = (r->edges[i].faults & run_fault_kinds[k].bit) != 0;
            any = any || mask[i];
        }
        if (any)
            json_array_append_new(arr, json_pack("{s:s, s:o}", "fault", run_fault_kinds[k].name,
                                                 "links", run_edge_names(r, mask)));
    }
    free(mask);
    return arr;
}

/* The "nA=V nB=W ..." tail of detail (from its first " nK=" or its start) grouped by value into
 * out: "held: n0=1 n1=1 n2=2" becomes "held: n0-n1=1 n2=2". Returns false (out untouched) when
 * there is no such tail, an item of it is something else, or it has fewer than min_items. */
static bool run_compress_values(const char *detail, size_t min_items, struct buf *out)
{
    const char *tail = detail;
    while (tail && *tail &&
           !(tail[0] == 'n' && tail[1] >= '0' && tail[1] <= '9' &&
             (tail == detail || tail[-1] == ' ')))
        tail++;
    if (tail == NULL || *tail == '\0')
        return false;
    struct group {
        char *value;
        struct nodeset set;
    } *groups = NULL;
    size_t ngroups = 0, items = 0;
    bool ok = true;
    char *copy = xstrdup(tail), *save = NULL;
    for (char *item = strtok_r(copy, " ", &save); ok && item; item = strtok_r(NULL, " ", &save)) {
        unsigned node = 0;
        int used = 0;
        ok = sscanf(item, "n%u=%n", &node, &used) == 1 && used > 0 && node < SIM_MAX_NODES &&
             item[used] != '\0';
        if (!ok)
            break;
        size_t g = 0;
        while (g < ngroups && strcmp(groups[g].value, item + used) != 0)
            g++;
        if (g == ngroups) {
            groups = xrealloc(groups, (ngroups + 1) * sizeof(*groups));
            groups[g].value = item + used;
            nodeset_clear(&groups[g].set);
            ngroups++;
        }
        nodeset_add(&groups[g].set, node);
        items++;
    }
    ok = ok && items >= min_items && items > 0;
    if (ok) {
        buf_append(out, detail, (size_t)(tail - detail));
        for (size_t g = 0; g < ngroups; g++) {
            buf_append_str(out, g ? " " : "");
            nodeset_format(&groups[g].set, out);
            buf_printf(out, "=%s", groups[g].value);
        }
    }
    free(groups);
    free(copy);
    return ok;
}

void run_compress_long(const char *detail, struct buf *out)
{
    if (!run_compress_values(detail, RUN_COMPRESS_NODES, out))
        buf_append_str(out, detail ? detail : "");
}

void run_compress(const char *detail, struct buf *out)
{
    if (run_compress_values(detail, 0, out))
        return;
    struct group {
        char *rest;
        struct nodeset set;
    } *groups = NULL;
    size_t ngroups = 0;
    bool ok = detail && *detail;
    char *copy = xstrdup(detail ? detail : ""), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); ok && item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *sp = strchr(item, ' ');
        unsigned node = 0;
        int used = 0;
        if (item[0] != 'n' || sp == NULL || sscanf(item + 1, "%u%n", &node, &used) != 1 ||
            item + 1 + used != sp || node >= SIM_MAX_NODES) {
            ok = false;
            break;
        }
        size_t g = 0;
        while (g < ngroups && strcmp(groups[g].rest, sp + 1) != 0)
            g++;
        if (g == ngroups) {
            groups = xrealloc(groups, (ngroups + 1) * sizeof(*groups));
            groups[g].rest = sp + 1;
            nodeset_clear(&groups[g].set);
            ngroups++;
        }
        nodeset_add(&groups[g].set, node);
    }
    if (!ok) {
        buf_append_str(out, detail ? detail : "");
    } else {
        for (size_t g = 0; g < ngroups; g++) {
            buf_append_str(out, g ? "; " : "");
            nodeset_format(&groups[g].set, out);
            buf_printf(out, " %s", groups[g].rest);
        }
    }
    free(groups);
    free(copy);
}

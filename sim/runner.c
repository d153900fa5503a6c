/* runner: one scenario run: set-up, steps, tear-down.
 *
 * Design: the run owns every resource (ports, link layer, node processes, probe, record) and
 * releases them on every path through runner_close(). Steps run in order on the run's thread
 * (step.c); the link layer forwards bytes on its own thread and loads append from theirs.
 * Conditions are evaluated by asking the nodes over HTTP (observe.c). Every wait polls with a
 * short period and checks, each time round, for a node that died, Ctrl-C and the scenario's own
 * timeout (run_check_health). Everything that happens is recorded through events.c. */
#include "runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "html.h"
#include "limits.h"
#include "observe.h"
#include "plot.h"
#include "ports.h"
#include "report.h"
#include "run.h"
#include "step.h"
#include "tool.h"
#include "xalloc.h"

#define RUNNER_PRIVATE_NET       1     /* nodes listen on 127.1.0.0/16 (the addresses layout) */
#define RUNNER_PUBLIC_NET        2     /* the link layer listens for them on 127.2.0.0/16 */
#define RUNNER_MAX_ADDRESSED     65536 /* nodes one /16 holds */
#define RUNNER_TASKS_PER_NODE    5     /* a chainlab node's threads, with slack */
#define RUNNER_PROBE_CONNECTIONS 12000 /* the main client's kept connections, at most */
#define RUNNER_BYTES_PER_NODE                                                                      \
    1048576 /* a spawned chainlab node's memory, with slack (make bench) */

/* ---- set-up ---- */

/* RUN_DIR/links.json: every directed edge, rewritten when links were added. */
static void runner_write_links(struct run *r)
{
    if (r->run_dir == NULL || r->cl == NULL || r->nedges == r->nedges_written)
        return;
    char *path = xasprintf("%s/links.json", r->run_dir);
    json_t *arr = run_edges_json(r);
    if (json_dump_file(arr, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0)
        r->nedges_written = r->nedges;
    json_decref(arr);
    free(path);
}

/* RUN_DIR/topology.dot: the topology of the header as a Graphviz graph. */
static void runner_write_dot(struct run *r)
{
    struct buf dot = BUF_INIT;
    char title[300];
    snprintf(title, sizeof(title), "%s: %u nodes, topology %s", r->sc->path, r->n,
             scenario_topology_name(r->sc->topology));
    topology_write_dot(r->topo, title, &dot);
    char *path = xasprintf("%s/topology.dot", r->run_dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fwrite(dot.data, 1, dot.len, f);
        fclose(f);
    }
    free(path);
    buf_free(&dot);
}

static enum topology_kind runner_topology_kind(enum scenario_topology t)
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

/* The topology of the header: the kind's edges, then link/unlink in file order. */
static int runner_build_topology(struct run *r)
{
    const struct scenario *sc = r->sc;
    char err[200];
    if (topology_new((int)r->n, &r->topo, err, sizeof(err)) < 0 ||
        topology_generate(r->topo, runner_topology_kind(sc->topology), sc->topology_arg, &r->rng,
                          err, sizeof(err)) < 0)
        return run_fail(r, RUNNER_BAD, "%s: topology: %s", sc->path, err);
    for (size_t i = 0; i < sc->n_edges; i++) {
        const struct scenario_edge_op *op = &sc->edges[i];
        struct nodeset from, to;
        run_resolve_all(r, &op->from, &from);
        run_resolve_all(r, &op->to, &to);
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
static int runner_wire(struct run *r)
{
    size_t ne = topology_edge_count(r->topo), k = 0;
    struct probe_req *reqs = xcalloc(ne ? ne : 1, sizeof(*reqs));
    char(*urls)[64] = xcalloc(ne ? ne : 1, sizeof(*urls));
    struct topology_edge e = TOPOLOGY_EDGE_START;
    int rc = 0;
    while (topology_next_edge(r->topo, &e)) {
        if (run_link_ensure(r, (unsigned)e.from, (unsigned)e.to) < 0) {
            rc = -1;
            goto out;
        }
        pairset_put(&r->wired, (unsigned)e.from, (unsigned)e.to, 1);
        run_peer_url(r, (unsigned)e.from, (unsigned)e.to, urls[k], sizeof(urls[k]));
        reqs[k] = (struct probe_req){.node = (unsigned)e.from,
                                     .method = "POST",
                                     .path = "/peers",
                                     .body = urls[k],
                                     .len = strlen(urls[k])};
        k++;
    }
    /* POST /peers is idempotent: a request that got no answer (a node the machine did not get to
     * in time, with thousands of nodes on two cores) is sent again, at most RUN_WIRE_TRIES times
     * in all. */
    probe_run(r->probe, reqs, k, RUN_REQUEST_MS);
    for (int attempt = 1; attempt < RUN_WIRE_TRIES; attempt++) {
        size_t again = 0;
        for (size_t j = 0; j < k; j++)
            again += reqs[j].reply.status == 0;
        if (again == 0)
            break;
        run_say(r, 0, "%8.3fs  wiring: %zu of %zu POST /peers got no answer; sending them again\n",
                run_now(r), again, k);
        struct probe_req *retry = xcalloc(again, sizeof(*retry));
        size_t *where = xcalloc(again, sizeof(*where));
        for (size_t j = 0, m = 0; j < k; j++) {
            if (reqs[j].reply.status != 0)
                continue;
            probe_reply_clear(&reqs[j].reply);
            retry[m] = reqs[j];
            retry[m].reply = (struct probe_reply){0};
            where[m++] = j;
        }
        probe_run(r->probe, retry, again, RUN_REQUEST_MS);
        for (size_t m = 0; m < again; m++)
            reqs[where[m]].reply = retry[m].reply;
        free(retry);
        free(where);
    }
    for (size_t j = 0; j < k; j++) {
        if (!probe_reply_ok(&reqs[j].reply) && rc == 0)
            rc = run_fail(r, RUNNER_CLUSTER, "n%u refused peer %s: HTTP %ld %.200s", reqs[j].node,
                          urls[j], reqs[j].reply.status,
                          reqs[j].reply.status ? reqs[j].reply.body.data : reqs[j].reply.err);
        probe_reply_clear(&reqs[j].reply);
    }
out:
    free(reqs);
    free(urls);
    return rc;
}

/* The scenario's file name without folder and .scn, into out. */
static const char *runner_base_name(const char *path, char *out, size_t outsz)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, outsz, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && strcmp(dot, ".scn") == 0)
        *dot = '\0';
    return out;
}

/* mkdir -p path. Returns 0 or -1 (errno set). */
static int runner_make_dirs(const char *path)
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

/* The run folder: made, and the record attached to it. */
static int runner_make_run_dir(struct run *r)
{
    char name[256], err[512];
    runner_base_name(r->sc->path, name, sizeof(name));
    if (r->o.run_dir) {
        r->run_dir = xstrdup(r->o.run_dir);
    } else {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        r->run_dir = xasprintf("%s/%s-%s-%ld", r->o.runs_root ? r->o.runs_root : "runs", name,
                               stamp, (long)getpid());
    }
    if (runner_make_dirs(r->run_dir) < 0)
        return run_fail(r, RUNNER_CLUSTER, "cannot make the run folder %s: %s", r->run_dir,
                        strerror(errno));
    if (events_attach(r->ev, r->run_dir, err, sizeof(err)) < 0)
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    return 0;
}

/* True when node i runs a shell template (its own node-cmd, or --node-cmd) rather than the
 * chainlab-node program. */
static bool runner_node_has_cmd(const struct scenario *sc, const struct runner_opts *o, unsigned i)
{
    return o->node_cmd != NULL || (sc->node_cmds != NULL && sc->node_cmds[i] != NULL);
}

/* How many nodes run the chainlab-node program. */
static unsigned runner_chainlab_nodes(const struct run *r)
{
    unsigned k = 0;
    for (unsigned i = 0; i < r->n; i++)
        k += !runner_node_has_cmd(r->sc, &r->o, i);
    return k;
}

/* The addresses layout, unless asked for ports, or by default when a node runs a template
 * (another implementation cannot be told to connect from its own address) or --base-port. */
static bool runner_use_addresses(const struct scenario *sc, const struct runner_opts *o)
{
    if (o->layout != RUNNER_LAYOUT_AUTO)
        return o->layout == RUNNER_LAYOUT_ADDRESSES;
    if (o->base_port_fixed)
        return false;
    for (unsigned i = 0; i < sc->nodes; i++) {
        if (runner_node_has_cmd(sc, o, i))
            return false;
    }
    return true;
}

/* Refuse a run the machine cannot hold, before anything starts; raise what root may raise. */
static int runner_check_limits(struct run *r)
{
    char done[256], err[512];
    /* A chainlab node is main, the gossip worker and its HTTP threads; a spawned one shares its
     * libraries' pages with the others. Other implementations are not sized: the memory asked
     * for is that of the chainlab nodes, spread over all. */
    unsigned chainlab = runner_chainlab_nodes(r);
    struct limits_need need = {.nodes = r->n,
                               .tasks_per_node = RUNNER_TASKS_PER_NODE,
                               .bytes_per_node = (uint64_t)RUNNER_BYTES_PER_NODE * chainlab / r->n};
    if (r->addresses && r->n > RUNNER_MAX_ADDRESSED)
        return run_fail(r, RUNNER_CLUSTER,
                        "%u nodes: one loopback address each gives at most %u; use fewer nodes",
                        r->n, RUNNER_MAX_ADDRESSED);
    if (limits_prepare(&need, done, sizeof(done), err, sizeof(err)) < 0)
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    if (done[0] != '\0')
        run_say(r, 0, "limits: raised for %u nodes: %s\n", r->n, done);
    return 0;
}

/* Node i's address on the net 127.NET.0.0/16 (node i is 127.NET.(i / 256).(i % 256)) at port. */
static void runner_node_address(unsigned net, unsigned i, uint16_t port, struct sockaddr_in *out)
{
    *out = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
    out->sin_addr.s_addr = htonl(127u << 24 | net << 16 | (i & 0xffffu));
}

/* "on ports P-Q" or "on 127.1.0.0-127.1.0.9 port P", for the output. */
static void runner_describe_addresses(const struct run *r, char *out, size_t outsz)
{
    if (!r->addresses) {
        snprintf(out, outsz, "on ports %u-%u", r->first_port, r->first_port + r->n - 1);
        return;
    }
    snprintf(out, outsz, "on %s-%s port %u", cluster_node(r->cl, 0)->host,
             cluster_node(r->cl, r->n - 1)->host, r->first_port);
}

/* Ports, cluster, probe and link layer; nodes started, ready and wired. */
static int runner_setup(struct run *r)
{
    const struct scenario *sc = r->sc;
    char err[4096];
    if (runner_make_run_dir(r) < 0 || runner_build_topology(r) < 0)
        return -1;
    runner_write_dot(r); /* the topology itself, also when the run cannot start */
    if (runner_check_limits(r) < 0)
        return -1;
    /* Without --base-port, start the search at a place of our own, so that sims started
     * together rarely look at the same ports (and never take the same: ports are held). */
    uint16_t low, high, base = r->o.base_port;
    ports_search_range(&low, &high);
    if (!r->o.base_port_fixed && base == 0)
        base = (uint16_t)(low + ((unsigned)getpid() * 7919u) % ((unsigned)high - low + 1));
    /* Ports: n sequential ports, each held until its node starts. Addresses: one port, held on
     * 127.0.0.1 for the whole run, which every node uses on its own address. */
    unsigned nports = r->addresses ? 1 : r->n;
    int *held = xcalloc(nports, sizeof(int));
    if (ports_reserve(nports, base, r->o.base_port_fixed, &r->first_port, held, err, sizeof(err)) <
        0) {
        free(held);
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    }
    struct sockaddr_in *addr = NULL, *pub = NULL;
    if (r->addresses) {
        r->port_hold = held[0];
        addr = xcalloc(r->n, sizeof(*addr));
        pub = xcalloc(r->n, sizeof(*pub));
        for (unsigned i = 0; i < r->n; i++) {
            runner_node_address(RUNNER_PRIVATE_NET, i, r->first_port, &addr[i]);
            runner_node_address(RUNNER_PUBLIC_NET, i, r->first_port, &pub[i]);
        }
    }
    struct cluster_spec spec = {.n = r->n,
                                .first_port = r->first_port,
                                .addr = addr,
                                .own_address = r->addresses,
                                .advertise = r->addresses && !sc->links_direct ? pub : NULL,
                                .spawn = true,
                                .run_dir = r->run_dir,
                                .node_bin = r->o.node_bin,
                                .node_cmd = r->o.node_cmd,
                                .node_cmds = sc->node_cmds,
                                .node_args = sc->node_args,
                                .grace_ms = r->o.grace_ms,
                                .held_ports = r->addresses ? NULL : held,
                                .events = r->ev};
    r->cl = cluster_new(&spec, err, sizeof(err));
    free(held);
    if (r->cl == NULL) {
        free(addr);
        free(pub);
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    }
    struct sockaddr_in *node_addr = run_node_addrs(r);
    r->probe = probe_new(node_addr, r->n);
    probe_set_cancel(r->probe, r->o.interrupted);
    probe_set_timeout(r->probe, r->o.request_ms);
    /* One kept connection per node, up to what the descriptors allow: wiring sends several
     * requests to each node, and every await asks every node. */
    probe_set_connections(r->probe,
                          r->n < RUNNER_PROBE_CONNECTIONS ? r->n : RUNNER_PROBE_CONNECTIONS);
    int rc = 0;
    if (!sc->links_direct) {
        char *log = xasprintf("%s/links.log", r->run_dir);
        struct links_spec ls = {.layout = r->addresses ? LINKS_PER_TARGET : LINKS_PER_EDGE,
                                .nodes = r->n,
                                .expected_links = topology_edge_count(r->topo),
                                .seed = r->seed,
                                .node_addr = node_addr,
                                .public_addr = pub,
                                .log_path = log,
                                .shards = r->o.link_processes};
        rc = links_new(&ls, &r->links, err, sizeof(err));
        free(log);
    }
    free(node_addr);
    free(addr);
    free(pub);
    if (rc < 0)
        return run_fail(r, RUNNER_CLUSTER, "link layer: %s", err);
    char where[96];
    runner_describe_addresses(r, where, sizeof(where));
    run_say(r, 0, "%s: %u nodes %s, topology %s, seed %" PRIu64 ", %s, logs in %s\n", sc->path,
            r->n, where, scenario_topology_name(sc->topology), r->seed,
            sc->links_direct ? "links direct" : "through links", r->run_dir);
    if (r->links && links_shards(r->links) > 1)
        run_say(r, 0, "%8.3fs  link layer: %u relay processes for %zu links\n", run_now(r),
                links_shards(r->links), topology_edge_count(r->topo));
    for (unsigned i = 0; i < r->n; i++) {
        if (cluster_start(r->cl, i, err, sizeof(err)) < 0)
            return run_fail(r, RUNNER_CLUSTER, "n%u: %s", i, err);
    }
    if (cluster_wait_ready(r->cl, r->probe,
                           CLUSTER_READY_MS + (long)r->n * CLUSTER_READY_MS_PER_NODE, err,
                           sizeof(err)) < 0)
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    if (runner_wire(r) < 0)
        return -1;
    runner_write_links(r);
    r->ready_rss_kib = xcalloc(r->n, sizeof(long));
    for (unsigned i = 0; i < r->n; i++) {
        long peak;
        if (cluster_rss(r->cl, i, &r->ready_rss_kib[i], &peak) < 0)
            r->ready_rss_kib[i] = -1;
    }
    run_say(r, 0, "%8.3fs  ready: %u nodes up, %zu edges wired\n", run_now(r), r->n,
            topology_edge_count(r->topo));
    if ((r->o.sample_ms > 0 || r->o.metrics_ms > 0) &&
        observe_sampler_start(r, r->o.sample_ms, r->o.metrics_ms, err, sizeof(err)) < 0)
        return run_fail(r, RUNNER_CLUSTER, "%s", err);
    return 0;
}

/* The pictures and the page, after the cluster is gone: topology.svg when Graphviz is there, the
 * plots when gnuplot is (always tried with --plots, which warns when they cannot be drawn), and
 * report.html. A picture that cannot be drawn never changes the result. */
static void runner_draw(struct run *r, json_t *result)
{
    char err[1024];
    if (r->run_dir == NULL || r->ev == NULL)
        return;
    if (r->topo && plot_topology(r->run_dir, r->n, err, sizeof(err)) < 0)
        run_say(r, 0, "warning: topology.svg: %s\n", err);
    if ((r->o.plots || tool_exists("gnuplot")) && plot_run_dir(r->run_dir, err, sizeof(err)) < 0)
        run_say(r, r->o.plots ? -1 : 1, "warning: plots: %s\n", err);
    struct buf text = BUF_INIT;
    buf_read_file(&text, r->sc->path);
    if (html_write(r->run_dir, result, text.data, err, sizeof(err)) < 0)
        run_say(r, -1, "warning: %s\n", err);
    buf_free(&text);
}

/* ---- the run ---- */

int runner_open(const struct scenario *sc, const struct runner_opts *o, struct run **out)
{
    struct run *r = xcalloc(1, sizeof(*r));
    r->sc = sc;
    r->o = *o;
    r->n = sc->nodes;
    r->ev = events_new();
    r->seed = o->seed_given ? o->seed : sc->seed;
    rng_seed(&r->rng, r->seed);
    r->deadline_s = (double)sc->timeout_ms / 1000.0;
    r->part = partition_new(r->n);
    r->appends = appends_new();
    r->steps = json_array();
    r->awaits = json_array();
    r->loads_done = json_array();
    r->port_hold = -1;
    r->addresses = runner_use_addresses(sc, o);
    *out = r;
    runner_setup(r);
    return r->code;
}

/* The outcome of step st that step_run() just ran (it recorded it) or refused to start. */
static json_t *runner_outcome(struct run *r, const struct scenario_step *st, size_t recorded,
                              int rc)
{
    json_t *o;
    if (json_array_size(r->steps) > recorded)
        o = json_deep_copy(json_array_get(r->steps, recorded));
    else
        o = json_pack("{s:i, s:s, s:s, s:f, s:f, s:b, s:s}", "line", (int)st->line, "kind",
                      scenario_step_kind_name(st->kind), "text", st->text, "start_s", run_now(r),
                      "took_s", 0.0, "ok", false, "detail", "not run");
    if (rc == 0)
        return o;
    if (r->step_failure) {
        struct buf text = BUF_INIT;
        report_failure_text(r->step_failure, r->step_diagnosis, &text);
        json_object_set(o, "failure", r->step_failure);
        json_object_set(o, "diagnosis", r->step_diagnosis ? r->step_diagnosis : json_null());
        json_object_set_new(o, "message", json_string(text.data));
        buf_free(&text);
    } else {
        json_object_set_new(o, "error", json_string(r->step_error ? r->step_error : "failed"));
    }
    return o;
}

int runner_step(struct run *r, const struct scenario_step *st, json_t **outcome)
{
    json_decref(r->step_failure);
    json_decref(r->step_diagnosis);
    free(r->step_error);
    r->step_failure = r->step_diagnosis = NULL;
    r->step_error = NULL;
    size_t recorded = json_array_size(r->steps);
    int rc = step_run(r, st);
    observe_sampler_update(r);
    runner_write_links(r);
    if (outcome)
        *outcome = runner_outcome(r, st, recorded, rc);
    return rc;
}

void runner_reset_timeout(struct run *r)
{
    r->deadline_s = run_now(r) + (double)r->sc->timeout_ms / 1000.0;
}

const char *runner_run_dir(const struct run *r)
{
    return r->run_dir;
}

json_t *runner_cluster(struct run *r)
{
    json_t *nodes = json_array();
    for (unsigned i = 0; r->cl && i < r->n; i++) {
        const struct cluster_node *nd = cluster_node(r->cl, i);
        json_array_append_new(nodes,
                              json_pack("{s:o, s:o, s:o, s:s}", "name", json_sprintf("n%u", i),
                                        "url", json_sprintf("http://%s:%u", nd->host, nd->port),
                                        "pid", nd->pid > 0 ? json_integer(nd->pid) : json_null(),
                                        "state", cluster_state_name(nd->state)));
    }
    return json_pack("{s:o, s:o, s:o}", "nodes", nodes, "edges",
                     r->cl ? run_edges_json(r) : json_array(), "faults", run_faults_json(r));
}

int runner_code(const struct run *r)
{
    return r->code;
}

struct events *runner_events(struct run *r)
{
    return r->ev;
}

json_t *runner_report(struct run *r)
{
    return report_result(r, NULL);
}

int runner_close(struct run *r, json_t **result)
{
    if (r->code != RUNNER_OK)
        r->stop_loads = 1; /* the run is over: loads stop sending */
    step_loads_join(r);
    observe_sampler_stop(r);
    if (r->cl)
        cluster_reap(r->cl);
    struct buf table = BUF_INIT;
    *result = report_result(r, &table);
    report_print(r, *result, table.data ? table.data : "");
    buf_free(&table);
    if (r->o.keep && r->cl && r->code != RUNNER_INTERRUPTED) {
        char where[96];
        runner_describe_addresses(r, where, sizeof(where));
        run_say(r, -1, "--keep: the cluster stays up %s (logs in %s); Ctrl-C ends it\n", where,
                r->run_dir);
        while (!(r->o.interrupted && *r->o.interrupted))
            run_sleep_ms(100);
    }
    int code = r->code;

    /* Teardown: nodes first (they may be talking through links), then the link layer. */
    cluster_free(r->cl);
    links_free(r->links);
    ports_release(&r->port_hold);
    runner_draw(r, *result);
    probe_free(r->probe);
    topology_free(r->topo);
    appends_free(r->appends);
    partition_free(r->part);
    free(r->edges);
    free(r->ready_rss_kib);
    pairset_free(&r->wired);
    json_decref(r->steps);
    json_decref(r->awaits);
    json_decref(r->loads_done);
    json_decref(r->failure);
    json_decref(r->diagnosis);
    free(r->error);
    json_decref(r->step_failure);
    json_decref(r->step_diagnosis);
    free(r->step_error);
    free(r->run_dir);
    events_end(r->ev);
    events_free(r->ev);
    free(r);
    return code;
}

int runner_run(const struct scenario *sc, const struct runner_opts *o, json_t **result)
{
    struct run *r;
    if (runner_open(sc, o, &r) == RUNNER_OK) {
        for (size_t i = 0; i < sc->n_steps; i++) {
            if (runner_step(r, &sc->steps[i], NULL) < 0)
                break;
        }
    }
    return runner_close(r, result);
}

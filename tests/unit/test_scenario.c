/* Unit tests for sim/scenario.c: every statement's AST, every error's position and message. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "scenario.h"
#include "xalloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_SZ       1024

/* Directory of this file ("tests/unit/"), so data is found when run from the repository root. */
static char *source_dir(void)
{
    const char *slash = strrchr(__FILE__, '/');
    return slash ? xstrndup(__FILE__, (size_t)(slash - __FILE__ + 1)) : xstrdup("./");
}

/* ---- a canonical text form of the AST, so rows can state what they expect ---------------- */

static void dump_string(struct buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            buf_append_str(b, "\\n");
        else if (*s == '\t')
            buf_append_str(b, "\\t");
        else
            buf_append_char(b, *s);
    }
    buf_append_char(b, '"');
}

static void dump_links(struct buf *b, const struct scenario_links *l)
{
    switch (l->kind) {
    case SCENARIO_LINKS_ALL:
        buf_append_str(b, "links=all");
        break;
    case SCENARIO_LINKS_TOUCHING:
        buf_append_str(b, "links=touching:");
        nodeset_format(&l->a, b);
        break;
    case SCENARIO_LINKS_ONE_WAY:
    case SCENARIO_LINKS_BOTH_WAYS:
        buf_append_str(b, "links=");
        nodeset_format(&l->a, b);
        buf_append_str(b, l->kind == SCENARIO_LINKS_ONE_WAY ? "->" : "<->");
        nodeset_format(&l->b, b);
        break;
    }
}

static void dump_cond(struct buf *b, const struct scenario_cond *c)
{
    buf_append_str(b, scenario_cond_kind_name(c->kind));
    switch (c->kind) {
    case SCENARIO_COND_HEIGHT:
    case SCENARIO_COND_PEERS:
        buf_printf(b, " %s %llu", scenario_cmp_name(c->op), (unsigned long long)c->value);
        break;
    case SCENARIO_COND_CONTAINS:
        buf_append_char(b, ' ');
        dump_string(b, c->data);
        break;
    case SCENARIO_COND_LOST:
        buf_printf(b, " %s %llu node=%d", scenario_cmp_name(c->op), (unsigned long long)c->value,
                   c->node);
        return;
    default:
        break;
    }
    buf_append_str(b, " nodes=");
    nodeset_format(&c->nodes, b);
}

static void dump_step(struct buf *b, const struct scenario_step *st)
{
    buf_append_str(b, scenario_step_kind_name(st->kind));
    buf_append_char(b, ' ');
    switch (st->kind) {
    case SCENARIO_STEP_APPEND:
        buf_printf(b, "n%u ", st->append.node);
        if (st->append.data != NULL)
            dump_string(b, st->append.data);
        else
            buf_printf(b, "count=%llu", (unsigned long long)st->append.count);
        break;
    case SCENARIO_STEP_LOAD:
        buf_printf(b, "%llu/s %lldms nodes=", (unsigned long long)st->load.per_s,
                   (long long)st->load.duration_ms);
        nodeset_format(&st->load.nodes, b);
        break;
    case SCENARIO_STEP_SYNC:
    case SCENARIO_STEP_KILL:
    case SCENARIO_STEP_STOP:
    case SCENARIO_STEP_RESTART:
    case SCENARIO_STEP_PAUSE:
    case SCENARIO_STEP_RESUME:
        nodeset_format(&st->nodes, b);
        break;
    case SCENARIO_STEP_PEER_ADD:
    case SCENARIO_STEP_PEER_REMOVE:
        buf_printf(b, "n%u n%u", st->peer.from, st->peer.to);
        break;
    case SCENARIO_STEP_PARTITION:
        buf_append_str(b, scenario_partition_kind_name(st->partition.kind));
        for (size_t i = 0; i < st->partition.n_groups; i++) {
            buf_append_str(b, i == 0 ? " " : "|");
            nodeset_format(&st->partition.groups[i], b);
        }
        break;
    case SCENARIO_STEP_CUT:
        nodeset_format(&st->cut.from, b);
        buf_append_str(b, st->cut.one_way ? " -> " : " <-> ");
        nodeset_format(&st->cut.to, b);
        break;
    case SCENARIO_STEP_HEAL:
        break;
    case SCENARIO_STEP_LATENCY:
        dump_links(b, &st->latency.links);
        buf_printf(b, " %lldms jitter=%lldms", (long long)st->latency.delay_ms,
                   (long long)st->latency.jitter_ms);
        break;
    case SCENARIO_STEP_LOSS:
        dump_links(b, &st->loss.links);
        buf_printf(b, " ppm=%u", (unsigned)st->loss.per_million);
        break;
    case SCENARIO_STEP_BANDWIDTH:
        dump_links(b, &st->bandwidth.links);
        buf_printf(b, " %lluB/s", (unsigned long long)st->bandwidth.bytes_per_s);
        break;
    case SCENARIO_STEP_RESET:
    case SCENARIO_STEP_CLEAR:
        dump_links(b, &st->links);
        break;
    case SCENARIO_STEP_SLEEP:
        buf_printf(b, "%lldms", (long long)st->sleep_ms);
        break;
    case SCENARIO_STEP_AWAIT:
        dump_cond(b, &st->await.cond);
        buf_printf(b, " within=%lldms", (long long)st->await.within_ms);
        break;
    case SCENARIO_STEP_EXPECT:
        dump_cond(b, &st->expect);
        break;
    case SCENARIO_STEP_LOG:
        dump_string(b, st->log_text);
        break;
    case SCENARIO_STEP_KIND_COUNT:
        break;
    }
}

static void dump_words(struct buf *b, char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++) {
        buf_append_str(b, i ? " " : "");
        dump_string(b, words[i]);
    }
}

static bool same_words(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a[i] != NULL && b[i] != NULL; i++) {
        if (strcmp(a[i], b[i]) != 0)
            return false;
    }
    return a[i] == NULL && b[i] == NULL;
}

/* The words of node 0 when every node has the same, else "n0:[...] n1:[...]"; then the node-cmd
 * templates and the parameters, when there are any. */
static void dump_node_args(struct buf *b, const struct scenario *sc)
{
    bool same = true;
    bool cmds = false;

    for (unsigned i = 0; i < sc->nodes; i++) {
        same = same && same_words(sc->node_args[0], sc->node_args[i]);
        cmds = cmds || sc->node_cmds[i] != NULL;
    }
    for (unsigned i = 0; i < (same ? 1 : sc->nodes); i++) {
        if (!same)
            buf_printf(b, "%sn%u:[", i ? " " : "", i);
        dump_words(b, sc->node_args[i]);
        if (!same)
            buf_append_char(b, ']');
    }
    for (unsigned i = 0; cmds && i < sc->nodes; i++) {
        buf_printf(b, "%sn%u=", i ? " " : "] cmds=[", i);
        if (sc->node_cmds[i] != NULL)
            dump_string(b, sc->node_cmds[i]);
        else
            buf_append_str(b, "-");
    }
    for (size_t i = 0; i < sc->n_params; i++) {
        const struct scenario_param *pm = &sc->params[i];
        buf_printf(b, "%s%s=%s(%s @%u:%u)", i ? " " : "] params=[", pm->name, pm->value, pm->origin,
                   pm->line, pm->col);
    }
}

static void dump_header(struct buf *b, const struct scenario *sc)
{
    buf_printf(b, "nodes=%u topology=%s/%u seed=%llu%s timeout=%lldms direct=%d args=[", sc->nodes,
               scenario_topology_name(sc->topology), sc->topology_arg, (unsigned long long)sc->seed,
               sc->seed_given ? "(given)" : "", (long long)sc->timeout_ms, sc->links_direct);
    dump_node_args(b, sc);
    buf_append_str(b, "] edges=[");
    for (size_t i = 0; i < sc->n_edges; i++) {
        const struct scenario_edge_op *e = &sc->edges[i];
        buf_printf(b, "%s%s ", i ? "; " : "", e->remove ? "unlink" : "link");
        nodeset_format(&e->from, b);
        buf_append_str(b, e->one_way ? " -> " : " <-> ");
        nodeset_format(&e->to, b);
        buf_printf(b, " @%u:%u", e->line, e->col);
    }
    buf_append_char(b, ']');
}

/* ---- steps: each row is one statement after "nodes 8" ----------------------------------- */

static const struct {
    const char *stmt;
    const char *ast;
} step_rows[] = {
    {"append n0 \"hello\"", "append n0 \"hello\""},
    {"append n7 \"a\\\"b\\\\c\\nd\\te\"", "append n7 \"a\\\"b\\\\c\\nd\\te\""},
    {"append n1 \"\"", "append n1 \"\""},
    {"append n1 \"# not a comment\" # a comment", "append n1 \"# not a comment\""},
    {"append n2 \"h\xc3\xa9llo \xe2\x82\xac\"", "append n2 \"h\xc3\xa9llo \xe2\x82\xac\""},
    {"append n1 25", "append n1 count=25"},
    {"append n1 10000000", "append n1 count=10000000"},
    {"append n0\"tight\"", "append n0 \"tight\""},
    {"load 50/s for 1.5s", "load 50/s 1500ms nodes=all"},
    {"load 1/s for 2m on n0-n3", "load 1/s 120000ms nodes=n0-n3"},
    {"sync all", "sync all"},
    {"sync n0,n2-n3", "sync n0,n2-n3"},
    {"peer add n0 n5", "peer add n0 n5"},
    {"peer remove n5 n0", "peer remove n5 n0"},
    {"partition n0-n2 | n3-n5", "partition groups n0-n2|n3-n5"},
    {"partition n0-n2|n3|n4,n6", "partition groups n0-n2|n3|n4,n6"},
    {"partition n3", "partition groups n3"},
    {"partition halves", "partition halves"},
    {"partition random-halves", "partition random-halves"},
    {"partition majority", "partition majority"},
    {"partition bridge", "partition bridge"},
    {"cut n0 n1", "cut n0 <-> n1"},
    {"cut n0-n1 -> n2,n3", "cut n0-n1 -> n2-n3"},
    {"cut n0->n1", "cut n0 -> n1"},
    {"cut n4 <-> n5", "cut n4 <-> n5"},
    {"cut n0-n2 n0-n2", "cut n0-n2 <-> n0-n2"},
    {"cut all n3", "cut all <-> n3"},
    {"heal", "heal "},
    {"latency all 100ms", "latency links=all 100ms jitter=0ms"},
    {"latency n0 20ms jitter 5ms", "latency links=touching:n0 20ms jitter=5ms"},
    {"latency n0 -> n1-n2 1s", "latency links=n0->n1-n2 1000ms jitter=0ms"},
    {"latency n1<->n2 0.5s jitter 100ms", "latency links=n1<->n2 500ms jitter=100ms"},
    {"latency all -> n1 0ms", "latency links=all->n1 0ms jitter=0ms"},
    {"loss n0 -> n1 30%", "loss links=n0->n1 ppm=300000"},
    {"loss all 2.5", "loss links=all ppm=25000"},
    {"loss n3 100%", "loss links=touching:n3 ppm=1000000"},
    {"loss n3 0", "loss links=touching:n3 ppm=0"},
    {"loss n3 0.0001%", "loss links=touching:n3 ppm=1"},
    {"bandwidth n3 64KB/s", "bandwidth links=touching:n3 65536B/s"},
    {"bandwidth all 1MB/s", "bandwidth links=all 1048576B/s"},
    {"bandwidth n0 <-> n1 500B/s", "bandwidth links=n0<->n1 500B/s"},
    {"bandwidth all 1.5KB/s", "bandwidth links=all 1536B/s"},
    {"bandwidth all 2GiB/s", "bandwidth links=all 2147483648B/s"},
    {"bandwidth all 1kB/s", "bandwidth links=all 1024B/s"},
    {"reset n0 -> n1", "reset links=n0->n1"},
    {"reset all", "reset links=all"},
    {"clear n0", "clear links=touching:n0"},
    {"clear", "clear links=all"},
    {"kill n7", "kill n7"},
    {"stop n6", "stop n6"},
    {"restart n6-n7", "restart n6-n7"},
    {"pause n1,n3", "pause n1,n3"},
    {"resume all", "resume all"},
    {"sleep 250ms", "sleep 250ms"},
    {"sleep 0ms", "sleep 0ms"},
    {"sleep 0.001s", "sleep 1ms"},
    {"sleep 1.25m", "sleep 75000ms"},
    {"sleep 007s", "sleep 7000ms"},
    {"sleep 43200m", "sleep 2592000000ms"},
    {"await converged within 3s", "await converged nodes=all within=3000ms"},
    {"await diverged n0-n3 within 500ms", "await diverged nodes=n0-n3 within=500ms"},
    {"await height >= 26 on n0,n2 within 10s", "await height >= 26 nodes=n0,n2 within=10000ms"},
    {"await height==2 within 1s", "await height == 2 nodes=all within=1000ms"},
    {"await peers >= 5 on n3 within 2s", "await peers >= 5 nodes=n3 within=2000ms"},
    {"expect peers == 0", "expect peers == 0 nodes=all"},
    {"await contains \"x\\\"y\" on all within 1s",
     "await contains \"x\\\"y\" nodes=all within=1000ms"},
    {"await lost <= 0 on n2 within 2s", "await lost <= 0 node=2 within=2000ms"},
    {"await alive n0-n7 within 5s", "await alive nodes=n0-n7 within=5000ms"},
    {"await down n1 within 5s", "await down nodes=n1 within=5000ms"},
    {"expect converged", "expect converged nodes=all"},
    {"expect converged n0-n5", "expect converged nodes=n0-n5"},
    {"expect diverged", "expect diverged nodes=all"},
    {"expect height != 3", "expect height != 3 nodes=all"},
    {"expect height < 3", "expect height < 3 nodes=all"},
    {"expect height <= 3", "expect height <= 3 nodes=all"},
    {"expect height > 3", "expect height > 3 nodes=all"},
    {"expect height == 0 on n1", "expect height == 0 nodes=n1"},
    {"expect contains \"left\"", "expect contains \"left\" nodes=all"},
    {"expect lost == 1", "expect lost == 1 node=-1"},
    {"expect lost >= 2 on n7", "expect lost >= 2 node=7"},
    {"expect down n7", "expect down nodes=n7"},
    {"expect alive all", "expect alive nodes=all"},
    {"log \"done\\twith \\\\ steps\"", "log \"done\\twith \\\\ steps\""},
    {"\t  sleep   1s   # indented, comment", "sleep 1000ms"},
};

START_TEST(test_step)
{
    struct buf text = BUF_INIT;
    struct buf ast = BUF_INIT;
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    buf_printf(&text, "nodes 8\n%s\n", step_rows[_i].stmt);
    int rc = scenario_parse("t.scn", text.data, text.len, &sc, err, sizeof(err));
    ck_assert_msg(rc == 0, "'%s': %s", step_rows[_i].stmt, err);
    ck_assert_uint_eq(sc->n_steps, 1);
    dump_step(&ast, &sc->steps[0]);
    ck_assert_msg(strcmp(ast.data, step_rows[_i].ast) == 0, "'%s': got [%s], want [%s]",
                  step_rows[_i].stmt, ast.data, step_rows[_i].ast);
    ck_assert_uint_eq(sc->steps[0].line, 2);
    ck_assert_uint_eq(sc->steps[0].col, (unsigned)strspn(step_rows[_i].stmt, " \t") + 1);
    buf_free(&text);
    buf_free(&ast);
    scenario_free(sc);
}
END_TEST

/* ---- header: whole files and the header they give ------------------------------------- */

static const struct {
    const char *text;
    const char *header;
} header_rows[] = {
    {"nodes 3\n", "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] edges=[]"},
    {"nodes 1024", "nodes=1024 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] edges=[]"},
    {"seed 7\ntimeout 2m\nnodes 6\ntopology ring\n",
     "nodes=6 topology=ring/0 seed=7(given) timeout=120000ms direct=0 args=[] edges=[]"},
    {"seed 0\nnodes 2", "nodes=2 topology=none/0 seed=0(given) timeout=60000ms direct=0 args=[] "
                        "edges=[]"},
    {"seed 18446744073709551615\nnodes 2",
     "nodes=2 topology=none/0 seed=18446744073709551615(given) timeout=60000ms direct=0 args=[] "
     "edges=[]"},
    {"nodes 6\ntopology line", "nodes=6 topology=line/0 seed=1 timeout=60000ms direct=0 args=[] "
                               "edges=[]"},
    {"nodes 6\ntopology star", "nodes=6 topology=star/0 seed=1 timeout=60000ms direct=0 args=[] "
                               "edges=[]"},
    {"nodes 6\ntopology star n4", "nodes=6 topology=star/4 seed=1 timeout=60000ms direct=0 "
                                  "args=[] edges=[]"},
    {"nodes 6\ntopology mesh", "nodes=6 topology=mesh/0 seed=1 timeout=60000ms direct=0 args=[] "
                               "edges=[]"},
    {"nodes 6\ntopology tree 2", "nodes=6 topology=tree/2 seed=1 timeout=60000ms direct=0 args=[] "
                                 "edges=[]"},
    {"nodes 6\ntopology grid 3", "nodes=6 topology=grid/3 seed=1 timeout=60000ms direct=0 args=[] "
                                 "edges=[]"},
    {"nodes 6\ntopology random 5", "nodes=6 topology=random/5 seed=1 timeout=60000ms direct=0 "
                                   "args=[] edges=[]"},
    {"nodes 6\ntopology none", "nodes=6 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] "
                               "edges=[]"},
    {"nodes 6\nlinks direct\nsync all",
     "nodes=6 topology=none/0 seed=1 timeout=60000ms direct=1 args=[] edges=[]"},
    {"nodes 6\nlink n0 n1\nlink n1 -> n2\n  unlink n0-n1 all\nlink n3<->n4",
     "nodes=6 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] edges=[link n0 <-> n1 @2:1; "
     "link n1 -> n2 @3:1; unlink n0-n1 <-> all @4:3; link n3 <-> n4 @5:1]"},
    {"node-args --db {dir}/chain.db --name \"node {node}\" --port={port} # raw\nnodes 2",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[\"--db\" \"{dir}/chain.db\" "
     "\"--name\" \"node {node}\" \"--port={port}\"] edges=[]"},
    {"nodes 2\nnode-args -v\nnode-args --x=\"a b\"c \"\" a->b|c<d",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[\"-v\" \"--x=a bc\" \"\" "
     "\"a->b|c<d\"] edges=[]"},
    {"# only comments\n\n   # and blanks\r\nnodes 2 # two\r\n",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] edges=[]"},
    {"\xef\xbb\xbfnodes 2", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] "
                            "edges=[]"},
    {"timeout 1ms\nnodes 2", "nodes=2 topology=none/0 seed=1 timeout=1ms direct=0 args=[] "
                             "edges=[]"},
    /* node-args with node sets, node-cmd */
    {"nodes 3\nnode-args -v\nnode-args n1 --db {dir}/c.db\nnode-args n0,n2 x",
     "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[n0:[\"-v\" \"x\"] "
     "n1:[\"-v\" \"--db\" \"{dir}/c.db\"] n2:[\"-v\" \"x\"]] edges=[]"},
    {"nodes 2\nnode-args all n1", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                  "args=[\"n1\"] edges=[]"},
    {"nodes 2\nnode-args \"n1\" -v", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                     "args=[\"n1\" \"-v\"] edges=[]"},
    {"nodes 3\nnode-args n1-n2 n0", "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                    "args=[n0:[] n1:[\"n0\"] n2:[\"n0\"]] edges=[]"},
    {"node-args all -q\nnodes 2", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                  "args=[\"-q\"] edges=[]"},
    {"nodes 3\nnode-cmd n1 \"python3 node.py {port}\"",
     "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] cmds=[n0=- "
     "n1=\"python3 node.py {port}\" n2=-] edges=[]"},
    {"node-cmd \"x {port}\" # every node\nnodes 2",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] cmds=[n0=\"x {port}\" "
     "n1=\"x {port}\"] edges=[]"},
    /* none: a line that names no node, so that a parameter can switch it off */
    {"param ON none\nnodes 2\nnode-args ${ON} --reappend-orphans\nnode-args -v",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[\"-v\"] "
     "params=[ON=none(default @1:7)] edges=[]"},
    {"nodes 2\nnode-args none --x\nnode-cmd none \"y\"",
     "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 args=[] edges=[]"},
    {"node-args none --x\nnodes 2", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                    "args=[] edges=[]"},
    {"nodes 2\nnode-args \"none\" --x", "nodes=2 topology=none/0 seed=1 timeout=60000ms direct=0 "
                                        "args=[\"none\" \"--x\"] edges=[]"},
    {"nodes 3\nnode-cmd n0 \"a\"\nnode-cmd n1-n2 \"b\"\nnode-args n2 --x",
     "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[n0:[] n1:[] n2:[\"--x\"]] "
     "cmds=[n0=\"a\" n1=\"b\" n2=\"b\"] edges=[]"},
    /* parameters */
    {"param N 3\nparam ARG --verbose\nnodes ${N}\nnode-args ${ARG} \"${ARG}\"",
     "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[\"--verbose\" \"${ARG}\"] "
     "params=[N=3(default @1:7) ARG=--verbose(default @2:7)] edges=[]"},
    {"param S 7\nparam T ring\nparam TO 2s\nseed ${S}\ntimeout ${TO}\nnodes 4\ntopology ${T}",
     "nodes=4 topology=ring/0 seed=7(given) timeout=2000ms direct=0 args=[] params=[S=7(default "
     "@1:7) T=ring(default @2:7) TO=2s(default @3:7)] edges=[]"},
    {"param K 1\nnodes 3\nnode-args n${K} -v\nlink n0 n${K}",
     "nodes=3 topology=none/0 seed=1 timeout=60000ms direct=0 args=[n0:[] n1:[\"-v\"] n2:[]] "
     "params=[K=1(default @1:7)] edges=[link n0 <-> n1 @4:1]"},
};

START_TEST(test_header)
{
    struct buf got = BUF_INIT;
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    int rc = scenario_parse("h.scn", header_rows[_i].text, strlen(header_rows[_i].text), &sc, err,
                            sizeof(err));
    ck_assert_msg(rc == 0, "row %d: %s", _i, err);
    dump_header(&got, sc);
    ck_assert_msg(strcmp(got.data, header_rows[_i].header) == 0, "row %d: got [%s], want [%s]", _i,
                  got.data, header_rows[_i].header);
    ck_assert_str_eq(sc->path, "h.scn");
    buf_free(&got);
    scenario_free(sc);
}
END_TEST

/* ---- errors: FILE:LINE:COL and a part of the message ---------------------------------- */

static const struct {
    const char *text;
    unsigned line, col;
    const char *want;
} error_rows[] = {
    /* nodes and node sets */
    {"nodes 6\nappend n9 \"x\"", 2, 8, "unknown node 'n9' (the scenario has 6 nodes: n0..n5)"},
    {"nodes 6\nsync n0,n9", 2, 9, "unknown node 'n9'"},
    {"nodes 6\nsync n1-n3,n2-n7", 2, 15, "unknown node 'n7'"},
    {"nodes 6\nsync n5-n2", 2, 6, "reversed range 'n5-n2': write 'n2-n5'"},
    {"nodes 6\nkill n01", 2, 6, "no leading zeros"},
    {"nodes 6\nsync n0,,n1", 2, 9, "empty element in node list"},
    {"nodes 6\nsync all,n1", 2, 6, "'all' cannot be part of a node list"},
    {"nodes 6\npause x3", 2, 7, "bad node set 'x3'"},
    {"nodes 6\nsync", 2, 5, "expected a node set after 'sync'"},
    {"nodes 6\nsync n99999999999999", 2, 6, "unknown node 'n99999999999999'"},
    {"nodes 1\nsync n1", 2, 6, "(the scenario has 1 node: n0)"},
    /* order of statements */
    {"nodes 6\nappend n0 \"x\"\ntopology ring", 3, 1, "'topology' must come before the first step"},
    {"nodes 6\nsleep 1s\n\n  seed 3", 4, 3,
     "'seed' must come before the first step ('sleep' on "
     "line 2)"},
    {"nodes 6\nlog \"x\"\nnodes 7", 3, 1, "'nodes' must come before the first step"},
    {"nodes 6\nlog \"x\"\nnode-args -v", 3, 1, "'node-args' must come before the first step"},
    {"append n0 \"x\"\nnodes 3", 1, 1, "'append' before 'nodes'"},
    {"# c\nsleep 1s\nnodes 3", 2, 1, "'sleep' before 'nodes'"},
    {"topology ring\nnodes 3", 1, 1, "'topology' before 'nodes'"},
    {"link n0 n1\nnodes 3", 1, 1, "'link' before 'nodes'"},
    {"nodes 3\nnodes 4", 2, 1, "duplicate 'nodes' (first given on line 1)"},
    {"seed 1\nseed 2\nnodes 1", 2, 1, "duplicate 'seed' (first given on line 1)"},
    {"nodes 3\ntimeout 1s\ntimeout 2s", 3, 1, "duplicate 'timeout'"},
    {"nodes 3\ntopology ring\ntopology line", 3, 1, "duplicate 'topology' (first given on line 2)"},
    {"nodes 3\nlinks direct\nlinks direct", 3, 1, "duplicate 'links'"},
    {"seed 1", 1, 1, "missing 'nodes N'"},
    {"", 1, 1, "missing 'nodes N'"},
    {"# just a comment\n", 1, 1, "missing 'nodes N'"},
    /* numbers */
    {"nodes 0", 1, 7, "bad node count '0': expected a whole number from 1 to 16384"},
    {"nodes 16385", 1, 7, "bad node count '16385'"},
    {"nodes -3", 1, 7, "bad node count '-3': write a whole number from 1 to 16384, without a sign"},
    {"nodes +3", 1, 7, "without a sign"},
    {"nodes 3x", 1, 7, "bad node count '3x'"},
    {"nodes 99999999999999999999999", 1, 7, "too large"},
    {"nodes", 1, 6, "expected the node count after 'nodes'"},
    {"seed -1\nnodes 1", 1, 6, "bad seed '-1'"},
    {"seed 18446744073709551616\nnodes 1", 1, 6, "bad seed '18446744073709551616': too large"},
    {"nodes 3\nexpect height == -1", 2, 18, "bad height '-1'"},
    {"nodes 3\nexpect height == 99999999999999999999", 2, 18, "too large"},
    {"nodes 3\nexpect lost < x", 2, 15, "bad lost count 'x'"},
    {"nodes 3\nappend n0 0", 2, 11, "bad count '0': expected a whole number from 1 to 10000000"},
    {"nodes 3\nappend n0 10000001", 2, 11, "bad count '10000001'"},
    {"nodes 3\nappend n0 -5", 2, 11, "bad count '-5'"},
    /* durations */
    {"nodes 3\nsleep 3x", 2, 7, "bad duration '3x': expected a number followed by ms, s or m"},
    {"nodes 3\nsleep 5", 2, 7, "bad duration '5': missing unit"},
    {"nodes 3\nsleep -1s", 2, 7, "bad duration '-1s': must not be negative"},
    {"nodes 3\nsleep 1.5ms", 2, 7, "not a whole number of milliseconds"},
    {"nodes 3\nsleep 31d", 2, 7, "bad duration '31d'"},
    {"nodes 3\nsleep 43200.001m", 2, 7, "longer than the limit of 30 days"},
    {"nodes 3\nsleep 99999999999999999999s", 2, 7, "longer than the limit"},
    {"nodes 3\nsleep .5s", 2, 7, "bad duration '.5s'"},
    {"nodes 3\nsleep 1.s", 2, 7, "bad duration '1.s'"},
    {"nodes 3\nsleep 1e3ms", 2, 7, "bad duration '1e3ms'"},
    {"nodes 3\nsleep 1S", 2, 7, "bad duration '1S'"},
    {"nodes 3\nsleep", 2, 6, "expected a duration after 'sleep'"},
    {"nodes 3\nsleep \"1s\"", 2, 7, "expected a duration after 'sleep'"},
    {"nodes 3\nawait converged within 3", 2, 24, "missing unit"},
    {"timeout 0s\nnodes 1", 1, 9, "bad timeout '0s': must be more than 0"},
    {"timeout 10\nnodes 1", 1, 9, "bad duration '10'"},
    {"nodes 3\nload 10/s for 0s", 2, 15, "a load must last more than 0"},
    {"nodes 3\nlatency n0 20ms jitter", 2, 23, "expected a duration after 'jitter'"},
    {"nodes 3\nlatency n0 20ms jitter 5", 2, 24, "bad duration '5'"},
    /* strings and lexing */
    {"nodes 3\nlog \"abc", 2, 5, "unterminated string"},
    {"nodes 3\nlog \"abc\\", 2, 5, "unterminated string"},
    {"nodes 3\nlog \"a\\qb\"", 2, 7, "unknown escape '\\q' in string"},
    {"nodes 3\nlog \"a\\0\"", 2, 7, "unknown escape '\\0'"},
    {"nodes 3\nlog \"\xff\"", 2, 5, "string is not valid UTF-8"},
    {"nodes 3\nlog \"\xc0\xaf\"", 2, 5, "not valid UTF-8"},
    {"nodes 3\nlog \"\xed\xa0\x80\"", 2, 5, "not valid UTF-8"},
    {"nodes 3\nlog \"\xe2\x82\"", 2, 5, "not valid UTF-8"},
    {"nodes 3\nlog hello", 2, 5, "expected the text after 'log' (a double-quoted string)"},
    {"nodes 3\nlog", 2, 4, "expected the text after 'log'"},
    {"nodes 3\nlog \"a\" \"b\"", 2, 9, "unexpected '\"b\"' after a complete 'log' statement"},
    {"nodes 6\n| n0", 2, 1, "expected a statement, got '|'"},
    {"nodes 6\n\"log\" x", 2, 1, "expected a statement, got '\"log\"'"},
    {"nodes 3\nnode-args \"abc", 2, 11, "unterminated string"},
    {"nodes 3\nnode-args", 2, 10, "expected at least one argument after 'node-args'"},
    {"nodes 3\nnode-args # nothing", 2, 10, "expected at least one argument"},
    /* unknown words */
    {"nodes 3\nfrobnicate n0", 2, 1, "unknown statement 'frobnicate'"},
    {"nodes 3\n  apend n0 \"x\"", 2, 3, "unknown statement 'apend' (did you mean 'append'?)"},
    {"nodes 3\nNodes 3", 2, 1, "unknown statement 'Nodes' (did you mean 'nodes'?)"},
    {"nodes 3\nexpect heigth == 3", 2, 8, "unknown condition 'heigth'"},
    {"nodes 3\nexpect heigth == 3", 2, 8, "(did you mean 'height'?)"},
    {"nodes 3\nexpect", 2, 7, "expected a condition"},
    {"nodes 6\ntopology rnig", 2, 10, "unknown topology 'rnig'"},
    {"nodes 6\ntopology", 2, 9, "expected a topology"},
    {"nodes 6\nlinks proxied", 2, 7, "expected 'direct' after 'links', got 'proxied'"},
    {"nodes 6\npeer join n0 n1", 2, 6, "expected 'add' or 'remove' after 'peer', got 'join'"},
    /* trailing garbage */
    {"nodes 3 4", 1, 9, "unexpected '4' after a complete 'nodes' statement"},
    {"nodes 3\nheal now", 2, 6, "unexpected 'now' after a complete 'heal' statement"},
    {"nodes 3\nsleep 1s # ok\nsleep 1s extra", 3, 10, "unexpected 'extra'"},
    {"nodes 3\nexpect converged within 3s", 2, 18, "(did you mean 'await'?)"},
    {"nodes 3\nexpect height == 3 n0", 2, 20, "unexpected 'n0'"},
    {"nodes 3\nsync n0 n1", 2, 9, "unexpected 'n1' after a complete 'sync' statement"},
    {"nodes 3\nappend n0 \"x\" 3", 2, 15, "unexpected '3'"},
    {"nodes 6\ntopology ring 3", 2, 15, "unexpected '3' after a complete 'topology' statement"},
    {"nodes 3\nlinks direct please", 2, 14, "unexpected 'please'"},
    /* conditions */
    {"nodes 3\nexpect height = 3", 2, 15, "expected a comparison (==, !=, <, <=, >, >=)"},
    {"nodes 3\nexpect height", 2, 14, "expected a comparison"},
    {"nodes 3\nexpect height ==", 2, 17, "expected the height after '=='"},
    {"nodes 3\nexpect lost => 1", 2, 13, "expected a comparison"},
    {"nodes 3\nawait converged", 2, 16, "expected 'within DURATION' after the condition"},
    {"nodes 3\nawait converged in 3s", 2, 17,
     "expected 'within DURATION' after the condition, "
     "got 'in'"},
    {"nodes 3\nexpect converged on n0-n1", 2, 18, "without 'on'"},
    {"nodes 3\nexpect lost == 1 on n0-n1", 2, 21, "expected a single node like n3, got 'n0-n1'"},
    {"nodes 3\nexpect lost == 1 on all", 2, 21, "expected a single node"},
    {"nodes 3\nexpect lost == 1 on n3", 2, 21, "unknown node 'n3'"},
    {"nodes 3\nexpect alive", 2, 13, "expected a node set after 'alive'"},
    {"nodes 3\nexpect down on n1", 2, 13, "bad node set 'on'"},
    {"nodes 3\nexpect contains hello", 2, 17, "expected the data after 'contains'"},
    {"nodes 3\nexpect height > 1 on", 2, 21, "expected a node set after 'height ... on'"},
    {"nodes 3\nawait diverged n0,n5 within 1s", 2, 19, "unknown node 'n5'"},
    /* append, load, peer */
    {"nodes 3\nappend n0 hello", 2, 11, "expected \"DATA\" (double-quoted) or a COUNT"},
    {"nodes 3\nappend n0", 2, 10, "expected \"DATA\" (double-quoted) or a COUNT"},
    {"nodes 3\nappend n0-n1 \"x\"", 2, 8, "expected a single node like n3, got 'n0-n1'"},
    {"nodes 3\nappend all 5", 2, 8, "expected a single node like n3, got 'all'"},
    {"nodes 3\nappend", 2, 7, "expected a node after 'append'"},
    {"nodes 6\nload 0/s for 1s", 2, 6, "bad rate '0/s': expected 1/s to 1000000/s"},
    {"nodes 6\nload 10 for 1s", 2, 6, "bad rate '10': expected appends per second like 50/s"},
    {"nodes 6\nload 1x/s for 1s", 2, 6, "bad rate '1x/s'"},
    {"nodes 6\nload 10/s 1s", 2, 11, "expected 'for DURATION' after 'load RATE', got '1s'"},
    {"nodes 6\nload 10/s for 1s on", 2, 20, "expected a node set after 'load ... on'"},
    {"nodes 6\nload", 2, 5, "expected a rate like 50/s"},
    {"nodes 6\npeer add n0 n0", 2, 13, "a node cannot be its own peer"},
    {"nodes 6\npeer add n0-n1 n2", 2, 10, "expected a single node like n3, got 'n0-n1'"},
    {"nodes 6\npeer remove n0", 2, 15, "expected a second node after"},
    {"nodes 6\npeer", 2, 5, "expected 'add' or 'remove' after 'peer'"},
    /* partition, cut */
    {"nodes 6\npartition n0-n2 | n2-n5", 2, 19, "node n2 is in two partition groups"},
    {"nodes 6\npartition n0,n4 | n1 | n3-n4", 2, 24, "node n4 is in two partition groups"},
    {"nodes 6\npartition n0-n2 |", 2, 18, "expected a node set after '|'"},
    {"nodes 6\npartition n0-n2 | | n3", 2, 19, "expected a node set after '|'"},
    {"nodes 6\npartition all", 2, 11, "'all' cannot be a partition group"},
    {"nodes 6\npartition n0 | all", 2, 16, "'all' cannot be a partition group"},
    {"nodes 6\npartition", 2, 10, "expected groups of nodes after 'partition'"},
    {"nodes 6\npartition | n0", 2, 11, "expected groups of nodes after 'partition'"},
    {"nodes 6\npartition halves n0", 2, 18, "unexpected 'n0'"},
    {"nodes 6\npartition n0 n1", 2, 14, "unexpected 'n1'"},
    {"nodes 2\npartition bridge", 2, 11, "'partition bridge' needs at least 3 nodes"},
    {"nodes 1\npartition halves", 2, 11, "'partition halves' needs at least 2 nodes"},
    {"nodes 1\npartition majority", 2, 11, "needs at least 2 nodes"},
    {"nodes 6\ncut n0 n0", 2, 8, "'cut' needs two different nodes, got 'n0' twice"},
    {"nodes 6\ncut n0 -> n0", 2, 11, "'cut' needs two different nodes"},
    {"nodes 6\ncut n0", 2, 7, "expected a second node set, '-> B' or '<-> B' after 'cut A'"},
    {"nodes 6\ncut n0 ->", 2, 10, "expected a node set after '->'"},
    {"nodes 6\ncut -> n1", 2, 5, "expected a node set after 'cut'"},
    /* link faults */
    {"nodes 6\nloss n0 150%", 2, 9, "bad loss '150%': expected a percentage from 0 to 100"},
    {"nodes 6\nloss n0 -5%", 2, 9, "bad loss '-5%'"},
    {"nodes 6\nloss n0 abc", 2, 9, "bad loss 'abc'"},
    {"nodes 6\nloss n0 100.0001", 2, 9, "bad loss '100.0001'"},
    {"nodes 6\nloss n0 0.00001%", 2, 9, "at most 4 decimals"},
    {"nodes 6\nloss n0 30%%", 2, 9, "bad loss '30%%'"},
    {"nodes 6\nloss n0", 2, 8, "expected a loss percentage"},
    {"nodes 6\nbandwidth n0 0KB/s", 2, 14, "bad bandwidth '0KB/s': must be at least 1B/s"},
    {"nodes 6\nbandwidth n0 0.5B/s", 2, 14, "must be at least 1B/s"},
    {"nodes 6\nbandwidth n0 64KB", 2, 14,
     "bad bandwidth '64KB': expected a number followed by "
     "B/s, KB/s, MB/s or GB/s"},
    {"nodes 6\nbandwidth n0 64", 2, 14, "bad bandwidth '64'"},
    {"nodes 6\nbandwidth n0 64TB/s", 2, 14, "bad bandwidth '64TB/s'"},
    {"nodes 6\nbandwidth n0 99999999999GB/s", 2, 14, "too large"},
    {"nodes 6\nlatency n0 -> 20ms", 2, 15, "bad node set '20ms'"},
    {"nodes 6\nlatency 20ms", 2, 9, "expected links (all, a node set, A -> B or A <-> B)"},
    {"nodes 6\nlatency n0", 2, 11, "expected a delay after 'latency LINKS'"},
    {"nodes 6\nreset", 2, 6, "expected links after 'reset'"},
    {"nodes 6\nclear n0 n1", 2, 10, "unexpected 'n1' after a complete 'clear' statement"},
    {"nodes 6\nlinks direct\npartition halves", 3, 1,
     "'partition' needs the link layer, but line 2 says 'links direct'"},
    {"links direct\nnodes 6\nsleep 1s\n  latency all 5ms", 4, 3, "'latency' needs the link layer"},
    {"nodes 6\nlinks direct\nheal", 3, 1, "'heal' needs the link layer"},
    /* topology and links */
    {"nodes 6\ntopology tree 0", 2, 15, "bad fanout '0': expected a whole number from 1 to 16384"},
    {"nodes 6\ntopology tree", 2, 14, "expected the fanout after 'topology tree'"},
    {"nodes 6\ntopology grid 0", 2, 15, "bad columns '0'"},
    {"nodes 6\ntopology grid", 2, 14, "expected the columns after 'topology grid'"},
    {"nodes 6\ntopology random 6", 2, 17, "bad degree '6': expected a whole number from 1 to 5"},
    {"nodes 6\ntopology random 0", 2, 17, "bad degree '0'"},
    {"nodes 6\ntopology random", 2, 16, "expected the degree after 'topology random'"},
    {"nodes 1\ntopology random 1", 2, 10, "'topology random' needs at least 2 nodes"},
    {"nodes 6\ntopology star n6", 2, 15, "unknown node 'n6'"},
    {"nodes 6\ntopology star n1-n2", 2, 15, "expected a single node like n3, got 'n1-n2'"},
    {"nodes 6\nlink n0 n0", 2, 9, "'link' needs two different nodes, got 'n0' twice"},
    {"nodes 6\nunlink n1->n1", 2, 12, "'unlink' needs two different nodes"},
    {"nodes 6\nlink n0", 2, 8, "expected a second node set, '-> B' or '<-> B' after 'link A'"},
    {"nodes 6\nlink n0 -> ", 2, 11, "expected a node set after '->'"},
    {"nodes 6\nlink n0 n6", 2, 9, "unknown node 'n6'"},
    {"nodes 6\nlink n0 n1 n2", 2, 12, "unexpected 'n2'"},
    /* parameters */
    {"nodes ${N}", 1, 7, "unknown parameter 'N': declare it in the header with 'param N DEFAULT'"},
    {"param NN 3\nnodes ${N}", 2, 7, "unknown parameter 'N' (did you mean 'NN'?)"},
    {"nodes 3\nparam N x\nsleep ${N}s\nlog \"${N}\"", 3, 7, "bad duration 'xs'"},
    {"param N 3\nparam N 4\nnodes ${N}", 2, 7,
     "duplicate parameter 'N' (first declared on line "
     "1)"},
    {"param N 3\nnodes 3", 1, 7, "parameter 'N' is never used"},
    {"param N 3\nnodes 3\nlog \"${N}\"", 1, 7, "(inside strings ${...} is plain text)"},
    {"param N abc\nnodes ${N}", 2, 7,
     "bad node count 'abc': expected a whole number from 1 to 16384 (where ${N} is 'abc', its "
     "default on line 1)"},
    {"param K 9\nnodes 6\nsync n0-n${K}", 3, 9,
     "unknown node 'n9' (the scenario has 6 nodes: "
     "n0..n5) (where ${K} is '9'"},
    {"param A abc\nparam B 1\nnodes 3\nsync n${B},${A}", 4, 12, "bad node set 'abc'"},
    {"param B 1\nnodes 3\nsync n${B},nx", 3, 12, "bad node set 'nx'"},
    {"param B 1\nnodes 3\nsync n${B},n${B}-n0", 3, 12,
     "reversed range 'n1-n0': write 'n0-n1' (where ${B} is '1', its default on line 1)"},
    {"param D 5\nnodes 3\nsleep ${D}", 3, 7, "bad duration '5': missing unit"},
    {"param R 0\nnodes 3\nload ${R}/s for 1s", 3, 6, "bad rate '0/s'"},
    {"param P 200\nnodes 3\nloss all ${P}%", 3, 10, "bad loss '200%': expected a percentage"},
    {"param P 200\nnodes 3\nloss all ${P}%", 3, 10, "(where ${P} is '200', its default on line 1)"},
    {"nodes 3\nsleep ${D", 2, 7, "unterminated '${'"},
    {"nodes 3\nsleep x${D-1}", 2, 8, "unterminated '${'"},
    {"nodes 3\nsleep ${}", 2, 7, "bad parameter reference: '': the name is empty"},
    {"nodes 3\nsleep ${1x}", 2, 7, "a name starts with a letter or '_'"},
    {"param 1x 3\nnodes 3", 1, 7, "bad parameter name: '1x': a name starts with a letter or '_'"},
    {"param N-1 3\nnodes 3", 1, 7, "a name holds only letters, digits and '_'"},
    {"param N\nnodes 3", 1, 8, "expected the default value after 'param NAME'"},
    {"param\nnodes 3", 1, 6, "expected a parameter name after 'param'"},
    {"param N ${M}\nnodes 3", 1, 9, "a default cannot refer to a parameter"},
    {"param N 3 4\nnodes ${N}", 1, 11, "unexpected '4' after a complete 'param' statement"},
    {"param N \"3\"\nnodes ${N}", 1, 9, "expected the default value after 'param NAME'"},
    {"nodes 3\nappend n0 1\nparam N 1", 3, 1, "'param' must come before the first step"},
    {"nodes 3\nnode-args ${X}", 2, 11, "unknown parameter 'X'"},
    /* node-args and node-cmd with node sets */
    {"nodes 3\nnode-args n3 --x", 2, 11, "unknown node 'n3'"},
    {"nodes 3\nnode-args n2-n0 -v", 2, 11, "reversed range 'n2-n0'"},
    {"node-args n0 --x\nnodes 3", 1, 11, "'node-args n0' before 'nodes'"},
    {"nodes 3\nnode-args n0", 2, 13, "expected at least one argument after 'node-args NODES'"},
    {"nodes 3\nnode-args all", 2, 14, "expected at least one argument after 'node-args NODES'"},
    {"nodes 3\nnode-args none", 2, 15, "expected at least one argument after 'node-args NODES'"},
    {"nodes 3\nnode-cmd none", 2, 14, "expected a command template after 'node-cmd NODES'"},
    {"nodes 3\nexpect peers > x", 2, 16, "bad peer count 'x'"},
    {"nodes 3\nexpect peers 3", 2, 14, "after 'peers'"},
    {"nodes 3\nawait peers >= 2 on n4 within 1s", 2, 21, "unknown node 'n4'"},
    {"nodes 3\nnode-cmd", 2, 9, "expected a node set or a command template after 'node-cmd'"},
    {"nodes 3\nnode-cmd foo", 2, 10,
     "expected a node set or a command template after "
     "'node-cmd' (a double-quoted string), got 'foo'"},
    {"nodes 3\nnode-cmd n0", 2, 12, "expected a command template after 'node-cmd NODES'"},
    {"nodes 3\nnode-cmd n0 \"\"", 2, 13, "the command template is empty"},
    {"nodes 3\nnode-cmd n0 \"a\" b", 2, 17, "unexpected 'b' after the template"},
    {"nodes 3\nnode-cmd n0-n1 \"a\"\nnode-cmd n1 \"b\"", 3, 10,
     "n1 already has a node-cmd (line 2)"},
    {"node-cmd \"a\"\nnodes 3\nnode-cmd n2 \"b\"", 3, 10, "n2 already has a node-cmd (line 1)"},
    {"node-cmd n1 \"a\"\nnodes 3", 1, 10, "'node-cmd n1' before 'nodes'"},
    {"nodes 3\nnode-cmd n5 \"a\"", 2, 10, "unknown node 'n5'"},
    {"nodes 3\nappend n0 1\nnode-cmd \"a\"", 3, 1, "'node-cmd' must come before the first step"},
    /* the position of the offending token on a line with CRLF and comments */
    {"nodes 3\r\n# x\r\n\r\nsleep 2x # y\r\n", 4, 7, "bad duration '2x'"},
};

START_TEST(test_error)
{
    struct scenario *sc = (struct scenario *)1;
    char err[ERR_SZ] = "";
    char where[64];

    int rc = scenario_parse("x.scn", error_rows[_i].text, strlen(error_rows[_i].text), &sc, err,
                            sizeof(err));
    ck_assert_msg(rc == -1, "row %d parsed: [%s]", _i, error_rows[_i].text);
    ck_assert_ptr_null(sc);
    snprintf(where, sizeof(where), "x.scn:%u:%u: ", error_rows[_i].line, error_rows[_i].col);
    ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "row %d [%s]: got \"%s\", want %s", _i,
                  error_rows[_i].text, err, where);
    ck_assert_msg(strstr(err, error_rows[_i].want) != NULL, "row %d [%s]: got \"%s\", want \"%s\"",
                  _i, error_rows[_i].text, err, error_rows[_i].want);
}
END_TEST

/* ---- steps only, in the context of a header (chainlab-sim serve) ------------------------ */

static const struct {
    const char *header;
    const char *text;
    bool ok;
    unsigned line, col; /* ok: the first step's; else the error's */
    const char *want;   /* ok: the first step's text; else a part of the message */
} steps_rows[] = {
    {"nodes 3\n", "append n0 \"x\"\n", true, 1, 1, "append n0 \"x\""},
    {"nodes 3\n", "# a comment\n\n  heal  \nsleep 1s", true, 3, 3, "heal"},
    {"nodes 3\nlinks direct\n", "kill n2", true, 1, 1, "kill n2"},
    {"nodes 3\n", "append n0 \"x\"\n\n  cut n0 n3\n", false, 3, 10, "unknown node 'n3'"},
    {"nodes 3\n", "nodes 4", false, 1, 1, "'nodes' is a header statement"},
    {"nodes 3\n", "heal\ntopology ring", false, 2, 1, "'topology' is a header statement"},
    {"nodes 3\nlinks direct\n", "sleep 1s\npartition n0", false, 2, 1,
     "needs the link layer, but the cluster runs 'links direct'"},
    {"nodes 3\n", "", false, 1, 1, "no step"},
    {"nodes 3\n", "# nothing\n", false, 1, 1, "no step"},
    {"nodes 3\n", "bogus", false, 1, 1, "unknown statement 'bogus'"},
    /* the header's parameters stand in posted steps, with the value in force */
    {"nodes 3\nparam K 1\nsync n${K}\n", "append n${K} \"x\"", true, 1, 1, "append n1 \"x\""},
    {"nodes 3\nparam K 3\nsleep ${K}s\n", "cut n0 n${K}", false, 1, 8,
     "(where ${K} is '3', its default on line 2 of h.scn)"},
    {"nodes 3\nparam K 1\nsync n${K}\n", "sleep ${J}s", false, 1, 7, "unknown parameter 'J'"},
};

START_TEST(test_parse_steps)
{
    struct scenario *header = NULL, *sc = (struct scenario *)1;
    char err[ERR_SZ] = "", where[32];
    const char *h = steps_rows[_i].header, *text = steps_rows[_i].text;

    ck_assert_int_eq(scenario_parse("h.scn", h, strlen(h), &header, err, sizeof(err)), 0);
    int rc = scenario_parse_steps(header, text, strlen(text), &sc, err, sizeof(err));
    if (steps_rows[_i].ok) {
        ck_assert_msg(rc == 0, "row %d: %s", _i, err);
        ck_assert_uint_eq(sc->nodes, header->nodes);
        ck_assert_str_eq(sc->steps[0].text, steps_rows[_i].want);
        ck_assert_uint_eq(sc->steps[0].line, steps_rows[_i].line);
        ck_assert_uint_eq(sc->steps[0].col, steps_rows[_i].col);
    } else {
        ck_assert_msg(rc == -1, "row %d parsed", _i);
        ck_assert_ptr_null(sc);
        snprintf(where, sizeof(where), "%u:%u: ", steps_rows[_i].line, steps_rows[_i].col);
        ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "row %d: got \"%s\", want %s", _i,
                      err, where);
        ck_assert_msg(strstr(err, steps_rows[_i].want) != NULL, "row %d: got \"%s\"", _i, err);
    }
    scenario_free(sc);
    scenario_free(header);
}
END_TEST

/* The scenario of chainlab-sim serve may leave a parameter to the steps posted later. */
START_TEST(test_parse_served)
{
    static const char text[] = "param K 2\nnodes 3\n";
    struct scenario_setting set = {"K", "5", "--set"};
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    ck_assert_int_eq(scenario_parse("s.scn", text, strlen(text), &sc, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "s.scn:1:7: parameter 'K' is never used") == err, "%s", err);
    ck_assert_int_eq(
        scenario_parse_served("s.scn", text, strlen(text), &set, 1, &sc, err, sizeof(err)), 0);
    ck_assert_str_eq(scenario_param_value(sc, "K"), "5");
    scenario_free(sc);
    set.name = "J"; /* a setting still names a parameter */
    ck_assert_int_eq(
        scenario_parse_served("s.scn", text, strlen(text), &set, 1, &sc, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "s.scn: --set J=5: the scenario has no parameter 'J'") == err, "%s",
                  err);
}
END_TEST

/* ---- parameters with settings from outside (--set, --sweep) ---------------------------- */

/* Split "A=1,B=x y" into settings with origin "--set" (pointers into buf, which is modified). */
static size_t split_settings(char *buf, struct scenario_setting *out, size_t cap)
{
    size_t n = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL && n < cap;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        *eq = '\0';
        out[n++] = (struct scenario_setting){item, eq + 1, "--set"};
    }
    return n;
}

static const char param_file[] = "param N 4\n"
                                 "param LAT 10ms\n"
                                 "param K 2\n"
                                 "nodes ${N}\n"
                                 "latency all ${LAT}\n"
                                 "partition n0-n${K} | n3\n"
                                 "load ${N}0/s for ${LAT} # rate from a parameter\n"
                                 "await height >= ${K} on n${K}   within 1s\n";

static const struct {
    const char *text;
    const char *sets;
    const char *steps; /* every step's dump, "; " between */
    const char *last;  /* the last step's text */
} param_rows[] = {
    {param_file, "",
     "nodes=4 params=N=4/default,LAT=10ms/default,K=2/default | latency links=all 10ms jitter=0ms; "
     "partition groups n0-n2|n3; load 40/s 10ms nodes=all; await height >= 2 nodes=n2 "
     "within=1000ms",
     "await height >= 2 on n2   within 1s"},
    {param_file, "N=6,K=1",
     "nodes=6 params=N=6/--set,LAT=10ms/default,K=1/--set | latency links=all 10ms jitter=0ms; "
     "partition groups n0-n1|n3; load 60/s 10ms nodes=all; await height >= 1 nodes=n1 "
     "within=1000ms",
     "await height >= 1 on n1   within 1s"},
    {param_file, "LAT=1.5s,K=0,N=10",
     "nodes=10 params=N=10/--set,LAT=1.5s/--set,K=0/--set | latency links=all 1500ms jitter=0ms; "
     "partition groups n0|n3; load 100/s 1500ms nodes=all; await height >= 0 nodes=n0 "
     "within=1000ms",
     "await height >= 0 on n0   within 1s"},
    {"param W n1\nparam S n0,n2\nnodes 3\nappend ${W} \"${W}\"\ncut ${S} -> ${W}\nsync ${S}",
     "W=n2",
     "nodes=3 params=W=n2/--set,S=n0,n2/default | append n2 \"${W}\"; cut n0,n2 -> n2; sync n0,n2",
     "sync n0,n2"},
};

START_TEST(test_params)
{
    struct scenario_setting sets[8];
    char buf[256];
    struct buf got = BUF_INIT;
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    snprintf(buf, sizeof(buf), "%s", param_rows[_i].sets);
    size_t n = split_settings(buf, sets, 8);
    int rc = scenario_parse_with("p.scn", param_rows[_i].text, strlen(param_rows[_i].text), sets, n,
                                 &sc, err, sizeof(err));
    ck_assert_msg(rc == 0, "row %d: %s", _i, err);
    buf_printf(&got, "nodes=%u params=", sc->nodes);
    for (size_t i = 0; i < sc->n_params; i++)
        buf_printf(&got, "%s%s=%s/%s", i ? "," : "", sc->params[i].name, sc->params[i].value,
                   sc->params[i].origin);
    buf_append_str(&got, " | ");
    for (size_t i = 0; i < sc->n_steps; i++) {
        buf_append_str(&got, i ? "; " : "");
        dump_step(&got, &sc->steps[i]);
    }
    ck_assert_msg(strcmp(got.data, param_rows[_i].steps) == 0, "row %d: got [%s], want [%s]", _i,
                  got.data, param_rows[_i].steps);
    ck_assert_str_eq(sc->steps[sc->n_steps - 1].text, param_rows[_i].last);
    ck_assert_str_eq(scenario_param_value(sc, sc->params[0].name), sc->params[0].value);
    ck_assert_ptr_null(scenario_param_value(sc, "NOPE"));
    buf_free(&got);
    scenario_free(sc);
}
END_TEST

static const struct {
    const char *text;
    const char *sets;
    const char *want; /* the whole message */
} setting_error_rows[] = {
    {"param N 3\nnodes ${N}", "M=4",
     "x.scn: --set M=4: the scenario has no parameter 'M' (it has N)"},
    {"param N 3\nparam M2 1\nnodes ${N}\nsleep ${M2}s", "M=4",
     "x.scn: --set M=4: the scenario has no parameter 'M' (it has N, M2)"},
    {"nodes 3", "M=4",
     "x.scn: --set M=4: the scenario declares no parameters (write 'param M DEFAULT' in its "
     "header)"},
    {"param N 3\nnodes ${N}", "N=4,N=5",
     "x.scn: --set N=5: 'N' is also given by --set N=4: give it once"},
    {"param N 3\nnodes ${N}", "N=a b",
     "x.scn: --set N=a b: a value is one word: no blanks, '#', '\"', '|', '<', '>', '=', '!' or "
     "'->'"},
    {"param N 3\nnodes ${N}", "N=a->b", "x.scn: --set N=a->b: a value is one word"},
    {"param N 3\nnodes ${N}", "N=", "x.scn: --set N=: the value is empty"},
    {"param N 3\nnodes ${N}", "N=${M}", "x.scn: --set N=${M}: a value cannot refer to a parameter"},
    {"param N 3\nnodes ${N}", "1N=3",
     "x.scn: --set 1N=3: '1N': a name starts with a letter or '_'"},
    {"param N 3\nnodes ${N}", "N=0",
     "x.scn:2:7: bad node count '0': expected a whole number from 1 to 16384 (where ${N} is '0', "
     "from --set)"},
    {"param N 3\nparam D 1s\nnodes ${N}\nsleep ${D}", "D=1x",
     "x.scn:4:7: bad duration '1x': expected a number followed by ms, s or m (where ${D} is "
     "'1x', from --set)"},
    {"param N 3\nnodes 3", "N=4", "x.scn:1:7: parameter 'N' is never used"},
};

START_TEST(test_setting_error)
{
    struct scenario_setting sets[8];
    char buf[256];
    struct scenario *sc = (struct scenario *)1;
    char err[ERR_SZ] = "";

    snprintf(buf, sizeof(buf), "%s", setting_error_rows[_i].sets);
    size_t n = split_settings(buf, sets, 8);
    int rc =
        scenario_parse_with("x.scn", setting_error_rows[_i].text,
                            strlen(setting_error_rows[_i].text), sets, n, &sc, err, sizeof(err));
    ck_assert_msg(rc == -1, "row %d parsed", _i);
    ck_assert_ptr_null(sc);
    ck_assert_msg(strncmp(err, setting_error_rows[_i].want, strlen(setting_error_rows[_i].want)) ==
                      0,
                  "row %d: got \"%s\", want \"%s\"", _i, err, setting_error_rows[_i].want);
}
END_TEST

static const struct {
    const char *text;
    int ok;
} value_rows[] = {
    {"10", 1},   {"20ms", 1}, {"n0-n2", 1},    {"n0,n3-n5", 1}, {"50/s", 1}, {"--db={dir}/x", 0},
    {"", 0},     {"a b", 0},  {"a#b", 0},      {"\"x\"", 0},    {"a|b", 0},  {"a<b", 0},
    {"a>b", 0},  {"a=b", 0},  {"a!b", 0},      {"a->b", 0},     {"${X}", 0}, {"a\tb", 0},
    {"a\nb", 0}, {"-x", 1},   {"\xc3\xa9", 1},
};

START_TEST(test_check_value)
{
    char err[128] = "";
    int rc =
        scenario_check_value(value_rows[_i].text, strlen(value_rows[_i].text), err, sizeof(err));
    ck_assert_msg((rc == 0) == value_rows[_i].ok, "'%s': %d %s", value_rows[_i].text, rc, err);
    ck_assert_int_eq(scenario_check_value(value_rows[_i].text, 0, NULL, 0), -1);
}
END_TEST

/* ---- the example file with every statement -------------------------------------------- */

static const struct {
    unsigned line;
    enum scenario_step_kind kind;
} all_steps[] = {
    {12, SCENARIO_STEP_APPEND},    {13, SCENARIO_STEP_APPEND},    {14, SCENARIO_STEP_LOAD},
    {15, SCENARIO_STEP_SYNC},      {16, SCENARIO_STEP_PEER_ADD},  {17, SCENARIO_STEP_PEER_REMOVE},
    {18, SCENARIO_STEP_KILL},      {19, SCENARIO_STEP_STOP},      {20, SCENARIO_STEP_RESTART},
    {21, SCENARIO_STEP_PAUSE},     {22, SCENARIO_STEP_RESUME},    {23, SCENARIO_STEP_SLEEP},
    {24, SCENARIO_STEP_AWAIT},     {25, SCENARIO_STEP_AWAIT},     {26, SCENARIO_STEP_AWAIT},
    {27, SCENARIO_STEP_AWAIT},     {28, SCENARIO_STEP_AWAIT},     {29, SCENARIO_STEP_AWAIT},
    {30, SCENARIO_STEP_EXPECT},    {31, SCENARIO_STEP_EXPECT},    {32, SCENARIO_STEP_EXPECT},
    {33, SCENARIO_STEP_EXPECT},    {34, SCENARIO_STEP_EXPECT},    {35, SCENARIO_STEP_PARTITION},
    {36, SCENARIO_STEP_PARTITION}, {37, SCENARIO_STEP_PARTITION}, {38, SCENARIO_STEP_PARTITION},
    {39, SCENARIO_STEP_PARTITION}, {40, SCENARIO_STEP_CUT},       {41, SCENARIO_STEP_CUT},
    {42, SCENARIO_STEP_CUT},       {43, SCENARIO_STEP_HEAL},      {44, SCENARIO_STEP_LATENCY},
    {45, SCENARIO_STEP_LATENCY},   {46, SCENARIO_STEP_LATENCY},   {47, SCENARIO_STEP_LATENCY},
    {48, SCENARIO_STEP_LOSS},      {49, SCENARIO_STEP_LOSS},      {50, SCENARIO_STEP_BANDWIDTH},
    {51, SCENARIO_STEP_BANDWIDTH}, {52, SCENARIO_STEP_BANDWIDTH}, {53, SCENARIO_STEP_RESET},
    {54, SCENARIO_STEP_RESET},     {55, SCENARIO_STEP_CLEAR},     {56, SCENARIO_STEP_CLEAR},
    {57, SCENARIO_STEP_LOG},
};

START_TEST(test_all_statements_file)
{
    char *dir = source_dir();
    struct buf path = BUF_INIT;
    struct buf got = BUF_INIT;
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";
    unsigned seen = 0;

    buf_printf(&path, "%sdata/all-statements.scn", dir);
    ck_assert_msg(scenario_load(path.data, &sc, err, sizeof(err)) == 0, "%s", err);
    dump_header(&got, sc);
    ck_assert_str_eq(got.data,
                     "nodes=8 topology=tree/2 seed=42(given) timeout=120000ms direct=0 "
                     "args=[\"--db\" \"{dir}/chain.db\" \"--name\" \"node {node}\" "
                     "\"--port={port}\"] cmds=[n0=- n1=- n2=- n3=- n4=- n5=- n6=- "
                     "n7=\"chainlab-node {port} --id {node}\"] params=[SEED=42(default @2:7)] "
                     "edges=[link n0 <-> n7 @5:1; link n1 -> n6 @6:1; unlink n0-n1 <-> n2 @7:1]");
    ck_assert_uint_eq(sc->n_steps, ARRAY_LEN(all_steps));
    for (size_t i = 0; i < sc->n_steps; i++) {
        ck_assert_uint_eq(sc->steps[i].line, all_steps[i].line);
        ck_assert_int_eq(sc->steps[i].kind, all_steps[i].kind);
        ck_assert_uint_eq(sc->steps[i].col, 1);
        seen |= SCENARIO_STEP_BIT(sc->steps[i].kind);
    }
    ck_assert_uint_eq(seen, SCENARIO_STEP_ALL_BITS); /* every kind of step is in the file */
    ck_assert_str_eq(sc->steps[0].text, "append n0 \"hello \\\"world\\\"\\n\"");
    ck_assert_str_eq(sc->steps[0].append.data, "hello \"world\"\n");
    ck_assert_str_eq(sc->steps[sc->n_steps - 1].log_text, "done\twith \\ steps");
    ck_assert_ptr_nonnull(strstr(sc->path, "all-statements.scn"));
    scenario_free(sc);
    buf_free(&got);
    buf_free(&path);
    free(dir);
}
END_TEST

/* ---- the malformed fixtures for the integration tests: each states its own error -------- */

START_TEST(test_bad_scenarios_dir)
{
    char *dir = source_dir();
    struct buf path = BUF_INIT;
    struct dirent *de;
    DIR *d;
    unsigned files = 0;

    buf_printf(&path, "%s../integration/bad_scenarios", dir);
    d = opendir(path.data);
    ck_assert_msg(d != NULL, "cannot open %s", path.data);
    while ((de = readdir(d)) != NULL) {
        struct buf file = BUF_INIT;
        struct scenario *sc = NULL;
        char err[ERR_SZ] = "";
        char first[512] = "";
        char where[64];
        unsigned line = 0, col = 0;
        int consumed = 0;
        size_t n = strlen(de->d_name);
        FILE *f;

        if (n < 4 || strcmp(de->d_name + n - 4, ".scn") != 0)
            continue;
        buf_printf(&file, "%s/%s", path.data, de->d_name);
        f = fopen(file.data, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(first, sizeof(first), f));
        fclose(f);
        first[strcspn(first, "\n")] = '\0';
        ck_assert_msg(sscanf(first, "# error: %u:%u %n", &line, &col, &consumed) == 2 &&
                          consumed > 0 && first[consumed] != '\0',
                      "%s: first line must be '# error: LINE:COL text', got '%s'", de->d_name,
                      first);
        ck_assert_msg(scenario_load(file.data, &sc, err, sizeof(err)) == -1, "%s parsed",
                      de->d_name);
        snprintf(where, sizeof(where), "%s:%u:%u: ", file.data, line, col);
        ck_assert_msg(strncmp(err, where, strlen(where)) == 0, "%s: got \"%s\", want %s",
                      de->d_name, err, where);
        ck_assert_msg(strstr(err, first + consumed) != NULL, "%s: got \"%s\", want \"%s\"",
                      de->d_name, err, first + consumed);
        buf_free(&file);
        files++;
    }
    closedir(d);
    ck_assert_uint_ge(files, 18);
    buf_free(&path);
    free(dir);
}
END_TEST

/* ---- the rest of the API -------------------------------------------------------------- */

START_TEST(test_check_kinds)
{
    static const char text[] = "nodes 3\nsleep 1s\nlog \"x\"\n\n   kill n1\nsync all\n";
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";
    unsigned basic = SCENARIO_STEP_BIT(SCENARIO_STEP_SLEEP) | SCENARIO_STEP_BIT(SCENARIO_STEP_LOG) |
                     SCENARIO_STEP_BIT(SCENARIO_STEP_SYNC);

    ck_assert_int_eq(scenario_parse("k.scn", text, strlen(text), &sc, err, sizeof(err)), 0);
    ck_assert_int_eq(scenario_check_kinds(sc, SCENARIO_STEP_ALL_BITS, err, sizeof(err)), 0);
    ck_assert_int_eq(
        scenario_check_kinds(sc, basic | SCENARIO_STEP_BIT(SCENARIO_STEP_KILL), err, sizeof(err)),
        0);
    ck_assert_int_eq(scenario_check_kinds(sc, basic, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "k.scn:5:4: 'kill' is not supported yet");
    ck_assert_int_eq(scenario_check_kinds(sc, 0, NULL, 0), -1);
    scenario_free(sc);
}
END_TEST

START_TEST(test_names)
{
    static const char *const cmps[] = {"==", "!=", "<", "<=", ">", ">="};

    for (int k = 0; k < SCENARIO_STEP_KIND_COUNT; k++)
        ck_assert_str_ne(scenario_step_kind_name((enum scenario_step_kind)k), "?");
    ck_assert_str_eq(scenario_step_kind_name(SCENARIO_STEP_PEER_REMOVE), "peer remove");
    ck_assert_str_eq(scenario_step_kind_name(SCENARIO_STEP_KIND_COUNT), "?");
    ck_assert_str_eq(scenario_step_kind_name((enum scenario_step_kind) - 1), "?");
    for (size_t k = 0; k < ARRAY_LEN(cmps); k++)
        ck_assert_str_eq(scenario_cmp_name((enum scenario_cmp)k), cmps[k]);
    ck_assert_str_eq(scenario_cmp_name((enum scenario_cmp)99), "?");
    ck_assert_str_eq(scenario_cond_kind_name(SCENARIO_COND_DOWN), "down");
    ck_assert_str_eq(scenario_topology_name(SCENARIO_TOPOLOGY_RANDOM), "random");
    ck_assert_str_eq(scenario_partition_kind_name(SCENARIO_PARTITION_RANDOM_HALVES),
                     "random-halves");
    ck_assert(scenario_step_kind_is_fault(SCENARIO_STEP_CLEAR));
    ck_assert(!scenario_step_kind_is_fault(SCENARIO_STEP_KILL));
}
END_TEST

static const struct {
    enum scenario_cmp op;
    uint64_t lhs, rhs;
    bool holds;
} cmp_rows[] = {
    {SCENARIO_CMP_EQ, 3, 3, true},  {SCENARIO_CMP_EQ, 3, 4, false}, {SCENARIO_CMP_NE, 3, 4, true},
    {SCENARIO_CMP_NE, 3, 3, false}, {SCENARIO_CMP_LT, 3, 4, true},  {SCENARIO_CMP_LT, 4, 4, false},
    {SCENARIO_CMP_LE, 4, 4, true},  {SCENARIO_CMP_LE, 5, 4, false}, {SCENARIO_CMP_GT, 5, 4, true},
    {SCENARIO_CMP_GT, 4, 4, false}, {SCENARIO_CMP_GE, 4, 4, true},  {SCENARIO_CMP_GE, 3, 4, false},
};

START_TEST(test_cmp_holds)
{
    ck_assert(scenario_cmp_holds(cmp_rows[_i].op, cmp_rows[_i].lhs, cmp_rows[_i].rhs) ==
              cmp_rows[_i].holds);
}
END_TEST

START_TEST(test_step_text_and_positions)
{
    static const char text[] = "nodes 4 # four\n\n\t append n1 \"a # b\"   # note\nsleep 1s";
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    ck_assert_int_eq(scenario_parse(NULL, text, strlen(text), &sc, err, sizeof(err)), 0);
    ck_assert_str_eq(sc->path, "<input>");
    ck_assert_uint_eq(sc->n_steps, 2);
    ck_assert_str_eq(sc->steps[0].text, "append n1 \"a # b\"");
    ck_assert_uint_eq(sc->steps[0].line, 3);
    ck_assert_uint_eq(sc->steps[0].col, 3);
    ck_assert_str_eq(sc->steps[0].append.data, "a # b");
    ck_assert_str_eq(sc->steps[1].text, "sleep 1s");
    ck_assert_uint_eq(sc->steps[1].line, 4);
    scenario_free(sc);
}
END_TEST

/* Only len bytes are read, and errors without a buffer are still reported by the return code. */
START_TEST(test_len_and_null_err)
{
    static const char text[] = "nodes 2\nsleep 1s\nbogus";
    struct scenario *sc = NULL;
    char *copy = xmemdup(text, strlen("nodes 2\nsleep 1s"));

    ck_assert_int_eq(scenario_parse("l.scn", copy, strlen(copy), &sc, NULL, 0), 0);
    ck_assert_uint_eq(sc->n_steps, 1);
    scenario_free(sc);
    ck_assert_int_eq(scenario_parse("l.scn", text, strlen(text), &sc, NULL, 0), -1);
    ck_assert_ptr_null(sc);
    scenario_free(NULL);
    free(copy);
}
END_TEST

/* A NUL byte in the text is an error at its own column, not the end of the text. */
START_TEST(test_nul_byte)
{
    static const char text[] = "nodes 3\nlog \"a\0b\"\n";
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    ck_assert_int_eq(scenario_parse("n.scn", text, sizeof(text) - 1, &sc, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "n.scn:2:7: NUL byte in the scenario text");
}
END_TEST

START_TEST(test_error_buffer_truncates)
{
    static const char text[] = "nodes 2\nfrobnicate";
    struct scenario *sc = NULL;
    char err[16];

    ck_assert_int_eq(scenario_parse("t.scn", text, strlen(text), &sc, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "t.scn:2:1: unkn");
}
END_TEST

START_TEST(test_load_missing_file)
{
    struct scenario *sc = (struct scenario *)1;
    char err[ERR_SZ] = "";

    ck_assert_int_eq(scenario_load("/nonexistent/dir/x.scn", &sc, err, sizeof(err)), -1);
    ck_assert_ptr_null(sc);
    ck_assert_str_eq(err, "/nonexistent/dir/x.scn: cannot read: No such file or directory");
    ck_assert_int_eq(scenario_load("/", &sc, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/: cannot read: "));
}
END_TEST

/* A long scenario: many steps, many node-args, big node sets. */
START_TEST(test_many_steps)
{
    struct buf text = BUF_INIT;
    struct scenario *sc = NULL;
    char err[ERR_SZ] = "";

    buf_append_str(&text, "nodes 1024\ntopology random 1023\n");
    for (int i = 0; i < 100; i++)
        buf_printf(&text, "node-args --a%d \"x %d\"\n", i, i);
    for (int i = 0; i < 5000; i++)
        buf_printf(&text, "append n%d \"payload %d\"\nsync n0-n1023\n", i % 1024, i);
    ck_assert_int_eq(scenario_parse("m.scn", text.data, text.len, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc->n_steps, 10000);
    ck_assert_str_eq(sc->node_args[0][199], "x 99");
    ck_assert_ptr_null(sc->node_args[0][200]);
    ck_assert_str_eq(sc->node_args[1023][198], "--a99");
    ck_assert_ptr_null(sc->node_args[1023][200]);
    ck_assert_uint_eq(nodeset_count(&sc->steps[1].nodes), 1024);
    ck_assert_uint_eq(sc->steps[9998].append.node, 4999 % 1024);
    scenario_free(sc);
    buf_free(&text);
}
END_TEST

static Suite *scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("ast");

    tcase_add_loop_test(tc, test_step, 0, ARRAY_LEN(step_rows));
    tcase_add_loop_test(tc, test_header, 0, ARRAY_LEN(header_rows));
    tcase_add_test(tc, test_all_statements_file);
    tcase_add_test(tc, test_step_text_and_positions);
    tcase_add_test(tc, test_many_steps);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_loop_test(tc, test_params, 0, ARRAY_LEN(param_rows));
    tcase_add_loop_test(tc, test_setting_error, 0, ARRAY_LEN(setting_error_rows));
    tcase_add_loop_test(tc, test_check_value, 0, ARRAY_LEN(value_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_error, 0, ARRAY_LEN(error_rows));
    tcase_add_test(tc, test_bad_scenarios_dir);
    tcase_add_test(tc, test_len_and_null_err);
    tcase_add_test(tc, test_error_buffer_truncates);
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_loop_test(tc, test_parse_steps, 0, ARRAY_LEN(steps_rows));
    tcase_add_test(tc, test_parse_served);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_check_kinds);
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_cmp_holds, 0, ARRAY_LEN(cmp_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scenario_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

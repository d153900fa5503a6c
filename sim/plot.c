/* plot: charts of a run with gnuplot, the topology with Graphviz. */
#include "plot.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "events.h"
#include "tool.h"
#include "xalloc.h"

#define PLOT_KINDS_MAX 16 /* fault kinds tracked for shading */
#define PLOT_BINS      60 /* bins of the rate chart */

int plot_render(const char *base, int width, int height, const char *script,
                const struct plot_data *data, size_t ndata, char *err, size_t errsz)
{
    struct buf in = BUF_INIT;
    for (size_t i = 0; i < ndata; i++)
        buf_printf(&in, "$%s << EOD\n%sEOD\n", data[i].name, data[i].text ? data[i].text : "");
    buf_printf(&in, "set terminal pngcairo size %d,%d font 'sans,9' background rgb 'white'\n",
               width, height);
    buf_printf(&in, "set output '%s.png'\n%s\n", base, script);
    buf_printf(&in, "set terminal svg size %d,%d font 'sans,9' background rgb 'white'\n", width,
               height);
    buf_printf(&in, "set output '%s.svg'\nreplot\nunset output\n", base);
    char *argv[] = {"gnuplot", NULL};
    int rc = tool_run(argv, in.data, in.len, NULL, TOOL_TIMEOUT_MS, err, errsz);
    buf_free(&in);
    return rc;
}

int plot_topology(const char *run_dir, unsigned nodes, char *err, size_t errsz)
{
    if (!tool_exists("dot"))
        return 1;
    char *dot = xasprintf("%s/topology.dot", run_dir);
    char *svg = xasprintf("%s/topology.svg", run_dir);
    char *argv[] = {"dot", nodes > 200 ? "-Ksfdp" : "-Kneato", "-Tsvg", "-o", svg, dot, NULL};
    int rc = tool_run(argv, NULL, 0, NULL, TOOL_TIMEOUT_MS, err, errsz);
    free(dot);
    free(svg);
    return rc;
}

/* ---- what the events say ---- */

struct span {
    double from, to;
    char label[48];
    int family; /* 0 partition/cut, 1 link fault, 2 node */
};

struct scan {
    unsigned nodes;
    double t_end;
    bool in_step;
    struct buf heights;  /* rows for the heights chart, from samples */
    struct buf awaited;  /* the same from the looks of awaits (used when nothing was sampled) */
    bool bands;          /* min/median/max rows instead of one column per node */
    struct buf ok, fail; /* latency rows: t latency_ms */
    double *lat;         /* acknowledged latencies, for the percentiles */
    double *acked_t;     /* acknowledgement times */
    size_t nacked, capacked;
    struct buf steps; /* t line */
    struct span *spans;
    size_t nspans;
    char kinds[PLOT_KINDS_MAX][24]; /* fault kinds active now */
    double kind_from[PLOT_KINDS_MAX];
    size_t nkinds;
    double *down_from; /* per node: when it went down, or -1 */
    char (*down_how)[16];
    struct buf gossip; /* t value: cumulative POST /block sent (metrics) or link bytes */
    bool gossip_metrics;
    double *posts; /* per node: last chainlab_posts_sent_total seen */
};

static void plot_span(struct scan *s, double from, double to, const char *label, int family)
{
    s->spans = xrealloc(s->spans, (s->nspans + 1) * sizeof(*s->spans));
    struct span *sp = &s->spans[s->nspans++];
    sp->from = from;
    sp->to = to;
    sp->family = family;
    snprintf(sp->label, sizeof(sp->label), "%s", label);
}

static int plot_node_index(json_t *name)
{
    const char *s = json_string_value(name);
    return s && s[0] == 'n' ? atoi(s + 1) : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The fault kinds of an event's "active" list: close the ones gone, open the new ones. */
static void plot_faults(struct scan *s, json_t *active, double t)
{
    for (size_t k = 0; k < s->nkinds;) {
        bool still = false;
        size_t i;
        json_t *a;
        json_array_foreach(active, i, a) still |= strcmp(json_string_value(a), s->kinds[k]) == 0;
        if (still) {
            k++;
            continue;
        }
        int family =
            strcmp(s->kinds[k], "partition") == 0 || strcmp(s->kinds[k], "cut") == 0 ? 0 : 1;
        plot_span(s, s->kind_from[k], t, s->kinds[k], family);
        s->nkinds--;
        memmove(&s->kinds[k], &s->kinds[k + 1], (s->nkinds - k) * sizeof(s->kinds[0]));
        memmove(&s->kind_from[k], &s->kind_from[k + 1], (s->nkinds - k) * sizeof(double));
    }
    size_t i;
    json_t *a;
    json_array_foreach(active, i, a)
    {
        bool known = false;
        for (size_t k = 0; k < s->nkinds; k++)
            known |= strcmp(json_string_value(a), s->kinds[k]) == 0;
        if (!known && s->nkinds < PLOT_KINDS_MAX) {
            snprintf(s->kinds[s->nkinds], sizeof(s->kinds[0]), "%s", json_string_value(a));
            s->kind_from[s->nkinds++] = t;
        }
    }
}

static void plot_observe(struct scan *s, json_t *e, double t)
{
    json_t *h = json_object_get(e, "height");
    const char *via = json_string_value(json_object_get(e, "via"));
    struct buf *rows = via && strcmp(via, "sample") == 0 ? &s->heights : &s->awaited;
    if (json_object_size(h) == 0 || s->nodes == 0)
        return;
    if (!s->bands) {
        buf_printf(rows, "%.6f", t);
        for (unsigned i = 0; i < s->nodes; i++) {
            char name[16];
            snprintf(name, sizeof(name), "n%u", i);
            json_t *v = json_object_get(h, name);
            if (json_is_integer(v))
                buf_printf(rows, " %lld", (long long)json_integer_value(v));
            else
                buf_append_str(rows, " NaN");
        }
        buf_append_char(rows, '\n');
        return;
    }
    /* Bands: only looks at every node (samples) stand for the cluster. */
    if (json_object_size(h) + json_object_size(json_object_get(e, "unreachable")) < s->nodes / 2)
        return;
    size_t n = json_object_size(h), k = 0;
    double *v = xcalloc(n, sizeof(double));
    const char *key;
    json_t *val;
    json_object_foreach(h, key, val) v[k++] = (double)json_integer_value(val);
    qsort(v, n, sizeof(double), cmp_double);
    buf_printf(rows, "%.6f %.0f %.0f %.0f\n", t, v[0], v[n / 2], v[n - 1]);
    free(v);
}

static void plot_append(struct scan *s, json_t *e, double t)
{
    const char *action = json_string_value(json_object_get(e, "action"));
    double lat = json_number_value(json_object_get(e, "latency_ms"));
    if (action && strcmp(action, "acked") == 0) {
        buf_printf(&s->ok, "%.6f %.3f\n", t, lat);
        if (s->nacked == s->capacked) {
            s->capacked = s->capacked ? s->capacked * 2 : 256;
            s->lat = xrealloc(s->lat, s->capacked * sizeof(double));
            s->acked_t = xrealloc(s->acked_t, s->capacked * sizeof(double));
        }
        s->lat[s->nacked] = lat;
        s->acked_t[s->nacked++] = t;
    } else if (action && strcmp(action, "failed") == 0) {
        buf_printf(&s->fail, "%.6f %.3f\n", t, lat > 0 ? lat : 0.001);
    }
}

static void plot_node(struct scan *s, json_t *e, double t)
{
    int i = plot_node_index(json_object_get(e, "node"));
    const char *action = json_string_value(json_object_get(e, "action"));
    if (i < 0 || action == NULL)
        return;
    if (strcmp(action, "started") == 0 && !s->in_step && s->down_from == NULL) {
        if ((unsigned)i + 1 > s->nodes)
            s->nodes = (unsigned)i + 1;
        return;
    }
    if (s->down_from == NULL || (unsigned)i >= s->nodes)
        return;
    bool down = strcmp(action, "killed") == 0 || strcmp(action, "stopped") == 0 ||
                strcmp(action, "paused") == 0 || strcmp(action, "exited") == 0;
    bool up = strcmp(action, "started") == 0 || strcmp(action, "resumed") == 0;
    if (down && s->down_from[i] < 0 && (s->in_step || strcmp(action, "exited") == 0)) {
        s->down_from[i] = t;
        snprintf(s->down_how[i], sizeof(s->down_how[0]), "%s", action);
    } else if (up && s->down_from[i] >= 0) {
        char label[48];
        snprintf(label, sizeof(label), "n%d %s", i, s->down_how[i]);
        plot_span(s, s->down_from[i], t, label, 2);
        s->down_from[i] = -1;
    }
}

static void plot_metrics(struct scan *s, json_t *e, double t)
{
    int i = plot_node_index(json_object_get(e, "node"));
    json_t *v = json_object_get(json_object_get(e, "values"), "chainlab_posts_sent_total");
    if (i < 0 || (unsigned)i >= s->nodes || !json_is_number(v))
        return;
    s->gossip_metrics = true;
    s->posts[i] = json_number_value(v);
    double sum = 0;
    for (unsigned k = 0; k < s->nodes; k++)
        sum += s->posts[k];
    buf_printf(&s->gossip, "%.6f %.0f\n", t, sum);
}

/* Set up the per-node arrays once the node count is known (at the first non-node event). */
static void plot_nodes_known(struct scan *s)
{
    if (s->down_from)
        return;
    unsigned n = s->nodes ? s->nodes : 1;
    s->down_from = xcalloc(n, sizeof(double));
    s->down_how = xcalloc(n, sizeof(*s->down_how));
    s->posts = xcalloc(n, sizeof(double));
    for (unsigned i = 0; i < n; i++)
        s->down_from[i] = -1;
    s->bands = s->nodes > PLOT_LINES_MAX;
    struct buf *rows[] = {&s->heights, &s->awaited};
    for (size_t k = 0; k < 2; k++) {
        if (s->bands) {
            buf_append_str(rows[k], "t min median max\n");
        } else {
            buf_append_str(rows[k], "t");
            for (unsigned i = 0; i < s->nodes; i++)
                buf_printf(rows[k], " n%u", i);
            buf_append_char(rows[k], '\n');
        }
    }
}

static void plot_scan_cb(json_t *e, void *arg)
{
    struct scan *s = arg;
    const char *kind = json_string_value(json_object_get(e, "kind"));
    double t = json_number_value(json_object_get(e, "t"));
    if (kind == NULL)
        return;
    if (t > s->t_end)
        s->t_end = t;
    if (strcmp(kind, "node") == 0) {
        plot_node(s, e, t);
        return;
    }
    plot_nodes_known(s);
    if (strcmp(kind, "observe") == 0) {
        plot_observe(s, e, t);
        json_t *links = json_object_get(e, "links");
        if (!s->gossip_metrics && json_is_object(links))
            buf_printf(&s->gossip, "%.6f %lld\n", t,
                       (long long)json_integer_value(json_object_get(links, "bytes")));
    } else if (strcmp(kind, "append") == 0) {
        plot_append(s, e, t);
    } else if (strcmp(kind, "fault") == 0) {
        plot_faults(s, json_object_get(e, "active"), t);
    } else if (strcmp(kind, "metrics") == 0) {
        if (!s->gossip_metrics)
            buf_clear(&s->gossip); /* metrics replace the link-layer bytes */
        plot_metrics(s, e, t);
    } else if (strcmp(kind, "step") == 0) {
        const char *action = json_string_value(json_object_get(e, "action"));
        s->in_step = action && strcmp(action, "start") == 0;
        if (s->in_step)
            buf_printf(&s->steps, "%.6f %lld\n", t,
                       (long long)json_integer_value(json_object_get(e, "line")));
    }
}

static void plot_scan_free(struct scan *s)
{
    buf_free(&s->heights);
    buf_free(&s->awaited);
    buf_free(&s->ok);
    buf_free(&s->fail);
    buf_free(&s->steps);
    buf_free(&s->gossip);
    free(s->lat);
    free(s->acked_t);
    free(s->spans);
    free(s->down_from);
    free(s->down_how);
    free(s->posts);
}

/* ---- the charts ---- */

static const char *const plot_family_colour[] = {"#d62728", "#ff7f0e", "#7f7f7f"};

/* Shaded, labelled fault spans and step marks, shared by every chart. */
static void plot_decorations(const struct scan *s, struct buf *sc)
{
    buf_printf(sc, "set xrange [0:%.6f]\nset xlabel 'run time (s)'\nset grid\n",
               s->t_end > 0 ? s->t_end : 1);
    for (size_t i = 0; i < s->nspans; i++) {
        const struct span *sp = &s->spans[i];
        const char *c = plot_family_colour[sp->family];
        double y = 0.97 - 0.05 * (double)(i % 6);
        buf_printf(sc,
                   "set object %zu rect from %.6f, graph 0 to %.6f, graph 1 behind fc rgb '%s' "
                   "fs transparent solid 0.12 noborder\n",
                   i + 1, sp->from, sp->to, c);
        if (s->nspans <= 40)
            buf_printf(sc, "set label %zu '%s' at %.6f, graph %.2f left font ',7' tc rgb '%s'\n",
                       i + 1, sp->label, sp->from, y, c);
    }
    /* Steps: a tick at the foot of the chart, labelled with the line when there are few. */
    size_t nsteps = 0;
    for (const char *p = s->steps.data; p && *p; p = strchr(p, '\n') + 1) {
        double t = 0;
        long long line = 0;
        if (sscanf(p, "%lf %lld", &t, &line) != 2)
            break;
        nsteps++;
        buf_printf(sc, "set arrow from %.6f, graph 0 to %.6f, graph 0.04 nohead lc rgb '#444444'\n",
                   t, t);
        if (nsteps <= 40)
            buf_printf(sc,
                       "set label 'L%lld' at %.6f, graph 0.05 rotate by 90 left font ',6' "
                       "tc rgb '#444444'\n",
                       line, t);
    }
}

/* True when rows holds more than its header line. */
static bool plot_has_rows(const struct buf *rows)
{
    return rows->len > 0 && strchr(rows->data, '\n')[1] != '\0';
}

static int plot_heights(const struct scan *s, const char *base, char *err, size_t errsz)
{
    struct buf sc = BUF_INIT;
    const struct buf *rows = plot_has_rows(&s->heights) ? &s->heights : &s->awaited;
    plot_decorations(s, &sc);
    /* NaN (a node not running or not looked at) breaks its line; awaits look at some nodes
     * only, so their lines join the points they have. */
    if (rows == &s->awaited)
        buf_append_str(&sc, "set datafile missing 'NaN'\n");
    buf_append_str(&sc,
                   "set ylabel 'height (blocks)'\nset yrange [0:*]\nset key outside right top\n");
    if (!plot_has_rows(rows)) {
        buf_append_str(&sc, "set label 'no observations (--sample 0 and no await)' at graph "
                            "0.5, 0.5 center\nplot [0:1][0:1] -1 notitle\n");
    } else if (s->bands) {
        buf_printf(&sc, "set title '%u nodes: min to max height, and the median'\n", s->nodes);
        buf_append_str(&sc, "plot $h using 1:2:4 with filledcurves fc rgb '#9ecae1' "
                            "fs transparent solid 0.6 title 'min-max', "
                            "'' using 1:3 with steps lw 2 lc rgb '#08519c' title 'median'\n");
    } else {
        buf_printf(&sc, "set title 'height of each node (%u nodes)'\n", s->nodes);
        buf_printf(&sc, "plot for [i=2:%u] $h using 1:i with steps lw 1.5 title columnheader(i)\n",
                   s->nodes + 1);
    }
    struct plot_data d[] = {{"h", rows->data}};
    int rc = plot_render(base, PLOT_WIDTH, PLOT_HEIGHT, sc.data, d, 1, err, errsz);
    buf_free(&sc);
    return rc;
}

static int plot_latency(const struct scan *s, const char *base, char *err, size_t errsz)
{
    struct buf sc = BUF_INIT;
    plot_decorations(s, &sc);
    buf_append_str(&sc, "set ylabel 'append latency (ms)'\nset key outside right top\n");
    if (s->nacked == 0 && s->fail.len == 0) {
        buf_append_str(&sc, "set label 'no appends' at graph 0.5, 0.5 center\n"
                            "plot [][0:1] -1 notitle\n");
    } else {
        double *lat = xcalloc(s->nacked ? s->nacked : 1, sizeof(double));
        memcpy(lat, s->lat, s->nacked * sizeof(double));
        qsort(lat, s->nacked, sizeof(double), cmp_double);
        size_t k = s->nacked;
#define PCT(p) (k ? lat[(size_t)ceil((double)k * (p)) - 1] : 0.0)
        double p50 = PCT(0.50), p95 = PCT(0.95), p99 = PCT(0.99), max = k ? lat[k - 1] : 1;
#undef PCT
        free(lat);
        if (k && p50 > 0 && max / p50 > 50)
            buf_append_str(&sc, "set logscale y\n");
        buf_printf(&sc, "set title '%zu acknowledged appends'\n", k);
        buf_printf(&sc,
                   "plot $ok using 1:2 with points pt 7 ps 0.35 lc rgb '#1f77b4' "
                   "title 'acknowledged', $fail using 1:2 with points pt 2 ps 1 lc rgb '#d62728' "
                   "title 'failed', %.3f with lines dt 2 lc rgb '#2ca02c' title 'p50 %.1f ms', "
                   "%.3f with lines dt 3 lc rgb '#ff7f0e' title 'p95 %.1f ms', "
                   "%.3f with lines dt 4 lc rgb '#9467bd' title 'p99 %.1f ms'\n",
                   p50, p50, p95, p95, p99, p99);
    }
    /* gnuplot refuses an empty datablock: a row outside every range stands in. */
    struct plot_data d[] = {{"ok", s->ok.len ? s->ok.data : "-1 -1\n"},
                            {"fail", s->fail.len ? s->fail.data : "-1 -1\n"}};
    int rc = plot_render(base, PLOT_WIDTH, PLOT_HEIGHT, sc.data, d, 2, err, errsz);
    buf_free(&sc);
    return rc;
}

static int plot_rate(const struct scan *s, const char *base, char *err, size_t errsz)
{
    double span = s->t_end > 0 ? s->t_end : 1;
    double w = span / PLOT_BINS;
    if (w < 0.1)
        w = 0.1;
    size_t nb = (size_t)ceil(span / w) + 1;
    double *acked = xcalloc(nb, sizeof(double));
    for (size_t i = 0; i < s->nacked; i++)
        acked[(size_t)(s->acked_t[i] / w)] += 1;
    struct buf rows = BUF_INIT, gos = BUF_INIT;
    for (size_t b = 0; b < nb; b++)
        buf_printf(&rows, "%.6f %.3f\n", ((double)b + 0.5) * w, acked[b] / w);
    /* Gossip: the increase of the cumulative series per second, between two of its points. */
    double pt = -1, pv = 0;
    for (const char *p = s->gossip.data; p && *p; p = strchr(p, '\n') + 1) {
        double t, v;
        if (sscanf(p, "%lf %lf", &t, &v) != 2)
            break;
        if (pt >= 0 && t - pt >= w / 2) {
            buf_printf(&gos, "%.6f %.3f\n", (t + pt) / 2, (v - pv) / (t - pt));
            pt = t;
            pv = v;
        } else if (pt < 0) {
            pt = t;
            pv = v;
        }
    }
    free(acked);
    struct buf sc = BUF_INIT;
    plot_decorations(s, &sc);
    const char *what = s->gossip_metrics ? "POST /block sent per second (all nodes, /metrics)"
                                         : "bytes per second through the link layer";
    buf_printf(&sc,
               "set ylabel 'appends acknowledged per second'\nset y2label '%s'\n"
               "set y2tics\nset ytics nomirror\nset yrange [0:*]\nset y2range [0:*]\n"
               "set key outside right top\nset title 'rates (bins of %.2f s)'\n",
               what, w);
    buf_printf(&sc,
               "plot $r using 1:2 with histeps lw 2 lc rgb '#1f77b4' title 'acked/s', "
               "$g using 1:2 axes x1y2 with lines lw 1.5 lc rgb '#ff7f0e' title '%s'\n",
               s->gossip_metrics ? "gossip POSTs/s" : "link bytes/s");
    struct plot_data d[] = {{"r", rows.data}, {"g", gos.len ? gos.data : "-1 -1\n"}};
    int rc = plot_render(base, PLOT_WIDTH, PLOT_HEIGHT, sc.data, d, 2, err, errsz);
    buf_free(&sc);
    buf_free(&rows);
    buf_free(&gos);
    return rc;
}

int plot_run_dir(const char *run_dir, char *err, size_t errsz)
{
    struct scan s = {0};
    char *path = xasprintf("%s/%s", run_dir, EVENTS_FILE);
    int rc = events_each(path, plot_scan_cb, &s, err, errsz);
    free(path);
    if (rc < 0)
        return -1;
    plot_nodes_known(&s);
    /* Spans still open at the end run to the end. */
    json_t *empty = json_array();
    plot_faults(&s, empty, s.t_end);
    json_decref(empty);
    for (unsigned i = 0; i < s.nodes; i++) {
        if (s.down_from[i] >= 0) {
            char label[48];
            snprintf(label, sizeof(label), "n%u %s", i, s.down_how[i]);
            plot_span(&s, s.down_from[i], s.t_end, label, 2);
        }
    }
    char *dir = xasprintf("%s/%s", run_dir, PLOT_DIR);
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot make %s: %s", dir, strerror(errno));
        rc = -1;
    }
    char *base = NULL;
    if (rc == 0) {
        base = xasprintf("%s/heights", dir);
        rc = plot_heights(&s, base, err, errsz);
        free(base);
    }
    if (rc == 0) {
        base = xasprintf("%s/latency", dir);
        rc = plot_latency(&s, base, err, errsz);
        free(base);
    }
    if (rc == 0) {
        base = xasprintf("%s/rate", dir);
        rc = plot_rate(&s, base, err, errsz);
        free(base);
    }
    free(dir);
    plot_scan_free(&s);
    return rc;
}

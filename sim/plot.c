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
#include "timeline.h"
#include "tool.h"
#include "xalloc.h"

#define PLOT_BINS 60 /* bins of the rate chart */

int plot_render(const char *base, int width, int height, const char *script,
                const struct plot_data *data, size_t ndata, char *err, size_t errsz)
{
    struct buf in = BUF_INIT;
    for (size_t i = 0; i < ndata; i++)
        buf_printf(&in, "$%s << EOD\n%sEOD\n", data[i].name, data[i].text ? data[i].text : "");
    buf_printf(&in,
               "set terminal pngcairo size %d,%d noenhanced font 'sans,9' background rgb 'white'\n",
               width, height);
    buf_printf(&in, "set output '%s.png'\n%s\n", base, script);
    buf_printf(&in, "set terminal svg size %d,%d noenhanced font 'sans,9' background rgb 'white'\n",
               width, height);
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

struct scan {
    unsigned nodes;      /* from the timeline */
    struct buf heights;  /* rows for the heights chart, from samples */
    struct buf awaited;  /* the same from the looks of awaits (used when nothing was sampled) */
    bool bands;          /* min/median/max rows instead of one column per node */
    struct buf ok, fail; /* latency rows: t latency_ms */
    double *lat;         /* acknowledged latencies, for the percentiles */
    double *acked_t;     /* acknowledgement times */
    size_t nacked, capacked;
    struct buf gossip; /* t value: cumulative POST /block sent (metrics) or link bytes */
    bool gossip_metrics;
    double *posts; /* per node: last chainlab_posts_sent_total seen */
};

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

/* Header rows and per-node arrays, for s->nodes nodes. */
static void plot_scan_init(struct scan *s, unsigned nodes)
{
    s->nodes = nodes;
    s->posts = xcalloc(nodes ? nodes : 1, sizeof(double));
    s->bands = nodes > PLOT_LINES_MAX;
    struct buf *rows[] = {&s->heights, &s->awaited};
    for (size_t k = 0; k < 2; k++) {
        if (s->bands) {
            buf_append_str(rows[k], "t min median max\n");
        } else {
            buf_append_str(rows[k], "t");
            for (unsigned i = 0; i < nodes; i++)
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
    if (strcmp(kind, "observe") == 0) {
        plot_observe(s, e, t);
        json_t *links = json_object_get(e, "links");
        if (!s->gossip_metrics && json_is_object(links))
            buf_printf(&s->gossip, "%.6f %lld\n", t,
                       (long long)json_integer_value(json_object_get(links, "bytes")));
    } else if (strcmp(kind, "append") == 0) {
        plot_append(s, e, t);
    } else if (strcmp(kind, "metrics") == 0) {
        if (!s->gossip_metrics)
            buf_clear(&s->gossip); /* metrics replace the link-layer bytes */
        plot_metrics(s, e, t);
    }
}

static void plot_scan_free(struct scan *s)
{
    buf_free(&s->heights);
    buf_free(&s->awaited);
    buf_free(&s->ok);
    buf_free(&s->fail);
    buf_free(&s->gossip);
    free(s->lat);
    free(s->acked_t);
    free(s->posts);
}

/* ---- the charts ---- */

static const char *const plot_family_colour[] = {"#d62728", "#ff7f0e", "#7f7f7f"};

/* Shaded, labelled fault spans (cluster-wide ones and nodes down) and step marks, shared by
 * every chart. */
static void plot_decorations(const struct timeline *tl, struct buf *sc)
{
    buf_printf(sc, "set xrange [0:%.6f]\nset xlabel 'run time (s)'\nset grid\n",
               tl->t_end > 0 ? tl->t_end : 1);
    size_t k = 0;
    for (size_t i = 0; i < tl->nspans; i++) {
        const struct timeline_span *sp = &tl->spans[i];
        if (sp->node >= 0 && sp->family != TIMELINE_NODE)
            continue; /* a node's side: the timeline of report.html shows those */
        const char *c = plot_family_colour[sp->family];
        double y = 0.97 - 0.05 * (double)(k % 6);
        k++;
        buf_printf(sc,
                   "set object %zu rect from %.6f, graph 0 to %.6f, graph 1 behind fc rgb '%s' "
                   "fs transparent solid 0.12 noborder\n",
                   k, sp->from, sp->to, c);
        if (k <= 40)
            buf_printf(sc, "set label %zu '%s' at %.6f, graph %.2f left font ',7' tc rgb '%s'\n", k,
                       sp->label, sp->from, y, c);
    }
    /* Steps: a tick at the foot of the chart, labelled with the line when there are few. */
    for (size_t i = 0; i < tl->nsteps; i++) {
        double t = tl->steps[i].t;
        buf_printf(sc, "set arrow from %.6f, graph 0 to %.6f, graph 0.04 nohead lc rgb '#444444'\n",
                   t, t);
        if (tl->nsteps <= 40)
            buf_printf(sc,
                       "set label 'L%u' at %.6f, graph 0.05 rotate by 90 left font ',6' "
                       "tc rgb '#444444'\n",
                       tl->steps[i].line, t);
    }
}

/* True when rows holds more than its header line. */
static bool plot_has_rows(const struct buf *rows)
{
    return rows->len > 0 && strchr(rows->data, '\n')[1] != '\0';
}

static int plot_heights(const struct scan *s, const struct timeline *tl, const char *base,
                        char *err, size_t errsz)
{
    struct buf sc = BUF_INIT;
    const struct buf *rows = plot_has_rows(&s->heights) ? &s->heights : &s->awaited;
    plot_decorations(tl, &sc);
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

static int plot_latency(const struct scan *s, const struct timeline *tl, const char *base,
                        char *err, size_t errsz)
{
    struct buf sc = BUF_INIT;
    plot_decorations(tl, &sc);
    buf_append_str(&sc, "set ylabel 'append latency (ms)'\nset key outside right top\n");
    if (s->nacked == 0 && s->fail.len == 0) {
        buf_append_str(&sc, "set label 'no appends' at graph 0.5, 0.5 center\n"
                            "plot [][0:1] -1 notitle\n");
    } else {
        double *lat = xcalloc(s->nacked ? s->nacked : 1, sizeof(double));
        if (s->nacked > 0)
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

static int plot_rate(const struct scan *s, const struct timeline *tl, const char *base, char *err,
                     size_t errsz)
{
    double span = tl->t_end > 0 ? tl->t_end : 1;
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
    plot_decorations(tl, &sc);
    const char *what = s->gossip_metrics ? "POST /block sent per second (all nodes, /metrics)"
                                         : "bytes per second through the link layer";
    buf_printf(&sc,
               "set ylabel 'appends acknowledged per second'\nset y2label '%s'\n"
               "set y2tics\nset ytics nomirror\nset yrange [0:*]\nset y2range [0:*]\n"
               "set key outside right top\nset title 'rates (bins of %.2f s)'\n",
               what, w);
    buf_append_str(&sc, "plot $r using 1:2 with histeps lw 2 lc rgb '#1f77b4' title 'acked/s'");
    if (gos.len) /* nothing on y2 would stop gnuplot */
        buf_printf(&sc, ", $g using 1:2 axes x1y2 with lines lw 1.5 lc rgb '#ff7f0e' title '%s'",
                   s->gossip_metrics ? "gossip POSTs/s" : "link bytes/s");
    buf_append_char(&sc, '\n');
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
    struct timeline tl;
    if (timeline_load(run_dir, &tl, err, errsz) < 0)
        return -1;
    plot_scan_init(&s, tl.nodes);
    char *path = xasprintf("%s/%s", run_dir, EVENTS_FILE);
    int rc = events_each(path, plot_scan_cb, &s, err, errsz);
    free(path);
    char *dir = xasprintf("%s/%s", run_dir, PLOT_DIR);
    if (rc == 0 && mkdir(dir, 0777) < 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot make %s: %s", dir, strerror(errno));
        rc = -1;
    }
    static const char *const names[] = {"heights", "latency", "rate"};
    int (*const draw[])(const struct scan *, const struct timeline *, const char *, char *,
                        size_t) = {plot_heights, plot_latency, plot_rate};
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        char *base = xasprintf("%s/%s", dir, names[i]);
        rc = draw[i](&s, &tl, base, err, errsz);
        free(base);
    }
    free(dir);
    plot_scan_free(&s);
    timeline_free(&tl);
    return rc;
}

/* html: the self-contained report page of a run. */
#include "html.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "plot.h"
#include "timeline.h"
#include "xalloc.h"

#define HTML_TIMELINE_W      1000 /* pixels */
#define HTML_TIMELINE_LEFT   48   /* room for the lane names */
#define HTML_TIMELINE_POINTS 5000 /* most append points drawn */

/* Append s with HTML's special characters escaped. */
static void html_text(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            buf_append_str(b, "&amp;");
            break;
        case '<':
            buf_append_str(b, "&lt;");
            break;
        case '>':
            buf_append_str(b, "&gt;");
            break;
        case '"':
            buf_append_str(b, "&quot;");
            break;
        default:
            buf_append_char(b, *s);
        }
    }
}

static const char *html_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The SVG of a file, from its <svg on (its XML prologue dropped); false when missing. */
static bool html_inline_svg(struct buf *b, const char *path)
{
    struct buf all = BUF_INIT;
    if (buf_read_file(&all, path) < 0) {
        buf_free(&all);
        return false;
    }
    const char *svg = all.data ? strstr(all.data, "<svg") : NULL;
    if (svg)
        buf_append_str(b, svg);
    buf_free(&all);
    return svg != NULL;
}

static const char *const html_side_fill[] = {"#c6dbef", "#fdd0a2", "#c7e9c0",
                                             "#dadaeb", "#fcbba1", "#d9d9d9"};

/* The timeline: a band of cluster-wide faults and steps on top, then one lane per node with its
 * partition side, its down or paused time and its appends. */
static void html_timeline(struct buf *b, const struct timeline *tl)
{
    unsigned n = tl->nodes ? tl->nodes : 1;
    double lane = n <= 20 ? 18 : n <= 100 ? 6 : 400.0 / n;
    if (lane < 1)
        lane = 1;
    double top = 52, width = HTML_TIMELINE_W - HTML_TIMELINE_LEFT - 10;
    double height = top + lane * n + 30, end = tl->t_end > 0 ? tl->t_end : 1;
#define X(t) (HTML_TIMELINE_LEFT + (t) / end * width)
    buf_printf(b,
               "<svg id=\"timeline-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" "
               "font-size=\"10\">\n",
               HTML_TIMELINE_W, height, HTML_TIMELINE_W, height);
    buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
               HTML_TIMELINE_W, height);
    /* Cluster-wide faults. */
    unsigned row = 0;
    for (size_t i = 0; i < tl->nspans; i++) {
        const struct timeline_span *sp = &tl->spans[i];
        if (sp->node >= 0)
            continue;
        const char *c = sp->family == TIMELINE_PARTITION ? "#d62728" : "#ff7f0e";
        double y = 4 + (row++ % 3) * 12;
        buf_printf(b,
                   "<g class=\"fault\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" "
                   "fill=\"%s\" fill-opacity=\"0.35\"><title>%s %.3f-%.3fs</title></rect>"
                   "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text></g>\n",
                   X(sp->from), y, X(sp->to) - X(sp->from) + 0.5, c, sp->label, sp->from, sp->to,
                   X(sp->from) + 2, y + 9, c, sp->label);
    }
    /* Steps. */
    for (size_t i = 0; i < tl->nsteps; i++) {
        const struct timeline_step *st = &tl->steps[i];
        buf_printf(b,
                   "<line class=\"step\" x1=\"%.1f\" y1=\"40\" x2=\"%.1f\" y2=\"%.0f\" "
                   "stroke=\"%s\" stroke-opacity=\"%s\"><title>L%u at %.3fs (%s)</title></line>\n",
                   X(st->t), X(st->t), top + lane * n, st->ok ? "#2ca02c" : "#d62728",
                   st->ok ? "0.25" : "0.9", st->line, st->t, st->ok ? "held" : "failed");
    }
    /* Lanes. */
    for (unsigned i = 0; i < n; i++) {
        double y = top + lane * i;
        if (lane >= 9)
            buf_printf(b, "<text x=\"4\" y=\"%.1f\">n%u</text>\n", y + lane * 0.7, i);
        buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n",
                   HTML_TIMELINE_LEFT, y + lane, X(end), y + lane);
    }
    for (size_t i = 0; i < tl->nspans; i++) {
        const struct timeline_span *sp = &tl->spans[i];
        if (sp->node < 0 || (unsigned)sp->node >= n)
            continue;
        const char *fill = sp->family == TIMELINE_NODE
                               ? (strstr(sp->label, "paused") ? "#fdae6b" : "#525252")
                               : html_side_fill[sp->side % 6];
        buf_printf(b,
                   "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"%s\"><title>%s %.3f-%.3fs</title></rect>\n",
                   sp->family == TIMELINE_NODE ? "down" : "side", X(sp->from),
                   top + lane * sp->node, X(sp->to) - X(sp->from) + 0.5, lane * 0.9, fill,
                   sp->label, sp->from, sp->to);
    }
    size_t every = tl->nappends / HTML_TIMELINE_POINTS + 1;
    for (size_t i = 0; i < tl->nappends; i += every) {
        const struct timeline_append *a = &tl->appends[i];
        if (a->node >= n)
            continue;
        double y = top + lane * a->node + lane * 0.45;
        buf_printf(b, "<circle class=\"append\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n",
                   X(a->t), y, lane >= 6 ? 2.5 : 1.2, a->ok ? "#1f77b4" : "#d62728");
    }
    /* The time axis. */
    double yaxis = top + lane * n + 4;
    for (int k = 0; k <= 10; k++) {
        double t = end * k / 10;
        buf_printf(b,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.2fs</text>\n",
                   X(t), yaxis, X(t), yaxis + 4, X(t), yaxis + 16, t);
    }
#undef X
    buf_append_str(b, "</svg>\n");
}

/* The scenario text, one row per line, with the outcome of the step on it. */
static void html_scenario(struct buf *b, json_t *res, const char *text)
{
    json_t *steps = json_object_get(res, "steps");
    buf_append_str(b, "<table class=\"scn\">\n");
    unsigned line = 1;
    for (const char *p = text; p && *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *one = xasprintf("%.*s", (int)len, p);
        const char *cls = "", *outcome = "";
        json_t *found = NULL;
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st)
        {
            if (json_integer_value(json_object_get(st, "line")) == line)
                found = st;
        }
        if (found) {
            bool ok = json_is_true(json_object_get(found, "ok"));
            cls = ok ? "ok" : "bad";
            outcome = json_string_value(json_object_get(found, "detail"));
        }
        buf_printf(b, "<tr class=\"%s\"><td class=\"ln\">%u</td><td><code>", cls, line);
        html_text(b, one);
        buf_append_str(b, "</code></td><td>");
        if (found)
            buf_append_str(b,
                           json_is_true(json_object_get(found, "ok")) ? "&#10003; " : "&#10007; ");
        html_text(b, outcome ? outcome : "");
        buf_append_str(b, "</td></tr>\n");
        free(one);
        p = nl ? nl + 1 : NULL;
    }
    buf_append_str(b, "</table>\n");
}

static void html_failure(struct buf *b, json_t *res)
{
    json_t *f = json_object_get(res, "failure");
    json_t *d = json_object_get(res, "diagnosis");
    const char *error = json_string_value(json_object_get(res, "error"));
    if (!json_is_object(f) && error == NULL)
        return;
    buf_append_str(b, "<section id=\"failure\"><h2>Failure</h2>\n");
    if (json_is_object(f)) {
        buf_printf(b, "<p><b>line %lld</b>: <code>",
                   (long long)json_integer_value(json_object_get(f, "line")));
        html_text(b, html_str(f, "text"));
        buf_append_str(b, "</code></p>\n<p>expected: ");
        html_text(b, html_str(f, "expected"));
        buf_append_str(b, "<br>saw: ");
        html_text(b, html_str(f, "seen"));
        buf_append_str(b, "</p>\n");
    } else {
        buf_append_str(b, "<pre>");
        html_text(b, error);
        buf_append_str(b, "</pre>\n");
    }
    if (json_is_object(d)) {
        buf_append_str(b, "<div id=\"diagnosis\"><h3>Diagnosis</h3><ul>\n<li>faults active: ");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(d, "faults"), i, e)
        {
            buf_append_str(b, i ? ", " : "");
            html_text(b, json_string_value(e));
        }
        if (json_array_size(json_object_get(d, "faults")) == 0)
            buf_append_str(b, "none");
        if (json_is_string(json_object_get(d, "partition"))) {
            buf_append_str(b, " (sides ");
            html_text(b, html_str(d, "partition"));
            buf_append_str(b, ")");
        }
        buf_append_str(b, "</li>\n");
        json_array_foreach(json_object_get(d, "groups"), i, e)
        {
            buf_printf(b, "<li>tip group %zu: ", i + 1);
            html_text(b, html_str(e, "nodes"));
            buf_printf(b, " at height %lld, tip <code>%.16s</code></li>\n",
                       (long long)json_integer_value(json_object_get(e, "height")),
                       html_str(e, "tip"));
        }
        if (json_is_string(json_object_get(d, "note"))) {
            buf_append_str(b, "<li class=\"note\" id=\"equal-height-forks\">equal-height forks: ");
            html_text(b, html_str(d, "note"));
            buf_append_str(b, "</li>\n");
        }
        json_array_foreach(json_object_get(d, "down"), i, e)
            buf_printf(b, "<li>%s is %s</li>\n", html_str(e, "node"), html_str(e, "state"));
        json_t *fa = json_object_get(d, "failed_appends");
        if (json_integer_value(json_object_get(fa, "count")) > 0) {
            buf_printf(b, "<li>failed appends: %lld<ul>\n",
                       (long long)json_integer_value(json_object_get(fa, "count")));
            json_array_foreach(json_object_get(fa, "first"), i, e)
            {
                buf_append_str(b, "<li>");
                html_text(b, html_str(e, "node"));
                buf_append_str(b, " <code>");
                html_text(b, html_str(e, "data"));
                buf_append_str(b, "</code>: ");
                html_text(b, html_str(e, "reason"));
                buf_append_str(b, " ");
                html_text(b, json_is_string(json_object_get(e, "body")) ? html_str(e, "body")
                                                                        : html_str(e, "error"));
                buf_append_str(b, "</li>\n");
            }
            buf_append_str(b, "</ul></li>\n");
        }
        json_array_foreach(json_object_get(d, "unreachable"), i, e)
        {
            buf_printf(b, "<li>unreachable: %s (", html_str(e, "node"));
            html_text(b, html_str(e, "error"));
            buf_append_str(b, ")</li>\n");
        }
        buf_append_str(b, "</ul></div>\n");
    }
    buf_append_str(b, "</section>\n");
}

static void html_nodes(struct buf *b, json_t *res)
{
    buf_append_str(b, "<table class=\"nodes\"><tr><th>node</th><th>port</th><th>state</th>"
                      "<th>height</th><th>syncs</th><th>posts</th><th>RSS KiB</th><th>tip</th>"
                      "</tr>\n");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "final"), i, e)
    {
        buf_printf(b, "<tr><td>%s</td><td>%lld</td><td>%s</td>", html_str(e, "node"),
                   (long long)json_integer_value(json_object_get(e, "port")), html_str(e, "state"));
        const char *keys[] = {"height", "syncs", "posts", "rss_kib"};
        for (size_t k = 0; k < 4; k++) {
            json_t *v = json_object_get(e, keys[k]);
            if (json_is_integer(v))
                buf_printf(b, "<td>%lld</td>", (long long)json_integer_value(v));
            else
                buf_append_str(b, "<td>-</td>");
        }
        buf_printf(b, "<td><code>%.16s</code></td></tr>\n", html_str(e, "tip"));
    }
    buf_append_str(b, "</table>\n");
}

static const char html_style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}"
    "h1 .pass{color:#2ca02c}h1 .fail,h1 .error{color:#d62728}"
    "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:left}"
    "table.scn tr.ok td:last-child{color:#2b7a2b}table.scn tr.bad{background:#fde0dd}"
    "td.ln{color:#888;text-align:right}table.nodes td,table.nodes th{border-bottom:1px solid #ddd}"
    "#failure{border:2px solid #d62728;padding:0 1em;margin:1em 0}.note{font-weight:bold}"
    "section{margin-top:1.5em}figure{margin:0.5em 0}code{font-size:12px}";

int html_write(const char *run_dir, json_t *res, const char *scenario_text, char *err, size_t errsz)
{
    struct buf b = BUF_INIT;
    struct timeline tl;
    char terr[256];
    bool have_tl = timeline_load(run_dir, &tl, terr, sizeof(terr)) == 0;
    const char *result = html_str(res, "result");
    buf_append_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>chainlab-sim: ");
    html_text(&b, html_str(res, "scenario"));
    buf_printf(&b, " %s</title>\n<style>%s</style></head><body>\n<h1>", result, html_style);
    html_text(&b, html_str(res, "file"));
    buf_printf(&b, " <span class=\"%s\">%s</span></h1>\n", result, result);
    buf_printf(&b,
               "<p id=\"summary\">%lld nodes, topology %s, links %s, seed %lld, %.3f s, exit code "
               "%lld; run folder <code>",
               (long long)json_integer_value(json_object_get(res, "nodes")),
               html_str(res, "topology"), html_str(res, "links_mode"),
               (long long)json_integer_value(json_object_get(res, "seed")),
               json_real_value(json_object_get(res, "duration_s")),
               (long long)json_integer_value(json_object_get(res, "exit_code")));
    html_text(&b, run_dir);
    buf_append_str(&b, "</code></p>\n");
    html_failure(&b, res);
    buf_append_str(&b, "<section id=\"timeline\"><h2>Timeline</h2>\n<p>Top: faults across the "
                       "cluster and the steps (red: failed). Lanes: each node's partition side "
                       "(colour), time down (dark) or paused (amber), and its appends (blue; red: "
                       "failed).</p>\n");
    if (have_tl)
        html_timeline(&b, &tl);
    else
        buf_append_str(&b, "<p>no events recorded</p>\n");
    buf_append_str(&b, "</section>\n<section id=\"plots\"><h2>Plots</h2>\n");
    static const char *const plots[] = {"heights", "latency", "rate"};
    for (size_t i = 0; i < 3; i++) {
        char *path = xasprintf("%s/%s/%s.svg", run_dir, PLOT_DIR, plots[i]);
        buf_printf(&b, "<figure class=\"plot\" id=\"plot-%s\">\n", plots[i]);
        if (!html_inline_svg(&b, path))
            buf_printf(&b, "<p>no %s plot (gnuplot not installed?)</p>\n", plots[i]);
        buf_append_str(&b, "</figure>\n");
        free(path);
    }
    buf_append_str(&b, "</section>\n<section id=\"scenario\"><h2>Scenario</h2>\n");
    if (scenario_text)
        html_scenario(&b, res, scenario_text);
    buf_append_str(&b, "</section>\n<section id=\"nodes\"><h2>Nodes</h2>\n");
    html_nodes(&b, res);
    buf_append_str(&b, "</section>\n<section id=\"topology\"><h2>Topology</h2>\n");
    char *topo = xasprintf("%s/topology.svg", run_dir);
    if (!html_inline_svg(&b, topo))
        buf_append_str(&b, "<p>no drawing (Graphviz not installed)</p>\n");
    free(topo);
    buf_printf(&b, "<p>%zu directed edges: ", json_array_size(json_object_get(res, "edges")));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "edges"), i, e)
    {
        if (i == 200) {
            buf_append_str(&b, "... (all in links.json)");
            break;
        }
        buf_printf(&b, "%s%s&rarr;%s", i ? ", " : "", html_str(e, "from"), html_str(e, "to"));
    }
    buf_append_str(&b, "</p></section>\n</body></html>\n");
    if (have_tl)
        timeline_free(&tl);
    char *path = xasprintf("%s/%s", run_dir, HTML_FILE);
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (f && fclose(f) != 0 && rc == 0) {
        snprintf(err, errsz, "cannot write %s", path);
        rc = -1;
    }
    free(path);
    buf_free(&b);
    return rc;
}

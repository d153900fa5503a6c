/* sweepplot: charts of a sweep's figures against its swept parameters (see sweepplot.h). */
#include "sweepplot.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "plot.h"
#include "xalloc.h"

#define SWEEPPLOT_SPREAD_CATEGORY 0.08  /* x offset between lines, on a category axis */
#define SWEEPPLOT_SPREAD_NUMERIC  0.012 /* the same, as a share of a numeric axis's span */

bool sweepplot_axis_of(const char *const *values, size_t n, double *x,
                       char unit[SWEEPPLOT_UNIT_MAX])
{
    static const char digits[] = "0123456789";
    static const char unit_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ%";
    bool numeric = n > 0;

    unit[0] = '\0';
    for (size_t i = 0; i < n && numeric; i++) {
        const char *p = values[i];
        if (*p == '-')
            p++;
        size_t whole = strspn(p, digits);
        p += whole;
        if (*p == '.') {
            size_t frac = strspn(p + 1, digits);
            numeric = frac > 0;
            p += 1 + frac;
        }
        size_t ulen = strlen(p);
        if (whole == 0 || strspn(p, unit_chars) != ulen || ulen >= SWEEPPLOT_UNIT_MAX)
            numeric = false;
        else if (i == 0)
            memcpy(unit, p, ulen + 1);
        else if (strcmp(unit, p) != 0)
            numeric = false;
        if (numeric)
            x[i] = strtod(values[i], NULL);
    }
    if (!numeric) {
        unit[0] = '\0';
        for (size_t i = 0; i < n; i++)
            x[i] = (double)i;
    }
    return numeric;
}

/* ---- the sweep's table ---- */

/* One swept parameter. */
struct axis {
    const char *name;    /* borrowed from the document */
    const char **values; /* borrowed strings, owned array */
    size_t n;
};

/* What the charts are drawn from: sweep.json, its axes and each cell's place. */
struct table {
    json_t *doc;
    struct axis *axes;
    size_t n_axes;
    double *x; /* per value of axes[0] */
    bool numeric;
    char unit[SWEEPPLOT_UNIT_MAX];
    size_t n_series;   /* combinations of axes[1..] */
    size_t n_cells;    /* entries of cells */
    size_t *cell_x;    /* per cell: the index of its value of axes[0] */
    size_t *cell_line; /* per cell: its series */
};

static void table_free(struct table *t)
{
    for (size_t a = 0; a < t->n_axes; a++)
        free(t->axes[a].values);
    free(t->axes);
    free(t->x);
    free(t->cell_x);
    free(t->cell_line);
    json_decref(t->doc);
}

/* The index of the value of axis a in params, or -1. */
static long axis_index(const struct axis *a, const json_t *params)
{
    const char *v = json_string_value(json_object_get(params, a->name));
    for (size_t i = 0; v != NULL && i < a->n; i++) {
        if (strcmp(a->values[i], v) == 0)
            return (long)i;
    }
    return -1;
}

static int table_load(const char *dir, struct table *t, char *err, size_t errsz)
{
    json_error_t jerr;
    char *path = xasprintf("%s/%s", dir, SWEEPPLOT_TABLE);
    int rc = -1;

    memset(t, 0, sizeof(*t));
    t->doc = json_load_file(path, 0, &jerr);
    json_t *sweep = json_object_get(t->doc, "sweep"), *cells = json_object_get(t->doc, "cells");
    if (t->doc == NULL) {
        err_set(err, errsz, "%s: %s", path, jerr.text);
        goto out;
    }
    if (!json_is_array(sweep) || !json_is_array(cells) ||
        !json_is_array(json_object_get(t->doc, "figures"))) {
        err_set(err, errsz, "%s: not a sweep's table (no sweep, cells or figures)", path);
        goto out;
    }
    t->n_axes = json_array_size(sweep);
    t->axes = xcalloc(t->n_axes ? t->n_axes : 1, sizeof(*t->axes));
    t->n_series = 1;
    for (size_t a = 0; a < t->n_axes; a++) {
        json_t *ax = json_array_get(sweep, a), *vals = json_object_get(ax, "values");
        t->axes[a].name = json_string_value(json_object_get(ax, "name"));
        t->axes[a].n = json_array_size(vals);
        t->axes[a].values = xcalloc(t->axes[a].n ? t->axes[a].n : 1, sizeof(char *));
        for (size_t v = 0; v < t->axes[a].n; v++)
            t->axes[a].values[v] = json_string_value(json_array_get(vals, v));
        if (t->axes[a].name == NULL || t->axes[a].n == 0) {
            err_set(err, errsz, "%s: swept parameter %zu has no name or no values", path, a + 1);
            goto out;
        }
        for (size_t v = 0; v < t->axes[a].n; v++) {
            if (t->axes[a].values[v] == NULL) {
                err_set(err, errsz, "%s: a value of %s is not a string", path, t->axes[a].name);
                goto out;
            }
        }
        if (a > 0)
            t->n_series *= t->axes[a].n;
    }
    rc = 0;
    if (t->n_axes == 0)
        goto out;
    t->x = xcalloc(t->axes[0].n, sizeof(double));
    t->numeric = sweepplot_axis_of(t->axes[0].values, t->axes[0].n, t->x, t->unit);
    t->n_cells = json_array_size(cells);
    t->cell_x = xcalloc(t->n_cells ? t->n_cells : 1, sizeof(size_t));
    t->cell_line = xcalloc(t->n_cells ? t->n_cells : 1, sizeof(size_t));
    for (size_t c = 0; c < t->n_cells && rc == 0; c++) {
        json_t *params = json_object_get(json_array_get(cells, c), "params");
        size_t line = 0;
        for (size_t a = 0; a < t->n_axes; a++) {
            long i = axis_index(&t->axes[a], params);
            if (i < 0) {
                err_set(err, errsz, "%s: cell %zu has no value of %s among the swept ones", path, c,
                        t->axes[a].name);
                rc = -1;
                break;
            }
            if (a == 0)
                t->cell_x[c] = (size_t)i;
            else
                line = line * t->axes[a].n + (size_t)i;
        }
        t->cell_line[c] = line;
    }
out:
    free(path);
    return rc;
}

/* ---- one chart ---- */

/* Append s as a double-quoted gnuplot string (a line end stays one). */
static void gp_string(struct buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s; s++) {
        if (*s == '\n') {
            buf_append_str(b, "\\n");
            continue;
        }
        if (*s == '"' || *s == '\\')
            buf_append_char(b, '\\');
        buf_append_char(b, *s);
    }
    buf_append_char(b, '"');
}

/* Append s as the label of a tic: a gnuplot string in which '%' is written "%%" (gnuplot reads
 * a tic label as a format). */
static void gp_tic_label(struct buf *b, const char *s)
{
    struct buf esc = BUF_INIT;
    for (; *s; s++) {
        if (*s == '%')
            buf_append_char(&esc, '%');
        buf_append_char(&esc, *s);
    }
    gp_string(b, esc.data ? esc.data : "");
    buf_free(&esc);
}

/* What a figure is, in words, and its unit, into what and unit. */
static void figure_words(const struct table *t, const char *fig, struct buf *what, struct buf *unit)
{
    static const char *const fixed[][3] = {
        {"duration_s", "duration of the run", "seconds"},
        {"append_p50_ms", "append latency p50", "milliseconds"},
        {"append_p95_ms", "append latency p95", "milliseconds"},
        {"append_p99_ms", "append latency p99", "milliseconds"},
        {"lost", "acknowledged appends lost", "appends"},
        {"msgs_per_append", "POST /block per acknowledged append", "requests"},
    };
    unsigned line;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(fig, fixed[i][0]) == 0) {
            buf_append_str(what, fixed[i][1]);
            buf_append_str(unit, fixed[i][2]);
            return;
        }
    }
    buf_append_str(unit, "seconds");
    if (sscanf(fig, "await_L%u_s", &line) == 1) {
        size_t i;
        json_t *a;
        const char *text = NULL;
        json_array_foreach(json_object_get(t->doc, "awaits"), i, a)
        {
            if (json_integer_value(json_object_get(a, "line")) == (json_int_t)line)
                text = json_string_value(json_object_get(a, "text"));
        }
        buf_printf(what, "time until L%u held", line);
        if (text != NULL)
            buf_printf(what, " (%s)", text);
        return;
    }
    buf_append_str(what, fig);
}

/* The label of series s: "K=4" (the values of axes[1..] it stands for), or "median". */
static void series_label(const struct table *t, size_t s, struct buf *b)
{
    size_t *idx = xcalloc(t->n_axes, sizeof(size_t));
    for (size_t a = t->n_axes; a-- > 1;) {
        idx[a] = s % t->axes[a].n;
        s /= t->axes[a].n;
    }
    for (size_t a = 1; a < t->n_axes; a++)
        buf_printf(b, "%s%s=%s", a > 1 ? " " : "", t->axes[a].name, t->axes[a].values[idx[a]]);
    if (t->n_axes == 1)
        buf_append_str(b, "median");
    free(idx);
}

/* The x axis: range, tics at the swept values as written, label with the unit. */
static void chart_x_axis(const struct table *t, struct buf *sc, double *spread)
{
    const struct axis *ax = &t->axes[0];
    double lo = t->x[0], hi = t->x[0];
    for (size_t i = 1; i < ax->n; i++) {
        lo = t->x[i] < lo ? t->x[i] : lo;
        hi = t->x[i] > hi ? t->x[i] : hi;
    }
    double pad = t->numeric ? (hi > lo ? (hi - lo) * 0.06 : 1) : 0.5;
    *spread = t->numeric ? (hi > lo ? (hi - lo) * SWEEPPLOT_SPREAD_NUMERIC : 0.05)
                         : SWEEPPLOT_SPREAD_CATEGORY;
    buf_printf(sc, "set xrange [%.9g:%.9g]\nset xtics (", lo - pad, hi + pad);
    for (size_t i = 0; i < ax->n; i++) {
        buf_append_str(sc, i ? ", " : "");
        gp_tic_label(sc, ax->values[i]);
        buf_printf(sc, " %.9g", t->x[i]);
    }
    buf_append_str(sc, ")\nset xlabel ");
    struct buf label = BUF_INIT;
    buf_append_str(&label, ax->name);
    if (t->unit[0] != '\0')
        buf_printf(&label, " (%s)", t->unit);
    gp_string(sc, label.data);
    buf_append_char(sc, '\n');
    buf_free(&label);
}

static int chart_draw(const struct table *t, const char *fig, const char *base, char *err,
                      size_t errsz)
{
    json_t *cells = json_object_get(t->doc, "cells");
    struct buf sc = BUF_INIT, what = BUF_INIT, unit = BUF_INIT, title = BUF_INIT;
    struct buf *rows = xcalloc(t->n_series, sizeof(struct buf));
    struct plot_data *data = xcalloc(t->n_series, sizeof(struct plot_data));
    char **names = xcalloc(t->n_series, sizeof(char *));
    double spread;
    unsigned nlabel = 0;

    figure_words(t, fig, &what, &unit);
    buf_printf(&title,
               "%s against %s\nmedian of the runs that have it, bars from min to max; "
               "k/K: only k of the K runs have it",
               what.data, t->axes[0].name);
    buf_append_str(&sc, "set title ");
    gp_string(&sc, title.data);
    buf_append_str(&sc, "\nset ylabel ");
    gp_string(&sc, unit.data);
    buf_append_str(&sc, "\nset yrange [0:*]\nset grid\nset key outside right top");
    if (t->n_axes > 1) {
        buf_append_str(&sc, " title ");
        struct buf kt = BUF_INIT;
        for (size_t a = 1; a < t->n_axes; a++)
            buf_printf(&kt, "%s%s", a > 1 ? " " : "", t->axes[a].name);
        gp_string(&sc, kt.data);
        buf_free(&kt);
    }
    buf_append_char(&sc, '\n');
    chart_x_axis(t, &sc, &spread);

    for (size_t c = 0; c < t->n_cells; c++) {
        json_t *cell = json_array_get(cells, c);
        json_t *st = json_object_get(json_object_get(cell, "figures"), fig);
        json_int_t n = json_integer_value(json_object_get(st, "n"));
        json_int_t runs = json_integer_value(json_object_get(cell, "runs"));
        size_t s = t->cell_line[c];
        double x = t->x[t->cell_x[c]] + ((double)s - (double)(t->n_series - 1) / 2) * spread;
        double med = json_number_value(json_object_get(st, "median"));
        if (n > 0)
            buf_printf(&rows[s], "%.9g %.9g %.9g %.9g\n", x, med,
                       json_number_value(json_object_get(st, "min")),
                       json_number_value(json_object_get(st, "max")));
        if (n >= runs)
            continue;
        nlabel++;
        if (n > 0)
            buf_printf(&sc,
                       "set label %u \"%lld/%lld\" at %.9g, %.9g offset 0.8,0.8 font ',7' "
                       "tc lt %zu\n",
                       nlabel, (long long)n, (long long)runs, x, med, s + 1);
        else
            buf_printf(&sc,
                       "set label %u \"0/%lld\" at %.9g, graph 0.03 center font ',7' "
                       "tc lt %zu\n",
                       nlabel, (long long)runs, x, s + 1);
    }

    buf_append_str(&sc, "plot ");
    size_t nd = 0;
    for (size_t s = 0; s < t->n_series; s++) {
        struct buf label = BUF_INIT;
        series_label(t, s, &label);
        buf_append_str(&sc, s ? ", " : "");
        if (rows[s].len > 0) {
            names[nd] = xasprintf("s%zu", s);
            data[nd] = (struct plot_data){names[nd], rows[s].data};
            nd++;
            buf_printf(&sc,
                       "$s%zu using 1:2:3:4 with yerrorlines lt %zu lw 1.5 pt 7 ps 0.7 "
                       "title ",
                       s, s + 1);
        } else { /* no point: the line keeps its place in the key */
            buf_printf(&sc, "NaN with lines lt %zu title ", s + 1);
            buf_append_str(&label, ": no run has it");
        }
        gp_string(&sc, label.data);
        buf_free(&label);
    }
    buf_append_char(&sc, '\n');
    int rc = plot_render(base, PLOT_WIDTH, PLOT_HEIGHT, sc.data, data, nd, err, errsz);
    for (size_t s = 0; s < t->n_series; s++) {
        buf_free(&rows[s]);
        free(names[s]);
    }
    free(rows);
    free(data);
    free(names);
    buf_free(&sc);
    buf_free(&what);
    buf_free(&unit);
    buf_free(&title);
    return rc;
}

/* True when some cell has figure fig in at least one run. */
static bool figure_present(const struct table *t, const char *fig)
{
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(t->doc, "cells"), i, cell)
    {
        json_t *st = json_object_get(json_object_get(cell, "figures"), fig);
        if (json_integer_value(json_object_get(st, "n")) > 0)
            return true;
    }
    return false;
}

int sweepplot_draw(const char *dir, struct buf *drawn, char *err, size_t errsz)
{
    struct table t;
    char *pdir = NULL;
    int rc = table_load(dir, &t, err, errsz);
    size_t i;
    json_t *fig;

    if (rc < 0 || t.n_axes == 0) {
        rc = rc < 0 ? -1 : 1;
        goto out;
    }
    pdir = xasprintf("%s/%s", dir, PLOT_DIR);
    if (mkdir(pdir, 0777) < 0 && errno != EEXIST) {
        err_set(err, errsz, "cannot make %s: %s", pdir, strerror(errno));
        rc = -1;
        goto out;
    }
    json_array_foreach(json_object_get(t.doc, "figures"), i, fig)
    {
        const char *name = json_string_value(fig);
        if (name == NULL || strchr(name, '/') != NULL || !figure_present(&t, name))
            continue;
        char *base = xasprintf("%s/%s", pdir, name);
        rc = chart_draw(&t, name, base, err, errsz);
        free(base);
        if (rc < 0)
            break;
        buf_printf(drawn, "%s%s", drawn->len ? ", " : "", name);
    }
out:
    free(pdir);
    table_free(&t);
    return rc;
}

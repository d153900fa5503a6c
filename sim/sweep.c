/* sweep: one scenario over a grid of parameter values, with repeats, and its tables. */
#include "sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "err.h"
#include "log.h"
#include "plot.h"
#include "rng.h"
#include "sweepplot.h"
#include "tool.h"
#include "xalloc.h"

#define WHY_MAX 300 /* bytes of a failure or error kept in a row */

/* ---- pure arithmetic ------------------------------------------------------------------- */

static int axis_fail(char *err, size_t errsz, const char *arg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int axis_fail(char *err, size_t errsz, const char *arg, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    err_set(err, errsz, "'%s': %s", arg, why);
    return -1;
}

int sweep_axis_parse(const char *arg, struct sweep_axis *out, char *err, size_t errsz)
{
    const char *eq = strchr(arg, '=');
    char why[160];

    memset(out, 0, sizeof(*out));
    if (eq == NULL)
        return axis_fail(err, errsz, arg, "expected NAME=V1,V2,...");
    if (scenario_check_name(arg, (size_t)(eq - arg), why, sizeof(why)) < 0)
        return axis_fail(err, errsz, arg, "%s", why);
    out->name = xstrndup(arg, (size_t)(eq - arg));
    for (const char *v = eq + 1;;) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        if (len == 0 || scenario_check_value(v, len, why, sizeof(why)) < 0) {
            size_t k = out->n_values + 1;
            sweep_axis_clear(out);
            return axis_fail(err, errsz, arg, "value %zu: %s", k,
                             len == 0 ? "empty (values are separated by single commas)" : why);
        }
        for (size_t i = 0; i < out->n_values; i++) {
            if (strlen(out->values[i]) == len && memcmp(out->values[i], v, len) == 0) {
                char *dup = xstrndup(v, len);
                sweep_axis_clear(out);
                axis_fail(err, errsz, arg, "the value '%s' is given twice", dup);
                free(dup);
                return -1;
            }
        }
        out->values = xrealloc(out->values, (out->n_values + 1) * sizeof(char *));
        out->values[out->n_values++] = xstrndup(v, len);
        if (comma == NULL)
            break;
        v = comma + 1;
    }
    return 0;
}

void sweep_axis_clear(struct sweep_axis *a)
{
    for (size_t i = 0; i < a->n_values; i++)
        free(a->values[i]);
    free(a->values);
    free(a->name);
    memset(a, 0, sizeof(*a));
}

size_t sweep_cell_count(const struct sweep_axis *axes, size_t n_axes)
{
    size_t cells = 1;
    for (size_t a = 0; a < n_axes; a++) {
        if (axes[a].n_values == 0 || cells * axes[a].n_values > SWEEP_MAX_RUNS)
            return 0;
        cells *= axes[a].n_values;
    }
    return cells;
}

void sweep_cell_indices(const struct sweep_axis *axes, size_t n_axes, size_t cell, size_t *idx)
{
    for (size_t a = n_axes; a-- > 0;) {
        idx[a] = cell % axes[a].n_values;
        cell /= axes[a].n_values;
    }
}

uint64_t sweep_seed(uint64_t base, unsigned k)
{
    struct rng r;
    uint64_t v = base;

    if (k == 0)
        return base;
    rng_seed(&r, base);
    for (unsigned i = 0; i < k; i++)
        v = rng_next(&r);
    return v >> (64 - SWEEP_SEED_BITS);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void sweep_stat_of(double *v, size_t n, struct sweep_stat *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return;
    qsort(v, n, sizeof(double), cmp_double);
    out->n = n;
    out->min = v[0];
    out->max = v[n - 1];
    out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *const fixed_figures[SWEEP_FIXED_FIGURES] = {
    "duration_s", "append_p50_ms", "append_p95_ms", "append_p99_ms", "lost", "msgs_per_append",
};

char **sweep_figure_names(const unsigned *await_lines, size_t n_awaits)
{
    char **names = xcalloc(n_awaits + SWEEP_FIXED_FIGURES + 1, sizeof(char *));
    for (size_t i = 0; i < n_awaits; i++)
        names[i] = xasprintf("await_L%u_s", await_lines[i]);
    for (size_t i = 0; i < SWEEP_FIXED_FIGURES; i++)
        names[n_awaits + i] = xstrdup(fixed_figures[i]);
    return names;
}

/* *v = the number at obj.key when there is one. */
static bool number_at(const json_t *obj, const char *key, double *v)
{
    const json_t *x = json_object_get(obj, key);
    if (!json_is_number(x))
        return false;
    *v = json_number_value(x);
    return true;
}

void sweep_figures_of(const json_t *report, const unsigned *await_lines, size_t n_awaits,
                      double *vals, bool *has)
{
    const json_t *awaits = json_object_get(report, "awaits");
    const json_t *appends = json_object_get(report, "appends");
    const json_t *latency = json_object_get(appends, "latency_ms");
    const json_t *lost = json_object_get(appends, "lost");
    double *fixed = vals + n_awaits;
    bool *fixed_has = has + n_awaits;
    size_t i;
    const json_t *a;

    memset(has, 0, (n_awaits + SWEEP_FIXED_FIGURES) * sizeof(bool));
    for (size_t k = 0; k < n_awaits; k++) {
        json_array_foreach(awaits, i, a)
        {
            if (json_integer_value(json_object_get(a, "line")) == (json_int_t)await_lines[k])
                has[k] = number_at(a, "took_s", &vals[k]);
        }
    }
    fixed_has[0] = number_at(report, "duration_s", &fixed[0]);
    /* latency percentiles only mean something once an append was acknowledged */
    if (json_integer_value(json_object_get(appends, "acked")) > 0) {
        fixed_has[1] = number_at(latency, "p50", &fixed[1]);
        fixed_has[2] = number_at(latency, "p95", &fixed[2]);
        fixed_has[3] = number_at(latency, "p99", &fixed[3]);
    }
    if (json_is_array(lost) && json_is_string(json_object_get(appends, "lost_on"))) {
        fixed_has[4] = true;
        fixed[4] = (double)json_array_size(lost);
    }
    fixed_has[5] = number_at(json_object_get(report, "gossip"), "posts_per_append", &fixed[5]);
}

void sweep_csv_field(struct buf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        buf_append_str(b, s);
        return;
    }
    buf_append_char(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_append_char(b, '"');
        buf_append_char(b, *s);
    }
    buf_append_char(b, '"');
}

/* ---- the run ----------------------------------------------------------------------------- */

/* Everything a sweep holds while it runs. */
struct sweep {
    const struct sweep_spec *spec;
    const struct runner_opts *base;
    char *dir;
    size_t cells;
    size_t runs;
    struct scenario **scs;    /* per cell */
    size_t **idx;             /* per cell: the value index on each axis */
    struct batch_item *items; /* per run */
    char **run_dirs;          /* per run */
    unsigned *await_lines;    /* every await line of the scenario, in order */
    size_t n_awaits;
    char **figures; /* names, n_figures */
    size_t n_figures;
    double *vals;    /* runs x n_figures */
    bool *has;       /* runs x n_figures */
    size_t finished; /* runs ended so far */
    double t0;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static FILE *out_of(const struct sweep *sw)
{
    return sw->base->verbosity >= 0 ? sw->base->out : NULL;
}

/* "N=10 LAT=20ms": the swept values of cell. */
static void cell_label(const struct sweep *sw, size_t cell, struct buf *b)
{
    for (size_t a = 0; a < sw->spec->n_axes; a++)
        buf_printf(b, "%s%s=%s", a ? " " : "", sw->spec->axes[a].name,
                   sw->spec->axes[a].values[sw->idx[cell][a]]);
}

/* Why a run did not pass, in one line (at most WHY_MAX bytes), into b. */
static void run_why(const struct batch_item *it, struct buf *b)
{
    const json_t *res = it->result;
    const json_t *failure = json_object_get(res, "failure");
    const char *error = json_string_value(json_object_get(res, "error"));
    struct buf raw = BUF_INIT;
    char esc[WHY_MAX * 4 + 8];

    if (!it->done)
        buf_append_str(&raw, "not run: interrupted");
    else if (res == NULL)
        buf_printf(&raw, "no report: %s", it->why);
    else if (json_is_object(failure))
        buf_printf(&raw, "L%" JSON_INTEGER_FORMAT " %s: saw %s",
                   json_integer_value(json_object_get(failure, "line")),
                   json_string_value(json_object_get(failure, "text")),
                   json_string_value(json_object_get(failure, "seen")));
    else if (error != NULL)
        buf_append(&raw, error, strcspn(error, "\n"));
    if (raw.len > 0)
        buf_append_str(b, log_escape(raw.data, raw.len, WHY_MAX, esc, sizeof(esc)));
    buf_free(&raw);
}

static const char *run_result(const struct batch_item *it)
{
    const char *r = json_string_value(json_object_get(it->result, "result"));
    if (!it->done)
        return "not-run";
    return r != NULL ? r : "error";
}

/* As each run ends: its figures, its report in its folder, one line. */
static void run_done_cb(void *arg, size_t i, struct batch_item *it)
{
    struct sweep *sw = arg;
    size_t cell = i / sw->spec->repeat;
    double *vals = &sw->vals[i * sw->n_figures];
    bool *has = &sw->has[i * sw->n_figures];
    FILE *out = out_of(sw);
    struct buf line = BUF_INIT;

    sw->finished++;
    sweep_figures_of(it->result, sw->await_lines, sw->n_awaits, vals, has);
    if (it->result != NULL) {
        char *path = xasprintf("%s/report.json", sw->run_dirs[i]);
        json_dump_file(it->result, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        free(path);
    }
    if (out == NULL)
        return;
    buf_printf(&line, "[%zu/%zu] %s ", sw->finished, sw->runs, strrchr(sw->run_dirs[i], '/') + 1);
    cell_label(sw, cell, &line);
    buf_printf(&line, "%sseed %" PRIu64 ": %s", sw->spec->n_axes ? " " : "", it->seed,
               run_result(it));
    if (has[sw->n_awaits])
        buf_printf(&line, " in %.2fs", vals[sw->n_awaits]);
    for (size_t a = 0; a < sw->n_awaits; a++) {
        if (has[a])
            buf_printf(&line, "%sL%u %.3fs", a ? ", " : "; awaits ", sw->await_lines[a], vals[a]);
    }
    if (has[sw->n_awaits + 3])
        buf_printf(&line, "; p99 %.1fms", vals[sw->n_awaits + 3]);
    if (has[sw->n_awaits + 4])
        buf_printf(&line, "; lost %.0f", vals[sw->n_awaits + 4]);
    if (strcmp(run_result(it), "pass") != 0) {
        buf_append_str(&line, "\n    ");
        run_why(it, &line);
        buf_printf(&line, "\n    log: %s/sim.log", sw->run_dirs[i]);
    }
    fprintf(out, "%s\n", line.data);
    fflush(out);
    buf_free(&line);
}

/* Parse every cell; returns 0, or -1 after printing the first error. */
static int parse_cells(struct sweep *sw)
{
    const struct sweep_spec *spec = sw->spec;
    size_t n = spec->n_sets + spec->n_axes;
    struct scenario_setting *settings = xcalloc(n ? n : 1, sizeof(*settings));
    char err[1024];
    int rc = 0;

    for (size_t i = 0; i < spec->n_sets; i++)
        settings[i] = spec->sets[i];
    for (size_t c = 0; c < sw->cells && rc == 0; c++) {
        sw->idx[c] = xcalloc(spec->n_axes ? spec->n_axes : 1, sizeof(size_t));
        sweep_cell_indices(spec->axes, spec->n_axes, c, sw->idx[c]);
        for (size_t a = 0; a < spec->n_axes; a++)
            settings[spec->n_sets + a] = (struct scenario_setting){
                spec->axes[a].name, spec->axes[a].values[sw->idx[c][a]], "--sweep"};
        if (scenario_load_with(spec->path, settings, n, &sw->scs[c], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            rc = -1;
        }
    }
    free(settings);
    return rc;
}

/* Every await line of the scenarios, each once, in order. */
static void collect_awaits(struct sweep *sw)
{
    for (size_t c = 0; c < sw->cells; c++) {
        for (size_t s = 0; s < sw->scs[c]->n_steps; s++) {
            const struct scenario_step *st = &sw->scs[c]->steps[s];
            bool known = false;
            if (st->kind != SCENARIO_STEP_AWAIT)
                continue;
            for (size_t k = 0; k < sw->n_awaits; k++)
                known = known || sw->await_lines[k] == st->line;
            if (known)
                continue;
            size_t at = sw->n_awaits;
            sw->await_lines =
                xrealloc(sw->await_lines, (sw->n_awaits + 1) * sizeof(*sw->await_lines));
            while (at > 0 && sw->await_lines[at - 1] > st->line) {
                sw->await_lines[at] = sw->await_lines[at - 1];
                at--;
            }
            sw->await_lines[at] = st->line;
            sw->n_awaits++;
        }
    }
}

static char *default_dir(const struct sweep *sw)
{
    char stamp[32], name[256];
    time_t t = time(NULL);
    struct tm tm;
    const char *b = strrchr(sw->spec->path, '/');
    snprintf(name, sizeof(name), "%s", b ? b + 1 : sw->spec->path);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    return xasprintf("%s/%s-sweep-%s-%ld", sw->base->runs_root ? sw->base->runs_root : "runs", name,
                     stamp, (long)getpid());
}

/* The stats of figure f over the runs of cell that have it. */
static void cell_stat(const struct sweep *sw, size_t cell, size_t f, struct sweep_stat *st)
{
    double *v = xcalloc(sw->spec->repeat, sizeof(double));
    size_t n = 0;
    for (unsigned k = 0; k < sw->spec->repeat; k++) {
        size_t i = cell * sw->spec->repeat + k;
        if (sw->has[i * sw->n_figures + f])
            v[n++] = sw->vals[i * sw->n_figures + f];
    }
    sweep_stat_of(v, n, st);
    free(v);
}

/* passed, failed, errors, not run among the runs of cell. */
static void cell_counts(const struct sweep *sw, size_t cell, unsigned counts[4])
{
    memset(counts, 0, 4 * sizeof(unsigned));
    for (unsigned k = 0; k < sw->spec->repeat; k++) {
        const char *r = run_result(&sw->items[cell * sw->spec->repeat + k]);
        counts[strcmp(r, "pass") == 0    ? 0
               : strcmp(r, "fail") == 0  ? 1
               : strcmp(r, "error") == 0 ? 2
                                         : 3]++;
    }
}

static void csv_number(struct buf *b, bool has, double v)
{
    if (has)
        buf_printf(b, "%.6g", v);
}

static int write_file(const char *dir, const char *name, const struct buf *b)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len)
        rc = -1;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "chainlab-sim: cannot write %s: %s\n", path, strerror(errno));
    free(path);
    return rc;
}

/* The value of every parameter of the scenario, as CSV fields, after a comma each. */
static void csv_params(struct buf *b, const struct scenario *sc)
{
    for (size_t p = 0; p < sc->n_params; p++) {
        buf_append_char(b, ',');
        sweep_csv_field(b, sc->params[p].value);
    }
}

static int write_runs_csv(const struct sweep *sw)
{
    const struct scenario *sc0 = sw->scs[0];
    struct buf b = BUF_INIT;
    buf_append_str(&b, "run,cell,repeat");
    for (size_t p = 0; p < sc0->n_params; p++) {
        buf_append_char(&b, ',');
        sweep_csv_field(&b, sc0->params[p].name);
    }
    buf_append_str(&b, ",seed,result,exit_code");
    for (size_t f = 0; f < sw->n_figures; f++)
        buf_printf(&b, ",%s", sw->figures[f]);
    buf_append_str(&b, ",run_dir,why\n");
    for (size_t i = 0; i < sw->runs; i++) {
        const struct batch_item *it = &sw->items[i];
        struct buf why = BUF_INIT;
        buf_printf(&b, "%zu,%zu,%zu", i, i / sw->spec->repeat, i % sw->spec->repeat);
        csv_params(&b, sw->scs[i / sw->spec->repeat]);
        buf_printf(&b, ",%" PRIu64 ",%s,", it->seed, run_result(it));
        if (it->done)
            buf_printf(&b, "%d", it->code);
        for (size_t f = 0; f < sw->n_figures; f++) {
            buf_append_char(&b, ',');
            csv_number(&b, sw->has[i * sw->n_figures + f], sw->vals[i * sw->n_figures + f]);
        }
        buf_append_char(&b, ',');
        sweep_csv_field(&b, sw->run_dirs[i]);
        buf_append_char(&b, ',');
        run_why(it, &why);
        sweep_csv_field(&b, why.data ? why.data : "");
        buf_append_char(&b, '\n');
        buf_free(&why);
    }
    int rc = write_file(sw->dir, "sweep.csv", &b);
    buf_free(&b);
    return rc;
}

static int write_cells_csv(const struct sweep *sw)
{
    const struct scenario *sc0 = sw->scs[0];
    struct buf b = BUF_INIT;
    buf_append_str(&b, "cell");
    for (size_t p = 0; p < sc0->n_params; p++) {
        buf_append_char(&b, ',');
        sweep_csv_field(&b, sc0->params[p].name);
    }
    buf_append_str(&b, ",runs,passed,failed,errors,not_run");
    for (size_t f = 0; f < sw->n_figures; f++)
        buf_printf(&b, ",%s_n,%s_min,%s_median,%s_max", sw->figures[f], sw->figures[f],
                   sw->figures[f], sw->figures[f]);
    buf_append_char(&b, '\n');
    for (size_t c = 0; c < sw->cells; c++) {
        unsigned counts[4];
        cell_counts(sw, c, counts);
        buf_printf(&b, "%zu", c);
        csv_params(&b, sw->scs[c]);
        buf_printf(&b, ",%u,%u,%u,%u,%u", sw->spec->repeat, counts[0], counts[1], counts[2],
                   counts[3]);
        for (size_t f = 0; f < sw->n_figures; f++) {
            struct sweep_stat st;
            cell_stat(sw, c, f, &st);
            buf_printf(&b, ",%zu,", st.n);
            csv_number(&b, st.n > 0, st.min);
            buf_append_char(&b, ',');
            csv_number(&b, st.n > 0, st.median);
            buf_append_char(&b, ',');
            csv_number(&b, st.n > 0, st.max);
        }
        buf_append_char(&b, '\n');
    }
    int rc = write_file(sw->dir, "sweep-cells.csv", &b);
    buf_free(&b);
    return rc;
}

/* {"NAME": "value", ...} of every parameter of sc (new reference). */
static json_t *params_json(const struct scenario *sc)
{
    json_t *o = json_object();
    for (size_t p = 0; p < sc->n_params; p++)
        json_object_set_new(o, sc->params[p].name, json_string(sc->params[p].value));
    return o;
}

static json_t *number_or_null(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

/* The statement of the await at line (as cell 0 runs it, values in place). */
static const char *await_text(const struct sweep *sw, unsigned line)
{
    for (size_t c = 0; c < sw->cells; c++) {
        for (size_t s = 0; s < sw->scs[c]->n_steps; s++) {
            if (sw->scs[c]->steps[s].line == line)
                return sw->scs[c]->steps[s].text;
        }
    }
    return "";
}

static int write_json(const struct sweep *sw, double secs)
{
    json_t *axes = json_array(), *runs = json_array(), *cells = json_array(), *figs = json_array();
    json_t *sets = json_object(), *awaits = json_array();
    unsigned total[4] = {0, 0, 0, 0};
    for (size_t a = 0; a < sw->spec->n_axes; a++) {
        json_t *vals = json_array();
        for (size_t v = 0; v < sw->spec->axes[a].n_values; v++)
            json_array_append_new(vals, json_string(sw->spec->axes[a].values[v]));
        json_array_append_new(
            axes, json_pack("{s:s, s:o}", "name", sw->spec->axes[a].name, "values", vals));
    }
    for (size_t s = 0; s < sw->spec->n_sets; s++)
        json_object_set_new(sets, sw->spec->sets[s].name, json_string(sw->spec->sets[s].value));
    for (size_t f = 0; f < sw->n_figures; f++)
        json_array_append_new(figs, json_string(sw->figures[f]));
    for (size_t k = 0; k < sw->n_awaits; k++)
        json_array_append_new(awaits,
                              json_pack("{s:I, s:s}", "line", (json_int_t)sw->await_lines[k],
                                        "text", await_text(sw, sw->await_lines[k])));
    for (size_t i = 0; i < sw->runs; i++) {
        const struct batch_item *it = &sw->items[i];
        json_t *fig = json_object();
        struct buf why = BUF_INIT;
        for (size_t f = 0; f < sw->n_figures; f++)
            json_object_set_new(
                fig, sw->figures[f],
                number_or_null(sw->has[i * sw->n_figures + f], sw->vals[i * sw->n_figures + f]));
        run_why(it, &why);
        json_array_append_new(
            runs,
            json_pack("{s:I, s:I, s:I, s:o, s:I, s:s, s:o, s:s, s:o, s:o}", "run", (json_int_t)i,
                      "cell", (json_int_t)(i / sw->spec->repeat), "repeat",
                      (json_int_t)(i % sw->spec->repeat), "params",
                      params_json(sw->scs[i / sw->spec->repeat]), "seed", (json_int_t)it->seed,
                      "result", run_result(it), "exit_code",
                      it->done ? json_integer(it->code) : json_null(), "run_dir", sw->run_dirs[i],
                      "why", why.data ? json_string(why.data) : json_null(), "figures", fig));
        buf_free(&why);
    }
    for (size_t c = 0; c < sw->cells; c++) {
        unsigned counts[4];
        json_t *fig = json_object();
        cell_counts(sw, c, counts);
        for (int k = 0; k < 4; k++)
            total[k] += counts[k];
        for (size_t f = 0; f < sw->n_figures; f++) {
            struct sweep_stat st;
            cell_stat(sw, c, f, &st);
            json_object_set_new(fig, sw->figures[f],
                                json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)st.n, "min",
                                          number_or_null(st.n > 0, st.min), "median",
                                          number_or_null(st.n > 0, st.median), "max",
                                          number_or_null(st.n > 0, st.max)));
        }
        json_array_append_new(
            cells, json_pack("{s:I, s:o, s:i, s:i, s:i, s:i, s:i, s:o}", "cell", (json_int_t)c,
                             "params", params_json(sw->scs[c]), "runs", (int)sw->spec->repeat,
                             "passed", (int)counts[0], "failed", (int)counts[1], "errors",
                             (int)counts[2], "not_run", (int)counts[3], "figures", fig));
    }
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:f}", "tool",
        "chainlab-sim", "version", CHAINLAB_VERSION, "scenario", sw->spec->path, "sweep", axes,
        "set", sets, "repeat", (int)sw->spec->repeat, "jobs", (int)sw->spec->jobs, "figures", figs,
        "awaits", awaits, "runs", runs, "cells", cells, "passed", (int)total[0], "failed",
        (int)total[1], "errors", (int)total[2], "not_run", (int)total[3], "duration_s", secs);
    char *path = xasprintf("%s/sweep.json", sw->dir);
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc < 0)
        fprintf(stderr, "chainlab-sim: cannot write %s: %s\n", path, strerror(errno));
    free(path);
    json_decref(doc);
    return rc < 0 ? -1 : 0;
}

/* One line per cell: its runs and the median (min-max) of its awaits and latency. */
static void print_cells(const struct sweep *sw, double secs)
{
    FILE *out = sw->base->out;
    unsigned total[4] = {0, 0, 0, 0};
    if (out == NULL)
        return;
    fprintf(out, "\ncells (median, min-max over the runs that have the figure):\n");
    for (size_t c = 0; c < sw->cells; c++) {
        unsigned counts[4];
        struct buf line = BUF_INIT;
        struct sweep_stat st;
        cell_counts(sw, c, counts);
        for (int k = 0; k < 4; k++)
            total[k] += counts[k];
        buf_printf(&line, "  c%zu ", c);
        cell_label(sw, c, &line);
        buf_printf(&line, "%s%u/%u passed", sw->spec->n_axes ? ": " : "", counts[0],
                   sw->spec->repeat);
        for (size_t f = 0; f < sw->n_awaits; f++) {
            cell_stat(sw, c, f, &st);
            if (st.n > 0)
                buf_printf(&line, "; L%u %.3fs (%.3f-%.3f)", sw->await_lines[f], st.median, st.min,
                           st.max);
        }
        cell_stat(sw, c, sw->n_awaits + 3, &st);
        if (st.n > 0)
            buf_printf(&line, "; p99 %.1fms (%.1f-%.1f)", st.median, st.min, st.max);
        cell_stat(sw, c, sw->n_awaits + 4, &st);
        if (st.n > 0)
            buf_printf(&line, "; lost %.1f (%.0f-%.0f)", st.median, st.min, st.max);
        cell_stat(sw, c, sw->n_awaits + 5, &st);
        if (st.n > 0)
            buf_printf(&line, "; msgs/append %.2f", st.median);
        fprintf(out, "%s\n", line.data);
        buf_free(&line);
    }
    fprintf(out, "%zu runs: %u passed, %u failed, %u errors, %u not run, in %.1fs\n", sw->runs,
            total[0], total[1], total[2], total[3], secs);
    fprintf(out, "tables: %s/sweep.csv, %s/sweep-cells.csv, %s/sweep.json\n", sw->dir, sw->dir,
            sw->dir);
    fflush(out);
}

/* The charts of the sweep (sweepplot), when gnuplot is installed or --plots asks for them; a
 * failure is a warning, as for a run's plots. */
static void draw_plots(const struct sweep *sw)
{
    struct buf drawn = BUF_INIT;
    char err[512];
    if (!sw->base->plots && !tool_exists("gnuplot"))
        return;
    int rc = sweepplot_draw(sw->dir, &drawn, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "chainlab-sim: warning: sweep plots: %s\n", err);
    else if (rc == 0 && sw->base->out != NULL)
        fprintf(sw->base->out, "plots: %s/%s/: %s (.png, .svg)\n", sw->dir, PLOT_DIR,
                drawn.len ? drawn.data : "no figure");
    if (sw->base->out != NULL)
        fflush(sw->base->out);
    buf_free(&drawn);
}

static void print_header(const struct sweep *sw)
{
    FILE *out = out_of(sw);
    if (out == NULL)
        return;
    fprintf(out, "sweep %s: %zu cells x %u repeats = %zu runs, %u at a time, in %s\n",
            sw->spec->path, sw->cells, sw->spec->repeat, sw->runs, sw->spec->jobs, sw->dir);
    for (size_t a = 0; a < sw->spec->n_axes; a++) {
        fprintf(out, "  %s:", sw->spec->axes[a].name);
        for (size_t v = 0; v < sw->spec->axes[a].n_values; v++)
            fprintf(out, " %s", sw->spec->axes[a].values[v]);
        fprintf(out, "\n");
    }
    fprintf(out, "  seeds (cell 0):");
    for (unsigned k = 0; k < sw->spec->repeat; k++)
        fprintf(out, " r%u=%" PRIu64, k, sw->items[k].seed);
    fprintf(out, "\n");
    fflush(out);
}

static void sweep_free(struct sweep *sw)
{
    for (size_t c = 0; sw->scs && c < sw->cells; c++) {
        scenario_free(sw->scs[c]);
        free(sw->idx[c]);
    }
    for (size_t i = 0; sw->run_dirs && i < sw->runs; i++)
        free(sw->run_dirs[i]);
    for (size_t f = 0; sw->figures && f < sw->n_figures; f++)
        free(sw->figures[f]);
    if (sw->items)
        batch_clear(sw->items, sw->runs);
    free(sw->figures);
    free(sw->run_dirs);
    free(sw->items);
    free(sw->scs);
    free(sw->idx);
    free(sw->await_lines);
    free(sw->vals);
    free(sw->has);
    free(sw->dir);
}

int sweep_run(const struct sweep_spec *spec, const struct runner_opts *base, json_t *results)
{
    struct sweep sw = {.spec = spec, .base = base, .t0 = now_s()};
    int rc = RUNNER_BAD;
    char err[512] = "";

    sw.cells = sweep_cell_count(spec->axes, spec->n_axes);
    if (sw.cells == 0 || spec->repeat == 0 || sw.cells * spec->repeat > SWEEP_MAX_RUNS) {
        fprintf(stderr, "chainlab-sim: the sweep has more than %d runs (cells x --repeat)\n",
                SWEEP_MAX_RUNS);
        return RUNNER_BAD;
    }
    sw.runs = sw.cells * spec->repeat;
    sw.scs = xcalloc(sw.cells, sizeof(*sw.scs));
    sw.idx = xcalloc(sw.cells, sizeof(*sw.idx));
    if (parse_cells(&sw) < 0)
        goto out;
    if (spec->check_only) {
        if (base->verbosity >= 0)
            printf("ok %s (%zu cells x %u repeats = %zu runs)\n", spec->path, sw.cells,
                   spec->repeat, sw.runs);
        rc = RUNNER_OK;
        goto out;
    }
    collect_awaits(&sw);
    sw.figures = sweep_figure_names(sw.await_lines, sw.n_awaits);
    sw.n_figures = sw.n_awaits + SWEEP_FIXED_FIGURES;
    sw.vals = xcalloc(sw.runs * sw.n_figures, sizeof(double));
    sw.has = xcalloc(sw.runs * sw.n_figures, sizeof(bool));
    sw.dir = base->run_dir ? xstrdup(base->run_dir) : default_dir(&sw);
    sw.items = xcalloc(sw.runs, sizeof(*sw.items));
    sw.run_dirs = xcalloc(sw.runs, sizeof(char *));
    int cw = snprintf(NULL, 0, "%zu", sw.cells - 1), kw = snprintf(NULL, 0, "%u", spec->repeat - 1);
    for (size_t i = 0; i < sw.runs; i++) {
        size_t c = i / spec->repeat;
        unsigned k = (unsigned)(i % spec->repeat);
        uint64_t seed0 = base->seed_given ? base->seed : sw.scs[c]->seed;
        sw.run_dirs[i] = xasprintf("%s/c%0*zu-r%0*u", sw.dir, cw, c, kw, k);
        sw.items[i] = (struct batch_item){.sc = sw.scs[c],
                                          .run_dir = sw.run_dirs[i],
                                          .seed_given = true,
                                          .seed = sweep_seed(seed0, k)};
    }
    print_header(&sw);

    struct runner_opts o = *base;
    o.out = base->verbosity >= 1 ? base->out : NULL; /* -v: every run's step lines */
    o.verbosity = 0;
    rc = batch_run(sw.items, sw.runs, &o, spec->jobs, run_done_cb, &sw, err, sizeof(err));
    if (err[0] != '\0') {
        fprintf(stderr, "chainlab-sim: %s\n", err);
        goto out; /* refused before any run */
    }
    double secs = now_s() - sw.t0;
    if (write_runs_csv(&sw) < 0 || write_cells_csv(&sw) < 0 || write_json(&sw, secs) < 0)
        rc = batch_severity(rc) > batch_severity(RUNNER_BAD) ? rc : RUNNER_BAD;
    print_cells(&sw, secs);
    draw_plots(&sw);
    for (size_t i = 0; i < sw.runs; i++) {
        if (sw.items[i].result)
            json_array_append(results, sw.items[i].result);
    }
out:
    sweep_free(&sw);
    return rc;
}

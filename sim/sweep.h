/* sweep: one scenario over a grid of parameter values, K runs per cell with a seed per repeat,
 * and the tables of what each run measured (sweep.csv, sweep-cells.csv, sweep.json).
 *
 * Design: the grid is the cartesian product of the --sweep axes, the first axis varying
 * slowest; run i is cell i / K, repeat i % K. Every cell is parsed before anything runs (a value
 * that makes the scenario invalid is a FILE:LINE:COL error, exit 2). The runs go through batch
 * (J at a time); each run's figures are read from the report runner_run() returns, never from
 * its output. The arithmetic (grid, seeds, statistics, figures, CSV quoting) is pure and
 * table-tested; sweep_run() is the I/O around it. */
#ifndef CHAINLAB_SWEEP_H
#define CHAINLAB_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "runner.h"
#include "scenario.h"

#define SWEEP_MAX_RUNS   10000 /* most runs in one sweep (cells x repeats) */
#define SWEEP_MAX_REPEAT 1000  /* most repeats per cell (--repeat) */
#define SWEEP_SEED_BITS  53    /* derived seeds are below 2^53: exact in any JSON reader */

/* One --sweep NAME=V1,V2,... */
struct sweep_axis {
    char *name;    /* owned */
    char **values; /* owned, n_values entries, each a valid parameter value */
    size_t n_values;
};

/* What a sweep runs. */
struct sweep_spec {
    const char *path;              /* the scenario file */
    const struct sweep_axis *axes; /* may be 0 axes: one cell (repeats only) */
    size_t n_axes;
    const struct scenario_setting *sets; /* --set values for every run */
    size_t n_sets;
    unsigned repeat; /* runs per cell, 1..SWEEP_MAX_REPEAT */
    unsigned jobs;   /* runs at once */
    bool check_only; /* parse every cell, run nothing */
};

/* Five numbers that summarise the values of one figure in a cell. */
struct sweep_stat {
    size_t n; /* values (0: the others are 0) */
    double min, median, max;
};

/* Parse "NAME=V1,V2,..." into *out (caller frees with sweep_axis_clear()). Returns 0, or -1 with
 * err = "'ARG': reason" (bad name, an empty or bad value, a value twice, no '='). */
int sweep_axis_parse(const char *arg, struct sweep_axis *out, char *err, size_t errsz);
void sweep_axis_clear(struct sweep_axis *a);
/* Cells of the grid (the product of the axes' lengths; 1 for no axes), or 0 when it would pass
 * SWEEP_MAX_RUNS. */
size_t sweep_cell_count(const struct sweep_axis *axes, size_t n_axes);
/* idx[a] = the index into axes[a].values of cell (first axis slowest). */
void sweep_cell_indices(const struct sweep_axis *axes, size_t n_axes, size_t cell, size_t *idx);
/* The seed of repeat k of a cell whose scenario seed is base: base itself for k = 0 (so repeat 0
 * is the plain run), else the k-th number of the rng seeded with base, cut to SWEEP_SEED_BITS. */
uint64_t sweep_seed(uint64_t base, unsigned k);
/* min, median (the mean of the middle two for an even count) and max of v[0..n); sorts v. */
void sweep_stat_of(double *v, size_t n, struct sweep_stat *out);
/* The names of the figures of a run: "await_L<line>_s" for each await line (in order), then
 * duration_s, append_p50_ms, append_p95_ms, append_p99_ms, lost, msgs_per_append. Returns a new
 * array of n_awaits + SWEEP_FIXED_FIGURES strings (caller frees each and the array). */
#define SWEEP_FIXED_FIGURES 6
char **sweep_figure_names(const unsigned *await_lines, size_t n_awaits);
/* Read the figures of one run from its report (borrowed; NULL: none): vals[f] and has[f] for
 * each figure of sweep_figure_names(). A figure the report lacks (an await that did not hold,
 * no appends, no /status counters) has has[f] = false. */
void sweep_figures_of(const json_t *report, const unsigned *await_lines, size_t n_awaits,
                      double *vals, bool *has);
/* Append s to b as one CSV field (RFC 4180: quoted when it holds a comma, quote or line end). */
void sweep_csv_field(struct buf *b, const char *s);

/* Run the sweep: every cell parsed first (errors on stderr, RUNNER_BAD), then every run through
 * batch with the options of base (base->run_dir is the sweep's folder, default a new
 * runs/<scenario>-sweep-<time>-<pid>/; base->seed_given overrides the file's seed as the base).
 * Prints a line per run and a summary per cell to base->out (unless quiet), writes the tables
 * into the sweep's folder and each run's report as report.json into its own folder, and appends
 * every run's report to results (new references). Returns the worst exit code of the runs. */
int sweep_run(const struct sweep_spec *spec, const struct runner_opts *base, json_t *results);

#endif

/* sweepplot: the charts of a sweep. Each figure of SWEEP_DIR/sweep.json (the time each await took
 * to hold, the run's duration, append latency p50/p95/p99, lost appends, POST /block per append)
 * is drawn against the first swept parameter, one line per value of the other swept parameters
 * (per combination when there are several), each point the cell's median with a bar from its
 * minimum to its maximum over the repeats. Charts go through plot_render() into SWEEP_DIR/plots/
 * as FIGURE.png and FIGURE.svg.
 *
 * Design: everything comes from sweep.json, so `chainlab-sim plot SWEEP_DIR` redraws a finished
 * sweep. A point whose cell has the figure in fewer runs than it ran is labelled "k/K"; a cell
 * where no run has it has no point and a "0/K" label at the foot of the chart. How the values of
 * the first parameter sit on the x axis is a pure function (sweepplot_axis_of), table-tested. */
#ifndef CHAINLAB_SWEEPPLOT_H
#define CHAINLAB_SWEEPPLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define SWEEPPLOT_TABLE    "sweep.json" /* the sweep's table the charts are drawn from */
#define SWEEPPLOT_UNIT_MAX 16           /* bytes of a unit written after the numbers */

/* Place values[0..n) on an x axis. When every value is a number (an optional '-', digits, an
 * optional '.' and digits) followed by the same unit (letters or '%', possibly none), x[i] is
 * that number, unit the unit ("ms", "%", "") and the result true; otherwise x[i] = i (the values
 * are categories, in the order given) and the result false. */
bool sweepplot_axis_of(const char *const *values, size_t n, double *x,
                       char unit[SWEEPPLOT_UNIT_MAX]);

/* Draw the charts of the sweep whose folder is dir into dir/plots/; the names of the figures
 * drawn are appended to drawn (", "-separated; figures no run has are not drawn). Returns 0; 1
 * when the sweep has no swept parameter (nothing drawn); or -1 with err (sweep.json missing or
 * not a sweep's table, gnuplot missing or failed). */
int sweepplot_draw(const char *dir, struct buf *drawn, char *err, size_t errsz);

#endif

/* plot: the pictures of a run: gnuplot charts of heights, append latency and rates from
 * RUN_DIR/events.jsonl into RUN_DIR/plots/ (PNG and SVG), and the topology drawn by Graphviz.
 *
 * plot_render() is the one place that drives gnuplot: data go in as inline datablocks ($name),
 * so a chart is one script and no temporary file; any chart of the sim (sweeps too) uses it. */
#ifndef CHAINLAB_PLOT_H
#define CHAINLAB_PLOT_H

#include <stddef.h>

#define PLOT_DIR       "plots" /* in the run folder */
#define PLOT_LINES_MAX 16      /* up to this many nodes, one line each; above, bands */
#define PLOT_WIDTH     1000    /* pixels of every chart */
#define PLOT_HEIGHT    420

/* One datablock: text (whitespace-separated columns, one row a line) known to the script as
 * $name. */
struct plot_data {
    const char *name;
    const char *text;
};

/* Run gnuplot on script (the chart's settings and one plot command) with the datablocks, writing
 * base.png and base.svg (width x height pixels; text is drawn as written, without gnuplot's
 * enhanced-text markup, so '_' and '^' stay themselves). Returns 0, or -1 with err (gnuplot
 * missing or its first error lines). */
int plot_render(const char *base, int width, int height, const char *script,
                const struct plot_data *data, size_t ndata, char *err, size_t errsz);
/* Write heights, latency and rate charts of run_dir into run_dir/plots/. Returns 0, or -1 with
 * err (no events.jsonl, gnuplot missing or failed). */
int plot_run_dir(const char *run_dir, char *err, size_t errsz);
/* Draw run_dir/topology.dot into run_dir/topology.svg with Graphviz (neato up to 200 nodes,
 * sfdp above; straight edges: curved ones take Graphviz minutes at 200 nodes). Returns 0, 1 when
 * Graphviz is not installed (nothing drawn), or -1 with err. */
int plot_topology(const char *run_dir, unsigned nodes, char *err, size_t errsz);

#endif

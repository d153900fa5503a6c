/* html: RUN_DIR/report.html, one self-contained page per run (no script, no external file or
 * font): the result, the failure and its diagnosis, the scenario text with each line's outcome,
 * a timeline of steps, faults and appends (one lane per node), the plots and the topology as
 * inline SVG, the node table and the measures. */
#ifndef CHAINLAB_HTML_H
#define CHAINLAB_HTML_H

#include <jansson.h>
#include <stddef.h>

#define HTML_FILE "report.html" /* in the run folder */

/* Write run_dir/report.html for result (a scenario's result object, borrowed), reading the run's
 * events, plots and topology from run_dir and the scenario text from scenario_text (NULL: none).
 * Returns 0, or -1 with err. */
int html_write(const char *run_dir, json_t *result, const char *scenario_text, char *err,
               size_t errsz);

#endif

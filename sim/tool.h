/* tool: running the external programs the sim draws with (Graphviz `dot`, gnuplot): found on
 * PATH or not, run with a deadline, their output and errors collected. */
#ifndef CHAINLAB_TOOL_H
#define CHAINLAB_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#define TOOL_TIMEOUT_MS 120000 /* default bound on one run of a tool */

/* True when name is an executable file in a folder of PATH. */
bool tool_exists(const char *name);
/* Run argv (argv[0] found on PATH) with input (len bytes; NULL: /dev/null) on its standard input,
 * its standard output to out_path (NULL: discarded), within timeout_ms (killed after). Returns 0
 * when it exited with status 0, or -1 with err ("gnuplot: exit 1: <its first error lines>",
 * "gnuplot: not found", "gnuplot: killed after 120s"). */
int tool_run(char *const argv[], const char *input, size_t len, const char *out_path,
             long timeout_ms, char *err, size_t errsz);

#endif

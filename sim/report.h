/* report: the end of a sim run: the summary table, the JSON report and the JUnit XML file.
 * Each works on the result objects that runner_run() makes (borrowed). */
#ifndef CHAINLAB_REPORT_H
#define CHAINLAB_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Print one line per scenario (scenario, result, duration) and a total line. */
void report_summary(FILE *out, json_t *results);
/* Write {"tool", "version", "scenarios": results, "passed", "failed", "errors"} to path.
 * Returns 0, or -1 with err set. */
int report_write_json(const char *path, json_t *results, char *err, size_t errsz);
/* Write JUnit XML (one testsuite, one testcase per scenario) to path. Returns 0 or -1 with err. */
int report_write_junit(const char *path, json_t *results, char *err, size_t errsz);

#endif

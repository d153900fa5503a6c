/* report: the result of a run (the object README.md "Reports" describes), the end of its output,
 * and the files made of results: the summary table, the JSON report and the JUnit XML file. The
 * file writers work on the result objects that runner_close() makes (borrowed). */
#ifndef CHAINLAB_REPORT_H
#define CHAINLAB_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"

struct run;

/* The result of run r as it stands: steps, awaits, failure, loads joined so far, and the node
 * table, appends, gossip and links fetched now (skipped when the cluster never started or the run
 * was interrupted). The table's text is appended to table when not NULL. New reference. */
json_t *report_result(struct run *r, struct buf *table);
/* Append the text of a failure (an object with file, line, text, expected, seen) and its
 * diagnosis (or NULL) to out: "FAIL FILE:LINE: TEXT", then expected, saw and the diagnosis. */
void report_failure_text(json_t *failure, json_t *diagnosis, struct buf *out);
/* Print the end of a run's output: the failure, error or PASS line, the table and measures. */
void report_print(struct run *r, json_t *result, const char *table);

/* Print one line per scenario (scenario, result, duration) and a total line. */
void report_summary(FILE *out, json_t *results);
/* Write {"tool", "version", "scenarios": results, "passed", "failed", "errors"} to path.
 * Returns 0, or -1 with err set. */
int report_write_json(const char *path, json_t *results, char *err, size_t errsz);
/* Write JUnit XML (one testsuite, one testcase per scenario) to path. Returns 0 or -1 with err. */
int report_write_junit(const char *path, json_t *results, char *err, size_t errsz);

#endif

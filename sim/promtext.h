/* promtext: a parser of the Prometheus text exposition format (0.0.4), as the sim reads a node's
 * GET /metrics: every sample line "name[{labels}] value [timestamp]" becomes one entry keyed by
 * the name with its labels as written ("chainlab_http_responses_total{code=\"200\"}"). Comments
 * (# HELP, # TYPE) and blank lines are skipped; a malformed line is an error. */
#ifndef CHAINLAB_PROMTEXT_H
#define CHAINLAB_PROMTEXT_H

#include <jansson.h>
#include <stddef.h>

#define PROMTEXT_MAX_BYTES (1024 * 1024) /* most text parsed from one answer */

/* Parse text (len bytes) into *out, a new object {"name{labels}": value, ...} (new reference).
 * Returns 0, or -1 with err ("line 3: ...") and *out NULL. */
int promtext_parse(const char *text, size_t len, json_t **out, char *err, size_t errsz);

#endif

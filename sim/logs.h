/* logs: the merged log of a run folder: every node's log (nK.log) and the sim's (sim.log) in
 * wall-clock order, each line prefixed with its source, and link-layer ports shown as the names
 * of the edges they carry ("n3->n7") and node ports as node names ("n3").
 *
 * Log lines start with a local "HH:MM:SS.mmm" (the nodes' and the sim's format); the date comes
 * from the run's start (the first event of events.jsonl), a line earlier than the one before it by
 * more than 12 hours is on the next day, and a line without a time (a continuation, another
 * implementation's output) takes the time of the line before it. */
#ifndef CHAINLAB_LOGS_H
#define CHAINLAB_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "nodeset.h"

struct logs_filter {
    bool nodes_given;     /* --nodes: only these sources */
    struct nodeset nodes; /* the node sources */
    bool sim;             /* with nodes_given: the sim's lines too ("sim" in the list) */
    const char *grep;     /* only lines containing this text (after renaming), or NULL */
    double since, until;  /* run-relative seconds; until < 0: no upper bound */
};

/* Parse a --nodes list: a node set ("n1,n3-n5") whose words may include "sim". Returns 0, or -1
 * with err. */
int logs_parse_nodes(const char *text, struct logs_filter *f, char *err, size_t errsz);
/* Print the merged log of run_dir to out as "SOURCE  SECONDS  LINE". Returns 0, or -1 with err
 * when the folder holds no log. */
int logs_print(FILE *out, const char *run_dir, const struct logs_filter *f, char *err,
               size_t errsz);

/* A map from addresses to names for logs_rename(). */
struct logs_names;
/* The names of run_dir: nodes' addresses from its events.jsonl ("n3"), the link layer's from its
 * links.json: a link's own listener ("n3->n7"), a target's listener shared by every source
 * ("->n7", shown after the name of the log's node). Never NULL (empty when the files are
 * missing); free with logs_names_free(). */
struct logs_names *logs_names_load(const char *run_dir);
void logs_names_free(struct logs_names *m);
/* Add the name of one address (host numeric). */
void logs_names_add(struct logs_names *m, const char *host, unsigned port, const char *name);
/* Append line (from source: "n3", "sim") to out with every "http://A.B.C.D:PORT",
 * "A.B.C.D:PORT", "localhost:PORT" and "A.B.C.D port PORT" (libcurl's words) that has a name
 * replaced by that name. */
void logs_rename(const struct logs_names *m, const char *source, const char *line, struct buf *out);

#endif

/* serve: `chainlab-sim serve`: one live cluster, driven over a JSON HTTP API (README.md,
 * "chainlab-sim serve"): GET /cluster, POST /steps, GET /events, GET /report, DELETE /cluster. */
#ifndef CHAINLAB_SERVE_H
#define CHAINLAB_SERVE_H

#include <stddef.h>

#include "runner.h"
#include "scenario.h"

#define SERVE_LISTEN          "127.0.0.1:0" /* --listen default: loopback, a free port */
#define SERVE_MAX_BODY        (1u << 20)    /* largest POST /steps body; 413 above */
#define SERVE_MAX_CONNECTIONS 64            /* API connections open at once */
#define SERVE_IDLE_S          300           /* an idle API connection is closed after this */
#define SERVE_EVENTS_MAX      10000         /* most events in one GET /events answer */
#define SERVE_WAIT_S          10            /* GET /events: how long to hold it without `wait` */
#define SERVE_WAIT_MAX_S      600           /* the longest `wait` a GET /events may ask for */
#define SERVE_TICK_MS         100           /* how often the run thread looks for a signal */
#define SERVE_PARENT_MS       200           /* how often the parent process is looked for */
#define SERVE_FAREWELL_MS     5000          /* how long the DELETE answer may take to be sent */
#define SERVE_TRANSCRIPT      "serve.scn"   /* in the run folder: the header and every request */

/* Serve the cluster of sc (its header; its steps, if any, run first). text is the scenario text
 * sc was parsed from (borrowed): it starts RUN_DIR/serve.scn, and sc->path is changed to that
 * file, where each request's steps are appended as they run. Binds listen ("ADDR:PORT", port 0:
 * any free one), prints the API's URL as the first line of o->out, sets the run up (runner_open)
 * and serves until DELETE /cluster, *o->interrupted (SIGINT, SIGTERM) or the exit of the process
 * that started this one. Every node is stopped before it returns. Returns RUNNER_OK after a
 * served session, or RUNNER_BAD (err: a bad listen address) or the code runner_open failed with
 * (its error printed to o->out). */
int serve_run(struct scenario *sc, const char *text, const struct runner_opts *o,
              const char *listen, char *err, size_t errsz);

#endif

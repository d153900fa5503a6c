/* events: the record of one run: its clock, the event list (RUN_DIR/events.jsonl) and the sim's
 * own log (RUN_DIR/sim.log). Every module of the sim writes what happened through it.
 *
 * Design: an event is one JSON object {"t", "wall", "kind", ...fields}; t is seconds since the run
 * started (monotonic clock), wall the UTC time in RFC 3339 with milliseconds. events_emit() stamps
 * and numbers it under one mutex, so the file is in time order whatever thread emits. Each event is
 * written to events.jsonl at once (one line, flushed) and kept in memory, newest last, up to
 * EVENTS_KEEP_BYTES of encoded text; older ones are dropped from memory but stay in the file, where
 * events_since() reads them back. A condition variable wakes readers that wait for new events
 * (events_since with a wait), so another thread can follow a live run. Thread-safe throughout. */
#ifndef CHAINLAB_EVENTS_H
#define CHAINLAB_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define EVENTS_FILE       "events.jsonl"      /* in the run folder */
#define EVENTS_LOG_FILE   "sim.log"           /* the sim's own log, in the run folder */
#define EVENTS_KEEP_BYTES (64u * 1024 * 1024) /* encoded events kept in memory */
#define EVENTS_WALL_SZ    32                  /* room for an RFC 3339 time with milliseconds */

struct events; /* opaque */

/* A new record whose clock starts now; nothing is written until events_attach(). Caller frees
 * with events_free(). */
struct events *events_new(void);
/* Close the files and free ev. NULL is a no-op. */
void events_free(struct events *ev);
/* Write to dir/events.jsonl and dir/sim.log from now on (both created or truncated). Returns 0,
 * or -1 with err when a file cannot be opened (the record then stays in memory only). */
int events_attach(struct events *ev, const char *dir, char *err, size_t errsz);

/* Into ts: the CLOCK_MONOTONIC time ms milliseconds from now, a deadline for
 * pthread_cond_timedwait() on a condition variable of that clock. */
void events_deadline(struct timespec *ts, double ms);
/* Seconds since the run started. */
double events_now(const struct events *ev);
/* The wall-clock time of run time t as RFC 3339 UTC with milliseconds, into out. */
void events_wall(const struct events *ev, double t, char out[EVENTS_WALL_SZ]);
/* Seconds since the epoch (UTC) of run time t. */
double events_epoch(const struct events *ev, double t);

/* Record an event of kind with the fields of `fields` (stolen; NULL for none; keys t, wall and
 * kind are set here). Returns the event's t. */
double events_emit(struct events *ev, const char *kind, json_t *fields);
/* Events with t > since, oldest first, at most max (0: no limit), as a new array (new reference).
 * When there are none and wait_ms > 0, waits up to wait_ms for one (or for events_end()). */
json_t *events_since(struct events *ev, double since, size_t max, long wait_ms);
/* Mark the record finished: waiting readers return at once from now on. */
void events_end(struct events *ev);

/* Append one line (or several, each prefixed) to sim.log: "HH:MM:SS.mmm [sim PID] info: TEXT",
 * the format of the nodes' logs, local time. */
void events_log(struct events *ev, const char *text);

/* Call cb(e, arg) for each event of a file in order (e borrowed for the call; bad lines
 * skipped), reading one line at a time. Returns 0, or -1 with err when the file cannot be read. */
int events_each(const char *path, void (*cb)(json_t *e, void *arg), void *arg, char *err,
                size_t errsz);
/* Parse the events of a file (one JSON object a line; bad lines skipped). Returns a new array
 * (new reference), or NULL with err when the file cannot be read. */
json_t *events_load(const char *path, char *err, size_t errsz);

#endif

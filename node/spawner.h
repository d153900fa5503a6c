/* spawner: start many chainlab nodes as forks of one process that has already loaded and
 * initialised the libraries, so they share those pages (a zygote).
 *
 * Design: a node started by exec maps libcurl's dependency tree (about 30 libraries), relocates
 * it and initialises OpenSSL: about 1.3 MiB of private pages per process, the same in every node.
 * A spawner is one single-threaded `chainlab-node --spawner FD` process that does that once and
 * then forks a node for each request: the pages stay shared (copy-on-write, and relocated data is
 * read-only), and a node costs only what it writes itself.
 *
 * The caller (the sim) marks itself PR_SET_CHILD_SUBREAPER and talks to the spawner over a
 * SOCK_SEQPACKET socket. For each request the spawner forks an intermediate that forks the node
 * and exits, so the node is reparented to the caller, which then waits for it, signals its
 * process group and sees its exit status exactly as if it had forked it. The node sets its
 * parent-death signal (SIGKILL) once the caller is its parent, and gives up when that never
 * happens. Requests are served one at a time, in order. */
#ifndef CHAINLAB_SPAWNER_H
#define CHAINLAB_SPAWNER_H

#include <stddef.h>
#include <sys/types.h>

#define SPAWNER_MSG_MAX  65536 /* bytes of one request: log path and argv */
#define SPAWNER_TITLE    4096  /* bytes of the spawner's argv kept for each node's command line */
#define SPAWNER_REPLY_MS 10000 /* how long spawner_spawn() waits for the pid */

/* The node's own main, run in each forked node: returns the exit status. */
typedef int (*spawner_main_fn)(int argc, char **argv);

/* Serve spawn requests on fd until the other end closes it (returns 0) or it fails (returns
 * -1). Call in a single-threaded process, after loading what the nodes share. title is the
 * memory of the process's own argv strings (title_len bytes, from argv[0] to the end of the last
 * one; spawner_new() pads it to SPAWNER_TITLE): each node writes its own argv there, cut to
 * fit, so that ps and /proc/PID/cmdline show the node's command line. */
int spawner_serve(int fd, spawner_main_fn node_main, char *title, size_t title_len);

struct spawner;

/* The signal state of a fresh process (an empty mask, default SIGINT, SIGTERM, SIGPIPE and
 * SIGCHLD), for any child forked to run something else. */
void spawner_reset_signals(void);

/* Start `node_bin --spawner 3` with its log in log_path, as a child of the caller, in the
 * caller's process group, dying with it (PR_SET_PDEATHSIG). The caller must have set
 * PR_SET_CHILD_SUBREAPER (spawner_new does it). Returns NULL with err set when it cannot start. */
struct spawner *spawner_new(const char *node_bin, const char *log_path, char *err, size_t errsz);
/* Fork a node running node_main(argc, argv) with stdin from /dev/null and stdout and stderr
 * appended to log_path, in its own process group; it becomes the caller's child. Returns its
 * pid, or -1 with err set (the spawner died, or the request is over SPAWNER_MSG_MAX). */
pid_t spawner_spawn(struct spawner *sp, char *const argv[], const char *log_path, char *err,
                    size_t errsz);
/* The spawner's own pid (the caller reaps it). */
pid_t spawner_pid(const struct spawner *sp);
/* Close the socket (the spawner exits), reap it and free sp. NULL is a no-op. Nodes it started
 * live on. */
void spawner_free(struct spawner *sp);

#endif

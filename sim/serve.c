/* serve: a live cluster driven over a JSON HTTP API.
 *
 * Design: one run (runner.h) lives on the thread that called serve_run(), the run thread; it
 * alone touches the run: it runs steps, builds reports and closes it, so there is one code path
 * for steps whether they come from a file or from the API. libmicrohttpd serves the API with a
 * thread per connection. Every request but GET /events becomes a job in one FIFO queue, and its
 * connection thread waits until the run thread has done it: requests run one at a time, in the
 * order they arrived, and a second client is served in turn, never in the middle of a step.
 * GET /events reads the run's event record directly (events_since() is thread-safe and waits on
 * its own condition variable), so a long-poll never holds up a step or another request.
 *
 * The run thread wakes every SERVE_TICK_MS to look for SIGINT/SIGTERM; a watcher thread turns the
 * exit of the parent process into a SIGTERM. Closing (DELETE /cluster, a signal): new requests
 * get 503, readers of the record are told to leave (events_end) and waited for, queued jobs get
 * 503, the run is closed (every node stopped), then the DELETE is answered with the final report
 * and the daemon stopped.
 *
 * Each request's steps are appended to RUN_DIR/serve.scn after the header, behind a comment line,
 * and renumbered to their line there: the report, the events and report.html refer to one text,
 * and the payloads that steps derive from their line (`append n0 5`, `load`) stay unique. Errors
 * in a request are reported at their LINE:COL within it. */
#include "serve.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "events.h"
#include "xalloc.h"

enum serve_method { SERVE_GET = 1, SERVE_POST = 2, SERVE_DELETE = 4 };

enum serve_path { PATH_CLUSTER, PATH_STEPS, PATH_EVENTS, PATH_REPORT };

struct serve_route {
    const char *path;
    enum serve_path id;
    unsigned methods; /* enum serve_method bits */
    const char *allow;
};

static const struct serve_route serve_routes[] = {
    {"/cluster", PATH_CLUSTER, SERVE_GET | SERVE_DELETE, "GET, DELETE"},
    {"/steps", PATH_STEPS, SERVE_POST, "POST"},
    {"/events", PATH_EVENTS, SERVE_GET, "GET"},
    {"/report", PATH_REPORT, SERVE_GET, "GET"},
};

/* One request for the run thread, and its answer. */
struct job {
    enum serve_path path;
    unsigned method;
    const char *body; /* borrowed from the request */
    size_t len;
    unsigned status; /* the answer: status, JSON text (owned), Connection: close */
    char *answer;
    bool close;
    bool done; /* under the lock */
    struct job *next;
};

/* One API request (libmicrohttpd's per-request pointer). */
struct request {
    const struct serve_route *route;
    unsigned method;
    struct buf body;
    bool too_large;
    bool replied;  /* answered at the first call (404, 405) */
    bool farewell; /* the DELETE that ends the session */
    struct job job;
};

struct serve {
    struct scenario *sc;
    const struct runner_opts *o;
    struct run *r;     /* run thread only */
    struct events *ev; /* the run's record (under the lock; NULL once closed) */
    FILE *transcript;  /* RUN_DIR/serve.scn, run thread only */
    unsigned lines;    /* lines in it */
    unsigned requests; /* POST /steps run */
    pid_t parent;      /* the process that started us */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the run thread: a job came, a reader left */
    pthread_cond_t done; /* connection threads: a job was done; the farewell was sent */
    pthread_cond_t tick; /* the watcher's pause */
    struct job *head, *tail;
    bool closing;       /* no new job or reader from now on */
    unsigned readers;   /* GET /events in events_since() */
    bool farewell_sent; /* the DELETE answer went out */
    bool stop_watch;
};

/* ---- helpers ---- */

/* Wait on cond up to ms milliseconds (monotonic clock; the lock held). */
static void serve_wait(struct serve *s, pthread_cond_t *cond, long ms)
{
    struct timespec until;
    events_deadline(&until, (double)ms);
    pthread_cond_timedwait(cond, &s->lock, &until);
}

/* Set the answer of j: status and obj (stolen) as JSON text. */
static void serve_answer(struct job *j, unsigned status, json_t *obj)
{
    free(j->answer);
    j->answer = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    j->status = status;
    if (j->answer == NULL) { /* not encodable (cannot happen with checked UTF-8) */
        j->answer = xstrdup("{\"error\": \"the answer could not be encoded as JSON\"}");
        j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    json_decref(obj);
}

static void serve_answer_error(struct job *j, unsigned status, const char *msg)
{
    serve_answer(j, status, json_pack("{s:s}", "error", msg));
}

/* Queue the answer of j on conn. */
static enum MHD_Result serve_send(struct MHD_Connection *conn, struct job *j, const char *allow)
{
    char *body = j->answer;
    j->answer = NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (j->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, j->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Mark j done and wake the connection threads. */
static void serve_job_done(struct serve *s, struct job *j)
{
    pthread_mutex_lock(&s->lock);
    j->done = true;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

/* ---- the transcript: RUN_DIR/serve.scn ---- */

/* Lines in text[0..len) once it ends with a newline. */
static unsigned serve_count_lines(const char *text, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len > 0 && text[len - 1] != '\n');
}

/* Append text to the transcript, ending it with a newline. */
static void serve_transcribe(struct serve *s, const char *text, size_t len)
{
    s->lines += serve_count_lines(text, len);
    if (s->transcript == NULL)
        return;
    fwrite(text, 1, len, s->transcript);
    if (len > 0 && text[len - 1] != '\n')
        fputc('\n', s->transcript);
    fflush(s->transcript);
}

/* Start the transcript with the header's text and point sc->path at it. */
static void serve_transcript_start(struct serve *s, const char *text)
{
    char *path = xasprintf("%s/%s", runner_run_dir(s->r), SERVE_TRANSCRIPT);
    s->transcript = fopen(path, "w");
    if (s->transcript == NULL)
        fprintf(stderr, "chainlab-sim serve: cannot write %s: %s\n", path, strerror(errno));
    serve_transcribe(s, text, strlen(text));
    free(s->sc->path);
    s->sc->path = path;
}

/* ---- the jobs (run thread) ---- */

/* Print a failed step's message (or error) now, to the output and sim.log: a served run goes on
 * after a failure, so it is not left for the end. */
static void serve_say_failure(struct serve *s, json_t *outcome)
{
    const char *msg = json_string_value(json_object_get(outcome, "message"));
    struct buf line = BUF_INIT;
    if (msg)
        buf_append_str(&line, msg);
    else
        buf_printf(&line, "ERROR %s:%" JSON_INTEGER_FORMAT ": %s: %s\n", s->sc->path,
                   json_integer_value(json_object_get(outcome, "line")),
                   json_string_value(json_object_get(outcome, "text")),
                   json_string_value(json_object_get(outcome, "error")));
    events_log(s->ev, line.data);
    if (s->o->verbosity >= -1 && s->o->out) {
        fputs(line.data, s->o->out);
        fflush(s->o->out);
    }
    buf_free(&line);
}

/* POST /steps: parse the body against the header, then run its steps in order until one fails. */
static void serve_steps(struct serve *s, struct job *j)
{
    struct scenario *req = NULL;
    char err[1024];
    if (scenario_parse_steps(s->sc, j->body ? j->body : "", j->len, &req, err, sizeof(err)) < 0) {
        unsigned line = 0, col = 0;
        sscanf(err, "%u:%u:", &line, &col);
        serve_answer(
            j, MHD_HTTP_BAD_REQUEST,
            json_pack("{s:s, s:i, s:i}", "error", err, "line", (int)line, "col", (int)col));
        return;
    }
    char head[96];
    snprintf(head, sizeof(head), "# request %u at %.3fs\n", ++s->requests, events_now(s->ev));
    serve_transcribe(s, head, strlen(head));
    unsigned offset = s->lines;
    serve_transcribe(s, j->body, j->len);
    runner_reset_timeout(s->r);
    json_t *steps = json_array(), *not_run = json_array();
    bool ok = true;
    for (size_t i = 0; i < req->n_steps; i++) {
        struct scenario_step *st = &req->steps[i];
        st->line += offset;
        if (!ok) {
            json_array_append_new(not_run, json_string(st->text));
            continue;
        }
        json_t *outcome = NULL;
        ok = runner_step(s->r, st, &outcome) == 0;
        if (!ok)
            serve_say_failure(s, outcome);
        json_array_append_new(steps, outcome);
    }
    scenario_free(req);
    serve_answer(j, MHD_HTTP_OK,
                 json_pack("{s:b, s:o, s:o}", "ok", ok, "steps", steps, "not_run", not_run));
}

/* Do one job (anything but the DELETE, which closes). */
static void serve_do(struct serve *s, struct job *j)
{
    switch (j->path) {
    case PATH_STEPS:
        serve_steps(s, j);
        break;
    case PATH_REPORT:
        serve_answer(j, MHD_HTTP_OK, runner_report(s->r));
        break;
    case PATH_CLUSTER:
    default:
        serve_answer(j, MHD_HTTP_OK, runner_cluster(s->r));
        break;
    }
}

/* The next job, or NULL when a signal came first. */
static struct job *serve_next(struct serve *s)
{
    struct job *j = NULL;
    pthread_mutex_lock(&s->lock);
    while (j == NULL && !*s->o->interrupted) {
        if (s->head) {
            j = s->head;
            s->head = j->next;
            if (s->head == NULL)
                s->tail = NULL;
        } else {
            serve_wait(s, &s->wake, SERVE_TICK_MS);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return j;
}

/* ---- the connection threads ---- */

/* Hand j to the run thread and wait until it is done (503 when the session is closing). */
static void serve_submit(struct serve *s, struct job *j)
{
    pthread_mutex_lock(&s->lock);
    if (s->closing) {
        pthread_mutex_unlock(&s->lock);
        serve_answer_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "the cluster is shutting down");
        return;
    }
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->wake);
    while (!j->done)
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* A query number of conn into *out (def when absent). Returns 0, or -1 when it is not a finite
 * number in [lo, hi]. */
static int serve_query_number(struct MHD_Connection *conn, const char *name, double def, double lo,
                              double hi, double *out)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

/* GET /events?since=T&wait=S: the events after T, waiting up to S seconds for one. */
static void serve_events(struct serve *s, struct MHD_Connection *conn, struct job *j)
{
    double since, wait_s;
    char msg[160];
    if (serve_query_number(conn, "since", -1, -1e18, 1e18, &since) < 0 ||
        serve_query_number(conn, "wait", SERVE_WAIT_S, 0, SERVE_WAIT_MAX_S, &wait_s) < 0) {
        snprintf(msg, sizeof(msg),
                 "since must be a number of seconds and wait a number from 0 to %d",
                 SERVE_WAIT_MAX_S);
        serve_answer_error(j, MHD_HTTP_BAD_REQUEST, msg);
        return;
    }
    pthread_mutex_lock(&s->lock);
    struct events *ev = s->closing ? NULL : s->ev; /* valid until readers drops back */
    if (ev)
        s->readers++;
    pthread_mutex_unlock(&s->lock);
    if (ev == NULL) {
        serve_answer_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "the cluster is shutting down");
        return;
    }
    json_t *events = events_since(ev, since, SERVE_EVENTS_MAX, (long)(wait_s * 1000.0));
    serve_answer(j, MHD_HTTP_OK,
                 events); /* the events are the record's: done with before leaving */
    pthread_mutex_lock(&s->lock);
    s->readers--;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

static const struct serve_route *serve_route_find(const char *url)
{
    for (size_t i = 0; i < sizeof(serve_routes) / sizeof(serve_routes[0]); i++) {
        if (strcmp(serve_routes[i].path, url) == 0)
            return &serve_routes[i];
    }
    return NULL;
}

static unsigned serve_method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0)
        return SERVE_GET;
    if (strcmp(method, "POST") == 0)
        return SERVE_POST;
    if (strcmp(method, "DELETE") == 0)
        return SERVE_DELETE;
    return 0;
}

/* 413, and the connection closed. */
static enum MHD_Result serve_too_large(struct MHD_Connection *conn, struct request *rq)
{
    char msg[120];
    snprintf(msg, sizeof(msg), "the body is over the limit of %u bytes", SERVE_MAX_BODY);
    serve_answer_error(&rq->job, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    rq->job.close = true;
    rq->replied = true;
    return serve_send(conn, &rq->job, NULL);
}

/* The first call of a request: route it; 404, 405 and 413 before any body is read. */
static enum MHD_Result serve_begin(struct MHD_Connection *conn, const char *url, const char *method,
                                   struct request *rq)
{
    char msg[200];
    rq->route = serve_route_find(url);
    rq->method = serve_method_bit(method);
    if (rq->route == NULL) {
        snprintf(msg, sizeof(msg),
                 "unknown path: the API has GET /cluster, POST /steps, GET /events, GET /report "
                 "and DELETE /cluster");
        serve_answer_error(&rq->job, MHD_HTTP_NOT_FOUND, msg);
        rq->replied = true;
        return serve_send(conn, &rq->job, NULL);
    }
    if ((rq->route->methods & rq->method) == 0) {
        snprintf(msg, sizeof(msg), "method %.16s not allowed on %s: use %s", method,
                 rq->route->path, rq->route->allow);
        serve_answer_error(&rq->job, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
        rq->replied = true;
        return serve_send(conn, &rq->job, rq->route->allow);
    }
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > SERVE_MAX_BODY)
        return serve_too_large(conn, rq);
    return MHD_YES;
}

static enum MHD_Result serve_access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version, const char *upload,
                                       size_t *upload_size, void **con_cls)
{
    struct serve *s = cls;
    struct request *rq = *con_cls;
    (void)version;
    if (rq == NULL) {
        rq = xcalloc(1, sizeof(*rq));
        *con_cls = rq;
        return serve_begin(conn, url, method, rq);
    }
    if (rq->replied) { /* a body after a 404 or 405: dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!rq->too_large && rq->body.len + *upload_size > SERVE_MAX_BODY) {
            rq->too_large = true;
            buf_free(&rq->body);
        }
        if (!rq->too_large)
            buf_append(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct job *j = &rq->job;
    if (rq->too_large)
        return serve_too_large(conn, rq);
    if (rq->route->id == PATH_EVENTS) {
        serve_events(s, conn, j);
        return serve_send(conn, j, NULL);
    }
    j->path = rq->route->id;
    j->method = rq->method;
    j->body = rq->body.data;
    j->len = rq->body.len;
    rq->farewell = j->path == PATH_CLUSTER && j->method == SERVE_DELETE;
    serve_submit(s, j);
    return serve_send(conn, j, NULL);
}

static void serve_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct serve *s = cls;
    struct request *rq = *con_cls;
    (void)conn;
    (void)toe;
    if (rq == NULL)
        return;
    if (rq->farewell && rq->job.done) {
        pthread_mutex_lock(&s->lock);
        s->farewell_sent = true;
        pthread_cond_broadcast(&s->done);
        pthread_mutex_unlock(&s->lock);
    }
    free(rq->job.answer);
    buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

/* libmicrohttpd's messages go to sim.log while the run is open. */
static void serve_mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    struct serve *s = cls;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "api: ");
    buf_vprintf(&b, fmt, ap);
    pthread_mutex_lock(&s->lock);
    if (s->ev)
        events_log(s->ev, b.data);
    pthread_mutex_unlock(&s->lock);
    buf_free(&b);
}

/* ---- the parent ---- */

/* The watcher thread: a SIGTERM to ourselves when the parent process is gone. */
static void *serve_watch_cb(void *arg)
{
    struct serve *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop_watch) {
        serve_wait(s, &s->tick, SERVE_PARENT_MS);
        if (getppid() != s->parent) {
            kill(getpid(), SIGTERM);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- set-up and closing ---- */

/* Bind listen ("ADDR:PORT", "[V6]:PORT"). Returns the socket and url (the API's, with the port
 * bound), or -1 with err. */
static int serve_bind(const char *listen_at, char *url, size_t urlsz, char *err, size_t errsz)
{
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1;
    char *end = NULL;
    unsigned long port_n = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == listen_at || (size_t)(colon - listen_at) >= sizeof(host) ||
        colon[1] < '0' || colon[1] > '9' || *end || port_n > 65535) {
        snprintf(err, errsz, "--listen %s: give ADDRESS:PORT, e.g. 127.0.0.1:8700 (port 0: any)",
                 listen_at);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_at), listen_at);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errsz, "--listen %s: %s", listen_at, gai_strerror(rc));
        goto out;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SERVE_MAX_CONNECTIONS) < 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", listen_at, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        goto out;
    }
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    char port[16];
    getsockname(fd, (struct sockaddr *)&sa, &salen);
    getnameinfo((struct sockaddr *)&sa, salen, NULL, 0, port, sizeof(port), NI_NUMERICSERV);
    snprintf(url, urlsz, strchr(host, ':') ? "http://[%s]:%s" : "http://%s:%s", host, port);
out:
    if (res)
        freeaddrinfo(res);
    return fd;
}

/* Block the stop signals in threads started from now on (they belong to the run thread); the
 * mask before goes to old. */
static void serve_block_signals(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, old);
}

/* Start the parent watcher. Returns 0, or -1 with err. */
static int serve_watch_start(struct serve *s, pthread_t *watcher, char *err, size_t errsz)
{
    sigset_t old;
    serve_block_signals(&old);
    int rc = pthread_create(watcher, NULL, serve_watch_cb, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        snprintf(err, errsz, "cannot start the parent watcher thread");
    return rc != 0 ? -1 : 0;
}

/* Stop and join the parent watcher. */
static void serve_watch_stop(struct serve *s, pthread_t watcher)
{
    pthread_mutex_lock(&s->lock);
    s->stop_watch = true;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);
    pthread_join(watcher, NULL);
}

/* Start libmicrohttpd on fd. Returns the daemon, or NULL with err (fd is then closed). */
static struct MHD_Daemon *serve_start(struct serve *s, int fd, char *err, size_t errsz)
{
    sigset_t old;
    serve_block_signals(&old);
    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, serve_access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, serve_mhd_log_cb, s,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_IDLE_S, MHD_OPTION_NOTIFY_COMPLETED,
        serve_completed_cb, s, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (mhd == NULL) {
        snprintf(err, errsz, "cannot start the HTTP server (libmicrohttpd)");
        close(fd);
    }
    return mhd;
}

/* Close the session: refuse new requests, let the readers go, answer what is queued, close the
 * run, answer farewell (the DELETE, or NULL) with the final report. */
static void serve_close(struct serve *s, struct job *farewell)
{
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_mutex_unlock(&s->lock);
    events_end(s->ev);
    pthread_mutex_lock(&s->lock);
    while (s->readers > 0)
        pthread_cond_wait(&s->wake, &s->lock);
    for (struct job *j = s->head; j; j = j->next) {
        serve_answer_error(j, MHD_HTTP_SERVICE_UNAVAILABLE, "the cluster is shutting down");
        j->done = true;
    }
    s->head = s->tail = NULL;
    s->ev = NULL;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    json_t *result = NULL;
    runner_close(s->r, &result);
    s->r = NULL;
    if (farewell == NULL) {
        json_decref(result);
        return;
    }
    farewell->close = true;
    serve_answer(farewell, MHD_HTTP_OK, result);
    serve_job_done(s, farewell);
    pthread_mutex_lock(&s->lock);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (now = t0; !s->farewell_sent &&
                   (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L <
                       SERVE_FAREWELL_MS;
         clock_gettime(CLOCK_MONOTONIC, &now))
        serve_wait(s, &s->done, SERVE_TICK_MS);
    pthread_mutex_unlock(&s->lock);
}

int serve_run(struct scenario *sc, const char *text, const struct runner_opts *o,
              const char *listen_at, char *err, size_t errsz)
{
    struct serve s = {.sc = sc, .o = o, .parent = getppid()};
    struct MHD_Daemon *mhd = NULL;
    pthread_t watcher;
    char url[320];
    int code = RUNNER_BAD;
    int fd = serve_bind(listen_at, url, sizeof(url), err, errsz);
    if (fd < 0)
        return code;

    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.wake, &mono);
    pthread_cond_init(&s.done, &mono);
    pthread_cond_init(&s.tick, &mono);
    pthread_condattr_destroy(&mono);
    if (serve_watch_start(&s, &watcher, err, errsz) < 0) {
        close(fd);
        code = RUNNER_CLUSTER;
        goto out;
    }
    fprintf(o->out, "%s\n", url);
    fflush(o->out);

    code = runner_open(sc, o, &s.r);
    s.ev = runner_events(s.r);
    if (code == RUNNER_OK) {
        serve_transcript_start(&s, text);
        for (size_t i = 0; i < sc->n_steps; i++) {
            if (runner_step(s.r, &sc->steps[i], NULL) < 0)
                break;
        }
        mhd = serve_start(&s, fd, err, errsz);
        if (mhd == NULL) {
            fprintf(o->out, "chainlab-sim serve: %s\n", err);
            code = RUNNER_CLUSTER;
        }
    } else {
        close(fd);
    }
    struct job *j = NULL;
    while (mhd && (j = serve_next(&s)) != NULL &&
           !(j->path == PATH_CLUSTER && j->method == SERVE_DELETE)) {
        serve_do(&s, j);
        serve_job_done(&s, j);
    }
    serve_close(&s, j);
    if (mhd)
        MHD_stop_daemon(mhd);
    serve_watch_stop(&s, watcher);
out:
    if (s.transcript)
        fclose(s.transcript);
    pthread_cond_destroy(&s.wake);
    pthread_cond_destroy(&s.done);
    pthread_cond_destroy(&s.tick);
    pthread_mutex_destroy(&s.lock);
    return code;
}

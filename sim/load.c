/* load: an open-loop stream of appends at a fixed rate, spread over nodes. */
#include "load.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

struct req {
    CURL *easy;
    unsigned target;
    double due; /* seconds since the start */
    long status;
    char data[80];
    char url[64];
    char body[LOAD_BODY_HEAD + 1];
    size_t body_len;
    char error[CURL_ERROR_SIZE];
    bool busy;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep the head of the answer; read and drop the rest. */
static size_t head_cb(char *p, size_t size, size_t n, void *arg)
{
    struct req *q = arg;
    size_t len = size * n, room = LOAD_BODY_HEAD - q->body_len;
    size_t take = len < room ? len : room;
    memcpy(q->body + q->body_len, p, take);
    q->body_len += take;
    q->body[q->body_len] = '\0';
    return len;
}

int load_run(const struct load_spec *spec, load_sent_cb sent, load_done_cb done, void *arg,
             struct load_stats *out)
{
    memset(out, 0, sizeof(*out));
    CURLM *multi = curl_multi_init();
    if (multi == NULL || spec->ntargets == 0 || spec->per_s <= 0)
        return -1;
    struct req *reqs = xcalloc(LOAD_MAX_IN_FLIGHT, sizeof(*reqs));
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    headers = curl_slist_append(headers, "Content-Type: text/plain");
    uint64_t total = (uint64_t)((double)spec->duration_ms / 1000.0 * spec->per_s);
    uint64_t next = 0; /* the next append to start */
    size_t open = 0;
    double t0 = now_s();

    while (next < total || open > 0) {
        double now = now_s() - t0;
        bool cancelled = spec->cancel && *spec->cancel;
        if (cancelled)
            total = next; /* send nothing more; let the open ones finish */
        /* Start every append that is due, as long as a slot is free. */
        while (next < total && (double)next / spec->per_s <= now && open < LOAD_MAX_IN_FLIGHT) {
            struct req *q = NULL;
            for (size_t i = 0; i < LOAD_MAX_IN_FLIGHT && q == NULL; i++) {
                if (!reqs[i].busy)
                    q = &reqs[i];
            }
            if (q->easy == NULL)
                q->easy = curl_easy_init();
            q->busy = true;
            q->target = (unsigned)(next % spec->ntargets);
            q->due = (double)next / spec->per_s;
            q->status = 0;
            q->body_len = 0;
            q->body[0] = q->error[0] = '\0';
            snprintf(q->data, sizeof(q->data), "%s-%llu", spec->prefix,
                     (unsigned long long)next + 1);
            char host[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &spec->addr[q->target].sin_addr, host, sizeof(host));
            snprintf(q->url, sizeof(q->url), "http://%s:%u/append", host,
                     ntohs(spec->addr[q->target].sin_port));
            curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
            curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, spec->timeout_ms);
            curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, spec->timeout_ms);
            curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->data);
            curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(q->data));
            curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, head_cb);
            curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
            curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->error);
            curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
            curl_multi_add_handle(multi, q->easy);
            double behind = now - q->due;
            if (behind > out->behind_s)
                out->behind_s = behind;
            open++;
            next++;
            out->sent++;
            if (sent)
                sent(arg, spec->nodes[q->target], q->data, q->due);
        }
        int running = 0, left = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct req *q = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            if (m->data.result == CURLE_OK)
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &q->status);
            else if (q->error[0] == '\0')
                snprintf(q->error, sizeof(q->error), "%s", curl_easy_strerror(m->data.result));
            curl_multi_remove_handle(multi, m->easy_handle);
            bool acked = q->status >= 200 && q->status < 300;
            if (acked)
                out->acked++;
            else
                out->failed++;
            struct load_done d = {.node = spec->nodes[q->target],
                                  .data = q->data,
                                  .acked = acked,
                                  .status = q->status,
                                  .error = q->status ? "" : q->error,
                                  .body = q->body,
                                  .due_s = q->due,
                                  .latency_s = now_s() - t0 - q->due};
            done(arg, &d);
            q->busy = false;
            open--;
        }
        /* Sleep until the next append is due (or something answers). */
        int wait_ms = 50;
        if (next < total) {
            double due_in = (double)next / spec->per_s - (now_s() - t0);
            wait_ms = due_in <= 0 ? 0 : (int)(due_in * 1000.0) + 1;
            if (wait_ms > 50)
                wait_ms = 50;
        }
        if (wait_ms > 0 || open > 0)
            curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    for (size_t i = 0; i < LOAD_MAX_IN_FLIGHT; i++) {
        if (reqs[i].easy)
            curl_easy_cleanup(reqs[i].easy);
    }
    free(reqs);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    return 0;
}

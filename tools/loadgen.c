/* loadgen: POST exactly COUNT appends to a node over CONNS keep-alive connections (libcurl multi),
 * then print the rate. Used by the benchmarks to build chains of an exact length. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

struct slot {
    CURL *easy;
    char body[64];
};

static size_t discard_cb(char *p, size_t s, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return s * n;
}

static void submit(CURLM *m, struct slot *s, const char *url, unsigned long seq)
{
    int len = snprintf(s->body, sizeof(s->body), "load-%lu", seq);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(m, s->easy);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: loadgen BASE-URL COUNT CONNS\n");
        return 2;
    }
    char url[512];
    snprintf(url, sizeof(url), "%s/append", argv[1]);
    unsigned long count = strtoul(argv[2], NULL, 10), sent = 0, done = 0, failed = 0;
    int conns = atoi(argv[3]);
    if (conns < 1 || count == 0) {
        fprintf(stderr, "loadgen: COUNT and CONNS must be positive\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    struct slot *slots = xcalloc((size_t)conns, sizeof(*slots));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < conns && sent < count; i++) {
        slots[i].easy = curl_easy_init();
        submit(m, &slots[i], url, ++sent);
    }
    while (done < count) {
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status != 200)
                failed++;
            done++;
            curl_multi_remove_handle(m, msg->easy_handle);
            if (sent < count)
                submit(m, s, url, ++sent);
        }
        if (done < count)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%lu appends in %.3fs: %.0f/s, %lu failed\n", count, secs, (double)count / secs, failed);
    for (int i = 0; i < conns; i++) {
        if (slots[i].easy)
            curl_easy_cleanup(slots[i].easy);
    }
    free(slots);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

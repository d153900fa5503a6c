/* bare_server: the node's HTTP layer with nothing behind it, the yardstick of make bench.
 *
 * The same libmicrohttpd set-up as node/api.c (internal polling thread, epoll, a pool of
 * --threads workers, suspend/resume allowed, the same connection limits), answering every
 * POST /append with a fixed block-sized JSON object once the body is read, and every other
 * request with 404. What the node's appends cost beyond this is the node's own work.
 *
 * usage: bare_server [--threads N] PORT (prints "ready" on stdout once listening) */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As large as the answer to an /append of a short payload. */
static const char answer[] =
    "{\"index\": 1, \"data\": \"bench-0-1\", \"prev_hash\": "
    "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
    "\"5a0fd9d8a3bc4ba0c1a0c3d16c5e4a1d5dbb9e8d7a4d1f2ab3b1c0f9e8d7c6b5\"}";

static char request_marker; /* *con_cls after the first call: the body is being read */

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &request_marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* read and dropped */
        return MHD_YES;
    }
    bool append = strcmp(method, "POST") == 0 && strcmp(url, "/append") == 0;
    const char *body = append ? answer : "{\"error\": \"not found\"}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, append ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, resp);
    MHD_destroy_response(resp);
    return ret;
}

int main(int argc, char **argv)
{
    unsigned threads = 2;
    int a = 1;
    if (argc == 4 && strcmp(argv[1], "--threads") == 0) {
        threads = (unsigned)atoi(argv[2]);
        a = 3;
    }
    if (argc != a + 1 || threads < 1) {
        fprintf(stderr, "usage: bare_server [--threads N] PORT\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[a]);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, access_cb, NULL, MHD_OPTION_SOCK_ADDR,
                         &sa, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                         4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bare_server: cannot listen on port %u\n", port);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}

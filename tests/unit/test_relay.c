/* test_relay: one relay (the link layer's forwarder) against an in-test echo server: bytes,
 * half-close, stalls, faults (latency, loss, bandwidth, reset, clear), stats, targets' listeners
 * with sources told apart by address, sides. */
#include "capture.h"
#include "echo.h"
#include "limits.h"
#include "log.h"
#include "relay.h"

static struct link_stats link_stats(struct relay *ls, int from, int to)
{
    struct link_stats st;
    ck_assert_int_eq(relay_link_stats(ls, from, to, &st), 0);
    return st;
}

static struct relay *start_links(void)
{
    char err[256] = "";
    struct relay *ls = relay_new();
    ck_assert_msg(relay_start(ls, err, sizeof(err)) == 0, "%s", err);
    return ls;
}

static int add_link(struct relay *ls, int from, int to, uint16_t target)
{
    char err[256] = "";
    uint16_t port = 0;
    ck_assert_msg(relay_add(ls, from, to, target, &port, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_ne(port, 0);
    ck_assert_int_eq(relay_listen_port(ls, from, to), port);
    return port;
}

START_TEST(test_bytes_both_ways)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, s->port));
    const size_t big = 1 << 20;
    char *out = malloc(big);
    char *in = malloc(big);

    send_all(fd, "hello", 5);
    expect_bytes(fd, "hello");

    /* 1 MiB each way at once: partial reads and writes, full buffers, backpressure. */
    for (size_t i = 0; i < big; i++)
        out[i] = (char)(i * 7 + i / 251);
    size_t sent = 0;
    size_t got = 0;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (got < big) {
        ck_assert_msg(now_ms() < deadline, "echoed %zu of %zu bytes", got, big);
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < big ? POLLOUT : 0)};
        ck_assert_int_ge(poll(&p, 1, 100), 0);
        if ((p.revents & POLLOUT) && sent < big) {
            ssize_t w = send(fd, out + sent, big - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        if (p.revents & POLLIN) {
            ssize_t r = recv(fd, in + got, big - got, MSG_DONTWAIT);
            ck_assert_int_ne(r, 0);
            if (r > 0)
                got += (size_t)r;
        }
    }
    ck_assert_int_eq(memcmp(in, out, big), 0);

    /* Half-close: our FIN reaches the server, which answers and closes; we read both. */
    send_all(fd, "bye", 3);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    expect_bytes(fd, "bye");
    char c;
    ck_assert_int_eq(recv_timeout(fd, &c, 1, WAIT_MS), 0);
    close(fd);

    WAIT_FOR(link_stats(ls, 0, 1).open == 0);
    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.messages, 1);
    ck_assert_uint_eq(st.bytes_to_target, 5 + big + 3);
    ck_assert_uint_eq(st.bytes_to_source, 5 + big + 3);
    ck_assert_uint_eq(st.connect_errors, 0);
    ck_assert_uint_eq(st.dropped, 0);
    relay_free(ls);
    server_stop(s);
    free(out);
    free(in);
}
END_TEST

START_TEST(test_block_holds_then_releases)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);
    int open_fd = client_connect(port);

    send_all(open_fd, "a", 1);
    expect_bytes(open_fd, "a");
    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    ck_assert(relay_blocked(ls, 0, 1));

    /* An open connection: nothing reaches the server, nothing comes back. */
    send_all(open_fd, "held", 4);
    expect_silence(open_fd);
    ck_assert_uint_eq(server_get(s, &s->received), 1);

    /* Bytes from the target are held too. */
    server_push(s, "pushed");
    expect_silence(open_fd);

    /* A new connection is accepted but not connected upstream. */
    int new_fd = client_connect(port);
    send_all(new_fd, "new", 3);
    expect_silence(new_fd);
    ck_assert_uint_eq(server_get(s, &s->accepted), 1);
    ck_assert_uint_eq(server_get(s, &s->received), 1);
    WAIT_FOR(link_stats(ls, 0, 1).accepted == 2);

    ck_assert_int_eq(relay_set_cut(ls, 0, 1, false), 0);
    ck_assert(!relay_blocked(ls, 0, 1));
    expect_bytes(open_fd, "pushedheld");
    expect_bytes(new_fd, "new");
    ck_assert_uint_eq(server_get(s, &s->accepted), 2);
    WAIT_FOR(server_get(s, &s->received) == 8);

    close(open_fd);
    close(new_fd);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0);
    ck_assert_uint_eq(link_stats(ls, 0, 1).dropped, 0);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_block_is_one_way)
{
    struct server *a = server_start();
    struct server *b = server_start();
    struct relay *ls = start_links();
    int ab = add_link(ls, 0, 1, b->port);
    int ba = add_link(ls, 1, 0, a->port);

    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    ck_assert(relay_blocked(ls, 0, 1));
    ck_assert(!relay_blocked(ls, 1, 0));

    int fd_ba = client_connect(ba);
    send_all(fd_ba, "b to a", 6);
    expect_bytes(fd_ba, "b to a");

    int fd_ab = client_connect(ab);
    send_all(fd_ab, "a to b", 6);
    expect_silence(fd_ab);
    ck_assert_uint_eq(server_get(b, &b->received), 0);

    relay_heal(ls);
    ck_assert(!relay_blocked(ls, 0, 1));
    expect_bytes(fd_ab, "a to b");

    close(fd_ab);
    close(fd_ba);
    relay_free(ls);
    server_stop(a);
    server_stop(b);
}
END_TEST

START_TEST(test_held_source_close_is_dropped)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);

    /* Connected upstream before the stall, then abandoned by the client. */
    int fd1 = client_connect(port);
    send_all(fd1, "x", 1);
    expect_bytes(fd1, "x");
    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    send_all(fd1, "late", 4);
    close(fd1);
    /* Accepted during the stall, then abandoned. */
    int fd2 = client_connect(port);
    send_all(fd2, "never", 5);
    close(fd2);

    WAIT_FOR(link_stats(ls, 0, 1).dropped == 2); /* the second may not be accepted yet */
    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_eq(st.open, 0);
    ck_assert_uint_eq(st.accepted, 2);
    ck_assert_uint_eq(st.messages, 1);
    ck_assert_uint_eq(st.bytes_to_target, 1);
    ck_assert_uint_eq(server_get(s, &s->accepted), 1);
    ck_assert_uint_eq(server_get(s, &s->received), 1);
    WAIT_FOR(server_get(s, &s->open) == 0); /* the server saw its connection end */

    /* The link still works once released. */
    relay_heal(ls);
    int fd3 = client_connect(port);
    send_all(fd3, "again", 5);
    expect_bytes(fd3, "again");
    close(fd3);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_target_down_resets_source)
{
    uint16_t dead_port = 0;
    close(listen_at("127.0.0.1", &dead_port)); /* a port nobody listens on */
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, dead_port));

    send_all(fd, "anyone?", 7);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0);
    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.connect_errors, 1);
    ck_assert_uint_eq(st.messages, 0);
    ck_assert_uint_eq(st.bytes_to_target, 0);
    relay_free(ls);
}
END_TEST

START_TEST(test_stats)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int p01 = add_link(ls, 0, 1, s->port);
    int p02 = add_link(ls, 0, 2, s->port);

    /* A connection that carries nothing is accepted but is not a message. */
    int fd = client_connect(p01);
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0);

    for (int i = 0; i < 3; i++) {
        fd = client_connect(p02);
        send_all(fd, "ping", 4);
        expect_bytes(fd, "ping");
        close(fd);
    }
    WAIT_FOR(link_stats(ls, 0, 2).open == 0);

    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.messages, 0);
    ck_assert_uint_eq(st.bytes_to_target, 0);
    st = link_stats(ls, 0, 2);
    ck_assert_uint_eq(st.accepted, 3);
    ck_assert_uint_eq(st.messages, 3);
    ck_assert_uint_eq(st.bytes_to_target, 12);
    ck_assert_uint_eq(st.bytes_to_source, 12);

    struct link_stats total;
    relay_stats(ls, &total);
    ck_assert_uint_eq(total.accepted, 4);
    ck_assert_uint_eq(total.messages, 3);
    ck_assert_uint_eq(total.bytes_to_target, 12);
    ck_assert_uint_eq(total.bytes_to_source, 12);
    ck_assert_uint_eq(total.open, 0);
    ck_assert_uint_eq(total.connect_errors, 0);
    ck_assert_uint_eq(total.dropped, 0);

    ck_assert_int_eq(relay_link_stats(ls, 2, 0, &st), -1);
    ck_assert_uint_eq(st.accepted, 0);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_300_links)
{
    enum { NLINKS = 300 };
    char err[256] = "";
    struct server *s = server_start();
    struct relay *ls = relay_new();
    int ports[NLINKS];
    int fds[NLINKS];
    char msg[16];

    ck_assert_msg(limits_raise_nofile(err, sizeof(err)) == 0, "%s", err);
    /* Half added before the start, half after. */
    for (int i = 0; i < NLINKS; i++) {
        if (i == NLINKS / 2)
            ck_assert_msg(relay_start(ls, err, sizeof(err)) == 0, "%s", err);
        ports[i] = add_link(ls, i, NLINKS + i, s->port);
        for (int j = 0; j < i; j++)
            ck_assert_int_ne(ports[i], ports[j]);
    }
    ck_assert_uint_eq(relay_count(ls), NLINKS);
    for (int i = 0; i < NLINKS; i++) {
        fds[i] = client_connect(ports[i]);
        snprintf(msg, sizeof(msg), "m%03d", i);
        send_all(fds[i], msg, 4);
    }
    for (int i = 0; i < NLINKS; i++) {
        snprintf(msg, sizeof(msg), "m%03d", i);
        expect_bytes(fds[i], msg);
    }
    struct link_stats total;
    relay_stats(ls, &total);
    ck_assert_uint_eq(total.accepted, NLINKS);
    ck_assert_uint_eq(total.messages, NLINKS);
    ck_assert_uint_eq(total.bytes_to_target, 4 * NLINKS);
    ck_assert_uint_eq(total.open, NLINKS);
    for (int i = 0; i < NLINKS; i++)
        close(fds[i]);
    WAIT_FOR((relay_stats(ls, &total), total.open == 0));
    relay_free(ls); /* with every link still listening */
    server_stop(s);
}
END_TEST

START_TEST(test_connect_before_start)
{
    struct server *s = server_start();
    struct relay *ls = relay_new();
    char err[256] = "";
    int fd = client_connect(add_link(ls, 3, 4, s->port)); /* waits in the backlog */

    send_all(fd, "early", 5);
    ck_assert_int_eq(relay_set_cut(ls, 3, 4, true), 0); /* before start: fine */
    ck_assert_int_eq(relay_set_cut(ls, 3, 4, false), 0);
    ck_assert_msg(relay_start(ls, err, sizeof(err)) == 0, "%s", err);
    expect_bytes(fd, "early");
    close(fd);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_free_with_open_connections)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);
    int fd1 = client_connect(port);
    send_all(fd1, "x", 1);
    expect_bytes(fd1, "x");
    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    int fd2 = client_connect(port);
    WAIT_FOR(link_stats(ls, 0, 1).open == 2);

    relay_free(ls);
    expect_closed(fd1);
    expect_closed(fd2);
    close(fd1);
    close(fd2);
    server_stop(s);
}
END_TEST

struct add_row {
    int from;
    int to;
    uint16_t target;
};

static const struct add_row bad_adds[] = {
    {0, 1, 0},                                  /* no target port */
    {2, 2, 8080},                               /* self-link */
    {-1, 1, 8080}, {1, -1, 8080}, {0, 1, 8080}, /* duplicate of the link added first */
};

START_TEST(test_api_errors)
{
    const struct add_row *row = &bad_adds[_i];
    struct relay *ls = relay_new();
    char err[256] = "";
    uint16_t port = 1234;

    ck_assert_int_eq(relay_add(ls, 0, 1, 8080, &port, err, sizeof(err)), 0);
    port = 1234;
    err[0] = '\0';
    ck_assert_int_eq(relay_add(ls, row->from, row->to, row->target, &port, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    ck_assert_uint_eq(port, 1234);
    ck_assert_uint_eq(relay_count(ls), 1);
    relay_free(ls);
}
END_TEST

START_TEST(test_api_unknown_links)
{
    struct relay *ls = relay_new();
    char err[256] = "";

    ck_assert_int_eq(relay_listen_port(ls, 0, 1), -1);
    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), -1);
    ck_assert(!relay_blocked(ls, 0, 1));
    relay_heal(ls);
    ck_assert_int_eq(relay_start(ls, err, sizeof(err)), 0);
    ck_assert_int_eq(relay_start(ls, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    relay_free(ls);
    relay_free(NULL);
}
END_TEST

/* One echo round trip of msg on fd; returns its duration in microseconds. */
static uint64_t round_trip_us(int fd, const char *msg)
{
    uint64_t t0 = now_us();
    send_all(fd, msg, strlen(msg));
    expect_bytes(fd, msg);
    return now_us() - t0;
}

START_TEST(test_latency_delays_both_ways)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, s->port));

    round_trip_us(fd, "warm");
    ck_assert_int_eq(relay_set_latency(ls, 0, 1, 200, 0), 0);
    /* Each direction of the connection waits 200 ms: a round trip takes at least 400 ms. */
    uint64_t rtt = round_trip_us(fd, "slow");
    ck_assert_msg(rtt >= 400000, "round trip of %llu us", (unsigned long long)rtt);
    ck_assert_uint_eq(link_stats(ls, 0, 1).bytes_delayed, 8);
    /* A new connection is delayed too, and its FIN keeps its place behind its bytes. */
    int fd2 = client_connect(relay_listen_port(ls, 0, 1));
    uint64_t t0 = now_us();
    send_all(fd2, "bye", 3);
    ck_assert_int_eq(shutdown(fd2, SHUT_WR), 0);
    expect_bytes(fd2, "bye");
    expect_closed(fd2);
    ck_assert_uint_ge(now_us() - t0, 400000);
    close(fd2);

    /* Cleared: bytes flow again (no upper bound on time is asserted). */
    ck_assert_int_eq(relay_clear_faults(ls, 0, 1), 0);
    uint64_t delayed = link_stats(ls, 0, 1).bytes_delayed;
    round_trip_us(fd, "fast");
    ck_assert_uint_eq(link_stats(ls, 0, 1).bytes_delayed, delayed);
    close(fd);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_jitter_keeps_order)
{
    enum { CHUNKS = 1000, CHUNK = 6 };
    struct server *s = server_start();
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, s->port));
    char msg[16]; /* CHUNK bytes used; room for any int so -Wformat-truncation holds at -O1 */
    char *got = calloc(CHUNKS, CHUNK + 1);

    relay_set_seed(ls, 7);
    ck_assert_int_eq(relay_set_latency(ls, 0, 1, 10, 10), 0);
    for (int i = 0; i < CHUNKS; i++) {
        snprintf(msg, sizeof(msg), "%05d;", i);
        send_all(fd, msg, CHUNK); /* TCP_NODELAY on the link: mostly one chunk per send */
        if (i % 50 == 0)
            poll(NULL, 0, 1); /* let chunks arrive at different times, with different draws */
    }
    size_t n = 0;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (n < (size_t)CHUNKS * CHUNK) {
        ck_assert_msg(now_ms() < deadline, "echoed %zu bytes", n);
        ssize_t r = recv_timeout(fd, got + n, (size_t)CHUNKS * CHUNK - n, WAIT_MS);
        ck_assert_int_gt(r, 0);
        n += (size_t)r;
    }
    for (int i = 0; i < CHUNKS; i++) {
        snprintf(msg, sizeof(msg), "%05d;", i);
        ck_assert_msg(memcmp(got + (size_t)i * CHUNK, msg, CHUNK) == 0, "chunk %d out of order", i);
    }
    ck_assert_uint_gt(link_stats(ls, 0, 1).bytes_delayed, 0);
    close(fd);
    free(got);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_loss_draws_open_connections)
{
    /* Keep-alive connections are rare to open: loss must stall the ones already open too, so that
     * loss 100% acts as a partition. */
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);
    int fd = client_connect(port);
    round_trip_us(fd, "before");
    ck_assert_int_eq(relay_set_loss(ls, 0, 1, 1000000), 0);
    send_all(fd, "after", 5);
    expect_silence(fd);
    ck_assert_uint_eq(link_stats(ls, 0, 1).lost, 1);
    close(fd);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_loss_all_and_none)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);

    ck_assert_int_eq(relay_set_loss(ls, 0, 1, 0), 0);
    int fd = client_connect(port);
    round_trip_us(fd, "kept");
    close(fd);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0); /* an open connection would be drawn below */

    /* 100%: like a stall for the new connection; the client gives up. */
    ck_assert_int_eq(relay_set_loss(ls, 0, 1, 1000000), 0);
    fd = client_connect(port);
    send_all(fd, "lost", 4);
    expect_silence(fd);
    ck_assert_uint_eq(server_get(s, &s->accepted), 1);
    ck_assert_uint_eq(server_get(s, &s->received), 4);
    ck_assert_uint_eq(link_stats(ls, 0, 1).lost, 1);
    ck_assert(!relay_blocked(ls, 0, 1));
    /* Clearing does not revive a lost connection; new ones pass. */
    ck_assert_int_eq(relay_clear_faults(ls, 0, 1), 0);
    expect_silence(fd);
    int fd2 = client_connect(port);
    round_trip_us(fd2, "again");
    close(fd2);
    close(fd);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0);
    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_eq(st.lost, 1);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert_uint_eq(st.accepted, 3);
    ck_assert_uint_eq(server_get(s, &s->accepted), 2);
    relay_free(ls);
    server_stop(s);
}
END_TEST

/* Open n connections one after the other on link 0 -> 1 at 50% loss with seed, and write in
 * lost[i] whether connection i was lost (it echoes nothing). */
static void loss_pattern(struct server *s, uint64_t seed, bool *lost, int n)
{
    struct relay *ls = start_links();
    int fds[64];

    ck_assert_int_le(n, 64);
    relay_set_seed(ls, seed);
    int port = add_link(ls, 0, 1, s->port);
    ck_assert_int_eq(relay_set_loss(ls, 0, 1, 500000), 0);
    for (int i = 0; i < n; i++) {
        fds[i] = client_connect(port);
        WAIT_FOR(link_stats(ls, 0, 1).accepted == (uint64_t)i + 1); /* draws in this order */
        send_all(fds[i], "?", 1);
        lost[i] = true;
    }
    int echoed = 0;
    uint64_t deadline = now_ms() + (uint64_t)HOLD_MS * 2;
    while (echoed < n - (int)link_stats(ls, 0, 1).lost && now_ms() < deadline) {
        for (int i = 0; i < n; i++) {
            char c;
            if (lost[i] && recv_timeout(fds[i], &c, 1, 0) == 1) {
                lost[i] = false;
                echoed++;
            }
        }
        poll(NULL, 0, 2);
    }
    expect_silence(fds[0]); /* nothing more comes late */
    int nlost = 0;
    for (int i = 0; i < n; i++)
        nlost += lost[i];
    ck_assert_uint_eq(link_stats(ls, 0, 1).lost, (uint64_t)nlost);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    relay_free(ls);
}

START_TEST(test_loss_same_seed_same_connections)
{
    enum { N = 40 };
    struct server *s = server_start();
    bool a[N];
    bool b[N];
    bool c[N];

    loss_pattern(s, 1234, a, N);
    loss_pattern(s, 1234, b, N);
    loss_pattern(s, 4321, c, N);
    ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
    ck_assert_int_ne(memcmp(a, c, sizeof(a)), 0);
    int nlost = 0;
    for (int i = 0; i < N; i++)
        nlost += a[i];
    ck_assert_int_gt(nlost, 0);
    ck_assert_int_lt(nlost, N);
    server_stop(s);
}
END_TEST

START_TEST(test_bandwidth_limits)
{
    const size_t size = 32768;
    struct server *s = server_start();
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, s->port));
    char *out = malloc(size);
    char *in = malloc(size);

    for (size_t i = 0; i < size; i++)
        out[i] = (char)(i * 13);
    ck_assert_int_eq(relay_set_bandwidth(ls, 0, 1, 65536), 0);
    /* 32 KB at 64 KB/s with a 6553-byte burst: (32768 - 6553) / 65536 s >= 0.4 s. */
    uint64_t t0 = now_us();
    send_all(fd, out, size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = recv_timeout(fd, in + got, size - got, WAIT_MS);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    uint64_t took = now_us() - t0;
    ck_assert_msg(took >= 400000, "32 KB took %llu us", (unsigned long long)took);
    ck_assert_int_eq(memcmp(in, out, size), 0);
    struct link_stats st = link_stats(ls, 0, 1);
    ck_assert_uint_gt(st.throttled, 0);
    ck_assert_uint_eq(st.bytes_to_target, size);
    ck_assert_uint_eq(st.bytes_to_source, size);
    ck_assert_uint_eq(st.bytes_delayed, 0);

    /* 0 removes the limit; bytes still flow. */
    ck_assert_int_eq(relay_set_bandwidth(ls, 0, 1, 0), 0);
    round_trip_us(fd, "free");
    close(fd);
    free(out);
    free(in);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_reset_is_standing_until_clear)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);
    int other = add_link(ls, 1, 0, s->port);
    int fd = client_connect(port);
    int fd_other = client_connect(other);

    round_trip_us(fd, "up");
    round_trip_us(fd_other, "up");
    ck_assert_int_eq(relay_set_reset(ls, 0, 1, true), 0);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(server_get(s, &s->open) == 1); /* the server's side was reset too */
    ck_assert_uint_eq(link_stats(ls, 0, 1).reset, 1);

    /* While set, a new connection is reset as soon as it is accepted. */
    fd = client_connect(port);
    expect_closed(fd);
    close(fd);
    ck_assert_uint_eq(link_stats(ls, 0, 1).reset, 2);

    /* The other direction is another link: untouched. */
    round_trip_us(fd_other, "still");
    ck_assert_uint_eq(link_stats(ls, 1, 0).reset, 0);

    ck_assert_int_eq(relay_clear_faults(ls, 0, 1), 0);
    fd = client_connect(port);
    round_trip_us(fd, "back");
    close(fd);
    close(fd_other);
    ck_assert_uint_eq(link_stats(ls, 0, 1).reset, 2);
    WAIT_FOR(link_stats(ls, 0, 1).open == 0);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_clear_keeps_blocked)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int port = add_link(ls, 0, 1, s->port);

    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    ck_assert_int_eq(relay_set_latency(ls, 0, 1, 50, 10), 0);
    ck_assert_int_eq(relay_set_bandwidth(ls, 0, 1, 1000), 0);
    ck_assert_int_eq(relay_clear_faults(ls, 0, 1), 0);
    ck_assert(relay_blocked(ls, 0, 1));
    int fd = client_connect(port);
    send_all(fd, "wait", 4);
    expect_silence(fd);
    relay_heal(ls);
    expect_bytes(fd, "wait");
    close(fd);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_latency_and_bandwidth_together)
{
    struct server *s = server_start();
    struct relay *ls = start_links();
    int fd = client_connect(add_link(ls, 0, 1, s->port));
    char out[4000];
    char in[4000];

    memset(out, 'z', sizeof(out));
    ck_assert_int_eq(relay_set_latency(ls, 0, 1, 50, 0), 0);
    ck_assert_int_eq(relay_set_bandwidth(ls, 0, 1, 2000), 0);
    /* Burst 1500 each way, then 2000 B/s: 2500 bytes wait >= 1.25 s, plus 2 x 50 ms. */
    uint64_t t0 = now_us();
    send_all(fd, out, sizeof(out));
    size_t got = 0;
    while (got < sizeof(in)) {
        ssize_t r = recv_timeout(fd, in + got, sizeof(in) - got, WAIT_MS);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    ck_assert_uint_ge(now_us() - t0, 1250000 + 100000);
    ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
    close(fd);
    relay_free(ls);
    server_stop(s);
}
END_TEST

struct fault_row {
    int from; /* link 0 -> 1 exists */
    int to;
    int64_t delay_ms;
    int64_t jitter_ms;
    uint32_t loss;
};

static const struct fault_row bad_faults[] = {
    {1, 0, 10, 0, 0},       /* no such link */
    {0, 1, -1, 0, 0},       /* negative delay */
    {0, 1, 10, -1, 0},      /* negative jitter */
    {0, 1, 3600001, 0, 0},  /* delay too long */
    {0, 1, 10, 3600001, 0}, /* jitter too long */
    {0, 1, 0, 0, 1000001},  /* loss over 100% */
};

START_TEST(test_fault_api_errors)
{
    const struct fault_row *row = &bad_faults[_i];
    struct relay *ls = relay_new();
    char err[256] = "";
    uint16_t port = 0;

    ck_assert_int_eq(relay_add(ls, 0, 1, 8080, &port, err, sizeof(err)), 0);
    if (row->loss != 0 || row->from != 0)
        ck_assert_int_eq(relay_set_loss(ls, row->from, row->to, row->loss), -1);
    if (row->loss == 0)
        ck_assert_int_eq(relay_set_latency(ls, row->from, row->to, row->delay_ms, row->jitter_ms),
                         -1);
    if (row->from != 0) {
        ck_assert_int_eq(relay_set_bandwidth(ls, row->from, row->to, 1000), -1);
        ck_assert_int_eq(relay_set_reset(ls, row->from, row->to, true), -1);
        ck_assert_int_eq(relay_clear_faults(ls, row->from, row->to), -1);
    }
    /* The valid extremes are accepted, before the start too. */
    ck_assert_int_eq(relay_set_latency(ls, 0, 1, 3600000, 3600000), 0);
    ck_assert_int_eq(relay_set_loss(ls, 0, 1, 1000000), 0);
    ck_assert_int_eq(relay_set_bandwidth(ls, 0, 1, UINT64_MAX), 0);
    ck_assert_int_eq(relay_clear_faults(ls, 0, 1), 0);
    relay_set_seed(ls, 99);
    relay_free(ls);
}
END_TEST

/* ---- targets' listeners: sources told apart by their address; sides ---- */

/* A relay with three nodes at 127.1.0.1-3 (their own addresses, where each connects from) and
 * one echo server standing for n1 at 127.1.0.2, reached through n1's listener at 127.2.0.2
 * (whose port goes to *port). Link n0 -> n1 is made up front. */
static struct relay *target_relay(struct server **n1, uint16_t *port)
{
    char err[256] = "";
    struct relay *ls = start_links();
    struct in_addr src[3];
    for (int i = 0; i < 3; i++)
        src[i].s_addr = htonl(0x7f010001u + (uint32_t)i);
    relay_set_sources(ls, src, 3);
    *n1 = server_start_at("127.1.0.2", 0);
    struct sockaddr_in listen = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f020002u)};
    struct sockaddr_in forward = {.sin_family = AF_INET,
                                  .sin_port = htons((*n1)->port),
                                  .sin_addr.s_addr = htonl(0x7f010002u)};
    ck_assert_msg(relay_add_target(ls, 1, &listen, &forward, err, sizeof(err)) == 0, "%s", err);
    *port = ntohs(listen.sin_port);
    ck_assert_msg(relay_add_link(ls, 0, 1, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(relay_add_link(ls, 0, 1, err, sizeof(err)), -1); /* exists */
    ck_assert_int_eq(relay_add_link(ls, 1, 2, err, sizeof(err)), -1); /* n2 has no listener */
    return ls;
}

START_TEST(test_target_tells_sources_apart)
{
    struct server *s;
    uint16_t port;
    struct relay *ls = target_relay(&s, &port);

    int fd = client_connect_from("127.1.0.1", "127.2.0.2", port);
    send_all(fd, "from n0", 7);
    expect_bytes(fd, "from n0");
    ck_assert_uint_eq(link_stats(ls, 0, 1).accepted, 1);
    /* n2 had no link to n1: it is made by its first connection, as for a peer learned later */
    int fd2 = client_connect_from("127.1.0.3", "127.2.0.2", port);
    send_all(fd2, "from n2", 7);
    expect_bytes(fd2, "from n2");
    ck_assert_uint_eq(relay_count(ls), 2);
    ck_assert_uint_eq(link_stats(ls, 2, 1).accepted, 1);
    /* an address that is no node's, and n1's own: refused, and said (once per 1000) */
    struct capture cap;
    capture_begin(&cap);
    int fd3 = client_connect_from("127.0.0.1", "127.2.0.2", port);
    expect_closed(fd3);
    int fd4 = client_connect_from("127.1.0.2", "127.2.0.2", port);
    expect_closed(fd4);
    char *said = capture_end(&cap);
    ck_assert_msg(strstr(said, "warn: links: a connection to n1 from 127.0.0.1, which is no node's "
                               "address, refused (1 so far)") != NULL,
                  "%s", said);
    ck_assert_ptr_null(strstr(said, "127.1.0.2"));
    free(said);
    struct link_stats total;
    relay_stats(ls, &total);
    ck_assert_uint_eq(total.refused, 2);
    ck_assert_uint_eq(relay_count(ls), 2);
    close(fd);
    close(fd2);
    close(fd3);
    close(fd4);
    relay_free(ls);
    server_stop(s);
}
END_TEST

START_TEST(test_sides_block_present_and_future_links)
{
    struct server *s;
    uint16_t port;
    struct relay *ls = target_relay(&s, &port);
    int32_t side[3] = {0, 1, 0};

    relay_set_sides(ls, side, NULL, 3);
    ck_assert(relay_blocked(ls, 0, 1));
    int fd = client_connect_from("127.1.0.1", "127.2.0.2", port);
    send_all(fd, "held", 4);
    expect_silence(fd);
    /* n2 -> n1 does not exist yet: made now, it is on the other side too */
    int fd2 = client_connect_from("127.1.0.3", "127.2.0.2", port);
    send_all(fd2, "held too", 8);
    expect_silence(fd2);
    ck_assert(relay_blocked(ls, 2, 1));
    /* n1 as a bridge reaches every side */
    uint8_t bridge[3] = {0, 1, 0};
    relay_set_sides(ls, side, bridge, 3);
    expect_bytes(fd, "held");
    expect_bytes(fd2, "held too");
    /* a cut outlives the sides, and the sides a cut's release */
    relay_set_sides(ls, side, NULL, 3);
    ck_assert_int_eq(relay_set_cut(ls, 0, 1, true), 0);
    relay_set_sides(ls, NULL, NULL, 0);
    ck_assert(relay_blocked(ls, 0, 1));
    ck_assert(!relay_blocked(ls, 2, 1));
    relay_heal(ls);
    ck_assert(!relay_blocked(ls, 0, 1));
    close(fd);
    close(fd2);
    relay_free(ls);
    server_stop(s);
}
END_TEST

static Suite *relay_suite(void)
{
    Suite *s = suite_create("relay");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bytes_both_ways);
    tcase_add_test(tc, test_target_tells_sources_apart);
    tcase_add_test(tc, test_sides_block_present_and_future_links);
    tcase_add_test(tc, test_block_holds_then_releases);
    tcase_add_test(tc, test_block_is_one_way);
    tcase_add_test(tc, test_held_source_close_is_dropped);
    tcase_add_test(tc, test_target_down_resets_source);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_300_links);
    tcase_add_test(tc, test_connect_before_start);
    tcase_add_test(tc, test_free_with_open_connections);
    tcase_add_loop_test(tc, test_api_errors, 0, (int)(sizeof(bad_adds) / sizeof(bad_adds[0])));
    tcase_add_test(tc, test_api_unknown_links);
    tcase_add_test(tc, test_latency_delays_both_ways);
    tcase_add_test(tc, test_jitter_keeps_order);
    tcase_add_test(tc, test_loss_all_and_none);
    tcase_add_test(tc, test_loss_draws_open_connections);
    tcase_add_test(tc, test_loss_same_seed_same_connections);
    tcase_add_test(tc, test_bandwidth_limits);
    tcase_add_test(tc, test_reset_is_standing_until_clear);
    tcase_add_test(tc, test_clear_keeps_blocked);
    tcase_add_test(tc, test_latency_and_bandwidth_together);
    tcase_add_loop_test(tc, test_fault_api_errors, 0,
                        (int)(sizeof(bad_faults) / sizeof(bad_faults[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_setup("test_relay", LOG_WARN); /* the relay says at info what it does */
    SRunner *sr = srunner_create(relay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

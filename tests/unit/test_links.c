/* test_links: the link layer over several relay processes: the descriptor plan, links spread over
 * shards by target, controls reaching the right relay, sides in one message per shard, the
 * targets' listeners, counters summed, and a relay that dies. This program is also its own relay
 * process (`test_links --relay FD`, as links.c starts /proc/self/exe). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "capture.h"
#include "echo.h"
#include "links.h"
#include "log.h"

#define NODES 3

/* Three echo servers standing for n0-n2 on 127.0.0.1, and their addresses. */
static void start_nodes(struct server *s[NODES], struct sockaddr_in addr[NODES])
{
    for (int i = 0; i < NODES; i++) {
        s[i] = server_start();
        addr[i] = (struct sockaddr_in){.sin_family = AF_INET,
                                       .sin_port = htons(s[i]->port),
                                       .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    }
}

static void stop_nodes(struct server *s[NODES])
{
    for (int i = 0; i < NODES; i++)
        server_stop(s[i]);
}

/* A client through link from -> to, as from's peer entry says. */
static int connect_link(struct links *ls, unsigned from, unsigned to, const char *source)
{
    struct sockaddr_in a;
    char host[INET_ADDRSTRLEN];
    ck_assert_int_eq(links_peer_addr(ls, from, to, &a), 0);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
    return client_connect_from(source, host, ntohs(a.sin_port));
}

START_TEST(test_plan_fits_the_open_files_limit)
{
    /* Check forks each test: lowering the hard limit here lasts for this test only. */
    struct rlimit rl = {.rlim_cur = 1000, .rlim_max = 1000};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    char err[512] = "";
    struct links_spec spec = {.layout = LINKS_PER_EDGE, .nodes = 500, .expected_links = 2000};
    /* 2000 listeners + 4 x 2000 connection sockets over 1000 - 128 per process */
    ck_assert_uint_eq(links_plan_shards(&spec, err, sizeof(err)), 12);
    spec.layout = LINKS_PER_TARGET; /* 500 listeners instead of 2000 */
    ck_assert_uint_eq(links_plan_shards(&spec, err, sizeof(err)), 10);
    spec.expected_links = 10;
    ck_assert_uint_eq(links_plan_shards(&spec, err, sizeof(err)), 1);
    spec.nodes = 2;
    spec.expected_links = 2000; /* never more relays than targets */
    ck_assert_uint_eq(links_plan_shards(&spec, err, sizeof(err)), 2);
    spec.nodes = 100000;
    spec.expected_links = 400000;
    ck_assert_uint_eq(links_plan_shards(&spec, err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "ulimit -Hn") != NULL && strstr(err, "400000 links") != NULL, "%s",
                  err);
}
END_TEST

START_TEST(test_per_edge_over_three_relays)
{
    struct server *s[NODES];
    struct sockaddr_in addr[NODES];
    start_nodes(s, addr);
    char err[256] = "";
    struct links *ls = NULL;
    struct links_spec spec = {.layout = LINKS_PER_EDGE,
                              .nodes = NODES,
                              .expected_links = 3,
                              .node_addr = addr,
                              .shards = 3};
    ck_assert_msg(links_new(&spec, &ls, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(links_shards(ls), 3);
    /* a ring: each link's target on another relay */
    for (unsigned i = 0; i < NODES; i++)
        ck_assert_msg(links_add(ls, i, (i + 1) % NODES, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(links_add(ls, 0, 1, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "already exists"));
    ck_assert_int_eq(links_add(ls, 0, 0, err, sizeof(err)), -1);
    ck_assert_uint_eq(links_count(ls), 3);
    ck_assert(links_has(ls, 2, 0) && !links_has(ls, 0, 2));

    int fd[NODES];
    for (unsigned i = 0; i < NODES; i++) {
        fd[i] = connect_link(ls, i, (i + 1) % NODES, NULL);
        send_all(fd[i], "ring", 4);
        expect_bytes(fd[i], "ring");
    }
    /* n1 alone on one side: n0 -> n1 and n1 -> n2 stall, n2 -> n0 does not */
    int32_t side[NODES] = {0, 1, 0};
    ck_assert_int_eq(links_set_sides(ls, side, NULL), 0);
    for (unsigned i = 0; i < NODES; i++)
        send_all(fd[i], "side", 4);
    expect_bytes(fd[2], "side");
    expect_silence(fd[0]);
    expect_silence(fd[1]);
    ck_assert_int_eq(links_set_sides(ls, NULL, NULL), 0);
    expect_bytes(fd[0], "side");
    expect_bytes(fd[1], "side");
    /* a cut reaches the relay of its target only */
    ck_assert_int_eq(links_set_cut(ls, 2, 0, true), 0);
    send_all(fd[2], "cut", 3);
    send_all(fd[0], "free", 4);
    expect_bytes(fd[0], "free");
    expect_silence(fd[2]);
    ck_assert_int_eq(links_heal(ls), 0);
    expect_bytes(fd[2], "cut");
    /* faults on a link that exists, refused on one that does not */
    ck_assert_int_eq(links_set_latency(ls, 0, 1, 10, 0), 0);
    ck_assert_int_eq(links_clear_faults(ls, 0, 1), 0);
    ck_assert_int_eq(links_set_latency(ls, 0, 2, 10, 0), -1);
    ck_assert_int_eq(links_set_loss(ls, 0, 1, 2000000), -1);

    struct link_stats total, one;
    links_stats(ls, &total);
    ck_assert_uint_eq(total.accepted, 3);
    ck_assert_uint_eq(total.bytes_to_target, 3 * 4 + 3 * 4 + 3 + 4);
    ck_assert_int_eq(links_link_stats(ls, 1, 2, &one), 0);
    ck_assert_uint_eq(one.accepted, 1);
    for (unsigned i = 0; i < NODES; i++)
        close(fd[i]);
    links_free(ls);
    stop_nodes(s);
}
END_TEST

START_TEST(test_per_target_over_two_relays)
{
    struct server *s[NODES];
    struct sockaddr_in addr[NODES], pub[NODES];
    char host[32], err[256] = ""; /* room for any int in the snprintf below */
    for (int i = 0; i < NODES; i++) {
        snprintf(host, sizeof(host), "127.1.0.%d", i + 1);
        s[i] = server_start_at(host, 0);
        addr[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(s[i]->port)};
        inet_pton(AF_INET, host, &addr[i].sin_addr);
        pub[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(s[0]->port)};
        pub[i].sin_addr.s_addr = htonl(0x7f020001u + (uint32_t)i);
    }
    struct links *ls = NULL;
    struct links_spec spec = {.layout = LINKS_PER_TARGET,
                              .nodes = NODES,
                              .expected_links = 2,
                              .node_addr = addr,
                              .public_addr = pub,
                              .shards = 2};
    ck_assert_msg(links_new(&spec, &ls, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(links_add(ls, 0, 1, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(links_add(ls, 1, 2, err, sizeof(err)) == 0, "%s", err);
    /* whatever the source, the peer entry is the target's public address */
    struct sockaddr_in a;
    ck_assert_int_eq(links_peer_addr(ls, 2, 0, &a), 0);
    ck_assert_uint_eq(ntohl(a.sin_addr.s_addr), 0x7f020001u);

    int f01 = connect_link(ls, 0, 1, "127.1.0.1");
    send_all(f01, "n0 to n1", 8);
    expect_bytes(f01, "n0 to n1");
    /* n2 -> n0 was never added: its relay makes it, and the sides hold it */
    int32_t side[NODES] = {0, 0, 1};
    ck_assert_int_eq(links_set_sides(ls, side, NULL), 0);
    int f20 = connect_link(ls, 2, 0, "127.1.0.3");
    send_all(f20, "learned", 7);
    expect_silence(f20);
    ck_assert_int_eq(links_heal(ls), 0);
    expect_bytes(f20, "learned");
    struct link_stats total;
    links_stats(ls, &total);
    ck_assert_uint_eq(total.accepted, 2);
    ck_assert_uint_eq(links_count(ls), 2); /* the links added; the relay's own are counted there */
    close(f01);
    close(f20);
    links_free(ls);
    stop_nodes(s);
}
END_TEST

START_TEST(test_a_relay_that_dies)
{
    struct server *s[NODES];
    struct sockaddr_in addr[NODES];
    start_nodes(s, addr);
    char err[256] = "";
    struct links *ls = NULL;
    struct links_spec spec = {
        .layout = LINKS_PER_EDGE, .nodes = NODES, .node_addr = addr, .shards = 2};
    ck_assert_msg(links_new(&spec, &ls, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(links_add(ls, 1, 0, err, sizeof(err)), 0); /* on relay 0 (n0's) */
    ck_assert_int_eq(links_add(ls, 0, 1, err, sizeof(err)), 0); /* on relay 1 */
    /* relay 0 dies: the calls on its links fail and the log says which one; relay 1 goes on */
    ck_assert_int_eq(kill(links_shard_pid(ls, 0), SIGKILL), 0);
    struct capture cap;
    capture_begin(&cap);
    ck_assert_int_eq(links_set_cut(ls, 1, 0, true), -1);
    ck_assert_int_eq(links_set_cut(ls, 1, 0, false), -1);
    char *said = capture_end(&cap);
    ck_assert_msg(strstr(said, "error: links: relay 0 (pid ") != NULL, "%s", said);
    free(said);
    ck_assert_int_eq(links_set_cut(ls, 0, 1, true), 0);
    ck_assert_int_eq(links_add(ls, 2, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "relay 0") != NULL && strstr(err, "gone") != NULL, "%s", err);
    int fd = connect_link(ls, 0, 1, NULL);
    ck_assert_int_eq(links_set_cut(ls, 0, 1, false), 0);
    send_all(fd, "alive", 5);
    expect_bytes(fd, "alive");
    close(fd);
    links_free(ls); /* reaps both */
    stop_nodes(s);
}
END_TEST

/* The sampler's thread asking for counters while the runner adds links. */
struct stats_asker {
    struct links *ls;
    atomic_bool stop;
    unsigned rounds;
};

static void *ask_stats(void *arg)
{
    struct stats_asker *a = arg;
    while (!atomic_load(&a->stop) || a->rounds == 0) {
        struct link_stats total;
        links_stats(a->ls, &total);
        a->rounds++;
    }
    return NULL;
}

START_TEST(test_stats_from_another_thread)
{
    /* Every reply reaches the thread that asked: a link added while another thread reads
     * counters gets its own listener's port, never a stats reply's 0. */
    enum { MANY = 40 };
    struct server *s[NODES];
    struct sockaddr_in addr[MANY];
    start_nodes(s, addr);
    for (unsigned i = NODES; i < MANY; i++)
        addr[i] = addr[i % NODES];
    char err[256] = "";
    struct links *ls = NULL;
    struct links_spec spec = {.layout = LINKS_PER_EDGE, .nodes = MANY, .node_addr = addr};
    ck_assert_msg(links_new(&spec, &ls, err, sizeof(err)) == 0, "%s", err);
    struct stats_asker asker = {.ls = ls};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, ask_stats, &asker), 0);
    for (unsigned i = 0; i < MANY; i++) {
        for (unsigned j = 0; j < MANY; j++) {
            if (i == j)
                continue;
            ck_assert_msg(links_add(ls, i, j, err, sizeof(err)) == 0, "%s", err);
            struct sockaddr_in a;
            ck_assert_int_eq(links_peer_addr(ls, i, j, &a), 0);
            ck_assert_uint_ne(ntohs(a.sin_port), 0);
        }
    }
    atomic_store(&asker.stop, true);
    pthread_join(t, NULL);
    ck_assert_uint_gt(asker.rounds, 0);
    int fd = connect_link(ls, 5, 7, NULL);
    send_all(fd, "seven", 5);
    expect_bytes(fd, "seven");
    close(fd);
    links_free(ls);
    stop_nodes(s);
}
END_TEST

static Suite *links_suite(void)
{
    Suite *s = suite_create("links");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_plan_fits_the_open_files_limit);
    tcase_add_test(tc, test_per_edge_over_three_relays);
    tcase_add_test(tc, test_per_target_over_two_relays);
    tcase_add_test(tc, test_a_relay_that_dies);
    tcase_add_test(tc, test_stats_from_another_thread);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--relay") == 0)
        return links_relay_main(atoi(argv[2]));
    log_setup("test_links", LOG_WARN);
    SRunner *sr = srunner_create(links_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

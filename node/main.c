/* chainlab-node: a naivechain node speaking the original's HTTP protocol. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "block.h"
#include "chain.h"
#include "config.h"
#include "gossip.h"
#include "log.h"
#include "orphans.h"
#include "peers.h"
#include "spawner.h"
#include "store.h"

#define MAX_INITIAL_PEERS 256 /* --peer given on the command line */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: chainlab-node [OPTIONS] PORT\n"
        "\n"
        "A naivechain node on http://HOST:PORT, wire-compatible with the original Python node.\n"
        "\n"
        "  --host ADDR             address to listen on (default 127.0.0.1)\n"
        "  --peer URL              initial peer, e.g. http://127.0.0.1:8081 (repeatable)\n"
        "  --id NAME               name in log lines and /status (default: the port)\n"
        "  --log-level LEVEL       error, warn, info or debug (default info); debug also logs\n"
        "                          every block appended, received, relayed or ignored\n"
        "  --threads N             HTTP worker threads (default 2)\n"
        "  --max-body BYTES        largest request body (default %d)\n"
        "  --max-peers N           most peers kept (default %d)\n"
        "  --max-url BYTES         longest peer URL (default %d)\n"
        "  --max-chain-bytes BYTES most bytes read from a peer's /blocks (default %d)\n"
        "  --connect-timeout MS    connect timeout per peer request (default %d)\n"
        "  --timeout MS            total timeout per peer request (default %d)\n"
        "  --max-connections N     concurrent inbound connections; more wait in the listen\n"
        "                          backlog (--threads 1) or are closed (default %d; the\n"
        "                          open-files limit is raised to fit)\n"
        "  --max-connections-per-ip N\n"
        "                          concurrent inbound connections from one address; 0: no\n"
        "                          limit (default %d: nodes on one host share 127.0.0.1)\n"
        "  --connection-memory BYTES\n"
        "                          memory for one connection's request line and headers;\n"
        "                          larger headers get 431 (default %d)\n"
        "  --idle-timeout S        close inbound connections idle this long (default %d)\n"
        "  --queue N               blocks queued per peer before the oldest drop (default %d)\n"
        "  --broadcast-wait MS     hold the answer to /append and POST /block until the\n"
        "                          peers have the block, at most this long; 0 answers at\n"
        "                          once (default %d)\n"
        "  --sync-page BLOCKS      a sync fetches a chain longer than this from a peer in\n"
        "                          pages of BLOCKS blocks (GET /blocks?from=&limit=), parsed\n"
        "                          in parallel; peers that ignore the query still work\n"
        "                          (default %d)\n"
        "  --db PATH               keep the chain and the peers in the SQLite file PATH\n"
        "                          (created when missing); at start the chain is loaded and\n"
        "                          fully validated, and the node syncs with its saved peers.\n"
        "                          An invalid file is an error, never a shorter chain.\n"
        "                          Without --db everything lives in memory\n"
        "  --db-sync MODE          full: an answered write survives a power loss; normal:\n"
        "                          it survives a crash of the node (default full)\n"
        "  --source ADDR           bind outgoing peer connections to the local address ADDR\n"
        "                          (an IP address of this machine, e.g. 127.0.0.7; default:\n"
        "                          the kernel picks)\n"
        "  -h, --help              this help\n"
        "  -V, --version           print the version\n"
        "\n"
        "Protocol variants (off by default; /status lists them; README has the exact rules):\n"
        "  --fork-choice RULE      longest: only a strictly longer chain replaces ours (the\n"
        "                          original); longest-lowest-hash: also one as long whose tip\n"
        "                          hash is lower, so equal-height forks converge (default\n"
        "                          longest)\n"
        "  --anti-entropy MS       every MS (with jitter) ask one random peer GET /block and\n"
        "                          sync with it when its chain may win (default 0: off)\n"
        "  --sync-on-connect       a peer added (POST /peers, peer exchange) is synced with\n"
        "  --peer-exchange         learn the peers of peers (GET /peers, one peer per\n"
        "                          interval), add them up to --max-peers and announce\n"
        "                          --advertise to them (POST /peers)\n"
        "  --peer-exchange-interval MS\n"
        "                          between two exchanges, with jitter (default %d)\n"
        "  --advertise URL         this node's public URL, announced by --peer-exchange and\n"
        "                          never added as a peer (default http://HOST:PORT)\n"
        "  --reappend-orphans      after a sync replaced the chain, append again the data of\n"
        "                          this node's acknowledged /appends the new chain lacks\n"
        "                          (the last %d; kept in --db)\n",
        CONFIG_MAX_BODY, CONFIG_MAX_PEERS, CONFIG_MAX_URL, CONFIG_MAX_CHAIN_BYTES,
        CONFIG_CONNECT_MS, CONFIG_TIMEOUT_MS, CONFIG_MAX_CONNECTIONS, CONFIG_MAX_PER_IP,
        CONFIG_CONN_MEMORY, CONFIG_IDLE_TIMEOUT_S, CONFIG_QUEUE, CONFIG_BROADCAST_WAIT,
        CONFIG_SYNC_PAGE, CONFIG_PEX_INTERVAL, ORPHANS_MAX);
}

/* Parse a whole decimal number in [min, max]. Returns 0, or -1 when it is not one. */
/* After an argument error: the usage line and where to find the rest (exit 2 follows). */
static void usage_hint(void)
{
    fprintf(stderr,
            "usage: chainlab-node [OPTIONS] PORT\nTry 'chainlab-node --help' for the options.\n");
}

static int parse_num(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The peers saved in the database join the peer set. */
static void load_peer_cb(void *arg, const char *url)
{
    char err[300];
    if (peers_add(arg, url, strlen(url), err, sizeof(err)) < 0)
        log_warn("--db: saved peer %s left out: %s", url, err);
}

/* Open --db, load and validate its chain (attached to the store) and its peers into p.
 * Returns 0, or -1 with err set. */
static int load_db(const struct config *cfg, struct store **store, struct chain **chain,
                   struct peers *p, char *err, size_t errsz)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (store_open(cfg->db_path, cfg->db_sync, store, err, errsz) < 0)
        return -1;
    *chain = chain_load(*store, err, errsz);
    if (*chain == NULL)
        return -1;
    if (store_read_peers(*store, load_peer_cb, p, err, errsz) < 0)
        return -1;
    chain_set_store(*chain, *store);
    peers_set_store(p, *store);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_info("--db %s: loaded and validated %llu blocks and %zu peers in %lld ms", cfg->db_path,
             (unsigned long long)chain_tip(*chain, NULL) + 1, peers_count(p),
             (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    return 0;
}

/* Check the --peer URLs as peers_add() will (and that they fit in --max-peers), printing the
 * first problem. Returns 0 or -1. */
static int check_initial_peers(const struct peers *p, const char *const *initial, size_t n,
                               size_t max_peers)
{
    char url[CONFIG_MAX_URL + 1], err[256];
    if (n > max_peers) {
        fprintf(stderr, "chainlab-node: %zu --peer options but --max-peers is %zu\n", n, max_peers);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (peers_normalize(p, initial[i], strlen(initial[i]), url, sizeof(url), err, sizeof(err)) <
            0) {
            fprintf(stderr, "chainlab-node: --peer %s: %s\n", initial[i], err);
            return -1;
        }
    }
    return 0;
}

/* Whether s is a numeric IPv4 or IPv6 address (--source names no host). */
static bool is_ip_address(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Check that outgoing connections can bind to addr (--source): it must be an address of this
 * machine. Returns 0, or -1 with err set. */
static int check_source(const char *addr, char *err, size_t errsz)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        len = sizeof(*in);
    } else {
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        in6->sin6_family = AF_INET6;
        len = sizeof(*in6);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ? -1 : 0;
    if (rc < 0)
        snprintf(err, errsz,
                 "--source %s: cannot bind a connection to it (%s); give an address of this "
                 "machine, e.g. one of 127.0.0.0/8",
                 addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Descriptors kept free of inbound connections: peers' connections, the database, logs. */
#define FD_RESERVE 256

/* Raise the open-files limit so that max_connections inbound connections fit beside
 * FD_RESERVE others; when the hard limit is too low, lower max_connections to what fits and
 * say so. */
static void fit_fd_limit(struct config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t need = (rlim_t)cfg->max_connections + FD_RESERVE;
    if (rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur >= need)
        return;
    unsigned fit = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE)
                                                : (unsigned)(rl.rlim_cur / 2);
    log_warn("--max-connections %u does not fit the open-files limit of %llu: using %u",
             cfg->max_connections, (unsigned long long)rl.rlim_cur, fit);
    cfg->max_connections = fit;
}

/* Bind and listen on host:port. Returns the fd, or -1 with err set. */
static int listen_on(const char *host, uint16_t port, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    int fd = -1;
    snprintf(portstr, sizeof(portstr), "%u", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errsz, "cannot resolve --host %s: %s", host, gai_strerror(rc));
        goto out;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        if (errno == EADDRINUSE)
            snprintf(err, errsz, "port %u on %s is already in use", port, host);
        else
            snprintf(err, errsz, "cannot listen on %s:%u: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
        goto out;
    }
    if (listen(fd, 1024) < 0) {
        snprintf(err, errsz, "listen: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
out:
    if (res)
        freeaddrinfo(res);
    return fd;
}

/* What every node loads and initialises at start, done once in a spawner so that the nodes it
 * forks share it: libcurl with OpenSSL, SHA-256, SQLite. */
static void preload(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char hash[BLOCK_HASH_HEX + 1];
    block_hash_compute(0, NULL, 0, NULL, hash);
    sqlite3_initialize();
}

/* The node itself: parse the command line, serve until SIGINT or SIGTERM. */
static int node_run(int argc, char **argv)

{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"peer", required_argument, NULL, 'p'},
        {"id", required_argument, NULL, 'i'},
        {"log-level", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"max-body", required_argument, NULL, 'b'},
        {"max-peers", required_argument, NULL, 'P'},
        {"max-url", required_argument, NULL, 'u'},
        {"max-chain-bytes", required_argument, NULL, 'c'},
        {"connect-timeout", required_argument, NULL, 'C'},
        {"timeout", required_argument, NULL, 'T'},
        {"max-connections", required_argument, NULL, 'm'},
        {"max-connections-per-ip", required_argument, NULL, 'A'},
        {"connection-memory", required_argument, NULL, 'M'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"queue", required_argument, NULL, 'q'},
        {"broadcast-wait", required_argument, NULL, 'w'},
        {"sync-page", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'D'},
        {"db-sync", required_argument, NULL, 'Y'},
        {"source", required_argument, NULL, 's'},
        {"fork-choice", required_argument, NULL, 'F'},
        {"anti-entropy", required_argument, NULL, 'E'},
        {"sync-on-connect", no_argument, NULL, 'O'},
        {"peer-exchange", no_argument, NULL, 'X'},
        {"peer-exchange-interval", required_argument, NULL, 'x'},
        {"advertise", required_argument, NULL, 'a'},
        {"reappend-orphans", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct config cfg;
    enum log_level level = LOG_INFO;
    const char *initial[MAX_INITIAL_PEERS];
    size_t ninitial = 0;
    char err[300];
    long long v;
    int opt, longindex = 0;

    config_defaults(&cfg);
    while ((opt = getopt_long(argc, argv, "hV", opts, &longindex)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'H':
            cfg.host = optarg;
            break;
        case 'p':
            if (ninitial == MAX_INITIAL_PEERS)
                bad = 1;
            else
                initial[ninitial++] = optarg;
            break;
        case 'i':
            cfg.id = optarg;
            break;
        case 'l':
            bad = log_level_parse(optarg, &level) < 0;
            break;
        case 't':
            bad = parse_num(optarg, 1, 64, &v) < 0;
            cfg.threads = (unsigned)v;
            break;
        case 'b':
            bad = parse_num(optarg, 1, 1LL << 30, &v) < 0;
            cfg.max_body = (size_t)v;
            break;
        case 'P':
            bad = parse_num(optarg, 0, 100000, &v) < 0;
            cfg.max_peers = (size_t)v;
            break;
        case 'u':
            bad = parse_num(optarg, 16, CONFIG_MAX_URL, &v) < 0;
            cfg.max_url = (size_t)v;
            break;
        case 'c':
            bad = parse_num(optarg, 64, 1LL << 40, &v) < 0;
            cfg.max_chain_bytes = (size_t)v;
            break;
        case 'C':
            bad = parse_num(optarg, 1, 3600000, &v) < 0;
            cfg.connect_timeout_ms = (long)v;
            break;
        case 'T':
            bad = parse_num(optarg, 1, 3600000, &v) < 0;
            cfg.timeout_ms = (long)v;
            break;
        case 'm':
            bad = parse_num(optarg, 1, 1000000, &v) < 0;
            cfg.max_connections = (unsigned)v;
            break;
        case 'A':
            bad = parse_num(optarg, 0, 1000000, &v) < 0;
            cfg.max_per_ip = (unsigned)v;
            break;
        case 'M':
            bad = parse_num(optarg, 4096, 16 * 1024 * 1024, &v) < 0;
            cfg.conn_memory = (size_t)v;
            break;
        case 'I':
            bad = parse_num(optarg, 1, 86400, &v) < 0;
            cfg.idle_timeout_s = (unsigned)v;
            break;
        case 'q':
            bad = parse_num(optarg, 1, 1000000, &v) < 0;
            cfg.queue = (size_t)v;
            break;
        case 'w':
            bad = parse_num(optarg, 0, 3600000, &v) < 0;
            cfg.broadcast_wait_ms = (long)v;
            break;
        case 'S':
            bad = parse_num(optarg, 1, 1LL << 40, &v) < 0;
            cfg.sync_page = (uint64_t)v;
            break;
        case 'D':
            bad = optarg[0] == '\0';
            cfg.db_path = optarg;
            break;
        case 'Y':
            bad = store_sync_parse(optarg, &cfg.db_sync) < 0;
            break;
        case 's':
            bad = !is_ip_address(optarg);
            cfg.source = optarg;
            break;
        case 'F':
            bad = forkchoice_parse(optarg, &cfg.fork_choice) < 0;
            break;
        case 'E':
            bad = parse_num(optarg, 0, 3600000, &v) < 0;
            cfg.anti_entropy_ms = (long)v;
            break;
        case 'O':
            cfg.sync_on_connect = true;
            break;
        case 'X':
            cfg.peer_exchange = true;
            break;
        case 'x':
            bad = parse_num(optarg, 10, 3600000, &v) < 0;
            cfg.pex_interval_ms = (long)v;
            break;
        case 'a':
            bad = optarg[0] == '\0';
            cfg.advertise = optarg;
            break;
        case 'R':
            cfg.reappend_orphans = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("chainlab-node %s\n", CHAINLAB_VERSION);
            return 0;
        default:
            usage_hint();
            return 2;
        }
        if (bad) {
            fprintf(stderr, "chainlab-node: bad value for --%s: '%s'\n", opts[longindex].name,
                    optarg);
            usage_hint();
            return 2;
        }
    }
    if (optind != argc - 1 || parse_num(argv[optind], 1, 65535, &v) < 0) {
        fprintf(stderr, "chainlab-node: expected one PORT (1-65535)\n");
        usage_hint();
        return 2;
    }
    cfg.port = (uint16_t)v;
    char portid[8];
    snprintf(portid, sizeof(portid), "%u", cfg.port);
    if (cfg.id == NULL)
        cfg.id = portid;
    log_setup(cfg.id, level);

    /* Every thread inherits this mask; main takes SIGINT/SIGTERM with sigwait(). */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char advertise[CONFIG_MAX_URL + 1];
    struct orphans *orphans = NULL;
    struct store *store = NULL;
    struct chain *chain = NULL;
    struct peers *peers = NULL;
    struct gossip *gossip = NULL;
    struct api *api = NULL;
    int fd = -1;
    /* Every argument is checked before anything is opened or bound: a bad --peer or --advertise
     * exits 2 even when the port is taken. */
    peers = peers_new(cfg.max_peers, cfg.max_url, cfg.host, cfg.port);
    if (cfg.advertise == NULL) {
        bool v6 = strchr(cfg.host, ':') != NULL;
        snprintf(advertise, sizeof(advertise), "http://%s%s%s:%u", v6 ? "[" : "", cfg.host,
                 v6 ? "]" : "", cfg.port);
    } else if (peers_set_advertise(peers, cfg.advertise, strlen(cfg.advertise), advertise,
                                   sizeof(advertise), err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-node: --advertise %s: %s\n", cfg.advertise, err);
        usage_hint();
        rc = 2;
        goto out;
    }
    cfg.advertise = advertise;
    if (check_initial_peers(peers, initial, ninitial, cfg.max_peers) < 0) {
        rc = 2;
        goto out;
    }
    if (cfg.source && check_source(cfg.source, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-node: %s\n", err);
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "chainlab-node: cannot initialise libcurl\n");
        goto out;
    }
    fit_fd_limit(&cfg);
    if (cfg.db_path == NULL) {
        chain = chain_new();
    } else if (load_db(&cfg, &store, &chain, peers, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-node: --db %s: %s\n", cfg.db_path, err);
        goto out;
    }
    chain_set_fork_choice(chain, cfg.fork_choice);
    fd = listen_on(cfg.host, cfg.port, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "chainlab-node: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < ninitial; i++) {
        if (peers_add(peers, initial[i], strlen(initial[i]), err, sizeof(err)) < 0) {
            /* Checked above; what can fail here is the store (--db) or saved peers filling the
             * set. */
            fprintf(stderr, "chainlab-node: --peer %s: %s\n", initial[i], err);
            close(fd);
            goto out;
        }
    }
    gossip = gossip_new(chain, peers, &cfg);
    if (cfg.reappend_orphans) {
        orphans = orphans_new(chain, store, err, sizeof(err));
        if (orphans == NULL) {
            fprintf(stderr, "chainlab-node: --db %s: %s\n", cfg.db_path, err);
            close(fd);
            goto out;
        }
        gossip_set_orphans(gossip, orphans);
    }
    api = api_new(&cfg, chain, peers, gossip);
    /* Counted before serving: a peer added over HTTP right away is not a start-up peer. */
    size_t start_peers = peers_count(peers);
    /* The socket already listens: say so before the first request can be answered. */
    log_info("listening on http://%s:%u with %zu peers", cfg.host, cfg.port, start_peers);
    if (gossip_start(gossip, err, sizeof(err)) < 0 || api_start(api, fd, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-node: %s\n", err);
        goto out;
    }
    if (start_peers > 0)
        gossip_request_sync(gossip); /* the --peer and saved peers: catch up by itself */

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    log_info("signal %d: shutting down", sig);
    /* No MHD_quiesce_daemon() first: with epoll and a thread pool, libmicrohttpd 0.9.75 aborts
     * in it when a worker drops the listen socket from its epoll set at the same moment (seen
     * on a SIGTERM right after start). Requests that arrive meanwhile are answered or cut by
     * api_free(); gossip_stop() answers every waiter first. */
    rc = 0;
out:
    gossip_stop(gossip);
    api_free(api);
    gossip_free(gossip);
    orphans_free(orphans);
    peers_free(peers);
    chain_free(chain);
    store_close(store);
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--spawner") == 0) {
        /* Started by the sim (spawner.h): argv[3] is room for the nodes' command lines. */
        preload();
        char *end = argv[3] + strlen(argv[3]) + 1;
        int fd = atoi(argv[2]);
        return spawner_serve(fd, node_run, argv[0], (size_t)(end - argv[0])) == 0 ? 0 : 1;
    }
    return node_run(argc, argv);
}

/* chainlab-sim: runs scenario files against clusters of naivechain nodes. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cluster.h"
#include "generate.h"
#include "log.h"
#include "links.h"
#include "logs.h"
#include "plot.h"
#include "ports.h"
#include "report.h"
#include "runner.h"
#include "scenario.h"
#include "serve.h"
#include "xalloc.h"

/* Statements the runner carries out (all of them); others would be refused with FILE:LINE:COL. */
#define SUPPORTED_KINDS SCENARIO_STEP_ALL_BITS

#define SIM_SAMPLE_MS 100 /* --sample default */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: chainlab-sim [OPTIONS] SCENARIO...\n"
        "       chainlab-sim serve [OPTIONS] [--nodes N [--topology T] ... | SCENARIO]\n"
        "       chainlab-sim logs RUN_DIR [--nodes LIST] [--grep TEXT] [--since S] [--until S]\n"
        "       chainlab-sim plot RUN_DIR\n"
        "\n"
        "Runs .scn scenario files against clusters of naivechain nodes on loopback.\n"
        "serve starts one cluster and serves a JSON HTTP API to drive it (see README.md):\n"
        "GET /cluster, POST /steps, GET /events?since=T&wait=S, GET /report, DELETE /cluster.\n"
        "\n"
        "  --node-bin PATH     node program (default: chainlab-node beside chainlab-sim)\n"
        "  --node-cmd TEMPLATE shell command for any implementation, with {port} {host}\n"
        "                      {node} {dir} substituted, e.g. 'python3 node.py {port}'\n"
        "  --base-port N       put n0 on port N, n1 on N+1, ... (default: find free ports)\n"
        "  --layout L          where nodes listen: addresses (node i on 127.1.x.y, every\n"
        "                      node at one port) or ports (all on 127.0.0.1, sequential\n"
        "                      ports); default addresses for chainlab nodes, ports with\n"
        "                      --node-cmd or --base-port\n"
        "  --link-processes N  relay processes of the link layer (default: as many as the\n"
        "                      open-files limit needs)\n"
        "  --run-dir DIR       logs of this run (default runs/<scenario>-<time>-<pid>/);\n"
        "                      with several files, one folder per scenario inside DIR\n"
        "  --seed N            seed for everything random (overrides the file's seed)\n"
        "  --stop-grace MS     SIGTERM to SIGKILL when stopping a node (default %d;\n"
        "                      raise it for nodes under valgrind)\n"
        "  --keep              leave the cluster up after the last step, until Ctrl-C\n"
        "  --sample MS         record every running node's height and tip in\n"
        "                      RUN_DIR/events.jsonl every MS ms (default %d; 0: off)\n"
        "  --plots             draw RUN_DIR/plots/ (gnuplot) at the end of each run\n"
        "  --check             parse and validate the files only; run nothing\n"
        "  --report FILE       write a JSON report\n"
        "  --junit FILE        write JUnit XML (one test case per scenario)\n"
        "  -j, --jobs N        run N scenario files at once, each on its own ports\n"
        "  --generate SEED     print a random fault-injection scenario and exit; with\n"
        "  --nodes N           its node count (default %d) and\n"
        "  --steps K           its number of random steps (default %d)\n"
        "serve only (the header from flags, or a SCENARIO whose steps run first):\n"
        "  --listen ADDR:PORT  where the API listens (default %s: a free port;\n"
        "                      the URL is the first line of output)\n"
        "  --nodes N           the header's nodes (serve needs it without SCENARIO)\n"
        "  --topology 'KIND [ARG]'  --timeout DURATION  --node-args 'ARGS...'\n"
        "                      the header's topology, timeout (of each request) and\n"
        "                      node-args; --header 'STATEMENT' adds any header line\n"
        "  -q, --quiet         print only each scenario's result line, failures and the\n"
        "                      summary\n"
        "  -v, --verbose       print each step as it starts, too\n"
        "  -h, --help          this help\n"
        "  -V, --version       print the version\n"
        "\n"
        "Exit status: 0 all held, 1 an assertion failed, 2 bad scenario or arguments,\n"
        "3 the cluster could not be run, 130 interrupted. serve exits 0 once stopped\n"
        "(DELETE /cluster, SIGINT, SIGTERM, or the exit of the process that started it).\n",
        CLUSTER_GRACE_MS, SIM_SAMPLE_MS, GENERATE_NODES, GENERATE_STEPS, SERVE_LISTEN);
}

/* After an argument error: the usage line and where to find the rest (exit 2 follows). */
static void usage_hint(void)
{
    fprintf(
        stderr,
        "usage: chainlab-sim [OPTIONS] SCENARIO...\nTry 'chainlab-sim --help' for the options.\n");
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* chainlab-node in the folder of this executable. */
static char *default_node_bin(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return xstrdup("chainlab-node");
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        slash[1] = '\0';
    struct buf b = BUF_INIT;
    buf_printf(&b, "%schainlab-node", self);
    return buf_steal(&b, NULL);
}

static int severity(int code)
{
    switch (code) {
    case RUNNER_OK:
        return 0;
    case RUNNER_FAILED:
        return 1;
    case RUNNER_BAD:
        return 2;
    case RUNNER_CLUSTER:
        return 3;
    default:
        return 4;
    }
}

struct job {
    const struct scenario *sc;
    pid_t pid;
    char out_path[PATH_MAX];
    char result_path[PATH_MAX];
};

/* Run one scenario in a child process writing its output and result to files. */
static pid_t spawn_job(struct job *jb, struct runner_opts o, const char *tmpdir, size_t k)
{
    snprintf(jb->out_path, sizeof(jb->out_path), "%s/job%zu.out", tmpdir, k);
    snprintf(jb->result_path, sizeof(jb->result_path), "%s/job%zu.json", tmpdir, k);
    pid_t parent = getpid();
    pid_t pid;
    switch (pid = fork()) {
    case -1:
        return -1;
    case 0: {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(RUNNER_INTERRUPTED);
        FILE *out = fopen(jb->out_path, "w");
        o.out = out ? out : stderr;
        json_t *res = NULL;
        int code = runner_run(jb->sc, &o, &res);
        json_dump_file(res, jb->result_path, JSON_PRESERVE_ORDER);
        json_decref(res);
        if (out)
            fclose(out);
        _exit(code);
    }
    default:
        return pid;
    }
}

static void cat_file(const char *path, FILE *to)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, to);
    fclose(f);
    fflush(to);
}

/* Run every scenario, jobs at a time. Appends each result to results (in file order). */
static int run_all(struct scenario **scs, size_t n, const struct runner_opts *base, unsigned jobs,
                   json_t *results)
{
    int worst = RUNNER_OK;
    json_t **res = xcalloc(n, sizeof(json_t *));
    if (jobs <= 1) {
        for (size_t i = 0; i < n && !interrupted; i++) {
            struct runner_opts o = *base;
            char dir[PATH_MAX];
            if (base->run_dir && n > 1) {
                char name[256];
                const char *b = strrchr(scs[i]->path, '/');
                snprintf(name, sizeof(name), "%s", b ? b + 1 : scs[i]->path);
                snprintf(dir, sizeof(dir), "%s/%zu-%s", base->run_dir, i, name);
                o.run_dir = dir;
            }
            int code = runner_run(scs[i], &o, &res[i]);
            if (severity(code) > severity(worst))
                worst = code;
        }
    } else {
        char tmpdir[] = "/tmp/chainlab-sim-XXXXXX";
        if (mkdtemp(tmpdir) == NULL) {
            fprintf(stderr, "chainlab-sim: cannot make a temporary folder: %s\n", strerror(errno));
            free(res);
            return RUNNER_CLUSTER;
        }
        struct job *jb = xcalloc(n, sizeof(*jb));
        size_t next = 0, running = 0;
        while (next < n || running > 0) {
            while (next < n && running < jobs && !interrupted) {
                struct runner_opts o = *base;
                char dir[PATH_MAX];
                if (base->run_dir) {
                    const char *b = strrchr(scs[next]->path, '/');
                    snprintf(dir, sizeof(dir), "%s/%zu-%s", base->run_dir, next,
                             b ? b + 1 : scs[next]->path);
                    o.run_dir = dir;
                }
                /* Each job searches its own part of the port range first (found ports are
                 * held, so jobs never share one); with --base-port, file k starts after the
                 * nodes of the files before it. */
                if (base->base_port_fixed) {
                    unsigned offset = 0;
                    for (size_t k = 0; k < next; k++)
                        offset += scs[k]->nodes;
                    o.base_port = (uint16_t)(base->base_port + offset);
                } else {
                    uint16_t low, high;
                    ports_search_range(&low, &high);
                    o.base_port =
                        (uint16_t)(low + ((unsigned)getpid() * 7919u + (unsigned)next * 2503u) %
                                             ((unsigned)high - low + 1));
                }
                jb[next].sc = scs[next];
                jb[next].pid = spawn_job(&jb[next], o, tmpdir, next);
                if (jb[next].pid > 0)
                    running++;
                next++;
            }
            if (interrupted && next < n)
                next = n; /* start nothing more */
            int st;
            pid_t pid = waitpid(-1, &st, 0);
            if (pid < 0) {
                if (errno == EINTR) {
                    for (size_t i = 0; i < n; i++) {
                        if (jb[i].pid > 0)
                            kill(jb[i].pid, SIGTERM);
                    }
                    continue;
                }
                break;
            }
            for (size_t i = 0; i < n; i++) {
                if (jb[i].pid != pid)
                    continue;
                running--;
                jb[i].pid = 0;
                int code = WIFEXITED(st) ? WEXITSTATUS(st) : RUNNER_CLUSTER;
                if (severity(code) > severity(worst))
                    worst = code;
                cat_file(jb[i].out_path, base->out);
                res[i] = json_load_file(jb[i].result_path, 0, NULL);
                unlink(jb[i].out_path);
                unlink(jb[i].result_path);
            }
        }
        rmdir(tmpdir);
        free(jb);
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i])
            json_array_append_new(results, res[i]);
    }
    free(res);
    if (interrupted && !base->keep) /* with --keep, Ctrl-C ends the wait: the result stands */
        worst = RUNNER_INTERRUPTED;
    return worst;
}

/* chainlab-sim logs RUN_DIR [--nodes LIST] [--grep TEXT] [--since S] [--until S] */
static int main_logs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'}, {"grep", required_argument, NULL, 'g'},
        {"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct logs_filter f = {.since = -1e18, .until = -1};
    char err[512];
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'n':
            if (logs_parse_nodes(optarg, &f, err, sizeof(err)) < 0) {
                fprintf(stderr, "chainlab-sim logs: --nodes: %s\n", err);
                return RUNNER_BAD;
            }
            break;
        case 'g':
            f.grep = optarg;
            break;
        case 's':
        case 'u': {
            double v = strtod(optarg, &end);
            if (end == optarg || *end || v < 0) {
                fprintf(stderr, "chainlab-sim logs: bad value for --%s: '%s' (seconds)\n",
                        opt == 's' ? "since" : "until", optarg);
                return RUNNER_BAD;
            }
            *(opt == 's' ? &f.since : &f.until) = v;
            break;
        }
        case 'h':
            printf("usage: chainlab-sim logs RUN_DIR [--nodes n1,n3-n5,sim] [--grep TEXT]\n"
                   "                        [--since S] [--until S]\n"
                   "Prints every node's log and the sim's merged in wall-clock order, each line\n"
                   "prefixed with its source and its run time in seconds; link ports are shown\n"
                   "as the edges they carry (n3->n7), node ports as node names.\n");
            return 0;
        default:
            fprintf(stderr, "usage: chainlab-sim logs RUN_DIR [--nodes LIST] [--grep TEXT] "
                            "[--since S] [--until S]\n");
            return RUNNER_BAD;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "chainlab-sim logs: give one run folder\n");
        return RUNNER_BAD;
    }
    if (logs_print(stdout, argv[optind], &f, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-sim logs: %s\n", err);
        return RUNNER_BAD;
    }
    return 0;
}

/* chainlab-sim plot RUN_DIR */
static int main_plot(int argc, char **argv)
{
    char err[1024];
    if (argc != 2 || argv[1][0] == '-') {
        bool help = argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
        fprintf(help ? stdout : stderr,
                "usage: chainlab-sim plot RUN_DIR\n"
                "Draws RUN_DIR/plots/{heights,latency,rate}.{png,svg} from RUN_DIR/events.jsonl\n"
                "with gnuplot.\n");
        return help ? 0 : RUNNER_BAD;
    }
    if (plot_run_dir(argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-sim plot: %s\n", err);
        return RUNNER_BAD;
    }
    printf("%s/%s: heights, latency, rate (.png, .svg)\n", argv[1], PLOT_DIR);
    return 0;
}

/* Write --report and --junit (when given) for results. Returns rc, or RUNNER_BAD when a file
 * cannot be written and rc was RUNNER_OK. */
static int write_reports(const char *report, const char *junit, json_t *results, int rc)
{
    char err[512];
    if (report && report_write_json(report, results, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-sim: %s\n", err);
        rc = rc == RUNNER_OK ? RUNNER_BAD : rc;
    }
    if (junit && report_write_junit(junit, results, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-sim: %s\n", err);
        rc = rc == RUNNER_OK ? RUNNER_BAD : rc;
    }
    return rc;
}

/* The result entry of a file that could not be parsed (new reference). */
static json_t *error_entry(const char *path, const char *msg)
{
    const char *b = strrchr(path, '/');
    return json_pack("{s:s, s:s, s:s, s:i, s:f, s:n, s:s, s:[]}", "scenario", b ? b + 1 : path,
                     "file", path, "result", "error", "exit_code", RUNNER_BAD, "duration_s", 0.0,
                     "failure", "error", msg, "steps");
}

/* True when path exists and holds anything. */
static bool dir_in_use(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno != ENOENT;
    struct dirent *de;
    bool used = false;
    while (!used && (de = readdir(d)) != NULL)
        used = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return used;
}

/* Before a run: the run folder is new or empty, the node program can run (o->node_bin set to the
 * default one, which *node_bin then owns), signals set, libcurl ready. Returns RUNNER_OK or
 * RUNNER_BAD (said on stderr). */
static int prepare_run(struct runner_opts *o, char **node_bin)
{
    if (o->run_dir && dir_in_use(o->run_dir)) {
        fprintf(stderr,
                "chainlab-sim: --run-dir %s is not empty: give a new or empty folder (a run "
                "never writes over another's logs)\n",
                o->run_dir);
        return RUNNER_BAD;
    }
    if (o->node_bin == NULL && o->node_cmd == NULL)
        o->node_bin = *node_bin = default_node_bin();
    if (o->node_cmd == NULL && access(o->node_bin, X_OK) != 0) {
        fprintf(stderr, "chainlab-sim: cannot run the node program %s: %s (see --node-bin)\n",
                o->node_bin, strerror(errno));
        return RUNNER_BAD;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_setup("sim", LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return RUNNER_OK;
}

/* chainlab-sim serve: the header from a scenario file (files[0], whose steps run first) or from
 * the flags (nodes and the lines in header), then serve_run(). */
static int main_serve(int nfiles, char **files, struct runner_opts *o, const char *nodes,
                      const struct buf *header, const char *listen_at)
{
    struct buf text = BUF_INIT;
    struct scenario *sc = NULL;
    char err[1024] = "";
    char *node_bin = NULL;
    int rc = RUNNER_BAD;
    if (nfiles > 1 || (nfiles == 1 && (nodes || header->len)) || (nfiles == 0 && !nodes)) {
        fprintf(stderr, "chainlab-sim serve: give one scenario file, or --nodes N and the other "
                        "header flags\n");
        goto out;
    }
    if (nfiles == 1 && (scenario_load(files[0], &sc, err, sizeof(err)) < 0 ||
                        buf_read_file(&text, files[0]) < 0)) {
        fprintf(stderr, "%s\n", err[0] ? err : strerror(errno));
        goto out;
    }
    if (nfiles == 0) {
        buf_printf(&text, "nodes %s\n%s", nodes, header->data ? header->data : "");
        if (scenario_parse("serve", text.data, text.len, &sc, err, sizeof(err)) < 0) {
            fprintf(stderr, "chainlab-sim serve: %s\nthe header the flags make:\n%s", err,
                    text.data);
            goto out;
        }
    }
    if (scenario_check_kinds(sc, SUPPORTED_KINDS, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (prepare_run(o, &node_bin) != RUNNER_OK)
        goto out;
    err[0] = '\0';
    rc = serve_run(sc, text.data, o, listen_at ? listen_at : SERVE_LISTEN, err, sizeof(err));
    if (err[0])
        fprintf(stderr, "chainlab-sim serve: %s\n", err);
    curl_global_cleanup();
out:
    scenario_free(sc);
    buf_free(&text);
    free(node_bin);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--relay") == 0)
        return links_relay_main(atoi(argv[2])); /* a relay process of the link layer (links.h) */
    if (argc >= 2 && strcmp(argv[1], "logs") == 0)
        return main_logs(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "plot") == 0)
        return main_plot(argc - 1, argv + 1);
    bool serve = argc >= 2 && strcmp(argv[1], "serve") == 0;
    if (serve) {
        argc--;
        argv++;
    }
    static const struct option opts[] = {
        {"node-bin", required_argument, NULL, 'b'},
        {"node-cmd", required_argument, NULL, 'c'},
        {"base-port", required_argument, NULL, 'p'},
        {"run-dir", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"keep", no_argument, NULL, 'k'},
        {"check", no_argument, NULL, 'C'},
        {"report", required_argument, NULL, 'r'},
        {"junit", required_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"generate", required_argument, NULL, 'g'},
        {"nodes", required_argument, NULL, 'N'},
        {"steps", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"stop-grace", required_argument, NULL, 'G'},
        {"sample", required_argument, NULL, 'A'},
        {"plots", no_argument, NULL, 'P'},
        {"sample-metrics", required_argument, NULL, 'M'},
        {"layout", required_argument, NULL, 'y'},
        {"link-processes", required_argument, NULL, 'R'},
        {"listen", required_argument, NULL, 'L'},
        {"topology", required_argument, NULL, 'T'},
        {"timeout", required_argument, NULL, 'O'},
        {"node-args", required_argument, NULL, 'a'},
        {"header", required_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    struct runner_opts o = {.runs_root = "runs",
                            .out = stdout,
                            .interrupted = &interrupted,
                            .sample_ms = SIM_SAMPLE_MS};
    const char *report = NULL, *junit = NULL;
    bool check_only = false;
    unsigned jobs = 1;
    bool generate = false;
    unsigned long long gen_seed = 0, gen_nodes = GENERATE_NODES, gen_steps = GENERATE_STEPS;
    char *node_bin = NULL;
    unsigned long long v;
    int opt, longindex = 0;
    const char *nodes_arg = NULL, *listen_at = NULL;
    struct buf header = BUF_INIT; /* serve: header lines from the flags, after `nodes` */

    while ((opt = getopt_long(argc, argv, "j:qvhV", opts, &longindex)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'b':
            o.node_bin = optarg;
            break;
        case 'c':
            o.node_cmd = optarg;
            break;
        case 'p':
            bad = parse_u64(optarg, 65535, &v) < 0 || v == 0;
            o.base_port = (uint16_t)v;
            o.base_port_fixed = true;
            break;
        case 'd':
            o.run_dir = optarg;
            break;
        case 'G':
            bad = parse_u64(optarg, 3600000, &v) < 0 || v == 0;
            o.grace_ms = (long)v;
            break;
        case 'M':
            bad = parse_u64(optarg, 3600000, &v) < 0;
            o.metrics_ms = (long)v;
            break;
        case 'P':
            o.plots = true;
            break;
        case 'y':
            if (strcmp(optarg, "ports") == 0)
                o.layout = RUNNER_LAYOUT_PORTS;
            else if (strcmp(optarg, "addresses") == 0)
                o.layout = RUNNER_LAYOUT_ADDRESSES;
            else
                bad = 1;
            break;
        case 'R':
            bad = parse_u64(optarg, LINKS_MAX_SHARDS, &v) < 0 || v == 0;
            o.link_processes = (unsigned)v;
            break;
        case 'A':
            bad = parse_u64(optarg, 3600000, &v) < 0;
            o.sample_ms = (long)v;
            break;
        case 's':
            bad = parse_u64(optarg, UINT64_MAX, &v) < 0;
            o.seed = v;
            o.seed_given = true;
            break;
        case 'k':
            o.keep = true;
            break;
        case 'C':
            check_only = true;
            break;
        case 'r':
            report = optarg;
            break;
        case 'J':
            junit = optarg;
            break;
        case 'j':
            bad = parse_u64(optarg, 64, &v) < 0 || v == 0;
            jobs = (unsigned)v;
            break;
        case 'q':
            o.verbosity = -1;
            break;
        case 'v':
            o.verbosity = 1;
            break;
        case 'g':
            bad = parse_u64(optarg, UINT64_MAX, &gen_seed) < 0;
            generate = true;
            break;
        case 'N':
            nodes_arg = optarg;
            bad = !serve && (parse_u64(optarg, 64, &gen_nodes) < 0 || gen_nodes < 2);
            break;
        case 'L':
            listen_at = optarg;
            break;
        case 'T':
        case 'O':
        case 'a':
        case 'H':
            buf_printf(&header, "%s%s\n",
                       opt == 'T'   ? "topology "
                       : opt == 'O' ? "timeout "
                       : opt == 'a' ? "node-args "
                                    : "",
                       optarg);
            break;
        case 'S':
            bad = parse_u64(optarg, 100000, &gen_steps) < 0;
            break;
        case 'h':
            usage(stdout);
            buf_free(&header);
            return 0;
        case 'V':
            printf("chainlab-sim %s\n", CHAINLAB_VERSION);
            buf_free(&header);
            return 0;
        default:
            usage_hint();
            buf_free(&header);
            return RUNNER_BAD;
        }
        if (bad) {
            fprintf(stderr, "chainlab-sim: bad value for --%s: '%s'\n",
                    opt == 'j' ? "jobs" : opts[longindex].name, optarg);
            usage_hint();
            buf_free(&header);
            return RUNNER_BAD;
        }
    }
    if (serve) {
        int src = RUNNER_BAD;
        if (o.keep || check_only || report || junit || jobs != 1 || generate ||
            gen_steps != GENERATE_STEPS)
            fprintf(stderr, "chainlab-sim serve: --keep, --check, --report, --junit, --jobs, "
                            "--generate and --steps go with scenario runs, not serve\n");
        else
            src = main_serve(argc - optind, argv + optind, &o, nodes_arg, &header, listen_at);
        buf_free(&header);
        return src;
    }
    bool serve_flags = listen_at != NULL || header.len > 0;
    buf_free(&header);
    if (serve_flags) {
        fprintf(stderr, "chainlab-sim: --listen, --topology, --timeout, --node-args and --header "
                        "go with serve\n");
        usage_hint();
        return RUNNER_BAD;
    }
    if (!generate && (nodes_arg != NULL || gen_steps != GENERATE_STEPS)) {
        fprintf(stderr, "chainlab-sim: --nodes and --steps go with --generate\n");
        usage_hint();
        return RUNNER_BAD;
    }
    if (generate) {
        if (optind < argc) {
            fprintf(stderr, "chainlab-sim: --generate takes no scenario file\n");
            return RUNNER_BAD;
        }
        struct buf text = BUF_INIT;
        generate_scenario(gen_seed, (unsigned)gen_nodes, (unsigned)gen_steps, &text);
        fwrite(text.data, 1, text.len, stdout);
        buf_free(&text);
        return 0;
    }
    if (optind >= argc) {
        fprintf(stderr, "chainlab-sim: no scenario file given\n");
        usage_hint();
        return RUNNER_BAD;
    }
    if (o.keep && argc - optind > 1) {
        fprintf(stderr, "chainlab-sim: --keep takes one scenario file\n");
        return RUNNER_BAD;
    }

    /* Parse everything first: one bad file and nothing runs. */
    size_t n = (size_t)(argc - optind);
    struct scenario **scs = xcalloc(n, sizeof(*scs));
    int rc = RUNNER_OK;
    json_t *bad = json_array(); /* error entries, so that --report and --junit still tell */
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        if (scenario_load(argv[optind + (int)i], &scs[i], err, sizeof(err)) < 0 ||
            scenario_check_kinds(scs[i], SUPPORTED_KINDS, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            json_array_append_new(bad, error_entry(argv[optind + (int)i], err));
            rc = RUNNER_BAD;
        } else if (check_only && o.verbosity >= 0) {
            printf("ok %s (%u nodes, %zu steps)\n", scs[i]->path, scs[i]->nodes, scs[i]->n_steps);
        }
    }
    if (rc != RUNNER_OK && !check_only)
        rc = write_reports(report, junit, bad, rc);
    json_decref(bad);
    if (rc != RUNNER_OK || check_only)
        goto out;
    rc = prepare_run(&o, &node_bin);
    if (rc != RUNNER_OK)
        goto out;

    json_t *results = json_array();
    rc = run_all(scs, n, &o, jobs, results);
    if (n > 1 && o.verbosity >= -1)
        report_summary(stdout, results);
    rc = write_reports(report, junit, results, rc);
    json_decref(results);
    curl_global_cleanup();
out:
    for (size_t i = 0; i < n; i++)
        scenario_free(scs[i]);
    free(scs);
    free(node_bin);
    return rc;
}

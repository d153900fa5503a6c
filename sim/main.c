/* chainlab-sim: runs scenario files against clusters of naivechain nodes. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "cluster.h"
#include "generate.h"
#include "log.h"
#include "links.h"
#include "logs.h"
#include "plot.h"
#include "report.h"
#include "runner.h"
#include "scenario.h"
#include "serve.h"
#include "sweep.h"
#include "sweepplot.h"
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
        "       chainlab-sim plot RUN_DIR | SWEEP_DIR\n"
        "\n"
        "Runs .scn scenario files against clusters of naivechain nodes on loopback.\n"
        "serve starts one cluster and serves a JSON HTTP API to drive it (see README.md):\n"
        "GET /cluster, POST /steps, GET /events?since=T&wait=S, GET /report, DELETE /cluster.\n"
        "\n"
        "  --node-bin PATH     node program (default: chainlab-node beside chainlab-sim)\n"
        "  --node-cmd TEMPLATE shell command for any implementation, with {port} {host}\n"
        "                      {node} {dir} substituted, e.g. 'python3 node.py {port}';\n"
        "                      for the nodes the file gives no node-cmd\n"
        "  --base-port N       put n0 on port N, n1 on N+1, ... (default: find free ports)\n"
        "  --layout L          where nodes listen: addresses (node i on 127.1.x.y, every\n"
        "                      node at one port) or ports (all on 127.0.0.1, sequential\n"
        "                      ports); default addresses for chainlab nodes, ports when\n"
        "                      a node has a node-cmd (file or flag) or with --base-port\n"
        "  --link-processes N  relay processes of the link layer (default: as many as the\n"
        "                      open-files limit needs)\n"
        "  --run-dir DIR       logs of this run (default runs/<scenario>-<time>-<pid>/);\n"
        "                      with several files, one folder per scenario inside DIR\n"
        "  --seed N            seed for everything random (overrides the file's seed)\n"
        "  --set NAME=VALUE    the value of the file's 'param NAME' (repeatable)\n"
        "  --sweep NAME=V1,V2,...  run the file once per value; several --sweep: every\n"
        "                      combination. Writes sweep.csv, sweep-cells.csv and\n"
        "                      sweep.json into --run-dir (default\n"
        "                      runs/<scenario>-sweep-<time>-<pid>/), a folder per run\n"
        "  --repeat K          runs per cell of a sweep, each with its own seed (default 1)\n"
        "  --request-timeout MS  bound on each request to a node (default 10000; 5000 for\n"
        "                      an append of a load, 60000 for POST /sync)\n"
        "  --stop-grace MS     SIGTERM to SIGKILL when stopping a node (default %d;\n"
        "                      raise it for nodes under valgrind)\n"
        "  --keep              leave the cluster up after the last step, until Ctrl-C\n"
        "  --sample MS         record every running node's height and tip in\n"
        "                      RUN_DIR/events.jsonl every MS ms (default %d; 0: off)\n"
        "  --sample-metrics MS record every running node's GET /metrics in\n"
        "                      RUN_DIR/events.jsonl every MS ms (default 0: off)\n"
        "  --plots             draw RUN_DIR/plots/ (gnuplot) at the end of each run\n"
        "  --check             parse and validate the files only; run nothing\n"
        "  --report FILE       write a JSON report\n"
        "  --junit FILE        write JUnit XML (one test case per scenario)\n"
        "  -j, --jobs N        run N scenario files (or runs of a sweep) at once, each\n"
        "                      on its own ports\n"
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

/* Run every scenario file, jobs at a time, each in its own folder inside --run-dir when there
 * are several. Appends each result to results (in file order). */
static int run_files(struct scenario **scs, size_t n, const struct runner_opts *base, unsigned jobs,
                     json_t *results)
{
    struct batch_item *items = xcalloc(n, sizeof(*items));
    char **dirs = xcalloc(n, sizeof(char *));
    char err[256] = "";
    for (size_t i = 0; i < n; i++) {
        items[i].sc = scs[i];
        items[i].run_dir = base->run_dir;
        if (base->run_dir && n > 1) {
            const char *b = strrchr(scs[i]->path, '/');
            items[i].run_dir = dirs[i] =
                xasprintf("%s/%zu-%s", base->run_dir, i, b ? b + 1 : scs[i]->path);
        }
    }
    int worst = batch_run(items, n, base, jobs, NULL, NULL, err, sizeof(err));
    if (err[0] != '\0')
        fprintf(stderr, "chainlab-sim: %s\n", err);
    for (size_t i = 0; i < n; i++) {
        if (items[i].result)
            json_array_append(results, items[i].result);
        free(dirs[i]);
    }
    batch_clear(items, n);
    free(items);
    free(dirs);
    return worst;
}

/* What --set, --sweep and --repeat ask for. */
struct experiment {
    struct scenario_setting *sets; /* names owned, values borrowed from argv */
    size_t n_sets;
    struct sweep_axis *axes;
    size_t n_axes;
    unsigned repeat; /* 0: not given */
};

/* --set NAME=VALUE; the name and value are checked when a file is parsed. */
static int add_setting(struct experiment *x, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        fprintf(stderr, "chainlab-sim: bad value for --set: '%s': expected NAME=VALUE\n", arg);
        return -1;
    }
    x->sets = xrealloc(x->sets, (x->n_sets + 1) * sizeof(*x->sets));
    x->sets[x->n_sets++] =
        (struct scenario_setting){xstrndup(arg, (size_t)(eq - arg)), eq + 1, "--set"};
    return 0;
}

static int add_axis(struct experiment *x, const char *arg)
{
    char err[512];
    struct sweep_axis a;
    if (sweep_axis_parse(arg, &a, err, sizeof(err)) < 0) {
        fprintf(stderr, "chainlab-sim: bad value for --sweep: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < x->n_axes; i++) {
        if (strcmp(x->axes[i].name, a.name) == 0) {
            fprintf(stderr,
                    "chainlab-sim: bad value for --sweep: '%s': %s is swept twice: give all "
                    "its values in one --sweep\n",
                    arg, a.name);
            sweep_axis_clear(&a);
            return -1;
        }
    }
    x->axes = xrealloc(x->axes, (x->n_axes + 1) * sizeof(*x->axes));
    x->axes[x->n_axes++] = a;
    return 0;
}

static void experiment_free(struct experiment *x)
{
    for (size_t i = 0; i < x->n_sets; i++)
        free((char *)x->sets[i].name);
    free(x->sets);
    for (size_t i = 0; i < x->n_axes; i++)
        sweep_axis_clear(&x->axes[i]);
    free(x->axes);
}

/* True when some node of these scenarios runs the node program (no node-cmd names it). */
static bool uses_node_bin(struct scenario **scs, size_t n, const struct runner_opts *o)
{
    for (size_t i = 0; i < n && o->node_cmd == NULL; i++) {
        for (unsigned k = 0; k < scs[i]->nodes; k++) {
            if (scs[i]->node_cmds[k] == NULL)
                return true;
        }
    }
    return false;
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

/* chainlab-sim plot RUN_DIR | SWEEP_DIR */
static int main_plot(int argc, char **argv)
{
    char err[1024];
    if (argc != 2 || argv[1][0] == '-') {
        bool help = argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
        fprintf(help ? stdout : stderr,
                "usage: chainlab-sim plot RUN_DIR | SWEEP_DIR\n"
                "Draws RUN_DIR/plots/{heights,latency,rate}.{png,svg} from RUN_DIR/events.jsonl,\n"
                "or, for the folder of a sweep, SWEEP_DIR/plots/FIGURE.{png,svg} from\n"
                "SWEEP_DIR/sweep.json (each figure against the first swept parameter), with\n"
                "gnuplot.\n");
        return help ? 0 : RUNNER_BAD;
    }
    char *table = xasprintf("%s/%s", argv[1], SWEEPPLOT_TABLE);
    bool sweep = access(table, F_OK) == 0;
    free(table);
    if (sweep) {
        struct buf drawn = BUF_INIT;
        int rc = sweepplot_draw(argv[1], &drawn, err, sizeof(err));
        if (rc < 0)
            fprintf(stderr, "chainlab-sim plot: %s\n", err);
        else if (rc == 1)
            printf("%s: the sweep has no swept parameter (only --repeat): nothing to draw\n",
                   argv[1]);
        else
            printf("%s/%s: %s (.png, .svg)\n", argv[1], PLOT_DIR,
                   drawn.len ? drawn.data : "no figure");
        buf_free(&drawn);
        return rc < 0 ? RUNNER_BAD : 0;
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

/* Before a run: the run folder is new or empty, the node program can run when some node runs it
 * (needs_node_bin; o->node_bin set to the default one, which *node_bin then owns), signals set,
 * libcurl ready. Returns RUNNER_OK or RUNNER_BAD (said on stderr). */
static int prepare_run(struct runner_opts *o, char **node_bin, bool needs_node_bin)
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
    if (needs_node_bin && o->node_cmd == NULL && access(o->node_bin, X_OK) != 0) {
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
 * the flags (nodes and the lines in header), with the --set values x->sets, then serve_run(). */
static int main_serve(int nfiles, char **files, struct runner_opts *o, const char *nodes,
                      const struct buf *header, const struct experiment *x, const char *listen_at)
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
    if (nfiles == 1 &&
        (scenario_load_served(files[0], x->sets, x->n_sets, &sc, err, sizeof(err)) < 0 ||
         buf_read_file(&text, files[0]) < 0)) {
        fprintf(stderr, "%s\n", err[0] ? err : strerror(errno));
        goto out;
    }
    if (nfiles == 0) {
        buf_printf(&text, "nodes %s\n%s", nodes, header->data ? header->data : "");
        if (scenario_parse_served("serve", text.data, text.len, x->sets, x->n_sets, &sc, err,
                                  sizeof(err)) < 0) {
            fprintf(stderr, "chainlab-sim serve: %s\nthe header the flags make:\n%s", err,
                    text.data);
            goto out;
        }
    }
    if (scenario_check_kinds(sc, SUPPORTED_KINDS, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (prepare_run(o, &node_bin, uses_node_bin(&sc, 1, o)) != RUNNER_OK)
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
        {"set", required_argument, NULL, 'E'},
        {"sweep", required_argument, NULL, 'W'},
        {"repeat", required_argument, NULL, 'K'},
        {"request-timeout", required_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    struct experiment x = {0};
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
    int rc = RUNNER_OK;
    size_t n = 0;
    struct scenario **scs = NULL;
    json_t *results = NULL;

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
        case 'E':
            bad = add_setting(&x, optarg) < 0 ? -1 : 0;
            break;
        case 'W':
            bad = add_axis(&x, optarg) < 0 ? -1 : 0;
            break;
        case 'K':
            bad = parse_u64(optarg, SWEEP_MAX_REPEAT, &v) < 0 || v == 0;
            x.repeat = (unsigned)v;
            break;
        case 'Q':
            bad = parse_u64(optarg, 3600000, &v) < 0 || v == 0;
            o.request_ms = (long)v;
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
            bad = parse_u64(optarg, BATCH_MAX_JOBS, &v) < 0 || v == 0;
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
            goto out;
        case 'V':
            printf("chainlab-sim %s\n", CHAINLAB_VERSION);
            goto out;
        default:
            usage_hint();
            rc = RUNNER_BAD;
            goto out;
        }
        if (bad > 0)
            fprintf(stderr, "chainlab-sim: bad value for --%s: '%s'\n",
                    opt == 'j' ? "jobs" : opts[longindex].name, optarg);
        if (bad) {
            usage_hint();
            rc = RUNNER_BAD;
            goto out;
        }
    }
    bool sweeping = x.n_axes > 0 || x.repeat > 0;
    if (serve) {
        rc = RUNNER_BAD;
        if (o.keep || check_only || report || junit || jobs != 1 || generate ||
            gen_steps != GENERATE_STEPS || sweeping)
            fprintf(stderr, "chainlab-sim serve: --keep, --check, --report, --junit, --jobs, "
                            "--generate, --steps, --sweep and --repeat go with scenario runs, "
                            "not serve\n");
        else
            rc = main_serve(argc - optind, argv + optind, &o, nodes_arg, &header, &x, listen_at);
        goto out;
    }
    if (listen_at != NULL || header.len > 0) {
        fprintf(stderr, "chainlab-sim: --listen, --topology, --timeout, --node-args and --header "
                        "go with serve\n");
        usage_hint();
        rc = RUNNER_BAD;
        goto out;
    }
    if (!generate && (nodes_arg != NULL || gen_steps != GENERATE_STEPS)) {
        fprintf(stderr, "chainlab-sim: --nodes and --steps go with --generate\n");
        usage_hint();
        rc = RUNNER_BAD;
        goto out;
    }
    if (generate) {
        if (optind < argc) {
            fprintf(stderr, "chainlab-sim: --generate takes no scenario file\n");
            rc = RUNNER_BAD;
            goto out;
        }
        struct buf text = BUF_INIT;
        generate_scenario(gen_seed, (unsigned)gen_nodes, (unsigned)gen_steps, &text);
        fwrite(text.data, 1, text.len, stdout);
        buf_free(&text);
        goto out;
    }
    if (optind >= argc) {
        fprintf(stderr, "chainlab-sim: no scenario file given\n");
        usage_hint();
        rc = RUNNER_BAD;
        goto out;
    }
    if (o.keep && argc - optind > 1) {
        fprintf(stderr, "chainlab-sim: --keep takes one scenario file\n");
        rc = RUNNER_BAD;
        goto out;
    }
    if (sweeping && (argc - optind > 1 || o.keep)) {
        fprintf(stderr, "chainlab-sim: --sweep and --repeat take one scenario file, without "
                        "--keep\n");
        rc = RUNNER_BAD;
        goto out;
    }

    /* Parse everything first: one bad file and nothing runs (a sweep parses each cell). */
    n = sweeping ? 0 : (size_t)(argc - optind);
    scs = xcalloc(n ? n : 1, sizeof(*scs));
    json_t *bad = json_array(); /* error entries, so that --report and --junit still tell */
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        if (scenario_load_with(argv[optind + (int)i], x.sets, x.n_sets, &scs[i], err, sizeof(err)) <
                0 ||
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
    if (rc != RUNNER_OK || (check_only && !sweeping))
        goto out;
    if (!check_only) {
        rc = prepare_run(&o, &node_bin, sweeping || uses_node_bin(scs, n, &o));
        if (rc != RUNNER_OK)
            goto out;
    }

    results = json_array();
    if (sweeping) {
        struct sweep_spec spec = {.path = argv[optind],
                                  .axes = x.axes,
                                  .n_axes = x.n_axes,
                                  .sets = x.sets,
                                  .n_sets = x.n_sets,
                                  .repeat = x.repeat > 0 ? x.repeat : 1,
                                  .jobs = jobs,
                                  .check_only = check_only};
        rc = sweep_run(&spec, &o, results);
    } else {
        rc = run_files(scs, n, &o, jobs, results);
    }
    if (check_only)
        goto out;
    if (!sweeping && n > 1 && o.verbosity >= -1)
        report_summary(stdout, results);
    rc = write_reports(report, junit, results, rc);
    curl_global_cleanup();
out:
    json_decref(results);
    for (size_t i = 0; i < n; i++)
        scenario_free(scs[i]);
    free(scs);
    free(node_bin);
    buf_free(&header);
    experiment_free(&x);
    return rc;
}

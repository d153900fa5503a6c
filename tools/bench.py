#!/usr/bin/python3
"""chainlab benchmarks: prints tables of measured figures (make bench).

usage: tools/bench.py [-h] [--rounds N] [--seconds S] [--pin] [PART ...]

Parts (default: node sim):
  node:     one node against yardsticks measured in turns in the same run: appends/s of a node
            with no peers against build/tools/bare_server (the node's libmicrohttpd set-up with
            nothing behind it), node, bare, node, bare... (--pin: each server on CPU 1, wrk on
            CPU 0), with each server's CPU time per append; a fresh node syncing a 100,000-block
            chain against downloading the same chain with one GET /blocks, sync, download, sync,
            download...; each as the median of the rounds' ratios with their spread. Then
            appends/s with --db, GET /blocks latency at 10k and 100k blocks, the sync with --db,
            --db start-up, RSS idle and at 100k blocks.
  sim:      time from an append on n0 until all N nodes hold it, N = 10, 50, 100 on `random 4`,
            through the link layer and direct; then the sampling part.
  sampling: what --sample costs (BENCH_SAMPLE_NODES nodes, default 100).
Targets are printed beside the figures; nothing here asserts: machines are shared and noisy.
An unknown part is an error (exit 2).
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CHAINLAB_BUILD", os.path.join(ROOT, "build"))
NODE = os.path.join(BUILD, "chainlab-node")
SIM = os.path.join(BUILD, "chainlab-sim")
LUA = os.path.join(ROOT, "tools", "wrk-append.lua")
LOADGEN = os.path.join(BUILD, "tools", "loadgen")
BARE = os.path.join(BUILD, "tools", "bare_server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_cpus(cpus):
    """A preexec_fn that keeps the child on the CPUs in cpus (None: wherever the kernel likes)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def pinning(args):
    """CPUs for (the server, wrk) in the appends comparison: with --pin on a machine of two
    CPUs or more, the server on CPU 1 and wrk on CPU 0; else (None, None): the scheduler places
    them."""
    if not args.pin or len(os.sched_getaffinity(0)) < 2:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[1]}, {cpus[0]}


class Node:
    """A chainlab-node on a free port, up once it answers GET /block. prefix: a command the node
    runs under (tools/profile.py: perf record), which must end the node when it gets SIGTERM."""

    def __init__(self, *args, prefix=(), cpus=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([*prefix, NODE, str(self.port), *args], stdout=self.log,
                                     stderr=self.log, preexec_fn=on_cpus(cpus))
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/block", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("node did not start")
                time.sleep(0.01)

    def get(self, path, timeout=30):
        return urllib.request.urlopen(self.url + path, timeout=timeout).read()

    def post(self, path, body=b"", timeout=60):
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        return urllib.request.urlopen(req, timeout=timeout).read()

    def height(self):
        return json.loads(self.get("/block"))["index"]

    def rss_kib(self, field="VmRSS"):
        """VmRSS, or RssAnon (the node's own memory) / RssFile (mapped library pages)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Bare:
    """build/tools/bare_server on a free port, up once it prints "ready"."""

    def __init__(self, cpus=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen([BARE, str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=on_cpus(cpus))
        if self.proc.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError("bare_server did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def spread(values, fmt, unit=""):
    """"median<unit> (min-max)" of values, each number written with fmt."""
    return ("%s%s (%s-%s)" % (fmt, unit, fmt, fmt)) % (statistics.median(values), min(values),
                                                       max(values))


def in_turns(rounds, measure_a, measure_b):
    """Run measure_a then measure_b, rounds times; returns the lists of a, b and a/b (when they
    are numbers)."""
    a, b, ratio = [], [], []
    for _ in range(rounds):
        a.append(measure_a())
        b.append(measure_b())
        if isinstance(a[-1], (int, float)):
            ratio.append(a[-1] / b[-1])
    return a, b, ratio


def download_ms(node):
    """One GET /blocks of node's whole chain, read to its end on a new connection, in ms."""
    t = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=60)
    conn.request("GET", "/blocks")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200 or not body.startswith(b"["):
        raise RuntimeError("GET /blocks answered %d" % resp.status)
    return (time.perf_counter() - t) * 1000


def fresh_sync_ms(peer, *args):
    """A node started empty syncs peer's chain (POST /peers, then POST /sync timed), in ms."""
    fresh = Node(*args)
    try:
        fresh.post("/peers", peer.url.encode())
        t = time.perf_counter()
        fresh.post("/sync")
        took = (time.perf_counter() - t) * 1000
        if fresh.height() != peer.height():
            raise RuntimeError("the fresh node did not reach the peer's height")
    finally:
        fresh.stop()
    return took


def wrk_run(url, seconds, cpus=None):
    """wrk -t2 -c8 with unique /append bodies: (requests/s, requests)."""
    out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % seconds, "-s", LUA, url],
                         capture_output=True, text=True, check=True,
                         preexec_fn=on_cpus(cpus)).stdout
    rate = done = None
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rate = float(line.split()[1])
        elif "requests in" in line:
            done = int(line.split()[0])
    if rate is None or not done:
        raise RuntimeError("wrk printed no rate:\n" + out)
    return rate, done


def wrk(url, seconds, cpus=None):
    return wrk_run(url, seconds, cpus)[0]


def cpu_seconds(pid):
    """User and system CPU time of process pid so far, all threads, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_server(url, pid, seconds, cpus):
    """One wrk run against a server: (appends/s, the server's CPU microseconds per append)."""
    before = cpu_seconds(pid)
    rate, done = wrk_run(url, seconds, cpus)
    return rate, (cpu_seconds(pid) - before) * 1e6 / done


def fill(node, blocks):
    """Append until the chain has exactly `blocks` blocks after genesis."""
    left = blocks - node.height()
    if left > 0:
        subprocess.run([LOADGEN, node.url, str(left), "8"], check=True, capture_output=True)


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def table(title, rows):
    print("\n" + title)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))


def bench_node(args):
    rows = [("measure", "result: median (min-max)", "target")]
    server_cpus, client_cpus = pinning(args)
    n, bare = Node(cpus=server_cpus), Bare(cpus=server_cpus)
    try:
        idle = n.rss_kib()
        idle_anon, idle_file = n.rss_kib("RssAnon"), n.rss_kib("RssFile")
        node_runs, bare_runs, _ = in_turns(
            args.rounds, lambda: load_server(n.url, n.proc.pid, args.seconds, client_cpus),
            lambda: load_server(bare.url, bare.proc.pid, args.seconds, client_cpus))
    finally:
        n.stop()
        bare.stop()
    where = ("server on CPU %d, wrk on CPU %d" % (min(server_cpus), min(client_cpus))
             if server_cpus else "not pinned")
    rows.append(("appends/s, 1 node, no peers, 8 clients (wrk -t2 -c8, %d s), %d rounds, %s"
                 % (args.seconds, args.rounds, where), spread([r for r, _ in node_runs], "%.0f"),
                 ">= 35000"))
    rows.append(("appends/s, bare_server, the same load, in turns with the node",
                 spread([r for r, _ in bare_runs], "%.0f"), "-"))
    rows.append(("  node / bare_server, round by round",
                 spread([a[0] / b[0] for a, b in zip(node_runs, bare_runs)], "%.2f"), ">= 0.8"))
    rows.append(("server CPU per append (user + system), node / bare_server",
                 "%s / %s" % (spread([c for _, c in node_runs], "%.1f", " us"),
                              spread([c for _, c in bare_runs], "%.1f", " us")), "-"))
    db_dir = tempfile.mkdtemp(prefix="chainlab-bench-db-")
    for mode in ("full", "normal"):
        n = Node("--db", os.path.join(db_dir, mode + ".db"), "--db-sync", mode)
        rows.append(("appends/s, --db --db-sync %s, same load" % mode,
                     "%.0f" % wrk(n.url, args.seconds), "-"))
        n.stop()

    n = Node()
    rows.append(("RSS idle", "%.1f MiB" % (idle / 1024), "<= 8 MiB"))
    rows.append(("  of which the node's own memory (RssAnon)", "%.1f MiB" % (idle_anon / 1024),
                 "-"))
    rows.append(("  of which shared library pages (RssFile)", "%.1f MiB" % (idle_file / 1024),
                 "-"))
    for size in (10000, 100000):
        fill(n, size)
        times = [timed(lambda: n.get("/blocks"), 1)[0] for _ in range(20)]
        nbytes = len(n.get("/blocks"))
        rows.append(("GET /blocks at %d blocks (%.1f MB), 20 times" % (n.height(), nbytes / 1e6),
                     spread(times, "%.1f", " ms"), "<= 50 ms at 100k"))
    rows.append(("RSS at %d blocks" % n.height(), "%.1f MiB" % (n.rss_kib() / 1024), "-"))

    syncs, downloads, ratios = in_turns(args.rounds, lambda: fresh_sync_ms(n),
                                        lambda: download_ms(n))
    rows.append(("fresh node syncs %d blocks from one peer, %d rounds" % (n.height(), args.rounds),
                 spread(syncs, "%.0f", " ms"), "<= 400 ms"))
    rows.append(("GET /blocks of the same chain, read whole, in turns with the syncs",
                 spread(downloads, "%.1f", " ms"), "-"))
    rows.append(("  sync / download, round by round", spread(ratios, "%.1f", "x"), "<= 4x"))
    db = os.path.join(db_dir, "big.db")
    rows.append(("  the same sync with --db (adopted in one transaction)",
                 "%.0f ms" % fresh_sync_ms(n, "--db", db), "-"))
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        fresh = Node("--db", db)
        loads.append((time.perf_counter() - t) * 1000)
        assert fresh.height() == n.height()
        fresh.stop()
    rows.append(("--db start-up with %d blocks stored (fully validated), 3 times" % n.height(),
                 spread(loads, "%.0f", " ms"), "-"))
    shutil.rmtree(db_dir, ignore_errors=True)
    n.stop()
    table("chainlab-node (this machine, %d cores)" % os.cpu_count(), rows)


def bench_sim(args):
    rows = [("nodes", "topology", "links", "append on n0 until all hold it", "sim total")]
    tmp = tempfile.mkdtemp(prefix="chainlab-bench-")
    try:
        for nodes in (10, 50, 100):
            for mode in ("links", "direct"):
                scn = os.path.join(tmp, "prop-%d-%s.scn" % (nodes, mode))
                with open(scn, "w") as f:
                    f.write("nodes %d\ntopology random 4\nseed 3\n" % nodes)
                    if mode == "direct":
                        f.write("links direct\n")
                    for k in range(5):
                        f.write('append n0 "probe-%d"\nawait contains "probe-%d" within 30s\n'
                                % (k, k))
                rep = os.path.join(tmp, "r.json")
                subprocess.run([SIM, "-q", "--run-dir", os.path.join(tmp, "run"), "--report",
                                rep, scn], check=True)
                with open(rep) as f:
                    res = json.load(f)["scenarios"][0]
                steps = [s for s in res["steps"] if s["kind"] == "append"]
                awaits = [a["took_s"] * 1000 + s["took_s"] * 1000
                          for a, s in zip(res["awaits"], steps)]
                rows.append((nodes, "random 4", mode,
                             "median %.1f ms, max %.1f ms (5 appends)" %
                             (statistics.median(awaits), max(awaits)),
                             "%.2f s" % res["duration_s"]))
                shutil.rmtree(os.path.join(tmp, "run"), ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table("chainlab-sim propagation (append answered + await contains on every node)", rows)


def bench_sampling(args):
    """What --sample costs: one scenario (a load, a partition, a heal, convergence) run with
    sampling off, every 100 ms (the default) and every 10 ms; the outcome must not change."""
    nodes = int(os.environ.get("BENCH_SAMPLE_NODES", "100"))
    rows = [("nodes", "--sample", "result", "converged after heal", "append p50 / p99",
             "observe events", "CPU (sim + nodes)")]
    tmp = tempfile.mkdtemp(prefix="chainlab-bench-")
    try:
        scn = os.path.join(tmp, "sample.scn")
        with open(scn, "w") as f:
            f.write("nodes %d\ntopology random 4\nseed 5\ntimeout 120s\n"
                    "load 100/s for 3s on n0\npartition halves\nsleep 1s\nheal\n"
                    "await loads done within 30s\nsync all\nawait converged within 60s\n"
                    "expect lost == 0\n" % nodes)
        for ms in (0, 100, 10):
            run_dir = os.path.join(tmp, "run-%d" % ms)
            rep = os.path.join(tmp, "r.json")
            t0 = os.times()
            subprocess.run([SIM, "-q", "--sample", str(ms), "--run-dir", run_dir, "--report",
                            rep, scn], check=False)
            t1 = os.times()
            with open(rep) as f:
                res = json.load(f)["scenarios"][0]
            with open(os.path.join(run_dir, "events.jsonl")) as f:
                observes = sum(1 for line in f if '"kind":"observe"' in line)
            lat = (res["appends"] or {}).get("latency_ms") or {}
            rows.append((nodes, ms or "off", res["result"],
                         "%.3f s" % res["awaits"][-1]["took_s"] if res["awaits"] else "-",
                         "%.1f / %.1f ms" % (lat.get("p50", 0), lat.get("p99", 0)), observes,
                         "%.1f s" % (t1.children_user + t1.children_system -
                                     t0.children_user - t0.children_system)))
            shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table("chainlab-sim sampling cost (BENCH_SAMPLE_NODES=%d)" % nodes, rows)


def bench_scale(args):
    """1,000 to 10,000 nodes (tools/bench_scale.py; SCALE_NODES picks the sizes)."""
    import bench_scale

    bench_scale.main()


# Each part: the functions it runs, in order. A function shared by parts runs once. scale is not
# a default part: it takes about half an hour and the whole machine.
PARTS = {
    "node": (bench_node,),
    "sim": (bench_sim, bench_sampling),
    "sampling": (bench_sampling,),
    "scale": (bench_scale,),
}
DEFAULT_PARTS = ("node", "sim")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="tools/bench.py", description="chainlab benchmarks (make bench BENCH='PART ...').",
        epilog="parts: %s (default: %s). Nothing is asserted; figures are printed with their "
        "targets." % (", ".join(PARTS), " ".join(DEFAULT_PARTS)))
    ap.add_argument("parts", nargs="*", metavar="PART", help="which parts to run")
    ap.add_argument("--rounds", type=int, default=7,
                    help="rounds of each in-turns comparison (node part; default 7)")
    ap.add_argument("--seconds", type=int, default=2,
                    help="seconds of each wrk run (node part; default 2)")
    ap.add_argument("--pin", action="store_true",
                    help="node part: in the appends comparison, run each server on CPU 1 and wrk "
                    "on CPU 0 (two CPUs or more) instead of where the scheduler puts them")
    args = ap.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        ap.error("unknown part %s; the parts are: %s" % (", ".join(unknown), ", ".join(PARTS)))
    if args.rounds < 1 or args.seconds < 1:
        ap.error("--rounds and --seconds must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    done = set()
    for part in args.parts or DEFAULT_PARTS:
        for fn in PARTS[part]:
            if fn not in done:
                done.add(fn)
                fn(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

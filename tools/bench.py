#!/usr/bin/python3
"""chainlab benchmarks: prints tables of measured figures (make bench).

Measures, on this machine, with nothing else tuned:
  node: appends/s (one node, no peers, 8 keep-alive clients via wrk), GET /blocks latency at
        10k and 100k blocks, time for a fresh node to sync a 100k-block chain, RSS idle and at
        100k blocks;
  sim:  time from an append on n0 until all N nodes hold it, N = 10, 50, 100 on `random 4`,
        through the link layer and direct.
Targets are printed beside the figures; nothing here asserts: machines are shared and noisy.
"""
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, *args):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([NODE, str(self.port), *args], stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + 10
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


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % seconds, "-s", LUA, url],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError("wrk printed no rate:\n" + out)


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


def bench_node():
    rows = [("measure", "result", "target")]
    n = Node()
    idle = n.rss_kib()
    idle_anon, idle_file = n.rss_kib("RssAnon"), n.rss_kib("RssFile")
    rate = wrk(n.url, 5)
    rows.append(("appends/s, 1 node, no peers, 8 clients (wrk, 5 s)", "%.0f" % rate, ">= 35000"))
    n.stop()
    db_dir = tempfile.mkdtemp(prefix="chainlab-bench-db-")
    for mode in ("full", "normal"):
        n = Node("--db", os.path.join(db_dir, mode + ".db"), "--db-sync", mode)
        rows.append(("appends/s, --db --db-sync %s, same load" % mode, "%.0f" % wrk(n.url, 5), "-"))
        n.stop()

    n = Node()
    rows.append(("RSS idle", "%.1f MiB" % (idle / 1024), "<= 8 MiB"))
    rows.append(("  of which the node's own memory (RssAnon)", "%.1f MiB" % (idle_anon / 1024),
                 "-"))
    rows.append(("  of which shared library pages (RssFile)", "%.1f MiB" % (idle_file / 1024),
                 "-"))
    for size in (10000, 100000):
        fill(n, size)
        med, worst = timed(lambda: n.get("/blocks"), 20)
        nbytes = len(n.get("/blocks"))
        rows.append(("GET /blocks at %d blocks (%.1f MB), median of 20" % (n.height(), nbytes / 1e6),
                     "%.1f ms (max %.1f)" % (med, worst), "<= 50 ms at 100k"))
    rows.append(("RSS at %d blocks" % n.height(), "%.1f MiB" % (n.rss_kib() / 1024), "-"))

    syncs = []
    for _ in range(5):
        fresh = Node("--peer", n.url)
        # The fresh node syncs at start; measure an explicit sync on a node that starts empty.
        fresh.stop()
        fresh = Node()
        fresh.post("/peers", n.url.encode())
        t = time.perf_counter()
        fresh.post("/sync")
        syncs.append((time.perf_counter() - t) * 1000)
        assert fresh.height() == n.height()
        fresh.stop()
    rows.append(("fresh node syncs %d blocks from one peer, median of 5" % n.height(),
                 "%.0f ms (max %.0f)" % (statistics.median(syncs), max(syncs)), "<= 400 ms"))
    db = os.path.join(db_dir, "big.db")
    fresh = Node("--db", db)
    fresh.post("/peers", n.url.encode())
    t = time.perf_counter()
    fresh.post("/sync")
    adopt = (time.perf_counter() - t) * 1000
    fresh.stop()
    rows.append(("  the same with --db (adopted in one transaction)", "%.0f ms" % adopt, "-"))
    loads = []
    for _ in range(3):
        t = time.perf_counter()
        fresh = Node("--db", db)
        loads.append((time.perf_counter() - t) * 1000)
        assert fresh.height() == n.height()
        fresh.stop()
    rows.append(("--db start-up with %d blocks stored (fully validated), median of 3" % n.height(),
                 "%.0f ms (max %.0f)" % (statistics.median(loads), max(loads)), "-"))
    shutil.rmtree(db_dir, ignore_errors=True)
    n.stop()
    table("chainlab-node (this machine, %d cores)" % os.cpu_count(), rows)


def bench_sim():
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


def bench_sampling():
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
            lat = (res["appends"] or {}).get("latency_ms", {})
            rows.append((nodes, ms or "off", res["result"],
                         "%.3f s" % res["awaits"][-1]["took_s"] if res["awaits"] else "-",
                         "%.1f / %.1f ms" % (lat.get("p50", 0), lat.get("p99", 0)), observes,
                         "%.1f s" % (t1.children_user + t1.children_system -
                                     t0.children_user - t0.children_system)))
            shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table("chainlab-sim sampling cost (BENCH_SAMPLE_NODES=%d)" % nodes, rows)


if __name__ == "__main__":
    which = sys.argv[1:] or ["node", "sim"]
    if "node" in which:
        bench_node()
    if "sim" in which:
        bench_sim()
    if "sim" in which or "sampling" in which:
        bench_sampling()

#!/usr/bin/python3
"""Where a node's CPU time goes on its two hot paths: a flat perf profile (cpu-clock samples).

usage: tools/profile.py [-h] [--build DIR] [--top N] [--seconds S] [--blocks N] append|sync

  append: one node with no peers under the load of make bench (wrk -t2 -c8, unique bodies);
          perf records the node's process for --seconds.
  sync:   a peer holding --blocks blocks, and a fresh node started under perf that syncs them
          (POST /peers, POST /sync), recorded from its start to its exit.

Prints the samples by library and the top symbols (perf report --no-children --sort
dso,symbol), and keeps perf.data in BUILD/profile/PATH.perf.data for `perf report -i` (call graphs
recorded). Needs perf (Debian linux-perf): this machine has no hardware counters, so it samples
cpu-clock. --build picks the binaries, e.g. a build of an older commit to compare.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the benchmark's node helpers)


def report(data, top):
    """The flat report of data: by library, then the top symbols."""
    base = ["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none"]
    for sort, n in (("dso", 8), ("dso,symbol", top)):
        out = subprocess.run(base + ["--sort", sort], capture_output=True, text=True,
                             check=True).stdout
        lines = [line for line in out.splitlines() if line.strip() and not line.startswith("#")]
        print("\n".join(re.sub(r"[\s-]+$", "", line) for line in lines[:n]))
        print()


def samples(data):
    """Samples in data (each 1/freq s of CPU time)."""
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-n", "--sort",
                          "dso", "-g", "none"], capture_output=True, text=True, check=True).stdout
    return sum(int(m.group(1)) for m in re.finditer(r"^\s+[\d.]+%\s+(\d+)", out, re.M))


def profile_append(args, data):
    node = bench.Node()
    rec = subprocess.Popen(["perf", "record", "-q", "-F", str(args.freq), "-e", "cpu-clock", "-g",
                            "-p", str(node.proc.pid), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # perf attached
        out = subprocess.run(["wrk", "-t2", "-c8", "-d%ds" % args.seconds, "-s", bench.LUA,
                              node.url], capture_output=True, text=True, check=True).stdout
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait()
        node.stop()
    done = [line.split() for line in out.splitlines() if "requests in" in line]
    requests = int(done[0][0]) if done else 0
    n = samples(data)
    print("append: %d requests in %d s (wrk -t2 -c8); %d samples at %d Hz: %.0f ms of CPU, "
          "%.1f us per request" % (requests, args.seconds, n, args.freq, n * 1000 / args.freq,
                                   n * 1e6 / args.freq / max(requests, 1)))


def profile_sync(args, data):
    peer = bench.Node()
    try:
        bench.fill(peer, args.blocks)
        fresh = bench.Node(prefix=("perf", "record", "-q", "-F", str(args.freq), "-e",
                                   "cpu-clock", "-g", "-o", data))
        try:
            fresh.post("/peers", peer.url.encode())
            t = time.perf_counter()
            fresh.post("/sync")
            took = (time.perf_counter() - t) * 1000
            height = fresh.height()
        finally:
            fresh.stop()  # perf ends the node, then writes its data
    finally:
        peer.stop()
    n = samples(data)
    print("sync: %d blocks in %.0f ms under perf; %d samples at %d Hz: %.0f ms of CPU in the "
          "node's whole life" % (height, took, n, args.freq, n * 1000 / args.freq))


def main(argv):
    ap = argparse.ArgumentParser(prog="tools/profile.py",
                                 description="flat perf profile of a node's append or sync path")
    ap.add_argument("path", choices=("append", "sync"))
    ap.add_argument("--build", default=bench.BUILD, help="where the binaries are (default: %s)"
                    % bench.BUILD)
    ap.add_argument("--top", type=int, default=25, help="symbols shown (default 25)")
    ap.add_argument("--seconds", type=int, default=4, help="append: seconds of load (default 4)")
    ap.add_argument("--blocks", type=int, default=100000, help="sync: blocks (default 100000)")
    ap.add_argument("--freq", type=int, default=0,
                    help="samples a second (default: 5000 for append, 20000 for sync)")
    args = ap.parse_args(argv)
    args.freq = args.freq or (5000 if args.path == "append" else 20000)
    bench.NODE = os.path.join(args.build, "chainlab-node")
    bench.LOADGEN = os.path.join(args.build, "tools", "loadgen")
    out_dir = os.path.join(args.build, "profile")
    os.makedirs(out_dir, exist_ok=True)
    data = os.path.join(out_dir, args.path + ".perf.data")
    (profile_append if args.path == "append" else profile_sync)(args, data)
    report(data, args.top)
    print("perf.data: %s" % data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

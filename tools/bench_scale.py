"""make bench BENCH=scale: clusters of 1,000 to 10,000 nodes on this machine.

For each N, `chainlab-sim serve` starts N chainlab nodes in a random topology of degree 4 (each
node with one HTTP thread), through the sharded link layer, and this script measures, through the
serve API (README.md, "chainlab-sim serve"):

- ready: from starting the sim until every node is up and wired;
- memory: the PSS of every node (and its private and shared parts) right after ready, and the
  total of the nodes, the sim, its relay processes and its spawner;
- append to all: `append n0`, then `await height == 1` (the append's answer waits out
  --broadcast-wait for its first broadcast, as in every run);
- partition and heal: `partition halves`, an append on each side (two on the second), `heal`, one
  more append on the longer side, and `await converged`: the time from the heal to convergence;
- the sim's own CPU time (not its children's) and that of its relay processes.

Nothing is asserted: it prints a table. SCALE_NODES="1000 2000" picks the sizes.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "python"))
from chainlab.cluster import Cluster  # noqa: E402

SIZES = [int(n) for n in os.environ.get("SCALE_NODES", "1000 2000 5000 10000").split()]
WITHIN = "20m"  # the awaits' deadline: far above what they take, only a broken run waits it out
TICKS = os.sysconf("SC_CLK_TCK")


def smaps(pid):
    """{field: kB} of /proc/PID/smaps_rollup, or {} when the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


def cpu_s(pid):
    """User + system CPU seconds of the process itself (not its children)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def children(pid):
    """Pids whose parent is pid."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def took(answer):
    return sum(s["took_s"] for s in answer)


def measure(n, workdir):
    t0 = time.monotonic()
    c = Cluster(nodes=n, topology="random 4", node_args=("--threads", "1"), seed=11, timeout="30m",
                run_dir=Path(workdir) / f"scale-{n}", sim_args=("--sample", "0"))
    c.start(timeout=1800)
    ready = time.monotonic() - t0
    row = {"nodes": n, "ready_s": ready}
    try:
        nodes = c.info()["nodes"]
        node_pids = {x["pid"] for x in nodes}
        mem = [smaps(p) for p in node_pids]
        row["pss_kib"] = sum(m.get("Pss", 0) for m in mem) / n
        row["private_kib"] = sum(m.get("Private_Clean", 0) + m.get("Private_Dirty", 0) for m in mem) / n
        row["shared_kib"] = sum(m.get("Shared_Clean", 0) + m.get("Shared_Dirty", 0) for m in mem) / n
        helpers = [p for p in children(c.proc.pid) if p not in node_pids]
        total = sum(m.get("Pss", 0) for m in mem) + smaps(c.proc.pid).get("Pss", 0)
        total += sum(smaps(p).get("Pss", 0) for p in helpers)
        row["total_mib"] = total / 1024
        row["append_s"] = took(c.steps(f'append n0 "reaches everyone"\nawait height == 1 within {WITHIN}'))
        last = f"n{n - 1}"
        c.steps(f'partition halves\nappend n0 "left"\nappend {last} "right 1"\nappend {last} "right 2"')
        row["heal_s"] = took(c.steps(f'heal\nappend {last} "after the heal"\nawait converged within {WITHIN}'))
        row["sim_cpu_s"] = cpu_s(c.proc.pid)
        row["relays_cpu_s"] = sum(cpu_s(p) for p in helpers)
    finally:
        c.close(timeout=1800)
    return row


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="chainlab-bench-scale-") as workdir:
        for n in SIZES:
            print(f"  scale: {n} nodes ...", flush=True)
            try:
                rows.append(measure(n, workdir))
            except Exception as e:  # noqa: BLE001 - the table says which size did not work
                rows.append({"nodes": n, "error": str(e).splitlines()[0][:200]})
    print("\nscale: random 4, one HTTP thread per node, through the link layer, sampling off")
    head = ("nodes", "ready", "append to all", "heal to converged", "PSS/node", "private/node",
            "shared/node", "total memory", "sim CPU", "relays CPU")
    print("  " + " | ".join(head))
    for r in rows:
        if "error" in r:
            print(f"  {r['nodes']} | did not work: {r['error']}")
            continue
        print(f"  {r['nodes']} | {r['ready_s']:.1f} s | {r['append_s']:.2f} s | {r['heal_s']:.2f} s | "
              f"{r['pss_kib']:.0f} KiB | {r['private_kib']:.0f} KiB | {r['shared_kib']:.0f} KiB | "
              f"{r['total_mib']:.0f} MiB | {r['sim_cpu_s']:.1f} s | {r['relays_cpu_s']:.1f} s")


if __name__ == "__main__":
    main()

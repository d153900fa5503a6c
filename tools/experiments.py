#!/usr/bin/python3
"""chainlab experiments: runs the sweeps of scenarios/experiments/ and prints their tables
(make experiments).

usage: tools/experiments.py [-h] [--only NAME[,NAME...]] [--check] [--out DIR] [--write FILE]
                            [-j N] [--repeat K] [--note TEXT]

Each experiment is a parameterised scenario of scenarios/experiments/ run as one or more sweeps
of build/chainlab-sim (--sweep, --repeat, -j); its tables are read from each sweep's sweep.json:
every cell is the median over the repeats with the min-max range, "k/K" when only k of the K
runs have the figure (an await that did not hold in the others), "did not hold" when none has.
The sweeps' folders (sweep.csv, sweep.json, the plots, every run's logs) stay in --out
(default build/experiments/, emptied first). --write FILE puts the tables into FILE between the
lines "<!-- experiments: begin -->" and "<!-- experiments: end -->"; --note TEXT ends the tables'
first line (what else the machine was doing, say). --repeat K runs every cell K times instead of
each sweep's own count (a quick look). --check parses every cell of
every sweep (chainlab-sim --check) and runs nothing. Exit status: 0 when every sweep ran (runs
that fail at an await are data: the tables show them), 1 when a run could not be carried out
(exit 2 or 3) or a table's figure is missing, 2 for bad arguments.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("CHAINLAB_BUILD", os.path.join(ROOT, "build"))
SIM = os.path.join(BUILD, "chainlab-sim")
FOLDER = os.path.join("scenarios", "experiments")
BEGIN, END = "<!-- experiments: begin -->", "<!-- experiments: end -->"
WHY_CHARS = 160  # of what a failed run saw, in a note under its table


class Sweep:
    """One chainlab-sim sweep of an experiment's scenario."""

    def __init__(self, key, axes, repeat, sets=()):
        self.key = key          # the sweep's folder under the experiment's
        self.axes = axes        # [(NAME, [values])]
        self.repeat = repeat
        self.sets = list(sets)  # [(NAME, value)] for --set
        self.doc = None         # sweep.json once run

    def args(self, jobs):
        out = []
        for name, values in self.axes:
            out += ["--sweep", f"{name}={','.join(values)}"]
        for name, value in self.sets:
            out += ["--set", f"{name}={value}"]
        return out + ["--repeat", str(self.repeat), "-j", str(jobs)]

    def cell(self, params):
        """The cell of sweep.json whose parameters include params."""
        for c in self.doc["cells"]:
            if all(c["params"].get(k) == v for k, v in params.items()):
                return c
        raise KeyError(f"sweep {self.key}: no cell with {params}")


class Experiment:
    def __init__(self, name, title, scenario, sweeps, tables, about):
        self.name, self.title, self.scenario = name, title, scenario
        self.sweeps = {s.key: s for s in sweeps}
        self.tables = tables  # [Table]
        self.about = about    # a paragraph under the title


class Table:
    """Rows and columns of cells; a cell is (sweep key, parameters, figure)."""

    def __init__(self, caption, corner, rows, cols, fmt):
        self.caption = caption
        self.corner = corner  # the top-left header
        self.rows = rows      # [(label, sweep key or None, {params}, figure or None)]
        self.cols = cols      # [(label, sweep key or None, {params}, figure or None)]
        self.fmt = fmt        # "time" or "count"


def grid(caption, sweep, figure, row_axis, col_axis, fmt="time", row_label=None, col_label=None):
    """A table of one figure: a row per value of row_axis, a column per value of col_axis."""
    rname, rvalues = row_axis
    cname, cvalues = col_axis
    rows = [((row_label or str)(v), sweep, {rname: v}, None) for v in rvalues]
    cols = [((col_label or (lambda x: f"{cname}={x}"))(v), None, {cname: v}, figure)
            for v in cvalues]
    return Table(caption, f"{rname}", rows, cols, fmt)


# ---- the experiments --------------------------------------------------------------------------

N = ("N", ["10", "50", "100", "200"])
LAT = ("LAT", ["0ms", "20ms", "50ms"])
D = ("D", ["1s", "2s", "4s"])
WRITERS = ("W", ["n4", "n4-n5", "n2-n5", "n0-n9"])
WRITER_LABELS = {"n4": "1 (n4)", "n4-n5": "2 (n4, n5)", "n2-n5": "4 (n2-n4, n5)",
                 "n0-n9": "10 (n0-n4, n5-n9)"}
AE = ("AE", ["0", "250", "500", "1000", "2000"])
INTERVAL = ("I", ["250", "500", "1000", "2000"])

EXPERIMENTS = [
    Experiment(
        "convergence", "Convergence time against N and latency", "convergence.scn",
        [Sweep("grid", [N, LAT], 3)],
        [grid("An append on n0 until every node holds it (line 12)", "grid", "await_L12_s", N,
              LAT),
         grid("After a partition of n0-n4 from the rest heals, one more append on n0 until "
              "every node holds n0's chain (line 19)", "grid", "await_L19_s", N, LAT)],
        "Random 4; LAT is the latency of every link, each way (a round trip takes 2 x LAT)."),
    Experiment(
        "lost-partition", "Lost appends against partition length and writers",
        "lost-partition.scn",
        [Sweep("grid", [D, WRITERS], 3)],
        [grid("Acknowledged appends lost (20 appends/s for D over the writers, then one more "
              "on n0)", "grid", "lost", D, WRITERS, fmt="count",
              col_label=lambda w: f"writers {WRITER_LABELS[w]}")],
        "Mesh of 10, n0-n4 | n5-n9; n0's side always ends longer, so the other side's "
        "appends are the ones lost."),
    Experiment(
        "loss", "Convergence time against loss", "loss.scn",
        [Sweep("grid", [("LOSS", ["0%", "5%", "20%"]), ("K", ["2", "4"])], 5)],
        [grid("From the end of a 2 s load on n0 until every node holds n0's chain (line 16)",
              "grid", "await_L16_s", ("LOSS", ["0%", "5%", "20%"]), ("K", ["2", "4"]),
              col_label=lambda k: f"random {k}"),
         grid("Append latency p99 (the answer waits for the peers up to --broadcast-wait "
              "200 ms)", "grid", "append_p99_ms", ("LOSS", ["0%", "5%", "20%"]),
              ("K", ["2", "4"]), fmt="ms", col_label=lambda k: f"random {k}")],
        "10 nodes; LOSS of the connections on every link hang (a post then fails at the "
        "nodes' 1 s timeout and is not sent again)."),
    Experiment(
        "reappend", "Lost appends under partitions: original vs --reappend-orphans",
        "reappend.scn",
        [Sweep("grid", [("RO", ["none", "all"]), D], 3)],
        [grid("Acknowledged appends lost", "grid", "lost", D, ("RO", ["none", "all"]),
              fmt="count",
              col_label=lambda ro: "original" if ro == "none" else "--reappend-orphans"),
         grid("From the first sync of every node after the heal until one chain everywhere "
              "(line 21)", "grid", "await_L21_s", D, ("RO", ["none", "all"]),
              col_label=lambda ro: "original" if ro == "none" else "--reappend-orphans")],
        "Mesh of 10; n4 and n5 (one on each side) append 20 blocks/s in turn for D."),
    Experiment(
        "anti-entropy", "Convergence after a heal with no new append, against --anti-entropy",
        "anti-entropy.scn",
        [Sweep("grid", [AE], 5, [("WITHIN", "10s")])],
        [Table("From the heal until every node holds the longer chain (line 19; deadline 10 s)",
               "--anti-entropy", [("0 (off: the original)" if v == "0" else f"{v} ms", "grid",
                                   {"AE": v}, None) for v in AE[1]],
               [("converged after", None, {}, "await_L19_s")], "time")],
        "Random 4, 10 nodes; no block crosses after the heal (the partition outlasts every "
        "post across it), no sync is asked for."),
    Experiment(
        "fork-choice", "Equal-height forks: longest vs longest-lowest-hash", "fork-choice.scn",
        [Sweep("grid", [("FC", ["longest", "longest-lowest-hash"])], 5, [("WITHIN", "5s")])],
        [Table("After the heal and a sync of every node, until one chain everywhere (line 20; "
               "deadline 5 s)", "--fork-choice",
               [(v, "grid", {"FC": v}, None) for v in ["longest", "longest-lowest-hash"]],
               [("converged after", None, {}, "await_L20_s")], "time")],
        "Random 4, 10 nodes; each side of n0-n4 | n5-n9 appends one block, so the sides "
        "hold different chains of the same height."),
    Experiment(
        "peer-exchange", "Time for a joining node to know the network", "peer-exchange.scn",
        [Sweep("with", [INTERVAL], 2), Sweep("without", [], 2, [("PX", "none"),
                                                                ("WITHIN", "10s")])],
        [Table("A line of 50 nodes; n50 is told of n0 only (deadline 60 s, 10 s without)",
               "peer exchange",
               [(f"--peer-exchange, every {v} ms", "with", {"I": v}, None) for v in INTERVAL[1]]
               + [("without --peer-exchange", "without", {}, None)],
               [("n50 knows all 50 (line 16)", None, {}, "await_L16_s"),
                ("then every node knows all 50 (line 17)", None, {}, "await_L17_s")], "time")],
        "Peers learned go through the sim's link layer; the exchange interval is jittered "
        "(a uniform draw in [I/2, 3I/2))."),
]


# ---- formatting -------------------------------------------------------------------------------

def fmt_value(v, fmt, unit=None):
    if fmt == "count":
        return f"{v:.0f}" if v == int(v) else f"{v:.1f}"
    if fmt == "ms":
        return f"{v:.0f}" if v >= 10 else f"{v:.1f}"
    # seconds: in ms below 1 s
    if unit == "ms":
        return f"{v * 1000:.0f}" if v * 1000 >= 10 else f"{v * 1000:.1f}"
    return f"{v:.2f}"


def fmt_cell(cell, figure, fmt):
    st = cell["figures"].get(figure)
    if st is None:
        raise KeyError(f"no figure {figure}")
    runs = cell["runs"]
    if st["n"] == 0:
        return f"did not hold (0/{runs})"
    med, lo, hi = st["median"], st["min"], st["max"]
    unit = {"count": "", "ms": " ms"}.get(fmt)
    tunit = None
    if fmt == "time":
        tunit = "ms" if med < 1 else "s"
        unit = f" {tunit}"
    text = fmt_value(med, fmt, tunit) + unit
    if lo != hi:
        text += f" ({fmt_value(lo, fmt, tunit)}-{fmt_value(hi, fmt, tunit)})"
    if st["n"] < runs:
        text += f", {st['n']}/{runs}"
    return text


def first_why(sweep, cell):
    """What the sim saw in the first run of cell that did not pass (cut to WHY_CHARS)."""
    for run in sweep.doc["runs"]:
        if run["cell"] == cell["cell"] and run["why"]:
            why = run["why"]
            return why if len(why) <= WHY_CHARS else why[:WHY_CHARS] + "..."
    return None


def render(exp, jobs):
    out = [f"### {exp.title}", "",
           f"`{FOLDER}/{exp.scenario}`. {exp.about}", ""]
    for s in exp.sweeps.values():
        out.append(f"- `chainlab-sim {' '.join(s.args(jobs))} {FOLDER}/{exp.scenario}`")
    out.append("")
    for t in exp.tables:
        out += [f"{t.caption}:", "",
                "| " + " | ".join([t.corner] + [c[0] for c in t.cols]) + " |",
                "| " + " | ".join(["---"] * (len(t.cols) + 1)) + " |"]
        notes = []
        for rlabel, rsweep, rparams, rfig in t.rows:
            cells = []
            for clabel, csweep, cparams, cfig in t.cols:
                sweep = exp.sweeps[rsweep or csweep]
                cell = sweep.cell({**rparams, **cparams})
                cells.append(fmt_cell(cell, cfig or rfig, t.fmt))
                held = cell["figures"][cfig or rfig]["n"]
                why = first_why(sweep, cell) if held < cell["runs"] else None
                if why and why not in [n for _, n in notes]:
                    notes.append((f"{rlabel}, {clabel}" if len(t.cols) > 1 else rlabel, why))
            out.append("| " + " | ".join([rlabel] + cells) + " |")
        out.append("")
        if notes:
            out.append("Where it did not hold, the first such run, as the sim saw it: " +
                       "; ".join(f"{where}: `{why}`" for where, why in notes) + ".")
            out.append("")
    return out


# ---- running ----------------------------------------------------------------------------------

def run_sweep(exp, sweep, out, jobs, check):
    path = os.path.join(ROOT, FOLDER, exp.scenario)
    run_dir = os.path.join(out, exp.name, sweep.key)
    cmd = [SIM, *sweep.args(jobs)]
    cmd += ["--check"] if check else ["-q", "--run-dir", run_dir]
    res = subprocess.run(cmd + [path], cwd=ROOT, capture_output=True, text=True)
    if res.returncode not in (0, 1) or (check and res.returncode != 0):
        sys.stderr.write(f"experiments: {exp.name}/{sweep.key}: chainlab-sim exited "
                         f"{res.returncode}\n{res.stdout}{res.stderr}")
        return False
    if check:
        print(res.stdout.strip())
        return True
    with open(os.path.join(run_dir, "sweep.json")) as f:
        sweep.doc = json.load(f)
    d = sweep.doc
    print(f"  {exp.name}/{sweep.key}: {len(d['runs'])} runs, {d['passed']} passed, "
          f"{d['failed']} failed at an await or expect, {d['errors']} errors, in "
          f"{d['duration_s']:.0f} s ({run_dir})", file=sys.stderr)
    return d["errors"] == 0 and d["not_run"] == 0


def write_section(path, lines):
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated experiment names "
                    f"({', '.join(e.name for e in EXPERIMENTS)})")
    ap.add_argument("--check", action="store_true", help="parse every sweep, run nothing")
    ap.add_argument("--out", default=os.path.join(BUILD, "experiments"))
    ap.add_argument("--write", metavar="FILE", help="put the tables into FILE's section")
    ap.add_argument("-j", type=int, default=2, help="runs at once in a sweep (default 2)")
    ap.add_argument("--repeat", type=int, help="runs per cell, for every sweep")
    ap.add_argument("--note", help="words ending the tables' first line")
    args = ap.parse_args()
    chosen = EXPERIMENTS
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in {e.name for e in EXPERIMENTS}]
        if unknown:
            ap.error(f"unknown experiment {', '.join(unknown)}")
        chosen = [e for e in EXPERIMENTS if e.name in names]
    if args.j < 1:
        ap.error("-j takes a number from 1")
    if args.repeat is not None:
        if args.repeat < 1:
            ap.error("--repeat takes a number from 1")
        for exp in chosen:
            for sweep in exp.sweeps.values():
                sweep.repeat = args.repeat
    if args.write:
        try:
            with open(args.write) as f:
                text = f.read()
        except OSError as e:
            ap.error(f"--write {args.write}: {e.strerror}")
        if BEGIN not in text or END not in text:
            ap.error(f"--write {args.write}: no '{BEGIN}' ... '{END}' section")
    if not os.path.exists(SIM):
        sys.exit(f"experiments: {SIM} is missing: run make first")
    if not args.check:
        shutil.rmtree(args.out, ignore_errors=True)
        os.makedirs(args.out)
    t0 = time.monotonic()
    ok = True
    lines = []
    for exp in chosen:
        for sweep in exp.sweeps.values():
            ok = run_sweep(exp, sweep, args.out, args.j, args.check) and ok
        if args.check or any(s.doc is None for s in exp.sweeps.values()):
            continue
        try:
            lines += render(exp, args.j)
        except KeyError as e:
            print(f"experiments: {exp.name}: {e.args[0]}", file=sys.stderr)
            ok = False
    if args.check:
        return 0 if ok else 1
    took = time.monotonic() - t0
    cpu = platform.processor() or platform.machine()
    lines.insert(0, f"Measured {datetime.date.today().isoformat()} on a machine with "
                    f"{os.cpu_count()} cores ({cpu}) by `make experiments` in {took / 60:.1f} "
                    f"minutes; runs {args.j} at a time" +
                    (f", {args.note}." if args.note else "."))
    lines.insert(1, "")
    print("\n".join(lines))
    if args.write:
        write_section(args.write, lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

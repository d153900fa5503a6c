"""chainlab-sim as an experiment runner: parameters (`param`, `${NAME}`, --set), per-node
arguments and commands (`node-args NODES`, `node-cmd NODES`), sweeps and repeats (--sweep,
--repeat, -j) and their tables (sweep.csv, sweep-cells.csv, sweep.json, a report per run).

Every run has its own folders in pytest's tmp_path; the sim picks free ports itself.
"""

import csv
import json
import statistics
import xml.etree.ElementTree as ET

import pytest

from test_sim import (
    EX_BAD,
    EX_CLUSTER,
    EX_FAILED,
    EX_OK,
    NODE,
    QUICK_TIMEOUT,
    describe,
    load_report,
    run_sim,
    write_scn,
)

# ---- parameters ------------------------------------------------------------------------------

PARAMS = """# parameters in every kind of place
param N 4
param LAST 3
param GAP 20ms
param RATE 20
nodes ${N}
topology ring
node-args --broadcast-wait 200 --timeout 1000
append n0 "first"
await converged within 5s
partition n0-n1 | n2-n${LAST}
latency all ${GAP}
load ${RATE}/s for 0.2s on n${LAST}
sleep ${GAP}
heal
sync all
await converged within 10s
expect alive n0-n${LAST}
"""


def test_set_overrides_the_defaults(tmp_path):
    scn = write_scn(tmp_path, "params.scn", PARAMS)
    report = tmp_path / "report.json"
    res = run_sim(["--set", "N=5", "--set", "LAST=4", "--run-dir", tmp_path / "run", "--report",
                   report, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    (r,) = load_report(report)["scenarios"]
    assert r["nodes"] == 5
    assert r["params"] == {"N": "5", "LAST": "4", "GAP": "20ms", "RATE": "20"}
    texts = {s["line"]: s["text"] for s in r["steps"]}
    # the steps are reported with their values substituted
    assert texts[11] == "partition n0-n1 | n2-n4"
    assert texts[13] == "load 20/s for 0.2s on n4"
    assert r["loads"][0]["sent"] > 0
    # the defaults, without --set
    res = run_sim(["--check", scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK and f"ok {scn} (4 nodes, " in res.stdout, describe(res)


@pytest.mark.parametrize("args, want", [
    (["--set", "X=1"], "{scn}: --set X=1: the scenario has no parameter 'X' (it has N, LAST, GAP, "
                       "RATE)"),
    (["--set", "N=4", "--set", "N=5"], "{scn}: --set N=5: 'N' is also given by --set N=4: give it "
                                       "once"),
    (["--set", "N=a b"], "{scn}: --set N=a b: a value is one word"),
    (["--set", "N=0"], "{scn}:6:7: bad node count '0': expected a whole number from 1 to 16384 "
                       "(where ${{N}} is '0', from --set)"),
    (["--set", "LAST=9"], "{scn}:11:22: unknown node 'n9' (the scenario has 4 nodes: n0..n3) "
                          "(where ${{LAST}} is '9', from --set)"),
    (["--set", "GAP=5"], "{scn}:12:13: bad duration '5': missing unit"),
    (["--set", "N"], "chainlab-sim: bad value for --set: 'N': expected NAME=VALUE"),
], ids=["undeclared", "twice", "two-words", "bad-count", "bad-node", "bad-duration", "no-equals"])
def test_set_errors_exit_2_before_anything_runs(tmp_path, args, want):
    scn = write_scn(tmp_path, "params.scn", PARAMS)
    run_dir = tmp_path / "run"
    res = run_sim([*args, "--run-dir", run_dir, scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert res.stderr.splitlines()[0].startswith(want.format(scn=scn)), describe(res)
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


# ---- node-args NODES, node-cmd NODES ---------------------------------------------------------

PER_NODE = """# each node started its own way
nodes 3
topology line
node-args --broadcast-wait 200
node-args n1 --id special-{{node}}
node-cmd n2 "{node} {{port}} --id cmd-{{node}}"
append n0 "x"
await converged within 5s
"""


def log_ids(run_dir, n):
    """The name each node's log lines carry: '[NAME ' of its first line."""
    ids = []
    for i in range(n):
        first = (run_dir / f"n{i}.log").read_text().splitlines()[0]
        ids.append(first.split("[", 1)[1].split(" ", 1)[0])
    return ids


def test_node_args_and_node_cmd_per_node(tmp_path):
    scn = write_scn(tmp_path, "per-node.scn", PER_NODE.format(node=NODE))
    run_dir = tmp_path / "run"
    res = run_sim(["--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    # n0: the node program with --id n0; n1: its node-args after that; n2: its own command
    assert log_ids(run_dir, 3) == ["n0", "special-n1", "cmd-n2"]
    # --node-cmd is the default for the nodes the file does not give a command
    run_dir = tmp_path / "run-cli"
    res = run_sim(["--node-cmd", f"{NODE} {{port}} --id cli-{{node}}", "--run-dir", run_dir, scn],
                  tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert log_ids(run_dir, 3) == ["cli-n0", "special-n1", "cmd-n2"]


def test_a_node_cmd_for_any_node_picks_the_ports_layout(tmp_path):
    """Another implementation cannot be told which address to connect from: with a node-cmd for
    any node, every node listens on 127.0.0.1 at its own port. The chainlab nodes still come from
    the spawner; the node with a node-cmd runs its template."""
    scn = write_scn(tmp_path, "per-node.scn", PER_NODE.format(node=NODE))
    run_dir = tmp_path / "run"
    res = run_sim(["--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert f"{scn}: 3 nodes on ports " in res.stdout.splitlines()[0], describe(res)
    assert (run_dir / "spawner.log").exists()
    assert log_ids(run_dir, 3) == ["n0", "special-n1", "cmd-n2"]
    # without any node-cmd: the addresses layout
    plain = write_scn(tmp_path, "plain.scn", PER_NODE.format(node=NODE).replace("node-cmd", "# "))
    res = run_sim(["--run-dir", tmp_path / "run-plain", plain], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert f"{plain}: 3 nodes on 127.1.0.0-127.1.0.2 port " in res.stdout.splitlines()[0]


def test_a_file_that_names_every_command_needs_no_node_program(tmp_path):
    scn = write_scn(tmp_path, "all-cmd.scn",
                    f'nodes 2\nnode-cmd "{NODE} {{port}}"\nexpect alive all\n')
    res = run_sim(["--node-bin", tmp_path / "missing", "--run-dir", tmp_path / "run", scn],
                  tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert not (tmp_path / "run" / "spawner.log").exists()  # every node was started by exec
    scn = write_scn(tmp_path, "one-cmd.scn",
                    f'nodes 2\nnode-cmd n1 "{NODE} {{port}}"\nexpect alive all\n')
    res = run_sim(["--node-bin", tmp_path / "missing", scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD and "cannot run the node program" in res.stderr, describe(res)


# ---- sweeps ----------------------------------------------------------------------------------

SWEPT = """# H=2 fails on purpose: a sweep records the failure and goes on
param N 2
param H 1
seed 5
nodes ${N}
topology line
node-args --broadcast-wait 200
append n0 "x"
await converged within 5s
expect height == ${H}
"""


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(text):
    return float(text) if text != "" else None


def test_sweep_grid_tables_and_seeds(tmp_path):
    scn = write_scn(tmp_path, "swept.scn", SWEPT)
    out = tmp_path / "sweep"
    res = run_sim(["--sweep", "N=2,3", "--sweep", "H=1,2", "--repeat", "2", "-j", "2",
                   "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_FAILED, describe(res)

    runs = read_csv(out / "sweep.csv")
    assert len(runs) == 8
    assert list(runs[0])[:9] == ["run", "cell", "repeat", "N", "H", "seed", "result",
                                 "exit_code", "await_L9_s"]
    assert list(runs[0])[9:] == ["duration_s", "append_p50_ms", "append_p95_ms", "append_p99_ms",
                                 "lost", "msgs_per_append", "run_dir", "why"]
    # the grid: the first --sweep varies slowest, repeats innermost
    assert [(r["cell"], r["repeat"], r["N"], r["H"]) for r in runs] == [
        (str(c), str(k), n, h) for c, (n, h) in enumerate([("2", "1"), ("2", "2"), ("3", "1"),
                                                           ("3", "2")]) for k in range(2)]
    # repeat 0 runs with the file's seed; repeat 1 with another, the same in every cell
    seeds = {r["repeat"]: set() for r in runs}
    for r in runs:
        seeds[r["repeat"]].add(r["seed"])
    assert seeds["0"] == {"5"} and len(seeds["1"]) == 1 and seeds["1"] != {"5"}
    assert f"seed {runs[1]['seed']}: " in res.stdout
    for r in runs:
        want = "pass" if r["H"] == "1" else "fail"
        assert r["result"] == want, r
        assert r["exit_code"] == ("0" if want == "pass" else "1")
        assert 0 <= number(r["await_L9_s"]) < 5 and number(r["append_p50_ms"]) > 0
        assert r["lost"] == "0" and number(r["msgs_per_append"]) >= 1
        if want == "fail":
            assert r["why"].startswith("L10 expect height == 2: saw "), r["why"]
        else:
            assert r["why"] == ""
        run_dir = out / f"c{r['cell']}-r{r['repeat']}"
        assert r["run_dir"] == str(run_dir)
        rep = json.loads((run_dir / "report.json").read_text())
        assert rep["result"] == want and rep["seed"] == int(r["seed"])
        assert rep["params"] == {"N": r["N"], "H": r["H"]} and rep["nodes"] == int(r["N"])
        assert (run_dir / "sim.log").exists() and (run_dir / "n0.log").exists()

    # the summary per cell agrees with the runs
    cells = read_csv(out / "sweep-cells.csv")
    doc = json.loads((out / "sweep.json").read_text())
    assert len(cells) == len(doc["cells"]) == 4 and len(doc["runs"]) == 8
    assert doc["sweep"] == [{"name": "N", "values": ["2", "3"]},
                            {"name": "H", "values": ["1", "2"]}]
    assert doc["repeat"] == 2 and (doc["passed"], doc["failed"], doc["errors"]) == (4, 4, 0)
    for c, jc in zip(cells, doc["cells"]):
        mine = [r for r in runs if r["cell"] == c["cell"]]
        assert (c["N"], c["H"]) == (mine[0]["N"], mine[0]["H"])
        assert jc["params"] == {"N": c["N"], "H": c["H"]}
        assert int(c["passed"]) == sum(r["result"] == "pass" for r in mine) == jc["passed"]
        for fig in doc["figures"]:
            vals = [number(r[fig]) for r in mine if r[fig] != ""]
            assert int(c[f"{fig}_n"]) == len(vals) == jc["figures"][fig]["n"]
            if vals:
                assert number(c[f"{fig}_min"]) == pytest.approx(min(vals), rel=1e-4)
                assert number(c[f"{fig}_max"]) == pytest.approx(max(vals), rel=1e-4)
                assert jc["figures"][fig]["median"] == pytest.approx(statistics.median(vals),
                                                                     rel=1e-4)
    assert "4/2 passed" not in res.stdout and "c0 N=2 H=1: 2/2 passed" in res.stdout
    assert "8 runs: 4 passed, 4 failed, 0 errors, 0 not run" in res.stdout


# ---- sweep plots -----------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_lines(path):
    """The lines of a gnuplot SVG chart, in the order plotted: (key label, points drawn). Each line
    is a <g id="gnuplot_plot_K"> holding its key text, its key sample (one point mark) and its
    points (one mark each)."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg"
    lines = []
    for g in root.iter(SVG_NS + "g"):
        if g.get("id", "").startswith("gnuplot_plot_"):
            label = "".join(next(g.iter(SVG_NS + "text")).itertext())
            lines.append((label, len(list(g.iter(SVG_NS + "use"))) - 1))
    return lines


def svg_texts(path):
    return ["".join(t.itertext()) for t in ET.parse(path).getroot().iter(SVG_NS + "text")]


def assert_chart(folder, figure):
    png = (folder / f"{figure}.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 1000, figure
    return svg_lines(folder / f"{figure}.svg")


PLOTTED = """# the await holds at H=1 and never at H=9
param N 1
param H 1
nodes ${N}
topology line
node-args --broadcast-wait 0
append n0 "x"
await height >= ${H} within 0.3s
"""


def test_sweep_draws_each_figure_against_the_first_parameter(tmp_path):
    scn = write_scn(tmp_path, "plotted.scn", PLOTTED)
    out = tmp_path / "sweep"
    res = run_sim(["--sweep", "H=1,9", "--sweep", "N=1,2,3", "--repeat", "2", "-j", "2",
                   "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_FAILED, describe(res)
    plots = out / "plots"
    figures = ["await_L8_s", "duration_s", "append_p50_ms", "append_p95_ms", "append_p99_ms",
               "lost", "msgs_per_append"]
    assert f"plots: {plots}/: {', '.join(figures)} (.png, .svg)" in res.stdout
    assert sorted(p.name for p in plots.iterdir()) == sorted(
        f"{f}.{ext}" for f in figures for ext in ("png", "svg"))
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["awaits"] == [{"line": 8, "text": "await height >= 1 within 0.3s"}]
    for fig in figures:
        # one line per value of the second swept parameter, in the order given, with a point
        # at each value of the first that has the figure (the await never held at H=9)
        points = 1 if fig == "await_L8_s" else 2
        assert assert_chart(plots, fig) == [("N=1", points), ("N=2", points), ("N=3", points)], fig
    texts = svg_texts(plots / "await_L8_s.svg")
    # the x axis is H, its tics the swept values; at H=9 no run held the await: "0/2" for each N
    assert "H" in texts and "1" in texts and "9" in texts
    assert texts.count("0/2") == 3, texts
    assert any(t.startswith("time until L8 held (await height >= 1 within 0.3s) against H")
               for t in texts), texts

    # chainlab-sim plot SWEEP_DIR draws them again from sweep.json
    for p in plots.iterdir():
        p.unlink()
    res = run_sim(["plot", out], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)
    assert res.stdout == f"{plots}: {', '.join(figures)} (.png, .svg)\n"
    assert [label for label, _ in assert_chart(plots, "lost")] == ["N=1", "N=2", "N=3"]


LOSSY = """param LOSS 0%
nodes 2
topology line
node-args --broadcast-wait 0
loss all ${LOSS}
append n0 "x"
await height >= 1 on n0 within 5s
"""


def test_sweep_tics_keep_a_percent_sign(tmp_path):
    """gnuplot reads a tic label as a format: a swept value "5%" must show as "5%"."""
    scn = write_scn(tmp_path, "lossy.scn", LOSSY)
    out = tmp_path / "sweep"
    res = run_sim(["--sweep", "LOSS=0%,5%,20%", "-q", "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    texts = svg_texts(out / "plots" / "await_L7_s.svg")
    assert all(v in texts for v in ("0%", "5%", "20%")), texts


def test_sweep_of_one_parameter_draws_one_line_and_repeats_alone_draw_none(tmp_path):
    scn = write_scn(tmp_path, "plotted.scn", PLOTTED)
    out = tmp_path / "one"
    res = run_sim(["--sweep", "N=1,2", "-q", "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert assert_chart(out / "plots", "await_L8_s") == [("median", 2)]
    out = tmp_path / "none"
    res = run_sim(["--repeat", "2", "-q", "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert not (out / "plots").exists() and "plots:" not in res.stdout
    res = run_sim(["plot", out], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK and "nothing to draw" in res.stdout, describe(res)


def test_plot_of_a_broken_sweep_table_exits_2(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text('{"sweep": []}')
    res = run_sim(["plot", out], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert res.stderr == (f"chainlab-sim plot: {out}/sweep.json: not a sweep's table (no sweep, "
                          "cells or figures)\n")


def test_repeat_alone_and_seed_reproducible(tmp_path):
    scn = write_scn(tmp_path, "swept.scn", SWEPT)
    seeds = []
    for k in range(2):
        out = tmp_path / f"rep{k}"
        res = run_sim(["--repeat", "3", "--seed", "9", "-q", "--run-dir", out, scn], tmp_path)
        assert res.returncode == EX_OK, describe(res)
        runs = read_csv(out / "sweep.csv")
        assert [r["result"] for r in runs] == ["pass"] * 3
        seeds.append([int(r["seed"]) for r in runs])
    assert seeds[0] == seeds[1], "the seeds of the repeats are reproducible"
    assert seeds[0][0] == 9 and len(set(seeds[0])) == 3
    assert all(s < 2 ** 53 for s in seeds[0])


ERRORS = """# --threads 0 is refused by the node: that run cannot start its cluster
param T 2
nodes 2
node-args --threads ${T}
expect alive all
"""


def test_sweep_goes_on_when_a_run_cannot_start(tmp_path):
    scn = write_scn(tmp_path, "err.scn", ERRORS)
    out = tmp_path / "sweep"
    res = run_sim(["--sweep", "T=0,2", "--run-dir", out, scn], tmp_path)
    assert res.returncode == EX_CLUSTER, describe(res)
    runs = read_csv(out / "sweep.csv")
    assert [(r["T"], r["result"], r["exit_code"]) for r in runs] == [("0", "error", "3"),
                                                                     ("2", "pass", "0")]
    # either node may be the first seen to exit
    assert "exited with status 2 before it was ready" in runs[0]["why"], runs[0]["why"]
    assert runs[0]["duration_s"] != ""


@pytest.mark.parametrize("args, want", [
    (["--sweep", "N"], "chainlab-sim: bad value for --sweep: 'N': expected NAME=V1,V2,..."),
    (["--sweep", "N=2,,3"], "chainlab-sim: bad value for --sweep: 'N=2,,3': value 2: empty"),
    (["--sweep", "N=2", "--sweep", "N=3"], "chainlab-sim: bad value for --sweep: 'N=3': N is "
                                           "swept twice"),
    (["--sweep", "X=1,2"], "{scn}: --sweep X=1: the scenario has no parameter 'X' (it has N, H)"),
    (["--sweep", "N=2,0"], "{scn}:5:7: bad node count '0': expected a whole number from 1 to "
                           "16384 (where ${{N}} is '0', from --sweep)"),
    (["--set", "N=2", "--sweep", "N=3"], "{scn}: --sweep N=3: 'N' is also given by --set N=2"),
    (["--repeat", "0"], "chainlab-sim: bad value for --repeat: '0'"),
    (["--sweep", "N=2", "{scn}"], "chainlab-sim: --sweep and --repeat take one scenario file"),
    (["--repeat", "2", "--keep"], "chainlab-sim: --sweep and --repeat take one scenario file"),
], ids=["no-equals", "empty-value", "twice", "undeclared", "bad-cell", "set-and-sweep",
        "repeat-0", "two-files", "keep"])
def test_sweep_refusals_exit_2(tmp_path, args, want):
    scn = write_scn(tmp_path, "swept.scn", SWEPT)
    run_dir = tmp_path / "run"
    res = run_sim([*(a.format(scn=scn) for a in args), "--run-dir", run_dir, scn], tmp_path,
                  timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert res.stderr.splitlines()[0].startswith(want.format(scn=scn)), describe(res)
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


def test_sweep_check_parses_every_cell_and_runs_nothing(tmp_path):
    scn = write_scn(tmp_path, "swept.scn", SWEPT)
    run_dir = tmp_path / "run"
    res = run_sim(["--check", "--sweep", "N=2,3,4", "--repeat", "5", "--run-dir", run_dir, scn],
                  tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)
    assert f"ok {scn} (3 cells x 5 repeats = 15 runs)" in res.stdout
    assert not run_dir.exists()


@pytest.mark.parametrize("value", ["0", "x", "3600001", "-5"])
def test_request_timeout_refuses_bad_values(tmp_path, value):
    scn = write_scn(tmp_path, "swept.scn", SWEPT)
    res = run_sim(["--request-timeout", value, scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert f"chainlab-sim: bad value for --request-timeout: '{value}'" in res.stderr

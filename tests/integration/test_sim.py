"""Integration tests of chainlab-sim: the scenario files, exit codes, reports and cleanup.

Run as:  CHAINLAB_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_sim.py

- every scenarios/*.scn passes (exit 0, JSON report "pass", JUnit without failures);
- every scenarios/must-fail/*.scn fails (exit 1) on the line its first line names
  (`# must-fail: line N`), in the output, the JSON report and the JUnit file;
- every tests/integration/bad_scenarios/*.scn (`# error: LINE:COL substring`) is refused
  with exit 2 and FILE:LINE:COL on stderr, before any node starts;
- every statement of the language is carried out (none is refused as unsupported);
- the command line: --check, bad flags, --version, --help, several files, -j, --node-cmd,
  --base-port, --keep;
- the cluster really behaves: a partition stops blocks, heal + sync converges (seen from
  outside the sim, by asking the nodes directly while --keep holds the cluster up);
- processes: Ctrl-C and SIGKILL of the sim leave no node behind; a node that exits makes
  the sim exit 3 with the end of that node's log.

Every run gets its own run directory, report and JUnit file in pytest's tmp_path. Ports are
chosen by the sim (or, for --base-port, found free by the test). Nothing sleeps a fixed
time: every wait polls a condition against a deadline.
"""

import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import (SIM_BIN, SIM_EXIT_GRACE as EXIT_GRACE, SIM_RUN_TIMEOUT, WAIT_S,
                      describe, pids_with, run_sim, wait_until)

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("CHAINLAB_BUILD") or REPO / "build")
NODE = BUILD / "chainlab-node"
SCENARIOS = REPO / "scenarios"
MUST_FAIL = SCENARIOS / "must-fail"
BAD = Path(__file__).resolve().parent / "bad_scenarios"
HOST = "127.0.0.1"

QUICK_TIMEOUT = 20.0  # s for a run that parses only or fails at once

EX_OK, EX_FAILED, EX_BAD, EX_CLUSTER, EX_INTERRUPTED = 0, 1, 2, 3, 130

ALL_STATEMENTS = REPO / "tests" / "unit" / "data" / "all-statements.scn"


# ---- helpers ---------------------------------------------------------------------------------


def scenario_files(folder):
    return sorted(folder.glob("*.scn"))


def ids(paths):
    return [p.name for p in paths]


def nodes_of(scn):
    return int(re.search(r"^nodes\s+(\d+)", Path(scn).read_text(), re.M).group(1))


def ports_for(scn):
    """--base-port with free ports for scenario file scn (see free_port_range)."""
    return ["--base-port", free_port_range(nodes_of(scn))]


def load_report(path):
    with open(path) as f:
        return json.load(f)


def load_junit(path):
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    return root, cases


def node_logs(run_dir):
    return sorted(Path(run_dir).glob("n*.log")) if Path(run_dir).exists() else []


def write_scn(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def port_answers(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_json(port, path):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as r:
        return json.loads(r.read().decode())


def ephemeral_low():
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_range(n, attempts=200):
    """n free sequential ports below the kernel's ephemeral range, checked by binding (without
    SO_REUSEADDR, as the sim checks them), from a random start: another sim started at the same
    moment with default ports (which start at 20000) is unlikely to pick the same ones."""
    hi = min(ephemeral_low(), 32768) - n - 1
    for _ in range(attempts):
        base = random.randint(21000, hi)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((HOST, p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.fail(f"no {n} free sequential ports found")


# ---- the scenario files ----------------------------------------------------------------------


def test_scenario_folders_are_populated():
    assert len(scenario_files(SCENARIOS)) >= 12
    assert len(scenario_files(MUST_FAIL)) >= 5
    assert (SCENARIOS / "demo.scn").exists()
    assert (SCENARIOS / "partition-heal.scn").exists()
    for p in scenario_files(SCENARIOS) + scenario_files(MUST_FAIL):
        first = p.read_text().splitlines()[0]
        assert first.startswith("#"), f"{p.name} does not start with a comment"


def test_partition_heal_is_the_contract_example():
    """scenarios/partition-heal.scn holds the example of SCENARIO-LANGUAGE.md, statement for
    statement (its own comment block aside)."""
    spec = REPO.parent / "shared" / "SCENARIO-LANGUAGE.md"
    if not spec.exists():
        pytest.skip(f"{spec} is not there")
    block = re.search(r"```\n(.*?)```", spec.read_text(), re.S).group(1)

    def statements(text):
        out = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if line:
                out.append(" ".join(line.split()))
        return out

    assert statements((SCENARIOS / "partition-heal.scn").read_text()) == statements(block)


@pytest.mark.parametrize("scn", scenario_files(SCENARIOS), ids=ids(scenario_files(SCENARIOS)))
def test_scenario_passes(scn, tmp_path):
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, "--junit", junit,
                   *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    assert f"PASS {scn}" in res.stdout
    rep = load_report(report)
    assert rep["tool"] == "chainlab-sim"
    assert (rep["passed"], rep["failed"], rep["errors"]) == (1, 0, 0)
    (r,) = rep["scenarios"]
    assert r["result"] == "pass" and r["exit_code"] == 0
    assert r["failure"] is None and r["error"] is None
    assert r["file"] == str(scn)
    assert all(s["ok"] for s in r["steps"])
    assert all(n["state"] == "running" for n in r["final"])
    root, cases = load_junit(junit)
    assert len(cases) == 1 and cases[0].find("failure") is None and cases[0].find("error") is None
    assert len(node_logs(tmp_path / "run")) == r["nodes"]


def test_a_run_without_appends_reports_no_latency(tmp_path):
    """Nothing acknowledged: latency and posts per append are null, not zeros that read as fast."""
    scn = write_scn(tmp_path, "idle.scn", "nodes 2\ntopology line\nawait converged within 30s\n")
    report = tmp_path / "report.json"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    (r,) = load_report(report)["scenarios"]
    assert r["appends"]["sent"] == 0 and r["appends"]["latency_ms"] is None
    assert r["gossip"]["posts_per_append"] is None
    assert "no latency (none acknowledged)" in res.stdout
    assert "no append acknowledged" in res.stdout


def must_fail_line(path):
    m = re.match(r"# must-fail: line (\d+)\s*$", path.read_text().splitlines()[0])
    assert m, f"{path.name}: the first line must be '# must-fail: line N'"
    return int(m.group(1))


@pytest.mark.parametrize("scn", scenario_files(MUST_FAIL), ids=ids(scenario_files(MUST_FAIL)))
def test_must_fail_scenario_fails_on_its_line(scn, tmp_path):
    line = must_fail_line(scn)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, "--junit", junit,
                   *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_FAILED, describe(res)
    assert f"FAIL {scn}:{line}:" in res.stdout, describe(res)
    assert "expected:" in res.stdout and "saw:" in res.stdout
    rep = load_report(report)
    (r,) = rep["scenarios"]
    assert r["result"] == "fail" and r["exit_code"] == EX_FAILED
    assert r["failure"]["line"] == line
    assert (rep["passed"], rep["failed"], rep["errors"]) == (0, 1, 0)
    root, cases = load_junit(junit)
    assert len(cases) == 1
    failures = cases[0].findall("failure")
    assert len(failures) == 1
    assert failures[0].get("message").startswith(f"line {line}: ")
    assert root.get("failures") == "1"


def bad_expectation(path):
    m = re.match(r"# error: (\d+):(\d+) (.+?)\s*$", path.read_text().splitlines()[0])
    assert m, f"{path.name}: the first line must be '# error: LINE:COL substring'"
    return int(m.group(1)), int(m.group(2)), m.group(3)


@pytest.mark.parametrize("scn", scenario_files(BAD), ids=ids(scenario_files(BAD)))
def test_bad_scenario_is_refused(scn, tmp_path):
    line, col, text = bad_expectation(scn)
    run_dir = tmp_path / "run"
    res = run_sim(["--run-dir", run_dir, scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert f"{scn}:{line}:{col}:" in res.stderr, describe(res)
    assert text in res.stderr, describe(res)
    assert node_logs(run_dir) == [], "a node was started for a bad scenario"
    assert not (tmp_path / "runs").exists()


def test_every_statement_is_supported(tmp_path):
    """Every statement of the language is carried out now: a file using each of them (the unit
    tests' tests/unit/data/all-statements.scn) passes --check, which refuses any statement the
    runner cannot carry out (exit 2, FILE:LINE:COL) without starting anything."""
    text = ALL_STATEMENTS.read_text()
    first_words = {l.split()[0] for l in text.splitlines() if l.strip() and l[0] != "#"}
    for stmt in ("nodes", "topology", "link", "unlink", "seed", "timeout", "node-args",
                 "node-cmd", "param",
                 "append", "load", "sync", "peer", "partition", "cut", "heal", "latency", "loss",
                 "bandwidth", "reset", "clear", "kill", "stop", "restart", "pause", "resume",
                 "sleep", "await", "expect", "log"):
        assert stmt in first_words, f"{ALL_STATEMENTS.name} does not use `{stmt}`"
    run_dir = tmp_path / "run"
    res = run_sim(["--check", "--run-dir", run_dir, ALL_STATEMENTS], tmp_path,
                  timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)
    assert f"ok {ALL_STATEMENTS} (8 nodes, " in res.stdout, describe(res)
    assert "not supported" not in res.stdout + res.stderr
    assert not run_dir.exists() and not (tmp_path / "runs").exists()


# ---- the command line ------------------------------------------------------------------------


def test_check_parses_everything_and_runs_nothing(tmp_path):
    files = scenario_files(SCENARIOS) + scenario_files(MUST_FAIL)
    run_dir = tmp_path / "run"
    res = run_sim(["--check", "--run-dir", run_dir, "--report", tmp_path / "r.json", *files],
                  tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)
    for f in files:
        assert f"ok {f} (" in res.stdout
    assert not run_dir.exists() and not (tmp_path / "runs").exists()
    # one bad file among good ones: exit 2, and still nothing runs
    bad = scenario_files(BAD)[0]
    res = run_sim(["--check", files[0], bad], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert f"{bad}:" in res.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-flag", "x.scn"],
        ["-j", "0", "x.scn"],
        ["--jobs", "many", "x.scn"],
        ["--base-port", "0", "x.scn"],
        ["--base-port", "70000", "x.scn"],
        ["--seed", "-1", "x.scn"],
        ["--stop-grace", "0", "x.scn"],
        ["--stop-grace", "soon", "x.scn"],
        ["--report"],
        [],
    ],
    ids=["unknown", "jobs-0", "jobs-word", "port-0", "port-big", "seed-negative", "grace-0",
         "grace-word", "missing-arg", "no-file"],
)
def test_bad_arguments_exit_2_with_usage(args, tmp_path):
    res = run_sim(args, tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert "usage: chainlab-sim" in res.stderr
    assert res.stdout == ""


def test_other_refusals_exit_2(tmp_path):
    scn = write_scn(tmp_path, "one.scn", "nodes 1\n")
    res = run_sim(["--keep", scn, scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD and "--keep" in res.stderr, describe(res)
    res = run_sim([tmp_path / "missing.scn"], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD and "missing.scn" in res.stderr, describe(res)
    res = run_sim(["--node-bin", tmp_path / "no-node", "--run-dir", tmp_path / "run", scn],
                  tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD and "--node-bin" in res.stderr, describe(res)
    assert node_logs(tmp_path / "run") == []


def test_version_and_help(tmp_path):
    res = run_sim(["--version"], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == 0
    assert re.fullmatch(r"chainlab-sim \d+\.\d+\.\d+\n", res.stdout), res.stdout
    assert run_sim(["-V"], tmp_path, timeout=QUICK_TIMEOUT).stdout == res.stdout
    res = run_sim(["--help"], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("usage: chainlab-sim")
    for opt in ("--node-bin", "--node-cmd", "--base-port", "--run-dir", "--seed", "--keep",
                "--check", "--report", "--junit", "--jobs", "--quiet", "--verbose", "--set",
                "--sweep", "--repeat", "--request-timeout"):
        assert opt in res.stdout
    assert "Exit status" in res.stdout and "130 interrupted" in res.stdout
    assert run_sim(["-h"], tmp_path, timeout=QUICK_TIMEOUT).stdout == res.stdout


SMALL_PASS = """# passes
nodes 2
topology line
node-args --broadcast-wait 200 --timeout 1000
append n0 "one"
await converged within 3s
expect height == 1
"""

SMALL_FAIL = """# fails on line 6
nodes 2
topology line
append n1 "one"
await converged within 3s
expect height == 7
"""

SMALL_ERROR = """# a node that cannot start: exit 3
nodes 2
node-args --no-such-flag
append n0 "never"
"""


def summary_rows(stdout):
    """{file: (result, seconds)} from the summary table."""
    rows = {}
    lines = stdout.splitlines()
    i = max(k for k, l in enumerate(lines) if re.match(r"scenario\s+result\s+duration", l))
    for line in lines[i + 1:]:
        m = re.match(r"(\S+)\s+(pass|fail|error)\s+([\d.]+)s$", line)
        if m:
            rows[m.group(1)] = (m.group(2), float(m.group(3)))
    return rows


def check_multi(tmp_path, files, results, code, extra):
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    run_dir = tmp_path / "runs-multi"
    res = run_sim(["--run-dir", run_dir, "--report", report, "--junit", junit, *extra, *files],
                  tmp_path)
    assert res.returncode == code, describe(res)
    rows = summary_rows(res.stdout)
    assert {f: r for f, (r, _) in rows.items()} == {str(f): r for f, r in zip(files, results)}
    counts = (results.count("pass"), results.count("fail"), results.count("error"))
    assert re.search(rf"^{counts[0]} passed, {counts[1]} failed, {counts[2]} errors",
                     res.stdout, re.M), res.stdout
    rep = load_report(report)
    assert [s["file"] for s in rep["scenarios"]] == [str(f) for f in files]
    assert [s["result"] for s in rep["scenarios"]] == results
    assert (rep["passed"], rep["failed"], rep["errors"]) == counts
    worst = max(s["exit_code"] for s in rep["scenarios"])
    assert worst == code
    root, cases = load_junit(junit)
    assert [c.get("name") for c in cases] == [str(f) for f in files]
    assert root.get("tests") == str(len(files))
    for c, r in zip(cases, results):
        assert (c.find("failure") is not None) == (r == "fail")
        assert (c.find("error") is not None) == (r == "error")
    # one folder per scenario inside the run directory
    dirs = sorted(p.name for p in run_dir.iterdir())
    assert dirs == sorted(f"{i}-{f.name}" for i, f in enumerate(files))
    return res


def test_several_files_run_in_turn(tmp_path):
    """Also the test of the sim's own port choice (no --base-port)."""
    ok = write_scn(tmp_path, "ok.scn", SMALL_PASS)
    bad = write_scn(tmp_path, "bad.scn", SMALL_FAIL)
    res = check_multi(tmp_path, [ok, bad, ok], ["pass", "fail", "pass"], EX_FAILED, [])
    assert f"FAIL {bad}:6:" in res.stdout


def test_jobs_run_files_at_once_and_exit_with_the_worst_code(tmp_path):
    ok = write_scn(tmp_path, "ok.scn", SMALL_PASS)
    bad = write_scn(tmp_path, "bad.scn", SMALL_FAIL)
    err = write_scn(tmp_path, "err.scn", SMALL_ERROR)
    files = [ok, bad, err, ok]
    # Every file has 2 nodes; the ports are found free here, below the ephemeral range
    # (see test_jobs_with_base_port_and_different_node_counts for why not the default).
    base = free_port_range(2 * len(files))
    res = check_multi(tmp_path, files, ["pass", "fail", "error", "pass"], EX_CLUSTER,
                      ["-j", "3", "--base-port", base])
    assert "ERROR" in res.stdout and f"FAIL {bad}:6:" in res.stdout
    # pass + fail only: the worst is 1
    res = run_sim(["-j", "3", "-q", "--base-port", free_port_range(6), "--run-dir",
                   tmp_path / "r2", ok, bad, ok], tmp_path)
    assert res.returncode == EX_FAILED, describe(res)
    assert "ready:" not in res.stdout  # -q: no step lines; result lines, failures, summary
    assert f"PASS {ok}" in res.stdout
    assert summary_rows(res.stdout)[str(bad)][0] == "fail"


def test_several_files_in_turn_with_base_port(tmp_path):
    ok = write_scn(tmp_path, "ok.scn", SMALL_PASS)
    res = run_sim(["--base-port", free_port_range(2), "--run-dir", tmp_path / "run", ok, ok],
                  tmp_path)
    assert res.returncode == EX_OK, describe(res)


def test_two_sims_at_once_with_default_ports(tmp_path):
    scn = write_scn(tmp_path, "five.scn", "nodes 5\ntopology line\nexpect alive all\n")
    procs = [subprocess.Popen([str(SIM_BIN), "-q", "--run-dir", tmp_path / f"run{k}", str(scn)],
                              cwd=str(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for k in range(2)]
    outs = [p.communicate(timeout=SIM_RUN_TIMEOUT)[0] for p in procs]
    assert [p.returncode for p in procs] == [EX_OK, EX_OK], outs


def test_jobs_with_base_port_and_different_node_counts(tmp_path):
    files = [write_scn(tmp_path, f"{k}-{n}.scn", f"nodes {n}\nexpect alive all\n")
             for k, n in enumerate([2, 5, 3])]
    base = free_port_range(10)
    res = run_sim(["-j", "3", "--base-port", base, "--run-dir", tmp_path / "run", *files],
                  tmp_path)
    assert res.returncode == EX_OK, describe(res)


# ---- the cluster really does what the scenario says ------------------------------------------

PARTITIONED = """# a partition, held up with --keep so the test can look at the nodes
nodes 4
topology mesh
node-args --broadcast-wait 200 --timeout 1000 --id {{node}}-{token}
partition n0-n1 | n2-n3
append n0 "left-block"
await height == 1 on n0-n1 within 3s
append n2 "right-1"
await height == 1 on n2-n3 within 3s
append n3 "right-2"
await height == 2 on n2-n3 within 3s
"""

HEALED = """# a partition, then heal and sync
nodes 4
topology mesh
node-args --broadcast-wait 200 --timeout 1000
partition n0-n1 | n2-n3
append n0 "left-block"
await height == 1 on n0-n1 within 3s
append n2 "right-1"
await height == 1 on n2-n3 within 3s
append n3 "right-2"
await height == 2 on n2-n3 within 3s
heal
sync all
await converged within 5s
"""


def test_partition_stops_blocks_seen_from_outside(tmp_path, live):
    token = uuid.uuid4().hex[:12]
    scn = write_scn(tmp_path, "partitioned.scn", PARTITIONED.format(token=token))
    sim = live(["--keep", "--run-dir", tmp_path / "run", *ports_for(scn), scn], token)
    ports = sim.ports()
    sim.wait_line(r"--keep: the cluster stays up", timeout=SIM_RUN_TIMEOUT)
    datas = [[b["data"] for b in http_json(p, "/blocks")] for p in ports]
    for i in (0, 1):
        assert "left-block" in datas[i] and "right-1" not in datas[i], datas
        assert len(datas[i]) == 2
    for i in (2, 3):
        assert "left-block" not in datas[i], datas
        assert datas[i][1:] == ["right-1", "right-2"]
    # still partitioned: a new block on n1 reaches n0, never n2 or n3
    req = urllib.request.Request(f"http://{HOST}:{ports[1]}/append", data=b"late", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    wait_until(lambda: http_json(ports[0], "/block")["data"] == "late", WAIT_S, "n0 to get 'late'")
    for p in ports[2:]:
        assert "late" not in [b["data"] for b in http_json(p, "/blocks")]
    os.kill(sim.proc.pid, signal.SIGINT)
    assert sim.proc.wait(timeout=EXIT_GRACE) == EX_OK  # --keep: Ctrl-C ends the wait
    wait_until(lambda: not pids_with(token), EXIT_GRACE, "the nodes to exit")


def test_heal_and_sync_converge(tmp_path):
    scn = write_scn(tmp_path, "healed.scn", HEALED)
    run_dir, report = tmp_path / "run", tmp_path / "report.json"
    res = run_sim(["--run-dir", run_dir, "--report", report, *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    (r,) = load_report(report)["scenarios"]
    final = r["final"]
    assert [n["node"] for n in final] == ["n0", "n1", "n2", "n3"]
    assert {n["height"] for n in final} == {2}
    assert len({n["tip"] for n in final}) == 1
    assert r["appends"]["acked"] == 3 and r["appends"]["lost"] == ["left-block"]
    assert r["appends"]["lost_on"] == "n0"
    assert r["links"]["links"] == 12  # a mesh of 4: every ordered pair
    (await_,) = [a for a in r["awaits"] if "converged" in a["text"]]
    assert 0 <= await_["took_s"] <= 5  # the file's `within 5s`
    # the left side adopted the right side's chain by a sync; the right side never replaced
    logs = {p.stem: p.read_text() for p in node_logs(run_dir)}
    for n in ("n0", "n1"):
        assert "sync: replaced the chain, height now 2" in logs[n], logs[n]
    for n in ("n2", "n3"):
        assert "replaced the chain" not in logs[n], logs[n]


def test_node_cmd_template(tmp_path):
    scn = write_scn(tmp_path, "cmd.scn", SMALL_PASS)
    run_dir, report = tmp_path / "run", tmp_path / "report.json"
    res = run_sim(["--node-cmd", f"{NODE} {{port}} --id custom-{{port}}", "--run-dir", run_dir,
                   "--report", report, *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    (r,) = load_report(report)["scenarios"]
    for n in r["final"]:
        log = (run_dir / f"{n['node']}.log").read_text()
        assert f"[custom-{n['port']} " in log, log


def test_seed_option_overrides_the_file(tmp_path):
    scn = write_scn(tmp_path, "seed.scn", "nodes 6\ntopology random 2\nseed 9\n"
                    "partition random-halves\n")
    outs = []
    for k in range(2):
        report = tmp_path / f"r{k}.json"
        res = run_sim(["--seed", "12345", "--run-dir", tmp_path / f"run{k}", "--report", report,
                       *ports_for(scn), scn], tmp_path)
        assert res.returncode == EX_OK, describe(res)
        (r,) = load_report(report)["scenarios"]
        assert r["seed"] == 12345
        outs.append((r["links"]["links"], r["steps"][0]["detail"]))
    assert outs[0] == outs[1]  # the same seed draws the same topology and split


# ---- processes -------------------------------------------------------------------------------

LONG = """# sleeps long enough to be interrupted
nodes 3
topology line
node-args --id {{node}}-{token}
sleep 60s
"""


def start_long(tmp_path, live):
    token = uuid.uuid4().hex[:12]
    scn = write_scn(tmp_path, "long.scn", LONG.format(token=token))
    sim = live(["--run-dir", tmp_path / "run", "--report", tmp_path / "report.json",
                *ports_for(scn), scn], token)
    ports = sim.ports()
    sim.wait_line(r"ready: 3 nodes up")
    wait_until(lambda: all(port_answers(p) for p in ports), WAIT_S, "the nodes to answer")
    wait_until(lambda: len(node_logs(tmp_path / "run")) == 3, WAIT_S, "the node logs")
    pids = wait_until(lambda: pids_with(token) if len(pids_with(token)) == 3 else None, 10,
                      "three node processes")
    return sim, token, ports, pids


def assert_cluster_gone(token, ports):
    wait_until(lambda: not pids_with(token), EXIT_GRACE, "every node process to exit")
    wait_until(lambda: not any(port_answers(p) for p in ports), EXIT_GRACE,
               "every node port to refuse connections")


def test_ctrl_c_tears_everything_down(tmp_path, live):
    sim, token, ports, pids = start_long(tmp_path, live)
    os.kill(sim.proc.pid, signal.SIGINT)
    rc = sim.proc.wait(timeout=EXIT_GRACE)
    assert rc == EX_INTERRUPTED, sim.output()
    assert_cluster_gone(token, ports)
    assert "interrupted" in sim.output()


def test_sigkill_of_the_sim_kills_the_nodes(tmp_path, live):
    sim, token, ports, pids = start_long(tmp_path, live)
    os.kill(sim.proc.pid, signal.SIGKILL)
    assert sim.proc.wait(timeout=EXIT_GRACE) == -signal.SIGKILL
    assert_cluster_gone(token, ports)


def test_node_that_cannot_start_exits_3_with_its_log(tmp_path):
    scn = write_scn(tmp_path, "noflag.scn", SMALL_ERROR)
    run_dir, report = tmp_path / "run", tmp_path / "report.json"
    res = run_sim(["--run-dir", run_dir, "--report", report, *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_CLUSTER, describe(res)
    assert f"ERROR {scn}:" in res.stdout
    assert "exited with status" in res.stdout and "before it was ready" in res.stdout
    (r,) = load_report(report)["scenarios"]
    assert r["result"] == "error" and r["exit_code"] == EX_CLUSTER
    # whichever node the sim saw exit first is the one named, with the end of its log
    node = re.match(r"(n\d+) ", r["error"]).group(1)
    assert f"{node}.log" in r["error"]
    log = (run_dir / f"{node}.log").read_text()
    assert "--no-such-flag" in log
    last = [l for l in log.splitlines() if l.strip()][-1]
    assert last in res.stdout, "the end of the node's log is not shown"


def test_node_that_dies_during_the_run_exits_3(tmp_path):
    # the sim notices the exit during the sleep: it does not sleep the whole minute
    scn = write_scn(tmp_path, "dies.scn", "nodes 2\ntopology line\nsleep 60s\n")
    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    res = run_sim(["--node-cmd", f"timeout 1 {NODE} {{port}}", "--run-dir", run_dir,
                   *ports_for(scn), scn], tmp_path)
    assert res.returncode == EX_CLUSTER, describe(res)
    assert time.monotonic() - t0 < 30
    assert "during the run" in res.stdout, describe(res)
    assert "signal 15: shutting down" in res.stdout  # the end of the node's log


def test_base_port_in_use_exits_3(tmp_path):
    scn = write_scn(tmp_path, "port.scn", SMALL_PASS)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        run_dir = tmp_path / "run"
        res = run_sim(["--base-port", port, "--run-dir", run_dir, scn], tmp_path,
                      timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_CLUSTER, describe(res)
    assert f"port {port}" in res.stdout and "in use" in res.stdout, describe(res)
    assert node_logs(run_dir) == []


def test_report_has_each_nodes_memory(tmp_path):
    scn = write_scn(tmp_path, "mem.scn", "nodes 3\ntopology line\nappend n0 100\nawait converged within 10s\nstop n2\n")
    rep = tmp_path / "r.json"
    res = run_sim(["--report", rep, "--run-dir", tmp_path / "run", "--stop-grace", "5000", scn], tmp_path)
    assert res.returncode == 0, describe(res)
    final = {n["node"]: n for n in load_report(rep)["scenarios"][0]["final"]}
    for name in ("n0", "n1"):
        n = final[name]
        assert 1024 < n["ready_rss_kib"] <= n["peak_rss_kib"], n
        assert 1024 < n["rss_kib"] <= n["peak_rss_kib"], n
    assert final["n2"]["state"] == "exited" and final["n2"]["rss_kib"] is None

"""Seeing a run: events.jsonl, chainlab-sim logs, links.json, topology, plots, report.html (in a
real browser), and the diagnosis of a failure.

One scenario with a partition, latency, a kill and a load runs once for the module; each test
checks one product of it. A failing scenario (equal-height forks after a partition, latency still
on) checks the diagnosis. The browser test runs Debian's chromium headless and is skipped, with
the reason, where it cannot run.
"""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import describe, run_sim

REPO = Path(__file__).resolve().parents[2]
BROWSER_TIMEOUT = 90.0

KINDS = {"step", "fault", "node", "append", "load", "observe"}

PROOF = """\
# A partition, latency, a kill and a load, then everything undone.
nodes 5
topology ring
seed 11
append n0 "first"
await converged within 5s
load 40/s for 1.5s on n0-n1
partition n0-n1 | n2-n4
latency all 15ms
append n2 "right"
kill n4
sleep 300ms
heal
clear
restart n4
await loads done within 20s
sync all
await converged within 10s
expect alive all
"""

FORKS = """\
# Equal-height forks: both sides append once during a partition; heal and sync keep both.
nodes 4
topology ring
seed 2
append n0 "base"
await converged within 5s
partition halves
latency n0 10ms
append n0 "left"
append n2 "right"
heal
sync all
await converged within 1s
"""


def events_of(run_dir):
    with open(run_dir / "events.jsonl") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def proof(tmp_path_factory):
    """The proof scenario, run once: (run folder, JSON result, process)."""
    tmp = tmp_path_factory.mktemp("seeing")
    scn = tmp / "proof.scn"
    scn.write_text(PROOF)
    run_dir, report = tmp / "run", tmp / "report.json"
    res = run_sim(["--plots", "--sample", "50", "--run-dir", run_dir, "--report", report, scn],
                  tmp)
    assert res.returncode == 0, describe(res)
    (result,) = json.loads(report.read_text())["scenarios"]
    return run_dir, result, res


@pytest.fixture(scope="module")
def forks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forks")
    scn = tmp / "forks.scn"
    scn.write_text(FORKS)
    run_dir, report = tmp / "run", tmp / "report.json"
    res = run_sim(["--run-dir", run_dir, "--report", report, "--junit", tmp / "junit.xml", scn],
                  tmp)
    assert res.returncode == 1, describe(res)
    (result,) = json.loads(report.read_text())["scenarios"]
    return run_dir, result, res


# ---- events.jsonl ----------------------------------------------------------------------------


def test_events_have_every_kind_in_time_order(proof):
    run_dir, result, _ = proof
    evs = events_of(run_dir)
    assert KINDS <= {e["kind"] for e in evs}, {e["kind"] for e in evs}
    ts = [e["t"] for e in evs]
    assert ts == sorted(ts), "events.jsonl is not in time order"
    for e in evs:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["wall"]), e
    # Each kind says what it records.
    steps = [e for e in evs if e["kind"] == "step"]
    assert {e["action"] for e in steps} == {"start", "end"}
    assert all("line" in e and "text" in e for e in steps)
    assert all("ok" in e and "detail" in e for e in steps if e["action"] == "end")
    faults = [e for e in evs if e["kind"] == "fault"]
    applied = {e["fault"] for e in faults if e["action"] == "applied"}
    assert {"partition", "latency"} <= applied, faults
    part = next(e for e in faults if e["fault"] == "partition" and e["action"] == "applied")
    assert part["sides"] == "n0-n1 | n2-n4"
    assert "n1->n2" in part["links"] and "n0->n1" not in part["links"]
    assert any(e["action"] == "removed" and e["fault"] == "partition" for e in faults)
    assert any(e["action"] == "removed" and "latency" in e.get("cleared", []) for e in faults)
    node_actions = {(e["node"], e["action"]) for e in evs if e["kind"] == "node"}
    assert {("n4", "killed"), ("n4", "restarted"), ("n0", "started"), ("n0", "ready")} \
        <= node_actions
    assert all(e["pid"] > 0 for e in evs if e["kind"] == "node")
    acked = [e for e in evs if e["kind"] == "append" and e["action"] == "acked"]
    assert acked and all(e["height"] >= 1 and e["latency_ms"] >= 0 for e in acked)
    assert any(e["action"] == "sent" for e in evs if e["kind"] == "append")
    loads = [e for e in evs if e["kind"] == "load"]
    assert [e["action"] for e in loads] == ["begin", "end"]
    assert loads[0]["rate"] == 40 and loads[1]["sent"] == 60
    assert loads[1]["acked"] + loads[1]["failed"] == 60
    observes = [e for e in evs if e["kind"] == "observe"]
    assert any(e["via"] == "sample" for e in observes)
    awaited = [e for e in observes if e["via"] == "await"]
    assert awaited and all("line" in e for e in awaited)
    assert all(set(e["height"]) == set(e["tip"]) for e in observes)


def test_sample_zero_turns_sampling_off(tmp_path):
    scn = tmp_path / "s.scn"
    scn.write_text("nodes 2\ntopology line\nappend n0 \"x\"\nawait converged within 5s\n")
    res = run_sim(["--sample", "0", "--run-dir", tmp_path / "run", scn], tmp_path)
    assert res.returncode == 0, describe(res)
    vias = {e["via"] for e in events_of(tmp_path / "run") if e["kind"] == "observe"}
    assert vias == {"await"}


def test_load_report_has_start_and_real_end(proof):
    _, result, res = proof
    (load,) = result["loads"]
    assert 1.5 <= load["end_s"] - load["start_s"] < 30
    ended = re.search(r"^\s*([\d.]+)s\s+L\d+\s+load ended", res.stdout, re.M)
    assert ended and abs(float(ended.group(1)) - load["end_s"]) < 0.01, res.stdout


# ---- logs, links, topology --------------------------------------------------------------------


def test_links_json_lists_every_directed_edge(proof):
    run_dir, result, _ = proof
    links = json.loads((run_dir / "links.json").read_text())
    pairs = {(e["from"], e["to"]) for e in links}
    ring = {(f"n{i}", f"n{(i + d) % 5}") for i in range(5) for d in (1, 4)}
    assert pairs == ring
    # each peer entry is the link layer's address, never the node's own
    assert all((e["listen_host"], e["listen_port"]) != (e["target_host"], e["target_port"])
               for e in links)
    # the addresses layout: n7's link-layer address is 127.2.0.7, its own 127.1.0.7
    assert {e["listen_host"] for e in links if e["to"] == "n3"} == {"127.2.0.3"}
    assert all(e["target_host"] == "127.1.0." + e["to"][1:] for e in links)
    assert result["edges"] == links


def test_logs_name_nodes_not_ports(proof):
    run_dir, _, _ = proof
    links = json.loads((run_dir / "links.json").read_text())
    res = run_sim(["logs", run_dir], run_dir)
    assert res.returncode == 0, describe(res)
    lines = res.stdout.splitlines()
    sources = {line.split()[0] for line in lines}
    assert sources == {"sim", "n0", "n1", "n2", "n3", "n4"}
    assert re.search(r"peers: added n\d->n\d", res.stdout)
    for e in links:
        assert f"{e['listen_host']}:{e['listen_port']}" not in res.stdout
        assert f"{e['target_host']}:{e['target_port']}" not in res.stdout
    times = [float(line.split()[1]) for line in lines]
    assert times == sorted(times), "not merged in wall-clock order"


def test_logs_filters(proof):
    run_dir, _, _ = proof
    only = run_sim(["logs", run_dir, "--nodes", "n1,n3-n4"], run_dir).stdout.splitlines()
    assert only and {line.split()[0] for line in only} <= {"n1", "n3", "n4"}
    grep = run_sim(["logs", run_dir, "--grep", "load ended"], run_dir).stdout.splitlines()
    assert grep and all("load ended" in line for line in grep)
    window = run_sim(["logs", run_dir, "--since", "0.5", "--until", "1"], run_dir)
    times = [float(line.split()[1]) for line in window.stdout.splitlines()]
    assert all(0.499 <= t <= 1.001 for t in times)
    bad = run_sim(["logs", run_dir / "nothing-here"], run_dir)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr


def test_topology_dot_and_svg(proof):
    run_dir, _, _ = proof
    dot = (run_dir / "topology.dot").read_text()
    assert dot.count("[dir=none]") == 5 and ("n4 -> " in dot or "-> n4" in dot)
    if shutil.which("dot") is None:
        pytest.skip("Graphviz (dot) is not installed: no topology.svg")
    svg = ET.parse(run_dir / "topology.svg").getroot()
    assert svg.tag.endswith("svg")


# ---- plots -------------------------------------------------------------------------------------


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plots_are_valid_png_and_svg(proof):
    if shutil.which("gnuplot") is None:
        pytest.skip("gnuplot is not installed")
    run_dir, _, _ = proof
    for name in ("heights", "latency", "rate"):
        assert png_size(run_dir / "plots" / f"{name}.png") == (1000, 420)
        root = ET.parse(run_dir / "plots" / f"{name}.svg").getroot()
        assert root.tag.endswith("svg")
    heights = (run_dir / "plots" / "heights.svg").read_text()
    assert "partition" in heights and "n4 killed" in heights


def test_plot_command_redraws_and_uses_bands_at_scale(tmp_path):
    if shutil.which("gnuplot") is None:
        pytest.skip("gnuplot is not installed")
    scn = tmp_path / "wide.scn"
    scn.write_text("nodes 20\ntopology random 3\nappend n0 \"x\"\nawait converged within 10s\n")
    run_dir = tmp_path / "run"
    assert run_sim(["--sample", "20", "--run-dir", run_dir, scn], tmp_path).returncode == 0
    shutil.rmtree(run_dir / "plots")
    res = run_sim(["plot", run_dir], tmp_path)
    assert res.returncode == 0, describe(res)
    svg = (run_dir / "plots" / "heights.svg").read_text()
    assert "min-max" in svg and "median" in svg and ">n19<" not in svg
    assert run_sim(["plot", tmp_path / "missing"], tmp_path).returncode == 2


# ---- diagnosis ---------------------------------------------------------------------------------


def test_failure_diagnosis_names_faults_and_equal_height_forks(forks):
    run_dir, result, res = forks
    assert "equal-height forks" in res.stdout and "faults active: latency" in res.stdout
    d = result["diagnosis"]
    assert d["faults"] == ["latency"]
    assert d["equal_height_forks"] is True and "equal length" in d["note"]
    assert [g["height"] for g in d["groups"]] == [2, 2]
    assert {g["nodes"] for g in d["groups"]} == {"n0-n1", "n2-n3"}
    assert d["unreachable"] == [] and d["failed_appends"]["count"] == 0


def test_diagnosis_lists_failed_appends_and_unreachable(tmp_path):
    scn = tmp_path / "paused.scn"
    scn.write_text("nodes 3\ntopology line\npause n2\nappend n2 \"lost\"\n"
                   "await converged n0-n2 within 300ms\n")
    report = tmp_path / "r.json"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, scn], tmp_path)
    assert res.returncode == 1, describe(res)
    d = json.loads(report.read_text())["scenarios"][0]["diagnosis"]
    assert d["failed_appends"]["count"] == 1
    assert d["failed_appends"]["first"][0]["reason"] == "not running"
    assert d["down"] == [{"node": "n2", "state": "paused"}]
    assert "failed appends: 1" in res.stdout


# ---- report.html in a browser -----------------------------------------------------------------


def chromium():
    """The chromium binary, or a pytest skip with the reason it cannot run here."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (tools/deps.sh installs it)")
    try:
        probe = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"chromium cannot run here: {e}")
    if probe.returncode != 0:
        pytest.skip(f"chromium cannot run here: {probe.stderr.strip()[:200]}")
    return exe


def load_in_browser(exe, page, tmp_path):
    """Load page headless; returns (DOM after load, console messages)."""
    profile = tmp_path / f"chromium-{page.stem}"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
           page.resolve().as_uri()]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if res.returncode != 0 or "<html" not in res.stdout:
        pytest.skip(f"chromium could not load a page here (exit {res.returncode}): "
                    f"{res.stderr.strip()[-300:]}")
    console = [line for line in res.stderr.splitlines() if ":CONSOLE" in line]
    return res.stdout, console


def test_browser_check_sees_console_errors(tmp_path):
    """The checker itself can fail: a page that logs an error is caught."""
    exe = chromium()
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('seen-by-test')</script>"
                    "</body></html>")
    _, console = load_in_browser(exe, page, tmp_path)
    assert any("seen-by-test" in line for line in console)


def test_report_html_loads_in_chromium(proof, tmp_path):
    exe = chromium()
    run_dir, _, _ = proof
    page = run_dir / "report.html"
    html = page.read_text()
    # Self-contained: no script, no external reference (SVG namespaces are names, not fetches).
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    dom, console = load_in_browser(exe, page, tmp_path)
    assert console == [], console
    assert 'id="timeline-svg"' in dom
    assert dom.count('class="append"') >= 60
    assert 'class="down"' in dom and 'class="side"' in dom
    for name in ("heights", "latency", "rate"):
        assert re.search(rf'id="plot-{name}">\s*<svg', dom), name
    assert 'id="failure"' not in dom
    assert "partition n0-n1 | n2-n4" in dom and "&#10003;" in html


def test_failed_report_html_shows_the_diagnosis(forks, tmp_path):
    exe = chromium()
    run_dir, _, _ = forks
    dom, console = load_in_browser(exe, run_dir / "report.html", tmp_path)
    assert console == [], console
    assert 'id="failure"' in dom and 'id="diagnosis"' in dom
    assert 'id="equal-height-forks"' in dom
    assert 'class="bad"' in dom  # the failed line of the scenario text


# ---- frictions ---------------------------------------------------------------------------------


def test_junit_failure_carries_run_folder_table_and_diagnosis(forks):
    run_dir, _, _ = forks
    case = ET.parse(run_dir.parent / "junit.xml").getroot().find(".//testcase")
    assert case.find("failure") is not None
    out = case.find("system-out").text
    assert f"run folder: {run_dir}" in out
    assert re.search(r"^n3\s+127\.1\.0\.3:\d+\s+running\s+2\s+[0-9a-f]{64}$", out, re.M), out
    assert "equal-height forks" in out and "faults active: latency" in out


def test_bad_scenario_still_writes_report_and_junit(tmp_path):
    scn = tmp_path / "bad.scn"
    scn.write_text("nodes 2\nappend n0 \"x\"\nbogus here\n")
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, "--junit", junit, scn],
                  tmp_path)
    assert res.returncode == 2 and "bad.scn:3:1:" in res.stderr, describe(res)
    rep = json.loads(report.read_text())
    (entry,) = rep["scenarios"]
    assert entry["result"] == "error" and entry["error"].startswith(f"{scn}:3:1:")
    assert rep["errors"] == 1
    err = ET.parse(junit).getroot().find(".//testcase/error")
    assert err is not None and ":3:1:" in err.get("message")
    assert not (tmp_path / "run").exists(), "nothing may run for a bad scenario"


def test_reused_run_dir_is_refused(tmp_path):
    scn = tmp_path / "ok.scn"
    scn.write_text("nodes 1\nappend n0 \"x\"\n")
    run_dir = tmp_path / "run"
    assert run_sim(["--run-dir", run_dir, scn], tmp_path).returncode == 0
    before = (run_dir / "n0.log").read_text()
    res = run_sim(["--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == 2 and "is not empty" in res.stderr, describe(res)
    assert (run_dir / "n0.log").read_text() == before
    (tmp_path / "empty").mkdir()
    assert run_sim(["--run-dir", tmp_path / "empty", scn], tmp_path).returncode == 0


def test_keep_then_ctrl_c_exits_with_the_result(tmp_path, live):
    scn = tmp_path / "keep.scn"
    scn.write_text("nodes 2\ntopology line\nappend n0 \"x\"\nawait converged within 5s\n")
    sim = live(["--keep", "--sample", "0", "--run-dir", tmp_path / "run", scn])
    sim.wait_line(r"--keep: the cluster stays up")
    os.kill(sim.proc.pid, signal.SIGINT)
    assert sim.proc.wait(timeout=30) == 0, sim.output()


# ---- --sample-metrics ---------------------------------------------------------------------------

# A stand-in node that serves the Prometheus text at /metrics: genesis at /block and /blocks, 200
# to POST/DELETE /peers, and a posts counter that grows with each scrape.
METRICS_NODE = r'''
import http.server, json, sys
GEN = {"index": 0, "data": None, "prev_hash": None,
       "hash": "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"}
scrapes = 0
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        global scrapes
        if self.path == "/metrics":
            scrapes += 1
            text = ("# TYPE chainlab_posts_sent_total counter\n"
                    "chainlab_posts_sent_total %d\n"
                    'chainlab_http_responses_total{code="200"} %d\n'
                    "chainlab_height 0\n" % (scrapes * 3, scrapes))
            self.send(200, text.encode(), "text/plain; version=0.0.4")
        elif self.path.startswith("/blocks"):
            self.send(200, json.dumps([GEN]).encode())
        elif self.path == "/block":
            self.send(200, json.dumps(GEN).encode())
        else:
            self.send(404, b'{"error": "no"}')
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send(200, b"[]")
    do_DELETE = do_POST
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def test_sample_metrics_records_each_nodes_counters(tmp_path):
    node = tmp_path / "metrics_node.py"
    node.write_text(METRICS_NODE)
    scn = tmp_path / "m.scn"
    scn.write_text("nodes 2\ntopology line\nsleep 600ms\n")
    run_dir = tmp_path / "run"
    res = run_sim(["--node-cmd", f"/usr/bin/python3 {node} {{port}}", "--sample-metrics", "100",
                   "--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == 0, describe(res)
    metrics = [e for e in events_of(run_dir) if e["kind"] == "metrics"]
    assert {e["node"] for e in metrics} == {"n0", "n1"}
    for e in metrics:
        v = e["values"]
        assert v["chainlab_posts_sent_total"] == 3 * v['chainlab_http_responses_total{code="200"}']
        assert v["chainlab_height"] == 0


def test_node_without_metrics_gives_no_samples(tmp_path):
    scn = tmp_path / "n.scn"
    scn.write_text("nodes 2\ntopology line\nsleep 300ms\n")
    run_dir = tmp_path / "run"
    res = run_sim(["--sample-metrics", "50", "--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == 0, describe(res)
    kinds = {e["kind"] for e in events_of(run_dir)}
    if "metrics" in kinds:  # this node serves /metrics (the node's own feature): then samples
        assert all(e["values"] for e in events_of(run_dir) if e["kind"] == "metrics")
    else:
        assert "observe" in kinds

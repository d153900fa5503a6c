"""chainlab-sim serve: its HTTP API (every step kind, errors with their position, a failing expect,
clients served in turn, the /events long-poll), its shutdown (DELETE, SIGINT and SIGTERM, the
death of its parent: no node left behind), the command line, and the chainlab pytest plugin (the
README's example runs as a test; a failing test gets the run folder and the merged log)."""

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests

from chainlab import StepFailed, StepsRejected
from conftest import NODE_BIN, REPO, SIM_BIN, SIM_EXIT_GRACE, WAIT_S, HTTP_TIMEOUT, pids_with, wait_until

FAST = ("--timeout", "1000", "--connect-timeout", "300", "--broadcast-wait", "300")
WITHIN = f"{WAIT_S:g}s"
PLUGIN_ENV = {"PYTHONPATH": str(REPO / "tools" / "python"), "CHAINLAB_SIM": str(SIM_BIN)}


def tokened(chainlab_cluster, nodes=3, topology="ring", **kw):
    """A cluster whose command lines (the sim's and its nodes') hold a token (for pids_with)."""
    token = uuid.uuid4().hex[:12]
    c = chainlab_cluster(nodes=nodes, topology=topology, node_args=(*FAST, "--id", f"{{node}}-{token}"), **kw)
    wait_until(lambda: len(pids_with(token)) == nodes + 1, WAIT_S, f"the sim and {nodes} node processes")
    return c, token


def post_steps(c, text):
    return requests.post(c.url + "/steps", data=text.encode(), timeout=(HTTP_TIMEOUT, 600))


def states(c):
    return {n["name"]: n["state"] for n in c.info()["nodes"]}


def assert_gone(token, proc):
    """The sim exited (after drawing its plots: WAIT_S) and no node with token is left."""
    proc.wait(timeout=WAIT_S)
    wait_until(lambda: not pids_with(token), SIM_EXIT_GRACE, "every node process to exit")


# ---- every step kind -------------------------------------------------------------------------


def test_every_step_kind_over_http(chainlab_cluster):
    c = chainlab_cluster(nodes=4, topology="ring", node_args=FAST)
    assert c.url.startswith("http://127.0.0.1:")
    seen = set()

    def run(text):
        steps = c.steps(text)
        assert [s["text"] for s in steps] == [l.strip() for l in text.strip().splitlines()]
        seen.update(s["kind"] for s in steps)
        return steps

    s = run('append n0 "hello"\nappend n1 3\nawait converged within ' + WITHIN + '\nexpect height == 4')
    assert "acknowledged at height 1" in s[0]["detail"] and s[1]["detail"] == "3 of 3 acknowledged"
    assert all(set(x) >= {"text", "ok", "detail", "took_s"} for x in s)
    run('load 40/s for 300ms on n0-n1\nawait loads done within ' + WITHIN)
    assert c.report()["loads"][0]["sent"] > 0
    run("sync all\nlog \"a note\"\nsleep 10ms")

    n0 = c.node(0)
    before = set(n0.peers())
    (added,) = run("peer add n0 n2")
    assert len(set(n0.peers()) - before) == 1 and "n0 now reaches" in added["detail"]
    run("peer remove n0 n2")
    assert set(n0.peers()) == before

    run("partition halves")
    (fault,) = c.info()["faults"]
    assert fault["fault"] == "partition" and fault["sides"] == "n0-n1 | n2-n3"
    assert "n1->n2" in fault["links"] and "n0->n1" not in fault["links"]
    run("partition n0 | n1-n3\ncut n1 -> n2")
    assert [f["fault"] for f in c.info()["faults"]] == ["partition", "cut"]
    run('append n1 "cut off"\nexpect diverged\nheal')
    assert c.info()["faults"] == []

    run("latency n0 -> n1 20ms jitter 5ms\nloss n2 10%\nbandwidth n3 64KB/s\nreset n1 <-> n2")
    faults = {f["fault"]: f["links"] for f in c.info()["faults"]}
    assert set(faults) == {"latency", "loss", "bandwidth", "reset"}, faults
    assert faults["latency"] == ["n0->n1"] and set(faults["reset"]) == {"n1->n2", "n2->n1"}
    run("clear")
    assert c.info()["faults"] == []

    run("kill n3")
    assert states(c)["n3"] == "exited" and c.info()["nodes"][3]["pid"] is None
    run("stop n2\nexpect down n2-n3")
    run("restart n2-n3\npause n1")
    assert states(c) == {"n0": "running", "n1": "paused", "n2": "running", "n3": "running"}
    run("resume n1\nsync all\nawait converged within " + WITHIN + "\nexpect alive all")

    kinds = {"append", "load", "sync", "peer add", "peer remove", "partition", "cut", "heal", "latency",
             "loss", "bandwidth", "reset", "clear", "kill", "stop", "restart", "pause", "resume", "sleep",
             "await", "expect", "log"}
    assert seen == kinds
    # the transcript holds every request, and the report's lines point into it
    transcript = (c.run_dir / "serve.scn").read_text().splitlines()
    for step in c.report()["steps"]:
        assert transcript[step["line"] - 1].strip() == step["text"]


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, line, col, words", [
    ('append n0 "a"\n\n   partition n0 | n7\n', 3, 19, "unknown node 'n7'"),
    ("nodes 3\n", 1, 1, "header statement"),
    ("heal\nawait converged within 5 s\n", 2, 24, "duration"),
    ('append n0 "never\n', 1, 11, "unterminated string"),
    ("  # only a comment\n", 1, 1, "no step"),
    ("", 1, 1, "no step"),
])
def test_bad_steps_get_400_with_their_position_and_nothing_runs(chainlab_cluster, text, line, col, words):
    c = chainlab_cluster(nodes=3, topology="line", node_args=FAST)
    r = post_steps(c, text)
    assert r.status_code == 400, r.text
    e = r.json()
    assert (e["line"], e["col"]) == (line, col) and e["error"].startswith(f"{line}:{col}: "), e
    assert words in e["error"], e
    assert c.report()["steps"] == [] and [n.height() for n in c.nodes] == [0, 0, 0]
    assert "request" not in (c.run_dir / "serve.scn").read_text()
    c.append(0, "still up")  # and the cluster serves the next request


def test_bad_requests_get_json_errors(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="line")
    r = requests.get(c.url + "/nothing", timeout=HTTP_TIMEOUT)
    assert r.status_code == 404 and "unknown path" in r.json()["error"]
    r = requests.put(c.url + "/steps", timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers["Allow"] == "POST" and "use POST" in r.json()["error"]
    r = requests.post(c.url + "/cluster", timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, DELETE"
    r = requests.post(c.url + "/steps", data=b"log \"x\"\n" * 200_000, timeout=HTTP_TIMEOUT)
    assert r.status_code == 413 and "over the limit" in r.json()["error"]
    for query in ("since=abc", "wait=-1", "wait=601", "since=nan"):
        r = requests.get(c.url + "/events?" + query, timeout=HTTP_TIMEOUT)
        assert r.status_code == 400, query
    r = requests.post(c.url + "/steps", data=b'log "\xff"', timeout=HTTP_TIMEOUT)
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]
    assert c.report()["steps"] == []


# ---- a failing assertion --------------------------------------------------------------------


def test_failing_expect_answers_200_with_the_diagnosis(chainlab_cluster):
    c = chainlab_cluster(nodes=4, topology="ring", node_args=FAST)
    text = f"""partition n0-n1 | n2-n3
append n0 "left"
append n2 "right"
await height == 1 within {WITHIN}
expect converged
log "not run"
heal"""
    r = post_steps(c, text)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["ok"] is False and a["not_run"] == ['log "not run"', "heal"]
    failed = a["steps"][-1]
    assert [s["ok"] for s in a["steps"]] == [True, True, True, True, False]
    assert failed["text"] == "expect converged" and failed["failure"]["expected"] == "converged"
    d = failed["diagnosis"]
    assert d["faults"] == ["partition"] and d["partition"] == "n0-n1 | n2-n3"
    assert d["equal_height_forks"] is True and "longest-chain rule" in d["note"]
    assert sorted(g["nodes"] for g in d["groups"]) == ["n0-n1", "n2-n3"]
    assert failed["message"].startswith(f"FAIL {c.run_dir}/serve.scn:")
    assert "equal-height forks" in failed["message"]
    # the cluster stays up and goes on
    assert c.info()["faults"][0]["fault"] == "partition"
    c.heal()
    c.append(0, "longer")
    c.sync()
    c.await_("converged", WITHIN)
    # the client raises the same, with the run folder
    with pytest.raises(StepFailed) as err:
        c.expect("height == 9")
    assert "saw:      n0=2 n1=2 n2=2 n3=2" in str(err.value), str(err.value)
    assert err.value.not_run == [] and err.value.failure["text"] == "expect height == 9"
    assert c.report()["result"] == "fail"


# ---- concurrency --------------------------------------------------------------------------------


def test_concurrent_clients_are_served_in_turn(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="line")
    clients = "ABCD"
    answers = {}

    def client(name):
        text = "\n".join(f'log "{name}{i}"\nsleep 30ms' for i in range(3))
        answers[name] = post_steps(c, text).json()

    threads = [threading.Thread(target=client, args=(n,)) for n in clients]
    for t in threads:
        t.start()
    info = c.info()  # a client of its own, served in turn as well
    for t in threads:
        t.join(timeout=120)
    assert len(info["nodes"]) == 2
    for name in clients:
        assert answers[name]["ok"] is True
        texts = [s["text"] for s in answers[name]["steps"] if s["kind"] == "log"]
        assert texts == [f'log "{name}{i}"' for i in range(3)], answers[name]
    # in the record, each request's steps start and end together: never interleaved
    order = [e["text"] for e in c.events() if e["kind"] == "step"]
    owners = [re.search(r'"([A-D])\d"', t).group(1) for t in order if t.startswith("log")]
    runs = [k for i, k in enumerate(owners) if i == 0 or owners[i - 1] != k]
    assert sorted(runs) == sorted(clients), owners
    assert all(order[i + 1] == order[i] for i in range(0, len(order), 2)), "a step interrupted by another"


def test_events_long_poll(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="line")
    wait_until(lambda: any(e["kind"] == "observe" for e in c.events(wait=0)), WAIT_S, "a sample")
    everything = c.events(wait=0)
    assert {"node", "observe"} <= {e["kind"] for e in everything}
    last = everything[-1]["t"]
    assert all(everything[i]["t"] <= everything[i + 1]["t"] for i in range(len(everything) - 1))

    woke, nothing = {}, {}
    poll = threading.Thread(target=lambda: woke.update(events=c.events(since=last, wait=WAIT_S)))
    idle = threading.Thread(target=lambda: nothing.update(events=c.events(since=1e9, wait=600)))
    poll.start()
    idle.start()
    c.log("wake up")  # runs while both polls are held
    poll.join(timeout=WAIT_S + HTTP_TIMEOUT)
    assert not poll.is_alive()
    assert woke["events"] and all(e["t"] > last for e in woke["events"]), woke
    # a poll with nothing to answer held no step up: it is still waiting
    c.steps('log "more"\nsleep 10ms')
    assert idle.is_alive()
    c.close()  # and closing answers it at once
    idle.join(timeout=HTTP_TIMEOUT)
    assert not idle.is_alive() and nothing["events"] == []


# ---- shutdown -----------------------------------------------------------------------------------


def test_delete_stops_every_node_and_the_server(chainlab_cluster):
    c, token = tokened(chainlab_cluster)
    c.append(0, "x")
    final = c.close()
    assert final["result"] == "pass" and final["steps"][0]["text"] == 'append n0 "x"'
    assert c.proc.returncode == 0, c.output()
    assert_gone(token, c.proc)
    assert (c.run_dir / "report.html").is_file() and (c.run_dir / "events.jsonl").is_file()
    with pytest.raises(requests.ConnectionError):
        requests.get(c.url + "/cluster", timeout=HTTP_TIMEOUT)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_node(chainlab_cluster, sig):
    c, token = tokened(chainlab_cluster)
    hold = threading.Thread(target=lambda: post_steps(c, f"sleep {WITHIN}"))
    hold.start()  # a request in the middle of a step
    wait_until(lambda: any(e["kind"] == "step" for e in c.events(wait=0)), WAIT_S, "the sleep to start")
    os.kill(c.proc.pid, sig)
    assert_gone(token, c.proc)
    assert c.proc.returncode == 0, c.output()
    hold.join(timeout=HTTP_TIMEOUT)
    assert "interrupted" in c.output()


PARENT = """
import subprocess, sys
with open(sys.argv[1], "wb") as out:
    subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT).wait()
"""


def test_the_death_of_its_parent_stops_every_node(tmp_path):
    token = uuid.uuid4().hex[:12]
    out = tmp_path / "serve.out"
    run_dir = tmp_path / f"run-{token}"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, out, SIM_BIN, "serve", "--nodes", "3",
                               "--topology", "line", "--run-dir", run_dir, "--node-args",
                               f"--id {{node}}-{token}"], start_new_session=True)
    try:
        url = wait_until(lambda: out.read_text().partition("\n")[0] if "\n" in out.read_text() else None,
                         WAIT_S, "the URL")
        assert len(requests.get(url + "/cluster", timeout=(HTTP_TIMEOUT, 60)).json()["nodes"]) == 3
        # the token is in the command lines of the parent, the sim and its 3 nodes
        wait_until(lambda: len(pids_with(token)) == 5, WAIT_S, "the parent, the sim and its 3 nodes")
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_until(lambda: not pids_with(token), WAIT_S, "the sim and every node to exit")
        assert "PASS" in out.read_text()
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in pids_with(token):
            os.kill(pid, signal.SIGKILL)


# ---- the command line -------------------------------------------------------------------------


def run_serve(args, tmp_path):
    return subprocess.run([str(SIM_BIN), "serve", *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, words", [
    ([], "give one scenario file, or --nodes N"),
    (["--nodes", "3", "--topology", "rng"], "the header the flags make:\nnodes 3\ntopology rng"),
    (["--nodes", "2", "--report", "r.json"], "go with scenario runs, not serve"),
    (["--nodes", "2", "--listen", "nowhere"], "give ADDRESS:PORT"),
    (["--nodes", "2", "--listen", "127.0.0.1:99999"], "--listen 127.0.0.1:99999"),
])
def test_bad_command_lines_exit_2(tmp_path, args, words):
    r = run_serve(args, tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert words in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists()


def test_listen_flags_go_with_serve(tmp_path):
    r = subprocess.run([str(SIM_BIN), "--listen", "127.0.0.1:0", "x.scn"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "go with serve" in r.stderr


def test_serve_a_file_runs_its_steps_first(chainlab_cluster, tmp_path):
    scn = tmp_path / "start.scn"
    scn.write_text('nodes 3\ntopology star\nappend n0 "from the file"\nawait converged within 30s\n')
    c = chainlab_cluster(scenario=scn)
    c.expect('contains "from the file"')
    assert [s["line"] for s in c.report()["steps"]] == [3, 4, 6]  # line 5: "# request 1 at ..." 
    assert (c.run_dir / "serve.scn").read_text().startswith(scn.read_text())


def test_posted_steps_use_the_headers_parameters(chainlab_cluster, tmp_path):
    scn = tmp_path / "param.scn"
    # K is used by no line of the file: the posted steps may use it
    scn.write_text('param WHO n0\nparam K 1\nnodes 3\ntopology star\nappend ${WHO} "first"\n')
    c = chainlab_cluster(scenario=scn, sim_args=("--set", "K=2"))
    # ${K} is its value from --set; inside a string it is plain text
    s = c.steps('append n${K} "x${K}"\nawait converged within ' + WITHIN)
    assert s[0]["text"] == 'append n2 "x${K}"' and "acknowledged" in s[0]["detail"]
    c.expect('contains "x${K}" on ${WHO}')
    with pytest.raises(StepsRejected) as e:
        c.steps("sleep ${J}s")
    assert (e.value.line, e.value.col) == (1, 7) and "unknown parameter 'J'" in str(e.value)
    # a value that makes a posted line wrong names the value and where it came from
    with pytest.raises(StepsRejected) as e:
        c.steps("kill n${K}0")
    assert "(where ${K} is '2', from --set)" in str(e.value), str(e.value)


def test_a_header_from_flags_may_declare_parameters(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="line", sim_args=("--header", "param D 10ms"))
    assert c.step("sleep ${D}")["text"] == "sleep 10ms"


def test_serve_refuses_sweeps(tmp_path):
    r = run_serve(["--nodes", "2", "--sweep", "N=1,2"], tmp_path)
    assert r.returncode == 2 and "--sweep and --repeat go with scenario runs" in r.stderr, r.stderr


# ---- the pytest plugin ------------------------------------------------------------------------


def readme_example():
    """The Python block of the README's section "Writing your own tests"."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Writing your own tests"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_pytest(tmp_path, name, code, env=None):
    (tmp_path / name).write_text(code)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "chainlab.pytest_plugin", "--basetemp", tmp_path / "runs", name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **PLUGIN_ENV, **(env or {})})


def test_the_readme_example_runs(tmp_path):
    """The example tests another implementation (node_cmd=); chainlab-node stands in for it."""
    r = run_pytest(tmp_path, "test_my_node.py", readme_example(),
                   {"NODE_CMD": f"{NODE_BIN} --broadcast-wait 300 --timeout 1000 {{port}}"})
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr


FAILING = """
def test_fails(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="line")
    c.partition([0])
    c.append(0, "alone")
    c.await_("converged", within=0.2)
"""


def test_a_failing_test_gets_the_diagnosis_the_run_folder_and_the_log(tmp_path):
    r = run_pytest(tmp_path, "test_fails.py", FAILING)
    assert r.returncode == 1 and "1 failed" in r.stdout, r.stdout + r.stderr
    assert "StepFailed: FAIL" in r.stdout and "faults active: partition" in r.stdout, r.stdout
    run_dir = re.search(r"run folder: (/\S+)", r.stdout).group(1)
    assert Path(run_dir, "events.jsonl").is_file()
    assert "chainlab cluster 0" in r.stdout and "merged log" in r.stdout
    assert re.search(r"^n[01] +\d+\.\d+ ", r.stdout, re.M), r.stdout  # lines of chainlab-sim logs

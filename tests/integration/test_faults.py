"""Integration tests of chainlab-sim's faults: each link and node fault has its effect.

Run as:  CHAINLAB_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_faults.py

Every test writes a scenario into tmp_path, runs the sim on it (with its own run directory and
JSON report in tmp_path, on ports the sim finds free itself) and reads what happened from the
report, the node logs, or the nodes themselves:

- latency: a block needs at least the link's delay to reach the next node;
- loss 100%: behaves as a partition (the block does not arrive, a sync through the link waits
  for the node's timeout and keeps the chain); after `clear` a sync brings it;
- reset: the node's broadcasts fail at once (reset, not timed out): its log says so and its
  /status counts them in posts_failed, while its peers' own broadcasts still go through;
- pause: a paused node answers nothing (a direct GET times out, the append of its peer waits
  out --broadcast-wait), and after resume it answers again and catches up;
- kill -9 with --db: with a single writer, every append the killed node acknowledged is in its
  chain when it comes back, read from its own file before it can sync with anyone;
- --generate: the same seed gives the same file, other seeds other files, the committed
  scenarios/generated.scn is `--generate 7`, and the CI seeds 1..5 all pass;
  its flags are validated.

Timing assertions are lower bounds only (a noisy 2-core machine can be slow, never fast).
Nothing here sleeps a fixed time: the scenarios may sleep, the tests only poll.
"""

import json
import os
import re
import signal
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import SIM_EXIT_GRACE as EXIT_GRACE, describe, pids_with, run_sim, wait_until

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"

QUICK_TIMEOUT = 20.0  # s for a run that only parses or generates

EX_OK, EX_FAILED, EX_BAD, EX_INTERRUPTED = 0, 1, 2, 130

NODE_ARGS = "node-args --broadcast-wait 200 --timeout 1000 --connect-timeout 300"
CI_SEEDS = [1, 2, 3, 4, 5]


# ---- helpers ---------------------------------------------------------------------------------


def run_scenario(tmp_path, name, text, expect=EX_OK, extra=()):
    """Write text to tmp_path/name, run it; returns (scenario report, CompletedProcess)."""
    scn = tmp_path / name
    scn.write_text(text)
    report = tmp_path / f"{scn.stem}.json"
    res = run_sim(["--run-dir", tmp_path / f"run-{scn.stem}", "--report", report, *extra, scn],
                  tmp_path)
    assert res.returncode == expect, f"scenario:\n{text}\n{describe(res)}"
    (r,) = json.loads(report.read_text())["scenarios"]
    return r, res


def step(r, prefix):
    """The report record of the one step whose text starts with prefix."""
    found = [s for s in r["steps"] if s["text"].startswith(prefix)]
    assert len(found) == 1, f"{len(found)} steps start with {prefix!r}: {r['steps']}"
    return found[0]


def get(url, path, timeout):
    with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as resp:
        return json.loads(resp.read().decode())


# ---- latency ---------------------------------------------------------------------------------

LATENCY = """# latency on n0 -> n1 delays the block n0 broadcasts to n1
nodes 2
topology line
node-args --broadcast-wait 0 --timeout 3000 --connect-timeout 300

append n0 "warm"
await contains "warm" on n1 within 5s

latency n0 -> n1 200ms
append n0 "delayed"
await contains "delayed" on n1 within 10s
expect converged
"""


def test_latency_delays_propagation(tmp_path):
    """With 200 ms on n0 -> n1 (and --broadcast-wait 0, so the append answers at once and the
    await's took_s is the propagation time), the block reaches n1 at least 0.2 s after the
    append started: the await that sees it ends at least 0.2 s after the append step began."""
    r, _ = run_scenario(tmp_path, "latency.scn", LATENCY)
    append, await_ = step(r, 'append n0 "delayed"'), step(r, 'await contains "delayed"')
    # Measured from the start of the append (the block cannot leave n0 earlier), not from the
    # start of the await: a sim slowed down between the two steps would shorten the await.
    propagation = await_["start_s"] + await_["took_s"] - append["start_s"]
    assert propagation >= 0.2, (append, await_)
    assert any("delayed" in a["text"] for a in r["awaits"])
    assert "1 links" in step(r, "latency")["detail"]


# ---- loss 100% is a partition ----------------------------------------------------------------

CUT_OFF = """# {fault}: n0's block does not reach n1; after {undo} a sync brings it
nodes 2
topology line
{node_args}

append n0 "before"
await converged within 3s

{fault}
append n0 "held"
sleep 500ms
expect height == 1 on n1
sync n1
expect height == 1 on n1
expect diverged

{undo}
sync n1
await contains "held" on n1 within 5s
expect converged
expect lost == 0 on n1
"""


@pytest.mark.parametrize("fault,undo", [("loss n0 <-> n1 100%", "clear"),
                                        ("partition n1", "heal")], ids=["loss-100", "partition"])
def test_loss_100_behaves_as_a_partition(fault, undo, tmp_path):
    """The same steps with `loss 100%` and with `partition` give the same outcome: the block
    stays on n0, a sync on n1 waits for its request to time out (--timeout 1000) and keeps its
    chain; after clear/heal the next sync replaces n1's chain with n0's."""
    r, _ = run_scenario(tmp_path, "cut.scn",
                        CUT_OFF.format(fault=fault, undo=undo, node_args=NODE_ARGS))
    syncs = [s for s in r["steps"] if s["text"] == "sync n1"]
    assert [s["detail"] for s in syncs] == ["n1 kept 1", "n1 replaced 2"], syncs
    # the sync during the fault waited out n1's request timeout, as in a partition
    assert syncs[0]["took_s"] >= 0.9, syncs[0]
    assert "held" not in r["appends"]["lost"]
    assert {n["height"] for n in r["final"]} == {2}


# ---- reset -----------------------------------------------------------------------------------

RESET = """# reset on n2's own connections: its broadcasts fail, its peers' still arrive
nodes 3
topology mesh
node-args --broadcast-wait 200 --timeout 5000 --connect-timeout 5000 --id {{node}}-{token}

append n0 "before"
await converged within 3s

reset n2 -> n0,n1
append n2 "reset-1"
append n2 "reset-2"
append n2 "reset-3"
expect height == 4 on n2
sleep 300ms
expect height == 1 on n0-n1
append n0 "from n0"
await height == 2 on n0-n1 within 3s
sleep 300ms
"""


def test_reset_makes_broadcasts_fail_fast(tmp_path, live):
    """`reset n2 -> n0,n1` resets every connection n2 opens: its three appends are acknowledged
    (a failed broadcast does not fail the append) but reach nobody; n2's /status counts the
    failed POSTs, its log names a reset/receive failure (not a timeout: with --timeout and
    --connect-timeout at 5 s, each append would otherwise wait --broadcast-wait), while the
    connections n0 opens to n2 are untouched: n0's POSTs all succeed (n2 ignores the block, its
    own chain being longer)."""
    token = uuid.uuid4().hex[:12]
    scn = tmp_path / "reset.scn"
    scn.write_text(RESET.format(token=token))
    sim = live(["--keep", "--run-dir", tmp_path / "run", "--report", tmp_path / "r.json", scn],
               token)
    ports = sim.node_urls()
    sim.wait_line(r"--keep: the cluster stays up")
    assert not sim.seen(r"^FAIL|^ERROR"), "".join(sim.lines)
    st = [get(p, "/status", 5) for p in ports]
    assert st[2]["posts_failed"] >= 6, st[2]  # 3 blocks x 2 peers, none delivered
    assert st[0]["posts_failed"] == 0 and st[0]["posts_sent"] >= 4, st[0]  # n0 -> n2 is not reset
    assert [get(p, "/block", 5)["index"] for p in ports] == [2, 2, 4]
    os.kill(sim.proc.pid, signal.SIGINT)
    assert sim.proc.wait(timeout=EXIT_GRACE) == EX_OK  # --keep: Ctrl-C ends the wait, the result stands
    wait_until(lambda: not pids_with(token), EXIT_GRACE, "the nodes to exit")
    log = (tmp_path / "run" / "n2.log").read_text(errors="replace")
    failures = re.findall(r"POST /block failed: (.*)", log)
    assert failures, log
    assert not any("Timeout" in f for f in failures), failures
    steps = json.loads((tmp_path / "r.json").read_text())["scenarios"][0]["steps"]
    assert all(s["detail"].startswith("acknowledged") for s in steps
               if s["text"].startswith('append n2 "reset-'))


# ---- pause -----------------------------------------------------------------------------------

PAUSE = """# pause: n1 answers nothing until resume
nodes 2
topology line
node-args --broadcast-wait 200 --timeout 1000 --connect-timeout 300 --id {{node}}-{token}

append n0 "before"
await converged within 3s

pause n1
append n0 "during"
log "paused: the test asks n1 now"
sleep 15s
resume n1
sync n1
await contains "during" on n1 within 5s
expect converged
"""


def test_pause_stops_answers_until_resume(tmp_path, live):
    """While n1 is paused a direct GET /block to it times out, and n0's append waits out its
    --broadcast-wait (200 ms) for n1's answer; after resume n1 answers and has the block. The
    pause lasts 15 s so that a loaded machine still asks n1 inside it (a 3 s pause was missed)."""
    token = uuid.uuid4().hex[:12]
    scn = tmp_path / "pause.scn"
    scn.write_text(PAUSE.format(token=token))
    report = tmp_path / "r.json"
    sim = live(["--keep", "--run-dir", tmp_path / "run", "--report", report, scn], token)
    n0, n1 = sim.node_urls()
    sim.wait_line(r"paused: the test asks n1 now")
    with pytest.raises(OSError):  # socket.timeout / URLError: the connection is never served
        get(n1, "/block", 0.5)
    assert get(n0, "/block", 5)["data"] == "during"  # n0 itself answers
    assert not sim.seen(r"L\d+\s+resume n1"), "the pause was over before the GET was made"
    sim.wait_line(r"--keep: the cluster stays up")
    assert not sim.seen(r"^FAIL|^ERROR"), "".join(sim.lines)
    assert get(n1, "/block", 5)["data"] == "during"
    os.kill(sim.proc.pid, signal.SIGINT)
    assert sim.proc.wait(timeout=EXIT_GRACE) == EX_OK  # --keep: Ctrl-C ends the wait, the result stands
    wait_until(lambda: not pids_with(token), EXIT_GRACE, "the nodes to exit")
    (r,) = json.loads(report.read_text())["scenarios"]
    during = [s for s in r["steps"] if s["text"] == 'append n0 "during"'][0]
    assert during["detail"].startswith("acknowledged"), during
    # n0 waited for the paused n1's answer (--broadcast-wait 200 ms, timed by the node; the sim's
    # clock starts a little later, hence the slack)
    assert during["took_s"] >= 0.18, during
    assert "n1 paused" in [s for s in r["steps"] if s["text"] == "pause n1"][0]["detail"]
    assert "n1 resumed" in [s for s in r["steps"] if s["text"] == "resume n1"][0]["detail"]


# ---- kill -9 with --db -----------------------------------------------------------------------

KILL_DB = """# a single writer killed with SIGKILL mid-load keeps every append it acknowledged
nodes 3
topology mesh
node-args --db {dir}/chain.db --broadcast-wait 200 --timeout 1000 --connect-timeout 300

load 100/s for 1.5s on n1
sleep 700ms
kill n1
expect down n1
sleep 1300ms                   # the load is over: the rest of it failed on the dead n1
partition n1                   # so the restarted n1 cannot sync from anyone
restart n1
expect height > 0 on n1
expect lost == 0 on n1         # every acknowledged append, from n1's own file
heal
sync all
await converged within 5s
expect lost == 0
expect lost == 0 on n2
"""


def test_kill_9_with_db_keeps_every_acknowledged_append(tmp_path):
    """The load goes to n1 only, so no fork can orphan anything: an acknowledged append missing
    from n1's chain after the restart (isolated, so read from its file) is a durability bug.
    Some appends were acknowledged before the kill and some failed after it."""
    r, _ = run_scenario(tmp_path, "kill-db.scn", KILL_DB)
    (load,) = r["loads"]
    assert load["sent"] == 150 and load["acked"] > 0 and load["failed"] > 0, load
    assert r["appends"]["acked"] == load["acked"]
    assert r["appends"]["lost"] == []
    assert step(r, "expect lost == 0 on n1")["detail"] == "held: lost 0 on n1"
    assert "n1 killed" in step(r, "kill n1")["detail"]
    restarted = int(re.search(r"n1=(\d+)", step(r, "expect height > 0 on n1")["detail"]).group(1))
    assert restarted >= load["acked"], (restarted, load)
    assert (Path(r["run_dir"]) / "n1" / "chain.db").is_file()


# ---- --generate ------------------------------------------------------------------------------


def generate(tmp_path, *args):
    res = run_sim(["--generate", *args], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)
    return res.stdout


def test_generate_is_deterministic(tmp_path):
    a, b = generate(tmp_path, 7), generate(tmp_path, 7)
    assert a == b
    assert a.startswith("# Generated by: chainlab-sim --generate 7 ")
    others = {generate(tmp_path, s) for s in (8, 9, 1000)}
    assert a not in others and len(others) == 3
    assert generate(tmp_path, 7, "--nodes", 6) != a
    assert generate(tmp_path, 7, "--nodes", 6) == generate(tmp_path, 7, "--nodes", 6)
    text = generate(tmp_path, 3, "--nodes", 4, "--steps", 40)
    assert re.search(r"^nodes 4$", text, re.M)
    # the generated file parses
    scn = tmp_path / "g.scn"
    scn.write_text(text)
    res = run_sim(["--check", scn], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK, describe(res)


def test_committed_generated_scenario_is_generate_7(tmp_path):
    """scenarios/generated.scn is `chainlab-sim --generate 7` as is: when the generator changes,
    regenerate it (and check it still passes)."""
    assert (SCENARIOS / "generated.scn").read_text() == generate(tmp_path, 7)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_generated_seed_passes(seed, tmp_path):
    """The CI seeds: a failure is a bug report, so it prints the scenario and the sim's output
    (rerun it with `chainlab-sim --generate SEED > s.scn && chainlab-sim s.scn`)."""
    text = generate(tmp_path, seed)
    scn = tmp_path / f"generated-{seed}.scn"
    scn.write_text(text)
    report = tmp_path / "report.json"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, scn], tmp_path)
    assert res.returncode == EX_OK, (f"chainlab-sim --generate {seed} fails:\n--- scenario:\n"
                                     f"{text}\n{describe(res)}")
    (r,) = json.loads(report.read_text())["scenarios"]
    assert r["result"] == "pass"
    assert len({n["tip"] for n in r["final"]}) == 1
    assert all(n["state"] == "running" for n in r["final"])


@pytest.mark.parametrize("args", [
    ["--nodes", "1"],
    ["--nodes", "0"],
    ["--nodes", "65"],
    ["--nodes", "x"],
    ["--steps", "-1"],
    ["--steps", "many"],
], ids=["nodes-1", "nodes-0", "nodes-65", "nodes-word", "steps-negative", "steps-word"])
def test_generate_flags_are_validated(args, tmp_path):
    res = run_sim(["--generate", "1", *args], tmp_path, timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_BAD, describe(res)
    assert f"bad value for {args[0]}" in res.stderr and res.stdout == "", describe(res)


def test_generate_refusals(tmp_path):
    for args in (["--generate", "x"], ["--generate", "-1"], ["--generate"],
                 ["--generate", "1", "some.scn"]):
        res = run_sim(args, tmp_path, timeout=QUICK_TIMEOUT)
        assert res.returncode == EX_BAD, f"{args}: {describe(res)}"
        assert res.stdout == "", f"{args}: {describe(res)}"
    res = run_sim(["--generate", "1", "--nodes", "2", "--steps", "0"], tmp_path,
                  timeout=QUICK_TIMEOUT)
    assert res.returncode == EX_OK and "nodes 2\n" in res.stdout, describe(res)

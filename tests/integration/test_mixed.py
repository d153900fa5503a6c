"""chainlab-sim driving other implementations: the stand-in for the original node (original.py)
alone and in networks mixed with chainlab nodes (per-node `node-cmd` and `node-args`), through
partitions, heals and syncs, and blocks over 1 MiB crossing such a network.

The stand-in answers like the original: 200 with an empty body to /append, POST /sync and POST
/peers. The sim must count any 2xx as success and read heights from GET /block; its request
timeout (--request-timeout) bounds a request to a node that hangs in a broadcast.
"""

import json
import re
import sys
import urllib.error
import urllib.request

from conftest import REPO, describe, run_sim
from original import GENESIS, OriginalNode, block_hash
from test_sim import EX_FAILED, EX_OK, load_report, write_scn

ORIGINAL = REPO / "tests" / "integration" / "original.py"
BIG = 1100 * 1024  # bytes of data in a "big" block: over the old 1 MiB --max-body


def original_cmd(peer_timeout=1):
    """A node-cmd template that starts the stand-in (string syntax: no quotes inside)."""
    return f"{sys.executable} {ORIGINAL} {{port}} --peer-timeout {peer_timeout}"


def step_lines(stdout, line):
    """The detail of the step at line (its end line) from the sim's output."""
    return [l for l in stdout.splitlines() if re.match(rf"^\s+\d+\.\d+s\s+L{line}\s", l)]


ALONE = """# three original stand-ins, nothing else
nodes 3
topology line
node-cmd "{cmd}"
append n0 "one"
await converged within 10s
sync all
peer remove n1 n2
peer add n1 n2
append n2 "two"
await converged within 10s
expect height == 2
"""


def test_sim_reads_the_originals_empty_answers(tmp_path):
    scn = write_scn(tmp_path, "alone.scn", ALONE.format(cmd=original_cmd()))
    report = tmp_path / "report.json"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    # the append's answer is empty: the height comes from GET /block
    assert "acknowledged at height 1 (from GET /block)" in step_lines(res.stdout, 5)[-1]
    assert "acknowledged at height 2 (from GET /block)" in step_lines(res.stdout, 10)[-1]
    # POST /sync answered 200 with nothing: a success, with each node's height
    assert step_lines(res.stdout, 7)[-1].endswith(
        "n0 synced, height 1, n1 synced, height 1, n2 synced, height 1"), res.stdout
    (r,) = load_report(report)["scenarios"]
    assert r["appends"]["acked"] == 2 and r["appends"]["lost"] == []
    assert r["gossip"] is None  # no /status on these nodes
    assert {n["height"] for n in r["final"]} == {2}


MIXED = """# chainlab and original stand-ins in one mesh, partitioned across implementations
nodes 4
topology mesh
node-cmd n2-n3 "{cmd}"
node-args n0-n1 --broadcast-wait 200 --timeout 1000
append n2 "from an original"
await converged within 10s
append n0 "from chainlab"
await converged within 10s
partition n0,n2 | n1,n3
append n0 "left"
append n3 "right-1"
append n1 "right-2"
await height == 4 on n1,n3 within 10s
await height == 3 on n0,n2 within 10s
expect diverged
heal
sync all
await converged within 10s
expect height == 4
expect lost == 1
"""


def test_mixed_network_partition_heal_converge(tmp_path):
    scn = write_scn(tmp_path, "mixed.scn", MIXED.format(cmd=original_cmd()))
    report, run_dir = tmp_path / "report.json", tmp_path / "run"
    res = run_sim(["--run-dir", run_dir, "--report", report, "--request-timeout", "5000", scn],
                  tmp_path)
    assert res.returncode == EX_OK, describe(res)
    (r,) = load_report(report)["scenarios"]
    tips = {n["tip"] for n in r["final"]}
    assert len(tips) == 1 and {n["height"] for n in r["final"]} == {4}
    assert r["appends"]["lost"] == ["left"]
    # two implementations ran: chainlab nodes report /status counters, the stand-ins do not
    assert [n["syncs"] is not None for n in r["final"]] == [True, True, False, False]
    assert "original stand-in listening" in (run_dir / "n2.log").read_text()
    assert "original stand-in listening" not in (run_dir / "n0.log").read_text()


HANGING = """# an original's append hangs in its broadcast to a partitioned peer
nodes 2
topology line
node-cmd "{cmd}"
partition n0 | n1
append n0 "stuck"
expect height == 1 on n0
expect height == 0 on n1
"""


def test_request_timeout_bounds_an_append_that_hangs(tmp_path):
    # the stand-in waits 60 s for the cut peer: the sim gives up on the append after 1 s
    scn = write_scn(tmp_path, "hang.scn", HANGING.format(cmd=original_cmd(peer_timeout=60)))
    report = tmp_path / "report.json"
    res = run_sim(["--run-dir", tmp_path / "run", "--report", report, "--request-timeout", "1000",
                   "--stop-grace", "500", scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)
    detail = step_lines(res.stdout, 6)[-1]
    assert "not acknowledged: Timeout was reached" in detail, res.stdout
    (r,) = load_report(report)["scenarios"]
    assert (r["appends"]["sent"], r["appends"]["failed"]) == (1, 1)


def big_scenario(extra_args=""):
    b, c, d = "b" * BIG, "c" * BIG, "d" * BIG
    return f"""# blocks of 1.1 MiB made by chainlab and by the stand-in, by broadcast and by sync
nodes 4
topology mesh
node-cmd n2-n3 "{original_cmd(peer_timeout=2)}"
node-args n0-n1 --broadcast-wait 200 --timeout 2000 {extra_args}
append n2 "{b}"
await converged within 20s
append n0 "{c}"
await converged within 20s
partition n0,n2 | n1,n3
append n3 "{d}"
await height == 3 on n1,n3 within 20s
heal
sync all
await converged within 20s
expect height == 3
"""


def test_big_blocks_cross_a_mixed_network(tmp_path):
    scn = write_scn(tmp_path, "big.scn", big_scenario())
    report = tmp_path / "report.json"
    res = run_sim(["-q", "--run-dir", tmp_path / "run", "--report", report, scn], tmp_path)
    assert res.returncode == EX_OK, describe(res)[:3000]
    (r,) = load_report(report)["scenarios"]
    assert len({n["tip"] for n in r["final"]}) == 1
    assert r["appends"]["acked"] == 3 and r["appends"]["lost"] == []


def test_big_block_over_the_body_limit_splits_the_network(tmp_path):
    """The same network with chainlab's old 1 MiB limit: the stand-in's block is refused (413)
    and nothing heals it, so the first await fails. Shows the test above can fail."""
    scn = write_scn(tmp_path, "big-old.scn", big_scenario("--max-body 1048576"))
    run_dir = tmp_path / "run"
    res = run_sim(["-q", "--run-dir", run_dir, scn], tmp_path)
    assert res.returncode == EX_FAILED, describe(res)[:3000]
    assert f"FAIL {scn}:7: await converged within 20s" in res.stdout
    # The chainlab nodes answer 413 before reading the body and close: the stand-in reads the 413,
    # or, when the close (with the body unread) reset the connection first, the reset.
    log = (run_dir / "n2.log").read_text()
    assert "broadcast of block 1 to" in log, log
    assert "HTTP Error 413" in log or "Connection reset by peer" in log, log


def call(node, method, path, body=None):
    req = urllib.request.Request(node.url + path, data=body, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def test_original_stand_in_semantics():
    """The stand-in itself, in threads: empty answers, ignored queries, unchecked peers,
    broadcasts and syncs."""
    a, b, c = (OriginalNode(peer_timeout=2).start() for _ in range(3))
    try:
        assert call(a, "POST", "/peers", b"not a url at all") == (200, b"")  # no checks
        assert call(a, "DELETE", "/peers", b"not a url at all") == (200, b"")
        assert call(a, "POST", "/peers", b.url.encode()) == (200, b"")
        assert call(a, "POST", "/peers", b.url.encode()) == (200, b"")  # kept once
        assert json.loads(call(a, "GET", "/peers")[1]) == [b.url]
        assert call(a, "POST", "/append", "caf\u00e9".encode()) == (200, b"")
        block = {"index": 1, "data": "caf\u00e9", "prev_hash": GENESIS["hash"],
                 "hash": block_hash(1, "caf\u00e9", GENESIS["hash"])}
        assert call(b, "GET", "/block")[1] == json.dumps(block).encode()  # broadcast
        chain = call(b, "GET", "/blocks?from=1&limit=1")[1]  # the query is ignored
        assert json.loads(chain) == [GENESIS, block]
        # c adopts the longer chain of its peer a on POST /sync, and answers nothing
        call(c, "POST", "/peers", a.url.encode())
        assert call(c, "POST", "/sync") == (200, b"")
        assert call(c, "GET", "/blocks")[1] == call(a, "GET", "/blocks")[1]
        # a block two ahead of b's tip makes b sync (from c, its only peer)
        call(a, "DELETE", "/peers", b.url.encode())  # b hears of nothing by broadcast
        call(b, "POST", "/peers", c.url.encode())
        call(c, "POST", "/append", b"two")
        call(c, "POST", "/append", b"three")
        three = json.loads(call(c, "GET", "/block")[1])
        assert call(b, "POST", "/block", json.dumps(three).encode()) == (200, b"")
        assert call(b, "GET", "/blocks")[1] == call(c, "GET", "/blocks")[1]
        # malformed input: the original's handler raises, bottle answers 500
        try:
            call(b, "POST", "/block", b"{not json")
            raise AssertionError("a malformed block was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 500
    finally:
        for n in (a, b, c):
            n.stop()

"""A 2,000-node cluster through the link layer (make check-large; CI runs it once): it comes up,
an append reaches every node, a partition splits the network and a heal makes it converge.
scenarios/large/large-2000.scn says why each step holds. Skipped unless CHAINLAB_LARGE=1 (the
default `make check` stays quick)."""

import json
import os
import subprocess

import pytest

from conftest import REPO, SIM_BIN

SCENARIO = REPO / "scenarios" / "large" / "large-2000.scn"
RUN_S = 1200  # s the whole run may take (about 20 s on the 2-core development machine)

pytestmark = pytest.mark.skipif(os.environ.get("CHAINLAB_LARGE") != "1",
                                reason="2,000 nodes: run with make check-large (CHAINLAB_LARGE=1)")


def test_two_thousand_nodes(tmp_path):
    report = tmp_path / "report.json"
    res = subprocess.run([str(SIM_BIN), "--run-dir", str(tmp_path / "run"), "--report", str(report),
                          str(SCENARIO)], capture_output=True, text=True, timeout=RUN_S)
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}"
    (r,) = json.loads(report.read_text())["scenarios"]
    final = r["final"]
    assert len(final) == 2000
    assert {n["state"] for n in final} == {"running"}
    assert {n["height"] for n in final} == {3}
    assert len({n["tip"] for n in final}) == 1
    assert r["appends"]["lost"] == ["left side"]
    # every node on its own address, each link-layer address a node's public one
    assert final[1999]["host"] == "127.1.7.207"
    edges = r["edges"]
    assert len(edges) == 8000 and all(e["listen_host"].startswith("127.2.") for e in edges)
    ready = next(line for line in res.stdout.splitlines() if "ready: 2000 nodes up" in line)
    print(f"\n{ready.strip()}; whole run {r['duration_s']:.1f} s")

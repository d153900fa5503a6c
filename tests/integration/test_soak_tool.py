"""tools/soak.py's checks can fail: its verdicts on valgrind logs and on RSS growth, and the
scenarios it generates are valid .scn files (the soak itself runs in `make soak`)."""

import subprocess
import sys

import pytest

from conftest import REPO, SIM_BIN

sys.path.insert(0, str(REPO / "tools"))
import soak  # noqa: E402

CLEAN = """==1== HEAP SUMMARY:
==1==     in use at exit: 821 bytes in 12 blocks
==1== LEAK SUMMARY:
==1==    definitely lost: 0 bytes in 0 blocks
==1==    indirectly lost: 0 bytes in 0 blocks
==1==    still reachable: 821 bytes in 12 blocks
==1== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)
"""
FREED = """==1== All heap blocks were freed -- no leaks are possible
==1== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)
"""
LEAK = CLEAN.replace("definitely lost: 0 bytes in 0 blocks", "definitely lost: 1,024 bytes in 2 blocks")
ERRORS = CLEAN.replace("ERROR SUMMARY: 0 errors", "ERROR SUMMARY: 3 errors")
KILLED = "==1== Memcheck, a memory error detector\n"  # SIGKILLed before its summary


def write_logs(tmp_path, texts):
    for i, text in enumerate(texts):
        d = tmp_path / "run" / f"n{i}"
        d.mkdir(parents=True)
        if text is not None:
            (d / "valgrind.log").write_text(text)


@pytest.mark.parametrize(
    "texts, ok, lost, errors",
    [
        ([CLEAN, FREED, CLEAN], True, 0, 0),
        ([CLEAN, LEAK, CLEAN], False, 1024, 0),
        ([CLEAN, CLEAN, ERRORS], False, 0, 3),
        ([CLEAN, KILLED, CLEAN], False, 0, 0),
        ([CLEAN, None, CLEAN], False, 0, 0),
    ],
    ids=["clean", "leak", "errors", "killed-before-summary", "no-log"],
)
def test_valgrind_verdict(tmp_path, texts, ok, lost, errors):
    write_logs(tmp_path, texts)
    got_ok, got_lost, got_errors, problems = soak.valgrind_logs(str(tmp_path), len(texts))
    assert (got_ok, got_lost, got_errors) == (ok, lost, errors)
    assert bool(problems) == (texts.count(KILLED) + texts.count(None) > 0)


def node(name, ready, end, height):
    return {"node": name, "ready_rss_kib": ready, "rss_kib": end, "peak_rss_kib": end, "height": height}


def test_rss_bound_holds_and_fails():
    ok, rows = soak.rss_rows({"final": [node("n0", 10000, 20000, 1000), node("n1", 10000, 30000, 1000)]})
    assert ok and len(rows) == 2
    over = 10000 + (soak.RSS_FIXED_MIB + 1) * 1024
    ok, _ = soak.rss_rows({"final": [node("n0", 10000, 20000, 0), node("n1", 10000, over, 0)]})
    assert not ok
    # a node that is not running at the end has no figures: the check fails
    ok, _ = soak.rss_rows({"final": [node("n0", 10000, None, 0)]})
    assert not ok


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_soak_scenarios_are_valid(tmp_path, seed):
    text = soak.scenario(10, 1000, 60, seed, "--broadcast-wait 0")
    assert text.count("partition") >= 5 and text.count("heal") >= 5
    scn = tmp_path / "soak.scn"
    scn.write_text(text)
    p = subprocess.run([str(SIM_BIN), "--check", str(scn)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr

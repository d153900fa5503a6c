"""tools/experiments.py (make experiments): the sweeps of scenarios/experiments/ parse, bad
arguments are refused before anything runs, and a run of one experiment puts its table between
the markers of the --write file and nothing else there changes."""

import os
import subprocess
import sys

import pytest

from conftest import BUILD, REPO

TOOL = REPO / "tools" / "experiments.py"
BEGIN, END = "<!-- experiments: begin -->", "<!-- experiments: end -->"


def run_tool(*args, timeout=300):
    env = dict(os.environ, CHAINLAB_BUILD=str(BUILD))
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_every_experiment_parses():
    r = run_tool("--check")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    names = sorted(p for p in os.listdir(REPO / "scenarios" / "experiments")
                   if p.endswith(".scn"))
    # one line per sweep: peer-exchange has two (with and without the variant)
    assert len(lines) == len(names) + 1, lines
    assert all(line.startswith("ok ") for line in lines), lines
    assert sorted({line.split()[1].rsplit("/", 1)[1] for line in lines}) == names


@pytest.mark.parametrize("args, want", [
    (("--only", "nope"), "unknown experiment nope"),
    (("--repeat", "0"), "--repeat takes a number from 1"),
    (("-j", "0"), "-j takes a number from 1"),
    (("--write", "{tmp}/none.md"), "No such file"),
    (("--write", "{tmp}/plain.md"), "no '<!-- experiments: begin -->'"),
])
def test_bad_arguments_exit_2_before_anything_runs(tmp_path, args, want):
    (tmp_path / "plain.md").write_text("# no markers\n")
    out = tmp_path / "out"
    r = run_tool(*[a.format(tmp=tmp_path) for a in args], "--out", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert want in r.stderr
    assert not out.exists()


def test_one_experiment_written_between_the_markers(tmp_path):
    """The fork-choice experiment, once per cell: `longest` leaves the equal-height forks split
    (its await does not hold: a note says what the sim saw), `longest-lowest-hash` merges them."""
    doc = tmp_path / "doc.md"
    doc.write_text(f"# before\n\n{BEGIN}\nold table\n{END}\n\n# after\n")
    out = tmp_path / "out"
    r = run_tool("--only", "fork-choice", "--repeat", "1", "--out", out, "--write", doc,
                 "--note", "in a test")
    assert r.returncode == 0, r.stdout + r.stderr
    text = doc.read_text()
    assert text.startswith(f"# before\n\n{BEGIN}\n") and text.endswith(f"\n{END}\n\n# after\n")
    section = text.split(BEGIN)[1].split(END)[0]
    assert "old table" not in section
    assert section.strip() == r.stdout.strip()
    assert "by `make experiments` in" in section and "runs 2 at a time, in a test." in section
    assert "### Equal-height forks: longest vs longest-lowest-hash" in section
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines()
            if line.startswith("| longest")}
    assert rows["longest"].endswith("| did not hold (0/1) |"), rows
    assert " s |" in rows["longest-lowest-hash"] or " ms |" in rows["longest-lowest-hash"], rows
    assert "Where it did not hold, the first such run, as the sim saw it: longest:" in section
    assert (out / "fork-choice" / "grid" / "sweep.json").exists()

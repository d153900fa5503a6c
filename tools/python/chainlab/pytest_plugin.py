"""The chainlab pytest plugin: the `chainlab_cluster` fixture.

Load it with `-p chainlab.pytest_plugin` (the folder holding the `chainlab` package on
PYTHONPATH), or with `pytest_plugins = ["chainlab.pytest_plugin"]` in a conftest.py. chainlab-sim
is found as `--chainlab-sim PATH`, $CHAINLAB_SIM, $CHAINLAB_BUILD/chainlab-sim or on PATH.

    def test_heal(chainlab_cluster):
        c = chainlab_cluster(nodes=4, topology="ring")
        c.partition([0, 1])
        ...

Each cluster's run folder is in the test's tmp_path. Every cluster a test started is stopped
(DELETE /cluster) when the test ends; when the test failed, its report gets each cluster's run
folder and the tail of its merged log.
"""

import pytest

from chainlab.cluster import LOG_LINES, ChainlabError, Cluster

_CLUSTERS = pytest.StashKey()  # the clusters a test started


def pytest_addoption(parser):
    parser.addoption("--chainlab-sim", default=None, metavar="PATH",
                     help="the chainlab-sim program (default: $CHAINLAB_SIM, "
                          "$CHAINLAB_BUILD/chainlab-sim, or chainlab-sim on PATH)")


@pytest.fixture
def chainlab_cluster(request, tmp_path):
    """Factory: chainlab_cluster(nodes=5, topology="ring", node_cmd=None, node_args=(), seed=None,
    **kw) starts a Cluster (kw: timeout, sim_args) and returns it once every node is up."""
    started = []
    request.node.stash[_CLUSTERS] = started

    def start(nodes=5, topology="ring", node_cmd=None, node_args=(), seed=None, **kw):
        kw.setdefault("sim", request.config.getoption("--chainlab-sim"))
        c = Cluster(nodes=nodes, topology=topology, node_cmd=node_cmd, node_args=node_args,
                    seed=seed, run_dir=tmp_path / f"chainlab-{len(started)}", **kw)
        started.append(c)
        return c.start()

    yield start
    errors = []
    for c in started:
        try:
            c.close()
        except ChainlabError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, the run folder and the merged log tail of each cluster the test started."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for i, c in enumerate(item.stash.get(_CLUSTERS, [])):
        rep.sections.append((f"chainlab cluster {i}: {c.run_dir}",
                             f"run folder: {c.run_dir}\nlast {LOG_LINES} lines of its merged log "
                             f"(chainlab-sim logs {c.run_dir}):\n{c.log_tail()}"))

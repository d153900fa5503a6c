"""Clusters scripted from Python through the chainlab package (tools/python/chainlab): partitions
and cuts happen in the sim's link layer (`chainlab-sim serve`), so they stall real TCP between
nodes; heal releases it, and the network converges again."""

import pytest

from chainlab import StepFailed, StepsRejected
from conftest import WAIT_S

# Short peer timeouts so that stalled requests give up quickly; broadcasts wait for reachable
# peers only (a partitioned peer is waited for once, then marked lagging).
FAST = ("--timeout", "1000", "--connect-timeout", "300", "--broadcast-wait", "300")
WITHIN = f"{WAIT_S:g}s"


def has_data(node, data):
    return any(b["data"] == data for b in node.blocks())


def test_partition_stops_propagation_and_heal_converges(chainlab_cluster):
    c = chainlab_cluster(nodes=4, topology="mesh", node_args=FAST)
    c.append(0, "before")
    c.await_("converged", WITHIN)

    c.partition([0, 1])  # n2, n3 form the unnamed rest
    assert c.info()["faults"][0]["sides"] == "n0-n1 | n2-n3"
    c.append(0, "left")
    c.append(2, "right-1")
    c.append(3, "right-2")
    c.await_("height == 2 on n0-n1", WITHIN)
    c.await_("height == 3 on n2-n3", WITHIN)
    assert not has_data(c.node(2), "left") and not has_data(c.node(3), "left")
    assert not has_data(c.node(0), "right-1") and not has_data(c.node(1), "right-1")

    c.heal()
    assert c.info()["faults"] == []
    c.sync()
    c.await_("converged", WITHIN)
    c.expect("height == 3")
    # The longer side won: "left" was acknowledged, then orphaned.
    c.expect("lost == 1")
    assert not any(has_data(n, "left") for n in c.nodes)
    assert all(has_data(n, "right-2") for n in c.nodes)


def test_one_way_cut_blocks_one_direction_only(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="mesh", node_args=FAST)
    c.cut(0, 1, one_way=True)
    assert c.info()["faults"] == [{"fault": "cut", "links": ["n0->n1"]}]
    c.append(1, "from-n1")  # n1 -> n0 still flows
    c.await_('contains "from-n1" on n0', WITHIN)
    c.append(0, "from-n0")  # n0 -> n1 stalls
    c.expect("height == 2 on n0")
    c.expect("height == 1 on n1")
    assert not has_data(c.node(1), "from-n0")
    c.heal()
    c.sync(1)
    c.await_("converged", WITHIN)
    assert has_data(c.node(1), "from-n0")


def test_isolated_node_catches_up_by_sync_after_heal(chainlab_cluster):
    c = chainlab_cluster(nodes=3, topology="line", node_args=FAST)
    c.partition([2])
    c.append(0, 5)
    c.await_("height == 5 on n0-n1", WITHIN)
    assert c.node(2).height() == 0
    c.heal()
    assert c.node(2).sync()["height"] == 5  # broadcasts held in the links may have come first
    c.await_("converged", WITHIN)


def test_failed_await_raises_with_every_tip_and_the_diagnosis(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="mesh", node_args=FAST)
    c.partition([0])
    c.append(0, "only-on-n0")
    with pytest.raises(StepFailed) as err:
        c.await_("converged", 0.3)
    text = str(err.value)
    assert "await converged within 300ms" in text and "faults active: partition" in text, text
    for i in range(2):
        tip = c.node(i).tip()["hash"][:12]
        assert f"n{i} at height {c.node(i).height()} tip {tip}" in text, text
    assert err.value.diagnosis["faults"] == ["partition"]
    assert str(c.run_dir) in text
    c.heal()  # the cluster is still up after a failure
    c.sync()
    c.await_("converged", WITHIN)


def test_partition_with_links_direct_is_refused(chainlab_cluster):
    c = chainlab_cluster(nodes=2, topology="mesh", sim_args=("--header", "links direct"))
    with pytest.raises(StepsRejected) as err:
        c.partition([0])
    assert (err.value.line, err.value.col) == (1, 1)
    assert "needs the link layer" in str(err.value)
    assert c.report()["steps"] == []  # nothing ran

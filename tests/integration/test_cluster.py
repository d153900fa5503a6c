"""Clusters scripted from Python through the Cluster fixture and its link layer: partitions and
cuts stall real TCP between nodes, heal releases it, and the network converges again."""

import pytest

from conftest import wait_until

# Short peer timeouts so that stalled requests give up quickly; broadcasts wait for reachable
# peers only (a partitioned peer is waited for once, then marked lagging).
FAST = ("--timeout", "1000", "--connect-timeout", "300", "--broadcast-wait", "300")


def has_data(node, data):
    return any(b["data"] == data for b in node.blocks())


def test_partition_stops_propagation_and_heal_converges(nodes):
    c = nodes.cluster(4, "mesh", *FAST, links=True)
    c[0].append("before")
    c.wait_converged(min_height=1)

    c.partition([0, 1])  # n2, n3 form the unnamed rest
    c[0].append("left")
    c[2].append("right-1")
    c[3].append("right-2")
    wait_until(lambda: c[1].height() == 2 and c[2].height() == 3 and c[3].height() == 3,
               timeout=10, what="each side to hold its own appends")
    assert not has_data(c[2], "left") and not has_data(c[3], "left")
    assert not has_data(c[0], "right-1") and not has_data(c[1], "right-1")

    c.heal()
    for n in c:
        n.sync()
    height, _ = c.wait_converged(min_height=3)
    assert height == 3
    # The longer side won: "left" was acknowledged, then orphaned.
    assert not any(has_data(n, "left") for n in c)
    assert all(has_data(n, "right-2") for n in c)


def test_one_way_cut_blocks_one_direction_only(nodes):
    c = nodes.cluster(2, "mesh", *FAST, links=True)
    c.cut(0, 1, one_way=True)
    c[1].append("from-n1")  # n1 -> n0 still flows
    wait_until(lambda: has_data(c[0], "from-n1"), timeout=10, what="n1's block to reach n0")
    c[0].append("from-n0")  # n0 -> n1 stalls
    assert c[0].height() == 2
    assert c[1].height() == 1 and not has_data(c[1], "from-n0")
    c.heal()
    c[1].sync()
    c.wait_converged(min_height=2)
    assert has_data(c[1], "from-n0")


def test_isolated_node_catches_up_by_sync_after_heal(nodes):
    c = nodes.cluster(3, "line", *FAST, links=True)
    c.partition([2])
    for i in range(5):
        c[0].append(f"while-isolated-{i}")
    c.wait_converged(nodes=[0, 1], min_height=5)
    assert c[2].height() == 0
    c.heal()
    # Whether the sync replaces the chain or n1's broadcasts, held by the partition and delivered
    # at the heal, got there first is not defined; either way n2 is caught up once it answers.
    assert c[2].sync()["height"] == 5
    c.wait_converged(min_height=5)


def test_wait_converged_reports_every_tip_when_it_times_out(nodes):
    c = nodes.cluster(2, "mesh", *FAST, links=True)
    c.partition([0])
    c[0].append("only-on-n0")
    with pytest.raises(AssertionError) as err:
        c.wait_converged(timeout=0.3)
    text = str(err.value)
    assert "did not converge" in text
    for n in c:
        assert f"height {n.height()}" in text and n.tip()["hash"] in text


def test_partition_without_links_is_refused(nodes):
    c = nodes.cluster(2, "mesh")
    with pytest.raises(RuntimeError):
        c.partition([0])

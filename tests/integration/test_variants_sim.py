"""The protocol variants (README, "Protocol variants") proven through the sim: every partition is
in the sim's link layer, every node is started by `chainlab-sim serve` (the `chainlab_cluster`
fixture), and a variant is switched on per node with the header's `node-args NODES ARGS`.

Each test sets the variant beside a control without it, in the same cluster (two components with
no link between them) or in a second cluster driven through the same steps. A control's "nothing
happened" is judged once the variant's side has done what it does, and only where nothing in
the control could make it happen (so no test waits a fixed time or bounds one)."""

import re

from conftest import WAIT_S, wait_until

WITHIN = f"{WAIT_S:g}s"
# Peer requests give up quickly, so that a partition's stalled posts end while it lasts.
FAST = ("--timeout", "500", "--connect-timeout", "300", "--broadcast-wait", "200")
TIE = "--fork-choice longest-lowest-hash"


def header(*lines):
    """sim_args for chainlab-sim serve: each line a header statement."""
    return tuple(a for line in lines for a in ("--header", line))


def status(node):
    return node.request("GET", "/status").json()


def datas(node):
    return [b["data"] for b in node.blocks()]


def test_equal_height_forks_converge_with_the_tie_break_and_stay_split_without(chainlab_cluster):
    """Two meshes of 4, n0-n3 with longest-lowest-hash, n4-n7 with the original rule; each is
    split in two halves that append one block each, so after the heal each mesh holds two chains
    of the same height. A sync of every node merges the first onto the lowest tip and leaves
    the second split: a completed sync never replaces a chain with one as long under `longest`."""
    c = chainlab_cluster(nodes=8, topology="none", node_args=FAST,
                         sim_args=header("link n0-n3 n0-n3", "link n4-n7 n4-n7",
                                         f"node-args n0-n3 {TIE}"))
    assert status(c.node(0))["variants"]["fork_choice"] == "longest-lowest-hash"
    assert status(c.node(4))["variants"]["fork_choice"] == "longest"
    c.partition("n0-n1,n4-n5", "n2-n3,n6-n7")
    for node, data in ((0, "left"), (2, "right"), (4, "left"), (6, "right")):
        c.append(node, data)
    c.await_("height == 1 on all", WITHIN)
    c.expect("diverged n0-n3")
    c.expect("diverged n4-n7")
    tips = {c.node(i).tip()["hash"] for i in (0, 2)}
    assert len(tips) == 2

    c.heal()
    c.sync()  # every node, one after the other; each answers once its sync is done
    c.await_("converged n0-n3", WITHIN)
    assert c.node(0).tip()["hash"] == min(tips)  # every node took the lower tip
    c.expect("diverged n4-n7")
    assert {c.node(i).tip()["hash"] for i in range(4, 8)} == tips
    assert all(status(c.node(i))["syncs_replaced"] == 0 for i in range(4, 8))


def test_healed_partition_converges_under_anti_entropy_and_not_without(chainlab_cluster):
    """Two components of 4, n0-n3 with --anti-entropy 100, n4-n7 without. In each, the longer
    side L (n0-n1, n4-n5) holds no peer on the shorter side S (n2-n3, n6-n7), which holds one on
    L: so no block of L can reach S late, after the heal, and start a sync there (a late block of
    S is below L's tip and ignored). After the heal nothing is appended and no sync asked for:
    only anti-entropy, S asking its peers on L for their tips, can bring the sides together."""
    links = []
    for l0, l1, s0, s1 in ((0, 1, 2, 3), (4, 5, 6, 7)):
        links += [f"link n{l0} n{l1}", f"link n{s0} n{s1}", f"link n{s0} -> n{l1}",
                  f"link n{s1} -> n{l0}"]
    c = chainlab_cluster(nodes=8, topology="none", node_args=FAST,
                         sim_args=header(*links, "node-args n0-n3 --anti-entropy 100"))
    c.append(2, "first")
    c.append(6, "first")
    c.await_("height == 1 on all", WITHIN)
    c.partition("n0-n1,n4-n5", "n2-n3,n6-n7")
    for node, data in ((0, "l1"), (0, "l2"), (4, "l1"), (4, "l2"), (2, "s1"), (6, "s1")):
        c.append(node, data)
    c.await_("height == 3 on n0-n1,n4-n5", WITHIN)
    c.await_("height == 2 on n2-n3,n6-n7", WITHIN)

    c.heal()
    c.await_("converged n0-n3", WITHIN)
    assert datas(c.node(3)) == [None, "first", "l1", "l2"]
    c.expect("diverged n4-n7")
    assert datas(c.node(6)) == [None, "first", "s1"] and datas(c.node(7)) == [None, "first", "s1"]
    # the control never even tried: no sync ran on any of its nodes
    assert [status(c.node(i))["syncs"] for i in range(4, 8)] == [0, 0, 0, 0]


def posts_failed(node):
    """chainlab_posts_failed_total of node's /metrics."""
    text = node.request("GET", "/metrics").text
    return int(re.search(r"^chainlab_posts_failed_total (\d+)$", text, re.M).group(1))


def test_peer_exchange_goes_through_the_link_layer_and_a_partition_cuts_it(chainlab_cluster):
    """n0-n3 in a line; n4 and n5 are linked to nobody and told of n0 only (peer add). With
    --peer-exchange every node ends up with a peer for every other node, each one its public
    address (127.2.x.y, where only the link layer listens). Every link to n4 is then one a node
    learned (n0 learned n4 from n4's own POST /peers): a partition of n4 holds a block of n0 away
    from n4 while n5, which learned its peers the same way, receives it; it is judged once every
    other node's post of that block to n4 has failed, so no post can still bring it."""
    c = chainlab_cluster(nodes=6, topology="line", node_args=FAST + (
        "--peer-exchange", "--peer-exchange-interval", "100"),
        sim_args=header("unlink n3 n4", "unlink n4 n5"))
    c.await_("peers == 0 on n4,n5", WITHIN)
    c.step("peer add n4 n0")
    c.step("peer add n5 n0")
    c.await_("peers >= 5 on all", WITHIN)

    port = c.node(0).url.rsplit(":", 1)[1]
    public = [f"http://127.2.0.{i}:{port}" for i in range(6)]
    assert [n.url.rsplit(":", 1)[0] for n in c.nodes] == [f"http://127.1.0.{i}" for i in range(6)]
    for i, node in enumerate(c.nodes):
        assert sorted(node.peers()) == [p for k, p in enumerate(public) if k != i], node
    # the learned peers carry blocks: through the link layer, the only listener on 127.2.x.y
    c.append(4, "learned")
    c.await_('contains "learned" on all', WITHIN)

    others = (0, 1, 2, 3, 5)
    failed = {i: posts_failed(c.node(i)) for i in others}
    c.partition("n4")
    c.append(0, "cut off")
    c.await_('contains "cut off" on n0-n3,n5', WITHIN)
    wait_until(lambda: all(posts_failed(c.node(i)) > failed[i] for i in others),
               what="every other node's post of the block to n4 to fail")
    c.expect("height == 1 on n4")
    c.heal()
    c.sync("n4")
    c.await_("converged", WITHIN)


def reappend_steps(c):
    """n0-n1 | n2-n3 on a mesh of 4 with --db: n0 appends twice, n2 once; n2 is restarted while
    the partition lasts (its record of own appends comes back from its database); after the heal
    every node syncs, n2 takes n0's longer chain, and n2's append is orphaned."""
    c.append(0, "first")
    c.await_("converged", WITHIN)
    c.partition([0, 1])
    c.append(0, "left-1")
    c.append(0, "left-2")
    c.append(2, "right")
    c.await_("height == 3 on n0-n1", WITHIN)
    c.await_("height == 2 on n2-n3", WITHIN)
    c.restart(2)
    c.expect('contains "right" on n2')
    c.heal()
    c.sync()


def test_reappend_orphans_loses_nothing_across_a_db_restart_where_the_original_loses(
        chainlab_cluster):
    args = FAST + ("--db", "{dir}/chain.db")
    variant = chainlab_cluster(nodes=4, topology="mesh", node_args=args,
                               sim_args=header("node-args all --reappend-orphans"))
    original = chainlab_cluster(nodes=4, topology="mesh", node_args=args)
    for c in (variant, original):
        reappend_steps(c)
    variant.await_("lost == 0", WITHIN)
    variant.await_("converged", WITHIN)
    assert datas(variant.node(0)) == [None, "first", "left-1", "left-2", "right"]
    assert status(variant.node(2))["variants"]["reappend_orphans"] is True

    original.await_("converged", WITHIN)
    original.expect("lost == 1")  # "right" was acknowledged, then orphaned: nothing brings it back
    assert datas(original.node(2)) == [None, "first", "left-1", "left-2"]
    assert original.report()["appends"]["lost"] == ["right"]

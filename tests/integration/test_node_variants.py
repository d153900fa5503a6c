"""The protocol variants of chainlab-node (README, "Protocol variants"), driven on real nodes.

Each variant is off by default. For each one a test shows the outcome it changes, beside a
control without it. A control's "nothing happened" is judged when the node with the variant has
already done what it does (it serves as the clock), so no test waits a fixed time."""

import json
import sqlite3
import subprocess
from contextlib import closing

import pytest

from conftest import NODE_BIN, make_block, encode, verify_chain, wait_until

TIE = ("--fork-choice", "longest-lowest-hash")


def datas(node):
    return [b["data"] for b in node.blocks()]


def run_node(*args, timeout=10):
    return subprocess.run([str(NODE_BIN), *map(str, args)], capture_output=True, text=True, timeout=timeout)


# ---- /status and --help ----------------------------------------------------------------------


def test_status_lists_the_variants_off_by_default(nodes):
    n = nodes()
    assert n.status()["variants"] == {
        "fork_choice": "longest", "anti_entropy_ms": 0, "sync_on_connect": False,
        "peer_exchange": False, "peer_exchange_interval_ms": 2000, "advertise": n.url,
        "source": None, "reappend_orphans": False,
    }


def test_status_lists_the_variants_on(nodes):
    n = nodes(*TIE, "--anti-entropy", "500", "--sync-on-connect", "--peer-exchange",
              "--peer-exchange-interval", "700", "--advertise", "http://Node-7.example:8080/",
              "--source", "127.0.0.1", "--reappend-orphans")
    assert n.status()["variants"] == {
        "fork_choice": "longest-lowest-hash", "anti_entropy_ms": 500, "sync_on_connect": True,
        "peer_exchange": True, "peer_exchange_interval_ms": 700,
        "advertise": "http://node-7.example:8080", "source": "127.0.0.1", "reappend_orphans": True,
    }


def test_help_lists_the_variants():
    out = run_node("--help").stdout
    for flag in ("--fork-choice RULE", "--anti-entropy MS", "--sync-on-connect", "--peer-exchange",
                 "--peer-exchange-interval MS", "--advertise URL", "--source ADDR", "--reappend-orphans"):
        assert flag in out, flag


@pytest.mark.parametrize("args", [
    ["--fork-choice", "shortest"], ["--anti-entropy", "-1"], ["--anti-entropy", "soon"],
    ["--peer-exchange-interval", "0"], ["--advertise", "ftp://x:1"], ["--advertise", "http://u@x:1"],
    ["--source", "localhost"], ["--source", "127.0.0.1:80"],
], ids=lambda a: " ".join(a))
def test_bad_variant_values_exit_2(args):
    r = run_node(*args, "1")
    assert r.returncode == 2, r.stderr
    assert "usage: chainlab-node" in r.stderr


# ---- --fork-choice ---------------------------------------------------------------------------


def forked_pair(nodes, *args):
    """Two nodes peered both ways, each holding one block of its own at height 1."""
    a, b = nodes(*args), nodes(*args)
    a.append("left")
    b.append("right")
    a.add_peer(b)
    b.add_peer(a)
    return a, b


def test_equal_height_forks_converge_with_the_tie_break(nodes):
    a, b = forked_pair(nodes, *TIE)
    low = min(a.tip(), b.tip(), key=lambda blk: blk["hash"])
    a.sync()
    b.sync()
    for n in (a, b):
        assert n.tip() == low and n.height() == 1
        verify_chain(n.blocks())
    # decided once: more syncs change nothing (no flip-flop)
    for _ in range(2):
        assert a.sync()["replaced"] is False and b.sync()["replaced"] is False
        assert a.tip() == low and b.tip() == low


def test_equal_height_forks_stay_split_without_it(nodes):
    a, b = forked_pair(nodes)
    assert a.sync() == {"replaced": False, "height": 1}
    assert b.sync() == {"replaced": False, "height": 1}
    assert datas(a) == [None, "left"] and datas(b) == [None, "right"]


def test_every_node_decides_a_tie_the_same_way(nodes):
    ns = [nodes(*TIE) for _ in range(4)]
    tips = [n.append(f"fork {i}") for i, n in enumerate(ns)]
    for x in ns:
        for y in ns:
            if x is not y:
                x.add_peer(y)
    for n in ns:
        n.sync()
    low = min(tips, key=lambda blk: blk["hash"])
    wait_until(lambda: all(n.tip() == low for n in ns), 10, "every node on the lowest tip")


def test_tie_block_posted_at_our_height_starts_a_sync(nodes):
    """Under the tie-break a block at our tip's index whose hash is lower is 202 (a sync); a
    higher one is ignored as before."""
    a, b = forked_pair(nodes, *TIE)
    low, high = sorted([a.tip(), b.tip()], key=lambda blk: blk["hash"])
    loser = a if a.tip() == high else b
    assert loser.post("/block", data=encode(high)).json()["result"] == "ignored"
    r = loser.post("/block", data=encode(low))
    assert r.status_code == 202 and r.json()["result"] == "sync"
    wait_until(lambda: loser.tip() == low, 10, "the loser to take the lower tip")
    # without the tie-break the same block is ignored
    c, d = forked_pair(nodes)
    low, high = sorted([c.tip(), d.tip()], key=lambda blk: blk["hash"])
    loser = c if c.tip() == high else d
    assert loser.post("/block", data=encode(low)).json()["result"] == "ignored"
    assert loser.tip() == high


def test_longer_chain_still_wins_over_a_lower_hash(nodes):
    a, b = nodes(*TIE), nodes(*TIE)
    a.append("short")
    for i in range(3):
        b.append(f"long {i}")
    a.add_peer(b)
    assert a.sync() == {"replaced": True, "height": 3}
    assert datas(a) == [None, "long 0", "long 1", "long 2"]


# ---- --anti-entropy --------------------------------------------------------------------------


def partitioned_pair(nodes, *args):
    """Two peered nodes, cut apart (DELETE /peers both ways), one of them appending twice and the
    other once meanwhile, then healed (POST /peers both ways): no append or sync after it."""
    a, b = nodes(*args), nodes(*args)
    a.add_peer(b)
    b.add_peer(a)
    a.remove_peer(b)
    b.remove_peer(a)
    a.append("a1")
    a.append("a2")
    b.append("b1")
    a.add_peer(b)
    b.add_peer(a)
    return a, b


def test_healed_pair_converges_under_anti_entropy_and_not_without(nodes):
    a, b = partitioned_pair(nodes, "--anti-entropy", "50")
    c, d = partitioned_pair(nodes)
    wait_until(lambda: b.blocks() == a.blocks(), 10, "b to take a's longer chain")
    assert datas(b) == [None, "a1", "a2"]
    assert b.status()["syncs_replaced"] == 1
    # the control pair had as long: it stays split, with no sync run at all
    assert datas(c) == [None, "a1", "a2"] and datas(d) == [None, "b1"]
    assert c.status()["syncs"] == 0 and d.status()["syncs"] == 0


def test_anti_entropy_and_the_tie_break_merge_equal_forks_unasked(nodes):
    a, b = forked_pair(nodes, *TIE, "--anti-entropy", "50")
    low = min(a.tip(), b.tip(), key=lambda blk: blk["hash"])
    wait_until(lambda: a.tip() == low and b.tip() == low, 10, "both on the lowest tip")


def test_anti_entropy_asks_one_peer_at_a_time(nodes, fake_peers):
    """Each round is one GET /block to one peer; a peer that cannot win is not fetched."""
    peers = [fake_peers({("GET", "/block"): (200, json.dumps({
        "index": 0, "data": None, "prev_hash": None,
        "hash": "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"}).encode())})
        for _ in range(3)]
    n = nodes("--anti-entropy", "20")
    n.append("ours")
    for p in peers:
        n.add_peer(p.url)
    def asked():
        return sum(len(p.requests_to("GET", "/block")) for p in peers)

    wait_until(lambda: asked() >= 6, 10, "6 rounds")
    assert all(not [r for r in p.requests if r[1].startswith("/blocks")] for p in peers)
    before = asked()
    syncs = n.status()["syncs"]
    # one peer per round: every round asked one (one round may be under way)
    assert before <= syncs + 1 and syncs <= asked()


# ---- --sync-on-connect -----------------------------------------------------------------------


def test_added_peer_is_synced_with_at_once(nodes):
    a = nodes()
    for i in range(3):
        a.append(f"a{i}")
    b = nodes("--sync-on-connect")
    c = nodes()
    b.add_peer(a)
    c.add_peer(a)
    wait_until(lambda: b.height() == 3, 10, "b to sync with the peer it was given")
    assert b.blocks() == a.blocks()
    assert c.height() == 0 and c.status()["syncs"] == 0


def test_sync_on_connect_syncs_only_with_the_added_peer(nodes, fake_peers):
    other = fake_peers({("GET", "/block"): (500, b"{}")})
    a = nodes()
    a.append("a")
    b = nodes("--sync-on-connect")
    b.add_peer(other.url)
    wait_until(lambda: other.requests_to("GET", "/block"), 10, "the sync with the first peer")
    asked = len(other.requests_to("GET", "/block"))
    b.add_peer(a)
    wait_until(lambda: b.height() == 1, 10, "the sync with the second")
    assert len(other.requests_to("GET", "/block")) == asked


# ---- --source --------------------------------------------------------------------------------


def test_source_binds_outgoing_connections(nodes):
    b = nodes()
    a = nodes("--source", "127.0.0.7")
    c = nodes()
    a.add_peer(b)
    c.add_peer(b)
    blk_a = a.append("from seven")
    wait_until(lambda: f"block 1 {blk_a['hash'][:12]} from 127.0.0.7:" in b.log_text(), 10,
               "b to log a's block from 127.0.0.7")
    c.remove_peer(b)
    c.add_peer(a)
    blk_c = c.append("from one")  # height 1 at c: a ignores it, but logs where it came from
    wait_until(lambda: f"block 1 {blk_c['hash'][:12]} from 127.0.0.1:" in a.log_text(), 10,
               "a to log c's block from 127.0.0.1")


def test_source_not_on_this_machine_exits_1():
    r = run_node("--source", "192.0.2.1", "1")
    assert r.returncode == 1
    assert "--source 192.0.2.1: cannot bind" in r.stderr and r.stderr.count("\n") == 1


# ---- --peer-exchange -------------------------------------------------------------------------


def wire_line(ns):
    for x, y in zip(ns, ns[1:]):
        x.add_peer(y)
        y.add_peer(x)


def test_node_knowing_one_seed_ends_up_peered_both_ways(nodes):
    """n0-n1-n2 in a line, n3 knows only n0: every node ends up peered with every other."""
    px = [nodes("--peer-exchange", "--peer-exchange-interval", "50") for _ in range(4)]
    ctl = [nodes() for _ in range(4)]
    for group in (px, ctl):
        wire_line(group[:3])
        group[3].add_peer(group[0])
    everyone = {n.url for n in px}
    wait_until(lambda: all(set(n.peers()) == everyone - {n.url} for n in px), 15,
               "a full mesh of peers")
    assert [set(n.peers()) for n in ctl] == [
        {ctl[1].url}, {ctl[0].url, ctl[2].url}, {ctl[1].url}, {ctl[0].url}]


def test_peer_exchange_validates_what_it_learns(nodes, fake_peers):
    """Each listed URL is offered as a POST /peers body is: bad ones and this node itself are left
    out, --max-peers holds, and this node announces its --advertise URL to the peer."""
    n = nodes("--peer-exchange", "--peer-exchange-interval", "30", "--max-peers", "6",
              "--advertise", "http://127.0.0.1:1/me")
    good = [f"http://127.0.0.1:{port}" for port in range(2, 22)]
    listed = ["file:///etc/passwd", "http://user:pw@127.0.0.1:9", "gopher://127.0.0.1:70", 42, None,
              "http://" + "x" * 600 + ":1", n.url, "http://localhost:%d/" % n.port,
              "http://127.0.0.1:1/me/"] + good
    seed = fake_peers({("GET", "/peers"): (200, json.dumps(listed).encode()),
                       ("POST", "/peers"): (200, b"[]")})
    n.add_peer(seed.url)
    wait_until(lambda: len(n.peers()) == 6, 10, "the peer set to fill up")
    held = n.peers()
    assert held[0] == seed.url and held[1:] == good[:5]
    wait_until(lambda: seed.requests_to("POST", "/peers"), 10, "the announce to the seed")
    assert all(body == b"http://127.0.0.1:1/me" for _, _, body in seed.requests_to("POST", "/peers"))
    assert n.post("/peers", data=b"http://127.0.0.1:1/me").status_code == 400


def test_peer_exchange_with_sync_on_connect_syncs_with_learnt_peers(nodes):
    rich = nodes()
    for i in range(3):
        rich.append(f"r{i}")
    seed = nodes()
    seed.add_peer(rich)
    n = nodes("--peer-exchange", "--peer-exchange-interval", "30", "--sync-on-connect")
    n.add_peer(seed)
    wait_until(lambda: n.height() == 3, 10, "n to learn rich from seed and sync with it")


# ---- --reappend-orphans ----------------------------------------------------------------------


def orphaned(nodes, *args):
    """a acknowledges "mine" at height 1, then syncs to b's longer chain, which lacks it."""
    a, b = nodes(*args), nodes()
    assert a.append("mine")["index"] == 1
    b.append("b1")
    b.append("b2")
    a.add_peer(b)
    assert a.sync()["replaced"] is True
    return a, b


def test_orphaned_append_reappears_on_top(nodes):
    a, b = orphaned(nodes, "--reappend-orphans")
    wait_until(lambda: datas(a) == [None, "b1", "b2", "mine"], 10, "the re-append")
    verify_chain(a.blocks())
    wait_until(lambda: b.blocks() == a.blocks(), 10, "b to get it by the broadcast")
    # done once: another sync changes nothing
    assert a.sync()["replaced"] is False and datas(a).count("mine") == 1


def test_orphaned_append_is_lost_without_it(nodes):
    a, b = orphaned(nodes)
    assert datas(a) == [None, "b1", "b2"]
    assert "mine" not in datas(b)


def test_data_present_elsewhere_is_not_appended_twice(nodes):
    a, b = nodes("--reappend-orphans"), nodes()
    a.append("shared")
    a.append("only here")
    for d in ("b1", "shared", "b3"):
        b.append(d)
    a.add_peer(b)
    assert a.sync()["replaced"] is True
    wait_until(lambda: datas(a) == [None, "b1", "shared", "b3", "only here"], 10, "one re-append")


def test_only_appends_made_here_are_reappended(nodes):
    """A block a node received from a peer is not its own: orphaning it appends nothing."""
    a, b, c = nodes("--reappend-orphans"), nodes(), nodes()
    b.add_peer(a)
    b.append("from b")
    wait_until(lambda: a.height() == 1, 10, "a to receive b's block")
    for i in range(3):
        c.append(f"c{i}")
    a.add_peer(c)
    assert a.sync()["replaced"] is True
    assert datas(a) == [None, "c0", "c1", "c2"]
    assert "reappend" not in a.log_text()


def test_reappend_survives_a_db_restart(nodes, tmp_path):
    db = tmp_path / "a.db"
    a = nodes("--db", db, "--reappend-orphans")
    a.append("kept across the restart")
    a.restart()
    b = nodes()
    for i in range(3):
        b.append(f"b{i}")
    a.add_peer(b)
    assert a.sync()["replaced"] is True
    wait_until(lambda: datas(a) == [None, "b0", "b1", "b2", "kept across the restart"], 10,
               "the re-append after the restart")
    a.restart()  # and the re-appended block is stored like any other
    assert datas(a) == [None, "b0", "b1", "b2", "kept across the restart"]


def test_reappend_record_is_the_databases(nodes, tmp_path):
    """Without --reappend-orphans at the restart nothing is re-appended, though the row stays."""
    db = tmp_path / "a.db"
    a = nodes("--db", db, "--reappend-orphans")
    blk = a.append("recorded")
    a.stop()
    with closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT seq, idx, hash, data FROM own_appends").fetchall()
    assert rows == [(0, 1, blk["hash"], b"recorded")]
    a.args = ["--db", str(db)]
    a.start()
    b = nodes()
    b.append("b0")
    b.append("b1")
    a.add_peer(b)
    assert a.sync()["replaced"] is True
    assert datas(a) == [None, "b0", "b1"]


def test_database_of_the_older_schema_opens_and_is_upgraded(nodes, tmp_path):
    db = tmp_path / "old.db"
    a = nodes("--db", db)
    a.append("written by schema 1")
    a.stop()
    with closing(sqlite3.connect(db)) as con:  # what the previous version wrote: schema 1
        con.execute("DROP TABLE own_appends")
        con.execute("PRAGMA user_version = 1")
        con.commit()
    a.args = ["--db", str(db), "--reappend-orphans"]
    a.start()
    assert datas(a) == [None, "written by schema 1"]
    a.append("recorded now")
    a.stop()
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone() == (2,)
        assert [r[0] for r in con.execute("SELECT data FROM own_appends")] == [b"recorded now"]


def test_append_orphaned_while_it_was_answered_is_reappended(nodes, fake_peers):
    """A chain replaced between an append and its record: found when the record is made."""
    a = nodes("--reappend-orphans")
    b = nodes()
    for i in range(5):
        b.append(f"b{i}")
    a.add_peer(b)
    for i in range(20):  # appends racing a sync that replaces the chain under them
        a.append(f"mine {i}")
        if i == 3:
            a.post("/block", data=encode(make_block(b.tip(), "far", index=9)))
    a.sync()
    wait_until(lambda: all(f"mine {i}" in datas(a) for i in range(20)), 10, "every append kept")
    assert len(datas(a)) == len(set(datas(a)))

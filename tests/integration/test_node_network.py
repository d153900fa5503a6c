"""chainlab-node in networks: propagation, resync after downtime, a hung peer, concurrent
appends, paged syncs of long chains, and a network shared with the stand-in for the original
toy node (original.py)."""

import json
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import (
    WAIT_S,
    GENESIS,
    NODE_BIN,
    Cluster,
    block_hash,
    encode,
    load_vectors,
    make_chain,
    verify_chain,
    wait_converged,
    wait_until,
)
from original import OriginalNode

# ---- propagation -----------------------------------------------------------------------------


def test_two_nodes_propagate(nodes):
    c = nodes.cluster(2, "mesh")
    a, b = c
    blocks = [a.append(f"from a {i}") for i in range(3)]
    assert c.wait_converged(WAIT_S, min_height=3) == (3, blocks[-1]["hash"])
    assert b.blocks_bytes() == a.blocks_bytes() == encode([GENESIS] + blocks)
    more = b.append("from b")
    assert c.wait_converged(WAIT_S, min_height=4) == (4, more["hash"])
    assert a.blocks_bytes() == b.blocks_bytes()
    assert a.status()["posts_sent"] >= 3 and b.status()["posts_sent"] >= 1


@pytest.mark.parametrize("topology", Cluster.TOPOLOGIES)
def test_five_nodes_propagate(nodes, topology):
    c = nodes.cluster(5, topology)
    assert [len(n.peers()) for n in c] == [
        sum(1 for a, _ in Cluster.edges(5, topology) if a == i) for i in range(5)
    ]
    for i in range(3):
        c[4].append(f"from the last node {i}")
    c.wait_converged(WAIT_S, min_height=3)
    for i in range(2):
        c[0].append(f"from the first node {i}")
    c.wait_converged(WAIT_S, min_height=5)
    chains = [n.blocks_bytes() for n in c]
    assert all(x == chains[0] for x in chains)
    chain = json.loads(chains[0])
    verify_chain(chain)
    assert [b["data"] for b in chain[1:]] == [f"from the last node {i}" for i in range(3)] + [
        f"from the first node {i}" for i in range(2)
    ]


def test_sync_after_a_node_was_offline(nodes):
    c = nodes.cluster(3, "mesh")
    for i in range(2):
        c[0].append(f"before {i}")
    c.wait_converged(WAIT_S, min_height=2)
    assert c[2].stop() == 0
    for i in range(3):
        c[0].append(f"while 2 was away {i}")
    wait_converged(c.nodes[:2], WAIT_S, min_height=5)
    wait_until(lambda: c[0].status()["posts_failed"] >= 1, WAIT_S, "node 0 to count its failed posts to node 2")

    c[2].start()  # the same port, an empty chain
    assert c[2].height() == 0
    c[2].add_peer(c[0])
    c[2].add_peer(c[1])
    r = c[2].post("/sync")
    assert r.status_code == 200 and r.content == b'{"replaced": true, "height": 5}'
    c.wait_converged(WAIT_S, min_height=5)
    assert c[2].blocks_bytes() == c[0].blocks_bytes()
    after = c[2].append("after the return")
    assert c.wait_converged(WAIT_S, min_height=6) == (6, after["hash"])


def test_restart_with_initial_peers_syncs_by_itself(nodes):
    a, b = nodes.many(2)
    for i in range(4):
        a.append(f"a{i}")
    b.add_peer(a)
    assert b.sync()["height"] == 4
    b.stop()
    a.append("a4")
    n = nodes("--peer", a.url, port=b.port, name="b-again")
    wait_converged([a, n], WAIT_S, min_height=5)
    assert n.peers() == [a.url]


# ---- a hung peer -----------------------------------------------------------------------------


# Time bounds here compare with what a wrong node would do (wait for a peer that never answers:
# --timeout, 60 s), never with how fast a right one is; a loaded machine stays far inside them.
HUNG_TIMEOUT_MS = 60000


def test_hanging_peer_does_not_slow_the_network(nodes, fake_peers):
    hung = fake_peers.hanging()
    wait_s = 2.0
    c = nodes.cluster(3, "mesh", "--timeout", str(HUNG_TIMEOUT_MS), "--connect-timeout", "500",
                      "--broadcast-wait", str(int(wait_s * 1000)))
    for n in c:
        n.add_peer(hung.url)
    for i in range(9):
        t0 = time.monotonic()
        b = c[i % 3].append(f"with a hung peer {i}")
        took = time.monotonic() - t0
        # A node's first broadcast waits for the hung peer until --broadcast-wait (not until
        # --timeout); after that the peer is known to lag and /append answers as soon as the live
        # peers have the block, without waiting out --broadcast-wait again.
        limit = 10 * wait_s if i < 3 else wait_s
        assert took < limit, f"/append {i} took {took:.2f}s with a hung peer (limit {limit}s)"
        c.wait_converged(min_height=b["index"])
    wait_until(lambda: hung.accepted >= 3, what="every node to connect to the hung peer")
    assert all(n.get("/status").status_code == 200 for n in c)


def test_sync_waits_for_a_hung_peer_only_until_the_timeout(nodes, fake_peers):
    hung = fake_peers.hanging()
    a = nodes()
    for i in range(3):
        a.append(f"a{i}")
    b = nodes("--timeout", "1000")
    b.add_peer(hung.url)
    b.add_peer(a)
    t0 = time.monotonic()
    r = b.post("/sync", timeout=HUNG_TIMEOUT_MS / 1000)
    took = time.monotonic() - t0
    assert r.status_code == 200 and r.json() == {"replaced": True, "height": 3}
    assert took >= 0.9, f"POST /sync answered after {took:.2f}s: before the hung peer timed out"
    assert took < 10, f"POST /sync took {took:.2f}s with a 1 s peer timeout"
    assert "Timeout was reached" in b.log_text()


def test_no_broadcast_wait_answers_at_once(nodes, fake_peers):
    """With --broadcast-wait 0 an /append does not wait for a peer that never answers (which would
    take --timeout, 60 s)."""
    hung = fake_peers.hanging()
    n = nodes("--broadcast-wait", "0", "--timeout", str(HUNG_TIMEOUT_MS))
    n.add_peer(hung.url)
    for i in range(3):
        t0 = time.monotonic()
        n.append(f"x{i}")
        took = time.monotonic() - t0
        assert took < HUNG_TIMEOUT_MS / 1000 / 10, f"/append {i} took {took:.2f}s"
    wait_until(lambda: hung.accepted >= 1, what="the node to connect to the hung peer")


def test_append_answers_after_the_peers_have_the_block(nodes):
    """With the default --broadcast-wait, a peer holds the block once /append has answered."""
    c = nodes.cluster(3, "star")
    for i in range(5):
        b = c[0].append(f"b{i}")
        assert c[1].tip() == b and c[2].tip() == b


def test_hanging_peer_does_not_stop_a_newcomer_syncing(nodes, fake_peers):
    hung = fake_peers.hanging()
    a = nodes("--timeout", "1500")
    for i in range(3):
        a.append(f"a{i}")
    b = nodes("--timeout", "1500", "--peer", hung.url, "--peer", a.url)
    wait_converged([a, b], WAIT_S, min_height=3)


# ---- concurrent appends ----------------------------------------------------------------------


def append_many(url, prefix, count, out, errors):
    s = requests.Session()
    try:
        for i in range(count):
            data = f"{prefix} {i}"
            r = s.post(url + "/append", data=data.encode(), timeout=10)
            if r.status_code != 200:
                errors.append((data, r.status_code, r.text))
                continue
            out.append((data, r.content))
    except Exception as e:
        errors.append((prefix, type(e).__name__, str(e)))
    finally:
        s.close()


def run_threads(targets):
    threads = [threading.Thread(target=append_many, args=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an append thread hung"


def test_concurrent_appends_on_one_node(nodes):
    n = nodes("--threads", "4")
    out, errors = [], []
    run_threads([(n.url, f"thread {t}", 25, out, errors) for t in range(8)])
    assert errors == []
    assert len(out) == 200
    chain = n.blocks()
    verify_chain(chain)
    assert len(chain) == 201
    for data, raw in out:
        b = json.loads(raw)
        assert b["data"] == data and b["hash"] == block_hash(b["index"], data, b["prev_hash"])
        assert chain[b["index"]] == b, "every answered block is in the chain where it said"
        assert raw == encode(b)
    assert sorted(b["data"] for b in chain[1:]) == sorted(d for d, _ in out)


def test_concurrent_appends_on_several_nodes(nodes):
    c = nodes.cluster(3, "mesh")
    outs = [[] for _ in c]
    errors = []
    run_threads([(n.url, f"node {i} thread {t}", 15, outs[i], errors) for i, n in enumerate(c) for t in range(2)])
    assert errors == []
    assert [len(o) for o in outs] == [30, 30, 30]
    # A node's height never goes down: it is at least the number of its own appends.
    heights = c.heights()
    assert all(h >= 30 for h in heights), heights
    # Appends on different nodes fork and chains of equal length never replace each other, so
    # break a possible tie: one more block on a longest chain makes it the only longest one.
    top = max(range(len(c)), key=lambda i: heights[i])
    last = c[top].append("tie-breaker")
    height, tip = c.wait_converged(WAIT_S, min_height=last["index"])
    assert height >= 30 and tip == last["hash"]
    chains = [n.blocks_bytes() for n in c]
    assert chains[0] == chains[1] == chains[2]
    verify_chain(json.loads(chains[0]))


# ---- paged syncs of long chains ---------------------------------------------------------------


def serve(handler, payload, status=200):
    """Write a whole answer from a FakePeer route."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    try:
        handler.wfile.write(payload)
    except OSError:
        pass


def compact(obj):
    """Valid JSON, but not json.dumps' bytes (no spaces)."""
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def paged_peer(fake_peers, chain, page_source=None, honour_query=True, dumps=encode):
    """A FakePeer holding chain: GET /block answers its tip, GET /blocks?from=F&limit=L the slice
    [F, F+L) of page_source(F) (default: chain), GET /blocks the whole chain. With honour_query
    False every GET /blocks answers the whole chain, as the original does."""

    def blocks(handler, body):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
        if not honour_query or "from" not in query:
            serve(handler, dumps(chain))
            return
        start = int(query["from"][0])
        source = page_source(start) if page_source else chain
        limit = int(query["limit"][0]) if "limit" in query else len(source)
        serve(handler, dumps(source[start : start + limit]))

    return fake_peers({("GET", "/block"): (200, encode(chain[-1])), ("GET", "/blocks"): blocks})


def blocks_asked(peer):
    return [path for method, path, _ in peer.requests if method == "GET" and path.startswith("/blocks")]


def peer_log_lines(node, offset, peer):
    return [line for line in node.log_since(offset).splitlines() if peer.url in line]


def test_help_documents_sync_page():
    r = subprocess.run([str(NODE_BIN), "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--sync-page BLOCKS" in r.stdout


@pytest.mark.parametrize("height", [8, 47, 48])
def test_paged_sync_from_a_c_node(nodes, height):
    """A chain longer than a page comes in pages and ends byte-identical, whatever the last page."""
    a = nodes()
    s = requests.Session()
    for i in range(height):
        r = s.post(a.url + "/append", data=f"block {i} \u00e9 \" \\".encode(), timeout=10)
        assert r.status_code == 200
    s.close()
    b = nodes("--sync-page", "8")
    b.append("b's own, shorter")
    b.add_peer(a)
    off = b.log_size()
    assert b.sync() == {"replaced": True, "height": height}
    assert b.blocks_bytes() == a.blocks_bytes()
    verify_chain(b.blocks())
    assert f"fetching {height // 8 + 1} pages of 8 blocks" in b.log_since(off)
    tip = a.tip()
    after = b.append("after the paged sync")
    assert after["index"] == height + 1 and after["prev_hash"] == tip["hash"]


def test_paged_sync_asks_for_every_page_once(nodes, fake_peers):
    chain = make_chain([f"p{i}" for i in range(1, 30)])  # height 29: pages from 0, 10, 20
    peer = paged_peer(fake_peers, chain)
    n = nodes("--sync-page", "10")
    n.add_peer(peer.url)
    assert n.sync() == {"replaced": True, "height": 29}
    assert n.blocks_bytes() == encode(chain)
    assert sorted(blocks_asked(peer)) == [f"/blocks?from={k}&limit=10" for k in (0, 10, 20)]
    assert len(peer.requests_to("GET", "/block")) == 1


@pytest.mark.parametrize("dumps", [encode, compact], ids=["json.dumps", "compact-json"])
def test_paged_sync_from_a_peer_that_ignores_the_query(nodes, fake_peers, dumps):
    """An original answers every page with its whole chain: that answer is the chain."""
    chain = make_chain([f"w{i}" for i in range(1, 41)])
    peer = paged_peer(fake_peers, chain, honour_query=False, dumps=dumps)
    n = nodes("--sync-page", "8")
    n.append("mine")
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": True, "height": 40}
    assert n.blocks_bytes() == encode(chain)  # json.dumps bytes, even from compact JSON
    assert any("ignores ?from=&limit=" in line for line in peer_log_lines(n, off, peer))
    # Asked from its tip + 1 on (several pages are in flight: the order the peer sees them in is
    # not defined). Either answer is recognised as the whole chain and used as it is: nothing is
    # asked again from genesis.
    asked = blocks_asked(peer)
    assert "/blocks?from=2&limit=8" in asked, asked
    assert not [p for p in asked if p == "/blocks" or p.startswith("/blocks?from=0&")], asked


def test_c_node_syncs_a_long_chain_from_an_original_node(nodes, original):
    for i in range(30):
        assert original.post("/append", data=f"o{i}".encode()).status_code == 200
    n = nodes("--sync-page", "8")
    n.add_peer(original.url)
    assert n.sync() == {"replaced": True, "height": 30}
    assert n.blocks_bytes() == original.get("/blocks").content


def test_peer_whose_chain_changes_between_pages_is_ignored(nodes, fake_peers):
    """Page 0 comes from one chain, the later pages from a longer fork that replaced it."""
    first = make_chain([f"a{i}" for i in range(1, 41)])
    second = make_chain([f"b{i}" for i in range(1, 46)])
    serving = {"page 0": first, "later pages": second}
    peer = paged_peer(fake_peers, first,
                      page_source=lambda start: serving["page 0" if start == 0 else "later pages"])
    n = nodes("--sync-page", "8")
    n.append("mine 1")
    n.append("mine 2")
    n.add_peer(peer.url)
    before = n.blocks_bytes()
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 2}
    assert n.blocks_bytes() == before
    lines = peer_log_lines(n, off, peer)
    assert any("warn" in line and "changed while its pages were fetched" in line for line in lines), lines
    # once the peer serves one chain again, the next sync takes it
    serving["page 0"] = second
    peer.routes[("GET", "/block")] = (200, encode(second[-1]))
    assert n.sync() == {"replaced": True, "height": 45}
    assert n.blocks_bytes() == encode(second)


def test_invalid_page_is_ignored(nodes, fake_peers):
    chain = make_chain([f"v{i}" for i in range(1, 41)])
    chain[20] = dict(chain[20], data="tampered")
    peer = paged_peer(fake_peers, chain)
    n = nodes("--sync-page", "8")
    n.append("mine")
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 1}
    lines = peer_log_lines(n, off, peer)
    assert any("warn" in line and "block 20: hash does not match" in line for line in lines), lines


def test_max_chain_bytes_counts_every_page(nodes, fake_peers):
    chain = make_chain(["x" * 400 for _ in range(20)])  # every page of 4 is ~2.3 KB, all ~11 KB
    peer = paged_peer(fake_peers, chain)
    n = nodes("--sync-page", "4", "--max-chain-bytes", "4096")
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 0}
    assert any("more than 4096 bytes" in line for line in peer_log_lines(n, off, peer))
    assert 1 <= len(blocks_asked(peer)) <= 5


def test_peer_not_above_our_height_is_not_fetched(nodes, fake_peers):
    """Only a strictly longer chain can replace ours: a peer whose tip is not higher is skipped."""
    n = nodes()
    for i in range(3):
        n.append(f"mine {i}")
    fork = make_chain(["p1", "p2", "p3"])
    peer = fake_peers({("GET", "/block"): (200, encode(fork[-1])), ("GET", "/blocks"): (200, encode(fork))})
    n.add_peer(peer.url)
    assert n.sync() == {"replaced": False, "height": 3}
    assert peer.requests_to("GET", "/block") and blocks_asked(peer) == []


# ---- a network with an original-style node ----------------------------------------------------


class Original(OriginalNode):
    """The stand-in for the original node (original.py), served in a thread, with the tests'
    HTTP helpers."""

    def __init__(self):
        super().__init__(peer_timeout=2)
        self.session = requests.Session()

    def get(self, path, **kw):
        return self.session.get(self.url + path, timeout=10, **kw)

    def post(self, path, data=b"", **kw):
        return self.session.post(self.url + path, data=data, timeout=10, **kw)


@pytest.fixture
def original():
    o = Original().start()
    yield o
    o.stop()


def test_c_node_syncs_from_an_original_node(nodes, original):
    for d in ["hello world", "café ☃ 😀", 'quote " \\ /']:
        assert original.post("/append", data=d.encode()).status_code == 200
    n = nodes()
    n.add_peer(original.url)
    r = n.post("/sync")
    assert r.status_code == 200 and r.json() == {"replaced": True, "height": 3}
    assert n.blocks_bytes() == original.get("/blocks").content


def test_original_node_syncs_from_a_c_node(nodes, original):
    n = nodes()
    for d in ["one", "two\nlines", "ü" * 300]:
        n.append(d)
    original.post("/peers", data=n.url.encode())
    r = original.post("/sync")
    assert (r.status_code, r.content) == (200, b"")  # the original answers nothing
    assert original.get("/blocks").content == n.blocks_bytes()


def test_mixed_network_with_an_original_node(nodes, original):
    """original <-> A <-> B: blocks flow both ways through C and Python nodes alike."""
    vectors = load_vectors()
    a, b = nodes.many(2)
    for x, y in [(a, b), (b, a)]:
        x.add_peer(y)
    a.add_peer(original.url)
    original.post("/peers", data=a.url.encode())
    everyone = [original, a, b]

    half = len(vectors) // 2
    for v in vectors[1:half]:
        r = original.post("/append", data=v["data"].encode())
        assert (r.status_code, r.content) == (200, b"")  # the original answers nothing
    wait_converged(everyone, WAIT_S, min_height=half - 1)
    for v in vectors[half:]:
        assert b.post("/append", data=v["data"].encode()).content == encode(v)
    wait_converged(everyone, WAIT_S, min_height=len(vectors) - 1)
    for node in everyone:
        assert node.get("/blocks").content == encode(vectors), f"{node.url} differs"


# ---- a node that holds blocks asks only for the ones it lacks ---------------------------------


def hold(node, chain):
    """Give node the blocks of chain after genesis, posted in order (they must extend its tip)."""
    for b in chain[1:]:
        assert node.post("/block", data=encode(b)).status_code in (200, 201)
    assert node.blocks() == chain


@pytest.mark.parametrize("page, asked", [(10, ["/blocks?from=31&limit=10"]),
                                         (4, [f"/blocks?from={k}&limit=4" for k in (31, 35, 39)])])
def test_sync_fetches_only_the_blocks_after_our_tip(nodes, fake_peers, page, asked):
    chain = make_chain([f"s{i}" for i in range(1, 41)])
    peer = paged_peer(fake_peers, chain)
    n = nodes("--sync-page", str(page))
    hold(n, chain[:31])
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": True, "height": 40}
    assert n.blocks_bytes() == encode(chain)
    assert sorted(blocks_asked(peer), key=lambda p: int(p.split("from=")[1].split("&")[0])) == asked
    assert "from block 31" in "\n".join(peer_log_lines(n, off, peer))
    # the joined chain goes on: an append chains to the fetched tip
    assert n.append("after")["prev_hash"] == chain[-1]["hash"]


def test_peer_forked_below_our_tip_is_fetched_whole(nodes, fake_peers):
    mine = make_chain([f"m{i}" for i in range(1, 6)])
    theirs = make_chain([f"m{i}" for i in range(1, 3)] + [f"t{i}" for i in range(3, 13)])
    peer = paged_peer(fake_peers, theirs)
    n = nodes()
    hold(n, mine)
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": True, "height": 12}
    assert n.blocks_bytes() == encode(theirs)
    assert blocks_asked(peer) == ["/blocks?from=6&limit=5000", "/blocks"]
    assert any("forked below our tip" in line for line in peer_log_lines(n, off, peer))


def test_peer_whose_blocks_after_our_tip_are_invalid_is_ignored(nodes, fake_peers):
    chain = make_chain([f"v{i}" for i in range(1, 21)])
    bad = [dict(b) for b in chain]
    bad[15]["data"] = "tampered"  # its hash no longer matches
    peer = paged_peer(fake_peers, bad)
    n = nodes()
    hold(n, chain[:11])
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 10}
    assert n.blocks() == chain[:11]
    assert any("block 15" in line for line in peer_log_lines(n, off, peer))
    assert blocks_asked(peer) == ["/blocks?from=11&limit=5000"], "bad blocks are not fetched twice"

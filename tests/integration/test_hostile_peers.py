"""chainlab-node against hostile peers (hostile.HostilePeer): peers that stall, drip one byte a
second, close mid-body, never stop talking, redirect, answer junk or giant headers, serve a long
chain with one bad block deep inside or another genesis, loop back to the node itself, or bait
it with a flood of blocks while they serve their chain slowly.

In every case the node keeps serving (a fresh GET /block answers within FRESH_S), its chain is
intact (the blocks it held, or the right longer valid chain) and its log names what it refused
and why.

Already covered elsewhere and not repeated here: test_node_bad_input.py (bad chains in one
answer: malformed JSON, bad hashes, another genesis, HTTP errors, a 302 to file://, an endless
body and a lying Content-Length on GET /blocks, every spelling of the node's own URL on POST and
DELETE /peers) and test_node_network.py (a peer that accepts and never reads nor answers).
"""

import re
import subprocess
import threading
import time

import pytest
import requests

from conftest import WAIT_S, GENESIS, NODE_BIN, block_hash, encode, free_ports, make_block, make_chain, wait_until
from hostile import (
    HostilePeer,
    answer,
    cut,
    drip,
    dumps,
    endless,
    head,
    huge_header,
    raw,
    redirect,
    serve_chain,
    silent,
)

FRESH_S = 2.0  # s a fresh GET /block (or an /append) may take while a peer misbehaves
TIMEOUT_MS = 1500  # --timeout for the cases about stalls: small, so each case is quick
LONGER = make_chain([f"peer block {i}" for i in range(1, 11)])  # height 10: more than the node holds
IGNORED = answer(200, b'{"result": "ignored", "height": 10}')  # a peer's answer to POST /block


@pytest.fixture
def hostile():
    """Factory: hostile(routes) starts a HostilePeer; all are stopped on teardown."""
    started = []

    def start(routes=None, **kw):
        p = HostilePeer(routes, **kw).start()
        started.append(p)
        return p

    yield start
    for p in reversed(started):
        p.stop()


def serving(node):
    """GET /block on a fresh connection: it must answer 200 within FRESH_S. Returns the tip."""
    r = requests.get(node.url + "/block", timeout=FRESH_S)
    assert r.status_code == 200, f"GET /block: {r.status_code} {r.text[:200]}"
    return r.json()


def held_node(nodes, *args, blocks=2):
    """A node started with args that holds `blocks` blocks of its own. Returns (node, chain)."""
    n = nodes(*args)
    chain = [dict(GENESIS)] + [n.append(f"mine {i}") for i in range(blocks)]
    return n, chain


def logged(node, offset, peer, *words):
    """The first log line since offset that names peer and holds every word (AssertionError with
    the peer's lines when there is none)."""
    lines = [line for line in node.log_since(offset).splitlines() if peer.url in line]
    for line in lines:
        if all(w in line for w in words):
            return line
    raise AssertionError(f"no log line for {peer.url} with {words}; its lines:\n" + "\n".join(lines))


def wait_posted(node, peer, block, counter):
    """Wait until peer got block by POST /block and the node counted every POST /block it sent
    the peer under counter ("posts_sent" or "posts_failed"). A block appended just before the
    peer was added may reach it too: the worker sends to the peers it knows when it gets there."""
    body = encode(block)

    def done():
        posts = peer.requests_to("POST", "/block")
        return any(r.body == body for r in posts) and node.status()[counter] == len(posts)

    wait_until(done, WAIT_S, f"the POST /block of block {block['index']} to count in {counter}")


def peak_rss_kb(pid):
    """VmHWM of pid: the most resident memory it ever had, in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def flip(h):
    return ("1" if h[0] == "0" else "0") + h[1:]


# ---- 1, 2. a peer that drips or stalls: the sync gives up by its timeout ----------------------

TIP = dumps(LONGER[-1])
# (id, the path that stalls, its behaviour)
STALLS = [
    ("drip-block-1-byte-a-second", "/block", drip(200, TIP, interval=1.0)),
    ("drip-blocks-body-1-byte-a-second", "/blocks", drip(200, dumps(LONGER), interval=1.0, head_at_once=True)),
    ("silent-block", "/block", silent()),
    ("silent-blocks", "/blocks", silent()),
    ("head-then-silence-blocks", "/blocks", silent(after=head(200, [("Content-Type", "application/json")], 5000))),
]


@pytest.mark.parametrize("path,stall", [pytest.param(p, s, id=i) for i, p, s in STALLS])
def test_stalling_peer_is_given_up_at_the_timeout(nodes, hostile, path, stall):
    routes = {("GET", "/block"): answer(200, TIP), ("POST", "/block"): IGNORED, ("GET", path): stall}
    peer = hostile(routes)
    n, chain = held_node(nodes, "--timeout", str(TIMEOUT_MS), "--connect-timeout", "500")
    n.add_peer(peer.url)
    off = n.log_size()
    result = {}

    def sync():
        t0 = time.monotonic()
        r = requests.post(n.url + "/sync", timeout=30 * TIMEOUT_MS / 1000)
        result["took"] = time.monotonic() - t0
        result["answer"] = (r.status_code, r.json())

    t = threading.Thread(target=sync)
    t.start()
    try:
        wait_until(lambda: peer.requests_to("GET", path), WAIT_S, f"the sync to ask the peer GET {path}")
        # The sync is held by the peer now: the node still serves and appends at once.
        assert serving(n) == chain[-1]
        r = requests.post(n.url + "/append", data=b"during the stall", timeout=FRESH_S)
        assert r.status_code == 200
        sync_still_waiting = "answer" not in result
    finally:
        t.join(30 * TIMEOUT_MS / 1000 + 2)
    assert sync_still_waiting, "the /append waited for the stalled sync"
    appended = r.json()
    assert result["answer"] == (200, {"replaced": False, "height": 3})
    # bounded by --timeout (a node that waited for the stalled peer would not answer at all)
    assert result["took"] < 10 * TIMEOUT_MS / 1000, f"POST /sync took {result['took']:.1f}s"
    assert n.blocks() == chain + [appended]
    assert serving(n) == appended
    assert peer.requests_to("POST", "/block")[-1].body == encode(appended), "the broadcast went out meanwhile"
    # a node holding blocks asks GET /blocks?from=<its tip + 1>&limit=...
    line = logged(n, off, peer, f"sync: GET {path}", "failed: Timeout was reached")
    assert re.search(r"timed out after \d+ milliseconds", line), line


# ---- 3. a peer that closes mid-body ------------------------------------------------------------

PAGED = make_chain([f"paged {i}" for i in range(1, 41)])  # height 40: 3 pages with --sync-page 20


def cut_page_20(conn, req):
    """A paging peer whose page from=20 is cut short; the other pages are whole."""
    if req.query.get("from") == "20":
        cut(200, dumps(PAGED[20:40]), keep=0.6)(conn, req)
    else:
        serve_chain(PAGED)[("GET", "/blocks")](conn, req)


# (id, the peer's routes, its honest chain, what the log says failed)
CUTS = [
    ("tip-content-length", {("GET", "/block"): cut(200, TIP)}, LONGER,
     ("GET /block failed: Transferred a partial file",)),
    ("chain-chunked", {("GET", "/block"): answer(200, TIP), ("GET", "/blocks"): cut(200, dumps(LONGER), chunked=True)},
     LONGER, ("GET /blocks?from=3&limit=20 failed: Transferred a partial file",)),
    ("page-content-length", {("GET", "/block"): answer(200, dumps(PAGED[-1])), ("GET", "/blocks"): cut_page_20},
     PAGED, ("GET /blocks?from=20&limit=20 failed: Transferred a partial file",)),
]


@pytest.mark.parametrize("routes,honest,failed", [pytest.param(r, h, f, id=i) for i, r, h, f in CUTS])
def test_peer_closing_mid_body_is_ignored_until_it_answers_whole(nodes, hostile, routes, honest, failed):
    peer = hostile({("POST", "/block"): IGNORED, **routes})
    n, chain = held_node(nodes, "--sync-page", "20")
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 2}
    assert serving(n) == chain[-1]
    assert n.blocks() == chain
    line = logged(n, off, peer, *failed)
    assert "remaining" in line, f"the log should say what was missing: {line}"
    # The same peer answering whole again: the next sync takes its longer chain.
    peer.routes.update(serve_chain(honest))
    assert n.sync() == {"replaced": True, "height": honest[-1]["index"]}
    assert n.blocks() == honest
    logged(n, off, peer, "is reachable again")


# ---- 4. a body that never ends ----------------------------------------------------------------

LIMIT = 8 * 1024 * 1024  # --max-chain-bytes for the endless bodies
STREAM_START = b"[" + encode(GENESIS) + b", "  # a chain's beginning, then blocks for ever
STREAM_BLOCK = encode(make_block(GENESIS, "x" * 200)) + b", "
RSS_GROWTH_KB = 5 * LIMIT // 1024  # generous: the buffer for LIMIT bytes, doubled, and slack

OVER_LIMIT = f"sync: ignoring the chain: more than {LIMIT} bytes"
# (id, the peer's routes, node flags, what the log says)
ENDLESS = [
    ("chunked", {("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK)},
     ["--max-chain-bytes", LIMIT], [OVER_LIMIT]),
    ("until-close", {("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK, chunked=False)},
     ["--max-chain-bytes", LIMIT], [OVER_LIMIT]),
    ("paged",
     {("GET", "/block"): answer(200, dumps(PAGED[-1])), ("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK)},
     ["--max-chain-bytes", LIMIT, "--sync-page", "10"], [OVER_LIMIT]),
    ("slow-under-the-limit", {("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK, interval=0.02)},
     ["--max-chain-bytes", 64 * LIMIT, "--timeout", TIMEOUT_MS], [("sync: GET /blocks", "failed: Timeout was reached")]),
    ("tip-too", {("GET", "/block"): endless(b"{", b" "), ("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK)},
     ["--max-chain-bytes", LIMIT], ["no height from GET /block (more than 1048576 bytes)", OVER_LIMIT]),
]


@pytest.mark.parametrize("routes,flags,reasons", [pytest.param(r, f, w, id=i) for i, r, f, w in ENDLESS])
def test_endless_body_is_cut_off_by_a_limit(nodes, hostile, routes, flags, reasons):
    peer = hostile({("GET", "/block"): answer(200, TIP), ("POST", "/block"): IGNORED, **routes})
    n, chain = held_node(nodes, *flags)
    n.add_peer(peer.url)
    before_kb = peak_rss_kb(n.pid)
    off = n.log_size()
    assert n.sync(timeout=TIMEOUT_MS / 1000 + 10) == {"replaced": False, "height": 2}
    assert serving(n) == chain[-1]
    assert n.blocks() == chain
    grew = peak_rss_kb(n.pid) - before_kb
    assert grew < RSS_GROWTH_KB, f"peak RSS grew by {grew} kB reading an endless body"
    for reason in reasons:
        logged(n, off, peer, *(reason if isinstance(reason, tuple) else (reason,)))


def test_peer_claiming_an_absurd_height_is_not_fetched(nodes, hostile):
    """A tip too high to fit in --max-chain-bytes: the chain is refused before any GET /blocks."""
    tip = make_block({"index": 2**53 - 2, "hash": "ab" * 32}, "top")
    peer = hostile({("GET", "/block"): answer(200, encode(tip)),
                    ("GET", "/blocks"): endless(STREAM_START, STREAM_BLOCK)})
    n, chain = held_node(nodes, "--max-chain-bytes", LIMIT)
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 2}
    assert n.blocks() == chain
    assert peer.requests_to("GET", "/blocks") == []
    logged(n, off, peer, f"sync: ignoring the chain: more than {LIMIT} bytes (height {2**53 - 1})")


# ---- 5. redirects are never followed ------------------------------------------------------------


@pytest.mark.parametrize("target", ["file:///etc/passwd", "file-with-a-longer-chain", "http-with-a-longer-chain"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_never_followed(nodes, hostile, tmp_path, status, target):
    """Every answer of the peer (GET /block, GET /blocks, POST /block) is a redirect. Where it
    points holds a valid longer chain (a file, or a second listener), so following it could show
    as a replaced chain, and the listener counts every connection. (A followed file:// answer
    would also meet the node's 200-only check, so for the file targets the log's "HTTP 3xx" and
    the kept chain are the witnesses, not proof that nothing was read.)"""
    bait = hostile(serve_chain(LONGER))
    (tmp_path / "tip.json").write_bytes(TIP)
    (tmp_path / "chain.json").write_bytes(dumps(LONGER))

    def location(path):
        if target.startswith("file:"):
            return target
        if target.startswith("file-"):
            return (tmp_path / ("tip.json" if path == "/block" else "chain.json")).as_uri()
        return bait.url + path

    peer = hostile({(m, p): redirect(status, location(p))
                    for m, p in [("GET", "/block"), ("GET", "/blocks"), ("POST", "/block")]})
    n, chain = held_node(nodes, blocks=1)
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 1}
    appended = n.append("broadcast to a redirecting peer")
    wait_posted(n, peer, appended, "posts_failed")
    assert serving(n) == appended
    assert n.blocks() == chain + [appended]
    assert bait.accepted == 0, f"a redirect was followed to {bait.url}: {bait.requests}"
    assert len(peer.requests_to("GET", "/block")) == len(peer.requests_to("GET", "/blocks")) == 1
    assert {(r.method, r.path) for r in peer.requests} == {("GET", "/block"), ("GET", "/blocks"), ("POST", "/block")}
    logged(n, off, peer, f"no height from GET /block (HTTP {status})")
    logged(n, off, peer, f"sync: GET /blocks answered HTTP {status}")
    logged(n, off, peer, f"POST /block answered HTTP {status}")


# ---- 6, 7. a long chain with one bad block deep inside, or another genesis ----------------------

DEEP = make_chain([f"deep {i}" for i in range(1, 1001)])  # height 1000
PAGING = [pytest.param([], id="one-answer"), pytest.param(["--sync-page", "100"], id="pages-of-100")]


def damaged(chain, i, how):
    chain = [dict(b) for b in chain]
    b = chain[i]
    if how == "hash":
        b["hash"] = flip(b["hash"])
    elif how == "data":
        b["data"] = "tampered"
    else:  # a valid chain from block i on, that does not chain to block i - 1
        fork = make_block(chain[i - 1], b["data"], prev_hash="0" * 64)
        chain[i:] = make_chain([x["data"] for x in chain[i + 1 :]], start=[fork])
    return chain


# (how block 500 is damaged, what the log says of it)
DAMAGE = [("hash", "block 500: hash does not match"), ("data", "block 500: hash does not match"),
          ("link", "block 500: ")]  # one answer: "does not chain to block 499"; pages: "do not join"


@pytest.mark.parametrize("flags", PAGING)
@pytest.mark.parametrize("how,reason", [pytest.param(h, r, id=h) for h, r in DAMAGE])
def test_one_bad_block_deep_inside_rejects_the_chain(nodes, hostile, flags, how, reason):
    peer = hostile(serve_chain(damaged(DEEP, 500, how)))
    n, chain = held_node(nodes, *flags, blocks=3)
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 3}
    assert serving(n) == chain[-1]
    assert n.blocks() == chain
    line = logged(n, off, peer, "warn", reason)
    if how == "link":  # in one answer, or split at a page boundary so that each page is valid alone
        assert ("block 500: does not chain to block 499" in line
                or "its pages do not join (block 500: its prev_hash is not the hash of block 499)" in line), line


def test_bad_long_chain_loses_to_a_shorter_valid_one(nodes, hostile):
    bad = hostile(serve_chain(damaged(DEEP, 500, "hash")))
    good_chain = DEEP[:701]
    good = hostile(serve_chain(good_chain))
    n, _ = held_node(nodes, "--sync-page", "100")
    n.add_peer(bad.url)
    n.add_peer(good.url)
    off = n.log_size()
    assert n.sync() == {"replaced": True, "height": 700}
    assert n.blocks() == good_chain
    logged(n, off, bad, "block 500: hash does not match")


OTHER_GENESIS = {"index": 0, "data": "another genesis", "prev_hash": None,
                 "hash": block_hash(0, "another genesis", None)}
FORGED_GENESIS = dict(GENESIS, data="forged")  # the real genesis hash on other data


@pytest.mark.parametrize("flags", PAGING)
@pytest.mark.parametrize("genesis", [OTHER_GENESIS, FORGED_GENESIS], ids=["other-genesis", "forged-genesis"])
def test_chain_with_another_genesis_is_rejected(nodes, hostile, flags, genesis):
    foreign = make_chain([f"foreign {i}" for i in range(1, 301)], start=[genesis])
    peer = hostile(serve_chain(foreign))
    n, chain = held_node(nodes, *flags)
    n.add_peer(peer.url)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 2}
    assert serving(n) == chain[-1]
    assert n.blocks() == chain
    logged(n, off, peer, "warn", "block 0: a block with index 0 must be exactly the genesis block")


# ---- 8. a node told to peer with itself -----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_initial_peer_that_is_the_node_itself_exits_2(host):
    """The POST /peers spellings are in test_node_bad_input.py; --peer refuses them too."""
    port = free_ports(1)[0]
    url = f"http://{host}:{port}"
    r = subprocess.run([str(NODE_BIN), "--peer", url, str(port)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert r.stderr == f"chainlab-node: --peer {url}: peer URL points at this node itself\n"


def relay_to(node):
    """A FakePeer route that hands every request on to node and its answer back: a peer that is
    the node itself behind another address."""

    def route(handler, body):
        r = requests.request(handler.command, node.url + handler.path, data=body, timeout=WAIT_S)
        handler.send_response(r.status_code)
        handler.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
        handler.send_header("Content-Length", str(len(r.content)))
        handler.end_headers()
        handler.wfile.write(r.content)

    return route


def test_node_reaching_itself_through_a_relay_is_harmless(nodes, fake_peers):
    """A URL that reaches the node through a relay cannot be told from a peer: it is accepted, and
    the node's own broadcasts and syncs through it come back as nothing to do."""
    n = nodes()
    url = fake_peers(default=relay_to(n)).url
    assert n.add_peer(url) == [url]
    off = n.log_size()
    appended = [n.append(f"sent to myself {i}") for i in range(2)]
    wait_until(lambda: n.status()["posts_sent"] == 2, WAIT_S, "the broadcasts to itself")
    ahead = make_block({"index": 40, "hash": "cd" * 32}, "far ahead")
    r = n.post("/block", data=encode(ahead))
    assert r.status_code == 202 and r.json() == {"result": "sync", "height": 2}
    wait_until(lambda: n.status()["syncs"] == 1, WAIT_S, "the sync with itself")
    assert n.sync() == {"replaced": False, "height": 2}
    s = n.status()
    assert (s["posts_sent"], s["posts_failed"], s["syncs"], s["sync_requests"]) == (2, 0, 2, 2), "nothing loops"
    assert serving(n) == appended[-1]
    assert n.blocks() == [GENESIS] + appended
    lines = [line for line in n.log_since(off).splitlines() if url in line]
    assert any("height 2 is not above 2: not fetched" in line for line in lines), lines


# ---- 9. a flood of blocks far ahead while the peer serves slowly: syncs coalesce ----------------


def test_flood_of_blocks_far_ahead_coalesces_syncs(nodes, hostile):
    slow = 0.2  # s the peer takes for every GET: syncs overlap the flood
    peer_chain = make_chain([f"slow {i}" for i in range(1, 301)])
    peer = hostile(serve_chain(peer_chain, delay=slow))
    n, _ = held_node(nodes, blocks=1)
    n.add_peer(peer.url)
    off = n.log_size()
    # Valid hashes, far past any tip: each is refused as "sync" and asks for one.
    bait = [encode(make_block({"index": 99_999, "hash": "ab" * 32}, f"flood {i}")) for i in range(1000)]
    statuses, sent_at, polls, errors = [], [], [], []
    flooding = threading.Event()
    flooding.set()

    def post(part):
        s = requests.Session()
        try:
            for body in part:
                sent_at.append(time.monotonic())
                statuses.append(s.post(n.url + "/block", data=body, timeout=10).status_code)
        except Exception as e:
            errors.append(f"POST /block: {type(e).__name__}: {e}")
        finally:
            s.close()

    def poll():
        while flooding.is_set():
            try:
                polls.append(serving(n)["index"])
            except Exception as e:
                errors.append(f"GET /block during the flood: {type(e).__name__}: {e}")
                return

    poller = threading.Thread(target=poll)
    posters = [threading.Thread(target=post, args=(bait[k::4],)) for k in range(4)]
    poller.start()
    for t in posters:
        t.start()
    for t in posters:
        t.join(60)
    flooding.clear()
    poller.join(10)
    assert errors == []
    assert statuses == [202] * 1000
    assert len(polls) >= 1 and set(polls) <= {1, 300}, "GET /block answered all through the flood"

    # No request is lost: a sync starts after the last one, then the node goes quiet.
    last = max(sent_at)
    tips = lambda: peer.requests_to("GET", "/block")  # noqa: E731 (one GET /block per sync)
    wait_until(lambda: any(r.at > last for r in tips()) and peer.in_flight() == 0
               and n.status()["syncs"] == len(tips()), 10, "the syncs to settle after the flood")
    s = n.status()
    assert s["sync_requests"] == 1000
    assert 1 <= s["syncs"] <= 100, f"{s['syncs']} syncs for 1000 requests: not coalesced"
    assert peer.max_in_flight("GET", "/block") == 1, "more than one sync at a time"
    assert peer.max_in_flight("GET", "/blocks") == 1
    # The node holds a block of its own: it asks for the blocks after it, which do not follow it,
    # then for the whole chain, once; then equal tips are skipped.
    assert [r.target for r in peer.requests_to("GET", "/blocks")] == ["/blocks?from=2&limit=5000", "/blocks"]
    assert s["syncs_replaced"] == 1
    assert n.blocks() == peer_chain
    assert serving(n) == peer_chain[-1]
    log = n.log_since(off)
    assert "sync: replaced the chain, height now 300" in log
    logged(n, off, peer, "height 300 is not above 300: not fetched")


# ---- junk: answers that are not HTTP, heads that never end ---------------------------------------

# (id, the behaviour, curl's detail in the log)
JUNK = [
    ("not-http", raw(b"\x00\xff\xfegarbage\r\n\r\n{}"), "Unsupported protocol (Received HTTP/0.9 when not allowed)"),
    ("bad-status-line", raw(b"HTTP/1.1 two hundred\r\n\r\n{}"), "Unsupported protocol (Unsupported HTTP version"),
    ("header-line-1MiB", huge_header(1024 * 1024), "(or a response header line over 102400 bytes)"),
    ("headers-without-end", huge_header(100, lines=None), "Too large response headers"),
]


@pytest.mark.parametrize("path", ["/block", "/blocks"])
@pytest.mark.parametrize("junk,detail", [pytest.param(j, d, id=i) for i, j, d in JUNK])
def test_peer_answering_junk_is_ignored(nodes, hostile, path, junk, detail):
    routes = {("GET", "/block"): answer(200, TIP), ("GET", path): junk, ("POST", "/block"): junk}
    peer = hostile(routes)
    n, chain = held_node(nodes, blocks=1)
    n.add_peer(peer.url)
    before_kb = peak_rss_kb(n.pid)
    off = n.log_size()
    assert n.sync() == {"replaced": False, "height": 1}
    appended = n.append("broadcast to a junk peer")
    wait_posted(n, peer, appended, "posts_failed")
    assert serving(n) == appended
    assert n.blocks() == chain + [appended]
    grew = peak_rss_kb(n.pid) - before_kb
    assert grew < 16 * 1024, f"peak RSS grew by {grew} kB reading junk"
    logged(n, off, peer, f"sync: GET {path}", " failed: ", detail)
    logged(n, off, peer, "POST /block failed: ", detail)

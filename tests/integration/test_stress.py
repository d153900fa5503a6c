"""Concurrency stress: every endpoint of several nodes hit at once, for a few seconds.

The network is a mesh of 4 nodes (m0 keeps its chain in SQLite with --db) plus `lag`, also with
--db, that has the mesh as its peers but is nobody's peer: it learns only by syncing, in pages of
8 blocks that its parser threads validate in parallel. During a storm, at the same time:

- 16 clients append (POST /append, answered once the peers have the block);
- 6 Python "peers" POST blocks to one node: valid successors of the tip they just read, the tip
  itself again (stale), blocks 1000 ahead (each makes the node sync) and blocks with a bad hash;
- 4 readers GET /blocks (whole and paged with ?from=&limit=), /block, /status and /peers of
  every node, checking each answer (a whole chain must verify, a page must chain inside);
- 2 clients POST /sync, mostly to `lag`;
- one client churns the peer sets: drops a mesh edge and adds it back, adds and removes a dead
  peer, drops one of lag's peers and adds it back (so syncs lose a peer mid-fetch).

Every answer must have the status its request calls for: never a 5xx, never a timeout or a reset
(but from a node told to exit).
The height one client sees on one node never goes down. Afterwards the peer sets are restored,
the nodes are made to converge (POST /sync; a tie of equal-length forks is broken by one more
append, since equal lengths never replace each other) and every chain must be byte-identical and
valid. No node may crash, and (conftest) no node's log may hold a sanitizer report: `make tsan`
runs this file against a ThreadSanitizer build, where a data race ends the node with exit 66.

What is lost is checked only where the protocol promises it. Appends on several nodes fork, and
the longest chain wins, so acknowledged blocks on a losing fork are dropped by design: the forking
storm checks only that a node's height never falls below the blocks it acknowledged. With a
single writer (every append and every block POSTed to m0) no other node ever holds a block m0
lacks, so m0 never replaces its chain: the single-writer storm checks that the final chain holds
exactly the acknowledged blocks, each where its answer said, byte for byte, and that m0's
database holds that chain after a restart. A third storm stops both --db nodes with SIGTERM half
way through: each must exit 0 and come back from its database with a valid chain.

CHAINLAB_STRESS_SECONDS sets how long each storm lasts (`make tsan` sets 3).
"""

import collections
import json
import os
import random
import secrets
import signal
import subprocess
import threading
import time

import requests

from conftest import GENESIS, block_hash, encode, free_ports, make_block, verify_chain

STORM_S = float(os.environ.get("CHAINLAB_STRESS_SECONDS", "1.5"))  # s each storm lasts
REQUEST_TIMEOUT = 30.0  # s for one request (a sanitizer build is ~10x slower; POST /sync waits)
JOIN_TIMEOUT = 60.0  # s for a worker to notice the end of the storm and finish its request
SETTLE_TIMEOUT = 60.0  # s for the network to converge after the storm
STOP_TIMEOUT = 20.0  # s for a node to exit after SIGTERM in the middle of a storm
APPENDERS = 16
POSTERS = 6
READERS = 4
SYNCERS = 2
# Short peer timeouts: a dead peer fails fast. Broadcasts wait (at most 500 ms) for live peers.
NODE_ARGS = ("--threads", "4", "--timeout", "3000", "--connect-timeout", "500", "--broadcast-wait",
             "500", "--db-sync", "normal")


class Storm:
    """Worker threads that repeat a step against the nodes until the storm ends. Every answer is
    checked as it comes; anything unexpected is recorded in .failures (the storm goes on)."""

    def __init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failures = []
        self.statuses = collections.Counter()  # (method, path, status) -> answers
        self.threads = []
        self.local = threading.local()  # .heights: {node name: highest height this thread saw}
        self.gone = set()  # nodes told to exit: a request to them may fail on the network

    def fail(self, what):
        with self.lock:
            self.failures.append(f"[{threading.current_thread().name}] {what}")

    def worker(self, name, step):
        """A thread calling step(session, i) for i = 0, 1, ... until the storm ends."""

        def run():
            s = requests.Session()
            self.local.heights = {}
            i = 0
            try:
                while not self.stop.is_set():
                    try:
                        step(s, i)
                    except Exception as e:  # a failed check: record it, keep storming
                        self.fail(f"{type(e).__name__}: {e}")
                    i += 1
            finally:
                s.close()

        self.threads.append(threading.Thread(target=run, name=name, daemon=True))

    def call(self, s, method, node, path, data=None, expect=(200,)):
        """One request. Returns the response, or None (recorded as a failure) on an exception or
        a status not in expect."""
        try:
            r = s.request(method, node.url + path, data=data, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as e:
            if node not in self.gone:
                self.fail(f"{method} {node.name} {path}: {type(e).__name__}: {e}")
            return None
        with self.lock:
            self.statuses[(method, path.split("?")[0], r.status_code)] += 1
        if r.status_code not in expect:
            self.fail(f"{method} {node.name} {path}: HTTP {r.status_code} {r.text[:200]!r}")
            return None
        return r

    def saw_height(self, node, height):
        """This thread saw node at height: it must not be below what the thread saw before (a
        chain is only replaced by a longer one)."""
        last = self.local.heights.get(node.name, 0)
        if height < last:
            self.fail(f"{node.name}: height went down from {last} to {height}")
        self.local.heights[node.name] = max(last, height)

    def run(self, seconds, midway=None):
        """Storm for seconds; call midway() (if any) half way through."""
        for t in self.threads:
            t.start()
        if midway:
            self.stop.wait(seconds / 2)
            midway()
            seconds /= 2
        self.stop.wait(seconds)
        self.stop.set()
        for t in self.threads:
            t.join(JOIN_TIMEOUT)
        hung = [t.name for t in self.threads if t.is_alive()]
        assert not hung, f"workers still in a request {JOIN_TIMEOUT}s after the storm: {hung}"

    def check(self):
        assert not any(status >= 500 for _, _, status in self.statuses), dict(self.statuses)
        assert not self.failures, f"{len(self.failures)} failures, the first ones:\n" + "\n".join(
            self.failures[:30]
        )


# ---- the network ------------------------------------------------------------------------------


def start_network(nodes, tmp_path):
    """The mesh (m0 with --db) and lag. Returns (mesh, lag, wiring: {node: its peer URLs})."""
    mesh = [nodes(*NODE_ARGS, "--sync-page", "16", "--db", tmp_path / "m0.db", name="m0")]
    mesh += [nodes(*NODE_ARGS, "--sync-page", "16", name=f"m{i}") for i in range(1, 4)]
    lag = nodes(*NODE_ARGS, "--sync-page", "8", "--db", tmp_path / "lag.db", name="lag")
    wiring = {m: [o.url for o in mesh if o is not m] for m in mesh}
    wiring[lag] = [m.url for m in mesh]
    rewire(wiring)
    return mesh, lag, wiring


def rewire(wiring):
    """Make every node's peer set exactly its list in wiring."""
    for node, urls in wiring.items():
        for url in node.peers():
            if url not in urls:
                node.remove_peer(url)
        for url in urls:
            node.add_peer(url)
        assert sorted(node.peers()) == sorted(urls), node.name


def settle(all_nodes, timeout=SETTLE_TIMEOUT):
    """Make the nodes converge: POST /sync to every node not at the highest tip; when nodes at
    the greatest height hold different tips (a tie never resolves by itself), append one block
    on one of them. Returns the blocks appended to break ties."""
    deadline = time.monotonic() + timeout
    tie_breakers = []
    while True:
        tips = {n: n.tip() for n in all_nodes}
        if len({(t["index"], t["hash"]) for t in tips.values()}) == 1:
            return tie_breakers
        assert time.monotonic() < deadline, "no convergence within %.0fs: %s" % (
            timeout,
            {n.name: (t["index"], t["hash"][:12]) for n, t in tips.items()},
        )
        top = max(t["index"] for t in tips.values())
        leaders = [n for n, t in tips.items() if t["index"] == top]
        if len({tips[n]["hash"] for n in leaders}) > 1:
            tie_breakers.append(leaders[0].append(f"tie-breaker {len(tie_breakers)}"))
            leaders = leaders[:1]
        for n in all_nodes:
            if n not in leaders:
                n.sync(timeout=REQUEST_TIMEOUT)


def assert_converged_and_valid(all_nodes):
    """Every node serves the same bytes, a valid chain. Returns the chain."""
    chains = {n.name: n.blocks_bytes() for n in all_nodes}
    first = next(iter(chains.values()))
    differ = [name for name, c in chains.items() if c != first]
    assert not differ, f"{differ} serve other chains than {all_nodes[0].name}"
    chain = json.loads(first)
    verify_chain(chain)
    return chain


# ---- the workers -------------------------------------------------------------------------------


def appender(storm, node, prefix, acked):
    """Append data strings prefix-0, prefix-1, ...; every answer must be the block made of it.
    Appends acked[i] = (node, data, answer bytes)."""

    def step(s, i):
        data = f"{prefix}-{i}"
        r = storm.call(s, "POST", node, "/append", data.encode())
        if r is None:
            return
        b = r.json()
        assert b["data"] == data and b["hash"] == block_hash(b["index"], data, b["prev_hash"]), (
            f"{node.name} answered {data!r} with {b!r}"
        )
        storm.saw_height(node, b["index"])
        with storm.lock:
            acked.append((node, data, r.content))

    return step


POST_KINDS = ("next", "stale", "next", "ahead", "bad")


def poster(storm, node, prefix, appended):
    """A peer that POSTs blocks to node, cycling through POST_KINDS, each after reading the tip:
    next, the tip's valid successor (appended, or ignored when the tip moved meanwhile); stale,
    the tip itself (ignored); ahead, 1000 past the tip (202, the node syncs); bad, a successor
    with a wrong hash (400). Appends each block answered "appended" to `appended`."""

    def step(s, i):
        r = storm.call(s, "GET", node, "/block")
        if r is None:
            return
        tip = r.json()
        storm.saw_height(node, tip["index"])
        kind = POST_KINDS[i % len(POST_KINDS)]
        data = f"{prefix}-{i} {kind}"
        if kind == "next":
            block, expect, results = make_block(tip, data), (200,), ("appended", "ignored")
        elif kind == "stale":
            block, expect, results = tip, (200,), ("ignored",)
        elif kind == "ahead":
            block = make_block(tip, data, index=tip["index"] + 1000, prev_hash=secrets.token_hex(32))
            expect, results = (202,), ("sync",)
        else:
            block = dict(make_block(tip, data), hash="0" * 64)
            expect, results = (400,), None
        r = storm.call(s, "POST", node, "/block", encode(block), expect)
        if r is None or results is None:
            return
        answer = r.json()
        assert answer["result"] in results, f"{kind} block {block['index']}: {answer!r}"
        storm.saw_height(node, answer["height"])
        if answer["result"] == "appended":
            with storm.lock:
                appended.append((node, block))

    return step


def reader(storm, all_nodes, seed):
    """GET /blocks (whole, and pages at random offsets), /block, /status, /peers of every node,
    in turn, checking what each answer says."""
    rng = random.Random(seed)

    def step(s, i):
        node = all_nodes[i % len(all_nodes)]
        kind = (i // len(all_nodes)) % 5
        if kind == 0:
            r = storm.call(s, "GET", node, "/blocks")
            if r:
                chain = r.json()
                verify_chain(chain)
                storm.saw_height(node, len(chain) - 1)
        elif kind == 1:
            start = rng.randrange(0, storm.local.heights.get(node.name, 0) + 3)
            limit = rng.randrange(1, 20)
            r = storm.call(s, "GET", node, f"/blocks?from={start}&limit={limit}")
            if r:
                page = r.json()
                assert len(page) <= limit, f"{len(page)} blocks for limit {limit}"
                for k, b in enumerate(page):
                    assert b["index"] == start + k, f"page from {start}: block {k} is {b['index']}"
                    assert b["hash"] == block_hash(b["index"], b["data"], b["prev_hash"]), b
                    assert k == 0 or b["prev_hash"] == page[k - 1]["hash"], f"page from {start}"
        elif kind == 2:
            r = storm.call(s, "GET", node, "/block")
            if r:
                b = r.json()
                assert b == GENESIS or b["hash"] == block_hash(b["index"], b["data"], b["prev_hash"])
                storm.saw_height(node, b["index"])
        elif kind == 3:
            r = storm.call(s, "GET", node, "/status")
            if r:
                st = r.json()
                assert len(st["tip"]) == 64 and st["peers"] >= 0, st
                storm.saw_height(node, st["height"])
        else:
            r = storm.call(s, "GET", node, "/peers")
            if r:
                assert all(isinstance(u, str) and u.startswith("http://") for u in r.json())

    return step


def syncer(storm, targets):
    """POST /sync to the targets in turn (repeat a node to weigh it)."""

    def step(s, i):
        node = targets[i % len(targets)]
        r = storm.call(s, "POST", node, "/sync")
        if r:
            answer = r.json()
            assert sorted(answer) == ["height", "replaced"], answer
            storm.saw_height(node, answer["height"])

    return step


def churner(storm, mesh, lag):
    """Change the peer sets, each change undone right away (rewire() restores them all at the
    end): drop a mesh edge and add it back, add a dead peer and remove it, drop one of lag's
    peers and add it back."""
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"  # handed out to nobody: nothing listens there

    def step(s, i):
        kind = i % 3
        if kind == 0:
            offset = 1 + (i // len(mesh)) % (len(mesh) - 1)  # another mesh node, in turn
            node, url = mesh[i % len(mesh)], mesh[(i + offset) % len(mesh)].url
        elif kind == 1:
            node, url = mesh[i % len(mesh)], dead
        else:
            node, url = lag, mesh[i % len(mesh)].url
        if kind == 1:
            storm.call(s, "POST", node, "/peers", url.encode())
            storm.stop.wait(0.02)
            storm.call(s, "DELETE", node, "/peers", url.encode())
        else:
            storm.call(s, "DELETE", node, "/peers", url.encode())
            storm.stop.wait(0.02)
            storm.call(s, "POST", node, "/peers", url.encode())

    return step


def add_chaos(storm, mesh, lag):
    """The readers, syncers and the churner, which both storms share."""
    all_nodes = mesh + [lag]
    for k in range(READERS):
        storm.worker(f"reader{k}", reader(storm, all_nodes, seed=k))
    for k in range(SYNCERS):
        storm.worker(f"syncer{k}", syncer(storm, [lag, mesh[(k + 1) % len(mesh)], lag, mesh[0]]))
    storm.worker("churner", churner(storm, mesh, lag))


# ---- the storms --------------------------------------------------------------------------------


def forking_storm(mesh, lag):
    """A Storm (not yet run) whose appenders go to m0-m2 and whose posting peers go to m3, with
    the chaos workers. Returns (storm, acked appends, appended posted blocks)."""
    storm = Storm()
    acked, appended = [], []
    for t in range(APPENDERS):
        node = mesh[t % 3]
        storm.worker(f"appender{t}", appender(storm, node, f"{node.name}/a{t}", acked))
    for t in range(POSTERS):
        storm.worker(f"poster{t}", poster(storm, mesh[3], f"p{t}", appended))
    add_chaos(storm, mesh, lag)
    return storm, acked, appended


def test_forking_storm_converges(nodes, tmp_path):
    """Appends on three nodes at once and blocks POSTed to the fourth: the chains fork, the
    network converges on one valid chain, and no node ends below the blocks it acknowledged."""
    mesh, lag, wiring = start_network(nodes, tmp_path)
    all_nodes = mesh + [lag]
    storm, acked, appended = forking_storm(mesh, lag)
    storm.run(STORM_S)
    storm.check()
    assert all(n.alive() for n in all_nodes), [n.name for n in all_nodes if not n.alive()]
    assert acked, "no append was acknowledged during the storm"
    assert storm.statuses[("POST", "/block", 202)] > 0, "no POSTed block made a node sync"

    rewire(wiring)
    settle(all_nodes)
    chain = assert_converged_and_valid(all_nodes)
    # Heights never go down and an acknowledged block raised its node's height by one.
    own = collections.Counter(n.name for n, _, _ in acked)
    own.update(n.name for n, _ in appended)
    assert len(chain) - 1 >= max(own.values()), (len(chain) - 1, dict(own))


def test_single_writer_storm_loses_nothing(nodes, tmp_path):
    """Every append and every POSTed block goes to m0 (with --db): the final chain, on every node,
    holds exactly the blocks m0 acknowledged, each where its answer said; m0's database too."""
    mesh, lag, wiring = start_network(nodes, tmp_path)
    writer = mesh[0]
    all_nodes = mesh + [lag]
    storm = Storm()
    acked, appended = [], []
    for t in range(APPENDERS):
        storm.worker(f"appender{t}", appender(storm, writer, f"a{t}", acked))
    for t in range(POSTERS):
        storm.worker(f"poster{t}", poster(storm, writer, f"p{t}", appended))
    add_chaos(storm, mesh, lag)
    storm.run(STORM_S)
    storm.check()
    assert all(n.alive() for n in all_nodes), [n.name for n in all_nodes if not n.alive()]
    assert acked, "no append was acknowledged during the storm"

    rewire(wiring)
    assert settle(all_nodes) == [], "a single writer cannot fork"
    chain = assert_converged_and_valid(all_nodes)
    served = [encode(b) for b in chain]
    for _, data, body in acked:
        index = json.loads(body)["index"]
        assert index < len(chain) and served[index] == body, f"acknowledged append {data!r} lost"
    for _, block in appended:
        i = block["index"]
        assert i < len(chain) and chain[i] == block, f"appended block {block['data']!r} lost"
    assert sorted(b["data"] for b in chain[1:]) == sorted(
        [d for _, d, _ in acked] + [b["data"] for _, b in appended]
    ), "the chain holds blocks nobody acknowledged"

    before = writer.blocks_bytes()
    assert writer.stop() == 0
    writer.start()
    assert writer.blocks_bytes() == before, "m0's database does not hold its chain"


def test_sigterm_in_a_storm_exits_0_and_the_db_nodes_restart_whole(nodes, tmp_path):
    """Half way through a forking storm the two --db nodes get SIGTERM: each exits 0 with its
    clients, peers and syncs in flight (a request to it may then fail on the network, but none is
    answered 5xx), restarts from its database with a valid chain, and the network converges."""
    mesh, lag, wiring = start_network(nodes, tmp_path)
    all_nodes = mesh + [lag]
    storm, acked, appended = forking_storm(mesh, lag)
    codes = {}

    def terminate():
        storm.gone.update((mesh[0], lag))
        for n in (mesh[0], lag):
            n.send_signal(signal.SIGTERM)
        for n in (mesh[0], lag):
            try:
                codes[n.name] = n.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                codes[n.name] = f"still running {STOP_TIMEOUT}s after SIGTERM"

    storm.run(STORM_S, midway=terminate)
    assert codes == {"m0": 0, "lag": 0}
    storm.check()
    assert all(n.alive() for n in mesh[1:]), [n.name for n in mesh[1:] if not n.alive()]

    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    for n in (mesh[0], lag):
        n.start()
        verify_chain(n.blocks())
        # Its saved peers were loaded at start; a peer change now saves to the database too.
        n.add_peer(dead)
        n.remove_peer(dead)
    rewire(wiring)
    settle(all_nodes)
    assert_converged_and_valid(all_nodes)

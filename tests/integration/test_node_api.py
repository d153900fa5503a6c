"""Every endpoint of chainlab-node and its exact bytes, and the command line."""

import json
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import (
    WAIT_S,
    GENESIS,
    GENESIS_HASH,
    HOST,
    NODE_BIN,
    block_hash,
    encode,
    load_vectors,
    make_block,
    make_chain,
    verify_chain,
    wait_until,
)

# ---- blocks and chain bytes -----------------------------------------------------------------


def test_fresh_node_blocks_is_genesis(nodes):
    n = nodes()
    r = n.get("/blocks")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == encode([GENESIS])
    assert r.content == (
        b'[{"index": 0, "data": null, "prev_hash": null, "hash": '
        b'"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"}]'
    )
    r = n.get("/block")
    assert r.status_code == 200 and r.content == encode(GENESIS)


def test_genesis_hash_is_the_protocol_hash():
    assert block_hash(0, None, None) == GENESIS_HASH


def test_append_answers_the_new_block(nodes):
    n = nodes()
    r = n.post("/append", data=b"hello world")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    want = make_block(GENESIS, "hello world")
    assert r.content == encode(want)
    b = r.json()
    assert b["hash"] == block_hash(b["index"], b["data"], b["prev_hash"])
    assert b["hash"] == "c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a"
    assert n.get("/block").content == encode(want)
    assert n.blocks_bytes() == encode([GENESIS, want])


APPEND_DATA = [
    pytest.param("", id="empty"),
    pytest.param("café ☃ 😀", id="unicode"),
    pytest.param("日本語のテキスト", id="cjk"),
    pytest.param('quote " backslash \\ slash /', id="quotes"),
    pytest.param("line1\nline2\ttab\r\n", id="newlines"),
    pytest.param("\x00\x01\x1f\x7f\x08\x0c", id="control-chars"),
    pytest.param("\u2028\u2029\ufeff\U0010ffff", id="separators-bom-max"),
    pytest.param("None", id="the-word-None"),
    pytest.param('{"json": [1,2,3]}', id="json-text"),
    pytest.param("x" * 1000, id="1000-chars"),
    pytest.param("é" * 5000, id="10000-bytes"),
]


@pytest.mark.parametrize("data", APPEND_DATA)
def test_append_bytes_equal_json_dumps(nodes, data):
    n = nodes()
    first = n.append("first")
    r = n.post("/append", data=data.encode("utf-8"))
    assert r.status_code == 200
    want = make_block(first, data)
    assert r.content == encode(want), "the block must be exactly json.dumps(block)"
    assert json.loads(r.content)["data"] == data
    assert n.blocks_bytes() == encode([GENESIS, first, want])


def test_append_any_content_type(nodes):
    """The original client sends no Content-Type or text/plain; the body is raw either way."""
    n = nodes()
    for i, ctype in enumerate([None, "text/plain", "application/json", "application/x-www-form-urlencoded"]):
        headers = {"Content-Type": ctype} if ctype else {}
        r = n.post("/append", data=b"a=b&c", headers=headers)
        assert r.status_code == 200 and r.json()["data"] == "a=b&c" and r.json()["index"] == i + 1


def test_vectors_verify():
    chain = load_vectors()
    verify_chain(chain)
    assert len(chain) > 5


def test_appending_the_vector_data_reproduces_the_vector_chain(nodes):
    vectors = load_vectors()
    n = nodes()
    for want in vectors[1:]:
        r = n.post("/append", data=want["data"].encode("utf-8"))
        assert r.status_code == 200
        assert r.content == encode(want), f"block {want['index']} differs from the original's"
    assert n.blocks_bytes() == encode(vectors)
    assert n.get("/block").content == encode(vectors[-1])


def test_posting_the_vector_blocks_reproduces_the_vector_chain(nodes):
    vectors = load_vectors()
    n = nodes()
    for b in vectors[1:]:
        r = n.post("/block", data=encode(b))
        assert r.status_code == 200 and r.json() == {"result": "appended", "height": b["index"]}
    assert n.blocks_bytes() == encode(vectors)


# ---- /blocks slices -------------------------------------------------------------------------


@pytest.fixture
def node_with_5_blocks(nodes):
    n = nodes()
    chain = [GENESIS] + [n.append(f"block {i}") for i in range(1, 6)]
    return n, chain


@pytest.mark.parametrize(
    "query,lo,hi",
    [
        ("", 0, 6),
        ("?from=0", 0, 6),
        ("?from=2", 2, 6),
        ("?from=5", 5, 6),
        ("?from=6", 6, 6),
        ("?from=1000", 6, 6),
        ("?limit=1", 0, 1),
        ("?limit=0", 0, 0),
        ("?from=2&limit=2", 2, 4),
        ("?limit=3&from=1", 1, 4),
        ("?from=4&limit=100", 4, 6),
        ("?from=0&limit=9999999999999999999", 0, 6),
        ("?from=9999999999999999999&limit=1", 6, 6),
        ("?from=007&limit=01", 6, 6),
        ("?from=03&limit=01", 3, 4),
        ("?other=1", 0, 6),
    ],
)
def test_blocks_slices(node_with_5_blocks, query, lo, hi):
    n, chain = node_with_5_blocks
    r = n.get("/blocks" + query)
    assert r.status_code == 200
    assert r.content == encode(chain[lo:hi])


# ---- /status ---------------------------------------------------------------------------------

STATUS_COUNTERS = ["syncs", "syncs_replaced", "sync_requests", "posts_sent", "posts_failed", "posts_dropped"]


def test_status_fields(nodes):
    n = nodes()
    s = n.status()
    keys = ["id", "version", "height", "tip", "peers", "uptime_ms"] + STATUS_COUNTERS
    assert [k for k in s if k in keys] == keys, f"fields missing or out of order: {list(s)}"
    assert all(isinstance(s[k], int) and not isinstance(s[k], bool) for k in keys[2:] if k != "tip")
    assert s["id"] == str(n.port)
    version = subprocess.run([str(NODE_BIN), "--version"], capture_output=True, text=True, timeout=10).stdout
    assert version == f"chainlab-node {s['version']}\n"
    assert s["height"] == 0 and s["tip"] == GENESIS_HASH and s["peers"] == 0
    assert isinstance(s["uptime_ms"], int) and s["uptime_ms"] >= 0
    assert all(s[k] == 0 for k in STATUS_COUNTERS), s
    b = n.append("x")
    n.add_peer("http://127.0.0.1:1")
    s2 = n.status()
    assert s2["height"] == 1 and s2["tip"] == b["hash"] and s2["peers"] == 1
    assert s2["uptime_ms"] >= s["uptime_ms"]
    wait_until(lambda: n.status()["uptime_ms"] > s["uptime_ms"], WAIT_S, "uptime_ms to grow")


def test_status_id_flag(nodes):
    n = nodes("--id", 'alpha "1" é')
    assert n.get("/status").content.startswith(b'{"id": "alpha \\"1\\" \\u00e9", "version": ')
    assert "[alpha" in n.log_text()


# ---- /metrics --------------------------------------------------------------------------------

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRIC_COUNTERS = [
    "chainlab_appends_total", "chainlab_blocks_received_total", "chainlab_blocks_appended_total",
    "chainlab_blocks_ignored_total", "chainlab_posts_sent_total", "chainlab_posts_failed_total",
    "chainlab_posts_dropped_total", "chainlab_syncs_total", "chainlab_sync_replacements_total",
    "chainlab_bytes_served_total",
]
METRIC_GAUGES = ["chainlab_height", "chainlab_peers", "chainlab_queue_depth"]
METRIC_BY_CODE = "chainlab_http_responses_total"
SAMPLE_RE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\\n]*)"\})? (0|[1-9][0-9]*)')


def parse_exposition(r):
    """A GET /metrics answer parsed strictly as the text format 0.0.4: every metric has one # HELP
    line, then one # TYPE line, then its samples; no other line, no blank line, a final newline.
    Returns (samples, length of the body): samples maps a name (or (name, code) for the answers by
    status) to its integer value."""
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == METRICS_TYPE
    text = r.content.decode("utf-8")
    assert text.endswith("\n") and "\n\n" not in text, text
    helps, types, samples, current = {}, {}, {}, None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP "):].partition(" ")
            assert name not in helps and help_text.strip(), line
            helps[name], current = help_text, name
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE "):].partition(" ")
            assert name == current and name not in types and kind in ("counter", "gauge"), line
            types[name] = kind
        else:
            m = SAMPLE_RE.fullmatch(line)
            assert m and m.group(1) == current and current in types, f"bad sample line {line!r}"
            if m.group(2) is None:
                key = m.group(1)
            else:
                assert m.group(1) == METRIC_BY_CODE and m.group(2) == "code", line
                assert re.fullmatch(r"[1-5][0-9][0-9]", m.group(3)), line
                key = (m.group(1), int(m.group(3)))
            assert key not in samples, f"sample twice: {line!r}"
            samples[key] = int(m.group(4))
    assert set(types) == set(METRIC_COUNTERS + METRIC_GAUGES + [METRIC_BY_CODE]), sorted(types)
    for name in METRIC_COUNTERS + [METRIC_BY_CODE]:
        assert types[name] == "counter" and name.endswith("_total")
    for name in METRIC_GAUGES:
        assert types[name] == "gauge"
    for name in METRIC_COUNTERS + METRIC_GAUGES:
        assert name in samples, f"no sample of {name}"
    return samples, len(r.content)


def metrics(node):
    return parse_exposition(node.get("/metrics"))[0]


def test_metrics_exposition(nodes):
    n = nodes()
    m = metrics(n)
    assert all(m[k] == 0 for k in METRIC_COUNTERS if k != "chainlab_bytes_served_total"), m
    assert m["chainlab_height"] == 0 and m["chainlab_peers"] == 0 and m["chainlab_queue_depth"] == 0
    assert m[(METRIC_BY_CODE, 200)] >= 1  # the readiness polls


def test_metrics_http_counters_are_exact(nodes):
    """Bytes served and answers by status, between two scrapes of an idle node."""
    n = nodes()
    m1, len1 = parse_exposition(n.get("/metrics"))
    blocks = n.get("/blocks")
    missing = n.get("/nope")
    refused = n.post("/metrics")
    assert missing.status_code == 404 and refused.status_code == 405
    m2, _ = parse_exposition(n.get("/metrics"))
    served = len1 + len(blocks.content) + len(missing.content) + len(refused.content)
    assert m2["chainlab_bytes_served_total"] - m1["chainlab_bytes_served_total"] == served
    assert m2[(METRIC_BY_CODE, 200)] - m1[(METRIC_BY_CODE, 200)] == 2  # the first scrape, /blocks
    assert m2[(METRIC_BY_CODE, 404)] - m1.get((METRIC_BY_CODE, 404), 0) == 1
    assert m2[(METRIC_BY_CODE, 405)] - m1.get((METRIC_BY_CODE, 405), 0) == 1


def test_metrics_counters_move(nodes, fake_peers):
    a, b, c = nodes(), nodes(), nodes()
    a.add_peer(b)
    blocks = [a.append(f"m{i}") for i in range(3)]
    wait_until(lambda: metrics(a)["chainlab_posts_sent_total"] == 3, 10, "a's 3 posts to b")
    ma, mb = metrics(a), metrics(b)
    assert ma["chainlab_appends_total"] == 3 and ma["chainlab_height"] == 3
    assert ma["chainlab_peers"] == 1 and ma["chainlab_queue_depth"] == 0
    assert ma["chainlab_posts_failed_total"] == 0 and ma["chainlab_posts_dropped_total"] == 0
    assert mb["chainlab_blocks_received_total"] == 3 and mb["chainlab_blocks_appended_total"] == 3
    assert mb["chainlab_blocks_ignored_total"] == 0 and mb["chainlab_appends_total"] == 0
    assert mb["chainlab_height"] == 3 and mb["chainlab_peers"] == 0
    # an old block is received and ignored
    assert b.post("/block", data=encode(blocks[0])).json()["result"] == "ignored"
    mb = metrics(b)
    assert mb["chainlab_blocks_received_total"] == 4 and mb["chainlab_blocks_ignored_total"] == 1
    assert mb["chainlab_blocks_appended_total"] == 3
    # a block far ahead is received and starts a sync (no peer: nothing replaced)
    ahead = make_block(blocks[-1], "far", index=9)
    assert b.post("/block", data=encode(ahead)).status_code == 202
    wait_until(lambda: metrics(b)["chainlab_syncs_total"] >= 1, 10, "b's sync")
    mb = metrics(b)
    assert mb["chainlab_blocks_received_total"] == 5 and mb["chainlab_sync_replacements_total"] == 0
    # a sync that replaces the chain
    for i in range(5):
        c.append(f"c{i}")
    b.add_peer(c)
    before = metrics(b)["chainlab_syncs_total"]
    assert b.sync()["replaced"] is True
    mb = metrics(b)
    assert mb["chainlab_syncs_total"] >= before + 1 and mb["chainlab_sync_replacements_total"] == 1
    assert mb["chainlab_height"] == 5 and mb["chainlab_peers"] == 1
    # posts to a peer that refuses connections fail
    a.add_peer("http://127.0.0.1:1")
    a.append("to nobody")
    wait_until(lambda: metrics(a)["chainlab_posts_failed_total"] >= 1, 10, "a failed post")


def test_metrics_queue_depth_and_drops(nodes, fake_peers):
    """A peer that never answers holds one POST; a queue of 1 keeps one block and drops the rest."""
    hung = fake_peers.hanging()
    n = nodes("--queue", "1", "--broadcast-wait", "0", "--timeout", "60000")
    n.add_peer(hung.url)
    for i in range(5):
        n.append(f"q{i}")
    # 5 blocks: at most one in flight, at most one queued, the rest dropped
    m = wait_until(lambda: (lambda m: m if m["chainlab_posts_dropped_total"] + m["chainlab_queue_depth"] >= 4
                            else None)(metrics(n)), 10, "the queue to fill")
    assert m["chainlab_queue_depth"] <= 1 and m["chainlab_posts_dropped_total"] <= 5
    assert m["chainlab_posts_sent_total"] == 0 and m["chainlab_posts_failed_total"] == 0
    n.remove_peer(hung.url)
    wait_until(lambda: metrics(n)["chainlab_queue_depth"] == 0, 10, "the queue to go with its peer")


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_metrics_other_methods_405(nodes, method):
    n = nodes()
    r = n.request(method, "/metrics", data=b"x")
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    assert r.headers["Content-Type"] == "application/json" and "error" in r.json()


def test_metrics_head(nodes):
    n = nodes()
    r = n.request("HEAD", "/metrics")
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Type"] == METRICS_TYPE


# ---- /peers ----------------------------------------------------------------------------------


def test_peers_add_list_delete(nodes):
    n = nodes()
    r = n.get("/peers")
    assert r.status_code == 200 and r.content == b"[]"
    a, b = "http://127.0.0.1:1", "http://localhost:2"
    r = n.post("/peers", data=a.encode())
    assert r.status_code == 200 and r.content == encode([a])
    r = n.post("/peers", data=a.encode())  # idempotent
    assert r.status_code == 200 and r.content == encode([a])
    r = n.post("/peers", data=(a + "/\n").encode())  # same peer, trailing slash and newline
    assert r.status_code == 200 and r.content == encode([a])
    r = n.post("/peers", data=b.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.content == encode([a, b])
    assert n.get("/peers").content == encode([a, b])
    assert n.status()["peers"] == 2
    r = n.delete("/peers", data=a.encode())
    assert r.status_code == 200 and r.content == encode([b])
    r = n.delete("/peers", data=a.encode())
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    assert isinstance(r.json()["error"], str) and list(r.json()) == ["error"]
    assert n.get("/peers").content == encode([b])
    r = n.delete("/peers", data=b"http://127.0.0.1:9")
    assert r.status_code == 404
    assert n.delete("/peers", data=(b + "/").encode()).content == b"[]"


def test_peers_https_accepted(nodes):
    n = nodes()
    assert n.add_peer("https://127.0.0.1:1") == ["https://127.0.0.1:1"]


def test_initial_peer_flag(nodes, fake_peers):
    chain = make_chain(["from the flag"])
    peer = fake_peers({("GET", "/blocks"): (200, encode(chain))})
    n = nodes("--peer", peer.url)
    assert n.peers() == [peer.url]
    wait_until(lambda: n.blocks_bytes() == encode(chain), WAIT_S, "the startup sync from --peer")


# ---- POST /block -----------------------------------------------------------------------------


def test_post_block_appended(nodes):
    n = nodes()
    first = n.append("one")
    b = make_block(first, "two ☃\n")
    r = n.post("/block", data=encode(b))
    assert r.status_code == 200
    assert r.content == b'{"result": "appended", "height": 2}'
    assert n.blocks_bytes() == encode([GENESIS, first, b])


def test_post_block_reencoded_compactly(nodes):
    """A block sent with other spacing, key order and escapes is stored as json.dumps would."""
    n = nodes()
    b = make_block(GENESIS, "é\u2603")
    text = '{ "hash":"%s","prev_hash" :"%s",\n"data":"\\u00e9\u2603","index":1 }' % (b["hash"], b["prev_hash"])
    r = n.post("/block", data=text.encode("utf-8"))
    assert r.status_code == 200 and r.json() == {"result": "appended", "height": 1}
    assert n.blocks_bytes() == encode([GENESIS, b])


def test_post_block_ignored(nodes):
    n = nodes()
    first = n.append("one")
    second = n.append("two")
    before = n.blocks_bytes()
    for old in (GENESIS, first, second, make_block(GENESIS, "a fork at 1"), make_block(first, "a fork at 2")):
        r = n.post("/block", data=encode(old))
        assert r.status_code == 200
        assert r.content == b'{"result": "ignored", "height": 2}'
    assert n.blocks_bytes() == before
    assert n.status()["sync_requests"] == 0


@pytest.mark.parametrize("case", ["gap", "fork-one-past-tip"])
def test_post_block_sync(nodes, case):
    n = nodes()
    first = n.append("one")
    if case == "gap":
        b = make_block(make_chain(["a", "b", "c"])[-1], "d")  # index 4, tip is 1
    else:
        b = make_block(make_block(GENESIS, "other"), "x")  # index 2, prev_hash is not our tip
    before = n.status()
    r = n.post("/block", data=encode(b))
    assert r.status_code == 202
    assert r.content == b'{"result": "sync", "height": 1}'
    wait_until(lambda: n.status()["syncs"] > before["syncs"], WAIT_S, "the sync to run")
    s = n.status()
    assert s["sync_requests"] == before["sync_requests"] + 1
    assert n.blocks_bytes() == encode([GENESIS, first]), "no peer has a longer chain: nothing changes"


def test_post_block_sync_adopts_a_peers_longer_chain(nodes, fake_peers):
    chain = make_chain(["p1", "p2", "p3"])
    peer = fake_peers({("GET", "/blocks"): (200, encode(chain))})
    n = nodes()
    n.add_peer(peer.url)
    r = n.post("/block", data=encode(chain[3]))
    assert r.status_code == 202 and r.json() == {"result": "sync", "height": 0}
    wait_until(lambda: n.blocks_bytes() == encode(chain), WAIT_S, "the chain of the peer")
    # the new tip is broadcast to the peers
    wait_until(lambda: peer.requests_to("POST", "/block"), WAIT_S, "the broadcast of the new tip")
    assert peer.requests_to("POST", "/block")[0][2] == encode(chain[3])


# ---- POST /sync ------------------------------------------------------------------------------


def test_sync_without_peers(nodes):
    n = nodes()
    r = n.post("/sync")
    assert r.status_code == 200 and r.content == b'{"replaced": false, "height": 0}'
    n.append("x")
    assert n.post("/sync").content == b'{"replaced": false, "height": 1}'
    s = n.status()
    assert s["syncs"] == 2 and s["sync_requests"] == 2 and s["syncs_replaced"] == 0


def test_sync_replaces_with_a_longer_chain(nodes):
    a, b = nodes.many(2)
    blocks = [a.append(f"a{i}") for i in range(4)]
    b.append("b's own, shorter")
    b.add_peer(a)
    r = b.post("/sync")
    assert r.status_code == 200 and r.content == b'{"replaced": true, "height": 4}'
    assert b.blocks_bytes() == a.blocks_bytes() == encode([GENESIS] + blocks)
    assert b.status()["syncs_replaced"] == 1
    r = b.post("/sync")
    assert r.content == b'{"replaced": false, "height": 4}'


def test_sync_keeps_a_longer_own_chain(nodes):
    a, b = nodes.many(2)
    a.append("a")
    mine = [b.append(f"b{i}") for i in range(3)]
    b.add_peer(a)
    assert b.post("/sync").content == b'{"replaced": false, "height": 3}'
    assert b.blocks_bytes() == encode([GENESIS] + mine)


def test_concurrent_syncs_all_answer(nodes):
    a, b = nodes.many(2)
    for i in range(3):
        a.append(f"a{i}")
    b.add_peer(a)
    answers = []

    def one():
        r = requests.post(b.url + "/sync", timeout=10)
        answers.append((r.status_code, r.json()["height"]))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert answers == [(200, 3)] * 8
    assert b.status()["sync_requests"] == 8


@pytest.mark.parametrize("first_replaces", [True, False], ids=["first-replaces", "first-keeps"])
def test_sync_requested_during_a_sync_runs_right_after_it(nodes, fake_peers, first_replaces):
    """Syncs are single-flight, and a request that arrives while one runs is coalesced into one
    more sync right after it: its POST /sync answers as soon as that sync is done."""
    chain = make_chain(["p1", "p2"] if first_replaces else [])
    release = threading.Event()
    calls = []

    def blocks(handler, body):
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(10)  # hold the first sync until the second request is queued
        payload = encode(chain)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    peer = fake_peers({("GET", "/blocks"): blocks})
    n = nodes()
    n.add_peer(peer.url)
    answers = {}

    def sync(name):
        r = requests.post(n.url + "/sync", timeout=10)
        answers[name] = (time.monotonic(), r.status_code, r.json())

    first = threading.Thread(target=sync, args=("first",))
    first.start()
    wait_until(lambda: len(calls) == 1, WAIT_S, "the first sync to ask the peer")
    second = threading.Thread(target=sync, args=("second",))
    second.start()
    wait_until(lambda: n.status()["sync_requests"] == 2, WAIT_S, "the second sync request")
    released = time.monotonic()
    release.set()
    first.join(10)
    second.join(10)
    height = len(chain) - 1
    assert answers["first"][1:] == (200, {"replaced": first_replaces, "height": height})
    assert answers["second"][1:] == (200, {"replaced": False, "height": height})
    assert len(calls) == 2, "exactly one more sync for the coalesced request"
    # Right after, not at some later event (a wrong node would leave it waiting for the next
    # request, or until the client gives up); the bound only tells "right after" from "never".
    took = answers["second"][0] - released
    assert took < 5, f"the coalesced sync answered {took:.2f}s after the first one finished"
    assert calls[1] - released < 5, f"the second sync started {calls[1] - released:.2f}s after the first"


# ---- command line ----------------------------------------------------------------------------


PORT = object()  # stands for busy_port in the argument lists below
STOP_WAIT_S = 10  # s a node may take to exit after SIGTERM/SIGINT (it takes milliseconds)


def run_node(*args, timeout=10):
    return subprocess.run([str(NODE_BIN), *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    r = run_node(flag)
    assert r.returncode == 0
    assert r.stdout.startswith("usage: chainlab-node [OPTIONS] PORT\n")
    for opt in ["--host", "--peer", "--id", "--log-level", "--max-body", "--max-peers", "--max-url",
                "--max-chain-bytes", "--connect-timeout", "--timeout", "--version"]:
        assert opt in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    r = run_node(flag)
    assert r.returncode == 0
    assert r.stdout == "chainlab-node 0.1.0\n"
    assert r.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--bogus", PORT], id="unknown-flag"),
        pytest.param(["-x", PORT], id="unknown-short-flag"),
        pytest.param([], id="no-port"),
        pytest.param([PORT, PORT], id="two-ports"),
        pytest.param(["http"], id="port-not-a-number"),
        pytest.param(["0"], id="port-0"),
        pytest.param(["65536"], id="port-too-big"),
        pytest.param(["-1"], id="port-negative"),
        pytest.param(["--max-body", "x", PORT], id="max-body-not-a-number"),
        pytest.param(["--max-body", "0", PORT], id="max-body-0"),
        pytest.param(["--max-peers", "-1", PORT], id="max-peers-negative"),
        pytest.param(["--max-url", "5", PORT], id="max-url-too-small"),
        pytest.param(["--timeout", "1.5", PORT], id="timeout-fractional"),
        pytest.param(["--threads", "0", PORT], id="threads-0"),
        pytest.param(["--log-level", "loud", PORT], id="bad-log-level"),
        pytest.param(["--max-body"], id="missing-value"),
        pytest.param(["--broadcast-wait", "-1", PORT], id="broadcast-wait-negative"),
        pytest.param(["--max-chain-bytes", "1k", PORT], id="max-chain-bytes-suffix"),
    ],
)
def test_bad_command_line_exits_2_with_usage(args, busy_port):
    r = run_node(*(busy_port if a is PORT else a for a in args))
    assert r.returncode == 2, r
    assert "usage: chainlab-node [OPTIONS] PORT" in r.stderr, r.stderr
    assert r.stdout == ""


def test_bad_initial_peer_exits_2(busy_port):
    r = run_node("--peer", "ftp://127.0.0.1:1", busy_port)
    assert r.returncode == 2
    assert r.stderr == "chainlab-node: --peer ftp://127.0.0.1:1: peer URL must use http or https\n"


def test_more_initial_peers_than_max_peers_exits_2(busy_port):
    r = run_node("--max-peers", "1", "--peer", "http://127.0.0.1:1", "--peer", "http://127.0.0.1:2",
                 busy_port)
    assert r.returncode == 2
    assert r.stderr == "chainlab-node: 2 --peer options but --max-peers is 1\n"


def test_initial_peer_that_is_the_node_itself_exits_2(busy_port):
    r = run_node("--peer", f"http://127.0.0.1:{busy_port}", busy_port)
    assert r.returncode == 2
    assert "itself" in r.stderr, r.stderr


def test_port_in_use_exits_1_with_one_line(busy_port):
    r = run_node(busy_port)
    assert r.returncode == 1
    assert r.stderr == f"chainlab-node: port {busy_port} on {HOST} is already in use\n"
    assert r.stdout == ""


def test_second_node_on_the_same_port_exits_1(nodes):
    n = nodes()
    r = run_node(n.port)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "already in use" in r.stderr
    assert n.get("/block").status_code == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0(nodes, sig):
    n = nodes()
    n.append("x")
    n.send_signal(sig)
    assert n.proc.wait(timeout=STOP_WAIT_S) == 0
    assert "shutting down" in n.log_text()


def test_signal_right_after_start_exits_0(nodes):
    """Stopping while the HTTP workers are still starting: libmicrohttpd 0.9.75 could abort in
    MHD_quiesce_daemon() then (a race on its epoll set), which the node no longer calls."""
    for i in range(30):
        n = nodes("--threads", "4", name=f"quick{i}")
        n.send_signal(signal.SIGTERM)
        rc = n.proc.wait(timeout=10)
        assert rc == 0, f"start {i}: exit status {rc}\n{n.describe_log()}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0_with_requests_waiting_on_a_hung_peer(nodes, fake_peers, sig):
    """A POST /sync waiting for its sync and an /append waiting for its broadcast, both held by a
    peer that never answers: the node still stops at once and exits 0."""
    hung = fake_peers.hanging()
    n = nodes("--timeout", "30000", "--broadcast-wait", "30000")
    n.add_peer(hung.url)
    n.add_peer("http://127.0.0.1:1")
    results = {}

    def call(name, path, body):
        try:
            results[name] = requests.post(n.url + path, data=body, timeout=10)
        except Exception as e:  # the node may drop a waiting request when it stops
            results[name] = e

    threads = [threading.Thread(target=call, args=("sync", "/sync", b"")),
               threading.Thread(target=call, args=("append", "/append", b"while waiting"))]
    for t in threads:
        t.start()
    wait_until(lambda: hung.accepted >= 1, WAIT_S, "the node to connect to the hung peer")
    wait_until(lambda: n.status()["sync_requests"] == 1 and n.height() == 1, WAIT_S, "both requests to be waiting")
    assert not results, f"answered before the hung peer did: {results}"
    n.send_signal(sig)
    t0 = time.monotonic()
    try:
        rc = n.proc.wait(timeout=STOP_WAIT_S)  # the hung peer would hold it 30 s
    except subprocess.TimeoutExpired:
        rc = f"still running after {STOP_WAIT_S} s"
    for t in threads:
        t.join(10)
    assert rc == 0, f"exit status {rc} after {time.monotonic() - t0:.2f}s\n{n.describe_log()}"


# ---- debug log lines -------------------------------------------------------------------------


def test_debug_log_names_every_block(nodes):
    """At --log-level debug every block appended, received, relayed or ignored is one line with
    its index and short hash, and the peer where there is one."""
    a, b, c = nodes(), nodes(), nodes()
    a.add_peer(b)
    blk = a.append("logged")
    short = blk["hash"][:12]
    wait_until(lambda: f"block 1 {short} relayed to {b.url} (HTTP 200)" in a.log_text(), 10,
               "the relay line")
    assert f"block 1 {short}: appended (POST /append)" in a.log_text()
    assert re.search(rf"block 1 {short} from 127\.0\.0\.1:\d+: appended\n", b.log_text()), b.log_tail()
    assert b.post("/block", data=encode(blk)).json()["result"] == "ignored"
    assert re.search(rf"block 1 {short} from 127\.0\.0\.1:\d+: ignored \(our tip is 1\)", b.log_text())
    ahead = make_block(blk, "far", index=7)
    assert b.post("/block", data=encode(ahead)).status_code == 202
    assert re.search(rf"block 7 {ahead['hash'][:12]} from 127\.0\.0\.1:\d+: does not follow our tip 1: "
                     r"syncing", b.log_text())
    for i in range(3):
        tip = c.append(f"c{i}")
    b.add_peer(c)
    assert b.sync()["replaced"] is True
    # b's block 1 is not c's: the blocks after b's tip do not follow it, c's chain is fetched whole
    assert f"sync: took the chain of {c.url} up to block 3 {tip['hash'][:12]} (fetched from block 0 on)" \
        in b.log_text(), b.log_tail()
    a.add_peer("http://127.0.0.1:1")
    late = a.append("to nobody")
    wait_until(lambda: f"block 2 {late['hash'][:12]} not relayed to http://127.0.0.1:1: POST /block failed"
               in a.log_text(), 10, "the failed relay line")


def test_info_log_names_no_block(nodes):
    a = nodes("--log-level", "info")
    b = nodes("--log-level", "info")
    a.add_peer(b)
    blk = a.append("quiet")
    wait_until(lambda: b.height() == 1, 10, "the block at b")
    b.post("/block", data=encode(blk))
    for n in (a, b):
        assert blk["hash"][:12] not in n.log_text(), n.log_tail()
        assert "block 1 " not in n.log_text(), n.log_tail()

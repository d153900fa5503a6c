"""Every bad input to chainlab-node, table-driven.

After every bad input: the answer is the documented 4xx with a JSON {"error": str} body, the
node still answers GET /block, its chain (GET /blocks bytes) is unchanged and no sync was
triggered. Bad peers (garbage, invalid or foreign chains, oversized answers) are small Python
HTTP servers: the node's sync ignores them, POST /sync still answers, the chain is unchanged and
the log says why.
"""

import json

import pytest
import requests

from conftest import WAIT_S, GENESIS, block_hash, encode, make_block, make_chain, wait_until

DROP = object()


def next_block(tip, **fields):
    """The valid successor of tip with some fields replaced (or removed with DROP)."""
    b = make_block(tip, "next")
    for k, v in fields.items():
        if v is DROP:
            del b[k]
        else:
            b[k] = v
    return b


def rehash(b):
    b = dict(b)
    b["hash"] = block_hash(b["index"], b["data"], b["prev_hash"])
    return b


def flip(h):
    return ("1" if h[0] == "0" else "0") + h[1:]


class Baseline:
    """What must not change across a bad input."""

    def __init__(self, node):
        self.blocks = node.blocks_bytes()
        self.peers = node.get("/peers").content
        s = node.status()
        self.syncs = s["syncs"]
        self.sync_requests = s["sync_requests"]


def assert_rejected(node, r, status, before, mentions=None):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    assert 400 <= r.status_code < 500
    assert r.headers.get("Content-Type") == "application/json"
    body = json.loads(r.content)
    assert isinstance(body, dict) and list(body) == ["error"], body
    assert isinstance(body["error"], str) and body["error"].strip(), body
    if mentions:
        assert mentions.lower() in body["error"].lower(), f"error {body['error']!r} should mention {mentions!r}"
    assert_unchanged(node, before)
    return body["error"]


def assert_unchanged(node, before):
    tip = node.get("/block", timeout=5)
    assert tip.status_code == 200, "the node must still answer GET /block"
    assert node.blocks_bytes() == before.blocks, "the chain must not change"
    assert node.get("/peers").content == before.peers, "the peer list must not change"
    s = node.status()
    assert (s["syncs"], s["sync_requests"]) == (before.syncs, before.sync_requests), "no sync may be triggered"


@pytest.fixture(scope="module")
def target(module_nodes):
    """One node with a few blocks, shared by the table rows (each row leaves it unchanged)."""
    n = module_nodes(name="target")
    for d in ["one", "two ☃", "three"]:
        n.append(d)
    return n


# ---- POST /block -----------------------------------------------------------------------------

# (id, body(tip) -> bytes, the error mentions)
BAD_BLOCKS = [
    # malformed JSON
    ("empty-body", lambda t: b"", "malformed JSON"),
    ("open-brace", lambda t: b"{", "malformed JSON"),
    ("not-json", lambda t: b"hello world", "malformed JSON"),
    ("single-quotes", lambda t: b"{'index': 4}", "malformed JSON"),
    ("trailing-comma", lambda t: encode(next_block(t))[:-1] + b", }", "malformed JSON"),
    ("trailing-garbage", lambda t: encode(next_block(t)) + b" x", "malformed JSON"),
    ("two-objects", lambda t: encode(next_block(t)) * 2, "malformed JSON"),
    ("nan-index", lambda t: encode(next_block(t)).replace(b'"index": 4', b'"index": NaN'), "malformed JSON"),
    ("huge-exponent", lambda t: encode(next_block(t)).replace(b'"index": 4', b'"index": 1e400'), "malformed JSON"),
    ("index-2^64", lambda t: encode(next_block(t, index=2**64)), "malformed JSON"),
    ("bad-utf8-in-string", lambda t: encode(next_block(t)).replace(b'"next"', b'"\xff\xfe"'), "malformed JSON"),
    ("lone-surrogate", lambda t: encode(next_block(t)).replace(b'"next"', b'"\\ud800"'), "malformed JSON"),
    ("duplicate-key", lambda t: encode(next_block(t))[:-1] + b', "index": 4}', "malformed JSON"),
    ("deep-nesting", lambda t: b"[" * 100000, "malformed JSON"),
    ("utf8-bom", lambda t: b"\xef\xbb\xbf" + encode(next_block(t)), "malformed JSON"),
    ("nul-byte", lambda t: b"\x00" + encode(next_block(t)), "malformed JSON"),
    # a JSON value that is not an object (jansson refuses a scalar at the top as malformed)
    ("array", lambda t: b"[]", "JSON object"),
    ("array-of-block", lambda t: encode([next_block(t)]), "JSON object"),
    ("number", lambda t: b"4", None),
    ("string", lambda t: b'"block"', None),
    ("null", lambda t: b"null", None),
    ("true", lambda t: b"true", None),
    # missing fields
    ("empty-object", lambda t: b"{}", "needs the fields"),
    ("no-index", lambda t: encode(next_block(t, index=DROP)), "needs the fields"),
    ("no-data", lambda t: encode(next_block(t, data=DROP)), "needs the fields"),
    ("no-prev_hash", lambda t: encode(next_block(t, prev_hash=DROP)), "needs the fields"),
    ("no-hash", lambda t: encode(next_block(t, hash=DROP)), "needs the fields"),
    # wrong-typed fields
    ("index-string", lambda t: encode(next_block(t, index="4")), "index"),
    ("index-true", lambda t: encode(next_block(t, index=True)), "index"),
    ("index-null", lambda t: encode(next_block(t, index=None)), "index"),
    ("index-float-4.0", lambda t: encode(next_block(t, index=4.0)), "index"),
    ("index-array", lambda t: encode(next_block(t, index=[4])), "index"),
    ("data-number", lambda t: encode(next_block(t, data=1)), "data must be a string"),
    ("data-array", lambda t: encode(next_block(t, data=[])), "data must be a string"),
    ("data-object", lambda t: encode(next_block(t, data={})), "data must be a string"),
    ("data-true", lambda t: encode(next_block(t, data=True)), "data must be a string"),
    ("data-null", lambda t: encode(next_block(t, data=None)), "data must be a string"),
    ("prev_hash-number", lambda t: encode(next_block(t, prev_hash=1)), "prev_hash"),
    ("prev_hash-null", lambda t: encode(next_block(t, prev_hash=None)), "prev_hash"),
    ("prev_hash-list", lambda t: encode(next_block(t, prev_hash=[t["hash"]])), "prev_hash"),
    ("hash-null", lambda t: encode(next_block(t, hash=None)), "hash"),
    ("hash-number", lambda t: encode(next_block(t, hash=123)), "hash"),
    # an extra field
    ("extra-field", lambda t: encode(dict(next_block(t), nonce=1)), "unexpected field"),
    ("extra-field-case", lambda t: encode(dict(next_block(t), Index=4)), "unexpected field"),
    # bad index values
    ("index-negative", lambda t: encode(next_block(t, index=-1)), "index"),
    ("index-min-int64", lambda t: encode(next_block(t, index=-(2**63))), "index"),
    ("index-fractional", lambda t: encode(next_block(t, index=4.5)), "index"),
    ("index-2^53", lambda t: encode(next_block(t, index=2**53)), "index"),
    ("index-max-int64", lambda t: encode(next_block(t, index=2**63 - 1)), "index"),
    ("index-0-not-genesis", lambda t: encode(rehash(next_block(t, index=0, prev_hash=None))), "genesis"),
    ("index-0-prev-set", lambda t: encode(dict(GENESIS, prev_hash=t["hash"])), "genesis"),
    # hash / prev_hash not 64 lowercase hex
    ("hash-uppercase", lambda t: encode(next_block(t, hash=make_block(t, "next")["hash"].upper())), "hash"),
    ("hash-63", lambda t: encode(next_block(t, hash=make_block(t, "next")["hash"][:63])), "hash"),
    ("hash-65", lambda t: encode(next_block(t, hash=make_block(t, "next")["hash"] + "0")), "hash"),
    ("hash-non-hex", lambda t: encode(next_block(t, hash="g" * 64)), "hash"),
    ("hash-empty", lambda t: encode(next_block(t, hash="")), "hash"),
    ("hash-spaces", lambda t: encode(next_block(t, hash=" " + make_block(t, "next")["hash"][1:])), "hash"),
    ("hash-nul", lambda t: encode(next_block(t, hash=make_block(t, "next")["hash"][:63] + "\x00")), "hash"),
    ("prev_hash-uppercase", lambda t: encode(rehash(next_block(t, prev_hash=t["hash"].upper()))), "prev_hash"),
    ("prev_hash-63", lambda t: encode(rehash(next_block(t, prev_hash=t["hash"][:63]))), "prev_hash"),
    ("prev_hash-65", lambda t: encode(rehash(next_block(t, prev_hash=t["hash"] + "a"))), "prev_hash"),
    ("prev_hash-non-hex", lambda t: encode(rehash(next_block(t, prev_hash="z" * 64))), "prev_hash"),
    ("prev_hash-None-text", lambda t: encode(rehash(next_block(t, prev_hash="None"))), "prev_hash"),
    # a hash that does not verify: 400, and never a sync
    ("hash-flipped", lambda t: encode(next_block(t, hash=flip(make_block(t, "next")["hash"]))), "does not match"),
    ("data-changed", lambda t: encode(next_block(t, data="changed")), "does not match"),
    ("index-changed", lambda t: encode(next_block(t, index=5)), "does not match"),
    ("future-bad-hash", lambda t: encode(next_block(t, index=40, hash=flip(t["hash"]))), "does not match"),
    ("fork-bad-hash", lambda t: encode(next_block(t, prev_hash="0" * 64)), "does not match"),
    ("hash-of-genesis", lambda t: encode(next_block(t, hash=GENESIS["hash"])), "does not match"),
]


@pytest.mark.parametrize("body,mentions", [pytest.param(b, m, id=i) for i, b, m in BAD_BLOCKS])
def test_bad_block(target, body, mentions):
    before = Baseline(target)
    r = target.post("/block", data=body(target.tip()))
    assert_rejected(target, r, 400, before, mentions)


def test_bad_block_is_logged_escaped(target):
    off = target.log_size()
    before = Baseline(target)
    r = target.post("/block", data=b'{"index": 1, "data": "\x1b[31m\nfake log line", "oops"')
    assert_rejected(target, r, 400, before)
    log = target.log_since(off)
    assert "block refused" in log
    assert "\nfake log line" not in log, "untrusted bytes must be escaped in the log"


# ---- POST /append with a body that is not UTF-8 ----------------------------------------------

BAD_UTF8 = [
    ("lone-ff", b"\xff"),
    ("lone-continuation", b"abc\x80"),
    ("truncated-2-byte", b"caf\xc3"),
    ("bad-continuation", b"\xc3\x28"),
    ("overlong-slash", b"\xc0\xaf"),
    ("overlong-nul", b"\xc0\x80"),
    ("overlong-3-byte", b"\xe0\x80\xaf"),
    ("surrogate-d800", b"\xed\xa0\x80"),
    ("surrogate-pair-cesu", b"\xed\xa0\xbd\xed\xb8\x80"),
    ("above-10ffff", b"\xf4\x90\x80\x80"),
    ("f8-5-byte", b"\xf8\x88\x80\x80\x80"),
    ("latin1", "café".encode("latin-1")),
    ("utf16", "hi".encode("utf-16")),
]


@pytest.mark.parametrize("body", [pytest.param(b, id=i) for i, b in BAD_UTF8])
def test_append_not_utf8(target, body):
    before = Baseline(target)
    r = target.post("/append", data=body)
    assert_rejected(target, r, 400, before, "UTF-8")


# ---- GET /blocks with a bad slice ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["from=-1", "from=abc", "limit=1.5", "from=", "limit=", "from=+1", "from=0x10", "from=1e3", "from=%201",
     "from=1&limit=-2", "from=18446744073709551616", "limit=99999999999999999999"],
)
def test_blocks_bad_query(target, query):
    before = Baseline(target)
    r = target.get("/blocks?" + query)
    assert_rejected(target, r, 400, before, "non-negative integers")


# ---- unknown paths and wrong methods ---------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/"), ("GET", "/blockz"), ("GET", "/block/1"), ("GET", "/block/"), ("GET", "/blocks/"),
     ("GET", "/BLOCK"), ("POST", "/peers/x"), ("POST", "/append/"), ("DELETE", "/nope"), ("GET", "/status.json"),
     ("PUT", "/x"), ("GET", "/" + "a" * 2000)],
)
def test_unknown_path_404(target, method, path):
    before = Baseline(target)
    r = target.request(method, path, data=b"data")
    assert_rejected(target, r, 404, before, "unknown path")


@pytest.mark.parametrize(
    "method,path,allow",
    [("GET", "/append", "POST"), ("DELETE", "/append", "POST"), ("PUT", "/block", "GET, POST"),
     ("DELETE", "/block", "GET, POST"), ("POST", "/blocks", "GET"), ("DELETE", "/blocks", "GET"),
     ("GET", "/sync", "POST"), ("PUT", "/sync", "POST"), ("POST", "/status", "GET"),
     ("PUT", "/peers", "GET, POST, DELETE"), ("PATCH", "/peers", "GET, POST, DELETE"),
     ("OPTIONS", "/block", "GET, POST"), ("TRACE", "/blocks", "GET"), ("BREW", "/append", "POST")],
)
def test_wrong_method_405(target, method, path, allow):
    before = Baseline(target)
    r = target.request(method, path, data=b"x")
    assert_rejected(target, r, 405, before, "method not allowed")
    assert r.headers.get("Allow") == allow


# ---- bodies over the limit -------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_body(module_nodes):
    n = module_nodes("--max-body", "64", name="small-body")
    n.append("x")
    return n


def chunked(data, size=16):
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize(
    "method,path,body",
    [
        pytest.param("POST", "/append", b"x" * 65, id="append-65"),
        pytest.param("POST", "/append", b"x" * 100000, id="append-100k"),
        pytest.param("POST", "/append", "é".encode() * 33, id="append-66-utf8"),
        pytest.param("POST", "/block", encode(make_block(GENESIS, "a" * 50)), id="block"),
        pytest.param("POST", "/peers", b"http://127.0.0.1:1/" + b"a" * 60, id="peers"),
        pytest.param("DELETE", "/peers", b"http://127.0.0.1:1/" + b"a" * 60, id="delete-peers"),
        pytest.param("POST", "/sync", b"s" * 65, id="sync"),
        pytest.param("POST", "/append", "chunked-1000", id="append-chunked"),
        pytest.param("POST", "/block", "chunked-65", id="block-chunked"),
    ],
)
def test_body_over_the_limit_413(small_body, method, path, body):
    before = Baseline(small_body)
    if isinstance(body, str):  # no Content-Length: the node must count the bytes itself
        body = chunked(b"c" * int(body.split("-")[1]))
    r = small_body.request(method, path, data=body)
    assert_rejected(small_body, r, 413, before, "over the limit of 64 bytes")


def test_body_at_the_limit_is_accepted(nodes):
    n = nodes("--max-body", "64")
    assert n.append("y" * 64)["data"] == "y" * 64
    r = n.post("/append", data=chunked(b"z" * 64))
    assert r.status_code == 200 and r.json()["data"] == "z" * 64


# ---- bad peer URLs ---------------------------------------------------------------------------

# (id, url(port) -> bytes, the error mentions)
BAD_PEERS = [
    ("ftp", lambda p: b"ftp://127.0.0.1:21", "http or https"),
    ("file", lambda p: b"file:///etc/passwd", "http or https"),
    ("gopher", lambda p: b"gopher://127.0.0.1:70/_", "http or https"),
    ("dict", lambda p: b"dict://127.0.0.1:2628", "http or https"),
    ("javascript", lambda p: b"javascript:alert(1)", None),
    ("empty", lambda p: b"", "peer URL"),
    ("blank", lambda p: b"  \n ", "peer URL"),
    ("slash-only", lambda p: b"/", "peer URL"),
    ("no-scheme", lambda p: b"127.0.0.1:8081", None),
    ("scheme-relative", lambda p: b"//127.0.0.1:8081", "malformed"),
    ("no-host", lambda p: b"http://:8081", "malformed"),
    ("port-too-big", lambda p: b"http://127.0.0.1:99999", "malformed"),
    ("inner-space", lambda p: b"http://127.0.0.1 :8081", "spaces or control"),
    ("inner-newline", lambda p: b"http://127.0.0.1:8081\nhttp://127.0.0.1:8082", "spaces or control"),
    ("control-char", lambda p: b"http://127.0.0.1:8081/\x01", "spaces or control"),
    ("nul", lambda p: b"http://127.0.0.1:8081\x00", "printable"),
    ("not-utf8", lambda p: b"http://127.0.0.1:8081/\xff", "printable"),
    ("unicode-host", lambda p: "http://exämple.org:80".encode(), "spaces or control"),
    ("user-info", lambda p: b"http://user:pw@127.0.0.1:8081", "user, query or fragment"),
    ("query", lambda p: b"http://127.0.0.1:8081/?x=1", "user, query or fragment"),
    ("fragment", lambda p: b"http://127.0.0.1:8081#f", "user, query or fragment"),
    ("json-string", lambda p: b'"http://127.0.0.1:8081"', None),
    ("too-long", lambda p: b"http://" + b"a" * 600 + b".org:80", "limit is 512"),
    ("too-long-path", lambda p: b"http://127.0.0.1:8081/" + b"p" * 500, "limit is 512"),
    # pointing at the node itself (it listens on 127.0.0.1: [::1] and 127.0.0.2 are other
    # addresses, where other nodes may listen at the same port)
    ("self", lambda p: f"http://127.0.0.1:{p}".encode(), "itself"),
    ("self-slash", lambda p: f"http://127.0.0.1:{p}/".encode(), "itself"),
    ("self-localhost", lambda p: f"http://localhost:{p}".encode(), "itself"),
    ("self-LOCALHOST", lambda p: f"http://LOCALHOST:{p}".encode(), "itself"),
    ("self-https", lambda p: f"https://127.0.0.1:{p}".encode(), "itself"),
    ("self-127.1", lambda p: f"http://127.1:{p}".encode(), "itself"),
    ("self-decimal-ip", lambda p: f"http://2130706433:{p}".encode(), "itself"),
    ("self-0.0.0.0", lambda p: f"http://0.0.0.0:{p}".encode(), "itself"),
    ("self-ipv4-mapped-ipv6", lambda p: f"http://[::ffff:127.0.0.1]:{p}".encode(), "itself"),
    ("self-leading-zero-port", lambda p: f"http://127.0.0.1:0{p}".encode(), "itself"),
]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("url,mentions", [pytest.param(u, m, id=i) for i, u, m in BAD_PEERS])
def test_bad_peer_url_400(target, method, url, mentions):
    before = Baseline(target)
    r = target.request(method, "/peers", data=url(target.port))
    try:
        assert_rejected(target, r, 400, before, mentions)
    finally:
        if method == "POST" and r.status_code == 200:  # keep the shared node clean for the next rows
            target.delete("/peers", data=url(target.port))


def test_peer_url_at_the_length_limit_is_accepted(nodes):
    n = nodes("--max-url", "64")
    url = "http://127.0.0.1:1/" + "p" * (64 - len("http://127.0.0.1:1/"))
    assert n.add_peer(url) == [url]
    before = Baseline(n)
    r = n.post("/peers", data=(url + "q").encode())
    assert_rejected(n, r, 400, before, "limit is 64")


def test_delete_unknown_peer_404(target):
    before = Baseline(target)
    r = target.delete("/peers", data=b"http://127.0.0.1:9")
    assert_rejected(target, r, 404, before, "not a peer")


def test_one_peer_too_many(nodes):
    n = nodes("--max-peers", "2")
    n.add_peer("http://127.0.0.1:1")
    n.add_peer("http://127.0.0.1:2")
    before = Baseline(n)
    r = n.post("/peers", data=b"http://127.0.0.1:3")
    assert_rejected(n, r, 400, before, "limit")
    both = ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    assert n.add_peer("http://127.0.0.1:2") == both, "re-adding a peer stays idempotent when full"
    n.remove_peer("http://127.0.0.1:1")
    assert n.add_peer("http://127.0.0.1:3") == ["http://127.0.0.1:2", "http://127.0.0.1:3"]


def test_max_peers_zero(nodes):
    n = nodes("--max-peers", "0")
    before = Baseline(n)
    assert_rejected(n, n.post("/peers", data=b"http://127.0.0.1:1"), 400, before, "limit")


# ---- peers that answer GET /blocks badly -----------------------------------------------------

MAX_CHAIN = 4096
LONGER = make_chain([f"peer block {i}" for i in range(1, 6)])  # height 5; the node holds height 2
BIG = make_chain(["b" * 200 for _ in range(30)])  # valid and longer, but over MAX_CHAIN bytes
assert len(encode(BIG)) > MAX_CHAIN
OTHER_GENESIS = {"index": 0, "data": "another genesis", "prev_hash": None,
                 "hash": block_hash(0, "another genesis", None)}


def with_block(chain, i, **fields):
    chain = [dict(b) for b in chain]
    chain[i].update(fields)
    return chain


def stream_forever(handler, body):
    """An answer without Content-Length that never ends (until the reader hangs up, or 64 MiB)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = encode(BIG[1]) + b", "
    try:
        handler.wfile.write(b"[" + encode(GENESIS) + b", ")
        for _ in range(64 * 1024 * 1024 // len(chunk)):
            handler.wfile.write(chunk)
    except OSError:
        pass


def truncated(handler, body):
    """Content-Length promises more than is sent, then the connection closes."""
    data = encode(LONGER)
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.close_connection = True
    handler.wfile.write(data[: len(data) // 2])


# (id, the answer to GET /blocks, what the log says)
BAD_CHAINS = [
    ("garbage", (200, b"garbage \x00\xff"), "ignoring an invalid chain: malformed JSON"),
    ("html", (200, b"<html><body>hello</body></html>"), "malformed JSON"),
    ("empty-body", (200, b""), "malformed JSON"),
    ("truncated-json", (200, encode(LONGER)[:-40]), "malformed JSON"),
    ("empty-array", (200, b"[]"), "empty"),
    ("object", (200, encode({"chain": LONGER})), "JSON array"),
    ("array-of-numbers", (200, b"[1, 2, 3, 4, 5, 6]"), "block 0"),
    ("bad-hash", (200, encode(with_block(LONGER, 3, hash=flip(LONGER[3]["hash"])))), "block 3"),
    ("bad-data", (200, encode(with_block(LONGER, 4, data="tampered"))), "block 4"),
    ("data-not-string", (200, encode(with_block(LONGER, 2, data=7))), "block 2"),
    ("extra-field", (200, encode(with_block(LONGER, 1, nonce=1))), "block 1"),
    ("gap", (200, encode(LONGER[:3] + LONGER[4:])), "block 3"),
    ("not-chained", (200, encode(LONGER[:3] + make_chain(["x", "y", "z"])[1:] + [])), "block 3"),
    ("duplicate-block", (200, encode(LONGER[:3] + LONGER[2:])), "block 3"),
    ("another-genesis", (200, encode(make_chain([f"o{i}" for i in range(6)], start=[OTHER_GENESIS]))), "block 0"),
    ("no-genesis", (200, encode(LONGER[1:] + [make_block(LONGER[-1], "more")])), "block 0"),
    ("http-500", (500, encode(LONGER)), "HTTP 500"),
    ("http-404", (404, b'{"error": "no"}'), "HTTP 404"),
    ("redirect-to-file", (302, b"", {"Location": "file:///etc/passwd"}), "HTTP 302"),
    ("over-max-chain-bytes", (200, encode(BIG)), f"more than {MAX_CHAIN} bytes"),
    ("over-max-chain-bytes-streamed", stream_forever, f"more than {MAX_CHAIN} bytes"),
    ("content-length-lies", truncated, "GET /blocks failed"),
]


@pytest.mark.parametrize("answer,reason", [pytest.param(a, r, id=i) for i, a, r in BAD_CHAINS])
def test_peer_with_a_bad_chain_is_ignored(nodes, fake_peers, answer, reason):
    peer = fake_peers({("GET", "/blocks"): answer})
    n = nodes("--max-chain-bytes", str(MAX_CHAIN), "--timeout", "3000")
    n.append("mine 1")
    n.append("mine 2")
    n.add_peer(peer.url)
    before = n.blocks_bytes()
    off = n.log_size()
    r = n.post("/sync", timeout=10)
    assert r.status_code == 200
    assert r.content == b'{"replaced": false, "height": 2}'
    assert n.get("/block").status_code == 200
    assert n.blocks_bytes() == before
    assert peer.requests_to("GET", "/blocks"), "the node must have asked the peer"
    log = n.log_since(off)
    lines = [line for line in log.splitlines() if peer.url in line]
    assert any(reason in line for line in lines), f"the log should say {reason!r} for {peer.url}:\n{log}"
    s = n.status()
    assert s["syncs"] == 1 and s["syncs_replaced"] == 0


def test_bad_peer_does_not_spoil_a_good_one(nodes, fake_peers):
    bad = fake_peers({("GET", "/blocks"): (200, b"[garbage")})
    huge = fake_peers({("GET", "/blocks"): (200, encode(BIG))})
    good = fake_peers({("GET", "/blocks"): (200, encode(LONGER))})
    n = nodes("--max-chain-bytes", str(MAX_CHAIN))
    n.append("mine")
    for p in (bad, huge, good):
        n.add_peer(p.url)
    r = n.post("/sync")
    assert r.status_code == 200 and r.json() == {"replaced": True, "height": 5}
    assert n.blocks_bytes() == encode(LONGER)


def test_peer_that_answers_post_block_with_errors(nodes, fake_peers):
    """A peer that refuses our broadcasts is counted as failed and does not disturb the node."""
    peer = fake_peers({("POST", "/block"): (500, b"boom")})
    n = nodes()
    n.add_peer(peer.url)
    for i in range(3):
        n.append(f"b{i}")
    wait_until(lambda: n.status()["posts_failed"] == 3, WAIT_S, "3 failed posts")
    assert [r[2] for r in peer.requests_to("POST", "/block")] == [encode(b) for b in n.blocks()[1:]]
    assert n.height() == 3


def test_unreachable_peer_does_not_block_appends(nodes):
    n = nodes("--connect-timeout", "200")
    n.add_peer("http://127.0.0.1:1")  # connection refused
    b = [n.append(f"x{i}") for i in range(3)]
    assert n.blocks()[1:] == b
    r = n.post("/sync", timeout=10)
    assert r.status_code == 200 and r.json() == {"replaced": False, "height": 3}
    wait_until(lambda: n.status()["posts_failed"] == 3, WAIT_S, "3 failed posts")
    assert "peer http://127.0.0.1:1: POST /block failed" in n.log_text()


def test_requests_are_bounded(target):
    """A flood of bad requests on many connections leaves the node answering."""
    before = Baseline(target)
    s = requests.Session()
    for i in range(200):
        r = s.post(target.url + "/block", data=b"{" * (i % 7 + 1), timeout=5)
        assert r.status_code == 400
    assert_unchanged(target, before)

"""chainlab-node --db: the chain and the peers survive a SIGKILL, a replacement by sync survives a
restart, a restarted node rejoins its saved peers by itself, a damaged database is one clear
error and exit 1, and a long stored chain loads (fully validated) in reasonable time."""

import json
import re
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

from conftest import (
    BUILD,
    NODE_BIN,
    REPO,
    encode,
    free_ports,
    verify_chain,
    wait_until,
)

# a client only: a sanitizer build directory may lack it, the default one then serves
LOADGEN = next(
    (p for p in (BUILD / "tools" / "loadgen", REPO / "build" / "tools" / "loadgen") if p.is_file()),
    BUILD / "tools" / "loadgen",
)
BIG_CHAIN = 100_000  # blocks of the long-chain load test
BIG_LOAD_LIMIT_S = 60.0  # start-up deadline for it (sanitizer builds are ~10x slower)
LOAD_RE = re.compile(r"loaded and validated (\d+) blocks and (\d+) peers in (\d+) ms")


def db_node(nodes, db, *args, **kw):
    return nodes("--db", str(db), *args, **kw)


def fill(node, n):
    """Append n blocks quickly (tools/loadgen, 8 connections)."""
    assert LOADGEN.is_file(), f"{LOADGEN} is missing: build it with `make`"
    subprocess.run([str(LOADGEN), node.url, str(n), "8"], check=True, capture_output=True, timeout=300)


def load_ms(node):
    """The start-up load time the node logged."""
    m = LOAD_RE.search(node.log_text())
    assert m, f"{node.name} logged no load line:\n{node.log_tail()}"
    return int(m.group(3))


# ---- durability ------------------------------------------------------------------------------


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_sigkill_keeps_the_chain_byte_identical(nodes, tmp_path, sync):
    db = tmp_path / "chain.db"
    n = db_node(nodes, db, "--db-sync", sync)
    for i in range(50):
        n.append(f"block {i} \u2603 \"quoted\"\n")
    before = n.blocks_bytes()
    n.kill()
    n.restart()
    assert n.blocks_bytes() == before
    assert load_ms(n) >= 0
    n.append("after the restart")  # and it goes on
    after = n.blocks_bytes()
    n.kill()
    n.restart()
    assert n.blocks_bytes() == after


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_sigkill_under_load_loses_no_acknowledged_append(nodes, tmp_path, sync):
    """Appends run on 4 connections while the node is SIGKILLed: every append answered 200 is
    in the chain after the restart, at its index, byte for byte."""
    db = tmp_path / "chain.db"
    n = db_node(nodes, db, "--db-sync", sync)
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k):
        s = requests.Session()
        i = 0
        while not stop.is_set():
            try:
                r = s.post(n.url + "/append", data=f"c{k}-{i}".encode(), timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked.append(r.content)
            i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 300, timeout=30, what="300 acknowledged appends")
    n.kill()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    with lock:
        acked_now = list(acked)
    n.restart()
    chain = n.blocks()
    verify_chain(chain)
    served = {b["index"]: encode(b) for b in chain}
    for body in acked_now:
        b = json.loads(body)
        assert served.get(b["index"]) == body, f"acknowledged block {b['index']} lost or changed"
    assert len(chain) - 1 >= len(acked_now)


def test_no_db_file_is_written_without_the_flag(nodes, tmp_path):
    n = nodes()
    n.append("x")
    assert not any(tmp_path.glob("*.db*"))


# ---- replacement by sync -----------------------------------------------------------------------


def test_replacement_by_sync_survives_a_restart(nodes, tmp_path):
    a = nodes()
    b = db_node(nodes, tmp_path / "b.db")
    for i in range(5):
        a.append(f"shared {i}")
    b.add_peer(a)
    assert b.sync()["replaced"] is True  # b adopts a's 5 blocks
    b.remove_peer(a)
    for i in range(3):
        b.append(f"b only {i}")  # b diverges after the common prefix
    for i in range(20):
        a.append(f"a only {i}")
    b.add_peer(a)
    r = b.sync()
    assert r == {"replaced": True, "height": 25}
    want = a.blocks_bytes()
    assert b.blocks_bytes() == want
    b.kill()
    b.restart()
    assert b.blocks_bytes() == want


def test_blocks_fetched_after_our_tip_survive_a_restart(nodes, tmp_path):
    """A node behind its peer fetches only the blocks after its tip; they are saved as well."""
    a = nodes()
    b = db_node(nodes, tmp_path / "b.db", "--sync-page", "7")
    for i in range(5):
        a.append(f"shared {i}")
    b.add_peer(a)
    assert b.sync() == {"replaced": True, "height": 5}
    b.remove_peer(a)
    for i in range(30):
        a.append(f"later {i}")
    off = b.log_size()
    b.add_peer(a)
    assert b.sync() == {"replaced": True, "height": 35}
    assert "fetching 5 pages of 7 blocks from block 6" in b.log_since(off)
    want = a.blocks_bytes()
    assert b.blocks_bytes() == want
    b.kill()
    b.restart()
    assert b.blocks_bytes() == want
    assert b.append("after")["index"] == 36


def test_adopting_a_long_chain_from_genesis_survives_a_restart(nodes, tmp_path):
    a = nodes()
    fill(a, 3000)
    b = db_node(nodes, tmp_path / "b.db")
    b.append("mine")
    b.add_peer(a)
    assert b.sync()["replaced"] is True
    want = a.blocks_bytes()
    b.kill()
    b.restart()
    assert b.blocks_bytes() == want


# ---- peers -----------------------------------------------------------------------------------


def test_peers_survive_a_restart_and_the_node_resyncs_by_itself(nodes, tmp_path):
    a, c = nodes(), nodes()
    b = db_node(nodes, tmp_path / "b.db")
    b.add_peer(a)
    b.add_peer(c)
    b.remove_peer(c)
    b.add_peer("http://127.0.0.1:9/")  # a dead peer is kept too
    saved = b.peers()
    assert saved == [a.url, "http://127.0.0.1:9"]
    b.kill()
    for i in range(10):
        a.append(f"while b was down {i}")
    b.restart()
    assert b.peers() == saved
    wait_until(lambda: b.blocks_bytes() == a.blocks_bytes(), timeout=10, what="b resyncs with a")
    assert LOAD_RE.search(b.log_text()).group(2) == "2"


def test_peer_flags_are_saved_with_the_rest(nodes, tmp_path):
    a = nodes()
    db = tmp_path / "b.db"
    b = db_node(nodes, db, "--peer", a.url)
    b.stop()
    b2 = db_node(nodes, db)  # no --peer this time
    assert b2.peers() == [a.url]


# ---- damaged databases -------------------------------------------------------------------------


def make_db(nodes, path, blocks=10):
    """A database holding blocks "t1".."tN", written by a node that then exits cleanly."""
    n = db_node(nodes, path, "--db-sync", "normal")
    if blocks > 100:
        fill(n, blocks)
    else:
        for i in range(1, blocks + 1):
            n.append(f"t{i}")
    assert n.stop() == 0
    return path


def sql(path, statement):
    db = sqlite3.connect(str(path))
    db.executescript(statement)
    db.commit()
    db.close()


def damage_random(path):
    path.write_bytes(bytes(range(256)) * 64)


def damage_truncate(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def damage_empty(path):
    path.write_bytes(b"")


DAMAGES = [
    pytest.param(damage_random, "not a SQLite database", 10, id="random-bytes"),
    pytest.param(damage_truncate, "malformed", 3000, id="truncated"),
    pytest.param(damage_empty, "empty", 10, id="empty-file"),
    pytest.param(
        lambda p: sql(p, "UPDATE blocks SET json = replace(json, '\"t3\"', '\"T3\"') WHERE idx = 3"),
        "block 3: hash",
        10,
        id="tampered-block",
    ),
    pytest.param(lambda p: sql(p, "DELETE FROM blocks WHERE idx = 4"), "gap: block 4 is missing", 10, id="gap"),
    pytest.param(lambda p: sql(p, "PRAGMA user_version = 9"), "schema version", 10, id="wrong-user-version"),
    pytest.param(lambda p: sql(p, "DROP TABLE peers"), "wrong schema", 10, id="wrong-schema"),
    pytest.param(
        lambda p: sql(p, "UPDATE blocks SET json = replace(json, ', \"data\"', ',  \"data\"') WHERE idx = 2"),
        "block 2: its stored JSON is not the block's exact encoding",
        10,
        id="not-exact-encoding",
    ),
]


@pytest.mark.parametrize("damage,expect,blocks", DAMAGES)
def test_damaged_db_is_one_line_and_exit_1(nodes, tmp_path, damage, expect, blocks):
    db = make_db(nodes, tmp_path / "chain.db", blocks)
    damage(db)
    port = free_ports(1)[0]
    p = subprocess.run(
        [str(NODE_BIN), "--db", str(db), str(port)], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 1, p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"chainlab-node: --db {db}: "), lines[0]
    assert expect in lines[0], lines[0]


def test_second_node_on_the_same_db_is_refused(nodes, tmp_path):
    db = tmp_path / "chain.db"
    db_node(nodes, db)
    port = free_ports(1)[0]
    p = subprocess.run([str(NODE_BIN), "--db", str(db), str(port)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert len(p.stderr.splitlines()) == 1 and "in use by another process" in p.stderr, p.stderr


def test_bad_db_sync_value_is_a_usage_error(tmp_path, busy_port):
    p = subprocess.run(
        [str(NODE_BIN), "--db", str(tmp_path / "x.db"), "--db-sync", "off", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert p.returncode == 2
    assert "bad value for --db-sync: 'off'" in p.stderr
    assert not (tmp_path / "x.db").exists()


# ---- a long chain ----------------------------------------------------------------------------


def test_long_chain_loads_fully_validated_in_reasonable_time(nodes, tmp_path):
    """A 100k-block chain, adopted by sync into a fresh database, then loaded at start."""
    a = nodes()
    fill(a, BIG_CHAIN)
    b = db_node(nodes, tmp_path / "big.db")
    b.add_peer(a)
    t = time.monotonic()
    assert b.sync(timeout=120) == {"replaced": True, "height": BIG_CHAIN}
    adopt_s = time.monotonic() - t
    want = a.blocks_bytes()
    b.stop()
    t = time.monotonic()
    b.restart(timeout=BIG_LOAD_LIMIT_S)
    ready_s = time.monotonic() - t
    m = LOAD_RE.search(b.log_text())
    assert m and int(m.group(1)) == BIG_CHAIN + 1, b.log_tail()
    assert b.blocks_bytes() == want
    print(
        f"\n100k blocks: sync+adopt into the db {adopt_s * 1000:.0f} ms, load at start "
        f"{int(m.group(3))} ms, ready after {ready_s * 1000:.0f} ms"
    )

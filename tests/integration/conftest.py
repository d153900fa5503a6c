"""Shared fixtures and helpers for the chainlab integration tests.

Everything here is meant to be reused by later suites (the simulator tests):

- free_ports(n): n free sequential ports on 127.0.0.1, each checked by binding.
- NodeProcess: one chainlab-node child with its log in pytest's tmp_path, started
  with a readiness deadline (polls GET /block, no fixed sleeps) and stopped with
  SIGTERM, then SIGKILL after a grace period, always reaped.
- the `nodes` fixture: a NodeFactory that starts any number of nodes (and
  Clusters) and kills every one of them on teardown, even when the test failed.
- wait_until(predicate, timeout, what) and wait_converged(nodes, timeout).
- Cluster: N nodes on sequential ports wired directly as a line, ring, star or mesh (no
  faults: clusters with partitions, cuts and link faults come from the `chainlab_cluster`
  fixture of the chainlab package, tools/python/chainlab, through `chainlab-sim serve`).
- FakePeer / HangingPeer: scripted HTTP peers and peers that never answer, run in
  threads on free ports, for the bad-peer and network tests.
- block helpers: GENESIS, block_hash(), make_block(), verify_chain(), the seed
  vectors.

The build directory is $CHAINLAB_BUILD (default <repo>/build), as `make integration`
sets it. When a test fails, the tail of every node's log is added to its report. A node whose log
holds a sanitizer report (a data race, a memory error, undefined behaviour) fails the test.
"""

import atexit
import errno
import hashlib
import http.server
import json
import os
import queue
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))  # the chainlab package and its pytest plugin
pytest_plugins = ["chainlab.pytest_plugin"]
BUILD = Path(os.environ.get("CHAINLAB_BUILD") or REPO / "build")
NODE_BIN = BUILD / "chainlab-node"
SIM_BIN = BUILD / "chainlab-sim"
os.environ.setdefault("CHAINLAB_SIM", str(SIM_BIN))  # for the chainlab_cluster fixture
SIM_EXIT_GRACE = 15.0  # s the sim may take to exit after a signal, and its nodes to vanish (it takes < 1 s)
VECTORS = Path(os.environ.get("CHAINLAB_VECTORS") or REPO.parent / "shared" / "vectors" / "seed-chain.json")
HOST = "127.0.0.1"

START_TIMEOUT = float(os.environ.get("CHAINLAB_START_TIMEOUT", "30"))  # s until GET /block answers (it takes ms)
STOP_GRACE = float(os.environ.get("CHAINLAB_STOP_GRACE", "15"))  # s between SIGTERM and SIGKILL (a node takes ms)
HTTP_TIMEOUT = 10.0  # s for one request of a test to a node
# s a test waits for a condition that a healthy run reaches in well under a second. Only a failing
# test waits it out, so it is generous: a loaded machine (sanitizers, two CPU hogs) must not miss it.
WAIT_S = 30.0
LOG_LEVEL = os.environ.get("CHAINLAB_LOG_LEVEL", "debug")
LOG_TAIL_LINES = 40
# A line a sanitizer writes (TSan, ASan, LSan, UBSan): a node's log holding one fails the test.
SANITIZER_RE = re.compile(r"(Thread|Address|Leak|UndefinedBehavior)Sanitizer|runtime error")

GENESIS_HASH = "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"
GENESIS = {"index": 0, "data": None, "prev_hash": None, "hash": GENESIS_HASH}


# ---- blocks ----------------------------------------------------------------------------------


def block_hash(index, data, prev_hash):
    """The protocol's hash: sha256(str(index) + S(data) + S(prev_hash)), S(None) = 'None'."""
    text = str(index) + ("None" if data is None else data) + ("None" if prev_hash is None else prev_hash)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_block(prev, data, index=None, prev_hash=None):
    """The block that follows prev (a dict), with a correct hash; index/prev_hash override."""
    index = prev["index"] + 1 if index is None else index
    prev_hash = prev["hash"] if prev_hash is None else prev_hash
    return {"index": index, "data": data, "prev_hash": prev_hash, "hash": block_hash(index, data, prev_hash)}


def make_chain(datas, start=None):
    """A valid chain: start (default [GENESIS]) extended by one block per item of datas."""
    chain = list(start) if start else [dict(GENESIS)]
    for d in datas:
        chain.append(make_block(chain[-1], d))
    return chain


def encode(obj):
    """The wire bytes of a block, chain or answer: exactly Python's json.dumps."""
    return json.dumps(obj).encode("ascii")


def verify_chain(chain):
    """Assert that chain (a list of dicts) is a valid chain from genesis."""
    assert chain and chain[0] == GENESIS, f"chain does not start with genesis: {chain[:1]!r}"
    for i in range(1, len(chain)):
        b, p = chain[i], chain[i - 1]
        assert list(b) == ["index", "data", "prev_hash", "hash"], f"block {i} keys: {list(b)}"
        assert b["index"] == i and b["prev_hash"] == p["hash"], f"block {i} does not chain: {b!r}"
        assert isinstance(b["data"], str), f"block {i} data: {b['data']!r}"
        assert b["hash"] == block_hash(b["index"], b["data"], b["prev_hash"]), f"block {i} hash: {b!r}"


def load_vectors():
    """The seed chain produced by the original implementation (a list of blocks)."""
    assert VECTORS.is_file(), f"missing test vectors {VECTORS} (set CHAINLAB_VECTORS)"
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)["chain"]


# ---- ports ----------------------------------------------------------------------------------

_handed_out = set()  # ports given out by this process: never given twice
_ports_lock = threading.Lock()


def _port_is_free(port, host=HOST):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))  # no SO_REUSEADDR: a TIME_WAIT socket counts as taken too
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n, host=HOST, lo=20000, hi=32000, attempts=500):
    """n free SEQUENTIAL ports on host, each checked by binding. Picks a random base below the
    kernel's ephemeral range (so outgoing connections do not take them) and never returns a
    port this process handed out before. Returns a list of n ints."""
    rng = random.SystemRandom()
    with _ports_lock:
        for _ in range(attempts):
            base = rng.randrange(lo, hi - n)
            ports = list(range(base, base + n))
            if any(p in _handed_out for p in ports):
                continue
            if all(_port_is_free(p, host) for p in ports):
                _handed_out.update(ports)
                return ports
    raise RuntimeError(f"no {n} free sequential ports on {host} in [{lo}, {hi})")


def listening_socket(backlog, host=HOST, attempts=20):
    """A TCP socket bound to a free port (free_ports) and listening. A free port can be taken by
    another process meanwhile: then another is tried."""
    for attempt in range(attempts):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, free_ports(1, host)[0]))
        except OSError as e:
            s.close()
            if e.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
            continue
        s.listen(backlog)
        return s


# ---- waiting --------------------------------------------------------------------------------


@pytest.fixture
def busy_port():
    """A port another socket listens on (closed at teardown). A node checks its arguments before it
    binds: with a bad argument it exits 2 whatever the port; with good ones it exits 1 here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen(1)
        yield s.getsockname()[1]


def wait_until(predicate, timeout=WAIT_S, what="the condition", interval=0.02):
    """Poll predicate() until it returns a truthy value (returned) or timeout seconds passed
    (AssertionError naming `what`, with the last value or exception). No fixed sleeps: the
    interval between polls only bounds how often we ask."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = f"last value {value!r}"
        except Exception as e:  # a node that is busy or restarting: try again
            last = f"last error {type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what} ({last})")
        time.sleep(interval)


def _tip_of(node):
    r = requests.get(node.url + "/block", timeout=2.0)
    b = r.json()
    return b["index"], b["hash"]


def wait_converged(nodes, timeout=WAIT_S, min_height=0):
    """Wait until every node (anything with .url answering GET /block) has the same tip, at
    height >= min_height. Returns (height, tip hash). On timeout raises AssertionError listing
    every node's height and tip, and the tail of each node's log."""
    nodes = list(nodes)
    deadline = time.monotonic() + timeout
    while True:
        tips = []
        for n in nodes:
            try:
                tips.append(_tip_of(n))
            except Exception as e:
                tips.append((None, f"{type(e).__name__}: {e}"))
        if len(set(tips)) == 1 and tips[0][0] is not None and tips[0][0] >= min_height:
            return tips[0]
        if time.monotonic() >= deadline:
            lines = [f"{len(nodes)} nodes did not converge within {timeout:.1f}s (min height {min_height}):"]
            for n, (h, tip) in zip(nodes, tips):
                lines.append(f"  {getattr(n, 'name', n.url)} {n.url}: height {h} tip {tip}")
            for n in nodes:
                if hasattr(n, "log_tail"):
                    lines.append(n.describe_log(15))
            raise AssertionError("\n".join(lines))
        time.sleep(0.02)


def pids_with(token):
    """Live processes (not zombies) whose command line holds token."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            if token.encode() not in cmd:
                continue
            stat = (d / "stat").read_text()
        except OSError:
            continue
        state = stat[stat.rindex(")") + 2:].split()[0]
        if state not in ("Z", "X"):
            found.append(int(d.name))
    return found


# ---- the sim run to its end -------------------------------------------------------------------

SIM_RUN_TIMEOUT = float(os.environ.get("CHAINLAB_SIM_TIMEOUT", "90"))  # s for one sim run


def run_sim(args, cwd, timeout=SIM_RUN_TIMEOUT):
    """Run chainlab-sim to the end; returns the CompletedProcess (text)."""
    try:
        return subprocess.run([str(SIM_BIN), *map(str, args)], cwd=str(cwd), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"chainlab-sim {' '.join(map(str, args))} ran over {timeout}s\n"
                    f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}")


def describe(res):
    """A finished process's exit code and output, for an assertion message."""
    return f"exit {res.returncode}\n--- stdout:\n{res.stdout}\n--- stderr:\n{res.stderr}"


# ---- a sim running in the background ------------------------------------------------------


class LiveSim:
    """chainlab-sim running in its own session, its stdout read line by line in a thread."""

    def __init__(self, args, cwd):
        self.proc = subprocess.Popen(
            [str(SIM_BIN), *map(str, args)],
            cwd=str(cwd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines = []
        self._q = queue.Queue()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(line)
        self._q.put(None)

    def wait_line(self, pattern, timeout=30.0):
        """The first match of pattern in a line of output (waiting for it)."""
        rx = re.compile(pattern)
        for line in self.lines:
            m = rx.search(line)
            if m:
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no line matching {pattern!r} within {timeout}s; output:\n"
                            + "".join(self.lines))
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=SIM_EXIT_GRACE)
                pytest.fail(f"the sim exited ({self.proc.returncode}) before printing a line "
                            f"matching {pattern!r}; output:\n" + "".join(self.lines))
            self.lines.append(line)
            m = rx.search(line)
            if m:
                return m

    def seen(self, pattern):
        """Whether a line already read matches pattern (reads what is queued, never waits)."""
        while True:
            try:
                line = self._q.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._q.put(None)
                break
            self.lines.append(line)
        return any(re.search(pattern, line) for line in self.lines)

    def output(self):
        self._t.join(timeout=SIM_EXIT_GRACE)
        while True:
            try:
                line = self._q.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)

    def ports(self):
        m = self.wait_line(r"on ports (\d+)-(\d+)")
        return list(range(int(m.group(1)), int(m.group(2)) + 1))

    def node_urls(self):
        """The nodes' base URLs, from the sim's first line: "on ports P-Q" (the ports layout) or
        "on 127.1.0.0-127.1.A.B port P" (the addresses layout: node i at 127.1.(i/256).(i%256))."""
        m = self.wait_line(r"on ports (\d+)-(\d+)|on 127\.1\.0\.0-127\.1\.(\d+)\.(\d+) port (\d+)")
        if m.group(1):
            return [f"http://{HOST}:{p}" for p in range(int(m.group(1)), int(m.group(2)) + 1)]
        n = int(m.group(3)) * 256 + int(m.group(4)) + 1
        return [f"http://127.1.{i // 256}.{i % 256}:{m.group(5)}" for i in range(n)]


@pytest.fixture
def live(tmp_path):
    """Start LiveSims; on teardown end each sim's session and any node left with the token."""
    started = []

    def start(args, token=None):
        s = LiveSim(args, tmp_path)
        started.append((s, token))
        return s

    yield start
    for s, token in started:
        if s.proc.poll() is None:
            try:
                os.killpg(s.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            s.proc.wait(timeout=SIM_EXIT_GRACE)
        if token:
            for pid in pids_with(token):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---- node processes -------------------------------------------------------------------------


class NodeStartError(AssertionError):
    """A node did not become ready (it exited, or did not answer before the deadline)."""


_live_nodes = []  # every NodeProcess started and not yet torn down: their logs go into reports


class NodeProcess:
    """One chainlab-node child process.

    NodeProcess(port, args, log_dir, name) runs `chainlab-node ARGS... PORT` from $CHAINLAB_BUILD
    with stdout and stderr in log_dir/<name>.log. start() polls GET /block until it answers
    (deadline START_TIMEOUT) and fails fast, with the log tail, when the process exits first.
    stop() sends SIGTERM, then SIGKILL after a grace period, and always reaps the child."""

    def __init__(self, port, args=(), log_dir=".", name=None, host=HOST, binary=None, log_level=LOG_LEVEL):
        self.port = int(port)
        self.host = host
        self.args = [str(a) for a in args]
        self.name = name or f"node{self.port}"
        self.log_dir = Path(log_dir)
        self.binary = Path(binary) if binary else NODE_BIN
        self.log_level = log_level
        self.proc = None
        self.log_path = None
        self.log_paths = []  # every log written, one per start: searched for sanitizer reports
        self.starts = 0
        self.expected_exit = True  # False while running: an exit by itself is a crash
        self.session = requests.Session()

    # -- process --

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        cmd = [str(self.binary)]
        if self.log_level and not any(a.startswith("--log-level") for a in self.args):
            cmd += ["--log-level", self.log_level]
        return cmd + self.args + [str(self.port)]

    def start(self, timeout=START_TIMEOUT):
        """Start the process (again, with an empty chain, if it ran before) and wait until ready."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        if not os.access(self.binary, os.X_OK):
            raise NodeStartError(f"{self.binary} is missing: build it with `make` or set CHAINLAB_BUILD")
        self.starts += 1
        suffix = "" if self.starts == 1 else f".{self.starts}"
        self.log_path = self.log_dir / f"{self.name}{suffix}.log"
        self.log_paths.append(self.log_path)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of pytest does not hit it; we stop it ourselves
            )
        if self not in _live_nodes:
            _live_nodes.append(self)
        self.session.close()
        self.session = requests.Session()
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc.wait()
                raise NodeStartError(
                    f"{self.name} exited with {rc} before it was ready: {' '.join(self.command())}\n"
                    + self.describe_log()
                )
            try:
                r = requests.get(self.url + "/block", timeout=0.5)
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                self.kill()
                raise NodeStartError(
                    f"{self.name} did not answer GET /block within {timeout:.1f}s\n" + self.describe_log()
                )
            time.sleep(0.005)
        self.expected_exit = False
        return self

    def restart(self, timeout=START_TIMEOUT):
        """Stop (if running) and start a new process on the same port with the same args."""
        if self.alive():
            self.stop()
        return self.start(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.expected_exit = True
        self.proc.send_signal(sig)

    def stop(self, grace=STOP_GRACE, sig=signal.SIGTERM):
        """Send sig (SIGTERM), wait up to grace seconds, then SIGKILL. Always reaps.
        Returns the exit code (negative for a signal)."""
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                return self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        return self.kill()

    def kill(self):
        """SIGKILL and reap. Returns the exit code."""
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        return self.proc.wait()

    # -- logs --

    def log_text(self):
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, AttributeError):
            return ""

    def log_size(self):
        """Bytes in the current log so far: pass to log_since() to read what came after."""
        try:
            return self.log_path.stat().st_size
        except (OSError, AttributeError):
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except (OSError, TypeError):
            return ""

    def sanitizer_report(self, context=30):
        """The first sanitizer report in any of this node's logs (the matching line and the
        context lines after it), or "" when there is none."""
        for path in self.log_paths:
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for i, line in enumerate(lines):
                if SANITIZER_RE.search(line):
                    return f"--- {path}, line {i + 1}:\n" + "\n".join(lines[i : i + context])
        return ""

    def log_tail(self, n=LOG_TAIL_LINES):
        return "\n".join(self.log_text().splitlines()[-n:])

    def describe_log(self, n=LOG_TAIL_LINES):
        state = "running" if self.alive() else f"exited {self.proc.returncode if self.proc else None}"
        return f"--- {self.name} ({self.url}, {state}) log {self.log_path}, last {n} lines:\n{self.log_tail(n)}"

    # -- HTTP --

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data=b"", **kw):
        return self.request("POST", path, data=data, **kw)

    def delete(self, path, data=b"", **kw):
        return self.request("DELETE", path, data=data, **kw)

    def blocks_bytes(self):
        r = self.get("/blocks")
        assert r.status_code == 200, f"{self.name} GET /blocks: {r.status_code} {r.text[:200]}"
        return r.content

    def blocks(self):
        return json.loads(self.blocks_bytes())

    def tip(self):
        r = self.get("/block")
        assert r.status_code == 200, f"{self.name} GET /block: {r.status_code} {r.text[:200]}"
        return r.json()

    def height(self):
        return self.tip()["index"]

    def status(self):
        r = self.get("/status")
        assert r.status_code == 200, f"{self.name} GET /status: {r.status_code} {r.text[:200]}"
        return r.json()

    def peers(self):
        r = self.get("/peers")
        assert r.status_code == 200, f"{self.name} GET /peers: {r.status_code} {r.text[:200]}"
        return r.json()

    def add_peer(self, peer):
        """POST /peers with a node (anything with .url) or a URL; asserts 200. Returns the list."""
        url = peer if isinstance(peer, str) else peer.url
        r = self.post("/peers", data=url.encode())
        assert r.status_code == 200, f"{self.name} POST /peers {url}: {r.status_code} {r.text[:200]}"
        return r.json()

    def remove_peer(self, peer):
        url = peer if isinstance(peer, str) else peer.url
        r = self.delete("/peers", data=url.encode())
        assert r.status_code == 200, f"{self.name} DELETE /peers {url}: {r.status_code} {r.text[:200]}"
        return r.json()

    def append(self, data):
        """POST /append; asserts 200 and returns the new block (a dict)."""
        body = data.encode("utf-8") if isinstance(data, str) else data
        r = self.post("/append", data=body)
        assert r.status_code == 200, f"{self.name} POST /append: {r.status_code} {r.text[:200]}"
        return r.json()

    def sync(self, timeout=HTTP_TIMEOUT):
        """POST /sync; asserts 200 and returns {"replaced": bool, "height": int}."""
        r = self.post("/sync", timeout=timeout)
        assert r.status_code == 200, f"{self.name} POST /sync: {r.status_code} {r.text[:200]}"
        return r.json()

    def __repr__(self):
        return f"<NodeProcess {self.name} {self.url} pid={self.pid}>"


def _in_use(node):
    return "already in use" in node.log_text()


class NodeFactory:
    """Starts nodes whose logs go to log_dir and tears every one of them down on close()."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.nodes = []
        self._names = 0

    def _name(self, name):
        self._names += 1
        return name or f"n{self._names}"

    def __call__(self, *args, port=None, name=None, start=True, **kw):
        """Start one node with args (flags before PORT). Without port, picks a free one (and
        retries on another when it turns out to be taken). Returns the NodeProcess."""
        name = self._name(name)
        for attempt in range(3):
            node = NodeProcess(port or free_ports(1)[0], args, self.log_dir, name=name, **kw)
            self.nodes.append(node)
            if not start:
                return node
            try:
                return node.start()
            except NodeStartError:
                if port is not None or attempt == 2 or not _in_use(node):
                    raise
        raise AssertionError("unreachable")

    def many(self, n, *args, names=None, **kw):
        """Start n nodes on n sequential free ports (retrying on another range when one is
        taken meanwhile). Returns the list."""
        for attempt in range(3):
            ports = free_ports(n)
            started = []
            try:
                for i, p in enumerate(ports):
                    started.append(self(*args, port=p, name=names[i] if names else None, **kw))
                return started
            except NodeStartError:
                failed = self.nodes[-1]
                for node in started:
                    node.stop()
                if attempt == 2 or not _in_use(failed):
                    raise
        raise AssertionError("unreachable")

    def cluster(self, n, topology="mesh", *args, **kw):
        """n nodes on sequential ports wired as topology (see Cluster)."""
        return Cluster(self, n, topology, args, **kw)

    def close(self):
        """Stop every node (SIGTERM, then SIGKILL) and reap it. Returns a list of problems:
        nodes that exited by themselves while the test ran, or did not exit 0 on SIGTERM."""
        problems = []
        for node in self.nodes:
            if node.proc is None:
                continue
            crashed = node.proc.poll() is not None and not node.expected_exit
            was_running = node.proc.poll() is None
            rc = node.stop()
            if crashed:
                problems.append(f"{node.name} exited by itself with {rc}\n{node.describe_log()}")
            elif was_running and rc != 0:
                problems.append(f"{node.name} exited with {rc} on SIGTERM (expected 0)\n{node.describe_log()}")
            report = node.sanitizer_report()
            if report:
                problems.append(f"{node.name} logged a sanitizer report\n{report}")
            node.session.close()
        for node in self.nodes:
            if node in _live_nodes:
                _live_nodes.remove(node)
        return problems


@pytest.fixture
def nodes(tmp_path):
    """Factory: nodes(*args) starts one node, nodes.many(n, *args) n on sequential ports,
    nodes.cluster(n, topology, *args) a wired Cluster. Every node is killed on teardown, even
    when the test failed; a node that crashed during the test fails it."""
    factory = NodeFactory(tmp_path / "logs")
    try:
        yield factory
    finally:
        problems = factory.close()
    if problems:
        pytest.fail("node processes misbehaved:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_nodes(tmp_path_factory):
    """Like `nodes`, for nodes shared by the tests of one module."""
    factory = NodeFactory(tmp_path_factory.mktemp("module-logs"))
    try:
        yield factory
    finally:
        problems = factory.close()
    if problems:
        pytest.fail("node processes misbehaved:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _clusters_logged_no_sanitizer_report(request):
    """A test that ran chainlab_cluster clusters fails when the sim (its output) or a node (its
    log in the run folder) logged a sanitizer report."""
    tmp = request.getfixturevalue("tmp_path") if "chainlab_cluster" in request.fixturenames else None
    yield
    if tmp is None:
        return
    for path in sorted([*tmp.glob("chainlab-*.out"), *tmp.glob("chainlab-*/n*.log")]):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            if SANITIZER_RE.search(line):
                pytest.fail(f"{path} holds a sanitizer report (line {i + 1}):\n" + "\n".join(lines[i:i + 30]),
                            pytrace=False)


@atexit.register
def _kill_leftover_nodes():
    """A safety net for an interrupted run: no node outlives the test process."""
    for node in list(_live_nodes):
        node.kill()


def _is_ours(entry):
    """A traceback entry in this repository's code (tests and tools), not in a library."""
    return REPO in Path(str(entry.path)).resolve().parents


def _short_failure(excinfo):
    """The failure as this repository's frames (short style) and the exception's last line, when
    the exception came from inside a library; None when every frame is ours (pytest's own report,
    with its assertion detail, is then best)."""
    entries = list(excinfo.traceback)
    ours = [e for e in entries if _is_ours(e)]
    if not ours or len(ours) == len(entries):
        return None
    lines = []
    for e in ours:
        lines.append(f"{Path(str(e.path)).relative_to(REPO)}:{e.lineno + 1}: in {e.name}")
        lines.append(f"    {e.statement.lines[-1].strip() if e.statement.lines else ''}")
    lines.append(f"E   {excinfo.exconly()}")
    return "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, keep the report short and add the tail of every live node's log. An
    exception raised inside a library (a timeout in requests, say) shows this repository's frames
    and one line, not the library's stack and its chained exceptions."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.excinfo is not None:
        short = _short_failure(call.excinfo)
        if short is not None:
            rep.longrepr = short
    if rep.failed and _live_nodes:
        rep.sections.append(("chainlab node logs", "\n".join(n.describe_log() for n in _live_nodes)))


# ---- clusters -------------------------------------------------------------------------------


class Cluster:
    """N nodes on sequential ports wired by POST /peers as a topology, each edge both ways and
    straight to the other node: line (i <-> i+1), ring (line + last <-> first), star (center <->
    every other), mesh (all pairs)."""

    TOPOLOGIES = ("line", "ring", "star", "mesh")

    def __init__(self, factory, n, topology="mesh", args=(), center=0, **kw):
        self.topology = topology
        self.center = center
        self.nodes = factory.many(n, *args, **kw)
        self.wire(topology, center)

    @staticmethod
    def edges(n, topology, center=0):
        """Directed edges (from, to) of topology over n nodes, both directions of each link."""
        links = set()
        if topology in ("line", "ring"):
            links |= {(i, i + 1) for i in range(n - 1)}
            if topology == "ring" and n > 2:
                links.add((n - 1, 0))
        elif topology == "star":
            links |= {(center, i) for i in range(n) if i != center}
        elif topology == "mesh":
            links |= {(i, j) for i in range(n) for j in range(i + 1, n)}
        else:
            raise ValueError(f"unknown topology {topology!r}; use one of {Cluster.TOPOLOGIES}")
        return sorted(links | {(b, a) for a, b in links})

    def wire(self, topology, center=0):
        for a, b in self.edges(len(self.nodes), topology, center):
            self.nodes[a].add_peer(self.nodes[b])

    def connect(self, a, b):
        """Link nodes a and b (indexes) both ways."""
        self.nodes[a].add_peer(self.nodes[b])
        self.nodes[b].add_peer(self.nodes[a])

    def wait_converged(self, timeout=WAIT_S, min_height=0, nodes=None):
        which = self.nodes if nodes is None else [self.nodes[i] for i in nodes]
        return wait_converged(which, timeout, min_height)

    def heights(self):
        return [n.height() for n in self.nodes]

    def stop(self):
        for n in self.nodes:
            n.stop()

    def __getitem__(self, i):
        return self.nodes[i]

    def __len__(self):
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes)


# ---- fake peers -----------------------------------------------------------------------------


class _FakeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _handle(self):
        peer = self.server.fake_peer
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path.split("?", 1)[0]
        with peer.lock:
            peer.requests.append((self.command, self.path, body))
        route = peer.routes.get((self.command, path), peer.default)
        if callable(route):
            route(self, body)
            return
        status, payload = route[0], route[1]
        headers = route[2] if len(route) > 2 else {}
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            pass

    do_GET = do_POST = do_DELETE = do_PUT = _handle


class FakePeer:
    """A scripted HTTP peer in a thread on a free port.

    routes maps (METHOD, PATH) to (status, body[, headers]) or to a callable(handler, body) that
    writes the whole answer itself; anything else gets `default`. Every request is recorded in
    .requests as (method, path, body). Use as a context manager or call stop()."""

    def __init__(self, routes=None, default=(404, b'{"error": "unknown path"}')):
        self.routes = dict(routes or {})
        self.default = default
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def start(self):
        for attempt in range(20):  # a free port can be taken by another process meanwhile
            port = free_ports(1)[0]
            try:
                self.server = http.server.ThreadingHTTPServer((HOST, port), _FakeHandler)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
        self.server.daemon_threads = True
        self.server.fake_peer = self
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return f"http://{HOST}:{self.port}"

    def requests_to(self, method, path):
        with self.lock:
            return [r for r in self.requests if r[0] == method and r[1] == path]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class HangingPeer:
    """A TCP server in a thread that accepts every connection and never answers nor reads."""

    def __init__(self):
        self.sock = None
        self.conns = []
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = None

    def start(self):
        self.sock = listening_socket(128)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                try:
                    c, _ = self.sock.accept()
                except OSError:
                    continue
                self.conns.append(c)
                self.accepted += 1

    @property
    def url(self):
        return f"http://{HOST}:{self.sock.getsockname()[1]}"

    def stop(self):
        self._stop.set()
        if self.thread:
            self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        if self.sock:
            self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def fake_peers():
    """Factory: fake_peers(routes) starts a FakePeer, fake_peers.hanging() a HangingPeer; all
    are stopped on teardown."""
    started = []

    class _Factory:
        def __call__(self, routes=None, **kw):
            p = FakePeer(routes, **kw).start()
            started.append(p)
            return p

        def hanging(self):
            p = HangingPeer().start()
            started.append(p)
            return p

    yield _Factory()
    for p in reversed(started):
        p.stop()

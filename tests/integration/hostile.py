"""A hostile HTTP peer for the chainlab tests.

HostilePeer is a raw-socket TCP server in threads (one per connection) on a free port. It reads
one request per connection, records it, and hands the socket to a behaviour scripted per
(METHOD, PATH) (the path without its query): a function behaviour(conn, req) that writes whatever
raw bytes it likes, as slowly as it likes, or nothing at all. Every connection is closed after
its behaviour returns, so answers say `Connection: close` and curl never reuses one.

The behaviours below cover what a hostile or broken peer does: answer(), slow answers, drip()
(a byte at a time), silent() (never answer), cut() (close mid-body), endless() (a body that never
ends), redirect(), raw() (garbage or anything), huge_header(), serve_chain() (a peer holding a
chain, honouring ?from=&limit=).

The peer counts, per (METHOD, PATH), the requests received and how many were in flight at once:
max_in_flight(). A request is in flight from the moment it was read until its behaviour returns
or calls conn.answering() just before its last write (after that the client may hold the whole
answer and send its next request, which must not count as overlapping). stop() wakes every
behaviour that waits, closes every socket and joins the threads; use as a context manager.
"""

import json
import socket
import threading
import time
import urllib.parse

from conftest import HOST, listening_socket

HEAD_LIMIT = 64 * 1024  # bytes of a request head read before giving up on it
BODY_LIMIT = 1024 * 1024  # bytes of a request body read (the node posts single blocks)
STREAM_LIMIT = 128 * 1024 * 1024  # endless() stops after this many bytes: a safety net only
SEND_TIMEOUT = 5.0  # s one send may block on a client that does not read


class Request:
    """One request as received: method, target (with query), path, query dict, headers
    (lowercase names), body bytes and the monotonic time it was read."""

    def __init__(self, method, target, headers, body, at):
        self.method = method
        self.target = target
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()}
        self.headers = headers
        self.body = body
        self.at = at

    def __repr__(self):
        return f"<Request {self.method} {self.target} {len(self.body)} bytes>"


class Conn:
    """The socket of one request, for a behaviour. send() and pause() return False once the
    client has gone or the peer is stopping: the behaviour should then return."""

    def __init__(self, sock, stopping, on_answer=None):
        self.sock = sock
        self.stopping = stopping
        self.sent = 0
        self._on_answer = on_answer

    def answering(self):
        """Say that the last write of the answer begins: from now on the client may have all of
        it, so the request no longer counts as in flight. Idempotent."""
        if self._on_answer:
            self._on_answer()
            self._on_answer = None

    def send(self, data):
        if self.stopping.is_set():
            return False
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def pause(self, seconds=None):
        """Wait seconds (None: forever) without answering. Returns False early when the client
        closed the connection or the peer is stopping, True when the time is up."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.stopping.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return True
            self.sock.settimeout(left)
            try:
                if self.sock.recv(4096) == b"":
                    return False  # the client hung up
            except socket.timeout:
                pass
            except OSError:
                return False
        return False


class HostilePeer:
    """routes maps (METHOD, PATH) to a behaviour(conn, req); anything else gets default (an
    answer(404)). .requests lists every Request received, .accepted counts connections."""

    def __init__(self, routes=None, default=None):
        self.routes = dict(routes or {})
        self.default = default or answer(404, b'{"error": "unknown path"}')
        self.requests = []
        self.accepted = 0
        self.lock = threading.Lock()
        self._in_flight = {}
        self._max_in_flight = {}
        self._stopping = threading.Event()
        self._socks = set()
        self._threads = []
        self.sock = None
        self._accept_thread = None

    # -- life --

    def start(self):
        self.sock = listening_socket(256)
        self.sock.settimeout(0.05)
        self._accept_thread = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._accept_thread:
            self._accept_thread.join(timeout=5)
        with self.lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(timeout=5)
        for s in socks:
            s.close()
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        return f"http://{HOST}:{self.port}"

    # -- what it saw --

    def requests_to(self, method, path):
        """The Requests received for (method, path), the path without query."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def max_in_flight(self, method, path):
        """Most requests to (method, path) handled at the same time so far."""
        with self.lock:
            return self._max_in_flight.get((method, path), 0)

    def in_flight(self):
        """Requests being handled now, over every route."""
        with self.lock:
            return sum(self._in_flight.values())

    # -- serving --

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), name="hostile-conn", daemon=True)
            with self.lock:
                self.accepted += 1
                self._socks.add(c)
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, c):
        conn = None
        try:
            req = self._read_request(c)
            if req is None:
                return
            key = (req.method, req.path)
            with self.lock:
                self.requests.append(req)
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
                self._max_in_flight[key] = max(self._max_in_flight.get(key, 0), self._in_flight[key])

            def answered():
                with self.lock:
                    self._in_flight[key] -= 1

            conn = Conn(c, self._stopping, answered)
            self.routes.get(key, self.default)(conn, req)
        except (OSError, ValueError):  # the client went away, or sent no HTTP
            pass
        finally:
            if conn is not None:
                conn.answering()
            with self.lock:
                self._socks.discard(c)
            c.close()

    def _read_request(self, c):
        c.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > HEAD_LIMIT or self._stopping.is_set():
                return None
            chunk = c.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        want = min(int(headers.get("content-length") or 0), BODY_LIMIT)
        while len(body) < want:
            chunk = c.recv(65536)
            if not chunk:
                break
            body += chunk
        return Request(method, target, headers, body, time.monotonic())


# ---- behaviours ----------------------------------------------------------------------------

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect",
           308: "Permanent Redirect", 404: "Not Found"}


def head(status, headers=(), length=None):
    """The bytes of a response head; length None: no Content-Length."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status, body=b"", headers=(), delay=0.0):
    """A whole, honest answer, after delay seconds."""

    def behaviour(conn, req):
        if delay and not conn.pause(delay):
            return
        conn.answering()
        conn.send(head(status, [("Content-Type", "application/json"), *headers], len(body)) + body)

    return behaviour


def drip(status, body, interval=1.0, head_at_once=False):
    """The answer one byte every interval seconds (the head too, unless head_at_once)."""

    def behaviour(conn, req):
        h = head(status, [("Content-Type", "application/json")], len(body))
        if head_at_once:
            if not conn.send(h):
                return
            data = body
        else:
            data = h + body
        for i in range(len(data)):
            if not conn.send(data[i : i + 1]) or not conn.pause(interval):
                return

    return behaviour


def silent(after=b""):
    """Read the request, send `after` (nothing, or a head promising a body), then say nothing
    until the client gives up."""

    def behaviour(conn, req):
        if after and not conn.send(after):
            return
        conn.pause(None)

    return behaviour


def cut(status, body, keep=0.5, chunked=False):
    """Promise body (by Content-Length, or chunked), send the first `keep` fraction of it, then
    close the connection."""

    def behaviour(conn, req):
        part = body[: int(len(body) * keep)]
        if chunked:
            h = head(status, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            conn.send(h + f"{len(body):x}\r\n".encode() + part)  # a chunk that never completes
        else:
            conn.send(head(status, [("Content-Type", "application/json")], len(body)) + part)

    return behaviour


def endless(first, piece, chunked=True, interval=0.0, limit=STREAM_LIMIT):
    """A 200 whose body is `first` then `piece` again and again, chunked or delimited only by
    the close, every interval seconds, until the client gives up (or `limit` bytes)."""

    def frame(data):
        return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data

    def behaviour(conn, req):
        extra = [("Transfer-Encoding", "chunked")] if chunked else []
        if not conn.send(head(200, [("Content-Type", "application/json"), *extra]) + frame(first)):
            return
        block = frame(piece * max(1, 65536 // len(piece)))
        while conn.sent < limit:
            if not conn.send(block) or (interval and not conn.pause(interval)):
                return

    return behaviour


def redirect(status, location):
    def behaviour(conn, req):
        conn.send(head(status, [("Location", location), ("Content-Type", "text/plain")], 0))

    return behaviour


def raw(data):
    """Exactly these bytes, then close."""

    def behaviour(conn, req):
        conn.send(data)

    return behaviour


def huge_header(size, lines=1):
    """A 200 whose head holds `lines` header lines of `size` bytes each (lines None: header lines
    without end), then a small body."""

    def behaviour(conn, req):
        if not conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"):
            return
        line = b"X-Hostile: " + b"h" * size + b"\r\n"
        n = 0
        while lines is None or n < lines:
            if not conn.send(line) or conn.sent > STREAM_LIMIT:
                return
            n += 1
        conn.send(b"Content-Length: 2\r\n\r\n[]")

    return behaviour


def dumps(obj):
    """The wire bytes: exactly Python's json.dumps, as the original node sends."""
    return json.dumps(obj).encode("ascii")


def serve_chain(chain, delay=0.0):
    """Routes of a peer holding chain: GET /block its tip, GET /blocks the chain or the slice
    ?from=&limit=, POST /block 200; every GET answered after delay seconds."""

    def blocks(conn, req):
        start = int(req.query.get("from", 0))
        limit = int(req.query.get("limit", len(chain)))
        answer(200, dumps(chain[start : start + limit]), delay=delay)(conn, req)

    return {
        ("GET", "/block"): answer(200, dumps(chain[-1]), delay=delay),
        ("GET", "/blocks"): blocks,
        ("POST", "/block"): answer(200, b'{"result": "ignored"}'),
    }

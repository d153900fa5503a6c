"""A small link layer for Python-driven clusters, like the sim's (sim/links.c): one listening
socket per directed edge A -> B on 127.0.0.1 that forwards TCP to B. A blocked link stalls: new
connections are accepted but not connected on, open ones are neither read nor written, so the
nodes' own timeouts fire as in a real partition. Unblocking releases everything."""

import selectors
import socket
import threading

CHUNK = 65536


class _Conn:
    def __init__(self, link, src):
        self.link = link
        self.src = src
        self.dst = None
        self.pending = {}  # sock -> bytes waiting to be written to it
        self.closed = False


class LinkLayer:
    def __init__(self):
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._links = {}  # (a, b) -> dict(listener, target, blocked, conns)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="netlinks", daemon=True)
        self._thread.start()

    # ---- control (any thread) ----

    def add(self, a, b, target_port):
        """Create link a -> b to 127.0.0.1:target_port; returns its listening port."""
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(256)
        ls.setblocking(False)
        link = {"key": (a, b), "listener": ls, "target": target_port, "blocked": False,
                "conns": set()}
        with self._lock:
            self._links[(a, b)] = link
        self._call(lambda: self._sel.register(ls, selectors.EVENT_READ, ("accept", link)))
        return ls.getsockname()[1]

    def port(self, a, b):
        return self._links[(a, b)]["listener"].getsockname()[1]

    def set_blocked(self, a, b, blocked):
        link = self._links.get((a, b))
        if link is not None:
            self._call(lambda: self._set_blocked(link, blocked))

    def heal(self):
        for link in list(self._links.values()):
            self._call(lambda link=link: self._set_blocked(link, False))

    def close(self):
        self._stop = True
        self._wake()
        self._thread.join(5)
        for link in self._links.values():
            for c in list(link["conns"]):
                self._close_conn(c)
            link["listener"].close()
        self._wake_r.close()
        self._wake_w.close()

    def _call(self, fn):
        """Run fn on the loop thread and wait for it."""
        done = threading.Event()
        with self._lock:
            self._calls = getattr(self, "_calls", [])
            self._calls.append((fn, done))
        self._wake()
        done.wait(5)

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # ---- the loop thread ----

    def _watch(self, sock, conn):
        """(Re)register sock with the events it needs now, or unregister it."""
        if sock is None or sock.fileno() < 0:
            return
        events = 0
        if not conn.link["blocked"] and not conn.closed:
            other = conn.dst if sock is conn.src else conn.src
            if other is not None and not conn.pending.get(other):
                events |= selectors.EVENT_READ
            if conn.pending.get(sock):
                events |= selectors.EVENT_WRITE
        try:
            if events:
                try:
                    self._sel.modify(sock, events, ("conn", conn))
                except KeyError:
                    self._sel.register(sock, events, ("conn", conn))
            else:
                self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _connect(self, conn):
        dst = socket.socket()
        try:
            dst.connect(("127.0.0.1", conn.link["target"]))
        except OSError:
            dst.close()
            self._close_conn(conn)
            return
        dst.setblocking(False)
        conn.dst = dst
        self._watch(conn.src, conn)
        self._watch(dst, conn)

    def _set_blocked(self, link, blocked):
        link["blocked"] = blocked
        for c in list(link["conns"]):
            if not blocked and c.dst is None:
                self._connect(c)
            else:
                self._watch(c.src, c)
                self._watch(c.dst, c)

    def _close_conn(self, conn):
        if conn.closed:
            return
        conn.closed = True
        for s in (conn.src, conn.dst):
            if s is None:
                continue
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        conn.link["conns"].discard(conn)

    def _loop(self):
        while not self._stop:
            for key, events in self._sel.select(timeout=0.5):
                kind, obj = key.data
                if kind == "wake":
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    with self._lock:
                        calls, self._calls = getattr(self, "_calls", []), []
                    for fn, done in calls:
                        fn()
                        done.set()
                elif kind == "accept":
                    try:
                        s, _ = obj["listener"].accept()
                    except OSError:
                        continue
                    s.setblocking(False)
                    conn = _Conn(obj, s)
                    obj["conns"].add(conn)
                    if not obj["blocked"]:
                        self._connect(conn)
                else:
                    self._pump(obj, key.fileobj, events)

    def _pump(self, conn, sock, events):
        if conn.closed:
            return
        other = conn.dst if sock is conn.src else conn.src
        try:
            if events & selectors.EVENT_WRITE and conn.pending.get(sock):
                n = sock.send(conn.pending[sock])
                conn.pending[sock] = conn.pending[sock][n:]
            if events & selectors.EVENT_READ:
                data = sock.recv(CHUNK)
                if not data:
                    self._close_conn(conn)
                    return
                conn.pending[other] = conn.pending.get(other, b"") + data
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._close_conn(conn)
            return
        self._watch(sock, conn)
        self._watch(other, conn)

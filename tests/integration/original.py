"""A stand-in for the original Python toy node (bottle + requests + waitress), standard library only.

It answers like the original does on the wire, which is what the sim and chainlab nodes must cope
with in a mixed network:

- `POST /append`, `POST /block`, `POST /sync`, `POST /peers`, `DELETE /peers`: 200 with an empty
  body (a bottle handler that returns nothing);
- `GET /block`, `GET /blocks`, `GET /peers`: 200 with `json.dumps` of the last block, the chain,
  the peer list; query strings are ignored (bottle routes on the path), so `/blocks?from=K&limit=L`
  is the whole chain;
- peers are added as given, without any check (idempotent: a peer is kept once);
- malformed input makes the handler raise: 500, as bottle answers an exception.

Semantics (DESIGN.md): `/append` makes the next block and POSTs it to every peer's `/block`,
inside the request, before answering; `POST /block` ignores a block not above our tip, appends
and re-broadcasts a valid successor, and syncs on any other higher block; a sync GETs every
peer's `/blocks` and adopts a strictly longer valid chain, then broadcasts its last block. Hashes
are sha256(str(index) + str(data) + str(prev_hash)), None written as `None`. Bodies of any size
are read (the original has no limit).

One difference, on purpose: each request to a peer is bounded by --peer-timeout seconds (the
original sets none and would hang on a partitioned peer forever), so tests always end.

Run as a node:   python3 original.py PORT [--host ADDR] [--peer-timeout S]
Use in a test:   node = OriginalNode().start(); ...; node.stop()   (serves in a thread)
"""

import argparse
import hashlib
import http.server
import json
import sys
import threading
import urllib.error
import urllib.request

GENESIS = {
    "index": 0,
    "data": None,
    "prev_hash": None,
    "hash": "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c",
}
PEER_TIMEOUT = 5.0  # s for one request to a peer


def block_hash(index, data, prev_hash):
    return hashlib.sha256((str(index) + str(data) + str(prev_hash)).encode("utf-8")).hexdigest()


def valid_next(block, prev):
    return (block["index"] == prev["index"] + 1 and block["prev_hash"] == prev["hash"]
            and isinstance(block["data"], str)
            and block["hash"] == block_hash(block["index"], block["data"], block["prev_hash"]))


def valid_chain(chain):
    if not isinstance(chain, list) or not chain or chain[0] != GENESIS:
        return False
    return all(valid_next(chain[i], chain[i - 1]) for i in range(1, len(chain)))


class OriginalNode:
    """The original's state and logic, and an HTTP server for it (threads, HTTP/1.1)."""

    def __init__(self, port=0, host="127.0.0.1", peer_timeout=PEER_TIMEOUT, log=None):
        self.host, self.port = host, port
        self.peer_timeout = peer_timeout
        self.chain = [dict(GENESIS)]
        self.peers = []
        self.lock = threading.Lock()
        self.server = None
        self.log = log  # a file for one line per event, or None

    def say(self, text):
        if self.log:
            print(text, file=self.log, flush=True)

    # ---- the original's logic ----

    def _peer_request(self, method, url, body=None):
        req = urllib.request.Request(url, data=body, method=method)
        with urllib.request.urlopen(req, timeout=self.peer_timeout) as r:
            return r.read()

    def broadcast(self, block):
        body = json.dumps(block).encode("ascii")
        for p in list(self.peers):
            try:
                self._peer_request("POST", p + "/block", body)
            except (OSError, urllib.error.URLError) as e:
                self.say(f"broadcast of block {block['index']} to {p} failed: {e}")

    def sync(self):
        replaced = False
        for p in list(self.peers):
            try:
                chain = json.loads(self._peer_request("GET", p + "/blocks"))
            except (OSError, urllib.error.URLError, ValueError) as e:
                self.say(f"sync from {p} failed: {e}")
                continue
            with self.lock:
                if len(chain) > len(self.chain) and valid_chain(chain):
                    self.chain = chain
                    replaced = True
        if replaced:
            self.say(f"sync: adopted a chain of height {len(self.chain) - 1}")
            self.broadcast(self.chain[-1])
        return replaced

    def append(self, data):
        with self.lock:
            last = self.chain[-1]
            i = last["index"] + 1
            block = {"index": i, "data": data, "prev_hash": last["hash"],
                     "hash": block_hash(i, data, last["hash"])}
            self.chain.append(block)
        self.broadcast(block)

    def receive(self, block):
        with self.lock:
            last = self.chain[-1]
            if block["index"] <= last["index"]:
                return
            appended = valid_next(block, last)
            if appended:
                self.chain.append(block)
        if appended:
            self.broadcast(block)
        else:
            self.sync()

    def handle(self, method, path, body):
        """(status, body bytes) for one request; raises on malformed input (a 500)."""
        if method == "GET" and path == "/blocks":
            with self.lock:
                return 200, json.dumps(self.chain)
        if method == "GET" and path == "/block":
            with self.lock:
                return 200, json.dumps(self.chain[-1])
        if method == "GET" and path == "/peers":
            return 200, json.dumps(self.peers)
        if method == "POST" and path == "/append":
            self.append(body.decode("utf-8"))
        elif method == "POST" and path == "/block":
            self.receive(json.loads(body))
        elif method == "POST" and path == "/sync":
            self.sync()
        elif method == "POST" and path == "/peers":
            url = body.decode("utf-8")
            if url not in self.peers:
                self.peers.append(url)
        elif method == "DELETE" and path == "/peers":
            self.peers.remove(body.decode("utf-8"))
        else:
            return 404, ""
        return 200, ""

    # ---- the server ----

    def bind(self):
        """Listen on host:port (port 0: a free one, then in self.port); serve with serve()."""
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.split("?", 1)[0]
                try:
                    status, text = node.handle(self.command, path, body)
                except Exception as e:  # the original's crash paths answer 500
                    node.say(f"{self.command} {path}: {type(e).__name__}: {e}")
                    status, text = 500, ""
                payload = text.encode("ascii")
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        return self

    def serve(self):
        self.server.serve_forever(poll_interval=0.05)

    def start(self):
        """Listen and serve in a daemon thread (for tests); returns self."""
        self.bind()
        threading.Thread(target=self.serve, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"


def main(argv):
    ap = argparse.ArgumentParser(description="A stand-in for the original toy node.")
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--peer-timeout", type=float, default=PEER_TIMEOUT,
                    help="seconds for one request to a peer (default %(default)s)")
    args = ap.parse_args(argv)
    node = OriginalNode(args.port, args.host, args.peer_timeout, log=sys.stderr).bind()
    node.say(f"original stand-in listening on {node.url}")
    try:
        node.serve()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

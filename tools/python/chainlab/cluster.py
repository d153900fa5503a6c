"""A live chainlab cluster driven from Python: `chainlab-sim serve` in a child process and a client
of its HTTP API (README.md, "chainlab-sim serve").

Every step goes to the sim as a line of the scenario language (POST /steps), so partitions, cuts
and link faults happen in the sim's link layer, and awaits and expects are judged by the sim, with
its diagnosis when they fail. Standard library and `requests` only.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

START_S = 60.0  # s for `chainlab-sim serve` to print its URL and set the cluster up
HTTP_S = 10.0  # s for a quick request (GET /cluster, a node's endpoints)
STEPS_S = 3600.0  # s a POST /steps may run (the sim bounds it by the header's `timeout`)
CLOSE_S = 120.0  # s for DELETE /cluster: every node stopped, the report and plots written
EXIT_S = 60.0  # s for the process to exit after a signal (it stops its nodes, then draws the plots)
LOG_LINES = 40  # lines of the merged log attached to a failure


class ChainlabError(Exception):
    """The sim could not be started or answered something unexpected."""


class StepsRejected(ChainlabError, ValueError):
    """POST /steps answered 400: the text does not parse. Nothing of it ran. `line` and `col`
    count within the text sent."""

    def __init__(self, message, line, col, text):
        super().__init__(message)
        self.line, self.col, self.text = line, col, text


class StepFailed(AssertionError):
    """A step failed: an await or expect that did not hold (`failure` and `diagnosis` say what
    the sim saw), or an error. `steps` holds the answer of every step that ran, `not_run` the
    texts of the steps after the failed one."""

    def __init__(self, message, answer):
        super().__init__(message)
        self.answer = answer
        self.steps = answer["steps"]
        self.not_run = answer["not_run"]
        self.step = next(s for s in self.steps if not s["ok"])
        self.failure = self.step.get("failure")
        self.diagnosis = self.step.get("diagnosis")


def find_sim():
    """chainlab-sim: $CHAINLAB_SIM, else $CHAINLAB_BUILD/chainlab-sim, else on PATH."""
    if os.environ.get("CHAINLAB_SIM"):
        return os.environ["CHAINLAB_SIM"]
    if os.environ.get("CHAINLAB_BUILD"):
        return str(Path(os.environ["CHAINLAB_BUILD"]) / "chainlab-sim")
    found = shutil.which("chainlab-sim")
    if found is None:
        raise ChainlabError("chainlab-sim not found: set CHAINLAB_SIM (or CHAINLAB_BUILD) or put it on PATH")
    return found


def json_call(session, method, url, **kw):
    """The JSON of a 2xx answer to method url; ChainlabError with the answer otherwise."""
    r = session.request(method, url, **kw)
    if not 200 <= r.status_code < 300:
        raise ChainlabError(f"{method} {url}: HTTP {r.status_code} {r.text[:500]}")
    return r.json()


# ---- the scenario language's words -----------------------------------------------------------


def node_name(node):
    """n3 for 3 or "n3"."""
    return f"n{node}" if isinstance(node, int) else str(node)


def node_set(nodes):
    """A node set: "all" for None, a name for one node, a comma list for several; a string is
    taken as written ("n0-n2,n5")."""
    if nodes is None:
        return "all"
    if isinstance(nodes, (int, str)):
        return node_name(nodes)
    return ",".join(node_name(n) for n in nodes)


def duration(d):
    """A duration: a number of seconds (as milliseconds), or a string as written ("250ms")."""
    if isinstance(d, str):
        return d
    return f"{round(d * 1000)}ms"


def quote(text):
    """A string of the scenario language: double-quoted, with its four escapes."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def header_word(word):
    """One word of `node-args`: as it is, or double-quoted when it holds a blank, quote or #."""
    word = str(word)
    if word and not any(c in word for c in ' \t"#\\'):
        return word
    return quote(word)


# ---- nodes -----------------------------------------------------------------------------------


class Node:
    """A small client of one node's HTTP API (the naivechain protocol)."""

    def __init__(self, name, url, session=None):
        self.name, self.url = name, url
        self.session = session or requests.Session()

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_S)
        return self.session.request(method, self.url + path, **kw)

    def _json(self, method, path, **kw):
        return json_call(self.session, method, self.url + path, timeout=HTTP_S, **kw)

    def blocks(self):
        return self._json("GET", "/blocks")

    def tip(self):
        return self._json("GET", "/block")

    def height(self):
        return self.tip()["index"]

    def peers(self):
        return self._json("GET", "/peers")

    def append(self, data):
        """POST /append; returns the new block."""
        return self._json("POST", "/append", data=data.encode("utf-8"))

    def sync(self):
        return self._json("POST", "/sync")

    def __repr__(self):
        return f"<Node {self.name} {self.url}>"


# ---- the cluster -----------------------------------------------------------------------------


class Cluster:
    """`chainlab-sim serve` with a header made of the arguments, and its API.

    nodes, topology ("ring", "star n2", "random 3", ...), seed, timeout (of each request) and
    node_args (words for every node's command line, `{node}`, `{port}` and `{dir}` substituted)
    make the header, or a scenario file does (its steps run first); node_cmd runs another
    implementation ("python3 node.py {port}"); run_dir is the run folder (new or empty), and the
    sim's output goes beside it (RUN_DIR.out); sim_args are more options of chainlab-sim
    ("--header", "links direct"). start() returns once every node is up and wired."""

    def __init__(self, nodes=5, topology="ring", node_cmd=None, node_args=(), seed=None,
                 run_dir=None, timeout=None, scenario=None, sim=None, sim_args=()):
        self.run_dir = Path(run_dir) if run_dir else Path(f"chainlab-run-{os.getpid()}-{time.time_ns()}")
        self.output_path = self.run_dir.with_name(self.run_dir.name + ".out")
        self.sim = sim or find_sim()
        self.args = [self.sim, "serve", "--run-dir", str(self.run_dir)]
        if scenario is not None:
            self.args.append(str(scenario))
        else:
            self.args += ["--nodes", str(nodes)] + (["--topology", topology] if topology else [])
        if timeout is not None:
            self.args += ["--timeout", duration(timeout)]
        if node_args:
            self.args += ["--node-args", " ".join(header_word(w) for w in node_args)]
        if node_cmd:
            self.args += ["--node-cmd", node_cmd]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.args += [str(a) for a in sim_args]
        self.proc = None
        self.url = None
        self.session = requests.Session()
        self._nodes = []
        self.final_report = None

    # -- process --

    def start(self, timeout=START_S):
        self.run_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output_path, "wb") as out:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.url is None:
            first = self.output().partition("\n")
            if first[1] and first[0].startswith("http://"):
                self.url = first[0]
            elif self.proc.poll() is not None or first[1] or time.monotonic() > deadline:
                self._give_up("did not print its URL")
            else:
                time.sleep(0.01)
        try:  # answered once the cluster is up: until then the connection waits in the backlog
            info = self._call("GET", "/cluster", timeout=(HTTP_S, max(1.0, deadline - time.monotonic())))
        except (requests.RequestException, ChainlabError) as e:
            self._give_up(f"did not set the cluster up ({e})")
        self._nodes = [Node(n["name"], n["url"]) for n in info["nodes"]]
        return self

    def _give_up(self, what):
        self._end_process()
        raise ChainlabError(f"{' '.join(self.args)} {what}; its output:\n{self.output()}")

    def output(self):
        """What the sim printed so far."""
        try:
            return self.output_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self, timeout=CLOSE_S):
        """DELETE /cluster (every node stopped), then wait for the process; a signal if it does not
        end. Returns the final report (None when it could not be had); raises ChainlabError when
        the sim exits with a failure after answering. Idempotent."""
        asked = False
        if self.alive():
            try:
                self.final_report = self._call("DELETE", "/cluster", timeout=(HTTP_S, timeout))
                asked = True
            except (requests.RequestException, ChainlabError):
                pass
        self._end_process(asked)
        if asked and self.proc.returncode != 0:
            raise ChainlabError(f"chainlab-sim serve exited with {self.proc.returncode} after "
                                f"DELETE /cluster; its output:\n{self.output()}")
        return self.final_report

    def _end_process(self, asked=False):
        """Reap the process: wait for it when it was asked to stop, else SIGTERM it (SIGKILL after
        EXIT_S). Its nodes die with it."""
        if self.proc is None:
            return
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is None and not asked:
                continue
            if sig is not None and self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=EXIT_S)
                break
            except subprocess.TimeoutExpired:
                continue
        self.session.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- the API --

    def _call(self, method, path, timeout=HTTP_S, **kw):
        return json_call(self.session, method, self.url + path, timeout=timeout, **kw)

    def info(self):
        """GET /cluster: {"nodes": [{"name", "url", "pid", "state"}], "edges", "faults"}."""
        return self._call("GET", "/cluster")

    def report(self):
        """GET /report: the report so far."""
        return self._call("GET", "/report")

    def events(self, since=None, wait=None):
        """GET /events: the events after run time `since` (all when None), waiting up to `wait`
        seconds (the sim's default, 10, when None) for one when there are none yet."""
        params = {}
        if since is not None:
            params["since"] = repr(float(since))
        if wait is not None:
            params["wait"] = repr(float(wait))
        read = (float(wait) if wait is not None else 10.0) + HTTP_S
        return self._call("GET", "/events", timeout=(HTTP_S, read), params=params)

    def steps(self, text, check=True):
        """POST /steps: run the lines of text; returns each step's answer. A text that does not
        parse raises StepsRejected (nothing ran); with check, a failed step raises StepFailed
        with the sim's message and diagnosis."""
        r = self.session.post(self.url + "/steps", data=text.encode("utf-8"), timeout=(HTTP_S, STEPS_S))
        if r.status_code == 400:
            e = r.json()
            raise StepsRejected(e["error"], e.get("line"), e.get("col"), text)
        if r.status_code != 200:
            raise ChainlabError(f"POST /steps: HTTP {r.status_code} {r.text[:500]}")
        answer = r.json()
        if check and not answer["ok"]:
            failed = next(s for s in answer["steps"] if not s["ok"])
            message = failed.get("message") or f"{failed['text']}: {failed.get('error')}"
            raise StepFailed(f"{message.rstrip()}\nrun folder: {self.run_dir}", answer)
        return answer["steps"]

    def step(self, line):
        """Run one step; returns its answer."""
        return self.steps(line)[0]

    # -- nodes --

    @property
    def nodes(self):
        return list(self._nodes)

    def node(self, i):
        """A client of node i (an index or a name such as "n3")."""
        return self._nodes[int(str(i).lstrip("n"))]

    def __len__(self):
        return len(self._nodes)

    # -- the steps, one method each --

    def append(self, node, data):
        """`append NODE "DATA"` (or `append NODE COUNT` for an int)."""
        what = str(data) if isinstance(data, int) else quote(data)
        return self.step(f"append {node_name(node)} {what}")

    def load(self, rate, for_, on=None):
        return self.step(f"load {rate}/s for {duration(for_)}" + (f" on {node_set(on)}" if on is not None else ""))

    def sync(self, nodes=None):
        return self.step(f"sync {node_set(nodes)}")

    def partition(self, *groups):
        """`partition G1 | G2 ...`: each group a node, a list of nodes or a set string; one string
        without `|` and not a node set is a pattern ("halves", "majority", "bridge")."""
        return self.step("partition " + " | ".join(node_set(g) for g in groups))

    def cut(self, a, b, one_way=False):
        return self.step(f"cut {node_set(a)} {'-> ' if one_way else ''}{node_set(b)}")

    def heal(self):
        return self.step("heal")

    def latency(self, links, delay, jitter=None):
        """`latency LINKS DELAY [jitter J]`; links: "all", a node set or "n0 -> n1"."""
        extra = f" jitter {duration(jitter)}" if jitter is not None else ""
        return self.step(f"latency {self._links(links)} {duration(delay)}{extra}")

    def loss(self, links, percent):
        return self.step(f"loss {self._links(links)} {percent}%")

    def bandwidth(self, links, rate):
        """rate as written ("64KB/s")."""
        return self.step(f"bandwidth {self._links(links)} {rate}")

    def reset(self, links):
        return self.step(f"reset {self._links(links)}")

    def clear(self, links=None):
        return self.step("clear" + (f" {self._links(links)}" if links is not None else ""))

    def kill(self, nodes):
        return self.step(f"kill {node_set(nodes)}")

    def stop(self, nodes):
        return self.step(f"stop {node_set(nodes)}")

    def restart(self, nodes):
        return self.step(f"restart {node_set(nodes)}")

    def pause(self, nodes):
        return self.step(f"pause {node_set(nodes)}")

    def resume(self, nodes):
        return self.step(f"resume {node_set(nodes)}")

    def sleep(self, d):
        return self.step(f"sleep {duration(d)}")

    def await_(self, condition, within=10.0):
        """`await CONDITION within D`: raises StepFailed with the diagnosis when it does not hold
        in time."""
        return self.step(f"await {condition} within {duration(within)}")

    def expect(self, condition):
        return self.step(f"expect {condition}")

    def log(self, text):
        return self.step(f"log {quote(text)}")

    @staticmethod
    def _links(links):
        return links if isinstance(links, str) else node_set(links)

    # -- logs --

    def log_tail(self, lines=LOG_LINES):
        """The last lines of the run's merged log (`chainlab-sim logs RUN_DIR`)."""
        r = subprocess.run([self.sim, "logs", str(self.run_dir)], capture_output=True, text=True,
                           errors="replace", timeout=60)
        text = r.stdout if r.returncode == 0 else r.stderr
        return "\n".join(text.splitlines()[-lines:])

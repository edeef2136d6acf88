#!/usr/bin/env python3
"""ECS API throughput: Portside against its peers and its own past, same request mix, same client.

Four servers, all started here on fresh state and preloaded with the same task definitions:
Portside (the working tree), Portside before the one-edge rework (the code at
--baseline-commit, from a temporary git worktree, same interpreter and virtualenv),
moto_server, and MiniStack (PyPI `ministack`, in a virtualenv of its own: see api_setup.py).
They are driven in turn by the same client: N worker processes, each with one keep-alive HTTP
connection, sending a fixed mix of DescribeClusters, DescribeTaskDefinition,
ListTaskDefinitions and RegisterTaskDefinition (one write per ten reads) as fast as the server
answers, one request at a time per connection (closed loop). The measured time is split into
rounds; each round runs every server, in an order that reverses every round (moto, MiniStack,
before, now; then now, before, MiniStack, moto; ...), so load from elsewhere that comes and goes
hits all of them, and the two Portsides always run back to back. Ratios are the median of
the per-round ratios.

The client is kept cheap so that it is not what is measured on a small machine: every request
is SigV4-signed once, before the run (botocore's SigV4Auth; a signature stays valid 15 minutes),
and replayed from a pool, as raw bytes, over a minimal keep-alive HTTP/1.1 connection (a few
µs of client CPU per request; http.client costs ~100 µs, boto3 ~1 ms). No boto3 in the loop.

    .venv/bin/python bench/api_throughput.py              # 1 s warm-up + 10 s per server
    .venv/bin/python bench/api_throughput.py --quick      # a short smoke run, writes nothing
    .venv/bin/python bench/api_throughput.py --portside-only --duration 30   # now vs before
    .venv/bin/python bench/api_throughput.py --portside-only --no-baseline --keep  # profiling

Prints requests/s, p50/p99 latency and errors for each server, and the ratios Portside/moto,
Portside/MiniStack and Portside now/before; writes bench/results/api_throughput.json (runs
that measured Portside and something to compare it with, unless --quick; or with --output).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import api_setup
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from host import busy_percent, free_port, load_average, machine, process_cpu

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "api_throughput.json"

ACCESS_KEY = "PSAKBENCH00000000001"
SECRET_KEY = "portside-bench-secret-key-000000000001"
REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CLUSTER = "bench"

BASELINE = "portside-baseline"  # Portside at --baseline-commit
DEFAULT_BASELINE_COMMIT = "1eaf99e"  # the last commit before the one-edge rework (issue 11)
PEERS = ("moto", "ministack")  # measured on whatever part of the mix they answer

TARGET_RATIO = 10.0  # Portside over moto
TARGET_BASELINE_RATIO = 0.95  # Portside over itself before the one-edge rework: within 5%
TARGET_P99_MS = 20.0
SIGNATURE_LIFETIME_S = 15 * 60
LATER_WARMUP_S = 0.25  # before each later round: new connections, warm server

# The request kinds, and a token that every good answer to that kind contains.
ACTIONS = (
    "DescribeClusters",
    "DescribeTaskDefinition",
    "ListTaskDefinitions",
    "RegisterTaskDefinition",
)
DC, DTD, LTD, RTD = range(len(ACTIONS))
EXPECT = {
    DC: b'"clusterArn"',
    DTD: b'"taskDefinitionArn"',
    LTD: b"task-definition/",
    RTD: b'"taskDefinitionArn"',
}


def mix_cycle(reads_per_write: int) -> list[int]:
    """One cycle of the fixed mix: `reads_per_write` reads spread over the three read kinds
    (DescribeTaskDefinition gets the remainder), then one RegisterTaskDefinition."""
    reads = [(DC, DTD, LTD, DTD)[i % 4] for i in range(reads_per_write)]
    return [*reads, RTD]


# -- request bodies -------------------------------------------------------------------------


def family_name(i: int) -> str:
    return f"bench-svc-{i:03d}"


def task_definition_body(family: str, variant: int) -> dict[str, Any]:
    """A modest, realistic task definition: two containers, ports, env, health check, tags."""
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": f"registry.example.com/{family}:1.{variant}.0",
                "cpu": 256,
                "memory": 512,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                "environment": [
                    {"name": "SERVICE", "value": family},
                    {"name": "VARIANT", "value": str(variant)},
                    {"name": "LOG_LEVEL", "value": "info"},
                ],
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                    "interval": 30,
                    "timeout": 5,
                    "retries": 3,
                },
            },
            {
                "name": "sidecar",
                "image": "public.ecr.aws/docker/library/busybox:latest",
                "memory": 64,
                "essential": False,
                "command": ["sh", "-c", "sleep 3600"],
            },
        ],
        "tags": [{"key": "team", "value": "bench"}],
    }


# -- signing ---------------------------------------------------------------------------------

# A signed request ready to send: (action index, the whole HTTP/1.1 request as bytes).
Prepared = tuple[int, bytes]


class Signer:
    def __init__(self, host: str, port: int) -> None:
        self.netloc = f"{host}:{port}"
        self.auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "ecs", REGION)

    def sign(self, action: int, params: dict[str, Any], target: str = "") -> Prepared:
        """Sign `params` as a call of ACTIONS[action] (or of `target`, for setup calls)."""
        body = json.dumps(params, separators=(",", ":")).encode()
        request = AWSRequest(
            method="POST",
            url=f"http://{self.netloc}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": TARGET_PREFIX + (target or ACTIONS[action]),
            },
        )
        self.auth.add_auth(request)
        lines = [b"POST / HTTP/1.1", f"Host: {self.netloc}".encode()]  # the signed host
        lines += [f"{k}: {v}".encode() for k, v in request.headers.items()]
        lines += [f"Content-Length: {len(body)}".encode(), b"", b""]
        return action, b"\r\n".join(lines) + body


def request_pools(signer: Signer, families: int, revisions: int, variants: int) -> list[list]:
    """Pre-signed requests for each action (index = action)."""
    names = [family_name(i) for i in range(families)]
    pools: list[list[Prepared]] = [[] for _ in ACTIONS]
    pools[DC].append(signer.sign(DC, {"clusters": [CLUSTER]}))
    for name in names:
        # By family (latest ACTIVE revision: a lookup) and by family:revision (a get).
        pools[DTD].append(signer.sign(DTD, {"taskDefinition": name}))
        for rev in range(1, revisions + 1):
            pools[DTD].append(signer.sign(DTD, {"taskDefinition": f"{name}:{rev}"}))
        pools[LTD].append(signer.sign(LTD, {"familyPrefix": name}))
        for v in range(variants):
            pools[RTD].append(signer.sign(RTD, task_definition_body(name, 1000 + v)))
    return pools


# -- a minimal keep-alive HTTP/1.1 client ------------------------------------------------------


class Connection:
    """Just enough HTTP/1.1 for a JSON API on localhost: one request in flight, keep-alive,
    Content-Length or chunked bodies. Costs a fraction of http.client per request (no header
    objects, no email parser), so the client does not compete with the server for the CPU."""

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.connects = 0

    def connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def _fill(self, sock: socket.socket) -> None:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _take(self, sock: socket.socket, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill(sock)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self, sock: socket.socket) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill(sock)
        out, self.buf = self.buf[:end], self.buf[end + 2 :]
        return out

    def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request, return (status, body)."""
        if self.sock is None:
            self.connect()
        sock = self.sock
        assert sock is not None
        sock.sendall(raw)
        while (head_end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill(sock)
        head = self.buf[:head_end].lower()
        self.buf = self.buf[head_end + 4 :]
        status = int(head[9:12])
        close = b"\r\nconnection: close" in head or head.startswith(b"http/1.0")
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            eol = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : eol if eol >= 0 else len(head)])
            body = self._take(sock, length)
        elif b"\r\ntransfer-encoding: chunked" in head:
            parts = []
            while size := int(self._line(sock).split(b";")[0], 16):
                parts.append(self._take(sock, size + 2)[:-2])
            while self._line(sock):  # trailers, then the empty line
                pass
            body = b"".join(parts)
        else:  # the body runs to the end of the connection
            with contextlib.suppress(ConnectionError):
                while True:
                    self._fill(sock)
            body, close = self.buf, True
        if close:
            self.close()
        return status, body


def send(conn: Connection, prepared: Prepared) -> tuple[int, bytes]:
    try:
        return conn.exchange(prepared[1])
    except (OSError, ValueError) as exc:
        conn.close()  # the next request reconnects
        return -1, repr(exc).encode()


def ok(prepared: Prepared, status: int, data: bytes) -> bool:
    return status == 200 and EXPECT[prepared[0]] in data


# -- worker processes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerJob:
    index: int
    host: str
    port: int
    pools: list[list[Prepared]]
    cycle: list[int]
    warmup: float
    duration: float
    seed: int


def worker_main(job: WorkerJob, ready: Any, go: Any, results: Any) -> None:
    """Closed loop over one keep-alive connection, from the start time the parent gives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    conn = Connection(job.host, job.port)
    conn.connect()
    ready.put(job.index)
    start_at: float = go.get()
    measure_from = start_at + job.warmup
    end = measure_from + job.duration
    rng = random.Random(job.seed)
    pools, cycle = job.pools, job.cycle
    offset = job.index * 3  # workers do not move in lockstep through the cycle
    latencies = [array("d") for _ in ACTIONS]
    sent = errors = 0
    error_samples: list[str] = []
    cpu_start: float | None = None
    measured = 0
    while time.monotonic() < start_at:
        time.sleep(0.001)
    i = 0
    while True:
        action = cycle[(i + offset) % len(cycle)]
        i += 1
        pool = pools[action]
        prepared = pool[rng.randrange(len(pool))]
        t0 = time.perf_counter()
        if t0 >= end:
            break
        if cpu_start is None and t0 >= measure_from:
            cpu_start = time.process_time()
        status, data = send(conn, prepared)
        t1 = time.perf_counter()
        sent += 1
        good = ok(prepared, status, data)
        if not good:
            errors += 1
            if len(error_samples) < 5:
                error_samples.append(f"{ACTIONS[action]}: {status} {data[:300]!r}")
        elif t0 >= measure_from and t1 <= end:
            latencies[action].append((t1 - t0) * 1000.0)
            measured += 1
    cpu = time.process_time() - (cpu_start if cpu_start is not None else 0.0)
    conn.close()
    results.put(
        {
            "index": job.index,
            "latencies": [a.tobytes() for a in latencies],
            "sent": sent,
            "measured": measured,
            "errors": errors,
            "error_samples": error_samples,
            "reconnects": conn.connects - 1,
            "client_cpu_s": cpu,
        }
    )


# -- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    """A server subprocess in its own process group, so that all of it can be stopped."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str]
    ready_path: str
    proc: subprocess.Popen[bytes] | None = None
    cwd: Path | None = None

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.cwd,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", self.ready_path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def cpu_seconds(self, snapshot: dict[int, tuple[str, int, float]] | None = None) -> float:
        """CPU time (user + system) of every process in the server's process group."""
        if self.proc is None:
            return 0.0
        procs = process_cpu() if snapshot is None else snapshot
        return sum(cpu for _, group, cpu in procs.values() if group == self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORTSIDE_"))}
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    return env


def moto_server(workdir: Path) -> Server:
    port = free_port()
    return Server(
        name="moto",
        argv=[str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port=port,
        log_path=workdir / "moto.log",
        env=base_env(),
        ready_path="/moto-api/",
    )


def portside_server(workdir: Path, name: str = "portside", source: Path | None = None) -> Server:
    """`portside server` on a fresh data directory. With `source`, the package is imported from
    that checkout (PYTHONPATH) by this interpreter, and says which copy it imported in its log
    (see `check_source`); without, the installed console script runs."""
    port = free_port()
    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    args = ["server", "--data-dir", str(workdir / f"{name}-data")]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    if source is None:
        argv = [str(BIN / "portside"), *args]
    else:
        argv = api_setup.portside_argv(*args)
        env["PYTHONPATH"] = str(source)
    return Server(
        name=name,
        argv=argv,
        port=port,
        log_path=workdir / f"{name}.log",
        env=env,
        ready_path="/_portside/health",
        cwd=workdir if source is not None else None,
    )


def check_source(server: Server, source: Path) -> Path:
    """The package directory `server` imported, which must be the one in `source`: the old
    code must really be what the baseline runs."""
    found = api_setup.imported_from(server.log_path.read_text(errors="replace"))
    expected = (source / "portside").resolve()
    if found is None or found.resolve() != expected:
        raise RuntimeError(f"{server.name} imported portside from {found}, not {expected}")
    return found


def ministack_server(workdir: Path, python: Path) -> Server:
    port = free_port()
    return Server(
        name="ministack",
        argv=[str(python), "-m", "ministack"],
        port=port,
        log_path=workdir / "ministack.log",
        env=api_setup.ministack_env(base_env(), port, workdir),
        ready_path="/_ministack/health",
        cwd=workdir,
    )


# -- one server's run ----------------------------------------------------------------------


@dataclass
class Settings:
    workers: int
    warmup: float
    duration: float
    preload: int
    families: int
    reads_per_write: int
    write_variants: int
    seed: int
    rounds: int = 1

    @property
    def revisions(self) -> int:
        return max(1, self.preload // self.families)


@dataclass
class Outcome:
    server: str
    preload_s: float = 0.0
    requests: int = 0
    sent: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    reconnects: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    irq_s: float = 0.0
    idle_servers_s: float = 0.0  # the other servers of the run, idle meanwhile
    others: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    rounds: list[dict[str, float]] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    @property
    def cpu_per_request(self) -> float:
        """The server's CPU µs per request: steadier than requests/s on a busy machine, where
        the server gets whatever share of the cores the other jobs leave it."""
        return 1e6 * self.server_cpu_s / self.requests if self.requests else 0.0

    def add(self, part: Outcome) -> None:
        """Fold one round's measurement into the run's totals."""
        self.requests += part.requests
        self.sent += part.sent
        self.errors += part.errors
        self.error_samples += part.error_samples[: max(0, 5 - len(self.error_samples))]
        self.reconnects += part.reconnects
        for action, values in part.latencies.items():
            self.latencies.setdefault(action, []).extend(values)
        self.client_cpu_s += part.client_cpu_s
        self.server_cpu_s += part.server_cpu_s
        self.irq_s += part.irq_s
        self.idle_servers_s += part.idle_servers_s
        for name, cpu in part.others.items():
            self.others[name] = self.others.get(name, 0.0) + cpu
        self.duration += part.duration
        self.rounds.append(
            {
                "requests_per_s": round(part.rps, 1),
                "server_cpu_us_per_request": round(part.cpu_per_request, 1),
                "other_cpu_percent_of_one_core": round(
                    100 * sum(part.others.values()) / part.duration, 1
                ),
            }
        )

    def all_latencies(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def preload(server: Server, settings: Settings) -> float:
    """Create the cluster and register `preload` task definitions over `families` families,
    with the same signed-request client (4 threads, one connection each)."""
    signer = Signer("127.0.0.1", server.port)
    setup = [signer.sign(DC, {"clusterName": CLUSTER}, target="CreateCluster")]
    jobs: list[list[Prepared]] = [[] for _ in range(4)]
    for f in range(settings.families):
        for rev in range(settings.revisions):
            prepared = signer.sign(RTD, task_definition_body(family_name(f), rev))
            jobs[f % 4].append(prepared)

    def run(batch: list[Prepared], check: Callable[[Prepared, int, bytes], bool]) -> None:
        conn = Connection("127.0.0.1", server.port)
        try:
            for prepared in batch:
                status, data = send(conn, prepared)
                if not check(prepared, status, data):
                    raise RuntimeError(
                        f"{server.name}: preload {ACTIONS[prepared[0]]} failed: {status} "
                        f"{data[:500]!r}"
                    )
        finally:
            conn.close()

    started = time.perf_counter()
    run(setup, lambda _p, status, data: status == 200 and b'"clusterArn"' in data)
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(run, batch, ok) for batch in jobs]:
            future.result()
    return time.perf_counter() - started


def unanswered(server: Server, pools: list[list[Prepared]]) -> dict[str, str]:
    """The request kinds `server` does not answer as the mix expects (the first and last
    request of each pool tried), with what it answered instead."""
    conn = Connection("127.0.0.1", server.port)
    failed: dict[str, str] = {}
    try:
        for pool in pools:
            for prepared in (pool[0], pool[-1]):
                status, data = send(conn, prepared)
                if not ok(prepared, status, data):
                    failed.setdefault(ACTIONS[prepared[0]], f"{status} {data[:300]!r}")
    finally:
        conn.close()
    return failed


def sanity_check(server: Server, pools: list[list[Prepared]], peer: bool) -> dict[str, str]:
    """Before anything is timed: Portside must answer every kind of request; a peer that
    cannot answer some is measured on the others. Returns the kinds left out."""
    failed = unanswered(server, pools)
    if failed and not peer:
        raise RuntimeError(f"{server.name}: {failed}")
    if len(failed) == len(ACTIONS):
        raise RuntimeError(f"{server.name} answers none of the mix: {failed}")
    for action, answer in failed.items():
        print(f"{server.name} cannot answer {action} ({answer}): measured without it")
    return failed


def measure(
    server: Server,
    settings: Settings,
    pools: list[list[Prepared]],
    warmup: float,
    duration: float,
    seed: int,
    cycle: list[int],
    idle: Sequence[Server] = (),
) -> Outcome:
    """One measured window: fresh worker processes and connections, `warmup` seconds
    unmeasured, then `duration` seconds measured. The CPU the `idle` servers use meanwhile is
    counted apart from other processes'."""
    outcome = Outcome(server=server.name, duration=duration)
    ctx = mp.get_context("fork")
    ready, go, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(
            target=worker_main,
            args=(
                WorkerJob(
                    index=i,
                    host="127.0.0.1",
                    port=server.port,
                    pools=pools,
                    cycle=cycle,
                    warmup=warmup,
                    duration=duration,
                    seed=seed + i,
                ),
                ready,
                go,
                results,
            ),
            daemon=True,
        )
        for i in range(settings.workers)
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=30)
        start_at = time.monotonic() + 0.1
        for _ in procs:
            go.put(start_at)
        measure_from = start_at + warmup
        end = measure_from + duration
        _sleep_until(measure_from)
        before, irq0 = process_cpu(), irq_seconds()
        _sleep_until(end)
        after, irq1 = process_cpu(), irq_seconds()
        outcome.server_cpu_s = server.cpu_seconds(after) - server.cpu_seconds(before)
        outcome.irq_s = irq1 - irq0
        ours = {os.getpid(), *(p.pid for p in procs)}
        server_group = server.proc.pid if server.proc else -1
        idle_groups = {s.proc.pid for s in idle if s.proc is not None}
        others: dict[str, float] = {}
        for pid, (name, group, cpu) in after.items():
            if pid in ours or group == server_group:
                continue
            spent = cpu - before[pid][2] if pid in before else cpu
            if group in idle_groups:
                outcome.idle_servers_s += spent
            elif spent > 0:
                others[name] = others.get(name, 0.0) + spent
        outcome.others = others
        per_action: list[array[float]] = [array("d") for _ in ACTIONS]
        for _ in procs:
            r = results.get(timeout=60)
            for a, raw in enumerate(r["latencies"]):
                per_action[a].frombytes(raw)
            outcome.sent += r["sent"]
            outcome.requests += r["measured"]
            outcome.errors += r["errors"]
            outcome.error_samples += r["error_samples"]
            outcome.reconnects += r["reconnects"]
            outcome.client_cpu_s += r["client_cpu_s"]
        outcome.latencies = {ACTIONS[a]: list(per_action[a]) for a in range(len(ACTIONS))}
        for p in procs:
            p.join(10)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    return outcome


def portside_diagnostics(data_dir: Path) -> dict[str, Any]:
    """Best effort, read-only: how SQLite plans the task-definition family lookup that
    ListTaskDefinitions(familyPrefix) and DescribeTaskDefinition(family) make. Which
    index it picks matters: with single-column indexes only, SQLite chose by creation order,
    which varied with the hash seed of the process that created the database (status index:
    a scan of every ACTIVE revision)."""
    try:
        db = sqlite3.connect(f"file:{data_dir / 'portside.db'}?mode=ro", uri=True)
        try:
            indexes = [
                row[0]
                for row in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'task_definitions' ORDER BY rowid"
                )
            ]
            prefix = f"arn:aws:ecs:{REGION}:000000000000:task-definition/"
            plan = [
                row[3]
                for row in db.execute(
                    "EXPLAIN QUERY PLAN SELECT key, family, revision, status "
                    "FROM task_definitions WHERE key >= ? AND key < ? AND family = ? "
                    "AND status = ?",
                    (prefix, prefix + "\U0010ffff", family_name(0), "ACTIVE"),
                )
            ]
            rows = db.execute("SELECT COUNT(*) FROM task_definitions").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    return {
        "task_definitions_at_end": rows,
        "task_definitions_indexes": indexes,
        "family_lookup_plan": plan,
    }


def irq_seconds() -> float:
    """CPU seconds the machine spent in interrupts and softirqs (loopback TCP is mostly
    softirq work; the kernel charges it to no process)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")


def _sleep_until(when: float) -> None:
    while (left := when - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))


# -- report ----------------------------------------------------------------------------------


def summary(o: Outcome, cores: int) -> dict[str, Any]:
    every = o.all_latencies()
    per_action = {}
    for name, values in o.latencies.items():
        if not values and o.requests:
            continue  # a kind this server was not measured on
        ordered = sorted(values)
        per_action[name] = {
            "requests": len(ordered),
            "requests_per_s": round(len(ordered) / o.duration, 1),
            "p50_ms": round(percentile(ordered, 50), 3),
            "p99_ms": round(percentile(ordered, 99), 3),
        }
    return {
        "requests_per_s": round(o.rps, 1),
        "p50_ms": round(percentile(every, 50), 3),
        "p90_ms": round(percentile(every, 90), 3),
        "p99_ms": round(percentile(every, 99), 3),
        "max_ms": round(every[-1], 3) if every else None,
        "mean_ms": round(sum(every) / len(every), 3) if every else None,
        "requests_measured": o.requests,
        "requests_sent_incl_warmup": o.sent,
        "errors": o.errors,
        "error_samples": o.error_samples,
        "reconnects": o.reconnects,
        "server_cpu_percent_of_one_core": round(100 * o.server_cpu_s / o.duration, 1),
        "client_cpu_percent_of_one_core": round(100 * o.client_cpu_s / o.duration, 1),
        # Whatever else ran on the machine meanwhile (other jobs skew the figures).
        "other_cpu_percent_of_one_core": round(100 * sum(o.others.values()) / o.duration, 1),
        "other_cpu_top": {
            name: round(100 * cpu / o.duration, 1)
            for name, cpu in sorted(o.others.items(), key=lambda kv: -kv[1])[:5]
        },
        "irq_cpu_percent_of_one_core": round(100 * o.irq_s / o.duration, 1),
        "idle_servers_cpu_percent_of_one_core": round(100 * o.idle_servers_s / o.duration, 1),
        "server_cpu_us_per_request": round(1e6 * o.server_cpu_s / o.requests, 1)
        if o.requests
        else None,
        "client_cpu_us_per_request": round(1e6 * o.client_cpu_s / o.requests, 1)
        if o.requests
        else None,
        "machine_cores": cores,
        "preload_s": round(o.preload_s, 2),
        "per_action": per_action,
        "rounds": o.rounds,
        **({"diagnostics": o.diagnostics} if o.diagnostics else {}),
    }


# -- ratios ----------------------------------------------------------------------------------

LABELS = {
    "portside": "Portside",
    BASELINE: "Portside before",
    "moto": "moto",
    "ministack": "MiniStack",
}


RPS, CPU = "requests_per_s", "server_cpu_us_per_request"  # the metrics compared


@dataclass
class Ratio:
    """A metric of server `a` over the same of server `b`: per round (the two measured a few
    seconds apart, so a burst of load from elsewhere that hit one round moves one ratio), their
    median (what is reported), and the ratio of the totals."""

    a: str
    b: str
    per_round: list[float]
    of_totals: float
    target: float | None = None
    metric: str = RPS

    @property
    def value(self) -> float:
        return statistics.median(self.per_round) if self.per_round else self.of_totals

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value >= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": round(self.value, 3),
            "basis": "median of per-round ratios" if len(self.per_round) > 1 else "totals",
            "of_totals": round(self.of_totals, 3),
            "per_round": [round(x, 3) for x in self.per_round],
            **({"target_min": self.target, "met": self.met} if self.target is not None else {}),
        }


def ratio(
    outcomes: dict[str, Outcome], a: str, b: str, target: float | None, metric: str = RPS
) -> Ratio | None:
    if a not in outcomes or b not in outcomes:
        return None
    total = {RPS: lambda o: o.rps, CPU: lambda o: o.cpu_per_request}[metric]
    if not total(outcomes[b]):
        return None
    per_round = [
        x[metric] / y[metric]
        for x, y in zip(outcomes[a].rounds, outcomes[b].rounds, strict=True)
        if y[metric]
    ]
    return Ratio(a, b, per_round, total(outcomes[a]) / total(outcomes[b]), target, metric)


def ratios(outcomes: dict[str, Outcome]) -> dict[str, Ratio]:
    """Portside's requests/s over each of the others' that ran, keyed 'portside/<other>'; and
    against the baseline also the server CPU per request ('... cpu_per_request'), the
    comparison a busy machine disturbs least."""
    out = {}
    for other, target in (
        ("moto", TARGET_RATIO),
        ("ministack", None),
        (BASELINE, TARGET_BASELINE_RATIO),
    ):
        r = ratio(outcomes, "portside", other, target)
        if r is not None:
            out[f"portside/{other}"] = r
    cpu = ratio(outcomes, "portside", BASELINE, None, CPU)
    if cpu is not None:
        out[f"portside/{BASELINE} cpu_per_request"] = cpu
    return out


def fmt_ratio(x: float) -> str:
    return f"{x:.1f}x" if x >= 2 else f"{x:.3f}"


def print_ratio(title: str, r: Ratio) -> None:
    notes = [f"{100 * (r.value - 1):+.1f}%"] if r.value < 2 else []
    if len(r.per_round) > 1:
        notes.append(f"median of rounds {', '.join(fmt_ratio(x) for x in r.per_round)}")
    notes.append(f"ratio of totals {fmt_ratio(r.of_totals)}")
    if r.target is not None:
        notes.append(f"target >= {fmt_ratio(r.target)}: {'met' if r.met else 'NOT MET'}")
    print(f"{title}: {fmt_ratio(r.value)} ({'; '.join(notes)})")


# -- printing and the results file -------------------------------------------------------


def print_table(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    rows: list[tuple[str, ...]] = [("", *names)]
    for label, key, fmt in (
        ("requests/s", "requests_per_s", "{:,.0f}"),
        ("p50 ms", "p50_ms", "{:.2f}"),
        ("p99 ms", "p99_ms", "{:.2f}"),
        ("max ms", "max_ms", "{:.2f}"),
        ("errors", "errors", "{:d}"),
        ("server CPU % of a core", "server_cpu_percent_of_one_core", "{:.0f}"),
        ("client CPU % of a core", "client_cpu_percent_of_one_core", "{:.0f}"),
        ("irq+softirq CPU % of a core", "irq_cpu_percent_of_one_core", "{:.0f}"),
        ("the idle servers' CPU %", "idle_servers_cpu_percent_of_one_core", "{:.1f}"),
        ("other processes' CPU % (noise)", "other_cpu_percent_of_one_core", "{:.0f}"),
        ("server CPU µs/request", "server_cpu_us_per_request", "{:.0f}"),
        ("client CPU µs/request", "client_cpu_us_per_request", "{:.0f}"),
    ):
        rows.append(
            (
                label,
                *(
                    fmt.format(results[n][key]) if results[n][key] is not None else "-"
                    for n in names
                ),
            )
        )
    for action in ACTIONS:
        cells = []
        for n in names:
            a = results[n]["per_action"].get(action)
            cells.append(f"{a['requests_per_s']:,.0f}, {a['p99_ms']:.1f} ms" if a else "-")
        rows.append((f"  {action} req/s, p99", *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print(
            "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
        )


def print_findings(
    results: dict[str, dict[str, Any]],
    found: dict[str, Ratio],
    baseline: api_setup.Revision | None,
    skipped: dict[str, dict[str, str]],
) -> None:
    print()
    for found_ratio in found.values():
        if found_ratio.b == BASELINE:
            title = f"Portside now/before ({baseline.short if baseline else '?'})"
        else:
            title = f"{LABELS[found_ratio.a]}/{LABELS[found_ratio.b]}"
        what = "requests/s" if found_ratio.metric == RPS else "server CPU per request"
        print_ratio(f"{title} {what}", found_ratio)
    if "portside" in results:
        p99 = results["portside"]["p99_ms"]
        print(
            f"Portside p99: {p99:.2f} ms (target < {TARGET_P99_MS:.0f} ms: "
            f"{'met' if p99 < TARGET_P99_MS else 'NOT MET'})"
        )
    for name, kinds in skipped.items():
        print(
            f"{LABELS[name]} could not answer {', '.join(kinds)}: measured on the rest of the "
            "mix, so its figures and ratio are not like for like"
        )
    for name, r in results.items():
        for sample in r["error_samples"]:
            print(f"{name} error: {sample}")
        if r["other_cpu_percent_of_one_core"] > 15:
            top = ", ".join(f"{k} {v:.0f}%" for k, v in r["other_cpu_top"].items())
            print(
                f"warning: other processes used {r['other_cpu_percent_of_one_core']:.0f}% of a "
                f"core during the {name} run ({top}): its figures are skewed; rerun on an "
                "idle machine"
            )
        if "family_lookup_plan" in r.get("diagnostics", {}):
            print(
                f"{name}: family lookup plan: {'; '.join(r['diagnostics']['family_lookup_plan'])}"
            )


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in ("portside", "moto", "botocore", "uvicorn", "werkzeug"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def server_notes(sources: dict[str, dict[str, Any]]) -> dict[str, str]:
    notes = {
        "moto": "moto_server (Werkzeug, threaded), default settings",
        "ministack": f"MiniStack {sources.get('ministack', {}).get('version')} "
        "(`python -m ministack`: Hypercorn, asyncio, ECS calls on a thread pool), its own "
        "virtualenv, default settings but for: loopback port, no Docker socket, IoT MQTT "
        "listener off; its default AUTH=false: signatures are not verified (nor are they "
        "by moto's default)",
        "portside": "portside server, the working tree, fresh SQLite data dir, default settings",
        BASELINE: "portside server at the baseline commit, from a temporary git worktree, run "
        "by the same interpreter and virtualenv (PYTHONPATH), fresh SQLite data dir, default "
        "settings",
    }
    return {name: notes[name] for name in sources}


def document(
    settings: Settings,
    results: dict[str, dict[str, Any]],
    found: dict[str, Ratio],
    sources: dict[str, dict[str, Any]],
    skipped: dict[str, dict[str, str]],
    load: dict[str, Any],
) -> dict[str, Any]:
    moto = found.get("portside/moto")
    p99_met = "portside" in results and results["portside"]["p99_ms"] < TARGET_P99_MS
    return {
        "benchmark": "api_throughput",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), **load},
        "versions": {
            **versions(),
            **{n: s["version"] for n, s in sources.items() if "version" in s},
        },
        "client": {
            "kind": "worker processes, one keep-alive HTTP/1.1 connection each (raw socket), "
            "closed loop; requests SigV4-signed once before the run and replayed",
            "workers": settings.workers,
            "warmup_s": settings.warmup,
            "duration_s": settings.duration,
            "rounds": settings.rounds,
            "rounds_note": "duration split in rounds; each round runs every server, the order "
            "reversed every round (the two Portsides always back to back); the first "
            f"round of each gets the warm-up, later ones {LATER_WARMUP_S} s",
            "server_order": list(results),
            "mix_cycle": [ACTIONS[a] for a in mix_cycle(settings.reads_per_write)],
            "reads_per_write": settings.reads_per_write,
            "preloaded_task_definitions": settings.families * settings.revisions,
            "families": settings.families,
            "distinct_write_bodies": settings.families * settings.write_variants,
            "seed": settings.seed,
        },
        "servers": server_notes(sources),
        "sources": sources,
        "unanswered_by_peers": skipped,
        "results": results,
        "ratios": {key: r.as_json() for key, r in found.items()},
        "ratio_portside_over_moto": round(moto.value, 2) if moto else None,
        "ratio_basis": moto.as_json()["basis"] if moto else None,
        "ratio_of_totals": round(moto.of_totals, 2) if moto else None,
        "ratio_per_round": [round(x, 2) for x in moto.per_round] if moto else [],
        "targets": {
            "ratio_min": TARGET_RATIO,
            "p99_ms_max": TARGET_P99_MS,
            "baseline_ratio_min": TARGET_BASELINE_RATIO,
            "ratio_met": moto.met if moto else None,
            "p99_met": p99_met,
            "baseline_met": found[f"portside/{BASELINE}"].met
            if f"portside/{BASELINE}" in found
            else None,
        },
    }


# -- servers to run ----------------------------------------------------------------------------


def chosen(args: argparse.Namespace) -> list[str]:
    """The servers of this run, in the order of a forward round."""
    names = ["moto", "ministack", BASELINE, "portside"]
    if args.peer_only:
        names = ["moto", "ministack"]
    if args.portside_only:
        names = [BASELINE, "portside"]
    if args.no_baseline:
        names = [n for n in names if n != BASELINE]
    if args.no_ministack:
        names = [n for n in names if n != "ministack"]
    return names


def prepare(
    names: list[str], args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack
) -> tuple[list[Server], dict[str, dict[str, Any]], dict[str, Path]]:
    """The servers (not started yet), what each one is (commit, version), and the checkout
    each Portside must import its package from. The baseline's worktree lives as long as
    `stack`."""
    servers: list[Server] = []
    sources: dict[str, dict[str, Any]] = {}
    checkouts: dict[str, Path] = {}
    for name in names:
        if name == "moto":
            servers.append(moto_server(workdir))
            sources[name] = {"version": versions().get("moto")}
        elif name == "ministack":
            try:
                python = api_setup.ensure_ministack(args.ministack_version)
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"warning: no MiniStack ({exc}): running without it", file=sys.stderr)
                continue
            servers.append(ministack_server(workdir, python))
            sources[name] = {"version": args.ministack_version, "python": str(python)}
        elif name == BASELINE:
            checkouts[name] = stack.enter_context(api_setup.worktree(args.baseline, workdir))
            servers.append(portside_server(workdir, name, checkouts[name]))
            sources[name] = {**args.baseline.as_json(), "checkout": "git worktree, removed after"}
        else:
            checkouts[name] = ROOT
            servers.append(portside_server(workdir, name, ROOT))
            sources[name] = api_setup.working_tree().as_json()
    return servers, sources, checkouts


def run_rounds(
    servers: list[Server], settings: Settings, workdir: Path
) -> tuple[dict[str, Outcome], dict[str, dict[str, str]]]:
    """Preload every server, then the measured rounds. Returns the outcomes, and the request
    kinds a peer could not answer (left out of its mix)."""
    outcomes: dict[str, Outcome] = {}
    for server in servers:
        seconds = preload(server, settings)
        print(
            f"{server.name}: preloaded {settings.families * settings.revisions} task "
            f"definitions in {seconds:.1f} s",
            flush=True,
        )
        outcomes[server.name] = Outcome(server=server.name, preload_s=seconds)
    pools, cycles, skipped = {}, {}, {}
    for server in servers:
        signer = Signer("127.0.0.1", server.port)
        pools[server.name] = request_pools(
            signer, settings.families, settings.revisions, settings.write_variants
        )
        left_out = sanity_check(server, pools[server.name], peer=server.name in PEERS)
        if left_out:
            skipped[server.name] = left_out
        cycle = mix_cycle(settings.reads_per_write)
        cycles[server.name] = [a for a in cycle if ACTIONS[a] not in left_out]
    per_round = settings.duration / settings.rounds
    print(
        f"{settings.rounds} round(s) of {per_round:g} s per server, order "
        f"{', '.join(s.name for s in servers)} and reversed in turn; {settings.workers} "
        f"workers; {settings.warmup:g} s warm-up first ...",
        flush=True,
    )
    for r in range(settings.rounds):
        line = []
        for server in servers if r % 2 == 0 else servers[::-1]:
            part = measure(
                server,
                settings,
                pools[server.name],
                warmup=settings.warmup if r < 2 else min(settings.warmup, LATER_WARMUP_S),
                duration=per_round,
                seed=settings.seed + 100 * r,
                cycle=cycles[server.name],
                idle=[s for s in servers if s is not server],
            )
            outcomes[server.name].add(part)
            line.append(f"{server.name} {part.rps:,.0f}")
        print(f"  round {r + 1}: {', '.join(line)} req/s", flush=True)
    for server in servers:
        if server.name in (BASELINE, "portside"):
            data_dir = workdir / f"{server.name}-data"
            outcomes[server.name].diagnostics = portside_diagnostics(data_dir)
    return outcomes, skipped


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per server")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="split --duration into this many rounds, servers alternating (noise hits all)",
    )
    p.add_argument("--workers", type=int, default=4, help="client processes (1 connection each)")
    p.add_argument("--preload", type=int, default=1000, help="task definitions registered first")
    p.add_argument("--families", type=int, default=50, help="families they are spread over")
    p.add_argument("--reads-per-write", type=int, default=10)
    p.add_argument("--write-variants", type=int, default=4, help="distinct write bodies/family")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="short run; writes no results file")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--peer-only", action="store_true", help="measure moto and MiniStack only")
    only.add_argument(
        "--portside-only", action="store_true", help="measure Portside now and before only"
    )
    p.add_argument(
        "--baseline-commit",
        default=DEFAULT_BASELINE_COMMIT,
        help="the 'before' Portside: code at this commit (default %(default)s, the last "
        "commit before the one-edge rework)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip Portside at that commit")
    p.add_argument("--no-ministack", action="store_true", help="skip MiniStack")
    p.add_argument(
        "--ministack-version",
        default=api_setup.MINISTACK_VERSION,
        help="installed on demand into its own virtualenv (default %(default)s)",
    )
    p.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = min(args.duration, 2.0), min(args.warmup, 0.5)
        args.preload, args.families = min(args.preload, 200), min(args.families, 10)
        args.rounds = min(args.rounds, 2)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    args.servers = chosen(args)
    if not args.servers:
        p.error("no server left to measure")
    args.baseline = None
    if BASELINE in args.servers:
        try:
            args.baseline = api_setup.resolve(args.baseline_commit)
        except subprocess.CalledProcessError as exc:
            p.error(f"--baseline-commit {args.baseline_commit}: {exc.stderr.strip()}")
    if len(args.servers) * (args.warmup * 2 + args.duration + args.rounds * LATER_WARMUP_S) > (
        SIGNATURE_LIFETIME_S - 120
    ):
        p.error("the run must stay well inside the 15-minute signature lifetime")
    return args


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    """Start the servers; stop every one of them on the way out, whatever happens."""

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {server.name}: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        workers=args.workers,
        warmup=args.warmup,
        duration=args.duration,
        preload=args.preload,
        families=args.families,
        reads_per_write=args.reads_per_write,
        write_variants=args.write_variants,
        seed=args.seed,
        rounds=args.rounds,
    )
    cores = os.cpu_count() or 1
    load: dict[str, Any] = {"load_average_at_start": load_average()}
    busy = load["busy_percent_of_one_core_at_start"] = round(busy_percent(), 1)
    if busy > 30:
        print(
            f"warning: the machine is busy ({busy:.0f}% of a core before the start); other "
            "jobs will skew the figures (see 'other processes' CPU %')",
            file=sys.stderr,
        )
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-"))
    servers: list[Server] = []
    failed, interrupted = True, False
    try:
        with contextlib.ExitStack() as stack:
            servers, sources, checkouts = prepare(args.servers, args, workdir, stack)
            stack.enter_context(running(servers))
            for server in servers:
                if server.name in checkouts:
                    found_at = check_source(server, checkouts[server.name])
                    sources[server.name]["imported_from"] = str(found_at)
                    print(f"{server.name}: runs {found_at}", flush=True)
            outcomes, skipped = run_rounds(servers, settings, workdir)
        failed = False
    except (KeyboardInterrupt, SystemExit):
        interrupted = True  # stopped from outside: nothing to keep for a post-mortem
        raise
    finally:
        if (failed and not interrupted) or args.keep:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
            for server in servers:
                print(f"--- {server.name} log tail ---\n{server.log_tail(1500)}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load["load_average_at_end"] = load_average()

    results = {name: summary(o, cores) for name, o in outcomes.items()}
    found = ratios(outcomes)
    print()
    print_table(results)
    print_findings(results, found, args.baseline, skipped)
    start, end = load["load_average_at_start"], load["load_average_at_end"]
    print(f"machine load average (1, 5, 15 min): {start} at the start, {end} at the end")

    measured_both = "portside" in results and len(results) > 1
    output = args.output or (DEFAULT_OUTPUT if measured_both and not args.quick else None)
    if output is not None:
        doc = document(settings, results, found, sources, skipped, load)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")

    if any(r["errors"] for r in results.values()):
        return 1
    if args.check:
        met = all(r.met is not False for r in found.values())
        if "portside" in results:
            met = met and results["portside"]["p99_ms"] < TARGET_P99_MS
        return 0 if met else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

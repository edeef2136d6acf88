#!/usr/bin/env python3
"""Load balancing (issue 13): a Portside ALB (ELBv2 API, served by the server's HAProxy)
against the same load straight to a target, how soon a registered target serves, and failed
requests through an ECS rolling deployment of a service behind the ALB.

Parts 1 and 2 run on one `portside server` (fresh data dir), one load balancer, ip targets on
127.0.0.1 that are busybox httpd processes (`busybox httpd -f`, Debian's busybox-static: it
forks per connection and answers `Connection: close`, fast enough not to be the bottleneck,
unlike Python's ThreadingHTTPServer). Every target answers its own name on `/`, and
`/health.html` to the health checks (HTTP, interval 5 s, timeout 2 s, healthy threshold 2).

1. throughput: `wrk` (Debian's wrk; installed with apt-get when absent and run as root), the
   same threads, connections and duration on every side, straight to one target's port and
   through the ALB's HTTP listener (one target group of 3 targets), `--rounds` short rounds
   whose order rotates, so that what else runs on the machine weighs on every side alike.
   No side is pinned: wrk, HAProxy (the thread count Portside renders) and the targets share
   both cores on every side. Per round: requests/s, wrk's latency, errors, the CPU each
   process took per request (wrk, HAProxy, the targets) and the CPU other processes took.
   Reported: the ALB/direct ratios (median of the rounds' ratios, and of the totals).
   `--ab-threads` adds a side: a copy of the rendered haproxy.cfg with HAProxy's default
   thread count (a thread per core), on its own port, to the same targets.
2. registration: on the running ALB (a second listener and target group holding one anchor
   target), `--registrations` times: a fresh target (already listening, as a RUNNING task's
   would be) is registered after a random 0-1 s pause, and the ALB is polled (keep-alive,
   every 10 ms) until the new target's name answers. Measured from RegisterTargets returned,
   and from the health checks the target received (its httpd -vv log, read as it is
   written): the first passing check, and the check that made it healthy (the 2nd, healthy
   threshold 2); also when HAProxy had the server (runtime API) and when
   DescribeTargetHealth said healthy. Target deregistered (delay 0) after each.
3. deploy: `portside up --driver docker` (its own data dir), a service of `--tasks` (10)
   busybox httpd tasks (bridge, dynamic host ports) behind an ALB (instance target group,
   the same health check, deregistration delay 5 s), minimumHealthyPercent 100,
   maximumPercent 200. A paced open-loop client (this script with --paced-client: asyncio,
   keep-alive HTTP/1.1, a request every 1/rate s whatever the answers do) sends `--rate`
   (200) requests/s through the listener from before `UpdateService --force-new-deployment`
   until after the deployment is COMPLETED and every old task is STOPPED. Every request that
   is not a 200 (an error status, a connection error or timeout) is a failure (goal 0).

    .venv/bin/python bench/load_balancer.py            # all three parts, ~7 minutes
    .venv/bin/python bench/load_balancer.py --quick    # short, writes nothing
    .venv/bin/python bench/load_balancer.py --part throughput --ab-threads
    .venv/bin/python bench/load_balancer.py --part deploy

Writes bench/results/load-balancer-<short commit>.json (with "dirty": true when the working
tree has uncommitted changes). HAProxy, the servers, every httpd and the deployment's
containers are stopped on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host import busy_percent, free_port, load_average, machine, process_cpu

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = "busybox"
SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
HEALTH_PATH = "/health.html"
HEALTH_INTERVAL_S = 5
HEALTH_TIMEOUT_S = 2
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 2
DEREGISTRATION_DELAY_S = 5
GOALS = {
    "alb_over_direct_rps_min": 0.8,
    "serving_after_passing_check_p99_s_max": 1.0,
    "deployment_failed_requests_max": 0,
}


# =============================================================================================
# The paced client (run as a child process: --paced-client HOST:PORT)
# =============================================================================================


async def _paced(host: str, port: int, rate: float, stop: threading.Event) -> dict[str, Any]:
    """Send GET / every 1/rate s (open loop) over keep-alive connections until `stop`."""
    request = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    lags: list[float] = []
    failures: list[dict[str, Any]] = []
    targets: dict[str, dict[str, Any]] = {}
    opened = 0

    async def one(due: float) -> None:
        nonlocal opened
        start = time.monotonic()
        lags.append(start - due)
        conn = idle.pop() if idle else None
        reused = conn is not None
        writer = None
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
                opened += 1
            reader, writer = conn
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            status = int(head.split(b" ", 2)[1])
            lower = head.lower()
            m = re.search(rb"\r\ncontent-length:\s*(\d+)", lower)
            if m:
                body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), 10)
            else:
                body = await asyncio.wait_for(reader.read(), 10)
            done = time.monotonic()
            if m and b"\r\nconnection: close" not in lower:
                idle.append(conn)
            else:
                writer.close()
            name = body.decode(errors="replace").strip()
            if status != 200:
                failures.append(
                    {"at": done, "error": f"HTTP {status}", "body": name[:80], "reused": reused}
                )
                return
            latencies.append(done - start)
            seen = targets.setdefault(name, {"requests": 0, "first": done, "last": done})
            seen["requests"] += 1
            seen["last"] = done
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            failures.append(
                {
                    "at": time.monotonic(),
                    "error": f"{type(exc).__name__}: {exc}"[:160],
                    "reused": reused,
                }
            )
            if writer is not None:
                writer.close()

    t0 = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    i = 0
    while not stop.is_set():
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
    if pending:
        await asyncio.wait(pending, timeout=15)
    for _, writer in idle:
        writer.close()
    latencies.sort()
    lags.sort()
    return {
        "started": t0,
        "ended": time.monotonic(),
        "sent": i,
        "answered_200": len(latencies),
        "failed": len(failures),
        "failures": failures,
        "unfinished": len(pending),
        "connections_opened": opened,
        "targets": targets,
        "latency_ms": _summary(latencies),
        "send_lag_ms": _summary(lags),
    }


def paced_client_main(address: str, rate: float) -> None:
    host, _, port = address.rpartition(":")
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()  # the parent closes our stdin to stop us
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(_paced(host, int(port), rate, stop))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 3)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


async def _closed(host: str, port: int, connections: int, seconds: float) -> dict[str, Any]:
    """`connections` keep-alive connections, each sending GET / as soon as the last answer is
    in, for `seconds`; reconnects when the server says Connection: close. The latency counts
    from writing the request (or from connecting, on a new connection) to the end of the
    answer."""
    request = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    async def worker() -> None:
        conn = None
        while time.monotonic() < stop:
            start = time.monotonic()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
                reader, writer = conn
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                m = re.search(rb"\r\ncontent-length:\s*(\d+)", head.lower())
                await asyncio.wait_for(reader.readexactly(int(m.group(1)) if m else 0), 10)
                if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
                    errors.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
                else:
                    latencies.append(time.monotonic() - start)
                if not m or b"\r\nconnection: close" in head.lower():
                    writer.close()
                    conn = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:120])
                if conn is not None:
                    conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    took = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / took, 1),
        "latency_ms": {
            **_summary(latencies),
            "p90": round(_percentile(latencies, 90) * 1000, 2) if latencies else None,
        },
        "over_200ms": sum(1 for v in latencies if v > 0.2),
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def closed_client_main(address: str, connections: int, seconds: float) -> None:
    host, _, port = address.rpartition(":")
    result = asyncio.run(_closed(host, int(port), connections, seconds))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


def run_closed_client(port: int, connections: int, seconds: float) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--closed-client"]
    argv += [f"127.0.0.1:{port}", "--connections", str(connections), "--seconds", str(seconds)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"the closed-loop client failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout))


class PacedClient:
    def __init__(self, port: int, rate: float, log_path: Path) -> None:
        argv = [sys.executable, str(Path(__file__).resolve()), "--paced-client"]
        argv += [f"127.0.0.1:{port}", "--rate", str(rate)]
        self.err = log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err
        )

    def finish(self) -> dict[str, Any]:
        out, _ = self.proc.communicate(timeout=60)
        self.err.close()
        if self.proc.returncode != 0:
            raise RuntimeError(f"the paced client exited with {self.proc.returncode}")
        return dict(json.loads(out))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        with contextlib.suppress(OSError):
            self.err.close()


# =============================================================================================
# Figures
# =============================================================================================


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def _summary(seconds: list[float]) -> dict[str, float]:
    """p50/p99/max of sorted durations in seconds, as ms."""
    if not seconds:
        return {}
    return {
        "p50": round(_percentile(seconds, 50) * 1000, 2),
        "p99": round(_percentile(seconds, 99) * 1000, 2),
        "max": round(seconds[-1] * 1000, 2),
    }


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (with its reaped children's when `children`)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(group: int) -> float:
    """User + system CPU of every live process in process group `group`."""
    return sum((cpu for _, pgid, cpu in process_cpu().values() if pgid == group), 0.0)


TCP_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts")


def tcp_counters() -> dict[str, int]:
    """The kernel's TcpExt counters this benchmark watches (system-wide, /proc/net/netstat)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head.startswith("TcpExt:"):
            found = dict(zip(head.split()[1:], values.split()[1:], strict=False))
            return {k: int(found.get(k, 0)) for k in TCP_COUNTERS}
    return {}


def short_commit() -> tuple[str, bool]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    return commit or "unknown", dirty


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


# =============================================================================================
# Tools and processes
# =============================================================================================


def ensure_tool(binary: str, package: str) -> str | None:
    """The tool's path; installs its Debian package with apt-get when absent and root.
    Returns a note when it installed it."""
    if shutil.which(binary):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            f"{binary} is absent: install Debian's {package} (apt-get install {package})"
        )
    print(f"{binary} is absent: running apt-get install -y {package}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run = subprocess.run(["apt-get", "install", "-y", package], env=env, capture_output=True)
    if run.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", package], env=env, check=True)
    if not shutil.which(binary):
        raise SystemExit(f"apt-get install {package} did not give {binary}")
    return f"installed Debian's {package} with apt-get install -y {package}"


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process group a child leads (started in a session of its own), then
    SIGKILL if it has not exited within `grace` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Httpd:
    """A busybox httpd target on 127.0.0.1 answering its name on `/`. With `log_checks`, it
    runs with -vv and the arrival time of every health-check request is kept."""

    def __init__(self, name: str, workdir: Path, log_checks: bool = False) -> None:
        self.name = name
        self.checks: list[float] = []
        root = workdir / "www" / name
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.html").write_text(name)
        (root / HEALTH_PATH.lstrip("/")).write_text("ok\n")
        for _attempt in range(5):
            self.port = free_port()
            argv = [BUSYBOX, "httpd", "-f", "-p", f"127.0.0.1:{self.port}", "-h", str(root)]
            if log_checks:
                argv.append("-vv")
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE if log_checks else subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 5
            while self.proc.poll() is None and time.monotonic() < deadline:
                if accepts(self.port):
                    break
                time.sleep(0.02)
            if self.proc.poll() is None and accepts(self.port):
                break
            self.stop()
        else:
            raise RuntimeError(f"busybox httpd {name} did not start")
        if log_checks:
            threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        marker = f"url:{HEALTH_PATH}".encode()
        for line in self.proc.stderr:
            if marker in line:
                self.checks.append(time.monotonic())

    @property
    def target(self) -> dict[str, Any]:
        return {"Id": "127.0.0.1", "Port": self.port}

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid, children=True)

    def stop(self) -> None:
        stop_group(self.proc, 5)
        if self.proc.stderr is not None:
            with contextlib.suppress(OSError):
                self.proc.stderr.close()


def stop_haproxy(data_dir: Path) -> None:
    """Stop the HAProxy a server ran from `data_dir` (it outlives the server)."""
    from portside.dataplane.haproxy.process import HAProxy

    HAProxy(data_dir / "haproxy").stop_adopted()


@contextlib.contextmanager
def cleanup() -> Iterator[dict[str, Any]]:
    """Everything started goes into the dict; on the way out (SIGTERM included) the paced
    client, each server and then its HAProxy, every httpd, and the `later` steps (a copy of
    HAProxy, the deployment's containers) are stopped, in that order."""

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    started: dict[str, Any] = {"client": None, "servers": [], "httpd": [], "later": []}
    try:
        yield started
    finally:
        steps: list[tuple[str, Callable[[], None]]] = []
        if started["client"] is not None:
            steps.append(("paced client", started["client"].kill))
        for server, data_dir in started["servers"]:
            steps.append((server.name, server.stop))
            steps.append(
                (f"the haproxy of {server.name}", functools.partial(stop_haproxy, data_dir))
            )
        steps += [(f"httpd {h.name}", h.stop) for h in started["httpd"]]
        steps += started["later"]
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {name}: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


# =============================================================================================
# The load balancer
# =============================================================================================


def aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from api_throughput import ACCESS_KEY, REGION, SECRET_KEY
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 2}),
    )


class Balancer:
    """One ALB, its target groups (of `target_type`) and HTTP listeners."""

    def __init__(self, endpoint: str, name: str = "bench", target_type: str = "ip") -> None:
        self.elb = aws_client("elbv2", endpoint)
        self.target_type = target_type
        self.arn = self.elb.create_load_balancer(Name=name, Subnets=SUBNETS)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]

    def group(self, name: str, delay: int) -> str:
        arn = self.elb.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=80,
            VpcId="vpc-1",
            TargetType=self.target_type,
            HealthCheckPath=HEALTH_PATH,
            HealthCheckIntervalSeconds=HEALTH_INTERVAL_S,
            HealthCheckTimeoutSeconds=HEALTH_TIMEOUT_S,
            HealthyThresholdCount=HEALTHY_THRESHOLD,
            UnhealthyThresholdCount=UNHEALTHY_THRESHOLD,
        )["TargetGroups"][0]["TargetGroupArn"]
        self.elb.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}],
        )
        return str(arn)

    def listener(self, group: str) -> int:
        port = free_port()
        self.elb.create_listener(
            LoadBalancerArn=self.arn,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )
        return port

    def register(self, group: str, targets: list[Httpd]) -> None:
        self.elb.register_targets(TargetGroupArn=group, Targets=[t.target for t in targets])

    def deregister(self, group: str, targets: list[Httpd]) -> None:
        self.elb.deregister_targets(TargetGroupArn=group, Targets=[t.target for t in targets])

    def states(self, group: str) -> dict[int, str]:
        found = self.elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return {d["Target"]["Port"]: d["TargetHealth"]["State"] for d in found}

    def wait(
        self, group: str, check: Callable[[dict[int, str]], bool], what: str, timeout: float = 60
    ) -> float:
        """Poll DescribeTargetHealth every 0.1 s until `check(states)`; the time it held."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.states(group)
            if check(states):
                return time.monotonic()
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}: {states}")
            time.sleep(0.1)


class Listeners(Balancer):
    """The ALB of parts 1 and 2: listener `main` (3 targets: throughput) and listener `reg`
    (one anchor target: registrations), each to a target group of its own."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        self.main = self.group("bench-main", DEREGISTRATION_DELAY_S)
        self.reg = self.group("bench-reg", 0)
        self.main_port = self.listener(self.main)
        self.reg_port = self.listener(self.reg)


def all_healthy(ports: set[int]) -> Callable[[dict[int, str]], bool]:
    return lambda states: all(states.get(p) == "healthy" for p in ports)


def all_gone(ports: set[int]) -> Callable[[dict[int, str]], bool]:
    return lambda states: not ports & states.keys()


class Haproxy:
    """Read-only looks at the server's HAProxy through its stats socket."""

    def __init__(self, data_dir: Path) -> None:
        from portside.dataplane.haproxy.layout import Layout
        from portside.dataplane.haproxy.runtime import MasterApi, RuntimeApi

        self.layout = Layout(data_dir / "haproxy")
        self.api = RuntimeApi(str(self.layout.admin_socket), timeout=2)
        self.master = MasterApi(str(self.layout.master_socket), timeout=2)

    def config(self) -> str:
        return self.layout.config.read_text()

    def cpu_seconds(self) -> float:
        """CPU of the master and its workers (one process group)."""
        pid = self.master_pid()
        return group_cpu_seconds(pid) if pid else 0.0

    def master_pid(self) -> int | None:
        try:
            return self.master.show_proc().master.pid
        except Exception:
            return None

    def workers(self) -> dict[str, Any]:
        procs = self.master.show_proc()
        return {
            "reloads": procs.master.reloads,
            "workers": len(procs.workers),
            "old_workers": len(procs.old_workers),
        }

    def sessions(self, group: str) -> dict[str, int]:
        """server name -> total sessions so far, of the target group's backend."""
        from portside.dataplane.haproxy.names import backend_name

        be = backend_name(group)
        return {
            r.server: r.total_sessions
            for r in self.api.show_stat()
            if r.proxy == be and r.server not in ("BACKEND", "FRONTEND")
        }

    def backend_stats(self, group: str) -> dict[str, int]:
        """The backend's row of `show stat`: retries, errors, and HAProxy's averages over its
        last 1024 requests of connect, response and total time (ms)."""
        import csv
        import io

        from portside.dataplane.haproxy.names import backend_name

        lines = self.api.command("show stat").splitlines()
        rows = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
        be = backend_name(group)
        for row in rows:
            if row.get("pxname") == be and row.get("svname") == "BACKEND":
                keys = ("wretr", "wredis", "econ", "eresp", "ctime", "rtime", "ttime", "qtime")
                return {k: int(row.get(k) or 0) for k in keys}
        return {}

    def server_state(self, group: str, target: Httpd) -> Any:
        from portside.dataplane.haproxy.names import backend_name, server_name
        from portside.elb.proxy import server_key

        name = server_name(server_key(group, "127.0.0.1", target.port))
        try:
            states = self.api.show_servers_state(backend_name(group))
        except Exception:
            return None
        return next((s for s in states if s.server == name), None)


# =============================================================================================
# 1. Throughput: wrk through the ALB vs straight to one target
# =============================================================================================

_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk(text: str) -> dict[str, Any]:
    def seconds(value: str, unit: str) -> float:
        return float(value) * _UNIT_S[unit]

    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{text}")
    out["requests_per_s"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["duration_s"] = round(seconds(m.group(2), m.group(3)), 3)
    m = re.search(
        r"Latency\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)", text
    )
    if m:
        out["latency_avg_ms"] = round(seconds(m.group(1), m.group(2)) * 1000, 3)
        out["latency_max_ms"] = round(seconds(m.group(5), m.group(6)) * 1000, 3)
    for q, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        out[f"latency_p{q}_ms"] = round(seconds(value, unit) * 1000, 3)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
        if m
        else {}
    )
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors["non_2xx_3xx"] = int(m.group(1))
    out["errors"] = errors
    return out


def run_wrk(url: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    argv += ["--latency", url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = parse_wrk(done.stdout)
    out["wrk_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return out


def get(port: int, path: str = "/", timeout: float = 5) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    except OSError:
        return 0, ""
    finally:
        conn.close()


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has taken so far (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def haproxy_threads(config: str) -> str:
    """The `nbthread` of a haproxy.cfg, or what HAProxy runs without one."""
    m = re.search(r"^\s*nbthread\s+(\d+)\s*$", config, re.M)
    return m.group(1) if m else f"default ({len(os.sched_getaffinity(0))}: a thread per core)"


class DefaultThreadsCopy:
    """The server's rendered haproxy.cfg without its `nbthread` (so HAProxy runs its default,
    a thread per core), on listener ports and a stats socket of its own, to the same
    targets: the rendering from before the thread count was set, measured in the same
    rounds."""

    def __init__(self, data_dir: Path, workdir: Path) -> None:
        text = (data_dir / "haproxy" / "haproxy.cfg").read_text()
        self.ports: dict[int, int] = {}

        def rebind(m: re.Match[str]) -> str:
            self.ports[int(m.group(2))] = free_port()
            return f"bind {m.group(1)}:{self.ports[int(m.group(2))]}"

        text = re.sub(r"bind (\S+):(\d+)", rebind, text)
        text = re.sub(r"stats socket '[^']*'", f"stats socket '{workdir / 'copy.sock'}'", text)
        text = re.sub(r"^\s*nbthread .*\n", "", text, flags=re.M)
        self.config = workdir / "haproxy-default-threads.cfg"
        self.config.write_text(text)
        with open(workdir / "haproxy-default-threads.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["haproxy", "-W", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_group(self.proc, 10)


def answer_from_all(port: int, targets: list[Httpd], timeout: float = 30) -> None:
    """Until the listener on `port` has answered from every target."""
    deadline = time.monotonic() + timeout
    while {get(port)[1] for _ in range(4 * len(targets))} != {t.name for t in targets}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the listener on port {port} did not answer from every target")
        time.sleep(0.2)


def one_side(
    url: str, args: argparse.Namespace, proxy_cpu: Callable[[], float], targets: list[Httpd]
) -> dict[str, Any]:
    """One wrk run, with the CPU each party took per request and what other processes took."""
    load = load_average()
    busy0, proxy0 = machine_busy_seconds(), proxy_cpu()
    targets0 = sum(t.cpu_seconds() for t in targets)
    tcp0 = tcp_counters()
    res = run_wrk(url, args)
    tcp1 = tcp_counters()
    spent = {
        "wrk": res["wrk_cpu_s"],
        "haproxy": proxy_cpu() - proxy0,
        "targets": sum(t.cpu_seconds() for t in targets) - targets0,
    }
    others = machine_busy_seconds() - busy0 - sum(spent.values())
    n = max(1, res.get("requests", 0))
    res["cpu_us_per_request"] = {k: round(v / n * 1e6, 1) for k, v in spent.items()}
    res["cpu_us_per_request"]["total"] = round(sum(spent.values()) / n * 1e6, 1)
    res["others_cpu_percent_of_one_core"] = round(100 * others / res.get("duration_s", 1), 1)
    res["kernel_tcp_counters"] = {k: tcp1[k] - tcp0[k] for k in tcp0}
    res["load_average_before"] = load
    # Little's law: each connection carries one request at a time, so requests/s x mean
    # latency cannot exceed the connections; wrk's latency figures are not believable when
    # it does
    res["implied_concurrency"] = round(
        res["requests_per_s"] * res.get("latency_avg_ms", 0) / 1000, 1
    )
    return res


def throughput(
    lb: Listeners,
    proxy: Haproxy,
    targets: list[Httpd],
    copy: DefaultThreadsCopy | None,
    args: argparse.Namespace,
) -> dict[str, Any]:
    answer_from_all(lb.main_port, targets)
    sides: dict[str, tuple[str, Callable[[], float]]] = {
        "direct": (f"http://127.0.0.1:{targets[0].port}/", lambda: 0.0),
        "alb": (f"http://127.0.0.1:{lb.main_port}/", proxy.cpu_seconds),
    }
    if copy is not None:
        answer_from_all(copy.ports[lb.main_port], targets)
        url = f"http://127.0.0.1:{copy.ports[lb.main_port]}/"
        sides["alb_default_threads"] = (url, copy.cpu_seconds)
    names = list(sides)
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        one: dict[str, Any] = {"order": order}
        for side in order:
            sess0 = proxy.sessions(lb.main) if side == "alb" else {}
            be0 = proxy.backend_stats(lb.main) if side == "alb" else {}
            res = one_side(sides[side][0], args, sides[side][1], targets)
            if side == "alb":
                sess1 = proxy.sessions(lb.main)
                res["sessions_per_target"] = sorted(
                    (sess1.get(k, 0) - sess0.get(k, 0) for k in sess1), reverse=True
                )
                be1 = proxy.backend_stats(lb.main)
                res["haproxy_backend"] = {
                    **{k: be1[k] - be0.get(k, 0) for k in ("wretr", "wredis", "econ", "eresp")},
                    **{f"{k}_avg_ms": be1[k] for k in ("ctime", "rtime", "ttime", "qtime")},
                }
            one[side] = res
            print(
                f"  round {r + 1} {side:19s} {res['requests_per_s']:7.0f} req/s  "
                f"cpu/request {res['cpu_us_per_request']} us  errors "
                f"{sum(res['errors'].values())}  others {res['others_cpu_percent_of_one_core']}%"
                f"  load {res['load_average_before'][0]}",
                flush=True,
            )
        for side in names[1:]:
            one[f"ratio_rps_{side}"] = round(
                one[side]["requests_per_s"] / one["direct"]["requests_per_s"], 3
            )
        rounds.append(one)
    summary = {side: side_summary(rounds, side, args.connections) for side in names}
    ratios = throughput_ratios(rounds, summary, names)
    crosscheck = latency_crosscheck(lb, targets, args)
    if "alb" in crosscheck and "direct" in crosscheck:
        for q in ("p50", "p99"):
            ratios[f"alb_over_direct_{q}_latency_crosscheck"] = round(
                crosscheck["alb"]["latency_ms"][q] / crosscheck["direct"]["latency_ms"][q], 3
            )
    config = proxy.config()
    return {
        "crosscheck_latency": crosscheck,
        "client": {
            "tool": tool_version(["wrk", "--version"]),
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "order": "rotating each round (direct first in round 1)",
            "path": "/ (a 2-byte file; busybox httpd answers Connection: close, so straight to "
            "the target every request is a new TCP connection and a fork; through the ALB wrk "
            "keeps its connections and HAProxy opens one to a target per request)",
        },
        "cpu_placement": "no pinning on any side: wrk (the same -t/-c everywhere), HAProxy and "
        "the busybox targets all run on both cores, with whatever else the machine runs; the "
        "sides alternate in short rounds so that the others' load weighs on each alike "
        "(others_cpu_percent_of_one_core per round says how much it was)",
        "haproxy_threads": {
            "alb": haproxy_threads(config),
            **({"alb_default_threads": haproxy_threads(copy.config.read_text())} if copy else {}),
        },
        "note": "direct is one target's port; the ALB spreads the same client over 3 targets "
        "(round robin; sessions_per_target shows the split)",
        "latency_note": "wrk's latency figures are checked with Little's law (requests/s x mean "
        "latency <= connections): a side whose implied concurrency exceeds its connections "
        "has a latency histogram that cannot be right (wrk_latency_consistent false); the "
        "closed-loop cross-check and HAProxy's own timers (haproxy_backend) are then the "
        "latency to believe",
        "rounds": rounds,
        "summary": summary,
        "ratios": ratios,
        "goal_met": ratios["alb_over_direct_rps_median_of_rounds"]
        >= GOALS["alb_over_direct_rps_min"],
    }


def side_summary(rounds: list[dict[str, Any]], side: str, connections: int) -> dict[str, Any]:
    def median(get: Callable[[dict[str, Any]], float]) -> float:
        return round(statistics.median(get(r[side]) for r in rounds), 3)

    def cpu(key: str) -> float:
        return round(statistics.median(r[side]["cpu_us_per_request"][key] for r in rounds), 1)

    total = sum(r[side]["requests"] for r in rounds) / sum(r[side]["duration_s"] for r in rounds)
    worst = max(r[side]["implied_concurrency"] for r in rounds)
    return {
        "requests_per_s_total": round(total, 1),
        "requests_per_s_median": median(lambda s: s["requests_per_s"]),
        "latency_p50_ms_median": median(lambda s: s["latency_p50_ms"]),
        "latency_p99_ms_median": median(lambda s: s["latency_p99_ms"]),
        "cpu_us_per_request_median": {k: cpu(k) for k in ("wrk", "haproxy", "targets", "total")},
        "others_cpu_percent_of_one_core_median": median(
            lambda s: s["others_cpu_percent_of_one_core"]
        ),
        "errors": {
            k: sum(r[side]["errors"].get(k, 0) for r in rounds)
            for k in ("connect", "read", "write", "timeout", "non_2xx_3xx")
        },
        "wrk_latency_consistent": worst <= connections * 1.1,
        "implied_concurrency_max": worst,
    }


def throughput_ratios(
    rounds: list[dict[str, Any]], summary: dict[str, Any], names: list[str]
) -> dict[str, float]:
    direct = summary["direct"]
    ratios: dict[str, float] = {}
    for side in names[1:]:
        s = summary[side]
        ratios[f"{side}_over_direct_rps_median_of_rounds"] = round(
            statistics.median(r[f"ratio_rps_{side}"] for r in rounds), 3
        )
        ratios[f"{side}_over_direct_rps_totals"] = round(
            s["requests_per_s_total"] / direct["requests_per_s_total"], 3
        )
        ratios[f"direct_over_{side}_cpu_per_request"] = round(
            direct["cpu_us_per_request_median"]["total"] / s["cpu_us_per_request_median"]["total"],
            3,
        )
    ratios["alb_over_direct_p50_latency"] = round(
        summary["alb"]["latency_p50_ms_median"] / direct["latency_p50_ms_median"], 3
    )
    ratios["alb_over_direct_p99_latency"] = round(
        summary["alb"]["latency_p99_ms_median"] / direct["latency_p99_ms_median"], 3
    )
    if "alb_default_threads" in names:
        ratios["alb_over_alb_default_threads_rps_median_of_rounds"] = round(
            statistics.median(
                r["alb"]["requests_per_s"] / r["alb_default_threads"]["requests_per_s"]
                for r in rounds
            ),
            3,
        )
    return ratios


def latency_crosscheck(
    lb: Listeners, targets: list[Httpd], args: argparse.Namespace
) -> dict[str, Any]:
    crosscheck: dict[str, Any] = {}
    if args.crosscheck <= 0:
        return crosscheck
    for side, port in (("direct", targets[0].port), ("alb", lb.main_port)):
        tcp0 = tcp_counters()
        crosscheck[side] = run_closed_client(port, args.connections, args.crosscheck)
        tcp1 = tcp_counters()
        crosscheck[side]["kernel_tcp_counters"] = {k: tcp1[k] - tcp0[k] for k in tcp0}
        c = crosscheck[side]
        print(
            f"  crosscheck {side:6s} {c['requests_per_s']:9.0f} req/s  "
            f"latency {c['latency_ms']}  >200 ms {c['over_200ms']}  errors {c['errors']}",
            flush=True,
        )
    crosscheck["note"] = (
        "the same connections from a closed-loop Python asyncio client (this script, "
        f"--closed-client), {args.crosscheck} s per side after the wrk rounds: a second "
        "look at the latency tail (Python costs more CPU per request than wrk, so its "
        "requests/s are lower, straight to the target most of all, where it reconnects "
        "for every request); its latency includes the connect on a new connection, which "
        "wrk's leaves out"
    )
    return crosscheck


# =============================================================================================
# 2. Registration: RegisterTargets returned -> the target serves through the ALB
# =============================================================================================


@dataclass
class Registration:
    target: str
    registered: float = 0.0  # monotonic: RegisterTargets returned
    call_ms: float = 0.0
    haproxy_added: float | None = None
    haproxy_up: float | None = None
    serving: float | None = None
    api_healthy: float | None = None
    checks: list[float] = field(default_factory=list)
    other_answers: dict[str, int] = field(default_factory=dict)
    failed_polls: int = 0
    polls: int = 0


def _watch_api(lb: Listeners, target: Httpd, reg: Registration, stop: threading.Event) -> None:
    while not stop.is_set() and reg.api_healthy is None:
        try:
            if lb.states(lb.reg).get(target.port) == "healthy":
                reg.api_healthy = time.monotonic()
                return
        except Exception:
            pass
        stop.wait(0.1)


def one_registration(
    lb: Listeners, proxy: Haproxy, target: Httpd, timeout: float = 40
) -> Registration:
    reg = Registration(target.name)
    conn = http.client.HTTPConnection("127.0.0.1", lb.reg_port, timeout=5)
    before = time.monotonic()
    lb.register(lb.reg, [target])
    reg.registered = time.monotonic()
    reg.call_ms = round((reg.registered - before) * 1000, 2)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_api, args=(lb, target, reg, stop), daemon=True)
    watcher.start()
    deadline = reg.registered + timeout
    last_state = 0.0
    try:
        while reg.serving is None or reg.api_healthy is None:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"{target.name} did not serve within {timeout:.0f} s: {reg}")
            if reg.haproxy_up is None and now - last_state >= 0.02:
                last_state = now
                state = proxy.server_state(lb.reg, target)
                if state is not None:
                    reg.haproxy_added = reg.haproxy_added or now
                    # up with its weight: Portside adds a server at weight 0, briefly up
                    # before it is forced down to await its checks
                    up = state.op_state == 2 and state.user_weight > 0
                    if up and not state.in_maintenance:
                        reg.haproxy_up = now
            if reg.serving is None:
                reg.polls += 1
                try:
                    conn.request("GET", "/")
                    reply = conn.getresponse()
                    body = reply.read().decode(errors="replace").strip()
                    if reply.status != 200:
                        reg.failed_polls += 1
                    elif body == target.name:
                        reg.serving = time.monotonic()
                    else:
                        reg.other_answers[body] = reg.other_answers.get(body, 0) + 1
                    if reply.getheader("connection", "").lower() == "close":
                        conn.close()
                except (OSError, http.client.HTTPException):
                    reg.failed_polls += 1
                    conn.close()
            time.sleep(0.01)
    finally:
        stop.set()
        watcher.join(5)
        conn.close()
    reg.checks = [c for c in target.checks if c >= reg.registered - 0.5]
    return reg


def registrations(
    lb: Listeners, proxy: Haproxy, workdir: Path, started: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    anchor = Httpd("anchor", workdir)
    started["httpd"].append(anchor)
    lb.register(lb.reg, [anchor])
    lb.wait(lb.reg, lambda s: s.get(anchor.port) == "healthy", "the anchor target healthy")
    rng = random.Random(args.seed)
    done: list[Registration] = []
    for i in range(args.registrations):
        target = Httpd(f"reg{i:02d}", workdir, log_checks=True)
        started["httpd"].append(target)
        time.sleep(rng.uniform(0.0, 1.0))  # not in step with the server's 1 s pass
        reg = one_registration(lb, proxy, target)
        done.append(reg)
        lb.deregister(lb.reg, [target])
        lb.wait(lb.reg, all_gone({target.port}), f"{target.name} gone")
        target.stop()
        r = {k: (float("nan") if v is None else v) for k, v in _relative(reg).items()}
        print(
            f"  {reg.target}: serving {r['registered_to_serving_ms']:7.0f} ms after "
            f"RegisterTargets, {r['rise_check_to_serving_ms']:6.1f} ms after the check that "
            f"made it healthy ({r['checks_seen_before_serving']} checks seen), "
            f"DescribeTargetHealth healthy {r['serving_to_api_healthy_ms']:+6.0f} ms after",
            flush=True,
        )
    rel = [_relative(r) for r in done]

    def stat(key: str) -> dict[str, Any]:
        values = sorted(r[key] / 1000 for r in rel if r.get(key) is not None)
        out: dict[str, Any] = _summary(values)
        out["n"] = len(values)
        if values:
            out["min"] = round(values[0] * 1000, 2)
        return out

    figures = {
        key: stat(key)
        for key in (
            "registered_to_serving_ms",
            "first_check_to_serving_ms",
            "rise_check_to_serving_ms",
            "haproxy_up_to_serving_ms",
            "api_healthy_to_serving_ms",
            "registered_to_haproxy_added_ms",
            "registered_to_first_check_ms",
            "first_to_rise_check_ms",
            "serving_to_api_healthy_ms",
        )
    }
    p99 = figures["rise_check_to_serving_ms"].get("p99")
    return {
        "settings": {
            "registrations": args.registrations,
            "health_check": {
                "path": HEALTH_PATH,
                "interval_s": HEALTH_INTERVAL_S,
                "timeout_s": HEALTH_TIMEOUT_S,
                "healthy_threshold": HEALTHY_THRESHOLD,
            },
            "pause_before_register_s": "uniform 0-1 (seeded)",
            "alb_poll_ms": 10,
            "describe_target_health_poll_ms": 100,
            "target_group": "its own listener; one anchor target always registered, so the "
            "new target gets every other request once up; deregistration delay 0, each target "
            "deregistered and gone before the next registration",
        },
        "measured": (
            "registered = RegisterTargets returned; serving = first ALB answer from the new "
            "target (polled every ~10 ms: resolution ~10-30 ms, round robin with the anchor); "
            "first check / rise check = arrival at the target of its 1st and 2nd health-check "
            "request (busybox httpd -vv log lines, timestamped as read); HAProxy marks it up on "
            "the 2nd passing check (healthy threshold 2), so the 1st is ~one interval (5 s) "
            "before any ELB could serve it; the goal is read as 'serving <= 1 s after the "
            "passing check that makes it healthy' (rise_check_to_serving). haproxy_added/up = "
            "`show servers state` polled every 20 ms (up: running with a weight above 0); "
            "api_healthy = DescribeTargetHealth "
            "first healthy (polled every 100 ms)"
        ),
        "figures_ms": figures,
        "registrations": rel,
        "goal_met": p99 is not None
        and p99 <= GOALS["serving_after_passing_check_p99_s_max"] * 1000,
    }


def _relative(reg: Registration) -> dict[str, Any]:
    def ms(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((b - a) * 1000, 2)

    first = reg.checks[0] if reg.checks else None
    rise = reg.checks[HEALTHY_THRESHOLD - 1] if len(reg.checks) >= HEALTHY_THRESHOLD else None
    return {
        "target": reg.target,
        "register_call_ms": reg.call_ms,
        "registered_to_serving_ms": ms(reg.registered, reg.serving),
        "first_check_to_serving_ms": ms(first, reg.serving),
        "rise_check_to_serving_ms": ms(rise, reg.serving),
        "haproxy_up_to_serving_ms": ms(reg.haproxy_up, reg.serving),
        "api_healthy_to_serving_ms": ms(reg.api_healthy, reg.serving),
        "registered_to_haproxy_added_ms": ms(reg.registered, reg.haproxy_added),
        "registered_to_first_check_ms": ms(reg.registered, first),
        "first_to_rise_check_ms": ms(first, rise),
        "serving_to_api_healthy_ms": ms(reg.serving, reg.api_healthy),
        "checks_seen_before_serving": sum(
            1 for c in reg.checks if reg.serving and c <= reg.serving
        ),
        "polls": reg.polls,
        "failed_polls": reg.failed_polls,
    }


# =============================================================================================
# 3. Deploy: an ECS rolling deployment of a service behind the ALB, under a steady paced load
# =============================================================================================

# Each task answers its hostname (its container's: one per task) on / and "ok" on the health path.
SERVE = (
    "mkdir -p /tmp/www && hostname > /tmp/www/index.html "
    f"&& echo ok > /tmp/www{HEALTH_PATH} && exec httpd -f -p 8080 -h /tmp/www"
)
GRACE_S = 30  # the service's health check grace period


class Service:
    """A service of busybox httpd tasks (bridge, dynamic host ports) behind its own ALB (an
    `instance` target group), on `portside up`'s local Docker agent."""

    def __init__(self, endpoint: str, cluster: str, image: str, count: int) -> None:
        self.ecs = aws_client("ecs", endpoint)
        self.cluster, self.name, self.count = cluster, "bench-deploy", count
        self.lb = Balancer(endpoint, name="bench-deploy", target_type="instance")
        self.group = self.lb.group("bench-deploy", DEREGISTRATION_DELAY_S)
        self.port = self.lb.listener(self.group)
        container = {
            "name": "web",
            "image": image,
            "memory": 32,
            "command": ["sh", "-c", SERVE],
            "portMappings": [{"containerPort": 8080}],
            # docker-init in front of httpd: SIGTERM ends it at once
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": 2,
        }
        td = self.ecs.register_task_definition(family=self.name, containerDefinitions=[container])
        self.ecs.create_service(
            cluster=cluster,
            serviceName=self.name,
            taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
            desiredCount=count,
            launchType="EC2",
            loadBalancers=[
                {"targetGroupArn": self.group, "containerName": "web", "containerPort": 8080}
            ],
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
            healthCheckGracePeriodSeconds=GRACE_S,
        )

    def describe(self) -> dict[str, Any]:
        found = self.ecs.describe_services(cluster=self.cluster, services=[self.name])
        return dict(found["services"][0])

    def tasks(self, arns: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(arns), 100):
            out += self.ecs.describe_tasks(cluster=self.cluster, tasks=arns[i : i + 100])["tasks"]
        return out

    def running(self) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(
            cluster=self.cluster, serviceName=self.name, desiredStatus="RUNNING"
        )["taskArns"]
        return self.tasks(arns)

    def snapshot(self, old: list[str]) -> dict[str, Any]:
        """The deployment as DescribeServices, DescribeTargetHealth and the old tasks show it."""
        service = self.describe()
        targets = self.lb.elb.describe_target_health(TargetGroupArn=self.group)
        return {
            "deployments": [
                f"{d['status']} {d.get('rolloutState')} running {d['runningCount']} pending "
                f"{d['pendingCount']}"
                for d in service["deployments"]
            ],
            "primary": service["deployments"][0]["id"] if service["deployments"] else None,
            "running": service["runningCount"],
            "pending": service["pendingCount"],
            "targets": dict(
                sorted(
                    Counter(
                        d["TargetHealth"]["State"] for d in targets["TargetHealthDescriptions"]
                    ).items()
                )
            ),
            "old_tasks": dict(sorted(Counter(t["lastStatus"] for t in self.tasks(old)).items())),
        }

    def steady(self, snap: dict[str, Any]) -> bool:
        return (
            len(snap["deployments"]) == 1
            and " COMPLETED " in snap["deployments"][0]
            and snap["running"] == self.count
            and snap["pending"] == 0
            and snap["targets"] == {"healthy": self.count}
        )


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return found


def hostname(docker_client: Any, task: dict[str, Any]) -> str:
    """The hostname a task's container answers with (Docker's: its id's first 12 digits)."""
    runtime_id = task["containers"][0].get("runtimeId") or ""
    with contextlib.suppress(Exception):
        return str(docker_client.api.inspect_container(runtime_id)["Config"]["Hostname"])
    return runtime_id[:12]


@dataclass
class Launched:
    up: Any  # `portside up` (api_throughput.Server)
    service: Service
    docker: Any
    proxy: Haproxy
    seconds: float  # CreateService -> steady, every target healthy


def launch(workdir: Path, started: dict[str, Any], args: argparse.Namespace) -> Launched:
    """`portside up --driver docker` and the service, steady with every target healthy; its
    containers are removed on the way out (by the agent's instance), whatever happens."""
    import docker
    from services import DOCKER_CLUSTER, portside_up, wait_for_agent
    from signed import Ecs
    from task_start import agent_instance_arns, busybox, remove_portside_containers

    client = docker.from_env()
    image = busybox(client)
    up = portside_up(workdir)
    data_dir = workdir / "up-data"
    started["later"].append(
        (
            "the deployment's containers",
            lambda: remove_portside_containers(client, agent_instance_arns(data_dir), set()),
        )
    )
    started["servers"].append((up, data_dir))
    up.start()
    api = Ecs(up.port)
    wait_for_agent(api, up)
    api.close()
    created = time.monotonic()
    svc = Service(f"http://127.0.0.1:{up.port}", DOCKER_CLUSTER, image, args.tasks)
    wait_until(lambda: svc.steady(svc.snapshot([])), 300, "the first deployment", every=1.0)
    return Launched(up, svc, client, Haproxy(data_dir), time.monotonic() - created)


def deploy(workdir: Path, started: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    launched = launch(workdir, started, args)
    up, svc, proxy = launched.up, launched.service, launched.proxy
    first_deployment_s = launched.seconds
    old = svc.running()
    initial = svc.describe()["deployments"][0]["id"]
    print(f"  {args.tasks} tasks healthy after {first_deployment_s:.1f} s", flush=True)

    client_log = workdir / "paced-client.log"
    paced = PacedClient(svc.port, args.rate, client_log)
    started["client"] = paced
    t0 = time.monotonic()
    wall = time.time() - t0  # epoch = monotonic + wall
    time.sleep(args.settle)
    cpu0 = (up.cpu_seconds(), proxy.cpu_seconds(), load_average())
    updated = time.monotonic()
    svc.ecs.update_service(cluster=svc.cluster, service=svc.name, forceNewDeployment=True)
    old_arns = [t["taskArn"] for t in old]
    timeline: list[dict[str, Any]] = []

    def done() -> bool:
        snap = svc.snapshot(old_arns)
        view = {k: v for k, v in snap.items() if k != "primary"}
        if not timeline or {k: timeline[-1][k] for k in view} != view:
            timeline.append({"t_s": round(time.monotonic() - updated, 2), **view})
        return (
            snap["primary"] != initial
            and svc.steady(snap)
            and snap["old_tasks"] == {"STOPPED": len(old_arns)}
        )

    wait_until(done, args.deploy_timeout, "the deployment to complete", every=0.25)
    finished = time.monotonic()
    cpu1 = (up.cpu_seconds(), proxy.cpu_seconds(), load_average())
    time.sleep(args.settle)
    result = paced.finish()
    started["client"] = None

    new = svc.running()
    events = [
        {"t_s": round(e["createdAt"].timestamp() - wall - updated, 2), "message": e["message"]}
        for e in reversed(svc.describe()["events"])
        if e["createdAt"].timestamp() - wall >= updated - 1
    ]
    per_task = task_figures(
        launched.docker,
        svc.tasks(old_arns),
        new,
        result.pop("targets"),
        lambda t: t - updated,
        wall,
    )
    failures = [{**f, "at": round(f["at"] - updated, 3)} for f in result.pop("failures")]
    during = [f for f in failures if 0 <= f["at"] <= finished - updated]
    duration = result["ended"] - result["started"]
    return {
        "service": {
            "tasks": args.tasks,
            "task": "busybox httpd (the e2e tests' FROM-scratch busybox image), 32 MiB, bridge "
            "network, dynamic host port; answers its hostname on /",
            "deployment_configuration": {"minimumHealthyPercent": 100, "maximumPercent": 200},
            "health_check_grace_period_s": GRACE_S,
            "target_group": f"instance targets, deregistration delay {DEREGISTRATION_DELAY_S} "
            f"s, health check HTTP {HEALTH_PATH} every {HEALTH_INTERVAL_S} s, healthy "
            f"threshold {HEALTHY_THRESHOLD}",
            "first_deployment_s": round(first_deployment_s, 1),
        },
        "client": {
            "kind": "open-loop paced asyncio client, keep-alive HTTP/1.1 connections (a new "
            "one when none is idle), GET /, 5 s connect / 10 s read timeouts; failure = any "
            "answer but 200, or a connection error or timeout",
            "rate_per_s": args.rate,
            "settle_s": args.settle,
            "sent": result["sent"],
            "answered_200": result["answered_200"],
            "achieved_rate_per_s": round(result["sent"] / duration, 1) if duration else None,
            "latency_ms": result["latency_ms"],
            "send_lag_ms": result["send_lag_ms"],
            "connections_opened": result["connections_opened"],
            "unfinished": result["unfinished"],
            "cpu_s": result.get("cpu_s"),
        },
        "deployment_s": round(finished - updated, 2),
        "measured": "from UpdateService(forceNewDeployment) returned to the first poll (every "
        "0.25 s) showing one deployment, COMPLETED, runningCount = desired, pendingCount 0, "
        "every target healthy and every old task STOPPED; the client ran from "
        f"{args.settle} s before to {args.settle} s after",
        "failed_during_deployment": len(during),
        "failed": len(failures),
        "failures": failures[:50],
        "cpu_during_deployment_s": {
            "portside_up": round(cpu1[0] - cpu0[0], 2),
            "haproxy": round(cpu1[1] - cpu0[1], 2),
        },
        "load_average": {"before": cpu0[2], "after": cpu1[2]},
        "timeline": timeline,
        "service_events": events[:60],
        "tasks": per_task,
        "goal_met": len(failures) <= GOALS["deployment_failed_requests_max"]
        and result["unfinished"] == 0,
    }


def task_figures(
    docker_client: Any,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    answers: dict[str, dict[str, Any]],
    rel: Callable[[float], float],
    wall: float,
) -> dict[str, Any]:
    """What the client saw of each task: its answers, and (old) the last one after ECS began
    stopping it, (new) the first one after it was RUNNING."""

    def at(task: dict[str, Any], key: str) -> float | None:
        value = task.get(key)
        return None if value is None else round(rel(value.timestamp() - wall), 3)

    rows: dict[str, Any] = {"old": [], "new": []}
    for kind, tasks in (("old", old), ("new", new)):
        for task in tasks:
            seen = answers.pop(hostname(docker_client, task), None) or {}
            row: dict[str, Any] = {
                "task": task["taskArn"].rsplit("/", 1)[1],
                "requests": seen.get("requests", 0),
                "first_s": round(rel(seen["first"]), 3) if seen else None,
                "last_s": round(rel(seen["last"]), 3) if seen else None,
                "started_s": at(task, "startedAt"),
            }
            if kind == "old":
                row["stopping_s"] = at(task, "stoppingAt")
                row["stopped_s"] = at(task, "stoppedAt")
            rows[kind].append(row)
    if answers:
        rows["unknown_answers"] = {k: v["requests"] for k, v in answers.items()}
    for kind, start, end, key in (
        ("old", "stopping_s", "last_s", "old_last_answer_after_stopping_s"),
        ("new", "started_s", "first_s", "new_first_answer_after_running_s"),
    ):
        gaps = sorted(
            round(r[end] - r[start], 3)
            for r in rows[kind]
            if r.get(end) is not None and r[start] is not None
        )
        rows[key] = (
            {"min": gaps[0], "p50": statistics.median(gaps), "max": gaps[-1]} if gaps else {}
        )
    return rows


# =============================================================================================
# The run
# =============================================================================================


def start_server(workdir: Path, data_dir: Path) -> Any:
    from api_throughput import ACCESS_KEY, BIN, SECRET_KEY, Server, base_env

    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    port = free_port()
    argv = [str(BIN / "portside"), "server", "--data-dir", str(data_dir)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return Server("portside server", argv, port, workdir / "server.log", env, "/_portside/health")


def print_table(doc: dict[str, Any]) -> None:
    print("\n== load balancer benchmark ==")
    dirty = " (dirty)" if doc.get("dirty") else ""
    print(f"commit {doc['commit']}{dirty}, {doc['versions']['haproxy']}")
    m = doc["machine"]
    print(
        f"load average at start {m['load_average_at_start']}, at end {m['load_average_at_end']}"
        f", busy at start {m['busy_percent_of_one_core_at_start']}% of one core "
        f"({m['cores']} cores)"
    )
    if "throughput" in doc:
        print_throughput(doc["throughput"])
    if "registration" in doc:
        print_registration(doc["registration"])
    if "deploy" in doc:
        print_deploy(doc["deploy"])


def print_throughput(t: dict[str, Any]) -> None:
    c = t["client"]
    print(
        f"\n1. throughput (wrk -t{c['threads']} -c{c['connections']} -d{c['duration_s']}s "
        f"--latency, {c['rounds']} rounds; HAProxy threads {t['haproxy_threads']})"
    )
    print(f"   {'':20s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s}  {'cpu us/req':>10s}  errors")
    for side, s in t["summary"].items():
        print(
            f"   {side:20s} {s['requests_per_s_total']:8.0f} {s['latency_p50_ms_median']:8.2f}"
            f" {s['latency_p99_ms_median']:8.2f}  {s['cpu_us_per_request_median']['total']:10.0f}"
            f"  {sum(s['errors'].values())}"
        )
        if not s["wrk_latency_consistent"]:
            print(
                f"   warning: wrk's {side} latency fails Little's law (requests/s x mean "
                f"latency = {s['implied_concurrency_max']} > {c['connections']} connections): "
                "its histogram is not believable; see the cross-check"
            )
    r = t["ratios"]
    print(
        f"   ALB/direct requests/s: {r['alb_over_direct_rps_median_of_rounds']}x (median of "
        f"rounds), {r['alb_over_direct_rps_totals']}x (totals); goal >= "
        f"{GOALS['alb_over_direct_rps_min']}x: {'met' if t['goal_met'] else 'NOT met'}"
    )
    if "alb_over_alb_default_threads_rps_median_of_rounds" in r:
        print(
            "   ALB/ALB with HAProxy's default threads requests/s: "
            f"{r['alb_over_alb_default_threads_rps_median_of_rounds']}x (median of rounds)"
        )
    print(
        f"   ALB/direct latency: p50 {r['alb_over_direct_p50_latency']}x, "
        f"p99 {r['alb_over_direct_p99_latency']}x"
    )
    for side in ("direct", "alb"):
        x = t["crosscheck_latency"].get(side)
        if x:
            print(
                f"   crosscheck (Python closed loop) {side:6s} {x['requests_per_s']:7.0f} req/s"
                f"  latency ms {x['latency_ms']}  >200 ms: {x['over_200ms']}"
            )


def print_registration(g: dict[str, Any]) -> None:
    f = g["figures_ms"]
    print(f"\n2. registration -> serving ({g['settings']['registrations']} registrations)")
    for key in (
        "registered_to_serving_ms",
        "rise_check_to_serving_ms",
        "first_check_to_serving_ms",
        "haproxy_up_to_serving_ms",
        "serving_to_api_healthy_ms",
        "registered_to_haproxy_added_ms",
        "registered_to_first_check_ms",
        "first_to_rise_check_ms",
    ):
        v = f[key]
        print(
            f"   {key:34s} p50 {v.get('p50', float('nan')):8.1f}  p99 "
            f"{v.get('p99', float('nan')):8.1f}  max {v.get('max', float('nan')):8.1f}"
        )
    print(
        f"   goal p99 <= {GOALS['serving_after_passing_check_p99_s_max']} s after the passing "
        f"check that makes it healthy: {'met' if g['goal_met'] else 'NOT met'}"
    )


def print_deploy(d: dict[str, Any]) -> None:
    c = d["client"]
    print(
        f"\n3. rolling deployment (UpdateService --force-new-deployment) of {d['service']['tasks']}"
        f" tasks at {c['rate_per_s']} req/s: {d['deployment_s']} s to COMPLETED with every old "
        "task stopped"
    )
    print(
        f"   sent {c['sent']}, 200s {c['answered_200']}, failed {d['failed']} "
        f"({d['failed_during_deployment']} during the deployment), unfinished {c['unfinished']},"
        f" achieved {c['achieved_rate_per_s']} req/s, latency {c['latency_ms']}"
    )
    for fail in d["failures"][:10]:
        print(f"   failure: {fail}")
    tasks = d["tasks"]
    print(
        f"   old tasks' last answer after stoppingAt {tasks['old_last_answer_after_stopping_s']};"
        f" new tasks' first answer after startedAt {tasks['new_first_answer_after_running_s']}"
    )
    print(
        f"   goal {GOALS['deployment_failed_requests_max']} failed: "
        f"{'met' if d['goal_met'] else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--part", choices=("all", "throughput", "registration", "deploy"), default="all"
    )
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per side a round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--ab-threads",
        action="store_true",
        help="also measure a copy of the rendered haproxy.cfg with HAProxy's default threads",
    )
    parser.add_argument("--registrations", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--tasks", type=int, default=10, help="the deployed service's tasks")
    parser.add_argument("--deploy-timeout", type=float, default=300.0)
    parser.add_argument("--settle", type=float, default=3.0, help="load before/after the deploy")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="short run; writes nothing")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument(
        "--crosscheck",
        type=float,
        default=5.0,
        help="seconds of the closed-loop Python client per side after the wrk rounds (0: none)",
    )
    parser.add_argument("--paced-client", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--closed-client", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.paced_client:
        paced_client_main(args.paced_client, args.rate)
        return 0
    if args.closed_client:
        closed_client_main(args.closed_client, args.connections, args.seconds)
        return 0
    if args.quick:
        args.duration, args.rounds, args.registrations, args.tasks = 3, 2, 3, 3
    sys.path.insert(0, str(Path(__file__).resolve().parent))

    installed = [
        n for n in (ensure_tool("wrk", "wrk"), ensure_tool(BUSYBOX, "busybox-static")) if n
    ]
    commit, dirty = short_commit()
    doc: dict[str, Any] = {
        "benchmark": "load_balancer",
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "commit": commit,
    }
    if dirty:
        doc["dirty"] = True
    doc["machine"] = {
        **machine(),
        "load_average_at_start": load_average(),
        "busy_percent_of_one_core_at_start": round(busy_percent(), 1),
    }
    from importlib.metadata import version

    doc["versions"] = {
        "portside": version("portside"),
        "haproxy": tool_version(["haproxy", "-v"]),
        "wrk": tool_version(["wrk", "--version"]),
        "busybox": tool_version([BUSYBOX]),
        "boto3": version("boto3"),
    }
    if installed:
        doc["installed"] = installed
    doc["targets"] = {
        "kind": "busybox httpd -f (fork per connection, Connection: close): processes on "
        "127.0.0.1 as ip targets (parts 1 and 2), ECS tasks on Docker as instance targets "
        "(part 3); each answers its name on /",
        "health_check": f"HTTP GET {HEALTH_PATH}, interval {HEALTH_INTERVAL_S} s, timeout "
        f"{HEALTH_TIMEOUT_S} s, healthy threshold {HEALTHY_THRESHOLD}, unhealthy threshold "
        f"{UNHEALTHY_THRESHOLD}",
    }
    doc["goals"] = GOALS
    print(f"load average {doc['machine']['load_average_at_start']}; {doc['versions']['haproxy']}")

    workdir = Path(tempfile.mkdtemp(prefix="bench-lb-"))
    ok = False
    try:
        if args.part in ("all", "throughput", "registration"):
            with cleanup() as started:
                doc.update(on_server(workdir, started, args))
        if args.part in ("all", "deploy"):
            print("3. rolling deployment under load", flush=True)
            with cleanup() as started:
                doc["deploy"] = deploy(workdir, started, args)
            doc["deploy"]["log_warnings"] = warnings_in(workdir / "up.log")
        ok = True
    finally:
        if args.keep or not ok:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    doc["machine"]["load_average_at_end"] = load_average()
    print_table(doc)
    if args.quick and args.output is None:
        return 0
    output = args.output or ROOT / "bench" / "results" / f"load-balancer-{commit}.json"
    output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {output}")
    return 0


def on_server(workdir: Path, started: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Parts 1 and 2, on one `portside server` and its ALB of ip targets."""
    data_dir = workdir / "data"
    server = start_server(workdir, data_dir)
    started["servers"].append((server, data_dir))
    server.start()
    lb = Listeners(f"http://127.0.0.1:{server.port}")
    main_targets = [Httpd(f"t{i}", workdir) for i in range(3)]
    started["httpd"] += main_targets
    lb.register(lb.main, main_targets)
    lb.wait(lb.main, all_healthy({t.port for t in main_targets}), "3 targets healthy")
    proxy = Haproxy(data_dir)
    out: dict[str, Any] = {}
    if args.part in ("all", "throughput"):
        print("1. throughput", flush=True)
        copy = DefaultThreadsCopy(data_dir, workdir) if args.ab_threads else None
        if copy is not None:
            started["later"].append(("the copy of haproxy", copy.stop))
        out["throughput"] = throughput(lb, proxy, main_targets, copy, args)
    if args.part in ("all", "registration"):
        print("2. registration -> serving", flush=True)
        out["registration"] = registrations(lb, proxy, workdir, started, args)
    log = data_dir / "haproxy" / "haproxy.log"
    out["haproxy_log_tail"] = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    out["server_log_warnings"] = warnings_in(workdir / "server.log")
    return out


def warnings_in(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln][:30]


if __name__ == "__main__":
    sys.exit(main())

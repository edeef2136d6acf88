#!/usr/bin/env python3
"""Service scheduling: how fast a service reaches its desired count, rolls out a deployment
and replaces a task that died, on a simulated fleet and on real Docker.

Two parts, each runnable alone (`--part`):

- sim: `portside server` (fresh data dir) and `portside sim --instances 1000 --zones a,b,c`.
  A task definition with a container health check (the simulated driver reports HEALTHY as
  soon as the container starts) and 64 MiB. Measured, each from the API call to the first
  DescribeServices (polled every --poll ms) showing the state:
  - scale 0 -> 1,000: UpdateService desiredCount, until runningCount 1,000, pendingCount 0
    and one deployment (COMPLETED);
  - replacement: StopTask on one RUNNING task of that 1,000-task service, until its
    replacement is RUNNING (found by the service event that started it), --kills times;
  - rolling deployment of the 1,000 tasks to a new revision at 100/200, until the new
    deployment is COMPLETED and alone, with 1,000 tasks running;
  - scale 1,000 -> 0 until every task is STOPPED (for the record, and so that the next run
    starts on a quiet fleet), then 0 -> 5,000 (ECS's per-service maximum) on a second
    service, and back to 0.
- docker: `portside up --driver docker --metadata-port 0` (fresh data dir) and a service of
  one `sleep` task on the local busybox image of the e2e tests; `docker kill` of its
  essential container, until the replacement task is RUNNING (ListTasks + DescribeTasks
  polled every 10 ms), --kills times after one warm-up kill.

    .venv/bin/python bench/services.py                  # both parts (~5 minutes)
    .venv/bin/python bench/services.py --quick          # 200 instances, small counts; no file
    .venv/bin/python bench/services.py --part sim --profile   # py-spy the server

Prints the table against the references (ECS launches at most 500 tasks a minute per
service) and the targets, where each run's time went (from the server's change feed: placed,
agent started, RUNNING stored, report lag; for the kills, from the task and container
timestamps), and with --profile the server's and the sim's hot spots; writes
bench/results/services.json (full runs; a part run alone updates its own section).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from api_throughput import (
    ACCESS_KEY,
    BIN,
    ROOT,
    SECRET_KEY,
    Server,
    base_env,
    free_port,
    load_average,
    machine,
    percentile,
    process_cpu,
)
from signed import ApiError as EcsError
from signed import Ecs

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "services.json"

REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ZONES = ("a", "b", "c")
SIM_CLUSTER = "bench-services"
DOCKER_CLUSTER = "default"  # the cluster `portside up` registers its agent in
RESIGN_S = 300.0  # signatures stay valid 15 minutes; re-sign well before

# References and targets.
ECS_LAUNCHES_PER_MIN = 500.0  # ECS: at most 500 tasks launched a minute per service
ECS_MAX_TASKS_PER_SERVICE = 5000
TARGETS_S = {
    "scale_1000": 10.0,  # 0 -> 1,000 tasks to steady state, simulated fleet
    "scale_5000": 60.0,  # 0 -> 5,000
    "replace_docker_p50": 2.0,  # docker kill -> replacement RUNNING, p50
}
HEALTH = "/_portside/health"
NOISE_PERCENT = 25.0  # other processes' CPU (% of a core) above which a figure is suspect
MEMORY_MIB = 64
HEALTH_CHECK = {"command": ["CMD-SHELL", "exit 0"], "interval": 5, "timeout": 2, "retries": 3}


# =============================================================================================
# Signed ECS calls
# =============================================================================================


class Signed:
    """One read, signed once and replayed; re-signed every RESIGN_S."""

    def __init__(self, ecs: Ecs, action: str, **params: Any) -> None:
        self.ecs, self.action, self.params = ecs, action, params
        self.at = time.monotonic()
        self.raw = ecs.sign(action, params)

    def __call__(self) -> dict[str, Any]:
        if time.monotonic() - self.at > RESIGN_S:
            self.raw, self.at = self.ecs.sign(self.action, self.params), time.monotonic()
        return self.ecs.send(self.raw)


# =============================================================================================
# Processes
# =============================================================================================


def server_env() -> dict[str, str]:
    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    return env


def portside_server(workdir: Path) -> Server:
    port = free_port()
    argv = [str(BIN / "portside"), "server", "--data-dir", str(workdir / "server-data")]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return Server("portside server", argv, port, workdir / "server.log", server_env(), HEALTH)


def portside_up(workdir: Path) -> Server:
    port = free_port()
    argv = [str(BIN / "portside"), "up", "--driver", "docker", "--metadata-port", "0"]
    argv += ["--data-dir", str(workdir / "up-data"), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning"]
    return Server("portside up", argv, port, workdir / "up.log", server_env(), HEALTH)


class Sim(Server):
    """`portside sim`: no HTTP endpoint of its own; ready when the control plane lists its
    instances (the caller waits for that)."""

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"portside sim exited at once:\n{self.log_tail()}")


def portside_sim(workdir: Path, port: int, instances: int) -> Sim:
    env = base_env()
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION
    )
    argv = [str(BIN / "portside"), "sim", "--endpoint", f"http://127.0.0.1:{port}"]
    argv += ["--cluster", SIM_CLUSTER, "--instances", str(instances), "--zones", ",".join(ZONES)]
    argv += ["--state-dir", str(workdir / "sim-state"), "--log-level", "warning"]
    return Sim("portside sim", argv, port, workdir / "sim.log", env, "")


@contextlib.contextmanager
def processes() -> Iterator[list[Server]]:
    """A list to start processes into; each is stopped (its process group: SIGINT, then
    SIGKILL) on the way out, last started first, whatever happens (SIGTERM included)."""

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    started: list[Server] = []
    try:
        yield started
    except BaseException:
        for proc in started:
            if proc.proc is not None and proc.proc.poll() is not None:
                print(
                    f"error: {proc.name} exited with {proc.proc.returncode} during the run "
                    "(negative: the signal that ended it)",
                    file=sys.stderr,
                )
        raise
    finally:
        for proc in reversed(started):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                print(f"warning: stopping {proc.name}: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


def group_cpu(snapshot: dict[int, tuple[str, int, float]], group: int) -> float:
    return sum(cpu for _, g, cpu in snapshot.values() if g == group)


class CpuMeter:
    """CPU seconds of the given process groups, and of every other process (the noise), over
    a stretch of the run."""

    def __init__(self, groups: dict[str, Server]) -> None:
        self.groups = groups
        self.before = process_cpu()
        self.t0 = time.perf_counter()

    def read(self) -> dict[str, Any]:
        after = process_cpu()
        elapsed = time.perf_counter() - self.t0
        out: dict[str, Any] = {}
        pids: set[int] = set()
        for name, proc in self.groups.items():
            if proc.proc is None:
                continue
            pids.add(proc.proc.pid)
            spent = group_cpu(after, proc.proc.pid) - group_cpu(self.before, proc.proc.pid)
            out[f"{name}_cpu_percent_of_one_core"] = round(100 * spent / elapsed, 1)
        others: dict[str, float] = {}
        ours = os.getpid()
        for pid, (name, group, cpu) in after.items():
            if pid == ours or group in pids:
                continue
            spent = cpu - self.before[pid][2] if pid in self.before else cpu
            if spent > 0:
                others[name] = others.get(name, 0.0) + spent
        top = sorted(others.items(), key=lambda kv: -kv[1])[:4]
        out["other_cpu_percent_of_one_core"] = round(100 * sum(others.values()) / elapsed, 1)
        out["other_cpu_top"] = {k: round(100 * v / elapsed, 1) for k, v in top}
        return out


# =============================================================================================
# Profiling the server (py-spy)
# =============================================================================================


class Profiler:
    """`py-spy record` on a process until stopped (raw, collapsed stacks)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        spy = BIN / "py-spy"
        if not spy.exists():
            print("warning: no .venv/bin/py-spy; not profiling", file=sys.stderr)
            return
        argv = [str(spy), "record", "-p", str(pid), "-r", "100", "--nonblocking"]
        argv += ["-f", "raw", "-o", str(out)]
        with out.with_suffix(".log").open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )

    def finish(self) -> dict[str, Any] | None:
        """Stop recording (py-spy writes its file on SIGINT) and summarize."""
        if self.proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return summarize_profile(self.out) if self.out.exists() else None


def _frame(text: str) -> str:
    """'fn (path/file.py:123)' -> 'fn (file path relative to the repo or site-packages)'."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def summarize_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Sample shares from py-spy's raw output (collapsed stacks; idle threads are not
    sampled): the main thread (uvicorn's event loop: HTTP, the API handlers) against the
    worker threads (controllers, writes and agent syncs off the loop), the leaf functions,
    and the Portside functions with what they call."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    main_thread = 0
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = [
            _frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        ]
        if not frames:
            continue
        total += count
        if not frames[0].startswith("Thread._bootstrap"):
            main_thread += count
        own[frames[-1]] += count
        for f in set(frames):
            if "(portside/" in f and "(portside/cli/" not in f and "(portside)" not in f:
                inclusive[f] += count
    pct = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return {
        "samples": total,
        "main_thread_percent": pct(main_thread),
        "self_percent": {k: pct(v) for k, v in own.most_common(top)},
        "portside_inclusive_percent": {k: pct(v) for k, v in inclusive.most_common(top + 10)},
    }


def print_profile(profile: dict[str, Any] | None, title: str) -> None:
    if not profile:
        return
    print(
        f"\n{title}: py-spy, {profile['samples']:,} samples (100/s per busy thread); main "
        f"thread (event loop) {profile['main_thread_percent']}%, worker threads the rest"
    )
    print("  self time (leaf function):")
    for name, p in list(profile["self_percent"].items())[:12]:
        print(f"    {p:5.1f}%  {name}")
    print("  Portside functions, inclusive (the function and what it calls):")
    for name, p in list(profile["portside_inclusive_percent"].items())[:20]:
        print(f"    {p:5.1f}%  {name}")


# =============================================================================================
# Watching a service
# =============================================================================================


@dataclass
class Point:
    t: float  # seconds since the call that started the run
    running: int
    pending: int
    deployments: int
    primary_running: int
    rollout: str


@dataclass
class Run:
    """One timed change of a service: from the call to the first poll showing the goal."""

    name: str
    group: str = ""  # the service's task group, service:NAME
    started_by: str | None = None  # the deployment whose tasks count (None: any)
    at: float = 0.0  # epoch seconds when the call was sent
    seconds: float = 0.0
    points: list[Point] = field(default_factory=list)
    polls_ms: list[float] = field(default_factory=list)
    cpu: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    call_ms: float = 0.0

    def first(self, predicate: Callable[[Point], bool]) -> float | None:
        return next((p.t for p in self.points if predicate(p)), None)

    def summary(self, goal: int) -> dict[str, Any]:
        marks: dict[str, float | None] = {
            "first_running_s": self.first(lambda p: p.primary_running >= 1),
            "half_running_s": self.first(lambda p: p.primary_running >= goal / 2),
            "ninety_percent_running_s": self.first(lambda p: p.primary_running >= 0.9 * goal),
        }
        polls = sorted(self.polls_ms)
        out: dict[str, Any] = {
            "seconds": round(self.seconds, 3),
            "tasks": goal,
            "tasks_per_minute": round(60 * goal / self.seconds, 1) if self.seconds else None,
            **{k: round(v, 3) if v is not None else None for k, v in marks.items()},
            "api_call_ms": round(self.call_ms, 1),
            "polls": len(polls),
            "poll_p50_ms": round(percentile(polls, 50), 2) if polls else None,
            "poll_max_ms": round(polls[-1], 2) if polls else None,
            **self.cpu,
            "timeline": thin(self.points, 40),
        }
        if self.profile:
            out["profile"] = self.profile
        return out


def thin(points: Sequence[Point], n: int) -> list[list[Any]]:
    """About n points of the timeline: [t, running, pending, deployments, primary running]."""
    if not points:
        return []
    step = max(1, len(points) // n)
    keep = list(points[::step])
    if keep[-1] is not points[-1]:
        keep.append(points[-1])
    return [[round(p.t, 2), p.running, p.pending, p.deployments, p.primary_running] for p in keep]


def point(service: dict[str, Any], t: float) -> Point:
    deployments: list[dict[str, Any]] = service.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    return Point(
        t=t,
        running=int(service.get("runningCount") or 0),
        pending=int(service.get("pendingCount") or 0),
        deployments=len(deployments),
        primary_running=int(primary.get("runningCount") or 0),
        rollout=str(primary.get("rolloutState") or ""),
    )


def describe_service(ecs: Ecs, cluster: str, name: str) -> dict[str, Any]:
    out = ecs.call("DescribeServices", cluster=cluster, services=[name])
    if out.get("failures") or not out.get("services"):
        raise EcsError(f"DescribeServices {name}: {out.get('failures')}")
    return dict(out["services"][0])


def steady(count: int, deployment: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """runningCount == count, nothing pending, one deployment (that one), COMPLETED."""

    def check(service: dict[str, Any]) -> bool:
        deployments = service.get("deployments") or []
        return (
            int(service.get("runningCount") or 0) == count
            and int(service.get("pendingCount") or 0) == 0
            and len(deployments) == 1
            and deployments[0].get("rolloutState") == "COMPLETED"
            and (deployment is None or deployments[0].get("id") == deployment)
        )

    return check


def watch(
    ecs: Ecs,
    cluster: str,
    name: str,
    run: Run,
    start: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    poll_s: float,
    timeout: float,
    progress: bool = True,
) -> dict[str, Any]:
    """Call `start`, then poll DescribeServices every poll_s until `done`; fills `run`."""
    describe = Signed(ecs, "DescribeServices", cluster=cluster, services=[name])
    run.group = run.group or f"service:{name}"
    run.at = time.time()
    t0 = time.perf_counter()
    answer = start()
    run.call_ms = (time.perf_counter() - t0) * 1000
    last_print = t0
    while True:
        t = time.perf_counter()
        out = describe()
        run.polls_ms.append((time.perf_counter() - t) * 1000)
        service = dict(out["services"][0])
        p = point(service, t - t0)
        run.points.append(p)
        if done(service):
            run.seconds = p.t
            return answer
        if t - t0 > timeout:
            raise RuntimeError(
                f"{run.name}: not done in {timeout:.0f} s: running {p.running}, pending "
                f"{p.pending}, deployments {p.deployments}, primary {p.rollout}; events: "
                f"{[e.get('message') for e in (service.get('events') or [])[:5]]}"
            )
        if progress and t - last_print >= 5:
            print(
                f"    {p.t:6.1f} s  running {p.running:5d}  pending {p.pending:5d}  "
                f"deployments {p.deployments}  primary running {p.primary_running}",
                flush=True,
            )
            last_print = t
        time.sleep(max(0.0, poll_s - (time.perf_counter() - t)))


def wait_for(
    ecs: Ecs, cluster: str, name: str, done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        service = describe_service(ecs, cluster, name)
        if done(service):
            return service
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"service {name} not there in {timeout:.0f} s: running "
                f"{service.get('runningCount')}, pending {service.get('pendingCount')}, "
                f"deployments {[(d['id'], d['rolloutState']) for d in service['deployments']]}"
            )
        time.sleep(0.2)


# =============================================================================================
# Part 1: the simulated fleet
# =============================================================================================


def task_definition(family: str, version: str) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": f"registry.example.com/bench/app:{version}",
                "memory": MEMORY_MIB,
                "essential": True,
                "command": ["sleep", "3600"],
                "environment": [{"name": "VERSION", "value": version}],
                "healthCheck": HEALTH_CHECK,
            }
        ],
    }


def wait_for_fleet(ecs: Ecs, n: int, sim: Server, timeout: float) -> float:
    """Until the cluster counts n instances; seconds."""
    t0 = time.perf_counter()
    describe = Signed(ecs, "DescribeClusters", clusters=[SIM_CLUSTER])
    while True:
        clusters = describe().get("clusters") or [{}]
        got = int(clusters[0].get("registeredContainerInstancesCount") or 0)
        if got >= n:
            return time.perf_counter() - t0
        if sim.proc is not None and sim.proc.poll() is not None:
            raise RuntimeError(f"portside sim exited:\n{sim.log_tail()}")
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"only {got} of {n} instances registered in {timeout:.0f} s")
        time.sleep(0.5)


def create_service(ecs: Ecs, cluster: str, name: str, td: str, desired: int) -> None:
    ecs.call(
        "CreateService",
        cluster=cluster,
        serviceName=name,
        taskDefinition=td,
        desiredCount=desired,
        launchType="EC2",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
    )


def drained(ecs: Ecs, cluster: str, name: str) -> Callable[[dict[str, Any]], bool]:
    """The service counts no task, and no instance holds a task of it that is not STOPPED
    yet (ListContainerInstances with the cluster query `task:group == service:NAME`): the
    agent has stopped them all. The service's counts drop as soon as the stops are decided;
    the query is checked once a second (it reads every instance's tasks when none match)."""
    query = Signed(
        ecs,
        "ListContainerInstances",
        cluster=cluster,
        filter=f"task:group == service:{name}",
        maxResults=1,
    )
    last = [0.0]

    def check(service: dict[str, Any]) -> bool:
        if service["runningCount"] or service["pendingCount"] or time.monotonic() - last[0] < 1:
            return False
        last[0] = time.monotonic()
        return not query().get("containerInstanceArns")

    return check


def update(ecs: Ecs, cluster: str, name: str, **params: Any) -> Callable[[], dict[str, Any]]:
    return lambda: ecs.call("UpdateService", cluster=cluster, service=name, **params)


@dataclass
class Replacement:
    ms: float
    phases: dict[str, float]


def started_task(service: dict[str, Any], after: float, name: str, known: set[str]) -> str | None:
    """The task id of the newest "(service X) has started 1 tasks: (task ID)." event since
    `after` (epoch seconds; events are newest first) that names no task in `known`."""
    head = f"(service {name}) has started 1 tasks: (task "
    for event in service.get("events") or ():
        if float(event.get("createdAt") or 0) < after:
            break
        message = str(event.get("message") or "")
        if message.startswith(head):
            task_id = message[len(head) :].split(")", 1)[0]
            if task_id not in known:
                return task_id
    return None


def replace_in_sim(
    ecs: Ecs, cluster: str, name: str, victims: list[str], poll_s: float
) -> list[Replacement]:
    """StopTask each victim in turn; until its replacement is RUNNING. The replacement is
    the task the service event "has started 1 tasks" names; the service is back at its
    desired count before the next."""
    out: list[Replacement] = []
    describe = Signed(ecs, "DescribeServices", cluster=cluster, services=[name])
    desired = int(describe()["services"][0]["desiredCount"])
    arn_prefix = victims[0].rsplit("/", 1)[0] + "/"
    known = {v.rsplit("/", 1)[1] for v in victims}
    for victim in victims:
        at = time.time()
        t0 = time.perf_counter()
        ecs.call("StopTask", cluster=cluster, task=victim, reason="bench: replacement")
        new: str | None = None
        while new is None:
            new = started_task(describe()["services"][0], at - 1, name, known)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"no replacement was started for {victim} in 60 s")
            if new is None:
                time.sleep(poll_s)
        known.add(new)
        check = Signed(ecs, "DescribeTasks", cluster=cluster, tasks=[arn_prefix + new])
        while True:
            task = check()["tasks"][0]
            if task["lastStatus"] == "RUNNING":
                break
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"replacement {new} not RUNNING in 60 s")
            time.sleep(poll_s)
        seen = time.perf_counter()
        out.append(
            Replacement(
                (seen - t0) * 1000,
                {
                    "StopTask -> replacement createdAt": (task["createdAt"] - at) * 1000,
                    "createdAt -> startedAt": (task["startedAt"] - task["createdAt"]) * 1000,
                    "startedAt -> seen RUNNING": (at + (seen - t0) - task["startedAt"]) * 1000,
                },
            )
        )
        wait_for(ecs, cluster, name, lambda s: s["runningCount"] == desired, 60)
    return out


def running_tasks(ecs: Ecs, cluster: str, name: str, n: int) -> list[str]:
    out = ecs.call("ListTasks", cluster=cluster, serviceName=name, maxResults=100)
    arns = list(out.get("taskArns") or ())[:n]
    tasks = ecs.call("DescribeTasks", cluster=cluster, tasks=arns)["tasks"]
    return [t["taskArn"] for t in tasks if t["lastStatus"] == "RUNNING"]


def run_sim(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"instances": args.instances, "zones": list(ZONES)}
    scale_small, scale_big = args.scale
    with processes() as procs:
        server = portside_server(workdir)
        server.start()
        procs.append(server)
        ecs = Ecs(server.port)
        ecs.call("CreateCluster", clusterName=SIM_CLUSTER)
        sim = portside_sim(workdir, server.port, args.instances)
        sim.start()
        procs.append(sim)
        result["fleet_registration_s"] = round(
            wait_for_fleet(ecs, args.instances, sim, max(180.0, args.instances / 10)), 2
        )
        print(
            f"  {args.instances:,} simulated instances registered in "
            f"{result['fleet_registration_s']:.1f} s",
            flush=True,
        )
        td1 = ecs.call("RegisterTaskDefinition", **task_definition("bench-svc", "1"))
        td1_arn = td1["taskDefinition"]["taskDefinitionArn"]
        td2_arn = ecs.call("RegisterTaskDefinition", **task_definition("bench-svc", "2"))[
            "taskDefinition"
        ]["taskDefinitionArn"]
        groups = {"server": server, "sim": sim}

        def profiled(run: Run, body: Callable[[], Any]) -> Any:
            """Run body, metering CPU and, with --profile, py-spying the server and the sim."""
            spies: dict[str, Profiler] = {}
            if args.profile:
                for who, proc in groups.items():
                    assert proc.proc is not None
                    spies[who] = Profiler(proc.proc.pid, workdir / f"profile-{who}-{run.name}.txt")
            meter = CpuMeter(groups)
            try:
                return body()
            finally:
                run.cpu = meter.read()
                if spies:
                    run.profile = {who: spy.finish() for who, spy in spies.items()}

        # Warm-up: a small service to steady state and back (the sim's session is open, the
        # controller has run).
        create_service(ecs, SIM_CLUSTER, "warm-up", td1_arn, 10)
        wait_for(ecs, SIM_CLUSTER, "warm-up", steady(10), 120)
        ecs.call("DeleteService", cluster=SIM_CLUSTER, service="warm-up", force=True)

        poll = args.poll / 1000
        runs: dict[str, dict[str, Any]] = {}
        timed: list[Run] = []

        # 0 -> N (1,000)
        create_service(ecs, SIM_CLUSTER, "scale", td1_arn, 0)
        wait_for(ecs, SIM_CLUSTER, "scale", steady(0), 60)
        run = Run(f"scale_{scale_small}")
        print(f"  0 -> {scale_small:,} tasks ...", flush=True)
        profiled(
            run,
            lambda: watch(
                ecs,
                SIM_CLUSTER,
                "scale",
                run,
                update(ecs, SIM_CLUSTER, "scale", desiredCount=scale_small),
                steady(scale_small),
                poll,
                600,
            ),
        )
        runs[run.name] = run.summary(scale_small)
        timed.append(run)
        print(f"  0 -> {scale_small:,}: {run.seconds:.2f} s", flush=True)

        # Replacement after StopTask, in that service.
        victims = running_tasks(ecs, SIM_CLUSTER, "scale", args.kills)
        replacements = replace_in_sim(ecs, SIM_CLUSTER, "scale", victims, 0.01)
        result["replacement"] = replacement_summary(replacements)
        result["replacement"]["service_tasks"] = scale_small
        print(
            f"  replacement after StopTask (p50 of {len(replacements)}): "
            f"{result['replacement']['p50_ms']:.0f} ms",
            flush=True,
        )

        # Rolling deployment of the N tasks.
        run = Run(f"rolling_{scale_small}")
        print(f"  rolling deployment of {scale_small:,} tasks (100/200) ...", flush=True)
        answer: dict[str, Any] = {}

        def roll() -> None:
            def start() -> dict[str, Any]:
                answer.update(
                    ecs.call(
                        "UpdateService",
                        cluster=SIM_CLUSTER,
                        service="scale",
                        taskDefinition=td2_arn,
                    )
                )
                return answer

            def done(service: dict[str, Any]) -> bool:
                new = next(d for d in answer["service"]["deployments"] if d["status"] == "PRIMARY")
                return steady(scale_small, new["id"])(service)

            watch(ecs, SIM_CLUSTER, "scale", run, start, done, poll, 900)
            new = next(d for d in answer["service"]["deployments"] if d["status"] == "PRIMARY")
            run.started_by = new["id"]

        profiled(run, roll)
        runs[run.name] = run.summary(scale_small)
        runs[run.name]["most_live_tasks"] = max(p.running + p.pending for p in run.points)
        timed.append(run)
        print(f"  rolling {scale_small:,}: {run.seconds:.2f} s", flush=True)

        # N -> 0 (for the record).
        run = Run(f"scale_{scale_small}_to_0")
        watch(
            ecs,
            SIM_CLUSTER,
            "scale",
            run,
            update(ecs, SIM_CLUSTER, "scale", desiredCount=0),
            drained(ecs, SIM_CLUSTER, "scale"),
            poll,
            600,
            progress=False,
        )
        runs[run.name] = to_zero(run, scale_small)
        print(f"  {scale_small:,} -> 0, all STOPPED: {run.seconds:.2f} s", flush=True)

        # 0 -> M (5,000) on a second service.
        create_service(ecs, SIM_CLUSTER, "scale-max", td1_arn, 0)
        wait_for(ecs, SIM_CLUSTER, "scale-max", steady(0), 60)
        run = Run(f"scale_{scale_big}")
        print(f"  0 -> {scale_big:,} tasks ...", flush=True)
        profiled(
            run,
            lambda: watch(
                ecs,
                SIM_CLUSTER,
                "scale-max",
                run,
                update(ecs, SIM_CLUSTER, "scale-max", desiredCount=scale_big),
                steady(scale_big),
                poll,
                1200,
            ),
        )
        runs[run.name] = run.summary(scale_big)
        timed.append(run)
        print(f"  0 -> {scale_big:,}: {run.seconds:.2f} s", flush=True)
        run = Run(f"scale_{scale_big}_to_0")
        watch(
            ecs,
            SIM_CLUSTER,
            "scale-max",
            run,
            update(ecs, SIM_CLUSTER, "scale-max", desiredCount=0),
            drained(ecs, SIM_CLUSTER, "scale-max"),
            poll,
            1200,
            progress=False,
        )
        runs[run.name] = to_zero(run, scale_big)
        print(f"  {scale_big:,} -> 0, all STOPPED: {run.seconds:.2f} s", flush=True)
        ecs.close()
    for name, phases in store_timeline(workdir / "server-data" / "portside.db", timed).items():
        runs[name]["phases_s"] = phases
    result["runs"] = runs
    result["log_findings"] = log_findings(server.log_path, sim.log_path)
    return result


def store_timeline(db: Path, runs: Sequence[Run]) -> dict[str, dict[str, float]]:
    """Where each run's time went, from the server's change feed (read after the run, read
    only; the server and this client share the host clock), in seconds after the call:

    - placed: the last of the run's tasks written (PENDING), i.e. the controller placed them;
    - agent started: the tasks' startedAt (the simulated container start), first/p50/last;
    - RUNNING stored: the agent's RUNNING report applied to the store, first/p50/last;
    - report lag: RUNNING stored minus startedAt, p50/p90;
    - steady seen after the last RUNNING: the controller's pass that wrote runningCount and
      COMPLETED, plus the poll interval."""
    out: dict[str, dict[str, float]] = {}
    if not runs or not db.exists():
        return out
    created: dict[str, dict[str, float]] = {r.name: {} for r in runs}
    running: dict[str, dict[str, tuple[float, float]]] = {r.name: {} for r in runs}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT at, key, doc FROM changes WHERE tbl = 'tasks' AND at >= ? "
            "AND doc IS NOT NULL ORDER BY seq",
            (min(r.at for r in runs),),
        )
        for at, key, raw in rows:
            run = next((r for r in runs if r.at <= at <= r.at + r.seconds), None)
            if run is None:
                continue
            doc = orjson.loads(raw)
            if doc.get("group") != run.group or float(doc.get("createdAt") or 0) < run.at:
                continue
            if run.started_by is not None and doc.get("startedBy") != run.started_by:
                continue
            created[run.name].setdefault(key, at)
            if doc.get("lastStatus") == "RUNNING" and doc.get("startedAt"):
                running[run.name].setdefault(key, (at, float(doc["startedAt"])))
    except sqlite3.Error as exc:
        print(f"warning: reading the change feed: {exc}", file=sys.stderr)
        return out
    finally:
        conn.close()
    for r in runs:
        placed = sorted(created[r.name].values())
        stored = sorted(at for at, _ in running[r.name].values())
        started = sorted(s for _, s in running[r.name].values())
        lag = sorted(at - s for at, s in running[r.name].values())
        if not placed or not stored:
            continue

        def rel(values: list[float], q: float, base: float = r.at) -> float:
            return round(percentile(values, q) - base, 3)

        out[r.name] = {
            "tasks_seen": len(placed),
            "placed_first": rel(placed, 0),
            "placed_last": rel(placed, 100),
            "agent_started_first": rel(started, 0),
            "agent_started_p50": rel(started, 50),
            "agent_started_last": rel(started, 100),
            "running_stored_first": rel(stored, 0),
            "running_stored_p50": rel(stored, 50),
            "running_stored_last": rel(stored, 100),
            "report_lag_p50": round(percentile(lag, 50), 3),
            "report_lag_p90": round(percentile(lag, 90), 3),
            "steady_seen_after_last_running": round(r.seconds - (stored[-1] - r.at), 3),
        }
    return out


def to_zero(run: Run, tasks: int) -> dict[str, Any]:
    """A scale-in to 0: until every task is STOPPED, and when the service first counted 0."""
    decided = run.first(lambda p: p.running == 0 and p.pending == 0)
    return {
        "seconds": round(run.seconds, 3),
        "tasks": tasks,
        "service_counts_zero_s": round(decided, 3) if decided is not None else None,
    }


def replacement_summary(samples: Sequence[Replacement]) -> dict[str, Any]:
    values = sorted(s.ms for s in samples)
    names: list[str] = []
    for s in samples:
        names += [k for k in s.phases if k not in names]
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "mean_ms": round(statistics.fmean(values), 1),
        "min_ms": round(values[0], 1),
        "max_ms": round(values[-1], 1),
        "phases_p50_ms": {
            name: round(statistics.median(s.phases[name] for s in samples if name in s.phases), 1)
            for name in names
        },
        "samples_ms": [round(v.ms, 1) for v in samples],
    }


def log_findings(*logs: Path) -> dict[str, int]:
    """Counts of trouble in the logs (tracebacks, errors, warnings)."""
    found: Counter[str] = Counter()
    for path in logs:
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                for word in ("Traceback", "ERROR", "WARNING"):
                    if word in line:
                        found[f"{path.stem}: {word}"] += 1
    return dict(found)


# =============================================================================================
# Part 2: real Docker
# =============================================================================================


def run_docker(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import docker
    from task_start import agent_instance_arns, busybox, remove_portside_containers

    client = docker.from_env()
    client.ping()
    image = busybox(client)
    up = portside_up(workdir)
    tasks_seen: set[str] = set()
    samples: list[Replacement] = []
    try:
        with processes() as procs:
            up.start()
            procs.append(up)
            ecs = Ecs(up.port)
            wait_for_agent(ecs, up)
            td = ecs.call(
                "RegisterTaskDefinition",
                family="bench-replace",
                containerDefinitions=[
                    {
                        "name": "main",
                        "image": image,
                        "memory": 32,
                        "essential": True,
                        "command": ["sleep", "3600"],
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]
            create_service(ecs, DOCKER_CLUSTER, "replace", td, 1)
            wait_for(
                ecs,
                DOCKER_CLUSTER,
                "replace",
                lambda s: s["runningCount"] == 1 and s["pendingCount"] == 0,
                60,
            )
            listing = Signed(
                ecs,
                "ListTasks",
                cluster=DOCKER_CLUSTER,
                serviceName="replace",
                desiredStatus="RUNNING",
            )
            meter = CpuMeter({"portside_up": up})
            for i in range(args.warmup_kills + args.kills):
                sample = kill_once(ecs, client, listing, tasks_seen, args.docker_poll / 1000)
                label = "warm-up" if i < args.warmup_kills else f"{i - args.warmup_kills + 1}"
                print(f"    kill {label}: replacement RUNNING after {sample.ms:.0f} ms", flush=True)
                if i >= args.warmup_kills:
                    samples.append(sample)
                time.sleep(args.settle)
            cpu = meter.read()
            with contextlib.suppress(EcsError):
                ecs.call("DeleteService", cluster=DOCKER_CLUSTER, service="replace", force=True)
            ecs.close()
    finally:
        instances = agent_instance_arns(workdir / "up-data")
        removed = remove_portside_containers(client, instances, tasks_seen)
        print(f"  removed {removed} containers", file=sys.stderr)
    out = replacement_summary(samples)
    out.update(cpu)
    out["image"] = f"{image} (FROM scratch, static busybox), sleep 3600, memory 32 MiB, bridge"
    out["poll_ms"] = args.docker_poll
    out["log_findings"] = log_findings(up.log_path)
    return out


def wait_for_agent(ecs: Ecs, up: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(EcsError):
            arns = ecs.call("ListContainerInstances", cluster=DOCKER_CLUSTER)[
                "containerInstanceArns"
            ]
            if arns:
                described = ecs.call(
                    "DescribeContainerInstances", cluster=DOCKER_CLUSTER, containerInstances=arns
                )["containerInstances"]
                if any(i.get("agentConnected") for i in described):
                    return
        if up.proc is not None and up.proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the local agent did not register in {timeout:.0f} s:\n{up.log_tail()}")


def kill_once(ecs: Ecs, client: Any, listing: Signed, seen: set[str], poll_s: float) -> Replacement:
    """`docker kill` the service's task's container; until another task is RUNNING."""
    (old_arn,) = listing()["taskArns"]
    seen.add(old_arn)
    old = ecs.call("DescribeTasks", cluster=DOCKER_CLUSTER, tasks=[old_arn])["tasks"][0]
    if old["lastStatus"] != "RUNNING":
        raise RuntimeError(f"task {old_arn} is {old['lastStatus']}, not RUNNING")
    runtime_id = old["containers"][0]["runtimeId"]
    at = time.time()
    t0 = time.perf_counter()
    client.api.kill(runtime_id)
    killed = time.perf_counter()
    new: dict[str, Any] | None = None
    while new is None:
        arns = [a for a in listing()["taskArns"] if a != old_arn]
        if arns:
            seen.update(arns)
            described = ecs.call("DescribeTasks", cluster=DOCKER_CLUSTER, tasks=arns)["tasks"]
            new = next((t for t in described if t["lastStatus"] == "RUNNING"), None)
        if time.perf_counter() - t0 > 60:
            raise RuntimeError(f"no replacement RUNNING 60 s after killing {old_arn}")
        if new is None:
            time.sleep(poll_s)
    seen_at = time.perf_counter()
    ms = (seen_at - t0) * 1000
    stopped = ecs.call("DescribeTasks", cluster=DOCKER_CLUSTER, tasks=[old_arn])["tasks"][0]
    state = client.api.inspect_container(runtime_id)["State"]
    finished = docker_time(state.get("FinishedAt"))
    phases = {"docker kill call": (killed - t0) * 1000}
    if finished is not None:
        phases["kill -> container FinishedAt"] = (finished - at) * 1000
        if stopped.get("stoppedAt"):
            phases["FinishedAt -> old task stoppedAt"] = (stopped["stoppedAt"] - finished) * 1000
    if stopped.get("stoppedAt"):
        phases["old stoppedAt -> new createdAt"] = (new["createdAt"] - stopped["stoppedAt"]) * 1000
    phases["new createdAt -> startedAt"] = (new["startedAt"] - new["createdAt"]) * 1000
    phases["startedAt -> seen RUNNING"] = (at + (seen_at - t0) - new["startedAt"]) * 1000
    return Replacement(ms, {k: round(v, 1) for k, v in phases.items()})


def docker_time(value: str | None) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds, UTC) as epoch seconds."""
    if not value or value.startswith("0001-"):
        return None
    main, _, frac = value.rstrip("Z").partition(".")
    base = dt.datetime.fromisoformat(main).replace(tzinfo=dt.UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


# =============================================================================================
# Report
# =============================================================================================


def verdicts(sim: dict[str, Any] | None, dock: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per figure: ours, the reference, the ratio, the target."""
    rows: list[dict[str, Any]] = []
    runs = (sim or {}).get("runs") or {}
    for name, run in runs.items():
        if name.endswith("_to_0"):
            continue
        kind, _, count = name.partition("_")
        n = int(count)
        ecs_s = 60.0 * n / ECS_LAUNCHES_PER_MIN
        target = TARGETS_S.get(name) if n in (1000, 5000) else None
        label = f"0 -> {n:,} tasks, steady" if kind == "scale" else f"rolling {n:,} (100/200)"
        rows.append(
            {
                "figure": label,
                "portside_s": run["seconds"],
                "ecs_at_least_s": ecs_s,
                "ratio_vs_ecs": round(ecs_s / run["seconds"], 1) if run["seconds"] else None,
                "target_s": target,
                "met": None if target is None else run["seconds"] <= target,
            }
        )
    if sim and sim.get("replacement"):
        rows.append(
            {
                "figure": "sim: StopTask -> replacement RUNNING, p50",
                "portside_s": round(sim["replacement"]["p50_ms"] / 1000, 3),
                "ecs_at_least_s": None,
                "ratio_vs_ecs": None,
                "target_s": None,
                "met": None,
            }
        )
    if dock:
        target = TARGETS_S["replace_docker_p50"]
        p50 = dock["p50_ms"] / 1000
        rows.append(
            {
                "figure": f"docker: kill -> replacement RUNNING, p50 of {dock['n']}",
                "portside_s": round(p50, 3),
                "ecs_at_least_s": None,
                "ratio_vs_ecs": None,
                "target_s": target,
                "met": p50 <= target,
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("", "portside", "ECS (>= at 500/min)", "ratio", "target", "")
    table = [head]
    for r in rows:
        table.append(
            (
                r["figure"],
                f"{r['portside_s']:.2f} s",
                f"{r['ecs_at_least_s']:.0f} s" if r["ecs_at_least_s"] else "-",
                f"{r['ratio_vs_ecs']:.1f}x" if r["ratio_vs_ecs"] else "-",
                f"<= {r['target_s']:.0f} s" if r["target_s"] else "-",
                "" if r["met"] is None else ("met" if r["met"] else "NOT MET"),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print(
            "  ".join(
                c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
            )
        )


def print_details(sim: dict[str, Any] | None, dock: dict[str, Any] | None) -> None:
    if sim:
        print(f"\nSimulated fleet: {sim['instances']:,} instances in {len(sim['zones'])} zones")
        for name, run in sim["runs"].items():
            if "tasks_per_minute" not in run:
                print(
                    f"  {name}: every task STOPPED after {run['seconds']:.2f} s (the service "
                    f"counted 0 after {fmt(run.get('service_counts_zero_s'))})"
                )
                continue
            print(
                f"  {name}: {run['seconds']:.2f} s ({run['tasks_per_minute']:,.0f} tasks/min); "
                f"first RUNNING {fmt(run['first_running_s'])}, half {fmt(run['half_running_s'])}"
                f", 90% {fmt(run['ninety_percent_running_s'])}; "
                f"CPU % of a core: server {run.get('server_cpu_percent_of_one_core')}, "
                f"sim {run.get('sim_cpu_percent_of_one_core')}, "
                f"others {run.get('other_cpu_percent_of_one_core')}"
            )
            ph = run.get("phases_s")
            if ph:
                print(
                    f"    placed +{ph['placed_first']:.2f}..+{ph['placed_last']:.2f} s; agent "
                    f"started +{ph['agent_started_first']:.2f}..+{ph['agent_started_last']:.2f}"
                    f" s (p50 +{ph['agent_started_p50']:.2f}); RUNNING stored "
                    f"+{ph['running_stored_first']:.2f}..+{ph['running_stored_last']:.2f} s; "
                    f"report lag p50 {ph['report_lag_p50']:.2f} s (p90 "
                    f"{ph['report_lag_p90']:.2f}); steady seen "
                    f"{ph['steady_seen_after_last_running']:.2f} s after the last RUNNING"
                )
        r = sim.get("replacement")
        if r:
            print(
                f"  StopTask -> replacement RUNNING in a {r['service_tasks']:,}-task service: "
                f"p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms (n={r['n']}); phases p50: "
                + ", ".join(f"{k} {v:.0f} ms" for k, v in r["phases_p50_ms"].items())
            )
        if sim.get("log_findings"):
            print(f"  log findings: {sim['log_findings']}")
        noisy = {
            name: run["other_cpu_percent_of_one_core"]
            for name, run in sim["runs"].items()
            if run.get("other_cpu_percent_of_one_core", 0) > NOISE_PERCENT
        }
        if noisy:
            print(
                "  warning: other processes used "
                + ", ".join(f"{v:.0f}% of a core during {k}" for k, v in noisy.items())
                + ": those figures are skewed; rerun on an idle machine"
            )
    if dock:
        print(
            f"\nReal Docker (portside up): docker kill -> replacement RUNNING p50 "
            f"{dock['p50_ms']:.0f} ms, p95 {dock['p95_ms']:.0f} ms, max {dock['max_ms']:.0f} ms "
            f"(n={dock['n']}, polled every {dock['poll_ms']:.0f} ms)"
        )
        for k, v in dock["phases_p50_ms"].items():
            print(f"    {k:38s} p50 {v:8.1f} ms")
        if dock.get("log_findings"):
            print(f"  log findings: {dock['log_findings']}")


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in ("portside", "botocore", "uvicorn", "starlette", "orjson", "docker"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return None


# =============================================================================================
# Main
# =============================================================================================


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--part", choices=("all", "sim", "docker"), default="all")
    p.add_argument("--instances", type=int, default=1000, help="simulated instances")
    p.add_argument(
        "--scale",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1000, ECS_MAX_TASKS_PER_SERVICE],
        help="the two scale-ups, e.g. 1000,5000 (the first is also rolled out)",
    )
    p.add_argument("--kills", type=int, default=10, help="replacements measured, each part")
    p.add_argument("--warmup-kills", type=int, default=1, help="docker: unmeasured kills first")
    p.add_argument("--poll", type=float, default=100.0, help="DescribeServices poll, ms")
    p.add_argument("--docker-poll", type=float, default=10.0, help="docker: task poll, ms")
    p.add_argument("--settle", type=float, default=1.0, help="docker: seconds between kills")
    p.add_argument(
        "--profile", action="store_true", help="py-spy the server and the sim (sim part)"
    )
    p.add_argument("--quick", action="store_true", help="200 instances, 200/1,000 tasks, 3 kills")
    p.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.quick:
        args.instances, args.scale, args.kills = 200, [200, 1000], min(args.kills, 3)
    if len(args.scale) != 2:
        p.error("--scale takes two counts")
    if args.kills < 1:
        p.error("--kills must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = load_average()
    if load_at_start[0] > 1.0:
        print(
            f"warning: the machine is not idle (load average {load_at_start}); other jobs "
            "skew the figures",
            file=sys.stderr,
        )
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-services-"))
    started = time.monotonic()
    sim: dict[str, Any] | None = None
    dock: dict[str, Any] | None = None
    failed = True
    try:
        if args.part in ("all", "sim"):
            print(f"sim part: portside server + portside sim --instances {args.instances}")
            sim = run_sim(args, workdir)
        if args.part in ("all", "docker"):
            print("docker part: portside up --driver docker")
            dock = run_docker(args, workdir)
        failed = False
    finally:
        if failed or args.keep:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    load_at_end = load_average()

    rows = verdicts(sim, dock)
    print()
    print_table(rows)
    print_details(sim, dock)
    if sim:
        for name, run in sim["runs"].items():
            for who, profile in (run.get("profile") or {}).items():
                print_profile(profile, f"{who} profile, {name}")
    missed = [r["figure"] for r in rows if r["met"] is False]
    if missed:
        print(f"\nmissed: {'; '.join(missed)}")
    if load_at_start[0] > 1.0 or load_at_end[0] > 1.5:
        print(f"warning: load average {load_at_start} at start, {load_at_end} at the end")

    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        write_results(output, args, sim, dock, rows, elapsed, load_at_start, load_at_end)
    return 1 if args.check and missed else 0


def write_results(
    output: Path,
    args: argparse.Namespace,
    sim: dict[str, Any] | None,
    dock: dict[str, Any] | None,
    rows: list[dict[str, Any]],
    elapsed: float,
    load_at_start: list[float],
    load_at_end: list[float],
) -> None:
    """Write the results; a part run alone keeps the other part's section of the file."""
    previous: dict[str, Any] = {}
    if output.exists() and args.part != "all":
        with contextlib.suppress(ValueError):
            previous = json.loads(output.read_text())
    document = {
        "benchmark": "services",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": load_at_end,
        },
        "versions": versions(),
        "settings": {
            "part": args.part,
            "instances": args.instances,
            "scale": args.scale,
            "kills": args.kills,
            "poll_ms": args.poll,
            "docker_poll_ms": args.docker_poll,
            "profiled": args.profile,
            "memory_mib": MEMORY_MIB,
            "health_check": HEALTH_CHECK,
            "deployment_configuration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "elapsed_s": round(elapsed, 1),
        },
        "references": {
            "ecs_launches_per_minute_per_service": ECS_LAUNCHES_PER_MIN,
            "ecs_max_tasks_per_service": ECS_MAX_TASKS_PER_SERVICE,
        },
        "targets_s": TARGETS_S,
        "sim": sim if sim is not None else previous.get("sim"),
        "docker": dock if dock is not None else previous.get("docker"),
        "table": verdicts(
            sim if sim is not None else previous.get("sim"),
            dock if dock is not None else previous.get("docker"),
        )
        if previous
        else rows,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    sys.exit(main())

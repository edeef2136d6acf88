#!/usr/bin/env python3
"""Task start and stop latency: Portside's RunTask and StopTask against `docker run` and
`docker stop` of the same image on the same Docker Engine, in the same run.

`portside up --driver docker` (control plane + local agent, fresh data directory) is started
here; the baseline talks to the same Engine directly. Measurements are interleaved (one
Portside task, one Docker SDK container, one `docker` CLI container, the order rotating each
round), so a load change on the machine hits every side alike.

- start: RunTask -> the first DescribeTasks (polled every --poll ms) showing RUNNING, against
  Docker SDK create + start + reload until running (what `containers.run(detach=True)`
  does) and the wall time of `docker run -d`. Image: a local FROM-scratch busybox, `sleep
  3600`, memory 32 MiB; the containers stay up until the end.
- stop: StopTask -> the first DescribeTasks showing STOPPED, against `container.stop()` and
  `docker stop`, on containers whose shell traps SIGTERM and exits (within ~0.1 s).

    .venv/bin/python bench/task_start.py            # n = 30 of each, ~2 minutes
    .venv/bin/python bench/task_start.py --quick    # n = 5, writes nothing

Prints p50/p95 of each side, the difference and the ratio, and where Portside's time goes
(from the task's createdAt, pullStartedAt, pullStoppedAt, startedAt, stoppingAt,
executionStoppedAt and stoppedAt, and Docker's own Created/StartedAt/FinishedAt); writes
bench/results/task_start.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
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
    running,
)
from signed import ApiError as EcsError
from signed import Ecs

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "task_start.json"

REGION = "us-east-1"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CLUSTER = "default"  # the cluster `portside up` registers its agent in
METADATA_PORT = 51680  # the agent's task metadata endpoint (fixed in `portside up`)

TARGET_START_OVERHEAD_MS = 150.0  # RunTask->RUNNING p50 <= docker run p50 + this
MEMORY_MIB = 32
STOP_TIMEOUT_S = 30  # ECS's default stopTimeout, which Portside passes to docker stop
SLEEP_COMMAND = ["sleep", "3600"]
TRAP_COMMAND = ["sh", "-c", 'trap "exit 0" TERM; while true; do sleep 0.1; done']
START_FAMILY = "bench-task-start"
STOP_FAMILY = "bench-task-stop"
LABEL_MANAGED = "io.portside.managed"
LABEL_INSTANCE = "io.portside.instance-arn"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
LABEL_BENCH = "io.portside.bench"  # on the baseline's containers: task_start-<run id>
SETTLE_S = 0.3  # pause between a container coming up and stopping it, on every side
TASK_TIMEOUT_S = 60.0


# -- a signed ECS client ----------------------------------------------------------------------


# -- samples ----------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured start or stop. `ms` is what the table reports; `phases` (ms) says where
    the time went; `at` is the epoch time the operation was sent."""

    ms: float
    at: float
    phases: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def docker_time(value: str | None) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds, UTC) as epoch seconds."""
    if not value or value.startswith("0001-"):
        return None
    value = value.rstrip("Z")
    main, _, frac = value.partition(".")
    base = dt.datetime.fromisoformat(main).replace(tzinfo=dt.UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def _ms(later: float | None, earlier: float | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) * 1000.0


def _phases(pairs: Sequence[tuple[str, float | None, float | None]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, later, earlier in pairs:
        value = _ms(later, earlier)
        if value is not None:
            out[name] = round(value, 3)
    return out


def _epoch(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# -- Portside -------------------------------------------------------------------------------


class Portside:
    def __init__(self, ecs: Ecs, client: Any, poll_s: float, run_id: str) -> None:
        self.ecs = ecs
        self.client = client
        self.poll_s = poll_s
        self.run_id = run_id
        self.task_arns: list[str] = []
        self._tokens = 0

    def register(self, image: str) -> None:
        for family, command in ((START_FAMILY, SLEEP_COMMAND), (STOP_FAMILY, TRAP_COMMAND)):
            self.ecs.call(
                "RegisterTaskDefinition",
                family=family,
                containerDefinitions=[
                    {
                        "name": "main",
                        "image": image,
                        "memory": MEMORY_MIB,
                        "essential": True,
                        "command": command,
                    }
                ],
            )

    def _wait_for(self, arn: str, statuses: set[str], sent: float) -> tuple[dict[str, Any], int]:
        """Poll DescribeTasks every poll_s until lastStatus is in `statuses`; return the task
        and the number of polls."""
        describe = self.ecs.sign("DescribeTasks", {"cluster": CLUSTER, "tasks": [arn]})
        polls = 0
        while True:
            t = time.perf_counter()
            tasks = self.ecs.send(describe).get("tasks") or []
            polls += 1
            if tasks:
                task = tasks[0]
                if task["lastStatus"] in statuses:
                    return task, polls
                if task["lastStatus"] == "STOPPED":
                    raise EcsError(f"task {arn} stopped: {task.get('stoppedReason')}")
            if t - sent > TASK_TIMEOUT_S:
                raise EcsError(f"task {arn} not {'/'.join(statuses)} in {TASK_TIMEOUT_S:.0f} s")
            left = self.poll_s - (time.perf_counter() - t)
            if left > 0:
                time.sleep(left)

    def start(self, family: str) -> tuple[Sample, str]:
        """RunTask, then poll until RUNNING. Returns the sample and the task ARN."""
        self._tokens += 1
        raw = self.ecs.sign(
            "RunTask",
            {
                "cluster": CLUSTER,
                "taskDefinition": family,
                "count": 1,
                "launchType": "EC2",
                "clientToken": f"{self.run_id}-{self._tokens}",
            },
        )
        at = time.time()
        t0 = time.perf_counter()
        out = self.ecs.send(raw)
        acked = time.perf_counter()
        if out.get("failures") or not out.get("tasks"):
            raise EcsError(f"RunTask failed: {out.get('failures')}")
        arn = out["tasks"][0]["taskArn"]
        self.task_arns.append(arn)
        task, polls = self._wait_for(arn, {"RUNNING"}, t0)
        t1 = time.perf_counter()
        created = started = None
        runtime_id = (task.get("containers") or [{}])[0].get("runtimeId")
        if runtime_id:
            state = self.client.api.inspect_container(runtime_id)
            created = docker_time(state.get("Created"))
            started = docker_time(state["State"].get("StartedAt"))
        seen = at + (t1 - t0)
        sample = Sample(
            ms=(t1 - t0) * 1000.0,
            at=at,
            phases=_phases(
                [
                    ("api: RunTask sent -> createdAt", _epoch(task.get("createdAt")), at),
                    (
                        "dispatch: createdAt -> pullStartedAt",
                        _epoch(task.get("pullStartedAt")),
                        _epoch(task.get("createdAt")),
                    ),
                    (
                        "pull: pullStartedAt -> pullStoppedAt",
                        _epoch(task.get("pullStoppedAt")),
                        _epoch(task.get("pullStartedAt")),
                    ),
                    (
                        "create: pullStoppedAt -> docker Created",
                        created,
                        _epoch(task.get("pullStoppedAt")),
                    ),
                    ("start: docker Created -> docker StartedAt", started, created),
                    (
                        "report: docker StartedAt -> startedAt",
                        _epoch(task.get("startedAt")),
                        started,
                    ),
                    (
                        "observe: startedAt -> client sees RUNNING",
                        seen,
                        _epoch(task.get("startedAt")),
                    ),
                ]
            ),
            info={"ack_ms": round((acked - t0) * 1000.0, 3), "polls": polls},
        )
        return sample, arn

    def stop(self, arn: str) -> Sample:
        raw = self.ecs.sign("StopTask", {"cluster": CLUSTER, "task": arn, "reason": "bench"})
        at = time.time()
        t0 = time.perf_counter()
        self.ecs.send(raw)
        acked = time.perf_counter()
        task, polls = self._wait_for(arn, {"STOPPED"}, t0)
        t1 = time.perf_counter()
        finished = None
        runtime_id = (task.get("containers") or [{}])[0].get("runtimeId")
        if runtime_id:
            state = self.client.api.inspect_container(runtime_id)
            finished = docker_time(state["State"].get("FinishedAt"))
        seen = at + (t1 - t0)
        stopping = _epoch(task.get("stoppingAt"))
        exec_stopped = _epoch(task.get("executionStoppedAt"))
        stopped = _epoch(task.get("stoppedAt"))
        return Sample(
            ms=(t1 - t0) * 1000.0,
            at=at,
            phases=_phases(
                [
                    ("api: StopTask sent -> stoppingAt", stopping, at),
                    ("stop: stoppingAt -> docker FinishedAt", finished, stopping),
                    # The agent sets both executionStoppedAt and stoppedAt when it finishes.
                    ("finish: FinishedAt -> executionStoppedAt", exec_stopped, finished),
                    ("report+observe: stoppedAt -> client sees STOPPED", seen, stopped),
                ]
            ),
            info={
                "ack_ms": round((acked - t0) * 1000.0, 3),
                "polls": polls,
                "exit_code": (task.get("containers") or [{}])[0].get("exitCode"),
            },
        )


# -- the Docker baseline ----------------------------------------------------------------------


class Baseline:
    """The same image and command straight on the Engine, through the Docker SDK (create,
    start, reload until running: what `containers.run(detach=True)` does) and through the
    `docker` CLI. Every container carries LABEL_BENCH=task_start-<run id>."""

    def __init__(self, client: Any, image: str, run_id: str) -> None:
        self.client = client
        self.image = image
        self.labels = {LABEL_BENCH: f"task_start-{run_id}"}

    def _wait_status(self, container: Any, status: str) -> None:
        deadline = time.perf_counter() + TASK_TIMEOUT_S
        while container.status != status:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"container {container.id[:12]} not {status}")
            container.reload()

    def sdk_start(self, command: list[str]) -> tuple[Sample, Any]:
        at = time.time()
        t0 = time.perf_counter()
        container = self.client.containers.create(
            self.image, command, mem_limit=f"{MEMORY_MIB}m", labels=self.labels
        )
        t_created = time.perf_counter()
        container.start()
        t_started = time.perf_counter()
        container.reload()
        self._wait_status(container, "running")
        t1 = time.perf_counter()
        state = container.attrs
        created = docker_time(state.get("Created"))
        started = docker_time(state["State"].get("StartedAt"))
        return (
            Sample(
                ms=(t1 - t0) * 1000.0,
                at=at,
                phases={
                    "create call": round((t_created - t0) * 1000.0, 3),
                    "start call": round((t_started - t_created) * 1000.0, 3),
                    "reload until running": round((t1 - t_started) * 1000.0, 3),
                    **_phases([("daemon: Created -> StartedAt", started, created)]),
                },
            ),
            container,
        )

    def cli_start(self, command: list[str]) -> tuple[Sample, str]:
        label = next(iter(self.labels.items()))
        argv = ["docker", "run", "-d", "--memory", f"{MEMORY_MIB}m"]
        argv += ["--label", f"{label[0]}={label[1]}", self.image, *command]
        at = time.time()
        t0 = time.perf_counter()
        out = subprocess.run(argv, check=True, capture_output=True, text=True)
        t1 = time.perf_counter()
        cid = out.stdout.strip()
        state = self.client.api.inspect_container(cid)
        if state["State"]["Status"] != "running":
            raise RuntimeError(f"docker run -d: {cid[:12]} is {state['State']['Status']}")
        return Sample(ms=(t1 - t0) * 1000.0, at=at), cid

    def sdk_stop(self, container: Any) -> Sample:
        at = time.time()
        t0 = time.perf_counter()
        container.stop(timeout=STOP_TIMEOUT_S)
        returned = at + (time.perf_counter() - t0)
        container.reload()
        self._wait_status(container, "exited")
        t1 = time.perf_counter()
        finished = docker_time(container.attrs["State"].get("FinishedAt"))
        return Sample(
            ms=(t1 - t0) * 1000.0,
            at=at,
            phases=_phases(
                [
                    ("daemon: sent -> FinishedAt", finished, at),
                    ("daemon: FinishedAt -> stop call returns", returned, finished),
                ]
            ),
            info={"exit_code": container.attrs["State"].get("ExitCode")},
        )

    def cli_stop(self, cid: str) -> Sample:
        at = time.time()
        t0 = time.perf_counter()
        subprocess.run(
            ["docker", "stop", "-t", str(STOP_TIMEOUT_S), cid], check=True, capture_output=True
        )
        t1 = time.perf_counter()
        state = self.client.api.inspect_container(cid)["State"]
        return Sample(ms=(t1 - t0) * 1000.0, at=at, info={"exit_code": state.get("ExitCode")})

    def cleanup(self) -> int:
        found = self.client.api.containers(
            all=True, filters={"label": f"{LABEL_BENCH}={self.labels[LABEL_BENCH]}"}
        )
        for c in found:
            with contextlib.suppress(docker.errors.APIError):
                self.client.api.remove_container(c["Id"], force=True, v=True)
        return len(found)


# -- setting up -------------------------------------------------------------------------------


def busybox(client: Any) -> str:
    """The local FROM-scratch busybox image of the e2e tests (built once, then cached)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e.images import busybox_image, busybox_path

    if busybox_path() is None:
        raise RuntimeError("no static busybox: run scripts/ensure-test-deps.sh (busybox-static)")
    return str(busybox_image(client))


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def wait_port_free(port: int, timeout: float) -> None:
    """The agent binds the task metadata endpoint on METADATA_PORT; another agent (a test, a
    `portside up`) holding it would stop ours from starting."""
    deadline = time.monotonic() + timeout
    if not port_free(port):
        print(f"waiting up to {timeout:.0f} s for port {port} to be free ...", file=sys.stderr)
    while not port_free(port):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"port {port} (the agent's task metadata endpoint) is in use by another "
                "process; stop it (another `portside up` or agent test?) and rerun"
            )
        time.sleep(1.0)


def portside_up(workdir: Path) -> Server:
    port = free_port()
    env = base_env()
    env.update(PORTSIDE_ACCESS_KEY_ID=ACCESS_KEY, PORTSIDE_SECRET_ACCESS_KEY=SECRET_KEY)
    return Server(
        name="portside",
        argv=[
            str(BIN / "portside"),
            "up",
            "--data-dir",
            str(workdir / "portside-data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--driver",
            "docker",
        ],
        port=port,
        log_path=workdir / "portside.log",
        env=env,
        ready_path="/_portside/health",
    )


def wait_for_agent(ecs: Ecs, server: Server, timeout: float = 60.0) -> list[str]:
    """Until the local agent's instance is registered and connected; its ARNs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(EcsError):
            arns = ecs.call("ListContainerInstances", cluster=CLUSTER).get("containerInstanceArns")
            if arns:
                described = ecs.call(
                    "DescribeContainerInstances", cluster=CLUSTER, containerInstances=arns
                )
                connected = [
                    i["containerInstanceArn"]
                    for i in described.get("containerInstances") or ()
                    if i.get("agentConnected") and i.get("status") == "ACTIVE"
                ]
                if connected:
                    return connected
        if server.proc is not None and server.proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(
        f"the local agent did not register in {timeout:.0f} s (is port {METADATA_PORT} "
        f"taken?):\n{server.log_tail()}"
    )


def agent_instance_arns(data_dir: Path) -> set[str]:
    """The agent's instance ARNs from its state file, for cleanup when the API is gone."""
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((data_dir / "agent" / "instance.json").read_text())
        return {str(v) for k, v in saved.items() if k in ("containerInstanceArn", "fargateArn")}
    return set()


def remove_portside_containers(client: Any, instances: set[str], tasks: set[str]) -> int:
    """Remove the containers our agent made: managed, and of our instances or our tasks."""
    removed = 0
    for c in client.api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=true"}):
        labels = c.get("Labels") or {}
        if labels.get(LABEL_INSTANCE) in instances or labels.get(LABEL_TASK_ARN) in tasks:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_container(c["Id"], force=True, v=True)
                removed += 1
    return removed


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Results:
    start: dict[str, list[Sample]] = field(
        default_factory=lambda: {"portside": [], "docker_sdk": [], "docker_cli": []}
    )
    stop: dict[str, list[Sample]] = field(
        default_factory=lambda: {"portside": [], "docker_sdk": [], "docker_cli": []}
    )


def measure(portside: Portside, baseline: Baseline, n: int, warmup: int, progress: bool) -> Results:
    """`warmup` unmeasured rounds, then `n` measured rounds. Each round starts one `sleep
    3600` container on every side (kept running), then starts one trap container on every
    side and stops it; the order of the sides rotates each round."""
    results = Results()
    sides = ("portside", "docker_sdk", "docker_cli")

    def start(side: str, for_stop: bool) -> tuple[Sample, Any]:
        if side == "portside":
            return portside.start(STOP_FAMILY if for_stop else START_FAMILY)
        command = TRAP_COMMAND if for_stop else SLEEP_COMMAND
        if side == "docker_sdk":
            return baseline.sdk_start(command)
        return baseline.cli_start(command)

    stoppers: dict[str, Callable[[Any], Sample]] = {
        "portside": portside.stop,
        "docker_sdk": baseline.sdk_stop,
        "docker_cli": baseline.cli_stop,
    }
    for i in range(warmup + n):
        measured = i >= warmup
        order = sides[i % 3 :] + sides[: i % 3]
        for side in order:
            sample, _ = start(side, for_stop=False)
            if measured:
                results.start[side].append(sample)
        for side in order:
            _, handle = start(side, for_stop=True)
            time.sleep(SETTLE_S)
            sample = stoppers[side](handle)
            if measured:
                results.stop[side].append(sample)
        if progress:
            label = f"round {i - warmup + 1}/{n}" if measured else f"warm-up {i + 1}/{warmup}"
            last = (
                "  ".join(f"{s} {results.start[s][-1].ms:.0f}" for s in sides) if measured else ""
            )
            print(f"  {label}  start ms: {last}", flush=True)
    return results


# -- report -----------------------------------------------------------------------------------


def stats(samples: Sequence[Sample]) -> dict[str, Any]:
    values = sorted(s.ms for s in samples)
    if not values:
        return {"n": 0}
    third = max(1, len(samples) // 3)
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "mean_ms": round(statistics.fmean(values), 2),
        "min_ms": round(values[0], 2),
        "max_ms": round(values[-1], 2),
        # A drift over the run (e.g. from the containers piling up) shows here.
        "p50_first_third_ms": round(statistics.median(s.ms for s in samples[:third]), 2),
        "p50_last_third_ms": round(statistics.median(s.ms for s in samples[-third:]), 2),
    }


def phase_stats(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    names: list[str] = []
    for s in samples:
        names += [k for k in s.phases if k not in names]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        values = sorted(s.phases[name] for s in samples if name in s.phases)
        out[name] = {
            "p50_ms": round(percentile(values, 50), 2),
            "p95_ms": round(percentile(values, 95), 2),
            "mean_ms": round(statistics.fmean(values), 2),
        }
    return out


def info_stats(samples: Sequence[Sample], key: str) -> dict[str, float] | None:
    values = sorted(float(s.info[key]) for s in samples if s.info.get(key) is not None)
    if not values:
        return None
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}


def comparisons(summary: dict[str, Any], results: Results) -> list[dict[str, Any]]:
    """One row per (operation, baseline). `paired_diff_p50_ms` is the median over rounds of
    Portside minus the baseline in the same round: less sensitive to load that comes and
    goes than the difference of the two medians."""
    rows = []
    for op, peer_op in (("start", "docker run"), ("stop", "docker stop")):
        p = summary[op]["portside"]
        for peer, how in (("docker_sdk", "SDK"), ("docker_cli", "CLI")):
            d = summary[op][peer]
            if not p.get("n") or not d.get("n"):
                continue
            ours, theirs = getattr(results, op)["portside"], getattr(results, op)[peer]
            paired = statistics.median(a.ms - b.ms for a, b in zip(ours, theirs, strict=True))
            rows.append(
                {
                    "operation": op,
                    "baseline": f"{peer_op} ({how})",
                    "portside_p50_ms": p["p50_ms"],
                    "portside_p95_ms": p["p95_ms"],
                    "docker_p50_ms": d["p50_ms"],
                    "docker_p95_ms": d["p95_ms"],
                    "diff_p50_ms": round(p["p50_ms"] - d["p50_ms"], 2),
                    "diff_p95_ms": round(p["p95_ms"] - d["p95_ms"], 2),
                    "paired_diff_p50_ms": round(paired, 2),
                    "ratio_p50": round(p["p50_ms"] / d["p50_ms"], 2),
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        "",
        "portside p50",
        "p95",
        "docker p50",
        "p95",
        "diff p50 ms",
        "diff p95 ms",
        "paired diff p50",
        "ratio p50",
    )
    table = [head]
    for r in rows:
        name = (
            "RunTask->RUNNING" if r["operation"] == "start" else "StopTask->STOPPED"
        ) + f" vs {r['baseline']}"
        table.append(
            (
                name,
                f"{r['portside_p50_ms']:.0f} ms",
                f"{r['portside_p95_ms']:.0f} ms",
                f"{r['docker_p50_ms']:.0f} ms",
                f"{r['docker_p95_ms']:.0f} ms",
                f"{r['diff_p50_ms']:+.0f}",
                f"{r['diff_p95_ms']:+.0f}",
                f"{r['paired_diff_p50_ms']:+.0f}",
                f"{r['ratio_p50']:.2f}x",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print(
            "  ".join(
                c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
            )
        )


def print_phases(title: str, phases: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    width = max((len(k) for k in phases), default=0)
    for name, v in phases.items():
        print(f"  {name.ljust(width)}  p50 {v['p50_ms']:8.1f} ms   p95 {v['p95_ms']:8.1f} ms")


def versions(client: Any) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for package in ("portside", "docker", "botocore", "uvicorn"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    with contextlib.suppress(Exception):
        engine = client.version()
        out["docker_engine"] = str(engine.get("Version"))
        out["containerd"] = next(
            (
                str(c.get("Version"))
                for c in engine.get("Components") or ()
                if c["Name"] == "containerd"
            ),
            "",
        )
    with contextlib.suppress(Exception):
        out["docker_cli"] = subprocess.run(
            ["docker", "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    return out


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("-n", "--n", type=int, default=30, help="measured rounds (each side)")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first")
    p.add_argument("--poll", type=float, default=10.0, help="DescribeTasks poll interval, ms")
    p.add_argument("--quick", action="store_true", help="n = 5, 1 warm-up; writes nothing")
    p.add_argument("--port-wait", type=float, default=120.0, help=f"wait for :{METADATA_PORT}")
    p.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, data)")
    p.add_argument("--check", action="store_true", help="exit 1 when the target is not met")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.warmup = min(args.n, 5), min(args.warmup, 1)
    if args.n < 1:
        p.error("-n must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = docker.from_env()
    try:
        client.ping()
    except Exception as exc:
        print(f"no Docker Engine answers ({exc}); run scripts/ensure-docker.sh", file=sys.stderr)
        return 2
    image = busybox(client)
    load_at_start = load_average()
    if load_at_start[0] > 0.5:
        print(
            f"warning: the machine is not idle (load average {load_at_start}); other jobs "
            "skew the figures",
            file=sys.stderr,
        )
    run_id = secrets.token_hex(4)
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-start-"))
    server = portside_up(workdir)
    baseline = Baseline(client, image, run_id)
    portside: Portside | None = None
    instances: set[str] = set()
    failed = True
    started = time.monotonic()
    try:
        wait_port_free(METADATA_PORT, args.port_wait)
        with running([server]):
            ecs = Ecs(server.port)
            try:
                instances.update(wait_for_agent(ecs, server))
                instances |= agent_instance_arns(workdir / "portside-data")
                portside = Portside(ecs, client, args.poll / 1000.0, run_id)
                portside.register(image)
                print(
                    f"portside up on :{server.port}, agent {sorted(instances)[0].rsplit('/')[-1]}"
                    f"; image {image}; {args.warmup} warm-up + {args.n} rounds",
                    flush=True,
                )
                results = measure(portside, baseline, args.n, args.warmup, progress=True)
            finally:
                ecs.close()
        failed = False
    finally:
        instances |= agent_instance_arns(workdir / "portside-data")
        tasks = set(portside.task_arns) if portside is not None else set()
        removed = remove_portside_containers(client, instances, tasks)
        removed += baseline.cleanup()
        print(f"removed {removed} containers", file=sys.stderr)
        if failed or args.keep:
            print(f"log and data kept in {workdir}", file=sys.stderr)
            print(f"--- portside log tail ---\n{server.log_tail(2000)}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started

    summary = {
        op: {side: stats(samples) for side, samples in getattr(results, op).items()}
        for op in ("start", "stop")
    }
    rows = comparisons(summary, results)
    breakdown = {
        "start": {
            "portside": phase_stats(results.start["portside"]),
            "docker_sdk": phase_stats(results.start["docker_sdk"]),
        },
        "stop": {
            "portside": phase_stats(results.stop["portside"]),
            "docker_sdk": phase_stats(results.stop["docker_sdk"]),
        },
    }
    extras = {
        "start_runtask_answer_ms": info_stats(results.start["portside"], "ack_ms"),
        "start_polls": info_stats(results.start["portside"], "polls"),
        "stop_stoptask_answer_ms": info_stats(results.stop["portside"], "ack_ms"),
        "stop_polls": info_stats(results.stop["portside"], "polls"),
    }
    start_p50 = summary["start"]["portside"]["p50_ms"]
    sdk_p50 = summary["start"]["docker_sdk"]["p50_ms"]
    cli_p50 = summary["start"]["docker_cli"]["p50_ms"]
    met_sdk = start_p50 <= sdk_p50 + TARGET_START_OVERHEAD_MS
    met_cli = start_p50 <= cli_p50 + TARGET_START_OVERHEAD_MS

    print()
    print_table(rows)
    print_phases("Portside RunTask -> RUNNING, by phase:", breakdown["start"]["portside"])
    print_phases("Docker SDK start, by phase:", breakdown["start"]["docker_sdk"])
    print_phases("Portside StopTask -> STOPPED, by phase:", breakdown["stop"]["portside"])
    print_phases("Docker SDK stop, by phase:", breakdown["stop"]["docker_sdk"])
    for key, value in extras.items():
        if value is not None:
            print(f"  {key}: p50 {value['p50']:.1f}, p95 {value['p95']:.1f}")
    s = summary["start"]["portside"]
    print(
        f"\nPortside start p50 over the run: first third {s['p50_first_third_ms']:.0f} ms, "
        f"last third {s['p50_last_third_ms']:.0f} ms"
    )
    print(
        f"Target: RunTask->RUNNING p50 <= docker run p50 + {TARGET_START_OVERHEAD_MS:.0f} ms: "
        f"{start_p50:.0f} vs {sdk_p50:.0f} + {TARGET_START_OVERHEAD_MS:.0f} (SDK): "
        f"{'met' if met_sdk else 'NOT MET'}; vs {cli_p50:.0f} + "
        f"{TARGET_START_OVERHEAD_MS:.0f} (CLI): {'met' if met_cli else 'NOT MET'}"
    )
    load_at_end = load_average()
    if load_at_start[0] > 0.5 or load_at_end[0] > 1.5:
        print(f"warning: load average {load_at_start} at start, {load_at_end} at the end")

    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        document = {
            "benchmark": "task_start",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                **machine(),
                "load_average_at_start": load_at_start,
                "load_average_at_end": load_at_end,
            },
            "versions": versions(client),
            "settings": {
                "n": args.n,
                "warmup_rounds": args.warmup,
                "poll_interval_ms": args.poll,
                "image": f"{image} (FROM scratch, static busybox)",
                "start_command": SLEEP_COMMAND,
                "stop_command": TRAP_COMMAND,
                "memory_mib": MEMORY_MIB,
                "stop_timeout_s": STOP_TIMEOUT_S,
                "settle_before_stop_s": SETTLE_S,
                "portside": "portside up --driver docker, fresh data dir (SQLite), launchType EC2, "
                "bridge network; DescribeTasks polled over one keep-alive connection with "
                "requests SigV4-signed once per task",
                "docker_sdk": "containers.create + start + reload until running; "
                "container.stop(timeout) + reload until exited",
                "docker_cli": "wall time of `docker run -d` / `docker stop -t`",
                "order": "interleaved: each round runs every side once, order rotating",
                "elapsed_s": round(elapsed, 1),
            },
            "results": summary,
            "comparison": rows,
            "breakdown": breakdown,
            "portside_client_side": extras,
            "targets": {
                "start_p50_overhead_ms_max": TARGET_START_OVERHEAD_MS,
                "start_p50_overhead_ms_vs_sdk": round(start_p50 - sdk_p50, 2),
                "start_p50_overhead_ms_vs_cli": round(start_p50 - cli_p50, 2),
                "met_vs_sdk": met_sdk,
                "met_vs_cli": met_cli,
            },
            "samples_ms": {
                op: {side: [round(x.ms, 2) for x in samples] for side, samples in d.items()}
                for op, d in (("start", results.start), ("stop", results.stop))
            },
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    if args.check and not met_sdk:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

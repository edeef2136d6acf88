#!/usr/bin/env python3
"""awslogs ingest and GetLogEvents latency.

Ingest: one container writes N lines as fast as busybox's shell can (`echo line $i` in a
loop) with the awslogs driver; `portside agent --driver docker` ships them into the log store
of a `portside server` (both subprocesses here, as an operator runs them). In the same run,
`docker logs --follow` reads the same container: the baseline. Each side's rate is N lines
over the time from the container's start (Docker's StartedAt) to the moment it has the last
line (for Portside: GetLogEvents, polled every 10 ms, shows it). Then every stored event is
read back: lines lost and lines duplicated are counted (target: 0 lost, rate >= half of
`docker logs`').

GetLogEvents: a stream of --events events (default 1,000,000) written with PutLogEvents in
10,000-event batches, then GetLogEvents latency (client-side, one keep-alive connection,
requests signed before the clock starts): pages of 100 events paging forward (startFromHead,
nextForwardToken) and backward (nextBackwardToken) from random depths of the stream, and
full default pages (up to 10,000 events / 1 MB). Target: p99 < 50 ms for the 100-event pages.

    .venv/bin/python bench/logs.py            # 300,000 lines, 1,000,000 events (~3 minutes)
    .venv/bin/python bench/logs.py --quick    # 50,000 lines, 100,000 events, writes nothing

Prints the figures and the ratio; writes bench/results/logs.json (full runs, or --output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
import docker.errors
from api_throughput import (
    ACCESS_KEY,
    BIN,
    REGION,
    ROOT,
    SECRET_KEY,
    Server,
    base_env,
    free_port,
    load_average,
    machine,
    percentile,
    portside_server,
)
from signed import ECS, LOGS, ApiError, Client
from task_start import busybox, docker_time

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "logs.json"
LABEL_INSTANCE = "io.portside.instance-arn"
LABEL_TASK_ARN = "com.amazonaws.ecs.task-arn"
PUT_BATCH = 10_000
PAGE = 100
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def ecs_client(server: Server) -> Client:
    return Client(server.port, "ecs", ECS)


def logs_client(server: Server) -> Client:
    return Client(server.port, "logs", LOGS)


# -- ingest ---------------------------------------------------------------------------------


def agent_process(server: Server, workdir: Path, cluster: str) -> Server:
    env = base_env()
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
    )
    return Server(
        name="agent",
        argv=[
            str(BIN / "portside"),
            "agent",
            "--endpoint",
            f"http://127.0.0.1:{server.port}",
            "--cluster",
            cluster,
            "--driver",
            "docker",
            "--state-dir",
            str(workdir / "agent"),
            "--metadata-port",
            str(free_port()),
        ],
        port=server.port,  # ready once the server answers; registration is awaited below
        log_path=workdir / "agent.log",
        env=env,
        ready_path="/_portside/health",
    )


def wait_until(pred: Any, timeout: float, what: str, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


class DockerFollow:
    """`docker logs --follow` on a container, counting lines until the last one arrives."""

    def __init__(self, runtime_id: str, last: bytes) -> None:
        self.last = last
        self.lines = 0
        self.done_at: float | None = None
        self.proc = subprocess.Popen(
            ["docker", "logs", "--follow", runtime_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        tail = b""
        while chunk := self.proc.stdout.read1(1 << 16):
            self.lines += chunk.count(b"\n")
            tail = (tail + chunk)[-64:]
            if self.done_at is None and tail.endswith(self.last + b"\n"):
                self.done_at = time.time()

    def wait(self, timeout: float) -> None:
        self.thread.join(timeout)
        with contextlib.suppress(Exception):
            self.proc.kill()


def read_stream(logs: Client, group: str, stream: str) -> list[str]:
    """Every message of a stream, forward pages of up to 10,000 events."""
    out: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token:
            params["nextToken"] = token
        page = logs.call("GetLogEvents", **params)
        out += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def measure_ingest(server: Server, workdir: Path, lines: int) -> dict[str, Any]:
    client = docker.from_env()
    image = busybox(client)
    ecs, logs = ecs_client(server), logs_client(server)
    cluster = "bench-logs-" + uuid.uuid4().hex[:6]
    ecs.call("CreateCluster", clusterName=cluster)
    agent = agent_process(server, workdir, cluster)
    agent.start()
    instances: set[str] = set()
    try:
        wait_until(
            lambda: ecs.call("ListContainerInstances", cluster=cluster)["containerInstanceArns"],
            60,
            "the agent to register",
            0.2,
        )
        instances = set(
            ecs.call("ListContainerInstances", cluster=cluster)["containerInstanceArns"]
        )
        group = "/bench/logs-" + uuid.uuid4().hex[:6]
        script = f"i=0; while [ $i -lt {lines} ]; do echo line $i; i=$((i+1)); done"
        td = ecs.call(
            "RegisterTaskDefinition",
            family="bench-logs",
            containerDefinitions=[
                {
                    "name": "writer",
                    "image": image,
                    "memory": 64,
                    "command": ["sh", "-c", script],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": group,
                            "awslogs-region": REGION,
                            "awslogs-create-group": "true",
                            "awslogs-stream-prefix": "bench",
                        },
                    },
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        arn = ecs.call("RunTask", cluster=cluster, taskDefinition=td)["tasks"][0]["taskArn"]
        stream = f"bench/writer/{arn.rsplit('/', 1)[1]}"
        runtime_id = wait_until(
            lambda: next(
                (
                    c["Id"]
                    for c in client.api.containers(
                        all=True, filters={"label": f"{LABEL_TASK_ARN}={arn}"}
                    )
                ),
                None,
            ),
            60,
            "the container",
            0.002,
        )
        # `docker logs --follow` on a container not started yet returns at once.
        wait_until(
            lambda: client.api.inspect_container(runtime_id)["State"]["Status"] != "created",
            60,
            "the container to start",
            0.002,
        )
        last = f"line {lines - 1}"
        follow = DockerFollow(runtime_id, last.encode())

        def shipped_last() -> bool:
            with contextlib.suppress(ApiError):
                page = logs.call(
                    "GetLogEvents",
                    logGroupName=group,
                    logStreamName=stream,
                    startFromHead=False,
                    limit=1,
                )
                return bool(page["events"]) and page["events"][-1]["message"] == last
            return False

        wait_until(shipped_last, 300, "Portside to store the last line")
        portside_done = time.time()
        follow.wait(60)
        state = client.api.inspect_container(runtime_id)["State"]
        started = docker_time(state["StartedAt"])
        finished = docker_time(state["FinishedAt"])
        assert started is not None and follow.done_at is not None
        got = read_stream(logs, group, stream)
        want = {f"line {i}" for i in range(lines)}
        present = want.intersection(got)
        lost = len(want) - len(present)
        duplicated = len(got) - len(set(got))
        in_order = got == [f"line {i}" for i in range(lines)]
        portside_s = portside_done - started
        docker_s = follow.done_at - started
        return {
            "lines": lines,
            "writer_seconds": round((finished or 0) - started, 3) if finished else None,
            "portside_seconds": round(portside_s, 3),
            "docker_logs_seconds": round(docker_s, 3),
            "portside_lines_per_s": round(lines / portside_s),
            "docker_logs_lines_per_s": round(lines / docker_s),
            "docker_logs_lines_read": follow.lines,
            "ratio": round(docker_s / portside_s, 3),
            "lost": lost,
            "duplicated": duplicated,
            "stored": len(got),
            "in_order": in_order,
        }
    except BaseException:
        print(agent.log_tail(), file=sys.stderr)
        raise
    finally:
        agent.stop()
        for c in client.api.containers(all=True, filters={"label": "io.portside.managed=true"}):
            if (c.get("Labels") or {}).get(LABEL_INSTANCE) in instances:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_container(c["Id"], force=True, v=True)


# -- GetLogEvents ---------------------------------------------------------------------------


def fill_stream(logs: Client, group: str, stream: str, events: int) -> dict[str, Any]:
    logs.call("CreateLogGroup", logGroupName=group)
    logs.call("CreateLogStream", logGroupName=group, logStreamName=stream)
    base = int(time.time() * 1000) - events // 10 - 60_000  # ten events per millisecond
    started = time.perf_counter()
    for first in range(0, events, PUT_BATCH):
        batch = [
            {"timestamp": base + i // 10, "message": f"event {i:07d} " + "x" * 60}
            for i in range(first, min(events, first + PUT_BATCH))
        ]
        logs.call("PutLogEvents", logGroupName=group, logStreamName=stream, logEvents=batch)
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


def timed(logs: Client, raw: bytes) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    page = logs.send(raw)
    return (time.perf_counter() - t) * 1000.0, page


def measure_get(
    logs: Client, group: str, stream: str, events: int, samples: int, rng: random.Random
) -> dict[str, Any]:
    base_page = logs.call(
        "GetLogEvents", logGroupName=group, logStreamName=stream, startFromHead=True, limit=1
    )
    base = base_page["events"][0]["timestamp"]
    span = events // 10
    out: dict[str, Any] = {}
    for direction in ("forward", "backward"):
        times: list[float] = []
        while len(times) < samples:
            # A random depth, then pages through it, as a reader scrolling does.
            start = base + rng.randrange(span)
            params: dict[str, Any] = {
                "logGroupName": group,
                "logStreamName": stream,
                "limit": PAGE,
                "startFromHead": direction == "forward",
            }
            params["startTime" if direction == "forward" else "endTime"] = start
            ms, page = timed(logs, logs.sign("GetLogEvents", params))
            times.append(ms)
            assert page["events"], page
            for _ in range(9):
                key = "nextForwardToken" if direction == "forward" else "nextBackwardToken"
                params = {
                    "logGroupName": group,
                    "logStreamName": stream,
                    "limit": PAGE,
                    "nextToken": page[key],
                }
                ms, page = timed(logs, logs.sign("GetLogEvents", params))
                times.append(ms)
        times.sort()
        out[f"page{PAGE}_{direction}"] = _latency(times)
    full: list[float] = []
    for _ in range(max(10, samples // 20)):
        params = {
            "logGroupName": group,
            "logStreamName": stream,
            "startTime": base + rng.randrange(span),
            "startFromHead": True,
        }
        ms, page = timed(logs, logs.sign("GetLogEvents", params))
        full.append(ms)
    full.sort()
    out["default_page_forward"] = _latency(full) | {"events_per_page": len(page["events"])}
    return out


def _latency(sorted_ms: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(sorted_ms),
        "p50_ms": round(percentile(sorted_ms, 50), 2),
        "p99_ms": round(percentile(sorted_ms, 99), 2),
        "max_ms": round(sorted_ms[-1], 2),
    }


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lines", type=int, default=300_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=1000, help="GetLogEvents calls per direction")
    p.add_argument("--quick", action="store_true", help="small sizes; writes nothing")
    p.add_argument("--output", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.lines, args.events, args.samples = 50_000, 100_000, 200
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-logs-"))
    server = portside_server(workdir)
    server.start()
    try:
        print(f"ingest: {args.lines:,} lines from one container ...", file=sys.stderr)
        ingest = measure_ingest(server, workdir, args.lines)
        logs = logs_client(server)
        group, stream = "/bench/get", "big"
        print(f"filling a stream with {args.events:,} events ...", file=sys.stderr)
        fill = fill_stream(logs, group, stream, args.events)
        print("GetLogEvents latency ...", file=sys.stderr)
        get = measure_get(logs, group, stream, args.events, args.samples, random.Random(7))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"awslogs ingest, {ingest['lines']:,} lines from one container (busybox echo loop)")
    print(f"  {'reader':<22}{'seconds':>10}{'lines/s':>12}")
    print(
        f"  {'portside (stored)':<22}{ingest['portside_seconds']:>10.2f}"
        f"{ingest['portside_lines_per_s']:>12,}"
    )
    print(
        f"  {'docker logs --follow':<22}{ingest['docker_logs_seconds']:>10.2f}"
        f"{ingest['docker_logs_lines_per_s']:>12,}"
    )
    print(
        f"  ratio (portside / docker logs) {ingest['ratio']:.2f} (target >= {TARGET_RATIO}); "
        f"lost {ingest['lost']}, duplicated {ingest['duplicated']}, in order: {ingest['in_order']}"
    )
    print(
        f"\nGetLogEvents on a stream of {fill['events']:,} events "
        f"(filled at {fill['events_per_s']:,} events/s by PutLogEvents)"
    )
    for name, row in get.items():
        print(f"  {name:<24} p50 {row['p50_ms']:>7.2f} ms   p99 {row['p99_ms']:>7.2f} ms")
    worst = max(get[f"page{PAGE}_forward"]["p99_ms"], get[f"page{PAGE}_backward"]["p99_ms"])
    ok = ingest["ratio"] >= TARGET_RATIO and ingest["lost"] == 0 and worst < TARGET_P99_MS
    print(f"\ntargets {'met' if ok else 'NOT met'}")
    result = {
        "benchmark": "logs",
        "ingest": ingest,
        "fill": fill,
        "get_log_events": get,
        "targets": {
            "ratio_min": TARGET_RATIO,
            "lost": 0,
            "p99_ms_max": TARGET_P99_MS,
            "met": ok,
        },
        "machine": machine(),
        "load_average": load_average(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

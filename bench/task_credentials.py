#!/usr/bin/env python3
"""Issue 17's benchmark: the task credentials endpoint's requests/s and p99, from inside a
task, against baselines in the same run.

One `portside server` and one `portside agent --driver docker` (fresh state, a cluster of
their own) run a task (the e2e tests' FROM-scratch busybox, awsvpc unless --network-mode)
whose role trusts ecs-tasks.amazonaws.com. The client runs in the task's network namespace
(`nsenter --net=/proc/<its container's pid>/ns/net`, from the host, so the task's image needs
no Python): --workers processes, each with one keep-alive HTTP/1.1 connection, one request
at a time (closed loop), as an SDK's container provider asks. Three targets, each measured
in every round, in an order that rotates each round (load from elsewhere hits them all):

    credentials  GET http://169.254.170.2/v2/credentials/<id>, as the SDKs ask: the task's
                 packets DNATed to the agent's listener on the task network's gateway
    static       the ECS-agent-like baseline: the same JSON document, static, served by a
                 plain Python http.server (ThreadingHTTPServer, HTTP/1.1) on the same gateway
                 address, reached over the same bridge without the DNAT
    metadata     the agent's own task metadata route, GET $ECS_CONTAINER_METADATA_URI_V4/task
                 (same listener as the credentials, no DNAT)

Prints requests/s, p50/p99 per target and the ratios credentials/static and
credentials/metadata (median of the per-round ratios); writes
bench/results/task-credentials.json (full runs, or with --output).

    .venv/bin/python bench/task_credentials.py             # ~2 minutes
    .venv/bin/python bench/task_credentials.py --quick     # a smoke run, writes nothing

Needs root (nsenter, the agent's nat rules) and a Docker Engine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "task-credentials.json"
TARGETS = ("credentials", "static", "metadata")
LINK_LOCAL = "169.254.170.2"


# -- the probe: runs in the task's network namespace (stdlib only, so it starts fast) --------


class _Conn:
    """One keep-alive HTTP/1.1 connection; bodies with Content-Length only (every target
    here sends one)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end].lower(), self.buf[end + 4 :]
        at = head.find(b"\r\ncontent-length:")
        eol = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : eol if eol >= 0 else len(head)])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(head[9:12]), body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk


def probe(host: str, port: int, path: str, host_header: str, start: float, duration: float) -> None:
    """Requests until `start` (warm-up), then measured until `start + duration`; prints
    {"latencies_us", "errors", "sample"}."""
    raw = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: probe\r\n\r\n".encode()
    conn = _Conn(host, port)
    status, body = conn.get(raw)
    sample = body.decode(errors="replace")[:400] if status != 200 else ""
    latencies: list[int] = []
    errors = 0
    end = start + duration
    clock = time.perf_counter
    offset = time.time() - clock()  # start/end are wall-clock (shared by the processes)
    start_pc, end_pc = start - offset, end - offset
    while (now := clock()) < end_pc:
        try:
            status, _ = conn.get(raw)
        except (OSError, ValueError):
            errors += 1
            conn = _Conn(host, port)
            continue
        after = clock()
        if now >= start_pc:
            if status == 200:
                latencies.append(int((after - now) * 1e6))
            else:
                errors += 1
    json.dump({"latencies_us": latencies, "errors": errors, "sample": sample}, sys.stdout)


# -- the run --------------------------------------------------------------------------------


def percentile(ordered: Sequence[int], p: float) -> float:
    if not ordered:
        return float("nan")
    return float(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))])


def measure(
    pid: int, target: tuple[str, int, str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """--workers probes in the namespace of `pid`, started together."""
    host, port, path, host_header = target
    start = time.time() + args.warmup + 0.3 * args.workers  # after each probe has started
    argv = [
        "nsenter",
        f"--net=/proc/{pid}/ns/net",
        "--",
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe",
        json.dumps([host, port, path, host_header, start, args.duration]),
    ]
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(args.workers)
    ]
    latencies: list[int] = []
    errors = 0
    for proc in procs:
        out, err = proc.communicate(timeout=args.duration + args.warmup + 60)
        if proc.returncode != 0:
            raise RuntimeError(f"probe failed ({proc.returncode}): {err.decode()[-2000:]}")
        got = json.loads(out)
        if got["sample"]:
            raise RuntimeError(f"{host}:{port}{path} answered: {got['sample']}")
        latencies += got["latencies_us"]
        errors += got["errors"]
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / args.duration, 1),
        "p50_ms": round(percentile(latencies, 50) / 1000, 3),
        "p99_ms": round(percentile(latencies, 99) / 1000, 3),
    }


class _Static:
    """The baseline: a static JSON document from Python's http.server, in a thread."""

    def __init__(self, address: str, document: bytes) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    import statistics
    import uuid

    import docker
    from aws_query import query_client
    from e2e.conftest import AgentProcess
    from e2e.images import busybox_image
    from harness import ServerProcess, free_port

    from portside.agent.credentials import routing
    from portside.agent.driver import LABEL_CONTAINER, LABEL_TASK_ARN

    client = docker.from_env()
    server = ServerProcess(workdir / "server", free_port()).start()
    cluster = "credbench" + uuid.uuid4().hex[:8]
    agent: AgentProcess | None = None
    static: _Static | None = None
    try:
        ecs = server.client()
        ecs.create_cluster(clusterName=cluster)
        agent = AgentProcess(server, cluster, workdir / cluster).start()
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam = query_client(server, "iam")
        role = iam.create_role(RoleName=cluster, AssumeRolePolicyDocument=json.dumps(trust))
        sleep = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
        container = {"name": "app", "image": busybox_image(client), "memory": 32, "command": sleep}
        td = ecs.register_task_definition(
            family=cluster,
            containerDefinitions=[container],
            taskRoleArn=role["Role"]["Arn"],
            networkMode=args.network_mode,
        )["taskDefinition"]["taskDefinitionArn"]
        extra: dict[str, Any] = {}
        if args.network_mode == "awsvpc":
            vpc = {"subnets": ["subnet-0bench"], "securityGroups": ["sg-0bench"]}
            extra["networkConfiguration"] = {"awsvpcConfiguration": vpc}
        arn = ecs.run_task(cluster=cluster, taskDefinition=td, **extra)["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 60
        while ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] != (
            "RUNNING"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the task did not start:\n{agent.log()[-3000:]}")
            time.sleep(0.2)
        found = client.containers.list(
            filters={"label": [f"{LABEL_TASK_ARN}={arn}", f"{LABEL_CONTAINER}=app"]}
        )[0]
        env = dict(e.split("=", 1) for e in found.attrs["Config"]["Env"])
        pid = int(found.attrs["State"]["Pid"])
        meta = env["ECS_CONTAINER_METADATA_URI_V4"]  # http://<gateway>:<port>/v4/<token>
        gateway, port = meta.split("/")[2].split(":")
        relative = env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]

        # The baseline serves what the endpoint answers (same shape, same size).
        code, out = found.exec_run(["wget", "-qO-", f"http://{LINK_LOCAL}{relative}"])
        first = out.decode()
        assert code == 0, first
        assert json.loads(first)["RoleArn"] == role["Role"]["Arn"], first
        static = _Static(gateway, first.encode())
        targets = {
            "credentials": (LINK_LOCAL, 80, relative, LINK_LOCAL),
            "static": (gateway, static.port, relative, f"{gateway}:{static.port}"),
            "metadata": (gateway, int(port), meta.split(port, 1)[1] + "/task", f"{gateway}:{port}"),
        }
        rounds: list[dict[str, Any]] = []
        for r in range(args.rounds):
            order = TARGETS[r % 3 :] + TARGETS[: r % 3]
            got = {name: measure(pid, targets[name], args) for name in order}
            rounds.append(got)
            line = "  ".join(
                f"{n} {got[n]['requests_per_s']:7.0f}/s p99 {got[n]['p99_ms']:6.2f} ms"
                for n in TARGETS
            )
            print(f"  round {r + 1}/{args.rounds}: {line}", flush=True)
        ecs.stop_task(cluster=cluster, task=arn)
    finally:
        if static is not None:
            static.close()
        if agent is not None:
            agent.close()
            routing.remove(routing.owner_of(agent.state_dir))
        server.close()

    summary: dict[str, Any] = {}
    for name in TARGETS:
        per = [r[name] for r in rounds]
        summary[name] = {
            "requests_per_s": round(statistics.median(p["requests_per_s"] for p in per), 1),
            "p50_ms": round(statistics.median(p["p50_ms"] for p in per), 3),
            "p99_ms": round(statistics.median(p["p99_ms"] for p in per), 3),
            "errors": sum(p["errors"] for p in per),
        }
    for base in ("static", "metadata"):
        summary[f"ratio_credentials_over_{base}"] = round(
            statistics.median(
                r["credentials"]["requests_per_s"] / r[base]["requests_per_s"] for r in rounds
            ),
            3,
        )
    return {"rounds": rounds, "summary": summary}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--probe", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=4, help="client processes (connections)")
    p.add_argument("--duration", type=float, default=4.0, help="measured s per target, round")
    p.add_argument("--warmup", type=float, default=0.5, help="unmeasured s before each")
    p.add_argument("--rounds", type=int, default=5, help="rounds; the targets' order rotates")
    p.add_argument("--network-mode", default="awsvpc", choices=("awsvpc", "bridge"))
    p.add_argument("--quick", action="store_true", help="small counts; writes nothing")
    p.add_argument("--output", type=Path, help=f"results file (default {DEFAULT_OUTPUT})")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.workers = 1.0, 1, 2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        host, port, path, host_header, start, duration = json.loads(args.probe)
        probe(host, int(port), path, host_header, float(start), float(duration))
        return 0
    import datetime as dt
    import shutil
    import tempfile

    sys.path.insert(0, str(ROOT / "bench"))
    from host import load_average, machine
    from load_balancer import short_commit

    if os.geteuid() != 0:
        print("needs root (nsenter, the agent's nat rules)", file=sys.stderr)
        return 2
    load_at_start = load_average()
    commit, dirty = short_commit()
    workdir = Path(tempfile.mkdtemp(prefix="portside-bench-credentials-"))
    print(
        f"task credentials: {args.workers} workers, {args.rounds} rounds of "
        f"{args.duration:.0f} s per target ({args.network_mode})",
        flush=True,
    )
    failed = True
    try:
        result = _run(args, workdir)
        failed = False
    finally:
        if failed or args.keep:
            print(f"logs and data kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    s = result["summary"]
    print("\nfrom inside the task (median of rounds):")
    for name in TARGETS:
        t = s[name]
        print(
            f"  {name:12} {t['requests_per_s']:8.0f} requests/s  p50 {t['p50_ms']:6.2f} ms  "
            f"p99 {t['p99_ms']:6.2f} ms  errors {t['errors']}"
        )
    print(
        f"  credentials/static {s['ratio_credentials_over_static']:.2f}x, "
        f"credentials/metadata {s['ratio_credentials_over_metadata']:.2f}x"
    )
    if args.quick and args.output is None:
        return 0
    out = {
        "benchmark": "task-credentials",
        "commit": commit,
        "dirty": dirty,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": load_average(),
        },
        "settings": {
            "workers": args.workers,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "network_mode": args.network_mode,
        },
        **result,
    }
    path = args.output or DEFAULT_OUTPUT
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

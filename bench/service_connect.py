#!/usr/bin/env python3
"""Service Connect (issue 15): the proxy a client task reaches `http://backend:8080` through,
against the same client straight to the task; how soon a task that turned RUNNING gets
Service Connect traffic; failed requests through a rolling deployment of the backend.

One `portside up --driver docker` (its own data dir), a VPC and subnet of a random
10.x.y.0/24 (a security group admitting 8080 from the VPC), an HTTP Cloud Map namespace, a
`backend` service (awsvpc, busybox httpd answering its own address on `/`, a port mapping
named `http`, Service Connect alias `backend:8080`) and a `frontend` client service (one
task, `sleep`). The proxy's listener is at the frontend's network gateway (the address its
/etc/hosts gives `backend`): the clients here run on the host against that address, which is
the frontend task's own path without the hop from its network namespace to the bridge.

1. throughput: `wrk` (Debian's), the same threads, connections and duration on both sides,
   straight to the one backend task's address and through the proxy (`--rounds` rounds, the
   order alternating). busybox httpd answers `Connection: close`: straight, every request is
   a connection and a fork; through the proxy wrk keeps its connections and HAProxy makes
   one per request to the task. Reported: requests/s, p99, and the proxy/direct ratio.
2. registration: `--registrations` times the backend is scaled up by one; from the new
   task's `startedAt` (DescribeTasks: when its agent said RUNNING) to the first answer from
   its address through the proxy (new connections, polled every 5 ms).
3. deploy: the backend at `--tasks` (3), minimumHealthyPercent 100, maximumPercent 200; the
   load balancer bench's open-loop paced client sends `--rate` (200) requests/s through the
   proxy from before UpdateService(forceNewDeployment) until the old tasks are STOPPED.
   Failure: any answer but 200, or a connection error or timeout.

Writes bench/results/service-connect-<commit>.json. Goals (issue 15): proxy >= 0.8x direct,
RUNNING -> traffic p99 <= 1 s, 0 failed requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from host import machine
from load_balancer import _closed, _percentile, aws_client, run_wrk, short_commit
from services import DOCKER_CLUSTER, portside_up, wait_for_agent
from signed import Ecs
from task_start import agent_instance_arns, busybox, remove_portside_containers

RESULTS = Path(__file__).resolve().parent / "results"
HEALTHY_AFTER_RUNNING = 40.0  # controllers/services/rolling.py
BACKEND_COMMAND = [
    "sh",
    "-c",
    "mkdir -p /w && ifconfig eth0 | sed -n 's/.*inet addr:\\([0-9.]*\\).*/\\1/p' > /w/index.html"
    " && exec httpd -f -p 8080 -h /w",
]


def wait_until(check: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def get(host: str, port: int, timeout: float = 2.0) -> str | None:
    """GET / on a new connection: the body, or None on any failure."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: backend:{port}\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return body.decode().strip() if b" 200 " in head.split(b"\r\n", 1)[0] + b" " else None


class Setup:
    def __init__(self, endpoint: str, image: str) -> None:
        self.ecs = aws_client("ecs", endpoint)
        self.ec2 = aws_client("ec2", endpoint)
        self.sd = aws_client("servicediscovery", endpoint)
        self.sd.meta.config.inject_host_prefix = False
        second, third = random.randrange(100, 250), random.randrange(0, 250)
        vpc = self.ec2.create_vpc(CidrBlock=f"10.{second}.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second}.{third}.0/24")
        group = self.ec2.create_security_group(
            GroupName="sc-" + uuid.uuid4().hex[:8], Description="bench", VpcId=vpc
        )["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=group,
            IpProtocol="tcp",
            FromPort=8080,
            ToPort=8080,
            CidrIp=f"10.{second}.0.0/16",
        )
        self.network = {
            "awsvpcConfiguration": {
                "subnets": [subnet["Subnet"]["SubnetId"]],
                "securityGroups": [group],
            }
        }
        self.namespace = "bench" + uuid.uuid4().hex[:6]
        op = self.sd.create_http_namespace(Name=self.namespace)["OperationId"]
        wait_until(
            lambda: self.sd.get_operation(OperationId=op)["Operation"]["Status"] == "SUCCESS",
            10,
            "the namespace",
        )
        web = {
            "name": "web",
            "image": image,
            "memory": 32,
            "command": BACKEND_COMMAND,
            "stopTimeout": 2,
            "portMappings": [{"name": "http", "containerPort": 8080}],
        }
        front = {"name": "front", "image": image, "memory": 32, "command": ["sleep", "86400"]}
        self.backend_td = self._register([web])
        front_td = self._register([front])
        self._service(
            "backend",
            self.backend_td,
            1,
            [
                {
                    "portName": "http",
                    "discoveryName": "backend",
                    "clientAliases": [{"port": 8080, "dnsName": "backend"}],
                }
            ],
        )
        self._service("frontend", front_td, 1, None)

    def _register(self, containers: list[dict[str, Any]]) -> str:
        out = self.ecs.register_task_definition(
            family="sc-bench-" + uuid.uuid4().hex[:6],
            containerDefinitions=containers,
            networkMode="awsvpc",
        )
        return str(out["taskDefinition"]["taskDefinitionArn"])

    def _service(self, name: str, td: str, count: int, services: Any) -> None:
        connect: dict[str, Any] = {"enabled": True, "namespace": self.namespace}
        if services:
            connect["services"] = services
        self.ecs.create_service(
            cluster=DOCKER_CLUSTER,
            serviceName=name,
            taskDefinition=td,
            desiredCount=count,
            networkConfiguration=self.network,
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
            serviceConnectConfiguration=connect,
        )

    def running(self, service: str) -> list[dict[str, Any]]:
        arns = self.ecs.list_tasks(cluster=DOCKER_CLUSTER, serviceName=service)["taskArns"]
        if not arns:
            return []
        tasks = self.ecs.describe_tasks(cluster=DOCKER_CLUSTER, tasks=arns)["tasks"]
        return [
            t for t in tasks if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING"
        ]

    def scale(self, count: int) -> None:
        self.ecs.update_service(cluster=DOCKER_CLUSTER, service="backend", desiredCount=count)


def address(task: dict[str, Any]) -> str:
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    return str(details["privateIPv4Address"])


def gateway_of(docker_client: Any, task: dict[str, Any]) -> str:
    """The address the frontend's /etc/hosts gives `backend` (its network's gateway)."""
    container = docker_client.containers.get(task["containers"][0]["runtimeId"])
    code, out = container.exec_run(["grep", "backend", "/etc/hosts"])
    if code != 0:
        raise RuntimeError("the frontend has no `backend` in its /etc/hosts")
    return str(out.decode().split()[0])


def throughput(setup: Setup, proxy: str, args: argparse.Namespace) -> dict[str, Any]:
    (task,) = wait_until(lambda: setup.running("backend"), 60, "one backend")
    direct = address(task)
    wait_until(lambda: get(proxy, 8080) == direct, 10, "the proxy answering")
    rounds = []
    for i in range(args.rounds):
        order = ["direct", "proxy"] if i % 2 == 0 else ["proxy", "direct"]
        out: dict[str, Any] = {}
        for side in order:
            host = direct if side == "direct" else proxy
            out[side] = run_wrk(f"http://{host}:8080/", args)
        rounds.append(out)
        print(
            f"  round {i + 1}: direct {out['direct']['requests_per_s']:.0f}/s, proxy "
            f"{out['proxy']['requests_per_s']:.0f}/s",
            flush=True,
        )

    def med(side: str, key: str) -> float:
        return float(statistics.median(r[side].get(key) or 0.0 for r in rounds))

    ratios = [r["proxy"]["requests_per_s"] / r["direct"]["requests_per_s"] for r in rounds]
    # Latency from a client whose figures hold (the load balancer bench's closed-loop asyncio
    # client: `connections` keep-alive connections, each sending as soon as it has its
    # answer), the same on both sides.
    closed = {
        side: asyncio.run(_closed(host, 8080, args.connections, args.duration))
        for side, host in (("direct", direct), ("proxy", proxy))
    }
    for r in rounds:
        for side in ("direct", "proxy"):
            # Little's law: wrk's mean latency cannot exceed connections / throughput by
            # much; when it does, its latency histogram is not to be believed.
            implied = args.connections / r[side]["requests_per_s"] * 1000
            r[side]["little_mean_ms"] = round(implied, 2)
            r[side]["wrk_latency_consistent"] = r[side].get("latency_avg_ms", 0) <= implied * 1.1
    return {
        "wrk": {"threads": args.threads, "connections": args.connections, "seconds": args.duration},
        "direct": {
            "requests_per_s": med("direct", "requests_per_s"),
            "p99_ms": med("direct", "latency_p99_ms"),
        },
        "proxy": {
            "requests_per_s": med("proxy", "requests_per_s"),
            "p99_ms": med("proxy", "latency_p99_ms"),
        },
        "ratio_median": round(statistics.median(ratios), 3),
        "latency_note": "wrk's latency figures are checked with Little's law per round "
        "(wrk_latency_consistent); a round failing it has a latency histogram that cannot be "
        "right, and its p99 is not a figure",
        "goal": ">= 0.8",
        "closed_client": closed,
        "rounds": rounds,
    }


def registration(setup: Setup, proxy: str, args: argparse.Namespace) -> dict[str, Any]:
    delays = []
    count = 1
    for _ in range(args.registrations):
        before = {t["taskArn"] for t in setup.running("backend")}
        count += 1
        setup.scale(count)
        new = wait_until(
            lambda before=before: [
                t for t in setup.running("backend") if t["taskArn"] not in before
            ],
            60,
            "the new task RUNNING",
            every=0.02,
        )[0]
        target = address(new)
        wait_until(
            lambda target=target: get(proxy, 8080, 1.0) == target,
            20,
            "traffic to it",
            every=0.005,
        )
        reached = time.time()
        delays.append(reached - new["startedAt"].timestamp())
        print(f"  RUNNING -> traffic {delays[-1] * 1000:.0f} ms", flush=True)
    setup.scale(1)
    delays.sort()
    return {
        "samples": len(delays),
        "p50_ms": round(_percentile(delays, 50) * 1000, 1),
        "p99_ms": round(_percentile(delays, 99) * 1000, 1),
        "max_ms": round(delays[-1] * 1000, 1),
        "goal": "p99 <= 1000 ms",
        "measured": "DescribeTasks startedAt (the agent's RUNNING) to the first answer from the "
        "task's address through the proxy (GET on new connections every 5 ms)",
    }


def deploy(setup: Setup, proxy: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    setup.scale(args.tasks)
    tasks = wait_until(
        lambda: (found := setup.running("backend")) and len(found) == args.tasks and found,
        120,
        "the tasks",
        every=0.5,
    )
    # A task with no health check counts toward minimumHealthyPercent once RUNNING 40 s
    # (controllers/services/rolling.py, as ECS): wait for that, or the deployment may stop
    # old tasks that do not count yet before their replacements run.
    newest = max(t["startedAt"].timestamp() for t in tasks)
    time.sleep(max(0.0, newest + HEALTHY_AFTER_RUNNING + 2 - time.time()))
    old = {t["taskArn"] for t in tasks}
    client_argv = [sys.executable, str(Path(__file__).resolve().parent / "load_balancer.py")]
    client_argv += ["--paced-client", f"{proxy}:8080", "--rate", str(args.rate)]
    with (workdir / "paced.log").open("ab") as err:
        client = subprocess.Popen(
            client_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        time.sleep(args.settle)
        began = time.monotonic()
        setup.ecs.update_service(cluster=DOCKER_CLUSTER, service="backend", forceNewDeployment=True)

        def done() -> bool:
            running = setup.running("backend")
            gone = setup.ecs.describe_tasks(cluster=DOCKER_CLUSTER, tasks=sorted(old))["tasks"]
            stopped = all(t["lastStatus"] == "STOPPED" for t in gone)
            return stopped and len(running) == args.tasks

        wait_until(done, 300, "the deployment", every=0.25)
        took = time.monotonic() - began
        time.sleep(args.settle)
        out, _ = client.communicate(b"", timeout=60)
    result = json.loads(out)
    failures = result.pop("failures")
    result.pop("targets", None)
    return {
        "tasks": args.tasks,
        "rate_per_s": args.rate,
        "deployment_s": round(took, 2),
        "sent": result["sent"],
        "answered_200": result["answered_200"],
        "failed": len(failures),
        "failure_samples": failures[:5],
        "latency_ms": result.get("latency_ms"),
        "goal": "0 failed",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--registrations", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["throughput", "registration", "deploy"]
    )
    args = parser.parse_args()

    import docker

    client = docker.from_env()
    image = busybox(client)
    workdir = Path(tempfile.mkdtemp(prefix="sc-bench-"))
    data_dir = workdir / "up-data"
    up = portside_up(workdir)
    figures: dict[str, Any] = {}
    try:
        up.start()
        api = Ecs(up.port)
        wait_for_agent(api, up)
        api.close()
        setup = Setup(f"http://127.0.0.1:{up.port}", image)
        (front,) = wait_until(lambda: setup.running("frontend"), 60, "the frontend")
        proxy = gateway_of(client, front)
        print(f"proxy listener {proxy}:8080", flush=True)
        if "throughput" not in args.skip:
            figures["throughput"] = throughput(setup, proxy, args)
        if "registration" not in args.skip:
            figures["registration"] = registration(setup, proxy, args)
        if "deploy" not in args.skip:
            figures["deploy"] = deploy(setup, proxy, workdir, args)
    finally:
        with contextlib.suppress(Exception):
            up.stop()
        remove_portside_containers(client, agent_instance_arns(data_dir), set())
    commit, dirty = short_commit()
    report = {
        "bench": "service_connect",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit + ("-dirty" if dirty else ""),
        "machine": machine(),
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"service-connect-{commit}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "rounds"} for k, v in figures.items()}
    print(json.dumps(summary, indent=2, default=str))
    print(f"written to {path}")


if __name__ == "__main__":
    main()

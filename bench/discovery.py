#!/usr/bin/env python3
"""Cloud Map names through Portside's DNS (issue 15's benchmark): how soon a service task's
address is in its Cloud Map name's answer after the task turns RUNNING, and how soon it is
out of it after StopTask; against, in the same run, the task's own private DNS name (the
awsvpc task records) from the same server.

`portside server` (fresh data directory, its DNS on a free loopback port) and a
`portside sim` fleet (the simulated driver) are started here. A private DNS namespace in the
default VPC, a Cloud Map service `backend` (A records, MULTIVALUE) and an ECS service
(awsvpc) with `serviceRegistries` naming it. The service runs `--per-cycle` tasks (4: with
the replacements of stopped ones, never more than the eight addresses a MULTIVALUE answer
holds, so an address missing from an answer is one that is gone). Each cycle:

- appear: ListTasks + DescribeTasks every `--poll-ms`; from the response that first shows a
  task RUNNING, its service name `backend.<namespace>` (its address among the answers) and
  its privateDnsName (the baseline: any address) are asked every `--probe-ms`, until they
  answer.
- gone: once the cycle's tasks resolve, StopTask on each; from just before the call, the time
  to the first answer of the service name without its address, and to the privateDnsName's
  NXDOMAIN. The service starts replacements: the next cycle's tasks.

Cycles run until `--tasks` tasks have been stopped. Figures: p50/p90/p99 per name and the
ratio Cloud Map / baseline of the p50s and p99s; how many names answered the first query
after RUNNING was seen (they resolved before this script could tell: the figure is then the
probe's own round trip, and at most `--poll-ms` + `--probe-ms` short of the truth); the
StopTask call's own duration, which the gone figures include.

    .venv/bin/python bench/discovery.py            # 60 tasks
    .venv/bin/python bench/discovery.py --quick    # 12 tasks, writes nothing

Writes bench/results/discovery.json (full runs, or with --output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from api_throughput import ACCESS_KEY, REGION, ROOT, SECRET_KEY, free_port, percentile
from host import busy_percent, load_average, machine
from services import SIM_CLUSTER, portside_server, portside_sim, processes
from signed import Ecs


def _dnspython() -> SimpleNamespace:
    """dnspython's modules. This folder holds bench/dns.py and is on sys.path: `dns` is
    imported with the folder left out (and through importlib, so that mypy does not take
    bench/dns.py for it)."""
    here = Path(__file__).resolve().parent
    kept = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        parts = ("message", "rcode", "rdatatype", "version")
        return SimpleNamespace(**{p: importlib.import_module(f"dns.{p}") for p in parts})
    finally:
        sys.path[:] = kept


dnspy = _dnspython()

CLUSTER = SIM_CLUSTER  # the cluster services.portside_sim joins
NAMESPACE = "discovery.bench"
SERVICE = "backend"
APPEAR_GOAL_MS = 1000.0  # issue 15: RUNNING to the name resolving, p99


@dataclass
class TaskTimes:
    arn: str
    address: str
    private_name: str
    running_asked: float  # the DescribeTasks request that first showed it RUNNING was sent
    running_seen: float  # ... and its answer read
    cloudmap_at: float | None = None  # first service-name answer with its address
    private_at: float | None = None  # first answer to its privateDnsName
    stop_sent: float | None = None  # just before its StopTask
    stop_returned: float | None = None  # StopTask answered
    cloudmap_gone: float | None = None  # first service-name answer without its address
    private_gone: float | None = None  # first NXDOMAIN for its privateDnsName
    cloudmap_asks: int = 0  # service-name queries sent while it waited to appear
    private_asks: int = 0  # privateDnsName queries sent while it waited to appear


class Prober(threading.Thread):
    """Every `interval`, asks the service name (when a task waits on it) and each awaited
    privateDnsName, and notes in the tasks' times the first answer each waits for."""

    def __init__(self, address: tuple[str, int], service_name: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.service_name = service_name
        self.interval = interval
        self.lock = threading.Lock()
        self.tasks: list[TaskTimes] = []
        self.stopping = False
        self.queries = 0
        self.most_answers = 0

    def add(self, times: TaskTimes) -> None:
        with self.lock:
            self.tasks.append(times)

    def waiting(self) -> tuple[list[TaskTimes], list[TaskTimes]]:
        """(tasks waiting on the service name, tasks waiting on their private name)."""
        with self.lock:
            tasks = list(self.tasks)
        on_service = [
            t for t in tasks if t.cloudmap_at is None or (t.stop_sent and not t.cloudmap_gone)
        ]
        on_private = [
            t for t in tasks if t.private_at is None or (t.stop_sent and not t.private_gone)
        ]
        return on_service, on_private

    def run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(self.address)
        ident = 0
        while not self.stopping:
            on_service, on_private = self.waiting()
            names = [self.service_name] if on_service else []
            names += sorted({t.private_name for t in on_private})
            with self.lock:
                for t in on_service:
                    t.cloudmap_asks += t.cloudmap_at is None
                for t in on_private:
                    t.private_asks += t.private_at is None
            asked: dict[int, str] = {}
            for name in names:
                ident = (ident + 1) & 0xFFFF
                query = dnspy.message.make_query(name, "A")
                query.id = ident
                asked[ident] = name
                sock.send(query.to_wire())
                self.queries += 1
            deadline = time.monotonic() + self.interval
            while asked and (left := deadline - time.monotonic()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                data = sock.recv(4096)
                now = time.time()
                name = asked.pop(struct.unpack_from("!H", data)[0], "")
                if name:
                    self._answer(name, dnspy.message.from_wire(data), now, on_service, on_private)
            if (left := deadline - time.monotonic()) > 0:
                time.sleep(left)
        sock.close()

    def _answer(
        self,
        name: str,
        reply: Any,
        now: float,
        on_service: list[TaskTimes],
        on_private: list[TaskTimes],
    ) -> None:
        addresses = {
            rdata.to_text()
            for rrset in reply.answer
            if rrset.rdtype == dnspy.rdatatype.A
            for rdata in rrset
        }
        with self.lock:
            if name == self.service_name:
                self.most_answers = max(self.most_answers, len(addresses))
                for t in on_service:
                    if t.cloudmap_at is None and t.address in addresses:
                        t.cloudmap_at = now
                    elif t.cloudmap_at and t.stop_sent and t.address not in addresses:
                        t.cloudmap_gone = now
                return
            for t in on_private:
                if t.private_name != name:
                    continue
                if t.private_at is None and addresses:
                    t.private_at = now
                elif t.private_at and t.stop_sent and reply.rcode() == dnspy.rcode.NXDOMAIN:
                    t.private_gone = now


def latencies_ms(pairs: list[tuple[float | None, float | None]]) -> dict[str, Any]:
    values = sorted(1000 * (b - a) for a, b in pairs if a is not None and b is not None)
    missing = sum(1 for a, b in pairs if a is not None and b is None)
    return {
        "n": len(values),
        "missing": missing,
        "p50": round(percentile(values, 50), 1),
        "p90": round(percentile(values, 90), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(values[-1], 1) if values else None,
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


# -- setting up -----------------------------------------------------------------------------


@dataclass
class Settings:
    tasks: int
    per_cycle: int
    instances: int
    poll_ms: float
    probe_ms: float
    stop_delay_ms: float


def client(service: str, port: int) -> Any:
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, **keys
    )


def cloud_map(port: int) -> tuple[str, list[str]]:
    """The namespace in the default VPC and its service: (service ARN, the VPC's subnets)."""
    ec2, sd = client("ec2", port), client("servicediscovery", port)
    vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    operation = sd.create_private_dns_namespace(Name=NAMESPACE, Vpc=vpc)["OperationId"]
    deadline = time.monotonic() + 30
    while (op := sd.get_operation(OperationId=operation)["Operation"])["Status"] != "SUCCESS":
        if op["Status"] == "FAIL" or time.monotonic() > deadline:
            raise RuntimeError(f"CreatePrivateDnsNamespace: {op}")
        time.sleep(0.1)
    service = sd.create_service(
        Name=SERVICE,
        NamespaceId=op["Targets"]["NAMESPACE"],
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
    )["Service"]
    return str(service["Arn"]), [s["SubnetId"] for s in subnets]


def ecs_service(ecs: Ecs, registry: str, subnets: list[str], count: int) -> None:
    family = ecs.call(
        "RegisterTaskDefinition",
        family="discovery-bench",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.call(
        "CreateService",
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=family,
        desiredCount=count,
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets}},
        serviceRegistries=[{"registryArn": registry}],
    )


def wait_for_fleet(ecs: Ecs, instances: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = ecs.call("ListContainerInstances", cluster=CLUSTER)
        if len(listed["containerInstanceArns"]) >= instances:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the fleet did not register in {timeout} s")


# -- the run --------------------------------------------------------------------------------


def new_running(ecs: Ecs, known: set[str]) -> list[TaskTimes]:
    """The service's tasks DescribeTasks shows RUNNING for the first time."""
    arns = ecs.call("ListTasks", cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
    fresh = [a for a in arns if a not in known]
    if not fresh:
        return []
    asked = time.time()
    tasks = ecs.call("DescribeTasks", cluster=CLUSTER, tasks=fresh)["tasks"]
    seen = time.time()
    found = []
    for task in tasks:
        if task["lastStatus"] != "RUNNING":
            continue
        details = {
            d["name"]: d.get("value")
            for a in task.get("attachments") or ()
            for d in a.get("details") or ()
        }
        known.add(task["taskArn"])
        found.append(
            TaskTimes(
                task["taskArn"],
                str(details["privateIPv4Address"]),
                str(details["privateDnsName"]) + ".",
                asked,
                seen,
            )
        )
    return found


def measure(workdir: Path, settings: Settings) -> dict[str, Any]:
    at_start = {
        "load_average_at_start": load_average(),
        "busy_percent_of_one_core_at_start": round(busy_percent(), 1),
    }
    with processes() as started:
        server = portside_server(workdir)
        dns_port = free_port()
        server.argv += ["--dns-port", str(dns_port)]
        server.start()
        started.append(server)
        ecs = Ecs(server.port)
        ecs.call("CreateCluster", clusterName=CLUSTER)
        sim = portside_sim(workdir, server.port, settings.instances)
        sim.argv += ["--stop-delay-ms", str(settings.stop_delay_ms)]
        sim.start()
        started.append(sim)
        wait_for_fleet(ecs, settings.instances)
        registry, subnets = cloud_map(server.port)

        prober = Prober(
            ("127.0.0.1", dns_port), f"{SERVICE}.{NAMESPACE}.", settings.probe_ms / 1000
        )
        prober.start()
        ecs_service(ecs, registry, subnets, settings.per_cycle)
        known: set[str] = set()
        cycle: list[TaskTimes] = []
        stopped: list[TaskTimes] = []
        deadline = time.monotonic() + 60 + settings.tasks * 5
        while len(stopped) < settings.tasks:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(stopped)} tasks stopped in time")
            for times in new_running(ecs, known):
                prober.add(times)
                cycle.append(times)
            resolved = [t for t in cycle if t.cloudmap_at and t.private_at]
            if len(resolved) >= settings.per_cycle:
                for t in resolved[: settings.per_cycle]:
                    t.stop_sent = time.time()
                    ecs.call("StopTask", cluster=CLUSTER, task=t.arn)
                    t.stop_returned = time.time()
                    stopped.append(t)
                    cycle.remove(t)
            time.sleep(settings.poll_ms / 1000)
        end = time.monotonic() + 30
        while any(t.cloudmap_gone is None or t.private_gone is None for t in stopped):
            if time.monotonic() > end:
                break
            time.sleep(0.05)
        prober.stopping = True
        prober.join(5)

    tasks = prober.tasks
    appear_cm = latencies_ms([(t.running_seen, t.cloudmap_at) for t in tasks])
    appear_base = latencies_ms([(t.running_seen, t.private_at) for t in tasks])
    gone_cm = latencies_ms([(t.stop_sent, t.cloudmap_gone) for t in stopped])
    gone_base = latencies_ms([(t.stop_sent, t.private_gone) for t in stopped])
    return {
        **at_start,
        "appear": {
            "cloud_map_ms": appear_cm,
            "baseline_private_dns_name_ms": appear_base,
            "from_request_sent_ms": latencies_ms([(t.running_asked, t.cloudmap_at) for t in tasks]),
            "at_first_probe": {
                "cloud_map": sum(1 for t in tasks if t.cloudmap_at and t.cloudmap_asks == 1),
                "baseline": sum(1 for t in tasks if t.private_at and t.private_asks == 1),
            },
            "ratio_p50": ratio(appear_cm["p50"], appear_base["p50"]),
            "ratio_p99": ratio(appear_cm["p99"], appear_base["p99"]),
            "goal_p99_ms": APPEAR_GOAL_MS,
            "met": appear_cm["p99"] <= APPEAR_GOAL_MS and not appear_cm["missing"],
        },
        "gone": {
            "cloud_map_ms": gone_cm,
            "baseline_private_dns_name_ms": gone_base,
            "stop_task_call_ms": latencies_ms([(t.stop_sent, t.stop_returned) for t in stopped]),
            "ratio_p50": ratio(gone_cm["p50"], gone_base["p50"]),
            "ratio_p99": ratio(gone_cm["p99"], gone_base["p99"]),
        },
        "probe_queries": prober.queries,
        "most_addresses_in_one_answer": prober.most_answers,
    }


def short_commit() -> str:
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def show(label: str, part: dict[str, Any]) -> None:
    cm, base = part["cloud_map_ms"], part["baseline_private_dns_name_ms"]
    print(
        f"{label}: Cloud Map p50 {cm['p50']} ms p99 {cm['p99']} ms (n {cm['n']}, missing "
        f"{cm['missing']}); privateDnsName p50 {base['p50']} ms p99 {base['p99']} ms "
        f"(n {base['n']}, missing {base['missing']}); ratio p50 {part['ratio_p50']} "
        f"p99 {part['ratio_p99']}"
    )
    if "at_first_probe" in part:
        first = part["at_first_probe"]
        print(
            f"  first probe answered: Cloud Map {first['cloud_map']}, baseline {first['baseline']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=60, help="tasks started and stopped")
    parser.add_argument("--per-cycle", type=int, default=4, help="the service's task count")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--poll-ms", type=float, default=20.0, help="DescribeTasks interval")
    parser.add_argument("--probe-ms", type=float, default=5.0, help="name probing interval")
    parser.add_argument("--stop-delay-ms", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if args.quick:
        args.tasks = 12
    if not 1 <= args.per_cycle <= 4:
        sys.exit("--per-cycle: 1 to 4 (with replacements, at most 8 addresses in an answer)")
    settings = Settings(
        args.tasks,
        args.per_cycle,
        args.instances,
        args.poll_ms,
        args.probe_ms,
        args.stop_delay_ms,
    )
    workdir = Path(tempfile.mkdtemp(prefix="portside-discovery-bench-"))
    try:
        run = measure(workdir, settings)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    show("RUNNING -> resolves", run["appear"])
    show("StopTask -> gone", run["gone"])
    result = {
        "benchmark": "discovery",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": short_commit(),
        "machine": {
            **machine(),
            "load_average_at_start": run.pop("load_average_at_start"),
            "busy_percent_of_one_core_at_start": run.pop("busy_percent_of_one_core_at_start"),
            "load_average_at_end": load_average(),
        },
        "versions": {"dnspython": dnspy.version.version},
        "settings": vars(settings),
        "driver": "simulated (portside sim)",
        "from": "RUNNING: the DescribeTasks answer that first shows it (polled every "
        "poll_ms); gone: just before the StopTask call",
        **run,
    }
    output = args.output or (None if args.quick else ROOT / "bench/results/discovery.json")
    if output is not None:
        output.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {output}")


if __name__ == "__main__":
    main()

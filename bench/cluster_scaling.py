#!/usr/bin/env python3
"""Issue 22's cluster auto scaling benchmark: seconds from a burst of tasks that no instance
can take to all of them RUNNING, while ECS managed scaling grows the Auto Scaling group, against
the seconds the same burst takes on a group already big enough, in the same run; and the
control plane's cost of the reservation metric on a fleet of 10,000 simulated instances.

One `portside server --metric-period P` (P = --period, 1 s by default: the shortened period
tests and demos use; ECS publishes CapacityProviderReservation each minute). Each burst is
a fresh cluster, launch template, group and capacity provider (managed scaling ENABLED,
targetCapacity 100, instanceWarmupPeriod 0), then CreateService with the burst's desired
count; the clock runs from CreateService until the service's runningCount reaches it.

- simulated: `portside-simulated` m5.large hosts, --tasks tasks of 256 CPU units and 512 MiB
  (8 per host: 125 hosts for 1,000). "ready": the group starts at 125 instances, all
  registered and marked as the provider's; "scaled": it starts at 0.
- container hosts (skipped without Docker or docker-registry): `portside-container-host`
  t3.medium hosts, 3 tasks of 3,072 MiB publishing host port 8080 (one per host), their image
  pushed to Portside's ECR and pulled by each host's Engine. "ready": 3 hosts running;
  "scaled": 0, so three hosts start (container, inner Engine, agent) and pull the image.
- reservation cost: a group of --fleet simulated instances (10,000) on a provider with
  managed scaling, a service of --fleet-tasks tasks on it, steady; over --window seconds the
  `managed-scaling` loop's pass time (from /metrics: portside_loop_pass_duration_seconds) and
  the server process's CPU seconds (/proc), per metric period.

    .venv/bin/python bench/cluster_scaling.py            # writes bench/results/
    .venv/bin/python bench/cluster_scaling.py --quick    # 200 tasks, 1,000 instances, no file
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from api_throughput import ROOT
from host import load_average, machine
from load_balancer import short_commit

sys.path.insert(0, str(ROOT / "tests"))
from aws_query import query_client
from harness import ServerProcess

RESULTS = ROOT / "bench" / "results"
SIM_PER_HOST = 8  # m5.large: 2,048 CPU units, 8,192 MiB; a task asks 256 and 512
LOOP = "managed-scaling"


def wait(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


class Clients:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.ecs = server.client()
        self.ec2 = query_client(server, "ec2")
        self.asg = query_client(server, "autoscaling")


def group(c: Clients, name: str) -> dict[str, Any]:
    found = c.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return dict(found["AutoScalingGroups"][0])


def instance_count(c: Clients, cluster: str) -> int:
    pages = c.ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
    return sum(len(p["containerInstanceArns"]) for p in pages)


def marked(c: Clients, cluster: str) -> int:
    """Container instances the managed-scaling loop has marked as its group's."""
    pages = c.ecs.get_paginator("list_attributes").paginate(
        cluster=cluster, targetType="container-instance", attributeName="portside.autoscaling-group"
    )
    return sum(len(p["attributes"]) for p in pages)


def make_fleet(
    c: Clients,
    name: str,
    image_id: str,
    instance_type: str,
    initial: int,
    most: int,
    zones: int = 2,
) -> None:
    """Cluster, launch template, group of `initial` (registered and marked; its minimum
    size too, so that managed scaling does not shrink it while it is idle) and provider."""
    c.ecs.create_cluster(clusterName=name)
    text = f"#!/bin/bash\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\n"
    c.ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": image_id,
            "InstanceType": instance_type,
            "UserData": base64.b64encode(text.encode()).decode(),
        },
    )
    c.asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=initial,
        MaxSize=most,
        DesiredCapacity=initial,
        AvailabilityZones=[f"us-east-1{z}" for z in "abcdef"[:zones]],
        NewInstancesProtectedFromScaleIn=True,
    )
    c.ecs.create_capacity_provider(
        name=name,
        autoScalingGroupProvider={
            "autoScalingGroupArn": group(c, name)["AutoScalingGroupARN"],
            "managedScaling": {
                "status": "ENABLED",
                "targetCapacity": 100,
                "instanceWarmupPeriod": 0,
            },
            "managedTerminationProtection": "ENABLED",
        },
    )
    strategy = [{"capacityProvider": name, "weight": 1}]
    c.ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=[name], defaultCapacityProviderStrategy=strategy
    )
    timeout = 120 + initial * 0.1
    wait(lambda: instance_count(c, name) == initial, timeout, f"{initial} instances", 0.5)
    wait(lambda: marked(c, name) == initial, 60, f"{initial} instances marked", 0.5)


def burst(c: Clients, name: str, tasks: int, container: dict[str, Any]) -> dict[str, Any]:
    """CreateService of `tasks` tasks; seconds until all RUNNING, and the group's steps."""
    c.ecs.register_task_definition(family=name, containerDefinitions=[container])
    start = time.monotonic()
    c.ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=name,
        desiredCount=tasks,
        capacityProviderStrategy=[{"capacityProvider": name, "weight": 1}],
    )
    steps: list[int] = [int(group(c, name)["DesiredCapacity"])]

    def done() -> bool:
        desired = int(group(c, name)["DesiredCapacity"])
        if desired != steps[-1]:
            steps.append(desired)
        service = c.ecs.describe_services(cluster=name, services=[name])["services"][0]
        return bool(service["runningCount"] == tasks)

    wait(done, 600, f"{tasks} tasks RUNNING", 0.2)
    return {"seconds": round(time.monotonic() - start, 2), "group_sizes": steps}


def tear_down(c: Clients, name: str, timeout: float = 120, settle: bool = True) -> None:
    """The burst's service and group gone, its instances terminated (and, with `settle`, gone:
    container hosts must be; simulated ones end with the server anyway)."""
    with contextlib.suppress(Exception):
        c.ecs.update_service(cluster=name, service=name, desiredCount=0)
        c.ecs.delete_service(cluster=name, service=name, force=True)
    with contextlib.suppress(Exception):
        c.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    found = c.ec2.describe_instances(
        Filters=[{"Name": "tag:aws:autoscaling:groupName", "Values": [name]}]
    )
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    for i in range(0, len(ids), 1000):
        c.ec2.terminate_instances(InstanceIds=ids[i : i + 1000])

    def gone() -> bool:
        left = c.ec2.describe_instances(
            Filters=[
                {"Name": "tag:aws:autoscaling:groupName", "Values": [name]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopped",
                                                           "shutting-down"]},
            ]
        )  # fmt: skip
        return not any(r["Instances"] for r in left["Reservations"])

    if settle:
        wait(gone, timeout, f"{name}'s instances terminated", 0.5)


def compare(
    c: Clients,
    label: str,
    image_id: str,
    instance_type: str,
    tasks: int,
    hosts: int,
    container: dict[str, Any],
) -> dict[str, Any]:
    """The same burst on a fleet already big enough, then on one that must grow from 0."""
    out: dict[str, Any] = {"tasks": tasks, "hosts_needed": hosts, "instance_type": instance_type}
    for case, initial in (("ready", hosts), ("scaled", 0)):
        name = f"{label[:2]}{case[:1]}{uuid.uuid4().hex[:8]}"
        try:
            make_fleet(c, name, image_id, instance_type, initial, hosts + 2)
            out[case] = burst(c, name, tasks, container)
        finally:
            tear_down(c, name)
        print(f"{label} {case}: {out[case]['seconds']:.2f} s, group {out[case]['group_sizes']}")
    out["ratio_scaled_to_ready"] = round(out["scaled"]["seconds"] / out["ready"]["seconds"], 2)
    return out


def loop_durations(endpoint: str) -> tuple[float, float]:
    """(passes, busy seconds) of the managed-scaling loop, from /metrics."""
    text = httpx.get(endpoint + "/metrics", timeout=30).text
    found: dict[str, float] = {}
    for suffix in ("count", "sum"):
        pattern = rf'^portside_loop_pass_duration_seconds_{suffix}\{{loop="{LOOP}"\}} (\S+)$'
        match = re.search(pattern, text, re.MULTILINE)
        if match is None:
            raise SystemExit(f"/metrics has no {LOOP} loop durations")
        found[suffix] = float(match.group(1))
    return found["count"], found["sum"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reservation_cost(
    c: Clients, fleet: int, fleet_tasks: int, window: float, period: float
) -> dict[str, Any]:
    """A steady group of `fleet` simulated instances on a managed-scaling provider, a service
    of `fleet_tasks` tasks: what the metric's loop and the whole server spend per period."""
    name = "rc" + uuid.uuid4().hex[:8]
    proc = c.server.proc
    assert proc is not None
    endpoint = c.server.endpoint
    try:
        started = time.monotonic()
        # 4,091 addresses in each default subnet (a /20; us-east-1 has 3): zones enough
        zones = min(3, 1 + fleet // 4000)
        make_fleet(c, name, "portside-simulated", "m5.large", fleet, fleet, zones)
        ready_s = time.monotonic() - started
        if fleet_tasks:
            burst(c, name, fleet_tasks, SIM_CONTAINER)
        passes0, busy0 = loop_durations(endpoint)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(window)
        passes1, busy1 = loop_durations(endpoint)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        periods = (t1 - t0) / period
        passes = passes1 - passes0
        out = {
            "instances": fleet,
            "tasks": fleet_tasks,
            "fleet_registered_s": round(ready_s, 1),
            "window_s": round(t1 - t0, 1),
            "loop_passes": int(passes),
            "loop_pass_mean_s": round((busy1 - busy0) / passes, 4) if passes else None,
            "loop_busy_s_per_period": round((busy1 - busy0) / periods, 4),
            "server_cpu_s_per_period": round((cpu1 - cpu0) / periods, 4),
        }
    finally:
        tear_down(c, name, settle=False)
    print(f"reservation at {fleet} instances: {out}")
    return out


SIM_CONTAINER = {"name": "app", "image": "busybox", "cpu": 256, "memory": 512}


def container_hosts_available() -> str | None:
    from e2e.images import docker_available

    from portside.registry.process import find_binary

    return docker_available() or (None if find_binary() else "no docker-registry (ECR)")


def container_burst(c: Clients, work: Path) -> dict[str, Any]:
    from e2e.test_container_hosts import push_to_ecr

    (work / "ecr").mkdir()
    image = push_to_ecr(c.server, work / "ecr")
    web = {
        "name": "web",
        "image": image,
        "memory": 3072,
        "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
        "portMappings": [{"containerPort": 8080, "hostPort": 8080}],
        "stopTimeout": 2,
    }
    return compare(c, "container", "portside-container-host", "t3.medium", 3, 3, web)


def remove_left_overs(data_dir: Path) -> None:
    """Whatever the server's container-host provider left (by its label), after it stopped."""
    if container_hosts_available() is not None:
        return
    import docker

    from portside.hosts.container.provider import provider_name
    from portside.hosts.container.spec import LABEL_PROVIDER

    client = docker.from_env()
    label = {"label": f"{LABEL_PROVIDER}={provider_name(data_dir)}"}
    for container in client.containers.list(all=True, filters=label, ignore_removed=True):
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)
    for volume in client.volumes.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            volume.remove(force=True)
    for network in client.networks.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--period", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--fleet", type=int, default=10_000)
    parser.add_argument("--fleet-tasks", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--skip", action="append", default=[],
                        choices=["simulated", "container", "reservation"])  # fmt: skip
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.fleet, args.fleet_tasks, args.window = 200, 1000, 1000, 10.0
    out: dict[str, Any] = {
        "benchmark": "cluster-scaling",
        "commit": short_commit(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_average_before": load_average(),
        "metric_period_s": args.period,
    }
    with tempfile.TemporaryDirectory(prefix="bcs", dir="/tmp") as tmp:
        work = Path(tmp)
        server = ServerProcess(work / "s", None, "--metric-period", str(args.period))
        (work / "s").mkdir()
        server.start(timeout=60)
        try:
            c = Clients(server)
            if "simulated" not in args.skip:
                hosts = -(-args.tasks // SIM_PER_HOST)
                out["simulated"] = compare(
                    c, "simulated", "portside-simulated", "m5.large", args.tasks, hosts,
                    SIM_CONTAINER,
                )  # fmt: skip
            if "container" not in args.skip:
                why = container_hosts_available()
                out["container_hosts"] = {"skipped": why} if why else container_burst(c, work)
            if "reservation" not in args.skip:
                out["reservation_metric"] = reservation_cost(
                    c, args.fleet, args.fleet_tasks, args.window, args.period
                )
        finally:
            server.close()
            remove_left_overs(work / "s")
    out["load_average_after"] = load_average()
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1))
    if not args.quick or args.output:
        commit, _ = out["commit"]
        path = args.output or RESULTS / f"cluster-scaling-{commit}.json"
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

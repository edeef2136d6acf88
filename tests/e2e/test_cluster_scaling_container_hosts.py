"""ECS cluster auto scaling on container hosts, on the real Docker Engine: an Auto Scaling
group of one `portside-container-host` instance, a capacity provider with managed scaling
(targetCapacity 100) and managed termination protection, and a service of three tasks each
as large as an instance (t3.medium: 4,096 MiB; a task asks 3,072 and host port 8080). Two
tasks wait PROVISIONING, the group grows to three, and every task runs in its own host's
Engine, its image pulled there from Portside's ECR, answering on the host's address. One
host's container killed (`docker kill`), the group replaces the instance and the service its
task.

The server is the module's own, with a metric period of 1 s (so the reservation metric and
the group's steps come every second); every instance it started is terminated at the end,
and anything left carrying its provider's label is removed.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, docker_available
from e2e.test_container_hosts import push_to_ecr
from harness import ServerProcess

from portside.hosts.container.provider import provider_name
from portside.hosts.container.spec import LABEL, LABEL_PROVIDER
from portside.hosts.provider import CONTAINER_HOST
from portside.registry.process import find_binary

_unavailable = docker_available() or (None if find_binary() else "no docker-registry (ECR)")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]

INSTANCE_TYPE = "t3.medium"  # 2,048 CPU units, 4,096 MiB: one task of 3,072 MiB per host
GROUP_TAG = "aws:autoscaling:groupName"


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("cs")
    proc = ServerProcess(data, None, "--metric-period", "1")
    proc.start(timeout=60)
    try:
        yield proc
    finally:
        proc.close()
        _remove_left_overs(provider_name(data))


def _remove_left_overs(provider: str) -> None:
    import docker

    client = docker.from_env()
    label = {"label": f"{LABEL_PROVIDER}={provider}"}
    for c in client.containers.list(all=True, filters=label, ignore_removed=True):
        with contextlib.suppress(docker.errors.APIError):
            c.remove(force=True, v=True)
    for v in client.volumes.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            v.remove(force=True)
    for n in client.networks.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            n.remove()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {value!r})")
        time.sleep(0.25)


def _answer(address: str) -> bytes:
    """What the task's port published on its host's address answers."""
    url = f"http://{address}:8080/"
    return bytes(wait_for(lambda: _get(url), 20, f"{url} answering"))


def _get(url: str) -> bytes | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response.content if response.status_code == 200 else None


def test_a_group_of_container_hosts_grows_for_a_service_and_replaces_a_killed_host(
    fast_server: ServerProcess, tmp_path: Path
) -> None:
    import docker

    server = fast_server
    ecs, ec2, asg = (
        server.client(),
        query_client(server, "ec2"),
        query_client(server, "autoscaling"),
    )
    name = "cs" + secrets.token_hex(5)
    ecs.create_cluster(clusterName=name)
    image = push_to_ecr(server, tmp_path)
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\n"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": CONTAINER_HOST,
            "InstanceType": INSTANCE_TYPE,
            "UserData": base64.b64encode(user_data.encode()).decode(),
        },
    )
    try:
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
            MinSize=1,
            MaxSize=4,
            DesiredCapacity=1,
            AvailabilityZones=["us-east-1a", "us-east-1b"],
            NewInstancesProtectedFromScaleIn=True,
        )
        group_arn = _group(asg, name)["AutoScalingGroupARN"]
        ecs.create_capacity_provider(
            name=name,
            autoScalingGroupProvider={
                "autoScalingGroupArn": group_arn,
                "managedScaling": {
                    "status": "ENABLED",
                    "targetCapacity": 100,
                    "instanceWarmupPeriod": 0,
                },
                "managedTerminationProtection": "ENABLED",
            },
        )
        strategy = [{"capacityProvider": name, "weight": 1}]
        ecs.put_cluster_capacity_providers(
            cluster=name, capacityProviders=[name], defaultCapacityProviderStrategy=strategy
        )
        wait_for(
            lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"],
            90,
            "the group's first host registered",
        )
        ecs.register_task_definition(
            family=name,
            containerDefinitions=[
                {
                    "name": "web",
                    "image": image,
                    "memory": 3072,
                    "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                    "portMappings": [{"containerPort": 8080, "hostPort": 8080}],
                    "stopTimeout": 2,
                }
            ],
        )
        ecs.create_service(
            cluster=name,
            serviceName=name,
            taskDefinition=name,
            desiredCount=3,
            capacityProviderStrategy=strategy,
        )

        def tasks() -> list[dict[str, Any]]:
            arns = ecs.list_tasks(cluster=name, serviceName=name)["taskArns"]
            return ecs.describe_tasks(cluster=name, tasks=arns)["tasks"] if arns else []

        waiting = wait_for(
            lambda: [t for t in tasks() if t["lastStatus"] == "PROVISIONING"],
            30,
            "tasks waiting PROVISIONING for capacity",
        )
        assert all(not t.get("containerInstanceArn") for t in waiting)

        def all_running() -> list[dict[str, Any]] | None:
            found = tasks()
            ok = len(found) == 3 and all(t["lastStatus"] == "RUNNING" for t in found)
            return found if ok else None

        running = wait_for(all_running, 90, "3 tasks RUNNING")
        group = _group(asg, name)
        assert group["DesiredCapacity"] == 3
        addresses = _addresses(ecs, name, running)
        assert len(set(addresses.values())) == 3  # one task per host
        for address in addresses.values():
            assert _answer(address) == INDEX_HTML

        # Each task runs in its own host's Engine.
        by_task = {t["taskArn"]: t["containerInstanceArn"] for t in running}
        ids = _instance_ids(ecs, name, set(by_task.values()))
        for task in running:
            instance = ids[task["containerInstanceArn"]]
            sock = server.data_dir / "container-hosts" / instance / "docker.sock"
            inner = docker.DockerClient(base_url=f"unix://{sock}")
            try:
                assert [c for c in inner.containers.list() if c.image.tags == [image]]
            finally:
                inner.close()

        # One host's container killed: the group replaces the instance, the service its task.
        victim_task = running[0]
        victim = ids[victim_task["containerInstanceArn"]]
        (host,) = docker.from_env().containers.list(filters={"label": f"{LABEL}={victim}"})
        host.kill()

        def replaced() -> list[dict[str, Any]] | None:
            members = {i["InstanceId"] for i in _group(asg, name)["Instances"]
                       if i["LifecycleState"] == "InService"}  # fmt: skip
            if victim in members or len(members) != 3:
                return None
            found = all_running()
            if not found or victim_task["taskArn"] in {t["taskArn"] for t in found}:
                return None
            return found

        after = wait_for(replaced, 90, "the killed host and its task replaced")
        new_ids = _instance_ids(ecs, name, {t["containerInstanceArn"] for t in after})
        assert victim not in new_ids.values()
        for address in _addresses(ecs, name, after).values():
            assert _answer(address) == INDEX_HTML
        activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
        assert any(victim in a["Description"] for a in activities)
    finally:
        _terminate_all(ec2, ecs, asg, name)


def _group(asg: Any, name: str) -> dict[str, Any]:
    return dict(
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    )


def _instance_ids(ecs: Any, cluster: str, arns: set[str]) -> dict[str, str]:
    """Container instance ARN -> EC2 instance id."""
    found = ecs.describe_container_instances(cluster=cluster, containerInstances=sorted(arns))
    return {c["containerInstanceArn"]: c["ec2InstanceId"] for c in found["containerInstances"]}


def _addresses(ecs: Any, cluster: str, tasks: list[dict[str, Any]]) -> dict[str, str]:
    """Task ARN -> its host's address (the container instance's `ecs.private-ip`)."""
    arns = sorted({t["containerInstanceArn"] for t in tasks})
    found = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
    ip = {
        c["containerInstanceArn"]: {a["name"]: a.get("value") for a in c["attributes"]}[
            "ecs.private-ip"
        ]
        for c in found["containerInstances"]
    }
    return {t["taskArn"]: str(ip[t["containerInstanceArn"]]) for t in tasks}


def _terminate_all(ec2: Any, ecs: Any, asg: Any, name: str) -> None:
    """Every instance the group started terminated, the group and the service gone."""
    import docker

    with contextlib.suppress(Exception):
        ecs.update_service(cluster=name, service=name, desiredCount=0)
        ecs.delete_service(cluster=name, service=name, force=True)
    with contextlib.suppress(Exception):
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    mine = ec2.describe_instances(Filters=[{"Name": f"tag:{GROUP_TAG}", "Values": [name]}])
    ids = [i["InstanceId"] for r in mine["Reservations"] for i in r["Instances"]]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
    client = docker.from_env()

    def gone() -> bool:
        return not any(
            client.containers.list(all=True, filters={"label": f"{LABEL}={i}"}) for i in ids
        )

    with contextlib.suppress(AssertionError):
        wait_for(gone, 30, "the hosts' containers removed")

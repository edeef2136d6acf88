"""Container hosts on the real Docker Engine: the provider starts two hosts (each a container
with its own Engine and agent) for a cluster of the session's server, which listens on
loopback only, so the hosts reach it through the provider's relay. A user checks what ECS
shows of them (ec2InstanceId, the instance type's CPU and memory, the zone), runs a task on
one (its image copied in with `docker save | docker load`) and reaches its published port
from the machine, and kills the other's container. Then RunInstances with the
`portside-container-host` AMI on the server's own provider: the instance runs, registers,
and a task of an image pushed to Portside's ECR is pulled by the host's own Engine.

The provider is made here on a short data directory of the test's own (the inner Engines'
sockets live there, and a socket path has at most 107 bytes); everything it made carries
its `portside.host.provider` label and goes at the end.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, busybox_image, docker_available
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.hosts.container import ContainerHostProvider
from portside.hosts.container.spec import LABEL_PROVIDER
from portside.hosts.provider import CONTAINER_HOST, ControlPlane, HostSpec, HostState
from portside.registry.process import find_binary

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=f"no Docker for e2e: {_unavailable}"),
]


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {value!r})")
        time.sleep(0.2)


def remove_everything(provider: ContainerHostProvider) -> None:
    import docker

    client = docker.from_env()
    label = {"label": f"{LABEL_PROVIDER}={provider.names.provider}"}
    for c in client.containers.list(all=True, filters=label, ignore_removed=True):
        with contextlib.suppress(docker.errors.APIError):
            c.remove(force=True, v=True)
    for v in client.volumes.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            v.remove(force=True)
    for n in client.networks.list(filters=label):
        with contextlib.suppress(docker.errors.APIError):
            n.remove()


@pytest.fixture
def provider(server: ServerProcess) -> Iterator[ContainerHostProvider]:
    root = Path(tempfile.mkdtemp(prefix="psch", dir="/tmp"))
    made = ContainerHostProvider(
        ControlPlane(server.endpoint, ACCESS_KEY, SECRET_KEY), root, poll=0.2, stop_timeout=5
    )
    try:
        yield made
    finally:
        made.stop(made.hosts())
        with contextlib.suppress(AssertionError):
            wait_for(
                lambda: all(h.state != HostState.STOPPING for h in made.hosts().values()),
                30,
                "hosts stopped",
            )
        made.close()
        remove_everything(made)
        shutil.rmtree(root, ignore_errors=True)


def host_spec(cluster: str, zone: str, instance_type: str) -> HostSpec:
    return HostSpec(
        instance_id="i-" + secrets.token_hex(9)[:17],
        account="000000000000",
        region=REGION,
        zone=zone,
        instance_type=instance_type,
        image_id=CONTAINER_HOST,
        cluster=cluster,
        attributes={"portside.test": "container-hosts"},
    )


def resources(instance: dict[str, Any]) -> tuple[int, int]:
    found = {r["name"]: r.get("integerValue") for r in instance["registeredResources"]}
    return found["CPU"], found["MEMORY"]


def test_two_hosts_register_run_a_task_and_a_killed_one_shows_stopped(
    server: ServerProcess, provider: ContainerHostProvider
) -> None:
    import docker

    ecs = server.client()
    cluster = "ch" + secrets.token_hex(5)
    ecs.create_cluster(clusterName=cluster)
    first = host_spec(cluster, "us-east-1a", "m5.large")
    second = host_spec(cluster, "us-east-1b", "c5.xlarge")
    provider.start([first, second])
    provider.start([first])  # idempotent
    assert {h.state for h in provider.hosts().values()} == {HostState.PENDING}

    def running() -> bool:
        return all(h.state == HostState.RUNNING for h in provider.hosts().values())

    wait_for(running, 90, "both hosts RUNNING")

    # What ECS shows: each host is its EC2 instance, with its type's CPU and memory.
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    instances = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
    by_id = {i["ec2InstanceId"]: i for i in instances["containerInstances"]}
    assert set(by_id) == {first.instance_id, second.instance_id}
    assert resources(by_id[first.instance_id]) == (2048, 8192)
    assert resources(by_id[second.instance_id]) == (4096, 8192)
    for spec in (first, second):
        instance = by_id[spec.instance_id]
        attrs = {a["name"]: a.get("value") for a in instance["attributes"]}
        assert attrs["ecs.availability-zone"] == spec.zone
        assert attrs["ecs.instance-type"] == spec.instance_type
        assert attrs["ecs.ami-id"] == CONTAINER_HOST
        assert attrs["ecs.private-ip"] == provider.address(spec.instance_id)
        assert instance["agentConnected"] is True
        assert (
            provider.hosts()[spec.instance_id].container_instance_arn
            == (instance["containerInstanceArn"])
        )

    # A task inside the first host's Engine (its image copied in: no registry), answering
    # on its published port at the host's address.
    provider.load_image(first.instance_id, busybox_image())
    family = "ch-" + secrets.token_hex(4)
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "web",
                "image": busybox_image(),
                "memory": 32,
                "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                "portMappings": [{"containerPort": 8080, "hostPort": 8080}],
                "stopTimeout": 2,
            }
        ],
    )
    started = ecs.start_task(
        cluster=cluster,
        taskDefinition=family,
        containerInstances=[by_id[first.instance_id]["containerInstanceArn"]],
    )
    assert started["failures"] == []
    task_arn = started["tasks"][0]["taskArn"]

    def task_running() -> bool:
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        assert task["lastStatus"] != "STOPPED", task.get("stoppedReason")
        return bool(task["lastStatus"] == "RUNNING")

    wait_for(task_running, 60, "the task RUNNING")
    inner = docker.DockerClient(base_url=provider.engine(first.instance_id))
    try:
        assert [c.name for c in inner.containers.list() if "web" in c.name]
    finally:
        inner.close()
    url = f"http://{provider.address(first.instance_id)}:8080/"
    assert wait_for(lambda: _get(url), 20, "the task answering").content == INDEX_HTML

    # The second host's container killed: the host shows STOPPED, with why.
    docker.from_env().containers.get(provider.names.container(second.instance_id)).kill()

    def stopped() -> Any:
        host = provider.hosts()[second.instance_id]
        return host if host.state == HostState.STOPPED else None

    host = wait_for(stopped, 20, "the killed host STOPPED")
    assert host.reason == "Host container exited with code 137 (killed)"
    assert provider.hosts()[first.instance_id].state == HostState.RUNNING

    # A provider made again (a server restart) finds both by their labels.
    again = ContainerHostProvider(provider.control_plane, provider.root.parent, poll=0.2)
    try:
        found = again.hosts()
        assert found[first.instance_id].state == HostState.RUNNING
        assert found[first.instance_id].container_instance_arn
        assert found[second.instance_id].state == HostState.STOPPED
    finally:
        again.close()

    # stop: STOPPING, then TERMINATED with its container, volume and directory gone.
    provider.stop([first.instance_id])
    assert provider.hosts()[first.instance_id].state == HostState.STOPPING
    wait_for(
        lambda: provider.hosts()[first.instance_id].state == HostState.TERMINATED,
        30,
        "the stopped host TERMINATED",
    )
    client = docker.from_env()
    assert not client.containers.list(
        all=True, filters={"label": f"portside.host={first.instance_id}"}
    )
    assert not client.volumes.list(filters={"label": f"portside.host={first.instance_id}"})
    assert not provider.run_dir(first.instance_id).exists()
    provider.forget([first.instance_id, second.instance_id])
    assert provider.hosts() == {}


def _get(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


def test_run_instances_with_the_container_host_ami_starts_a_host(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Through EC2's API, as the CLI or Terraform would: the server's own provider. A task of
    an image pushed to Portside's ECR runs on the host, pulled by the host's own Engine."""
    import docker

    ec2, ecs = query_client(server, "ec2"), server.client()
    cluster = "ch" + secrets.token_hex(5)
    ecs.create_cluster(clusterName=cluster)
    tag = {"Key": "portside-test", "Value": cluster}
    try:
        out = ec2.run_instances(
            ImageId=CONTAINER_HOST,
            InstanceType="t3.medium",
            MinCount=1,
            MaxCount=1,
            UserData=f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [tag]}],
        )
        instance_id = out["Instances"][0]["InstanceId"]

        def state() -> str:
            found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
            return str(found[0]["Instances"][0]["State"]["Name"])

        wait_for(lambda: state() == "running", 90, "the instance running")
        arns = wait_for(
            lambda: ecs.list_container_instances(cluster=cluster)["containerInstanceArns"],
            30,
            "its container instance",
        )
        instance = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)[
            "containerInstances"
        ][0]
        assert instance["ec2InstanceId"] == instance_id
        assert resources(instance) == (2048, 4096)
        if find_binary():  # an image of Portside's ECR pulls inside the host, by itself
            image = push_to_ecr(server, tmp_path)
            ecs.register_task_definition(
                family=cluster,
                containerDefinitions=[
                    {"name": "app", "image": image, "memory": 32, "stopTimeout": 2}
                ],
            )
            arn = ecs.run_task(cluster=cluster, taskDefinition=cluster)["tasks"][0]["taskArn"]

            def task_running() -> bool:
                task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
                assert task["lastStatus"] != "STOPPED", task.get("stoppedReason")
                return bool(task["lastStatus"] == "RUNNING")

            wait_for(task_running, 60, "the ECR image's task RUNNING")
            sock = server.data_dir / "container-hosts" / instance_id / "docker.sock"
            inner = docker.DockerClient(base_url=f"unix://{sock}")
            try:
                assert inner.images.get(image).tags == [image]  # pulled in there
            finally:
                inner.close()
        ec2.terminate_instances(InstanceIds=[instance_id])
        wait_for(lambda: state() == "terminated", 60, "the instance terminated")
        gone = {"label": f"portside.host={instance_id}"}
        wait_for(
            lambda: not docker.from_env().containers.list(all=True, filters=gone),
            30,
            "its container removed",
        )
    finally:
        # Whatever this test started, even if it failed before it knew the instance's id.
        mine = ec2.describe_instances(Filters=[{"Name": "tag:portside-test", "Values": [cluster]}])
        ids = [i["InstanceId"] for r in mine["Reservations"] for i in r["Instances"]]
        if ids:
            ec2.terminate_instances(InstanceIds=ids)
        client = docker.from_env()
        for instance in ids:
            for c in client.containers.list(
                all=True, filters={"label": f"portside.host={instance}"}, ignore_removed=True
            ):
                with contextlib.suppress(docker.errors.APIError):
                    c.remove(force=True, v=True)
            for v in client.volumes.list(filters={"label": f"portside.host={instance}"}):
                with contextlib.suppress(docker.errors.APIError):
                    v.remove(force=True)


def push_to_ecr(server: ServerProcess, tmp_path: Path) -> str:
    """An image of the test's own pushed to the server's ECR as a user pushes it (and removed
    from the machine's Engine): its `repositoryUri:tag`."""
    import base64
    import io
    import subprocess

    import docker
    from e2e.images import LABELS

    ecr = server.client("ecr")
    repository = "ch-" + secrets.token_hex(5)
    uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    (data,) = ecr.get_authorization_token()["authorizationData"]
    password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
    image = f"{uri}:v1"
    dockerfile = (
        f'FROM {busybox_image()}\nCMD ["sh", "-c", "trap \'exit 0\' TERM; sleep 600 & wait"]\n'
    )
    docker.from_env().images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=image, rm=True, labels=LABELS
    )
    config = tmp_path / "docker-config"
    config.mkdir()
    try:
        for argv, stdin in (
            (["login", "-u", "AWS", "--password-stdin", data["proxyEndpoint"]], password),
            (["push", image], None),
        ):
            done = subprocess.run(
                ["docker", "--config", str(config), *argv],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, timeout=60)
    return image

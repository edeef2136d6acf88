"""awsvpc tasks on their EC2 subnet's Docker network (agent/docker/subnets.py, network.py)
against a real Docker Engine: the pause container takes the address the control plane
allocated, tasks of one subnet share one network and reach each other, and the network goes
with its last task.

Driven through network.py with the ENI attachments as the control plane writes them
(ops/task_enis.py), and once through RunTask and `portside agent`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, LABELS, busybox_image, docker_available

from portside.agent.docker import network as net
from portside.agent.docker import subnets
from portside.agent.driver import LABEL_INSTANCE, LABEL_MANAGED

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]


@pytest.fixture(scope="module")
def client() -> Any:
    import docker

    return docker.from_env()


@pytest.fixture
def labels(client: Any) -> Iterator[dict[str, str]]:
    """Labels for everything a test makes; what is left carrying them is removed after."""
    own = {**LABELS, LABEL_MANAGED: "true", LABEL_INSTANCE: "test-" + uuid.uuid4().hex}
    yield own
    match = f"{LABEL_INSTANCE}={own[LABEL_INSTANCE]}"
    for c in client.containers.list(all=True, filters={"label": match}):
        with contextlib.suppress(Exception):
            c.remove(force=True)
    for n in client.networks.list(filters={"label": match}):
        with contextlib.suppress(Exception):
            n.remove()


def subnet_id() -> str:
    return "subnet-" + uuid.uuid4().hex[:17]


def attachment(subnet: str, cidr: str, address: str) -> dict[str, Any]:
    """An ENI attachment as ops/task_enis.py writes it."""
    block = IPv4Network(cidr)
    details = {
        "subnetId": subnet,
        "networkInterfaceId": "eni-" + uuid.uuid4().hex[:17],
        "macAddress": "02:" + ":".join(uuid.uuid4().hex[i : i + 2] for i in range(0, 10, 2)),
        "privateIPv4Address": address,
        "subnetGatewayIpv4Address": f"{block.network_address + 1}/{block.prefixlen}",
    }
    return {
        "id": str(uuid.uuid4()),
        "type": "ElasticNetworkInterface",
        "details": [{"name": k, "value": v} for k, v in details.items()],
    }


def start(client: Any, labels: dict[str, str], eni: dict[str, Any]) -> dict[str, Any]:
    task_id = uuid.uuid4().hex
    return net.create_awsvpc(
        client,
        task_id=task_id,
        pause_name=f"portside-test-pause-{task_id[:12]}",
        pause_image=net.PauseImage(client).ensure(),
        labels=net.pause_labels(labels, "~internal~ecs~pause"),
        sysctls={},
        attachment=eni,
    )


def address_of(client: Any, container_id: str, network: str) -> str:
    attrs = client.api.inspect_container(container_id)
    return str(attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


def network_exists(client: Any, name: str) -> bool:
    return any(n.name == name for n in client.networks.list(names=[name]))


def test_tasks_of_one_subnet_share_its_network_and_reach_each_other(
    client: Any, labels: dict[str, str]
) -> None:
    image = busybox_image(client)
    first, second = subnet_id(), subnet_id()
    cidr, other = "10.231.1.0/24", "10.231.2.0/24"
    enis = [
        attachment(first, cidr, "10.231.1.10"),
        attachment(first, cidr, "10.231.1.11"),
        attachment(second, other, "10.231.2.4"),
    ]
    # Two tasks of a new subnet set up at once make one network.
    with ThreadPoolExecutor(3) as pool:
        a, b, c = pool.map(lambda eni: start(client, labels, eni), enis)
    name = subnets.network_name(first)
    assert a["network_name"] == b["network_name"] == name
    assert c["network_name"] == subnets.network_name(second)
    assert address_of(client, a["pause_id"], name) == "10.231.1.10"
    assert address_of(client, b["pause_id"], name) == "10.231.1.11"
    assert a["ip_address"] == "10.231.1.10"
    macs = [{d["name"]: d["value"] for d in eni["details"]}["macAddress"] for eni in enis]
    assert [a["mac_address"], b["mac_address"], c["mac_address"]] == macs
    assert IPv4Address(c["ip_address"]) in IPv4Network(other)
    assert a["gateway"] == b["gateway"] == "10.231.1.1"
    ipam = client.api.inspect_network(name)["IPAM"]["Config"][0]
    assert (ipam["Subnet"], ipam["Gateway"]) == (cidr, "10.231.1.1")

    httpd = client.containers.run(
        image,
        ["httpd", "-f", "-p", "80", "-h", "/www"],
        network_mode=f"container:{a['pause_id']}",
        labels=labels,
        detach=True,
    )
    fetched = client.containers.run(
        image,
        [
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://10.231.1.10/ "
            "&& exit 0; sleep 0.2; done; exit 1",
        ],
        network_mode=f"container:{b['pause_id']}",
        labels=labels,
        remove=True,
    )
    assert fetched == INDEX_HTML
    httpd.remove(force=True)

    # The network stays while a task of its subnet is on it, and goes with the last one.
    net.remove_container(client, a["pause_id"])
    assert network_exists(client, name)
    net.remove_container(client, b["pause_id"])
    assert not network_exists(client, name)
    net.remove_container(client, c["pause_id"])
    assert not network_exists(client, subnets.network_name(second))


def test_an_agent_start_removes_subnet_networks_left_unused(
    client: Any, labels: dict[str, str]
) -> None:
    busy, idle = subnet_id(), subnet_id()
    task = start(client, labels, attachment(busy, "10.231.3.0/28", "10.231.3.4"))
    with subnets.lock():
        ep = subnets.endpoint(attachment(idle, "10.231.4.0/28", "10.231.4.4"))
        assert ep is not None
        subnets.ensure_network(client, ep, labels)
    gone = subnets.prune(client)
    assert subnets.network_name(idle) in gone
    assert not network_exists(client, subnets.network_name(idle))
    assert network_exists(client, subnets.network_name(busy))
    net.remove_container(client, task["pause_id"])
    assert not network_exists(client, subnets.network_name(busy))


def test_a_task_without_a_subnet_block_keeps_a_network_of_its_own(
    client: Any, labels: dict[str, str]
) -> None:
    details = [{"name": "subnetId", "value": "subnet-0e2e"}]
    eni = {"id": str(uuid.uuid4()), "type": "ElasticNetworkInterface", "details": details}
    info = start(client, labels, eni)
    assert info["network_name"].startswith("portside-")
    assert not info["network_name"].startswith("portside-subnet-")
    net.remove_container(client, info["pause_id"])
    net.remove_network(client, info["network_name"])
    assert not network_exists(client, info["network_name"])


def test_awsvpc_tasks_through_the_agent_take_their_subnets_addresses(
    server: Any, agent: Any, client: Any
) -> None:
    """RunTask with an EC2 subnet: the agent puts each task at the address the control plane
    allocated in that subnet, two tasks reach each other there, and the subnet's network goes
    when they stop."""
    from e2e.test_tasks_docker import HTTPD, register, run, wait_task

    ec2, ecs = query_client(server, "ec2"), server.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.93.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.93.4.0/24")["Subnet"]["SubnetId"]
    image = busybox_image(client)
    td = register(
        ecs,
        [{"name": "web", "image": image, "memory": 32, "command": HTTPD, "stopTimeout": 2}],
        networkMode="awsvpc",
    )
    config = {"awsvpcConfiguration": {"subnets": [subnet]}}
    arns = [run(ecs, agent, td, networkConfiguration=config) for _ in range(2)]
    tasks = [wait_task(ecs, agent, arn, "RUNNING") for arn in arns]
    addresses = []
    for task in tasks:
        (eni,) = task["attachments"]
        details = {d["name"]: d["value"] for d in eni["details"]}
        assert details["subnetId"] == subnet
        assert IPv4Address(details["privateIPv4Address"]) in IPv4Network("10.93.4.0/24")
        addresses.append(details["privateIPv4Address"])
        (container,) = task["containers"]
        docker_id = container["runtimeId"]
        attached = client.containers.get(docker_id).attrs["NetworkSettings"]
        mode = client.containers.get(docker_id).attrs["HostConfig"]["NetworkMode"]
        pause = client.containers.get(mode.removeprefix("container:"))
        (network,) = pause.attrs["NetworkSettings"]["Networks"].values()
        assert network["IPAddress"] == details["privateIPv4Address"], attached
    assert len(set(addresses)) == 2
    probe = ["wget", "-q", "-O", "-", f"http://{addresses[1]}:8080/index.html"]
    first = client.containers.get(tasks[0]["containers"][0]["runtimeId"])
    code, out = first.exec_run(probe)
    assert code == 0 and out == INDEX_HTML
    for arn in arns:
        ecs.stop_task(cluster=agent.cluster, task=arn)
    for arn in arns:
        wait_task(ecs, agent, arn, "STOPPED")
    left = client.networks.list(filters={"label": f"{subnets.LABEL_ROLE}={subnets.ROLE}"})
    assert not [n for n in left if subnet in n.name], [n.name for n in left]

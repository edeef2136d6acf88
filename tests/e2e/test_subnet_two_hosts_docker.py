"""A subnet across two hosts (agent/docker/overlay.py): two agents, each in a network namespace
of its own with a Docker Engine of its own (tests/e2e/multihost.py), one control plane. Tasks of
one subnet, one on each host, reach each other at the addresses the control plane gave them,
both ways, with full-size frames; each still finds its own host at the subnet's gateway; a
security group's rules hold between the hosts; the VXLAN devices go with the subnet's tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pytest
from aws_query import query_client
from e2e.images import INDEX_HTML, busybox_image
from e2e.multihost import Host, TwoHosts, unavailable, wait_for

from portside.agent.docker import overlay, subnets

_unavailable = unavailable()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]

CIDR = "10.94.7.0/24"
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    with TwoHosts.made(tmp_path_factory.mktemp("two-hosts")) as made:
        yield made
    for host in (made.first, made.second):
        assert not Path(f"/var/run/netns/{host.netns}").exists()
        assert not host.exec_root.exists() and not host.socket.exists()


@pytest.fixture(scope="module")
def network(hosts: TwoHosts) -> dict[str, str]:
    """A VPC, one subnet in it, and the VPC's default group."""
    ec2 = query_client(hosts.server, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=CIDR)["Subnet"]["SubnetId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return {"vpc": vpc, "subnet": subnet, "default": groups[0]["GroupId"]}


def run_on(hosts: TwoHosts, host: Host, td: str, subnet: str, groups: list[str]) -> str:
    """RunTask placed on `host` by its custom attribute."""
    ecs = hosts.server.client("ecs")
    out = ecs.run_task(
        cluster=hosts.cluster,
        taskDefinition=td,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": groups}
        },
        placementConstraints=[
            {"type": "memberOf", "expression": f"attribute:portside.test.host == {host.name}"}
        ],
    )
    assert out["failures"] == [], out["failures"]
    return str(out["tasks"][0]["taskArn"])


def running(hosts: TwoHosts, arn: str) -> dict[str, Any]:
    ecs = hosts.server.client("ecs")

    def described() -> dict[str, Any] | None:
        (task,) = ecs.describe_tasks(cluster=hosts.cluster, tasks=[arn])["tasks"]
        assert task["lastStatus"] != "STOPPED", task.get("stoppedReason")
        return dict(task) if task["lastStatus"] == "RUNNING" else None

    return dict(wait_for(described, 60, f"{arn} RUNNING", every=0.2))


def address(task: dict[str, Any]) -> str:
    (eni,) = task["attachments"]
    return str({d["name"]: d["value"] for d in eni["details"]}["privateIPv4Address"])


def container(host: Host, task: dict[str, Any]) -> Any:
    return host.client.containers.get(task["containers"][0]["runtimeId"])


def fetch(host: Host, task: dict[str, Any], to: str, seconds: int = 3) -> bytes | None:
    """What the task gets from http://TO:8080/ (None: nothing within `seconds`)."""
    probe = ["timeout", str(seconds), "wget", "-q", "-O", "-", f"http://{to}:8080/index.html"]
    code, out = container(host, task).exec_run(probe)
    return bytes(out) if code == 0 else None


@pytest.fixture(scope="module")
def pair(hosts: TwoHosts, network: dict[str, str]) -> list[dict[str, Any]]:
    """One task of the subnet on each host, in the VPC's default group."""
    ecs = hosts.server.client("ecs")
    image = busybox_image(hosts.first.client)
    td = ecs.register_task_definition(
        family="two-hosts",
        networkMode="awsvpc",
        containerDefinitions=[
            {"name": "web", "image": image, "memory": 32, "command": HTTPD, "stopTimeout": 2}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    arns = [run_on(hosts, h, td, network["subnet"], [network["default"]]) for h in hosts.hosts]
    return [running(hosts, arn) for arn in arns]


def test_tasks_of_one_subnet_on_two_hosts_reach_each_other(
    hosts: TwoHosts, network: dict[str, str], pair: list[dict[str, Any]]
) -> None:
    first, second = pair
    a, b = address(first), address(second)
    assert a != b and {IPv4Address(a), IPv4Address(b)} <= set(IPv4Network(CIDR).hosts())
    assert first["containerInstanceArn"] != second["containerInstanceArn"]
    # Each way, as soon as the agents have joined the subnet's bridges.
    got = wait_for(lambda: fetch(hosts.first, first, b, 1), 20, "h1's task reaching h2's")
    assert got == INDEX_HTML
    assert fetch(hosts.second, second, a) == INDEX_HTML
    # Through one VXLAN device per host, flooding to the other host's underlay address.
    name = overlay.device_name(overlay.vni(network["subnet"]))
    for host, other in ((hosts.first, hosts.second), (hosts.second, hosts.first)):
        (device,) = [d for d in host.vxlan_devices() if d["ifname"] == name]
        bridge = host.client.networks.get(subnets.network_name(network["subnet"])).id[:12]
        assert device["master"] == "br-" + bridge
        assert device["linkinfo"]["info_data"]["port"] == overlay.PORT
        assert host.flood_peers(name) == {other.underlay}


def test_full_size_frames_cross_and_the_gateway_is_each_tasks_own_host(
    hosts: TwoHosts, network: dict[str, str], pair: list[dict[str, Any]]
) -> None:
    first, second = pair
    task = container(hosts.first, first)
    code, mtu = task.exec_run(["cat", "/sys/class/net/eth0/mtu"])
    assert code == 0 and int(mtu) == 1500 - overlay.OVERHEAD
    # The largest packet the task's MTU carries (1422 + 28 for its IPv4 and ICMP headers)
    # crosses, and the host sends it to the other in one underlay packet, unfragmented.
    fragmented = hosts.first.fragments_made()
    code, out = task.exec_run(["ping", "-c", "1", "-W", "3", "-s", "1422", address(second)])
    assert code == 0, out
    assert hosts.first.fragments_made() == fragmented
    # Both hosts' bridges hold the gateway address; only the task's own host answers for it.
    gateway = str(IPv4Network(CIDR).network_address + 1)
    code, out = task.exec_run(["arping", "-c", "3", "-w", "3", "-I", "eth0", gateway])
    assert code == 0, out
    bridge = (
        "br-" + hosts.first.client.networks.get(subnets.network_name(network["subnet"])).id[:12]
    )
    (link,) = json.loads(hosts.first.ip("-j", "link", "show", "dev", bridge))
    answers = {
        line.split("[")[1].split("]")[0].lower()
        for line in out.decode().splitlines()
        if line.startswith("Unicast reply")
    }
    assert answers == {link["address"]}


def test_a_security_group_rule_holds_across_hosts(
    hosts: TwoHosts, network: dict[str, str], pair: list[dict[str, Any]]
) -> None:
    """A task of another group on h2 cannot reach h1's task of the default group until the
    default group admits its group on the port."""
    ec2 = query_client(hosts.server, "ec2")
    other = ec2.create_security_group(
        GroupName="two-hosts-other", Description="e2e", VpcId=network["vpc"]
    )["GroupId"]
    first, _second = pair
    td = first["taskDefinitionArn"]
    outsider = running(hosts, run_on(hosts, hosts.second, td, network["subnet"], [other]))
    target = address(first)
    for _ in range(2):
        assert fetch(hosts.second, outsider, target, 2) is None
    ec2.authorize_security_group_ingress(
        GroupId=network["default"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": other}],
            }
        ],
    )
    got = wait_for(lambda: fetch(hosts.second, outsider, target, 1), 10, "the rule holding")
    assert got == INDEX_HTML


def test_the_vxlan_devices_go_with_the_subnets_tasks(
    hosts: TwoHosts, network: dict[str, str], pair: list[dict[str, Any]]
) -> None:
    ecs = hosts.server.client("ecs")
    arns = ecs.list_tasks(cluster=hosts.cluster)["taskArns"]
    for arn in arns:
        ecs.stop_task(cluster=hosts.cluster, task=arn)
    name = overlay.device_name(overlay.vni(network["subnet"]))

    def gone(host: Host) -> bool:
        devices = [d for d in host.vxlan_devices() if d["ifname"] == name]
        return not devices and "portside_overlay" not in host.run("nft", "list", "tables")

    for host in hosts.hosts:
        wait_for(lambda h=host: gone(h), 30, f"{host.name}'s VXLAN device and rules gone")

"""Security groups enforced on a real Docker host (agent/firewall/, agent/network_view.py),
through RunTask, boto3's EC2 calls and `portside agent`: two tasks of the default group
reach each other (its rule admits its own members), a task of another group cannot reach
them on the port until an ingress rule allows its group there, can afterwards, cannot once
the rule is revoked, and a group whose egress rule is revoked sends nothing. Each change is
measured from the EC2 call's return to the first probe that sees it (the issue's goal: a
second; the waits allow more on a loaded machine). The agent's chains are removed after."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_query import query_client
from e2e.conftest import AgentProcess
from e2e.images import INDEX_HTML, busybox_image, docker_available
from e2e.test_tasks_docker import HTTPD, eni_details, register, run, wait_task

from portside.agent.firewall.apply import Firewall
from portside.agent.firewall.compile import eni_chain, owner_id

_unavailable = docker_available()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(_unavailable is not None, reason=str(_unavailable)),
]
PORT = 8080
GOAL = 1.0  # seconds from the EC2 call's return to the change holding
WAIT = 15.0  # what the waits allow (the machine is shared)


def reaches(client: Any, from_id: str, address: str) -> bool:
    """Whether a task's container gets the page from `address`:PORT (a new connection)."""
    # busybox wget -T crashes in this image: the timeout applet bounds a blocked connect.
    probe = ["timeout", "1", "wget", "-q", "-O", "-", f"http://{address}:{PORT}/index.html"]
    code, out = client.containers.get(from_id).exec_run(probe)
    return code == 0 and out == INDEX_HTML


def until(check: Callable[[], bool], timeout: float = WAIT) -> float:
    """Seconds until `check()` holds (fails the test after `timeout`)."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, "the change did not take effect"
    return time.monotonic() - began


def chain_exists(name: str) -> bool:
    return subprocess.run(["iptables", "-n", "-L", name], capture_output=True).returncode == 0


@pytest.fixture
def owned_chains(agent: AgentProcess) -> Iterator[Firewall]:
    firewall = Firewall(owner_id(agent.instance_arn), bridge_check=False)
    try:
        yield firewall
    finally:
        firewall.remove()


def test_groups_admit_members_rules_and_nothing_else(
    server: Any, agent: AgentProcess, owned_chains: Firewall
) -> None:
    import docker

    client = docker.from_env()
    ec2, ecs = query_client(server, "ec2"), server.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.94.5.0/24")["Subnet"]["SubnetId"]
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    other = ec2.create_security_group(GroupName="e2e-client", Description="c", VpcId=vpc)
    image = busybox_image(client)
    td = register(
        ecs,
        [{"name": "web", "image": image, "memory": 32, "command": HTTPD, "stopTimeout": 2}],
        networkMode="awsvpc",
    )

    def start(group: str) -> tuple[str, str, str]:
        config = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        arn = run(ecs, agent, td, networkConfiguration=config)
        task = wait_task(ecs, agent, arn, "RUNNING")
        return arn, eni_details(task)["privateIPv4Address"], task["containers"][0]["runtimeId"]

    (a_arn, a, a_id), (b_arn, b, b_id) = start(default), start(default)
    c_arn, c, c_id = start(other["GroupId"])
    owner = owned_chains.owner
    until(lambda: chain_exists(eni_chain("PSI", owner, c)))

    assert until(lambda: reaches(client, a_id, b)) < WAIT
    assert reaches(client, b_id, a)
    assert not reaches(client, c_id, a)

    permission = {
        "IpProtocol": "tcp",
        "FromPort": PORT,
        "ToPort": PORT,
        "UserIdGroupPairs": [{"GroupId": other["GroupId"]}],
    }
    ec2.authorize_security_group_ingress(GroupId=default, IpPermissions=[permission])
    allowed_in = until(lambda: reaches(client, c_id, a))
    assert reaches(client, c_id, b)
    ec2.revoke_security_group_ingress(GroupId=default, IpPermissions=[permission])
    revoked_in = until(lambda: not reaches(client, c_id, a))

    everywhere = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.revoke_security_group_egress(GroupId=default, IpPermissions=[everywhere])
    revoked_out = until(lambda: not reaches(client, a_id, b))
    ec2.authorize_security_group_egress(GroupId=default, IpPermissions=[everywhere])
    until(lambda: reaches(client, a_id, b))

    # A blocked probe itself takes its 1 s timeout: the revokes' figures include it.
    print(f"\nauthorize {allowed_in:.3f}s, revoke {revoked_in:.3f}s, egress {revoked_out:.3f}s")
    assert allowed_in < WAIT and revoked_in < WAIT and revoked_out < WAIT

    for arn in (a_arn, b_arn, c_arn):
        ecs.stop_task(cluster=agent.cluster, task=arn)
    for arn in (a_arn, b_arn, c_arn):
        wait_task(ecs, agent, arn, "STOPPED")
    # The stopped tasks' chains go with them.
    until(lambda: not chain_exists(eni_chain("PSI", owner, a)))

"""A host's network view through the gateway (POST /_portside/agent/v1/network), against a
running server: what it holds for a session's instances (their tasks' ENIs, their groups'
rules, the members of the groups those rules name wherever they run, the subnets and the
other hosts running tasks in them), and a long poll that answers as soon as a rule changes.
Set up as a user would: EC2 through boto3, instances registered as an agent registers them,
awsvpc tasks started with StartTask."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
import pytest
from aws_query import query_client
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.attributes import default_attributes
from portside.agent.client import ApiError, ControlPlaneClient
from portside.gateway import protocol
from portside.gateway.protocol import SessionOpen, SessionOpened
from portside.gateway.protocol.network import (
    EMPTY,
    NETWORK,
    LocalEni,
    NetworkView,
    NetworkViewRequest,
    SubnetInfo,
)


def register(ecs: Any, cluster: str, address: str) -> str:
    out = ecs.register_container_instance(
        cluster=cluster,
        totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
        ],
        versionInfo={"agentVersion": "1.80.0", "agentHash": "abc", "dockerVersion": "25.0"},
        attributes=default_attributes("us-east-1a", "t3.micro", {"ecs.private-ip": address}),
    )
    return str(out["containerInstance"]["containerInstanceArn"])


def session(client: ControlPlaneClient, *instances: str) -> str:
    return SessionOpened.from_wire(client.send(protocol.SESSION, SessionOpen(instances))).session


def view(client: ControlPlaneClient, sid: str, version: str = "", wait: float = 0) -> NetworkView:
    return NetworkView.from_wire(client.send(NETWORK, NetworkViewRequest(sid, version, wait)))


def test_the_view_message_reads_back() -> None:
    eni = LocalEni("arn:task", "10.0.1.4", "subnet-1", "02:00:00:00:00:01", ("sg-1", "sg-2"))
    message = NetworkView.of(
        [eni],
        [{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": False}],
        {"sg-1": ["10.0.1.4"]},
        {"subnet-1": SubnetInfo("10.0.1.0/24", "vpc-1")},
        {"subnet-1": ["192.0.2.7"]},
    )
    back = NetworkView.from_wire(orjson.loads(orjson.dumps(message.to_wire())))
    assert back == message
    assert message.version != EMPTY.version
    assert (
        NetworkView.of([eni], [], {}, {}, {}).version
        == NetworkView.of([eni], [], {}, {}, {}).version
    )


def test_a_hosts_view_and_its_long_poll(server: ServerProcess, name: str) -> None:
    ec2, ecs = query_client(server, "ec2"), server.client("ecs")
    client = ControlPlaneClient(server.endpoint, ACCESS_KEY, SECRET_KEY, REGION)
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    clients = ec2.create_security_group(GroupName=f"{name}-c", Description="c", VpcId=vpc)[
        "GroupId"
    ]
    ecs.create_cluster(clusterName=name)
    here, there = register(ecs, name, "192.0.2.10"), register(ecs, name, "192.0.2.11")
    mine, theirs = session(client, here), session(client, there)
    td = ecs.register_task_definition(
        family=name,
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "busybox", "memory": 32}],
    )["taskDefinition"]["taskDefinitionArn"]

    def start(instance: str, group: str) -> dict[str, Any]:
        config = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        out = ecs.start_task(
            cluster=name,
            taskDefinition=td,
            containerInstances=[instance],
            networkConfiguration=config,
        )
        assert not out["failures"], out["failures"]
        (task,) = out["tasks"]
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        return {"arn": task["taskArn"], **details}

    web = [start(here, default), start(there, default)]
    client_task = start(there, clients)

    seen = view(client, mine)
    assert seen.enis == [
        LocalEni(
            web[0]["arn"], web[0]["privateIPv4Address"], subnet, web[0]["macAddress"], (default,)
        )
    ]
    assert seen.subnets == {subnet: SubnetInfo("10.77.1.0/24", vpc)}
    assert seen.subnet_peers == {subnet: ["192.0.2.11"]}
    # The default group's rules (from itself; everywhere out) and its members on both hosts.
    assert {
        (r["IsEgress"], r.get("CidrIpv4"), (r.get("ReferencedGroupInfo") or {}).get("GroupId"))
        for r in seen.rules
    } == {(False, None, default), (True, "0.0.0.0/0", None)}
    assert seen.members == {
        default: sorted(
            (w["privateIPv4Address"] for w in web), key=lambda a: tuple(map(int, a.split(".")))
        )
    }
    # Unchanged: the poll waits its time out and answers the same view.
    began = time.monotonic()
    assert view(client, mine, seen.version, wait=1.0).version == seen.version
    assert time.monotonic() - began >= 0.9

    # A rule authorized wakes a waiting poll at once, with the rule and the clients' members.
    answers: list[tuple[NetworkView, float]] = []
    poll = threading.Thread(
        target=lambda: answers.append((view(client, mine, seen.version, wait=20), time.monotonic()))
    )
    poll.start()
    authorized = time.monotonic()
    ec2.authorize_security_group_ingress(
        GroupId=default,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": clients}],
            }
        ],
    )
    poll.join(25)
    ((woke, at),) = answers
    assert at - authorized < 2.0, at - authorized
    assert woke.version != seen.version
    assert any(r.get("FromPort") == 8080 for r in woke.rules)
    assert woke.members[clients] == [client_task["privateIPv4Address"]]

    assert view(client, theirs).enis[0].task_arn in {web[1]["arn"], client_task["arn"]}

    with pytest.raises(ApiError, match="UnknownSession"):
        view(client, "no-such-session")

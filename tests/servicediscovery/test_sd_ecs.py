"""ECS services with serviceRegistries on simulated agents: tasks registered in Cloud Map
with ECS's attributes, their names answered by Portside's DNS, scaled, stopped; ECS's
checks of a registry."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import orjson
import pytest
from botocore.exceptions import ClientError
from fleet import register, start_fleet, wait_until
from harness import ServerProcess
from sd_helpers import namespace_id, sd_client

NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c"], "securityGroups": ["sg-0a1b2c"]}}


@pytest.fixture
def sd(server: ServerProcess) -> Any:
    """Cloud Map over CBOR only: the ECS side does not depend on the protocol."""
    return sd_client(server, "smithy-rpc-v2-cbor")


@pytest.fixture
def address(server: ServerProcess) -> tuple[str, int]:
    held = orjson.loads((server.data_dir / "server.json").read_bytes())["dns"]
    host, _, port = held.rpartition(":")
    return host, int(port)


def answer(address: tuple[str, int], name: str, rdtype: str = "A") -> list[str] | None:
    """The records' values, or None on NXDOMAIN."""
    query = dns.message.make_query(name, rdtype)
    response = dns.query.udp(query, address[0], port=address[1], timeout=3)
    if response.rcode() == dns.rcode.NXDOMAIN:
        return None
    return sorted(r.to_text() for rrset in response.answer for r in rrset)


def _ips(ecs: Any, cluster: str, service: str) -> list[str]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service)["taskArns"]
    if not arns:
        return []
    out = []
    for task in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
        if task["lastStatus"] != "RUNNING":
            continue
        for d in task["attachments"][0]["details"]:
            if d["name"] == "privateIPv4Address":
                out.append(d["value"])
    return sorted(out)


def test_service_tasks_are_registered_and_resolve(
    server: ServerProcess, sd: Any, vpc: str, address: tuple[str, int], tmp_path: Path
) -> None:
    ns_name = f"sd{uuid.uuid4().hex[:8]}.local"
    ns = namespace_id(sd, sd.create_private_dns_namespace(Name=ns_name, Vpc=vpc)["OperationId"])
    backend = sd.create_service(
        Name="backend",
        NamespaceId=ns,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 5}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]
    name = f"backend.{ns_name}"
    assert answer(address, name) is None  # the namespace is Portside's zone: NXDOMAIN
    with start_fleet(server, tmp_path, f"sd-{uuid.uuid4().hex[:8]}") as fleet:
        ecs = fleet.ecs
        td = register(
            ecs,
            "sd-backend",
            networkMode="awsvpc",
            containers=[{"name": "app", "image": "busybox", "memory": 64}],
        )
        with pytest.raises(ClientError) as refused:
            ecs.create_service(
                cluster=fleet.cluster,
                serviceName="bad",
                taskDefinition=td,
                desiredCount=1,
                networkConfiguration=NETWORK,
                serviceRegistries=[{"registryArn": backend["Arn"], "port": 80}],
            )
        assert "not required" in refused.value.response["Error"]["Message"]
        ecs.create_service(
            cluster=fleet.cluster,
            serviceName="backend",
            taskDefinition=td,
            desiredCount=1,
            networkConfiguration=NETWORK,
            serviceRegistries=[{"registryArn": backend["Arn"]}],
        )
        one = wait_until(lambda: _ips(ecs, fleet.cluster, "backend") or None, what="a task")
        assert wait_until(lambda: answer(address, name), what=name) == one
        listed = sd.list_instances(ServiceId=backend["Id"])["Instances"]
        assert len(listed) == 1
        task_arn = ecs.list_tasks(cluster=fleet.cluster, serviceName="backend")["taskArns"][0]
        attributes = listed[0]["Attributes"]
        assert listed[0]["Id"] == task_arn.rsplit("/", 1)[1]
        assert attributes["AWS_INSTANCE_IPV4"] == one[0]
        assert attributes["ECS_SERVICE_NAME"] == "backend"
        assert attributes["ECS_CLUSTER_NAME"] == fleet.cluster
        assert attributes["ECS_TASK_DEFINITION_FAMILY"] == "sd-backend"
        assert attributes["REGION"] == "us-east-1"
        assert "AVAILABILITY_ZONE" in attributes

        ecs.update_service(cluster=fleet.cluster, service="backend", desiredCount=3)

        def three() -> list[str] | None:
            ips = _ips(ecs, fleet.cluster, "backend")
            return ips if len(ips) == 3 and answer(address, name) == ips else None

        assert len(wait_until(three, timeout=30, what="three records")) == 3

        # A stopped task's record goes with the stop request, before the task is STOPPED.
        ecs.stop_task(cluster=fleet.cluster, task=task_arn)
        assert task_arn.rsplit("/", 1)[1] not in {
            i["Id"] for i in sd.list_instances(ServiceId=backend["Id"])["Instances"]
        }
        left = wait_until(
            lambda: (found := answer(address, name)) and one[0] not in found and found,
            timeout=2,
            what="the stopped task's record to go",
        )
        assert len(left) == 2
        ecs.update_service(cluster=fleet.cluster, service="backend", desiredCount=0)
        wait_until(lambda: answer(address, name) is None, timeout=30, what="no records")
        ecs.delete_service(cluster=fleet.cluster, service="backend", force=True)
    wait_until(
        lambda: not sd.list_instances(ServiceId=backend["Id"])["Instances"], what="no instances"
    )
    sd.delete_service(Id=backend["Id"])
    sd.delete_namespace(Id=ns)


def test_ecs_checks_a_registry_against_its_records(
    server: ServerProcess, sd: Any, vpc: str, name: str
) -> None:
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName=name)
    ns = namespace_id(
        sd, sd.create_private_dns_namespace(Name=f"{name}.local", Vpc=vpc)["OperationId"]
    )
    a_only, srv = (
        sd.create_service(
            Name=n,
            NamespaceId=ns,
            DnsConfig={"DnsRecords": [{"Type": t, "TTL": 5} for t in types]},
        )["Service"]["Arn"]
        for n, types in (("a", ["A"]), ("s", ["A", "SRV"]))
    )
    container = {"name": "web", "image": "busybox", "memory": 32}
    container["portMappings"] = [{"containerPort": 80}]
    awsvpc = register(ecs, f"{name}-v", networkMode="awsvpc", containers=[container])
    bridge = register(ecs, f"{name}-b", networkMode="bridge", containers=[container])

    def message(td: str, item: dict[str, Any], network: bool = True) -> str:
        extra: dict[str, Any] = {"networkConfiguration": NETWORK} if network else {}
        with pytest.raises(ClientError) as caught:
            ecs.create_service(
                cluster=name,
                serviceName="x",
                taskDefinition=td,
                desiredCount=0,
                serviceRegistries=[item],
                **extra,
            )
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
        return str(caught.value.response["Error"]["Message"])

    assert "does not exist" in message(awsvpc, {"registryArn": a_only[:-2] + "zz"})
    assert "'containerPort'" in message(
        awsvpc, {"registryArn": a_only, "containerName": "web", "containerPort": 80}
    )
    assert "SRV records" in message(awsvpc, {"registryArn": srv})
    assert "awsvpc network mode" in message(
        bridge, {"registryArn": a_only, "containerName": "web", "containerPort": 80}, False
    )
    assert "containerName and containerPort" in message(
        bridge, {"registryArn": srv, "port": 80}, False
    )
    made = ecs.create_service(
        cluster=name,
        serviceName="ok",
        taskDefinition=awsvpc,
        desiredCount=0,
        networkConfiguration=NETWORK,
        serviceRegistries=[{"registryArn": srv, "port": 80}],
    )["service"]
    assert made["serviceRegistries"] == [{"registryArn": srv, "port": 80}]
    ecs.delete_service(cluster=name, service="ok")

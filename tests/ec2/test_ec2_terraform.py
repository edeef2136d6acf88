"""Terraform's AWS provider (5.100, from the local mirror) drives EC2 networking and an awsvpc
ECS service on it: an aws_vpc, two aws_subnets, an aws_security_group with an
aws_vpc_security_group_ingress_rule and an aws_vpc_security_group_egress_rule, an ECS
cluster, an awsvpc task definition and an aws_ecs_service (EC2 launch type, waiting for a
steady state) using the subnets and the group. Its tasks run on an in-process agent on the
simulated driver with one instance in each subnet's zone, registered as soon as Terraform
has made the cluster. Apply, each task's ENI is in one of the subnets and in the group, a plan
then finds nothing to change, and destroy removes everything, the ENIs with their tasks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from terraform import Terraform, needs_terraform, provider

from portside.agent.session import Agent
from portside.testing.agent import start_simulated_agent

pytestmark = needs_terraform

ZONES = ("us-east-1a", "us-east-1b")
TASKS = 2


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2", "ecs"))
        + f"""
resource "aws_vpc" "main" {{
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = {{ Name = "{name}" }}
}}

resource "aws_subnet" "a" {{
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "{ZONES[0]}"
  tags = {{ Name = "{name}-a" }}
}}

resource "aws_subnet" "b" {{
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.2.0/24"
  availability_zone       = "{ZONES[1]}"
  map_public_ip_on_launch = true
}}

resource "aws_security_group" "web" {{
  name        = "{name}-web"
  description = "web tasks"
  vpc_id      = aws_vpc.main.id
}}

resource "aws_vpc_security_group_ingress_rule" "http" {{
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "10.20.0.0/16"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  description       = "http from the VPC"
}}

resource "aws_vpc_security_group_egress_rule" "all" {{
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}}

resource "aws_ecs_cluster" "main" {{
  name = "{name}"
}}

resource "aws_ecs_task_definition" "web" {{
  family                   = "{name}"
  network_mode             = "awsvpc"
  requires_compatibilities = ["EC2"]
  container_definitions = jsonencode([{{
    name         = "web"
    image        = "busybox"
    memory       = 32
    essential    = true
    portMappings = [{{ containerPort = 80, protocol = "tcp" }}]
  }}])
}}

resource "aws_ecs_service" "web" {{
  name                  = "{name}"
  cluster               = aws_ecs_cluster.main.id
  task_definition       = aws_ecs_task_definition.web.arn
  desired_count         = {TASKS}
  launch_type           = "EC2"
  wait_for_steady_state = true
  network_configuration {{
    subnets         = [aws_subnet.a.id, aws_subnet.b.id]
    security_groups = [aws_security_group.web.id]
  }}
  # The group's rules go with it only after the service's tasks are gone.
  depends_on = [aws_vpc_security_group_ingress_rule.http, aws_vpc_security_group_egress_rule.all]
}}

output "vpc" {{ value = aws_vpc.main.id }}
output "group" {{ value = aws_security_group.web.id }}
output "subnets" {{ value = [aws_subnet.a.id, aws_subnet.b.id] }}
"""
    )


def _poll(check: Callable[[], Any], stop: threading.Event, every: float = 0.1) -> bool:
    while not stop.is_set():
        if check():
            return True
        stop.wait(every)
    return False


class _Capacity:
    """What an Auto Scaling group would give the cluster Terraform makes: an agent with an
    instance in each zone, registered as soon as the cluster exists. Once destroy has begun
    (`destroying`) and the service is gone (never made, or INACTIVE: its tasks stopped), the
    agent stops and its instances deregister, so that the cluster can go too (the provider
    retries DeleteCluster while instances are registered)."""

    def __init__(self, server: ServerProcess, root: Path, cluster: str) -> None:
        self.server, self.root, self.cluster = server, root, cluster
        self.ecs = server.client("ecs")
        self.stop = threading.Event()
        self.destroying = threading.Event()
        self.agents: list[Agent] = []
        self.errors: list[BaseException] = []

    def _cluster_active(self) -> bool:
        found = self.ecs.describe_clusters(clusters=[self.cluster])["clusters"]
        return bool(found) and found[0]["status"] == "ACTIVE"

    def _service_gone(self) -> bool:
        out = self.ecs.describe_services(cluster=self.cluster, services=[self.cluster])
        return [s["status"] for s in out["services"]] in ([], ["INACTIVE"])

    def run(self) -> None:
        try:
            if not _poll(self._cluster_active, self.stop):
                return
            self.agents.append(
                start_simulated_agent(
                    self.server.endpoint,
                    ACCESS_KEY,
                    SECRET_KEY,
                    self.root / "agent",
                    self.cluster,
                    region=REGION,
                    zones=ZONES,
                    instances=len(ZONES),
                )
            )
            if _poll(self.destroying.is_set, self.stop) and _poll(self._service_gone, self.stop):
                self._release()
        except BaseException as exc:  # shown by the test, not lost in the thread
            self.errors.append(exc)

    def _release(self) -> None:
        instances = [arn for agent in self.agents for arn in agent.workers]
        for agent in self.agents:
            agent.stop()
        for arn in instances:
            self.ecs.deregister_container_instance(
                cluster=self.cluster, containerInstance=arn, force=True
            )


@contextmanager
def _capacity(server: ServerProcess, root: Path, cluster: str) -> Iterator[_Capacity]:
    capacity = _Capacity(server, root, cluster)
    thread = threading.Thread(target=capacity.run, name=f"capacity-{cluster}", daemon=True)
    thread.start()
    try:
        yield capacity
    finally:
        capacity.stop.set()
        thread.join(timeout=30)
        for agent in capacity.agents:
            agent.stop()
    if capacity.errors:
        raise capacity.errors[0]


def _eni_details(task: dict[str, Any]) -> dict[str, str]:
    (attachment,) = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    return {d["name"]: d["value"] for d in attachment["details"]}


def test_apply_plan_destroy(server: ServerProcess, ec2: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    ecs = server.client("ecs")
    with _capacity(server, tmp_path, name) as capacity:
        try:
            terraform.apply()
            outputs = json.loads(terraform("output", "-json").stdout)
            vpc_id, group_id = outputs["vpc"]["value"], outputs["group"]["value"]
            subnet_ids = outputs["subnets"]["value"]
            subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
            assert sorted(s["CidrBlock"] for s in subnets["Subnets"]) == [
                "10.20.1.0/24",
                "10.20.2.0/24",
            ]
            (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
            assert [(p["IpProtocol"], p.get("FromPort")) for p in group["IpPermissions"]] == [
                ("tcp", 80)
            ]
            assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == ["-1"]
            hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
            assert hostnames["EnableDnsHostnames"] == {"Value": True}

            # wait_for_steady_state: the service's tasks run when apply returns.
            (service,) = ecs.describe_services(cluster=name, services=[name])["services"]
            assert service["runningCount"] == TASKS
            arns = ecs.list_tasks(cluster=name, serviceName=name)["taskArns"]
            tasks = ecs.describe_tasks(cluster=name, tasks=arns)["tasks"]
            assert [t["lastStatus"] for t in tasks] == ["RUNNING"] * TASKS
            enis = ec2.describe_network_interfaces(
                Filters=[{"Name": "group-id", "Values": [group_id]}]
            )["NetworkInterfaces"]
            by_id = {e["NetworkInterfaceId"]: e for e in enis}
            assert len(by_id) == TASKS
            for task in tasks:
                details = _eni_details(task)
                eni = by_id[details["networkInterfaceId"]]
                assert eni["SubnetId"] == details["subnetId"]
                assert eni["PrivateIpAddress"] == details["privateIPv4Address"]
                assert [g["GroupId"] for g in eni["Groups"]] == [group_id]
                assert eni["VpcId"] == vpc_id
                assert eni["AvailabilityZone"] == task["availabilityZone"]
            # One instance in each zone, tasks spread over the zones: both subnets used.
            assert sorted(e["SubnetId"] for e in enis) == sorted(subnet_ids)
            terraform.assert_no_changes()
        finally:
            capacity.destroying.set()
            terraform.destroy()
    with pytest.raises(ec2.exceptions.ClientError) as gone:
        ec2.describe_vpcs(VpcIds=[vpc_id])
    assert gone.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"
    left = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group_id]}])
    assert left["NetworkInterfaces"] == []
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"

"""Terraform's AWS provider (from the local mirror) drives Cloud Map and an ECS service
registered in it: an aws_service_discovery_private_dns_namespace (on an aws_vpc), an
aws_service_discovery_http_namespace, an aws_service_discovery_service (A and SRV records,
MULTIVALUE, a custom health check) and an aws_ecs_service with service_registries, its tasks
on a simulated agent. Apply, the tasks are instances of the Cloud Map service, a plan finds
nothing to change, destroy removes it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet import wait_until
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from sd_helpers import sd_client
from terraform import Terraform, needs_terraform, provider

from portside.testing.agent import start_simulated_agent

pytestmark = needs_terraform
TASKS = 2


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2", "ecs", "servicediscovery"))
        + f"""
resource "aws_vpc" "main" {{
  cidr_block = "10.30.0.0/16"
}}

resource "aws_service_discovery_private_dns_namespace" "main" {{
  name        = "{name}.local"
  description = "private"
  vpc         = aws_vpc.main.id
}}

resource "aws_service_discovery_http_namespace" "api" {{
  name        = "{name}-http"
  description = "http"
}}

resource "aws_service_discovery_service" "backend" {{
  name = "backend"
  dns_config {{
    namespace_id   = aws_service_discovery_private_dns_namespace.main.id
    routing_policy = "MULTIVALUE"
    dns_records {{
      ttl  = 10
      type = "A"
    }}
    dns_records {{
      ttl  = 10
      type = "SRV"
    }}
  }}
  health_check_custom_config {{
    failure_threshold = 1
  }}
  tags = {{ Team = "{name}" }}
}}

resource "aws_ecs_task_definition" "backend" {{
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

resource "aws_ecs_service" "backend" {{
  name                  = "{name}"
  cluster               = "{name}"
  task_definition       = aws_ecs_task_definition.backend.arn
  desired_count         = {TASKS}
  launch_type           = "EC2"
  wait_for_steady_state = true
  network_configuration {{
    subnets         = ["subnet-0a1b2c"]
    security_groups = ["sg-0a1b2c"]
  }}
  service_registries {{
    registry_arn   = aws_service_discovery_service.backend.arn
    container_name = "web"
    container_port = 80
  }}
}}

output "namespace" {{ value = aws_service_discovery_private_dns_namespace.main.id }}
output "service" {{ value = aws_service_discovery_service.backend.id }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    ecs = server.client("ecs")
    sd: Any = sd_client(server, "json")
    ecs.create_cluster(clusterName=name)
    agent = start_simulated_agent(
        server.endpoint, ACCESS_KEY, SECRET_KEY, tmp_path / "agent", name, region=REGION
    )
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    try:
        terraform.apply()
        outputs = json.loads(terraform("output", "-json").stdout)
        ns_id, service_id = outputs["namespace"]["value"], outputs["service"]["value"]
        namespace = sd.get_namespace(Id=ns_id)["Namespace"]
        assert (namespace["Name"], namespace["Type"]) == (f"{name}.local", "DNS_PRIVATE")
        service = sd.get_service(Id=service_id)["Service"]
        assert [r["Type"] for r in service["DnsConfig"]["DnsRecords"]] == ["A", "SRV"]
        arns = ecs.list_tasks(cluster=name, serviceName=name)["taskArns"]
        assert len(arns) == TASKS

        def registered() -> set[str] | None:
            found = sd.list_instances(ServiceId=service_id)["Instances"]
            ids = {i["Id"] for i in found}
            return ids if len(ids) == TASKS else None

        ids = wait_until(registered, what="the tasks in Cloud Map")
        assert ids == {arn.rsplit("/", 1)[1] for arn in arns}
        port = {
            i["Attributes"]["AWS_INSTANCE_PORT"]
            for i in sd.list_instances(ServiceId=service_id)["Instances"]
        }
        assert port == {"80"}
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
        agent.stop()
    assert [n for n in sd.list_namespaces()["Namespaces"] if n["Name"].startswith(name)] == []

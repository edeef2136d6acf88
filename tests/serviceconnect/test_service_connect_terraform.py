"""Terraform's AWS provider (from the local mirror) drives Service Connect: an
aws_service_discovery_http_namespace and aws_ecs_services with service_connect_configuration
(a backend serving a named port under a client alias, a frontend client only), their tasks
on a simulated agent. Apply, the backend's tasks are instances of the namespace's discovery
service, a plan finds nothing to change, destroy removes it all (the discovery service ECS
made included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet import wait_until
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess
from terraform import Terraform, needs_terraform, provider

from portside.testing.agent import start_simulated_agent

pytestmark = needs_terraform
TASKS = 2


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2", "ecs", "servicediscovery"))
        + f"""
resource "aws_service_discovery_http_namespace" "sc" {{
  name        = "{name}-sc"
  description = "service connect"
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
    portMappings = [{{ name = "http", containerPort = 8080, protocol = "tcp" }}]
  }}])
}}

resource "aws_ecs_service" "backend" {{
  name                  = "{name}-backend"
  cluster               = "{name}"
  task_definition       = aws_ecs_task_definition.web.arn
  desired_count         = {TASKS}
  launch_type           = "EC2"
  wait_for_steady_state = true
  network_configuration {{
    subnets         = ["subnet-0a1b2c"]
    security_groups = ["sg-0a1b2c"]
  }}
  service_connect_configuration {{
    enabled   = true
    namespace = aws_service_discovery_http_namespace.sc.arn
    service {{
      port_name      = "http"
      discovery_name = "backend"
      client_alias {{
        port     = 8080
        dns_name = "backend"
      }}
    }}
  }}
}}

resource "aws_ecs_service" "frontend" {{
  name            = "{name}-frontend"
  cluster         = "{name}"
  task_definition = aws_ecs_task_definition.web.arn
  desired_count   = 1
  launch_type     = "EC2"
  network_configuration {{
    subnets         = ["subnet-0a1b2c"]
    security_groups = ["sg-0a1b2c"]
  }}
  service_connect_configuration {{
    enabled   = true
    namespace = aws_service_discovery_http_namespace.sc.arn
  }}
}}

output "namespace" {{ value = aws_service_discovery_http_namespace.sc.id }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    ecs = server.client("ecs")
    sd: Any = server.client("servicediscovery")
    sd.meta.config.inject_host_prefix = False
    ecs.create_cluster(clusterName=name)
    agent = start_simulated_agent(
        server.endpoint, ACCESS_KEY, SECRET_KEY, tmp_path / "agent", name, region=REGION
    )
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    try:
        terraform.apply()
        ns_id = json.loads(terraform("output", "-json").stdout)["namespace"]["value"]
        arn = sd.get_namespace(Id=ns_id)["Namespace"]["Arn"]
        listed = ecs.list_services_by_namespace(namespace=arn)["serviceArns"]
        assert sorted(a.rsplit("/", 1)[1] for a in listed) == [
            f"{name}-backend",
            f"{name}-frontend",
        ]
        backend = ecs.describe_services(cluster=name, services=[f"{name}-backend"])["services"][0]
        (resource,) = backend["deployments"][0]["serviceConnectResources"]
        discovery = resource["discoveryArn"].rsplit("/", 1)[1]

        def registered() -> set[str] | None:
            ids = {i["Id"] for i in sd.list_instances(ServiceId=discovery)["Instances"]}
            return ids if len(ids) == TASKS else None

        ids = wait_until(registered, timeout=30, what="the tasks in Cloud Map")
        arns = ecs.list_tasks(cluster=name, serviceName=f"{name}-backend")["taskArns"]
        assert ids == {a.rsplit("/", 1)[1] for a in arns}
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
        agent.stop()
    assert [n for n in sd.list_namespaces()["Namespaces"] if n["Name"].startswith(name)] == []

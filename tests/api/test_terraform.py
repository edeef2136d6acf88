"""Terraform's AWS provider against Portside: it asks STS who it is at start (no
`skip_requesting_account_id`), applies ECS resources, finds nothing to change, destroys."""

from __future__ import annotations

from pathlib import Path

from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("ecs", "sts", "cloudwatchlogs"))
        + f"""
data "aws_caller_identity" "me" {{}}

resource "aws_ecs_cluster" "c" {{
  name = "{name}"
}}

resource "aws_ecs_task_definition" "web" {{
  family                = "{name}"
  container_definitions = jsonencode([{{ name = "web", image = "busybox", memory = 64 }}])
}}

output "account" {{ value = data.aws_caller_identity.me.account_id }}
output "caller"  {{ value = data.aws_caller_identity.me.arn }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=300)
    terraform.apply()
    outputs = terraform("output", "-json").stdout
    assert '"000000000000"' in outputs
    assert "arn:aws:iam::000000000000:root" in outputs
    ecs = server.client("ecs")
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "ACTIVE"
    terraform.assert_no_changes()
    terraform.destroy()
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"

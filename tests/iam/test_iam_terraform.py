"""Terraform's AWS provider (from the local mirror) drives IAM: an aws_iam_role trusting
ecs-tasks.amazonaws.com, an aws_iam_policy, an aws_iam_role_policy_attachment of it and one
of an AWS managed policy, an aws_iam_user with an aws_iam_access_key, and an
aws_iam_instance_profile holding the role, and an ECS task definition naming the role as its
task and execution role. The account comes from STS (no skip flags). Apply,
the objects are there as boto3 reads them, a plan then finds nothing to change (the provider
compares policy documents by meaning, after unescaping IAM's URL-encoded answers), and
destroy removes everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "iam", "ecs"))
        + f"""
data "aws_caller_identity" "me" {{}}

resource "aws_iam_role" "task" {{
  name = "{name}-task"
  path = "/ecs/"
  assume_role_policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Principal = {{ Service = "ecs-tasks.amazonaws.com" }}
      Action    = "sts:AssumeRole"
    }}]
  }})
  description          = "task role"
  max_session_duration = 7200
  tags = {{ team = "a" }}
}}

resource "aws_iam_policy" "logs" {{
  name        = "{name}-logs"
  description = "write one group"
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "arn:aws:logs:*:${{data.aws_caller_identity.me.account_id}}:log-group:{name}:*"
    }}]
  }})
}}

resource "aws_iam_role_policy_attachment" "logs" {{
  role       = aws_iam_role.task.name
  policy_arn = aws_iam_policy.logs.arn
}}

resource "aws_iam_role_policy_attachment" "execution" {{
  role       = aws_iam_role.task.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}}

resource "aws_iam_user" "ci" {{
  name = "{name}-ci"
  tags = {{ owner = "ops" }}
}}

resource "aws_iam_access_key" "ci" {{
  user = aws_iam_user.ci.name
}}

resource "aws_iam_instance_profile" "hosts" {{
  name = "{name}-hosts"
  role = aws_iam_role.task.name
}}

resource "aws_ecs_task_definition" "app" {{
  family                = "{name}"
  task_role_arn         = aws_iam_role.task.arn
  execution_role_arn    = aws_iam_role.task.arn
  container_definitions = jsonencode([{{
    name      = "app"
    image     = "busybox"
    memory    = 64
    essential = true
  }}])
}}

output "account" {{
  value = data.aws_caller_identity.me.account_id
}}
"""
    )


@pytest.mark.timeout(300)
def test_terraform_apply_plan_destroy(
    server: ServerProcess, iam: Any, tmp_path: Path, name: str
) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    tf = Terraform(tmp_path, timeout=120)
    tf.apply()
    try:
        role = iam.get_role(RoleName=f"{name}-task")["Role"]
        assert role["Arn"] == f"arn:aws:iam::000000000000:role/ecs/{name}-task"
        principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "ecs-tasks.amazonaws.com"}
        attached = iam.list_attached_role_policies(RoleName=f"{name}-task")["AttachedPolicies"]
        assert {a["PolicyName"] for a in attached} == {
            f"{name}-logs",
            "AmazonECSTaskExecutionRolePolicy",
        }
        keys = iam.list_access_keys(UserName=f"{name}-ci")["AccessKeyMetadata"]
        assert [k["Status"] for k in keys] == ["Active"]
        profile = iam.get_instance_profile(InstanceProfileName=f"{name}-hosts")
        assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [f"{name}-task"]
        ecs = server.client("ecs")
        definition = ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]
        assert definition["taskRoleArn"] == role["Arn"] == definition["executionRoleArn"]
        tf.assert_no_changes()
    finally:
        tf.destroy()
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(name)]
    assert not [u for u in iam.list_users()["Users"] if u["UserName"].startswith(name)]
    local = iam.list_policies(Scope="Local")["Policies"]
    assert not [p for p in local if p["PolicyName"].startswith(name)]

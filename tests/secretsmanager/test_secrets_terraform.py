"""Terraform's AWS provider (5.100, from the local mirror) drives the services a task's
secrets live in, in one configuration (each provider run costs ~10 s, so one apply serves
them all):

- KMS: two aws_kms_key (one with rotation and tags, one with a policy of its own) and two
  aws_kms_alias (by key id, by key ARN);
- Secrets Manager: aws_secretsmanager_secret and _version, one under a customer key with a
  recovery window, one binary without;
- Parameter Store: aws_ssm_parameter, a String with tags and two SecureStrings (under the
  customer key and under the default one);
- ECR: aws_ecr_repository (immutable tags, scan on push, tags, force_delete) and
  aws_ecr_lifecycle_policy;
- ECS: an aws_ecs_task_definition whose container takes a secret, a JSON key of it and a
  parameter, its image in that repository.

They apply, a plan then finds nothing to change, and destroy removes them (keys scheduled for
deletion, aliases gone, the secret with a recovery window scheduled, the one without gone, the
repository gone, the task definition INACTIVE).
What the provider calls for secrets (TF_LOG=DEBUG): CreateSecret, DescribeSecret,
GetResourcePolicy, PutSecretValue, GetSecretValue, DeleteSecret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "kms", "secretsmanager", "ssm", "ecr", "ecs"))
        + f"""
data "aws_caller_identity" "me" {{}}

resource "aws_kms_key" "app" {{
  description             = "{name}"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  tags = {{ team = "payments" }}
}}

resource "aws_kms_key" "strict" {{
  description             = "{name}-strict"
  deletion_window_in_days = 10
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Sid       = "Root"
      Effect    = "Allow"
      Principal = {{ AWS = "arn:aws:iam::${{data.aws_caller_identity.me.account_id}}:root" }}
      Action    = "kms:*"
      Resource  = "*"
    }}]
  }})
}}

resource "aws_kms_alias" "app" {{
  name          = "alias/{name}"
  target_key_id = aws_kms_key.app.key_id
}}

resource "aws_kms_alias" "strict" {{
  name          = "alias/{name}-strict"
  target_key_id = aws_kms_key.strict.arn
}}

resource "aws_secretsmanager_secret" "db" {{
  name                    = "{name}/db"
  description             = "the database"
  kms_key_id              = aws_kms_key.app.arn
  recovery_window_in_days = 7
  tags = {{ team = "data" }}
}}

resource "aws_secretsmanager_secret_version" "db" {{
  secret_id     = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({{ user = "app", password = "tf-password" }})
}}

resource "aws_secretsmanager_secret" "token" {{
  name                    = "{name}/token"
  recovery_window_in_days = 0
}}

resource "aws_secretsmanager_secret_version" "token" {{
  secret_id     = aws_secretsmanager_secret.token.id
  secret_binary = base64encode("binary-token")
}}

resource "aws_ssm_parameter" "url" {{
  name        = "/{name}/db/url"
  type        = "String"
  value       = "postgres://db:5432/app"
  description = "where the database is"
  tags        = {{ team = "web" }}
}}

resource "aws_ssm_parameter" "password" {{
  name   = "/{name}/db/password"
  type   = "SecureString"
  value  = "correct horse battery staple"
  key_id = aws_kms_key.app.key_id
}}

resource "aws_ssm_parameter" "token" {{
  name  = "/{name}/api/token"
  type  = "SecureString"
  value = "t0ken"
}}

resource "aws_ecr_repository" "app" {{
  name                 = "{name}/app"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = true
  image_scanning_configuration {{
    scan_on_push = true
  }}
  tags = {{ team = "web" }}
}}

resource "aws_ecr_lifecycle_policy" "app" {{
  repository = aws_ecr_repository.app.name
  policy = jsonencode({{
    rules = [{{
      rulePriority = 1
      description  = "keep ten untagged"
      selection = {{
        tagStatus   = "untagged"
        countType   = "imageCountMoreThan"
        countNumber = 10
      }}
      action = {{ type = "expire" }}
    }}]
  }})
}}

resource "aws_ecs_task_definition" "app" {{
  family             = "{name.replace("/", "-")}"
  execution_role_arn = "arn:aws:iam::${{data.aws_caller_identity.me.account_id}}:role/exec"
  container_definitions = jsonencode([{{
    name      = "app"
    image     = "${{aws_ecr_repository.app.repository_url}}:v1"
    memory    = 64
    essential = true
    secrets = [
      {{ name = "DB", valueFrom = aws_secretsmanager_secret.db.arn }},
      {{ name = "DB_USER", valueFrom = "${{aws_secretsmanager_secret.db.arn}}:user::" }},
      {{ name = "TOKEN", valueFrom = aws_ssm_parameter.token.arn }},
    ]
  }}])
}}

output "db" {{ value = aws_secretsmanager_secret.db.arn }}
output "url" {{ value = aws_ecr_repository.app.repository_url }}
output "task_definition" {{ value = aws_ecs_task_definition.app.arn }}
output "version" {{ value = aws_secretsmanager_secret_version.db.version_id }}
output "password_arn" {{ value = aws_ssm_parameter.password.arn }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    kms, sm, ssm = server.client("kms"), server.client("secretsmanager"), server.client("ssm")
    ecr, ecs = server.client("ecr"), server.client("ecs")
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    try:
        outputs = json.loads(terraform("output", "-json").stdout)
        key = kms.describe_key(KeyId=f"alias/{name}")["KeyMetadata"]
        strict = kms.describe_key(KeyId=f"alias/{name}-strict")["KeyMetadata"]["Arn"]
        assert key["Description"] == name and key["KeyManager"] == "CUSTOMER"
        assert kms.get_key_rotation_status(KeyId=key["Arn"])["KeyRotationEnabled"] is True
        tags = kms.list_resource_tags(KeyId=key["Arn"])["Tags"]
        assert tags == [{"TagKey": "team", "TagValue": "payments"}]
        policy = json.loads(kms.get_key_policy(KeyId=strict)["Policy"])
        assert policy["Statement"][0]["Sid"] == "Root"

        secret = outputs["db"]["value"]
        got = sm.get_secret_value(SecretId=f"{name}/db")
        assert got["ARN"] == secret and got["VersionId"] == outputs["version"]["value"]
        assert json.loads(got["SecretString"]) == {"user": "app", "password": "tf-password"}
        described = sm.describe_secret(SecretId=secret)
        assert described["KmsKeyId"] == key["Arn"]
        assert described["Tags"] == [{"Key": "team", "Value": "data"}]
        assert sm.get_secret_value(SecretId=f"{name}/token")["SecretBinary"] == b"binary-token"

        assert outputs["password_arn"]["value"] == (
            f"arn:aws:ssm:us-east-1:000000000000:parameter/{name}/db/password"
        )
        password = ssm.get_parameter(Name=f"/{name}/db/password", WithDecryption=True)
        assert password["Parameter"]["Value"] == "correct horse battery staple"
        assert ssm.get_parameter(Name=f"/{name}/db/url")["Parameter"]["Value"] == (
            "postgres://db:5432/app"
        )
        tagged = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=f"/{name}/db/url")
        assert tagged["TagList"] == [{"Key": "team", "Value": "web"}]

        (repo,) = ecr.describe_repositories(repositoryNames=[f"{name}/app"])["repositories"]
        assert outputs["url"]["value"] == repo["repositoryUri"]
        assert repo["imageTagMutability"] == "IMMUTABLE"
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        lifecycle = ecr.get_lifecycle_policy(repositoryName=f"{name}/app")
        assert json.loads(lifecycle["lifecyclePolicyText"])["rules"][0]["rulePriority"] == 1

        family = outputs["task_definition"]["value"]
        (container,) = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"][
            "containerDefinitions"
        ]
        assert [s["name"] for s in container["secrets"]] == ["DB", "DB_USER", "TOKEN"]
        assert container["secrets"][1]["valueFrom"] == f"{secret}:user::"
        terraform.assert_no_changes()
    finally:  # whatever the plan says, leave the shared server without these resources
        terraform.destroy()
    for arn in (key["Arn"], strict):
        assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
        assert kms.list_aliases(KeyId=arn)["Aliases"] == []
    assert "DeletedDate" in sm.describe_secret(SecretId=secret)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=f"{name}/token")
    assert ssm.get_parameters_by_path(Path=f"/{name}", Recursive=True)["Parameters"] == []
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[f"{name}/app"])
    gone = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    assert gone["status"] == "INACTIVE"
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=f"/{name}/api/token")

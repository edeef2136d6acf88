"""Terraform's AWS provider against Portside: it asks STS who it is at start (no
`skip_requesting_account_id`), applies ECS resources, finds nothing to change, destroys."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

MIRROR = Path("/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="terraform and its provider mirror (/opt/tf-plugins) are not on this machine",
)


def _config(endpoint: str, name: str) -> str:
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in ("ecs", "sts", "cloudwatchlogs"))
    return f"""
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "{ACCESS_KEY}"
  secret_key                  = "{SECRET_KEY}"
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {{
{endpoints}
  }}
}}

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


def _terraform(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    rc = workdir / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n'
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))},
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    proc = subprocess.run(
        [str(TERRAFORM), *args, "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout[-3000:]}{proc.stderr}"
    return proc


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    _terraform(tmp_path, "init", "-input=false")
    _terraform(tmp_path, "apply", "-auto-approve", "-input=false")
    outputs = _terraform(tmp_path, "output", "-json").stdout
    assert '"000000000000"' in outputs
    assert "arn:aws:iam::000000000000:root" in outputs
    ecs = server.client("ecs")
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "ACTIVE"
    plan = _terraform(tmp_path, "plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, f"plan wants changes: {plan.stdout[-3000:]}{plan.stderr}"
    _terraform(tmp_path, "destroy", "-auto-approve", "-input=false")
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"

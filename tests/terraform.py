"""Terraform's AWS provider, from the local mirror, against a Portside server: a provider
block whose endpoints are the server's, and a runner that sees no AWS or TF settings of the
machine's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
from harness import ACCESS_KEY, REGION, SECRET_KEY

MIRROR = Path("/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")

# A test module's `pytestmark`. The provider sleeps in its own waiters (30 s a poll for a load
# balancer), and on a loaded 2-core machine several of these run at once: 150-280 s were
# seen, so each gets twice the suite's 300 s.
needs_terraform = [
    pytest.mark.skipif(
        TERRAFORM is None or not MIRROR.is_dir(),
        reason="terraform and its provider mirror (/opt/tf-plugins) are not on this machine",
    ),
    pytest.mark.timeout(600),
]


def provider(endpoint: str, services: Iterable[str]) -> str:
    """The `provider "aws"` block sending `services` to `endpoint` with the test credentials."""
    endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in services)
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
"""


class Terraform:
    """`terraform` run in `workdir`, each command given `timeout` seconds."""

    def __init__(self, workdir: Path, timeout: float) -> None:
        self.workdir = workdir
        self.timeout = timeout

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        rc = self.workdir / "terraformrc"
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
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        if check:
            assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout[-3000:]}{proc.stderr}"
        return proc

    def apply(self) -> None:
        self("init", "-input=false")
        self("apply", "-auto-approve", "-input=false")

    def assert_no_changes(self) -> None:
        plan = self("plan", "-detailed-exitcode", "-input=false", check=False)
        assert plan.returncode == 0, f"plan wants changes: {plan.stdout[-3000:]}{plan.stderr}"

    def destroy(self) -> None:
        self("destroy", "-auto-approve", "-input=false")

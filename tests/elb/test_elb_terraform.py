"""Terraform's AWS provider (5.100, from the local mirror) drives ELBv2: aws_lb,
aws_lb_target_group, aws_lb_listener and aws_lb_listener_rule apply, a plan then finds
nothing to change, and destroy removes them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from elb_certs import self_signed
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

MIRROR = Path("/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR.is_dir(),
    reason="terraform and its provider mirror (/opt/tf-plugins) are not on this machine",
)


def _config(endpoint: str, name: str) -> str:
    services = ("sts", "elbv2", "ec2", "acm")  # ec2: asked for ENIs when a LB is deleted
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

resource "aws_lb" "web" {{
  name               = "{name}"
  load_balancer_type = "application"
  subnets            = ["subnet-0aaa1111", "subnet-0bbb2222"]
  security_groups    = ["sg-0123456789"]
  idle_timeout       = 120
  tags = {{ team = "web" }}
}}

resource "aws_lb_target_group" "web" {{
  name        = "{name}"
  port        = 8080
  protocol    = "HTTP"
  vpc_id      = "vpc-0123456789abcdef0"
  target_type = "ip"
  deregistration_delay = 5
  health_check {{
    path    = "/health"
    matcher = "200-299"
  }}
}}

resource "aws_lb_listener" "http" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }}
}}

resource "aws_lb_listener_rule" "api" {{
  listener_arn = aws_lb_listener.http.arn
  priority     = 10
  action {{
    type = "fixed-response"
    fixed_response {{
      content_type = "text/plain"
      message_body = "no api here"
      status_code  = "404"
    }}
  }}
  condition {{
    path_pattern {{
      values = ["/api/*"]
    }}
  }}
}}

resource "aws_lb_target_group" "api" {{
  name     = "{name}-api"
  port     = 9000
  protocol = "HTTP"
  vpc_id   = "vpc-0123456789abcdef0"
  stickiness {{
    type    = "lb_cookie"
    enabled = true
  }}
}}

resource "aws_acm_certificate" "web" {{
  private_key      = file("${{path.module}}/key.pem")
  certificate_body = file("${{path.module}}/cert.pem")
}}

resource "aws_lb_listener" "https" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 8443
  protocol          = "HTTPS"
  certificate_arn   = aws_acm_certificate.web.arn
  default_action {{
    type = "redirect"
    redirect {{
      port        = "80"
      protocol    = "HTTP"
      status_code = "HTTP_302"
    }}
  }}
}}

resource "aws_lb_listener_rule" "weighted" {{
  listener_arn = aws_lb_listener.http.arn
  priority     = 20
  action {{
    type = "forward"
    forward {{
      target_group {{
        arn    = aws_lb_target_group.api.arn
        weight = 80
      }}
      target_group {{
        arn    = aws_lb_target_group.web.arn
        weight = 20
      }}
      stickiness {{
        enabled  = true
        duration = 600
      }}
    }}
  }}
  condition {{
    host_header {{
      values = ["api.example.test"]
    }}
  }}
  condition {{
    http_header {{
      http_header_name = "X-Env"
      values           = ["prod"]
    }}
  }}
}}

output "dns" {{ value = aws_lb.web.dns_name }}
output "certificate" {{ value = aws_acm_certificate.web.arn }}
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
        timeout=600,
    )
    if check:
        assert proc.returncode == 0, f"terraform {args[0]}: {proc.stdout[-3000:]}{proc.stderr}"
    return proc


def test_apply_plan_destroy(server: ServerProcess, elb: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    cert, key = self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    _terraform(tmp_path, "init", "-input=false")
    _terraform(tmp_path, "apply", "-auto-approve", "-input=false")
    outputs = json.loads(_terraform(tmp_path, "output", "-json").stdout)
    assert outputs["dns"]["value"].endswith(".us-east-1.elb.portside.internal")
    certificate = outputs["certificate"]["value"]
    (lb,) = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
    attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in attrs["Attributes"]
    plan = _terraform(tmp_path, "plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, f"plan wants changes: {plan.stdout[-3000:]}{plan.stderr}"
    _terraform(tmp_path, "destroy", "-auto-approve", "-input=false")
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.describe_load_balancers(Names=[name])
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.describe_target_groups(Names=[name])
    acm = server.client("acm")
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=certificate)

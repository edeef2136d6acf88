"""Terraform's AWS provider (5.100, from the local mirror) drives ELBv2: aws_lb,
aws_lb_target_group, aws_lb_listener, aws_lb_listener_rule and an aws_ecs_service with a
`load_balancer` block apply, a plan then finds nothing to change, and destroy removes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from certificates import self_signed
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    services = ("sts", "elbv2", "ec2", "acm", "ecs")  # ec2: asked for ENIs when a LB is deleted
    return (
        provider(endpoint, services)
        + f"""
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

resource "aws_ecs_cluster" "web" {{
  name = "{name}"
}}

resource "aws_ecs_task_definition" "web" {{
  family       = "{name}"
  network_mode = "bridge"
  container_definitions = jsonencode([{{
    name         = "web"
    image        = "httpd:2.4"
    memory       = 64
    essential    = true
    portMappings = [{{ containerPort = 80, hostPort = 0, protocol = "tcp" }}]
  }}])
}}

# Bridge mode registers instances: the instance-type group `api`, which a rule forwards to.
# No agent runs here, so the task is never placed; the service is ACTIVE all the same.
resource "aws_ecs_service" "web" {{
  name            = "{name}"
  cluster         = aws_ecs_cluster.web.id
  task_definition = aws_ecs_task_definition.web.arn
  desired_count   = 1
  health_check_grace_period_seconds = 30
  load_balancer {{
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "web"
    container_port   = 80
  }}
  depends_on = [aws_lb_listener_rule.weighted]
}}

output "dns" {{ value = aws_lb.web.dns_name }}
output "certificate" {{ value = aws_acm_certificate.web.arn }}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, elb: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    cert, key = self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    outputs = json.loads(terraform("output", "-json").stdout)
    assert outputs["dns"]["value"].endswith(".us-east-1.elb.portside.internal")
    certificate = outputs["certificate"]["value"]
    (lb,) = elb.describe_load_balancers(Names=[name])["LoadBalancers"]
    attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "120"} in attrs["Attributes"]
    ecs = server.client("ecs")
    (service,) = ecs.describe_services(cluster=name, services=[name])["services"]
    (api,) = elb.describe_target_groups(Names=[f"{name}-api"])["TargetGroups"]
    assert service["status"] == "ACTIVE"
    assert service["loadBalancers"] == [
        {"targetGroupArn": api["TargetGroupArn"], "containerName": "web", "containerPort": 80}
    ]
    assert service["healthCheckGracePeriodSeconds"] == 30
    try:
        terraform.assert_no_changes()
    finally:  # whatever the plan says, leave the shared server without these listeners
        terraform.destroy()
    try:
        left = ecs.describe_services(cluster=name, services=[name])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        left = []
    assert [s["status"] for s in left] in ([], ["INACTIVE"])
    with pytest.raises(elb.exceptions.LoadBalancerNotFoundException):
        elb.describe_load_balancers(Names=[name])
    with pytest.raises(elb.exceptions.TargetGroupNotFoundException):
        elb.describe_target_groups(Names=[name])
    acm = server.client("acm")
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=certificate)

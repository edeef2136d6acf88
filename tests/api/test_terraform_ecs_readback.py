"""Terraform reads back what it wrote: aws_ecs_cluster, aws_ecs_cluster_capacity_providers,
aws_ecs_capacity_provider, aws_ecs_task_definition and aws_ecs_service (one on EC2, one on a
capacity provider in an awsvpc subnet behind a target group), each with many of its optional
arguments set, applied with the AWS provider 5.100; a plan right after finds nothing to
change (every field the provider reads is returned as ECS returns it); destroy."""

from __future__ import annotations

import random
from pathlib import Path

from harness import ServerProcess, free_port
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    x, y, port = random.randint(1, 250), random.randint(1, 250), free_port()
    asg = (
        "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1a2b:"
        f"autoScalingGroupName/{name}"
    )
    return (
        provider(endpoint, ("ecs", "sts", "cloudwatchlogs", "ec2", "elbv2", "iam"))
        + f"""
resource "aws_ecs_cluster" "c" {{
  name = "{name}"
  setting {{
    name  = "containerInsights"
    value = "enabled"
  }}
  configuration {{
    execute_command_configuration {{
      logging = "DEFAULT"
    }}
  }}
  tags = {{ team = "web" }}
}}

resource "aws_ecs_capacity_provider" "cp" {{
  name = "{name}-cp"
  auto_scaling_group_provider {{
    auto_scaling_group_arn         = "{asg}"
    managed_termination_protection = "DISABLED"
    managed_scaling {{
      # ENABLED needs a real group (tests/managed_scaling/test_managed_scaling_terraform.py)
      status                    = "DISABLED"
      target_capacity           = 90
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = 5
      instance_warmup_period    = 120
    }}
  }}
  tags = {{ team = "web" }}
}}

resource "aws_ecs_cluster_capacity_providers" "c" {{
  cluster_name       = aws_ecs_cluster.c.name
  capacity_providers = [aws_ecs_capacity_provider.cp.name]
  default_capacity_provider_strategy {{
    capacity_provider = aws_ecs_capacity_provider.cp.name
    weight            = 2
    base              = 1
  }}
}}

resource "aws_ecs_task_definition" "web" {{
  family                   = "{name}"
  network_mode             = "bridge"
  cpu                      = "256"
  memory                   = "512"
  requires_compatibilities = ["EC2"]
  pid_mode                 = "task"
  ipc_mode                 = "none"
  skip_destroy             = false
  track_latest             = false
  container_definitions = jsonencode([{{
    name         = "web"
    image        = "busybox"
    memory       = 64
    cpu          = 128
    essential    = true
    command      = ["httpd", "-f", "-p", "8080"]
    portMappings = [{{ containerPort = 8080, hostPort = 0, protocol = "tcp" }}]
    environment  = [{{ name = "A", value = "1" }}]
    healthCheck  = {{ command = ["CMD-SHELL", "true"], interval = 10, timeout = 5, retries = 2 }}
    stopTimeout  = 5
  }}])
  volume {{
    name      = "data"
    host_path = "/tmp"
  }}
  placement_constraints {{
    type       = "memberOf"
    expression = "attribute:ecs.os-type == linux"
  }}
  runtime_platform {{
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }}
  tags = {{ team = "web" }}
}}

resource "aws_ecs_service" "web" {{
  name                               = "{name}"
  cluster                            = aws_ecs_cluster.c.id
  task_definition                    = aws_ecs_task_definition.web.arn
  desired_count                      = 0
  launch_type                        = "EC2"
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 150
  enable_ecs_managed_tags            = true
  enable_execute_command             = true
  propagate_tags                     = "SERVICE"
  scheduling_strategy                = "REPLICA"
  health_check_grace_period_seconds  = 0
  wait_for_steady_state              = false
  availability_zone_rebalancing      = "ENABLED"
  deployment_circuit_breaker {{
    enable   = true
    rollback = true
  }}
  deployment_controller {{
    type = "ECS"
  }}
  ordered_placement_strategy {{
    type  = "spread"
    field = "attribute:ecs.availability-zone"
  }}
  placement_constraints {{
    type = "distinctInstance"
  }}
  tags = {{ team = "web" }}
  depends_on = [aws_ecs_cluster_capacity_providers.c]
}}

resource "aws_vpc" "v" {{
  cidr_block = "10.{x}.0.0/16"
}}

resource "aws_subnet" "s" {{
  vpc_id     = aws_vpc.v.id
  cidr_block = "10.{x}.{y}.0/24"
}}

resource "aws_lb_target_group" "tg" {{
  name        = "{name}"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.v.id
}}

resource "aws_lb" "lb" {{
  name               = "{name}"
  load_balancer_type = "application"
  subnets            = [aws_subnet.s.id]
}}

resource "aws_lb_listener" "l" {{
  load_balancer_arn = aws_lb.lb.arn
  port              = {port}
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.tg.arn
  }}
}}

resource "aws_ecs_task_definition" "vpc" {{
  family       = "{name}-vpc"
  network_mode = "awsvpc"
  container_definitions = jsonencode([{{
    name         = "web"
    image        = "busybox"
    memory       = 64
    portMappings = [{{ containerPort = 8080 }}]
  }}])
}}

resource "aws_ecs_service" "vpc" {{
  name            = "{name}-vpc"
  cluster         = aws_ecs_cluster.c.id
  task_definition = aws_ecs_task_definition.vpc.arn
  desired_count   = 0
  capacity_provider_strategy {{
    capacity_provider = aws_ecs_capacity_provider.cp.name
    weight            = 1
    base              = 0
  }}
  network_configuration {{
    subnets          = [aws_subnet.s.id]
    assign_public_ip = false
  }}
  load_balancer {{
    target_group_arn = aws_lb_target_group.tg.arn
    container_name   = "web"
    container_port   = 8080
  }}
  alarms {{
    alarm_names = ["{name}-alarm"]
    enable      = true
    rollback    = false
  }}
  health_check_grace_period_seconds = 30
  availability_zone_rebalancing     = "DISABLED"
  depends_on = [aws_ecs_cluster_capacity_providers.c, aws_lb_listener.l]
}}
"""
    )


def test_what_terraform_wrote_it_reads_back_unchanged(
    server: ServerProcess, name: str, tmp_path: Path
) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=300)
    terraform.apply()
    try:
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
    ecs = server.client("ecs")
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"

"""Terraform's AWS provider drives ECS blue/green: an aws_ecs_service with
deployment_controller CODE_DEPLOY, its aws_codedeploy_app and
aws_codedeploy_deployment_group, and an EXTERNAL service with an aws_ecs_task_set: apply,
a plan that finds nothing to change, destroy."""

from __future__ import annotations

from pathlib import Path

from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    services = ("sts", "elbv2", "ec2", "ecs", "codedeploy", "iam")
    return (
        provider(endpoint, services)
        + f"""
resource "aws_lb" "web" {{
  name               = "{name}"
  load_balancer_type = "application"
  subnets            = ["subnet-0aaa1111", "subnet-0bbb2222"]
}}

resource "aws_lb_target_group" "blue" {{
  name     = "{name}-b"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-0123456789abcdef0"
}}

resource "aws_lb_target_group" "green" {{
  name     = "{name}-g"
  port     = 80
  protocol = "HTTP"
  vpc_id   = "vpc-0123456789abcdef0"
}}

resource "aws_lb_listener" "prod" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.blue.arn
  }}
  lifecycle {{ ignore_changes = [default_action] }}
}}

resource "aws_lb_listener" "test" {{
  load_balancer_arn = aws_lb.web.arn
  port              = 8080
  protocol          = "HTTP"
  default_action {{
    type             = "forward"
    target_group_arn = aws_lb_target_group.blue.arn
  }}
  lifecycle {{ ignore_changes = [default_action] }}
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

resource "aws_ecs_service" "web" {{
  name            = "{name}"
  cluster         = aws_ecs_cluster.web.id
  task_definition = aws_ecs_task_definition.web.arn
  desired_count   = 1
  deployment_controller {{
    type = "CODE_DEPLOY"
  }}
  load_balancer {{
    target_group_arn = aws_lb_target_group.blue.arn
    container_name   = "web"
    container_port   = 80
  }}
  depends_on = [aws_lb_listener.prod]
}}

resource "aws_codedeploy_app" "web" {{
  compute_platform = "ECS"
  name             = "{name}"
}}

resource "aws_codedeploy_deployment_group" "web" {{
  app_name               = aws_codedeploy_app.web.name
  deployment_config_name = "CodeDeployDefault.ECSAllAtOnce"
  deployment_group_name  = "{name}"
  service_role_arn       = "arn:aws:iam::000000000000:role/codedeploy"

  auto_rollback_configuration {{
    enabled = true
    events  = ["DEPLOYMENT_FAILURE"]
  }}

  blue_green_deployment_config {{
    deployment_ready_option {{
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }}
    terminate_blue_instances_on_deployment_success {{
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = 5
    }}
  }}

  deployment_style {{
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }}

  ecs_service {{
    cluster_name = aws_ecs_cluster.web.name
    service_name = aws_ecs_service.web.name
  }}

  load_balancer_info {{
    target_group_pair_info {{
      prod_traffic_route {{
        listener_arns = [aws_lb_listener.prod.arn]
      }}
      test_traffic_route {{
        listener_arns = [aws_lb_listener.test.arn]
      }}
      target_group {{
        name = aws_lb_target_group.blue.name
      }}
      target_group {{
        name = aws_lb_target_group.green.name
      }}
    }}
  }}
}}

resource "aws_ecs_service" "external" {{
  name          = "{name}-ext"
  cluster       = aws_ecs_cluster.web.id
  desired_count = 1
  deployment_controller {{
    type = "EXTERNAL"
  }}
}}

resource "aws_ecs_task_set" "external" {{
  service         = aws_ecs_service.external.id
  cluster         = aws_ecs_cluster.web.id
  task_definition = aws_ecs_task_definition.web.arn
  external_id     = "v1"
  scale {{
    unit  = "PERCENT"
    value = 50
  }}
}}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    try:
        ecs = server.client("ecs")
        (service,) = ecs.describe_services(cluster=name, services=[name])["services"]
        assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
        assert [s["status"] for s in service["taskSets"]] == ["PRIMARY"]
        (external,) = ecs.describe_services(cluster=name, services=[f"{name}-ext"])["services"]
        [task_set] = external["taskSets"]
        assert task_set["externalId"] == "v1" and task_set["scale"]["value"] == 50.0
        group = server.client("codedeploy").get_deployment_group(
            applicationName=name, deploymentGroupName=name
        )["deploymentGroupInfo"]
        assert group["ecsServices"] == [{"serviceName": name, "clusterName": name}]
        terraform.assert_no_changes()
    finally:
        terraform.destroy()

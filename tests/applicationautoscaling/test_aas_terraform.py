"""Terraform's AWS provider (from the local mirror) drives Application Auto Scaling for an
ECS service: aws_appautoscaling_target (with tags), an aws_appautoscaling_policy of target
tracking on the service's CPU, and an aws_appautoscaling_scheduled_action in a time zone.
Apply makes them as described (the policy's alarms too), a plan then finds nothing to change,
and destroy removes them, alarms included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import make_service
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, rid: str) -> str:
    return (
        provider(endpoint, ("sts", "appautoscaling", "cloudwatch", "ecs"))
        + f"""
resource "aws_appautoscaling_target" "web" {{
  service_namespace  = "ecs"
  resource_id        = "{rid}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 1
  max_capacity       = 6
  tags = {{
    team = "web"
  }}
}}

resource "aws_appautoscaling_policy" "cpu" {{
  name               = "cpu50"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension
  target_tracking_scaling_policy_configuration {{
    target_value       = 50
    scale_in_cooldown  = 120
    scale_out_cooldown = 60
    predefined_metric_specification {{
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }}
  }}
}}

resource "aws_appautoscaling_scheduled_action" "night" {{
  name               = "night"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension
  schedule           = "cron(0 22 * * ? *)"
  timezone           = "Europe/Paris"
  scalable_target_action {{
    min_capacity = 1
    max_capacity = 2
  }}
}}
"""
    )


def test_apply_plan_destroy(
    server: ServerProcess, ecs: Any, aas: Any, cw: Any, name: str, tmp_path: Path
) -> None:
    rid = make_service(ecs, name, name)
    (tmp_path / "main.tf").write_text(_config(server.endpoint, rid))
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    try:
        [t] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
            "ScalableTargets"
        ]
        assert (t["MinCapacity"], t["MaxCapacity"]) == (1, 6)
        tags = aas.list_tags_for_resource(ResourceARN=t["ScalableTargetARN"])["Tags"]
        assert tags == {"team": "web"}
        [p] = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)[
            "ScalingPolicies"
        ]
        assert p["TargetTrackingScalingPolicyConfiguration"]["ScaleInCooldown"] == 120
        assert len(p["Alarms"]) == 2
        [sa] = aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=rid)[
            "ScheduledActions"
        ]
        assert sa["Timezone"] == "Europe/Paris"
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
    assert not aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert not cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"]

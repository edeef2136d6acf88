"""Terraform's AWS provider (from the local mirror) drives CloudWatch alarms: an
aws_cloudwatch_metric_alarm on one metric (dimensions, M of N, missing data treated as not
breaching, tags) and one on metric math (metric_query blocks). Apply makes them as
described, a plan then finds nothing to change, and destroy removes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform

SCALE_OUT = (
    "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1:resource/ecs/service/c/s:"
    "policyName/up"
)


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "cloudwatch"))
        + f"""
resource "aws_cloudwatch_metric_alarm" "cpu" {{
  alarm_name          = "{name}-cpu"
  alarm_description   = "service CPU high"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  metric_name         = "CPUUtilization"
  namespace           = "AWS/ECS"
  period              = 60
  statistic           = "Average"
  threshold           = 75
  treat_missing_data  = "notBreaching"
  alarm_actions       = ["{SCALE_OUT}"]
  dimensions = {{
    ClusterName = "c"
    ServiceName = "s"
  }}
  tags = {{
    team = "web"
  }}
}}

resource "aws_cloudwatch_metric_alarm" "errors" {{
  alarm_name          = "{name}-errors"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 2
  threshold           = 5
  metric_query {{
    id          = "rate"
    expression  = "100 * errors / requests"
    label       = "Error rate"
    return_data = true
  }}
  metric_query {{
    id = "errors"
    metric {{
      metric_name = "Errors"
      namespace   = "App"
      period      = 60
      stat        = "Sum"
    }}
  }}
  metric_query {{
    id = "requests"
    metric {{
      metric_name = "Requests"
      namespace   = "App"
      period      = 60
      stat        = "Sum"
    }}
  }}
}}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, cw: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    terraform = Terraform(tmp_path, timeout=600)
    terraform.apply()
    try:
        found = cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]
        alarms = {a["AlarmName"]: a for a in found}
        cpu, errors = alarms[f"{name}-cpu"], alarms[f"{name}-errors"]
        assert cpu["DatapointsToAlarm"] == 2 and cpu["TreatMissingData"] == "notBreaching"
        assert sorted(d["Name"] for d in cpu["Dimensions"]) == ["ClusterName", "ServiceName"]
        tags = cw.list_tags_for_resource(ResourceARN=cpu["AlarmArn"])["Tags"]
        assert tags == [{"Key": "team", "Value": "web"}]
        assert sorted(q["Id"] for q in errors["Metrics"]) == ["errors", "rate", "requests"]
        terraform.assert_no_changes()
    finally:
        terraform.destroy()
    assert cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"] == []

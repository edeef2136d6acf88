"""Terraform's AWS provider (from the local mirror) sets up ECS cluster auto scaling as its
documentation shows it: aws_launch_template (simulated hosts, the cluster in the user data),
aws_autoscaling_group (instances protected from scale-in, the AmazonECSManaged tag
propagated), aws_ecs_capacity_provider with managed_scaling and managed termination
protection, aws_ecs_cluster and aws_ecs_cluster_capacity_providers. Apply; the provider is
the cluster's, its group's instances are container instances of the cluster; a plan then
finds nothing to change; destroy removes it all, the instances terminated."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_query import query_client
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.2)


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2", "autoscaling", "ecs"))
        + f"""
resource "aws_launch_template" "hosts" {{
  name          = "{name}"
  image_id      = "portside-simulated"
  instance_type = "m5.large"
  user_data     = base64encode("#!/bin/bash\\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\\n")
}}

resource "aws_autoscaling_group" "hosts" {{
  name                  = "{name}"
  min_size              = 0
  max_size              = 4
  desired_capacity      = 1
  availability_zones    = ["us-east-1a", "us-east-1b"]
  protect_from_scale_in = true

  launch_template {{
    id      = aws_launch_template.hosts.id
    version = "$Latest"
  }}

  tag {{
    key                 = "AmazonECSManaged"
    value               = true
    propagate_at_launch = true
  }}

  lifecycle {{
    ignore_changes = [desired_capacity]
  }}
}}

resource "aws_ecs_capacity_provider" "hosts" {{
  name = "{name}"

  auto_scaling_group_provider {{
    auto_scaling_group_arn         = aws_autoscaling_group.hosts.arn
    managed_termination_protection = "ENABLED"

    managed_scaling {{
      status                    = "ENABLED"
      target_capacity           = 100
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = 2
      instance_warmup_period    = 60
    }}
  }}
}}

resource "aws_ecs_cluster" "main" {{
  name = "{name}"
}}

resource "aws_ecs_cluster_capacity_providers" "main" {{
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = [aws_ecs_capacity_provider.hosts.name]

  default_capacity_provider_strategy {{
    base              = 1
    weight            = 100
    capacity_provider = aws_ecs_capacity_provider.hosts.name
  }}
}}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    tf = Terraform(tmp_path, timeout=240)
    ecs = server.client("ecs")
    ec2 = query_client(server, "ec2")
    asg = query_client(server, "autoscaling")
    tf.apply()
    try:
        cluster = ecs.describe_clusters(clusters=[name])["clusters"][0]
        assert cluster["capacityProviders"] == [name]
        assert cluster["defaultCapacityProviderStrategy"] == [
            {"capacityProvider": name, "weight": 100, "base": 1}
        ]
        found = ecs.describe_capacity_providers(capacityProviders=[name])["capacityProviders"]
        scaling = found[0]["autoScalingGroupProvider"]
        assert scaling["managedTerminationProtection"] == "ENABLED"
        assert scaling["managedScaling"]["status"] == "ENABLED"
        assert scaling["managedScaling"]["maximumScalingStepSize"] == 2
        arns = wait_for(
            lambda: ecs.list_container_instances(cluster=name)["containerInstanceArns"],
            what="the group's instance registered",
        )
        described = ecs.describe_container_instances(cluster=name, containerInstances=arns)
        ids = [c["ec2InstanceId"] for c in described["containerInstances"]]
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][
            0
        ]
        assert {i["InstanceId"] for i in group["Instances"]} >= set(ids)
        assert all(i["ProtectedFromScaleIn"] for i in group["Instances"])
        tf.assert_no_changes()
    finally:
        tf.destroy()
    assert not ecs.describe_clusters(clusters=[name])["clusters"] or (
        ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"
    )
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states <= {"shutting-down", "terminated"}
    assert not asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]

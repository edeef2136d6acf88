"""Terraform's AWS provider (from the local mirror) drives a launch template and an Auto
Scaling group of simulated hosts for an ECS cluster: aws_launch_template (the cluster in its
user data), aws_autoscaling_group (two zones, desired 2, the AmazonECSManaged tag propagated,
Terraform waiting for its capacity). Apply, the group's instances are container instances of
the cluster, a plan then finds nothing to change, and destroy removes it all, the instances
terminated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groups_helpers import wait_for
from harness import ServerProcess
from terraform import Terraform, needs_terraform, provider

pytestmark = needs_terraform


def _config(endpoint: str, name: str) -> str:
    return (
        provider(endpoint, ("sts", "ec2", "autoscaling"))
        + f"""
resource "aws_launch_template" "hosts" {{
  name          = "{name}"
  image_id      = "portside-simulated"
  instance_type = "c5.large"
  user_data     = base64encode("#!/bin/bash\\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\\n")
  tag_specifications {{
    resource_type = "instance"
    tags = {{ Role = "ecs-host" }}
  }}
}}

resource "aws_autoscaling_group" "hosts" {{
  name               = "{name}"
  min_size           = 0
  max_size           = 4
  desired_capacity   = 2
  availability_zones = ["us-east-1a", "us-east-1b"]
  protect_from_scale_in = false

  launch_template {{
    id      = aws_launch_template.hosts.id
    version = "$Latest"
  }}

  tag {{
    key                 = "AmazonECSManaged"
    value               = true
    propagate_at_launch = true
  }}
}}
"""
    )


def test_apply_plan_destroy(server: ServerProcess, ec2: Any, name: str, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(_config(server.endpoint, name))
    tf = Terraform(tmp_path, timeout=240)
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName=name)
    tf.apply()
    arns = wait_for(
        lambda: (
            (a := ecs.list_container_instances(cluster=name)["containerInstanceArns"])
            and len(a) == 2
            and a
        ),
        what="2 container instances",
    )
    described = ecs.describe_container_instances(cluster=name, containerInstances=arns)
    ids = sorted(c["ec2InstanceId"] for c in described["containerInstances"])
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    tags = {t["Key"]: t["Value"] for t in found[0]["Instances"][0]["Tags"]}
    assert tags["AmazonECSManaged"] == "true" and tags["Role"] == "ecs-host"
    tf.assert_no_changes()
    tf.destroy()
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states <= {"shutting-down", "terminated"}
    assert not ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": [name]}]
    )["LaunchTemplates"]

"""Auto Scaling groups through boto3 on the simulated provider: a group grows to its desired
capacity spread over its zones, its instances register in the cluster its template names
with their EC2 ids and the group's propagated tags; it shrinks by the default termination
policy without touching protected instances; a killed host is replaced; activities, instance
reads, TerminateInstanceInAutoScalingGroup; Auto Scaling's errors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from groups_helpers import group, kill, settled, template, wait_for
from harness import ServerProcess


def error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    err = caught.value.response["Error"]
    return err["Code"], err["Message"]


def test_a_group_grows_spreads_and_shrinks_around_protected_instances(
    asg: Any, ec2: Any, ecs: Any, name: str
) -> None:
    ecs.create_cluster(clusterName=name)
    template_id = template(ec2, name, name)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        MinSize=0,
        MaxSize=6,
        DesiredCapacity=3,
        AvailabilityZones=["us-east-1a", "us-east-1b", "us-east-1c"],
        Tags=[{"Key": "AmazonECSManaged", "Value": "", "PropagateAtLaunch": True}],
    )
    instances = wait_for(lambda: settled(asg, name, 3), what="3 InService")
    assert sorted(i["AvailabilityZone"] for i in instances) == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    ]
    assert all(i["LaunchTemplate"]["LaunchTemplateId"] == template_id for i in instances)
    ids = sorted(i["InstanceId"] for i in instances)
    registered = wait_for(
        lambda: (
            (a := ecs.list_container_instances(cluster=name)["containerInstanceArns"])
            and len(a) == 3
            and a
        ),
        what="3 container instances",
    )
    described = ecs.describe_container_instances(cluster=name, containerInstances=registered)
    assert sorted(c["ec2InstanceId"] for c in described["containerInstances"]) == ids
    tags = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"][0]["Tags"]
    assert {"Key": "aws:autoscaling:groupName", "Value": name} in tags
    assert {"Key": "AmazonECSManaged", "Value": ""} in tags

    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=5)
    instances = wait_for(lambda: settled(asg, name, 5), what="5 InService")
    zones = Counter(i["AvailabilityZone"] for i in instances)
    assert sorted(zones.values()) == [1, 2, 2]

    keep = [instances[0]["InstanceId"], instances[1]["InstanceId"]]
    asg.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=keep, ProtectedFromScaleIn=True
    )
    asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    # Every unprotected instance goes; the two protected ones stay (above desired, as AWS).
    left = wait_for(lambda: settled(asg, name, 2), what="2 protected left")
    assert sorted(i["InstanceId"] for i in left) == sorted(keep)
    assert all(i["ProtectedFromScaleIn"] for i in left)
    wait_for(
        lambda: len(ecs.list_container_instances(cluster=name)["containerInstanceArns"]) == 2,
        what="terminated instances deregistered",
    )
    activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    launches = [a for a in activities if a["Description"].startswith("Launching")]
    ends = [a for a in activities if a["Description"].startswith("Terminating")]
    assert len(launches) == 5 and len(ends) == 3
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert "shrinking the capacity" in ends[0]["Cause"]

    asg.set_instance_protection(
        AutoScalingGroupName=name, InstanceIds=keep, ProtectedFromScaleIn=False
    )
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, DesiredCapacity=0)
    wait_for(lambda: not group(asg, name)["Instances"], what="empty group")
    asg.delete_auto_scaling_group(AutoScalingGroupName=name)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"] == []


def test_a_killed_host_is_replaced(
    asg: Any, ec2: Any, ecs: Any, server: ServerProcess, name: str
) -> None:
    ecs.create_cluster(clusterName=name)
    template(ec2, name, name)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=2,
        MaxSize=2,
        AvailabilityZones=["us-east-1a"],
    )
    first = wait_for(lambda: settled(asg, name, 2), what="2 InService")
    victim = first[0]["InstanceId"]
    assert kill(server, [victim]) == [victim]
    after = wait_for(
        lambda: (
            (found := settled(asg, name, 2))
            and victim not in {i["InstanceId"] for i in found}
            and found
        ),
        what="the killed host replaced",
    )
    assert first[1]["InstanceId"] in {i["InstanceId"] for i in after}
    state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] in ("shutting-down", "terminated")
    activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    assert any("status check failure" in a["Cause"] for a in activities)
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    wait_for(
        lambda: (
            not asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        ),
        what="the group deleted",
    )


def test_terminate_instance_in_group_and_instance_reads(asg: Any, ec2: Any, name: str) -> None:
    template(ec2, name, name)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        AvailabilityZones=["us-east-1b"],
        NewInstancesProtectedFromScaleIn=True,
    )
    instances = wait_for(lambda: settled(asg, name, 2), what="2 InService")
    assert all(i["ProtectedFromScaleIn"] for i in instances)
    one = instances[0]["InstanceId"]
    seen = asg.describe_auto_scaling_instances(InstanceIds=[one])["AutoScalingInstances"]
    assert seen[0]["AutoScalingGroupName"] == name and seen[0]["HealthStatus"] == "HEALTHY"
    out = asg.terminate_instance_in_auto_scaling_group(
        InstanceId=one, ShouldDecrementDesiredCapacity=True
    )
    assert out["Activity"]["Description"] == f"Terminating EC2 instance: {one}"
    assert group(asg, name)["DesiredCapacity"] == 1
    code, message = error(
        asg.terminate_instance_in_auto_scaling_group,
        InstanceId=instances[1]["InstanceId"],
        ShouldDecrementDesiredCapacity=True,
    )
    assert code == "ValidationError" and "min size" in message
    wait_for(lambda: settled(asg, name, 1), what="1 left")
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_auto_scaling_errors(asg: Any, ec2: Any, name: str) -> None:
    template(ec2, name, name)
    spec = {"LaunchTemplateName": name}
    code, message = error(
        asg.create_auto_scaling_group,
        AutoScalingGroupName=name,
        LaunchTemplate=spec,
        MinSize=3,
        MaxSize=1,
        AvailabilityZones=["us-east-1a"],
    )
    assert (code, message) == (
        "ValidationError",
        "Max bound, 1, must be greater than or equal to min bound, 3",
    )
    code, _ = error(
        asg.create_auto_scaling_group,
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name + "-missing"},
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=["us-east-1a"],
    )
    assert code == "ValidationError"
    code, message = error(
        asg.create_auto_scaling_group,
        AutoScalingGroupName=name,
        LaunchTemplate=spec,
        MinSize=0,
        MaxSize=1,
    )
    assert message == "At least one Availability Zone or VPC Subnet is required."
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate=spec,
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )
    code, _ = error(
        asg.create_auto_scaling_group,
        AutoScalingGroupName=name,
        LaunchTemplate=spec,
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=["us-east-1a"],
    )
    assert code == "AlreadyExists"
    code, message = error(asg.set_desired_capacity, AutoScalingGroupName=name, DesiredCapacity=4)
    assert (
        message == "New SetDesiredCapacity value 4 is above max value 1 for the AutoScalingGroup."
    )
    code, _ = error(asg.set_desired_capacity, AutoScalingGroupName=name + "x", DesiredCapacity=1)
    assert code == "ValidationError"
    wait_for(lambda: settled(asg, name, 1), what="1 InService")
    code, _ = error(asg.delete_auto_scaling_group, AutoScalingGroupName=name)
    assert code == "ResourceInUse"
    code, _ = error(
        asg.set_instance_protection,
        AutoScalingGroupName=name,
        InstanceIds=["i-0123456789abcdef0"],
        ProtectedFromScaleIn=True,
    )
    assert code == "ValidationError"
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_the_cli_reads_a_group(server: ServerProcess, asg: Any, ec2: Any, name: str) -> None:
    template(ec2, name, name)
    server.aws(
        "autoscaling",
        "create-auto-scaling-group",
        "--auto-scaling-group-name",
        name,
        "--launch-template",
        f"LaunchTemplateName={name}",
        "--min-size",
        "0",
        "--max-size",
        "2",
        "--availability-zones",
        "us-east-1c",
    )
    out = server.aws(
        "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name
    )
    assert out["AutoScalingGroups"][0]["MaxSize"] == 2
    out = server.aws(
        "autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name, v2=True
    )
    assert out["AutoScalingGroups"][0]["AvailabilityZones"] == ["us-east-1c"]
    server.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", name)

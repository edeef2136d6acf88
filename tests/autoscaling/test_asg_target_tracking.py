"""A target tracking policy on a group, on a server whose metric period is 1 s
(`--metric-period 1`: AlarmHigh needs 3 s above the target): PutScalingPolicy makes the two
CloudWatch alarms AWS makes, a metric held above the target drives the group's desired
capacity up by metric / target and the group launches to it; DeletePolicy removes the
alarms."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from aws_query import query_client
from groups_helpers import group, settled, template, wait_for
from harness import ServerProcess


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("asg-tt"), None, "--metric-period", "1")
    proc.start(timeout=60)
    yield proc
    proc.close()


def test_target_tracking_scales_a_group_out(fast_server: ServerProcess, name: str) -> None:
    asg = query_client(fast_server, "autoscaling")
    ec2 = query_client(fast_server, "ec2")
    cloudwatch = fast_server.client("cloudwatch")
    template(ec2, name, "default")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=1,
        MaxSize=5,
        AvailabilityZones=["us-east-1a", "us-east-1b"],
    )
    dims = [{"Name": "GroupName", "Value": name}]
    out = asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName="load50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "CustomizedMetricSpecification": {
                "MetricName": "Load",
                "Namespace": "Test/Asg",
                "Dimensions": dims,
                "Statistic": "Average",
            },
            "TargetValue": 50.0,
        },
    )
    names = sorted(a["AlarmName"] for a in out["Alarms"])
    assert [n.split("-")[-6] for n in names] == ["AlarmHigh", "AlarmLow"]
    assert all(n.startswith(f"TargetTracking-{name}-Alarm") for n in names)
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert {a["AlarmActions"][0] for a in alarms} == {out["PolicyARN"]}
    policies = asg.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
    assert policies[0]["PolicyARN"] == out["PolicyARN"]
    assert policies[0]["TargetTrackingConfiguration"]["TargetValue"] == 50.0
    wait_for(lambda: settled(asg, name, 1), what="1 InService")

    def loaded() -> bool:
        cloudwatch.put_metric_data(
            Namespace="Test/Asg",
            MetricData=[
                {"MetricName": "Load", "Dimensions": dims, "Value": 150.0, "StorageResolution": 1}
            ],
        )
        time.sleep(0.3)  # one datapoint in each 1 s period while the alarm looks
        return bool(group(asg, name)["DesiredCapacity"] >= 3)

    wait_for(loaded, timeout=30, what="the group scaled out")
    activities = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]
    # ceil(1 * 150 / 50) = 3 at the first call; while the alarm stays in ALARM the policy runs
    # again each period (ceil(3 * 150 / 50) = 9, held at MaxSize 5).
    causes = [a["Cause"] for a in activities if "triggered policy load50" in a["Cause"]]
    assert causes[-1].endswith("changing the desired capacity from 1 to 3."), causes

    def grown() -> bool:
        now = group(asg, name)
        return settled(asg, name, now["DesiredCapacity"]) is not None

    wait_for(grown, what="the group at its new desired capacity")
    asg.delete_policy(AutoScalingGroupName=name, PolicyName="load50")
    assert not cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)

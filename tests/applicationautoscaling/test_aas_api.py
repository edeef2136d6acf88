"""Application Auto Scaling's API with boto3 and the AWS CLI v2: targets, policies with the
alarms they own, scheduled actions, activities, tags and AWS's errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import make_service
from harness import ServerProcess

DIM = "ecs:service:DesiredCount"


def _register(aas: Any, rid: str, lo: int = 1, hi: int = 5, **kw: Any) -> str:
    out = aas.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        MinCapacity=lo, MaxCapacity=hi, **kw,
    )  # fmt: skip
    return str(out["ScalableTargetARN"])


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_register_describe_deregister(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    arn = _register(aas, rid, 1, 4)
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:")
    assert ":scalable-target/" in arn
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (1, 4)
    assert t["RoleARN"].endswith(
        "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
    assert t["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    assert t["ScalableTargetARN"] == arn
    # An update keeps what it does not name.
    aas.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM, MaxCapacity=6,
        SuspendedState={"DynamicScalingInSuspended": True},
    )  # fmt: skip
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (1, 6)
    assert t["SuspendedState"]["DynamicScalingInSuspended"] is True
    assert t["ScalableTargetARN"] == arn
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM)
    assert not aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    with pytest.raises(ClientError) as exc:
        aas.deregister_scalable_target(
            ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM
        )
    assert _code(exc) == "ObjectNotFoundException"
    assert "No scalable target registered for service namespace: ecs" in str(exc.value)


def test_register_moves_the_count_inside_the_bounds(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name, count=1)
    _register(aas, rid, 3, 5)
    [svc] = ecs.describe_services(cluster=name, services=[name])["services"]
    assert svc["desiredCount"] == 3
    [act] = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=rid)[
        "ScalingActivities"
    ]
    assert act["Description"] == "Setting desired count to 3."
    assert act["Cause"] == "minimum capacity was set to 3"
    assert act["StatusCode"] == "Successful"


def test_register_errors(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    with pytest.raises(ClientError) as exc:
        _register(aas, rid, 5, 2)
    assert _code(exc) == "ValidationException"
    assert "Minimum capacity cannot be greater than maximum capacity" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        _register(aas, f"service/{name}/nope")
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        aas.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM, MinCapacity=1
        )
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        aas.register_scalable_target(
            ServiceNamespace="dynamodb", ResourceId="table/x",
            ScalableDimension="dynamodb:table:ReadCapacityUnits", MinCapacity=1, MaxCapacity=2,
        )  # fmt: skip
    assert _code(exc) == "ValidationException"
    # Nothing half-applied: the target was never made.
    assert not aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]


def test_target_tracking_policy_owns_its_alarms(aas: Any, ecs: Any, cw: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    _register(aas, rid)
    out = aas.put_scaling_policy(
        PolicyName="cpu", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
        },
    )  # fmt: skip
    assert ":scalingPolicy:" in out["PolicyARN"]
    assert out["PolicyARN"].endswith(f":resource/ecs/{rid}:policyName/cpu")
    names = sorted(a["AlarmName"] for a in out["Alarms"])
    assert names[0].startswith(f"TargetTracking-{rid}-AlarmHigh-")
    assert names[1].startswith(f"TargetTracking-{rid}-AlarmLow-")
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    high, low = alarms[names[0]], alarms[names[1]]
    assert (high["Threshold"], high["EvaluationPeriods"], high["ComparisonOperator"]) == (
        50.0, 3, "GreaterThanThreshold",
    )  # fmt: skip
    assert (low["Threshold"], low["EvaluationPeriods"], low["ComparisonOperator"]) == (
        45.0, 15, "LessThanThreshold",
    )  # fmt: skip
    assert high["Namespace"] == "AWS/ECS" and high["MetricName"] == "CPUUtilization"
    assert {d["Name"]: d["Value"] for d in high["Dimensions"]} == {
        "ClusterName": name,
        "ServiceName": name,
    }
    assert high["AlarmActions"] == [out["PolicyARN"]]
    [policy] = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)[
        "ScalingPolicies"
    ]
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (cfg["ScaleOutCooldown"], cfg["ScaleInCooldown"], cfg["DisableScaleIn"]) == (
        300, 300, False,
    )  # fmt: skip
    assert sorted(a["AlarmName"] for a in policy["Alarms"]) == names
    # Again with DisableScaleIn: same ARN, same high alarm, no low alarm.
    again = aas.put_scaling_policy(
        PolicyName="cpu", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0, "DisableScaleIn": True,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageMemoryUtilization"
            },
        },
    )  # fmt: skip
    assert again["PolicyARN"] == out["PolicyARN"]
    assert [a["AlarmName"] for a in again["Alarms"]] == [names[0]]
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]] == [
        names[0]
    ]
    aas.delete_scaling_policy(
        PolicyName="cpu", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM
    )
    assert not cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    with pytest.raises(ClientError) as exc:
        aas.delete_scaling_policy(
            PolicyName="cpu", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM
        )
    assert _code(exc) == "ObjectNotFoundException"


def test_policy_errors(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    tt = {"TargetValue": 50.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "ALBRequestCountPerTarget"}}  # fmt: skip
    cpu = {"TargetValue": 50.0, "PredefinedMetricSpecification": {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}  # fmt: skip
    with pytest.raises(ClientError) as exc:  # no target yet
        aas.put_scaling_policy(
            PolicyName="p", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=cpu,
        )  # fmt: skip
    assert _code(exc) == "ObjectNotFoundException"
    _register(aas, rid)
    with pytest.raises(ClientError) as exc:  # ALBRequestCountPerTarget needs its label
        aas.put_scaling_policy(
            PolicyName="p", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=tt,
        )  # fmt: skip
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:  # steps with a gap
        aas.put_scaling_policy(
            PolicyName="p", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [
                    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10,
                     "ScalingAdjustment": 1},
                    {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 2},
                ],
            },
        )  # fmt: skip
    assert _code(exc) == "ValidationException"
    assert not aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)[
        "ScalingPolicies"
    ]


def test_step_policy_and_alb_label(aas: Any, ecs: Any, cw: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    _register(aas, rid)
    out = aas.put_scaling_policy(
        PolicyName="steps", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        StepScalingPolicyConfiguration={
            "AdjustmentType": "PercentChangeInCapacity", "MinAdjustmentMagnitude": 1,
            "Cooldown": 60, "MetricAggregationType": "Maximum",
            "StepAdjustments": [
                {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10,
                 "ScalingAdjustment": 10},
                {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 50},
            ],
        },
    )  # fmt: skip
    assert "Alarms" not in out
    label = "app/lb/0123456789abcdef/targetgroup/tg/0123456789abcdef"
    alb = aas.put_scaling_policy(
        PolicyName="requests", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label,
            },
        },
    )  # fmt: skip
    high = cw.describe_alarms(AlarmNames=[alb["Alarms"][0]["AlarmName"]])["MetricAlarms"][0]
    assert high["Dimensions"] == [
        {"Name": "TargetGroup", "Value": "targetgroup/tg/0123456789abcdef"}
    ]
    assert (high["Namespace"], high["Statistic"]) == ("AWS/ApplicationELB", "Sum")
    listed = aas.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=rid, PolicyNames=["steps"]
    )["ScalingPolicies"]
    assert listed[0]["StepScalingPolicyConfiguration"]["AdjustmentType"] == (
        "PercentChangeInCapacity"
    )
    assert listed[0]["Alarms"] == []
    cw.put_metric_alarm(
        AlarmName=f"{name}-high", Namespace="App", MetricName="CPU", Statistic="Average",
        Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[out["PolicyARN"]],
    )  # fmt: skip
    listed = aas.describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=rid, PolicyNames=["steps"]
    )["ScalingPolicies"]
    assert [a["AlarmName"] for a in listed[0]["Alarms"]] == [f"{name}-high"]
    cw.delete_alarms(AlarmNames=[f"{name}-high"])
    # Deregistering the target deletes its policies and the alarms they own.
    aas.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM)
    assert not cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"]


def test_scheduled_actions(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    _register(aas, rid)
    aas.put_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="morning", ResourceId=rid,
        ScalableDimension=DIM, Schedule="cron(0 8 * * ? *)", Timezone="Europe/Paris",
        ScalableTargetAction={"MinCapacity": 2, "MaxCapacity": 8},
    )  # fmt: skip
    [sa] = aas.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=rid)[
        "ScheduledActions"
    ]
    arn = sa["ScheduledActionARN"]
    assert ":scheduledAction:" in arn and arn.endswith(":scheduledActionName/morning")
    assert sa["Schedule"] == "cron(0 8 * * ? *)" and sa["Timezone"] == "Europe/Paris"
    assert sa["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 8}
    for bad in ("cron(0 8 * * * *)", "rate(0 minutes)", "every day"):
        with pytest.raises(ClientError) as exc:
            aas.put_scheduled_action(
                ServiceNamespace="ecs", ScheduledActionName="bad", ResourceId=rid,
                ScalableDimension=DIM, Schedule=bad,
                ScalableTargetAction={"MinCapacity": 2},
            )  # fmt: skip
        assert _code(exc) == "ValidationException"
    aas.delete_scheduled_action(
        ServiceNamespace="ecs", ScheduledActionName="morning", ResourceId=rid,
        ScalableDimension=DIM,
    )  # fmt: skip
    with pytest.raises(ClientError) as exc:
        aas.delete_scheduled_action(
            ServiceNamespace="ecs", ScheduledActionName="morning", ResourceId=rid,
            ScalableDimension=DIM,
        )  # fmt: skip
    assert _code(exc) == "ObjectNotFoundException"


def test_tags(aas: Any, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    arn = _register(aas, rid, Tags={"team": "web"})
    aas.tag_resource(ResourceARN=arn, Tags={"env": "prod"})
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "web", "env": "prod"}
    aas.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"env": "prod"}
    with pytest.raises(ClientError) as exc:
        aas.list_tags_for_resource(ResourceARN=arn[:-4] + "ffff")
    assert _code(exc) == "ResourceNotFoundException"


def test_aws_cli_v2(server: ServerProcess, ecs: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    base = ["application-autoscaling"]
    server.aws(*base, "register-scalable-target", "--service-namespace", "ecs",
               "--resource-id", rid, "--scalable-dimension", DIM,
               "--min-capacity", "1", "--max-capacity", "3", v2=True)  # fmt: skip
    out = server.aws(*base, "describe-scalable-targets", "--service-namespace", "ecs",
                     "--resource-ids", rid, v2=True)  # fmt: skip
    assert out["ScalableTargets"][0]["MaxCapacity"] == 3
    out = server.aws(*base, "put-scaling-policy", "--service-namespace", "ecs",
                     "--resource-id", rid, "--scalable-dimension", DIM,
                     "--policy-name", "cpu", "--policy-type", "TargetTrackingScaling",
                     "--target-tracking-scaling-policy-configuration",
                     '{"TargetValue": 70, "PredefinedMetricSpecification": '
                     '{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}',
                     v2=True)  # fmt: skip
    assert len(out["Alarms"]) == 2
    out = server.aws(*base, "describe-scaling-activities", "--service-namespace", "ecs",
                     "--resource-id", rid, v2=True)  # fmt: skip
    assert out["ScalingActivities"] == []


def test_customized_metric_with_metric_math(aas: Any, ecs: Any, cw: Any, name: str) -> None:
    rid = make_service(ecs, name, name)
    _register(aas, rid)
    dims = [{"Name": "Queue", "Value": name}]
    out = aas.put_scaling_policy(
        PolicyName="backlog", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100.0,
            "CustomizedMetricSpecification": {"Metrics": [
                {"Id": "m1", "ReturnData": False, "MetricStat": {
                    "Metric": {"Namespace": "App", "MetricName": "Backlog", "Dimensions": dims},
                    "Stat": "Sum"}},
                {"Id": "m2", "ReturnData": False, "MetricStat": {
                    "Metric": {"Namespace": "App", "MetricName": "Workers", "Dimensions": dims},
                    "Stat": "Average"}},
                {"Id": "e1", "Expression": "m1 / m2", "Label": "backlog per worker",
                 "ReturnData": True},
            ]},
        },
    )  # fmt: skip
    high = next(a["AlarmName"] for a in out["Alarms"] if "-AlarmHigh-" in a["AlarmName"])
    [alarm] = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    assert queries["e1"]["Expression"] == "m1 / m2" and queries["e1"]["ReturnData"] is True
    assert queries["m1"]["MetricStat"]["Period"] == 60  # AWS's period on the session server
    assert queries["m2"]["MetricStat"]["Stat"] == "Average"
    with pytest.raises(ClientError) as exc:  # two queries returning data
        aas.put_scaling_policy(
            PolicyName="bad", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 1.0,
                "CustomizedMetricSpecification": {"Metrics": [
                    {"Id": "a", "Expression": "1"}, {"Id": "b", "Expression": "2"}]},
            },
        )  # fmt: skip
    assert _code(exc) == "ValidationException"

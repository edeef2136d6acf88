"""Alarms through boto3 (CBOR) against a running server: the server's evaluator moves an
alarm by its datapoints, and every alarm call answers as CloudWatch does."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)


def put_alarm(cw: Any, name: str, namespace: str, **extra: Any) -> None:
    p: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": namespace,
        "MetricName": "CPU",
        "Statistic": "Maximum",
        "Period": 10,
        "EvaluationPeriods": 3,
        "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    p.update(extra)
    cw.put_metric_alarm(**p)


def describe(cw: Any, name: str) -> dict[str, Any]:
    return dict(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


def test_alarm_goes_to_alarm_on_its_datapoints(cw: Any, name: str, namespace: str) -> None:
    now = int(time.time())
    # One high-resolution datapoint a second, from two minutes ago to two minutes ahead.
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "CPU",
                "Value": 95.0,
                "StorageResolution": 1,
                "Timestamp": datetime.fromtimestamp(now + s, UTC),
            }
            for s in range(-120, 120)
        ],
    )
    put_alarm(
        cw, name, namespace, AlarmDescription="cpu high", Tags=[{"Key": "team", "Value": "a"}]
    )
    first = describe(cw, name)
    assert first["StateValue"] == "INSUFFICIENT_DATA"
    assert first["StateReason"] == "Unchecked: Initial alarm creation"
    assert first["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    alarm = wait_for(lambda: (a := describe(cw, name))["StateValue"] == "ALARM" and a)
    assert alarm["StateReason"].startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [95.0 ("
    )
    assert alarm["StateReason"].endswith(
        "were greater than the threshold (50.0) "
        "(minimum 3 datapoints for INSUFFICIENT_DATA -> ALARM transition)."
    )
    history = cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert history[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert history[-1]["HistoryItemType"] == "ConfigurationUpdate"
    by_state = cw.describe_alarms(AlarmNamePrefix=name, StateValue="ALARM")["MetricAlarms"]
    assert [a["AlarmName"] for a in by_state] == [name]
    for_metric = cw.describe_alarms_for_metric(Namespace=namespace, MetricName="CPU")
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == [name]
    cw.delete_alarms(AlarmNames=[name])


def test_set_alarm_state_and_actions_switch(cw: Any, name: str, namespace: str) -> None:
    put_alarm(
        cw,
        name,
        namespace,
        Period=60,
        AlarmActions=[
            "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x:resource/ecs/s:policyName/p"
        ],
    )
    cw.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="testing", StateReasonData='{"why": "test"}'
    )
    alarm = describe(cw, name)
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "testing")
    assert alarm["StateReasonData"] == '{"why": "test"}'
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    assert history["AlarmHistoryItems"][0]["HistorySummary"] == (
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    )
    actions = cw.describe_alarms(AlarmNamePrefix=name, ActionPrefix="arn:aws:autoscaling:")[
        "MetricAlarms"
    ]
    assert [a["AlarmName"] for a in actions] == [name]
    cw.disable_alarm_actions(AlarmNames=[name])
    assert describe(cw, name)["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[name])
    assert describe(cw, name)["ActionsEnabled"] is True
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{")
    assert exc.value.response["Error"]["Code"] == "InvalidFormat"
    cw.delete_alarms(AlarmNames=[name])
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.delete_alarms(AlarmNames=[name])


def test_tags(cw: Any, name: str, namespace: str) -> None:
    put_alarm(cw, name, namespace, Tags=[{"Key": "a", "Value": "1"}])
    arn = describe(cw, name)["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    tags = cw.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "3"), ("b", "2")]
    cw.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(cw.exceptions.ResourceNotFoundException):
        cw.list_tags_for_resource(ResourceARN=arn + "-gone")
    cw.delete_alarms(AlarmNames=[name])


def test_describe_alarms_pages_by_name(cw: Any, name: str, namespace: str) -> None:
    for i in range(5):
        put_alarm(cw, f"{name}-{i}", namespace)
    first = cw.describe_alarms(AlarmNamePrefix=name, MaxRecords=2)
    assert [a["AlarmName"] for a in first["MetricAlarms"]] == [f"{name}-0", f"{name}-1"]
    rest = cw.describe_alarms(AlarmNamePrefix=name, MaxRecords=10, NextToken=first["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == [f"{name}-{i}" for i in (2, 3, 4)]
    assert "NextToken" not in rest and rest["CompositeAlarms"] == []
    cw.delete_alarms(AlarmNames=[f"{name}-{i}" for i in range(5)])


@pytest.mark.parametrize(
    ("extra", "code", "text"),
    [
        ({"Period": 45}, "ValidationError", "Period must be 10, 30 or a multiple of 60"),
        ({"Period": 3600, "EvaluationPeriods": 25}, "ValidationError", "more than a day"),
        ({"DatapointsToAlarm": 4}, "ValidationError", "less than or equal to EvaluationPeriods"),
        ({"TreatMissingData": "sometimes"}, "ValidationError", "TreatMissingData"),
        ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination", "Exactly one of Statistic"),
        ({"AlarmActions": ["not-an-arn"]}, "ValidationError", "Invalid arn syntax: not-an-arn"),
    ],
)
def test_bad_alarms(
    cw: Any, name: str, namespace: str, extra: dict[str, Any], code: str, text: str
) -> None:
    with pytest.raises(ClientError) as exc:
        put_alarm(cw, name, namespace, **extra)
    err = exc.value.response["Error"]
    assert err["Code"] == code and text in err["Message"]
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []

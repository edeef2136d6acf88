"""An alarm's state change reaches EventBridge as CloudWatch sends it: a rule on
`aws.cloudwatch` / "CloudWatch Alarm State Change" delivers it to its target, with the alarm's
ARN in `resources` and its new and previous state in `detail`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import ServerProcess
from webhook import Webhook, subscribed


@pytest.fixture
def hook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_a_state_change_reaches_a_rules_target(
    server: ServerProcess, cw: Any, name: str, namespace: str, hook: Webhook
) -> None:
    alarm = f"{name}-high"
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace=namespace,
        MetricName="Load",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    arn = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [arn],
    }
    with subscribed(server.client("events"), name, hook.url, pattern):
        cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="testing")
        got = hook.wait_for(lambda got: len(got) >= 1)
    (event,) = got
    assert event["source"] == "aws.cloudwatch" and event["resources"] == [arn]
    assert event["detail"]["alarmName"] == alarm
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["state"]["reason"] == "testing"
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    cw.delete_alarms(AlarmNames=[alarm])

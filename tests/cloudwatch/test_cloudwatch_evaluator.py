"""The alarm evaluator on a real metric store with a fake clock: datapoints published through
`metrics.publish`, alarms put through the operations, a pass per period; the actions go
through the registry by ARN prefix, transitions are in the history and told to listeners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside.cloudwatch import alarms, metric_data, metrics, retention, runtime
from portside.cloudwatch.actions import AlarmAction
from portside.cloudwatch.alarm_events import envelope
from portside.cloudwatch.evaluator import AlarmEvaluator
from portside.cloudwatch.transitions import Transition
from portside.ops.context import Op
from portside.testing.clock import FakeClock
from portside.testing.store import sqlite_store
from portside.testing.world import make_op, make_world

T0 = 1_800_000_000.0  # on a minute boundary
SCALE = "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:abc:resource/ecs/x:policyName/up"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def op(clock: FakeClock, tmp_path: Path) -> Iterator[Op]:
    store = sqlite_store(tmp_path)
    made = make_op(make_world(store, clock=clock))
    yield made
    runtime.of(made).metrics.close()


def put(op: Op, value: float, at: float, name: str = "CPU") -> None:
    metrics.publish(op, "App", [{"MetricName": name, "Value": value, "Timestamp": at}])


def alarm(op: Op, **extra: Any) -> None:
    p: dict[str, Any] = {
        "AlarmName": "high",
        "EvaluationPeriods": 3,
        "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [SCALE],
        "OKActions": ["arn:aws:sns:us-east-1:000000000000:nobody"],
    }
    if "Metrics" not in extra:
        p.update(MetricName="CPU", Namespace="App", Statistic="Average", Period=60)
    p.update(extra)
    alarms.put_metric_alarm(op, p)


def state(op: Op) -> dict[str, Any]:
    found = alarms.describe_alarms(op, {"AlarmNames": ["high"]})["MetricAlarms"]
    return dict(found[0])


def test_alarm_fires_its_scaling_action_and_says_so(op: Op, clock: FakeClock) -> None:
    rt = runtime.of(op)
    fired: list[AlarmAction] = []
    told: list[Transition] = []
    rt.actions.register("arn:aws:autoscaling:", fired.append)
    rt.listeners.append(told.append)
    evaluator = AlarmEvaluator(rt, clock)
    alarm(op)
    evaluator.step()
    assert state(op)["StateValue"] == "INSUFFICIENT_DATA"
    for minute in range(3):
        put(op, 90.0 + minute, T0 + 60 * minute)
    clock.now = T0 + 180 + 5
    evaluator.step()
    now = state(op)
    assert now["StateValue"] == "ALARM"
    assert now["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints [92.0")
    assert "(minimum 3 datapoints for INSUFFICIENT_DATA -> ALARM transition)." in now["StateReason"]
    assert [a.arn for a in fired] == [SCALE] and fired[0].new_state == "ALARM"
    event = envelope(told[0])
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert event["resources"] == [now["AlarmArn"]]
    # Data stops: missing data (the default) goes to INSUFFICIENT_DATA
    clock.now = T0 + 600 + 5
    evaluator.step()
    assert state(op)["StateValue"] == "INSUFFICIENT_DATA"
    history = alarms.describe_alarm_history(op, {"AlarmName": "high"})["AlarmHistoryItems"]
    summaries = [h["HistorySummary"] for h in history]
    assert summaries[:2] == [
        "Alarm updated from ALARM to INSUFFICIENT_DATA",
        f"Successfully executed action {SCALE}",
    ]
    assert summaries[2] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert summaries[-1] == 'Alarm "high" created'


def test_an_action_no_handler_claims_is_a_failed_action(op: Op, clock: FakeClock) -> None:
    evaluator = AlarmEvaluator(runtime.of(op), clock)
    alarm(op, TreatMissingData="notBreaching")
    clock.now = T0 + 185
    evaluator.step()
    assert state(op)["StateValue"] == "OK"
    history = alarms.describe_alarm_history(op, {"AlarmName": "high", "HistoryItemType": "Action"})
    [item] = history["AlarmHistoryItems"]
    assert item["HistorySummary"].startswith(
        "Failed to execute action arn:aws:sns:us-east-1:000000000000:nobody."
    )


def test_disabled_actions_do_not_run(op: Op, clock: FakeClock) -> None:
    rt = runtime.of(op)
    fired: list[AlarmAction] = []
    rt.actions.register("arn:aws:autoscaling:", fired.append)
    alarm(op, TreatMissingData="breaching")
    alarms.disable_alarm_actions(op, {"AlarmNames": ["high"]})
    clock.now = T0 + 185
    AlarmEvaluator(rt, clock).step()
    assert state(op)["StateValue"] == "ALARM" and state(op)["ActionsEnabled"] is False
    assert fired == []


def test_metric_math_alarm(op: Op, clock: FakeClock) -> None:
    for minute in range(3):
        put(op, 30.0, T0 + 60 * minute, "Errors")
        put(op, 100.0, T0 + 60 * minute, "Requests")
    stat = {"Period": 60, "Stat": "Sum"}
    alarm(
        op,
        Threshold=20.0,
        Metrics=[
            {
                "Id": "e",
                "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"}, **stat},
                "ReturnData": False,
            },
            {
                "Id": "r",
                "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Requests"}, **stat},
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * e / r", "ReturnData": True},
        ],
    )
    clock.now = T0 + 185
    AlarmEvaluator(runtime.of(op), clock).step()
    now = state(op)
    assert now["StateValue"] == "ALARM"
    assert "[30.0 (" in now["StateReason"]


def test_get_metric_data_math_and_paging(op: Op, clock: FakeClock) -> None:
    for minute in range(10):
        put(op, float(minute), T0 + 60 * minute, "A")
        put(op, 10.0, T0 + 60 * minute, "B")
    clock.now = T0 + 3600
    stat = {"Period": 60, "Stat": "Average"}
    queries = [
        {"Id": "a", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "A"}, **stat}},
        {
            "Id": "b",
            "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "B"}, **stat},
            "ReturnData": False,
        },
        {"Id": "total", "Expression": "SUM(METRICS())", "Label": "Total"},
    ]
    p: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": T0,
        "EndTime": T0 + 600,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 15,
    }
    first = metric_data.get_metric_data(op, p)
    a, total = first["MetricDataResults"]
    assert a["Values"] == [float(m) for m in range(10)] and a["StatusCode"] == "Complete"
    assert total["Label"] == "Total" and total["StatusCode"] == "PartialData"
    assert total["Values"] == [10.0, 11.0, 12.0, 13.0, 14.0]
    second = metric_data.get_metric_data(op, {**p, "NextToken": first["NextToken"]})
    [rest] = second["MetricDataResults"]
    assert rest["Values"] == [15.0, 16.0, 17.0, 18.0, 19.0] and "NextToken" not in second


def test_roll_ups_keep_the_totals(op: Op, clock: FakeClock) -> None:
    for minute in range(10):
        put(op, float(minute), T0 + 60 * minute)
    store = runtime.of(op).metrics
    clock.now = T0 + 16 * 86400
    retention.apply(store, clock.now)
    rows = store.reader().execute("SELECT res, ts, n, total, lo, hi FROM points").fetchall()
    assert rows == [(300, T0, 5.0, 10.0, 0.0, 4.0), (300, T0 + 300, 5.0, 35.0, 5.0, 9.0)]
    clock.now = T0 + 64 * 86400
    retention.apply(store, clock.now)
    rows = store.reader().execute("SELECT res, n, total, lo, hi FROM points").fetchall()
    assert rows == [(3600, 10.0, 45.0, 0.0, 9.0)]
    clock.now = T0 + 456 * 86400
    retention.apply(store, clock.now)
    assert store.reader().execute("SELECT count(*) FROM points").fetchone() == (0,)

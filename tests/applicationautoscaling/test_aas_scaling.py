"""Scaling end to end on a real store with a fake clock, no server: ECS's metric in
CloudWatch, the evaluator and the `autoscaling` loop stepped by hand. Target tracking scales
out at once to AWS's count, in one step per cooldown and never during a deployment; a step
policy; a scheduled action at its time. AWS's default period (60 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portside import testing
from portside.api.ecs import requests_services as wire
from portside.applicationautoscaling import activities, policies, scheduled, targets, wiring
from portside.applicationautoscaling.loop import ScalingLoop
from portside.cloudwatch import alarms, metrics, runtime
from portside.cloudwatch.evaluator import AlarmEvaluator
from portside.model.service import COMPLETED, IN_PROGRESS
from portside.ops import clusters, services, task_definitions
from portside.ops.context import Op

T0 = 1_800_000_000.0  # a minute boundary
DIM = "ecs:service:DesiredCount"
RID = "service/c1/web"
SERVICE_ARN = "arn:aws:ecs:us-east-1:000000000000:service/c1/web"


@pytest.fixture
def clock() -> testing.FakeClock:
    return testing.FakeClock(T0)


@pytest.fixture
def op(tmp_path: Path, clock: testing.FakeClock) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    made = testing.make_op(testing.make_world(store, clock=clock))
    clusters.create_cluster(made, name="c1")
    task_definitions.register(
        made, {"family": "web", "containerDefinitions": [{"name": "w", "image": "b", "memory": 64}]}
    )
    services.create_service(
        made,
        wire.create_service(
            {"serviceName": "web", "cluster": "c1", "taskDefinition": "web", "desiredCount": 2}
        ),
    )
    yield made
    runtime.of(made).metrics.close()
    store.close()


class Rig:
    def __init__(self, op: Op, clock: testing.FakeClock) -> None:
        self.op, self.clock = op, clock
        cw = runtime.of(op)
        self.loop: ScalingLoop = wiring.build(op.world, cw, clock=clock)
        self.evaluator = AlarmEvaluator(cw, clock)

    def minute(self, m: int, cpu: float | None, metric: str = "CPUUtilization") -> None:
        """The datapoint of minute m-1 published, then the clock just past minute m."""
        if cpu is not None:
            dims = [{"Name": "ClusterName", "Value": "c1"}, {"Name": "ServiceName", "Value": "web"}]
            at = T0 + (m - 1) * 60 + 30
            metrics.publish(self.op, "AWS/ECS",
                            [{"MetricName": metric, "Dimensions": dims, "Value": cpu,
                              "Timestamp": at}])  # fmt: skip
        self.clock.now = T0 + m * 60 + 5
        self.evaluator.step()
        self.loop.step()

    def desired(self) -> int:
        with self.op.store.read() as tx:
            found = services.load(tx, SERVICE_ARN)
        assert found is not None
        return found.desired_count

    def rollout(self, state: str) -> None:
        with self.op.store.transaction() as tx:
            svc = services.load(tx, SERVICE_ARN)
            assert svc is not None
            svc.primary.rollout_state = state
            services.save(tx, svc)

    def activities(self) -> list[dict[str, Any]]:
        found = activities.describe_scaling_activities(
            self.op, {"ServiceNamespace": "ecs", "ResourceId": RID}
        )
        return list(found["ScalingActivities"])


def _target(op: Op, lo: int = 1, hi: int = 10) -> None:
    targets.register_scalable_target(op, {"ServiceNamespace": "ecs", "ResourceId": RID,
                                          "ScalableDimension": DIM, "MinCapacity": lo,
                                          "MaxCapacity": hi})  # fmt: skip


def _tracking(op: Op, **cfg: Any) -> dict[str, Any]:
    return policies.put_scaling_policy(op, {
        "PolicyName": "cpu", "ServiceNamespace": "ecs", "ResourceId": RID,
        "ScalableDimension": DIM, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            **cfg,
        },
    })  # fmt: skip


def test_target_tracking_out_fast_in_gradually(op: Op, clock: testing.FakeClock) -> None:
    rig = Rig(op, clock)
    _target(op, 2, 10)
    out = _tracking(op)
    high = next(a["AlarmName"] for a in out["Alarms"] if "AlarmHigh" in a["AlarmName"])
    rig.rollout(COMPLETED)
    rig.minute(1, 90)
    rig.minute(2, 90)
    assert rig.desired() == 2  # two datapoints of three: nothing yet
    rig.minute(3, 90)
    assert rig.desired() == 4  # ceil(2 * 90 / 50)
    [act] = rig.activities()
    assert act["Description"] == "Setting desired count to 4."
    assert act["Cause"] == f"monitor alarm {high} in state ALARM triggered policy cpu"
    assert act["StatusMessage"] == (
        "Successfully set desired count to 4. Change successfully fulfilled by ecs."
    )
    with op.store.read() as tx:
        svc = services.load(tx, SERVICE_ARN)
    assert svc is not None and svc.events[0].message == (
        "Message: Successfully set desired count to 4. Change successfully fulfilled by ecs. "
        f"Cause: monitor alarm {high} in state ALARM triggered policy cpu"
    )
    # The load spread over four tasks: 45%, between the alarms' thresholds, changes nothing.
    for m in range(4, 10):
        rig.minute(m, 45)
    assert rig.desired() == 4
    # The load stops: after 15 low datapoints, one task less per scale-in cooldown.
    times = []
    for m in range(10, 40):
        before = rig.desired()
        rig.minute(m, 0)
        if rig.desired() != before:
            assert rig.desired() == before - 1
            times.append(clock.now)
    assert rig.desired() == 2  # MinCapacity
    assert len(times) == 2 and times[1] - times[0] >= 300
    assert times[0] - (T0 + 9 * 60) >= 15 * 60  # AlarmLow: 15 datapoints below 45


def test_no_scale_in_during_a_deployment(op: Op, clock: testing.FakeClock) -> None:
    rig = Rig(op, clock)
    _target(op, 1, 10)
    _tracking(op, ScaleInCooldown=0)
    rig.rollout(IN_PROGRESS)
    for m in range(1, 20):
        rig.minute(m, 5)
    assert rig.desired() == 2
    rig.rollout(COMPLETED)
    rig.minute(20, 5)
    assert rig.desired() == 1


def test_no_action_on_insufficient_data(op: Op, clock: testing.FakeClock) -> None:
    rig = Rig(op, clock)
    _target(op, 1, 10)
    _tracking(op)
    rig.rollout(COMPLETED)
    for m in range(1, 30):
        rig.minute(m, None)
    assert rig.desired() == 2 and not rig.activities()


def test_step_policy(op: Op, clock: testing.FakeClock) -> None:
    rig = Rig(op, clock)
    _target(op, 1, 10)
    arn = policies.put_scaling_policy(op, {
        "PolicyName": "steps", "ServiceNamespace": "ecs", "ResourceId": RID,
        "ScalableDimension": DIM, "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity", "Cooldown": 120,
            "StepAdjustments": [
                {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20,
                 "ScalingAdjustment": 1},
                {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
            ],
        },
    })["PolicyARN"]  # fmt: skip
    alarms.put_metric_alarm(op, {
        "AlarmName": "web-cpu-high", "Namespace": "AWS/ECS", "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "ClusterName", "Value": "c1"},
                       {"Name": "ServiceName", "Value": "web"}],
        "Statistic": "Average", "Period": 60, "EvaluationPeriods": 1, "Threshold": 60.0,
        "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [arn],
    })  # fmt: skip
    rig.minute(1, 70)  # 10 above the threshold: +1
    assert rig.desired() == 3
    rig.minute(2, 95)  # 35 above, but inside the cooldown
    assert rig.desired() == 3
    rig.minute(3, 95)  # past 120 s: +3
    assert rig.desired() == 6
    causes = [a["Cause"] for a in rig.activities()]
    assert causes == ["monitor alarm web-cpu-high in state ALARM triggered policy steps"] * 2


def test_scheduled_action_sets_min_capacity_at_its_time(op: Op, clock: testing.FakeClock) -> None:
    rig = Rig(op, clock)
    _target(op, 1, 10)
    scheduled.put_scheduled_action(op, {
        "ServiceNamespace": "ecs", "ScheduledActionName": "rush", "ResourceId": RID,
        "ScalableDimension": DIM, "Schedule": "at(2027-01-15T09:30:00)",
        "Timezone": "Europe/Paris", "ScalableTargetAction": {"MinCapacity": 5},
    })  # fmt: skip
    # T0 is 2027-01-15T08:00Z, 09:00 in Paris: the action is due half an hour later.
    clock.now = T0 + 1799
    rig.loop.step()
    assert rig.desired() == 2
    clock.now = T0 + 1800.2
    rig.loop.step()
    assert rig.desired() == 5
    got = [(a["Description"], a["Cause"]) for a in rig.activities()]
    assert got == [
        ("Setting desired count to 5.", "minimum capacity was set to 5"),
        ("Setting min capacity to 5", "scheduled action name rush was triggered"),
    ] or got == [
        ("Setting min capacity to 5", "scheduled action name rush was triggered"),
        ("Setting desired count to 5.", "minimum capacity was set to 5"),
    ]
    [t] = targets.describe_scalable_targets(op, {"ServiceNamespace": "ecs"})["ScalableTargets"]
    assert t["MinCapacity"] == 5
    clock.now = T0 + 7200
    rig.loop.step()  # an at() runs once
    assert len(rig.activities()) == 2

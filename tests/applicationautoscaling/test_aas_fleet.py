"""Application Auto Scaling moving a service on a simulated fleet, on a server whose metric
period is shortened to 1 s (`--metric-period 1`: AlarmHigh needs 3 s above the target,
AlarmLow 15 s below). The load comes from the simulated driver's load model, sampled by the
agent and published by ECS's metrics publisher as AWS/ECS CPUUtilization: nothing here puts
a metric by hand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fleet import Fleet, register, start_fleet, wait_until
from harness import ServerProcess

DIM = "ecs:service:DesiredCount"


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("aas"), None, "--metric-period", "1")
    proc.start()
    yield proc
    proc.close()


@pytest.fixture(autouse=True)
def fast_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTSIDE_STATS_INTERVAL", "0.2")  # the in-process agents' sampler


def _service(fleet: Fleet, name: str, count: int) -> str:
    td = register(fleet.ecs, name, cpu="1024", memory="512")
    fleet.ecs.create_service(cluster=name, serviceName="web", taskDefinition=td, desiredCount=count)
    _running(fleet, name, count)
    return f"service/{name}/web"


def _running(fleet: Fleet, name: str, count: int, timeout: float = 30) -> None:
    def settled() -> bool:
        [svc] = fleet.ecs.describe_services(cluster=name, services=["web"])["services"]
        return bool(svc["desiredCount"] == count and svc["runningCount"] == count)

    wait_until(settled, timeout=timeout, what=f"{count} tasks RUNNING")


def _desired(fleet: Fleet, name: str) -> int:
    [svc] = fleet.ecs.describe_services(cluster=name, services=["web"])["services"]
    return int(svc["desiredCount"])


def _register(aas: Any, rid: str, lo: int, hi: int) -> None:
    aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
                                 MinCapacity=lo, MaxCapacity=hi)  # fmt: skip


def test_target_tracking_grows_then_shrinks_gradually(
    fast_server: ServerProcess, tmp_path: Path, name: str
) -> None:
    aas = fast_server.client("application-autoscaling")
    with start_fleet(fast_server, tmp_path, name, cpu=16384, memory=16384) as fleet:
        rid = _service(fleet, name, 2)
        _register(aas, rid, 2, 10)
        aas.put_scaling_policy(
            PolicyName="cpu50", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 50.0, "ScaleOutCooldown": 20, "ScaleInCooldown": 2,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
        )  # fmt: skip
        driver = fleet.driver_of(fleet.instance_arns[0])
        loaded = driver.clock()
        driver.load.set(loaded, 0.9 * 1024, 128)  # every container: 90% of its 1024 units
        # ceil(2 * 90 / 50) = 4, within AlarmHigh's three 1 s datapoints and the publish lag.
        wait_until(lambda: _desired(fleet, name) == 4, timeout=20, what="desired count 4")
        _running(fleet, name, 4, timeout=20)
        stopped = driver.clock()
        driver.load.set(stopped, 0, 128)
        seen = [4]

        def shrunk() -> bool:
            n = _desired(fleet, name)
            if n != seen[-1]:
                seen.append(n)
            return n == 2

        wait_until(shrunk, timeout=60, what="back to MinCapacity 2")
        assert seen == [4, 3, 2]  # gradual: one task at a time
        acts = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=rid)[
            "ScalingActivities"
        ]
        assert [a["Description"] for a in acts] == [
            "Setting desired count to 2.",
            "Setting desired count to 3.",
            "Setting desired count to 4.",
        ]
        assert "-AlarmLow-" in acts[0]["Cause"] and "-AlarmHigh-" in acts[2]["Cause"]
        # Scale-in waited for AlarmLow's 15 datapoints after the load stopped.
        assert acts[1]["StartTime"].timestamp() - stopped >= 15
        [svc] = fleet.ecs.describe_services(cluster=name, services=["web"])["services"]
        messages = [e["message"] for e in svc["events"]]
        assert any(m.startswith("Message: Successfully set desired count to 4.") for m in messages)


def test_step_policy_on_a_cloudwatch_alarm(
    fast_server: ServerProcess, tmp_path: Path, name: str
) -> None:
    aas = fast_server.client("application-autoscaling")
    cw = fast_server.client("cloudwatch")
    with start_fleet(fast_server, tmp_path, name, cpu=16384, memory=16384) as fleet:
        rid = _service(fleet, name, 1)
        _register(aas, rid, 1, 5)
        arn = aas.put_scaling_policy(
            PolicyName="steps", ServiceNamespace="ecs", ResourceId=rid, ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                "StepAdjustments": [
                    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 30,
                     "ScalingAdjustment": 1},
                    {"MetricIntervalLowerBound": 30, "ScalingAdjustment": 2},
                ],
            },
        )["PolicyARN"]  # fmt: skip
        cw.put_metric_alarm(
            AlarmName=f"{name}-cpu-high", Namespace="AWS/ECS", MetricName="CPUUtilization",
            Dimensions=[{"Name": "ClusterName", "Value": name},
                        {"Name": "ServiceName", "Value": "web"}],
            Statistic="Average", Period=10, EvaluationPeriods=1, Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold", AlarmActions=[arn],
        )  # fmt: skip
        driver = fleet.driver_of(fleet.instance_arns[0])
        driver.load.set(driver.clock() - 12, 0.95 * 1024, 128)  # 45 above: the second step
        wait_until(lambda: _desired(fleet, name) == 3, timeout=30, what="desired count 3")
        _running(fleet, name, 3)
        time.sleep(0)  # the cooldown holds it there (checked by the unit tests)
        history = cw.describe_alarm_history(AlarmName=f"{name}-cpu-high", HistoryItemType="Action")[
            "AlarmHistoryItems"
        ]
        assert history and history[0]["HistorySummary"] == f"Successfully executed action {arn}"


def test_scheduled_action_sets_min_capacity_at_its_time(
    fast_server: ServerProcess, tmp_path: Path, name: str
) -> None:
    aas = fast_server.client("application-autoscaling")
    with start_fleet(fast_server, tmp_path, name, cpu=16384, memory=16384) as fleet:
        rid = _service(fleet, name, 1)
        _register(aas, rid, 1, 5)
        at = int(time.time()) + 3
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        aas.put_scheduled_action(
            ServiceNamespace="ecs", ScheduledActionName="rush", ResourceId=rid,
            ScalableDimension=DIM, Schedule=f"at({stamp})",
            ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 5},
        )  # fmt: skip
        assert _desired(fleet, name) == 1
        wait_until(lambda: _desired(fleet, name) == 3, timeout=15, what="MinCapacity 3")
        assert time.time() >= at
        _running(fleet, name, 3)
        [t] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
            "ScalableTargets"
        ]
        assert t["MinCapacity"] == 3
        causes = {a["Cause"] for a in aas.describe_scaling_activities(
            ServiceNamespace="ecs", ResourceId=rid)["ScalingActivities"]}  # fmt: skip
        assert causes == {"scheduled action name rush was triggered",
                          "minimum capacity was set to 3"}  # fmt: skip

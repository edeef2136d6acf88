"""The blue/green engine's pure parts: the traffic shift of each routing (shift.py), the
phases and their failures (engine.py), the AppSpec reader, and the task set reconciler's
decisions (controllers/services/task_sets.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.codedeploy import appspec
from portside.controllers.blue_green import engine, shift
from portside.controllers.blue_green.engine import Facts, decide
from portside.controllers.services import task_sets as set_pass
from portside.controllers.services.facts import TaskFact
from portside.errors import NamedError
from portside.model.states import TaskStatus

CANARY = shift.Routing("TimeBasedCanary", 10, 5)
LINEAR = shift.Routing("TimeBasedLinear", 10, 1)


def test_all_at_once_moves_everything_at_once() -> None:
    assert shift.at(shift.Routing.of({"type": "AllAtOnce"}), 0, 0) == shift.Step(100, None)


def test_canary_holds_then_moves_the_rest() -> None:
    assert shift.at(CANARY, 100, 100) == shift.Step(10, 400)
    assert shift.at(CANARY, 100, 399) == shift.Step(10, 400)
    assert shift.at(CANARY, 100, 400) == shift.Step(100, None)


def test_linear_steps_every_interval() -> None:
    assert shift.at(LINEAR, 0, 0) == shift.Step(10, 60)
    assert shift.at(LINEAR, 0, 61) == shift.Step(20, 120)
    assert shift.at(LINEAR, 0, 9 * 60) == shift.Step(100, None)


def test_a_zero_scale_makes_every_routing_immediate() -> None:
    for routing in (CANARY, LINEAR):
        assert shift.at(routing, 0, 0, scale=0) == shift.Step(100, None)


@given(
    st.integers(1, 99), st.integers(1, 60), st.floats(0, 10_000), st.floats(0, 10_000)
)  # fmt: skip
def test_linear_share_never_falls(percent: int, minutes: int, a: float, b: float) -> None:
    routing = shift.Routing("TimeBasedLinear", percent, minutes)
    early, late = sorted((a, b))
    first, second = shift.at(routing, 0, early), shift.at(routing, 0, late)
    assert 0 < first.green <= second.green <= 100
    assert (first.next_at is None) == (first.green == 100)


def _state(**extra: object) -> dict[str, object]:
    return {"phase": engine.START, "green": None, "autoRollback": True, **extra}


def test_start_makes_green_behind_the_test_listener() -> None:
    d = decide(_state(), Facts(True, True, False), 10)
    assert d.create_green and d.test_to == "green" and d.green_share == 0
    assert d.phase == engine.WAIT_GREEN and d.status == "InProgress"


def test_green_steady_then_shift_then_termination_wait_then_done() -> None:
    state = _state(phase=engine.WAIT_GREEN, green="g", greenSince=0, terminationWaitMinutes=5,
                   routing={"type": "AllAtOnce"})  # fmt: skip
    waiting = decide(state, Facts(True, True, True, green_steady=False), 1)
    assert waiting.phase == engine.WAIT_GREEN and waiting.wake_at == 2
    shifting = decide(state, Facts(True, True, True, green_steady=True), 1)
    assert shifting.phase == engine.SHIFT
    state.update(phase=engine.SHIFT, **shifting.notes)
    moved = decide(state, Facts(True, True, True, True), 1)
    assert moved.green_share == 100 and moved.primary == "green"
    assert moved.phase == engine.TERMINATION_WAIT and moved.wake_at == 301
    state.update(phase=engine.TERMINATION_WAIT, **moved.notes)
    assert decide(state, Facts(True, True, True, True), 300).phase == engine.TERMINATION_WAIT
    done = decide(state, Facts(True, True, True, True), 301)
    assert done.status == "Succeeded" and done.drain == ["blue"]


def test_green_failures_roll_back_or_only_fail() -> None:
    state = _state(phase=engine.WAIT_GREEN, green="g", greenSince=0)
    facts = Facts(True, True, True, green_failures=engine.GREEN_FAILURES)
    rolled = decide(state, facts, 5)
    assert rolled.status == "Failed" and rolled.green_share == 0 and rolled.primary == "blue"
    assert rolled.drain == ["green"] and rolled.rollback_message
    plain = decide({**state, "autoRollback": False}, facts, 5)
    assert plain.status == "Failed" and plain.green_share is None and not plain.drain


def test_stop_requests() -> None:
    state = _state(phase=engine.SHIFT, green="g", shiftBegan=0, request="rollback")
    stopped = decide(state, Facts(True, True, True, True), 5)
    assert stopped.status == "Stopped" and stopped.test_to == "blue"
    assert stopped.error is not None and stopped.error[0] == "MANUAL_STOP"
    kept = decide({**state, "request": "stop"}, Facts(True, True, True, True), 5)
    assert kept.status == "Stopped" and kept.green_share is None


def test_ready_waits_for_continue() -> None:
    state = _state(phase=engine.WAIT_GREEN, green="g", greenSince=0, readyWaitMinutes=10)
    ready = decide(state, Facts(True, True, True, True), 5)
    assert ready.phase == engine.READY and ready.status == "Ready"
    state.update(phase=engine.READY, **ready.notes)
    assert decide(state, Facts(True, True, True, True), 6).phase == engine.READY
    go = decide({**state, "request": "continue"}, Facts(True, True, True, True), 6)
    assert go.phase == engine.SHIFT
    late = decide(state, Facts(True, True, True, True), 5 + 601)
    assert late.status == "Stopped" and late.green_share == 0


SPEC = """
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "web:3"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 8080
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: ["subnet-1"]
            AssignPublicIp: "DISABLED"
"""


def test_appspec_yaml_and_json() -> None:
    spec = appspec.parse(SPEC)
    assert (spec.task_definition, spec.container_name, spec.container_port) == (
        "web:3",
        "web",
        8080,
    )
    assert spec.network_configuration == {
        "awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}
    }
    as_json = appspec.parse(
        '{"Resources": [{"T": {"Type": "AWS::ECS::Service", "Properties": {"TaskDefinition":'
        ' "a:1", "LoadBalancerInfo": {"ContainerName": "c", "ContainerPort": "80"}}}}]}'
    )
    assert as_json.container_port == 80


@pytest.mark.parametrize(
    "text",
    [SPEC + 'Hooks:\n  - BeforeInstall: "fn"\n', "version: 0.0\n", "[1, 2", "Resources: []"],
)
def test_appspec_refusals(text: str) -> None:
    with pytest.raises(NamedError) as err:
        appspec.parse(text)
    assert err.value.code == "InvalidRevisionException"


def _task(arn: str, set_id: str, *, running: bool = True, unhealthy: str | None = None) -> TaskFact:
    return TaskFact(
        arn=arn,
        deployment_id=set_id,
        last_status=TaskStatus.RUNNING if running else TaskStatus.PENDING,
        desired_status=TaskStatus.RUNNING,
        health_status="UNKNOWN",
        has_health_check=False,
        instance_arn="i",
        zone=None,
        started_at=0.0,
        load_balanced=True,
        targets_healthy=unhealthy is None,
        unhealthy_in=unhealthy,
    )


def test_task_sets_scale_replace_and_drain() -> None:
    sets = [
        set_pass.SetFact("a", "PRIMARY", 2, ("tg-a",)),
        set_pass.SetFact("b", "ACTIVE", 1, ("tg-b",)),
        set_pass.SetFact("c", "DRAINING", 0),
    ]
    tasks = [
        _task("t1", "a"),
        _task("t2", "b", unhealthy="tg-b"),
        _task("t3", "b", running=False),
        _task("t4", "gone"),
    ]
    plan = set_pass.compute("svc", sets, tasks, now=100.0)
    stopped = {s.task_arn for s in plan.stop}
    assert stopped == {"t2", "t4"}
    assert [(s.deployment_id, s.count) for s in plan.start] == [("a", 1)]
    assert plan.states["a"] == set_pass.SetState(1, 1, False)
    assert plan.states["b"] == set_pass.SetState(0, 1, False)
    assert plan.remove == ["c"]
    steady = set_pass.compute("svc", sets[:1], [_task("t1", "a"), _task("t5", "a")], 100.0)
    assert steady.states["a"].steady and not steady.start and not steady.stop

"""The native blue/green engine's decisions (pure): the stages in order, each strategy's
production weights over time, the bake time, hooks as pauses (continue, rollback, timeout),
failures rolling back, a rollback deployment's moves; and rules.fit's ranges."""

from __future__ import annotations

from typing import Any

import pytest

from portside.controllers.blue_green import shift
from portside.controllers.native_deployments import engine, hooks, rules
from portside.controllers.native_deployments.engine import Decision, Facts, Settings, decide
from portside.errors import InvalidParameterException
from portside.model.deployment import DeploymentConfiguration

UP = Facts(desired=2, mine_live=2, mine_ready=2, others_live=2)


def settings(
    kind: str = shift.ALL_AT_ONCE, pct: int = 100, minutes: int = 0, **kw: Any
) -> Settings:
    return Settings(shift.Routing(kind, pct, minutes), bake_minutes=kw.pop("bake", 0), **kw)


def run(
    state: dict[str, Any], facts: Facts, s: Settings, now: float, records: Any = ()
) -> Decision:
    d = decide(state, facts, s, list(records), now)
    state.update(d.notes)
    state["stage"] = d.stage
    return d


def test_scale_up_waits_for_green_then_runs_every_stage_to_clean_up() -> None:
    state: dict[str, Any] = {"stage": engine.RECONCILE_SERVICE}
    d = run(state, Facts(2, 0, 0, 2), settings(), 0.0)
    assert (d.stage, d.start, d.green_share) == (engine.SCALE_UP, 2, 0)
    d = run(state, Facts(2, 2, 1, 2), settings(), 1.0)
    assert (d.stage, d.start) == (engine.SCALE_UP, 0)  # one target not healthy yet
    d = run(state, UP, settings(), 2.0)
    # All at once, no bake time: straight to CLEAN_UP, blue stopped.
    assert (d.stage, d.green_share, d.stop_others, d.complete) == (
        engine.CLEAN_UP,
        100,
        True,
        False,
    )
    d = run(state, Facts(2, 2, 2, 0), settings(), 3.0)
    assert (d.stage, d.complete) == (engine.DONE, True)


def test_the_test_listener_moves_before_production() -> None:
    state: dict[str, Any] = {"stage": engine.POST_SCALE_UP}
    d = run(state, UP, settings(bake=1), 0.0)
    assert d.test_to_mine and d.green_share == 100 and d.stage == engine.BAKE_TIME


def test_bake_time_keeps_both_revisions_up() -> None:
    state: dict[str, Any] = {"stage": engine.BAKE_TIME}
    d = run(state, UP, settings(bake=2), 100.0)
    assert (d.stage, d.wake_at, d.stop_others) == (engine.BAKE_TIME, 220.0, False)
    assert run(state, UP, settings(bake=2), 219.0).stage == engine.BAKE_TIME
    assert run(state, UP, settings(bake=2), 220.0).stage == engine.CLEAN_UP


def test_bake_time_is_scaled() -> None:
    state: dict[str, Any] = {"stage": engine.BAKE_TIME}
    assert run(state, UP, settings(bake=10, scale=0.01), 0.0).wake_at == pytest.approx(6.0)


def test_linear_steps_every_interval() -> None:
    s = settings(shift.LINEAR, 25, 1)
    state: dict[str, Any] = {"stage": engine.PRODUCTION_TRAFFIC_SHIFT}
    shares = [run(state, UP, s, t).green_share for t in (0.0, 59.0, 60.0, 120.0, 180.0)]
    assert shares == [25, 25, 50, 75, 100]
    assert state["stage"] == engine.CLEAN_UP


def test_canary_then_the_rest() -> None:
    s = settings(shift.CANARY, 5, 10)
    state: dict[str, Any] = {"stage": engine.PRODUCTION_TRAFFIC_SHIFT}
    d = run(state, UP, s, 0.0)
    assert (d.green_share, d.wake_at) == (5, 600.0)
    assert run(state, UP, s, 600.0).green_share == 100


def test_failing_green_rolls_back() -> None:
    d = run({"stage": engine.SCALE_UP}, Facts(2, 1, 0, 2, failed=True), settings(), 0.0)
    assert d.rollback is not None and d.start == 0


HOOK = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}


def test_a_hook_pauses_its_stage_until_continued() -> None:
    s = settings(hooks=(HOOK,))
    state: dict[str, Any] = {"stage": engine.SCALE_UP}
    d = run(state, UP, s, 0.0)
    assert d.stage == engine.POST_SCALE_UP
    (record,) = d.records
    assert record["hookId"] == "post-scale-up-1" and record["status"] == hooks.WAITING
    assert d.wake_at == 1440 * 60  # the default timeout
    record["action"] = hooks.CONTINUE  # ContinueServiceDeployment
    d = run(state, UP, s, 1.0, d.records)
    assert d.records[0]["status"] == hooks.SUCCEEDED and d.stage == engine.CLEAN_UP


def test_a_hook_may_roll_back_or_time_out() -> None:
    s = settings(hooks=(HOOK,))
    state: dict[str, Any] = {"stage": engine.POST_SCALE_UP}
    d = run(state, UP, s, 0.0)
    d.records[0]["action"] = hooks.ROLLBACK
    assert "asked for a rollback" in str(run(dict(state), UP, s, 1.0, d.records).rollback)
    timed = {**HOOK, "timeoutConfiguration": {"timeoutInMinutes": 1, "action": "CONTINUE"}}
    s = settings(hooks=(timed,))
    d = run(state := {"stage": engine.POST_SCALE_UP}, UP, s, 0.0)
    assert d.wake_at == 60.0
    d = run(state, UP, s, 60.0, d.records)
    assert d.records[0]["status"] == hooks.TIMED_OUT and d.stage == engine.CLEAN_UP


def test_a_rollback_deployment_restores_blue() -> None:
    d = run({"stage": engine.ROLLBACK}, Facts(2, 1, 1, 2), settings(), 0.0)
    assert (d.green_share, d.test_to_mine, d.stop_others, d.start) == (100, True, True, 1)
    d = run({"stage": engine.ROLLBACK}, Facts(2, 2, 2, 0), settings(), 0.0)
    assert d.complete and d.stage == engine.DONE


def test_shown_stages_are_the_api_s() -> None:
    assert engine.shown(engine.PRE_PRODUCTION_TRAFFIC_SHIFT) == "PRODUCTION_TRAFFIC_SHIFT"
    assert engine.shown(engine.DONE) is None


def conf(**members: Any) -> DeploymentConfiguration:
    return DeploymentConfiguration.from_doc(members)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"strategy": "ROLLING", "linearConfiguration": {"stepPercent": 10}}, "LINEAR"),
        ({"strategy": "LINEAR", "canaryConfiguration": {"canaryPercent": 10}}, "CANARY"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}}, "between 3.0"),
        ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 5.05}}, "multiple"),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "between 0 and 1440"),
        ({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["SCALE_UP"]}]}, "only"),
        (
            {"strategy": "BLUE_GREEN", "lifecycleHooks": [{"lifecycleStages": ["PRE_SCALE_UP"]}]},
            "hookTargetArn",
        ),
        (
            {"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "PAUSE"}]},
            "at least one",
        ),
        (
            {
                "strategy": "BLUE_GREEN",
                "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["SCALE_UP"]}],
            },
            "not a valid lifecycle hook stage",
        ),
    ],
)
def test_fit_refuses(members: dict[str, Any], message: str) -> None:
    given = conf(**members)
    with pytest.raises(InvalidParameterException, match=message):
        rules.fit(given, given)


def test_fit_drops_what_the_new_strategy_does_not_use() -> None:
    stored = conf(strategy="LINEAR", linearConfiguration={"stepPercent": 20.0})
    given = conf(strategy="CANARY")
    merged = rules.fit(given, given.over(stored))
    assert merged.linear_configuration is None and merged.strategy == "CANARY"


def test_routing_from_the_configuration() -> None:
    assert rules.routing(conf(strategy="BLUE_GREEN")) == shift.Routing(shift.ALL_AT_ONCE)
    assert rules.routing(conf(strategy="LINEAR")) == shift.Routing(shift.LINEAR, 10, 6)
    canary = conf(strategy="CANARY", canaryConfiguration={"canaryPercent": 0.5})
    assert rules.routing(canary) == shift.Routing(shift.CANARY, 1, 10)

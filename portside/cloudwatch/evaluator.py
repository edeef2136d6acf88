"""The loop that evaluates alarms, each once per period as its period ends.

Each pass reads every alarm, and for those whose latest whole period has not been evaluated
yet (a new alarm at once): reads its window's values (`alarm_data.py`), decides
(`evaluation.evaluate`, pure), stores the alarm (and, on a change of state, the history
item) — only if it was not put, deleted or set meanwhile —, runs the new state's actions and
tells the listeners. A pass then sleeps until the next period end of any alarm, at most
`interval` (so a new alarm waits at most that long for its first evaluation). Periods are
AWS's; shortening them for demos (issue 18's server flag) is not done yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import orjson

from portside.cloudwatch import alarm_data
from portside.cloudwatch.alarm_config import alarm_period
from portside.cloudwatch.evaluation import Rule, evaluate, window
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.cloudwatch.transitions import Transition, change, run_actions
from portside.controllers.loop import Loop, Loops

log = logging.getLogger("portside.cloudwatch")


class AlarmEvaluator:
    def __init__(
        self, runtime: CloudWatchRuntime, clock: Callable[[], float], interval: float = 10.0
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.interval = interval
        self._lock = threading.Lock()
        # (scope, name) -> (the configuration evaluated, the period end it was evaluated for):
        # kept in memory, so an evaluation that changes nothing writes nothing (a restarted
        # server evaluates every alarm once more, which changes nothing either).
        self._evaluated: dict[tuple[str, str], tuple[float, int]] = {}

    def step(self) -> float:
        """One pass; returns seconds until the next period end (at most `interval`)."""
        with self._lock:
            now = self.clock()
            soonest = self.interval
            seen: dict[tuple[str, str], tuple[float, int]] = {}
            for where, alarm in self.runtime.alarms.every():
                period = alarm_period(alarm)
                due = int((now - settle(period)) // period * period)
                key = (where, alarm["AlarmName"])
                mark = (alarm["AlarmConfigurationUpdatedTimestamp"], due)
                if self._evaluated.get(key) != mark:
                    self.evaluate_one(where, alarm, now)
                seen[key] = mark
                soonest = min(soonest, due + period + settle(period) - now + 0.05)
            self._evaluated = seen
            return max(0.2, soonest)

    def evaluate_one(self, where: str, alarm: dict[str, Any], now: float) -> None:
        period = alarm_period(alarm)
        rule = Rule.of(alarm, period)
        starts = window(now - settle(period), period, rule.periods)
        found = alarm_data.values(self.runtime.metrics, where, alarm, starts, period)
        outcome = evaluate(rule, starts, found, alarm["StateValue"], now)
        if outcome is None or outcome.state == alarm["StateValue"]:
            return
        doc, item = change(alarm, outcome.state, outcome.reason, _json(outcome.data), now)
        if not self._save(where, alarm, doc, [item]):
            return
        account, region = where.split("|", 1)
        actions = run_actions(self.runtime.actions, doc, alarm["StateValue"], now)
        if actions:
            self.runtime.alarms.record(where, actions)
        self.runtime.announce(
            Transition(
                account,
                region,
                doc,
                alarm["StateValue"],
                alarm.get("StateReason", ""),
                alarm.get("StateReasonData"),
                now,
            )
        )

    def _save(
        self, where: str, before: dict[str, Any], doc: dict[str, Any], items: list[dict[str, Any]]
    ) -> bool:
        return self.runtime.alarms.replace(where, before, doc, items)

    def register(self, loops: Loops) -> Loop:
        return loops.add("alarms", self.step, interval=self.interval, log=log)


def settle(period: int) -> float:
    """How long after a period ends it is evaluated: the time its datapoints take to arrive
    (ECS's publisher, controllers/ecs_metrics, stamps a period a little past its end; an
    evaluation before would find the newest datapoint missing)."""
    return min(3.0, max(0.25, period * 0.1))


def _json(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()

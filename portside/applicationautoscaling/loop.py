"""The `autoscaling` loop: scheduled actions when they are due, and the calls CloudWatch
makes again while a scaling alarm stays in ALARM.

CloudWatch runs an alarm's actions when its state changes, except Auto Scaling actions,
which it repeats every period the alarm stays in ALARM (that is how target tracking keeps
scaling out after its cooldown, and scales in step by step). The evaluator makes the first
call (through the action registry, `scaling.handler_for`); this loop makes the repeats, one
period after the last call of each (alarm, policy) pair. A pass also forgets activities
older than six weeks, once an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from portside.applicationautoscaling import records, scaling, scheduled
from portside.applicationautoscaling.runtime import ScalingRuntime
from portside.cloudwatch.alarm_config import alarm_period
from portside.cloudwatch.evaluation import ALARM
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.controllers.loop import Loop, Loops
from portside.ops.context import World

log = logging.getLogger("portside.applicationautoscaling")
PREFIX = "arn:aws:autoscaling:"
EXPIRE_EVERY = 3600.0


class ScalingLoop:
    def __init__(
        self,
        world: World,
        cloudwatch: CloudWatchRuntime,
        runtime: ScalingRuntime,
        clock: Callable[[], float],
    ) -> None:
        self.world = world
        self.cloudwatch = cloudwatch
        self.runtime = runtime
        self.clock = clock
        self.interval = max(0.2, min(1.0, world.metric_period / 2))
        self._expired_at = 0.0

    def step(self) -> float:
        now = self.clock()
        scheduled.run_due(self.world, self.runtime, now)
        self.repeat_calls(now)
        if now - self._expired_at >= EXPIRE_EVERY:
            with self.world.store.transaction() as tx:
                records.expire_activities(tx, now)
            self._expired_at = now
        return self.interval

    def repeat_calls(self, now: float) -> None:
        calls = self.runtime.calls
        live: set[tuple[str, str, str]] = set()
        for where, alarm in self.cloudwatch.alarms.every():
            if alarm["StateValue"] != ALARM or not alarm.get("ActionsEnabled", True):
                continue
            for arn in alarm.get("AlarmActions") or ():
                if not arn.startswith(PREFIX) or ":autoScalingGroupName/" in arn:
                    continue  # another service's (EC2 Auto Scaling's group policies)
                key = (where, alarm["AlarmName"], arn)
                live.add(key)
                last = calls.get(key, float(alarm.get("StateTransitionedTimestamp") or 0))
                if now - last < alarm_period(alarm):
                    continue
                calls[key] = now
                try:
                    scaling.run(self.world, self.cloudwatch, self.runtime, arn,
                                alarm["AlarmName"], now)  # fmt: skip
                except LookupError as exc:
                    log.warning("alarm %s: %s", alarm["AlarmName"], exc)
        for key in [k for k in calls if k not in live]:
            del calls[key]

    def register(self, loops: Loops) -> Loop:
        return loops.add("autoscaling", self.step, interval=self.interval, log=log)

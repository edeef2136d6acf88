"""Application Auto Scaling's part of a server, built once by `server.py`: its runtime
attached to the store, its handler registered for `arn:aws:autoscaling:`
in CloudWatch's action registry, and its loop."""

from __future__ import annotations

from collections.abc import Callable

from portside.applicationautoscaling import runtime, scaling
from portside.applicationautoscaling.loop import PREFIX, ScalingLoop
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.ops.context import World


def build(
    world: World, cloudwatch: CloudWatchRuntime, *, clock: Callable[[], float]
) -> ScalingLoop:
    rt = runtime.ScalingRuntime()
    runtime.attach(world.store, rt)
    cloudwatch.actions.register(PREFIX, scaling.handler_for(world, cloudwatch, rt))
    return ScalingLoop(world, cloudwatch, rt, clock)

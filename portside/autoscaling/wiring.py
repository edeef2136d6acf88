"""Auto Scaling's part of a server, built once by `server.py`: its runtime attached to the
store (CloudWatch's alarms for target tracking policies, their handler), every stored
policy's alarms routed to it, and the `autoscaling-groups` loop, which also re-runs policies
whose alarm stays in ALARM once a metric period."""

from __future__ import annotations

from portside.autoscaling import runtime, tracking
from portside.autoscaling.loop import GroupsLoop
from portside.cloudwatch.runtime import CloudWatchRuntime
from portside.ops.context import World


def build(world: World, cloudwatch: CloudWatchRuntime) -> GroupsLoop:
    handler = tracking.handler_for(world, cloudwatch)
    runtime.attach(world.store, runtime.AutoScalingRuntime(cloudwatch, handler))
    tracking.watch_all(world)
    return GroupsLoop(world, cloudwatch=cloudwatch)

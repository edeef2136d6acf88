"""What Auto Scaling's operations and loops share beyond the store: CloudWatch's runtime
(where target tracking policies keep their alarms) and the handler their alarms call.
Attached to the control plane's store by `wiring.py`; a store with none attached (a test's
world) makes no alarms.

Application Auto Scaling holds the `arn:aws:autoscaling:` prefix in CloudWatch's action
registry, and its policy ARNs and a group's differ only after the uuid; so each group
policy's own ARN is registered (the longest prefix wins) while the policy exists.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from portside.cloudwatch.actions import Handler
from portside.cloudwatch.runtime import CloudWatchRuntime


@dataclass(slots=True)
class AutoScalingRuntime:
    cloudwatch: CloudWatchRuntime
    handler: Handler


_RUNTIMES: weakref.WeakKeyDictionary[object, AutoScalingRuntime] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach(store: object, rt: AutoScalingRuntime) -> None:
    with _LOCK:
        _RUNTIMES[store] = rt


def _of(store: object) -> AutoScalingRuntime | None:
    with _LOCK:
        return _RUNTIMES.get(store)


def cloudwatch_for(store: object) -> CloudWatchRuntime | None:
    rt = _of(store)
    return rt.cloudwatch if rt is not None else None


def watch_policy(store: object, arn: str) -> None:
    """Send the alarms' calls of this policy ARN to the group policy handler."""
    rt = _of(store)
    if rt is not None:
        rt.cloudwatch.actions.register(arn, rt.handler)


def forget_policy(store: object, arn: str) -> None:
    rt = _of(store)
    if rt is not None:
        rt.cloudwatch.actions.unregister(arn)

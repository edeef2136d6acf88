"""What Application Auto Scaling's operations and its loop share beyond the store: one lock
that keeps two scaling decisions on a target from interleaving, and when each (alarm,
policy) pair last called. The metric period its target tracking alarms use is the world's
(`metric_period`, the server's `--metric-period`, AWS's 60 s by default). Attached to the
control plane's store by `wiring.py`; a store with none attached (a test's world) gets a
fresh one."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field


@dataclass(slots=True)
class ScalingRuntime:
    lock: threading.RLock = field(default_factory=threading.RLock)
    # (cloudwatch scope, alarm name, policy ARN) -> when the alarm last called the policy
    calls: dict[tuple[str, str, str], float] = field(default_factory=dict)


_RUNTIMES: weakref.WeakKeyDictionary[object, ScalingRuntime] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach(store: object, runtime: ScalingRuntime) -> None:
    _RUNTIMES[store] = runtime


def for_store(store: object) -> ScalingRuntime:
    with _LOCK:
        found = _RUNTIMES.get(store)
        if found is None:
            found = _RUNTIMES[store] = ScalingRuntime()
        return found

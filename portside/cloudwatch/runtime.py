"""What CloudWatch's operations reach beyond the control plane's store: the metric store,
the alarm records and the registry of alarm actions.

Operations get the world, not the server, so `wiring.py` (called by `server.py`) attaches
the runtime to the store, and operations find it by the store they are given. A store with
none attached (a test's world, a server built before CloudWatch was wired) gets one made on
first use, next to the store's own database file (`metrics.db`), or in memory.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from portside.cloudwatch.actions import ActionRegistry, default_actions
from portside.cloudwatch.alarm_records import AlarmRecords
from portside.cloudwatch.store import MetricStore
from portside.cloudwatch.transitions import Transition
from portside.ops.context import Op

METRICS_DB = "metrics.db"
log = logging.getLogger("portside.cloudwatch")


@dataclass(slots=True)
class CloudWatchRuntime:
    metrics: MetricStore
    actions: ActionRegistry = field(default_factory=default_actions)
    # Told of every state change after it is stored (EventBridge's alarm events hook here).
    listeners: list[Callable[[Transition], None]] = field(default_factory=list)

    def announce(self, transition: Transition) -> None:
        for listener in list(self.listeners):
            try:
                listener(transition)
            except Exception:
                log.exception("alarm state change listener failed")

    @property
    def alarms(self) -> AlarmRecords:
        return AlarmRecords(self.metrics)


_RUNTIMES: weakref.WeakKeyDictionary[object, CloudWatchRuntime] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach(store: object, runtime: CloudWatchRuntime) -> None:
    _RUNTIMES[store] = runtime


def find(store: object) -> CloudWatchRuntime | None:
    return _RUNTIMES.get(store)


def of(op: Op) -> CloudWatchRuntime:
    return for_store(op.store)


def for_store(store: object) -> CloudWatchRuntime:
    found = _RUNTIMES.get(store)
    if found is not None:
        return found
    with _LOCK:
        found = _RUNTIMES.get(store)
        if found is None:
            found = CloudWatchRuntime(MetricStore(_beside(store)))
            _RUNTIMES[store] = found
    return found


def _beside(store: object) -> str:
    path = str(getattr(store, "path", ":memory:"))
    if path == ":memory:" or not path:
        return ":memory:"
    return str(Path(path).with_name(METRICS_DB))

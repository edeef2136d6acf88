"""CloudWatch's part of a server, built once by `server.py`: the metric store in
`<data-dir>/metrics.db` attached to the control plane's store (operations find it there),
the alarm evaluator and the retention loop, and the close."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

from portside.cloudwatch import alarm_events, runtime
from portside.cloudwatch.evaluator import AlarmEvaluator
from portside.cloudwatch.retention import MetricRetentionLoop
from portside.cloudwatch.store import MetricStore
from portside.cloudwatch.transitions import Transition
from portside.controllers.loop import Loops
from portside.store.base import Store

EVENTS_TABLE = "cw_alarm_events"  # events/envelope.py gives each its id and delivers it


@dataclass(slots=True)
class CloudWatchServer:
    runtime: runtime.CloudWatchRuntime
    evaluator: AlarmEvaluator
    retention: MetricRetentionLoop

    def register(self, loops: Loops) -> None:
        self.evaluator.register(loops)
        self.retention.register(loops)

    def close(self) -> None:
        self.runtime.metrics.close()


def build(
    store: object,
    data_dir: Path,
    *,
    synchronous: str,
    clock: Callable[[], float],
    metrics: MetricStore | None = None,
) -> CloudWatchServer:
    """`metrics`: the metric store (on PostgreSQL, store/open.py); else metrics.db."""
    if metrics is None:
        metrics = MetricStore(data_dir / runtime.METRICS_DB, synchronous=synchronous)
    rt = runtime.CloudWatchRuntime(metrics)
    runtime.attach(store, rt)
    if hasattr(store, "transaction"):  # the control plane's store (tests may pass others)
        rt.listeners.append(partial(_to_eventbridge, cast(Store, store)))
    return CloudWatchServer(rt, AlarmEvaluator(rt, clock), MetricRetentionLoop(metrics, clock))


def _to_eventbridge(store: Store, transition: Transition) -> None:
    """An alarm's state change as EventBridge's "CloudWatch Alarm State Change" event, put in
    the control plane's store so the change feed delivers it to matching rules."""
    event = alarm_events.envelope(transition)
    event.pop("id", None)
    with store.transaction() as tx:
        tx.put(EVENTS_TABLE, event["resources"][0], event)

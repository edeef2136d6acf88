"""What `/metrics` reads from the server's state at scrape time: tasks and container
instances by state, the background loops, the change feed and log ingest.

Costs per scrape, measured with 10,000 tasks and 1,000 instances (tests/prometheus): tasks
are one GROUP BY over the (cluster, status) index, no document read; instances one read of
their index and a document parse only for those the gateway has not heard from within
`DISCONNECT_AFTER` (with every agent syncing, none); loops are in memory; the feed is two
indexed MIN/MAX reads and the event targets' cursors (one small row each); log ingest is the
log store's own counter (in memory) and one SUM over its streams' rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from portside.controllers.liveness import DISCONNECT_AFTER
from portside.ops.context import World

log = logging.getLogger("portside.prometheus")

TASKS = "tasks"
INSTANCES = "container_instances"
CURSORS = "event_cursors"


def arn_labels(arn: str) -> tuple[str, str, str]:
    """(name, region, account) of an ECS ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`)."""
    parts = str(arn).split(":", 5)
    if len(parts) < 6:
        return str(arn), "", ""
    return parts[5].split("/")[-1], parts[3], parts[4]


class StateGauges:
    """A prometheus_client collector over one server's world."""

    def __init__(self, world: World, last_seen: Callable[[], Mapping[str, float]]) -> None:
        self.world = world
        self.last_seen = last_seen

    def describe(self) -> list[Metric]:
        return []  # families are only known by reading: never collected at registration

    def collect(self) -> Iterator[Metric]:
        for part in (self._tasks, self._instances, self._loops, self._feed, self._logs):
            try:
                yield from part()
            except Exception:  # one failing part must not blank the whole scrape
                log.exception("metrics: %s failed", part.__name__)

    def _tasks(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "portside_tasks",
            "Tasks by cluster and lastStatus (STOPPED ones until they are deleted, an hour on).",
            labels=["cluster", "region", "account", "last_status"],
        )
        with self.world.store.read() as tx:
            counts = tx.tally(TASKS, ["cluster", "status"])
        for (cluster, status), n in sorted(counts.items(), key=lambda kv: str(kv[0])):
            family.add_metric([*arn_labels(cluster), str(status)], n)
        yield family

    def _instances(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "portside_container_instances",
            "Container instances by cluster, status and agentConnected (FARGATE's hidden "
            "capacity left out, as ECS lists it nowhere).",
            labels=["cluster", "region", "account", "status", "agent_connected"],
        )
        now = self.world.clock()
        seen = self.last_seen()
        counts: dict[tuple[str, str, str], int] = {}
        with self.world.store.read() as tx:
            for key, cluster, status, fargate, *_ in tx.index(INSTANCES, ordered=False):
                if fargate:
                    continue
                at = seen.get(key)
                if at is not None and now - at <= DISCONNECT_AFTER:
                    connected = "true"
                else:
                    doc = tx.get(INSTANCES, key) or {}
                    connected = "true" if doc.get("agentConnected") else "false"
                label = (str(cluster), str(status), connected)
                counts[label] = counts.get(label, 0) + 1
        for (cluster, status, connected), n in sorted(counts.items()):
            family.add_metric([*arn_labels(cluster), status, connected], n)
        yield family

    def _loops(self) -> Iterator[Metric]:
        loops = self.world.loops
        if loops is None:
            return
        labels = ["loop"]
        passes = CounterMetricFamily(
            "portside_loop_passes", "Background loop passes that succeeded.", labels=labels
        )
        errors = CounterMetricFamily(
            "portside_loop_errors", "Background loop passes that failed.", labels=labels
        )
        consecutive = GaugeMetricFamily(
            "portside_loop_consecutive_errors",
            "Failed passes since the loop's last success (3 or more: health says degraded).",
            labels=labels,
        )
        stalled = GaugeMetricFamily(
            "portside_loop_stalled",
            "1 when the loop's next pass is overdue by more than two minutes (hung in a pass).",
            labels=labels,
        )
        last_success = GaugeMetricFamily(
            "portside_loop_last_success_timestamp_seconds",
            "When the loop's last pass succeeded (epoch seconds).",
            labels=labels,
        )
        durations = SummaryMetricFamily(
            "portside_loop_pass_duration_seconds",
            "Seconds each background loop spent in its passes (failed ones included).",
            labels=labels,
        )
        last_duration = GaugeMetricFamily(
            "portside_loop_last_pass_duration_seconds",
            "Seconds the loop's latest pass took.",
            labels=labels,
        )
        now = self.world.clock()
        for status in loops.status():
            name = [status.name]
            passes.add_metric(name, status.passes)
            errors.add_metric(name, status.total_errors)
            consecutive.add_metric(name, status.consecutive_errors)
            stalled.add_metric(name, 1.0 if status.stalled(now) else 0.0)
            if status.last_success is not None:
                last_success.add_metric(name, status.last_success)
            durations.add_metric(name, status.timed_passes, status.busy_seconds)
            if status.last_duration is not None:
                last_duration.add_metric(name, status.last_duration)
        yield from (passes, errors, consecutive, stalled, last_success, durations, last_duration)

    def _feed(self) -> Iterator[Metric]:
        store = self.world.store
        head = store.last_seq()
        yield GaugeMetricFamily(
            "portside_change_feed_last_seq", "The newest change's position in the feed.", head
        )
        yield GaugeMetricFamily(
            "portside_change_feed_oldest_seq",
            "The oldest change the feed still keeps.",
            store.oldest_seq(),
        )
        newest = store.feed_time_at(head) if head else None
        if newest is not None:
            yield GaugeMetricFamily(
                "portside_change_feed_last_change_timestamp_seconds",
                "When the newest change committed (epoch seconds).",
                newest,
            )
        lag = GaugeMetricFamily(
            "portside_change_feed_target_lag",
            "Changes between the feed's head and an EventBridge target's saved cursor (saved "
            "every few seconds, so a live target shows a small lag).",
            labels=["target"],
        )
        with store.read() as tx:
            cursors = list(tx.scan(CURSORS))
        for key, doc in cursors:
            lag.add_metric([key], max(0, head - int(doc.get("seq") or 0)))
        yield lag

    def _logs(self) -> Iterator[Metric]:
        logs = self.world.logs
        if logs is None:
            return
        yield CounterMetricFamily(
            "portside_log_events_ingested",
            "CloudWatch Logs events stored since the log store was created (PutLogEvents "
            "and the agents' awslogs batches): rate() is the ingest rate.",
            logs.events_ingested(),
        )
        stored = _stored_bytes(logs)
        if stored is not None:
            yield GaugeMetricFamily(
                "portside_log_stored_bytes",
                "Characters of log messages stored (CloudWatch Logs' storedBytes, summed over "
                "every stream; retention lowers it).",
                stored,
            )


def _stored_bytes(logs: Any) -> int | None:
    reader = getattr(logs, "_reader", None)
    if reader is None:
        return None
    row = reader().execute("SELECT COALESCE(SUM(stored_bytes), 0) FROM streams").fetchone()
    return int(row[0])

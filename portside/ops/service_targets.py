"""Which service task registered which load balancer targets (table `service_targets`, one
row per task and target under "TASK_ARN|TG_ARN|ID|PORT").

controllers/targets.py registers a service's RUNNING tasks and writes the rows; a task's stop
(`on_stop`, from ops/tasks.stop, the one stop path) deregisters its targets in the stop's own
transaction and marks its rows deregistered, so the targets loop can tell the service
(ECS's events) and, when the stop waits for the connections to drain, end that wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from portside.elb import registrations
from portside.elb.registrations import Target
from portside.store.base import Tx

TABLE = "service_targets"


@dataclass(frozen=True, slots=True)
class Row:
    task_arn: str
    service_arn: str
    target: Target
    health: str | None = None  # the target's ELB state, as the targets loop last saw it
    deregistered: bool = False  # by the task's stop (or the targets loop)
    announced: bool = False  # the deregistration is in the service's events
    hold_until: float | None = None  # the task's stop waits until then (connection draining)

    @property
    def key(self) -> str:
        t = self.target
        return f"{self.task_arn}|{t.group}|{t.id}|{t.port}"


def _doc(row: Row) -> dict[str, Any]:
    t = row.target
    return {
        "taskArn": row.task_arn,
        "serviceArn": row.service_arn,
        "targetGroupArn": t.group,
        "id": t.id,
        "port": t.port,
        "health": row.health,
        "deregistered": row.deregistered,
        "announced": row.announced,
        "holdUntil": row.hold_until,
    }


def _row(doc: dict[str, Any]) -> Row:
    return Row(
        doc["taskArn"],
        doc["serviceArn"],
        Target(doc["targetGroupArn"], doc["id"], int(doc["port"])),
        doc.get("health"),
        bool(doc.get("deregistered")),
        bool(doc.get("announced")),
        doc.get("holdUntil"),
    )


def every(tx: Tx) -> list[Row]:
    return [_row(doc) for _, doc in tx.scan(TABLE)]


def of_task(tx: Tx, task_arn: str) -> list[Row]:
    return [_row(doc) for _, doc in tx.scan(TABLE, prefix=task_arn + "|")]


def of_service(tx: Tx, service_arn: str) -> list[Row]:
    return [_row(doc) for _, doc in tx.scan(TABLE, where={"service": service_arn})]


def put(tx: Tx, rows: Iterable[Row]) -> None:
    for row in rows:
        tx.put(TABLE, row.key, _doc(row))


def delete(tx: Tx, rows: Iterable[Row]) -> None:
    for row in rows:
        tx.delete(TABLE, row.key)


def on_stop(tx: Tx, task_arn: str, now: float, *, can_hold: bool) -> float:
    """A service task is asked to stop: deregister the targets it registered, now. The
    seconds its container should keep serving while they drain (0: no drain to wait for;
    never more than 0 unless `can_hold`)."""
    rows = [r for r in of_task(tx, task_arn) if not r.deregistered]
    if not rows:
        return 0.0
    drain = registrations.deregister(tx, [r.target for r in rows], now)
    hold = now + drain if can_hold and drain > 0 else None
    put(tx, [replace(r, deregistered=True, hold_until=hold) for r in rows])
    return drain if hold is not None else 0.0

"""What the chaos tests look at while they break things: a service's tasks read back through
the API as consistent snapshots, and the bounds a rolling deployment must hold.

A snapshot is DescribeTasks of every task known (in batches of 100, so not one read), kept
only when a ListTasks made after it finds no task it missed. Statuses only move forward, so
such a snapshot never shows more live tasks than there were at its first read (the maximum
check cannot fail on a torn read). For the minimum, the old deployment's tasks are described
first and the new one's last: while tasks are replaced, a torn read then sees too many
healthy tasks, never too few. A task once STOPPED is not described again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Task = dict[str, Any]


def live(tasks: Iterable[Task]) -> list[Task]:
    """Wanted RUNNING and not yet STOPPED: what maximumPercent bounds."""
    return [t for t in tasks if t["desiredStatus"] == "RUNNING" and t["lastStatus"] != "STOPPED"]


def healthy(tasks: Iterable[Task]) -> list[Task]:
    """Live, RUNNING and HEALTHY: what minimumHealthyPercent bounds."""
    return [
        t
        for t in live(tasks)
        if t["lastStatus"] == "RUNNING" and t.get("healthStatus") == "HEALTHY"
    ]


def list_arns(ecs: Any, cluster: str, desired: str, service: str | None = None) -> list[str]:
    extra = {"serviceName": service} if service else {}
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, desiredStatus=desired, **extra
    )
    return [arn for page in pages for arn in page["taskArns"]]


def describe_tasks(ecs: Any, cluster: str, arns: Sequence[str]) -> list[Task]:
    found: list[Task] = []
    for at in range(0, len(arns), 100):
        out = ecs.describe_tasks(cluster=cluster, tasks=list(arns[at : at + 100]))
        assert out["failures"] == [], out["failures"]
        found += out["tasks"]
    return found


def describe_service(ecs: Any, cluster: str, name: str) -> dict[str, Any]:
    out = ecs.describe_services(cluster=cluster, services=[name])
    assert out["failures"] == [], out["failures"]
    return dict(out["services"][0])


@dataclass
class Watch:
    """Consistent snapshots of the tasks of one cluster (every task, a service's or not)."""

    ecs: Any
    cluster: str
    newest: Callable[[], str] = lambda: ""  # the deployment whose tasks are read last
    known: dict[str, Task] = field(default_factory=dict)
    samples: int = 0

    def snapshot(self) -> list[Task] | None:
        """Every task of the cluster as of (about) now, or None when a task appeared that
        the reads missed (the next call includes it)."""
        newest = self.newest()
        todo = [arn for arn, t in self.known.items() if t.get("lastStatus") != "STOPPED"]
        todo.sort(key=lambda arn: (self.known[arn].get("startedBy") == newest, arn))
        for task in describe_tasks(self.ecs, self.cluster, todo):
            self.known[task["taskArn"]] = task
        listed = set(list_arns(self.ecs, self.cluster, "RUNNING"))
        listed |= set(list_arns(self.ecs, self.cluster, "STOPPED"))
        missed = listed - set(self.known)
        if missed:
            for task in describe_tasks(self.ecs, self.cluster, sorted(missed)):
                self.known[task["taskArn"]] = task
            return None
        self.samples += 1
        return list(self.known.values())


@dataclass(frozen=True)
class Bounds:
    """A rolling deployment's bounds for `desired` tasks (ECS rounds the minimum up and the
    maximum down)."""

    desired: int
    minimum_percent: int
    maximum_percent: int

    @property
    def low(self) -> int:
        return -(-self.desired * self.minimum_percent // 100)

    @property
    def high(self) -> int:
        return self.desired * self.maximum_percent // 100

    def check(self, tasks: Sequence[Task], service: str) -> tuple[int, int]:
        """Assert the bounds on a snapshot of the service's tasks; (live, healthy)."""
        group = f"service:{service}"
        mine = [t for t in tasks if t.get("group") == group]
        up, fine = len(live(mine)), len(healthy(mine))
        states = sorted(
            (t["lastStatus"], t["desiredStatus"], t.get("healthStatus", "")) for t in live(mine)
        )
        assert up <= self.high, f"{up} live tasks > maximumPercent's {self.high}: {states}"
        assert fine >= self.low, f"{fine} healthy tasks < minimumHealthyPercent's {self.low}"
        return up, fine


def orphans(tasks: Iterable[Task], deployments: set[str], instances: set[str]) -> list[Task]:
    """Live tasks that belong to no deployment of the service or to no registered
    instance."""
    return [
        t
        for t in live(tasks)
        if t.get("startedBy") not in deployments or t.get("containerInstanceArn") not in instances
    ]


def instance_arns(ecs: Any, cluster: str) -> set[str]:
    pages = ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
    return {arn for page in pages for arn in page["containerInstanceArns"]}

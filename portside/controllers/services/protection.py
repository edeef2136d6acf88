"""Task scale-in protection as the REPLICA reconciler honours it (ECS developer guide,
"Protect your Amazon ECS tasks from being terminated by scale-in events"): a task protected
by UpdateTaskProtection (or its agent's task-protection endpoint) is never chosen to stop
when the service scales in, and a deployment does not stop it either: the new tasks start
and the deployment stays IN_PROGRESS until the old task's protection is removed or expires,
then it goes as any retiree does. Protection does not hold a task that fails its health
checks, sits on a lost host, or that a user stops. Pure: the time is given."""

from __future__ import annotations

from collections.abc import Iterable

from portside.controllers.services.facts import TaskFact


def is_protected(task: TaskFact, now: float) -> bool:
    return task.protected_until is not None and task.protected_until > now


def unprotected(tasks: Iterable[TaskFact], now: float) -> list[TaskFact]:
    """The tasks a scale-in may choose from."""
    return [t for t in tasks if not is_protected(t, now)]


def next_expiry(tasks: Iterable[TaskFact], now: float) -> float | None:
    """Seconds until the first protection among `tasks` lapses (the reconciler looks again
    then: nothing is written when it does); None when none is protected."""
    waits = [t.protected_until - now for t in tasks if t.protected_until is not None]
    waits = [w for w in waits if w > 0]
    return min(waits) if waits else None

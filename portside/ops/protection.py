"""Task scale-in protection: UpdateTaskProtection and GetTaskProtection (ECS developer guide,
"Protect your Amazon ECS tasks from being terminated by scale-in events").

A protected task keeps `protected_until` (epoch seconds) on its document; past that time it
is not protected any more, with nothing written (the service controller looks again then).
Protection is for a service's tasks only: a standalone task, or one that has stopped, is a
TASK_NOT_VALID failure, an unknown one MISSING, and the call answers for the others. The
service scheduler leaves protected tasks out of scale-in and deployments
(controllers/services/protection.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portside.errors import InvalidParameterException
from portside.model.states import TaskStatus
from portside.model.task import Task
from portside.ops import tasks as task_ops
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.ops.describing import MISSING, Failure

DEFAULT_MINUTES = 120  # ECS: two hours when expiresInMinutes is not given
MAX_MINUTES = 2880  # 48 hours
# ECS: UpdateTaskProtection takes "up to 10" tasks, GetTaskProtection "up to 100".
MAX_UPDATE = 10
MAX_GET = 100
NOT_VALID = "TASK_NOT_VALID"


@dataclass(frozen=True, slots=True)
class Protection:
    """A task's protection as the API shows it (ProtectedTask)."""

    task_arn: str
    enabled: bool
    expires_at: float | None = None


def protection_of(task: Task, now: float) -> Protection:
    until = task.protected_until
    if until is None or until <= now:
        return Protection(task.arn, False)
    return Protection(task.arn, True, until)


def _check_refs(refs: Sequence[str], most: int) -> None:
    # wording: ours
    if not refs:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(refs) > most:
        raise InvalidParameterException(f"You can specify at most {most} tasks.")


def _valid(task: Task) -> bool:
    """A service's task that has not stopped."""
    return (task.group or "").startswith("service:") and task.last_status != TaskStatus.STOPPED


def update(
    op: Op,
    cluster: str | None,
    refs: Sequence[str],
    enabled: bool,
    expires_in_minutes: int | None = None,
) -> tuple[list[Protection], list[Failure]]:
    """UpdateTaskProtection. Enabling again restarts the period from now (ECS: "always
    reset"); disabling ignores expiresInMinutes."""
    _check_refs(refs, MAX_UPDATE)
    minutes = DEFAULT_MINUTES if expires_in_minutes is None else expires_in_minutes
    if enabled and not 1 <= minutes <= MAX_MINUTES:
        # wording: ours
        raise InvalidParameterException(
            f"expiresInMinutes must be between 1 and {MAX_MINUTES} minutes."
        )
    done: list[Protection] = []
    failures: list[Failure] = []
    with op.store.transaction() as tx:
        found = get_active(op, tx, cluster)
        now = op.now()
        for ref in refs:
            arn, task = task_ops.find(op, tx, found, ref)
            if task is None:
                failures.append({"arn": arn, "reason": MISSING})
                continue
            if not _valid(task):
                failures.append({"arn": arn, "reason": NOT_VALID})
                continue
            until = now + 60.0 * minutes if enabled else None
            if until != task.protected_until:
                task.protected_until = until
                task_ops.save(tx, task)
            done.append(protection_of(task, now))
    return done, failures


def get(
    op: Op, cluster: str | None, refs: Sequence[str] | None
) -> tuple[list[Protection], list[Failure]]:
    """GetTaskProtection."""
    _check_refs(refs or (), MAX_GET)
    done: list[Protection] = []
    failures: list[Failure] = []
    with op.store.read() as tx:
        found = get_active(op, tx, cluster)
        now = op.now()
        for ref in refs or ():
            arn, task = task_ops.find(op, tx, found, ref)
            if task is None:
                failures.append({"arn": arn, "reason": MISSING})
            elif not _valid(task):
                failures.append({"arn": arn, "reason": NOT_VALID})
            else:
                done.append(protection_of(task, now))
    return done, failures

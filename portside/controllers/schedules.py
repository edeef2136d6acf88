"""The schedule controller: fires schedules when they fall due.

It keeps every schedule in memory, refreshed from the change feed; each pass asks the pure
`firing.compute(schedule, now)` what is due, invokes the target through the same RunTask
the API serves (the target is a RunTask request: the edge's parsing, then ops/launch.run_task,
same checks, same placement), and records the outcome (next occurrence, pending retry,
LastRun) in the schedule's document. Every outcome is also a log line. The decisions and their
rules are firing.py's; this loop only reads, computes and applies (DESIGN.md rule 2).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from portside.controllers.loop import Loop, Loops
from portside.errors import PortsideError
from portside.model.doc import from_doc
from portside.ops import launch
from portside.ops.context import Caller, Op, World, root_principal
from portside.schedules import firing
from portside.schedules import ops as schedule_ops
from portside.schedules import target as targets
from portside.schedules.model import LastRun, Pending, Schedule
from portside.store.base import WriteRefused
from portside.wire import task_requests

log = logging.getLogger("portside.schedules")

MAX_SLEEP = 1.0  # seconds between passes at most: a new schedule is seen within this
BROKEN_PAUSE = 5.0  # seconds a schedule whose pass raised is left alone


def _when(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return str(epoch)


class ScheduleController:
    def __init__(self, world: World, account: str) -> None:
        self.world = world
        self.account = account
        self._after = 0
        self._schedules: dict[str, Schedule] = {}
        self._loaded = False
        self._started: float | None = None  # the first pass: earlier occurrences were missed
        self._broken: dict[str, float] = {}  # schedule -> no pass before (its last one failed)

    # -- what the store holds ------------------------------------------------------------

    def _reload(self) -> None:
        store = self.world.store
        self._after = store.last_seq()
        with store.read() as tx:
            self._schedules = {
                key: from_doc(Schedule, doc) for key, doc in tx.scan(schedule_ops.TABLE)
            }
        self._loaded = True

    def refresh(self) -> None:
        """Bring the in-memory schedules up to date with the change feed."""
        store = self.world.store
        if not self._loaded or store.oldest_seq() > self._after + 1:
            self._reload()
            return
        # Only the schedules' own changes: the feed also carries every task's.
        limit = 5000
        while True:
            upto = store.last_seq()
            changes = store.changes(
                self._after, limit=limit, tables=(schedule_ops.TABLE,), upto=upto
            )
            for change in changes:
                if change.doc is None:
                    self._schedules.pop(change.key, None)
                else:
                    self._schedules[change.key] = from_doc(Schedule, change.doc)
            if len(changes) < limit:
                self._after = max(self._after, upto)
                return
            self._after = changes[-1].seq

    # -- one pass ------------------------------------------------------------------------

    def run_once(self) -> float:
        """One pass; returns how long to sleep before the next."""
        self.refresh()
        now = self.world.clock()
        if self._started is None:
            self._started = now
        for schedule in list(self._schedules.values()):
            if self._broken.get(schedule.arn, 0.0) > now:
                continue
            try:
                step = firing.compute(schedule, now, self._started)
                if step is not None:
                    self._apply(schedule, step, now)
            except WriteRefused:
                raise  # leadership moved: the pass ends (controllers/loop.py)
            except Exception:
                log.exception("schedule %s: pass failed", schedule.arn)
                self._broken[schedule.arn] = now + BROKEN_PAUSE
        due = [
            max(t, self._broken.get(s.arn, 0.0))
            for s in self._schedules.values()
            if (t := firing.due_at(s)) is not None
        ]
        wait = min(due, default=now + MAX_SLEEP) - self.world.clock()
        return max(0.05, min(MAX_SLEEP, wait))

    def register(self, loops: Loops) -> Loop:
        return loops.add("schedules", self.run_once, interval=MAX_SLEEP, log=log)

    # -- applying a step -----------------------------------------------------------------

    def _op(self, schedule: Schedule) -> Op:
        caller = Caller(self.account, schedule.region, "", root_principal(self.account))
        return Op(self.world, caller)

    def _invoke(self, schedule: Schedule, fire: firing.Fire) -> tuple[list[str], str | None]:
        """RunTask for one attempt: (task ARNs started, why any are missing)."""
        params = targets.run_task_params(schedule.target, schedule.name)
        params["count"] = fire.count
        params["clientToken"] = targets.client_token(schedule.arn, fire.nominal, fire.attempt)
        try:
            views, failures = launch.run_task(self._op(schedule), task_requests.launch(params))
        except PortsideError as exc:
            return [], f"{exc.code}: {exc.message}"
        started = [v.task.arn for v in views]
        reason = None
        if failures:
            reason = "RunTask failures: " + ", ".join(
                f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in failures
            )
        return started, reason

    def _apply(self, schedule: Schedule, step: firing.Step, now: float) -> None:
        for note in step.notes:
            log.warning("schedule %s: %s", schedule.arn, note)
        pending: Pending | None = step.pending
        last: LastRun | None = step.last_run
        if step.fire is not None:
            fire = step.fire
            started, reason = self._invoke(schedule, fire)
            pending, last = firing.outcome(schedule, fire, started, reason, self.world.clock())
            self._log(schedule, fire, last)
        elif last is not None:
            log.warning("schedule %s: %s", schedule.arn, last.reason)
        self._record(schedule, step.next_fire, pending, last)

    def _log(self, schedule: Schedule, fire: firing.Fire, last: LastRun) -> None:
        what = (
            f"schedule {schedule.arn}: occurrence {_when(fire.nominal)} attempt {fire.attempt}: "
            f"{last.outcome}, tasks {', '.join(last.task_arns) or 'none'}"
        )
        if last.reason:
            log.warning("%s (%s)", what, last.reason)
        else:
            log.info("%s", what)

    def _record(
        self,
        schedule: Schedule,
        next_fire: int | None,
        pending: Pending | None,
        last: LastRun | None,
    ) -> None:
        """Save the schedule's new state, unless it was changed or deleted meanwhile (an
        update recomputes it)."""
        with self.world.store.transaction() as tx:
            current = schedule_ops.load(tx, schedule.arn)
            if current is None or current.version != schedule.version:
                return
            current.next_fire = next_fire
            current.pending = pending
            if last is not None:
                current.last_run = last
            if firing.completed(current) and current.action_after_completion == "DELETE":
                tx.delete(schedule_ops.TABLE, current.arn)
                self._schedules.pop(current.arn, None)
                log.info(
                    "schedule %s: completed, deleted (ActionAfterCompletion DELETE)", current.arn
                )
                return
            schedule_ops.save(tx, current)
            self._schedules[current.arn] = current

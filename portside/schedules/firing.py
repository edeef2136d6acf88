"""What is due, and what an invocation's outcome changes: pure functions of a schedule and
`now` (DESIGN.md rule 2). controllers/schedules.py applies them.

Choices, where the Scheduler documents nothing Portside can copy:

* Flexible time window: an occurrence runs at a fixed offset into its window, taken from a
  hash of the schedule and the occurrence (so it is the same after a restart; the Scheduler
  picks a random moment in the window).
* Occurrences that fall due while the controller runs are run in order, each once (with
  overlapping flexible windows, a later one may wait for an earlier one, never past its own
  window's end).
* Runs missed while the server was down (due before the controller started): at most one
  catch-up run, for the latest occurrence that fell due, and only if it is no older than the
  target's RetryPolicy MaximumEventAgeInSeconds (24 h by default) -- the age after which the
  Scheduler itself gives an event up. Older occurrences are skipped, and LastRun says so.
* Retries: an invocation that starts fewer tasks than asked (RunTask failures or an error)
  is tried again for the missing tasks after 1, 2, 4 ... seconds (at most 60 between tries),
  until MaximumRetryAttempts retries were made or the occurrence is older than
  MaximumEventAgeInSeconds. A new occurrence falling due meanwhile replaces the retries.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from portside.schedules import expressions
from portside.schedules.model import (
    ENABLED,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    LastRun,
    Pending,
    Schedule,
)
from portside.schedules.target import run_task_params

RETRYING = "RETRYING"
MAX_RETRY_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class Fire:
    """Invoke the target for one occurrence."""

    nominal: int
    attempt: int  # 1 for the first try
    count: int  # tasks to start
    task_arns: tuple[str, ...] = ()  # started by earlier attempts of this occurrence


@dataclass(slots=True)
class Step:
    """What one pass decides for one schedule: a fire, and the schedule's new state."""

    fire: Fire | None
    next_fire: int | None
    pending: Pending | None
    last_run: LastRun | None = None  # a new outcome to record (a skip, a give-up)
    notes: list[str] = field(default_factory=list)


def offset(schedule: Schedule, nominal: int) -> int:
    """Seconds into the flexible time window this occurrence runs (0 when the mode is OFF)."""
    window = schedule.window_seconds
    if not window:
        return 0
    digest = hashlib.sha256(f"{schedule.arn}|{nominal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % window


def next_occurrence(schedule: Schedule, not_before: int) -> int | None:
    """The schedule's first occurrence at or after `not_before`, within its StartDate and
    EndDate (which one-time schedules ignore)."""
    expr = expressions.parse(schedule.expression)
    tz = expressions.zone(schedule.timezone)
    if isinstance(expr, expressions.At):
        return expressions.next_at_or_after(expr, tz, not_before, schedule.anchor)
    if schedule.start_date is not None:
        not_before = max(not_before, math.ceil(schedule.start_date))
    when = expressions.next_at_or_after(expr, tz, not_before, schedule.anchor)
    if when is not None and schedule.end_date is not None and when > schedule.end_date:
        return None
    return when


def due_at(schedule: Schedule) -> float | None:
    """When this schedule next needs a pass (None: never, as it stands)."""
    if schedule.state != ENABLED:
        return None
    times: list[float] = []
    if schedule.pending is not None:
        times.append(schedule.pending.retry_at)
    if schedule.next_fire is not None:
        times.append(schedule.next_fire + offset(schedule, schedule.next_fire))
    return min(times) if times else None


def compute(schedule: Schedule, now: float, started: float | None = None) -> Step | None:
    """What is due for `schedule` at `now`; None when nothing is. `started` is when the
    controller started: occurrences that fell due before it were missed while the server was
    down (None: every occurrence due before `now` counts as missed)."""
    if schedule.state != ENABLED:
        return None
    pending = schedule.pending
    if pending is not None and pending.retry_at <= now:
        if now - pending.nominal > schedule.max_age:
            return Step(
                None,
                schedule.next_fire,
                None,
                _gave_up(pending, now, "the event is older than MaximumEventAgeInSeconds"),
            )
        fire = Fire(pending.nominal, pending.attempts + 1, pending.count, tuple(pending.task_arns))
        return Step(fire, schedule.next_fire, pending)
    first = schedule.next_fire
    if first is None:
        return None
    due = first + offset(schedule, first)
    if due > now:
        return None
    since = now if started is None else min(started, now)
    if due >= since:
        # Fell due while running: occurrences run in order, each once, so each runs inside
        # its window even when windows overlap. A retry still waiting is replaced.
        fire = Fire(first, 1, task_count(schedule))
        return Step(fire, next_occurrence(schedule, first + 1), None)
    return _catch_up(schedule, first, since, now)


def _catch_up(schedule: Schedule, first: int, since: float, now: float) -> Step:
    """Occurrences from `first` fell due before `since`, while the server was down: run the
    latest of them, if no older than the event age, and skip the others."""
    horizon = max(first, math.ceil(now - schedule.max_age))
    # Look back from `since` only as far as needed to find an occurrence (a minute, then four
    # times more each time), so a long outage of a frequent schedule costs a few steps.
    lookback = 60
    while True:
        start = max(horizon, math.floor(since) - schedule.window_seconds - lookback)
        when = next_occurrence(schedule, start)
        if start == horizon or (when is not None and when + offset(schedule, when) < since):
            break
        lookback *= 4
    latest: int | None = None
    while when is not None and when < since:
        if when + offset(schedule, when) < since:
            latest = when
        when = next_occurrence(schedule, when + 1)
    if latest is None:
        # Every occurrence missed is older than the event age: skip them all.
        last = LastRun(first, now, SKIPPED, reason=_missed(first) + ", all too old to run")
        return Step(None, next_occurrence(schedule, horizon), schedule.pending, last, [])
    notes = [f"{_missed(first)}; running the latest one only"] if latest != first else []
    fire = Fire(latest, 1, task_count(schedule))
    # A retry still waiting for an older occurrence is replaced by this one.
    return Step(fire, next_occurrence(schedule, latest + 1), None, None, notes)


def _missed(first: int) -> str:
    return f"occurrences from {first} were missed (the server was not running)"


def task_count(schedule: Schedule) -> int:
    return int(run_task_params(schedule.target, schedule.name).get("count") or 1)


def _gave_up(pending: Pending, now: float, why: str) -> LastRun:
    return LastRun(pending.nominal, now, FAILED, pending.attempts, [], f"gave up: {why}")


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_DELAY, 2.0 ** (attempts - 1))


def outcome(
    schedule: Schedule,
    fire: Fire,
    started: list[str],
    reason: str | None,
    now: float,
) -> tuple[Pending | None, LastRun]:
    """The schedule's pending retry and last run after `fire` started `started` tasks
    (`reason` says why any are missing)."""
    arns = [*fire.task_arns, *started]
    missing = fire.count - len(started)
    if missing <= 0:
        return None, LastRun(fire.nominal, now, SUCCEEDED, fire.attempt, arns)
    retry_at = now + retry_delay(fire.attempt)
    retries_made = fire.attempt - 1
    if retries_made >= schedule.max_retries:
        return None, LastRun(
            fire.nominal, now, FAILED, fire.attempt, arns, f"{reason} (no retries left)"
        )
    if retry_at - fire.nominal > schedule.max_age:
        return None, LastRun(
            fire.nominal, now, FAILED, fire.attempt, arns, f"{reason} (event too old to retry)"
        )
    pending = Pending(fire.nominal, fire.attempt, retry_at, missing, arns)
    return pending, LastRun(fire.nominal, now, RETRYING, fire.attempt, arns, reason)


def completed(schedule: Schedule) -> bool:
    """Nothing left to run: no occurrence ahead and no retry waiting."""
    return schedule.next_fire is None and schedule.pending is None

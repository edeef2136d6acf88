"""EventBridge Scheduler's operations on schedules and schedule groups.

Parameters arrive validated against botocore's `scheduler` model, keyed by the model's member
names. AWS's words where they are known (localstack's snapshot tests, recorded against AWS):
"Schedule NAME does not exist.", "Schedule NAME already exists.", "Invalid Schedule
Expression EXPR.". The rest are ours, and say what is wrong.

UpdateSchedule replaces the whole schedule, as on AWS: members it omits take their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from portside.errors import ConflictException, ResourceNotFoundException, ValidationException
from portside.model.doc import from_doc, to_doc
from portside.ops import records
from portside.ops.context import Op
from portside.ops.paging import decode_token, encode_token
from portside.schedules import expressions, firing
from portside.schedules import target as targets
from portside.schedules.model import (
    DEFAULT_GROUP,
    DEFAULT_RETRY,
    DISABLED,
    ENABLED,
    Schedule,
    group_arn,
    schedule_arn,
)
from portside.store.base import Tx

TABLE = "schedules"
GROUPS = "schedule_groups"
DEFAULT_PAGE = 100
AT_GRACE = 60  # seconds


def _arn(op: Op, group: str, name: str) -> str:
    return schedule_arn(op.region, op.account, group, name)


def load(tx: Tx, arn: str) -> Schedule | None:
    return records.load(tx, TABLE, Schedule, arn)


def save(tx: Tx, schedule: Schedule) -> None:
    tx.put(TABLE, schedule.arn, to_doc(schedule))


def _not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Schedule {name} does not exist.")


def _group_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Schedule group {name} does not exist.")


def _require_group(op: Op, tx: Tx, group: str) -> None:
    if group != DEFAULT_GROUP and tx.get(GROUPS, group_arn(op.region, op.account, group)) is None:
        raise _group_not_found(group)


def _check_window(window: Mapping[str, Any]) -> None:
    minutes = window.get("MaximumWindowInMinutes")
    if window.get("Mode") == "FLEXIBLE" and minutes is None:
        raise ValidationException(
            "MaximumWindowInMinutes is required when the FlexibleTimeWindow Mode is FLEXIBLE."
        )
    if window.get("Mode") == "OFF" and minutes is not None:
        raise ValidationException(
            "MaximumWindowInMinutes can be given only when the FlexibleTimeWindow Mode is FLEXIBLE."
        )


def _build(op: Op, p: Mapping[str, Any], earlier: Schedule | None) -> Schedule:
    """The schedule `p` describes (checked), keeping what `earlier` had that p cannot say."""
    name, group = p["Name"], p.get("GroupName") or DEFAULT_GROUP
    expression = p["ScheduleExpression"]
    timezone = p.get("ScheduleExpressionTimezone") or "UTC"
    parsed = expressions.parse(expression)
    expressions.zone(timezone)
    start, end = p.get("StartDate"), p.get("EndDate")
    if start is not None and end is not None and end <= start:
        raise ValidationException("The EndDate must be later than the StartDate.")
    window = dict(p["FlexibleTimeWindow"])
    _check_window(window)
    target = dict(p["Target"])
    targets.check(target)
    target.setdefault("RetryPolicy", dict(DEFAULT_RETRY))
    now = op.now()
    state = p.get("State") or ENABLED
    # A rate without StartDate starts "as soon as you create and activate" the schedule: an
    # update keeps its phase unless it changes the timing or activates the schedule.
    same_timing = (
        earlier is not None
        and earlier.expression == expression
        and earlier.start_date == start
        and earlier.timezone == timezone
        and (earlier.state == ENABLED or state != ENABLED)
    )
    anchor = earlier.anchor if same_timing and earlier else math.ceil(start) if start else int(now)
    schedule = Schedule(
        arn=_arn(op, group, name),
        name=name,
        group_name=group,
        expression=expression,
        timezone=timezone,
        state=state,
        target=target,
        flexible_window=window,
        action_after_completion=p.get("ActionAfterCompletion") or "NONE",
        created_at=earlier.created_at if earlier else now,
        modified_at=now,
        anchor=anchor,
        start_date=start,
        end_date=end,
        description=p.get("Description"),
        kms_key_arn=p.get("KmsKeyArn"),
        client_token=p.get("ClientToken") or (earlier.client_token if earlier else None),
        last_run=earlier.last_run if earlier else None,
        version=earlier.version + 1 if earlier else 1,
    )
    # An occurrence already handled is not run again because the schedule changed. A one-time
    # schedule made in the minute its time names still runs (the Scheduler's precision is a
    # minute, so `at()` a few seconds back, from a skewed clock, is not lost).
    not_before = int(now) - (AT_GRACE if isinstance(parsed, expressions.At) else 0)
    if schedule.last_run is not None:
        not_before = max(not_before, schedule.last_run.nominal + 1)
    schedule.next_fire = firing.next_occurrence(schedule, not_before)
    return schedule


def create_schedule(op: Op, p: Mapping[str, Any]) -> str:
    with op.store.transaction() as tx:
        group = p.get("GroupName") or DEFAULT_GROUP
        _require_group(op, tx, group)
        existing = load(tx, _arn(op, group, p["Name"]))
        if existing is not None:
            token = p.get("ClientToken")
            if token and token == existing.client_token:
                return existing.arn  # the same request again
            raise ConflictException(f"Schedule {p['Name']} already exists.")
        schedule = _build(op, p, None)
        save(tx, schedule)
        return schedule.arn


def update_schedule(op: Op, p: Mapping[str, Any]) -> str:
    with op.store.transaction() as tx:
        group = p.get("GroupName") or DEFAULT_GROUP
        _require_group(op, tx, group)
        earlier = load(tx, _arn(op, group, p["Name"]))
        if earlier is None:
            raise _not_found(p["Name"])
        token = p.get("ClientToken")
        if token and token == earlier.client_token and earlier.version > 1:
            return earlier.arn  # the same update again
        schedule = _build(op, p, earlier)
        save(tx, schedule)
        return schedule.arn


def get_schedule(op: Op, name: str, group: str | None) -> Schedule:
    group = group or DEFAULT_GROUP
    with op.store.read() as tx:
        _require_group(op, tx, group)
        schedule = load(tx, _arn(op, group, name))
    if schedule is None:
        raise _not_found(name)
    return schedule


def delete_schedule(op: Op, name: str, group: str | None) -> None:
    group = group or DEFAULT_GROUP
    with op.store.transaction() as tx:
        _require_group(op, tx, group)
        if not tx.delete(TABLE, _arn(op, group, name)):
            raise _not_found(name)


def list_schedules(
    op: Op,
    group: str | None,
    name_prefix: str | None,
    state: str | None,
    max_results: int | None,
    token: str | None,
) -> tuple[list[Schedule], str | None]:
    limit = max_results or DEFAULT_PAGE
    after = _decode(token)
    base = f"arn:aws:scheduler:{op.region}:{op.account}:schedule/"
    prefix = base + (f"{group}/{name_prefix or ''}" if group else "")
    where = {"state": state} if state in (ENABLED, DISABLED) else None
    found: list[Schedule] = []
    more = False
    with op.store.read() as tx:
        if group:
            _require_group(op, tx, group)
        for _, doc in tx.scan(TABLE, prefix=prefix, after=after, where=where):
            schedule = from_doc(Schedule, doc)
            if name_prefix and not schedule.name.startswith(name_prefix):
                continue
            if len(found) == limit:
                more = True
                break
            found.append(schedule)
    return found, (encode_token(found[-1].arn) if more else None)


def _decode(token: str | None) -> str:
    return decode_token(token, _invalid_token)


def _invalid_token(token: str) -> ValidationException:
    return ValidationException("Invalid NextToken.")


# -- schedule groups -------------------------------------------------------------------------


def _default_group(op: Op) -> dict[str, Any]:
    """The group every account has; it exists without being created, so it has no dates
    of its own: it shows the epoch."""
    return {
        "name": DEFAULT_GROUP,
        "arn": group_arn(op.region, op.account, DEFAULT_GROUP),
        "state": "ACTIVE",
        "creationDate": 0.0,
        "lastModificationDate": 0.0,
    }


def _only_default(name: str) -> None:
    if name == DEFAULT_GROUP:
        raise ValidationException(f"This operation cannot be performed on schedule group {name}.")


def create_group(op: Op, name: str, tags: list[dict[str, str]], token: str | None) -> str:
    _only_default(name)
    arn = group_arn(op.region, op.account, name)
    with op.store.transaction() as tx:
        existing = tx.get(GROUPS, arn)
        if existing is not None:
            if token and existing.get("clientToken") == token:
                return arn
            raise ConflictException(f"Schedule group {name} already exists.")
        now = op.now()
        tx.put(
            GROUPS,
            arn,
            {
                "name": name,
                "arn": arn,
                "state": "ACTIVE",
                "creationDate": now,
                "lastModificationDate": now,
                "tags": tags,
                "clientToken": token,
            },
        )
    return arn


def get_group(op: Op, name: str) -> dict[str, Any]:
    if name == DEFAULT_GROUP:
        return _default_group(op)
    with op.store.read() as tx:
        doc = tx.get(GROUPS, group_arn(op.region, op.account, name))
    if doc is None:
        raise _group_not_found(name)
    return doc


def list_groups(
    op: Op, name_prefix: str | None, max_results: int | None, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    limit = max_results or DEFAULT_PAGE
    after = _decode(token)
    prefix = f"arn:aws:scheduler:{op.region}:{op.account}:schedule-group/{name_prefix or ''}"
    found: list[dict[str, Any]] = []
    default = _default_group(op)
    if (not name_prefix or DEFAULT_GROUP.startswith(name_prefix)) and default["arn"] > after:
        found.append(default)
    more = False
    with op.store.read() as tx:
        for _, doc in tx.scan(GROUPS, prefix=prefix, after=after):
            found.append(doc)
    found.sort(key=lambda d: str(d["arn"]))
    if len(found) > limit:
        found, more = found[:limit], True
    return found, (encode_token(str(found[-1]["arn"])) if more else None)


def delete_group(op: Op, name: str) -> None:
    """Delete a group and every schedule in it (AWS deletes them too, asynchronously)."""
    _only_default(name)
    arn = group_arn(op.region, op.account, name)
    with op.store.transaction() as tx:
        if not tx.delete(GROUPS, arn):
            raise _group_not_found(name)
        prefix = f"arn:aws:scheduler:{op.region}:{op.account}:schedule/{name}/"
        for key, _ in list(tx.scan(TABLE, prefix=prefix)):
            tx.delete(TABLE, key)


# -- tags (schedule groups have them; schedules do not, on AWS either) ----------------------


def _tagged_group(op: Op, tx: Tx, arn: str) -> dict[str, Any]:
    prefix = f"arn:aws:scheduler:{op.region}:{op.account}:schedule-group/"
    if not arn.startswith(prefix):
        raise ValidationException(f"Invalid ResourceArn {arn}: only schedule groups have tags.")
    name = arn.removeprefix(prefix)
    _only_default(name)
    doc = tx.get(GROUPS, arn)
    if doc is None:
        raise _group_not_found(name)
    return doc


def list_tags(op: Op, arn: str) -> list[dict[str, str]]:
    with op.store.read() as tx:
        return list(_tagged_group(op, tx, arn).get("tags") or [])


def tag_resource(op: Op, arn: str, tags: list[dict[str, str]]) -> None:
    with op.store.transaction() as tx:
        doc = _tagged_group(op, tx, arn)
        merged = {t["Key"]: t["Value"] for t in doc.get("tags") or []}
        merged.update({t["Key"]: t["Value"] for t in tags})
        doc["tags"] = [{"Key": k, "Value": v} for k, v in merged.items()]
        tx.put(GROUPS, arn, doc)


def untag_resource(op: Op, arn: str, keys: list[str]) -> None:
    with op.store.transaction() as tx:
        doc = _tagged_group(op, tx, arn)
        doc["tags"] = [t for t in doc.get("tags") or [] if t["Key"] not in set(keys)]
        tx.put(GROUPS, arn, doc)

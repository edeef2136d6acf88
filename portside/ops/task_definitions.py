"""Task definition operations: register, describe, list, deregister, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portside.errors import ClientException, InvalidParameterException, RequestError
from portside.model import arn as arns
from portside.model.states import TaskStatus
from portside.model.task_definition import (
    ACTIVE,
    DELETE_IN_PROGRESS,
    INACTIVE,
    TaskDefinition,
)
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, get_tags, set_tags, validate_tags
from portside.ops.taskdef_validation import validate_task_definition
from portside.store.base import Tx

TABLE = "task_definitions"
_NOT_FOUND = "Unable to describe task definition."
# DeleteTaskDefinitions' failure reasons. These and delete()'s list-size refusals are worded as
# moto words them (getmoto/moto PR #8989), the only public record of ECS's text we found.
_DELETE_INVALID = (
    "The specified task definition identifier is invalid. Specify a valid name or ARN and try "
    "again."
)
_DELETE_MISSING = (
    "The specified task definition does not exist. Specify a valid account, family, revision "
    "and try again."
)
_DELETE_ACTIVE = (
    "The specified task definition is still in ACTIVE status. Please deregister the target and "
    "try again."
)


def _prefix(op: Op) -> str:
    return arns.prefix(op.region, op.account, "task-definition")


def parse_ref(op: Op, ref: str) -> tuple[str, int | None]:
    """(family, revision or None) from `family`, `family:revision` or an ARN."""
    text = ref
    if arns.is_arn(ref):
        parsed = arns.parse(ref)
        if parsed is None or parsed.kind != "task-definition":
            raise ClientException(f"Invalid task definition ARN: {ref}")
        if parsed.region != op.region or parsed.account != op.account:
            raise ClientException(_NOT_FOUND)
        text = parsed.path
    family, sep, rev = text.rpartition(":")
    if not sep:
        return text, None
    if not rev.isdigit() or not family:
        raise ClientException(f"Invalid revision number. Number: {rev}")
    return family, int(rev)


def find(op: Op, tx: Tx, ref: str) -> TaskDefinition | None:
    """The revision a reference names; a bare family means its latest ACTIVE revision."""
    family, revision = parse_ref(op, ref)
    if revision is not None:
        doc = tx.get(TABLE, arns.task_definition(op.region, op.account, family, revision))
        return TaskDefinition.from_doc(doc) if doc else None
    rows = tx.select(
        TABLE,
        prefix=_prefix(op),
        where={"family": family, "status": ACTIVE},
        order=("revision",),
        descending=True,
        limit=1,
        docs=True,
    )
    return TaskDefinition.from_doc(rows[0][-1]) if rows else None


def require_active(
    op: Op, tx: Tx, ref: str, *, inactive: type[RequestError] = ClientException
) -> TaskDefinition:
    """The revision a new task or service may use: it must exist (ClientException
    "TaskDefinition not found.") and be ACTIVE ("TaskDefinition is inactive", as `inactive`:
    the callers cite which type ECS answers their operation with)."""
    td = find(op, tx, ref)
    if td is None:
        raise ClientException("TaskDefinition not found.")
    if td.status != ACTIVE:
        raise inactive("TaskDefinition is inactive")
    return td


def register(op: Op, request: Mapping[str, Any]) -> tuple[TaskDefinition, list[Tag]]:
    spec = validate_task_definition(dict(request))
    tags = validate_tags(request.get("tags") or ())
    family = spec["family"]
    with op.store.transaction() as tx:
        revision = tx.next_value(f"task-definition|{op.region}|{op.account}|{family}")
        definition = TaskDefinition(
            arn=arns.task_definition(op.region, op.account, family, revision),
            family=family,
            revision=revision,
            registered_at=op.now(),
            registered_by=op.caller.principal_arn,
            spec=spec,
        )
        tx.put(TABLE, definition.arn, definition.to_doc())
        if tags:  # a new revision's ARN has none to clear
            set_tags(tx, definition.arn, tags)
    return definition, tags


def describe(op: Op, ref: str, *, with_tags: bool = False) -> tuple[TaskDefinition, list[Tag]]:
    """The task definition a reference names, and its tags when asked for (include=TAGS)."""
    with op.store.read() as tx:
        found = find(op, tx, ref)
        if found is None:
            raise ClientException(_NOT_FOUND)
        return found, get_tags(tx, found.arn) if with_tags else []


def list_arns(
    op: Op,
    *,
    family: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[str], str | None]:
    limit = check_max_results(max_results)
    start = _decode_position(next_token)
    where: dict[str, Any] = {"status": status or ACTIVE}
    if family:
        where["family"] = family
    # By (family, revision) as values: the key is the ARN, which orders revisions as text
    # ("web:10" < "web:2"). Within one family, by revision alone (what it returns is smaller).
    descending = sort == "DESC"
    with op.store.read() as tx:
        if family:
            after: tuple[int] | None = None
            if start is not None and start[0] == family:
                after = (start[1],)
            elif start is not None and (start[0] < family) == descending:
                return [], None  # a token from beyond this family: nothing is left
            rows = [
                (key, family, revision)
                for key, revision in tx.select(
                    TABLE,
                    prefix=_prefix(op),
                    where=where,
                    order=("revision",),
                    descending=descending,
                    after=after,
                    limit=limit + 1,
                )
            ]
        else:
            rows = tx.select(
                TABLE,
                prefix=_prefix(op),
                where=where,
                order=("family", "revision"),
                descending=descending,
                after=start,
                limit=limit + 1,
            )
    page = rows[:limit]
    token = _encode_position(page[-1][1], page[-1][2]) if len(rows) > limit else None
    return [row[0] for row in page], token


def _encode_position(family: str, revision: int) -> str:
    return encode_token(f"{family}:{revision}")


def _decode_position(token: str | None) -> tuple[str, int] | None:
    text = decode_token(token)
    if not text:
        return None
    family, _, rev = text.rpartition(":")
    if not rev.isdigit():
        raise InvalidParameterException("Invalid nextToken.")
    return family, int(rev)


def list_families(
    op: Op,
    *,
    family_prefix: str | None = None,
    status: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[str], str | None]:
    """Families that still have a revision: ACTIVE (some revision is ACTIVE), INACTIVE (none
    is) or ALL, the default. A family whose revisions are all DELETE_IN_PROGRESS is still
    listed, as INACTIVE, until its last revision is reaped (DeleteTaskDefinitions reference)."""
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    prefix = _prefix(op) + (family_prefix or "")
    with op.store.read() as tx:
        rows = tx.index(TABLE, prefix=prefix)
    active = {r[1] for r in rows if r[3] == ACTIVE}
    every = {r[1] for r in rows}
    if status == ACTIVE:
        chosen = active
    elif status == INACTIVE:
        chosen = every - active
    else:
        chosen = every
    ordered = sorted(f for f in chosen if f > after)
    page = ordered[:limit]
    token = encode_token(page[-1]) if len(ordered) > limit else None
    return page, token


def deregister(op: Op, ref: str) -> TaskDefinition:
    _, revision = parse_ref(op, ref)
    if revision is None:
        raise ClientException(
            "A task definition revision must be specified: use family:revision or the full ARN."
        )
    with op.store.transaction() as tx:
        found = find(op, tx, ref)
        if found is None or found.status == DELETE_IN_PROGRESS:
            raise ClientException("The specified task definition does not exist.")
        if found.status == ACTIVE:
            found.status = INACTIVE
            found.deregistered_at = op.now()
            tx.put(TABLE, found.arn, found.to_doc())
        return found


def delete(op: Op, refs: Sequence[str]) -> tuple[list[TaskDefinition], list[dict[str, str]]]:
    if not refs:
        raise InvalidParameterException(
            "size of TaskDefinition references list must be greater than 0"
        )
    if len(refs) > 10:
        raise InvalidParameterException("Size of TaskDefinition references list cannot exceed 10")
    done: list[TaskDefinition] = []
    failures: list[dict[str, str]] = []
    with op.store.transaction() as tx:
        for ref in refs:
            try:
                family, revision = parse_ref(op, ref)
            except ClientException:
                family, revision = ref, None
            if revision is None:
                failures.append({"arn": ref, "reason": _DELETE_INVALID})
                continue
            arn = arns.task_definition(op.region, op.account, family, revision)
            doc = tx.get(TABLE, arn)
            if doc is None:
                failures.append({"arn": arn, "reason": _DELETE_MISSING})
                continue
            found = TaskDefinition.from_doc(doc)
            if found.status == ACTIVE:
                failures.append({"arn": arn, "reason": _DELETE_ACTIVE})
                continue
            if found.status == INACTIVE:
                found.status = DELETE_IN_PROGRESS
                found.delete_requested_at = op.now()
                tx.put(TABLE, arn, found.to_doc())
            done.append(found)
    return done, failures


# How long a deleted revision stays visible as DELETE_IN_PROGRESS once nothing uses it.
DELETE_GRACE = 600.0


def reap_deleted(op: Op, grace: float = DELETE_GRACE) -> int:
    """Remove DELETE_IN_PROGRESS revisions no task or service uses, `grace` seconds after
    their deletion was asked for."""
    removed = 0
    now = op.now()
    with op.store.transaction() as tx:
        rows = tx.index(TABLE, prefix=_prefix(op), where={"status": DELETE_IN_PROGRESS})
        if not rows:
            return 0
        in_use = _in_use(tx)
        for row in rows:
            doc = tx.get(TABLE, row[0])
            if doc is None or now - float(doc.get("deleteRequestedAt") or 0) < grace:
                continue
            if row[0] not in in_use:
                tx.delete(TABLE, row[0])
                set_tags(tx, row[0], [])
                removed += 1
    return removed


def _in_use(tx: Tx) -> set[str]:
    used: set[str] = set()
    # The tasks not STOPPED only: the hour of stopped ones kept is never read.
    unstopped = {s for s in TaskStatus if s != TaskStatus.STOPPED}
    for _, task in tx.scan("tasks", where={"status": unstopped}):
        used.add(task.get("taskDefinitionArn", ""))
    for _, svc in tx.scan("services"):
        if svc.get("status") != "INACTIVE":
            used.add(svc.get("taskDefinition", ""))
            for dep in svc.get("deployments") or ():
                used.add(dep.get("taskDefinition", ""))
    return used

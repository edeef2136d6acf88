"""Daemon task definitions: RegisterDaemonTaskDefinition, Describe-, List-, Delete-.

A daemon task definition is a task definition of its own kind
(`daemon-task-definition/FAMILY:REVISION`, its own revision counter): the containers a
daemon runs, without networking, placement or compatibilities. It is checked by the task
definition rules (ops/taskdef_validation.py) and kept in `task_definitions` under its own ARN,
so every reader of a task's definition (the agent gateway, credentials, secrets) finds a
daemon task's the same way. Task definition listings scan the `task-definition/` prefix
only, so daemon ones never show there, nor these there.

`pidMode` and `ipcMode` (`none` | `shared`) are the daemon kind's own and are kept beside the
spec, not in it: the spec is what the agent runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.errors import ClientException, InvalidParameterException
from portside.model import arn as arns
from portside.model.task_definition import ACTIVE, DELETE_IN_PROGRESS, TaskDefinition
from portside.ops.context import Op
from portside.ops.paging import check_max_results, decode_token, encode_token
from portside.ops.tags import Tag, set_tags, validate_tags
from portside.ops.taskdef_validation import validate_task_definition
from portside.store.base import Tx

TABLE = "task_definitions"
KIND = "daemon-task-definition"
_SPEC_MEMBERS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "containerDefinitions",
    "cpu",
    "memory",
    "volumes",
)
_NOT_FOUND = "The specified daemon task definition does not exist."  # wording: ours


def prefix(op: Op) -> str:
    return arns.prefix(op.region, op.account, KIND)


def arn_of(op: Op, family: str, revision: int) -> str:
    return arns.ecs(op.region, op.account, f"{KIND}/{family}:{revision}")


def parse_ref(op: Op, ref: str) -> tuple[str, int | None]:
    """(family, revision or None) from `family`, `family:revision` or a daemon task
    definition ARN of the caller's region and account."""
    text = ref
    if arns.is_arn(ref):
        parsed = arns.parse(ref)
        if parsed is None or parsed.kind != KIND:
            raise ClientException(f"Invalid daemon task definition ARN: {ref}")  # wording: ours
        if (parsed.region, parsed.account) != (op.region, op.account):
            raise ClientException(_NOT_FOUND)
        text = parsed.path
    family, sep, rev = text.rpartition(":")
    if not sep:
        return text, None
    if not rev.isdigit() or not family:
        raise ClientException(f"Invalid revision number. Number: {rev}")
    return family, int(rev)


def find(op: Op, tx: Tx, ref: str) -> dict[str, Any] | None:
    """The stored document of the revision a reference names; a bare family means its
    latest ACTIVE revision."""
    family, revision = parse_ref(op, ref)
    if revision is not None:
        return tx.get(TABLE, arn_of(op, family, revision))
    rows = tx.select(
        TABLE,
        prefix=prefix(op),
        where={"family": family, "status": ACTIVE},
        order=("revision",),
        descending=True,
        limit=1,
    )
    return tx.get(TABLE, rows[0][0]) if rows else None


def require(op: Op, tx: Tx, ref: str) -> dict[str, Any]:
    found = find(op, tx, ref)
    if found is None:
        raise ClientException(_NOT_FOUND)
    return found


def register(op: Op, request: Mapping[str, Any]) -> str:
    body = {k: request[k] for k in _SPEC_MEMBERS if request.get(k) is not None}
    spec = validate_task_definition(body)
    tags: list[Tag] = validate_tags(request.get("tags") or ())
    family = spec["family"]
    with op.store.transaction() as tx:
        revision = tx.next_value(f"{KIND}|{op.region}|{op.account}|{family}")
        definition = TaskDefinition(
            arn=arn_of(op, family, revision),
            family=family,
            revision=revision,
            registered_at=op.now(),
            registered_by=op.caller.principal_arn,
            spec=spec,
        )
        doc = definition.to_doc()
        doc["daemonModes"] = {
            k: request[k] for k in ("pidMode", "ipcMode") if request.get(k) is not None
        }
        tx.put(TABLE, definition.arn, doc)
        set_tags(tx, definition.arn, tags)
    return definition.arn


def describe(op: Op, ref: str) -> dict[str, Any]:
    with op.store.read() as tx:
        return require(op, tx, ref)


def delete(op: Op, ref: str) -> dict[str, Any]:
    """ACTIVE -> DELETE_IN_PROGRESS; daemons using the revision keep running it."""
    _, revision = parse_ref(op, ref)
    if revision is None:
        raise ClientException(
            "A daemon task definition revision must be specified: use family:revision or the "
            "full ARN."
        )  # wording: ours, after DeregisterTaskDefinition's
    with op.store.transaction() as tx:
        doc = require(op, tx, ref)
        if doc.get("status") != ACTIVE:
            raise ClientException("The specified daemon task definition is not ACTIVE.")
        doc["status"] = DELETE_IN_PROGRESS
        doc["deleteRequestedAt"] = op.now()
        tx.put(TABLE, doc["taskDefinitionArn"], doc)
        return doc


def list_summaries(
    op: Op,
    *,
    family_prefix: str | None = None,
    family: str | None = None,
    revision: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Revisions by family then revision number (DESC: newest first); LAST_REGISTERED keeps
    each family's newest. status: ACTIVE (the default), DELETE_IN_PROGRESS or ALL."""
    if family and family_prefix:
        raise InvalidParameterException(
            "familyPrefix and family cannot be specified together."
        )  # wording: ours
    limit = check_max_results(max_results)
    after = decode_token(next_token)
    wanted = status or ACTIVE
    with op.store.read() as tx:
        rows = tx.index(TABLE, prefix=prefix(op) + (family_prefix or ""))
        picked = [
            r
            for r in rows
            if (family is None or r[1] == family) and (wanted == "ALL" or r[3] == wanted)
        ]
        if revision == "LAST_REGISTERED":
            newest: dict[str, Any] = {}
            for r in picked:
                if r[1] not in newest or int(r[2]) > int(newest[r[1]][2]):
                    newest[r[1]] = r
            picked = list(newest.values())
        desc = sort == "DESC"
        picked.sort(key=lambda r: (str(r[1]), int(r[2])), reverse=desc)
        keys = [str(r[0]) for r in picked]
        if after:
            keys = keys[keys.index(after) + 1 :] if after in keys else []
        page = keys[:limit]
        token = encode_token(page[-1]) if len(keys) > limit else None
        docs = [d for k in page if (d := tx.get(TABLE, k)) is not None]
    return [summary(d) for d in docs], token


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "arn": doc["taskDefinitionArn"],
        "registeredAt": doc.get("registeredAt"),
        "registeredBy": doc.get("registeredBy"),
        "status": doc.get("status"),
    }
    if doc.get("deleteRequestedAt") is not None:
        out["deleteRequestedAt"] = doc["deleteRequestedAt"]
    return out


def container_images(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """What a daemon revision records of its definition's containers."""
    spec = doc.get("spec") or {}
    return [
        {"containerName": c["name"], "image": c["image"]}
        for c in spec.get("containerDefinitions") or ()
    ]

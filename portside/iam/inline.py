"""Inline policies: Put/Get/List/Delete{User,Group,Role}Policy.

Each is a row "ACCOUNT|kind|entity|PolicyName" holding the text as sent. IAM counts an
entity's inline policies together against one quota (white space not counted): 2,048
characters for a user, 5,120 for a group, 10,240 for a role.
"""

from __future__ import annotations

from typing import Any

from portside.iam import documents, entities, errors, paging, records
from portside.iam.operations import action
from portside.iam.records import Kind
from portside.ops.context import Op

QUOTA = {"user": 2048, "group": 5120, "role": 10240}
_LABEL = {"user": "User", "group": "Group", "role": "Role"}


def _put(op: Op, kind: Kind, p: dict[str, Any]) -> None:
    member = records.NAME_MEMBER[kind]
    policy, text = p["PolicyName"], p["PolicyDocument"]
    documents.check(text, "identity")
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, kind, p[member])
        name = doc[member]
        held = records.entity_key(op.account, kind, name)
        others = sum(
            documents.size(row["PolicyDocument"])
            for k, row in tx.scan(records.INLINE, prefix=held + "|")
            if row["PolicyName"] != policy
        )
        if others + documents.size(text) > QUOTA[kind]:
            raise errors.limit(
                f"Maximum policy size of {QUOTA[kind]} bytes exceeded for {kind} {name}"
            )
        tx.put(records.INLINE, f"{held}|{policy}", {"PolicyName": policy, "PolicyDocument": text})


def _get(op: Op, kind: Kind, p: dict[str, Any]) -> dict[str, Any]:
    member = records.NAME_MEMBER[kind]
    policy = p["PolicyName"]
    with op.store.read() as tx:
        doc = entities.must(tx, op.account, kind, p[member])
        held = records.entity_key(op.account, kind, doc[member])
        row = tx.get(records.INLINE, f"{held}|{policy}")
    if row is None:
        raise errors.no_such(f"The {kind} policy with name {policy} cannot be found.")
    return {
        member: doc[member],
        "PolicyName": policy,
        "PolicyDocument": documents.encode(row["PolicyDocument"]),
    }


def _list(op: Op, kind: Kind, p: dict[str, Any]) -> dict[str, Any]:
    member = records.NAME_MEMBER[kind]
    with op.store.read() as tx:
        doc = entities.must(tx, op.account, kind, p[member])
        held = records.entity_key(op.account, kind, doc[member])
        names = sorted(row["PolicyName"] for _, row in tx.scan(records.INLINE, prefix=held + "|"))
    return paging.page(p, names, lambda n: n, "PolicyNames")


def _delete(op: Op, kind: Kind, p: dict[str, Any]) -> None:
    member = records.NAME_MEMBER[kind]
    policy = p["PolicyName"]
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, kind, p[member])
        held = records.entity_key(op.account, kind, doc[member])
        if not tx.delete(records.INLINE, f"{held}|{policy}"):
            raise errors.no_such(f"The {kind} policy with name {policy} cannot be found.")


def _register(kind: Kind) -> None:
    label = _LABEL[kind]

    def put(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _put(op, kind, p)
        return {}

    def get(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        return _get(op, kind, p)

    def listed(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        return _list(op, kind, p)

    def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _delete(op, kind, p)
        return {}

    action(f"Put{label}Policy")(put)
    action(f"Get{label}Policy")(get)
    action(f"List{label}Policies")(listed)
    action(f"Delete{label}Policy")(delete)


for _kind in ("user", "group", "role"):
    _register(_kind)

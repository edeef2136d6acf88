"""Tags on users, roles, customer managed policies and instance profiles: Tag*, Untag*,
List*Tags, kept in each entity's document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.iam import entities, paging, policies, profiles, records, tags
from portside.iam.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx

# What a tag call names -> (its parameter, the table, the document found by it).
Finder = Callable[[Tx, str, str], Document]
_TARGETS: dict[str, tuple[str, str, Finder]] = {
    "User": ("UserName", records.USERS, lambda tx, a, n: entities.must(tx, a, "user", n)),
    "Role": ("RoleName", records.ROLES, lambda tx, a, n: entities.must(tx, a, "role", n)),
    "Policy": ("PolicyArn", records.POLICIES, policies.must_local),
    "InstanceProfile": ("InstanceProfileName", records.PROFILES, profiles.must),
}
_NAME = {
    records.USERS: "UserName",
    records.ROLES: "RoleName",
    records.POLICIES: "PolicyName",
    records.PROFILES: "InstanceProfileName",
}


def _change(op: Op, target: str, p: dict[str, Any], fn: Callable[[list[Any]], list[Any]]) -> None:
    member, table, find = _TARGETS[target]
    with op.store.transaction() as tx:
        doc = find(tx, op.account, p[member])
        changed = fn(records.tags_of(doc))
        if changed:
            doc["Tags"] = changed
        else:
            doc.pop("Tags", None)
        tx.put(table, records.name_key(op.account, doc[_NAME[table]]), doc)


def _register(target: str) -> None:
    member, _, find = _TARGETS[target]

    def tag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _change(op, target, p, lambda held: tags.checked(p["Tags"], held))
        return {}

    def untag(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _change(op, target, p, lambda held: tags.without(held, p["TagKeys"]))
        return {}

    def listed(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        with op.store.read() as tx:
            doc = find(tx, op.account, p[member])
        held = sorted(records.tags_of(doc), key=lambda t: t["Key"])
        return paging.page(p, held, lambda t: t["Key"], "Tags")

    action(f"Tag{target}")(tag)
    action(f"Untag{target}")(untag)
    action(f"List{target}Tags")(listed)


for _target in _TARGETS:
    _register(_target)

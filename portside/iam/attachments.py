"""Managed policies attached to users, groups and roles: Attach/Detach/ListAttached
{User,Group,Role}Policies and ListEntitiesForPolicy.

An attachment is a row "ACCOUNT|policy ARN|kind|entity" indexed by its entity, so a
policy's attachments (AttachmentCount, ListEntitiesForPolicy, DeletePolicy's conflict) and
an entity's (ListAttached*, DeleteUser's conflict) are each one read. Attaching twice is
no error and no second row, as in IAM.
"""

from __future__ import annotations

from typing import Any

from portside.iam import entities, errors, paging, records
from portside.iam.operations import action
from portside.iam.policies import resolve
from portside.iam.records import Kind
from portside.ops.context import Op

MANAGED_PER_ENTITY = 10  # PoliciesPerUser / PoliciesPerGroup / PoliciesPerRole, IAM's default
_QUOTA = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}
_LABEL = {"user": "User", "group": "Group", "role": "Role"}


def _attach(op: Op, kind: Kind, name: str, arn: str) -> None:
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, kind, name)
        policy = resolve(tx, op.account, arn)
        if policy is None:
            raise errors.no_such(f"Policy {arn} does not exist or is not attachable.")
        if policy.aws is not None and not policy.aws.attachable:
            raise errors.not_attachable(
                f"Cannot attach a Service Role Policy to a Customer {_LABEL[kind]}."
            )
        held = records.entity_key(op.account, kind, doc[records.NAME_MEMBER[kind]])
        k = records.key(op.account, arn, kind, doc[records.NAME_MEMBER[kind]].lower())
        if tx.get(records.ATTACHMENTS, k) is not None:
            return
        if tx.count(records.ATTACHMENTS, where={"entity": held}) >= MANAGED_PER_ENTITY:
            raise errors.limit(f"Cannot exceed quota for {_QUOTA[kind]}: {MANAGED_PER_ENTITY}")
        row = {
            "PolicyArn": arn,
            "PolicyName": policy.name,
            "Kind": kind,
            "Name": doc[records.NAME_MEMBER[kind]],
            "Entity": held,
        }
        tx.put(records.ATTACHMENTS, k, row)


def _detach(op: Op, kind: Kind, name: str, arn: str) -> None:
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, kind, name)
        k = records.key(op.account, arn, kind, doc[records.NAME_MEMBER[kind]].lower())
        if not tx.delete(records.ATTACHMENTS, k):
            raise errors.no_such(f"Policy {arn} was not found.")


def attached(op: Op, kind: Kind, p: dict[str, Any]) -> dict[str, Any]:
    prefix = p.get("PathPrefix") or "/"
    with op.store.read() as tx:
        doc = entities.must(tx, op.account, kind, p[records.NAME_MEMBER[kind]])
        held = records.entity_key(op.account, kind, doc[records.NAME_MEMBER[kind]])
        rows = [row for _, row in tx.scan(records.ATTACHMENTS, where={"entity": held})]
    rows = [r for r in rows if _policy_path(r["PolicyArn"]).startswith(prefix)]
    items = sorted(
        ({"PolicyName": r["PolicyName"], "PolicyArn": r["PolicyArn"]} for r in rows),
        key=lambda a: a["PolicyArn"],
    )
    return paging.page(p, items, lambda a: a["PolicyArn"], "AttachedPolicies")


def _policy_path(arn: str) -> str:
    return "/" + arn.split(":policy/", 1)[1]


def _register(kind: Kind) -> None:
    label = _LABEL[kind]
    member = records.NAME_MEMBER[kind]

    def attach(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _attach(op, kind, p[member], p["PolicyArn"])
        return {}

    def detach(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        _detach(op, kind, p[member], p["PolicyArn"])
        return {}

    def listed(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        return attached(op, kind, p)

    action(f"Attach{label}Policy")(attach)
    action(f"Detach{label}Policy")(detach)
    action(f"ListAttached{label}Policies")(listed)


for _kind in ("user", "group", "role"):
    _register(_kind)

_FILTERS = {"User": "user", "Group": "group", "Role": "role"}


@action("ListEntitiesForPolicy")
def list_entities_for_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = p["PolicyArn"]
    wanted = p.get("EntityFilter")
    prefix = p.get("PathPrefix") or "/"
    kinds = {_FILTERS[wanted]} if wanted in _FILTERS else set(_FILTERS.values())
    with op.store.read() as tx:
        if resolve(tx, op.account, arn) is None:
            raise errors.no_such(f"Policy {arn} was not found.")
        items: list[dict[str, Any]] = []
        for _, row in tx.scan(records.ATTACHMENTS, prefix=records.key(op.account, arn) + "|"):
            kind = row["Kind"]
            if kind not in kinds:
                continue
            doc = records.entity(tx, op.account, kind, row["Name"])
            if doc is None or not doc["Path"].startswith(prefix):
                continue
            items.append({"kind": kind, "name": doc[records.NAME_MEMBER[kind]],
                          "id": doc[records.ID_MEMBER[kind]]})  # fmt: skip
    items.sort(key=lambda i: f"{i['kind']}|{i['name'].lower()}")
    page = paging.page(p, items, lambda i: f"{i['kind']}|{i['name'].lower()}", "_items")
    out: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    for i in page.pop("_items"):
        label = _LABEL[i["kind"]]
        out[f"Policy{label}s"].append({f"{label}Name": i["name"], f"{label}Id": i["id"]})
    out.update(page)
    return out

"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser.

A user is deleted only when nothing hangs off it any more: IAM refuses with DeleteConflict
while it has access keys, inline or attached policies, or group memberships. A permissions
boundary is kept and shown, not enforced.
"""

from __future__ import annotations

from typing import Any

from portside.iam import entities, errors, paging, records, tags
from portside.iam.errors import ValidationError
from portside.iam.operations import action
from portside.ops.context import Op

_LISTED_HIDDEN = frozenset({"Tags", "PermissionsBoundary"})


def boundary(arn: str | None) -> dict[str, str] | None:
    if not arn:
        return None
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}


@action("CreateUser")
def create_user(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, path = p["UserName"], p.get("Path") or "/"
    user_tags = tags.checked(p.get("Tags") or [], [])
    with op.store.transaction() as tx:
        entities.check_free(tx, op.account, "user", name)
        doc: dict[str, Any] = {
            "Path": path,
            "UserName": name,
            "UserId": records.new_id(op, "user"),
            "Arn": records.arn(op.account, "user", path, name),
            "CreateDate": op.now(),
        }
        if p.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = boundary(p["PermissionsBoundary"])
        if user_tags:
            doc["Tags"] = user_tags
        tx.put(records.USERS, records.name_key(op.account, name), doc)
    return {"User": records.view(doc)}


def _caller_user(op: Op) -> dict[str, Any]:
    """GetUser without a name: the caller. The root answers with the account's root."""
    arn = op.caller.principal_arn
    if arn.endswith(":root"):
        # IAM answers the root without UserName or Path (its model says otherwise).
        return {"UserId": op.account, "Arn": arn, "CreateDate": 0.0}
    if ":user/" not in arn:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    name = arn.rsplit("/", 1)[1]
    with op.store.read() as tx:
        return records.view(entities.must(tx, op.account, "user", name))


@action("GetUser")
def get_user(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if not p.get("UserName"):
        return {"User": _caller_user(op)}
    with op.store.read() as tx:
        doc = entities.must(tx, op.account, "user", p["UserName"])
    return {"User": records.view(doc)}


@action("ListUsers")
def list_users(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        docs = entities.listed(tx, records.USERS, op.account, p.get("PathPrefix"))
    users = [records.view(d, _LISTED_HIDDEN) for d in docs]
    return paging.page(p, users, entities.position("user"), "Users")


@action("UpdateUser")
def update_user(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["UserName"]
    new_name, new_path = p.get("NewUserName"), p.get("NewPath")
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "user", name)
        old = doc["UserName"]
        if new_path:
            doc["Path"] = new_path
        if new_name and new_name != old:
            if new_name.lower() != old.lower():
                entities.check_free(tx, op.account, "user", new_name)
            tx.delete(records.USERS, records.name_key(op.account, old))
            entities.rename(tx, op.account, "user", old, new_name)
            doc["UserName"] = new_name
        doc["Arn"] = records.arn(op.account, "user", doc["Path"], doc["UserName"])
        tx.put(records.USERS, records.name_key(op.account, doc["UserName"]), doc)
    return {}


@action("DeleteUser")
def delete_user(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["UserName"]
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "user", name)
        owner = records.name_key(op.account, name)
        held = records.entity_key(op.account, "user", name)
        if tx.count(records.ACCESS_KEYS, where={"owner": owner}):
            raise errors.conflict("Cannot delete entity, must delete access keys first.")
        if tx.count(records.INLINE, prefix=held + "|"):
            raise errors.conflict("Cannot delete entity, must delete policies first.")
        if tx.count(records.ATTACHMENTS, where={"entity": held}):
            raise errors.conflict("Cannot delete entity, must detach all policies first.")
        if tx.count(records.MEMBERSHIPS, where={"member": owner}):
            raise errors.conflict("Cannot delete entity, must remove users from group first.")
        tx.delete(records.USERS, records.name_key(op.account, doc["UserName"]))
        tx.delete(records.USAGE, held)
    return {}

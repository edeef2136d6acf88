"""IAM groups and their members: CreateGroup, GetGroup (with its users), ListGroups,
UpdateGroup, DeleteGroup, AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

A membership is a row of its own ("ACCOUNT|group|user", indexed by user), so both sides
list it with one read. A group is deleted only once it has no members and no policies.
"""

from __future__ import annotations

from typing import Any

from portside.iam import entities, errors, paging, records
from portside.iam.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx


@action("CreateGroup")
def create_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, path = p["GroupName"], p.get("Path") or "/"
    with op.store.transaction() as tx:
        entities.check_free(tx, op.account, "group", name)
        doc = {
            "Path": path,
            "GroupName": name,
            "GroupId": records.new_id(op, "group"),
            "Arn": records.arn(op.account, "group", path, name),
            "CreateDate": op.now(),
        }
        tx.put(records.GROUPS, records.name_key(op.account, name), doc)
    return {"Group": records.view(doc)}


def members(tx: Tx, account: str, group: str) -> list[Document]:
    """The users of a group, by name."""
    rows = tx.scan(records.MEMBERSHIPS, prefix=records.name_key(account, group) + "|")
    users = [records.entity(tx, account, "user", doc["UserName"]) for _, doc in rows]
    return [u for u in users if u is not None]


def groups_of(tx: Tx, account: str, user: str) -> list[Document]:
    """The groups a user belongs to, by name."""
    rows = tx.scan(records.MEMBERSHIPS, where={"member": records.name_key(account, user)})
    groups = [records.entity(tx, account, "group", doc["GroupName"]) for _, doc in rows]
    return sorted((g for g in groups if g is not None), key=lambda g: g["GroupName"].lower())


@action("GetGroup")
def get_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        group = entities.must(tx, op.account, "group", p["GroupName"])
        users = [records.view(u, frozenset({"Tags", "PermissionsBoundary"})) for u in
                 members(tx, op.account, group["GroupName"])]  # fmt: skip
    out = paging.page(p, users, entities.position("user"), "Users")
    out["Group"] = records.view(group)
    return out


@action("ListGroups")
def list_groups(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        docs = entities.listed(tx, records.GROUPS, op.account, p.get("PathPrefix"))
    return paging.page(p, [records.view(d) for d in docs], entities.position("group"), "Groups")


@action("ListGroupsForUser")
def list_groups_for_user(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        user = entities.must(tx, op.account, "user", p["UserName"])
        docs = groups_of(tx, op.account, user["UserName"])
    return paging.page(p, [records.view(d) for d in docs], entities.position("group"), "Groups")


@action("UpdateGroup")
def update_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    new_name, new_path = p.get("NewGroupName"), p.get("NewPath")
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "group", p["GroupName"])
        old = doc["GroupName"]
        if new_path:
            doc["Path"] = new_path
        if new_name and new_name != old:
            if new_name.lower() != old.lower():
                entities.check_free(tx, op.account, "group", new_name)
            tx.delete(records.GROUPS, records.name_key(op.account, old))
            entities.rename(tx, op.account, "group", old, new_name)
            doc["GroupName"] = new_name
        doc["Arn"] = records.arn(op.account, "group", doc["Path"], doc["GroupName"])
        tx.put(records.GROUPS, records.name_key(op.account, doc["GroupName"]), doc)
    return {}


@action("DeleteGroup")
def delete_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "group", p["GroupName"])
        name = doc["GroupName"]
        held = records.entity_key(op.account, "group", name)
        if tx.count(records.MEMBERSHIPS, prefix=records.name_key(op.account, name) + "|"):
            raise errors.conflict("Cannot delete entity, must remove users from group first.")
        if tx.count(records.INLINE, prefix=held + "|"):
            raise errors.conflict("Cannot delete entity, must delete policies first.")
        if tx.count(records.ATTACHMENTS, where={"entity": held}):
            raise errors.conflict("Cannot delete entity, must detach all policies first.")
        tx.delete(records.GROUPS, records.name_key(op.account, name))
    return {}


def _membership(tx: Tx, op: Op, p: dict[str, Any]) -> tuple[str, Document, Document]:
    group = entities.must(tx, op.account, "group", p["GroupName"])
    user = entities.must(tx, op.account, "user", p["UserName"])
    k = records.key(op.account, group["GroupName"].lower(), user["UserName"].lower())
    return k, group, user


@action("AddUserToGroup")
def add_user_to_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        k, group, user = _membership(tx, op, p)
        tx.put(
            records.MEMBERSHIPS,
            k,
            {
                "GroupName": group["GroupName"],
                "UserName": user["UserName"],
                "Member": records.name_key(op.account, user["UserName"]),
            },
        )
    return {}


@action("RemoveUserFromGroup")
def remove_user_from_group(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        k, group, user = _membership(tx, op, p)
        if not tx.delete(records.MEMBERSHIPS, k):
            raise errors.no_such(f"User {user['UserName']} is not in group {group['GroupName']}.")
    return {}

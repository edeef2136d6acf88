"""Instance profiles: CreateInstanceProfile, GetInstanceProfile, ListInstanceProfiles,
DeleteInstanceProfile, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile,
ListInstanceProfilesForRole. A profile holds one role at most (IAM's quota); its document
keeps the role's name and answers with the role itself.
"""

from __future__ import annotations

from typing import Any

from portside.iam import entities, errors, paging, records, roles, tags
from portside.iam.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx

ROLES_PER_PROFILE = 1


def must(tx: Tx, account: str, name: str) -> Document:
    doc = tx.get(records.PROFILES, records.name_key(account, name))
    if doc is None:
        raise errors.no_such(f"Instance Profile {name} cannot be found.")
    return doc


def view(tx: Tx, account: str, doc: Document, *, tagged: bool = True) -> dict[str, Any]:
    out = records.view(doc, frozenset() if tagged else frozenset({"Tags"}))
    found = (records.entity(tx, account, "role", name) for name in doc["Roles"])
    out["Roles"] = [roles.view(r, frozenset({"Tags", "RoleLastUsed"})) for r in found if r]
    return out


def profiles_of(tx: Tx, account: str, role: str) -> list[Document]:
    """The profiles holding `role` (a scan of the account's profiles: they are few)."""
    wanted = role.lower()
    return [
        doc
        for _, doc in tx.scan(records.PROFILES, prefix=account + "|")
        if any(r.lower() == wanted for r in doc["Roles"])
    ]


@action("CreateInstanceProfile")
def create_instance_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, path = p["InstanceProfileName"], p.get("Path") or "/"
    profile_tags = tags.checked(p.get("Tags") or [], [])
    with op.store.transaction() as tx:
        if tx.get(records.PROFILES, records.name_key(op.account, name)) is not None:
            raise errors.exists(f"Instance Profile {name} already exists.")
        doc: dict[str, Any] = {
            "Path": path,
            "InstanceProfileName": name,
            "InstanceProfileId": records.new_id(op, "profile"),
            "Arn": records.arn(op.account, "instance-profile", path, name),
            "CreateDate": op.now(),
            "Roles": [],
        }
        if profile_tags:
            doc["Tags"] = profile_tags
        tx.put(records.PROFILES, records.name_key(op.account, name), doc)
        return {"InstanceProfile": view(tx, op.account, doc)}


@action("GetInstanceProfile")
def get_instance_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = must(tx, op.account, p["InstanceProfileName"])
        return {"InstanceProfile": view(tx, op.account, doc)}


def _position(item: dict[str, Any]) -> str:
    return str(item["InstanceProfileName"]).lower()


@action("ListInstanceProfiles")
def list_instance_profiles(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        docs = entities.listed(tx, records.PROFILES, op.account, p.get("PathPrefix"))
        out = [view(tx, op.account, d, tagged=False) for d in docs]
    return paging.page(p, out, _position, "InstanceProfiles")


@action("ListInstanceProfilesForRole")
def list_instance_profiles_for_role(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        role = entities.must(tx, op.account, "role", p["RoleName"])
        docs = profiles_of(tx, op.account, role["RoleName"])
        out = [view(tx, op.account, d, tagged=False) for d in docs]
    return paging.page(p, out, _position, "InstanceProfiles")


@action("DeleteInstanceProfile")
def delete_instance_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = must(tx, op.account, p["InstanceProfileName"])
        if doc["Roles"]:
            raise errors.conflict(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        tx.delete(records.PROFILES, records.name_key(op.account, doc["InstanceProfileName"]))
    return {}


@action("AddRoleToInstanceProfile")
def add_role_to_instance_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = must(tx, op.account, p["InstanceProfileName"])
        role = entities.must(tx, op.account, "role", p["RoleName"])
        if any(r.lower() == role["RoleName"].lower() for r in doc["Roles"]):
            raise errors.exists(f"Role {role['RoleName']} already exists in instance profile.")
        if len(doc["Roles"]) >= ROLES_PER_PROFILE:
            raise errors.limit(
                f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}"
            )
        doc["Roles"] = [*doc["Roles"], role["RoleName"]]
        tx.put(records.PROFILES, records.name_key(op.account, doc["InstanceProfileName"]), doc)
    return {}


@action("RemoveRoleFromInstanceProfile")
def remove_role_from_instance_profile(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = must(tx, op.account, p["InstanceProfileName"])
        wanted = p["RoleName"].lower()
        kept = [r for r in doc["Roles"] if r.lower() != wanted]
        if len(kept) == len(doc["Roles"]):
            raise errors.no_such(f"The role with name {p['RoleName']} cannot be found.")
        doc["Roles"] = kept
        tx.put(records.PROFILES, records.name_key(op.account, doc["InstanceProfileName"]), doc)
    return {}

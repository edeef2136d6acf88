"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole.

A role's trust policy (AssumeRolePolicyDocument) is checked as one: a principal, STS's
AssumeRole actions, no resources; its text is kept as sent and answered URL-encoded, as IAM
does. RoleLastUsed is written by STS when the role is assumed (usage.py).
"""

from __future__ import annotations

from typing import Any

from portside.iam import documents, entities, errors, paging, records, tags, usage
from portside.iam.operations import action
from portside.iam.users import boundary
from portside.ops.context import Op
from portside.store.base import Document, Tx

TRUST_POLICY_QUOTA = 2048  # ACLSizePerRole, IAM's default
_LISTED_HIDDEN = frozenset({"Tags", "PermissionsBoundary", "RoleLastUsed"})


def view(doc: Document, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A role as IAM shows it: its trust policy URL-encoded."""
    out = records.view(doc, hidden)
    out["AssumeRolePolicyDocument"] = documents.encode(doc["AssumeRolePolicyDocument"])
    return out


def trust_policy(text: str) -> str:
    documents.check(text, "trust")
    if documents.size(text) > TRUST_POLICY_QUOTA:
        raise errors.limit(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_QUOTA}")
    return text


@action("CreateRole")
def create_role(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, path = p["RoleName"], p.get("Path") or "/"
    policy = trust_policy(p["AssumeRolePolicyDocument"])
    role_tags = tags.checked(p.get("Tags") or [], [])
    with op.store.transaction() as tx:
        entities.check_free(tx, op.account, "role", name)
        doc: dict[str, Any] = {
            "Path": path,
            "RoleName": name,
            "RoleId": records.new_id(op, "role"),
            "Arn": records.arn(op.account, "role", path, name),
            "CreateDate": op.now(),
            "AssumeRolePolicyDocument": policy,
            "MaxSessionDuration": p.get("MaxSessionDuration") or 3600,
        }
        if p.get("Description") is not None:
            doc["Description"] = p["Description"]
        if p.get("PermissionsBoundary"):
            doc["PermissionsBoundary"] = boundary(p["PermissionsBoundary"])
        if role_tags:
            doc["Tags"] = role_tags
        tx.put(records.ROLES, records.name_key(op.account, name), doc)
    return {"Role": view(doc)}


def shown(tx: Tx, account: str, doc: Document) -> dict[str, Any]:
    """GetRole's role: with RoleLastUsed (empty when it never was)."""
    out = view(doc)
    out["RoleLastUsed"] = usage.role_last_used(tx, account, doc["RoleName"])
    return out


@action("GetRole")
def get_role(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = entities.must(tx, op.account, "role", p["RoleName"])
        return {"Role": shown(tx, op.account, doc)}


@action("ListRoles")
def list_roles(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        docs = entities.listed(tx, records.ROLES, op.account, p.get("PathPrefix"))
    roles = [view(d, _LISTED_HIDDEN) for d in docs]
    return paging.page(p, roles, entities.position("role"), "Roles")


def _change(op: Op, name: str, p: dict[str, Any]) -> Document:
    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "role", name)
        if p.get("Description") is not None:
            doc["Description"] = p["Description"]
        if p.get("MaxSessionDuration") is not None:
            doc["MaxSessionDuration"] = p["MaxSessionDuration"]
        if p.get("AssumeRolePolicyDocument") is not None:
            doc["AssumeRolePolicyDocument"] = p["AssumeRolePolicyDocument"]
        tx.put(records.ROLES, records.name_key(op.account, doc["RoleName"]), doc)
        return doc


@action("UpdateRole")
def update_role(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _change(op, p["RoleName"], p)
    return {}


@action("UpdateRoleDescription")
def update_role_description(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    doc = _change(op, p["RoleName"], {"Description": p["Description"]})
    return {"Role": view(doc)}


@action("UpdateAssumeRolePolicy")
def update_assume_role_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    text = trust_policy(p["PolicyDocument"])
    _change(op, p["RoleName"], {"AssumeRolePolicyDocument": text})
    return {}


@action("DeleteRole")
def delete_role(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    from portside.iam.profiles import profiles_of

    with op.store.transaction() as tx:
        doc = entities.must(tx, op.account, "role", p["RoleName"])
        name = doc["RoleName"]
        held = records.entity_key(op.account, "role", name)
        if profiles_of(tx, op.account, name):
            raise errors.conflict(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        if tx.count(records.INLINE, prefix=held + "|"):
            raise errors.conflict("Cannot delete entity, must delete policies first.")
        if tx.count(records.ATTACHMENTS, where={"entity": held}):
            raise errors.conflict("Cannot delete entity, must detach all policies first.")
        tx.delete(records.ROLES, records.name_key(op.account, name))
        tx.delete(records.USAGE, held)
    return {}

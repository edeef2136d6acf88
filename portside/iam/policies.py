"""Managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, and how a policy
ARN is resolved, to a customer managed policy of the account (stored) or to an AWS managed
one (managed.py, the same in every account).

A customer managed policy's versions are rows of their own (versions.py); its document
holds the default version's id and the number the next version takes (IAM never reuses
one: v1, v2, ... even after deletions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portside.iam import documents, errors, paging, records, tags
from portside.iam.managed import ManagedPolicy, catalog, find
from portside.iam.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx

POLICY_SIZE_QUOTA = 6144  # characters, white space not counted
_ARN_PREFIX = "arn:aws:iam::"


@dataclass(frozen=True, slots=True)
class Policy:
    """A managed policy, whichever kind: `doc` for the account's own, `aws` for AWS's."""

    arn: str
    doc: Document | None = None
    aws: ManagedPolicy | None = None

    @property
    def name(self) -> str:
        return self.aws.name if self.aws else str(self.doc["PolicyName"])  # type: ignore[index]

    @property
    def default_version(self) -> str:
        return self.aws.version if self.aws else str(self.doc["DefaultVersionId"])  # type: ignore[index]


def _parts(arn: str) -> tuple[str, str] | None:
    """(account, path + name) of a policy ARN, or None."""
    if not arn.startswith(_ARN_PREFIX):
        return None
    account, sep, rest = arn[len(_ARN_PREFIX) :].partition(":policy/")
    return (account, "/" + rest) if sep and rest else None


def resolve(tx: Tx, account: str, arn: str) -> Policy | None:
    """The policy `arn` names, as the account sees it, or None."""
    parts = _parts(arn)
    if parts is None:
        return None
    owner, path_name = parts
    if owner == "aws":
        found = find(arn)
        return Policy(arn, aws=found) if found else None
    if owner != account:
        return None
    name = path_name.rsplit("/", 1)[1]
    doc = tx.get(records.POLICIES, records.name_key(account, name))
    return Policy(arn, doc=doc) if doc is not None and doc["Arn"] == arn else None


def must(tx: Tx, account: str, arn: str) -> Policy:
    _check_arn(arn)
    found = resolve(tx, account, arn)
    if found is None:
        raise errors.no_such(f"Policy {arn} was not found.")
    return found


def must_local(tx: Tx, account: str, arn: str) -> Document:
    """The account's own policy `arn` (AWS's cannot be changed)."""
    found = must(tx, account, arn)
    if found.doc is None:
        raise errors.invalid(f"Policy {arn} is an AWS managed policy and cannot be changed.")
    return found.doc


def _check_arn(arn: str) -> None:
    if _parts(arn) is None:
        raise errors.invalid(f"ARN {arn} is not valid.")


def attachments(tx: Tx, account: str, arn: str) -> int:
    return tx.count(records.ATTACHMENTS, prefix=records.key(account, arn) + "|")


def view(tx: Tx, account: str, policy: Policy, *, full: bool = True) -> dict[str, Any]:
    """The Policy shape: GetPolicy's (`full`) or ListPolicies' (no Description, no Tags)."""
    if policy.aws is not None:
        aws = policy.aws
        out: dict[str, Any] = {
            "PolicyName": aws.name,
            "PolicyId": aws.policy_id,
            "Arn": aws.arn,
            "Path": aws.path,
            "DefaultVersionId": aws.version,
            "IsAttachable": aws.attachable,
            "CreateDate": aws.date,
            "UpdateDate": aws.date,
        }
    else:
        hidden = frozenset() if full else frozenset({"Description", "Tags"})
        out = records.view(policy.doc or {}, hidden)
    out["AttachmentCount"] = attachments(tx, account, policy.arn)
    out["PermissionsBoundaryUsageCount"] = 0
    return out


def identity_document(text: str) -> str:
    documents.check(text, "identity")
    if documents.size(text) > POLICY_SIZE_QUOTA:
        raise errors.limit(f"Cannot exceed quota for PolicySize: {POLICY_SIZE_QUOTA}")
    return text


@action("CreatePolicy")
def create_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name, path = p["PolicyName"], p.get("Path") or "/"
    text = identity_document(p["PolicyDocument"])
    policy_tags = tags.checked(p.get("Tags") or [], [])
    now = op.now()
    with op.store.transaction() as tx:
        k = records.name_key(op.account, name)
        if tx.get(records.POLICIES, k) is not None:
            raise errors.exists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        doc: dict[str, Any] = {
            "PolicyName": name,
            "PolicyId": records.new_id(op, "policy"),
            "Arn": f"arn:aws:iam::{op.account}:policy{path}{name}",
            "Path": path,
            "DefaultVersionId": "v1",
            "IsAttachable": True,
            "CreateDate": now,
            "UpdateDate": now,
            "_Next": 2,
        }
        if p.get("Description"):
            doc["Description"] = p["Description"]
        if policy_tags:
            doc["Tags"] = policy_tags
        tx.put(records.POLICIES, k, doc)
        tx.put(
            records.VERSIONS, k + "|v1", {"VersionId": "v1", "Document": text, "CreateDate": now}
        )
        return {"Policy": view(tx, op.account, Policy(doc["Arn"], doc=doc))}


@action("GetPolicy")
def get_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return {"Policy": view(tx, op.account, must(tx, op.account, p["PolicyArn"]))}


def _position(item: dict[str, Any]) -> str:
    return f"{item['PolicyName'].lower()}|{item['Arn']}"


@action("ListPolicies")
def list_policies(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    scope = p.get("Scope") or "All"
    prefix = p.get("PathPrefix") or "/"
    found: list[Policy] = []
    with op.store.read() as tx:
        if scope in ("All", "AWS"):
            found += [Policy(a.arn, aws=a) for a in catalog().values()]
        if scope in ("All", "Local"):
            found += [
                Policy(doc["Arn"], doc=doc)
                for _, doc in tx.scan(records.POLICIES, prefix=op.account + "|")
            ]
        shown = [view(tx, op.account, f, full=False) for f in found]
    shown = [s for s in shown if s["Path"].startswith(prefix)]
    if p.get("OnlyAttached"):
        shown = [s for s in shown if s["AttachmentCount"] > 0]
    shown.sort(key=_position)
    return paging.page(p, shown, _position, "Policies")


@action("DeletePolicy")
def delete_policy(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = p["PolicyArn"]
    with op.store.transaction() as tx:
        doc = must_local(tx, op.account, arn)
        if attachments(tx, op.account, arn):
            raise errors.conflict("Cannot delete a policy attached to entities.")
        k = records.name_key(op.account, doc["PolicyName"])
        if tx.count(records.VERSIONS, prefix=k + "|") > 1:
            raise errors.conflict(
                "This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy."
            )
        tx.delete(records.VERSIONS, f"{k}|{doc['DefaultVersionId']}")
        tx.delete(records.POLICIES, k)
    return {}

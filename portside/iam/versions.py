"""Managed policy versions: CreatePolicyVersion (five at most), GetPolicyVersion,
ListPolicyVersions, DeletePolicyVersion (never the default), SetDefaultPolicyVersion.
An AWS managed policy shows its one published version."""

from __future__ import annotations

from typing import Any

from portside.iam import documents, errors, paging, records
from portside.iam.operations import action
from portside.iam.policies import Policy, identity_document, must, must_local
from portside.ops.context import Op
from portside.store.base import Tx

MAX_VERSIONS = 5


def _versions(tx: Tx, account: str, policy: Policy) -> list[dict[str, Any]]:
    """Every version of `policy`, newest first, as ListPolicyVersions shows them."""
    if policy.aws is not None:
        aws = policy.aws
        return [{"VersionId": aws.version, "IsDefaultVersion": True, "CreateDate": aws.date}]
    assert policy.doc is not None
    prefix = records.name_key(account, policy.doc["PolicyName"]) + "|"
    rows = [doc for _, doc in tx.scan(records.VERSIONS, prefix=prefix)]
    rows.sort(key=lambda d: -int(d["VersionId"][1:]))
    default = policy.doc["DefaultVersionId"]
    return [
        {"VersionId": d["VersionId"], "IsDefaultVersion": d["VersionId"] == default,
         "CreateDate": d["CreateDate"]}
        for d in rows
    ]  # fmt: skip


def text_of(tx: Tx, account: str, policy: Policy, version: str) -> str | None:
    """The document text of one version of `policy`, or None."""
    if policy.aws is not None:
        return policy.aws.text if version == policy.aws.version else None
    assert policy.doc is not None
    row = tx.get(
        records.VERSIONS, f"{records.name_key(account, policy.doc['PolicyName'])}|{version}"
    )
    return None if row is None else str(row["Document"])


@action("CreatePolicyVersion")
def create_policy_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    text = identity_document(p["PolicyDocument"])
    now = op.now()
    with op.store.transaction() as tx:
        doc = must_local(tx, op.account, p["PolicyArn"])
        k = records.name_key(op.account, doc["PolicyName"])
        if tx.count(records.VERSIONS, prefix=k + "|") >= MAX_VERSIONS:
            raise errors.limit(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                "new version, you must delete an existing version."
            )
        version = f"v{doc['_Next']}"
        doc["_Next"] += 1
        tx.put(records.VERSIONS, f"{k}|{version}", {"VersionId": version, "Document": text,
                                                     "CreateDate": now})  # fmt: skip
        if p.get("SetAsDefault"):
            doc["DefaultVersionId"] = version
        doc["UpdateDate"] = now
        tx.put(records.POLICIES, k, doc)
    out = {"VersionId": version, "IsDefaultVersion": doc["DefaultVersionId"] == version,
           "CreateDate": now}  # fmt: skip
    return {"PolicyVersion": out}


@action("GetPolicyVersion")
def get_policy_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn, version = p["PolicyArn"], p["VersionId"]
    with op.store.read() as tx:
        policy = must(tx, op.account, arn)
        text = text_of(tx, op.account, policy, version)
        listed = {v["VersionId"]: v for v in _versions(tx, op.account, policy)}
    if text is None or version not in listed:
        raise errors.no_such(f"Policy {arn} version {version} does not exist or is not attachable.")
    return {"PolicyVersion": {**listed[version], "Document": documents.encode(text)}}


@action("ListPolicyVersions")
def list_policy_versions(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        policy = must(tx, op.account, p["PolicyArn"])
        rows = _versions(tx, op.account, policy)
    return paging.page(p, rows, lambda v: f"{10**9 - int(v['VersionId'][1:]):010d}", "Versions")


@action("DeletePolicyVersion")
def delete_policy_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn, version = p["PolicyArn"], p["VersionId"]
    with op.store.transaction() as tx:
        doc = must_local(tx, op.account, arn)
        if version == doc["DefaultVersionId"]:
            raise errors.conflict("Cannot delete the default version of a policy.")
        k = records.name_key(op.account, doc["PolicyName"])
        if not tx.delete(records.VERSIONS, f"{k}|{version}"):
            raise errors.no_such(f"Policy {arn} version {version} does not exist.")
    return {}


@action("SetDefaultPolicyVersion")
def set_default_policy_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn, version = p["PolicyArn"], p["VersionId"]
    with op.store.transaction() as tx:
        doc = must_local(tx, op.account, arn)
        k = records.name_key(op.account, doc["PolicyName"])
        if tx.get(records.VERSIONS, f"{k}|{version}") is None:
            raise errors.no_such(f"Policy {arn} version {version} does not exist.")
        doc["DefaultVersionId"] = version
        doc["UpdateDate"] = op.now()
        tx.put(records.POLICIES, k, doc)
    return {}

"""The values of secrets: GetSecretValue, BatchGetSecretValue, PutSecretValue,
ListSecretVersionIds and UpdateSecretVersionStage.

Reading a value notes the day it was read (LastAccessedDate, kept to the day as AWS keeps it)
on the secret and the version; that write happens only on a version's first read of the day,
in a transaction of its own after the read.
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import errors, listing, records, sealing, stages, versions
from portside.secretsmanager.operations import action
from portside.secretsmanager.records import CURRENT, SECRETS, VERSIONS, version_key
from portside.secretsmanager.secrets import value_of
from portside.store.base import Document, Tx

Access = tuple[str, str]  # (secret ARN, version id) read


def read(
    op: Op, tx: Tx, doc: Document, version_id: str | None = None, stage: str | None = None
) -> tuple[dict[str, Any], Access | None]:
    """GetSecretValue's answer for the version `version_id` and/or `stage` (AWSCURRENT when
    neither is given), and the access to note when this is the version's first read today."""
    entries = doc["Versions"]
    if version_id is not None:
        if version_id not in entries:
            raise errors.value_not_found(version_id, None)
        if stage is not None and stage not in entries[version_id]["Stages"]:
            raise errors.invalid_request(
                f"The staging label {stage} isn't attached to the version {version_id}."
            )
    else:
        stage = stage or CURRENT
        version_id = stages.holder(entries, stage)
        if version_id is None:
            raise errors.value_not_found(None, stage)
    held = tx.get(VERSIONS, version_key(doc["ARN"], version_id))
    if held is None:
        raise errors.value_not_found(version_id, None)
    value = sealing.unseal(op, tx, doc["ARN"], held)
    out = {
        "ARN": doc["ARN"],
        "Name": doc["Name"],
        "VersionId": version_id,
        **value.wire(),
        "VersionStages": list(entries[version_id]["Stages"]),
        "CreatedDate": held["CreatedDate"],
    }
    today = records.day_of(op.now())
    fresh = held.get("LastAccessedDate") != today or doc.get("LastAccessedDate") != today
    return out, ((doc["ARN"], version_id) if fresh else None)


def note(op: Op, accesses: list[Access]) -> None:
    """Record today as the last access of these secrets and versions."""
    if not accesses:
        return
    today = records.day_of(op.now())
    with op.store.transaction() as tx:
        for arn, version_id in accesses:
            for table, key in ((SECRETS, arn), (VERSIONS, version_key(arn, version_id))):
                doc = tx.get(table, key)
                if doc is not None and doc.get("LastAccessedDate") != today:
                    doc["LastAccessedDate"] = today
                    tx.put(table, key, doc)


@action("GetSecretValue")
def get_secret_value(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = records.get(op, tx, p["SecretId"])
        out, access = read(op, tx, doc, p.get("VersionId"), p.get("VersionStage"))
    note(op, [access] if access else [])
    return out


@action("BatchGetSecretValue")
def batch_get_secret_value(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ids, wanted = p.get("SecretIdList"), p.get("Filters")
    if (ids is None) == (wanted is None):
        raise errors.invalid_parameter(
            "You must specify either SecretIdList or Filters, but not both."
        )
    found: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    accesses: list[Access] = []
    token = None
    with op.store.read() as tx:
        if wanted is not None:
            docs, token = listing.page(
                listing.select(op, tx, wanted), p.get("MaxResults") or 20, p.get("NextToken")
            )
            targets: list[tuple[str, Document | None]] = [(d["ARN"], d) for d in docs]
        else:
            targets = [(secret_id, None) for secret_id in ids or []]
        for secret_id, doc in targets:
            try:
                out, access = read(op, tx, doc or records.get(op, tx, secret_id))
            except NamedError as e:
                failed.append({"SecretId": secret_id, "ErrorCode": e.code, "Message": e.message})
                continue
            found.append(out)
            if access:
                accesses.append(access)
    note(op, accesses)
    reply: dict[str, Any] = {"SecretValues": found, "Errors": failed}
    if token:
        reply["NextToken"] = token
    return reply


@action("PutSecretValue")
def put_secret_value(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    value = value_of(p)
    if value is None:
        raise errors.invalid_parameter("You must provide either SecretString or SecretBinary.")
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        version_id = versions.new_id(op, p.get("ClientRequestToken"))
        labels = versions.add(op, tx, doc, value, version_id, p.get("VersionStages") or [CURRENT])
        records.save(op, tx, doc)
    return {
        "ARN": doc["ARN"],
        "Name": doc["Name"],
        "VersionId": version_id,
        "VersionStages": labels,
    }


@action("ListSecretVersionIds")
def list_secret_version_ids(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = records.get(op, tx, p["SecretId"], deleted=True)
        shown = [
            vid for vid, v in doc["Versions"].items() if v["Stages"] or p.get("IncludeDeprecated")
        ]
        after = p.get("NextToken")
        if after is not None:
            if after not in shown:
                raise listing.invalid_token()
            shown = shown[shown.index(after) + 1 :]
        size = p.get("MaxResults") or 100
        more = len(shown) > size
        shown = shown[:size]
        entries = [
            _version_entry(doc, vid, tx.get(VERSIONS, version_key(doc["ARN"], vid)))
            for vid in shown
        ]
    out: dict[str, Any] = {"Versions": entries, "ARN": doc["ARN"], "Name": doc["Name"]}
    if more:
        out["NextToken"] = shown[-1]
    return out


def _version_entry(doc: Document, vid: str, held: Document | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"VersionId": vid}
    if doc["Versions"][vid]["Stages"]:
        entry["VersionStages"] = list(doc["Versions"][vid]["Stages"])
    if held is not None and "LastAccessedDate" in held:
        entry["LastAccessedDate"] = held["LastAccessedDate"]
    entry["CreatedDate"] = doc["Versions"][vid]["CreatedDate"]
    if held is not None:
        entry["KmsKeyIds"] = sealing.key_ids(held)
    return entry


@action("UpdateSecretVersionStage")
def update_secret_version_stage(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        stages.move(
            doc["Versions"],
            p["VersionStage"],
            p.get("MoveToVersionId"),
            p.get("RemoveFromVersionId"),
        )
        records.save(op, tx, doc)
    return {"ARN": doc["ARN"], "Name": doc["Name"]}

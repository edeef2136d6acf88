"""CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret and RestoreSecret."""

from __future__ import annotations

from typing import Any

from portside.ops.context import Op
from portside.secretsmanager import errors, names, records, versions
from portside.secretsmanager.operations import action
from portside.secretsmanager.records import CURRENT, DAY, SECRETS
from portside.secretsmanager.sealing import Value
from portside.store.base import Document, Tx

DEFAULT_RECOVERY_DAYS = 30


def value_of(p: dict[str, Any]) -> Value | None:
    """The request's SecretString or SecretBinary; never both."""
    if "SecretString" in p and "SecretBinary" in p:
        raise errors.invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the "
            "same secret."
        )
    return Value.of(p)


@action("CreateSecret")
def create(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["Name"]
    names.check_name(name)
    value = value_of(p)
    if p.get("AddReplicaRegions"):
        raise errors.invalid_request("Portside does not replicate secrets to other Regions.")
    token = p.get("ClientRequestToken")
    with op.store.transaction() as tx:
        held = records.by_name(op, tx, name)
        if held is not None:
            return _again(op, tx, held, value, token)
        for _, gone in tx.scan(
            SECRETS, prefix=names.base(op.region, op.account), where={"name": name}
        ):
            records.purge(tx, gone)  # past its deletion date: its name is free again
        now = op.now()
        doc: Document = {
            "ARN": names.new_arn(op.region, op.account, name, op.world.rng),
            "Name": name,
            **{k: p[k] for k in ("Description", "Type") if k in p},
            **({"KmsKeyId": p["KmsKeyId"]} if p.get("KmsKeyId") else {}),
            "Tags": p.get("Tags") or [],
            "LastChangedDate": now,
            "CreatedDate": now,
            "Versions": {},
        }
        out = {"ARN": doc["ARN"], "Name": name}
        if value is not None:
            out["VersionId"] = versions.new_id(op, token)
            versions.add(op, tx, doc, value, out["VersionId"], [CURRENT])
        tx.put(SECRETS, doc["ARN"], doc)
    return out


def _again(
    op: Op, tx: Tx, held: Document, value: Value | None, token: str | None
) -> dict[str, Any]:
    """CreateSecret over an existing name: the same request made again (its token names a
    version holding the same value) answers as the first did; anything else is refused."""
    if "DeletedDate" in held:
        raise errors.invalid_request(
            "You can't create this secret because a secret with this name is already "
            "scheduled for deletion."
        )
    if value is None or token is None or token not in held["Versions"]:
        raise errors.exists(
            f"The operation failed because the secret {held['Name']} already exists."
        )
    versions.add(op, tx, held, value, token, [CURRENT])
    return {"ARN": held["ARN"], "Name": held["Name"], "VersionId": token}


@action("DescribeSecret")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        return records.wire(records.get(op, tx, p["SecretId"], deleted=True))


@action("UpdateSecret")
def update(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    value = value_of(p)
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"])
        for member in ("Description", "Type"):
            if member in p:
                doc[member] = p[member]
        if "KmsKeyId" in p and (p["KmsKeyId"] or None) != doc.get("KmsKeyId"):
            if p["KmsKeyId"]:
                doc["KmsKeyId"] = p["KmsKeyId"]
            else:
                doc.pop("KmsKeyId", None)  # "": back to aws/secretsmanager
            versions.reseal(op, tx, doc)
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if value is not None:
            out["VersionId"] = versions.new_id(op, p.get("ClientRequestToken"))
            versions.add(op, tx, doc, value, out["VersionId"], [CURRENT])
        records.save(op, tx, doc)
    return out


@action("DeleteSecret")
def delete(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    window = p.get("RecoveryWindowInDays")
    force = bool(p.get("ForceDeleteWithoutRecovery"))
    if force and window is not None:
        raise errors.invalid_parameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
        )
    if window is not None and not 7 <= window <= 30:
        raise errors.invalid_parameter(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
        )
    with op.store.transaction() as tx:
        now = op.now()
        held = records.find(op, tx, p["SecretId"])
        if held is None and force:
            # AWS answers a forced deletion of a secret it does not hold as done.
            return {**_named(op, p["SecretId"]), "DeletionDate": now}
        doc = records.get(op, tx, p["SecretId"], deleted=True)
        out = {"ARN": doc["ARN"], "Name": doc["Name"]}
        if force:
            records.purge(tx, doc)
            return {**out, "DeletionDate": now}
        if "DeletedDate" in doc:
            raise errors.invalid_request(errors.CURRENTLY_DELETED)
        doc["DeletedDate"] = now
        doc["DeletionDate"] = now + (window or DEFAULT_RECOVERY_DAYS) * DAY
        records.save(op, tx, doc)
    return {**out, "DeletionDate": doc["DeletionDate"]}


def _named(op: Op, secret_id: str) -> dict[str, str]:
    """The ARN and name a SecretId would have."""
    if secret_id.startswith("arn:"):
        return {"ARN": secret_id, "Name": secret_id.split(":secret:", 1)[-1]}
    return {"ARN": names.new_arn(op.region, op.account, secret_id, op.world.rng), "Name": secret_id}


@action("RestoreSecret")
def restore(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        doc = records.get(op, tx, p["SecretId"], deleted=True)
        if "DeletedDate" in doc:
            del doc["DeletedDate"], doc["DeletionDate"]
            records.save(op, tx, doc)
    return {"ARN": doc["ARN"], "Name": doc["Name"]}

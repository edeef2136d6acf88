"""Where Secrets Manager keeps secrets, and what the operations share to read them.

`sm_secrets`: one document per secret ARN, its name indexed (a SecretId that is a name or a
partial ARN is one lookup). The document holds what DescribeSecret shows plus what it never
shows (`_PRIVATE`): `Versions` (version id -> its CreatedDate and staging labels, in creation
order: the one truth about labels), the resource policy, and `DeletionDate`, when a secret
scheduled for deletion is gone.

`sm_secret_versions`: one document per version under `SECRET_ARN|VERSION_ID`: the value,
only ever sealed by KMS (`sealing.py`), its created and last-accessed dates.

A secret whose DeletionDate has passed no longer exists: every read treats it as absent
(`live`), so no loop has to honour the date; a write that meets it (CreateSecret under its
name, DeleteSecret) removes it with its versions.
"""

from __future__ import annotations

from typing import Any

from portside.ops.context import Op
from portside.secretsmanager import errors, names
from portside.store.base import Document, Store, Tx

SECRETS = "sm_secrets"
VERSIONS = "sm_secret_versions"
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"
_PRIVATE = frozenset({"Versions", "ResourcePolicy", "DeletionDate"})
DAY = 86400.0


def version_key(arn: str, version_id: str) -> str:
    return f"{arn}|{version_id}"


def live(doc: Document | None, now: float) -> Document | None:
    """The secret unless its deletion date has passed (then it no longer exists)."""
    if doc is None:
        return None
    due = doc.get("DeletionDate")
    return None if due is not None and due <= now else doc


def find(op: Op, tx: Tx, secret_id: str) -> Document | None:
    """The live secret a SecretId (name, ARN or partial ARN) names, or None."""
    arn, name = names.parse_id(secret_id, op.region, op.account)
    if arn is not None:
        doc = live(tx.get(SECRETS, arn), op.now())
        if doc is not None:
            return doc
    if name is None:
        return None
    return by_name(op, tx, name)


def by_name(op: Op, tx: Tx, name: str) -> Document | None:
    prefix = names.base(op.region, op.account)
    for _, doc in tx.scan(SECRETS, prefix=prefix, where={"name": name}):
        if live(doc, op.now()) is not None:
            return doc
    return None


def get(op: Op, tx: Tx, secret_id: str, *, deleted: bool = False) -> Document:
    """The secret; ResourceNotFoundException when there is none, InvalidRequestException
    when it is scheduled for deletion unless `deleted` (the operation works on those)."""
    doc = find(op, tx, secret_id)
    if doc is None:
        raise errors.not_found()
    if not deleted and "DeletedDate" in doc:
        raise errors.invalid_request(errors.MARKED_FOR_DELETION)
    return doc


def save(op: Op, tx: Tx, doc: Document, *, changed: bool = True) -> None:
    if changed:
        doc["LastChangedDate"] = op.now()
    tx.put(SECRETS, doc["ARN"], doc)


def purge(tx: Tx, doc: Document) -> None:
    """Remove a secret and its versions for good."""
    for key, *_ in tx.index(VERSIONS, prefix=doc["ARN"] + "|"):
        tx.delete(VERSIONS, key)
    tx.delete(SECRETS, doc["ARN"])


def purge_expired(store: Store, now: float) -> int:
    """Remove for good the secrets whose recovery window has ended (AWS deletes them then);
    how many. A read already treats them as gone; this frees their storage."""
    with store.read() as tx:
        due = [
            key
            for key, doc in tx.scan(SECRETS)
            if doc.get("DeletionDate") is not None and doc["DeletionDate"] <= now
        ]
    removed = 0
    for key in due:
        with store.transaction() as tx:
            doc = tx.get(SECRETS, key)
            if doc is not None and live(doc, now) is None:
                purge(tx, doc)
                removed += 1
    return removed


def stages_map(doc: Document) -> dict[str, list[str]]:
    """Version id -> staging labels, of the versions that have any."""
    return {vid: v["Stages"] for vid, v in doc["Versions"].items() if v["Stages"]}


def wire(doc: Document, stages_member: str = "VersionIdsToStages") -> dict[str, Any]:
    """A secret as DescribeSecret (or, with "SecretVersionsToStages", ListSecrets) shows it."""
    out = {k: v for k, v in doc.items() if k not in _PRIVATE}
    if not out.get("Tags"):
        out.pop("Tags", None)
    staged = stages_map(doc)
    if staged:
        out[stages_member] = staged
    return out


def day_of(instant: float) -> float:
    """Midnight UTC of the day `instant` falls in: AWS keeps LastAccessedDate to the day."""
    return instant - instant % DAY

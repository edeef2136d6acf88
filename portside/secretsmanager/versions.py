"""A secret's versions: a value added as a new version (or found again when its
ClientRequestToken already made it), old deprecated versions dropped, and the labelled versions
sealed again when the secret's key changes."""

from __future__ import annotations

from portside.errors import NamedError
from portside.ops.context import Op
from portside.secretsmanager import errors, names, sealing, stages
from portside.secretsmanager.records import CURRENT, DAY, PENDING, PREVIOUS, VERSIONS, version_key
from portside.secretsmanager.sealing import Value
from portside.store.base import Document, Tx

MAX_VERSIONS = 100  # AWS removes deprecated versions past this many, once a day old
_RESEALED = frozenset({CURRENT, PENDING, PREVIOUS})


def new_id(op: Op, token: str | None) -> str:
    """The id of a new version: the request's ClientRequestToken, else a fresh uuid."""
    return token or names.version_id(op.world.new_id())


def add(
    op: Op, tx: Tx, doc: Document, value: Value, version_id: str, labels: list[str]
) -> list[str]:
    """Add `value` to secret `doc` as version `version_id` with `labels`; the labels the
    version ends with. A version of that id that holds the same value is the request made
    again: nothing changes. One that holds another value is ResourceExistsException."""
    arn = doc["ARN"]
    versions = doc["Versions"]
    if version_id in versions:
        held = tx.get(VERSIONS, version_key(arn, version_id))
        if held is None or sealing.unseal(op, tx, arn, held) != value:
            raise errors.version_exists()
        return list(versions[version_id]["Stages"])
    now = op.now()
    copy = sealing.seal(op, tx, doc.get("KmsKeyId"), arn, version_id, value)
    tx.put(
        VERSIONS,
        version_key(arn, version_id),
        {"VersionId": version_id, "CreatedDate": now, "Sealed": [copy]},
    )
    versions[version_id] = {"CreatedDate": now, "Stages": []}
    stages.attach(versions, version_id, labels)
    _prune(tx, doc, now)
    return list(versions[version_id]["Stages"])


def _prune(tx: Tx, doc: Document, now: float) -> None:
    versions = doc["Versions"]
    excess = len(versions) - MAX_VERSIONS
    for vid in stages.deprecated(versions):
        if excess <= 0:
            break
        if versions[vid]["CreatedDate"] <= now - DAY:
            tx.delete(VERSIONS, version_key(doc["ARN"], vid))
            del versions[vid]
            excess -= 1


def reseal(op: Op, tx: Tx, doc: Document) -> None:
    """After the secret's key changed: seal its AWSCURRENT, AWSPENDING and AWSPREVIOUS
    versions under the new key as well, keeping the copies under the old one. A version that
    does not open is left as it is, as AWS leaves one it cannot decrypt."""
    arn = doc["ARN"]
    for vid, entry in doc["Versions"].items():
        if not _RESEALED & set(entry["Stages"]):
            continue
        held = tx.get(VERSIONS, version_key(arn, vid))
        if held is None:
            continue
        try:
            value = sealing.unseal(op, tx, arn, held)
        except NamedError:
            continue
        copy = sealing.seal(op, tx, doc.get("KmsKeyId"), arn, vid, value)
        held["Sealed"] = [copy] + [c for c in held["Sealed"] if c["KmsKeyId"] != copy["KmsKeyId"]]
        tx.put(VERSIONS, version_key(arn, vid), held)

"""A key's life: CreateKey, DescribeKey, ListKeys, EnableKey/DisableKey and
ScheduleKeyDeletion/CancelKeyDeletion.

Portside makes symmetric encryption keys only (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, origin
AWS_KMS, single-Region); any other kind is refused as unsupported rather than half made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.errors import NamedError, ValidationException
from portside.kms import guards, lookup, master, paging, records, tagging
from portside.kms.operations import action
from portside.kms.policy import check_policy, default_policy
from portside.ops.context import Op
from portside.store.base import Document

DAY = 86400.0
SYMMETRIC = "SYMMETRIC_DEFAULT"
WINDOW = (7, 30)  # ScheduleKeyDeletion's PendingWindowInDays, 30 when not given


def unsupported(message: str) -> NamedError:
    return NamedError("UnsupportedOperationException", message)


def _check_kind(p: dict[str, Any]) -> None:
    if p.get("KeySpec") and p.get("CustomerMasterKeySpec"):
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or SYMMETRIC
    if spec != SYMMETRIC:
        raise unsupported(f"KeySpec {spec} is not supported: Portside makes {SYMMETRIC} keys")
    usage = p.get("KeyUsage") or "ENCRYPT_DECRYPT"
    if usage != "ENCRYPT_DECRYPT":
        raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
    if (p.get("Origin") or "AWS_KMS") != "AWS_KMS":
        raise unsupported(f"Origin {p['Origin']} is not supported: Portside makes AWS_KMS keys")
    if p.get("MultiRegion"):
        raise unsupported("Multi-Region keys are not supported by Portside")
    if p.get("CustomKeyStoreId"):
        raise NamedError(
            "CustomKeyStoreNotFoundException",
            f"Custom key store '{p['CustomKeyStoreId']}' does not exist",
        )


@action("CreateKey")
def create_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    _check_kind(p)
    policy = p.get("Policy")
    if policy is not None:
        check_policy(policy)
    tags = tagging.checked(p.get("Tags") or [], [])
    with op.store.transaction() as tx:
        doc = records.new_key(
            op,
            tx,
            master.of(op.world),
            description=p.get("Description") or "",
            manager="CUSTOMER",
            policy=policy or default_policy(op.account),
            tags=tags,
        )
    return {"KeyMetadata": records.metadata(doc)}


@action("DescribeKey")
def describe_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    lookup.ensure_managed(op, p["KeyId"])
    with op.store.read() as tx:
        return {"KeyMetadata": records.metadata(lookup.find(op, tx, p["KeyId"]))}


@action("ListKeys")
def list_keys(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    now = op.now()
    with op.store.read() as tx:
        rows = tx.scan(
            records.KEYS, prefix=records.key_prefix(op.region, op.account), after=paging.after(p)
        )
        keys = ({"KeyId": d["KeyId"], "KeyArn": d["Arn"]} for _, d in rows if records.live(d, now))
        return paging.page(p, keys, lambda k: k["KeyArn"], "Keys")


def _state(enabled: bool) -> Callable[[Document], None]:
    return lambda doc: doc.update(Enabled=enabled, KeyState="Enabled" if enabled else "Disabled")


@action("EnableKey")
def enable_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    guards.change_key(op, p["KeyId"], "EnableKey", _state(True))
    return {}


@action("DisableKey")
def disable_key(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    guards.change_key(op, p["KeyId"], "DisableKey", _state(False))
    return {}


def _window(p: dict[str, Any]) -> int:
    days = p.get("PendingWindowInDays")
    if days is None:
        return WINDOW[1]
    low, high = WINDOW
    if not low <= days <= high:
        bound = f"greater than or equal to {low}" if days < low else f"less than or equal to {high}"
        raise ValidationException(
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )
    return int(days)


@action("ScheduleKeyDeletion")
def schedule_key_deletion(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    days = _window(p)
    due = op.now() + days * DAY
    doc = guards.change_key(
        op,
        p["KeyId"],
        "ScheduleKeyDeletion",
        lambda doc: doc.update(
            Enabled=False, KeyState="PendingDeletion", DeletionDate=due, PendingWindowInDays=days
        ),
    )
    return {
        "KeyId": doc["Arn"],
        "DeletionDate": doc["DeletionDate"],
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }


@action("CancelKeyDeletion")
def cancel_key_deletion(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    # A key whose deletion is cancelled comes back disabled, as in KMS.
    doc = guards.change_key(
        op, p["KeyId"], "CancelKeyDeletion", _cancelled, state=_pending_deletion
    )
    return {"KeyId": doc["Arn"]}


def _pending_deletion(doc: Document) -> None:
    if doc["KeyState"] != "PendingDeletion":
        raise NamedError("KMSInvalidStateException", f"{doc['Arn']} is not pending deletion.")


def _cancelled(doc: Document) -> None:
    doc.pop("DeletionDate", None)
    doc.pop("PendingWindowInDays", None)
    doc.update(Enabled=False, KeyState="Disabled")

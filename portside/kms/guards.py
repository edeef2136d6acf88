"""What KMS refuses to do to a key whatever the request: change an AWS managed key (its
policy grants the account no such action), or act on a key in the wrong state; and the one
way a key's document is changed (`change_key`)."""

from __future__ import annotations

from collections.abc import Callable

from portside.errors import AccessDeniedException
from portside.kms import lookup, records
from portside.ops.context import Op
from portside.store.base import Document


def customer_managed(op: Op, doc: Document, action: str) -> None:
    """AWS managed keys are read and used, never managed, by their account."""
    if doc["KeyManager"] == "AWS":
        raise AccessDeniedException(
            f"User: {op.caller.principal_arn} is not authorized to perform: kms:{action} on "
            f"resource: {doc['Arn']} because no resource-based policy allows the "
            f"kms:{action} action"
        )


def not_pending_deletion(doc: Document) -> None:
    if doc["KeyState"] == "PendingDeletion":
        raise records.invalid_state(doc)


def usable(doc: Document) -> None:
    """Enabled: DisabledException for a disabled key, KMSInvalidStateException otherwise."""
    records.check_usable(doc)


def any_state(doc: Document) -> None:
    """No state keeps the change from the key."""


def change_key(
    op: Op,
    ref: str,
    action: str,
    change: Callable[[Document], object],
    *,
    state: Callable[[Document], None] = not_pending_deletion,
) -> Document:
    """In one transaction: the customer managed key `ref` names (key id or ARN), its state
    checked by `state`, changed in place by `change`, saved; the document as saved."""
    with op.store.transaction() as tx:
        doc = lookup.find(op, tx, ref, aliases=False)
        customer_managed(op, doc, action)
        state(doc)
        change(doc)
        tx.put(records.KEYS, doc["Arn"], doc)
    return doc

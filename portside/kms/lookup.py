"""A key as a request names it: key id, key ARN, alias name or alias ARN, in the caller's
account and region, in KMS's words when it is not there."""

from __future__ import annotations

from portside.errors import NamedError
from portside.kms import managed, master, records
from portside.kms.master import MasterKey
from portside.ops.context import Op
from portside.store.base import Document, Tx


def invalid_key_id(ref: str) -> NamedError:
    return NamedError("NotFoundException", f"Invalid keyId '{ref}'")


def alias_missing(arn: str) -> NamedError:
    return NamedError("NotFoundException", f"Alias {arn} is not found.")


def find(
    op: Op, tx: Tx, ref: str, *, create_with: MasterKey | None = None, aliases: bool = True
) -> Document:
    """The key `ref` names. An AWS managed alias whose key does not exist yet gets its key
    when `create_with` is given (the caller's transaction must be able to write), else
    NotFoundException as for any missing alias. `aliases=False`: the operation takes a key
    id or key ARN only."""
    if ref.startswith("arn:"):
        parsed = records.parse_arn(ref)
        if parsed is None or (parsed[2] == "alias" and not aliases):
            raise NamedError("NotFoundException", f"Invalid arn {ref}")
        region, account, kind, rest = parsed
        if (region, account) != (op.region, op.account):
            # Only this account and region's keys are held here.
            raise records.not_found_key(ref) if kind == "key" else alias_missing(ref)
        if kind == "key":
            return _key(op, tx, rest)
        return _by_alias(op, tx, "alias/" + rest, create_with)
    if ref.startswith("alias/") and aliases:
        return _by_alias(op, tx, ref, create_with)
    if not records.KEY_ID.match(ref):
        raise invalid_key_id(ref)
    return _key(op, tx, ref)


def _key(op: Op, tx: Tx, key_id: str) -> Document:
    arn = records.key_arn(op, key_id)
    doc = records.live(tx.get(records.KEYS, arn), op.now())
    if doc is None:
        raise records.not_found_key(arn)
    return doc


def _by_alias(op: Op, tx: Tx, name: str, create_with: MasterKey | None) -> Document:
    arn = records.alias_arn(op, name)
    alias = tx.get(records.ALIASES, arn)
    if alias is not None:
        target = records.key_arn(op, alias["TargetKeyId"])
        doc = records.live(tx.get(records.KEYS, target), op.now())
        if doc is not None:
            return doc
    if name in managed.MANAGED and create_with is not None:
        return managed.create(op, tx, create_with, name)
    raise alias_missing(arn)


def managed_name(op: Op, ref: str) -> str | None:
    """The AWS managed alias `ref` names (by name or by ARN in the caller's account and
    region), if it names one."""
    if ref.startswith("arn:"):
        parsed = records.parse_arn(ref)
        if parsed is None or parsed[:3] != (op.region, op.account, "alias"):
            return None
        ref = "alias/" + parsed[3]
    return ref if ref in managed.MANAGED else None


def ensure_managed(op: Op, ref: str) -> None:
    """Make the AWS managed key `ref` names if it does not exist yet (its own transaction),
    so that a read naming it finds it; nothing for any other reference."""
    name = managed_name(op, ref)
    if name is None:
        return
    arn = records.alias_arn(op, name)
    with op.store.read() as tx:
        if tx.get(records.ALIASES, arn) is not None:
            return
    with op.store.transaction() as tx:
        if tx.get(records.ALIASES, arn) is None:
            managed.create(op, tx, master.of(op.world), name)

"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

An alias names one customer managed key of its account and region; `alias/aws/` is
reserved for AWS managed keys, whose aliases ListAliases shows from the start (without a
target until their key is made, as KMS does). An alias whose key has been deleted is gone
with it.
"""

from __future__ import annotations

from typing import Any

from portside.errors import AccessDeniedException, NamedError, ValidationException
from portside.kms import guards, lookup, managed, paging, records
from portside.kms.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx


def _check_name(op: Op, name: str, operation: str) -> None:
    if not name.startswith("alias/"):
        raise ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if not name.startswith(managed.RESERVED):
        return
    if operation == "CreateAlias":
        raise NamedError(
            "InvalidAliasNameException",
            f"Alias {name} cannot begin with {managed.RESERVED}: the prefix is reserved for "
            "AWS managed keys.",
        )
    # An AWS managed key's aliases are AWS's: its policy lets the account change nothing.
    raise AccessDeniedException(
        f"User: {op.caller.principal_arn} is not authorized to perform: kms:{operation} on "
        f"resource: {records.alias_arn(op, name)}"
    )


def _target(op: Op, tx: Tx, ref: str, name: str) -> Document:
    """The key an alias is to name: a customer managed key not pending deletion, named by
    key id or key ARN."""
    if ref.startswith("alias/") or ":alias/" in ref:
        raise ValidationException("Aliases must refer to keys. Not aliases")
    doc = lookup.find(op, tx, ref, aliases=False)
    guards.customer_managed(op, doc, name)
    guards.not_pending_deletion(doc)
    return doc


def _held(op: Op, tx: Tx, arn: str) -> Document | None:
    """The alias stored under `arn`, unless its key is gone."""
    alias = tx.get(records.ALIASES, arn)
    if alias is None:
        return None
    key = tx.get(records.KEYS, records.key_arn(op, alias["TargetKeyId"]))
    return alias if records.live(key, op.now()) else None


@action("CreateAlias")
def create_alias(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    name = p["AliasName"]
    _check_name(op, name, "CreateAlias")
    arn = records.alias_arn(op, name)
    with op.store.transaction() as tx:
        key = _target(op, tx, p["TargetKeyId"], "CreateAlias")
        if _held(op, tx, arn) is not None:
            raise NamedError(
                "AlreadyExistsException", f"An alias with the name {arn} already exists"
            )
        now = op.now()
        tx.put(
            records.ALIASES,
            arn,
            {
                "AliasName": name,
                "AliasArn": arn,
                "TargetKeyId": key["KeyId"],
                "CreationDate": now,
                "LastUpdatedDate": now,
            },
        )
    return {}


def _existing(op: Op, tx: Tx, name: str, action: str) -> Document:
    """The alias `name` an UpdateAlias or DeleteAlias acts on."""
    _check_name(op, name, action)
    alias = _held(op, tx, records.alias_arn(op, name))
    if alias is None:
        raise lookup.alias_missing(records.alias_arn(op, name))
    return alias


@action("UpdateAlias")
def update_alias(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        alias = _existing(op, tx, p["AliasName"], "UpdateAlias")
        key = _target(op, tx, p["TargetKeyId"], "UpdateAlias")
        alias.update(TargetKeyId=key["KeyId"], LastUpdatedDate=op.now())
        tx.put(records.ALIASES, alias["AliasArn"], alias)
    return {}


@action("DeleteAlias")
def delete_alias(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.transaction() as tx:
        tx.delete(records.ALIASES, _existing(op, tx, p["AliasName"], "DeleteAlias")["AliasArn"])
    return {}


@action("ListAliases")
def list_aliases(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    prefix = records.alias_prefix(op.region, op.account)
    with op.store.read() as tx:
        where = None
        if p.get("KeyId"):
            where = {"target": lookup.find(op, tx, p["KeyId"], aliases=False)["KeyId"]}
        shown = {
            a["AliasName"]: a
            for key, a in tx.scan(records.ALIASES, prefix=prefix, where=where)
            if _held(op, tx, key) is not None
        }
    if where is None:
        for name in managed.MANAGED:
            shown.setdefault(name, {"AliasName": name, "AliasArn": prefix + name[6:]})
    ordered = [shown[name] for name in sorted(shown)]
    return paging.page(p, ordered, lambda a: a["AliasName"], "Aliases")

"""What users, groups and roles share: finding one (IAM's NoSuchEntity), making one (its
EntityAlreadyExists), listing them by path, and moving what hangs off one when it is renamed.
"""

from __future__ import annotations

from typing import Any

from portside.iam import errors, records
from portside.iam.records import Kind
from portside.store.base import Document, Tx

_NOT_FOUND = {
    "user": "The user with name {} cannot be found.",
    "group": "The group with name {} cannot be found.",
    "role": "The role with name {} cannot be found.",
}
_EXISTS = {
    "user": "User with name {} already exists.",
    "group": "Group with name {} already exists.",
    "role": "Role with name {} already exists.",
}


def must(tx: Tx, account: str, kind: Kind, name: str) -> Document:
    doc = records.entity(tx, account, kind, name)
    if doc is None:
        raise errors.no_such(_NOT_FOUND[kind].format(name))
    return doc


def check_free(tx: Tx, account: str, kind: Kind, name: str) -> None:
    if records.entity(tx, account, kind, name) is not None:
        raise errors.exists(_EXISTS[kind].format(name))


def listed(tx: Tx, table: str, account: str, path_prefix: str | None) -> list[Document]:
    """An account's entities of `table` whose path starts with `path_prefix`, by name."""
    prefix = path_prefix or "/"
    docs = [doc for _, doc in tx.scan(table, prefix=account + "|")]
    return [d for d in docs if d["Path"].startswith(prefix)]


def position(kind: Kind) -> Any:
    """A listed entity's place in its pages: its name, lower-cased (keys are in that order)."""
    member = records.NAME_MEMBER[kind]
    return lambda item: item[member].lower()


def rename(tx: Tx, account: str, kind: Kind, old: str, new: str) -> None:
    """Move the rows that name an entity (inline policies, attachments, memberships, access
    keys) from its old name to its new one; the entity's own document is the caller's."""
    old_entity, new_entity = (
        records.entity_key(account, kind, old),
        records.entity_key(account, kind, new),
    )
    for k, doc in list(tx.scan(records.INLINE, prefix=old_entity + "|")):
        tx.delete(records.INLINE, k)
        tx.put(records.INLINE, new_entity + "|" + doc["PolicyName"], doc)
    for k, doc in list(tx.scan(records.ATTACHMENTS, where={"entity": old_entity})):
        tx.delete(records.ATTACHMENTS, k)
        doc.update(Entity=new_entity, Name=new)
        tx.put(records.ATTACHMENTS, records.key(account, doc["PolicyArn"], kind, new.lower()), doc)
    if kind == "group":
        for k, doc in list(
            tx.scan(records.MEMBERSHIPS, prefix=records.name_key(account, old) + "|")
        ):
            tx.delete(records.MEMBERSHIPS, k)
            doc["GroupName"] = new
            tx.put(
                records.MEMBERSHIPS, records.key(account, new.lower(), doc["UserName"].lower()), doc
            )
    if kind == "user":
        member = records.name_key(account, old)
        for k, doc in list(tx.scan(records.MEMBERSHIPS, where={"member": member})):
            tx.delete(records.MEMBERSHIPS, k)
            doc.update(UserName=new, Member=records.name_key(account, new))
            tx.put(
                records.MEMBERSHIPS,
                records.key(account, doc["GroupName"].lower(), new.lower()),
                doc,
            )
        for k, doc in list(tx.scan(records.ACCESS_KEYS, where={"owner": member})):
            doc.update(UserName=new, Owner=records.name_key(account, new))
            tx.put(records.ACCESS_KEYS, k, doc)

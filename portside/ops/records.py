"""A resource stored as one document under its ARN: read as its dataclass, written from it.
The store keeps the version of tasks, container instances and services (a put over a stored
document makes it the stored one's plus one); saving one hands that version back."""

from __future__ import annotations

from typing import Protocol, TypeVar

from portside.model.doc import from_doc, to_doc
from portside.store.base import Tx

T = TypeVar("T")


class Versioned(Protocol):
    arn: str
    version: int


def load(tx: Tx, table: str, cls: type[T], arn: str) -> T | None:
    doc = tx.get(table, arn)
    return from_doc(cls, doc) if doc else None


def save(tx: Tx, table: str, record: Versioned, *, bump: bool = True) -> None:
    """Store `record`; the store gives it its next version unless `bump` is False."""
    doc = to_doc(record)
    tx.put(table, record.arn, doc, bump=bump)
    record.version = doc["version"]

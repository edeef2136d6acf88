"""Describe and Modify XAttributes as load balancers and target groups answer them: the
stored `Attributes` as Key/Value pairs; a change checked against ELB's keys and values
(defaults.py) before it is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.elb import defaults
from portside.ops.context import Op
from portside.store.base import Document, Tx

Load = Callable[[Tx, str], Document]


def wire(attrs: dict[str, str]) -> dict[str, Any]:
    return {"Attributes": [{"Key": k, "Value": v} for k, v in attrs.items()]}


def describe(op: Op, load: Load, arn: str) -> dict[str, Any]:
    with op.store.read() as tx:
        return wire(load(tx, arn)["Attributes"])


def modify(
    op: Op, load: Load, table: str, member: str, p: dict[str, Any], what: str
) -> dict[str, Any]:
    """`what` names the resource in ELB's errors: "Load balancer" or "Target group"."""
    with op.store.transaction() as tx:
        doc = load(tx, p[member])
        doc["Attributes"] = defaults.apply_attributes(doc["Attributes"], p["Attributes"], what)
        tx.put(table, doc[member], doc)
    return wire(doc["Attributes"])

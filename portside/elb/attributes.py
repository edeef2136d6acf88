"""Describe and Modify XAttributes as load balancers and target groups answer them: the
stored `Attributes` as Key/Value pairs; a change checked against ELB's keys and values
(defaults.py) before it is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.elb import defaults
from portside.elb.operations import action
from portside.ops.context import Op
from portside.store.base import Document, Tx

Load = Callable[[Tx, str], Document]
Handler = Callable[[Op, dict[str, Any]], dict[str, Any]]


def wire(attrs: dict[str, str]) -> dict[str, Any]:
    return {"Attributes": [{"Key": k, "Value": v} for k, v in attrs.items()]}


def actions(
    resource: str, load: Load, table: str, member: str, what: str
) -> tuple[Handler, Handler]:
    """Describe`resource`Attributes and Modify`resource`Attributes, registered, for the
    resource `load` reads from `table` by its ARN member `member`; `what` names it in ELB's
    errors ("Load balancer", "Target group")."""

    @action(f"Describe{resource}Attributes")
    def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        with op.store.read() as tx:
            return wire(load(tx, p[member])["Attributes"])

    @action(f"Modify{resource}Attributes")
    def modify(op: Op, p: dict[str, Any]) -> dict[str, Any]:
        with op.store.transaction() as tx:
            doc = load(tx, p[member])
            doc["Attributes"] = defaults.apply_attributes(doc["Attributes"], p["Attributes"], what)
            tx.put(table, doc[member], doc)
        return wire(doc["Attributes"])

    return describe, modify

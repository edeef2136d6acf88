"""Cloud Map's asynchronous operations (GetOperation, ListOperations) and the one way one is
recorded (`record`).

Cloud Map answers CreateNamespace, DeleteNamespace, the namespace and service updates,
RegisterInstance and DeregisterInstance with an OperationId and carries the change out
behind it. Portside makes the change in the request's own transaction, and shows the
operation as AWS runs one, quickly: SUBMITTED, PENDING, then SUCCESS (`status`, from the time
it was submitted), so a client that polls for SUCCESS (Terraform, the CLI's waiters) sees
the states it expects and moves on within a fraction of a second.
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.servicediscovery import filters, paging, records
from portside.servicediscovery.actions import action
from portside.store.base import Document, Tx

SUBMITTED_FOR = 0.05  # seconds an operation shows SUBMITTED, then PENDING
SUCCEEDS_AFTER = 0.1  # seconds from submission to SUCCESS


def status(doc: Document, now: float) -> str:
    age = now - doc["CreateDate"]
    if age >= SUCCEEDS_AFTER:
        return "SUCCESS"
    return "SUBMITTED" if age < SUBMITTED_FOR else "PENDING"


def record(op: Op, tx: Tx, kind: str, targets: dict[str, str]) -> str:
    """Record an operation of `kind` on `targets` (NAMESPACE, SERVICE, INSTANCE ids): its id."""
    raw = op.world.new_id()
    operation_id = f"{raw[:32]}-{records.new_id(op, '')[:8]}"
    tx.put(
        records.OPERATIONS,
        records.op_scope(op) + operation_id,
        {
            "Id": operation_id,
            "OwnerAccount": op.account,
            "Type": kind,
            "CreateDate": op.now(),
            "Targets": targets,
        },
    )
    return operation_id


def shown(doc: Document, now: float) -> dict[str, Any]:
    state = status(doc, now)
    out = dict(doc)
    out["Status"] = state
    out["UpdateDate"] = doc["CreateDate"] + (SUCCEEDS_AFTER if state == "SUCCESS" else 0.0)
    return out


@action("GetOperation")
def get_operation(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = tx.get(records.OPERATIONS, records.op_scope(op) + p["OperationId"])
    if doc is None:
        raise NamedError("OperationNotFound", f"Operation not found: {p['OperationId']}")
    return {"Operation": shown(doc, op.now())}


_FIELDS = {
    "NAMESPACE_ID": lambda o: o["Targets"].get("NAMESPACE", ""),
    "SERVICE_ID": lambda o: o["Targets"].get("SERVICE", ""),
    "STATUS": lambda o: o["Status"],
    "TYPE": lambda o: o["Type"],
    "UPDATE_DATE": lambda o: o["UpdateDate"],
}
_CONDITIONS = {
    "NAMESPACE_ID": ("EQ",),
    "SERVICE_ID": ("EQ",),
    "STATUS": ("EQ", "IN"),
    "TYPE": ("EQ", "IN"),
    "UPDATE_DATE": ("BETWEEN",),
}


@action("ListOperations")
def list_operations(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    keep = filters.matcher(p.get("Filters") or (), _FIELDS, _CONDITIONS)
    now = op.now()
    with op.store.read() as tx:
        found = [shown(d, now) for _, d in tx.scan(records.OPERATIONS, prefix=records.op_scope(op))]
    listed = [{"Id": o["Id"], "Status": o["Status"]} for o in found if keep(o)]
    return paging.page(p, listed, lambda o: o["Id"], "Operations")

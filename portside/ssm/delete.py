"""DeleteParameter and DeleteParameters: a parameter goes with every version, label and tag.

DeleteParameters deletes what it can and lists the rest (missing names, names that are
none) in InvalidParameters, in one transaction.
"""

from __future__ import annotations

from typing import Any

from portside.errors import AccessDeniedException, ValidationException
from portside.ops.context import Op
from portside.ssm import names, records
from portside.ssm.operations import action


def _ref(op: Op, text: str) -> names.Ref:
    ref = names.parse(text, op.account, op.region, arns=False, selectors=False)
    names.check_not_reserved(ref)
    return ref


@action("DeleteParameter")
def delete_parameter(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(op, p["Name"])
    with op.store.transaction() as tx:
        records.delete(tx, records.load(tx, ref))
    return {}


@action("DeleteParameters")
def delete_parameters(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    deleted: list[str] = []
    invalid: list[str] = []
    with op.store.transaction() as tx:
        for text in dict.fromkeys(p["Names"]):
            try:
                doc = records.find(tx, _ref(op, text))
            except (ValidationException, AccessDeniedException):
                doc = None
            if doc is None:
                invalid.append(text)
                continue
            records.delete(tx, doc)
            deleted.append(text)
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}

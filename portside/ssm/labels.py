"""LabelParameterVersion and UnlabelParameterVersion.

A label names one version of a parameter at a time: labelling another version moves it. A
version holds at most 10. A label that breaks the naming rules (names.valid_label) is not
attached and comes back in InvalidLabels; the others are. Unlabelling a label the version
does not carry lists it in InvalidLabels.

The limit's message is the one getmoto/moto answers with (no sample of AWS's own).
"""

from __future__ import annotations

from typing import Any

from portside.errors import NamedError
from portside.ops.context import Op
from portside.ssm import names, records
from portside.ssm.operations import action
from portside.store.base import Document, Tx

MAX_LABELS = 10


def _target(op: Op, tx: Tx, p: dict[str, Any]) -> tuple[Document, int]:
    ref = names.parse(p["Name"], op.account, op.region, arns=False, selectors=False)
    doc = records.load(tx, ref)
    number = p.get("ParameterVersion")
    if number is None:
        number = doc["Current"]["Version"]
    records.version(tx, doc, number)  # ParameterVersionNotFound unless kept
    return doc, number


@action("LabelParameterVersion")
def label_parameter_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = list(dict.fromkeys(p["Labels"]))
    invalid = [label for label in given if not names.valid_label(label)]
    with op.store.transaction() as tx:
        doc, number = _target(op, tx, p)
        labels: dict[str, int] = dict(doc.get("Labels") or {})
        labels.update({label: number for label in given if label not in invalid})
        if sum(1 for at in labels.values() if at == number) > MAX_LABELS:
            raise NamedError(
                "ParameterVersionLabelLimitExceeded",
                "A parameter version can have maximum 10 labels."
                "Move one or more labels to another version and try again.",
            )
        doc["Labels"] = labels
        tx.put(records.PARAMETERS, records.doc_key(doc), doc)
    return {"InvalidLabels": invalid, "ParameterVersion": number}


@action("UnlabelParameterVersion")
def unlabel_parameter_version(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    given = list(dict.fromkeys(p["Labels"]))
    with op.store.transaction() as tx:
        doc, number = _target(op, tx, p)
        labels: dict[str, int] = dict(doc.get("Labels") or {})
        removed = [label for label in given if labels.get(label) == number]
        for label in removed:
            del labels[label]
        doc["Labels"] = labels
        tx.put(records.PARAMETERS, records.doc_key(doc), doc)
    invalid = [label for label in given if label not in removed]
    return {"RemovedLabels": removed, "InvalidLabels": invalid}

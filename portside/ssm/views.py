"""A stored version as each read shows it: Parameter (GetParameter, GetParameters,
GetParametersByPath), ParameterMetadata (DescribeParameters), ParameterHistory.

A SecureString's value is its ciphertext (base64 of the KMS blob) unless the caller asks
WithDecryption; the flag means nothing for the other types.
"""

from __future__ import annotations

from typing import Any

from portside.ops.context import Op
from portside.ssm import records, secure
from portside.ssm.names import Ref
from portside.store.base import Document, Tx

_SETTINGS = ("Description", "AllowedPattern")


def value(op: Op, tx: Tx, doc: Document, version: Document, decrypt: bool) -> str:
    if "Ciphertext" not in version:
        return str(version["Value"])
    if not decrypt:
        return str(version["Ciphertext"])
    return secure.unseal(op, tx, doc["ARN"], version["Ciphertext"])


def parameter(
    op: Op, tx: Tx, doc: Document, version: Document, decrypt: bool, ref: Ref | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": ref.shown if ref is not None else doc["Name"],
        "Type": version["Type"],
        "Value": value(op, tx, doc, version, decrypt),
        "Version": version["Version"],
    }
    if ref is not None and ref.selector is not None:
        out["Selector"] = ":" + ref.selector
    out.update(
        LastModifiedDate=version["LastModifiedDate"],
        ARN=doc["ARN"],
        DataType=version["DataType"],
    )
    return out


def _common(doc: Document, version: Document) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": doc["Name"], "Type": version["Type"]}
    if "KeyId" in version:
        out["KeyId"] = version["KeyId"]
    out.update(
        LastModifiedDate=version["LastModifiedDate"],
        LastModifiedUser=version["LastModifiedUser"],
    )
    out.update({k: version[k] for k in _SETTINGS if k in version})
    return out


def metadata(doc: Document) -> dict[str, Any]:
    current = doc["Current"]
    out = _common(doc, current)
    out["ARN"] = doc["ARN"]
    out.update(
        Version=current["Version"],
        Tier=current["Tier"],
        Policies=[],
        DataType=current["DataType"],
    )
    return out


def history(op: Op, tx: Tx, doc: Document, version: Document, decrypt: bool) -> dict[str, Any]:
    out = _common(doc, version)
    out["Value"] = value(op, tx, doc, version, decrypt)
    out["Version"] = version["Version"]
    labels = records.labels_of(doc, version["Version"])
    if labels:
        out["Labels"] = labels
    out.update(Tier=version["Tier"], Policies=[], DataType=version["DataType"])
    return out

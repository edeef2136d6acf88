"""GetKeyRotationStatus, EnableKeyRotation, DisableKeyRotation: a flag and a period kept on
the key, as tools (Terraform's aws_kms_key) read and set them. Portside does not rotate key
material; a rotated key would still decrypt everything it encrypted, so nothing a caller can
observe depends on it beyond these answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.kms import guards, lookup
from portside.kms.keys import DAY
from portside.kms.operations import action
from portside.ops.context import Op
from portside.store.base import Document

DEFAULT_PERIOD = 365


@action("GetKeyRotationStatus")
def get_key_rotation_status(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        doc = lookup.find(op, tx, p["KeyId"], aliases=False)
    rotation = doc["Rotation"]
    out: dict[str, Any] = {"KeyRotationEnabled": rotation["Enabled"], "KeyId": doc["Arn"]}
    if rotation["Enabled"]:
        period = rotation["PeriodInDays"]
        since = rotation.get("Since", doc["CreationDate"])
        out["RotationPeriodInDays"] = period
        out["NextRotationDate"] = since + period * DAY
    return out


def _rotation(op: Op, p: dict[str, Any], enabled: bool) -> Callable[[Document], None]:
    def change(doc: Document) -> None:
        period = p.get("RotationPeriodInDays") or doc["Rotation"]["PeriodInDays"]
        rotation = {"Enabled": enabled, "PeriodInDays": period if enabled else DEFAULT_PERIOD}
        if enabled:
            rotation["Since"] = op.now()
        doc["Rotation"] = rotation

    return change


@action("EnableKeyRotation")
def enable_key_rotation(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    change = _rotation(op, p, True)
    guards.change_key(op, p["KeyId"], "EnableKeyRotation", change, state=guards.usable)
    return {}


@action("DisableKeyRotation")
def disable_key_rotation(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    change = _rotation(op, p, False)
    guards.change_key(op, p["KeyId"], "DisableKeyRotation", change, state=guards.usable)
    return {}

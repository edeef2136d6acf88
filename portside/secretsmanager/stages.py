"""Staging labels (pure): which version each label is on, and how labels move.

A label is on at most one version of a secret. Moving AWSCURRENT onto a version moves
AWSPREVIOUS onto the version that had AWSCURRENT; a version left without labels is deprecated
(ListSecretVersionIds shows it only with IncludeDeprecated). Versions are the `Versions` map
of a secret document: version id -> {"CreatedDate", "Stages"}.
"""

from __future__ import annotations

from typing import Any

from portside.secretsmanager import errors
from portside.secretsmanager.records import CURRENT, PREVIOUS

Versions = dict[str, dict[str, Any]]


def holder(versions: Versions, label: str) -> str | None:
    """The version `label` is on, if any."""
    return next((vid for vid, v in versions.items() if label in v["Stages"]), None)


def attach(versions: Versions, version_id: str, labels: list[str]) -> None:
    """Put `labels` on `version_id`, taking each off the version that had it."""
    for label in labels:
        was = holder(versions, label)
        if was == version_id:
            continue
        if was is not None:
            _drop(versions, was, label)
            if label == CURRENT:
                attach(versions, was, [PREVIOUS])
        versions[version_id]["Stages"] = sorted({*versions[version_id]["Stages"], label})


def _drop(versions: Versions, version_id: str, label: str) -> None:
    versions[version_id]["Stages"] = [s for s in versions[version_id]["Stages"] if s != label]


def move(versions: Versions, label: str, move_to: str | None, remove_from: str | None) -> None:
    """UpdateSecretVersionStage: move `label` to `move_to` and/or take it off `remove_from`,
    under the service's rules."""
    for vid in (move_to, remove_from):
        if vid is not None and vid not in versions:
            raise errors.invalid_parameter(f"Not a valid version: {vid}")
    if move_to is None and remove_from is None:
        raise errors.invalid_parameter(
            "You must specify MoveToVersionId or RemoveFromVersionId, or both."
        )
    was = holder(versions, label)
    if was is not None and was != move_to:
        if remove_from is None:
            raise errors.invalid_parameter(
                f"The parameter RemoveFromVersionId can't be empty. Staging label {label} is "
                f"currently attached to version {was}, so you must explicitly reference that "
                "version in RemoveFromVersionId."
            )
        if remove_from != was:
            raise errors.invalid_parameter(
                f"When you move staging label {label}, if you specify RemoveFromVersionId, it "
                f"must be set to the version that currently has the staging label {was}."
            )
    if move_to is not None:
        attach(versions, move_to, [label])
        return
    if label == CURRENT:
        raise errors.invalid_parameter(
            "You can't remove the staging label AWSCURRENT from a version: move it to "
            "another version with MoveToVersionId."
        )
    if was is not None:
        _drop(versions, was, label)


def deprecated(versions: Versions) -> list[str]:
    """The versions without any label, oldest first."""
    return [vid for vid, v in versions.items() if not v["Stages"]]

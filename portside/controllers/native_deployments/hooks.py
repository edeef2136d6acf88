"""Lifecycle hooks at a deployment's stage, as pauses (pure).

ECS runs a hook of target type AWS_LAMBDA by invoking the function and waiting for its
answer, and a PAUSE hook by waiting for ContinueServiceDeployment. Portside has no Lambda:
every hook is a pause. When a stage with hooks is reached, each hook gets a record on the
deployment (`Deployment.lifecycle_hooks`: hookId, stage, status IN_PROGRESS, expiresAt...),
shown by DescribeServiceDeployments; ContinueServiceDeployment writes the caller's `action`
into it (CONTINUE or ROLLBACK). A hook with no answer by its timeout
(timeoutConfiguration, 1440 minutes and ROLLBACK unless given; scaled like every wait)
takes its timeout action. The stage goes on once every one of its hooks has SUCCEEDED.

Why a pause rather than a refusal: a configuration written for ECS (Terraform, CloudFormation)
applies unchanged, and the deployment waits visibly, with the hook's id to continue it by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.controllers.native_deployments import rules

WAITING = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
CONTINUE = "CONTINUE"
ROLLBACK = "ROLLBACK"


@dataclass(frozen=True, slots=True)
class Verdict:
    done: bool  # every hook of the stage succeeded (or there are none)
    rollback: str | None = None  # why the deployment rolls back
    wake_at: float | None = None  # the first timeout


def hook_id(stage: str, index: int) -> str:
    return f"{stage.lower().replace('_', '-')}-{index + 1}"


def at_stage(
    stage: str,
    configured: Sequence[Mapping[str, Any]],
    records: list[dict[str, Any]],
    now: float,
    scale: float,
) -> Verdict:
    """Opens the records of `stage`'s hooks (in `records`, changed in place) and says whether
    the stage may go on."""
    by_id = {r.get("hookId"): r for r in records}
    wake: list[float] = []
    for index, hook in enumerate(configured):
        if stage not in (hook.get("lifecycleStages") or ()):
            continue
        ident = hook_id(stage, index)
        record = by_id.get(ident)
        if record is None:
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = timeout.get("timeoutInMinutes") or rules.HOOK_TIMEOUT_MINUTES
            record = {
                "hookId": ident,
                "stage": stage,
                "targetType": hook.get("targetType") or "AWS_LAMBDA",
                "targetArn": hook.get("hookTargetArn"),
                "status": WAITING,
                "expiresAt": now + float(minutes) * 60 * scale,
                "timeoutAction": timeout.get("action") or rules.HOOK_TIMEOUT_ACTION,
            }
            records.append(record)
            by_id[ident] = record
        if record["status"] == WAITING:
            action = record.get("action")
            if action is None and now >= float(record["expiresAt"]):
                record["status"] = TIMED_OUT
                action = record["timeoutAction"]
            elif action is not None:
                record["status"] = SUCCEEDED if action == CONTINUE else FAILED
            if action is None:
                wake.append(float(record["expiresAt"]))
                continue
            record["action"] = action
        if record.get("action") == ROLLBACK:
            why = "timed out" if record["status"] == TIMED_OUT else "asked for a rollback"
            return Verdict(False, f"Lifecycle hook {ident} at {stage} {why}.")
    if wake:
        return Verdict(False, wake_at=min(wake))
    return Verdict(True)

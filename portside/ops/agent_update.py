"""UpdateContainerAgent: update the agent of a container instance, as ECS updates its agent.

What an update is in Portside: the agent is the `portside agent` process (or the agent inside
`portside up`) and its version is the Portside package it runs, which it reports at
registration (versionInfo.agentVersion). An update is available when the Portside installed
with the control plane is newer than that (`available()` reads the installed package's
metadata, so a `pip install -U` shows without a restart). The agent learns of the request
through its sync (the instance's agentUpdateStatus), checks the package installed on its own
host, and when it is newer restarts itself on it (STAGING: checked, STAGED: found,
UPDATING: restarting); it re-registers as the same instance with its new version, which makes
the update UPDATED. When its host has nothing newer installed it reports FAILED. The states
and the errors are ECS's (AgentUpdateStatus; NoUpdateAvailableException when the agent runs
the newest version, MissingVersionException when it never said which it runs,
UpdateInProgressException while one is under way: "when the agent reconnects, it resumes
where it stopped previously").
"""

from __future__ import annotations

import re
from importlib import metadata

from portside import __version__
from portside.errors import ClientException, InvalidParameterException, NamedError
from portside.model.container_instance import ContainerInstance
from portside.model.states import InstanceStatus
from portside.ops import instances as inst_ops
from portside.ops.clusters import get_active
from portside.ops.context import Op
from portside.store.base import Tx

PENDING = "PENDING"
STAGING = "STAGING"
STAGED = "STAGED"
UPDATING = "UPDATING"
UPDATED = "UPDATED"
FAILED = "FAILED"
IN_FLIGHT = frozenset({PENDING, STAGING, STAGED, UPDATING})
# What an agent may report, from what (the control plane sets PENDING and UPDATED).
_NEXT = {
    PENDING: {STAGING, FAILED},
    STAGING: {STAGED, FAILED},
    STAGED: {UPDATING, FAILED},
    UPDATING: {FAILED},
}


def available() -> str:
    """The version of Portside installed with the control plane (read from the installed
    package each time, not the running one's)."""
    try:
        return metadata.version("portside")
    except metadata.PackageNotFoundError:
        return __version__


def version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def newer(candidate: str, running: str) -> bool:
    return version_key(candidate) > version_key(running)


def request(op: Op, cluster: str | None, ref: str) -> inst_ops.InstanceView:
    with op.store.transaction() as tx:
        found = get_active(op, tx, cluster)
        arn, inst = inst_ops.find(op, tx, found, ref)
        if inst is None or inst.status == InstanceStatus.INACTIVE:
            raise InvalidParameterException(
                f"The referenced container instance {arn} was not found."
            )  # wording: ours
        if inst.agent_update_status in IN_FLIGHT:
            raise NamedError(
                "UpdateInProgressException",
                "There is already a current agent update in progress on this container instance.",
            )  # wording: ours, after the model's documentation
        running = inst.version_info.get("agentVersion")
        if not running:
            raise NamedError(
                "MissingVersionException",
                "Amazon ECS is unable to determine the current version of the container agent "
                "on the container instance and does not have enough information to proceed "
                "with an update.",
            )  # the model's documentation, as the message
        if not newer(available(), running):
            raise NamedError(
                "NoUpdateAvailableException",
                f"There is no update available for the container agent on this container "
                f"instance: it runs {running}, the newest is {available()}.",
            )  # wording: ours
        if not inst.agent_connected:
            raise ClientException(
                "The container agent on this container instance is not connected."
            )  # wording: ours
        inst.agent_update_status = PENDING
        inst.agent_update_reason = None
        inst_ops.save(tx, inst)  # a new version: the agent's sync carries it
        return inst_ops._view(op, tx, inst)


def report(tx: Tx, inst: ContainerInstance, status: str, reason: str | None) -> bool:
    """The agent's progress; False for a report that does not follow (a stale one)."""
    if status not in _NEXT.get(inst.agent_update_status or "", set()):
        return False
    inst.agent_update_status = status
    inst.agent_update_reason = reason if status == FAILED else None
    inst_ops.save(tx, inst)
    return True


def registered(inst: ContainerInstance, before: str | None, now_running: str | None) -> None:
    """RegisterContainerInstance again: an update in flight is UPDATED once the agent comes
    back running another version. One UPDATING (the agent said it was restarting on a newer
    version) that comes back on the same version FAILED; before that, a reconnecting agent
    goes on where it stopped."""
    if inst.agent_update_status not in IN_FLIGHT or not now_running:
        return
    if now_running != before:
        inst.agent_update_status, inst.agent_update_reason = UPDATED, None
    elif inst.agent_update_status == UPDATING:
        inst.agent_update_status = FAILED
        inst.agent_update_reason = f"The agent restarted still running {now_running}."

"""The ECS actions the container agent calls, answered for any caller.

DiscoverPollEndpoint tells an agent where to open its sessions: ECS answers its own regional
endpoints (`endpoint`, `telemetryEndpoint`, `serviceConnectEndpoint`); Portside's agents
open theirs at the control plane's own endpoint, so all three name it.

SubmitTaskStateChange, SubmitContainerStateChange and SubmitAttachmentStateChanges are how
an ECS agent reports what it runs. Portside's agents report through the agent gateway
(`/_portside/agent/v1/...`, gateway/server.py), tied to the session of the instance the task
runs on, so a state change sent here for one of Portside's tasks is refused with
AccessDeniedException, as ECS refuses a report from a caller that is not the agent managing
the task; an unknown cluster is ClusterNotFoundException and an unknown task
InvalidParameterException, as for the other task actions. Nothing is ever changed.
"""

from __future__ import annotations

from typing import Any

from portside.api.ecs.registry import action
from portside.config import DEFAULT_PORT
from portside.errors import AccessDeniedException, InvalidParameterException
from portside.ops import tasks as task_ops
from portside.ops.clusters import get_active
from portside.ops.context import Op

_NOT_AGENT = (
    "State changes of task {task} are reported by the agent of the container instance it "
    "runs on, through Portside's agent gateway; they are not accepted from this caller."
)


def endpoint_of(op: Op) -> str:
    """The control plane's own endpoint (the one ExecuteCommand's streamUrl names too)."""
    registry = op.world.exec
    base = registry.endpoint if registry is not None else f"http://127.0.0.1:{DEFAULT_PORT}"
    return base.rstrip("/") + "/"


@action("DiscoverPollEndpoint")
def discover_poll_endpoint(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    # ECS's endpoints are regional: the cluster and instance named change nothing.
    url = endpoint_of(op)
    return {"endpoint": url, "telemetryEndpoint": url, "serviceConnectEndpoint": url}


def _refuse(op: Op, cluster: str | None, task: str | None) -> dict[str, Any]:
    with op.store.read() as tx:
        found = get_active(op, tx, cluster)
        if not task:
            # wording: ours
            raise InvalidParameterException("task must be specified.")
        arn, known = task_ops.find(op, tx, found, task)
        if known is None:
            raise InvalidParameterException("The referenced task was not found.")
    raise AccessDeniedException(_NOT_AGENT.format(task=arn))


@action("SubmitTaskStateChange")
def submit_task_state_change(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _refuse(op, p.get("cluster"), p.get("task"))


@action("SubmitContainerStateChange")
def submit_container_state_change(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return _refuse(op, p.get("cluster"), p.get("task"))


@action("SubmitAttachmentStateChanges")
def submit_attachment_state_changes(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    with op.store.read() as tx:
        get_active(op, tx, p.get("cluster"))
    # wording: ours
    raise AccessDeniedException(
        "Attachment state changes are reported by the agent of the container instance the "
        "attachment's task runs on, through Portside's agent gateway; they are not accepted "
        "from this caller."
    )

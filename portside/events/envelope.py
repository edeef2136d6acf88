"""The change feed in ECS's words: one committed change in, zero or more EventBridge events out.

Pure: `envelopes(change, seen, since)` needs only the change and what the caller remembers of
the resource (`Seen`, built by `remember` from its previous document). What ECS sends and
when (developer guide, "Amazon ECS events"):

- "ECS Task State Change": every new `version` of a task; `detail` is the task as
  DescribeTasks shows it, plus `updatedAt` (the shaping is wire/ecs_shapes.py's).
- "ECS Container Instance State Change": the instance's status, agent connection, version,
  attributes or remaining resources changed (not a heartbeat); `detail` as
  DescribeContainerInstances shows it, plus clusterArn and updatedAt.
- "ECS Service Action": from the service's own event messages (DescribeServices `events`):
  SERVICE_STEADY_STATE (and CAPACITY_PROVIDER_STEADY_STATE for a service on capacity
  providers), SERVICE_TASK_PLACEMENT_FAILURE (reason: the placement failure code),
  SERVICE_TASK_START_IMPAIRED, TASKS_STOPPED.
- "ECS Deployment State Change": a deployment appearing (SERVICE_DEPLOYMENT_IN_PROGRESS,
  first deployment or rollback) or its rolloutState turning COMPLETED or FAILED.

Each event's id derives from the change's seq and its place among that change's events, so a
redelivered event keeps its id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from portside.model.container_instance import ContainerInstance
from portside.model.doc import from_doc
from portside.model.task import Task
from portside.store.base import Change, Document
from portside.wire.ecs_shapes import instance_document, task_document

Envelope = dict[str, Any]

TASK = "ECS Task State Change"
INSTANCE = "ECS Container Instance State Change"
SERVICE_ACTION = "ECS Service Action"
DEPLOYMENT = "ECS Deployment State Change"
ALARM = "CloudWatch Alarm State Change"  # from aws.cloudwatch (cloudwatch/alarm_events.py)
DETAIL_TYPES = (TASK, INSTANCE, SERVICE_ACTION, DEPLOYMENT, ALARM)

# The tables whose changes can make events; the feed reader skips every other row unread.
# `cw_alarm_events`: CloudWatch's alarm transitions, each put as its whole event (by alarm
# ARN), given its id here.
TABLES = ("tasks", "container_instances", "services", "cw_alarm_events")

_ID_SPACE = uuid.UUID("5f0c6a52-3c3e-4d0e-9a43-8a3e1d7f2b10")

# The phrase of a placement-failure message (controllers/service_events.py) -> its code.
_PLACEMENT_REASONS = (
    ("has insufficient CPU units available", "RESOURCE:CPU"),
    ("has insufficient memory available", "RESOURCE:MEMORY"),
    ("is already using a port required by your task", "RESOURCE:PORTS"),
    ("has insufficient GPU units available", "RESOURCE:GPU"),
    ("is missing an attribute required by your task", "ATTRIBUTE"),
    ("is not connected to Amazon ECS", "AGENT"),
)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the event stream last said about one resource."""

    mark: str = ""  # tasks: the version; instances: a fingerprint of what events show
    events: frozenset[str] = frozenset()  # services: ids of their event messages
    deployments: tuple[tuple[str, str], ...] = ()  # services: (id, rolloutState)


def iso(ts: float, millis: bool = True) -> str:
    when = datetime.fromtimestamp(ts, UTC)
    if millis:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_id(seq: int, n: int) -> str:
    return str(uuid.uuid5(_ID_SPACE, f"{seq}/{n}"))


def _arn_parts(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    return parts[3], parts[4]


def _envelope(
    change: Change, n: int, detail_type: str, resource: str, detail: Document
) -> Envelope:
    region, account = _arn_parts(resource)
    return {
        "version": "0",
        "id": event_id(change.seq, n),
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": account,
        "time": iso(change.at, millis=False),
        "region": region,
        "resources": [resource],
        "detail": detail,
    }


# -- what a document says, remembered ----------------------------------------------------------


def remember(table: str, doc: Document | None) -> Seen:
    """What the events would have said about `doc` (the resource's previous document)."""
    if doc is None:
        return Seen()
    if table == "tasks":
        return Seen(mark=str(doc.get("version")))
    if table == "container_instances":
        return Seen(mark=_instance_mark(doc))
    if table == "services":
        return Seen(
            events=frozenset(e["id"] for e in doc.get("events") or ()),
            deployments=tuple((d["id"], d["rolloutState"]) for d in doc.get("deployments") or ()),
        )
    return Seen()


def _instance_mark(doc: Document) -> str:
    keys = ("status", "statusReason", "agentConnected", "version", "attributes")
    used = (
        doc.get("usedCpu"),
        doc.get("usedMemory"),
        doc.get("usedPortsTcp"),
        doc.get("usedPortsUdp"),
    )
    return orjson.dumps([[doc.get(k) for k in keys], used]).decode()


# -- the events --------------------------------------------------------------------------------


def envelopes(
    change: Change, seen: Seen | None, since: float = 0.0
) -> tuple[list[Envelope], Seen | None]:
    """The events one change makes, and what to remember of the resource afterwards.

    `seen` is None when nothing is known of the resource's past; `since` then bounds what
    counts as new for a service (messages and deployments older than it were reported
    before)."""
    doc = change.doc
    if change.op != "put" or doc is None or change.table not in TABLES:
        return [], None
    if change.table == "tasks":
        return _task(change, doc, seen)
    if change.table == "container_instances":
        return _instance(change, doc, seen)
    if change.table == "cw_alarm_events":
        return [{**doc, "id": event_id(change.seq, 0)}], None
    return _service(change, doc, seen, since)


def _timestamps(detail: Document) -> Document:
    for key, value in list(detail.items()):
        if key.endswith("At") and isinstance(value, int | float) and not isinstance(value, bool):
            detail[key] = iso(value)
    return detail


def _task(change: Change, doc: Document, seen: Seen | None) -> tuple[list[Envelope], Seen]:
    mark = str(doc.get("version"))
    now = Seen(mark=mark)
    if seen is not None and seen.mark == mark:
        return [], now
    task = from_doc(Task, doc)
    detail = task_document(task, [])
    detail.pop("tags", None)
    for container in detail.get("containers") or ():
        for agent in container.get("managedAgents") or ():
            _timestamps(agent)
    _timestamps(detail)
    detail["updatedAt"] = iso(change.at)
    return [_envelope(change, 0, TASK, task.arn, detail)], now


def _instance(change: Change, doc: Document, seen: Seen | None) -> tuple[list[Envelope], Seen]:
    mark = _instance_mark(doc)
    now = Seen(mark=mark)
    if doc.get("fargate") or (seen is not None and seen.mark == mark):
        return [], now
    inst = from_doc(ContainerInstance, doc)
    detail = instance_document(inst, [], [])
    detail.pop("tags", None)
    detail.pop("attachments", None)
    detail["clusterArn"] = inst.cluster_arn
    _timestamps(detail)
    detail["updatedAt"] = iso(change.at)
    return [_envelope(change, 0, INSTANCE, inst.arn, detail)], now


def _service(
    change: Change, doc: Document, seen: Seen | None, since: float
) -> tuple[list[Envelope], Seen]:
    now = remember("services", doc)
    known = seen if seen is not None else Seen()
    # Nothing remembered: a service created within the feed's span has all its news ahead;
    # one older than the feed reported what predates the feed's oldest change.
    older = float(doc.get("createdAt") or 0) < since
    floor = since if seen is None and older else float("-inf")
    arn = change.key
    out: list[Envelope] = []

    def emit(detail_type: str, detail: Document) -> None:
        out.append(_envelope(change, len(out), detail_type, arn, detail))

    before = dict(known.deployments)
    for dep in reversed(doc.get("deployments") or ()):
        state = dep.get("rolloutState")
        if state == before.get(dep["id"]) or float(dep.get("updatedAt") or 0) < floor:
            continue
        name = _DEPLOYMENT_EVENTS.get(state or "")
        if name is None:
            continue
        emit(
            DEPLOYMENT,
            {
                "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
                "eventName": name,
                "deploymentId": dep["id"],
                "updatedAt": iso(float(dep.get("updatedAt") or change.at)),
                "reason": dep.get("rolloutStateReason") or "",
            },
        )

    cluster = doc.get("clusterArn", "")
    providers = _provider_arns(arn, doc)
    for message in reversed(doc.get("events") or ()):
        if message["id"] in known.events or float(message.get("createdAt") or 0) < floor:
            continue
        for detail in _service_actions(arn, cluster, providers, message):
            emit(SERVICE_ACTION, detail)
    return out, now


_SCALED = "Message: Successfully set desired count to "

_DEPLOYMENT_EVENTS = {
    "IN_PROGRESS": "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "COMPLETED": "SERVICE_DEPLOYMENT_COMPLETED",
    "FAILED": "SERVICE_DEPLOYMENT_FAILED",
}


def _provider_arns(service_arn: str, doc: Document) -> list[str]:
    region, account = _arn_parts(service_arn)
    return [
        f"arn:aws:ecs:{region}:{account}:capacity-provider/{item['capacityProvider']}"
        for item in doc.get("capacityProviderStrategy") or ()
        if item.get("capacityProvider")
    ]


def _service_actions(
    service_arn: str, cluster: str, providers: list[str], message: Document
) -> list[Document]:
    text = str(message.get("message") or "")
    created = iso(float(message.get("createdAt") or 0))

    def action(event_type: str, name: str, **extra: Any) -> Document:
        return {
            "eventType": event_type,
            "eventName": name,
            "clusterArn": cluster,
            **extra,
            "createdAt": created,
        }

    if text.endswith("has reached a steady state."):
        found = [action("INFO", "SERVICE_STEADY_STATE")]
        if providers:
            found.append(
                action("INFO", "CAPACITY_PROVIDER_STEADY_STATE", capacityProviderArns=providers)
            )
        return found
    if "was unable to place a task" in text:
        extra: dict[str, Any] = {}
        if providers:
            extra["capacityProviderArns"] = providers
        reason = next((code for phrase, code in _PLACEMENT_REASONS if phrase in text), None)
        if reason is not None:
            extra["reason"] = reason
        return [action("WARN", "SERVICE_TASK_PLACEMENT_FAILURE", **extra)]
    if "is unable to consistently start tasks" in text:
        return [action("WARN", "SERVICE_TASK_START_IMPAIRED")]
    if text.startswith(_SCALED):
        # Application Auto Scaling's activity (ops/services.set_desired_count_by_scaling),
        # never a manual UpdateService.
        count = int(text[len(_SCALED) :].split(".", 1)[0])
        return [action("INFO", "SERVICE_DESIRED_COUNT_UPDATED", desiredCount=count)]
    if "has stopped" in text and "running tasks" in text:
        region, account = _arn_parts(service_arn)
        cluster_name = cluster.rsplit("/", 1)[-1]
        ids = [part.split(")")[0] for part in text.split("(task ")[1:]]
        arns = [f"arn:aws:ecs:{region}:{account}:task/{cluster_name}/{i}" for i in ids]
        return [action("INFO", "TASKS_STOPPED", taskArns=arns)]
    return []

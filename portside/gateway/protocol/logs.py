"""The awslogs shipping messages (gateway/logs.py serves them, agent/logs.py sends them).

Reading a batch checks it too: names as CloudWatch Logs allows them, at most 10,000 events
and 4 MiB, each event an integer timestamp and a string message. A negative timestamp is
kept as 0: an agent's batch is the container's output, and losing it would be worse than
storing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.errors import InvalidParameterException
from portside.gateway.protocol.tasks import Json
from portside.logs.rules import MAX_BATCH_EVENTS

MAX_PUT_BYTES = 4 * 1024 * 1024
_GROUP = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_STREAM = re.compile(r"[^:*]{1,512}")


def _names(d: Mapping[str, Any]) -> tuple[str, str]:
    group, stream = d.get("group"), d.get("stream")
    if not isinstance(group, str) or _GROUP.fullmatch(group) is None:
        raise InvalidParameterException(f"Invalid log group name: {group!r}")
    if not isinstance(stream, str) or _STREAM.fullmatch(stream) is None:
        raise InvalidParameterException(f"Invalid log stream name: {stream!r}")
    return group, stream


def _events(d: Mapping[str, Any]) -> list[tuple[int, str]]:
    raw = d.get("events")
    if not isinstance(raw, list):
        raise InvalidParameterException("events must be a list.")
    if len(raw) > MAX_BATCH_EVENTS:
        raise InvalidParameterException(
            f"A batch holds at most {MAX_BATCH_EVENTS} events, got {len(raw)}."
        )
    # Comprehensions rather than one loop with branches: this runs for every shipped line.
    malformed = InvalidParameterException(
        "Each event needs an integer timestamp and a string message."
    )
    try:
        events = [(e["timestamp"], e["message"]) for e in raw]
    except (KeyError, TypeError):
        raise malformed from None
    if not all(type(ts) is int for ts, _ in events) or not all(type(m) is str for _, m in events):
        raise malformed
    if sum(len(m) for _, m in events) > MAX_PUT_BYTES:
        raise InvalidParameterException(f"A batch holds at most {MAX_PUT_BYTES} bytes.")
    if events and min(ts for ts, _ in events) < 0:
        events = [(max(ts, 0), m) for ts, m in events]
    return events


@dataclass(frozen=True, slots=True)
class LogsPrepare:
    """The stream must exist before the container starts (the group too, when `create`:
    awslogs-create-group)."""

    group: str
    stream: str
    create: bool = False
    task_arn: str | None = None  # whose container: a Fargate task's execution role is checked

    def to_wire(self) -> Json:
        out: Json = {"group": self.group, "stream": self.stream, "create": self.create}
        if self.task_arn is not None:
            out["taskArn"] = self.task_arn
        return out

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LogsPrepare:
        group, stream = _names(d)
        create = d.get("create", False)
        if not isinstance(create, bool):
            raise InvalidParameterException("create must be a boolean.")
        task_arn = d.get("taskArn")
        if task_arn is not None and not isinstance(task_arn, str):
            raise InvalidParameterException("taskArn must be a string.")
        return cls(group, stream, create, task_arn)


@dataclass(frozen=True, slots=True)
class LogsPut:
    """One batch of (timestamp ms, message); `first` is how many events the agent shipped
    to the stream before it, so a retried batch is stored once."""

    group: str
    stream: str
    first: int
    events: list[tuple[int, str]]  # a list: a batch is large and read once

    def to_wire(self) -> Json:
        return {
            "group": self.group,
            "stream": self.stream,
            "first": self.first,
            "events": [{"timestamp": t, "message": m} for t, m in self.events],
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> LogsPut:
        group, stream = _names(d)
        first = d.get("first")
        if type(first) is not int or first < 0:
            raise InvalidParameterException("first must be a non-negative integer.")
        return cls(group, stream, first, _events(d))


@dataclass(frozen=True, slots=True)
class LogsPutAnswer:
    next: int  # the stream's count of shipped events after the batch

    def to_wire(self) -> Json:
        return {"next": self.next}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any], sent: LogsPut) -> LogsPutAnswer:
        return cls(int(d.get("next", sent.first + len(sent.events))))

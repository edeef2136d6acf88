"""States as enums. A task's and a container's are ordered lifecycles: they move forward only,
and a backward move is a bug that fails loudly.

Each member is its ECS name (a `StrEnum`): a stored document or a wire reply holds the plain
string, a member equals that string, and code names states by member, never by literal. The
lifecycles compare by their order, not alphabetically."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

_S = TypeVar("_S", bound="Lifecycle")


class Lifecycle(StrEnum):
    """An ordered StrEnum: members compare by their place in the lifecycle (declaration
    order). Comparing with anything that is not a member of the same lifecycle is an error."""

    _rank: int  # set below, once the members exist: declaration order

    @property
    def rank(self) -> int:
        return self._rank

    @classmethod
    def parse(cls: type[_S], name: str) -> _S:
        return cls[name]

    def _rank_of(self, other: object) -> int:
        if type(other) is not type(self):
            raise TypeError(f"cannot order {type(self).__name__} against {other!r}")
        return other._rank

    def __lt__(self, other: object) -> bool:
        return self._rank < self._rank_of(other)

    def __le__(self, other: object) -> bool:
        return self._rank <= self._rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self._rank > self._rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self._rank >= self._rank_of(other)


class TaskStatus(Lifecycle):
    """lastStatus and desiredStatus of a task."""

    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    ACTIVATING = "ACTIVATING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"
    STOPPING = "STOPPING"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"


class ContainerStatus(Lifecycle):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class InstanceStatus(StrEnum):
    """A container instance's status. Not a lifecycle: DRAINING goes back to ACTIVE."""

    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    REGISTERING = "REGISTERING"
    DEREGISTERING = "DEREGISTERING"
    REGISTRATION_FAILED = "REGISTRATION_FAILED"
    INACTIVE = "INACTIVE"


for _lifecycle in (TaskStatus, ContainerStatus):
    for _n, _member in enumerate(_lifecycle):
        _member._rank = _n

# A stored document's string to its member: a dict lookup, several times cheaper than
# `TaskStatus(name)` or `TaskStatus[name]` (the reconcilers read thousands of tasks a pass).
TASK_STATUS: dict[str, TaskStatus] = {m.value: m for m in TaskStatus}
CONTAINER_STATUS: dict[str, ContainerStatus] = {m.value: m for m in ContainerStatus}
INSTANCE_STATUS: dict[str, InstanceStatus] = {m.value: m for m in InstanceStatus}


class BackwardTransition(RuntimeError):
    """A state report that would move a task or container back in its lifecycle."""


def advance(current: str, new: str, kind: type[Lifecycle] = TaskStatus) -> str:
    """The later of two states; equal is fine, backwards is refused loudly."""
    cur, nxt = kind[current], kind[new]
    if nxt < cur:
        raise BackwardTransition(f"{kind.__name__} cannot go from {current} back to {new}")
    return new


def is_later(a: str, b: str, kind: type[Lifecycle] = TaskStatus) -> bool:
    return kind[a] > kind[b]

"""Ordered lifecycles. A task or container moves forward only; a backward move is a bug."""

from __future__ import annotations

from enum import IntEnum


class TaskStatus(IntEnum):
    PROVISIONING = 10
    PENDING = 20
    ACTIVATING = 30
    RUNNING = 40
    DEACTIVATING = 50
    STOPPING = 60
    DEPROVISIONING = 70
    STOPPED = 80

    @classmethod
    def parse(cls, name: str) -> TaskStatus:
        return cls[name]


class ContainerStatus(IntEnum):
    PENDING = 10
    RUNNING = 20
    STOPPED = 30


class BackwardTransition(RuntimeError):
    """A state report that would move a task or container back in its lifecycle."""


def advance(current: str, new: str, kind: type[IntEnum] = TaskStatus) -> str:
    """The later of two states; equal is fine, backwards is refused loudly."""
    cur, nxt = kind[current], kind[new]
    if nxt < cur:
        raise BackwardTransition(f"{kind.__name__} cannot go from {current} back to {new}")
    return new


def is_later(a: str, b: str, kind: type[IntEnum] = TaskStatus) -> bool:
    return kind[a] > kind[b]

"""What a codec builds once and keeps, shared by the request threads: per-shape functions
(`Compiled`, which every shape walker of the codecs uses) and per-operation plans
(`PerOperation`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Hashable
from typing import Generic, TypeVar

from portside.api.protocols.error_shapes import unknown_operation

V = TypeVar("V")
# What `build` returns: the function itself, and what completes it (compiles the members).
Built = tuple[V, Callable[[], None]]


def complete() -> None:
    """The `finish` of a function that `build` already made whole."""


class Compiled(Generic[V]):
    """Functions compiled once per key. A function is registered before its members compile
    (they may come back to it: shapes recurse) but published to other threads only once the
    whole graph it started is complete, so no thread runs a half-built one. `build` may
    compile other keys itself (a list its item) before it returns: they are part of the
    same graph."""

    def __init__(self) -> None:
        self._done: dict[Hashable, V] = {}
        self._building: dict[Hashable, V] = {}
        self._depth = 0  # how many `get`s are compiling, one inside the other
        self._lock = threading.RLock()

    def get(self, key: Hashable, build: Callable[[], Built[V]]) -> V:
        found = self._done.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._done.get(key) or self._building.get(key)
            if found is not None:
                return found
            self._depth += 1
            try:
                value, finish = build()
                self._building[key] = value
                finish()
                if self._depth == 1:
                    self._done.update(self._building)
            finally:
                self._depth -= 1
                if not self._depth:
                    self._building.clear()
            return value


class PerOperation(Generic[V]):
    """What a codec builds for each of its operations, on first use; an operation outside
    `known` is the protocol's unknown operation. Two threads may build the same operation's
    at once: both are whole, the last one stays."""

    def __init__(self, known: Container[str], build: Callable[[str], V]) -> None:
        self._known = known
        self._build = build
        self._built: dict[str, V] = {}

    def get(self, operation: str) -> V:
        try:
            return self._built[operation]
        except KeyError:
            if operation not in self._known:
                raise unknown_operation(f"Unknown operation {operation}.") from None
            built = self._built[operation] = self._build(operation)
            return built

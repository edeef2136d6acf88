"""A cache of per-shape functions compiled on first use, shared by the request threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
# What `build` returns: the function itself, and what completes it (compiles the members).
Built = tuple[V, Callable[[], None]]


class Compiled(Generic[V]):
    """Functions compiled once per key. A function is registered before its members compile
    (they may come back to it: shapes recurse) but published to other threads only once the
    whole graph it started is complete, so no thread runs a half-built one."""

    def __init__(self) -> None:
        self._done: dict[Hashable, V] = {}
        self._building: dict[Hashable, V] = {}
        self._lock = threading.RLock()

    def get(self, key: Hashable, build: Callable[[], Built[V]]) -> V:
        found = self._done.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._done.get(key) or self._building.get(key)
            if found is not None:
                return found
            outermost = not self._building
            value, finish = build()
            self._building[key] = value
            try:
                finish()
                if outermost:
                    self._done.update(self._building)
            finally:
                if outermost:
                    self._building.clear()
            return value

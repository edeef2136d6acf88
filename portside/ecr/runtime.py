"""What ECR's operations reach beyond the store: the server's registry, and a signal that wakes
ECR's background pass (a lifecycle policy put, an image pushed).

Operations get the world, not the server, so `server.py` attaches the runtime to its store
here and operations find it by the store they are given.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

from portside.errors import ServerException
from portside.ops.context import Op
from portside.registry.plane import RegistryPlane
from portside.registry.process import RegistryUnavailable


@dataclass(slots=True)
class EcrRuntime:
    plane: RegistryPlane
    wake: threading.Event = field(default_factory=threading.Event)

    def registry(self, wait: bool = True) -> RegistryPlane:
        """The plane, its registry started (and answering, with `wait`)."""
        try:
            if wait:
                self.plane.ready()
            else:
                self.plane.start()
        except RegistryUnavailable as exc:
            raise ServerException(f"ECR's registry is not available: {exc}") from None
        return self.plane


_RUNTIMES: weakref.WeakKeyDictionary[object, EcrRuntime] = weakref.WeakKeyDictionary()


def attach(store: object, runtime: EcrRuntime) -> None:
    _RUNTIMES[store] = runtime


def of(op: Op) -> EcrRuntime:
    found = _RUNTIMES.get(op.store)
    if found is None:
        raise ServerException("ECR's registry does not run with this server")
    return found


def find(store: object) -> EcrRuntime | None:
    return _RUNTIMES.get(store)

"""ECR's part of a server, built once by `server.py`: the registry plane (started lazily: by
the first repository or login, or by the background pass when repositories exist), the
token server's and notification sink's routes, the background loop, and the stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.routing import Route

from portside.ecr import immutability, runtime
from portside.ecr.authorization import EcrAccess
from portside.ecr.background import EcrLoop
from portside.registry.events import Push
from portside.registry.plane import RegistryPlane, choose_port
from portside.store.base import Store

REGISTRY_DIR = "registry"


@dataclass(slots=True)
class EcrServer:
    ecr: runtime.EcrRuntime
    routes: list[Route]
    loop: EcrLoop

    def stop(self) -> None:
        """Stop the registry (it never outlives its control plane)."""
        self.ecr.plane.stop()


def build(
    store: Store,
    data_dir: Path,
    *,
    registry_port: int,
    server_port: int,
    endpoint: str,
    clock: Callable[[], float],
) -> EcrServer:
    directory = data_dir / REGISTRY_DIR
    port = choose_port(directory, registry_port, server_port)
    plane = RegistryPlane(directory, port=port, endpoint=endpoint, clock=clock)
    ecr = runtime.EcrRuntime(plane)
    runtime.attach(store, ecr)

    def on_pushes(pushes: Sequence[Push]) -> None:
        immutability.on_pushes(store, plane, pushes)
        ecr.wake.set()  # a lifecycle policy may now expire something

    routes = plane.routes(EcrAccess(store, plane.key, clock), on_pushes)
    return EcrServer(ecr, routes, EcrLoop(store, ecr, clock))

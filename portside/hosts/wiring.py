"""The hosts part of a server, built once by `server.py`: the providers (attached to the
store, where EC2's RunInstances and the `ec2-instances` loop find them), that loop, and
Portside's own route for failing a simulated host on purpose.

    POST /_portside/hosts/v1/kill   {"instanceIds": ["i-..."]}   (signed, any service scope)
      -> {"killed": ["i-..."]}: those simulated hosts die as a machine dies (their agent goes
         silent; the instance shows stopped, an Auto Scaling group replaces it)

The container-host provider (portside/hosts/container/, `ContainerHostProvider(control_plane,
data_dir)`) is added when that package is present.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portside.api.protocols.base import WireRequest, request_head
from portside.controllers.loop import Loops
from portside.ec2.instance_hosts import InstanceHosts
from portside.hosts import registry
from portside.hosts.provider import ControlPlane, InstanceProvider, Providers
from portside.hosts.simulated import SimulatedProvider
from portside.ops.context import World

log = logging.getLogger("portside.hosts")
KILL = "/_portside/hosts/v1/kill"


@dataclass
class HostsPart:
    providers: Providers
    instances: InstanceHosts
    simulated: SimulatedProvider

    def register(self, loops: Loops) -> None:
        self.instances.register(loops)

    def routes(self, authenticate: object) -> list[BaseRoute]:
        auth = authenticate

        async def kill(request: Request) -> Response:
            from portside.errors import PortsideError

            try:
                head: WireRequest = replace(request_head(request.scope), body=await request.body())
                auth(head)  # type: ignore[operator]
                body = orjson.loads(head.body or b"{}")
                ids = [str(i) for i in body.get("instanceIds") or ()]
            except PortsideError as exc:
                return Response(
                    orjson.dumps({"__type": exc.code, "message": str(exc)}),
                    status_code=exc.status,
                    media_type="application/json",
                )
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                return Response(
                    orjson.dumps({"__type": "SerializationException", "message": "bad body"}),
                    status_code=400,
                    media_type="application/json",
                )
            killed = self.simulated.kill(ids)
            return Response(orjson.dumps({"killed": killed}), media_type="application/json")

        return [Route(KILL, kill, methods=["POST"])]

    def close(self) -> None:
        self.providers.close()


def _container_provider(control_plane: ControlPlane, data_dir: Path) -> InstanceProvider | None:
    try:
        module = importlib.import_module("portside.hosts.container")
    except ImportError:
        return None
    make = getattr(module, "ContainerHostProvider", None)
    if make is None:
        return None
    try:
        provider: InstanceProvider = make(control_plane, data_dir)
    except Exception:
        log.exception("the container-host provider could not start")
        return None
    return provider


def build(world: World, control_plane: ControlPlane, data_dir: Path) -> HostsPart:
    simulated = SimulatedProvider(control_plane)
    providers = Providers([simulated])
    container = _container_provider(control_plane, data_dir)
    if container is not None:
        providers.add(container)
    registry.attach(world.store, providers)
    return HostsPart(providers, InstanceHosts(world), simulated)

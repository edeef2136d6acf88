"""Assemble and run the control plane: store, API, controllers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import FrameType

import orjson
import uvicorn
from starlette.applications import Starlette

from portside import credentials, heap
from portside.api.app import ApiConfig, Edge, create_app
from portside.api.auth import SigV4Verifier, StaticKeyRing
from portside.api.http import CorkedHttpToolsProtocol
from portside.api.scheduler import status_routes
from portside.applicationautoscaling import wiring as autoscaling_wiring
from portside.autoscaling import wiring as asg_wiring
from portside.cloudwatch import wiring as cloudwatch_wiring
from portside.cluster.fence import FencedStore
from portside.cluster.leadership import Leadership
from portside.cluster.replicas import Replica
from portside.cluster.seen import SharedSeen
from portside.config import ServerConfig
from portside.controllers.blue_green.loop import BlueGreenLoop
from portside.controllers.daemons.controller import DaemonController
from portside.controllers.ecs_metrics.publisher import EcsMetricsPublisher
from portside.controllers.liveness import LivenessLoop
from portside.controllers.load_balancers import LoadBalancerPlane
from portside.controllers.loop import LEADER, REPLICA, Loops
from portside.controllers.maintenance import MaintenanceLoop
from portside.controllers.managed_scaling.loop import ManagedScalingLoop
from portside.controllers.registries import RegistriesLoop
from portside.controllers.schedules import ScheduleController
from portside.controllers.services.service import ServiceController
from portside.controllers.targets import TargetsLoop
from portside.dirlock import DirLock
from portside.dns.plane import DnsPlane
from portside.ecr import wiring as ecr_wiring
from portside.events.delivery import DeliveryLoop
from portside.events.delivery import log as events_log
from portside.events.stream import stream_routes
from portside.exec import frames
from portside.exec.registry import ExecRegistry
from portside.gateway.server import AgentGateway
from portside.hosts import wiring as hosts_wiring
from portside.hosts.provider import ControlPlane
from portside.iam.keys import IamKeyRing
from portside.kms import master as master_key
from portside.logs.retention import RetentionLoop
from portside.ops.context import World
from portside.prometheus import wiring as prometheus_wiring
from portside.serviceconnect.registrations import ConnectRegistrations
from portside.startup import check_databases, listen
from portside.store.open import open_log_store, open_metric_store, open_store
from portside.store.sqlite import SqliteStore
from portside.sts.credentials import StsKeyRing

log = logging.getLogger("portside.server")
STATE_FILE = "server.json"


Hook = Callable[[Starlette], Awaitable[None]]


def build(
    config: ServerConfig,
    startup_hooks: Sequence[Hook] = (),
    shutdown_hooks: Sequence[Hook] = (),
) -> tuple[Edge, World]:
    app, world, _ = build_with_gateway(config, startup_hooks, shutdown_hooks)
    return app, world


def build_with_gateway(
    config: ServerConfig,
    startup_hooks: Sequence[Hook] = (),
    shutdown_hooks: Sequence[Hook] = (),
) -> tuple[Edge, World, AgentGateway]:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    dns = DnsPlane.open(config)  # its port first: a taken one stops the start here
    heap.limit_arenas()  # before the loops' and the edge's threads allocate (heap.py)
    creds = credentials.load_or_create(config.data_dir)
    database = open_store(config)  # SQLite in the data directory, or --database's PostgreSQL
    # The leader's loops write under its lease's epoch (portside/cluster/fence.py).
    store = FencedStore(database)
    world = World(
        store=store,
        clock=time.time,
        allow_link_local_destinations=config.allow_link_local_destinations,
        metric_period=config.metric_period,
    )
    world.exec = ExecRegistry(endpoint=config.endpoint)
    world.keys = master_key.load_or_create(config.data_dir)  # KMS: wraps key material
    logs = open_log_store(config)  # logs.db, or tables of --database's PostgreSQL
    world.logs = logs
    admin = StaticKeyRing({creds.access_key_id: creds.secret_access_key}, config.account)
    # The admin key, then IAM users' keys, then STS's temporary keys: the API's and the
    # agents' (an agent may run as an instance role: the gateway checks its cluster).
    keys = StsKeyRing(store, IamKeyRing(store, admin))
    gateway = AgentGateway(world, SigV4Verifier(keys, world.clock), config.account)
    gateway.dns_address = dns.address  # agents' task resolvers relay to it
    delivery = DeliveryLoop(store, allow_link_local=config.allow_link_local_destinations)
    # /metrics, the tasks' usage and service discovery (portside/prometheus)
    prometheus = prometheus_wiring.build(world, lambda: gateway.last_seen)
    # EC2 instances on hosts Portside starts (portside/hosts): providers and their loop
    plane = ControlPlane(config.endpoint, creds.access_key_id, creds.secret_access_key)
    hosts = hosts_wiring.build(world, plane, config.data_dir)
    world.observe_placement = prometheus.metrics.placement
    ecr = ecr_wiring.build(
        store,
        config.data_dir,
        registry_port=config.registry_port,
        server_port=config.port,
        endpoint=config.endpoint,
        clock=world.clock,
    )
    app = create_app(
        ApiConfig(world=world, account=config.account, keys=keys),
        extra_routes=lambda api: [
            *gateway.routes(),
            *stream_routes(store, api.verifier, delivery.signal),
            *status_routes(api.authenticate, world, config.account),
            *ecr.routes,
            *prometheus.routes(api.authenticate),
            *prometheus.stats.routes(gateway._endpoint),  # the agents' samples
            *hosts.routes(api.authenticate),
        ],
    )
    app.api.observe = prometheus.metrics.api_call
    maintenance = MaintenanceLoop(world, account=config.account)
    replica = Replica(config.endpoint)  # this server among the replicas (portside/cluster)
    # Agents sync with any replica: liveness (on the leader) hears every replica's gateway.
    seen = SharedSeen(gateway, database, replica.id)
    liveness = LivenessLoop(world, seen)
    services = ServiceController(world, config.account, lost_grace=config.lost_instance_grace)
    daemons = DaemonController(world, config.account)  # ECS Managed Daemons
    schedules = ScheduleController(world, config.account)
    retention = RetentionLoop(logs, world.clock)
    balancers = LoadBalancerPlane(
        store, config.data_dir / "haproxy", bind_host=config.load_balancer_host, clock=world.clock
    )
    # Every background loop, with its status (world.loops: what health reports).
    loops = world.loops = Loops(world.clock)
    targets = TargetsLoop(world)
    registries = RegistriesLoop(world)
    connect = ConnectRegistrations(world)  # Service Connect tasks in Cloud Map
    # The loops that must act once run on the leader replica only (portside/cluster); the
    # others (DNS; ECR's registry, whose storage is the data directory's) on every replica.
    leader = loops.group(LEADER)
    parts = (maintenance, liveness, services, schedules, balancers, targets, registries, connect)
    for part in parts:
        part.register(leader)
    daemons.register(leader)
    BlueGreenLoop(world, config.account).register(leader)  # CodeDeploy's ECS deployments
    retention.register(leader)  # logs and metrics are shared: PostgreSQL or one data dir
    # ECR's registry serves from the data directory: replicas sharing one run one registry.
    ecr.loop.register(leader if config.replica else loops)
    dns.follower(store).register(loops)
    cloudwatch = cloudwatch_wiring.build(
        store,
        config.data_dir,
        synchronous=config.synchronous,
        clock=world.clock,
        metrics=open_metric_store(config),  # None: metrics.db in the data directory
    )
    cloudwatch.evaluator.register(leader)
    cloudwatch.retention.register(leader)
    # Application Auto Scaling: alarm actions to scaling policies, scheduled actions
    autoscaling_wiring.build(world, cloudwatch.runtime, clock=world.clock).register(leader)
    hosts.register(leader)  # the ec2-instances loop
    # EC2 Auto Scaling: groups kept at their desired capacity, target tracking policies
    asg_wiring.build(world, cloudwatch.runtime).register(leader)
    # ECS's AWS/ECS and Container Insights metrics from the agents' samples
    EcsMetricsPublisher(world, prometheus.stats).register(leader)
    # ECS managed scaling: capacity providers grow and shrink their Auto Scaling groups
    ManagedScalingLoop(world).register(leader)
    delivery.status = leader.watch("events", interval=delivery.interval, log=events_log)
    sole = not config.replica and isinstance(database, SqliteStore)  # alone on its file
    leadership = Leadership(database, loops, replica, sole=sole, seen=seen)

    leadership.add_runner(delivery.status, delivery.run)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await dns.start()
        (config.data_dir / STATE_FILE).write_bytes(
            orjson.dumps(
                {"endpoint": config.endpoint, "account": config.account, "dns": dns.address}
            )
        )
        gateway.start()
        running = [asyncio.create_task(loop.run()) for loop in loops.all(REPLICA)]
        lead = asyncio.create_task(leadership.run())  # the leader's loops, while it leads
        with contextlib.suppress(TimeoutError):  # its first beat: a lone server leads now
            await asyncio.wait_for(leadership.ready.wait(), 10)
        for hook in startup_hooks:
            await hook(app.rest)
        log.info("Portside control plane on %s (data: %s)", config.endpoint, config.data_dir)
        yield
        for hook in shutdown_hooks:
            await hook(app.rest)
        for t in (*running, lead):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await dns.stop()
        balancers.detach()  # HAProxy keeps serving; the next server adopts it
        await asyncio.to_thread(ecr.stop)  # the registry does not outlive the server
        store.close()
        logs.close()
        cloudwatch.close()
        await asyncio.to_thread(hosts.close)  # simulated fleets' sessions end

    app.rest.router.lifespan_context = lifespan
    return app, world, gateway


class _Server(uvicorn.Server):
    """Uvicorn, but a shutdown first answers the agents' long polls, so it does not wait
    out their timeouts."""

    gateway: AgentGateway | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.gateway is not None:
            self.gateway.close()
        super().handle_exit(sig, frame)


def run(
    config: ServerConfig,
    log_level: str = "info",
    startup_hooks: Sequence[Hook] = (),
    shutdown_hooks: Sequence[Hook] = (),
    on_bound: Sequence[Callable[[ServerConfig], None]] = (),
) -> None:
    """Serve until stopped. In this order, each before anything of the next is touched: the
    data directory's lock, the port, `on_bound` (`portside up` locks its agent's directory
    there), the databases' quick_check; a StartupError from any of them means nothing was
    written and nothing started."""
    lock = DirLock.acquire(config.data_dir, shared=config.replica)
    socks = listen(config.host, config.port)
    if config.port == 0:
        config = dataclasses.replace(config, port=socks[0].getsockname()[1])
    for step in on_bound:
        step(config)
    check_databases(config.data_dir)
    lock.record(port=config.port)
    app, _, gateway = build_with_gateway(config, startup_hooks, shutdown_hooks)
    server = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=log_level.lower(),
            access_log=False,
            loop="uvloop",
            http=CorkedHttpToolsProtocol,
            lifespan="on",
            timeout_graceful_shutdown=5,
            # Nothing proxies in front of us by default, and every request pays for these.
            proxy_headers=False,
            server_header=False,
            # Websockets carry ECS Exec's frames only: anything far past the largest one is
            # refused before it is buffered (uvicorn's default would take 16 MiB).
            ws_max_size=frames.MAX_MESSAGE,
        )
    )
    server.gateway = gateway
    server.run(sockets=socks)

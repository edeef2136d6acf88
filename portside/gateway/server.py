"""The agent protocol, server side: sessions, long-poll sync, state reports, heartbeats."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portside.api.auth import SigV4Verifier
from portside.api.errors import error_body, server_fault
from portside.errors import (
    ClientException,
    InvalidParameterException,
    PortsideError,
    SerializationException,
)
from portside.gateway import protocol
from portside.gateway.messages import agent_instance, agent_task
from portside.gateway.protocol import (
    AgentInstance,
    AgentTask,
    ExecOffer,
    FargateRegistered,
    FargateRegistration,
    Refusal,
    SessionOpen,
    SessionOpened,
    SyncAnswer,
    SyncRequest,
)
from portside.gateway.secrets import SecretsDesk
from portside.iam.enforce.agents import check_instances
from portside.model.container_instance import InstanceResources
from portside.model.task_definition import TaskDefinition
from portside.ops import instances as inst_ops
from portside.ops import task_reports
from portside.ops.context import Caller, Op, World, root_principal
from portside.ops.tasks import UNSTOPPED

log = logging.getLogger("portside.gateway")

_FEED_PAGE = 5000  # changes a sync reads at most at once
T = TypeVar("T")


def _read(from_wire: Callable[[dict[str, Any]], T], params: dict[str, Any]) -> T:
    """A protocol message from a request body; a body of the wrong shape is the caller's
    fault."""
    try:
        return from_wire(params)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SerializationException(f"The request is not a valid message: {exc!r}") from None


@dataclass(slots=True)
class Session:
    id: str
    caller: Caller
    instances: set[str]
    created: float = field(default_factory=time.monotonic)


class AgentGateway:
    def __init__(self, world: World, verifier: SigV4Verifier, account: str) -> None:
        self.world = world
        self.verifier = verifier
        self.account = account
        self.sessions: dict[str, Session] = {}
        self.last_seen: dict[str, float] = {}
        self._definitions: dict[str, dict[str, Any]] = {}
        self._wake: asyncio.Condition | None = None
        # Counts the wake-ups (on the event loop): a long poll that looked at the feed sleeps
        # only if no commit was announced since it started looking.
        self._wakes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        # The control plane's DNS server ("HOST:PORT"), told to agents: their task resolvers
        # relay to it (agent/dns_relay.py).
        self.dns_address: str | None = None

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(protocol.SESSION, self._endpoint(self.open_session), methods=["POST"]),
            Route(protocol.SYNC, self._endpoint(self.sync), methods=["POST"]),
            Route(protocol.FARGATE, self._endpoint(self.register_fargate), methods=["POST"]),
        ]
        if self.world.exec is not None:
            from portside.exec.relay import Relay

            routes += Relay(self.world, self.world.exec).routes()
        if self.world.logs is not None:
            from portside.gateway.logs import LogIngest

            routes += LogIngest(self.world).routes(self._endpoint)
        routes += SecretsDesk(self.world, self._instances_of).routes(self._endpoint)
        from portside.gateway.credentials import CredentialsDesk  # task roles

        routes += CredentialsDesk(self.world, self._instances_of).routes(self._endpoint)
        from portside.gateway.protection import ProtectionDesk  # task scale-in protection

        routes += ProtectionDesk(self.world, self._instances_of).routes(self._endpoint)
        from portside.gateway.network import NetworkDesk

        closing = lambda: self.closing  # noqa: E731
        routes += NetworkDesk(self.world, self._instances_of, closing).routes(self._endpoint)
        from portside.gateway.serviceconnect import ConnectDesk  # Service Connect's view

        routes += ConnectDesk(self.world, self._instances_of, closing).routes(self._endpoint)
        from portside.gateway.agent_update import AgentUpdateDesk  # UpdateContainerAgent

        routes += AgentUpdateDesk(self.world, self._instances_of).routes(self._endpoint)
        return routes

    def _instances_of(self, session_id: str) -> set[str] | None:
        session = self.sessions.get(session_id)
        return None if session is None else session.instances

    def start(self) -> None:
        """Hook the store's commits into the event loop (call from within the loop)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Condition()
        self.world.store.subscribe(self._on_commit)
        if self.world.exec is not None:
            # An exec session waiting for its agent wakes the long polls like a commit does.
            self.world.exec.set_notifier(lambda: self._on_commit(0))
            url = getattr(self.world.store, "url", None)
            if isinstance(url, str) and url.startswith(("postgresql:", "postgres:")):
                from portside.exec.across import ExecAcross  # exec across replicas

                self._exec_across = ExecAcross(url, self.world.exec)
                self._exec_across.start()

    def close(self) -> None:
        """Answer every waiting long poll now: the server is shutting down."""
        self.closing = True
        across = getattr(self, "_exec_across", None)
        if across is not None:
            across.close()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._notify()))

    def _on_commit(self, seq: int) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._notify()))

    async def _notify(self) -> None:
        self._wakes += 1
        if self._wake is not None:
            async with self._wake:
                self._wake.notify_all()

    def _endpoint(self, fn: Any) -> Any:
        async def handle(request: Request) -> Response:
            try:
                body = await request.body()
                principal = self.verifier.verify(
                    method=request.method,
                    path=request.scope.get("raw_path", b"/").decode("latin-1"),
                    query=request.scope.get("query_string", b"").decode("latin-1"),
                    headers=request.headers,
                    multi_headers=request.headers.getlist,
                    body=body,
                )
                try:
                    params = orjson.loads(body or b"{}")
                except orjson.JSONDecodeError:
                    raise SerializationException("The request body is not valid JSON.") from None
                if not isinstance(params, dict):
                    raise SerializationException("The request body must be a JSON object.")
                caller = Caller(  # the agent's key: the root's, or an instance role's
                    principal.account or self.account,
                    principal.region,
                    principal.access_key,
                    principal.principal_arn or root_principal(self.account),
                )
                result = await fn(Op(self.world, caller), params)
                wire = result if isinstance(result, dict) else result.to_wire()
                return Response(orjson.dumps(wire), media_type="application/json")
            except PortsideError as exc:
                status, payload = error_body(exc)
            except ClientDisconnect:
                # The agent hung up mid-request (it stopped, or was killed): nobody to answer.
                log.info("agent %s hung up mid-request", request.url.path)
                return Response(status_code=499)
            except Exception:
                log.exception("agent request failed")
                status, payload = server_fault()
            return Response(payload, status_code=status, media_type="application/json")

        return handle

    async def open_session(self, op: Op, params: dict[str, Any]) -> SessionOpened:
        arns = _read(SessionOpen.from_wire, params).instances
        # In a thread: a simulated fleet opens sessions of thousands of instances, and the
        # event loop serves every other call meanwhile.
        await asyncio.to_thread(self._check_session, op, arns)
        session = Session(uuid.uuid4().hex, op.caller, set(arns))
        self.sessions[session.id] = session
        await self._heartbeat(op, session)
        return SessionOpened(session.id, self.dns_address)

    @staticmethod
    def _check_session(op: Op, arns: Sequence[str]) -> None:
        """Every instance exists (their keys read at once, no document parsed), and the caller
        may serve each (an instance role serves its own cluster's instances)."""
        with op.store.read() as tx:
            known = {row[0] for row in tx.index(inst_ops.TABLE, ordered=False)}
        missing = next((a for a in arns if a not in known), None)
        if missing is not None:
            raise InvalidParameterException(f"Unknown container instance {missing}.")
        check_instances(op, arns)

    async def register_fargate(self, op: Op, params: dict[str, Any]) -> FargateRegistered:
        from portside.ops.clusters import create_cluster

        ask = _read(FargateRegistration.from_wire, params)
        await asyncio.to_thread(create_cluster, op)
        view = await asyncio.to_thread(
            lambda: inst_ops.register(
                op,
                cluster=None,
                total_resources=InstanceResources.of(ask.total_resources),
                version_info=ask.version_info,
                attributes=ask.attributes,
                existing_arn=ask.container_instance_arn,
                fargate=True,
            )
        )
        return FargateRegistered(view.instance.arn)

    async def _heartbeat(self, op: Op, session: Session) -> None:
        now = op.now()
        reconnect: list[str] = []
        for arn in session.instances:
            if arn not in self.last_seen or now - self.last_seen[arn] > 5:
                reconnect.append(arn)
            self.last_seen[arn] = now
        if reconnect:
            # In a thread: the write waits its turn for the store, never on the event loop
            # (every API call would wait with it while a long write runs).
            await asyncio.to_thread(self._reconnect, op, reconnect, now)

    @staticmethod
    def _reconnect(op: Op, arns: list[str], now: float) -> None:
        with op.store.transaction() as tx:
            for arn in arns:
                inst_ops.set_agent_connected(tx, arn, True, now)

    async def sync(self, op: Op, params: dict[str, Any]) -> SyncAnswer:
        ask = _read(SyncRequest.from_wire, params)
        session = self.sessions.get(ask.session)
        if session is None:
            raise ClientException("UnknownSession: open a new session.")
        refused: tuple[Refusal, ...] = ()
        if ask.reports:
            found = await asyncio.to_thread(task_reports.apply_reports, op, ask.reports)
            refused = tuple(Refusal(arn, why) for arn, why in found)
        await self._heartbeat(op, session)
        after = ask.after
        if after <= 0 or after < self._oldest_seq():
            seq, tasks, instances = await asyncio.to_thread(self._snapshot, op, session)
            return SyncAnswer(seq, True, tasks, instances, refused, self._exec_offers(session))
        deadline = time.monotonic() + ask.wait
        while True:
            looked = self._wakes
            seq, tasks, instances = await asyncio.to_thread(self._changes, op, session, after)
            offers = self._exec_offers(session)
            if tasks or instances or offers or self.closing or time.monotonic() >= deadline:
                return SyncAnswer(seq, False, tasks, instances, refused, offers)
            after = seq
            assert self._wake is not None
            try:
                async with self._wake:
                    # A commit announced while the feed was read may not be in what was
                    # read: look again rather than sleep through it.
                    if self._wakes == looked:
                        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                            await self._wake.wait()
            except TimeoutError:
                pass
            await self._heartbeat(op, session)

    def _exec_offers(self, session: Session) -> tuple[ExecOffer, ...]:
        """ECS Exec sessions waiting for an agent of this session (portside/exec)."""
        registry = self.world.exec
        return tuple(registry.offers_for(session.instances)) if registry is not None else ()

    def _oldest_seq(self) -> int:
        # An agent that is further behind than the kept feed gets a full snapshot instead.
        return self.world.store.oldest_seq()

    def _definition(self, op: Op, tx: Any, arn: str) -> dict[str, Any]:
        spec = self._definitions.get(arn)
        if spec is None:
            doc = tx.get("task_definitions", arn)
            spec = TaskDefinition.from_doc(doc).spec if doc else {}
            self._definitions[arn] = spec
        return spec

    def _task(self, op: Op, tx: Any, doc: dict[str, Any]) -> AgentTask:
        return agent_task(doc, self._definition(op, tx, doc["taskDefinitionArn"]))

    def _snapshot(
        self, op: Op, session: Session
    ) -> tuple[int, tuple[AgentTask, ...], tuple[AgentInstance, ...]]:
        seq = op.store.last_seq()
        tasks: list[AgentTask] = []
        instances: list[AgentInstance] = []
        with op.store.read() as tx:
            for arn in session.instances:
                doc = tx.get(inst_ops.TABLE, arn)
                if doc is not None:
                    instances.append(agent_instance(doc))
                # Not the instance's stopped tasks (an hour of them kept): never parsed.
                for _, tdoc in tx.scan("tasks", where={"instance": arn, "status": UNSTOPPED}):
                    tasks.append(self._task(op, tx, tdoc))
        return seq, tuple(tasks), tuple(instances)

    def _changes(
        self, op: Op, session: Session, after: int
    ) -> tuple[int, tuple[AgentTask, ...], tuple[AgentInstance, ...]]:
        """The newest state of the session's tasks and instances changed after `after`, and
        the position read up to. Only the newest document of each key is parsed, and an
        instance's only when the session carries it (instance documents are the large ones,
        and most of the feed is other sessions' news)."""
        store = op.store
        upto = store.last_seq()
        rows = store.changes_raw(
            after, limit=_FEED_PAGE, tables=("tasks", inst_ops.TABLE), upto=upto
        )
        position = rows[-1].seq if len(rows) == _FEED_PAGE else max(after, upto)
        newest: dict[tuple[str, str], str] = {}
        for row in rows:
            if row.doc is not None:  # a delete says nothing an agent acts on
                newest[(row.table, row.key)] = row.doc
        latest_tasks: list[dict[str, Any]] = []
        instances: list[AgentInstance] = []
        mine = session.instances
        for (table, key), text in newest.items():
            if table == inst_ops.TABLE:
                if key in mine:
                    instances.append(agent_instance(orjson.loads(text)))
            else:
                doc = orjson.loads(text)
                if doc.get("instanceArn") in mine:
                    latest_tasks.append(doc)
        tasks: tuple[AgentTask, ...] = ()
        if latest_tasks:
            with op.store.read() as tx:
                tasks = tuple(self._task(op, tx, d) for d in latest_tasks)
        return position, tasks, tuple(instances)

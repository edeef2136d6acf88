"""Live exec sessions, in memory: ExecuteCommand makes them, the relay runs them.

A session's life:
    created   ExecuteCommand returned its streamUrl and token (single use, TOKEN_TTL seconds)
    opened    the client connected and presented the token; the session is offered to the
              agent of the task's instance through its next sync (the registry wakes the
              gateway's long polls)
    offered   a sync handed it to the agent; it has OFFER_TTL seconds to connect
    attached  the agent's websocket is in: the relay pipes the two together
    ended     removed
Sessions live in the server process that made them. With several replicas, the offer is
told to the others and the agent's stream forwarded to this one (across.py): `add_remote`
keeps another replica's offer for the agents syncing here, `remote_home` says where its
agent's stream goes.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portside.gateway.protocol import ExecOffer
from portside.ops.exec import ExecTarget

TOKEN_TTL = 60.0
OFFER_TTL = 15.0
IDLE_KEEP = 60.0  # seconds another replica's offer is kept past its TTL
SESSION_PREFIX = "ecs-execute-command-"


class ExecRefused(Exception):
    """The stream cannot open: the reason is told to the client."""


@dataclass(slots=True)
class ExecSession:
    id: str
    token: str
    agent_token: str
    target: ExecTarget
    access_key: str
    created_at: float  # wall clock, for the record
    expires: float  # monotonic: the token's end
    tty: bool = False
    rows: int = 24
    cols: int = 80
    opened: bool = False
    offered: bool = False
    agent: asyncio.Future[Any] | None = None  # resolves to the agent's websocket
    ended: asyncio.Event | None = None  # set when the relay is done with both sides

    def offer(self) -> ExecOffer:
        """What the agent is told through its sync."""
        t = self.target
        return ExecOffer(
            session_id=self.id,
            agent_token=self.agent_token,
            task_arn=t.task_arn,
            instance_arn=t.instance_arn,
            container=t.container_name,
            runtime_id=t.runtime_id,
            command=tuple(t.argv),
            tty=self.tty,
            rows=self.rows,
            cols=self.cols,
        )


@dataclass
class ExecRegistry:
    endpoint: str  # the server's http(s) endpoint; stream URLs are its ws(s) form
    monotonic: Callable[[], float] = time.monotonic
    token: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(32))
    _sessions: dict[str, ExecSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _notify: Callable[[], None] = field(default=lambda: None)
    # Other replicas' offers (across.py): session id -> (offer, its replica, expiry, handed)
    _remote: dict[str, tuple[ExecOffer, str, float, bool]] = field(default_factory=dict)
    _publish: Callable[[ExecOffer], None] = field(default=lambda offer: None)

    def set_publisher(self, publish: Callable[[ExecOffer], None]) -> None:
        """Called with each opened session's offer, for the other replicas (across.py)."""
        self._publish = publish

    def add_remote(self, offer: ExecOffer, home: str) -> None:
        """Another replica's session waiting for its agent, which may sync here."""
        with self._lock:
            self._remote[offer.session_id] = (offer, home, self.monotonic() + OFFER_TTL, False)
        self._notify()

    def remote_home(self, session_id: str) -> str | None:
        """The replica holding another replica's session whose offer this one had."""
        with self._lock:
            found = self._remote.get(session_id)
        return found[1] if found is not None else None

    def set_notifier(self, notify: Callable[[], None]) -> None:
        """Called (from any thread) when a session waits for its agent."""
        self._notify = notify

    def stream_url(self, session_id: str) -> str:
        base = self.endpoint.rstrip("/")
        base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base[7:]
        return f"{base}/_portside/exec/v1/{session_id}"

    def create(
        self, target: ExecTarget, *, session_id: str, access_key: str, now: float
    ) -> ExecSession:
        session = ExecSession(
            id=SESSION_PREFIX + session_id,
            token=self.token(),
            agent_token=self.token(),
            target=target,
            access_key=access_key,
            created_at=now,
            expires=self.monotonic() + TOKEN_TTL,
        )
        with self._lock:
            self._expire()
            self._sessions[session.id] = session
        return session

    def open(
        self, session_id: str, token: str, tty: bool, size: tuple[int, int] | None
    ) -> ExecSession:
        """The client presents its token: single use, before it expires. Call on the loop."""
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
            if session is None or not secrets.compare_digest(session.token, token):
                raise ExecRefused("The session token is not valid or has expired.")
            if session.opened:
                raise ExecRefused("The session token has already been used.")
            session.opened = True
            session.tty = tty
            if size is not None:
                session.rows, session.cols = size
            session.agent = asyncio.get_running_loop().create_future()
            session.ended = asyncio.Event()
            session.expires = self.monotonic() + OFFER_TTL
        self._notify()
        self._publish(session.offer())
        return session

    def offers_for(self, instances: set[str]) -> list[ExecOffer]:
        """Opened sessions on these instances that no agent was told of yet; each is handed
        out once."""
        out: list[ExecOffer] = []
        with self._lock:
            for s in self._sessions.values():
                if s.opened and not s.offered and s.target.instance_arn in instances:
                    s.offered = True
                    out.append(s.offer())
            for sid, (offer, home, expires, handed) in list(self._remote.items()):
                if not handed and offer.instance_arn in instances:
                    self._remote[sid] = (offer, home, expires, True)
                    out.append(offer)
        return out

    def attach(self, session_id: str, agent_token: str, websocket: Any) -> ExecSession:
        """The agent's websocket for an offered session. Call on the loop."""
        with self._lock:
            session = self._sessions.get(session_id)
            if (
                session is None
                or not secrets.compare_digest(session.agent_token, agent_token)
                or session.agent is None
                or session.agent.done()
            ):
                raise ExecRefused("Unknown session or agent token.")
            session.agent.set_result(websocket)
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None and session.ended is not None:
            session.ended.set()

    def get(self, session_id: str) -> ExecSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    def _expire(self) -> None:
        # Unopened sessions whose token ran out; opened ones are ended by their relay.
        now = self.monotonic()
        for sid in [s.id for s in self._sessions.values() if not s.opened and s.expires < now]:
            del self._sessions[sid]
        # Another replica's offer: its agent dials within OFFER_TTL or never (kept a while
        # past it for a slow dial; the forwarding, once made, needs it no more).
        for sid in [k for k, v in self._remote.items() if v[2] + IDLE_KEEP < now]:
            del self._remote[sid]

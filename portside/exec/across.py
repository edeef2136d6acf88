"""ECS Exec across replicas: a session made on one replica reaches an agent connected to
another.

A session lives in the memory of the replica that made it (registry.py): ExecuteCommand
there returned a streamUrl naming that replica, so the client's stream meets the session
there. The agent, though, long-polls whichever replica it reaches. So:

- the offer goes through the database: when the client opens its stream, the replica
  holding the session sends it on the PostgreSQL channel `portside_exec` (NOTIFY; payload:
  the offer and the holding replica's endpoint); every replica LISTENs and keeps the other
  replicas' offers (`ExecRegistry.add_remote`) for the agents whose sessions it holds, whose
  next sync hands them out as their own;
- the agent's stream is forwarded replica to replica: the agent dials the replica it syncs
  with (its current endpoint), which, holding no such session, opens the same websocket
  (path and agent token) on the replica that does and pipes the frames both ways. The
  session's token checks, recording and ending stay where the session is.

SQLite is one host and one process: nothing to relay, and no listener is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

import orjson

from portside.gateway import protocol
from portside.gateway.protocol import ExecOffer

if TYPE_CHECKING:
    from portside.exec.registry import ExecRegistry

log = logging.getLogger("portside.exec")

CHANNEL = "portside_exec"


def payload(offer: ExecOffer, home: str) -> str:
    return orjson.dumps({"home": home, "offer": offer.to_wire()}).decode()


def read_payload(text: str) -> tuple[ExecOffer, str] | None:
    try:
        body = orjson.loads(text)
        return ExecOffer.from_wire(body["offer"]), str(body["home"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class ExecAcross:
    """This replica's end of the relay: publishes its sessions' offers, hears the others'."""

    def __init__(self, url: str, registry: ExecRegistry) -> None:
        self.url = url
        self.registry = registry
        self._closed = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="exec-across", daemon=True)

    def start(self) -> None:
        self.registry.set_publisher(self.publish)
        self._thread.start()  # not waited for: this runs on the server's event loop

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def publish(self, offer: ExecOffer) -> None:
        """Tell every replica an offer of this one's (called from any thread; best effort:
        an agent connected here takes it anyway, and a client waits OFFER_TTL at most)."""
        threading.Thread(target=self._send, args=(offer,), daemon=True).start()

    def _send(self, offer: ExecOffer) -> None:
        import psycopg

        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                text = payload(offer, self.registry.endpoint)
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))
        except Exception as exc:
            log.warning("exec session %s not told to the other replicas: %s", offer.session_id, exc)

    def _listen(self) -> None:
        import psycopg

        backoff = 0.2
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    backoff = 0.2
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._heard(note.payload)
            except Exception as exc:  # the database away: listen again when it is back
                self._listening.set()
                log.debug("exec relay listener: %s", exc)
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _heard(self, text: str) -> None:
        found = read_payload(text)
        if found is None:
            return
        offer, home = found
        if home.rstrip("/") != self.registry.endpoint.rstrip("/"):
            self.registry.add_remote(offer, home)


async def forward(agent: Any, home: str, session_id: str, token: str) -> None:
    """Pipe an agent's websocket (Starlette's, accepted) to the same route on the replica
    holding the session, until either side closes."""
    from websockets.asyncio.client import connect

    base = home.rstrip("/")
    base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base[7:]
    url = base + protocol.EXEC + session_id
    try:
        upstream = await connect(
            url, additional_headers={protocol.EXEC_TOKEN_HEADER: token}, open_timeout=10
        )
    except Exception as exc:
        log.warning("exec session %s: its replica %s is unreachable: %s", session_id, home, exc)
        await agent.close(code=1011)
        return

    async def to_home() -> None:
        while True:
            message = await agent.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message.get("text") or "")

    async def from_home() -> None:
        async for message in upstream:
            if isinstance(message, bytes):
                await agent.send_bytes(message)
            else:
                await agent.send_text(message)

    tasks = [asyncio.create_task(to_home()), asyncio.create_task(from_home())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await upstream.close()
        with contextlib.suppress(Exception):
            await agent.close()

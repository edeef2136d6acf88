"""The exec relay: the client's websocket and the agent's, piped together by the server.

    client  ws  /_portside/exec/v1/<sessionId>        first frame OPEN {"token", "tty", ...}
    agent   ws  /_portside/agent/v1/exec/<sessionId>  header X-Portside-Exec-Token: the
                                                      per-session token its sync handed it
The control plane never calls the agent (DESIGN.md): when the client opens the stream, the
registry wakes the agent's long poll, whose answer lists the session; the agent then dials in.
The client speaks one of two protocols on the same URL, told apart by its first message: a
binary OPEN frame (portside/exec/frames.py, `portside exec`) or the Session Manager data
channel's opening text message with the token (AWS's session-manager-plugin, which
`aws ecs execute-command` runs, and Portside's own; portside/exec/ssm/edge.py). Either way the
agent's side is frames: the translation happens in the client's edge. The relay records the
session (record.py) and ends it when the command exits, when either side goes away, or after
IDLE_TIMEOUT seconds without a frame either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any, Protocol

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from portside.exec import frames
from portside.exec.record import Recorder
from portside.exec.registry import OFFER_TTL, ExecRefused, ExecRegistry, ExecSession
from portside.exec.ssm import payloads as ssm_payloads
from portside.exec.ssm.edge import SsmEdge
from portside.gateway import protocol
from portside.ops.context import World

log = logging.getLogger("portside.exec")

CLIENT_PATH = "/_portside/exec/v1/{session_id}"
AGENT_PATH = protocol.EXEC + "{session_id}"
TOKEN_HEADER = protocol.EXEC_TOKEN_HEADER.lower()
OPEN_WAIT = 10.0
IDLE_TIMEOUT = 20 * 60.0  # Session Manager's default idle session timeout


class Relay:
    def __init__(
        self,
        world: World,
        registry: ExecRegistry,
        idle_timeout: float = IDLE_TIMEOUT,
        offer_timeout: float = OFFER_TTL,
    ):
        self.world = world
        self.registry = registry
        self.idle_timeout = idle_timeout
        self.offer_timeout = offer_timeout

    def routes(self) -> list[WebSocketRoute]:
        return [
            WebSocketRoute(CLIENT_PATH, self.client),
            WebSocketRoute(AGENT_PATH, self.agent),
        ]

    async def agent(self, ws: WebSocket) -> None:
        token = ws.headers.get(TOKEN_HEADER, "")
        await ws.accept()
        sid = ws.path_params["session_id"]
        try:
            session = self.registry.attach(sid, token, ws)
        except ExecRefused:
            home = self.registry.remote_home(sid)
            if home is not None:  # another replica's session: its stream goes there
                from portside.exec.across import forward

                await forward(ws, home, sid, token)
                return
            await ws.close(code=4403)
            return
        assert session.ended is not None
        await session.ended.wait()

    async def client(self, ws: WebSocket) -> None:
        await ws.accept()
        sid = ws.path_params["session_id"]
        edge: ClientEdge
        try:
            first = await self._first(ws)
            opening = ssm_payloads.opening(first) if isinstance(first, str) else None
            if opening is not None:
                edge = SsmEdge(ws, sid, opening)
                try:
                    session = self.registry.open(sid, opening["TokenValue"], True, None)
                except ExecRefused as exc:
                    await edge.refuse(str(exc))
                    await edge.close()
                    return
                await edge.start()
            else:
                edge = FramesEdge(ws)
                session = self._open_frames(sid, first)
        except (ExecRefused, frames.FrameError, TimeoutError) as exc:
            await _send_and_close(ws, frames.exit_error(str(exc) or "No OPEN frame came."))
            return
        except WebSocketDisconnect:
            return
        recorder = Recorder(self.world.logs, session, self.world.clock)
        try:
            await recorder.start()
            await self._run(edge, session, recorder)
        finally:
            self.registry.end(sid)
            await edge.close()

    async def _first(self, ws: WebSocket) -> bytes | str:
        async with asyncio.timeout(OPEN_WAIT):
            message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        return text if text is not None else (message.get("bytes") or b"")

    def _open_frames(self, sid: str, first: bytes | str) -> ExecSession:
        frame = frames.decode(first)
        if frame.channel != frames.OPEN:
            raise frames.FrameError("The first frame must be OPEN.")
        body = frame.json()
        return self.registry.open(
            sid, str(body.get("token") or ""), bool(body.get("tty")), frames.window(body)
        )

    async def _run(self, edge: ClientEdge, session: ExecSession, recorder: Recorder) -> None:
        assert session.agent is not None
        try:
            async with asyncio.timeout(self.offer_timeout):
                agent: WebSocket = await asyncio.shield(session.agent)
        except TimeoutError:
            why = "TargetNotConnected: the task's agent did not take the session."
            await recorder.finish(error=why)
            await edge.error(why)
            return
        outcome: dict[str, Any] = {}
        last = [time.monotonic()]
        upstream = asyncio.create_task(self._upstream(edge, agent, last))
        downstream = asyncio.create_task(self._downstream(agent, edge, recorder, outcome, last))
        idle = asyncio.create_task(self._idle(last))
        done, pending = await asyncio.wait(
            {upstream, downstream, idle}, return_when=asyncio.FIRST_COMPLETED
        )
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if "exitCode" in outcome:
            await recorder.finish(exit_code=int(outcome["exitCode"]))
        else:
            if idle in done:
                why = "The session was idle too long."
            elif upstream in done:
                why = "The client went away."
            else:
                why = str(outcome.get("error") or "The agent's connection was lost.")
            await recorder.finish(error=why)
            if upstream not in done:
                await edge.error(why)
        with contextlib.suppress(Exception):
            await agent.close()

    async def _upstream(self, edge: ClientEdge, agent: WebSocket, last: list[float]) -> None:
        """Client to agent: stdin, stdin EOF and resizes; nothing else may come this way."""
        async with contextlib.aclosing(edge.inputs(last)) as sent:
            async for frame in sent:
                if frame.channel in (frames.STDIN, frames.STDIN_EOF, frames.RESIZE):
                    await agent.send_bytes(frames.encode(frame.channel, frame.payload))

    async def _downstream(
        self,
        agent: WebSocket,
        edge: ClientEdge,
        recorder: Recorder,
        outcome: dict[str, Any],
        last: list[float],
    ) -> None:
        """Agent to client: output, then the exit frame that ends the session."""
        async with contextlib.aclosing(_frames(agent, last, "agent", logging.WARNING)) as sent:
            async for frame in sent:
                if frame.channel in (frames.STDOUT, frames.STDERR):
                    await edge.output(frame.channel, frame.payload)
                    await recorder.data(frame.payload)
                elif frame.channel == frames.EXIT:
                    body = frame.json()
                    if isinstance(body.get("exitCode"), int):
                        outcome["exitCode"] = body["exitCode"]
                        await edge.exit(body["exitCode"])
                    else:
                        outcome["error"] = str(body.get("error") or "The command failed.")
                    return

    async def _idle(self, last: list[float]) -> None:
        while True:
            left = last[0] + self.idle_timeout - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 5.0))


class ClientEdge(Protocol):
    """The client's side of a session, in the protocol it speaks."""

    def inputs(self, last: list[float]) -> AsyncGenerator[frames.Frame, None]:
        """The client's STDIN, STDIN_EOF and RESIZE frames until it goes away; each message
        marks the session active (`last`)."""
        ...

    async def output(self, channel: int, payload: bytes) -> None:
        """The command's output (STDOUT or STDERR)."""

    async def exit(self, code: int) -> None:
        """The command exited: the session's last word."""

    async def error(self, why: str) -> None:
        """The session ends without an exit code."""

    async def close(self) -> None: ...


class FramesEdge:
    """Portside's own frames (`portside exec`)."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    def inputs(self, last: list[float]) -> AsyncGenerator[frames.Frame, None]:
        return _frames(self.ws, last, "client", logging.INFO)

    async def output(self, channel: int, payload: bytes) -> None:
        await self.ws.send_bytes(frames.encode(channel, payload))

    async def exit(self, code: int) -> None:
        await self.ws.send_bytes(frames.exit_code(code))

    async def error(self, why: str) -> None:
        await _send(self.ws, frames.exit_error(why))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


async def _frames(
    ws: WebSocket, last: list[float], sender: str, bad_frame_level: int
) -> AsyncGenerator[frames.Frame, None]:
    """The frames one side sends until it goes away; each message marks the session active
    (`last`). A message that is no frame is logged and skipped."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        last[0] = time.monotonic()
        try:
            frame = frames.decode(message.get("bytes") or message.get("text") or b"")
        except frames.FrameError as exc:
            log.log(bad_frame_level, "exec %s sent a bad frame: %s", sender, exc)
            continue
        yield frame


async def _send(ws: WebSocket, data: bytes) -> None:
    with contextlib.suppress(Exception):
        await ws.send_bytes(data)


async def _send_and_close(ws: WebSocket, data: bytes) -> None:
    await _send(ws, data)
    with contextlib.suppress(Exception):
        await ws.close()

"""The server's end of a Session Manager data channel, on the exec relay's client socket.

AWS's session-manager-plugin (and Portside's own, portside/ssm_plugin) open the streamUrl,
send the opening text message with the token, and then speak binary messages. This edge turns
them into the relay's frames and back:

    server -> client   handshake request (seq 0: session type Standard_Stream)
    client -> server   handshake response (seq 0); the server answers handshake complete
    client -> server   payload type 1 (keystrokes) -> STDIN, 3 (size) -> RESIZE,
                       10 with TerminateSession -> the session ends
    server -> client   the agent's STDOUT/STDERR as payload type 1, held until the handshake is
                       complete (the plugin drops what comes before), then channel_closed
                       once all output is acknowledged
Every stream message is acknowledged and resent until acknowledged (channel.py). The session
always has a TTY, as ECS Exec's does. A client that puts "PortsideExitCode": true in its
opening message also gets the exit code (payload type 12, ASCII digits) before channel_closed;
AWS's plugin never asks, and ends with exit status 0 whatever the command's was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

from starlette.websockets import WebSocket

from portside import __version__
from portside.exec import frames
from portside.exec.ssm import payloads
from portside.exec.ssm.channel import DataChannel
from portside.exec.ssm.message import (
    OUTPUT_STREAM_DATA,
    Flag,
    MessageError,
    PayloadType,
    encode,
)

log = logging.getLogger("portside.exec")

RESEND_TICK = 0.1
DRAIN_WAIT = 10.0  # how long the end of a session waits for its output to be acknowledged
HANDSHAKE_WAIT = 10.0


class SsmEdge:
    def __init__(self, ws: WebSocket, session_id: str, opening: dict[str, Any]) -> None:
        self.ws = ws
        self.session_id = session_id
        self.wants_exit_code = opening.get("PortsideExitCode") is True
        self.channel = DataChannel(OUTPUT_STREAM_DATA)
        self._lock = asyncio.Lock()
        self._handshaken = asyncio.Event()
        self._held: list[bytes] = []
        self._started = time.monotonic_ns()
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        self._reading = False  # inputs() runs: acknowledgements are being read

    async def start(self) -> None:
        """Ask for the handshake and start resending what is not acknowledged."""
        await self._data(PayloadType.HANDSHAKE_REQUEST, payloads.handshake_request(__version__))
        self._ticker = asyncio.create_task(self._resend())

    async def refuse(self, why: str) -> None:
        """The session cannot open: the plugin shows channel_closed's Output and exits."""
        await self._closed_with(why)

    async def inputs(self, last: list[float]) -> AsyncGenerator[frames.Frame, None]:
        """The client's keystrokes and sizes as frames, until it leaves or ends the session."""
        self._reading = True
        try:
            async for frame in self._inputs(last):
                yield frame
        finally:
            self._reading = False

    async def _inputs(self, last: list[float]) -> AsyncGenerator[frames.Frame, None]:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            last[0] = time.monotonic()
            raw = message.get("bytes")
            if raw is None:
                continue  # a second opening message, or text from a confused client
            try:
                got = self.channel.receive(raw, time.monotonic())
            except MessageError as exc:
                log.info("exec client sent a bad data channel message: %s", exc)
                continue
            for reply in got.replies:
                await self._send(reply)
            for m in got.data:
                if m.payload_type == PayloadType.HANDSHAKE_RESPONSE:
                    await self._complete_handshake()
                elif m.payload_type == PayloadType.OUTPUT and m.payload:
                    yield frames.Frame(frames.STDIN, m.payload)
                elif m.payload_type == PayloadType.SIZE:
                    with contextlib.suppress(MessageError):
                        size = payloads.size_of(m.payload)
                        if size is not None:
                            yield frames.Frame(frames.RESIZE, frames.resize(*size)[1:])
                elif (
                    m.payload_type == PayloadType.FLAG
                    and _flag(m.payload) == Flag.TERMINATE_SESSION
                ):
                    return

    async def output(self, channel: int, payload: bytes) -> None:
        if not self._handshaken.is_set():
            self._held.append(payload)
            return
        await self._data(PayloadType.OUTPUT, payload)

    async def exit(self, code: int) -> None:
        # A quick command can end before the handshake: its output is still held.
        await self._wait_handshake()
        if self.wants_exit_code:
            await self._data(PayloadType.EXIT_CODE, str(code).encode())
        await self._drain()
        await self._closed_with("")

    async def error(self, why: str) -> None:
        await self._drain()
        await self._closed_with(why)

    async def close(self) -> None:
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def _complete_handshake(self) -> None:
        if self._handshaken.is_set():
            return
        elapsed = time.monotonic_ns() - self._started
        await self._data(PayloadType.HANDSHAKE_COMPLETE, payloads.handshake_complete(elapsed))
        self._handshaken.set()
        held, self._held = self._held, []
        for payload in held:
            if payload:
                await self._data(PayloadType.OUTPUT, payload)

    async def _wait_handshake(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HANDSHAKE_WAIT):
                await self._handshaken.wait()

    async def _drain(self) -> None:
        """Wait (a while) for the client to acknowledge all it was sent: the plugin exits on
        channel_closed, so output it has not taken by then is lost. Only while someone reads
        the client's messages (not before the agent is in, nor once the client left)."""
        deadline = time.monotonic() + DRAIN_WAIT
        while self._reading and not self.channel.all_acknowledged and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _closed_with(self, output: str) -> None:
        now = self.channel.clock_ms()
        closed = payloads.channel_closed(self.session_id, now, output)
        await self._send(encode(closed))

    async def _data(self, payload_type: int, payload: bytes) -> None:
        async with self._lock:
            raw = self.channel.data(payload_type, payload, time.monotonic())
        await self._send(raw)

    async def _send(self, raw: bytes) -> None:
        if self._closed:
            return
        async with self._lock:
            with contextlib.suppress(Exception):
                await self.ws.send_bytes(raw)

    async def _resend(self) -> None:
        while True:
            await asyncio.sleep(RESEND_TICK)
            for raw in self.channel.due(time.monotonic()):
                await self._send(raw)


def _flag(payload: bytes) -> int | None:
    return int.from_bytes(payload[:4], "big") if len(payload) >= 4 else None

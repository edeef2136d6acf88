"""One session, the plugin's end of the data channel (portside/exec/ssm/channel.py).

    1. print "Starting session with SessionId: ...", open the streamUrl, send the opening text
       message with the token
    2. answer the handshake request (the shell session type is taken) and wait for the
       handshake to complete
    3. with stdin in raw mode (when a terminal): send the terminal's size, then on every
       SIGWINCH and whenever a check every SIZE_POLL finds it changed; send what stdin gives,
       1 KiB at a time, as keystrokes (a lone newline as carriage return, as AWS's plugin
       sends it); write the output to stdout
    4. on channel_closed: restore the terminal, print "Exiting session with sessionId: ..." (or
       the reason the server gave) and exit 0, as AWS's plugin does whatever the remote
       command's status. With `exit_code` (PORTSIDE_SSM_EXIT_CODE=1) the plugin asks Portside
       for the exit code and exits with it.
Messages not acknowledged are sent again (every RESEND_TICK the due ones). A connection that
drops before channel_closed ends the session with exit status 255: Portside keeps no session
to resume, so the plugin does not call ResumeSession as AWS's does against Session Manager.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
import uuid

import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from portside import __version__
from portside.exec.ssm import payloads
from portside.exec.ssm.channel import DataChannel
from portside.exec.ssm.message import (
    CHANNEL_CLOSED,
    INPUT_STREAM_DATA,
    Message,
    MessageError,
    PayloadType,
)
from portside.ssm_plugin import terminal

RESEND_TICK = 0.1
READ_SIZE = 1024
SIZE_POLL = 0.5
LOST = 255


def run(session_id: str, url: str, token: str, *, exit_code: bool = False) -> int:
    _out(f"\nStarting session with SessionId: {session_id}\n")
    try:
        ws = connect(url, max_size=None, open_timeout=10, compression=None)
    except Exception as exc:
        sys.stderr.write(f"Cannot perform start session: {exc}\n")
        return LOST
    with ws:
        opening = orjson.loads(payloads.open_channel(token, str(uuid.uuid4()), __version__))
        if exit_code:
            opening["PortsideExitCode"] = True
        ws.send(orjson.dumps(opening).decode())
        client = _Client(ws)
        code = client.run()
    if client.closed_output is None:
        _out(f"\n\nSessionId: {session_id} : The connection to the session was lost.\n\n")
        return LOST
    if client.closed_output:
        _out(f"\n\nSessionId: {session_id} : {client.closed_output}\n\n")
    else:
        _out(f"\n\nExiting session with sessionId: {session_id}.\n\n")
    return code if exit_code and code is not None else 0


class _Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.channel = DataChannel(INPUT_STREAM_DATA)
        self.lock = threading.Lock()
        self.ready = threading.Event()  # the handshake is complete
        self.done = threading.Event()
        self.closed_output: str | None = None  # channel_closed's Output, once it came
        self.exit_code: int | None = None
        self.keys: list[bytes] = []
        self.resized = True  # the first size goes at once
        self.wake_r, self.wake_w = os.pipe()

    def run(self) -> int | None:
        reader = threading.Thread(target=self._receive, daemon=True)
        reader.start()
        try:
            while not self.ready.is_set() and not self.done.is_set():
                self.ready.wait(RESEND_TICK)
                self._resend()
            if self.ready.is_set() and not self.done.is_set():
                stdin = sys.stdin.fileno()
                with terminal.raw(stdin), terminal.signals(self._key, self._resize):
                    self._pump(stdin)
        finally:
            with contextlib.suppress(Exception):
                self.ws.close()
            reader.join(timeout=2)
            os.close(self.wake_r)
            os.close(self.wake_w)
        return self.exit_code

    # the main thread: keystrokes, sizes, resends

    def _pump(self, stdin: int) -> None:
        reading = True
        sent_size: tuple[int, int] | None = None
        next_size_check = 0.0
        while not self.done.is_set():
            fds = [self.wake_r, stdin] if reading else [self.wake_r]
            try:
                ready, _, _ = select.select(fds, [], [], RESEND_TICK)
            except InterruptedError:
                ready = []
            if self.wake_r in ready:
                os.read(self.wake_r, 1024)
            now = time.monotonic()
            if self.resized or now >= next_size_check:
                # On SIGWINCH, and every SIZE_POLL as AWS's plugin does (a terminal that is
                # not the controlling one sends no SIGWINCH).
                self.resized = False
                next_size_check = now + SIZE_POLL
                size = terminal.size()
                if size != sent_size:
                    sent_size = size
                    self._data(PayloadType.SIZE, payloads.size(*size))
            while self.keys:
                self._data(PayloadType.OUTPUT, self.keys.pop(0))
            if reading and stdin in ready:
                data = os.read(stdin, READ_SIZE)
                if not data:
                    reading = False  # the session goes on until the server closes it
                else:
                    self._data(PayloadType.OUTPUT, b"\r" if data == b"\n" else data)
            self._resend()

    def _key(self, data: bytes) -> None:
        self.keys.append(data)
        self._wake()

    def _resize(self) -> None:
        self.resized = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    def _resend(self) -> None:
        with self.lock:
            for raw in self.channel.due(time.monotonic()):
                self._send(raw)

    def _data(self, payload_type: int, payload: bytes) -> None:
        with self.lock:
            self._send(self.channel.data(payload_type, payload, time.monotonic()))

    def _send(self, raw: bytes) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            self.ws.send(raw)

    # the reader thread: the server's messages

    def _receive(self) -> None:
        try:
            for raw in self.ws:
                if isinstance(raw, str):
                    continue
                try:
                    with self.lock:
                        got = self.channel.receive(raw, time.monotonic())
                        for reply in got.replies:
                            self._send(reply)
                except MessageError:
                    continue
                for m in got.data:
                    self._handle(m)
                closed = next((c for c in got.control if c.message_type == CHANNEL_CLOSED), None)
                if closed is not None:
                    self.closed_output = _reason(closed)
                    break
        except (ConnectionClosed, OSError):
            pass
        finally:
            self.done.set()
            self._wake()

    def _handle(self, m: Message) -> None:
        kind = m.payload_type
        if kind == PayloadType.HANDSHAKE_REQUEST:
            with contextlib.suppress(MessageError):
                reply = payloads.handshake_response(payloads.json_of(m.payload), __version__)
                self._data(PayloadType.HANDSHAKE_RESPONSE, reply)
        elif kind == PayloadType.HANDSHAKE_COMPLETE:
            with contextlib.suppress(MessageError):
                message = payloads.json_of(m.payload).get("CustomerMessage")
                if message:
                    _out(f"{message}\n")
            self.ready.set()
        elif kind in (PayloadType.OUTPUT, PayloadType.ERROR):
            self.ready.set()  # an agent that skips the handshake starts with output
            _write(sys.stdout, m.payload)
        elif kind == PayloadType.STDERR:
            _write(sys.stderr, m.payload)
        elif kind == PayloadType.EXIT_CODE:
            with contextlib.suppress(ValueError):
                self.exit_code = int(m.payload.decode().strip())


def _reason(closed: Message) -> str:
    """channel_closed's Output: why the session ended, empty when it simply did."""
    try:
        return str(payloads.json_of(closed.payload).get("Output") or "")
    except MessageError:
        return ""


def _write(stream: object, data: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return
    with contextlib.suppress(OSError, ValueError):
        buffer.write(data)
        buffer.flush()


def _out(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(text)
        sys.stdout.flush()

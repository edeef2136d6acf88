"""The exec stream's frame format, shared by the client, the relay and the agent.

Every websocket message is one binary frame: a 1-byte channel, then the payload.

    channel        direction               payload
    0 STDIN        client -> agent         raw bytes for the process's stdin
    1 STDOUT       agent  -> client        raw bytes (with a TTY: the terminal's whole output)
    2 STDERR       agent  -> client        raw bytes (never sent with a TTY)
    3 RESIZE       client -> agent         JSON {"rows": int, "cols": int}
    4 EXIT         agent  -> client        JSON {"exitCode": int} or {"error": str}; last frame
    5 OPEN         client -> relay         JSON {"token": str, "tty": bool, "rows", "cols"};
                                           the client's first frame
    6 STDIN_EOF    client -> agent         empty: the client's stdin is closed

The relay answers OPEN with its own EXIT {"error": ...} when the token is wrong, spent or
expired, or when no agent takes the session in time; otherwise it only passes frames through
(and records them). A session ends with an EXIT frame, or when either side goes away.

No side puts more than MAX_PAYLOAD bytes in one frame: `portside exec` reads its stdin that
much at a time and the agent cuts the process's output to it (Docker's reads are 4-32 KiB).
The server takes websocket messages up to MAX_MESSAGE and closes a connection that sends a
larger one (1009, message too big).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

STDIN = 0
STDOUT = 1
STDERR = 2
RESIZE = 3
EXIT = 4
OPEN = 5
STDIN_EOF = 6

MAX_PAYLOAD = 64 * 1024
MAX_MESSAGE = 4 * MAX_PAYLOAD  # the largest frame, with room for a client reading more

_JSON_CHANNELS = frozenset({RESIZE, EXIT, OPEN})
CHANNELS = frozenset({STDIN, STDOUT, STDERR, RESIZE, EXIT, OPEN, STDIN_EOF})


class FrameError(ValueError):
    """A message that is not a frame of this protocol."""


@dataclass(frozen=True, slots=True)
class Frame:
    channel: int
    payload: bytes = b""

    def json(self) -> dict[str, Any]:
        """The payload of a JSON channel, as a dict."""
        try:
            value = orjson.loads(self.payload or b"{}")
        except orjson.JSONDecodeError:
            raise FrameError(f"channel {self.channel}: payload is not JSON") from None
        if not isinstance(value, dict):
            raise FrameError(f"channel {self.channel}: payload is not a JSON object")
        return value


def encode(channel: int, payload: bytes = b"") -> bytes:
    if channel not in CHANNELS:
        raise FrameError(f"unknown channel {channel}")
    return bytes((channel,)) + payload


def encode_json(channel: int, value: dict[str, Any]) -> bytes:
    if channel not in _JSON_CHANNELS:
        raise FrameError(f"channel {channel} does not carry JSON")
    return encode(channel, orjson.dumps(value))


def decode(message: bytes | str) -> Frame:
    if isinstance(message, str):
        raise FrameError("text messages are not frames: send binary")
    if not message:
        raise FrameError("empty message")
    channel = message[0]
    if channel not in CHANNELS:
        raise FrameError(f"unknown channel {channel}")
    return Frame(channel, bytes(message[1:]))


def resize(rows: int, cols: int) -> bytes:
    return encode_json(RESIZE, {"rows": rows, "cols": cols})


def exit_code(code: int) -> bytes:
    return encode_json(EXIT, {"exitCode": code})


def exit_error(message: str) -> bytes:
    return encode_json(EXIT, {"error": message})


def window(value: dict[str, Any]) -> tuple[int, int] | None:
    """(rows, cols) from a RESIZE or OPEN payload, when both are sane terminal sizes."""
    return size(value.get("rows"), value.get("cols"))


def size(rows: Any, cols: Any) -> tuple[int, int] | None:
    """(rows, cols) when both are sane terminal sizes."""
    if isinstance(rows, int) and isinstance(cols, int) and 0 < rows < 10000 and 0 < cols < 10000:
        return rows, cols
    return None

"""Hostile requests for the soak benchmark (soak.py --hostile): what anyone who can reach the
port may send, signed or not. Each is one connection, written with raw sockets:

- oversized: an ECS call announcing a 64 MiB body (Content-Length), 1 MiB of it sent: 413;
- malformed: a broken request line, a non-numeric Content-Length, or both Content-Length and
  Transfer-Encoding: 400 or the connection closed;
- slow_head: a head sent a byte at a time, every second, never finished: the server answers
  408 or closes once its head timeout (10 s) runs out;
- unsigned: a well-formed ListClusters with no signature: 400/403;
- too_many_headers: 150 headers: 431.

An outcome is "refused" (a 4xx answer, or the connection closed by the server with no
answer where the protocol gives none) or "bad" (a 5xx, or no word from the server within
`deadline`: a request the server neither answered nor dropped).
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

KINDS = ("oversized", "malformed", "slow_head", "unsigned", "too_many_headers")
TARGET = "AmazonEC2ContainerServiceV20141113"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    status: int | None  # the HTTP status answered, None when the server closed without one
    seconds: float
    bad: bool
    detail: str = ""


def _head(port: int, *extra: str, length: int | None = None) -> bytes:
    lines = [
        "POST / HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/x-amz-json-1.1",
        f"X-Amz-Target: {TARGET}.ListClusters",
        *extra,
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, deadline: float) -> tuple[int | None, str]:
    """The status of the server's answer, or None if it closed the connection first."""
    buf = b""
    while b"\r\n" not in buf:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return None, "reset"
        if not chunk:
            return None, "closed"
        buf += chunk
    line = buf.split(b"\r\n", 1)[0]
    try:
        return int(line.split()[1]), line.decode(errors="replace")
    except (IndexError, ValueError):
        return None, f"not HTTP: {line[:60]!r}"


def _send(sock: socket.socket, data: bytes) -> None:
    # The server may refuse before taking it all: its answer says why.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def _malformed(port: int, variant: int) -> bytes:
    if variant == 0:
        return b"\x16\x03\x01 NOT HTTP AT ALL\r\n\r\n"
    if variant == 1:
        return _head(port, "Content-Length: twelve")
    body = b'{"maxResults": 1}'
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return _head(port, "Transfer-Encoding: chunked", length=len(body)) + chunked


def send_one(kind: str, port: int, n: int, deadline_s: float = 30.0) -> Outcome:
    """One hostile request of `kind` (the n-th, to vary it); its outcome."""
    began = time.monotonic()
    deadline = began + deadline_s
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as exc:
        return Outcome(kind, None, time.monotonic() - began, True, f"connect: {exc}")
    try:
        if kind == "oversized":
            _send(sock, _head(port, length=64 << 20))
            chunk = b"x" * 65536
            for _ in range(16):
                _send(sock, chunk)
        elif kind == "malformed":
            _send(sock, _malformed(port, n % 3))
        elif kind == "slow_head":
            head = _head(port)[:-2]  # never the blank line that ends it
            for byte in head:
                if time.monotonic() > deadline:
                    break
                _send(sock, bytes([byte]))
                sock.settimeout(1.0)
                try:
                    sock.recv(65536, socket.MSG_PEEK)
                    break  # an answer (408) or the close, before the head was done
                except TimeoutError:
                    continue
                except OSError:
                    break
        elif kind == "unsigned":
            body = b"{}"
            _send(sock, _head(port, length=len(body)) + body)
        elif kind == "too_many_headers":
            extra = [f"X-Hostile-{i}: {i}" for i in range(150)]
            _send(sock, _head(port, *extra, length=2) + b"{}")
        else:
            raise ValueError(kind)
        status, detail = _answer(sock, deadline)
    except TimeoutError:
        return Outcome(kind, None, time.monotonic() - began, True, "no answer, not closed")
    finally:
        sock.close()
    seconds = time.monotonic() - began
    bad = status is not None and status >= 500
    if kind != "malformed" and status is None and kind != "slow_head":
        bad = True  # these get an answer in their protocol
    return Outcome(kind, status, seconds, bad, detail)

"""Where a container host reaches the control plane. A server listening on loopback only (the
default, 127.0.0.1) cannot be reached from a host's network namespace, so the provider
relays TCP from the host-side address of its Docker network (the bridge's gateway, on the
same port) to the server; a server already listening there (--host 0.0.0.0, or that
address) needs no relay, and one listening on another non-loopback address is reached
directly. ECR's registry always listens on loopback (its port kept in
`<data dir>/registry/port`): it is relayed the same way.

Inside a host, the same loopback ports are relayed to the gateway (entry.py), so an image
`127.0.0.1:<registry port>/repo:tag` pulls in the host's Engine as on the machine (Docker
trusts plain HTTP on 127.0.0.0/8), and the registry's token realm, the API's loopback URL,
answers too. The relays live in the server's process: hosts reconnect to the same address
and port after a server restart.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("portside.hosts")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def agent_endpoint(endpoint: str, gateway: str) -> str:
    """The endpoint hosts are given: on the gateway when the server's is a loopback one."""
    parts = urlsplit(endpoint)
    if not is_loopback(parts.hostname or ""):
        return endpoint
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return urlunsplit(parts._replace(netloc=f"{gateway}:{port}"))


def loopback_ports(endpoint: str, registry_port: int | None) -> tuple[int, ...]:
    """The machine's loopback ports hosts need: the API's when the endpoint is a loopback
    one, and the registry's."""
    parts = urlsplit(endpoint)
    ports = []
    if is_loopback(parts.hostname or ""):
        ports.append(parts.port or (443 if parts.scheme == "https" else 80))
    if registry_port:
        ports.append(registry_port)
    return tuple(dict.fromkeys(ports))


def open_all(address: str, ports: Iterable[int], target: str = "127.0.0.1") -> list[Relay]:
    return [r for port in ports if (r := Relay.on(address, port, target)) is not None]


class Relay:
    """Accepts on (address, port) and pipes each connection to (target, port)."""

    def __init__(self, address: str, target: str, port: int) -> None:
        self.target = (target, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, port))
        self._sock.listen(64)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="hosts-relay", daemon=True)
        self._thread.start()

    @classmethod
    def on(cls, address: str, port: int, target: str = "127.0.0.1") -> Relay | None:
        """A relay of `port` from `address` to `target`, or None when `address` already
        answers on it (a server listening on every address)."""
        try:
            return cls(address, target, port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            return None

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(conn,), daemon=True).start()

    def _connect(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError as exc:
            log.warning("container hosts: control plane unreachable at %s: %s", self.target, exc)
            conn.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
        back.start()
        _pipe(conn, upstream)
        back.join()
        conn.close()
        upstream.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            src.shutdown(socket.SHUT_RD)

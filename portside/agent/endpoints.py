"""The control-plane endpoints an agent may talk to, and which one it talks to now.

With several `portside server` replicas over one PostgreSQL database, any replica serves an
agent: its session, long poll, reports, logs, secrets and credentials calls. The agent is given
them as a list (`--endpoint` repeated, or comma-separated), or as one URL whose host name
resolves to several addresses (one DNS name for the replicas, as a load balancer's or a
headless service's would): each address is then an endpoint of its own, with the URL's
scheme, port and path.

The agent sticks to one endpoint until a call to it fails to connect or times out (a replica
killed, its host cut off); then every call moves to the next one, in order, wrapping around.
A name is resolved again each time the list has been gone round, so replicas added behind
it are found. An answer with an error status is not a failover: every replica reads the same
database, so the next one would answer the same.

What is tied to a replica follows by itself: gateway sessions are a replica's memory, so the
new replica answers the old session `UnknownSession` and the agent opens a new one
(agent/session.py); the session's first sync is a full snapshot, which lists the tasks the
agent already runs, so none restarts.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("portside.agent")

Resolve = Callable[[str, int], list[str]]


def split(values: Iterable[str]) -> list[str]:
    """Endpoint URLs from options that may each hold a comma-separated list; order kept,
    repeats dropped, trailing slashes removed."""
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            url = item.strip().rstrip("/")
            if url and url not in out:
                out.append(url)
    return out


def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (A and AAAA), in the resolver's order, once each."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def expand(url: str, resolve: Resolve = resolve_addresses) -> list[str]:
    """`url` as one URL per address its host name resolves to; itself when the host is an
    address, `localhost`, or resolves to fewer than two addresses (or not at all: the calls
    will say so)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or host == "localhost" or _is_address(host):
        return [url]
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError:
        return [url]
    if len(addresses) < 2:
        return [url]
    out = []
    for address in addresses:
        shown = f"[{address}]" if ":" in address else address
        netloc = f"{shown}:{parts.port}" if parts.port else shown
        out.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
    return out


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Endpoints:
    """The endpoints in failover order and the one in use. Thread-safe: the agent's loops
    call through one client from several threads."""

    def __init__(self, urls: Iterable[str], resolve: Resolve = resolve_addresses) -> None:
        self.given = split(urls)
        if not self.given:
            raise ValueError("no control-plane endpoint given")
        self._resolve = resolve
        self._lock = threading.Lock()
        self._urls = self._expanded()
        self._index = 0
        self.failovers = 0  # how many times the agent moved on (status, tests)

    def _expanded(self) -> list[str]:
        out: list[str] = []
        for url in self.given:
            out += [u for u in expand(url, self._resolve) if u not in out]
        return out

    @property
    def current(self) -> str:
        with self._lock:
            return self._urls[self._index]

    @property
    def all(self) -> list[str]:
        with self._lock:
            return list(self._urls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._urls)

    def failed(self, url: str, why: BaseException | str) -> str:
        """A call to `url` could not reach it: move on to the next endpoint (unless another
        thread already has) and return the one to use now."""
        with self._lock:
            if self._urls[self._index] != url:
                return self._urls[self._index]  # another call failed over first
            if len(self._urls) == 1:
                return url
            self._index += 1
            if self._index >= len(self._urls):
                self._index = 0
                fresh = self._expanded()  # the names again: replicas may have come or gone
                if fresh:
                    self._urls = fresh
            self.failovers += 1
            now = self._urls[self._index]
        log.warning("control plane %s unreachable (%s); failing over to %s", url, why, now)
        return now


def websocket_base(url: str) -> str:
    """The ws(s) form of an endpoint's URL (ECS Exec's agent websocket dials it)."""
    base = url.rstrip("/")
    return "wss://" + base[8:] if base.startswith("https://") else "ws://" + base[7:]

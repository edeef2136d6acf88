"""The agent's login to the control plane's own ECR registry, so a task whose image is
`<repositoryUri>:<tag>` pulls with no `docker login` on the host.

The agent asks ECR's GetAuthorizationToken with its own credentials (as it calls
RegisterContainerInstance), keeps the answer until an hour before its `expiresAt`, and gives
the login to the Docker driver for an image whose registry (host:port) is the token's
`proxyEndpoint`. Any other image gets none: the Engine's client configuration, or the
container's `repositoryCredentials`, apply as before. A pull the registry refuses with the
kept login asks for a fresh one (`fresh=True`) and is tried once more.

Only images of a registry that could be the control plane's are asked about: one on a
loopback address or on the control plane's own host (the registry listens on a loopback port
of the server's host). GetAuthorizationToken starts the server's registry, which an agent
pulling from Docker Hub or ghcr.io has no reason to do.

The password stays in memory: never logged, never written to the state directory.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from portside.agent.client import ApiError

log = logging.getLogger("portside.agent")

RENEW_BEFORE = 3600.0  # seconds before expiresAt that a kept token is asked for again
RETRY_AFTER = 30.0  # seconds without asking again after GetAuthorizationToken failed

Ask = Callable[[], Mapping[str, Any]]  # GetAuthorizationToken's answer


class RegistryLogin(Protocol):
    def auth_for(self, image: str, *, fresh: bool = False) -> dict[str, str] | None:
        """The credentials to pull `image` with (`username`, `password`), or None when this
        login is not for its registry; `fresh`: the kept ones were refused, ask anew."""


@runtime_checkable
class TakesRegistryLogin(Protocol):
    """A driver that pulls with a registry login it is given (the Docker driver)."""

    def use_registry_login(self, login: RegistryLogin) -> None: ...


def registry_of(image: str) -> str | None:
    """The registry an image reference names (host[:port], lower case), as Docker reads a
    reference: the first path component when it has a dot or a port or is `localhost`;
    None when it names none (Docker Hub's)."""
    first, sep, _ = image.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return None
    return first.lower()


def hostname(host: str) -> str:
    """`127.0.0.1:4811` -> `127.0.0.1`, `[::1]:5000` -> `::1`."""
    return urlsplit("//" + host).hostname or ""


def may_be_portsides(host: str, control_plane: str) -> bool:
    """Whether a registry (host[:port]) could be the control plane's (at `control_plane`, a
    URL): on a loopback address, or on the control plane's host."""
    name = hostname(host)
    if name == "localhost" or name == hostname(endpoint_host(control_plane)):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_host(proxy_endpoint: str) -> str:
    """`http://127.0.0.1:4811` -> `127.0.0.1:4811`."""
    text = proxy_endpoint if "://" in proxy_endpoint else "//" + proxy_endpoint
    return urlsplit(text).netloc.lower()


@dataclass(frozen=True, slots=True)
class Token:
    host: str  # the registry it is for: proxyEndpoint's host:port
    username: str
    password: str = field(repr=False)
    expires_at: float

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> Token:
        """GetAuthorizationToken's first authorizationData; ValueError if it is not one."""
        try:
            (data, *_) = answer["authorizationData"]
            decoded = base64.b64decode(str(data["authorizationToken"]), validate=True).decode()
            username, sep, password = decoded.partition(":")
            if not sep:
                raise ValueError("the authorization token is not user:password")
            return cls(
                host=endpoint_host(str(data["proxyEndpoint"])),
                username=username,
                password=password,
                expires_at=float(data["expiresAt"]),
            )
        except (KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"not an authorization token: {exc!r}") from exc


class EcrLogin:
    """`RegistryLogin` for the ECR of the control plane at `control_plane` (its URL), asked
    with `ask`. Thread-safe: pulls run on the worker's pool; the first to need a token asks,
    the others wait for its answer."""

    def __init__(
        self,
        ask: Ask,
        control_plane: str,
        *,
        clock: Callable[[], float] = time.time,
        renew_before: float = RENEW_BEFORE,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self._ask = ask
        self._control_plane = control_plane
        self._clock = clock
        self._renew_before = renew_before
        self._retry_after = retry_after
        self._token: Token | None = None
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def auth_for(self, image: str, *, fresh: bool = False) -> dict[str, str] | None:
        host = registry_of(image)
        if host is None or not may_be_portsides(host, self._control_plane):
            return None
        token = self._current(fresh)
        if token is None or token.host != host:
            return None
        return {"username": token.username, "password": token.password}

    def _current(self, fresh: bool) -> Token | None:
        with self._lock:
            now = self._clock()
            if fresh:
                self._token = None
            token = self._token
            if token is not None and now < token.expires_at - self._renew_before:
                return token
            failed = self._failed_at
            if not fresh and failed is not None and now < failed + self._retry_after:
                return None
            try:
                self._token = Token.from_answer(self._ask())
            except (ApiError, httpx.HTTPError, ValueError) as exc:
                # The pull goes on without it: the Engine's own logins may still serve.
                log.warning("no ECR login for image pulls (GetAuthorizationToken): %s", exc)
                self._token, self._failed_at = None, now
                return None
            self._failed_at = None
            return self._token

"""One control plane's registry: its files, its address, its process, Portside's client of
it and the tokens Portside signs for it. Everything lives in `<data dir>/registry`:

    config.yml      the registry's configuration (config.py), written at each start
    storage/        the images (distribution's filesystem layout)
    token.key/.crt  the token signing key and the certificate the registry trusts
    secrets.json    the registry's upload secret and the notifications' bearer secret
    port            the port chosen on the first start, kept so image URIs stay valid
    registry.log    the registry's own log

The registry listens on its own loopback port: Docker allows plain HTTP to 127.0.0.0/8
with no daemon configuration, and layers go straight to it (Portside's API port bounds
bodies at 16 MiB and would copy every byte through Python).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from starlette.routing import Route

from portside.registry.client import RegistryClient
from portside.registry.config import RegistrySettings, render
from portside.registry.events import EVENTS_PATH, Push, events_route
from portside.registry.keys import CERT_FILE, SigningKey
from portside.registry.process import RegistryProcess
from portside.registry.storage import Storage
from portside.registry.tokens import TOKEN_PATH, Access, Authorizer, TokenIssuer, token_route

HOST = "127.0.0.1"
CONFIG_FILE = "config.yml"
SECRETS_FILE = "secrets.json"
PORT_FILE = "port"
ADMIN = "portside"  # the subject of the tokens Portside signs for its own calls


class RegistryPlane:
    def __init__(
        self,
        directory: Path,
        *,
        port: int,
        endpoint: str,
        clock: Callable[[], float] = time.time,
        binary: str | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port
        self.address = f"{HOST}:{port}"
        self.url = f"http://{self.address}"
        self.endpoint = endpoint  # Portside's: the token server and the event sink
        self.key = SigningKey.load_or_create(directory)
        self.issuer = TokenIssuer(self.key, clock)
        self._secrets = _load_secrets(directory / SECRETS_FILE)
        self.storage = Storage(directory / "storage")
        self.process = RegistryProcess(directory, directory / CONFIG_FILE, self.url, binary=binary)
        self.client = RegistryClient(self.url, self._sign_own)
        self._configured = False

    def settings(self) -> RegistrySettings:
        return RegistrySettings(
            address=self.address,
            storage=self.storage.root,
            realm=self.endpoint + TOKEN_PATH,
            root_cert=self.directory / CERT_FILE,
            secret=self._secrets["http"],
            notify_url=self.endpoint + EVENTS_PATH,
            notify_token=self._secrets["notify"],
        )

    def start(self) -> None:
        """Start the registry in the background if it is not running (idempotent). Raises
        RegistryUnavailable when it cannot run here."""
        if not self._configured:
            (self.directory / CONFIG_FILE).write_text(render(self.settings()))
            self._configured = True
        self.process.start()

    def ready(self, timeout: float = 15.0) -> None:
        """Start if needed and wait until the registry answers."""
        self.start()
        self.process.ready(timeout)

    def stop(self) -> None:
        self.process.stop()
        self.client.close()

    def routes(
        self, authorizer: Authorizer, on_push: Callable[[Sequence[Push]], None]
    ) -> list[Route]:
        """Portside's side of the registry: the token server and the notification sink."""
        return [
            token_route(self.issuer, authorizer),
            events_route(self._secrets["notify"], on_push),
        ]

    def _sign_own(self, kind: str, name: str, actions: tuple[str, ...]) -> str:
        return self.issuer.sign(ADMIN, [Access(kind, name, actions)])


def choose_port(directory: Path, wanted: int, beside: int) -> int:
    """The registry's port: `wanted` when given; else the one an earlier start chose (image
    URIs name it); else the port after Portside's (`beside`) when free, else any free one.
    The choice is kept in the directory."""
    path = directory / PORT_FILE
    if wanted:
        port = wanted
    else:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            port = beside + 1 if 0 < beside < 65535 and _free(beside + 1) else _any_free()
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{port}\n")
    return port


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _any_free() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _load_secrets(path: Path) -> dict[str, str]:
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        held = orjson.loads(path.read_bytes())
        if isinstance(held, dict) and {"http", "notify"} <= held.keys():
            return {k: str(held[k]) for k in ("http", "notify")}
    made = {"http": secrets.token_urlsafe(32), "notify": secrets.token_urlsafe(32)}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(made))
    tmp.replace(path)
    return made

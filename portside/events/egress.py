"""Where webhook calls may go: never to a link-local address (169.254.0.0/16, where EC2's
instance metadata service answers at 169.254.169.254; fd00:ec2::/64, its IPv6 twin; fe80::/10)
unless the server was started with `--allow-link-local-destinations`. An API destination is
an outbound call any API user can aim, and on a cloud host the metadata service hands out the
host's own credentials.

Checked twice: when an API destination is created (`check_endpoint`: an address, or a name
that resolves to one, is a ValidationException), and on every call (`GuardedTransport`), since
a name may resolve elsewhere later. The transport resolves the name itself, refuses if any
address is link-local, and connects to the address it checked (the Host header and TLS
server name stay the URL's), so a name cannot answer the check with one address and the
connection with another.

Calls through an HTTP(S)_PROXY from the server's environment are the proxy's to connect: the
check cannot see where it goes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from portside.events.errors import ValidationException

LINK_LOCAL = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fd00:ec2::/64"),
    ipaddress.ip_network("fe80::/10"),
)
FLAG = "--allow-link-local-destinations"

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


def is_link_local(address: str) -> bool:
    """Whether `address` (an IP literal, IPv6 possibly with a zone) is link-local, IPv4
    addresses written as IPv6 (::ffff:169.254.169.254) included."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in LINK_LOCAL)


def resolve_now(host: str, port: int) -> list[str]:
    """Every address `host` stands for (an IP literal, any notation getaddrinfo takes, such
    as 2852039166 for 169.254.169.254, or a name); blocking."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _refusal(url: str, host: str, address: str) -> str:
    where = host if host == address else f"{host} ({address})"
    return (
        f"InvocationEndpoint '{url}' is not valid: {where} is a link-local address, which "
        f"API destinations may not call unless the server is started with {FLAG}."
    )


def check_endpoint(
    url: str, allow_link_local: bool, resolve: Callable[[str, int], list[str]] = resolve_now
) -> None:
    """Refuse an endpoint whose host is, or resolves to, a link-local address. A name that
    does not resolve now is accepted: every call checks again."""
    if allow_link_local:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port)
    except (OSError, ValueError, UnicodeError):
        return
    for address in addresses:
        if is_link_local(address):
            raise ValidationException(_refusal(url, host, address))


class DestinationRefused(httpx.ConnectError):
    """The call's host is, or resolves to, a link-local address: not retried."""


@dataclass
class GuardedTransport(httpx.AsyncBaseTransport):
    """A transport that connects only to addresses it has checked (see the module's
    docstring); `inner` sends the request once its URL names that address."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    allow_link_local: bool = False
    resolve: Resolver = resolve

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.allow_link_local:
            return await self.inner.handle_async_request(request)
        url = request.url
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = await self.resolve(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        if not addresses:
            raise httpx.ConnectError(f"{host} resolves to no address", request=request)
        for address in addresses:
            if is_link_local(address):
                raise DestinationRefused(_refusal(str(url), host, address), request=request)
        address = addresses[0].split("%", 1)[0]
        if address != host:
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = url.copy_with(host=address)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

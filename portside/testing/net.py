"""This host's network, as tests need it."""

from __future__ import annotations

import ipaddress
import socket


def other_host_address() -> str | None:
    """An IPv4 address of this host that is not loopback: the source address of its route
    towards the outside (none when it has no such route). Connecting a UDP socket sends
    nothing; it only picks the route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: never a real peer
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    ip = ipaddress.ip_address(address)
    return None if ip.is_loopback or ip.is_unspecified else address


def connects(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

"""A subnet's private addresses: which are free and which one goes next (pure).

AWS keeps five addresses of every subnet for itself: the network address, the VPC router
(+1), the DNS server (+2), one for future use (+3) and the last (broadcast). An ENI gets the
next free address after the one handed out last, wrapping around to the first, so an address
just released is not reused at once while others are free (what a host's connection tracking
may still remember of it does not meet a new task). The caller writes the ENI in the same
transaction it read the used addresses in, so no address is ever held twice.
"""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import IPv4Address, IPv4Network

RESERVED_FIRST = 4
RESERVED_LAST = 1
RESERVED = RESERVED_FIRST + RESERVED_LAST


def usable(net: IPv4Network) -> tuple[int, int]:
    """The first and last address (as integers) an ENI may have."""
    base = int(net.network_address)
    return base + RESERVED_FIRST, base + net.num_addresses - 1 - RESERVED_LAST


def capacity(net: IPv4Network) -> int:
    return max(net.num_addresses - RESERVED, 0)


def available(net: IPv4Network, allocated: int) -> int:
    """AvailableIpAddressCount: the usable addresses not allocated."""
    return max(capacity(net) - allocated, 0)


def next_free(net: IPv4Network, used: Collection[str], after: str | None = None) -> str | None:
    """The first usable address of `net` past `after` (from the start when `after` is not
    one of them), wrapping once, that is not in `used`; None when every one is."""
    first, last = usable(net)
    if last < first:
        return None
    taken = {int(IPv4Address(a)) for a in used}
    start = first
    if after is not None:
        at = int(IPv4Address(after))
        if first <= at < last:
            start = at + 1
    size = last - first + 1
    for step in range(size):
        candidate = first + (start - first + step) % size
        if candidate not in taken:
            return str(IPv4Address(candidate))
    return None

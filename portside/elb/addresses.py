"""Each load balancer's own loopback address, as each AWS load balancer has addresses of its
own: 127.A.B.C from its ARN (A in 64..191, so never 127.0.0.0/16 where 127.0.0.1, systemd's
127.0.0.53 and Debian's 127.0.1.1 live). Linux routes all of 127.0.0.0/8 to the loopback
device, so the proxy binds any of them with no set-up.

When the server's load balancers listen on loopback (the default), every listener also binds
its load balancer's own address, and the DNS server answers the load balancer's DNSName with
it: two load balancers can then both listen on 443, as ECS gateways' and Express Mode's do.
Pure.
"""

from __future__ import annotations

import hashlib
import ipaddress


def own_address(load_balancer_arn: str) -> str:
    h = hashlib.sha256(load_balancer_arn.encode()).digest()
    return f"127.{64 + h[0] % 128}.{h[1]}.{1 + h[2] % 254}"


def on_loopback(host: str) -> bool:
    """Whether `host` (where the server's load balancers listen) is a loopback address, so
    that load balancers get their own."""
    try:
        return ipaddress.ip_address(host).is_loopback and ":" not in host
    except ValueError:
        return False

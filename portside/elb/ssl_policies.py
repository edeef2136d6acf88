"""The security policies an HTTPS listener may name (DescribeSSLPolicies). The data plane
maps a policy to its protocols; the list is a few of ELB's, with their protocols and the
first of their ciphers."""

from __future__ import annotations

from typing import Any

from portside.elb.errors import ValidationError
from portside.elb.operations import action
from portside.errors import NamedError
from portside.ops.context import Op

DEFAULT_POLICY = "ELBSecurityPolicy-2016-08"
_TLS12 = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]
_TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
POLICIES: dict[str, tuple[list[str], list[str]]] = {
    "ELBSecurityPolicy-2016-08": (["TLSv1", "TLSv1.1", "TLSv1.2"], _TLS12),
    "ELBSecurityPolicy-TLS-1-2-2017-01": (["TLSv1.2"], _TLS12),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": (["TLSv1.2", "TLSv1.3"], _TLS13 + _TLS12),
    "ELBSecurityPolicy-TLS13-1-3-2021-06": (["TLSv1.3"], _TLS13),
}


def _policy(name: str) -> dict[str, Any]:
    protocols, ciphers = POLICIES[name]
    return {
        "Name": name,
        "SslProtocols": protocols,
        "Ciphers": [{"Name": c, "Priority": i + 1} for i, c in enumerate(ciphers)],
        "SupportedLoadBalancerTypes": ["application", "network"],
    }


@action("DescribeSSLPolicies")
def describe(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    wanted = p.get("Names") or list(POLICIES)
    missing = [n for n in wanted if n not in POLICIES]
    if missing:
        raise NamedError("SSLPolicyNotFound", f"SSL policy '{missing[0]}' not found")
    if p.get("Marker"):
        raise ValidationError("Invalid marker")
    return {"SslPolicies": [_policy(n) for n in wanted]}

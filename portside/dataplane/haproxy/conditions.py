"""ELB rule conditions as HAProxy ACLs.

Every condition becomes one named ACL whose patterns are its values, so HAProxy's "any
pattern matches" gives ELB's OR, and a rule naming all its ACLs gives ELB's AND. Wildcards
become anchored regexes: `*` any run of characters, `?` exactly one.
"""

from __future__ import annotations

import ipaddress
import re

from portside.dataplane.haproxy.names import quote
from portside.dataplane.haproxy.spec import (
    Condition,
    HostHeader,
    HttpHeader,
    Method,
    PathPattern,
    QueryString,
    SourceIp,
)

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_METHOD = re.compile(r"^[A-Za-z_-]+$")


def wildcard(pattern: str, many: str = ".*", one: str = ".") -> str:
    """ELB's wildcard pattern as a regex body (not anchored)."""
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            parts.append(many)
        elif char == "?":
            parts.append(one)
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def _regexes(values: tuple[str, ...], template: str) -> str:
    return " ".join(quote(template.format(wildcard(v))) for v in values)


def _query_regex(key: str | None, value: str) -> str:
    key_re = "[^&=]*" if key is None else wildcard(key, "[^&=]*", "[^&=]")
    value_re = wildcard(value, "[^&]*", "[^&]")
    return quote(f"(^|&){key_re}={value_re}(&|$)")


def acl(name: str, condition: Condition) -> str:
    """The `acl` line that holds `condition` under `name`."""
    if isinstance(condition, PathPattern):
        return f"acl {name} path -m reg {_regexes(condition.values, '^{}$')}"
    if isinstance(condition, HostHeader):
        # The Host header may carry a port; ELB matches the host name alone.
        pats = _regexes(condition.values, "^{}(:[0-9]+)?$")
        return f"acl {name} req.fhdr(host) -i -m reg {pats}"
    if isinstance(condition, HttpHeader):
        if not _HEADER_NAME.match(condition.name):
            raise ValueError(f"not a header name: {condition.name!r}")
        pats = _regexes(condition.values, "^{}$")
        return f"acl {name} req.fhdr({condition.name}) -i -m reg {pats}"
    if isinstance(condition, Method):
        for method in condition.values:
            if not _METHOD.match(method):
                raise ValueError(f"not a method: {method!r}")
        return f"acl {name} method -m str {' '.join(condition.values)}"
    if isinstance(condition, QueryString):
        pats = " ".join(_query_regex(k, v) for k, v in condition.pairs)
        return f"acl {name} query -i -m reg {pats}"
    if isinstance(condition, SourceIp):
        return f"acl {name} src {' '.join(_cidr(c) for c in condition.cidrs)}"
    raise TypeError(f"not a condition: {condition!r}")


def _cidr(text: str) -> str:
    return str(ipaddress.ip_network(text, strict=False))

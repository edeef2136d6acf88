"""Listeners as HAProxy frontends: rules in priority order, then the default action.

HAProxy runs every `http-request` rule before it picks a backend, and redirects, fixed
responses and backend choices are different directives; so the first matching rule is
found once, into the variable `txn.ps_rule`, and every action is guarded by it. A weighted
forward draws `txn.ps_pick` in [0, total weight) and takes the first group whose cumulative
weight exceeds it. Group stickiness is a cookie naming the backend the client was sent to.
"""

from __future__ import annotations

from collections.abc import Iterable

from portside.dataplane.haproxy.backends import ms
from portside.dataplane.haproxy.conditions import acl
from portside.dataplane.haproxy.names import backend_name, quote, rule_tag
from portside.dataplane.haproxy.redirects import redirect_lines
from portside.dataplane.haproxy.spec import (
    Action,
    FixedResponse,
    Forward,
    Frontend,
    Mode,
    Redirect,
)

GROUP_COOKIE = "AWSALBTG"
_MATCHED = "ps_matched"


def frontend_section(frontend: Frontend, name: str, backends: dict[str, Mode]) -> list[str]:
    """The `frontend` section; `backends` maps the spec's backend ids to their modes."""
    body = [f"mode {frontend.mode}", *_binds(frontend)]
    body.append(f"timeout client {ms(frontend.idle_timeout)}")
    http = frontend.mode == "http"
    rules = _http_body(frontend, backends) if http else _tcp_body(frontend, backends)
    # HAProxy picks a backend after every request rule: say so in the order of the text.
    body += [line for line in rules if not line.startswith("use_backend ")]
    body += [line for line in rules if line.startswith("use_backend ")]
    return [f"frontend {name}", *("    " + line for line in body)]


def _binds(frontend: Frontend) -> list[str]:
    lines = []
    for host, port in frontend.binds:
        line = f"bind [{host}]:{port}" if ":" in host else f"bind {host}:{port}"
        if frontend.tls is not None:
            line += f" ssl crt {quote(frontend.tls)}"
        lines.append(line)
    return lines


def _http_body(frontend: Frontend, backends: dict[str, Mode]) -> list[str]:
    proto = "https" if frontend.tls is not None else "http"
    lines = [
        f"timeout http-keep-alive {ms(frontend.idle_timeout)}",
        # A reload keeps a client's idle keep-alive connection open until its next answer
        # (which says `Connection: close`), so a client reusing it is not cut off.
        "option idle-close-on-response",
        "option forwardfor",
        f"http-request set-header X-Forwarded-Proto {proto}",
        "http-request set-header X-Forwarded-Port %[dst_port]",
        f"acl {_MATCHED} var(txn.ps_rule) -m found",
    ]
    ordered = sorted(frontend.rules, key=lambda r: r.priority)
    if len({r.priority for r in ordered}) != len(ordered):
        raise ValueError(f"frontend {frontend.id}: two rules share a priority")
    for rule in ordered:
        tag = rule_tag(rule.priority)
        names = [f"{tag}_c{i}" for i in range(len(rule.conditions))]
        lines += [acl(n, c) for n, c in zip(names, rule.conditions, strict=True)]
        guard = " ".join([f"!{_MATCHED}", *names])
        lines.append(f"http-request set-var(txn.ps_rule) str({tag}) if {guard}")
    lines.append(f"http-request set-var(txn.ps_rule) str(default) if !{_MATCHED}")
    actions = [(rule_tag(r.priority), r.action) for r in ordered]
    actions.append((rule_tag(None), frontend.default))
    for tag, action in actions:
        lines.append(f"acl is_{tag} var(txn.ps_rule) -m str {tag}")
        lines += _action_lines(action, f"is_{tag}", "http-request", backends)
    return lines


def _tcp_body(frontend: Frontend, backends: dict[str, Mode]) -> list[str]:
    if frontend.rules:
        raise ValueError(f"frontend {frontend.id}: a tcp listener has no rules")
    if not isinstance(frontend.default, Forward):
        return ["tcp-request content reject"]  # nothing to forward to: refuse, as ELB would
    forward = Forward(frontend.default.groups)  # group stickiness needs HTTP cookies
    return _action_lines(forward, "TRUE", "tcp-request content", backends)


def _action_lines(
    action: Action, guard: str, directive: str, backends: dict[str, Mode]
) -> list[str]:
    if isinstance(action, Redirect):
        return redirect_lines(action, guard)
    if isinstance(action, FixedResponse):
        return [_fixed_response(action, guard)]
    return _forward_lines(action, guard, directive, backends)


def _fixed_response(action: FixedResponse, guard: str) -> str:
    line = f"http-request return status {action.status}"
    if action.body:
        content_type = action.content_type or "text/plain"
        line += f" content-type {quote(content_type)} string {quote(action.body)}"
    return f"{line} if {guard}"


def _forward_lines(
    action: Forward, guard: str, directive: str, backends: dict[str, Mode]
) -> list[str]:
    mode = "http" if directive == "http-request" else "tcp"
    for backend_id, weight in action.groups:
        if backend_id not in backends:
            raise ValueError(f"forward to backend {backend_id!r}, which the spec lacks")
        if backends[backend_id] != mode:
            raise ValueError(
                f"a {mode} listener forwards to {backend_id!r}, a {backends[backend_id]} backend"
            )
        if weight < 0:
            raise ValueError(f"forward weight {weight} is negative")
    groups = [(backend_name(b), w) for b, w in action.groups if w > 0]
    if not groups:
        groups = [(backend_name(b), 1) for b, _ in action.groups[:1]]
    if not groups:
        raise ValueError("forward to no backend")
    lines: list[str] = []
    if action.stickiness is not None and len(groups) > 1:
        lines += _sticky_group_lines(groups, guard, action.stickiness)
    if len(groups) == 1:
        return [*lines, f"use_backend {groups[0][0]} if {guard}"]
    total = sum(w for _, w in groups)
    lines.append(f"{directive} set-var(txn.ps_pick) rand({total}) if {guard}")
    cumulative = 0
    for name, weight in groups[:-1]:
        cumulative += weight
        lines.append(f"use_backend {name} if {guard} {{ var(txn.ps_pick) -m int lt {cumulative} }}")
    lines.append(f"use_backend {groups[-1][0]} if {guard}")
    return lines


def _sticky_group_lines(groups: Iterable[tuple[str, int]], guard: str, seconds: float) -> list[str]:
    lines = []
    for name, _ in groups:
        lines.append(f"use_backend {name} if {guard} {{ req.cook({GROUP_COOKIE}) -m str {name} }}")
    age = max(1, round(seconds))
    cookie = f"{GROUP_COOKIE}=%[be_name]; Max-Age={age}; Path=/"
    lines.append(f"http-response add-header Set-Cookie {quote(cookie)} if {guard}")
    return lines

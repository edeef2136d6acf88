"""ELB redirects as `http-request redirect location` log-format strings.

ELB's placeholders become sample fetches: `#{protocol}` the scheme the client used,
`#{host}` the Host header without its port, `#{port}` the listener's port, `#{path}` the
path without its leading `/`, `#{query}` the query without its `?`.
"""

from __future__ import annotations

import re

from portside.dataplane.haproxy.names import log_format_literal, quote
from portside.dataplane.haproxy.spec import Redirect

_PLACEHOLDER = re.compile(r"#\{(protocol|host|port|path|query)\}")
_FETCH = {
    "protocol": "%[ssl_fc,iif(https,http)]",
    "host": "%[req.hdr(host),field(1,:)]",
    "port": "%[dst_port]",
    "path": "%[path,regsub(^/,)]",
    "query": "%[query]",
}
_DEFAULT_PORT = {"http": "80", "https": "443"}


def expand(text: str) -> str:
    """`text` as a log-format string: literals escaped, placeholders as fetches."""
    out: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        out.append(log_format_literal(text[last : match.start()]))
        out.append(_FETCH[match.group(1)])
        last = match.end()
    out.append(log_format_literal(text[last:]))
    return "".join(out)


def _protocol(redirect: Redirect) -> str:
    if _PLACEHOLDER.search(redirect.protocol):
        return expand(redirect.protocol.lower())
    return log_format_literal(redirect.protocol.lower())


def _authority(redirect: Redirect) -> str:
    host = expand(redirect.host)
    proto = redirect.protocol.lower()
    if redirect.port == _DEFAULT_PORT.get(proto):
        return host
    return f"{host}:{expand(redirect.port)}"


def _path(redirect: Redirect) -> str:
    if redirect.path == "/#{path}":
        return "%[path]"
    return expand(redirect.path)


def redirect_lines(redirect: Redirect, condition: str) -> list[str]:
    """The `http-request redirect` lines for `redirect`, each guarded by `condition`."""
    base = f"{_protocol(redirect)}://{_authority(redirect)}{_path(redirect)}"
    code = f"code {redirect.status}"
    if redirect.query == "":
        return [f"http-request redirect location {quote(base)} {code} if {condition}"]
    with_query = f"{base}?{expand(redirect.query)}"
    if redirect.query != "#{query}":
        return [f"http-request redirect location {quote(with_query)} {code} if {condition}"]
    # The request's own query: no `?` when it has none.
    return [
        f"http-request redirect location {quote(with_query)} {code}"
        f" if {condition} {{ query -m len gt 0 }}",
        f"http-request redirect location {quote(base)} {code} if {condition}",
    ]

"""HAProxy names for the spec's ids, and quoting for haproxy.cfg.

Ids are free strings (ARNs have `/`), HAProxy names allow letters, digits and `-_.:` only.
A safe id keeps its name; any other gets its safe characters and a hash, so two ids never
share a name and the renderer and the runtime client always agree on it.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_MAX = 48


def _name(prefix: str, ident: str) -> str:
    clean = _UNSAFE.sub("_", ident)
    if clean == ident and len(ident) <= _MAX:
        return prefix + ident
    digest = hashlib.sha1(ident.encode()).hexdigest()[:10]
    return f"{prefix}{clean[-32:]}_{digest}"


def frontend_name(frontend_id: str) -> str:
    return _name("fe_", frontend_id)


def backend_name(backend_id: str) -> str:
    return _name("be_", backend_id)


def server_name(server_key: str) -> str:
    return _name("s_", server_key)


def rule_tag(priority: int | None) -> str:
    """The value `txn.ps_rule` holds once a rule (None: the default action) matched."""
    return "default" if priority is None else f"r{priority}"


def quote(text: str) -> str:
    """One haproxy.cfg word holding `text` exactly.

    Single quotes keep everything literal (regexes keep their `$` and `\\`); a text that
    holds a single quote or a line break goes in double quotes, where `\\`, `"` and `$`
    (environment variables) are escaped.
    """
    if "'" not in text and "\n" not in text and "\r" not in text:
        return f"'{text}'"
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("$", "\\$")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'


def log_format_literal(text: str) -> str:
    """`text` as literal characters of a log-format string (`%` doubled)."""
    return text.replace("%", "%%")

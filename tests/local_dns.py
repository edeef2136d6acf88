"""Asking a test server's own DNS (its address is in `<data dir>/server.json`)."""

from __future__ import annotations

import json
from pathlib import Path

import dns.message
import dns.query
from harness import ServerProcess


def resolve(server: ServerProcess, name: str) -> list[str]:
    """The A records Portside's DNS answers for `name` (none on NXDOMAIN)."""
    info = json.loads((Path(server.data_dir) / "server.json").read_text())
    host, _, port = info["dns"].rpartition(":")
    answer = dns.query.udp(dns.message.make_query(name, "A"), host, port=int(port), timeout=5)
    return sorted(r.to_text() for rrset in answer.answer for r in rrset)

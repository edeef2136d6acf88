"""The Service Connect proxy's traffic counts, per target (a service's `services[]` entry):
HTTP requests, responses by class, connection and response errors, retries and
redispatches, read from HAProxy's `show stat` (its BACKEND rows). `counts` is what the
metrics issue reads; `prometheus_text` the same in Prometheus's exposition format."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from portside.dataplane.haproxy.names import backend_name


@dataclass(frozen=True, slots=True)
class TargetCounts:
    target: str  # "<service ARN>#<discoveryName>"
    requests: int  # HTTP requests sent to the target's tasks (req_tot)
    responses_5xx: int
    connection_errors: int  # econ: connections that failed
    response_errors: int  # eresp: responses that failed (cut, invalid)
    retries: int  # wretr
    redispatches: int  # wredis: retried on another task

    @property
    def errors(self) -> int:
        return self.responses_5xx + self.connection_errors + self.response_errors


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def parse(text: str, targets: Iterable[str]) -> dict[str, TargetCounts]:
    """`show stat` output -> the counts of `targets` (pure)."""
    by_name = {backend_name(t): t for t in targets}
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    out = {}
    for rec in reader:
        target = by_name.get(rec.get("pxname") or "")
        if target is None or rec.get("svname") != "BACKEND":
            continue
        out[target] = TargetCounts(
            target,
            requests=_int(rec.get("req_tot")) or _int(rec.get("stot")),
            responses_5xx=_int(rec.get("hrsp_5xx")),
            connection_errors=_int(rec.get("econ")),
            response_errors=_int(rec.get("eresp")),
            retries=_int(rec.get("wretr")),
            redispatches=_int(rec.get("wredis")),
        )
    return out


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(counts: Mapping[str, TargetCounts]) -> str:
    """The counts as Prometheus counters, labelled by service ARN and discovery name."""
    metrics = (
        ("requests", "HTTP requests sent through Service Connect"),
        ("responses_5xx", "5xx responses"),
        ("connection_errors", "connections to a task that failed"),
        ("response_errors", "responses that failed"),
        ("retries", "requests retried"),
        ("redispatches", "requests retried on another task"),
    )
    lines = []
    for field, help_text in metrics:
        name = f"portside_service_connect_{field}_total"
        lines += [f"# HELP {name} {help_text}.", f"# TYPE {name} counter"]
        for target, c in sorted(counts.items()):
            service, _, discovery = target.partition("#")
            labels = f'service="{_label(service)}",discovery_name="{_label(discovery)}"'
            lines.append(f"{name}{{{labels}}} {getattr(c, field)}")
    return "\n".join(lines) + "\n"

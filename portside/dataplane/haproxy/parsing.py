"""What the runtime API answers, as values. Pure: text in, records out."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

# `show servers state` op states (srv_op_state).
OP_STOPPED, OP_STARTING, OP_RUNNING, OP_STOPPING = 0, 1, 2, 3
# srv_admin_state bits (HAProxy's `enum srv_admin`): forced, inherited, configured and
# resolution maintenance; forced drain (`set server state drain`).
ADMIN_FORCED_MAINT = 0x01
ADMIN_INHERITED_MAINT = 0x02
ADMIN_CONFIG_MAINT = 0x04
ADMIN_FORCED_DRAIN = 0x08
ADMIN_RESOLUTION_MAINT = 0x20
ADMIN_MAINT = (
    ADMIN_FORCED_MAINT | ADMIN_INHERITED_MAINT | ADMIN_CONFIG_MAINT | ADMIN_RESOLUTION_MAINT
)


@dataclass(frozen=True)
class StatRow:
    """One line of `show stat` for a server (or FRONTEND / BACKEND)."""

    proxy: str
    server: str
    status: str  # UP, DOWN, "UP 1/2", MAINT, DRAIN, NOLB, no check ...
    weight: int | None
    check_status: str  # L4OK, L4CON, L7STS ... ("" before any check)
    check_code: int | None  # the HTTP status of the last L7 check
    check_desc: str
    current_sessions: int
    total_sessions: int
    queued: int
    address: str


@dataclass(frozen=True)
class ServerState:
    """One line of `show servers state`."""

    backend: str
    server: str
    address: str
    port: int | None
    op_state: int
    admin_state: int
    user_weight: int
    initial_weight: int
    check_result: int
    check_health: int

    @property
    def in_maintenance(self) -> bool:
        return bool(self.admin_state & ADMIN_MAINT)

    @property
    def draining(self) -> bool:
        return bool(self.admin_state & ADMIN_FORCED_DRAIN)


@dataclass(frozen=True)
class Proc:
    pid: int
    kind: str  # master | worker | a program's name
    reloads: int


@dataclass(frozen=True)
class ProcList:
    """The master CLI's `show proc`."""

    master: Proc
    failed_reloads: int
    workers: tuple[Proc, ...]
    old_workers: tuple[Proc, ...]


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_stat(text: str) -> list[StatRow]:
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"not `show stat` output: {text[:80]!r}")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    rows = []
    for rec in reader:
        if not rec.get("pxname"):
            continue
        rows.append(
            StatRow(
                proxy=rec["pxname"],
                server=rec["svname"],
                status=rec.get("status") or "",
                weight=_int(rec.get("weight") or ""),
                # "* L4CON": a check is running; the rest is the last result.
                check_status=(rec.get("check_status") or "").removeprefix("* "),
                check_code=_int(rec.get("check_code") or ""),
                check_desc=rec.get("check_desc") or "",
                current_sessions=_int(rec.get("scur") or "") or 0,
                total_sessions=_int(rec.get("stot") or "") or 0,
                queued=_int(rec.get("qcur") or "") or 0,
                address=rec.get("addr") or "",
            )
        )
    return rows


def parse_servers_state(text: str) -> list[ServerState]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != "1":
        raise ValueError(f"not `show servers state` version 1: {text[:80]!r}")
    header: list[str] = []
    states = []
    for line in lines[1:]:
        if line.startswith("#"):
            header = line[1:].split()
            continue
        rec = dict(zip(header, line.split(), strict=False))
        states.append(
            ServerState(
                backend=rec["be_name"],
                server=rec["srv_name"],
                address=rec["srv_addr"],
                port=_int(rec.get("srv_port", "")),
                op_state=int(rec["srv_op_state"]),
                admin_state=int(rec["srv_admin_state"]),
                user_weight=int(rec["srv_uweight"]),
                initial_weight=int(rec["srv_iweight"]),
                check_result=int(rec["srv_check_result"]),
                check_health=int(rec["srv_check_health"]),
            )
        )
    return states


def parse_info(text: str) -> dict[str, str]:
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _proc(line: str) -> Proc:
    parts = line.split()
    return Proc(pid=int(parts[0]), kind=parts[1], reloads=int(parts[2]))


def parse_proc(text: str) -> ProcList:
    master: Proc | None = None
    failed = 0
    workers: list[Proc] = []
    old: list[Proc] = []
    section = "master"
    for line in text.splitlines():
        if not line.strip() or line.startswith("#<"):
            continue
        if line.startswith("#"):
            section = line[1:].strip()
            continue
        if section == "master":
            master = _proc(line)
            if "[failed:" in line:
                failed = int(line.split("[failed:")[1].split("]")[0])
        elif section == "workers":
            workers.append(_proc(line))
        elif section == "old workers":
            old.append(_proc(line))
    if master is None:
        raise ValueError(f"not `show proc` output: {text[:80]!r}")
    return ProcList(master, failed, tuple(workers), tuple(old))

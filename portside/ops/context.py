"""What every operation gets besides its parameters: who calls, where, and the world."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from portside.store.base import Store

if TYPE_CHECKING:
    from portside.controllers.loop import Loops
    from portside.exec.registry import ExecRegistry
    from portside.kms.master import MasterKey
    from portside.logs.store import LogStore


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal and the region its request was signed for."""

    account: str
    region: str
    access_key: str
    principal_arn: str


def root_principal(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


@dataclass(slots=True)
class World:
    """The store plus the injected clock and id source (DESIGN.md rule 6)."""

    store: Store
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    rng: random.Random = field(default_factory=random.Random)
    exec: ExecRegistry | None = None  # live ECS Exec sessions (portside/exec)
    logs: LogStore | None = None  # CloudWatch Logs groups, streams, events (portside/logs)
    loops: Loops | None = None  # the server's background loops and their status
    keys: MasterKey | None = None  # wraps KMS key material at rest (portside/kms/master.py)
    # EventBridge API destinations may call link-local addresses (events/egress.py).
    allow_link_local_destinations: bool = False
    # Told each placement's duration in seconds (Prometheus's histogram; prometheus/).
    observe_placement: Callable[[float], None] | None = None
    # Seconds between ECS's CloudWatch datapoints and target tracking's alarm period
    # (ServerConfig.metric_period; AWS's is 60).
    metric_period: int = 60


@dataclass(frozen=True, slots=True)
class Op:
    """One call: the world and the caller."""

    world: World
    caller: Caller

    @property
    def store(self) -> Store:
        return self.world.store

    @property
    def region(self) -> str:
        return self.caller.region

    @property
    def account(self) -> str:
        return self.caller.account

    def now(self) -> float:
        return self.world.clock()

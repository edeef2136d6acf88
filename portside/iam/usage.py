"""When an access key or a role was last used (GetAccessKeyLastUsed, GetRole's RoleLastUsed).

The edge reports a use through a `UsageRecorder`; it writes a key's or a role's row in
`iam_usage` at most once per `interval` for the same service and region (IAM itself keeps
the date to within hours), so a busy key costs a write a minute, not one per call. A row
is apart from the key's document: a use is no change to the key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from portside.iam import records
from portside.store.base import Store, Tx


def key_last_used(tx: Tx, access_key: str) -> dict[str, Any]:
    """AccessKeyLastUsed: ServiceName and Region "N/A" for a key never used."""
    row = tx.get(records.USAGE, access_key)
    if row is None:
        return {"ServiceName": "N/A", "Region": "N/A"}
    return {"LastUsedDate": row["At"], "ServiceName": row["Service"], "Region": row["Region"]}


def role_key(account: str, role: str) -> str:
    """The key a role's uses are recorded under (`record`, `UsageRecorder.used`)."""
    return records.entity_key(account, "role", role)


def role_last_used(tx: Tx, account: str, role: str) -> dict[str, Any]:
    row = tx.get(records.USAGE, role_key(account, role))
    return {} if row is None else {"LastUsedDate": row["At"], "Region": row["Region"]}


def record(store: Store, key: str, service: str, region: str, at: float) -> None:
    """Write that `key` (an access key id, or a role's `role_key`) was used at `at` for
    `service` in `region`."""
    with store.transaction() as tx:
        tx.put(records.USAGE, key, {"At": at, "Service": service, "Region": region})


class UsageRecorder:
    """Records uses, each key's at most once per `interval` seconds per (service, region).
    `used` may be called from any thread; it writes (a transaction) only when one is due."""

    def __init__(self, store: Store, clock: Callable[[], float], interval: float = 60.0) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._written: dict[str, tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def due(self, key: str, service: str, region: str) -> bool:
        """Whether a use of `key` now would be written (cheap: no store access)."""
        last = self._written.get(key)
        return (
            last is None
            or last[1:] != (service, region)
            or (self._clock() - last[0] >= self._interval)
        )

    def used(self, key: str, service: str, region: str) -> None:
        now = self._clock()
        with self._lock:
            if not self.due(key, service, region):
                return
            self._written[key] = (now, service, region)
        record(self._store, key, service, region, now)

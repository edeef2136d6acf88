"""The agent's latest Docker stats per container, as its sampler (agent/stats.py) read them,
for the task metadata endpoint's `/stats` and `/task/stats`: the ECS agent answers those
from its own stats engine's last reading, not with a fresh call to Docker, so a container
polling its endpoint costs the host nothing and sees what CloudWatch and Prometheus see.

A reading is Docker's document as the driver gave it. Where the driver leaves out the
previous reading (the simulated driver does), `preread` and `precpu_stats` come from the
reading before, so a client computes a CPU percentage as it would from Docker's own; and
the version 4 endpoint adds `network_rate_stats` (bytes per second received and sent
between the two readings), as the ECS agent's v4 does.

One cache per driver (a host's agent owns one), so the sampler and the endpoint share it
without the agent wiring one to the other.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

_CACHES: weakref.WeakKeyDictionary[object, StatsCache] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class StatsCache:
    """runtime id -> (its latest reading, the one before), each with the time it was read."""

    def __init__(self) -> None:
        self._docs: dict[
            str, tuple[tuple[float, dict[str, Any]], tuple[float, dict[str, Any]] | None]
        ] = {}
        self._lock = threading.Lock()

    def put(self, runtime_id: str, doc: Mapping[str, Any], at: float) -> None:
        with self._lock:
            kept = self._docs.get(runtime_id)
            self._docs[runtime_id] = ((at, dict(doc)), kept[0] if kept else None)

    def keep_only(self, runtime_ids: Iterable[str]) -> None:
        """Forget containers that are no longer sampled (stopped, removed)."""
        wanted = set(runtime_ids)
        with self._lock:
            for gone in [r for r in self._docs if r not in wanted]:
                del self._docs[gone]

    def latest(self, runtime_id: str) -> dict[str, Any] | None:
        """The latest reading in Docker's stats shape plus `network_rate_stats`; None when
        the container was never sampled."""
        with self._lock:
            kept = self._docs.get(runtime_id)
        if kept is None:
            return None
        (at, doc), before = kept
        out = dict(doc)
        if before is not None:
            before_at, before_doc = before
            if not out.get("precpu_stats"):
                out["precpu_stats"] = before_doc.get("cpu_stats") or {}
            if not out.get("preread") or str(out.get("preread", "")).startswith("0001-"):
                out["preread"] = before_doc.get("read", "")
            out["network_rate_stats"] = _rates(before_doc, doc, at - before_at)
        return out


def _rates(before: Mapping[str, Any], after: Mapping[str, Any], span: float) -> dict[str, float]:
    def total(doc: Mapping[str, Any], key: str) -> int:
        return sum(int(n.get(key) or 0) for n in (doc.get("networks") or {}).values())

    if span <= 0:
        return {"rx_bytes_per_sec": 0.0, "tx_bytes_per_sec": 0.0}
    return {
        "rx_bytes_per_sec": max(0, total(after, "rx_bytes") - total(before, "rx_bytes")) / span,
        "tx_bytes_per_sec": max(0, total(after, "tx_bytes") - total(before, "tx_bytes")) / span,
    }


def cache_of(driver: object) -> StatsCache:
    """The cache of a host's driver (made on first use)."""
    with _LOCK:
        found = _CACHES.get(driver)
        if found is None:
            found = _CACHES[driver] = StatsCache()
        return found

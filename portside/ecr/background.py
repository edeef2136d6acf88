"""ECR's background pass (loop `ecr`): keeps the registry running while any repository
exists, applies lifecycle policies and holds immutable tags.

Each second it counts repositories: with none, nothing runs (a server that never used ECR
starts no registry). With some, the registry is started if it is not (after a restart of
the server, pulls work again without any API call), and a full pass runs when woken (a
policy put, a push notified) or a minute after the last: every repository's immutable tags
are checked against their pins (immutability.py), and every lifecycle policy's expired
images are deleted through the registry's API, oldest first, each logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from portside.controllers.loop import Loops
from portside.ecr import immutability, lifecycle, records
from portside.ecr.images import delete_image
from portside.ecr.runtime import EcrRuntime
from portside.registry.client import RegistryError
from portside.registry.process import RegistryUnavailable
from portside.store.base import Document, Store

log = logging.getLogger("portside.ecr")

PASS_EVERY = 60.0  # seconds between full passes when nothing wakes one
RETRY_AFTER = 5.0  # seconds before a pass the registry failed is tried again


class EcrLoop:
    def __init__(self, store: Store, ecr: EcrRuntime, clock: Callable[[], float]) -> None:
        self.store = store
        self.ecr = ecr
        self.clock = clock
        self._due = 0.0
        self._unavailable: str | None = None

    def register(self, loops: Loops) -> None:
        loops.add("ecr", self.step, interval=1.0, retry_after=10.0, log=log)

    def step(self) -> float | None:
        with self.store.read() as tx:
            if not tx.count(records.REPOSITORIES):
                return None
        plane = self.ecr.plane
        try:
            plane.start()
        except RegistryUnavailable as exc:
            if str(exc) != self._unavailable:
                log.warning("ecr: repositories exist but the registry cannot run: %s", exc)
                self._unavailable = str(exc)
            return 30.0
        now = self.clock()
        if not (self.ecr.wake.is_set() or now >= self._due) or not plane.process.answers():
            return None
        self.ecr.wake.clear()
        self._due = now + PASS_EVERY
        with self.store.read() as tx:
            repositories = [doc for _, doc in tx.scan(records.REPOSITORIES)]
        for doc in repositories:
            try:
                if doc.get("imageTagMutability", "MUTABLE") != "MUTABLE":
                    immutability.hold(self.store, plane, doc)
                if doc.get("lifecyclePolicy"):
                    self._expire(doc, now)
            except RegistryError as exc:  # the registry restarting: the next pass goes on
                log.warning("ecr: %s: %s", doc["repositoryName"], exc)
                self._due = now + RETRY_AFTER
        return None

    def _expire(self, doc: Document, now: float) -> None:
        name = doc["repositoryName"]
        policy: dict[str, Any] = doc["lifecyclePolicy"]
        held = self.ecr.plane.storage.images(name)
        found = [lifecycle.Image(i.digest, i.tags, i.pushed_at) for i in held.values()]
        for expiry in lifecycle.evaluate(lifecycle.parse(policy["text"]), found, now):
            delete_image(self.store, self.ecr.plane, name, held[expiry.image.digest])
            log.info(
                "ecr: lifecycle rule %d of %s expired %s (tags: %s)",
                expiry.priority,
                name,
                expiry.image.digest,
                ", ".join(expiry.image.tags) or "none",
            )
        with self.store.transaction() as tx:
            current = tx.get(
                records.REPOSITORIES, records.key(doc["registryId"], doc["region"], name)
            )
            held_policy = (current or {}).get("lifecyclePolicy")
            if current is not None and held_policy and held_policy["text"] == policy["text"]:
                held_policy["lastEvaluatedAt"] = now
                records.save(tx, current)

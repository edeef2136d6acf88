"""The service discovery document read from the store: RUNNING tasks, their task
definitions and instances, turned into targets by `discovery.py`.

The tasks are found on the (status) index and filtered by cluster and service on the index
row, so only the selected RUNNING tasks' documents are parsed; each task definition and
instance is read once per answer. Prometheus asks every `refresh_interval` (60 s by
default), often several scrape jobs at once: an answer is kept until the change feed moves,
or a table it reads changes (one indexed look at the feed), so asks in between cost next to
nothing. With 10,000 RUNNING tasks a fresh answer reads and parses 10,000 task documents
(~0.4 s on a loaded 2-core machine; one cluster of 1,000, ~80 ms).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from portside.controllers.load_balancers import instance_address
from portside.ops.context import World
from portside.prometheus import discovery
from portside.prometheus.discovery import Ask

TASKS = "tasks"
DEFINITIONS = "task_definitions"
INSTANCES = "container_instances"
WATCHED = (TASKS, DEFINITIONS, INSTANCES)
_KEPT = 32  # answers kept (one per distinct ask)


class TargetSource:
    def __init__(self, world: World) -> None:
        self.world = world
        self._kept: OrderedDict[Ask, tuple[int, list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def document(self, ask: Ask) -> list[dict[str, Any]]:
        """The SD document for `ask`, as of now (reads the store: call it in a thread)."""
        store = self.world.store
        seq = store.last_seq()
        with self._lock:
            kept = self._kept.get(ask)
        if kept is not None and self._unchanged(kept[0], seq):
            with self._lock:
                self._kept[ask] = (seq, kept[1])
                self._kept.move_to_end(ask)
            return kept[1]
        found = self._read(ask)
        with self._lock:
            self._kept[ask] = (seq, found)
            self._kept.move_to_end(ask)
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
        return found

    def _unchanged(self, since: int, head: int) -> bool:
        """No task, task definition or instance changed between the two feed positions
        (and the feed still reaches back to `since`)."""
        if since == head:
            return True
        store = self.world.store
        if store.oldest_seq() > since + 1:
            return False
        return not store.changes_raw(since, 1, tables=WATCHED, upto=head)

    def _read(self, ask: Ask) -> list[dict[str, Any]]:
        groups = []
        definitions: dict[str, dict[str, Any]] = {}
        addresses: dict[str, str | None] = {}
        with self.world.store.read() as tx:
            rows = tx.index(TASKS, where={"status": "RUNNING"}, ordered=False)
            for key, cluster, _status, desired, instance, _by, group, *_ in rows:
                if desired != "RUNNING" or not ask.wants_cluster(str(cluster)):
                    continue
                if ask.services and not str(group or "").startswith("service:"):
                    continue
                if ask.services and not ask.wants_service(str(group)[len("service:") :]):
                    continue
                task = tx.get(TASKS, key)
                if task is None:
                    continue
                td_arn = str(task.get("taskDefinitionArn") or "")
                if td_arn not in definitions:
                    td = tx.get(DEFINITIONS, td_arn) or {}
                    definitions[td_arn] = td.get("spec") or {}
                if instance and instance not in addresses:
                    doc = tx.get(INSTANCES, str(instance))
                    addresses[instance] = instance_address(doc).ip if doc else None
                groups.append(
                    discovery.targets(task, definitions[td_arn], addresses.get(instance), ask)
                )
        return discovery.document(groups)

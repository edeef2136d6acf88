"""Which services the service controller looks at again after some changes: those whose
document or tasks changed, and every service of a cluster whose instances or attributes
changed. It reads the feed's JSON text and parses only what the keys do not say."""

from __future__ import annotations

from pathlib import Path

import orjson

from portside import testing
from portside.controllers.services.service import ServiceController
from portside.ops.context import World
from portside.store.base import RawChange

PREFIX = "arn:aws:ecs:us-east-1:000000000000"
WEB, JOBS = f"{PREFIX}:cluster/web", f"{PREFIX}:cluster/jobs"


def change(table: str, key: str, doc: dict[str, object] | None) -> RawChange:
    return RawChange(
        1, 0.0, table, key, "put" if doc else "delete", orjson.dumps(doc).decode() if doc else None
    )


def test_dirty_services_from_the_raw_feed(tmp_path: Path) -> None:
    store = testing.sqlite_store(tmp_path, name="s.db")
    with store.transaction() as tx:
        for cluster, name in ((WEB, "api"), (WEB, "worker"), (JOBS, "batch")):
            cluster_name = cluster.rsplit("/", 1)[1]
            arn = f"{PREFIX}:service/{cluster_name}/{name}"
            tx.put("services", arn, {"clusterArn": cluster, "status": "ACTIVE"})
    controller = ServiceController(World(store=store), "000000000000")
    api, worker, batch = (
        f"{PREFIX}:service/web/api",
        f"{PREFIX}:service/web/worker",
        f"{PREFIX}:service/jobs/batch",
    )
    task = f"{PREFIX}:task/web/" + "1" * 32
    assert controller.dirty([change("services", batch, {"status": "ACTIVE"})]) == {batch}
    assert controller.dirty(
        [
            change("tasks", task, {"group": "service:api", "clusterArn": WEB}),
            change("tasks", task, {"group": "service:api", "clusterArn": WEB}),
            change("tasks", f"{PREFIX}:task/web/" + "2" * 32, {"group": "family:x"}),
        ]
    ) == {api}
    instance = f"{PREFIX}:container-instance/web/" + "3" * 32
    assert controller.dirty([change("container_instances", instance, {"x": 1})]) == {api, worker}
    assert controller.dirty([change("attributes", f"{JOBS}|i-1|stack", {"v": 1})]) == {batch}
    assert controller.dirty([change("tasks", task, None)]) == set()  # a delete
    store.close()

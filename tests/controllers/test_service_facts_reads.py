"""A service's reconcile reads its live tasks and those its PRIMARY or in-progress deployments
stopped within the facts window, never the rest of the hour of stopped tasks the store keeps
(the soak: every reconcile, under the write lock, grew with the service's churn). Costs in
SQLite VM steps, not wall time."""

from __future__ import annotations

from pathlib import Path

from portside import testing
from portside.controllers.services.circuit_breaker import FACTS_WINDOW
from portside.controllers.services.service_facts import task_facts
from portside.model.service import COMPLETED, INACTIVE, PRIMARY, Deployment, Service

PREFIX = "arn:aws:ecs:us-east-1:000000000000"
CLUSTER = f"{PREFIX}:cluster/web"
TD = f"{PREFIX}:task-definition/web:1"
NOW = 100_000.0


def _task(
    n: str, status: str, started_by: str, stopped_at: float | None = None
) -> dict[str, object]:
    return {
        "arn": f"{PREFIX}:task/web/{n}",
        "clusterArn": CLUSTER,
        "group": "service:api",
        "startedBy": started_by,
        "taskDefinitionArn": TD,
        "instanceArn": f"{PREFIX}:container-instance/web/i",
        "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "stoppedAt": stopped_at,
        "padding": "x" * 800,
    }


def test_task_facts_read_only_the_stopped_tasks_they_count(tmp_path: Path) -> None:
    service = Service(
        f"{PREFIX}:service/web/api",
        "api",
        CLUSTER,
        TD,
        2,
        0.0,
        "me",
        deployments=[
            Deployment("d1", PRIMARY, TD, 2, 0.0, 0.0),
            Deployment("d0", INACTIVE, TD, 2, 0.0, 0.0, rollout_state=COMPLETED),
        ],
    )
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    cost = {}
    for kept in (50, 5000):
        store = testing.sqlite_store(tmp_path, name=f"s{kept}.db")
        with store.transaction() as tx:
            for n in range(kept):
                # The PRIMARY's, stopped before the window; the replaced deployment's, within.
                doc = _task(f"old{n:05}", "STOPPED", "d1", NOW - FACTS_WINDOW - 10 - n)
                tx.put("tasks", str(doc["arn"]), doc)
                doc = _task(f"gone{n:05}", "STOPPED", "d0", NOW - 60 - n * 0.01)
                tx.put("tasks", str(doc["arn"]), doc)
            for doc in (
                _task("live", "RUNNING", "d1"),
                _task("recent", "STOPPED", "d1", NOW - FACTS_WINDOW / 2),
            ):
                tx.put("tasks", str(doc["arn"]), doc)
        steps[0] = 0
        with store.read() as tx:
            conn = store._conn()
            conn.set_progress_handler(tick, 100)  # type: ignore[attr-defined]
            facts = task_facts(tx, service, {}, NOW)
            conn.set_progress_handler(None, 0)  # type: ignore[attr-defined]
        cost[kept] = steps[0]
        assert sorted(f.arn.rsplit("/", 1)[1] for f in facts) == ["live", "recent"]
    assert cost[5000] <= cost[50] + 5, cost


def test_instances_are_parsed_again_only_when_their_stored_text_changes(tmp_path: Path) -> None:
    from portside.controllers.services.service_facts import ParsedInstances, instance_facts
    from portside.model.container_instance import ContainerInstance
    from portside.model.doc import to_doc

    store = testing.sqlite_store(tmp_path)
    arns = [f"{PREFIX}:container-instance/web/{n}" for n in ("a", "b")]
    for arn in arns:
        inst = ContainerInstance(
            arn, CLUSTER, "i-1", NOW, attributes=[{"name": "stack", "value": "x"}]
        )
        with store.transaction() as tx:
            tx.put("container_instances", arn, to_doc(inst))
    service = Service(f"{PREFIX}:service/web/api", "api", CLUSTER, TD, 1, 0.0, "me")
    parsed = ParsedInstances()
    with store.read() as tx:
        first = {inst.arn: inst for inst, _ in parsed.of_cluster(tx, CLUSTER)}
        again = {inst.arn: inst for inst, _ in parsed.of_cluster(tx, CLUSTER)}
    assert all(again[arn] is first[arn] for arn in arns)  # nothing changed: not parsed again
    # A reservation is written without a new version: its text still tells.
    with store.transaction() as tx:
        doc = tx.get("container_instances", arns[0])
        assert doc is not None
        doc["groupCounts"] = {"service:api": 1}
        tx.put("container_instances", arns[0], doc, bump=False)
    with store.read() as tx:
        facts = instance_facts(tx, service, parsed)
        later = {inst.arn: inst for inst, _ in parsed.of_cluster(tx, CLUSTER)}
    assert later[arns[1]] is first[arns[1]] and later[arns[0]] is not first[arns[0]]
    assert facts[arns[0]].replica_tasks == 0  # the service is not stored: no replica group
    assert later[arns[0]].group_counts == {"service:api": 1}

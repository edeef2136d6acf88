"""Task sets (deploymentController EXTERNAL and CODE_DEPLOY) through boto3 and the AWS CLI
against a real server with a simulated fleet: a task set runs its scale of the service's
desiredCount, registers its tasks in its own target group, reaches STEADY_STATE; the primary
moves; a deleted one drains and goes; ECS's errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from test_services_lb_sim import Backend, backend, elb, target_group, unique, web  # noqa: F401
from test_services_sim import Sim, sim, wait_until

NOT_EXTERNAL = (
    "Amazon ECS only supports task set management on services configured to use external "
    "deployment controllers."
)


@pytest.fixture
def fleet(server: ServerProcess, tmp_path: Path) -> Iterator[Sim]:
    with sim(server, tmp_path, unique("ts")) as found:
        found.add(4)  # host mode: a task per instance and port
        yield found


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def _sets(fleet: Sim, service: str) -> dict[str, dict[str, Any]]:
    out = fleet.ecs.describe_task_sets(cluster=fleet.cluster, service=service)
    return {s["id"]: s for s in out["taskSets"]}


def _targets(elb: Any, tg: str) -> list[str]:  # noqa: F811
    out = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return [d["TargetHealth"]["State"] for d in out]


def test_task_set_errors(fleet: Sim, server: ServerProcess) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = web(fleet, unique("tsf"), 8080)
    rolling = unique("rolling")
    ecs.create_service(cluster=cluster, serviceName=rolling, taskDefinition=td, desiredCount=0)
    err = _error(ecs.create_task_set, cluster=cluster, service=rolling, taskDefinition=td)
    assert err == {"Code": "InvalidParameterException", "Message": NOT_EXTERNAL}
    err = _error(ecs.describe_task_sets, cluster=cluster, service=rolling)
    assert err["Message"] == NOT_EXTERNAL
    proc = server.aws(
        "ecs", "create-task-set", "--cluster", cluster, "--service", rolling,
        "--task-definition", td, v2=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and NOT_EXTERNAL in proc.stderr
    missing = _error(ecs.create_task_set, cluster=cluster, service="nope", taskDefinition=td)
    assert missing["Code"] == "ServiceNotFoundException"

    external = unique("ext")
    made = ecs.create_service(
        cluster=cluster,
        serviceName=external,
        desiredCount=2,
        deploymentController={"type": "EXTERNAL"},
    )["service"]
    assert made["deploymentController"] == {"type": "EXTERNAL"}
    assert made["taskSets"] == [] and made["deployments"] == []
    bad = _error(
        ecs.create_task_set,
        cluster=cluster,
        service=external,
        taskDefinition=td,
        scale={"value": 150, "unit": "PERCENT"},
    )
    assert bad["Code"] == "InvalidParameterException"
    out = ecs.describe_task_sets(cluster=cluster, service=external, taskSets=["ecs-svc/123"])
    assert out["taskSets"] == [] and out["failures"] == [
        {"arn": "ecs-svc/123", "reason": "MISSING"}
    ]
    gone = _error(
        ecs.update_task_set,
        cluster=cluster,
        service=external,
        taskSet="ecs-svc/123",
        scale={"value": 10, "unit": "PERCENT"},
    )
    assert gone["Code"] == "TaskSetNotFoundException"
    sets = [
        ecs.create_task_set(
            cluster=cluster,
            service=external,
            taskDefinition=td,
            scale={"value": 0, "unit": "PERCENT"},
        )["taskSet"]["id"]
        for _ in range(5)
    ]
    assert len(set(sets)) == 5
    too_many = _error(ecs.create_task_set, cluster=cluster, service=external, taskDefinition=td)
    assert too_many["Message"] == (
        "5 deployments exist on the service. Unable to create new TaskSet since this exceeds "
        "the maximum limit."
    )
    upd = _error(ecs.update_service, cluster=cluster, service=external, taskDefinition=td)
    assert upd["Code"] == "InvalidParameterException"


def test_external_task_sets_run_and_shift(
    fleet: Sim,
    server: ServerProcess,
    elb: Any,  # noqa: F811
    backend: Backend,  # noqa: F811
) -> None:
    ecs, cluster = fleet.ecs, fleet.cluster
    td = web(fleet, unique("tsw"), backend.port)
    blue_tg = target_group(elb, unique("blue"))
    green_tg = target_group(elb, unique("green"))
    name = unique("ext")
    ecs.create_service(
        cluster=cluster,
        serviceName=name,
        desiredCount=2,
        deploymentController={"type": "EXTERNAL"},
        healthCheckGracePeriodSeconds=30,
    )
    blue = ecs.create_task_set(
        cluster=cluster,
        service=name,
        taskDefinition=td,
        externalId="blue",
        loadBalancers=[
            {"targetGroupArn": blue_tg, "containerName": "app", "containerPort": backend.port}
        ],
        scale={"value": 100, "unit": "PERCENT"},
        tags=[{"key": "color", "value": "blue"}],
    )["taskSet"]
    assert blue["status"] == "PRIMARY" and blue["computedDesiredCount"] == 2
    assert blue["stabilityStatus"] == "STABILIZING" and blue["externalId"] == "blue"
    assert blue["taskSetArn"].endswith(f"task-set/{cluster}/{name}/{blue['id']}")

    def steady(set_id: str, running: int) -> dict[str, Any] | None:
        found = _sets(fleet, name).get(set_id)
        ok = found and found["stabilityStatus"] == "STEADY_STATE"
        return found if ok and found["runningCount"] == running else None

    green = ecs.create_task_set(
        cluster=cluster,
        service=name,
        taskDefinition=td,
        loadBalancers=[
            {"targetGroupArn": green_tg, "containerName": "app", "containerPort": backend.port}
        ],
        scale={"value": 50, "unit": "PERCENT"},
    )["taskSet"]
    assert green["status"] == "ACTIVE" and green["computedDesiredCount"] == 1
    wait_until(lambda: steady(blue["id"], 2), 40, "blue steady")
    assert _targets(elb, blue_tg) == ["healthy", "healthy"]
    tasks = ecs.list_tasks(cluster=cluster, serviceName=name)["taskArns"]
    described = ecs.describe_tasks(cluster=cluster, tasks=tasks)["tasks"]
    assert {t["startedBy"] for t in described} <= {blue["id"], green["id"]}
    assert {t["group"] for t in described} == {f"service:{name}"}

    grown = ecs.update_task_set(
        cluster=cluster,
        service=name,
        taskSet=green["taskSetArn"],
        scale={"value": 100, "unit": "PERCENT"},
    )["taskSet"]
    assert grown["computedDesiredCount"] == 2
    primary = ecs.update_service_primary_task_set(
        cluster=cluster, service=name, primaryTaskSet=green["id"]
    )["taskSet"]
    assert primary["status"] == "PRIMARY"
    wait_until(lambda: steady(green["id"], 2), 40, "green grown")
    assert _targets(elb, green_tg) == ["healthy", "healthy"]
    service = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
    states = {s["id"]: s["status"] for s in service["taskSets"]}
    assert states == {green["id"]: "PRIMARY", blue["id"]: "ACTIVE"}
    assert "taskDefinition" not in service and service["runningCount"] == 4

    refused = _error(ecs.delete_task_set, cluster=cluster, service=name, taskSet="ecs-svc/1")
    assert refused["Code"] == "TaskSetNotFoundException"
    deleted = ecs.delete_task_set(cluster=cluster, service=name, taskSet=blue["id"])
    assert deleted["taskSet"]["status"] == "DRAINING"
    wait_until(lambda: blue["id"] not in _sets(fleet, name), 40, "blue gone")
    wait_until(lambda: _targets(elb, blue_tg) == [], 40, "blue deregistered")
    cli = server.aws(
        "ecs", "describe-task-sets", "--cluster", cluster, "--service", name,
        "--task-sets", green["id"], "--include", "TAGS", v2=True,
    )  # fmt: skip
    assert [s["id"] for s in cli["taskSets"]] == [green["id"]] and cli["taskSets"][0]["tags"] == []

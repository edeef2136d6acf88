"""ECS's native blue/green through boto3 against a real server, on a simulated fleet behind a
real HAProxy (host-mode tasks on a local backend's port, so their targets pass the checks):
ECS's errors for the strategy's members; a BLUE_GREEN deployment paused at its POST_SCALE_UP
hook with green up in the alternate group and production still on blue, continued, then
shifted and blue stopped; the next deployment, paused at PRE_SCALE_UP, rolled back by its
hook's answer (ContinueServiceDeployment with ROLLBACK). StopServiceDeployment's rollback is
the e2e test's (tests/e2e/test_native_blue_green_docker.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from codedeploy.bg_world import World, blue_green_world, unique, wait_until
from harness import ServerProcess


@pytest.fixture
def world(server: ServerProcess, tmp_path: Path) -> Iterator[World]:
    with blue_green_world(server, tmp_path, interval=5) as found:
        yield found


def default_rule(world: World, listener: str) -> str:
    rules = world.elb.describe_rules(ListenerArn=listener)["Rules"]
    return str(next(r["RuleArn"] for r in rules if r["IsDefault"]))


def rule_weights(world: World, rule: str) -> dict[str, int]:
    action = world.elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"][0]
    groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}
    ]
    return {g["TargetGroupArn"]: g["Weight"] for g in groups}


def targets(world: World, group: str) -> int:
    found = world.elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return sum(t["TargetHealth"]["State"] == "healthy" for t in found)


def error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def running(world: World, service: str) -> set[str]:
    arns = world.ecs.list_tasks(cluster=world.cluster, serviceName=service)["taskArns"]
    if not arns:
        return set()
    tasks = world.ecs.describe_tasks(cluster=world.cluster, tasks=arns)["tasks"]
    return {t["taskDefinitionArn"] for t in tasks if t["lastStatus"] == "RUNNING"}


def deployment(world: World, service: str) -> dict[str, Any]:
    arn = world.ecs.list_service_deployments(cluster=world.cluster, service=service)[
        "serviceDeployments"
    ][0]["serviceDeploymentArn"]
    got = world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    return dict(got["serviceDeployments"][0])


def test_native_blue_green(world: World) -> None:
    prod, test = default_rule(world, world.prod), default_rule(world, world.test)
    td1 = world.task_definition(unique("nbg"))
    td2 = world.task_definition(unique("nbg"))
    lb = {
        "targetGroupArn": world.blue_tg,
        "containerName": "app",
        "containerPort": world.backend.port,
    }
    advanced = {
        "alternateTargetGroupArn": world.green_tg,
        "productionListenerRule": prod,
        "testListenerRule": test,
        "roleArn": "arn:aws:iam::000000000000:role/ecs-elb",
    }
    service = unique("svc")
    base = {"cluster": world.cluster, "serviceName": service, "taskDefinition": td1}

    # ECS's errors: a strategy needs the alternate group; members need their strategy.
    bg = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}
    err = error(
        world.ecs.create_service,
        **base,
        desiredCount=2,
        loadBalancers=[lb],
        deploymentConfiguration=bg,
    )
    assert err["Code"] == "InvalidParameterException" and "advancedConfiguration" in err["Message"]
    err = error(
        world.ecs.create_service,
        **base,
        desiredCount=2,
        loadBalancers=[lb],
        deploymentConfiguration={**bg, "linearConfiguration": {"stepPercent": 10.0}},
    )
    assert "LINEAR" in err["Message"]
    err = error(
        world.ecs.create_service,
        **base,
        desiredCount=2,
        loadBalancers=[
            {**lb, "advancedConfiguration": {**advanced, "alternateTargetGroupArn": world.blue_tg}}
        ],
        deploymentConfiguration=bg,
    )
    assert "different" in err["Message"]

    hook = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}
    world.ecs.create_service(
        **base,
        desiredCount=2,
        loadBalancers=[{**lb, "advancedConfiguration": advanced}],
        deploymentConfiguration={**bg, "lifecycleHooks": [hook]},
    )
    shown = world.ecs.describe_services(cluster=world.cluster, services=[service])["services"][0]
    assert shown["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert shown["loadBalancers"][0]["advancedConfiguration"] == advanced
    wait_until(
        lambda: (
            world.ecs.describe_services(cluster=world.cluster, services=[service])["services"][0][
                "runningCount"
            ]
            == 2
        ),
        30,
        "blue running",
    )

    # A new revision (before blue's targets are healthy, to save the test a health check's
    # wait): green comes up in the alternate group; the hook pauses it there.
    world.ecs.update_service(cluster=world.cluster, service=service, taskDefinition=td2)
    paused = wait_until(
        lambda: (d := deployment(world, service)).get("lifecycleStage") == "POST_SCALE_UP" and d,
        60,
        "paused at POST_SCALE_UP",
    )
    (detail,) = paused["lifecycleHookDetails"]
    assert detail["status"] == "IN_PROGRESS" and detail["targetType"] == "PAUSE"
    assert targets(world, world.green_tg) == 2
    wait_until(lambda: targets(world, world.blue_tg) == 2, 30, "blue targets healthy")
    assert rule_weights(world, prod) == {world.blue_tg: 100, world.green_tg: 0}
    assert running(world, service) == {td1, td2}
    world.ecs.continue_service_deployment(
        serviceDeploymentArn=paused["serviceDeploymentArn"], hookId=detail["hookId"]
    )
    done = wait_until(
        lambda: (d := deployment(world, service))["status"] == "SUCCESSFUL" and d, 60, "shifted"
    )
    assert done["lifecycleStage"] == "CLEAN_UP"
    assert rule_weights(world, prod) == {world.blue_tg: 0, world.green_tg: 100}
    assert rule_weights(world, test) == {world.green_tg: 1}
    wait_until(lambda: running(world, service) == {td2}, 30, "blue stopped")

    # The next one, paused before its scale-up this time, is told to roll back.
    world.ecs.update_service(
        cluster=world.cluster,
        service=service,
        taskDefinition=td1,
        deploymentConfiguration={"lifecycleHooks": [{**hook, "lifecycleStages": ["PRE_SCALE_UP"]}]},
    )
    paused = wait_until(
        lambda: (d := deployment(world, service)).get("lifecycleStage") == "PRE_SCALE_UP" and d,
        30,
        "paused again",
    )
    # Production stays on green's group, which is now blue's: the groups swapped roles.
    assert rule_weights(world, prod) == {world.blue_tg: 0, world.green_tg: 100}
    (detail,) = paused["lifecycleHookDetails"]
    world.ecs.continue_service_deployment(
        serviceDeploymentArn=paused["serviceDeploymentArn"],
        hookId=detail["hookId"],
        action="ROLLBACK",
    )
    back = wait_until(
        lambda: (d := deployment(world, service))["status"] == "ROLLBACK_SUCCESSFUL" and d,
        60,
        "rolled back",
    )
    assert "asked for a rollback" in back["statusReason"]
    assert back["lifecycleHookDetails"][0]["status"] == "FAILED"
    assert rule_weights(world, prod) == {world.blue_tg: 0, world.green_tg: 100}
    wait_until(lambda: running(world, service) == {td2}, 30, "green stopped")
    world.ecs.delete_service(cluster=world.cluster, service=service, force=True)

"""CodeDeploy's ECS subset through boto3 and the AWS CLI against a real server: its errors;
a blue/green deployment (AllAtOnce) on a simulated fleet behind a real HAProxy that brings
the green task set up behind the test listener, moves the production listener to it and
drains blue; a deployment that waits to be continued (deploymentReadyOption), is continued
into a canary (10 % of production on green), and is stopped with rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bg_world import World, blue_green_world, code_deploy_service, unique, wait_until
from botocore.exceptions import ClientError
from harness import ServerProcess


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


@pytest.fixture
def world(server: ServerProcess, tmp_path: Path) -> Iterator[World]:
    with blue_green_world(server, tmp_path) as found:
        yield found


def test_codedeploy_errors_and_configs(server: ServerProcess) -> None:
    cd = server.client("codedeploy")
    err = _error(cd.get_application, applicationName="nope-" + unique("a"))
    assert err["Code"] == "ApplicationDoesNotExistException"
    err = _error(cd.create_application, applicationName=unique("a"), computePlatform="Server")
    assert err["Code"] == "InvalidComputePlatformException"
    app = unique("app")
    assert cd.create_application(applicationName=app, computePlatform="ECS")["applicationId"]
    assert _error(cd.create_application, applicationName=app, computePlatform="ECS")["Code"] == (
        "ApplicationAlreadyExistsException"
    )
    assert cd.get_application(applicationName=app)["application"]["computePlatform"] == "ECS"
    assert app in cd.list_applications()["applications"]
    err = _error(
        cd.create_deployment_group,
        applicationName=app,
        deploymentGroupName="dg",
        serviceRoleArn="arn:aws:iam::000000000000:role/cd",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        ecsServices=[{"serviceName": "nope", "clusterName": "default"}],
        loadBalancerInfo={"targetGroupPairInfoList": []},
    )
    assert err["Code"] == "InvalidECSServiceException"
    err = _error(cd.get_deployment_group, applicationName=app, deploymentGroupName="dg")
    assert err["Code"] == "DeploymentGroupDoesNotExistException"
    err = _error(cd.get_deployment, deploymentId="d-AAAAAAAAA")
    assert err["Code"] == "DeploymentDoesNotExistException"

    info = cd.get_deployment_config(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes"
    )
    routing = info["deploymentConfigInfo"]["trafficRoutingConfig"]
    assert routing == {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    }
    name = unique("linear")
    cd.create_deployment_config(
        deploymentConfigName=name,
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 2},
        },
    )
    got = server.aws("deploy", "get-deployment-config", "--deployment-config-name", name, v2=True)
    assert got["deploymentConfigInfo"]["trafficRoutingConfig"]["timeBasedLinear"] == {
        "linearPercentage": 25,
        "linearInterval": 2,
    }
    listed = cd.list_deployment_configs()["deploymentConfigsList"]
    assert "CodeDeployDefault.ECSAllAtOnce" in listed and name in listed
    err = _error(
        cd.create_deployment_config,
        deploymentConfigName=unique("bad"),
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 150, "canaryInterval": 1},
        },
    )
    assert err["Code"] == "InvalidTrafficRoutingConfigurationException"


def test_all_at_once_blue_green(world: World, server: ServerProcess) -> None:
    blue_td = world.task_definition(unique("bgapp"))
    code_deploy_service(world, blue_td)
    [blue] = world.task_sets()
    assert blue["status"] == "PRIMARY" and blue["startedBy"] == "CODE_DEPLOY"
    err = _error(
        world.ecs.update_service,
        cluster=world.cluster,
        service=world.service,
        taskDefinition=blue_td,
    )
    assert err["Message"] == (
        "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment."
    )
    # No wait for blue: the deployment waits for green, which starts alongside.
    green_td = world.task_definition(unique("bgapp2"))
    ident = world.deploy(green_td)
    err = _error(
        world.cd.create_deployment,
        applicationName=world.app,
        deploymentGroupName=world.group,
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": world.appspec(green_td)},
        },
    )
    assert err["Code"] == "DeploymentLimitExceededException" and ident in err["Message"]
    done = wait_until(
        lambda: (
            (d := world.deployment(ident))["status"] in ("Succeeded", "Failed", "Stopped") and d
        ),
        60,
        "deployment done",
    )
    assert done["status"] == "Succeeded", done.get("errorInformation")
    assert done["deploymentOverview"]["Succeeded"] == 1 and done["computePlatform"] == "ECS"
    assert world.weights(world.prod) == {world.blue_tg: 0, world.green_tg: 100}
    assert world.weights(world.test) == {world.green_tg: 1}
    wait_until(lambda: len(world.task_sets()) == 1, 30, "blue drained")
    [green] = world.task_sets()
    assert green["status"] == "PRIMARY" and green["taskDefinition"] == green_td
    assert green["loadBalancers"][0]["targetGroupArn"] == world.green_tg
    service = world.ecs.describe_services(cluster=world.cluster, services=[world.service])[
        "services"
    ][0]
    assert service["taskDefinition"] == green_td
    listed = server.aws(
        "deploy", "list-deployments", "--application-name", world.app,
        "--deployment-group-name", world.group, v2=True,
    )  # fmt: skip
    assert listed["deployments"] == [ident]
    err = _error(world.cd.stop_deployment, deploymentId=ident)
    assert err["Code"] == "DeploymentAlreadyCompletedException"


def test_ready_continue_canary_then_stop_with_rollback(world: World) -> None:
    blue_td = world.task_definition(unique("bgapp"))
    code_deploy_service(
        world,
        blue_td,
        desired=1,
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 30,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
        },
    )
    ident = world.deploy(
        world.task_definition(unique("bgapp2")),
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes",
    )
    err = _error(
        world.cd.continue_deployment, deploymentId=ident, deploymentWaitType="TERMINATION_WAIT"
    )
    assert err["Code"] == "DeploymentIsNotInReadyStateException"
    wait_until(lambda: world.deployment(ident)["status"] == "Ready", 60, "ready")
    # Ready: green runs behind the test listener, production still all on blue.
    assert world.weights(world.test) == {world.green_tg: 1}
    assert world.weights(world.prod) == {world.blue_tg: 100, world.green_tg: 0}
    world.cd.continue_deployment(deploymentId=ident, deploymentWaitType="READY_WAIT")
    # The canary: 10 % on green for five minutes.
    wait_until(
        lambda: world.weights(world.prod) == {world.blue_tg: 90, world.green_tg: 10}, 30, "canary"
    )
    assert world.deployment(ident)["status"] == "InProgress"
    out = world.cd.stop_deployment(deploymentId=ident, autoRollbackEnabled=True)
    assert out["status"] == "Pending"
    stopped = wait_until(lambda: (d := world.deployment(ident))["status"] == "Stopped" and d, 30)
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    assert "rolled back" in stopped["rollbackInfo"]["rollbackMessage"]
    # The rollback is a deployment of its own, linked both ways, as CodeDeploy shows it.
    back = world.deployment(stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert (back["status"], back["creator"]) == ("Succeeded", "codeDeployRollback")
    assert back["rollbackInfo"]["rollbackTriggeringDeploymentId"] == ident
    assert back["deploymentGroupName"] == stopped["deploymentGroupName"]
    listed = world.cd.list_deployments(
        applicationName=stopped["applicationName"],
        deploymentGroupName=stopped["deploymentGroupName"],
    )["deployments"]
    assert {ident, back["deploymentId"]} <= set(listed)
    assert world.weights(world.prod) == {world.blue_tg: 100, world.green_tg: 0}
    assert world.weights(world.test) == {world.blue_tg: 1}
    wait_until(lambda: len(world.task_sets()) == 1, 30, "green drained")
    [blue] = world.task_sets()
    assert blue["status"] == "PRIMARY" and blue["taskDefinition"] == blue_td

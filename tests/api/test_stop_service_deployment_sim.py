"""Steering deployments on a simulated fleet, through boto3 and the AWS CLI: a deployment
that will never finish (its image cannot be pulled, no circuit breaker) is stopped with
StopServiceDeployment and rolls back to the previous revision; DescribeServiceRevisions
shows the configuration each deployment ran; ContinueServiceDeployment and the errors ECS
gives for what cannot be stopped or continued."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api.test_services_sim import (
    MISSING_IMAGE,
    broken_image_fleet,
    create,
    describe,
    register,
    sim,
    stable,
    tasks_of,
    update,
    wait_until,
)
from botocore.exceptions import ClientError
from harness import ServerProcess


def _deployments(fleet: Any, name: str) -> list[dict[str, Any]]:
    out = fleet.ecs.list_service_deployments(cluster=fleet.cluster, service=name)
    return list(out["serviceDeployments"])


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def test_a_stuck_deployment_is_stopped_and_rolls_back(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        broken_image_fleet(fleet)
        td1 = register(fleet.ecs, name)
        create(fleet, "web", td1, 2)
        good = stable(fleet, "web", 2)["deployments"][0]
        (first,) = _deployments(fleet, "web")
        assert first["status"] == "SUCCESSFUL"
        # The first deployment has nothing to go back to once it is done: not stoppable.
        code, message = _error(
            fleet.ecs.stop_service_deployment,
            serviceDeploymentArn=first["serviceDeploymentArn"],
            stopType="ROLLBACK",
        )
        assert code == "ConflictException" and "SUCCESSFUL" in message

        td2 = register(fleet.ecs, name, image=MISSING_IMAGE)
        bad = update(fleet, "web", taskDefinition=td2)["deployments"][0]
        current = describe(fleet, "web")["currentServiceDeployment"]
        listed = {d["serviceDeploymentArn"]: d for d in _deployments(fleet, "web")}
        assert listed[current]["status"] == "IN_PROGRESS"
        # ListServiceDeployments' filters: by status, by creation time.
        only = fleet.ecs.list_service_deployments(
            cluster=name, service="web", status=["IN_PROGRESS"]
        )["serviceDeployments"]
        assert [d["serviceDeploymentArn"] for d in only] == [current]
        later = fleet.ecs.list_service_deployments(
            cluster=name,
            service="web",
            createdAt={"after": bad["createdAt"] - timedelta(milliseconds=5)},
        )["serviceDeployments"]
        assert [d["serviceDeploymentArn"] for d in later] == [current]

        # The AWS CLI stops it; the answer is the deployment's ARN.
        out = server.aws(
            "ecs", "stop-service-deployment", "--service-deployment-arn", current,
            "--stop-type", "ROLLBACK",
        )  # fmt: skip
        assert out == {"serviceDeploymentArn": current}

        def rolled_back() -> dict[str, Any] | None:
            (report,) = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[current])[
                "serviceDeployments"
            ]
            return report if report["status"] == "ROLLBACK_SUCCESSFUL" else None

        report = wait_until(rolled_back, 30, "the rollback to succeed")
        assert report["rollback"]["serviceRevisionArn"] != report["targetServiceRevision"]["arn"]
        final = stable(fleet, "web", 2)
        (back,) = final["deployments"]
        assert back["taskDefinition"] == td1 and final["taskDefinition"] == td1
        assert {t["taskDefinitionArn"] for t in tasks_of(fleet, "web")} == {td1}
        assert any(
            f"rolling back to deployment {good['id']}" in e["message"] for e in final["events"]
        )
        # Stopping it again: it is no longer in progress (the AWS CLI says so too).
        code, _ = _error(fleet.ecs.stop_service_deployment, serviceDeploymentArn=current)
        assert code == "ConflictException"
        proc = server.aws(
            "ecs", "stop-service-deployment", "--service-deployment-arn", current, check=False
        )
        assert proc.returncode != 0 and "(ConflictException)" in proc.stderr

        # The revisions: what the first, the stopped and the rollback deployment ran.
        revisions = [
            report["targetServiceRevision"]["arn"],
            report["rollback"]["serviceRevisionArn"],
            first["targetServiceRevisionArn"],
        ]
        missing = revisions[0].rsplit("/", 1)[0] + "/1234567890123456789"
        found = fleet.ecs.describe_service_revisions(serviceRevisionArns=[*revisions, missing])
        assert found["failures"] == [{"arn": missing, "reason": "MISSING"}]
        by_arn = {r["serviceRevisionArn"]: r for r in found["serviceRevisions"]}
        assert [by_arn[a]["taskDefinition"] for a in revisions] == [td2, td1, td1]
        stopped = by_arn[revisions[0]]
        assert stopped["serviceArn"] == final["serviceArn"]
        assert stopped["clusterArn"] == final["clusterArn"]
        assert stopped["containerImages"] == [{"containerName": "app", "image": MISSING_IMAGE}]
        assert stopped["launchType"] == "EC2" and stopped["guardDutyEnabled"] is False


def test_stop_and_continue_refuse_what_they_cannot_do(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(1)
        td = register(fleet.ecs, name)
        create(fleet, "web", td, 1)
        stable(fleet, "web", 1)
        (first,) = _deployments(fleet, "web")
        arn = first["serviceDeploymentArn"]
        unknown = arn.rsplit("/", 1)[0] + "/1234567890123456789"
        code, _ = _error(fleet.ecs.stop_service_deployment, serviceDeploymentArn=unknown)
        assert code == "ServiceDeploymentNotFoundException"
        code, _ = _error(
            fleet.ecs.stop_service_deployment, serviceDeploymentArn=arn, stopType="ABORT"
        )
        assert code == "UnsupportedFeatureException"
        code, _ = _error(
            fleet.ecs.stop_service_deployment, serviceDeploymentArn=arn, stopType="LATER"
        )
        assert code == "InvalidParameterException"
        # A rolling deployment pauses at no lifecycle hook.
        code, message = _error(
            fleet.ecs.continue_service_deployment, serviceDeploymentArn=arn, hookId="hook-1"
        )
        assert code == "InvalidParameterException" and "hook-1" in message
        code, _ = _error(
            fleet.ecs.continue_service_deployment, serviceDeploymentArn=unknown, hookId="h"
        )
        assert code == "ServiceDeploymentNotFoundException"
        code, _ = _error(fleet.ecs.describe_service_revisions, serviceRevisionArns=[])
        assert code == "InvalidParameterException"

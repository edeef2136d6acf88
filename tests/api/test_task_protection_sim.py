"""Task scale-in protection through boto3 and the AWS CLI v2 against a real server with
simulated fleets: UpdateTaskProtection/GetTaskProtection with ECS's failures and errors, a
protected task surviving a scale-in while unprotected ones go, and a deployment that waits
for an old protected task until its protection is removed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from test_services_sim import (
    create,
    describe,
    register,
    sim,
    stable,
    task_arns,
    update,
    wait_until,
)


def protect(fleet: Any, tasks: list[str], enabled: bool = True, **kw: Any) -> dict[str, Any]:
    out = fleet.ecs.update_task_protection(
        cluster=fleet.cluster, tasks=tasks, protectionEnabled=enabled, **kw
    )
    return dict(out)


def test_update_and_get_protection(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(1)
        td = register(fleet.ecs, name)
        create(fleet, name, td, 2)
        stable(fleet, name, 2)
        one, two = sorted(task_arns(fleet, name))
        before = time.time()
        out = protect(fleet, [one], expiresInMinutes=60)
        assert out["failures"] == []
        [shown] = out["protectedTasks"]
        assert shown["taskArn"] == one and shown["protectionEnabled"] is True
        expires = shown["expirationDate"].timestamp()
        assert before + 3590 < expires < time.time() + 3610

        got = fleet.ecs.get_task_protection(cluster=fleet.cluster, tasks=[one, two.split("/")[-1]])
        assert got["failures"] == []
        by_arn = {t["taskArn"]: t for t in got["protectedTasks"]}
        assert by_arn[one]["protectionEnabled"] is True
        assert by_arn[two] == {"taskArn": two, "protectionEnabled": False}

        # Default period: two hours; enabling again restarts it.
        [shown] = protect(fleet, [one])["protectedTasks"]
        assert 7190 < shown["expirationDate"].timestamp() - time.time() < 7210

        # The AWS CLI v2: off again.
        cli = server.aws(
            "ecs", "update-task-protection", "--cluster", name, "--tasks", one,
            "--no-protection-enabled", v2=True,
        )  # fmt: skip
        assert cli["protectedTasks"] == [{"taskArn": one, "protectionEnabled": False}]
        cli = server.aws("ecs", "get-task-protection", "--cluster", name, "--tasks", one, v2=True)
        assert cli["protectedTasks"][0]["protectionEnabled"] is False


def test_protection_failures_and_errors(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(1)
        td = register(fleet.ecs, name)
        standalone = fleet.ecs.run_task(cluster=name, taskDefinition=td)["tasks"][0]["taskArn"]
        missing = standalone.rsplit("/", 1)[0] + "/" + "0" * 32
        out = protect(fleet, [standalone, missing])
        assert out["protectedTasks"] == []
        assert out["failures"] == [
            {"arn": standalone, "reason": "TASK_NOT_VALID"},
            {"arn": missing, "reason": "MISSING"},
        ]
        got = fleet.ecs.get_task_protection(cluster=name, tasks=[standalone])
        assert got["failures"] == [{"arn": standalone, "reason": "TASK_NOT_VALID"}]

        for minutes in (0, 2881):
            with pytest.raises(ClientError) as err:
                protect(fleet, [standalone], expiresInMinutes=minutes)
            assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        with pytest.raises(ClientError) as err:
            protect(fleet, [standalone] * 11)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        with pytest.raises(ClientError) as err:
            fleet.ecs.update_task_protection(
                cluster="nope-" + name, tasks=[standalone], protectionEnabled=True
            )
        assert err.value.response["Error"]["Code"] == "ClusterNotFoundException"
        proc = server.aws(
            "ecs", "get-task-protection", "--cluster", "nope-" + name, "--tasks", standalone,
            v2=True, check=False,
        )  # fmt: skip
        assert proc.returncode != 0 and "ClusterNotFoundException" in proc.stderr


def test_protected_task_survives_scale_in(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2)
        td = register(fleet.ecs, name)
        create(fleet, name, td, 3)
        stable(fleet, name, 3)
        arns = sorted(task_arns(fleet, name))
        kept = arns[1]
        protect(fleet, [kept])
        update(fleet, name, desiredCount=1)
        wait_until(lambda: task_arns(fleet, name) == [kept], what="the unprotected tasks to go")
        stable(fleet, name, 1)

        # Scaled to zero: the protected task still stays until its protection is removed.
        update(fleet, name, desiredCount=0)
        for _ in range(3):  # it stays while the controller passes over the change
            assert task_arns(fleet, name) == [kept]
            time.sleep(0.2)
        protect(fleet, [kept], enabled=False)
        wait_until(lambda: task_arns(fleet, name) == [], what="the unprotected task to go")


def test_deployment_waits_for_protected_task(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2)
        td1 = register(fleet.ecs, name)
        create(fleet, name, td1, 1)
        stable(fleet, name, 1)
        [old] = task_arns(fleet, name)
        protect(fleet, [old])
        td2 = register(fleet.ecs, name)
        update(fleet, name, taskDefinition=td2)

        def new_running() -> bool:
            tasks = fleet.ecs.describe_tasks(cluster=name, tasks=task_arns(fleet, name))["tasks"]
            return any(
                t["taskDefinitionArn"] == td2 and t["lastStatus"] == "RUNNING" for t in tasks
            )

        wait_until(new_running, what="the new deployment's task")
        # The old task is protected: the deployment holds it and stays IN_PROGRESS.
        for _ in range(3):
            svc = describe(fleet, name)
            assert old in task_arns(fleet, name)
            primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
            assert primary["rolloutState"] == "IN_PROGRESS"
            assert len(svc["deployments"]) == 2
            time.sleep(0.2)
        protect(fleet, [old], enabled=False)
        stable(fleet, name, 1)
        assert old not in task_arns(fleet, name)

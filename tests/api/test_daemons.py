"""ECS Managed Daemons through boto3 and the AWS CLI against a real server: daemon task
definitions, daemons that run one task on each instance of their capacity providers on a
simulated fleet (the DAEMON scheduler's), a new revision rolling out, and ECS's errors.

Debian's AWS CLI v2 (2.9) predates these actions; the CLI calls are the venv's v1, whose
botocore has them."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from test_services_sim import HEALTH_CHECK, MISSING_IMAGE, Sim, register, sim, wait_until

from portside.agent.simulated import SimulatedDriver

ACCOUNT = "000000000000"
GROUP_ATTRIBUTE = "portside.autoscaling-group"


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def _definition(ecs: Any, family: str, image: str = "busybox") -> str:
    out = ecs.register_daemon_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": "agent",
                "image": image,
                "memory": 16,
                "command": ["sleep", "3600"],
                # Healthy as soon as it runs on the simulated driver: the scheduler counts
                # a task with no health check healthy only after 40 s running.
                "healthCheck": HEALTH_CHECK,
            }
        ],
    )
    return str(out["daemonTaskDefinitionArn"])


def _provider(ecs: Any, name: str, group: str) -> str:
    arn = (
        f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:"
        f"{uuid.uuid4()}:autoScalingGroupName/{group}"
    )
    out = ecs.create_capacity_provider(
        name=name, autoScalingGroupProvider={"autoScalingGroupArn": arn}
    )
    return str(out["capacityProvider"]["capacityProviderArn"])


def _provided(fleet: Sim, name: str, count: int, driver: SimulatedDriver) -> tuple[str, list[str]]:
    """The cluster's capacity provider `cp-NAME` (group `asg-NAME`) and `count` instances of
    its group on `driver`: (the provider's ARN, the instances)."""
    provider = _provider(fleet.ecs, f"cp-{name}", f"asg-{name}")
    fleet.ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=[f"cp-{name}"], defaultCapacityProviderStrategy=[]
    )
    members = fleet.add(count, driver=driver, attributes={GROUP_ATTRIBUTE: f"asg-{name}"})
    return provider, members


def _tasks(fleet: Sim) -> list[dict[str, Any]]:
    """The cluster's tasks that are wanted running."""
    arns = fleet.ecs.list_tasks(cluster=fleet.cluster)["taskArns"]
    if not arns:
        return []
    tasks = fleet.ecs.describe_tasks(cluster=fleet.cluster, tasks=arns)["tasks"]
    return [t for t in tasks if t["desiredStatus"] == "RUNNING"]


def _one_each(fleet: Sim, instances: list[str], definition: str) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        tasks = _tasks(fleet)
        where = Counter(t["containerInstanceArn"] for t in tasks)
        # Never two daemon tasks wanted on one instance, mid-rollout included.
        assert max(where.values(), default=0) <= 1, where
        ok = (
            where == Counter(instances)
            and all(t["lastStatus"] == "RUNNING" for t in tasks)
            and all(t["taskDefinitionArn"] == definition for t in tasks)
        )
        return tasks if ok else None

    return list(wait_until(check, 30, f"one daemon task on each of {len(instances)} instances"))


def _deployment(fleet: Sim, arn: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        (dep,) = fleet.ecs.describe_daemon_deployments(daemonDeploymentArns=[arn])[
            "daemonDeployments"
        ]
        return dict(dep) if dep["status"] == status else None

    return dict(wait_until(check, 30, f"deployment {status}"))


def test_a_daemon_runs_one_task_per_instance_and_rolls_a_new_revision(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        driver = SimulatedDriver(start_delay=0.05)
        provider, members = _provided(fleet, name, 3, driver)
        fleet.add(1, driver=SimulatedDriver(start_delay=0.05))  # in no capacity provider
        first = _definition(ecs, name)
        cluster_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}"
        created = ecs.create_daemon(
            daemonName="monitor",
            clusterArn=cluster_arn,
            daemonTaskDefinitionArn=first,
            capacityProviderArns=[provider],
            deploymentConfiguration={"drainPercent": 50.0, "bakeTimeInMinutes": 0},
            tags=[{"key": "team", "value": "ops"}],
        )
        daemon = created["daemonArn"]
        assert daemon == f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon/{name}/monitor"
        assert created["status"] == "ACTIVE"
        assert created["deploymentArn"].startswith(
            f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon-deployment/{name}/monitor/"
        )
        tasks = _one_each(fleet, members, first)
        assert {t["capacityProviderName"] for t in tasks} == {f"cp-{name}"}
        done = _deployment(fleet, created["deploymentArn"], "SUCCESSFUL")
        target = done["targetDaemonRevision"]
        assert target["totalRunningInstanceCount"] == 3
        assert target["capacityProviders"] == [
            {
                "arn": provider,
                "runningInstanceCount": 3,
                "withoutDaemonInstanceCount": 0,
                "drainingInstanceCount": 0,
            }
        ]
        assert done["deploymentConfiguration"] == {"drainPercent": 50.0, "bakeTimeInMinutes": 0}
        shown = ecs.describe_daemon(daemonArn=daemon)["daemon"]
        (current,) = shown["currentRevisions"]
        assert current["totalRunningCount"] == 3 and current["arn"] == target["arn"]
        assert ecs.list_tags_for_resource(resourceArn=daemon)["tags"] == [
            {"key": "team", "value": "ops"}
        ]

        # A new revision rolls over every instance, one task per instance all along.
        second = _definition(ecs, name, image="busybox:stable")
        updated = ecs.update_daemon(
            daemonArn=daemon,
            daemonTaskDefinitionArn=second,
            capacityProviderArns=[provider],
            deploymentConfiguration={"drainPercent": 50.0},
        )
        assert updated["deploymentArn"] != created["deploymentArn"]
        _one_each(fleet, members, second)
        rolled = _deployment(fleet, updated["deploymentArn"], "SUCCESSFUL")
        assert rolled["targetDaemonRevision"]["totalRunningInstanceCount"] == 3
        assert [r["arn"] for r in rolled["sourceDaemonRevisions"]] == [target["arn"]]
        listed = ecs.list_daemon_deployments(daemonArn=daemon)["daemonDeployments"]
        assert [d["daemonDeploymentArn"] for d in listed] == [
            updated["deploymentArn"],
            created["deploymentArn"],
        ]
        only = ecs.list_daemon_deployments(daemonArn=daemon, status=["SUCCESSFUL"], maxResults=1)
        assert len(only["daemonDeployments"]) == 1 and only["nextToken"]
        revisions = ecs.describe_daemon_revisions(
            daemonRevisionArns=[target["arn"], rolled["targetDaemonRevision"]["arn"], "nope"]
        )
        assert [r["daemonTaskDefinitionArn"] for r in revisions["daemonRevisions"]] == [
            first,
            second,
        ]
        assert revisions["daemonRevisions"][1]["containerImages"] == [
            {"containerName": "agent", "image": "busybox:stable"}
        ]
        assert revisions["failures"] == [{"arn": "nope", "reason": "MISSING"}]

        # An instance joining the capacity provider gets its task.
        (joined,) = fleet.add(1, driver=driver, attributes={GROUP_ATTRIBUTE: f"asg-{name}"})
        _one_each(fleet, [*members, joined], second)
        cli = server.aws("ecs", "list-daemons", "--cluster-arn", cluster_arn)
        assert [d["daemonArn"] for d in cli["daemonSummariesList"]] == [daemon]

        # Deleted: its tasks stop, then it is gone.
        assert ecs.delete_daemon(daemonArn=daemon)["status"] == "DELETE_IN_PROGRESS"
        wait_until(lambda: not _tasks(fleet), 30, "the daemon's tasks stopped")

        def forgotten() -> bool:
            try:
                ecs.describe_daemon(daemonArn=daemon)
            except ClientError as exc:
                return exc.response["Error"]["Code"] == "DaemonNotFoundException"
            return False

        wait_until(forgotten, 30, "the daemon forgotten")


def test_a_failing_revision_rolls_back(server: ServerProcess, tmp_path: Path, name: str) -> None:
    """The circuit breaker: tasks of the new revision fail to start, the deployment rolls
    back to the revision that ran before (developer guide, "Daemon deployments")."""
    with sim(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        driver = SimulatedDriver(missing_images=frozenset({MISSING_IMAGE}), start_delay=0.05)
        provider, members = _provided(fleet, name, 3, driver)
        good = _definition(ecs, name)
        created = ecs.create_daemon(
            daemonName="monitor",
            clusterArn=name,
            daemonTaskDefinitionArn=good,
            capacityProviderArns=[provider],
            deploymentConfiguration={"drainPercent": 100.0},
        )
        first = _deployment(fleet, created["deploymentArn"], "SUCCESSFUL")
        bad = _definition(ecs, name, image=MISSING_IMAGE)
        updated = ecs.update_daemon(
            daemonArn=created["daemonArn"],
            daemonTaskDefinitionArn=bad,
            capacityProviderArns=[provider],
            deploymentConfiguration={"drainPercent": 100.0},
        )
        back = _deployment(fleet, updated["deploymentArn"], "ROLLBACK_SUCCESSFUL")
        assert back["circuitBreaker"]["status"] == "TRIGGERED"
        assert back["circuitBreaker"]["failureCount"] >= back["circuitBreaker"]["threshold"] == 3
        assert (
            back["rollback"]["rollbackTargetDaemonRevisionArn"]
            == (first["targetDaemonRevision"]["arn"])
        )
        assert back["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."
        _one_each(fleet, members, good)


def test_daemon_task_definitions_and_the_errors(server: ServerProcess, ecs: Any, name: str) -> None:
    first = _definition(ecs, name)
    assert first == f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon-task-definition/{name}:1"
    second = _definition(ecs, name, image="busybox:stable")
    shown = ecs.describe_daemon_task_definition(daemonTaskDefinition=name)["daemonTaskDefinition"]
    assert (shown["daemonTaskDefinitionArn"], shown["revision"], shown["status"]) == (
        second,
        2,
        "ACTIVE",
    )
    (container,) = shown["containerDefinitions"]
    assert container["image"] == "busybox:stable" and container["essential"] is True
    assert "networkMode" not in shown
    # Not a task definition, nor listed as one.
    assert _error(ecs.describe_task_definition, taskDefinition=name)["Code"] == "ClientException"
    listed = ecs.list_daemon_task_definitions(familyPrefix=name)["daemonTaskDefinitions"]
    assert [d["arn"] for d in listed] == [first, second]
    newest = ecs.list_daemon_task_definitions(family=name, revision="LAST_REGISTERED", sort="DESC")[
        "daemonTaskDefinitions"
    ]
    assert [d["arn"] for d in newest] == [second]
    assert (
        ecs.delete_daemon_task_definition(daemonTaskDefinition=first)["daemonTaskDefinitionArn"]
        == first
    )
    again = _error(ecs.delete_daemon_task_definition, daemonTaskDefinition=first)
    assert again["Code"] == "ClientException"
    gone = ecs.list_daemon_task_definitions(familyPrefix=name, status="DELETE_IN_PROGRESS")
    assert [d["arn"] for d in gone["daemonTaskDefinitions"]] == [first]
    missing = _error(ecs.describe_daemon_task_definition, daemonTaskDefinition=f"{name}:9")
    assert missing["Code"] == "ClientException"
    cli = server.aws(
        "ecs", "describe-daemon-task-definition", "--daemon-task-definition", f"{name}:2"
    )
    assert cli["daemonTaskDefinition"]["daemonTaskDefinitionArn"] == second

    # Daemons: the cluster, capacity providers and names ECS refuses.
    refused = _error(
        ecs.create_daemon,
        daemonName="d",
        clusterArn=f"nope-{name}",
        daemonTaskDefinitionArn=second,
        capacityProviderArns=["FARGATE"],
    )
    assert refused["Code"] == "ClusterNotFoundException"
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE"])
    fargate = _error(
        ecs.create_daemon,
        daemonName="d",
        clusterArn=name,
        daemonTaskDefinitionArn=second,
        capacityProviderArns=["FARGATE"],
    )
    assert fargate["Code"] == "InvalidParameterException"
    _provider(ecs, f"cp-{name}", f"asg-{name}")
    unassociated = _error(
        ecs.create_daemon,
        daemonName="d",
        clusterArn=name,
        daemonTaskDefinitionArn=second,
        capacityProviderArns=[f"cp-{name}"],
    )
    assert unassociated["Code"] == "InvalidParameterException"
    deleted_def = _error(
        ecs.create_daemon,
        daemonName="d",
        clusterArn=name,
        daemonTaskDefinitionArn=first,
        capacityProviderArns=[f"cp-{name}"],
    )
    assert deleted_def["Code"] == "ClientException"
    bad_name = _error(
        ecs.create_daemon,
        daemonName="no spaces",
        clusterArn=name,
        daemonTaskDefinitionArn=second,
        capacityProviderArns=[f"cp-{name}"],
    )
    assert bad_name["Code"] == "InvalidParameterException"
    unknown = f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon/{name}/ghost"
    assert _error(ecs.describe_daemon, daemonArn=unknown)["Code"] == "DaemonNotFoundException"
    assert _error(ecs.delete_daemon, daemonArn=unknown)["Code"] == "DaemonNotFoundException"
    lost = f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon/nope-{name}/ghost"
    assert _error(ecs.describe_daemon, daemonArn=lost)["Code"] == "ClusterNotFoundException"
    proc = server.aws("ecs", "describe-daemon", "--daemon-arn", unknown, check=False)
    assert proc.returncode != 0 and "DaemonNotFoundException" in proc.stderr
    none = ecs.describe_daemon_deployments(
        daemonDeploymentArns=[f"arn:aws:ecs:us-east-1:{ACCOUNT}:daemon-deployment/{name}/x/y"]
    )
    assert none["daemonDeployments"] == [] and none["failures"][0]["reason"] == "MISSING"


def _instance_status(fleet: Sim, arn: str) -> str:
    (inst,) = fleet.ecs.describe_container_instances(
        cluster=fleet.cluster, containerInstances=[arn]
    )["containerInstances"]
    return str(inst["status"])


def test_a_critical_daemon_task_that_fails_drains_its_instance(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """CreateDaemon's `critical` (default true): the daemon task fails, ECS drains its
    instance and stops the other tasks on it; a non-critical daemon's failure touches nothing
    else, and its task is started again."""
    with sim(server, tmp_path, name) as fleet:
        ecs = fleet.ecs
        driver = SimulatedDriver(start_delay=0.05)
        provider, members = _provided(fleet, name, 2, driver)
        cluster_arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{name}"
        critical = ecs.create_daemon(
            daemonName="monitor",
            clusterArn=cluster_arn,
            daemonTaskDefinitionArn=_definition(ecs, name),
            capacityProviderArns=[provider],
        )
        (revision,) = ecs.describe_daemon(daemonArn=critical["daemonArn"])["daemon"][
            "currentRevisions"
        ]
        shown = ecs.describe_daemon_revisions(daemonRevisionArns=[revision["arn"]])
        assert shown["daemonRevisions"][0]["critical"] is True  # the default
        relaxed = ecs.create_daemon(
            daemonName="logs",
            clusterArn=cluster_arn,
            daemonTaskDefinitionArn=_definition(ecs, f"{name}-logs"),
            capacityProviderArns=[provider],
            critical=False,
        )
        (rev,) = ecs.describe_daemon(daemonArn=relaxed["daemonArn"])["daemon"]["currentRevisions"]
        shown = ecs.describe_daemon_revisions(daemonRevisionArns=[rev["arn"]])
        assert shown["daemonRevisions"][0]["critical"] is False
        wait_until(lambda: len(_tasks(fleet)) == 4 and all(
            t["lastStatus"] == "RUNNING" for t in _tasks(fleet)
        ), 30, "both daemons on both instances")  # fmt: skip
        failing, other = members
        app = register(ecs, f"{name}-app")
        (standalone,) = ecs.start_task(
            cluster=name, taskDefinition=app, containerInstances=[failing]
        )["tasks"]
        (elsewhere,) = ecs.start_task(cluster=name, taskDefinition=app, containerInstances=[other])[
            "tasks"
        ]

        def by_group(group: str, instance: str) -> dict[str, Any] | None:
            found = [
                t
                for t in _tasks(fleet)
                if t["group"] == group and t["containerInstanceArn"] == instance
            ]
            assert len(found) <= 1, found
            return found[0] if found else None

        # The non-critical daemon's task is stopped by hand: it comes back, nothing else moves.
        logs_task = by_group("service:daemon:logs", other)
        assert logs_task is not None
        ecs.stop_task(cluster=name, task=logs_task["taskArn"], reason="testing")

        def replaced() -> bool:
            now = by_group("service:daemon:logs", other)
            return now is not None and now["taskArn"] != logs_task["taskArn"]

        wait_until(replaced, 30, "the non-critical daemon's task started again")
        assert _instance_status(fleet, other) == "ACTIVE"

        # The critical daemon's container exits on `failing`: that instance drains.
        monitor_task = by_group("service:daemon:monitor", failing)
        assert monitor_task is not None
        driver.exit(fleet.runtime_id(monitor_task, "agent"), 1)
        wait_until(lambda: _instance_status(fleet, failing) == "DRAINING", 30, "DRAINING")
        (stopped,) = ecs.describe_tasks(cluster=name, tasks=[standalone["taskArn"]])["tasks"]
        assert stopped["desiredStatus"] == "STOPPED"
        assert stopped["stoppedReason"].startswith("Critical daemon monitor task failed")
        # The other instance and its tasks are untouched; no daemon task returns to the drained one.
        assert _instance_status(fleet, other) == "ACTIVE"
        (kept,) = ecs.describe_tasks(cluster=name, tasks=[elsewhere["taskArn"]])["tasks"]
        assert kept["desiredStatus"] == "RUNNING"
        wait_until(
            lambda: (
                not [
                    t
                    for t in _tasks(fleet)
                    if t["containerInstanceArn"] == failing
                    and t["group"] == "service:daemon:monitor"
                ]
            ),
            30,
            "no critical daemon task wanted on the drained instance",
        )

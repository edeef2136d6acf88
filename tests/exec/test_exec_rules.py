"""ExecuteCommand's rules (portside/ops/exec.py), without a server."""

from __future__ import annotations

from typing import Any

import pytest

from portside.errors import InvalidParameterException, TargetNotConnectedException
from portside.model.cluster import Cluster
from portside.model.task import Container, Task
from portside.ops import exec as rules

RUNNING_AGENT = {"name": "ExecuteCommandAgent", "lastStatus": "RUNNING", "lastStartedAt": 1.0}


def container(name: str = "app", status: str = "RUNNING", **agent: Any) -> Container:
    agents = [{**RUNNING_AGENT, **agent}] if agent.get("lastStatus") != "none" else []
    return Container(
        arn=f"arn:aws:ecs:us-east-1:000000000000:container/c/t/{name}",
        name=name,
        image="busybox",
        last_status=status,
        managed_agents=agents,
    )


def task(*containers: Container, enabled: bool = True, status: str = "RUNNING") -> Task:
    return Task(
        arn="arn:aws:ecs:us-east-1:000000000000:task/c/t",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/f:1",
        instance_arn="arn:aws:ecs:us-east-1:000000000000:container-instance/c/i",
        launch_type="EC2",
        last_status=status,
        desired_status="RUNNING",
        created_at=0.0,
        containers=list(containers) or [container()],
        enable_execute_command=enabled,
    )


def test_a_command_is_split_like_a_shell_would() -> None:
    assert rules.parse_command("sh -c 'echo hi; exit 3'") == ("sh", "-c", "echo hi; exit 3")
    assert rules.parse_command("/bin/sh") == ("/bin/sh",)


@pytest.mark.parametrize("command", ["", "   ", "sh -c 'unclosed", "x" * 5000])
def test_a_command_that_cannot_run_is_refused(command: str) -> None:
    with pytest.raises(InvalidParameterException):
        rules.parse_command(command)


def test_the_only_container_needs_no_name() -> None:
    t = task()
    assert rules.choose_container(t, None).name == "app"


def test_a_task_with_several_containers_needs_the_name() -> None:
    t = task(container("web"), container("sidecar"))
    assert rules.choose_container(t, "sidecar").name == "sidecar"
    with pytest.raises(InvalidParameterException, match="more than one container"):
        rules.choose_container(t, None)
    with pytest.raises(InvalidParameterException, match="container db does not exist"):
        rules.choose_container(t, "db")


def test_a_running_container_of_an_enabled_task_can_exec() -> None:
    t = task()
    rules.check_target(t, t.containers[0], agent_connected=True)


def test_a_task_run_without_enable_execute_command_is_refused_in_ecs_words() -> None:
    c = container(lastStatus="none")
    with pytest.raises(InvalidParameterException) as err:
        rules.check_target(task(c, enabled=False), c, agent_connected=True)
    assert err.value.message == rules.NOT_ENABLED


@pytest.mark.parametrize("status", ["PENDING", "STOPPED"])
def test_a_container_that_does_not_run_is_not_connected(status: str) -> None:
    c = container(status=status, lastStatus="PENDING" if status == "PENDING" else "STOPPED")
    with pytest.raises(TargetNotConnectedException, match=f"is {status}, not RUNNING"):
        rules.check_target(task(c), c, agent_connected=True)


def test_a_running_container_whose_exec_agent_is_not_running_is_refused() -> None:
    c = container(lastStatus="PENDING")
    with pytest.raises(InvalidParameterException, match="agent isn’t running"):  # noqa: RUF001
        rules.check_target(task(c), c, agent_connected=True)


def test_a_host_whose_agent_is_gone_is_not_connected() -> None:
    t = task()
    with pytest.raises(TargetNotConnectedException, match="not connected"):
        rules.check_target(t, t.containers[0], agent_connected=False)


def cluster(**exec_cfg: Any) -> Cluster:
    config = {"executeCommandConfiguration": exec_cfg} if exec_cfg else None
    return Cluster(
        arn="arn:aws:ecs:us-east-1:000000000000:cluster/c", name="c", configuration=config
    )


def test_sessions_go_to_portside_default_group_unless_the_cluster_names_one() -> None:
    assert rules.log_destination(cluster()) == rules.LogDestination(
        "/aws/ecs/execute-command/c", create_group=True, record_output=True
    )
    override = cluster(logging="OVERRIDE", logConfiguration={"cloudWatchLogGroupName": "/audit"})
    assert rules.log_destination(override) == rules.LogDestination(
        "/audit", create_group=False, record_output=True
    )


def test_logging_none_keeps_the_audit_lines_but_not_the_output() -> None:
    dest = rules.log_destination(cluster(logging="NONE"))
    assert (dest.group, dest.record_output) == ("/aws/ecs/execute-command/c", False)

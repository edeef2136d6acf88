"""UpdateContainerAgent through boto3 and the AWS CLI v2 against a real server: ECS's
agentUpdateStatus (PENDING ... UPDATED, FAILED) and its errors (NoUpdateAvailableException,
MissingVersionException, UpdateInProgressException), and an agent that updates itself:
it sees PENDING in its sync, finds a newer Portside installed, restarts (here: registers
again, as the re-executed agent does) and comes back UPDATED; one with nothing newer installed
reports FAILED.

An agent "older" than the installed Portside is made by having it register an older version
(registration's __version__, which the agent also reads as the version it runs)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, SECRET_KEY, ServerProcess
from test_services_sim import wait_until

from portside import __version__
from portside.agent import registration
from portside.testing.agent import start_simulated_agent

RESOURCES = [
    {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
    {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048},
]


def _error(call: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    return dict(err.value.response["Error"])


def _register(ecs: Any, cluster: str, version: str | None, arn: str | None = None) -> str:
    params: dict[str, Any] = {"cluster": cluster, "totalResources": RESOURCES}
    if version is not None:
        params["versionInfo"] = {"agentVersion": version, "agentHash": "x", "dockerVersion": "y"}
    if arn is not None:
        params["containerInstanceArn"] = arn
    out = ecs.register_container_instance(**params)
    return str(out["containerInstance"]["containerInstanceArn"])


def _status(ecs: Any, cluster: str, arn: str) -> str | None:
    (inst,) = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"
    ]
    return inst.get("agentUpdateStatus")


def test_update_states_and_errors(server: ServerProcess, ecs: Any, name: str) -> None:
    ecs.create_cluster(clusterName=name)
    old = _register(ecs, name, "0.0.1")
    out = ecs.update_container_agent(cluster=name, containerInstance=old)["containerInstance"]
    assert out["agentUpdateStatus"] == "PENDING"
    assert _status(ecs, name, old) == "PENDING"
    busy = _error(ecs.update_container_agent, cluster=name, containerInstance=old)
    assert busy["Code"] == "UpdateInProgressException"
    proc = server.aws(
        "ecs", "update-container-agent", "--cluster", name, "--container-instance", old,
        v2=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "UpdateInProgressException" in proc.stderr

    # The agent comes back running the new version: UPDATED, and nothing newer is left.
    _register(ecs, name, __version__, arn=old)
    assert _status(ecs, name, old) == "UPDATED"
    current = _error(ecs.update_container_agent, cluster=name, containerInstance=old)
    assert current["Code"] == "NoUpdateAvailableException"
    proc = server.aws(
        "ecs", "update-container-agent", "--cluster", name, "--container-instance",
        old.rsplit("/", 1)[1], v2=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "NoUpdateAvailableException" in proc.stderr

    unknown = _register(ecs, name, None)
    missing = _error(ecs.update_container_agent, cluster=name, containerInstance=unknown)
    assert missing["Code"] == "MissingVersionException"
    nowhere = _error(ecs.update_container_agent, cluster=f"no-{name}", containerInstance=old)
    assert nowhere["Code"] == "ClusterNotFoundException"
    ghost = _error(ecs.update_container_agent, cluster=name, containerInstance=uuid.uuid4().hex)
    assert ghost["Code"] == "InvalidParameterException"

    # The CLI v2 asks like any caller.
    older = _register(ecs, name, "0.0.2")
    cli = server.aws(
        "ecs", "update-container-agent", "--cluster", name, "--container-instance", older,
        v2=True,
    )  # fmt: skip
    assert cli["containerInstance"]["agentUpdateStatus"] == "PENDING"


def test_an_agent_updates_itself_or_says_why_not(
    server: ServerProcess, ecs: Any, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs.create_cluster(clusterName=name)
    monkeypatch.setattr(registration, "__version__", "0.0.1")
    agent = start_simulated_agent(
        server.endpoint, ACCESS_KEY, SECRET_KEY, tmp_path / "a", name, poll_wait=1.0
    )
    stuck = start_simulated_agent(
        server.endpoint, ACCESS_KEY, SECRET_KEY, tmp_path / "b", name, poll_wait=1.0
    )
    try:

        def restart() -> None:  # what `portside agent`'s re-exec comes to: the new version
            monkeypatch.setattr(registration, "__version__", __version__)
            agent.register()

        agent.self_update.restart = restart
        ecs.update_container_agent(cluster=name, containerInstance=agent.instance_arn)
        wait_until(
            lambda: _status(ecs, name, agent.instance_arn) == "UPDATED", 20, "the agent updated"
        )
        (inst,) = ecs.describe_container_instances(
            cluster=name, containerInstances=[agent.instance_arn]
        )["containerInstances"]
        assert inst["versionInfo"]["agentVersion"] == __version__
        assert inst["agentConnected"] is True

        # Nothing newer on its host (it runs what is installed): FAILED.
        monkeypatch.setattr(registration, "__version__", "0.0.1")
        monkeypatch.setattr("portside.agent.self_update.installed_version", lambda: "0.0.1")
        ecs.update_container_agent(cluster=name, containerInstance=stuck.instance_arn)
        wait_until(
            lambda: _status(ecs, name, stuck.instance_arn) == "FAILED", 20, "the update failed"
        )
        # A failed update may be asked again.
        again = ecs.update_container_agent(cluster=name, containerInstance=stuck.instance_arn)
        assert again["containerInstance"]["agentUpdateStatus"] == "PENDING"
    finally:
        agent.stop()
        stuck.stop()

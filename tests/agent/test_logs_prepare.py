"""awslogs before a container starts: the stream is made (the group too with
awslogs-create-group), a missing group fails the start with ECS's reason, a control plane
that does not answer is retried for a while."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from portside.agent.client import ApiError
from portside.agent.driver import DriverError
from portside.agent.log_lines import Event
from portside.agent.logs import LogShipper
from portside.agent.runner import ContainerRun, TaskRun
from portside.testing.agent import agent_task

TASK = "arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef"
MISSING = "The specified log group does not exist."


class FakeApi:
    def __init__(self, fail: list[Exception] | None = None) -> None:
        self.fail = list(fail or [])
        self.prepared: list[tuple[str, str, bool]] = []

    def logs_prepare(
        self, group: str, stream: str, create: bool, task_arn: str | None = None
    ) -> None:
        if self.fail:
            raise self.fail.pop(0)
        assert task_arn == TASK  # the gateway checks a Fargate task's execution role
        self.prepared.append((group, stream, create))

    def logs_put(self, group: str, stream: str, first: int, events: list[Event]) -> int:
        return first + len(events)


def run_of(options: dict[str, str] | None, launch: str = "EC2") -> tuple[TaskRun, ContainerRun]:
    definition: dict[str, Any] = {"name": "web"}
    if options is not None:
        definition["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    c = ContainerRun("web", definition, "token", runtime_id="c" * 64, state="created")
    run = TaskRun(TASK, agent_task(TASK, launch_type=launch), {"web": c})
    return run, c


def shipper(api: FakeApi, tmp_path: Path, timeout: float = 5.0) -> LogShipper:
    return LogShipper(api, docker=None, root=tmp_path, prepare_timeout=timeout)


def test_the_stream_is_made_before_the_start(tmp_path: Path) -> None:
    api = FakeApi()
    run, c = run_of(
        {"awslogs-group": "/g", "awslogs-create-group": "true", "awslogs-stream-prefix": "p"}
    )
    shipper(api, tmp_path).prepare(run, c)
    assert api.prepared == [("/g", "p/web/0123456789abcdef", True)]
    run, c = run_of({"awslogs-group": "/g"})
    shipper(api, tmp_path).prepare(run, c)
    assert api.prepared[-1] == ("/g", "c" * 64, False)


def test_other_drivers_need_nothing(tmp_path: Path) -> None:
    api = FakeApi()
    run, c = run_of(None)
    shipper(api, tmp_path).prepare(run, c)
    assert api.prepared == []


@pytest.mark.parametrize(
    ("launch", "reason"),
    [
        (
            "EC2",
            "CannotStartContainerError: Error response from daemon: failed to initialize "
            "logging driver: failed to create Cloudwatch log stream: "
            f"ResourceNotFoundException: {MISSING}",
        ),
        (
            "FARGATE",
            "ResourceInitializationError: failed to validate logger args: create stream has "
            "been retried 1 times: failed to create Cloudwatch log stream: "
            f"ResourceNotFoundException: {MISSING} : exit status 1",
        ),
    ],
)
def test_a_missing_group_fails_the_start(tmp_path: Path, launch: str, reason: str) -> None:
    api = FakeApi([ApiError(400, "ResourceNotFoundException", MISSING)])
    run, c = run_of({"awslogs-group": "/nope"}, launch)
    with pytest.raises(DriverError) as err:
        shipper(api, tmp_path).prepare(run, c)
    assert err.value.reason == reason


def test_bad_options_fail_the_start_with_dockers_words(tmp_path: Path) -> None:
    run, c = run_of({"awslogs-group": "/g", "awslogs-create-group": "maybe"})
    with pytest.raises(DriverError, match='parsing "maybe": invalid syntax'):
        shipper(FakeApi(), tmp_path).prepare(run, c)


def test_an_unreachable_control_plane_is_retried_then_fails(tmp_path: Path) -> None:
    down = httpx.ConnectError("connection refused")
    api = FakeApi([down, ApiError(503, "ServerException", "busy")])
    run, c = run_of({"awslogs-group": "/g"})
    shipper(api, tmp_path).prepare(run, c)  # the third try gets through
    assert api.prepared == [("/g", "c" * 64, False)]

    api = FakeApi([down] * 100)
    with pytest.raises(DriverError, match="connection refused"):
        shipper(api, tmp_path, timeout=0.3).prepare(run, c)

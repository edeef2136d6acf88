"""A Docker Engine that stops answering (agent/outage.py): the worker's refreshes fail every
sweep for as long as it is down, and the log says so once, as a WARNING without a
traceback; it says so again (INFO) when the Engine answers. What the agent could not do
meanwhile is done then: the task is neither failed nor forgotten, a stop is sent again.

The Engine is a fake behind the real DockerDriver: the calls a running task makes, and a
switch that makes each fail as a stopped Engine's socket does."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest
import requests

from portside.agent.docker.driver import DockerDriver
from portside.agent.driver import TaskResources
from portside.agent.outage import Outage
from portside.agent.runner import TaskRun
from portside.agent.specs import new_run
from portside.agent.worker import SWEEP_EVERY, Worker
from portside.testing.agent import INSTANCE_ARN, InlineExecutor, ManualExecutor, agent_task, pools

DEFINITION = {"containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]}
RUNTIME_ID = "c" * 64
REFUSED = "('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))"


class FakeEngine:
    """docker-py's APIClient, the part of it a running task's refreshes, stop and teardown
    call."""

    def __init__(self) -> None:
        self.down = False
        self.failing: set[str] = set()  # calls that fail as if the Engine were down
        self.status = "running"
        self.calls = 0

    def _answer(self, call: str) -> None:
        self.calls += 1
        if self.down or call in self.failing:
            raise requests.ConnectionError(REFUSED)

    def inspect_container(self, runtime_id: str) -> dict[str, Any]:
        self._answer("inspect_container")
        state = {"Status": self.status, "ExitCode": 143 if self.status == "exited" else 0}
        return {"Id": runtime_id, "Image": "sha256:" + "b" * 64, "State": state}

    def inspect_image(self, image: str) -> dict[str, Any]:
        self._answer("inspect_image")
        return {"Id": image}

    def stop(self, runtime_id: str, timeout: int) -> None:
        self._answer("stop")
        self.status = "exited"

    def remove_container(self, name: str, **_: Any) -> None:
        self._answer("remove_container")
        raise docker.errors.NotFound(f"No such container: {name}")  # no pause container

    def volumes(self, filters: dict[str, str]) -> list[Any]:
        self._answer("volumes")
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Host:
    """A worker on the fake Engine, running one task it re-adopted."""

    def __init__(self, stops: InlineExecutor | ManualExecutor) -> None:
        self.engine = FakeEngine()
        self.clock = Clock()
        client = SimpleNamespace(api=self.engine, volumes=SimpleNamespace(list=self.engine.volumes))
        self.driver = DockerDriver(client)
        self.driver.outage = Outage("the Docker Engine", clock=self.clock)
        self.reported: list[str] = []
        self.worker = Worker(
            self.driver,
            instance_arn=INSTANCE_ARN,
            cluster="web",
            report=lambda run: self.reported.append(run.status),
            env_for=lambda run, c: {},
            clock=self.clock,
            pools=pools(InlineExecutor(), stops),
        )
        self.run: TaskRun = new_run(
            agent_task(definition=DEFINITION, last_status="RUNNING"), lambda: "token"
        )
        self.run.status = "RUNNING"
        self.run.resources = TaskResources(network_mode="host", gateway="127.0.0.1")
        app = self.run.containers["app"]
        app.runtime_id, app.state, app.started_at = RUNTIME_ID, "running", self.clock.now
        self.worker.adopt(self.run)

    def sweeps(self, count: int) -> None:
        """`count` of the worker's periodic refreshes of the task."""
        for _ in range(count):
            self.clock.now += SWEEP_EVERY
            calls = self.engine.calls
            self.worker.tick()
            assert self.engine.calls > calls, "the sweep did not ask the Engine"


def outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO]


def test_an_outage_is_one_warning_then_one_info(caplog: pytest.LogCaptureFixture) -> None:
    host = Host(InlineExecutor())
    caplog.set_level(logging.DEBUG, logger="portside")
    host.engine.down = True
    host.sweeps(6)
    warning, *rest = outage_records(caplog)
    assert rest == []
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        f"the Docker Engine does not answer (inspect: {REFUSED}); retrying until it does"
    )
    assert not any(r.exc_info for r in caplog.records)
    assert host.run.status == "RUNNING"
    assert host.run.containers["app"].state == "running"  # not taken for gone

    host.engine.down = False
    host.sweeps(1)
    warning, back = outage_records(caplog)
    assert (back.levelno, back.getMessage()) == (
        logging.INFO,
        "the Docker Engine answers again after 60 s",
    )
    host.sweeps(2)
    assert len(outage_records(caplog)) == 2


def test_a_long_outage_is_recalled_in_one_line_now_and_then(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = Host(InlineExecutor())
    caplog.set_level(logging.DEBUG, logger="portside")
    host.engine.down = True
    host.sweeps(int(host.driver.outage.remind_every / SWEEP_EVERY) * 2 + 1)
    _first, *reminders = outage_records(caplog)
    assert [r.getMessage() for r in reminders] == [
        "the Docker Engine still does not answer after 5 min; retrying",
        "the Docker Engine still does not answer after 10 min; retrying",
    ]
    assert all(r.levelno == logging.WARNING for r in outage_records(caplog))
    assert not any(r.exc_info for r in caplog.records)


def test_a_stop_the_engine_did_not_get_is_sent_again_once_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stops = ManualExecutor()
    host = Host(stops)
    caplog.set_level(logging.DEBUG, logger="portside")
    host.engine.down = True
    host.worker.desired(
        agent_task(
            definition=DEFINITION, last_status="RUNNING", desired_status="STOPPED", version=2
        ),
        lambda: "token",
    )
    stops.run_all()  # the stop fails: the Engine does not answer
    assert host.engine.status == "running"
    host.sweeps(3)
    assert host.run.status != "STOPPED"

    host.engine.down = False
    host.sweeps(1)  # the refresh finds the container running, and the stop goes again
    stops.run_all()
    assert host.engine.status == "exited"
    assert host.run.status == "STOPPED"
    assert host.reported[-1] == "STOPPED"
    assert [r.levelname for r in outage_records(caplog)] == ["WARNING", "INFO"]
    assert not any(r.exc_info for r in caplog.records)


def test_a_step_put_off_is_tried_again_until_it_goes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The container exits and the Engine stops answering as the agent tears the task down:
    # with no container running, no sweep would ever look at the task again.
    host = Host(InlineExecutor())
    caplog.set_level(logging.DEBUG, logger="portside")
    host.engine.status = "exited"
    host.engine.failing = {"remove_container"}
    host.worker.event(RUNTIME_ID)
    assert host.run.containers["app"].state == "exited"
    assert not host.run.torn_down
    host.sweeps(3)  # each tries the teardown again
    assert not host.run.torn_down

    host.engine.failing = set()
    host.sweeps(1)
    assert host.run.torn_down
    assert host.run.status == "STOPPED"
    assert [r.levelname for r in outage_records(caplog)] == ["WARNING", "INFO"]
    assert "(teardown_task: " in outage_records(caplog)[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)

"""The worker's periodic sweep and what it writes down: only live runs the driver has not been
asked about for a while are refreshed, and a run is written to the state directory only when
something a restarted agent needs changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from portside.agent.driver import ContainerState
from portside.agent.runner import TaskRun
from portside.agent.simulated import SimulatedDriver
from portside.agent.state import AgentState
from portside.agent.worker import Worker
from portside.testing import FakeClock
from portside.testing.agent import InlineExecutor, agent_task, pools

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/web"
INSTANCE = "arn:aws:ecs:us-east-1:000000000000:container-instance/web/1"
DEFINITION = {
    "family": "web",
    "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}],
}


class Counting(SimulatedDriver):
    """The simulated driver, counting inspections; `reliable` says whether it claims its
    events are exact (a Docker-like driver does not)."""

    def __init__(self, reliable: bool, clock: Callable[[], float], durable: bool = True) -> None:
        super().__init__(clock=clock)
        self.reliable_events = reliable
        self.containers_outlive_agent = durable
        self.inspected = 0

    def inspect(self, runtime_id: str) -> ContainerState:
        self.inspected += 1
        return super().inspect(runtime_id)


Clock = FakeClock


def make(
    tmp_path: Path, reliable: bool, durable: bool = True
) -> tuple[Worker, Counting, Clock, list[Path]]:
    clock = Clock()
    driver = Counting(reliable, clock, durable)
    state = AgentState(tmp_path / "state")
    writes: list[Path] = []
    original = state._write

    def counted(path: Path, data: Any) -> None:
        writes.append(path)
        original(path, data)

    state._write = counted  # type: ignore[method-assign]
    worker = Worker(
        driver,
        instance_arn=INSTANCE,
        cluster=CLUSTER,
        report=lambda run: None,
        env_for=lambda run, c: {},
        persist=state.save_run,
        forget=state.forget,
        clock=clock,
        pools=pools(InlineExecutor()),
    )
    return worker, driver, clock, writes


def run_task(worker: Worker, n: int) -> str:
    arn = f"arn:aws:ecs:us-east-1:000000000000:task/web/{n:032x}"
    worker.desired(agent_task(arn, cluster_arn=CLUSTER, definition=DEFINITION), lambda: "token")
    return arn


def test_a_reliable_driver_gets_no_sweep(tmp_path: Path) -> None:
    worker, driver, clock, _ = make(tmp_path, reliable=True)
    arns = [run_task(worker, n) for n in range(3)]
    assert all(worker.runs[a].status == "RUNNING" for a in arns)
    before = driver.inspected
    for _ in range(5):
        clock.now += 60
        worker.tick()
    assert driver.inspected == before


def test_the_sweep_refreshes_each_live_run_once_per_period(tmp_path: Path) -> None:
    worker, driver, clock, _ = make(tmp_path, reliable=False)
    assert worker.sweep_every == 10.0
    live = [run_task(worker, n) for n in range(3)]
    before = driver.inspected
    clock.now += 1
    worker.tick()  # refreshed a moment ago (at start): nothing to do
    assert driver.inspected == before
    clock.now += 10
    worker.tick()
    assert driver.inspected == before + 3
    worker.tick()  # within the period again
    assert driver.inspected == before + 3
    # A container that exited without an event is noticed by the next sweep.
    runtime_id = worker.runs[live[0]].containers["app"].runtime_id
    assert runtime_id is not None
    driver.exit(runtime_id, 3)
    clock.now += 10
    worker.tick()
    assert worker.runs[live[0]].status == "STOPPED"
    assert worker.runs[live[0]].containers["app"].exit_code == 3
    # A stopped run is not refreshed any more.
    settled = driver.inspected
    clock.now += 10
    worker.tick()
    assert driver.inspected == settled + 2


def test_only_restart_relevant_changes_are_written(tmp_path: Path) -> None:
    worker, driver, _, writes = make(tmp_path, reliable=True)
    arn = run_task(worker, 1)
    run = worker.runs[arn]
    assert run.status == "RUNNING"
    # Written once, when its container was made (a container to re-adopt), not once per
    # step (setup, pull, create, start, status).
    assert len(writes) == 1
    worker.schedule(arn, refresh=True)  # nothing changed
    assert len(writes) == 1
    runtime_id = run.containers["app"].runtime_id
    assert runtime_id is not None
    driver.exit(runtime_id, 0)
    worker.event(runtime_id)
    assert run.status == "STOPPED"
    assert len(writes) > 1
    # What was written is enough for a restarted agent to know the run and how it ended.
    (restored,) = AgentState(tmp_path / "state").runs()
    assert isinstance(restored, TaskRun)
    assert restored.status == "STOPPED"
    assert restored.containers["app"].runtime_id == runtime_id
    assert restored.containers["app"].exit_code == 0


def test_a_restored_run_is_not_written_again_until_it_changes(tmp_path: Path) -> None:
    worker, _, _, _ = make(tmp_path, reliable=True)
    run_task(worker, 1)
    state = AgentState(tmp_path / "state")
    writes: list[Path] = []
    state._write = lambda path, data: writes.append(path)  # type: ignore[method-assign]
    (run,) = state.runs()
    state.save_run(run)
    assert writes == []
    run.stop_code = "EssentialContainerExited"
    state.save_run(run)
    assert len(writes) == 1


def test_runs_of_containers_that_die_with_the_agent_are_not_written(tmp_path: Path) -> None:
    worker, driver, _, writes = make(tmp_path, reliable=True, durable=False)
    arn = run_task(worker, 1)
    runtime_id = worker.runs[arn].containers["app"].runtime_id
    assert runtime_id is not None
    driver.exit(runtime_id, 0)
    worker.event(runtime_id)
    assert worker.runs[arn].status == "STOPPED"
    assert writes == []
    assert SimulatedDriver.containers_outlive_agent is False

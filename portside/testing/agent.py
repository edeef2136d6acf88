"""Agents for tests and benchmarks: the task message an agent is given, executors that let a
test step a worker itself, and an in-process agent on the simulated driver.

    task = agent_task(definition={"containerDefinitions": [{"name": "app", ...}]})
    worker.desired(task, lambda: "token")

    agent = start_simulated_agent(endpoint, key, secret, tmp / "agent", "c1", zone="us-east-1a")
    ...
    agent.stop()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from portside.agent.factory import make_agent
from portside.agent.session import Agent, AgentConfig
from portside.agent.simulated import SimulatedDriver
from portside.credentials import Credentials
from portside.gateway.protocol import AgentTask
from portside.testing.world import ACCOUNT, REGION

CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/web"
INSTANCE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/web/1"
DEFINITION_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"


def agent_task(
    arn: str = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/web/{'a' * 32}",
    *,
    definition: Mapping[str, Any] | None = None,
    last_status: str = "PENDING",
    desired_status: str = "RUNNING",
    version: int = 1,
    cluster_arn: str = CLUSTER_ARN,
    instance_arn: str = INSTANCE_ARN,
    task_definition_arn: str = DEFINITION_ARN,
    **fields: Any,
) -> AgentTask:
    """A task as the gateway sends it to an agent; `fields` sets any other AgentTask member
    (launch_type, cpu, overrides...)."""
    return AgentTask(
        arn=arn,
        cluster_arn=cluster_arn,
        task_definition_arn=task_definition_arn,
        instance_arn=instance_arn,
        last_status=last_status,
        desired_status=desired_status,
        version=version,
        definition=definition if definition is not None else {},
        **fields,
    )


class InlineExecutor:
    """Runs what it is given at once, so a test steps a worker itself."""

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        fn(*args)

    def shutdown(self, **_: Any) -> None:
        pass


class ManualExecutor:
    """Keeps what it is given until the test runs it: the test decides the interleaving."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        self.queue.append((fn, args))

    def run_all(self) -> None:
        while self.queue:
            fn, args = self.queue.pop(0)
            fn(*args)

    def shutdown(self, **_: Any) -> None:
        pass


def pools(
    steps: InlineExecutor | ManualExecutor, stops: InlineExecutor | ManualExecutor | None = None
) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """A Worker's (step pool, stop pool) made of test executors."""
    first = cast(ThreadPoolExecutor, steps)
    return first, cast(ThreadPoolExecutor, stops) if stops is not None else first


def start_simulated_agent(
    endpoint: str,
    access_key: str,
    secret_key: str,
    state_dir: Path,
    cluster: str,
    *,
    region: str = REGION,
    zone: str = "us-east-1a",
    zones: Sequence[str] = (),
    instances: int = 1,
    instance_type: str = "portside.local",
    attributes: Mapping[str, str] | None = None,
    cpu: int = 4096,
    memory: int = 16384,
    fargate: bool = False,
    driver: SimulatedDriver | None = None,
    poll_wait: float = 2.0,
    ready_timeout: float = 10.0,
) -> Agent:
    """An agent on the simulated driver (its own, so faults are injected per host),
    registered in `cluster` of the server at `endpoint`, once its first sync is done.
    `instances` > 1 makes it a fleet in one session, `zones` taken in turn. A stopped
    agent's poller finishes its long poll before it notices: `poll_wait` keeps that short."""
    agent = make_agent(
        endpoint=endpoint,
        credentials=Credentials(access_key, secret_key),
        state_dir=state_dir,
        driver=driver or SimulatedDriver(cpu=cpu, memory=memory),
        config=AgentConfig(
            cluster=cluster,
            region=region,
            zone=zone,
            zones=list(zones),
            instances=instances,
            instance_type=instance_type,
            attributes=dict(attributes or {}),
            fargate=fargate,
            poll_wait=poll_wait,
            metadata_port=0,
        ),
    )
    agent.start()
    if not agent.ready.wait(ready_timeout):
        agent.stop()
        raise TimeoutError("the agent did not complete its first sync")
    return agent

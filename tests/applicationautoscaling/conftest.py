from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess


@pytest.fixture
def aas(server: ServerProcess) -> Any:
    """boto3 Application Auto Scaling, every response held to the model."""
    return server.client("application-autoscaling")


@pytest.fixture
def cw(server: ServerProcess) -> Any:
    return server.client("cloudwatch")


def make_service(ecs: Any, cluster: str, service: str, count: int = 1) -> str:
    """An ECS service (no instances: its tasks are not placed; the count is what matters)."""
    ecs.create_cluster(clusterName=cluster)
    family = f"{service}-td"
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": "app", "image": "busybox", "memory": 64, "cpu": 128, "essential": True}
        ],
    )
    ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=family, desiredCount=count
    )
    return f"service/{cluster}/{service}"

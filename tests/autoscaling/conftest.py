from __future__ import annotations

from typing import Any

import pytest
from aws_query import query_client
from harness import ServerProcess


@pytest.fixture
def ec2(server: ServerProcess) -> Any:
    return query_client(server, "ec2")


@pytest.fixture
def asg(server: ServerProcess) -> Any:
    return query_client(server, "autoscaling")

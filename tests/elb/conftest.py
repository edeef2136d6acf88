from __future__ import annotations

from typing import Any

import pytest
from aws_query import query_client
from harness import ServerProcess


@pytest.fixture
def elb(server: ServerProcess) -> Any:
    return query_client(server, "elbv2")


@pytest.fixture
def acm(server: ServerProcess) -> Any:
    return server.client("acm")

"""Fixtures for the schedule tests: a checked boto3 `scheduler` client (schedules/client.py)."""

from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess
from schedules.client import scheduler_client


@pytest.fixture
def scheduler(server: ServerProcess) -> Any:
    return scheduler_client(server)

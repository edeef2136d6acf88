from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess


@pytest.fixture
def logs(server: ServerProcess) -> Any:
    return server.client("logs")


@pytest.fixture
def group(logs: Any, name: str) -> str:
    logs.create_log_group(logGroupName=name)
    return name

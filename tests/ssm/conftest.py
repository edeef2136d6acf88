from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess


@pytest.fixture
def ssm(server: ServerProcess) -> Any:
    return server.client("ssm")

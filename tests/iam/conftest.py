from __future__ import annotations

from typing import Any

import pytest
from aws_query import query_client
from harness import ServerProcess


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return query_client(server, "iam")

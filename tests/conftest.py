from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Every property test runs the same examples everywhere: CI must not find what a laptop
# did not (and the other way round). No example database, no deadline on a loaded machine.
settings.register_profile("portside", derandomize=True, database=None, deadline=None)
settings.load_profile("portside")

sys.path.insert(0, str(Path(__file__).parent))

from harness import ServerProcess  # noqa: E402  (after the sys.path line)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield proc
    proc.stop()


@pytest.fixture
def ecs(server: ServerProcess) -> Any:
    return server.client("ecs")


@pytest.fixture
def name() -> str:
    """A fresh name, so tests sharing one server never see each other's resources."""
    return "t" + uuid.uuid4().hex[:12]

from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess
from pushing import Pusher

from portside.registry.process import find_binary

needs_registry = pytest.mark.skipif(
    find_binary() is None,
    reason="no docker-registry on this host; run scripts/ensure-registry.sh",
)


@pytest.fixture
def ecr(server: ServerProcess) -> Any:
    return server.client("ecr")


@pytest.fixture
def repo(ecr: Any, name: str) -> str:
    """A fresh repository's name."""
    ecr.create_repository(repositoryName=name)
    return name


@pytest.fixture
def pusher(ecr: Any) -> Pusher:
    """Pushes images over the registry's HTTP API as a client logged in with ECR's password
    does (no Docker Engine needed)."""
    if find_binary() is None:
        pytest.skip("no docker-registry on this host; run scripts/ensure-registry.sh")
    return Pusher.login(ecr)

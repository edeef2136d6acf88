from __future__ import annotations

from typing import Any

import pytest
from harness import ServerProcess


@pytest.fixture
def kms(server: ServerProcess) -> Any:
    return server.client("kms")


@pytest.fixture
def key(kms: Any, name: str) -> dict[str, Any]:
    """A fresh customer managed key's metadata (described as `name`)."""
    return dict(kms.create_key(Description=name)["KeyMetadata"])

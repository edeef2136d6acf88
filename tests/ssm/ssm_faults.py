"""What an SSM call answers when it fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def fault(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    """(code, message) of the error `call(**params)` answers with."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    error = raised.value.response["Error"]
    return error["Code"], error.get("Message", "")

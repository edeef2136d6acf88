"""Helpers the logs tests share (imported as `logs.logcalls`; a conftest is no module to import
from: several directories have one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def now_ms() -> int:
    return int(time.time() * 1000)


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err.value.response["Error"]["Message"])

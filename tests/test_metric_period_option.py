"""`--metric-period` / PORTSIDE_METRIC_PERIOD: AWS's 60 by default, a period CloudWatch can
read (1, 5, 10, 30 or a multiple of 60) when shortened for tests and demos. (That it
reaches the server's loops: tests/controllers/test_ecs_metrics_api.py publishes each second.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portside.cli import server as server_command
from portside.config import ServerConfig


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def serve(config: ServerConfig, log_level: str, **hooks: Any) -> None:
        found["config"] = config

    monkeypatch.setattr(server_command, "serve", serve)
    monkeypatch.delenv("PORTSIDE_METRIC_PERIOD", raising=False)
    return found


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    argv = ["--data-dir", str(tmp_path), *args]
    return CliRunner().invoke(server_command.server, argv, env=env)


def test_default_env_and_flag(tmp_path: Path, seen: dict[str, Any]) -> None:
    assert _run(tmp_path).exit_code == 0
    assert seen["config"].metric_period == 60
    assert _run(tmp_path, env={"PORTSIDE_METRIC_PERIOD": "5"}).exit_code == 0
    assert seen["config"].metric_period == 5
    assert _run(tmp_path, "--metric-period", "120").exit_code == 0
    assert seen["config"].metric_period == 120


@pytest.mark.parametrize("value", ["0", "7", "90", "-60"])
def test_periods_cloudwatch_cannot_read_are_refused(
    tmp_path: Path, seen: dict[str, Any], value: str
) -> None:
    result = _run(tmp_path, "--metric-period", value)
    assert result.exit_code == 2
    assert "must be 1, 5, 10, 30 or a multiple of 60" in result.output
    assert "config" not in seen

from __future__ import annotations

import logging
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
from logcheck import LOGS, InProcessLog  # noqa: E402

# tests/skips.py: the list of skips (under CI=true, failures); tests/pg_fixtures.py: PostgreSQL;
# tests/ordering.py: the longest files first
pytest_plugins = ["skips", "pg_fixtures", "ordering"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_log(*patterns): log entries (errors, tracebacks) of the servers and agents "
        "the test runs that it provokes on purpose (regexes searched in the entry)",
    )


class ServerLogs:
    """What a test lets its servers' and agents' logs hold: see tests/logcheck.py."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = patterns

    def allow(self, *patterns: str) -> None:
        self.patterns.extend(patterns)


@pytest.fixture(autouse=True)
def server_logs(request: pytest.FixtureRequest) -> Iterator[ServerLogs]:
    """After each test (and the fixtures it started), no log of a process the tests run
    holds a traceback or an ERROR line the test did not allow."""
    allowed = ServerLogs([p for m in request.node.iter_markers("allow_log") for p in m.args])
    yield allowed
    found = LOGS.check(allowed.patterns)
    if found:
        pytest.fail("unexpected errors in the logs:\n\n" + "\n\n".join(found), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def in_process_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The log of the agents run inside the test process (logcheck.InProcessLog), checked
    after each test with the logs of the processes."""
    handler = InProcessLog(tmp_path_factory.mktemp("in-process") / "agents.log")
    LOGS.watch(handler.path)
    logger = logging.getLogger("portside.agent")
    logger.addHandler(handler)
    try:
        yield handler.path
    finally:
        logger.removeHandler(handler)
        handler.close()
    found = LOGS.check([])  # what agents stopped after the last test wrote
    if found:
        pytest.fail("unexpected errors in the logs:\n\n" + "\n\n".join(found), pytrace=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield proc
    proc.close()
    found = LOGS.check([])  # what it wrote after the last test, stopping included
    if found:
        pytest.fail("unexpected errors in the logs:\n\n" + "\n\n".join(found), pytrace=False)


@pytest.fixture
def ecs(server: ServerProcess) -> Any:
    return server.client("ecs")


@pytest.fixture
def name() -> str:
    """A fresh name, so tests sharing one server never see each other's resources."""
    return "t" + uuid.uuid4().hex[:12]

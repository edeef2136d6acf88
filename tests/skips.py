"""Skips, listed at the end of every run; under CI=true (as .ci/run sets it), failures.

Every skip in this suite means the host lacks something a test needs (a Docker Engine, a
tool, a kernel feature): on a developer's laptop that is a note, in CI a hole in what was
tested, so there it fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SKIPPED = pytest.StashKey[list[tuple[str, str]]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    item.config.stash.setdefault(SKIPPED, []).append((item.nodeid, reason))
    if STRICT:
        report.outcome = "failed"
        report.longrepr = f"skipped, which CI=true does not allow: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped:  # pytest.skip(allow_module_level=True)
        reason = _reason(report.longrepr)
        collector.config.stash.setdefault(SKIPPED, []).append((report.nodeid, reason))
        if STRICT:
            report.outcome = "failed"
            report.longrepr = f"skipped, which CI=true does not allow: {reason}"


def _reason(longrepr: object) -> str:
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    skipped = config.stash.get(SKIPPED, [])
    if skipped:
        title = "skips (failures: CI=true)" if STRICT else "skips (failures under CI=true)"
        terminalreporter.section(title)
        for nodeid, reason in skipped:
            terminalreporter.line(f"{nodeid}: {reason}")

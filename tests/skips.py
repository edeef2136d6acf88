"""Skips, listed at the end of every run; under CI=true (as .ci/run sets it), failures.

Every skip in this suite means the host lacks something a test needs (a Docker Engine, a
tool, a kernel feature): on a developer's laptop that is a note, in CI a hole in what was
tested, so there it fails the run.

The list is made from the reports as they are logged, not where the tests run: under
pytest-xdist (`make test` runs two workers) the workers turn skips into failures and the
controller, which prints the summary, sees only their reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REFUSED = "skipped, which CI=true does not allow: "


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = REFUSED + _reason(report.longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped:  # pytest.skip(allow_module_level=True)
        report.outcome = "failed"
        report.longrepr = REFUSED + _reason(report.longrepr)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipList(), "portside-skip-list")


class SkipList:
    """The skips (or skips made failures) of the run, from the logged reports."""

    def __init__(self) -> None:
        self.skips: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        longrepr = report.longrepr
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skips.append((report.nodeid, _reason(longrepr)))
        elif report.failed and isinstance(longrepr, str) and longrepr.startswith(REFUSED):
            self.skips.append((report.nodeid, longrepr.removeprefix(REFUSED)))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.skips:
            title = "skips (failures: CI=true)" if STRICT else "skips (failures under CI=true)"
            terminalreporter.section(title)
            for nodeid, reason in sorted(self.skips):  # the same order however the run was split
                terminalreporter.line(f"{nodeid}: {reason}")


def _reason(longrepr: object) -> str:
    # (path, line, message); a list once it has come from an xdist worker
    text = str(longrepr[2]) if isinstance(longrepr, tuple | list) else str(longrepr)
    return text.removeprefix("Skipped: ")

"""tests/conftest.py: under CI=true a skip (the host lacks a Docker Engine, a tool, a kernel
feature) fails the run; either way the skips are listed at the end, run by one process or by
pytest-xdist's workers (as `make test` runs the suite)."""

from __future__ import annotations

import pytest
import suite_files

pytest_plugins = ["pytester"]

TESTS = """
import pytest

def test_runs():
    pass

def test_needs_docker():
    pytest.skip("no Docker Engine answers")

@pytest.mark.skipif(True, reason="busybox-static missing")
def test_needs_a_tool():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    suite_files.copy_into(pytester.path)
    pytester.makepyfile(test_skips=TESTS)
    return pytester


# One process, and two xdist workers (as `make test` runs): there the controller prints the
# list from the workers' reports.
XDIST = ("-n", "2")


@pytest.mark.parametrize(
    ("ci", "workers"), [("", ()), ("false", ()), ("", XDIST)], ids=["unset", "false", "xdist"]
)
def test_skips_are_listed(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, workers: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CI", ci)
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*skips (failures under CI=true)*",
            "test_skips.py::test_needs_a_tool: busybox-static missing",
            "test_skips.py::test_needs_docker: no Docker Engine answers",
        ]
    )


@pytest.mark.parametrize("workers", [(), XDIST], ids=["serial", "xdist"])
def test_under_ci_a_skip_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=1, failed=1, errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*skipped, which CI=true does not allow: no Docker Engine answers*",
            "*skips (failures: CI=true)*",
            "test_skips.py::test_needs_a_tool: busybox-static missing",
            "test_skips.py::test_needs_docker: no Docker Engine answers",
        ]
    )

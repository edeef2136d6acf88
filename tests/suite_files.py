"""The support files a pytester suite needs to run under the project's own conftest (the
tests of the test run itself: test_ci_strict.py, test_logcheck.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
FILES = ("conftest.py", "harness.py", "logcheck.py", "skips.py", "pg_fixtures.py", "ordering.py")


def copy_into(directory: Path) -> None:
    for name in FILES:
        shutil.copy(HERE / name, directory / name)

"""The order test files are handed to pytest-xdist's workers: the longest first.

With `--dist loadfile` a file is one unit of work, and a worker takes the next unit when it is
done. pytest-xdist's default order (most tests first) put the one-test Terraform files, which
sleep 70-155 s each in the provider's own waiters, last: on four workers the run then ended
with them alone. The Makefile passes `--no-loadscope-reorder`, and this puts them and the
end-to-end, chaos and replica files (15-80 s a test) in front of the rest, which keeps its
order. The Terraform files alternate with the others: all of them at once (each runs the
provider, a Go program, a dozen times) slowed each to 250-280 s on two cores.
"""

from __future__ import annotations

import pytest

LONG_DIRECTORIES = ("e2e", "chaos", "cluster")


def rank(path: str) -> int:
    """0 for a Terraform file, 1 for a file of a long-running directory, 2 for the rest."""
    parts = path.replace("\\", "/").split("/")
    if "terraform" in parts[-1]:
        return 0
    return 1 if any(d in parts[:-1] for d in LONG_DIRECTORIES) else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    files: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = files[rank(path)]
        if not group or group[-1] != path:
            group.append(path)
    order: list[str] = []
    terraform, long = files[0], files[1]
    for i in range(max(len(terraform), len(long))):
        order += terraform[i : i + 1] + long[i : i + 1]
    order += files[2]
    position = {path: i for i, path in enumerate(order)}
    items.sort(key=lambda item: position[item.nodeid.split("::", 1)[0]])  # stable in a file

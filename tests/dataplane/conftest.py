"""Fixtures for the data plane's end-to-end tests: a real HAProxy, upstreams, an echo server
(the helpers are haproxy_peers.py's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from haproxy_peers import HAPROXY, EchoServer, Upstream

from portside.dataplane.haproxy.process import HAProxy


@pytest.fixture
def haproxy_binary() -> str:
    if HAPROXY is None:  # under CI=true, tests/skips.py makes this skip a failure
        pytest.skip("haproxy is not installed (scripts/ensure-haproxy.sh installs it)")
    return HAPROXY


@pytest.fixture
def proxy(haproxy_binary: str, tmp_path: Path) -> Iterator[HAProxy]:
    hp = HAProxy(tmp_path / "haproxy", binary=haproxy_binary, poll=0.05)
    try:
        yield hp
    finally:
        hp.stop()


@pytest.fixture
def upstreams() -> Iterator[Callable[[str], Upstream]]:
    made: list[Upstream] = []

    def make(name: str) -> Upstream:
        up = Upstream(name)
        made.append(up)
        return up

    yield make
    for up in made:
        up.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.shutdown()
    server.server_close()

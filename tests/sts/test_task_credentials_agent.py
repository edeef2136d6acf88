"""The agent's side of task roles, without a server: a task's session is kept while fresh and
asked again once half its life (30 minutes at most) is left, a failed refresh serves the
session it has until that expires, a refusal is not kept; the ids survive a restart; the nat
rules an agent writes; the AWS_ENDPOINT_URL switch."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from portside.agent.credentials.cache import CredentialsCache, Refused
from portside.agent.credentials.endpoint import document
from portside.agent.credentials.ids import credentials_id, load_key
from portside.agent.credentials.routing import CredentialsRouting, render
from portside.agent.credentials.task_roles import task_endpoint_url
from portside.gateway.protocol.credentials import TaskCredentials
from portside.testing.clock import T0, FakeClock

TASK = "arn:aws:ecs:us-east-1:000000000000:task/c/" + "a" * 32
ROLE = "arn:aws:iam::000000000000:role/app"


class _Gateway:
    def __init__(self, clock: FakeClock, lifetime: float) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.asked = 0
        self.down = False
        self.refuse: str | None = None

    def __call__(self, task_arn: str) -> TaskCredentials:
        self.asked += 1
        if self.down:
            raise ConnectionError("control plane unreachable")
        if self.refuse is not None:
            return TaskCredentials(task_arn, ROLE, failure=self.refuse)
        return TaskCredentials(
            task_arn, ROLE, f"ASIA{self.asked:016d}", "s", "t", self.clock() + self.lifetime
        )


def test_sessions_are_refreshed_before_they_expire() -> None:
    clock = FakeClock()
    gateway = _Gateway(clock, 6 * 3600)
    cache = CredentialsCache(gateway, clock)
    first = cache.get(TASK)
    clock.advance(6 * 3600 - 1801)  # more than 30 minutes left: the same session
    assert cache.get(TASK) is first and gateway.asked == 1
    clock.advance(2)
    second = cache.get(TASK)
    assert second.access_key_id != first.access_key_id and gateway.asked == 2
    assert document(second)["Expiration"] == "2023-11-15T09:43:21Z"


def test_short_sessions_refresh_at_half_life_and_survive_an_outage() -> None:
    clock = FakeClock()
    gateway = _Gateway(clock, 900)
    cache = CredentialsCache(gateway, clock)
    first = cache.get(TASK)
    clock.advance(449)
    assert cache.get(TASK) is first
    clock.advance(2)
    gateway.down = True
    assert cache.get(TASK) is first  # refresh failed: the unexpired session still serves
    clock.now = T0 + 901
    with pytest.raises(ConnectionError):
        cache.get(TASK)
    gateway.down = False
    assert cache.get(TASK).expiration == clock() + 900


def test_a_refusal_is_not_kept() -> None:
    clock = FakeClock()
    gateway = _Gateway(clock, 900)
    gateway.refuse = "ECS was unable to assume the role"
    cache = CredentialsCache(gateway, clock)
    with pytest.raises(Refused):
        cache.get(TASK)
    with pytest.raises(Refused):
        cache.get(TASK)
    assert gateway.asked == 2


def test_ids_survive_a_restart(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    assert (tmp_path / "credentials.key").stat().st_mode & 0o777 == 0o600
    found = credentials_id(key, TASK)
    assert len(found) == 36 and found.count("-") == 4
    assert credentials_id(load_key(tmp_path), TASK) == found
    assert credentials_id(key, TASK + "x") != found


def test_nat_rules() -> None:
    text = render("abc", {"br-1": ("10.1.2.1", 51680), "docker0": ("172.17.0.1", 51680)}, 51680)
    assert text.splitlines() == [
        "*nat",
        ":PSCRED-abc - [0:0]",
        ":PSCREDL-abc - [0:0]",
        "-A PSCRED-abc -i br-1 -d 169.254.170.2/32 -p tcp -m tcp --dport 80 "
        "-j DNAT --to-destination 10.1.2.1:51680",
        "-A PSCRED-abc -i docker0 -d 169.254.170.2/32 -p tcp -m tcp --dport 80 "
        "-j DNAT --to-destination 172.17.0.1:51680",
        "-A PSCREDL-abc -d 169.254.170.2/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 51680",
        "COMMIT",
    ]


def test_routing_writes_once_per_bridge_and_says_why_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "br-1").mkdir()
    calls: list[list[str]] = []
    failing = {"restore": False}

    def run(argv: list[str], stdin: str | None = None) -> Any:
        calls.append(argv)
        if argv[0] == "ip":
            out = "9: br-1    inet 10.1.2.1/24 brd 10.1.2.255 scope global br-1\\ ...\n"
            return subprocess.CompletedProcess(argv, 0, out, "")
        if argv[0].endswith("-restore") and failing["restore"]:
            return subprocess.CompletedProcess(argv, 4, "", "Permission denied (you must be root)")
        return subprocess.CompletedProcess(argv, 0, "", "")

    routing = CredentialsRouting("abc", run=run, sys_net=tmp_path)
    assert routing.serve("10.1.2.1", 51680)
    count = len(calls)
    assert routing.serve("10.1.2.1", 51680)  # already routed: no command
    assert len(calls) == count
    failing["restore"] = True
    assert not routing.serve("127.0.0.1", 51680)
    assert routing.problem is not None and "Permission denied" in routing.problem


def test_endpoint_url_switch() -> None:
    assert task_endpoint_url({}) == "http://169.254.170.2"
    assert task_endpoint_url({"PORTSIDE_TASK_ENDPOINT_URL": "off"}) is None
    assert task_endpoint_url({"PORTSIDE_TASK_ENDPOINT_URL": ""}) is None
    url = "http://10.0.0.5:4810"
    assert task_endpoint_url({"PORTSIDE_TASK_ENDPOINT_URL": url}) == url

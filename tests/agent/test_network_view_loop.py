"""The agent's network view loop and the firewall's iptables calls, with the gateway and
iptables replaced by recording fakes: a view goes to every applier once per version, a
failing applier shows in the loop's status and the host's attribute and is retried until
it takes, and the firewall writes its chains in one iptables-restore, keeps its two jumps,
removes the chains of ENIs gone and never touches iptables on a host with no awsvpc task."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from portside.agent import network_view
from portside.agent.firewall.apply import (
    Firewall,
    FirewallError,
    dead_owners,
    ensure_bridge_netfilter,
    liveness_note,
)
from portside.agent.firewall.compile import eni_chain
from portside.agent.network_view import NetworkViewLoop, attribute_value
from portside.gateway.protocol.network import LocalEni, NetworkView


def eni(address: str) -> LocalEni:
    return LocalEni("arn:task/" + address, address, "subnet-1", "02:00", ("sg-1",))


def test_each_new_view_is_applied_and_a_failure_shows_until_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(network_view, "RETRY_FIRST", 0.01)
    views = [NetworkView.of([eni("10.0.1.4")], [], {}, {}, {})]
    views.append(NetworkView.of([eni("10.0.1.4"), eni("10.0.1.5")], [], {}, {}, {}))
    asked: list[str] = []
    quiet = threading.Event()

    def fetch(version: str, wait: float) -> NetworkView:
        asked.append(version)
        view = views[0] if len(asked) <= 2 else views[1]
        if view.version == version:
            quiet.wait(wait)  # nothing new: a long poll waits its time
        return view

    taken: list[str] = []
    failures = iter([RuntimeError("iptables-restore: Permission denied")])

    def firewall(view: NetworkView) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        taken.append(view.version)

    said: list[str] = []
    loop = NetworkViewLoop(fetch, [("firewall", firewall)], wait=0.1, report=said.append)
    loop.start()
    try:
        assert loop.wait_for(lambda v: v.version == views[1].version, 5)
    finally:
        loop.stop()
    # The first view failed once and was given again after the back-off, then the next.
    assert asked[:3] == ["", views[0].version, views[0].version]
    assert taken[:2] == [views[0].version, views[1].version]
    status = loop.status()
    assert status.total_errors == 1 and status.consecutive_errors == 0
    assert status.last_error is not None and "firewall" in status.last_error
    assert said[:2] == ["failing: firewall: iptables-restore: Permission denied", "on"]


def test_an_attribute_value_keeps_to_what_ecs_allows() -> None:
    value = attribute_value(RuntimeError("x" * 300 + " (bad) [chars]\n"))
    assert value.startswith("failing: ") and len(value) <= 128
    assert attribute_value(None) == "on"


class FakeIptables:
    """Records the calls; `-C` finds nothing the first time, chains listed as given."""

    def __init__(self, existing: Sequence[str] = ()) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.existing = list(existing)

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> Any:
        self.calls.append((list(argv), stdin))
        out = ""
        code = 0
        if argv[0] == "iptables-save":
            out = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in self.existing) + "COMMIT\n"
        if "-C" in argv:
            code = 1
        return subprocess.CompletedProcess(list(argv), code, out, "")

    def restores(self) -> list[str]:
        return [stdin or "" for argv, stdin in self.calls if argv[0] == "iptables-restore"]


def test_the_firewall_writes_its_chains_keeps_its_jumps_and_removes_the_gone() -> None:
    stale = eni_chain("PSI", "own1", "10.0.1.9")
    fake = FakeIptables(existing=[stale, "DOCKER-USER", "PSI-other-0a000109"])
    firewall = Firewall("own1", run=fake, bridge_check=False)
    assert firewall.apply(NetworkView.of([], [], {}, {}, {})) is None
    assert fake.calls == []  # no awsvpc task here: iptables untouched

    done = firewall.apply(NetworkView.of([eni("10.0.1.4")], [], {}, {}, {}))
    assert done is not None and done.enis == 1
    (text,) = fake.restores()
    assert f":{stale} - [0:0]" in text and f"-X {stale}" in text
    assert "PSI-other" not in text  # another agent's chain
    jumps = [argv for argv, _ in fake.calls if argv[0] == "iptables" and "-j" in argv]
    assert ["iptables", "-w", "5", "-I", "DOCKER-USER", "1", "-j", "PORTSIDE-SG"] in jumps
    assert ["iptables", "-w", "5", "-A", "PORTSIDE-SG", "-j", "PSG-own1"] in jumps

    fake.calls.clear()
    firewall.apply(NetworkView.of([], [], {}, {}, {}))
    (text,) = fake.restores()
    assert f"-X {eni_chain('PSI', 'own1', '10.0.1.4')}" in text
    assert [argv[0] for argv, _ in fake.calls] == ["iptables-restore"]  # jumps known in place


def test_bridged_traffic_is_made_to_reach_iptables(tmp_path: Any) -> None:
    sysctl = tmp_path / "bridge-nf-call-iptables"
    sysctl.write_text("0\n")
    ensure_bridge_netfilter(sysctl, run=FakeIptables())
    assert sysctl.read_text() == "1\n"
    loaded = FakeIptables()
    with pytest.raises(FirewallError, match="br_netfilter"):
        ensure_bridge_netfilter(tmp_path / "missing", run=loaded)
    assert loaded.calls == [(["modprobe", "br_netfilter"], None)]


def test_the_chains_of_agents_that_are_gone_are_found() -> None:
    saved = "\n".join(
        [
            "*filter",
            ":PSG-aaaaaa - [0:0]",
            ":PSG-bbbbbb - [0:0]",
            ":PSG-cccccc - [0:0]",
            '-A PSG-aaaaaa -m comment --comment "portside-agent pid=10 start=99"',
            '-A PSG-bbbbbb -m comment --comment "portside-agent pid=11 start=5"',
            "-A PSG-cccccc -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "COMMIT",
        ]
    )
    running = {(11, "5")}
    assert dead_owners(saved, "zzzzzz", lambda pid, at: (pid, at) in running) == {"aaaaaa"}
    assert dead_owners(saved, "aaaaaa", lambda pid, at: False) == {"bbbbbb"}
    assert liveness_note(os.getpid()).startswith(f"portside-agent pid={os.getpid()} start=")

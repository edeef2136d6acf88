"""A subnet across hosts (agent/docker/overlay.py) without a kernel: the devices a view asks
for, the commands that get there from what the host has, the nftables rules, and an apply
against a fake host that records what it is told (idempotent, peers followed, devices gone
with their networks). The real thing runs in tests/e2e/test_subnet_two_hosts_docker.py.

Also the agent's underlay address (agent/attributes.py): the route to the control plane.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from portside.agent import attributes
from portside.agent.docker import overlay
from portside.agent.docker.overlay import Device, Link, Network, OverlayError
from portside.gateway.protocol.network import NetworkView, SubnetInfo
from portside.testing.net import other_host_address

SUBNET, OTHER = "subnet-0a1b2c3d4e5f60718", "subnet-1234abcd"


def view(peers: dict[str, list[str]]) -> NetworkView:
    subnets = {s: SubnetInfo("10.94.7.0/24", "vpc-1") for s in peers}
    return NetworkView.of([], [], {}, subnets, peers)


def test_a_subnets_vni_is_the_same_everywhere_and_fits_a_device_name() -> None:
    number = overlay.vni(SUBNET)
    assert number == overlay.vni(SUBNET) and 0 < number < 2**24
    assert number != overlay.vni(OTHER)
    name = overlay.device_name(number)
    assert len(name) <= 15 and name.startswith("psvx")


def test_a_subnet_joins_hosts_only_with_a_network_here_and_a_peer() -> None:
    networks = {
        SUBNET: Network("br-aaa", "10.94.7.1", 1450),
        OTHER: Network("br-bbb", "10.94.8.1", 1450),
    }
    want, problems = overlay.desired(
        view({SUBNET: ["10.250.0.2", "10.250.0.3"], OTHER: [], "subnet-99999999": ["10.0.0.9"]}),
        networks,
    )
    assert problems == []
    (link,) = want.values()
    assert link == Link(
        SUBNET,
        overlay.device_name(overlay.vni(SUBNET)),
        overlay.vni(SUBNET),
        "br-aaa",
        "10.94.7.1",
        frozenset({"10.250.0.2", "10.250.0.3"}),
        1450,
    )


def test_what_cannot_be_joined_is_said_and_the_rest_is(monkeypatch: pytest.MonkeyPatch) -> None:
    networks = {SUBNET: Network("br-aaa", "10.94.7.1"), OTHER: Network("br-bbb", "10.94.8.1")}
    want, problems = overlay.desired(view({SUBNET: ["10.250.0.2", "host-b"]}), networks)
    assert [w.peers for w in want.values()] == [frozenset({"10.250.0.2"})]
    assert problems == [f"{SUBNET}: peers host-b are not IPv4 addresses"]
    monkeypatch.setattr(overlay, "vni", lambda _subnet: 7)
    want, problems = overlay.desired(view({SUBNET: ["10.0.0.2"], OTHER: ["10.0.0.2"]}), networks)
    assert [w.subnet_id for w in want.values()] == [SUBNET]  # the first by id
    assert problems == [f"{OTHER} and {SUBNET} share VXLAN id 7: {OTHER} not joined"]


def link(peers: set[str], bridge: str = "br-aaa") -> Link:
    return Link(SUBNET, "psvx000007", 7, bridge, "10.94.7.1", frozenset(peers), 1450)


def test_a_new_device_is_made_on_the_bridge_with_a_flood_entry_per_peer() -> None:
    commands = overlay.changes({"psvx000007": link({"10.0.0.2", "10.0.0.3"})}, {})
    vxlan = ["type", "vxlan", "id", "7", "dstport", "4789", "learning"]
    assert commands == [
        ["ip", "link", "add", "psvx000007", *vxlan],
        ["ip", "link", "set", "dev", "psvx000007", "mtu", "1450", "master", "br-aaa", "up"],
        ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "psvx000007", "dst", "10.0.0.2"],
        ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "psvx000007", "dst", "10.0.0.3"],
    ]


def test_an_existing_device_follows_its_peers_and_bridge_and_strays_go() -> None:
    have = {
        "psvx000007": Device(7, "br-old", 1450, True, frozenset({"10.0.0.2", "10.0.0.4"})),
        "psvx0000ff": Device(255, None, 1450, False, frozenset()),
    }
    commands = overlay.changes({"psvx000007": link({"10.0.0.2", "10.0.0.3"})}, have)
    assert commands == [
        ["ip", "link", "del", "psvx0000ff"],
        ["ip", "link", "set", "dev", "psvx000007", "mtu", "1450", "master", "br-aaa", "up"],
        ["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "psvx000007", "dst", "10.0.0.3"],
        ["bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "psvx000007", "dst", "10.0.0.4"],
    ]
    same = {"psvx000007": Device(7, "br-aaa", 1450, True, frozenset({"10.0.0.2"}))}
    assert overlay.changes({"psvx000007": link({"10.0.0.2"})}, same) == []
    # A device of that name with another VNI is not ours to keep.
    foreign = {"psvx000007": Device(8, "br-aaa", 1450, True, frozenset({"10.0.0.2"}))}
    commands = overlay.changes({"psvx000007": link({"10.0.0.2"})}, foreign)
    assert commands[:2] == [["ip", "link", "del", "psvx000007"], commands[1]]
    assert commands[1][:3] == ["ip", "link", "add"]


def test_the_rules_keep_the_gateway_off_the_tunnel_and_admit_only_peers() -> None:
    rules = overlay.ruleset({"psvx000007": link({"10.0.0.3", "10.0.0.2"})})
    assert 'iifname "psvx000007" arp saddr ip 10.94.7.1 drop' in rules
    assert 'iifname "psvx000007" arp daddr ip 10.94.7.1 drop' in rules
    assert 'oifname "psvx000007" arp saddr ip 10.94.7.1 drop' in rules
    assert 'oifname "psvx000007" arp daddr ip 10.94.7.1 drop' in rules
    assert "elements = { 10.0.0.2, 10.0.0.3 }" in rules
    assert "udp dport 4789 ip saddr != @peers drop" in rules
    # Replaced whole each time; nothing wanted leaves no table behind.
    assert rules.startswith("table bridge portside_overlay\ndelete table bridge portside_overlay\n")
    empty = overlay.ruleset({})
    assert "{" not in empty and "delete table inet portside_overlay" in empty


@dataclass
class FakeHost:
    """iproute2 and nft as far as the overlay uses them, and a Docker Engine's networks."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: str = ""
    changed: list[list[str]] = field(default_factory=list)
    networks: list[dict[str, Any]] = field(default_factory=list)
    fail: str | None = None

    def run(self, argv: Sequence[str], stdin: str | None) -> str:
        argv = list(argv)
        if self.fail and self.fail in " ".join(argv):
            raise OverlayError(f"{' '.join(argv)}: refused")
        if "-j" in argv or argv[:3] == ["nft", "list", "tables"]:
            return self._read(argv)
        self.changed.append(argv)
        if argv[:3] == ["ip", "link", "add"]:
            self.devices[argv[3]] = {"vni": int(argv[7]), "mtu": 1500, "up": False, "fdb": set()}
        elif argv[:3] == ["ip", "link", "del"]:
            del self.devices[argv[3]]
        elif argv[:3] == ["ip", "link", "set"]:
            dev = self.devices[argv[4]]
            dev["master"], dev["up"] = argv[argv.index("master") + 1], True
            dev["mtu"] = int(argv[argv.index("mtu") + 1])
        elif argv[:2] == ["bridge", "fdb"]:
            fdb = self.devices[argv[5]]["fdb"]
            (fdb.add if argv[2] == "append" else fdb.remove)(argv[7])
        elif argv[:2] == ["nft", "-f"]:
            self.rules = stdin or ""
        return ""

    def _read(self, argv: list[str]) -> str:
        if argv[:3] == ["nft", "list", "tables"]:
            return "table inet portside_overlay\n" if "{" in self.rules else ""
        if argv[-2:] == ["type", "vxlan"]:
            return json.dumps(
                [
                    {
                        "ifname": name,
                        "mtu": d["mtu"],
                        "flags": ["UP"] if d["up"] else [],
                        **({"master": d["master"]} if d.get("master") else {}),
                        "linkinfo": {"info_kind": "vxlan", "info_data": {"id": d["vni"]}},
                    }
                    for name, d in self.devices.items()
                ]
            )
        if argv[:3] == ["bridge", "-j", "fdb"]:
            fdb = self.devices[argv[-1]]["fdb"]
            return json.dumps([{"mac": "00:00:00:00:00:00", "dst": p} for p in sorted(fdb)])
        if argv[:4] == ["ip", "-j", "route", "show"]:
            return "[]"
        raise AssertionError(argv)

    # the Docker client's surface
    @property
    def client(self) -> Any:
        host = self

        class Networks:
            def list(self, filters: dict[str, str]) -> list[Any]:
                assert filters == {"label": "io.portside.role=subnet"}
                return [type("N", (), {"attrs": n}) for n in host.networks]

        return type("Client", (), {"networks": Networks()})()

    def add_network(self, subnet: str, bridge_id: str, gateway: str, mtu: str = "1450") -> None:
        self.networks.append(
            {
                "Id": bridge_id + "0" * 52,
                "Labels": {"io.portside.subnet-id": subnet},
                "Options": {"com.docker.network.driver.mtu": mtu} if mtu else {},
                "IPAM": {"Config": [{"Subnet": "10.94.7.0/24", "Gateway": gateway}]},
            }
        )


def test_apply_follows_the_view_and_the_networks_and_is_idempotent() -> None:
    host = FakeHost()
    ours = overlay.Overlay(runner=host.run)
    name = overlay.device_name(overlay.vni(SUBNET))
    # No network for the subnet here yet: nothing to join, nothing run.
    ours.apply(view({SUBNET: ["10.250.0.2"]}), host.client)
    assert host.changed == [] and host.devices == {}
    # Its network is made: the device joins it at once, with the view already held.
    host.add_network(SUBNET, "aaa", "10.94.7.1")
    ours.refresh()
    assert host.devices[name]["master"] == "br-aaa000000000"
    assert host.devices[name]["fdb"] == {"10.250.0.2"}
    assert "arp daddr ip 10.94.7.1 drop" in host.rules
    # The same view again changes nothing.
    host.changed.clear()
    ours.apply(view({SUBNET: ["10.250.0.2"]}), host.client)
    assert host.changed == []
    # A peer comes, another goes.
    ours.apply(view({SUBNET: ["10.250.0.3"]}), host.client)
    assert host.devices[name]["fdb"] == {"10.250.0.3"}
    assert "elements = { 10.250.0.3 }" in host.rules
    # The last peer goes: so do the device and the tables.
    ours.apply(view({SUBNET: []}), host.client)
    assert host.devices == {} and "{" not in host.rules
    host.changed.clear()
    ours.apply(view({SUBNET: []}), host.client)
    assert host.changed == []


def test_apply_says_what_failed_after_applying_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    host = FakeHost(fail="dst 10.250.0.9")
    host.add_network(SUBNET, "aaa", "10.94.7.1")
    ours = overlay.Overlay(runner=host.run)
    with pytest.raises(OverlayError, match=r"10\.250\.0\.9: refused"):
        ours.apply(view({SUBNET: ["10.250.0.2", "10.250.0.9"]}), host.client)
    name = overlay.device_name(overlay.vni(SUBNET))
    assert host.devices[name]["fdb"] == {"10.250.0.2"}
    assert "elements = { 10.250.0.2, 10.250.0.9 }" in host.rules
    assert "subnets across hosts" in caplog.text
    # A network change never raises into the driver; the next view's apply reports.
    overlay.network_changed(host.client)


def test_the_underlay_address_is_the_route_to_the_control_plane() -> None:
    assert attributes.route_source("http://127.0.0.1:4810") is None
    assert attributes.with_private_ip({"a": "b"}, "http://127.0.0.1:4810") == {"a": "b"}
    given = {attributes.PRIVATE_IP: "10.9.9.9"}
    assert attributes.with_private_ip(given, "http://198.51.100.1:1") == given
    mine = other_host_address()
    if mine is None:
        pytest.skip("this host has no route off loopback")
    assert attributes.route_source("http://198.51.100.1:4810") == mine
    assert attributes.route_source(f"http://{mine}:4810") == mine
    found = attributes.with_private_ip({}, "http://198.51.100.1:4810")
    assert found == {attributes.PRIVATE_IP: mine}


def test_a_network_too_wide_for_vxlan_joins_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One made before networks had their MTU set (Docker's 1500): it joins, at its MTU, and
    the operator is told once that its largest frames cross fragmented."""
    host = FakeHost()
    host.add_network(SUBNET, "aaa", "10.94.7.1", mtu="")
    ours = overlay.Overlay(runner=host.run)
    ours.apply(view({SUBNET: ["10.250.0.2"]}), host.client)
    ours.apply(view({SUBNET: ["10.250.0.3"]}), host.client)
    name = overlay.device_name(overlay.vni(SUBNET))
    assert host.devices[name]["mtu"] == 1500
    warned = [r for r in caplog.records if "MTU 1500" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"

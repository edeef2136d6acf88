"""A subnet across hosts: the subnet's Docker bridge on each host that runs its tasks, joined
into one layer-2 segment by VXLAN between the hosts (issue 14).

Mechanism. On a host with tasks in a subnet that other hosts also run tasks in, the agent puts a
VXLAN device on the subnet's bridge (subnets.py's `portside-subnet-...` network):

- one device per subnet, `psvx<VNI in hex>`, VNI = 24 bits of SHA-256 of the subnet id (stable
  on every host with no coordination), UDP port 4789 (IANA's); the kernel picks the outer source
  address by routing to the peer, which is the host's underlay address;
- for each peer (the underlay address, `ecs.private-ip`, of every other host running tasks in
  the subnet, from the agent's network view) a flood entry: all-zero MAC -> that address.
  Broadcasts (ARP) go to every peer; the device learns which peer holds a MAC from what it
  receives, so unicast then goes to that peer alone;
- the device's MTU is the network's (its ports'). subnets.py makes the network with the
  underlay's MTU less 50 (VXLAN's overhead: outer IPv4, UDP, VXLAN and inner Ethernet
  headers), so a task's full frame crosses in one underlay packet (`task_mtu`);
- every host's bridge holds the subnet's gateway address (the VPC router's, first of the
  CIDR), where a task finds its egress and its agent's endpoints. So that a task only ever
  learns its own host's bridge for it, ARP for or from the gateway address does not cross the
  VXLAN port (nftables table `bridge portside_overlay`);
- only the peers may send to the VXLAN port: UDP 4789 from any other source is dropped (table
  `inet portside_overlay`), so no one else injects frames into a subnet.

Traffic between the tasks of a subnet is bridged, never routed: Docker accepts frames between
the ports of one bridge (`-i br -o br -j ACCEPT` in FORWARD, which br_netfilter makes bridged
frames traverse) and masquerades only what leaves the bridge, so a task sees its peer's own
address. A host firewall sees a remote task's frames arrive on the bridge from the VXLAN port
(`physdev-in psvx...`) with the remote ENI's address as source: rules by source address or
group must know the addresses of the group's ENIs on other hosts, not only this host's.

The agent keeps its devices in step with the view it is given (`apply`): devices added,
peers added and removed, devices of subnets gone removed; a subnet network made or removed
between two views is caught up at once (`network_changed`, called by subnets.py). One agent
per network namespace owns every `psvx` device there. Needs `ip` and `bridge` (iproute2) and
`nft` (nftables) when a subnet spans hosts; nothing is done for a subnet on one host alone.
Two subnets whose VNIs collide cannot span hosts on one host (reported, the others applied).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from portside.agent.docker.subnets import LABEL_SUBNET, ROLE
from portside.agent.driver import LABEL_ROLE

log = logging.getLogger("portside.agent.overlay")

PORT = 4789  # VXLAN's IANA port: open it (UDP) between the hosts
OVERHEAD = 50  # outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)
DEVICE_PREFIX = "psvx"
TABLE = "portside_overlay"
ZERO_MAC = "00:00:00:00:00:00"
DEFAULT_UNDERLAY_MTU = 1500
MTU_OPTION = "com.docker.network.driver.mtu"  # a bridge network's option: its ports' MTU


class OverlayError(RuntimeError):
    """The overlay could not be brought in step with the view (the message says what)."""


class SubnetLike(Protocol):
    @property
    def cidr(self) -> str: ...


class ViewLike(Protocol):
    """What the overlay reads of the agent's network view (gateway/protocol/network.py)."""

    @property
    def subnets(self) -> Mapping[str, SubnetLike]: ...

    @property
    def subnet_peers(self) -> Mapping[str, Sequence[str]]: ...


@dataclass(frozen=True, slots=True)
class Network:
    """A subnet's Docker network on this host: its bridge device, gateway address and MTU."""

    bridge: str
    gateway: str
    mtu: int = DEFAULT_UNDERLAY_MTU  # Docker's when the network does not say


@dataclass(frozen=True, slots=True)
class Link:
    """A VXLAN device as it should be: on `bridge`, flooding to `peers`."""

    subnet_id: str
    device: str
    vni: int
    bridge: str
    gateway: str
    peers: frozenset[str]
    mtu: int = DEFAULT_UNDERLAY_MTU - OVERHEAD


@dataclass(frozen=True, slots=True)
class Device:
    """A `psvx` device as the kernel has it."""

    vni: int | None
    master: str | None
    mtu: int
    up: bool
    peers: frozenset[str]


def vni(subnet_id: str) -> int:
    """The subnet's VXLAN network identifier: the same on every host (pure; never 0)."""
    return int.from_bytes(hashlib.sha256(subnet_id.encode()).digest()[:3], "big") or 1


def device_name(number: int) -> str:
    return f"{DEVICE_PREFIX}{number:06x}"


def desired(view: ViewLike, networks: Mapping[str, Network]) -> tuple[dict[str, Link], list[str]]:
    """The devices this host should have (by name), and what could not be had (pure): one per
    subnet with a network here and at least one peer."""
    links: dict[str, Link] = {}
    problems: list[str] = []
    for subnet_id in sorted(view.subnet_peers):
        network = networks.get(subnet_id)
        peers = frozenset(p for p in view.subnet_peers[subnet_id] if _ipv4(p))
        bad = sorted(set(view.subnet_peers[subnet_id]) - peers)
        if bad:
            problems.append(f"{subnet_id}: peers {', '.join(bad)} are not IPv4 addresses")
        if network is None or not peers:
            continue
        number = vni(subnet_id)
        name = device_name(number)
        if name in links:
            other = links[name].subnet_id
            problems.append(
                f"{subnet_id} and {other} share VXLAN id {number}: {subnet_id} not joined"
            )
            continue
        links[name] = Link(
            subnet_id, name, number, network.bridge, network.gateway, peers, network.mtu
        )
    return links, problems


def changes(want: Mapping[str, Link], have: Mapping[str, Device]) -> list[list[str]]:
    """The iproute2 commands that take `have` to `want` (pure)."""
    out: list[list[str]] = []
    for name in sorted(set(have) - set(want)):
        out.append(["ip", "link", "del", name])
    for name, link in sorted(want.items()):
        dev = have.get(name)
        if dev is not None and dev.vni != link.vni:
            out.append(["ip", "link", "del", name])
            dev = None
        if dev is None:
            vxlan = ["type", "vxlan", "id", str(link.vni), "dstport", str(PORT), "learning"]
            out.append(["ip", "link", "add", name, *vxlan])
        if dev is None or dev.master != link.bridge or not dev.up or dev.mtu != link.mtu:
            mtu = str(link.mtu)
            out.append(["ip", "link", "set", "dev", name, "mtu", mtu, "master", link.bridge, "up"])
        known = dev.peers if dev is not None else frozenset()
        for peer in sorted(link.peers - known):
            out.append(["bridge", "fdb", "append", ZERO_MAC, "dev", name, "dst", peer])
        for peer in sorted(known - link.peers):
            out.append(["bridge", "fdb", "del", ZERO_MAC, "dev", name, "dst", peer])
    return out


def ruleset(want: Mapping[str, Link]) -> str:
    """The nftables script that replaces Portside's overlay tables (pure): none when `want` is
    empty. Atomic: `nft -f` applies all of it or nothing."""
    script = [f"table bridge {TABLE}", f"delete table bridge {TABLE}"]
    script += [f"table inet {TABLE}", f"delete table inet {TABLE}"]
    if not want:
        return "\n".join(script) + "\n"
    arp_in = [
        f'    iifname "{link.device}" arp {field} ip {link.gateway} drop'
        for link in want.values()
        for field in ("saddr", "daddr")
    ]
    arp_out = [line.replace("iifname", "oifname") for line in arp_in]
    peers = sorted({p for link in want.values() for p in link.peers}, key=ipaddress.ip_address)
    script += [
        f"table bridge {TABLE} {{",
        "  chain prerouting {",
        "    type filter hook prerouting priority 0; policy accept;",
        *arp_in,
        "  }",
        "  chain postrouting {",
        "    type filter hook postrouting priority 0; policy accept;",
        *arp_out,
        "  }",
        "}",
        f"table inet {TABLE} {{",
        f"  set peers {{ type ipv4_addr; elements = {{ {', '.join(peers)} }} }}",
        "  chain input {",
        "    type filter hook input priority 0; policy accept;",
        f"    udp dport {PORT} ip saddr != @peers drop",
        "  }",
        "}",
    ]
    return "\n".join(script) + "\n"


Runner = Callable[[Sequence[str], str | None], str]


def run(argv: Sequence[str], stdin: str | None = None) -> str:
    """Run one command; its output, or OverlayError with what it said."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OverlayError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise OverlayError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


class Overlay:
    """This host's VXLAN devices and nftables tables, kept in step with the last view."""

    def __init__(self, runner: Runner = run, client_factory: Callable[[], Any] | None = None):
        self.runner = runner
        self.client_factory = client_factory
        self.client: Any = None
        self.view: ViewLike | None = None
        self._rules: str | None = None  # the ruleset last applied
        self._warned: set[str] = set()  # subnets told of for their MTU
        self._lock = threading.Lock()

    def apply(self, view: ViewLike, client: Any = None) -> None:
        """Bring this host in step with `view`; OverlayError (logged) when some of it could not
        be (the rest is applied)."""
        with self._lock:
            self.view = view
            self.client = client or self.client
            self._reconcile()

    def refresh(self, client: Any = None) -> None:
        """Again with the last view (a subnet network was made or removed), if there is one."""
        with self._lock:
            self.client = self.client or client
            if self.view is not None:
                self._reconcile()

    def _reconcile(self) -> None:
        assert self.view is not None
        try:
            want, problems = desired(self.view, self._networks())
            if not want and not self._ours_exist():
                self._rules = None
                if problems:
                    raise OverlayError("; ".join(problems))
                return
            _need("ip", "bridge", *(["nft"] if want else []))
            have = self._devices()
            for argv in changes(want, have):
                try:
                    self.runner(argv, None)
                except OverlayError as exc:  # the other devices and peers still go ahead
                    problems.append(str(exc))
            self._warn_mtu(want.values())
            rules = ruleset(want)
            if rules != self._rules and (want or shutil.which("nft")):
                self.runner(["nft", "-f", "-"], rules)
            self._rules = rules if want else None
            if problems:
                raise OverlayError("; ".join(problems))
        except OverlayError as exc:
            log.error("subnets across hosts: %s", exc)
            raise

    def _warn_mtu(self, links: Iterable[Link]) -> None:
        """A network made before subnets.py set its MTU has Docker's 1500, more than VXLAN
        carries whole: it joins all the same, its largest frames crossing fragmented, until
        its last task here goes (the next one is made with the MTU)."""
        for link in links:
            mtu = link.mtu
            if mtu > task_mtu(self.runner) and link.subnet_id not in self._warned:
                self._warned.add(link.subnet_id)
                log.warning(
                    "subnet %s: its network's MTU %d is over the underlay's less %d (%d): "
                    "frames that large cross hosts fragmented",
                    link.subnet_id,
                    mtu,
                    OVERHEAD,
                    task_mtu(self.runner),
                )

    def _docker(self) -> Any:
        if self.client is None:
            if self.client_factory is not None:
                self.client = self.client_factory()
            else:
                import docker

                self.client = docker.from_env()
        return self.client

    def _networks(self) -> dict[str, Network]:
        """This host's subnet networks by subnet id, with their bridge devices."""
        found: dict[str, Network] = {}
        try:
            listed = self._docker().networks.list(filters={"label": f"{LABEL_ROLE}={ROLE}"})
        except Exception as exc:  # the Docker Engine's errors are many
            raise OverlayError(f"cannot list the subnet networks: {exc}") from exc
        for network in listed:
            attrs = network.attrs
            subnet_id = (attrs.get("Labels") or {}).get(LABEL_SUBNET)
            if not subnet_id:
                continue
            options = attrs.get("Options") or {}
            bridge = options.get("com.docker.network.bridge.name") or "br-" + attrs["Id"][:12]
            configs = (attrs.get("IPAM") or {}).get("Config") or [{}]
            gateway = configs[0].get("Gateway") or _first_address(configs[0].get("Subnet"))
            mtu = str(options.get(MTU_OPTION) or DEFAULT_UNDERLAY_MTU)
            if gateway:
                size = int(mtu) if mtu.isdigit() else DEFAULT_UNDERLAY_MTU
                found[str(subnet_id)] = Network(bridge, gateway, size)
        return found

    def _ours_exist(self) -> bool:
        """Whether any device or table of ours is left to remove (cheap when none is)."""
        if self._rules is not None:
            return True
        if shutil.which("nft"):
            try:
                if f"inet {TABLE}" in self.runner(["nft", "list", "tables"], None):
                    return True
            except OverlayError:
                pass  # not allowed to read them (not root): none of ours, then
        if not shutil.which("ip"):
            return False
        return bool(_links(self.runner(["ip", "-j", "link", "show", "type", "vxlan"], None)))

    def _devices(self) -> dict[str, Device]:
        devices: dict[str, Device] = {}
        for item in _links(self.runner(["ip", "-d", "-j", "link", "show", "type", "vxlan"], None)):
            name = item["ifname"]
            fdb = json.loads(self.runner(["bridge", "-j", "fdb", "show", "dev", name], None))
            peers = frozenset(
                str(e["dst"]) for e in fdb if e.get("mac") == ZERO_MAC and e.get("dst")
            )
            data = (item.get("linkinfo") or {}).get("info_data") or {}
            devices[name] = Device(
                vni=data.get("id"),
                master=item.get("master"),
                mtu=int(item.get("mtu") or 0),
                up="UP" in (item.get("flags") or ()),
                peers=peers,
            )
        return devices


def _links(output: str) -> list[dict[str, Any]]:
    return [i for i in json.loads(output or "[]") if i["ifname"].startswith(DEVICE_PREFIX)]


def _need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise OverlayError(
            f"{', '.join(missing)} not found: subnets across hosts need iproute2 (ip, bridge) "
            "and nftables (nft)"
        )


def _ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _first_address(cidr: str | None) -> str | None:
    if not cidr:
        return None
    return str(ipaddress.IPv4Network(cidr, strict=False).network_address + 1)


_underlay_mtu: int | None = None


def task_mtu(runner: Runner = run) -> int:
    """The MTU of a subnet's network: the underlay's (the default route's device, else 1500)
    less VXLAN's overhead, so a task's frame crosses hosts unfragmented. Read once."""
    global _underlay_mtu
    if _underlay_mtu is None:
        _underlay_mtu = _default_route_mtu(runner)
    return _underlay_mtu - OVERHEAD


def _default_route_mtu(runner: Runner) -> int:
    try:
        routes = json.loads(runner(["ip", "-j", "route", "show", "default"], None) or "[]")
        devices = [r["dev"] for r in routes if r.get("dev")]
        mtus = [
            int(link["mtu"])
            for dev in devices
            for link in json.loads(runner(["ip", "-j", "link", "show", "dev", dev], None))
        ]
    except (OverlayError, ValueError, KeyError):
        return DEFAULT_UNDERLAY_MTU
    return min(mtus) if mtus else DEFAULT_UNDERLAY_MTU


_overlay = Overlay()


def apply(view: ViewLike, client: Any = None) -> None:
    """Bring this host's VXLAN devices in step with the agent's network view (see the module's
    docstring); OverlayError, logged, when some of it could not be."""
    _overlay.apply(view, client)


def network_changed(client: Any) -> None:
    """A subnet network was made or removed on this host: catch the overlay up with the last
    view at once (never raises: the view's next apply reports what fails)."""
    try:
        _overlay.refresh(client)
    except OverlayError:
        pass  # logged; the network itself is fine on this host
    except Exception:
        log.exception("subnets across hosts: catching up after a network change")

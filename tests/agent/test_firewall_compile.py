"""The security-group chains (agent/firewall/compile.py) decide as ec2/traffic.py does.

The compiled iptables-restore text is read back by a tiny matcher that walks the chains
the way the kernel does for a new packet (match, jump, RETURN, DROP), and for random rule
sets, ENIs and flows its verdict must be traffic.py's: the sender's egress (when the sender
is a local ENI) and then the receiver's ingress (when it is one)."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.agent.firewall.compile import (
    compile_view,
    eni_chain,
    group_chain,
    member_chain,
    owned_prefixes,
)
from portside.ec2.traffic import Flow, Peer, Policy
from portside.gateway.protocol.network import LocalEni, NetworkView

OWNER = "abc123"
NAMES = {"tcp": 6, "udp": 17, "icmp": 1}


# -- a tiny iptables matcher over the restore text -----------------------------------------


@dataclass
class Packet:
    src: str
    dst: str
    protocol: int
    port: int | None = None  # TCP/UDP destination port, or ICMP type
    code: int | None = None  # ICMP code
    mark: int = 0


def parse(text: str) -> dict[str, list[list[str]]]:
    chains: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        if line.startswith(":"):
            chains[line[1:].split()[0]] = []
        elif line.startswith("-A "):
            _, chain, *args = line.split()
            chains[chain].append(args)
        else:
            assert line in ("*filter", "COMMIT") or line.startswith("-X "), line
    return chains


def _matches(args: list[str], p: Packet) -> bool:
    i = 0
    while i < len(args):
        flag = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if flag == "-j":
            return True
        if flag == "-s" and ip_address(p.src) not in ip_network(value):
            return False
        if flag == "-d" and ip_address(p.dst) not in ip_network(value):
            return False
        if flag == "-p" and NAMES.get(value, None if not value.isdigit() else int(value)) != (
            p.protocol
        ):
            return False
        if flag == "--dport":
            low, _, high = value.partition(":")
            if p.port is None or not int(low) <= p.port <= int(high or low):
                return False
        if flag == "--icmp-type":
            kind, _, code = value.partition("/")
            if p.port != int(kind) or (code and p.code != int(code)):
                return False
        if flag == "--ctstate":
            return False  # every packet judged here opens a connection
        if flag == "--mark":
            wanted, mask = (int(x, 16) for x in value.split("/"))
            if p.mark & mask != wanted:
                return False
        if flag in ("-j", "-g"):
            return True
        i += 2 if flag in ("-s", "-d", "-p", "-m", "--dport", "--icmp-type", "--ctstate") else 1
        i += 1 if flag == "--mark" else 0
    raise AssertionError(f"a rule with no target: {args}")


def walk(chains: dict[str, list[list[str]]], chain: str, p: Packet) -> str:
    """RETURN (fell through or returned) or DROP, as the kernel walks a chain: a jump
    comes back here, a goto does not (leaving the chain gone to leaves this one too)."""
    for args in chains[chain]:
        if not _matches(args, p):
            continue
        if "-g" in args:
            return walk(chains, args[args.index("-g") + 1], p)
        target = args[args.index("-j") + 1]
        if target == "MARK":
            value, mask = (int(x, 16) for x in args[args.index("--set-xmark") + 1].split("/"))
            p.mark = (p.mark & ~mask) ^ value
            continue
        if target == "RETURN":
            return "RETURN"
        if target == "DROP":
            return "DROP"
        if walk(chains, target, p) == "DROP":
            return "DROP"
    return "RETURN"


def allowed(view: NetworkView, p: Packet) -> bool:
    chains = parse(compile_view(view, OWNER).restore_text())
    verdict = walk(chains, group_chain(OWNER), p)
    assert verdict == "DROP" or p.mark == 0, "a packet left our chains marked"
    return verdict == "RETURN"


# -- random views and flows -----------------------------------------------------------------

GROUP_IDS = ["sg-a", "sg-b", "sg-c"]
PROTOCOLS = ["-1", "tcp", "udp", "icmp", "47"]
PORTS = [22, 80, 443, 8080]


@st.composite
def rules(draw: st.DrawFn, index: int) -> dict[str, object]:
    proto = draw(st.sampled_from(PROTOCOLS))
    low = high = -1
    if proto in ("tcp", "udp"):
        low = draw(st.sampled_from([0, *PORTS]))
        high = draw(st.sampled_from([p for p in [*PORTS, 65535] if p >= low]))
    elif proto == "icmp":
        low = draw(st.sampled_from([-1, 0, 8]))
        high = -1 if low == -1 else draw(st.sampled_from([-1, 0, 3]))
    doc: dict[str, object] = {
        "SecurityGroupRuleId": f"sgr-{index:04d}",
        "GroupId": draw(st.sampled_from(GROUP_IDS)),
        "IsEgress": draw(st.booleans()),
        "IpProtocol": proto,
        "FromPort": low,
        "ToPort": high,
    }
    if draw(st.booleans()):
        doc["ReferencedGroupInfo"] = {"GroupId": draw(st.sampled_from(GROUP_IDS))}
    else:
        bits = draw(st.sampled_from([0, 8, 16, 24, 32]))
        base = draw(st.sampled_from(["10.0.1.5", "10.0.2.9", "192.168.7.1", "10.0.1.0"]))
        doc["CidrIpv4"] = str(ip_network(f"{base}/{bits}", strict=False))
    return doc


@st.composite
def worlds(draw: st.DrawFn) -> tuple[NetworkView, dict[str, tuple[str, ...]], set[str]]:
    """A view, every ENI's groups by address (local and remote), and the local addresses."""
    count = draw(st.integers(1, 5))
    addresses = draw(
        st.lists(
            st.sampled_from([f"10.0.1.{i}" for i in range(2, 12)]),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    groups = {
        a: tuple(draw(st.lists(st.sampled_from(GROUP_IDS), max_size=2, unique=True)))
        for a in addresses
    }
    local = set(addresses[: draw(st.integers(1, count))])
    docs = [draw(rules(i)) for i in range(draw(st.integers(0, 8)))]
    members: dict[str, list[str]] = {}
    for doc in docs:
        ref = (doc.get("ReferencedGroupInfo") or {}).get("GroupId")  # type: ignore[attr-defined]
        if ref:
            members[ref] = sorted(a for a, gs in groups.items() if ref in gs)
    enis = [LocalEni(f"arn:task/{a}", a, "subnet-1", "02:00", groups[a]) for a in sorted(local)]
    view = NetworkView.of(enis, docs, members, {}, {})
    return view, groups, local


@st.composite
def packets(draw: st.DrawFn) -> tuple[int, int | None, int | None]:
    proto = draw(st.sampled_from([6, 17, 1, 47]))
    if proto in (6, 17):
        return proto, draw(st.sampled_from([0, 21, *PORTS, 65535])), None
    if proto == 1:
        return proto, draw(st.sampled_from([0, 3, 8])), draw(st.sampled_from([0, 3, 4]))
    return proto, None, None


def expected(
    policy: Policy,
    groups: dict[str, tuple[str, ...]],
    local: set[str],
    src: str,
    dst: str,
    flow: Flow,
) -> bool:
    ok = True
    if src in local:
        ok = ok and policy.egress(groups[src], Peer.of(dst, groups.get(dst, ())), flow).allowed
    if dst in local:
        ok = ok and policy.ingress(groups[dst], Peer.of(src, groups.get(src, ())), flow).allowed
    return ok


@settings(max_examples=400, deadline=None)
@given(worlds(), st.data())
def test_the_chains_decide_as_traffic_py(world: tuple, data: st.DataObject) -> None:
    view, groups, local = world
    policy = Policy.from_docs(view.rules)
    everyone = [*sorted(groups), "192.168.7.1", "8.8.8.8"]
    src = data.draw(st.sampled_from(everyone))
    dst = data.draw(st.sampled_from([a for a in everyone if a != src]))
    proto, port, code = data.draw(packets())
    flow = Flow(proto, port, code)
    want = expected(policy, groups, local, src, dst, flow)
    assert allowed(view, Packet(src, dst, proto, port, code)) == want


# -- what a user reads off the rules --------------------------------------------------------


def default_group(group: str = "sg-default") -> list[dict[str, object]]:
    return [
        {
            "SecurityGroupRuleId": "sgr-in",
            "GroupId": group,
            "IsEgress": False,
            "IpProtocol": "-1",
            "FromPort": -1,
            "ToPort": -1,
            "ReferencedGroupInfo": {"GroupId": group},
        },
        {
            "SecurityGroupRuleId": "sgr-out",
            "GroupId": group,
            "IsEgress": True,
            "IpProtocol": "-1",
            "FromPort": -1,
            "ToPort": -1,
            "CidrIpv4": "0.0.0.0/0",
        },
    ]


def test_the_default_group_admits_its_members_and_egress_is_open() -> None:
    a = LocalEni("t1", "10.0.1.4", "subnet-1", "02:01", ("sg-default",))
    b = LocalEni("t2", "10.0.1.5", "subnet-1", "02:02", ("sg-default",))
    view = NetworkView.of([a, b], default_group(), {"sg-default": ["10.0.1.4", "10.0.1.5"]}, {}, {})
    assert allowed(view, Packet("10.0.1.4", "10.0.1.5", 6, 8080))
    assert allowed(view, Packet("10.0.1.5", "10.0.1.4", 1, 8, 0))
    assert not allowed(view, Packet("10.0.1.9", "10.0.1.5", 6, 8080))  # not a member
    assert allowed(view, Packet("10.0.1.4", "1.1.1.1", 17, 53))  # egress: everywhere
    text = compile_view(view, OWNER).restore_text()
    members = member_chain("PSS", OWNER, "sg-default")
    assert f"-A {eni_chain('PSI', OWNER, '10.0.1.5')} -j {members}" in text
    assert f"-A {members} -s 10.0.1.4/32 -j MARK --set-xmark 0x2000000/0x2000000" in text
    assert "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN" in text


def test_a_port_rule_for_a_source_group_and_its_revoke() -> None:
    rule = {
        "SecurityGroupRuleId": "sgr-web",
        "GroupId": "sg-default",
        "IsEgress": False,
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "ReferencedGroupInfo": {"GroupId": "sg-client"},
    }
    server = LocalEni("t1", "10.0.1.4", "subnet-1", "02:01", ("sg-default",))
    members = {"sg-default": ["10.0.1.4"], "sg-client": ["10.0.1.6"]}
    with_rule = NetworkView.of([server], [*default_group(), rule], members, {}, {})
    without = NetworkView.of([server], default_group(), {"sg-default": ["10.0.1.4"]}, {}, {})
    assert allowed(with_rule, Packet("10.0.1.6", "10.0.1.4", 6, 8080))
    assert not allowed(with_rule, Packet("10.0.1.6", "10.0.1.4", 6, 8081))
    assert not allowed(without, Packet("10.0.1.6", "10.0.1.4", 6, 8080))
    assert with_rule.version != without.version


def test_chains_of_gone_enis_are_flushed_and_deleted_and_names_fit() -> None:
    eni = LocalEni("t1", "172.31.255.254", "subnet-1", "02:01", ("sg-default",))
    ruleset = compile_view(NetworkView.of([eni], default_group(), {}, {}, {}), OWNER)
    stale = eni_chain("PSI", OWNER, "172.31.0.9")
    text = ruleset.restore_text(remove={stale, *ruleset.chains})
    assert f":{stale} - [0:0]" in text and f"-X {stale}" in text
    assert text.count("-X ") == 1
    assert all(len(name) <= 28 for name in ruleset.chains)
    assert all(name.startswith(owned_prefixes(OWNER)) for name in ruleset.chains)
    assert stale.endswith("-ac1f0009")  # 172.31.0.9 in hex


def test_an_eni_in_no_group_takes_nothing_and_sends_nothing() -> None:
    lone = LocalEni("t1", "10.0.1.4", "subnet-1", "02:01", ())
    view = NetworkView.of([lone], default_group(), {}, {}, {})
    assert not allowed(view, Packet("10.0.1.5", "10.0.1.4", 6, 80))
    assert not allowed(view, Packet("10.0.1.4", "10.0.1.5", 6, 80))
    assert allowed(view, Packet("10.0.1.7", "10.0.1.5", 6, 80))  # neither is ours

"""169.254.170.2:80 routed to this agent's listener, as the ECS agent routes it (iptables nat):

    PREROUTING -d 169.254.170.2/32 -p tcp --dport 80 -j PSCRED-<owner>
    PSCRED-<owner>  -i <task network's bridge> ... -j DNAT --to-destination <its gateway>:<port>
    OUTPUT     -d 169.254.170.2/32 -p tcp --dport 80 -j PSCREDL-<owner>        (host mode)
    PSCREDL-<owner> -j REDIRECT --to-ports <port>                         (to 127.0.0.1)

A task's packets for 169.254.170.2 leave by its default route, the bridge's gateway, so they
reach the host on that bridge and are sent to the metadata endpoint's listener on the same
gateway address (agent/metadata: it listens there from the task's first container on). One
rule per bridge rather than one for every source: several agents may share a host (tests
do), each with its own chains named for its state directory (`owner`), and a bridge's rule
is in the chain of the agent whose task uses it. Tasks of two agents on one bridge (docker0,
bridge mode) reach the agent whose jump came first; so do host-mode tasks.

The chains are rewritten whole with `iptables-restore --noflush` (bridges gone since the last
write dropped); the jumps are kept with `iptables -C` / `-I`. `remove()` (the agent's stop)
takes both away. Without iptables (or the right to use it) tasks get no route: said once in
the log and in `problem`.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger("portside.agent.credentials")

LINK_LOCAL = "169.254.170.2"
_MATCH = ["-d", f"{LINK_LOCAL}/32", "-p", "tcp", "-m", "tcp", "--dport", "80"]
SYS_NET = Path("/sys/class/net")
Run = Callable[..., "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=30)


def owner_of(state_dir: Path) -> str:
    """A short name for this agent on the host (its chains' suffix)."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]


def chains(owner: str) -> tuple[str, str]:
    """(PREROUTING's chain, OUTPUT's chain) of an agent: at most 28 characters each."""
    return f"PSCRED-{owner}", f"PSCREDL-{owner}"


def interface_of(address: str, run: Run = _run) -> str | None:
    """The host interface holding `address` (a bridge's gateway), from `ip -o -4 addr`."""
    out = run(["ip", "-o", "-4", "addr", "show"])
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "inet" and fields[3].split("/")[0] == address:
            return fields[1].rstrip(":").split("@")[0]
    return None


def render(owner: str, bridges: dict[str, tuple[str, int]], local_port: int | None) -> str:
    """The nat table's part that is this agent's, for iptables-restore --noflush; pure."""
    pre, out = chains(owner)
    lines = ["*nat", f":{pre} - [0:0]", f":{out} - [0:0]"]
    for iface, (address, port) in sorted(bridges.items()):
        lines.append(
            f"-A {pre} -i {iface} {' '.join(_MATCH)} -j DNAT --to-destination {address}:{port}"
        )
    if local_port is not None:
        lines.append(f"-A {out} {' '.join(_MATCH)} -j REDIRECT --to-ports {local_port}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


class CredentialsRouting:
    """This agent's share of the host's nat table."""

    def __init__(
        self, owner: str, run: Run = _run, iptables: str = "iptables", sys_net: Path = SYS_NET
    ) -> None:
        self.owner = owner
        self._run = run
        self._iptables = iptables
        self._sys_net = sys_net
        self._bridges: dict[str, tuple[str, int]] = {}  # interface -> (gateway, port)
        self._local_port: int | None = None
        self._written: str | None = None
        self._lock = threading.Lock()
        self.problem: str | None = None  # why tasks cannot reach the endpoint, if they cannot

    def serve(self, address: str, port: int) -> bool:
        """Route tasks whose gateway is `address` to `address:port` (loopback: host-mode
        tasks, to 127.0.0.1:port). False when it could not be done (see `problem`)."""
        with self._lock:
            if self._routed(address, port):
                return True
            try:
                if address.startswith("127."):
                    self._local_port = port
                else:
                    iface = interface_of(address, self._run)
                    if iface is None:
                        raise OSError(f"no interface of this host holds {address}")
                    self._bridges[iface] = (address, port)
                self._apply()
            except (OSError, subprocess.SubprocessError) as exc:
                if self.problem != str(exc):
                    log.warning("169.254.170.2 is not routed to the credentials endpoint: %s", exc)
                self.problem = str(exc)
                return False
            self.problem = None
            return True

    def _routed(self, address: str, port: int) -> bool:
        """Whether `address` is routed to `port` already (its bridge still there)."""
        if self._written is None:
            return False
        if address.startswith("127."):
            return self._local_port == port
        return any(
            v == (address, port) and (self._sys_net / i).exists() for i, v in self._bridges.items()
        )

    def _apply(self) -> None:
        # Bridges gone (their task networks removed) leave the chain.
        self._bridges = {i: v for i, v in self._bridges.items() if (self._sys_net / i).exists()}
        text = render(self.owner, self._bridges, self._local_port)
        if text != self._written:
            done = self._run([f"{self._iptables}-restore", "--noflush"], stdin=text)
            if done.returncode != 0:
                raise OSError(f"iptables-restore: {done.stderr.strip()}")
            self._written = text
        pre, out = chains(self.owner)
        self._jump("PREROUTING", pre)
        if self._local_port is not None:
            self._jump("OUTPUT", out)

    def _jump(self, hook: str, chain: str) -> None:
        rule = [hook, *_MATCH, "-j", chain]
        if self._run([self._iptables, "-t", "nat", "-C", *rule]).returncode == 0:
            return
        done = self._run([self._iptables, "-t", "nat", "-I", *rule])
        if done.returncode != 0:
            raise OSError(f"iptables -I {hook}: {done.stderr.strip()}")

    def remove(self) -> None:
        """Take this agent's jumps and chains away (nothing else's)."""
        with self._lock:
            remove(self.owner, self._run, self._iptables)
            self._written = None


def remove(owner: str, run: Run = _run, iptables: str = "iptables") -> None:
    """Remove an agent's jumps and chains (also for a test cleaning up after a killed one)."""
    for hook, chain in zip(("PREROUTING", "OUTPUT"), chains(owner), strict=True):
        rule = [hook, *_MATCH, "-j", chain]
        for _ in range(16):  # every copy of the jump, should there be more than one
            if run([iptables, "-t", "nat", "-D", *rule]).returncode != 0:
                break
        run([iptables, "-t", "nat", "-F", chain])
        run([iptables, "-t", "nat", "-X", chain])

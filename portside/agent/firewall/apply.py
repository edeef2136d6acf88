"""The security-group chains applied to this host's iptables (filter table).

`Firewall.apply(view)` compiles the view (compile.py) and writes the agent's chains in one
`iptables-restore --noflush` (atomic: iptables-nft commits the batch as one transaction),
each chain declared, so rewritten whole, and the chains of ENIs no longer here flushed and
deleted in the same batch. Other programs' chains, Docker's included, are never touched but
for two jumps kept with `iptables -C` / `-I`: `DOCKER-USER -> PORTSIDE-SG` (shared by every
agent on the host) and `PORTSIDE-SG -> PSG-<owner>` (this agent's).

Chains outlive their agent on purpose (a restarted agent finds its tasks still guarded and
rewrites them), but not an agent that is gone for good: each PSG chain carries a comment
naming its agent's process (pid and start time), and an agent reading the chains at its
start removes those of agents whose process no longer runs (`dead_owners`).

Bridged traffic (two tasks of one subnet on one Docker bridge) reaches FORWARD, and so these
chains, only when the kernel passes bridged IPv4 frames to iptables: `br_netfilter` loaded
and `net.bridge.bridge-nf-call-iptables = 1`. Docker sets both when it starts; `check()` makes
sure of them (loading the module, setting the sysctl) and says what is missing otherwise.

Not done here: the nat table. Docker masquerades a subnet's traffic only when it leaves the
subnet's bridge (`-s CIDR ! -o br-X -j MASQUERADE`); between two hosts of one subnet bridged
at layer 2 (VXLAN ports on the bridge) nothing is masqueraded and the source-group rules see
the task's own address. A routed design would need `-s VPC -d VPC -j RETURN` ahead of
Docker's MASQUERADE in nat POSTROUTING.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from portside.agent.firewall.compile import (
    HOOK,
    TOP,
    compile_view,
    group_chain,
    owned_prefixes,
)
from portside.gateway.protocol.network import NetworkView

log = logging.getLogger("portside.agent.firewall")

HOOKS_EVERY = 60.0  # seconds between two looks at the jumps (they cost two iptables runs)
BRIDGE_SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
Run = Callable[..., "subprocess.CompletedProcess[str]"]


class FirewallError(Exception):
    """iptables refused, or is not there."""


@dataclass(frozen=True, slots=True)
class Applied:
    """One apply: how many ENIs and rules, how long iptables-restore took (seconds)."""

    enis: int
    rules: int
    restore_seconds: float


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=30)


def ensure_bridge_netfilter(sysctl: Path = BRIDGE_SYSCTL, run: Run = _run) -> None:
    """Make bridged IPv4 traffic traverse iptables (br_netfilter, bridge-nf-call-iptables)."""
    if not sysctl.exists():
        run(["modprobe", "br_netfilter"])
    if not sysctl.exists():
        raise FirewallError(
            "bridged traffic does not reach iptables: the br_netfilter module is not loaded "
            "(modprobe br_netfilter)"
        )
    if sysctl.read_text().strip() != "1":
        try:
            sysctl.write_text("1\n")
        except OSError as exc:
            raise FirewallError(f"cannot set net.bridge.bridge-nf-call-iptables=1: {exc}") from exc


class Firewall:
    """One agent's security-group chains on this host."""

    def __init__(self, owner: str, run: Run = _run, bridge_check: bool = True) -> None:
        self.owner = owner
        self.run = run
        self.bridge_check = bridge_check
        self._chains: set[str] | None = None  # ours as last written (None: not yet read)
        self._checked = False
        self._hooked = False  # the two jumps seen in place since the last failure
        self._hooks_seen = 0.0  # when (monotonic) they were last seen
        self.note = liveness_note(os.getpid())

    def _call(self, argv: Sequence[str], stdin: str | None = None) -> str:
        try:
            done = self.run(argv, stdin)
        except FileNotFoundError as exc:
            raise FirewallError(f"{argv[0]} is not installed: {exc}") from exc
        if done.returncode != 0:
            raise FirewallError(f"{' '.join(argv[:3])}: {done.stderr.strip() or done.returncode}")
        return done.stdout

    def check(self) -> None:
        """iptables is there and bridged traffic reaches it (FirewallError else)."""
        for tool in ("iptables", "iptables-restore", "iptables-save"):
            if shutil.which(tool) is None and self.run is _run:
                raise FirewallError(f"{tool} is not installed (Debian: apt-get install iptables)")
        if self.bridge_check:
            ensure_bridge_netfilter(run=self.run)
        self._checked = True

    def existing(self) -> set[str]:
        """Our chains as iptables has them now; the chains of agents that are gone (their
        process no longer runs) are removed on the way."""
        text = self._call(["iptables-save", "-t", "filter"])
        for owner in sorted(dead_owners(text, self.owner)):
            log.info("removing the security-group chains of agent %s, which is gone", owner)
            Firewall(owner, self.run, bridge_check=False).remove()
        return owned_chains(text, self.owner)

    def _ensure_jump(self, chain: str, target: str, first: bool) -> None:
        if self.run(["iptables", "-w", "5", "-C", chain, "-j", target]).returncode == 0:
            return
        where = ["-I", chain, "1"] if first else ["-A", chain]
        self._call(["iptables", "-w", "5", *where, "-j", target])

    def _ensure_hooks(self) -> None:
        if self.run(["iptables", "-w", "5", "-n", "-L", TOP]).returncode != 0:
            done = self.run(["iptables", "-w", "5", "-N", TOP])
            if done.returncode != 0 and "exists" not in done.stderr:
                raise FirewallError(f"iptables -N {TOP}: {done.stderr.strip()}")
        if self.run(["iptables", "-w", "5", "-n", "-L", HOOK]).returncode != 0:
            # No Docker chain: the jump goes at the top of FORWARD.
            self._ensure_jump("FORWARD", TOP, first=True)
        else:
            self._ensure_jump(HOOK, TOP, first=True)
        self._ensure_jump(TOP, group_chain(self.owner), first=False)

    def apply(self, view: NetworkView) -> Applied | None:
        """Write the chains `view` asks for; None when there is nothing of ours to write or
        remove (a host with no awsvpc task never touches iptables)."""
        if self._chains is None:
            if not view.enis:
                return None
            self.check()
            self._chains = self.existing()
        if not view.enis and not self._chains:
            return None
        if not self._checked:
            self.check()
        ruleset = compile_view(view, self.owner)
        ruleset.chains[group_chain(self.owner)].insert(0, f'-m comment --comment "{self.note}"')
        text = ruleset.restore_text(remove=self._chains)
        started = time.perf_counter()
        try:
            self._call(["iptables-restore", "-w", "5", "--noflush"], text)
        except FirewallError:
            # Read them again next time, and the jumps: iptables is the truth.
            self._chains, self._hooked = None, False
            raise
        took = time.perf_counter() - started
        self._chains = set(ruleset.chains)
        # Looked at again now and then: someone may have flushed DOCKER-USER.
        if not self._hooked or time.monotonic() - self._hooks_seen > HOOKS_EVERY:
            self._ensure_hooks()
            self._hooked, self._hooks_seen = True, time.monotonic()
        rules = sum(len(r) for r in ruleset.chains.values())
        return Applied(len(view.enis), rules, took)

    def remove(self) -> None:
        """Take every chain of ours away, and our jump (the shared PORTSIDE-SG stays while
        another agent's jump is in it; it goes when empty)."""
        mine = group_chain(self.owner)
        while self.run(["iptables", "-w", "5", "-D", TOP, "-j", mine]).returncode == 0:
            pass
        chains = owned_chains(self._call(["iptables-save", "-t", "filter"]), self.owner)
        if chains:
            text = "*filter\n" + "".join(f":{c} - [0:0]\n" for c in sorted(chains))
            text += "".join(f"-X {c}\n" for c in sorted(chains)) + "COMMIT\n"
            self._call(["iptables-restore", "-w", "5", "--noflush"], text)
        self._chains, self._hooked = set(), False
        listed = self.run(["iptables", "-w", "5", "-S", TOP])
        if listed.returncode == 0 and len(listed.stdout.strip().splitlines()) <= 1:
            for hook in (HOOK, "FORWARD"):
                while self.run(["iptables", "-w", "5", "-D", hook, "-j", TOP]).returncode == 0:
                    pass
            self.run(["iptables", "-w", "5", "-X", TOP])


def owned_chains(saved: str, owner: str) -> set[str]:
    """The chains of `owner` in iptables-save's output (pure)."""
    prefixes = owned_prefixes(owner)
    return {
        line[1:].split(" ", 1)[0]
        for line in saved.splitlines()
        if line.startswith(":") and line[1:].startswith(prefixes)
    }


def _started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def liveness_note(pid: int) -> str:
    """What an agent writes in its PSG chain: its process, so another agent on the host can
    tell whether it still runs (pid and start time: a pid used again is another process)."""
    return f"portside-agent pid={pid} start={_started(pid)}"


_NOTE = re.compile(
    r'^-A (PSG-[0-9a-z]+) -m comment --comment "?portside-agent pid=(\d+) start=(\w+)'
)


def dead_owners(saved: str, mine: str, alive: Callable[[int, str], bool] | None = None) -> set[str]:
    """Owners whose PSG chain names an agent process that no longer runs (pure but for
    `alive`, which defaults to a look at /proc). Chains with no note are left alone."""
    check = alive or (lambda pid, start: _started(pid) == start)
    found = set()
    for line in saved.splitlines():
        m = _NOTE.match(line)
        if m is None:
            continue
        owner = m.group(1).removeprefix("PSG-")
        if owner != mine and not check(int(m.group(2)), m.group(3)):
            found.add(owner)
    return found


class NoFirewall:
    """The simulated driver's: nothing to enforce, iptables never touched."""

    def apply(self, view: NetworkView) -> Applied | None:
        return None

    def remove(self) -> None:
        return None

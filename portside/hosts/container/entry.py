"""A container host's first process (PID 1 inside it): prepare the cgroups for a nested
Engine, start dockerd (which starts its own containerd), wait until it answers on its socket,
then start the agent (agent.py) with the signing key the provider left in RUN, and supervise
both. The host lives as long as both do: either one ending ends the container (the provider
then shows the host STOPPED, with the exit status as its reason). SIGTERM (`docker stop`, the
provider's `stop`) stops the agent, then the Engine with its tasks, and exits 0. It also
relays the machine's loopback ports the host needs (the API's, ECR's registry's) from the
host's loopback to the provider's gateway (relay.py).

    python -m portside.hosts.container.entry -- <the agent's command line>

/sys, /proc/sys and the cgroup mounts are read-only in an unprivileged container: they are remounted
read-write first (the container has CAP_SYS_ADMIN and no AppArmor profile). cgroup v2: a
process may not sit in a cgroup whose subtree delegates controllers, so this process moves
into a child cgroup (`init`) and turns every controller on for the subtree, as the Engine's
own docker-in-docker entrypoint does; cgroup v1 needs nothing more (the host's private cgroup
namespace is enough). Logs: RUN/dockerd.log and RUN/agent.log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

from portside.hosts.container.relay import Relay
from portside.hosts.container.spec import AGENT_STATE, CREDENTIALS, RUN, SOCKET, dockerd_command

CGROUP = Path("/sys/fs/cgroup")
ENGINE_WAIT = 120.0  # seconds for dockerd to answer (a loaded machine starts it slowly)


def nest_cgroup_v2(root: Path = CGROUP) -> bool:
    """Move every process of the root cgroup into `init` and delegate all controllers;
    False on cgroup v1 (nothing to do)."""
    controllers = root / "cgroup.controllers"
    if not controllers.exists():
        return False
    (root / "init").mkdir(exist_ok=True)
    for pid in (root / "cgroup.procs").read_text().split():
        with contextlib.suppress(OSError):  # gone meanwhile, or a kernel thread
            (root / "init" / "cgroup.procs").write_text(pid)
    wanted = " ".join(f"+{c}" for c in controllers.read_text().split())
    if wanted:
        (root / "cgroup.subtree_control").write_text(wanted)
    return True


def writable_sys(mountinfo: str = "/proc/self/mountinfo") -> None:
    """/sys, /proc/sys and the cgroup hierarchies read-write (an unprivileged container has
    them read-only; the Engine writes cgroups, and sysctls of its network namespace)."""
    with open(mountinfo) as f:
        points = [line.split()[4] for line in f]
    for point in points:
        if point in ("/sys", "/proc/sys") or point.startswith(str(CGROUP)):
            # Docker makes them read-only per mount point (a bind remount), sysfs per mount.
            for options in ("remount,bind,rw", "remount,rw"):
                done = subprocess.run(["mount", "-o", options, point], capture_output=True)
                if done.returncode == 0:
                    break


def seed_identity(state_dir: Path, instance_id: str) -> None:
    """The agent registers with the instance id it finds saved: make it the EC2 instance's."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "instance.json"
    saved = orjson.loads(path.read_bytes()) if path.exists() else {}
    if saved.get("ec2InstanceId") != instance_id:
        saved = {"ec2InstanceId": instance_id}  # another instance's state: start afresh
        path.write_bytes(orjson.dumps(saved))


def engine_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


def relay_loopback(gateway: str, ports: str) -> list[Relay]:
    """The machine's loopback ports (the API's, the registry's) on this host's loopback,
    relayed to the provider's gateway (relay.py)."""
    relays = []
    for port in filter(None, ports.split(",")):
        with contextlib.suppress(OSError):  # taken (the agent's metadata port): skipped
            relays.append(Relay("127.0.0.1", gateway, int(port)))
    return relays


class Supervisor:
    def __init__(self, agent_argv: list[str]) -> None:
        self.agent_argv = agent_argv
        self.run = Path(RUN)
        self.stopping = False
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.relays: list[Relay] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.run / f"{name}.log", "ab")  # noqa: SIM115 (the child holds it)
        self.children[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        log.close()

    def ended(self) -> str | None:
        """The first child that has exited, reaping every exited process (we are PID 1)."""
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        for name, child in self.children.items():
            if child.poll() is not None:
                return f"{name} exited with code {child.returncode}"
        return None

    def main(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        writable_sys()
        nest_cgroup_v2()
        seed_identity(self.run / AGENT_STATE, os.environ.get("PORTSIDE_HOST_INSTANCE_ID", ""))
        if gateway := os.environ.get("PORTSIDE_HOST_GATEWAY"):
            self.relays = relay_loopback(gateway, os.environ.get("PORTSIDE_HOST_LOOPBACK", ""))
        env = dict(os.environ)
        self.spawn("dockerd", dockerd_command(), env)
        sock = f"{RUN}/{SOCKET}"
        deadline = time.monotonic() + ENGINE_WAIT
        while not self.stopping and not engine_answers(sock):
            why = self.ended()
            if why or time.monotonic() > deadline:
                print(why or "dockerd did not answer", file=sys.stderr, flush=True)
                return self.shutdown(1)
            time.sleep(0.1)
        if self.stopping:
            return self.shutdown(0)
        keys = orjson.loads((self.run / CREDENTIALS).read_bytes())
        self.spawn(
            "agent",
            self.agent_argv,
            {**env, "DOCKER_HOST": f"unix://{sock}", **{k: str(v) for k, v in keys.items()}},
        )
        while not self.stopping:
            why = self.ended()
            if why:
                print(why, file=sys.stderr, flush=True)
                return self.shutdown(1)
            time.sleep(0.2)
        return self.shutdown(0)

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def shutdown(self, code: int) -> int:
        """The agent first (its tasks keep running until the Engine stops them), then dockerd."""
        for name in ("agent", "dockerd"):
            child = self.children.get(name)
            if child is None or child.poll() is not None:
                continue
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return code


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    sys.exit(Supervisor(argv).main())


if __name__ == "__main__":
    main()

"""A Docker Engine of the test's own, to kill -9 and restart without touching the machine's
main one (other tests use it): its own socket, data root, exec root, pid file and cgroup
parent; a bridge of its own and no iptables rules, so it cannot disturb the main daemon's
networks. (Not `--bridge=none`: a dockerd started so deletes the host's `docker0`, which
every container of the main daemon needs.) Its tasks use host networking.

It runs on a containerd of its own, started apart (as distributions run docker.service and
containerd.service), which a kill of dockerd leaves running. A containerd started by dockerd
dies with it, and where PID 1 does not reap orphans (as in this VM) its zombie keeps the
restarted dockerd waiting for it until it gives up.

    daemon = Dockerd("ab12cd34", live_restore=False, log_path=tmp / "dockerd.log").start()
    daemon.host   # unix:///run/portside-chaos/ab12cd34/docker.sock: DOCKER_HOST for an agent
    daemon.kill(); daemon.start()
    daemon.close()  # its containers removed, the daemon stopped, its directories gone
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from harness import Process

RUN_ROOT = Path("/run/portside-chaos")
DATA_ROOT = Path("/var/lib/portside-chaos")


def unavailable() -> str | None:
    """Why no second dockerd can run here, or None."""
    if shutil.which("dockerd") is None:
        return "no dockerd binary"
    if os.geteuid() != 0:
        return "a second dockerd needs root"
    return None


class Dockerd:
    def __init__(self, name: str, *, live_restore: bool, log_path: Path) -> None:
        self.run_dir = RUN_ROOT / name
        self.data_dir = DATA_ROOT / name
        self.live_restore = live_restore
        self.log_path = log_path
        # Both log to the one file, which the log check does not read (not our format).
        self.dockerd = Process(
            log_path, name="dockerd", stop_wait=60.0, kill_wait=30.0, checked=False
        )
        self.containerd = Process(
            log_path, name="containerd", stop_wait=30.0, kill_wait=30.0, checked=False
        )
        self.bridge = f"psc{name[:10]}"  # interface names are at most 15 characters

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd" / "containerd.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.run_dir / 'docker.sock'}"

    def argv(self) -> list[str]:
        argv = [
            "dockerd",
            "-H",
            self.host,
            "--data-root",
            str(self.data_dir),
            "--exec-root",
            str(self.run_dir / "exec"),
            "--pidfile",
            str(self.run_dir / "docker.pid"),
            "--containerd",
            str(self.containerd_socket),
            "--cgroup-parent",
            f"/portside-chaos-{self.run_dir.name}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
        ]
        # --debug: its log names every API call (what the agent asked of it, and when).
        return [*argv, "--debug", "--live-restore"] if self.live_restore else [*argv, "--debug"]

    def log(self) -> str:
        return self.dockerd.log()

    def client(self, timeout: int = 30) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def _start_containerd(self, timeout: float) -> None:
        state = self.run_dir / "containerd"
        state.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "containerd.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.data_dir / "containerd"}"\n'
            f'state = "{state}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.containerd_socket}"\n'
            '[ttrpc]\n  address = ""\n'
            f'[debug]\n  address = "{state / "debug.sock"}"\n'
            '[metrics]\n  address = ""\n'
        )
        offset = self.containerd.spawn(["containerd", "--config", str(config)], new_session=True)
        self.containerd.wait_until(self.containerd_socket.exists, timeout, offset)

    def start(self, timeout: float = 60) -> Dockerd:
        """Start it (and its containerd, the first time) and wait until it answers a ping."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not Path(f"/sys/class/net/{self.bridge}").exists():
            subprocess.run(
                ["ip", "link", "add", self.bridge, "type", "bridge"],
                check=True,
                capture_output=True,
            )
        if not self.containerd.running():
            self._start_containerd(timeout)
        offset = self.dockerd.spawn(self.argv(), new_session=True)
        self.dockerd.wait_until(self._answers, timeout, offset, every=0.1)
        return self

    def _answers(self) -> bool:
        try:
            client = self.client(timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def kill(self) -> None:
        """kill -9 of dockerd (its containerd and the containers' shims stay)."""
        self.dockerd.kill()

    def close(self) -> None:
        if self.dockerd.running():
            with contextlib.suppress(Exception):
                client = self.client()
                for container in client.containers.list(all=True):
                    container.remove(force=True, v=True)
                client.close()
        self.dockerd.stop()
        self.containerd.stop()
        # What outlived it (a daemon that failed to start again cannot remove its
        # containers): the shims of its containers and their processes, found by its paths.
        for pid in self._shims():
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        # What it mounted and did not unmount (its data root, the netns of its host
        # network), deepest first.
        for mount in sorted(self._mounts(), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)
        for cgroup in Path("/sys/fs/cgroup").glob(f"*/portside-chaos-{self.run_dir.name}"):
            with contextlib.suppress(OSError):
                for child in sorted(cgroup.rglob("*"), reverse=True):
                    if child.is_dir():
                        child.rmdir()
                cgroup.rmdir()

    def _shims(self) -> list[int]:
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if argv[0].endswith(b"containerd-shim-runc-v2") and any(
                    str(self.run_dir).encode() in a for a in argv
                ):
                    found.append(int(proc.name))
        return found

    def _mounts(self) -> list[str]:
        found = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4]
                if point.startswith((str(self.run_dir), str(self.data_dir))):
                    found.append(point)
        return found

"""What api_throughput.py runs besides the working tree, set up before its servers start.

- Portside at an older commit: a detached `git worktree` in the run's temp dir (removed after),
  imported by the project's own interpreter through PYTHONPATH. The launcher prints which
  copy of `portside` it imported, so the run can check that the old code really is what runs.
- MiniStack (PyPI `ministack`), in a virtualenv of its own under the user's cache dir, created
  and filled with `pip install ministack==<version>` the first time. Not in .venv: ministack
  1.5 pins `botocore==` an older release than the project's boto3 needs, so installing it
  there downgrades botocore under every other user of .venv.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MINISTACK_VERSION = "1.5.33"

# `python -P -c LAUNCH server ...`: the `portside` console script, plus a line in the server's
# log naming the package file it imported (-P: no cwd on sys.path, so PYTHONPATH decides).
IMPORTED_FROM = "portside imported from "
LAUNCH = (
    "import sys, portside; "
    f"print({IMPORTED_FROM!r} + portside.__file__, flush=True); "
    "from portside.cli.main import main; "
    "sys.argv[0] = 'portside'; "
    "sys.exit(main())"
)


def portside_argv(*args: str) -> list[str]:
    """The project's interpreter running the Portside CLI from whatever PYTHONPATH names."""
    return [sys.executable, "-P", "-c", LAUNCH, *args]


def imported_from(log_text: str) -> Path | None:
    """The package directory a LAUNCH-started server says it imported."""
    for line in log_text.splitlines():
        if line.startswith(IMPORTED_FROM):
            return Path(line[len(IMPORTED_FROM) :].strip()).parent
    return None


# -- git ---------------------------------------------------------------------------------------


def git(*args: str) -> str:
    """A read-mostly git command on the project (no optional index locks: other people work in
    this tree at the same time)."""
    out = subprocess.run(
        ["git", "--no-optional-locks", "-C", str(ROOT), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@dataclass(frozen=True)
class Revision:
    commit: str
    subject: str
    uncommitted_files: int = 0  # changed or new files under portside/ (working tree only)

    @property
    def short(self) -> str:
        return self.commit[:7]

    def describe(self) -> str:
        extra = f" + {self.uncommitted_files} uncommitted files" if self.uncommitted_files else ""
        return f"{self.short}{extra} ({self.subject})"

    def as_json(self) -> dict[str, object]:
        return {
            "commit": self.commit,
            "subject": self.subject,
            "uncommitted_files_under_portside": self.uncommitted_files,
        }


def resolve(commit: str) -> Revision:
    sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    return Revision(sha, git("log", "-1", "--format=%s", sha))


def working_tree() -> Revision:
    head = resolve("HEAD")
    changed = git("status", "--porcelain", "--", "portside").splitlines()
    return Revision(head.commit, head.subject, len(changed))


@contextlib.contextmanager
def worktree(revision: Revision, parent: Path) -> Iterator[Path]:
    """The code at `revision`, checked out in a detached worktree under `parent`; removed
    (with the __pycache__ its server wrote) on the way out."""
    path = parent / f"portside-{revision.short}"
    git("worktree", "add", "--quiet", "--detach", str(path), revision.commit)
    try:
        yield path
    finally:
        try:
            git("worktree", "remove", "--force", str(path))
        except subprocess.CalledProcessError as exc:
            print(f"warning: git worktree remove {path}: {exc.stderr}", file=sys.stderr)
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(subprocess.CalledProcessError):
                git("worktree", "prune")


# -- MiniStack ---------------------------------------------------------------------------------


def ministack_home(version: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache / "portside-bench" / f"ministack-{version}-{py}"


def ensure_ministack(version: str = MINISTACK_VERSION) -> Path:
    """The interpreter of a virtualenv that has ministack==`version`, installed on demand."""
    home = ministack_home(version)
    python = home / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('ministack'))"]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        if subprocess.run(probe, check=True, capture_output=True, text=True).stdout.strip() == (
            version
        ):
            return python
    print(f"installing ministack=={version} into {home} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"ministack=={version}"], check=True)
    return python


def ministack_env(base: dict[str, str], port: int, workdir: Path) -> dict[str, str]:
    """MiniStack's defaults, except: our port on loopback only; its pid file in our temp dir;
    no Docker daemon (the mix runs no task; at boot it would sweep the daemon for containers
    of earlier MiniStacks, and reap periodically after); no IoT MQTT listener (a fixed port,
    8883, that a second run on the machine would collide on)."""
    return {
        **base,
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "TMPDIR": str(workdir),
        "DOCKER_HOST": f"unix://{workdir / 'no-docker.sock'}",
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
    }

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from harness import ServerProcess

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "portside"), *args], capture_output=True, text=True, env=env, timeout=30
    )


def test_version() -> None:
    out = _run("version")
    assert out.returncode == 0
    assert out.stdout.startswith("portside ")


def test_env_creates_a_private_key_and_exports_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORTSIDE_"))}
    out = _run("env", "--data-dir", str(tmp_path), env=env)
    assert out.returncode == 0, out.stderr
    lines = dict(
        line.removeprefix("export ").split("=", 1) for line in out.stdout.strip().splitlines()
    )
    assert set(lines) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    }
    assert lines["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4810"
    mode = stat.S_IMODE((tmp_path / "credentials.json").stat().st_mode)
    assert mode == 0o600
    # The same key on every call.
    assert _run("env", "--data-dir", str(tmp_path), env=env).stdout == out.stdout


def test_eval_env_drives_the_aws_cli(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d").start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        script = (
            f'eval "$(portside env --data-dir {server.data_dir})" && '
            "aws ecs create-cluster --cluster-name demo --query cluster.status --output text"
        )
        out = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "ACTIVE"
    finally:
        server.stop()


def test_server_creates_its_key_on_first_start_and_keeps_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PORTSIDE_"))}
    data = tmp_path / "d"
    first = _run("env", "--data-dir", str(data), env=env).stdout
    assert (data / "credentials.json").exists()
    preset = dict(env, PORTSIDE_ACCESS_KEY_ID="AKPRESET", PORTSIDE_SECRET_ACCESS_KEY="s3cret")
    second = _run("env", "--data-dir", str(data), env=preset).stdout
    assert "AKPRESET" in second and "AKPRESET" not in first

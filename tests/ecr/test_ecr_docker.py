"""ECR with a real Docker Engine, as a user works: build an image, `docker login` with the
password of get-login-password, `docker push` it to the repository, see it in DescribeImages,
remove it locally and `docker pull` it back. A push to a repository that does not exist,
and one with a wrong password, are refused."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.images import busybox_image, docker_available

from portside.registry.process import find_binary

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_binary() is None, reason="no docker-registry; run scripts/ensure-registry.sh"
    ),
]


class DockerCli:
    """The docker CLI with a configuration directory of its own (its logins stay there)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.made: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> Any:
        proc = subprocess.run(
            ["docker", "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check:
            assert proc.returncode == 0, f"docker {args[0]}: {proc.stdout}{proc.stderr}"
        return proc

    def tag(self, source: str, target: str) -> None:
        self("tag", source, target)
        self.made.append(target)


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[DockerCli]:
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    cli = DockerCli(tmp_path / "docker-config")
    cli.config.mkdir()
    yield cli
    for image in cli.made:
        cli("rmi", "-f", image, check=False)


def _login_password(ecr: Any) -> tuple[str, str]:
    (data,) = ecr.get_authorization_token()["authorizationData"]
    return data["proxyEndpoint"], base64.b64decode(data["authorizationToken"]).decode()[4:]


def test_push_describe_pull(ecr: Any, repo: str, docker: DockerCli) -> None:
    source = busybox_image()
    uri = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryUri"]
    endpoint, password = _login_password(ecr)
    login = docker("login", "-u", "AWS", "--password-stdin", endpoint, stdin=password)
    assert "Login Succeeded" in login.stdout
    docker.tag(source, f"{uri}:v1")
    pushed = docker("push", f"{uri}:v1").stdout
    digest = pushed.split("digest: ")[1].split()[0]

    (image,) = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert image["imageDigest"] == digest
    assert image["imageTags"] == ["v1"]
    assert image["imageSizeInBytes"] > 0

    local_id = docker("image", "inspect", "-f", "{{.Id}}", source).stdout.strip()
    docker("rmi", f"{uri}:v1")
    pulled = docker("pull", f"{uri}:v1").stdout
    assert digest in pulled
    assert docker("image", "inspect", "-f", "{{.Id}}", f"{uri}:v1").stdout.strip() == local_id


def test_refused_pushes(ecr: Any, repo: str, docker: DockerCli) -> None:
    source = busybox_image()
    uri = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryUri"]
    host = uri.split("/")[0]
    endpoint, password = _login_password(ecr)
    docker("login", "-u", "AWS", "--password-stdin", endpoint, stdin=password)

    missing = f"{host}/nothing-{uuid.uuid4().hex[:8]}:v1"
    docker.tag(source, missing)
    refused = docker("push", missing, check=False)
    assert refused.returncode != 0
    assert "denied" in refused.stderr

    bad_login = docker(
        "login", "-u", "AWS", "--password-stdin", endpoint, stdin="wrong", check=False
    )
    assert bad_login.returncode != 0
    assert "unauthorized" in bad_login.stderr.lower()

    # Credentials saved for the registry but wrong: the push is refused, nothing lands.
    wrong = base64.b64encode(b"AWS:wrong").decode()
    (docker.config / "config.json").write_text(json.dumps({"auths": {host: {"auth": wrong}}}))
    docker.tag(source, f"{uri}:v2")
    refused = docker("push", f"{uri}:v2", check=False)
    assert refused.returncode != 0
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []

"""`docker login` for ECR: GetAuthorizationToken (boto3 and AWS CLI v2's get-login-password),
the token server's answers and grants, and the registry process kept running."""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from harness import AWS_V2, ServerProcess
from pushing import Pusher

from portside.ecr.authorization import password
from portside.registry.keys import SigningKey


def test_authorization_token(ecr: Any, repo: str) -> None:
    before = time.time()
    (data,) = ecr.get_authorization_token()["authorizationData"]
    user, _, secret = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and secret
    assert abs(data["expiresAt"].timestamp() - (before + 12 * 3600)) < 60
    (shown,) = ecr.describe_repositories(repositoryNames=[repo])["repositories"]
    assert data["proxyEndpoint"] == "http://" + shown["repositoryUri"].split("/")[0]


def test_cli_v2_login_password_logs_in(server: ServerProcess, repo: str, pusher: Pusher) -> None:
    if not Path(AWS_V2).exists():
        import pytest

        pytest.skip("no AWS CLI v2 (/usr/bin/aws); run scripts/ensure-test-deps.sh")
    proc = server.aws("ecr", "get-login-password", v2=True, check=False)
    assert proc.returncode == 0, proc.stderr
    cli = Pusher(pusher.url, "AWS", proc.stdout.strip())
    assert cli.token_granted(repo) == [
        {"type": "repository", "name": repo, "actions": ["pull", "push"]}
    ]


def test_token_server_grants(repo: str, pusher: Pusher) -> None:
    assert pusher.token_granted(repo, "pull") == [
        {"type": "repository", "name": repo, "actions": ["pull"]}
    ]
    # ECR requires the repository first: nothing is granted on a name no repository holds.
    assert pusher.token_granted(repo + "-nothing-here") == []
    catalog = pusher.token_reply("registry:catalog:*")
    assert catalog.status_code == 200 and pusher.granted_by(catalog) == []
    login = pusher.token_reply(None)  # what `docker login` asks for
    assert login.status_code == 200 and login.json()["expires_in"] > 0


def test_token_server_refuses_bad_passwords(server: ServerProcess, pusher: Pusher) -> None:
    assert pusher.token_reply(None, password="not-a-password").status_code == 401
    assert Pusher(pusher.url, "someone", pusher.password).token_reply(None).status_code == 401
    realm = pusher.challenge()["realm"]
    assert httpx.get(realm, timeout=10).status_code == 401  # no credentials at all
    key = SigningKey.load_or_create(server.data_dir / "registry")
    stale = password(key, "000000000000", "us-east-1", "arn", time.time() - 13 * 3600)
    assert pusher.token_reply(None, password=stale).status_code == 401
    forged = password(SigningKey.generate(), "000000000000", "us-east-1", "arn", time.time())
    assert pusher.token_reply(None, password=forged).status_code == 401


def test_the_registry_refuses_calls_without_a_token(repo: str, pusher: Pusher) -> None:
    assert pusher.http.get(f"/v2/{repo}/tags/list").status_code == 401
    assert pusher.http.post(f"/v2/{repo}/blobs/uploads/").status_code == 401


def test_a_registry_that_dies_is_restarted(
    server: ServerProcess, repo: str, pusher: Pusher
) -> None:
    pid_file = server.data_dir / "registry" / "registry.pid"
    first = int(pid_file.read_text())
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        try:
            now = int(pid_file.read_text())
        except (OSError, ValueError):
            now = first
        if now != first:
            break
        assert time.monotonic() < deadline, "the registry was not started again"
        time.sleep(0.05)
    pusher.wait_ready()
    pushed = pusher.push(repo, "after-restart")
    assert pusher.pull_manifest(repo, "after-restart").headers["docker-content-digest"] == (
        pushed.digest
    )

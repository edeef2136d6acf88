"""Secrets Manager through the AWS CLI v2 (Debian's /usr/bin/aws 2.9) as a user types it."""

from __future__ import annotations

from typing import Any

from harness import ServerProcess


def test_create_get_put_delete(server: ServerProcess, name: str) -> None:
    def aws(*args: str) -> Any:
        return server.aws("secretsmanager", *args, v2=True)

    made = aws("create-secret", "--name", name, "--secret-string", '{"user":"app"}')
    assert made["Name"] == name
    assert aws("get-secret-value", "--secret-id", name)["SecretString"] == '{"user":"app"}'
    put = aws("put-secret-value", "--secret-id", made["ARN"], "--secret-string", "second")
    assert put["VersionStages"] == ["AWSCURRENT"]
    gone = aws("delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert gone["ARN"] == made["ARN"]
    failed = server.aws(
        "secretsmanager", "get-secret-value", "--secret-id", name, check=False, v2=True
    )
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr
    assert "Secrets Manager can't find the specified secret." in failed.stderr

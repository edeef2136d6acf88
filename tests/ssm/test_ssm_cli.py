"""Parameter Store through the AWS CLI v2 (Debian's /usr/bin/aws 2.9) as a user types it:
put-parameter, get-parameter and get-parameters-by-path, in one run of a few calls."""

from __future__ import annotations

from harness import ServerProcess


def test_put_get_and_by_path_with_cli_v2(server: ServerProcess, name: str) -> None:
    def aws(*args: str) -> dict[str, object]:
        answer = server.aws("ssm", *args, v2=True)
        assert isinstance(answer, dict)
        return answer

    put = aws(
        "put-parameter", "--name", f"/{name}/db/url", "--value", "pg://db", "--type", "String"
    )
    assert put == {"Version": 1, "Tier": "Standard"}
    aws("put-parameter", "--name", f"/{name}/db/pw", "--value", "s3cr3t", "--type", "SecureString")
    got = aws("get-parameter", "--name", f"/{name}/db/pw", "--with-decryption")["Parameter"]
    assert isinstance(got, dict) and (got["Value"], got["Type"]) == ("s3cr3t", "SecureString")
    listed = aws("get-parameters-by-path", "--path", f"/{name}", "--recursive")["Parameters"]
    assert isinstance(listed, list)
    assert [(p["Name"], p["Value"] != "s3cr3t") for p in listed] == [
        (f"/{name}/db/pw", True),
        (f"/{name}/db/url", True),
    ]
    missing = server.aws("ssm", "get-parameter", "--name", f"/{name}/nope", check=False, v2=True)
    assert missing.returncode == 254
    assert "An error occurred (ParameterNotFound) when calling the GetParameter operation" in (
        missing.stderr
    )

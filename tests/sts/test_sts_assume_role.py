"""STS through boto3 against a running server: AssumeRole allowed and refused by the role's
trust policy, its durations and session limits, the temporary key signing GetCallerIdentity
as the role session (and refused without its session token), GetSessionToken for a user,
and DecodeAuthorizationMessage's refusal of what it did not encode."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_query import query_client
from botocore.config import Config
from botocore.exceptions import ClientError
from harness import REGION, ServerProcess

ACCOUNT = "000000000000"


def _client(
    server: ServerProcess, service: str, creds: dict[str, Any], validate: bool = True
) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def _trust(principal: dict[str, Any], condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return query_client(server, "iam")


@pytest.fixture
def sts(server: ServerProcess) -> Any:
    return query_client(server, "sts")


@pytest.fixture
def alice(iam: Any, name: str) -> Iterator[dict[str, Any]]:
    """An IAM user with a key, allowed every sts action by its own policy."""
    user = f"{name}-alice"
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="sts", PolicyDocument=json.dumps(allow))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    yield {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "Arn": arn}
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=user, PolicyName="sts")
    iam.delete_user(UserName=user)


def _role(iam: Any, name: str, trust: str, **kwargs: Any) -> dict[str, Any]:
    return dict(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kwargs)["Role"])


def test_assumed_role_key_signs_as_the_session(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    role = _role(iam, name, _trust({"AWS": alice["Arn"]}), Path="/app/")
    as_alice = _client(server, "sts", alice)
    before = time.time()
    out = as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="build-42", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"] == {
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/build-42",
        "AssumedRoleId": f"{role['RoleId']}:build-42",
    }
    expires = creds["Expiration"].timestamp()
    assert before + 890 <= expires <= time.time() + 901

    me = _client(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/build-42"
    assert me["UserId"] == f"{role['RoleId']}:build-42"
    assert me["Account"] == ACCOUNT
    # The user itself is the user, with its own id.
    assert as_alice.get_caller_identity()["Arn"] == alice["Arn"]
    assert as_alice.get_caller_identity()["UserId"].startswith("AIDA")
    # GetRole shows when the role was last assumed.
    assert iam.get_role(RoleName=name)["Role"]["RoleLastUsed"]["Region"] == REGION


def test_the_session_token_must_come_with_the_key(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    role = _role(iam, name, _trust({"AWS": alice["Arn"]}))
    creds = _client(server, "sts", alice).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")[
        "Credentials"
    ]
    for token in (None, creds["SessionToken"][:-4] + "AAAA"):
        with pytest.raises(ClientError) as exc:
            _client(server, "sts", {**creds, "SessionToken": token}).get_caller_identity()
        assert _error(exc) == (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            403,
        )


def test_trust_policy_refusals(
    server: ServerProcess, sts: Any, iam: Any, alice: dict[str, Any], name: str
) -> None:
    other = f"arn:aws:iam::{ACCOUNT}:user/{name}-someone-else"
    iam.create_user(UserName=f"{name}-someone-else")
    role = _role(iam, name, _trust({"AWS": other}))
    tasks_only = _role(iam, f"{name}-t", _trust({"Service": "ecs-tasks.amazonaws.com"}))
    as_alice = _client(server, "sts", alice)
    for arn in (
        role["Arn"],
        tasks_only["Arn"],
        f"arn:aws:iam::{ACCOUNT}:role/{name}-missing",
        f"arn:aws:iam::{ACCOUNT}:role/wrong-path/{name}",
    ):
        with pytest.raises(ClientError) as exc:
            as_alice.assume_role(RoleArn=arn, RoleSessionName="s1")
        assert _error(exc) == (
            "AccessDenied",
            f"User: {alice['Arn']} is not authorized to perform: sts:AssumeRole on resource: {arn}",
            403,
        )
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")  # the admin key: root
    assert _error(exc) == ("AccessDenied", "Roles may not be assumed by root accounts.", 403)


def test_external_id_condition(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    condition = {"StringEquals": {"sts:ExternalId": "xyz-123"}}
    role = _role(iam, name, _trust({"AWS": alice["Arn"]}, condition))
    as_alice = _client(server, "sts", alice)
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="nope-123")
    assert _error(exc)[0] == "AccessDenied"
    out = as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="xyz-123")
    assert out["AssumedRoleUser"]["Arn"].endswith(f"/{name}/s1")


def test_durations_and_names(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    role = _role(iam, name, _trust({"AWS": alice["Arn"]}))
    long_role = _role(iam, f"{name}-l", _trust({"AWS": alice["Arn"]}), MaxSessionDuration=7200)
    as_alice = _client(server, "sts", alice, validate=False)
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    assert _error(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=899)
    code, message, status = _error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "durationSeconds" in message
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="has space")
    assert _error(exc)[0] == "ValidationError"
    out = as_alice.assume_role(RoleArn=long_role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"].timestamp() > time.time() + 7000
    # Role chaining: a session assuming a role gets an hour at most.
    chained = _client(server, "sts", out["Credentials"])
    iam.update_assume_role_policy(
        RoleName=name,
        PolicyDocument=_trust({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}-l/s1"}),
    )
    with pytest.raises(ClientError) as exc:
        chained.assume_role(RoleArn=role["Arn"], RoleSessionName="c1", DurationSeconds=3601)
    assert _error(exc)[1] == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining."
    )
    again = chained.assume_role(RoleArn=role["Arn"], RoleSessionName="c1")
    assert again["AssumedRoleUser"]["Arn"].endswith(f"/{name}/c1")


def test_session_policy_and_tags(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    role = _role(iam, name, _trust({"AWS": alice["Arn"]}))
    as_alice = _client(server, "sts", alice)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    out = as_alice.assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="s1",
        Policy=policy,
        Tags=[{"Key": "team", "Value": "blue"}],
        TransitiveTagKeys=["team"],
    )
    assert 0 < out["PackedPolicySize"] <= 100
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Policy="{not json")
    assert _error(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        as_alice.assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="s1",
            Tags=[{"Key": "team", "Value": "a"}, {"Key": "TEAM", "Value": "b"}],
        )
    assert _error(exc)[:2] == (
        "ValidationError",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )


def test_get_session_token(server: ServerProcess, sts: Any, alice: dict[str, Any]) -> None:
    out = _client(server, "sts", alice).get_session_token(DurationSeconds=1800)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session = _client(server, "sts", creds)
    me = session.get_caller_identity()
    assert me["Arn"] == alice["Arn"]
    assert me["UserId"].startswith("AIDA")
    with pytest.raises(ClientError) as exc:
        session.get_session_token()
    assert _error(exc) == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
        403,
    )
    # The root's sessions last an hour at most.
    root = sts.get_session_token(DurationSeconds=7200)["Credentials"]
    assert root["Expiration"].timestamp() <= time.time() + 3601


def test_decode_authorization_message_refuses_garbage(sts: Any) -> None:
    with pytest.raises(ClientError) as exc:
        sts.decode_authorization_message(EncodedMessage="bm90IGEgbWVzc2FnZQ")
    assert _error(exc)[0] == "InvalidAuthorizationMessageException"


def test_account_trust_needs_an_identity_policy(
    server: ServerProcess, iam: Any, alice: dict[str, Any], name: str
) -> None:
    """A trust policy naming only the account leaves the choice to the caller's own
    policies: alice's allow sts:*, bob has none."""
    role = _role(iam, name, _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    out = _client(server, "sts", alice).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert out["AssumedRoleUser"]["Arn"].endswith(f"/{name}/s1")
    bob = iam.create_user(UserName=f"{name}-bob")["User"]["Arn"]
    key = iam.create_access_key(UserName=f"{name}-bob")["AccessKey"]
    with pytest.raises(ClientError) as exc:
        _client(server, "sts", key).assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    code, message, _ = _error(exc)
    assert code == "AccessDenied"
    # The edge's enforcement may refuse first, adding AWS's reason.
    assert message.startswith(
        f"User: {bob} is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    )

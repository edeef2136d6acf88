"""GetRandomPassword, tags, resource policies and RotateSecret through boto3."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from sm_support import error_of

from portside.secretsmanager.passwords import PUNCTUATION


def test_random_password_defaults(sm: Any) -> None:
    for _ in range(5):
        password = sm.get_random_password()["RandomPassword"]
        assert len(password) == 32
        for kind in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION):
            assert any(c in kind for c in password), (password, kind)
        assert " " not in password


def test_random_password_options(sm: Any) -> None:
    got = sm.get_random_password(
        PasswordLength=64, ExcludePunctuation=True, ExcludeCharacters="abcdefABCDEF0123"
    )["RandomPassword"]
    assert len(got) == 64
    assert set(got) <= set(string.ascii_letters + string.digits) - set("abcdefABCDEF0123")
    digits = sm.get_random_password(
        PasswordLength=4,
        ExcludeLowercase=True,
        ExcludeUppercase=True,
        ExcludePunctuation=True,
        IncludeSpace=True,
    )["RandomPassword"]
    assert set(digits) <= set(string.digits + " ") and " " in digits
    assert (
        len(
            sm.get_random_password(PasswordLength=1, RequireEachIncludedType=False)[
                "RandomPassword"
            ]
        )
        == 1
    )
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.get_random_password(PasswordLength=3)  # four kinds, each required
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.get_random_password(
            ExcludeLowercase=True,
            ExcludeUppercase=True,
            ExcludeNumbers=True,
            ExcludePunctuation=True,
        )


def test_tags(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, Tags=[{"Key": "a", "Value": "1"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    assert sm.describe_secret(SecretId=name)["Tags"] == [
        {"Key": "a", "Value": "2"},
        {"Key": "b", "Value": "3"},
    ]
    sm.untag_resource(SecretId=name, TagKeys=["a", "zz"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "3"}]
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.tag_resource(SecretId=name + "-nope", Tags=[{"Key": "a", "Value": "1"}])


def _policy(principal: Any, **extra: Any) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "secretsmanager:GetSecretValue",
    }
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{**statement, **extra, "Resource": "*"}]}
    )


def test_resource_policies(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name)["ARN"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    policy = _policy({"AWS": "arn:aws:iam::000000000000:root"})
    assert sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)["ARN"] == arn
    assert sm.get_resource_policy(SecretId=name)["ResourcePolicy"] == policy
    with pytest.raises(sm.exceptions.PublicPolicyException):
        sm.put_resource_policy(SecretId=name, ResourcePolicy=_policy("*"), BlockPublicPolicy=True)
    sm.put_resource_policy(
        SecretId=name, ResourcePolicy=_policy("*", Condition={"Bool": {}}), BlockPublicPolicy=True
    )
    with pytest.raises(sm.exceptions.MalformedPolicyDocumentException):
        sm.put_resource_policy(SecretId=name, ResourcePolicy="{not json")
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    valid = sm.validate_resource_policy(SecretId=name, ResourcePolicy=policy)
    assert valid["PolicyValidationPassed"] is True and valid["ValidationErrors"] == []
    broken = sm.validate_resource_policy(
        ResourcePolicy=json.dumps({"Statement": [{"Effect": "Maybe"}]})
    )
    assert broken["PolicyValidationPassed"] is False
    assert len(broken["ValidationErrors"]) == 3


def test_rotation_is_refused(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(sm.exceptions.InvalidRequestException) as no_lambda:
        sm.rotate_secret(SecretId=name)
    assert (
        error_of(no_lambda)[1] == "No Lambda rotation function ARN is associated with this secret."
    )
    with pytest.raises(sm.exceptions.ClientError) as denied:
        sm.rotate_secret(
            SecretId=name,
            RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:rotate",
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    assert error_of(denied)[0] == "AccessDeniedException"
    assert error_of(denied)[1].startswith(
        "Secrets Manager cannot invoke the specified Lambda function."
    )
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(SecretId=name + "-nope")

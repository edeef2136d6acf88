"""Users with a policy and a key, for the enforcement tests: each test makes its own (named
after the test's fresh name) and they are removed after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_query import query_client
from enforce_users import User
from harness import ServerProcess


@pytest.fixture
def iam(server: ServerProcess) -> Any:
    return query_client(server, "iam")


@pytest.fixture
def make_user(server: ServerProcess, iam: Any, name: str) -> Iterator[Callable[..., User]]:
    made: list[User] = []

    def make(policy: str | None, suffix: str = "", tags: dict[str, str] | None = None) -> User:
        user_name = f"{name}{suffix}"
        extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
        arn = iam.create_user(UserName=user_name, **extra)["User"]["Arn"]
        key = iam.create_access_key(UserName=user_name)["AccessKey"]
        user = User(server, iam, user_name, arn, key)
        if policy is not None:
            user.set_policy(policy)
        made.append(user)
        return user

    yield make
    for user in made:
        for k in iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user.name, AccessKeyId=k["AccessKeyId"])
        for p in iam.list_user_policies(UserName=user.name)["PolicyNames"]:
            iam.delete_user_policy(UserName=user.name, PolicyName=p)
        iam.delete_user(UserName=user.name)

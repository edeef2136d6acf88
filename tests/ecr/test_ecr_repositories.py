"""ECR's repositories through boto3: create (name rules, settings, tags), describe (by name,
paging), delete (empty, not empty, force), settings, tags and policies, with ECR's errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ServerProcess
from pushing import Pusher


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_shows_the_repository_with_its_settings(ecr: Any, name: str) -> None:
    created = ecr.create_repository(
        repositoryName=f"{name}/web",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/images"},
        tags=[{"Key": "team", "Value": "web"}],
    )["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:us-east-1:000000000000:repository/{name}/web"
    assert created["registryId"] == "000000000000"
    host, _, path = created["repositoryUri"].partition("/")
    assert host.startswith("127.0.0.1:") and path == f"{name}/web"
    (shown,) = ecr.describe_repositories(repositoryNames=[f"{name}/web"])["repositories"]
    assert shown == created
    assert shown["imageTagMutability"] == "IMMUTABLE"
    assert shown["imageScanningConfiguration"] == {"scanOnPush": True}
    assert shown["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/images"}
    tags = ecr.list_tags_for_resource(resourceArn=created["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "web"}]


def test_defaults(ecr: Any, repo: str) -> None:
    (shown,) = ecr.describe_repositories(repositoryNames=[repo])["repositories"]
    assert shown["imageTagMutability"] == "MUTABLE"
    assert shown["imageScanningConfiguration"] == {"scanOnPush": False}
    assert shown["encryptionConfiguration"] == {"encryptionType": "AES256"}


@pytest.mark.parametrize("bad", ["Upper", "ends-", "a//b", "-starts", "has space"])
def test_names_ecr_refuses(ecr: Any, bad: str) -> None:
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName=bad)
    assert _code(exc) == "InvalidParameterException"
    assert "repositoryName" in exc.value.response["Error"]["Message"]


def test_a_name_is_taken_once(ecr: Any, repo: str) -> None:
    with pytest.raises(ClientError) as exc:
        ecr.create_repository(repositoryName=repo)
    assert _code(exc) == "RepositoryAlreadyExistsException"
    assert exc.value.response["Error"]["Message"] == (
        f"The repository with name '{repo}' already exists in the registry with id '000000000000'"
    )


def test_one_registry_namespace_across_regions(server: ServerProcess, repo: str) -> None:
    other = server.client("ecr", region="eu-west-1")
    with pytest.raises(ClientError) as exc:
        other.create_repository(repositoryName=repo)
    assert _code(exc) == "RepositoryAlreadyExistsException"
    assert "us-east-1" in exc.value.response["Error"]["Message"]
    shown = other.describe_repositories()["repositories"]
    assert repo not in [r["repositoryName"] for r in shown]


def test_missing_repositories(ecr: Any, name: str) -> None:
    calls = [
        lambda: ecr.describe_repositories(repositoryNames=[name]),
        lambda: ecr.delete_repository(repositoryName=name),
        lambda: ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE"),
        lambda: ecr.list_images(repositoryName=name),
        lambda: ecr.describe_images(repositoryName=name),
        lambda: ecr.get_lifecycle_policy(repositoryName=name),
        lambda: ecr.list_tags_for_resource(
            resourceArn=f"arn:aws:ecr:us-east-1:000000000000:repository/{name}"
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "RepositoryNotFoundException"
        assert exc.value.response["Error"]["Message"] == (
            f"The repository with name '{name}' does not exist in the registry with id "
            "'000000000000'"
        )


def test_describe_pages(ecr: Any) -> None:
    prefix = "p" + uuid.uuid4().hex[:8]
    names = [f"{prefix}/r{i}" for i in range(5)]
    for n in names:
        ecr.create_repository(repositoryName=n)
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"maxResults": 2, **({"nextToken": token} if token else {})}
        reply = ecr.describe_repositories(**kwargs)
        assert len(reply["repositories"]) <= 2
        seen += [r["repositoryName"] for r in reply["repositories"]]
        token = reply.get("nextToken")
        if not token:
            break
    assert [s for s in seen if s.startswith(prefix)] == names
    assert len(seen) == len(set(seen))
    paginated = ecr.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 3}
    )
    assert [r["repositoryName"] for p in paginated for r in p["repositories"]] == seen


def test_delete_empty(ecr: Any, repo: str) -> None:
    deleted = ecr.delete_repository(repositoryName=repo)["repository"]
    assert deleted["repositoryName"] == repo
    with pytest.raises(ClientError) as exc:
        ecr.describe_repositories(repositoryNames=[repo])
    assert _code(exc) == "RepositoryNotFoundException"


def test_delete_with_images_needs_force(ecr: Any, repo: str, pusher: Pusher) -> None:
    pusher.push(repo, "v1")
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository(repositoryName=repo)
    assert _code(exc) == "RepositoryNotEmptyException"
    assert exc.value.response["Error"]["Message"] == (
        f"The repository with name '{repo}' in registry with id '000000000000' cannot be "
        "deleted because it still contains images"
    )
    ecr.delete_repository(repositoryName=repo, force=True)
    assert pusher.token_granted(repo) == []
    # A repository made again under the name starts empty.
    ecr.create_repository(repositoryName=repo)
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []
    assert pusher.pull_manifest(repo, "v1").status_code == 404


def test_settings_change(ecr: Any, repo: str) -> None:
    reply = ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert reply["imageTagMutability"] == "IMMUTABLE"
    ecr.put_image_scanning_configuration(
        repositoryName=repo, imageScanningConfiguration={"scanOnPush": True}
    )
    (shown,) = ecr.describe_repositories(repositoryNames=[repo])["repositories"]
    assert shown["imageTagMutability"] == "IMMUTABLE"
    assert shown["imageScanningConfiguration"] == {"scanOnPush": True}
    with pytest.raises(ClientError) as exc:
        ecr.put_image_tag_mutability(
            repositoryName=repo, imageTagMutability="IMMUTABLE_WITH_EXCLUSION"
        )
    assert _code(exc) == "InvalidParameterException"


def test_tags(ecr: Any, repo: str) -> None:
    arn = f"arn:aws:ecr:us-east-1:000000000000:repository/{repo}"
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "3"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "a", "Value": "3"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(ClientError) as exc:
        ecr.tag_resource(resourceArn=arn, tags=many)
    assert _code(exc) == "TooManyTagsException"
    with pytest.raises(ClientError) as exc:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "aws:x", "Value": "v"}])
    assert _code(exc) == "InvalidTagParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert _code(exc) == "InvalidParameterException"


def test_repository_policy(ecr: Any, repo: str) -> None:
    with pytest.raises(ClientError) as exc:
        ecr.get_repository_policy(repositoryName=repo)
    assert _code(exc) == "RepositoryPolicyNotFoundException"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
        }
    )
    ecr.set_repository_policy(repositoryName=repo, policyText=policy)
    assert ecr.get_repository_policy(repositoryName=repo)["policyText"] == policy
    ecr.delete_repository_policy(repositoryName=repo)
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository_policy(repositoryName=repo)
    assert _code(exc) == "RepositoryPolicyNotFoundException"


def test_registry(ecr: Any) -> None:
    assert ecr.describe_registry()["registryId"] == "000000000000"
    with pytest.raises(ClientError) as exc:
        ecr.get_registry_policy()
    assert _code(exc) == "RegistryPolicyNotFoundException"

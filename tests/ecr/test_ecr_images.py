"""ECR's images through boto3, as the registry holds them: pushed over the registry's HTTP
API (as `docker push` does), then described, listed, fetched, retagged and deleted with
ECR's answers and failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pushing import Pusher


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _wait(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_describe_shows_what_was_pushed(ecr: Any, repo: str, pusher: Pusher) -> None:
    before = time.time()
    one = pusher.push(repo, "v1", layers=2)
    untagged = pusher.push(repo)
    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    by_digest = {d["imageDigest"]: d for d in details}
    assert set(by_digest) == {one.digest, untagged.digest}
    shown = by_digest[one.digest]
    assert shown["imageTags"] == ["v1"]
    assert shown["imageSizeInBytes"] == one.layers_size
    assert shown["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert shown["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"
    assert before - 2 <= shown["imagePushedAt"].timestamp() <= time.time() + 2
    assert "imageTags" not in by_digest[untagged.digest]

    tagged = ecr.describe_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})
    assert [d["imageDigest"] for d in tagged["imageDetails"]] == [one.digest]
    bare = ecr.describe_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
    assert [d["imageDigest"] for d in bare["imageDetails"]] == [untagged.digest]
    by_tag = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert [d["imageDigest"] for d in by_tag["imageDetails"]] == [one.digest]


def test_describe_a_missing_image(ecr: Any, repo: str, pusher: Pusher) -> None:
    pusher.push(repo, "v1")
    with pytest.raises(ClientError) as exc:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "nope"}])
    assert _code(exc) == "ImageNotFoundException"
    assert exc.value.response["Error"]["Message"] == (
        f"The image with imageId {{imageDigest:'null', imageTag:'nope'}} does not exist within "
        f"the repository with name '{repo}' in the registry with id '000000000000'"
    )


def test_list_pages_through_tags_and_untagged(ecr: Any, repo: str, pusher: Pusher) -> None:
    a = pusher.push(repo, "a")
    b = pusher.push(repo)
    ecr.put_image(repositoryName=repo, imageManifest=a.manifest.decode(), imageTag="a2")
    expected = {(a.digest, "a"), (a.digest, "a2"), (b.digest, None)}
    pages = ecr.get_paginator("list_images").paginate(
        repositoryName=repo, PaginationConfig={"PageSize": 1}
    )
    seen = [(i["imageDigest"], i.get("imageTag")) for p in pages for i in p["imageIds"]]
    assert sorted(seen, key=str) == sorted(expected, key=str)
    untagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
    assert untagged["imageIds"] == [{"imageDigest": b.digest}]


def test_batch_get_image_gives_the_manifest(ecr: Any, repo: str, pusher: Pusher) -> None:
    one = pusher.push(repo, "v1")
    reply = ecr.batch_get_image(
        repositoryName=repo,
        imageIds=[
            {"imageTag": "v1"},
            {"imageTag": "nope"},
            {"imageDigest": "not-a-digest"},
            {"imageTag": "v1", "imageDigest": "sha256:" + "0" * 64},
        ],
    )
    (image,) = reply["images"]
    assert image["imageId"] == {"imageDigest": one.digest, "imageTag": "v1"}
    assert image["imageManifest"].encode() == one.manifest
    assert [f["failureCode"] for f in reply["failures"]] == [
        "ImageNotFound",
        "InvalidImageDigest",
        "ImageTagDoesNotMatchDigest",
    ]
    assert reply["failures"][0] == {
        "imageId": {"imageTag": "nope"},
        "failureCode": "ImageNotFound",
        "failureReason": "Requested image not found",
    }


def test_batch_delete(ecr: Any, repo: str, pusher: Pusher) -> None:
    one = pusher.push(repo, "v1")
    ecr.put_image(repositoryName=repo, imageManifest=one.manifest.decode(), imageTag="v2")
    two = pusher.push(repo, "other")
    # One tag of an image with two: the tag goes, the image stays.
    reply = ecr.batch_delete_image(
        repositoryName=repo, imageIds=[{"imageTag": "v2"}, {"imageTag": "gone"}, {}]
    )
    assert reply["imageIds"] == [{"imageDigest": one.digest, "imageTag": "v2"}]
    assert reply["failures"] == [
        {
            "imageId": {"imageTag": "gone"},
            "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found",
        },
        {
            "imageId": {},
            "failureCode": "MissingDigestAndTag",
            "failureReason": "Invalid request parameters: both tag and digest cannot be null",
        },
    ]
    held = ecr.list_images(repositoryName=repo)["imageIds"]
    assert {"imageDigest": one.digest, "imageTag": "v1"} in held
    assert pusher.pull_manifest(repo, "v2").status_code == 404
    assert pusher.pull_manifest(repo, "v1").status_code == 200
    # Its last tag, and an image by digest: both go from the registry.
    reply = ecr.batch_delete_image(
        repositoryName=repo, imageIds=[{"imageTag": "v1"}, {"imageDigest": two.digest}]
    )
    assert reply["failures"] == []
    assert reply["imageIds"] == [
        {"imageDigest": one.digest, "imageTag": "v1"},
        {"imageDigest": two.digest, "imageTag": "other"},
    ]
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []
    assert pusher.pull_manifest(repo, one.digest).status_code == 404


def test_put_image(ecr: Any, repo: str, pusher: Pusher) -> None:
    one = pusher.push(repo, "v1")
    put = ecr.put_image(repositoryName=repo, imageManifest=one.manifest.decode(), imageTag="prod")
    assert put["image"]["imageId"] == {"imageDigest": one.digest, "imageTag": "prod"}
    assert pusher.pull_manifest(repo, "prod").headers["docker-content-digest"] == one.digest
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=one.manifest.decode(), imageTag="prod")
    assert _code(exc) == "ImageAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest="{not json", imageTag="x")
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.put_image(
            repositoryName=repo,
            imageManifest=one.manifest.decode(),
            imageTag="x",
            imageDigest="sha256:" + "1" * 64,
        )
    assert _code(exc) == "ImageDigestDoesNotMatchException"
    # A manifest whose layers were never pushed here.
    other = ecr.create_repository(repositoryName=repo + "-other")["repository"]
    with pytest.raises(ClientError) as exc:
        ecr.put_image(
            repositoryName=other["repositoryName"],
            imageManifest=one.manifest.decode(),
            imageTag="x",
        )
    assert _code(exc) == "LayersNotFoundException"


def test_immutable_tags(ecr: Any, repo: str, pusher: Pusher) -> None:
    first = pusher.push(repo, "v1")
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    second = pusher.push(repo, "v2")
    # PutImage refuses outright.
    with pytest.raises(ClientError) as exc:
        ecr.put_image(repositoryName=repo, imageManifest=second.manifest.decode(), imageTag="v1")
    assert _code(exc) == "ImageTagAlreadyExistsException"
    assert exc.value.response["Error"]["Message"] == (
        f"The image tag 'v1' already exists in the '{repo}' repository and cannot be "
        "overwritten because the repository is immutable."
    )
    # A push over it through the registry is turned back right after.
    pusher.put_manifest(repo, "v1", second.manifest, pusher.token(repo))

    def restored() -> bool:
        held = pusher.pull_manifest(repo, "v1").headers.get("docker-content-digest")
        return bool(held == first.digest)

    _wait(restored)
    listed = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted(listed, key=lambda i: i["imageTag"]) == [
        {"imageDigest": first.digest, "imageTag": "v1"},
        {"imageDigest": second.digest, "imageTag": "v2"},
    ]
    # A new tag is still free to push, and a mutable repository takes overwrites again.
    pusher.push(repo, "v3")
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE")
    ecr.put_image(repositoryName=repo, imageManifest=second.manifest.decode(), imageTag="v1")
    assert pusher.pull_manifest(repo, "v1").headers["docker-content-digest"] == second.digest

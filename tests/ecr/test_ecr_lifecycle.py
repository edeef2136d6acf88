"""Lifecycle policies: ECR's evaluation rules (pure), the policy API with its errors, the
preview, and the background pass deleting what a policy expires from the registry."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pushing import Pusher

from portside.ecr.lifecycle import DAY, Image, evaluate, parse
from portside.errors import InvalidParameterException


def _rule(priority: int, status: str, count_type: str, count: int, **extra: Any) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status, "countType": count_type, "countNumber": count}
    if count_type == "sinceImagePushed":
        selection["countUnit"] = "days"
    selection.update(extra)
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def _policy(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def _images(*specs: tuple[str, tuple[str, ...], float]) -> list[Image]:
    return [Image(d, tags, at) for d, tags, at in specs]


def test_count_keeps_the_newest() -> None:
    rules = parse(_policy(_rule(1, "any", "imageCountMoreThan", 2)))
    held = _images(("a", ("1",), 1.0), ("b", (), 3.0), ("c", ("3",), 2.0), ("d", (), 4.0))
    assert [(e.image.digest, e.priority) for e in evaluate(rules, held, 10.0)] == [
        ("a", 1),
        ("c", 1),
    ]


def test_age_counts_days() -> None:
    rules = parse(_policy(_rule(1, "untagged", "sinceImagePushed", 3)))
    now = 100 * DAY
    held = _images(("old", (), now - 4 * DAY), ("new", (), now - 2 * DAY), ("t", ("x",), 0.0))
    assert [e.image.digest for e in evaluate(rules, held, now)] == ["old"]


def test_a_higher_rule_protects_what_it_selects() -> None:
    # Rule 1 keeps the newest prod image and selects both: rule 2 may not expire p2, though
    # it is beyond rule 2's count too, and still counts both prod images.
    rules = parse(
        _policy(
            _rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]),
            _rule(2, "any", "imageCountMoreThan", 1),
        )
    )
    held = _images(
        ("p1", ("prod-1",), 1.0), ("p2", ("prod-2",), 2.0), ("d1", ("dev",), 3.0), ("u", (), 4.0)
    )
    expired = {e.image.digest: e.priority for e in evaluate(rules, held, 10.0)}
    assert expired == {"p1": 1, "d1": 2}


def test_patterns_and_prefixes_match_every_entry() -> None:
    rules = parse(
        _policy(_rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["v*-rc*", "*x"]))
    )
    held = _images(
        ("a", ("v1-rc1", "x"), 1.0), ("b", ("v1-rc2", "ax"), 2.0), ("c", ("v1-rc3",), 0.5)
    )
    assert [e.image.digest for e in evaluate(rules, held, 10.0)] == ["a"]


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ("{", "not valid JSON"),
        (json.dumps({"rules": []}), "missing required properties"),
        (_policy(_rule(1, "tagged", "imageCountMoreThan", 1)), "tagPrefixList or tagPatternList"),
        (
            _policy(
                _rule(1, "any", "imageCountMoreThan", 1),
                _rule(2, "untagged", "imageCountMoreThan", 1),
            ),
            "highest rulePriority",
        ),
        (_policy(_rule(1, "untagged", "imageCountMoreThan", 0)), "countNumber"),
        (
            _policy(
                _rule(1, "untagged", "imageCountMoreThan", 1),
                _rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["a"]),
            ),
            "unique",
        ),
        (
            _policy({**_rule(1, "untagged", "imageCountMoreThan", 1), "action": {"type": "keep"}}),
            "expire",
        ),
    ],
)
def test_invalid_policies(policy: str, says: str) -> None:
    with pytest.raises(InvalidParameterException) as exc:
        parse(policy)
    assert exc.value.message.startswith(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        "'Lifecycle policy validation failure: "
    )
    assert says in exc.value.message


KEEP_TWO = _policy(
    {**_rule(1, "any", "imageCountMoreThan", 2), "description": "keep the newest two"}
)


def test_policy_api(ecr: Any, repo: str) -> None:
    with pytest.raises(ClientError) as exc:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    assert exc.value.response["Error"]["Message"] == (
        f"Lifecycle policy does not exist for the repository with name '{repo}' in the "
        "registry with id '000000000000'"
    )
    with pytest.raises(ClientError) as exc:
        ecr.delete_lifecycle_policy(repositoryName=repo)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    bad = _policy(_rule(1, "tagged", "imageCountMoreThan", 1))
    with pytest.raises(ClientError) as exc:
        ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=bad)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    put = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=KEEP_TWO)
    assert put["lifecyclePolicyText"] == KEEP_TWO
    assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == KEEP_TWO
    deleted = ecr.delete_lifecycle_policy(repositoryName=repo)
    assert deleted["lifecyclePolicyText"] == KEEP_TWO
    with pytest.raises(ClientError) as exc:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"


def test_preview_then_policy_expires_the_oldest(ecr: Any, repo: str, pusher: Pusher) -> None:
    pushed = [pusher.push(repo, f"v{i}") for i in range(4)]
    with pytest.raises(ClientError) as exc:
        ecr.get_lifecycle_policy_preview(repositoryName=repo)
    assert exc.value.response["Error"]["Code"] == "LifecyclePolicyPreviewNotFoundException"
    started = ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=KEEP_TWO)
    assert started["status"] == "IN_PROGRESS"
    preview = ecr.get_lifecycle_policy_preview(repositoryName=repo)
    assert preview["status"] == "COMPLETE"
    assert preview["summary"] == {"expiringImageTotalCount": 2}
    assert {r["imageDigest"] for r in preview["previewResults"]} == {
        pushed[0].digest,
        pushed[1].digest,
    }
    assert all(r["appliedRulePriority"] == 1 for r in preview["previewResults"])
    assert len(ecr.list_images(repositoryName=repo)["imageIds"]) == 4  # a preview deletes nothing

    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=KEEP_TWO)
    deadline = time.monotonic() + 15
    while len(ecr.list_images(repositoryName=repo)["imageIds"]) > 2:
        assert time.monotonic() < deadline, "the policy expired nothing"
        time.sleep(0.1)
    kept = {i["imageTag"] for i in ecr.list_images(repositoryName=repo)["imageIds"]}
    assert kept == {"v2", "v3"}
    assert pusher.pull_manifest(repo, pushed[0].digest).status_code == 404
    assert ecr.get_lifecycle_policy(repositoryName=repo).get("lastEvaluatedAt") is not None

"""The AWS managed policies shipped with Portside (portside/iam/managed/*.json): each is a
valid identity policy as the evaluator reads it, sits at the path AWS publishes it under,
and the ones ECS users reach for say what AWS's say."""

from __future__ import annotations

import pytest

from portside.iam import policy
from portside.iam.managed import catalog

PATHS = {
    "AmazonECSTaskExecutionRolePolicy": "/service-role/",
    "AmazonEC2ContainerServiceforEC2Role": "/service-role/",
    "AmazonEC2ContainerServiceRole": "/service-role/",
    "AmazonECSServiceRolePolicy": "/aws-service-role/",
    "AmazonECS_FullAccess": "/",
    "ReadOnlyAccess": "/",
    "AdministratorAccess": "/",
    "PowerUserAccess": "/",
    "IAMFullAccess": "/",
    "AmazonS3ReadOnlyAccess": "/",
    "CloudWatchLogsFullAccess": "/",
    "SecretsManagerReadWrite": "/",
    "AmazonSSMReadOnlyAccess": "/",
    "AmazonEC2ContainerRegistryReadOnly": "/",
}


def test_every_policy_the_brief_names_is_there_at_its_path() -> None:
    by_name = {p.name: p for p in catalog().values()}
    assert {name: by_name[name].path for name in PATHS} == PATHS
    for name, path in PATHS.items():
        assert by_name[name].arn == f"arn:aws:iam::aws:policy{path}{name}"
    assert not by_name["AmazonECSServiceRolePolicy"].attachable


@pytest.mark.parametrize("arn", sorted(catalog()))
def test_each_document_is_a_valid_identity_policy(arn: str) -> None:
    parsed = policy.parse(catalog()[arn].document, "identity")
    assert parsed.version == "2012-10-17" and parsed.statements


def test_read_only_access_reads_what_portside_serves() -> None:
    actions = catalog()["arn:aws:iam::aws:policy/ReadOnlyAccess"].document["Statement"][0]["Action"]
    for wanted in (
        "ecs:Describe*",
        "ecs:List*",
        "logs:Get*",
        "ec2:Describe*",
        "ecr:BatchGet*",
        "elasticloadbalancing:Describe*",
        "kms:Describe*",
        "ssm:Get*",
        "iam:Get*",
    ):
        assert wanted in actions
    assert not any(a.startswith("ecs:Run") or a == "*" for a in actions)

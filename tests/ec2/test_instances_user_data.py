"""An instance's user data as the ECS agent reads it (ec2/user_data.py, pure)."""

from __future__ import annotations

import base64

import pytest

from portside.ec2.user_data import decode, settings
from portside.errors import NamedError


def test_the_cluster_and_attributes_from_ecs_config_lines() -> None:
    text = "\n".join(
        [
            "#!/bin/bash",
            "# ECS_CLUSTER=commented-out",
            "echo ECS_CLUSTER=web >> /etc/ecs/ecs.config",
            """echo 'ECS_INSTANCE_ATTRIBUTES={"stack":"prod","tier":1}' >> /etc/ecs/ecs.config""",
            "echo ECS_ENABLE_TASK_IAM_ROLE=true >> /etc/ecs/ecs.config",
        ]
    )
    found = settings(text)
    assert found.cluster == "web"
    assert found.attributes == {"stack": "prod", "tier": "1"}


def test_plain_config_lines_quoted_values_and_the_default_cluster() -> None:
    assert settings('ECS_CLUSTER="blue"\n').cluster == "blue"
    assert settings("ECS_CLUSTER=a\nECS_CLUSTER=b\n").cluster == "b"  # the last one wins
    assert settings("#!/bin/bash\nyum update -y\n").cluster == "default"
    assert settings("ECS_INSTANCE_ATTRIBUTES=not json\n").attributes == {}


def test_user_data_is_base64_of_at_most_16_kib() -> None:
    assert decode(base64.b64encode(b"ECS_CLUSTER=x").decode()) == "ECS_CLUSTER=x"
    with pytest.raises(NamedError) as bad:
        decode("not base64!")
    assert bad.value.code == "InvalidUserData.Malformed"
    with pytest.raises(NamedError):
        decode("A" * (16 * 1024 + 4))

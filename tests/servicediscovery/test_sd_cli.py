"""Cloud Map through the AWS CLI v2 (2.9, JSON 1.1 with --endpoint-url): namespaces,
operations, services, instances, health, tags and an error. DiscoverInstances is left out:
the CLI puts the model's `data-` host prefix before the endpoint's address and 2.9 cannot
be told not to."""

from __future__ import annotations

import time
from typing import Any

from harness import ServerProcess


def _operation(server: ServerProcess, operation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        found = server.aws(
            "servicediscovery", "get-operation", "--operation-id", operation_id, v2=True
        )["Operation"]
        if found["Status"] == "SUCCESS" or time.monotonic() > deadline:
            return dict(found)
        time.sleep(0.05)


def test_aws_cli_v2(server: ServerProcess, name: str) -> None:
    sd = ("servicediscovery",)
    created = server.aws(
        *sd, "create-http-namespace", "--name", name, "--tags", "Key=k,Value=v", v2=True
    )
    ns = _operation(server, created["OperationId"])["Targets"]["NAMESPACE"]
    got = server.aws(*sd, "get-namespace", "--id", ns, v2=True)["Namespace"]
    assert (got["Name"], got["Type"]) == (name, "HTTP")
    listed = server.aws(
        *sd, "list-namespaces", "--filters", f"Name=NAME,Values={name},Condition=EQ", v2=True
    )["Namespaces"]
    assert [n["Id"] for n in listed] == [ns]
    service = server.aws(
        *sd,
        "create-service",
        "--name",
        "api",
        "--namespace-id",
        ns,
        "--health-check-custom-config",
        "FailureThreshold=1",
        v2=True,
    )["Service"]
    registered = server.aws(
        *sd,
        "register-instance",
        "--service-id",
        service["Id"],
        "--instance-id",
        "one",
        "--attributes",
        "AWS_INSTANCE_IPV4=10.9.0.1,stage=prod",
        v2=True,
    )
    assert _operation(server, registered["OperationId"])["Type"] == "REGISTER_INSTANCE"
    instances = server.aws(*sd, "list-instances", "--service-id", service["Id"], v2=True)
    assert instances["Instances"][0]["Attributes"]["stage"] == "prod"
    server.aws(
        *sd,
        "update-instance-custom-health-status",
        "--service-id",
        service["Id"],
        "--instance-id",
        "one",
        "--status",
        "UNHEALTHY",
        v2=True,
    )
    health = server.aws(*sd, "get-instances-health-status", "--service-id", service["Id"], v2=True)
    assert health["Status"] == {"one": "UNHEALTHY"}
    tags = server.aws(*sd, "list-tags-for-resource", "--resource-arn", got["Arn"], v2=True)
    assert tags["Tags"] == [{"Key": "k", "Value": "v"}]
    failed = server.aws(*sd, "delete-namespace", "--id", ns, v2=True, check=False)
    assert failed.returncode != 0 and "ResourceInUse" in failed.stderr
    server.aws(
        *sd, "deregister-instance", "--service-id", service["Id"], "--instance-id", "one", v2=True
    )
    server.aws(*sd, "delete-service", "--id", service["Id"], v2=True)
    server.aws(*sd, "delete-namespace", "--id", ns, v2=True)
    missing = server.aws(*sd, "get-namespace", "--id", ns, v2=True, check=False)
    assert missing.returncode != 0 and "NamespaceNotFound" in missing.stderr

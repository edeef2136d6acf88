"""Cloud Map's API through boto3 (CBOR): namespaces, operations, services, instances,
discovery, health and tags, and Cloud Map's errors."""

from __future__ import annotations

from typing import Any

from sd_helpers import error_of, namespace_id, wait_operation


def _private(sd: Any, vpc: str, name: str, **extra: Any) -> str:
    op = sd.create_private_dns_namespace(Name=f"{name}.local", Vpc=vpc, **extra)["OperationId"]
    return namespace_id(sd, op)


def _service(sd: Any, ns: str, name: str, *records: str, **extra: Any) -> dict[str, Any]:
    dns = {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": t, "TTL": 10} for t in records]}
    return dict(sd.create_service(Name=name, NamespaceId=ns, DnsConfig=dns, **extra)["Service"])


def test_namespace_lifecycle_and_operations(sd: Any, vpc: str, name: str) -> None:
    op_id = sd.create_private_dns_namespace(
        Name=f"{name}.local",
        Vpc=vpc,
        CreatorRequestId=name,
        Description="first",
        Tags=[{"Key": "team", "Value": "a"}],
    )["OperationId"]
    first = sd.get_operation(OperationId=op_id)["Operation"]
    assert first["Type"] == "CREATE_NAMESPACE"
    assert first["Status"] in ("SUBMITTED", "PENDING", "SUCCESS")
    done = wait_operation(sd, op_id)
    assert done["Status"] == "SUCCESS"
    ns_id = done["Targets"]["NAMESPACE"]
    got = sd.get_namespace(Id=ns_id)["Namespace"]
    assert got["Name"] == f"{name}.local"
    assert got["Type"] == "DNS_PRIVATE"
    assert got["ServiceCount"] == 0
    assert got["Properties"]["DnsProperties"]["HostedZoneId"].startswith("Z")
    assert got["Properties"]["HttpProperties"]["HttpName"] == f"{name}.local"
    assert got["CreatorRequestId"] == name
    assert sd.get_namespace(Id=got["Arn"])["Namespace"]["Id"] == ns_id
    assert sd.list_tags_for_resource(ResourceARN=got["Arn"])["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]

    listed = sd.list_namespaces(Filters=[{"Name": "NAME", "Values": [f"{name}.local"]}])
    assert [n["Id"] for n in listed["Namespaces"]] == [ns_id]
    by_type = sd.list_namespaces(Filters=[{"Name": "TYPE", "Values": ["HTTP"], "Condition": "EQ"}])[
        "Namespaces"
    ]
    assert ns_id not in [n["Id"] for n in by_type]
    ops = sd.list_operations(
        Filters=[
            {"Name": "NAMESPACE_ID", "Values": [ns_id]},
            {"Name": "TYPE", "Values": ["CREATE_NAMESPACE", "DELETE_NAMESPACE"], "Condition": "IN"},
        ]
    )["Operations"]
    assert ops == [{"Id": op_id, "Status": "SUCCESS"}]

    upd = sd.update_private_dns_namespace(
        Id=ns_id,
        Namespace={"Description": "second", "Properties": {"DnsProperties": {"SOA": {"TTL": 30}}}},
    )["OperationId"]
    assert wait_operation(sd, upd)["Type"] == "UPDATE_NAMESPACE"
    got = sd.get_namespace(Id=ns_id)["Namespace"]
    assert got["Description"] == "second"
    assert got["Properties"]["DnsProperties"]["SOA"] == {"TTL": 30}

    assert error_of(sd.create_private_dns_namespace, Name=f"{name}.local", Vpc=vpc)[0] == (
        "NamespaceAlreadyExists"
    )
    # The same request again (an SDK's retry) gets the same operation; its id reused for
    # another namespace is refused.
    again = sd.create_private_dns_namespace(Name=f"{name}.local", Vpc=vpc, CreatorRequestId=name)
    assert again["OperationId"] == op_id
    code, _ = error_of(
        sd.create_private_dns_namespace, Name=f"{name}2.local", Vpc=vpc, CreatorRequestId=name
    )
    assert code == "DuplicateRequest"
    deleted = sd.delete_namespace(Id=ns_id)["OperationId"]
    assert wait_operation(sd, deleted)["Type"] == "DELETE_NAMESPACE"
    assert error_of(sd.get_namespace, Id=ns_id)[0] == "NamespaceNotFound"


def test_http_and_public_namespaces(sd: Any, name: str) -> None:
    http = namespace_id(sd, sd.create_http_namespace(Name=name)["OperationId"])
    public = namespace_id(
        sd, sd.create_public_dns_namespace(Name=f"{name}.example.com")["OperationId"]
    )
    assert sd.get_namespace(Id=http)["Namespace"]["Type"] == "HTTP"
    assert "DnsProperties" not in sd.get_namespace(Id=http)["Namespace"]["Properties"]
    assert sd.get_namespace(Id=public)["Namespace"]["Type"] == "DNS_PUBLIC"
    sd.update_http_namespace(Id=http, Namespace={"Description": "d"})
    assert sd.get_namespace(Id=http)["Namespace"]["Description"] == "d"
    sd.update_public_dns_namespace(Id=public, Namespace={"Description": "p"})
    code, _ = error_of(sd.update_http_namespace, Id=public, Namespace={"Description": "x"})
    assert code == "InvalidInput"
    code, _ = error_of(
        sd.create_service,
        Name="web",
        NamespaceId=http,
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 5}]},
    )
    assert code == "InvalidInput"
    svc = sd.create_service(Name="web", NamespaceId=http)["Service"]
    assert svc["Type"] == "HTTP"
    sd.delete_service(Id=svc["Id"])
    for ns in (http, public):
        sd.delete_namespace(Id=ns)


def test_private_namespace_needs_an_existing_vpc(sd: Any, name: str) -> None:
    code, message = error_of(
        sd.create_private_dns_namespace, Name=f"{name}.local", Vpc="vpc-0123456789abcdef0"
    )
    assert code == "InvalidInput"
    assert "vpc-0123456789abcdef0" in message


def test_services_instances_and_discovery(sd: Any, vpc: str, name: str) -> None:
    ns = _private(sd, vpc, name)
    svc = _service(sd, ns, "backend", "A", "SRV", HealthCheckCustomConfig={"FailureThreshold": 1})
    assert svc["Type"] == "DNS_HTTP"
    assert svc["DnsConfig"]["RoutingPolicy"] == "MULTIVALUE"
    assert svc["InstanceCount"] == 0
    assert error_of(sd.create_service, Name="backend", NamespaceId=ns)[0] == (
        "ServiceAlreadyExists"
    )
    # Without the attributes its records need, an instance is refused.
    code, message = error_of(
        sd.register_instance,
        ServiceId=svc["Id"],
        InstanceId="i-1",
        Attributes={"AWS_INSTANCE_IPV4": "10.0.0.1"},
    )
    assert (code, "AWS_INSTANCE_PORT" in message) == ("InvalidInput", True)
    for i in range(3):
        op = sd.register_instance(
            ServiceId=svc["Id"],
            InstanceId=f"i-{i}",
            Attributes={
                "AWS_INSTANCE_IPV4": f"10.0.0.{i + 1}",
                "AWS_INSTANCE_PORT": "80",
                "color": "blue" if i else "green",
            },
        )["OperationId"]
        assert wait_operation(sd, op)["Type"] == "REGISTER_INSTANCE"
    assert sd.get_service(Id=svc["Id"])["Service"]["InstanceCount"] == 3
    assert sd.get_namespace(Id=ns)["Namespace"]["ServiceCount"] == 1
    got = sd.get_instance(ServiceId=svc["Id"], InstanceId="i-0")["Instance"]
    assert got["Attributes"]["color"] == "green"
    page = sd.list_instances(ServiceId=svc["Id"], MaxResults=2)
    assert len(page["Instances"]) == 2
    rest = sd.list_instances(ServiceId=svc["Id"], NextToken=page["NextToken"])
    assert {i["Id"] for i in page["Instances"] + rest["Instances"]} == {"i-0", "i-1", "i-2"}

    found = sd.discover_instances(NamespaceName=f"{name}.local", ServiceName="backend")
    assert {i["InstanceId"] for i in found["Instances"]} == {"i-0", "i-1", "i-2"}
    revision = found["InstancesRevision"]
    blue = sd.discover_instances(
        NamespaceName=f"{name}.local", ServiceName="backend", QueryParameters={"color": "blue"}
    )["Instances"]
    assert {i["InstanceId"] for i in blue} == {"i-1", "i-2"}
    optional = sd.discover_instances(
        NamespaceName=f"{name}.local",
        ServiceName="backend",
        OptionalParameters={"color": "red"},
    )["Instances"]
    assert len(optional) == 3  # no instance is red: the optional filter is dropped
    assert (
        len(
            sd.discover_instances(
                NamespaceName=f"{name}.local", ServiceName="backend", MaxResults=1
            )["Instances"]
        )
        == 1
    )

    sd.update_instance_custom_health_status(
        ServiceId=svc["Id"], InstanceId="i-0", Status="UNHEALTHY"
    )
    health = sd.get_instances_health_status(ServiceId=svc["Id"])["Status"]
    assert health == {"i-0": "UNHEALTHY", "i-1": "HEALTHY", "i-2": "HEALTHY"}
    healthy = sd.discover_instances(NamespaceName=f"{name}.local", ServiceName="backend")
    assert {i["InstanceId"] for i in healthy["Instances"]} == {"i-1", "i-2"}
    assert healthy["InstancesRevision"] > revision
    assert (
        sd.discover_instances_revision(NamespaceName=f"{name}.local", ServiceName="backend")[
            "InstancesRevision"
        ]
        == healthy["InstancesRevision"]
    )
    unhealthy = sd.discover_instances(
        NamespaceName=f"{name}.local", ServiceName="backend", HealthStatus="UNHEALTHY"
    )["Instances"]
    assert [i["InstanceId"] for i in unhealthy] == ["i-0"]
    every = sd.discover_instances(
        NamespaceName=f"{name}.local", ServiceName="backend", HealthStatus="ALL"
    )["Instances"]
    assert len(every) == 3

    # Deleting what still holds something is refused.
    assert error_of(sd.delete_namespace, Id=ns)[0] == "ResourceInUse"
    assert error_of(sd.delete_service, Id=svc["Id"])[0] == "ResourceInUse"
    sd.update_service(
        Id=svc["Id"],
        Service={
            "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}, {"Type": "SRV", "TTL": 60}]},
            "Description": "b",
        },
    )
    assert sd.get_service(Id=svc["Id"])["Service"]["DnsConfig"]["DnsRecords"][0]["TTL"] == 60
    for i in range(3):
        sd.deregister_instance(ServiceId=svc["Id"], InstanceId=f"i-{i}")
    assert error_of(sd.deregister_instance, ServiceId=svc["Id"], InstanceId="i-0")[0] == (
        "InstanceNotFound"
    )
    assert error_of(sd.get_instance, ServiceId=svc["Id"], InstanceId="i-0")[0] == (
        "InstanceNotFound"
    )
    listed = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns]}])["Services"]
    assert [s["Id"] for s in listed] == [svc["Id"]]
    sd.delete_service(Id=svc["Id"])
    assert error_of(sd.get_service, Id=svc["Id"])[0] == "ServiceNotFound"
    sd.delete_namespace(Id=ns)


def test_service_rules_and_attributes(sd: Any, vpc: str, name: str) -> None:
    ns = _private(sd, vpc, name)
    code, _ = error_of(
        sd.create_service,
        Name="c",
        NamespaceId=ns,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "CNAME", "TTL": 5}]},
    )
    assert code == "InvalidInput"
    assert error_of(sd.create_service, Name="x", NamespaceId="ns-nothere000000000")[0] == (
        "NamespaceNotFound"
    )
    svc = _service(sd, ns, "attrs", "A")
    sd.update_service_attributes(ServiceId=svc["Id"], Attributes={"k": "v", "k2": "v2"})
    sd.delete_service_attributes(ServiceId=svc["Id"], Attributes=["k2"])
    got = sd.get_service_attributes(ServiceId=svc["Id"])["ServiceAttributes"]
    assert got["Attributes"] == {"k": "v"}
    sd.tag_resource(
        ResourceARN=svc["Arn"], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    sd.untag_resource(ResourceARN=svc["Arn"], TagKeys=["a"])
    assert sd.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = svc["Arn"].rsplit("/", 1)[0] + "/srv-nothere000000000"
    assert error_of(sd.list_tags_for_resource, ResourceARN=missing)[0] == (
        "ResourceNotFoundException"
    )
    code, _ = error_of(
        sd.update_instance_custom_health_status,
        ServiceId=svc["Id"],
        InstanceId="nope",
        Status="HEALTHY",
    )
    assert code == "InstanceNotFound"
    sd.register_instance(
        ServiceId=svc["Id"], InstanceId="a", Attributes={"AWS_INSTANCE_IPV4": "10.1.1.1"}
    )
    code, _ = error_of(
        sd.update_instance_custom_health_status,
        ServiceId=svc["Id"],
        InstanceId="a",
        Status="HEALTHY",
    )
    assert code == "CustomHealthNotFound"
    assert sd.get_instances_health_status(ServiceId=svc["Id"])["Status"] == {"a": "UNKNOWN"}
    sd.deregister_instance(ServiceId=svc["Id"], InstanceId="a")
    sd.delete_service(Id=svc["Id"])
    sd.delete_namespace(Id=ns)

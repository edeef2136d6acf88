"""Records from documents (pure) and the zone that holds them."""

from __future__ import annotations

from typing import Any

import dns.name
import dns.reversename
import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.dns.records import (
    PTR,
    TASK_TTL,
    A,
    Record,
    load_balancer_records,
    private_dns_name,
    reverse_name,
    task_records,
)
from portside.dns.zone import Zone

EAST = "arn:aws:ecs:us-east-1:000000000000:task/c1/0123456789abcdef0123456789abcdef"
WEST = "arn:aws:ecs:eu-west-1:000000000000:task/c1/fedcba9876543210fedcba9876543210"


def task(
    ip: str | None = "10.0.1.23",
    last: str = "RUNNING",
    desired: str = "RUNNING",
    eni_status: str = "ATTACHED",
    reported: str | None = None,
) -> dict[str, Any]:
    details = [{"name": "subnetId", "value": "subnet-1"}]
    if ip is not None:
        details += [
            {"name": "privateIPv4Address", "value": ip},
            {"name": "privateDnsName", "value": reported or private_dns_name(ip, "us-east-1")},
        ]
    return {
        "lastStatus": last,
        "desiredStatus": desired,
        "attachments": [
            {
                "id": "a1",
                "type": "ElasticNetworkInterface",
                "status": eni_status,
                "details": details,
            }
        ],
    }


def test_a_running_task_has_its_name_and_reverse_in_us_east_1() -> None:
    assert task_records(EAST, task()) == (
        Record("23.1.0.10.in-addr.arpa.", PTR, "ip-10-0-1-23.ec2.internal.", TASK_TTL),
        Record("ip-10-0-1-23.ec2.internal.", A, "10.0.1.23", TASK_TTL),
    )


def test_elsewhere_the_name_is_the_regions_compute_internal_and_the_reported_one_resolves() -> None:
    records = task_records(WEST, task(reported="ip-10-0-1-23.ec2.internal"))
    assert Record("ip-10-0-1-23.eu-west-1.compute.internal.", A, "10.0.1.23", 5) in records
    assert Record("ip-10-0-1-23.ec2.internal.", A, "10.0.1.23", 5) in records
    # One PTR, to AWS's name for the region.
    assert [r for r in records if r.type == PTR] == [
        Record("23.1.0.10.in-addr.arpa.", PTR, "ip-10-0-1-23.eu-west-1.compute.internal.", 5)
    ]


@pytest.mark.parametrize("last", ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"])
def test_a_task_has_records_as_soon_as_it_has_an_address(last: str) -> None:
    assert len(task_records(EAST, task(last=last))) == 2


@pytest.mark.parametrize("last", ["DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"])
def test_a_stopping_task_has_none(last: str) -> None:
    assert task_records(EAST, task(last=last, desired="STOPPED")) == ()


def test_a_task_asked_to_stop_loses_its_records_before_it_stops() -> None:
    assert task_records(EAST, task(last="RUNNING", desired="STOPPED")) == ()


@pytest.mark.parametrize(
    "doc",
    [
        task(ip=None, last="PROVISIONING"),  # no address yet
        task(eni_status="DELETED"),  # its network is gone
        task(ip="not-an-address"),
        {"lastStatus": "RUNNING", "desiredStatus": "RUNNING"},  # bridge mode: no ENI
    ],
)
def test_no_address_no_records(doc: dict[str, Any]) -> None:
    assert task_records(EAST, doc) == ()


def test_a_load_balancer_points_at_its_listeners_address() -> None:
    doc = {"DNSName": "web-1234567890.us-east-1.elb.portside.internal"}
    assert load_balancer_records(doc, "127.0.0.1") == (
        Record("web-1234567890.us-east-1.elb.portside.internal.", A, "127.0.0.1", 60),
    )


@given(st.ip_addresses(v=4), st.sampled_from(["us-east-1", "us-west-2", "eu-central-1"]))
def test_names_are_dns_names_and_reverse_names_are_dnspythons(address: Any, region: str) -> None:
    name = private_dns_name(str(address), region)
    assert dns.name.from_text(name).to_text(omit_final_dot=True) == name
    assert name.startswith("ip-" + str(address).replace(".", "-") + ".")
    assert reverse_name(str(address)) == dns.reversename.from_address(str(address)).to_text()


# -- the zone ----------------------------------------------------------------------------------


def rec(name: str, value: str = "10.0.0.1", type_: str = A) -> Record:
    return Record(name, type_, value, 5)


def test_an_owner_replaces_its_records_whole() -> None:
    zone = Zone(["ec2.internal"])
    zone.replace("t1", [rec("ip-10-0-0-1.ec2.internal.")])
    assert zone.replace("t1", [rec("ip-10-0-0-1.ec2.internal.")]) is False
    zone.replace("t1", [rec("ip-10-0-0-2.ec2.internal.", "10.0.0.2")])
    assert zone.node("ip-10-0-0-1.ec2.internal.") is None
    node = zone.node("ip-10-0-0-2.ec2.internal.")
    assert node is not None and node.rrsets[A] == (rec("ip-10-0-0-2.ec2.internal.", "10.0.0.2"),)
    zone.replace("t1", [])
    assert zone.records() == [] and zone.owners() == {}


def test_two_owners_of_one_name_both_answer_until_each_goes() -> None:
    zone = Zone(["ec2.internal"])
    name = "ip-10-0-0-1.ec2.internal."
    zone.replace("old", [rec(name)])
    zone.replace("new", [rec(name)])
    zone.replace("old", [])
    node = zone.node(name)
    assert node is not None and node.rrsets[A] == (rec(name),)
    zone.replace("new", [])
    assert zone.node(name) is None


def test_names_below_a_name_make_it_exist_inside_its_zone_only() -> None:
    zone = Zone(["ec2.internal", "compute.internal"])
    zone.replace("t1", [rec("ip-10-0-0-1.us-west-2.compute.internal.")])
    assert zone.apex_of("us-west-2.compute.internal.") == "compute.internal."
    assert zone.exists("us-west-2.compute.internal.")
    assert zone.exists("compute.internal.")
    assert not zone.exists("eu-west-1.compute.internal.")
    assert zone.apex_of("23.1.0.10.in-addr.arpa.") is None
    assert zone.apex_of("notec2.internal.") is None
    zone.replace("t1", [])
    assert not zone.exists("us-west-2.compute.internal.")


def test_a_change_replaces_the_node_and_its_cached_answers() -> None:
    zone = Zone(["ec2.internal"])
    name = "ip-10-0-0-1.ec2.internal."
    zone.replace("t1", [rec(name)])
    before = zone.node(name)
    assert before is not None
    before.cache["answer"] = b"cached"
    generation = zone.generation
    zone.replace("t1", [rec(name, "10.0.0.9")])
    after = zone.node(name)
    assert after is not None and after.cache == {} and zone.generation > generation

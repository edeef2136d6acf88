"""The address allocator (pure) and the task ENIs ECS will make with it, on a real store:
never one address on two ENIs, every address in its subnet's block, AWS's reserved five
never handed out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside import testing
from portside.ec2 import addresses
from portside.ec2.api import SERVICE
from portside.ec2.interfaces import create_task_eni, delete_task_eni
from portside.errors import NamedError
from portside.ops.context import Op
from portside.store.base import Store
from portside.store.sqlite import SqliteStore

ATTACHMENT = "arn:aws:ecs:us-east-1:000000000000:attachment/0f0e0d0c-0b0a-0908-0706-050403020100"


def call(op: Op, action: str, **p: Any) -> dict[str, Any]:
    return SERVICE.handlers[action](op, p)


def test_next_free_skips_the_reserved_and_wraps() -> None:
    net = IPv4Network("10.0.1.0/28")
    assert addresses.capacity(net) == 11
    assert addresses.usable(net) == (int(IPv4Address("10.0.1.4")), int(IPv4Address("10.0.1.14")))
    assert addresses.next_free(net, []) == "10.0.1.4"
    assert addresses.next_free(net, ["10.0.1.4"]) == "10.0.1.5"
    assert addresses.next_free(net, [], after="10.0.1.9") == "10.0.1.10"
    assert addresses.next_free(net, ["10.0.1.4"], after="10.0.1.14") == "10.0.1.5"
    every = [f"10.0.1.{i}" for i in range(4, 15)]
    assert addresses.next_free(net, every) is None
    assert addresses.available(net, 3) == 8


@given(
    prefix=st.integers(24, 28),
    picks=st.sets(st.integers(0, 255), max_size=40),
    after=st.none() | st.integers(0, 255),
)
def test_next_free_is_a_free_usable_address(
    prefix: int, picks: set[int], after: int | None
) -> None:
    net = IPv4Network(f"10.1.2.0/{prefix}")
    used = {str(net.network_address + (p % net.num_addresses)) for p in picks}
    last = None if after is None else str(net.network_address + after % net.num_addresses)
    found = addresses.next_free(net, used, last)
    low, high = addresses.usable(net)
    free = [a for a in range(low, high + 1) if str(IPv4Address(a)) not in used]
    if not free:
        assert found is None
    else:
        assert found is not None and found not in used
        assert low <= int(IPv4Address(found)) <= high


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    store = testing.sqlite_store(tmp_path_factory.mktemp("ec2"))
    yield store
    store.close()


ACCOUNTS = count(100_000_000_000)


def fresh_op(store: Store) -> Op:
    """A caller of its own account, so each example starts with an empty default VPC."""
    world = testing.make_world(store, seed=next(ACCOUNTS))
    return testing.make_op(world, account=str(next(ACCOUNTS)))


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Op]:
    store = testing.sqlite_store(tmp_path)
    yield fresh_op(store)
    store.close()


def small_subnet(op: Op) -> dict[str, Any]:
    vpc = call(op, "CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]
    return call(op, "CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.0.0.16/28")["Subnet"]


def held(op: Op, subnet_id: str) -> list[str]:
    found = call(
        op, "DescribeNetworkInterfaces", Filters=[{"Name": "subnet-id", "Values": [subnet_id]}]
    )
    return [e["PrivateIpAddress"] for e in found["NetworkInterfaces"]]


@given(steps=st.lists(st.integers(-1, 20), min_size=1, max_size=30))
def test_task_enis_never_share_an_address(store: Store, steps: list[int]) -> None:
    """Each step makes an ENI (-1) or deletes the ENI at that index, if any; a /28 holds 11,
    so some examples fill the subnet and must hear InsufficientFreeAddressesInSubnet."""
    op = fresh_op(store)
    subnet = small_subnet(op)
    net = IPv4Network(subnet["CidrBlock"])
    low, high = addresses.usable(net)
    enis: list[str] = []
    for step in steps:
        with op.store.transaction() as tx:
            if step >= 0 and enis:
                delete_task_eni(op, tx, enis.pop(step % len(enis)))
                continue
            if len(enis) == addresses.capacity(net):
                with pytest.raises(NamedError) as full:
                    create_task_eni(op, tx, subnet["SubnetId"], [], ATTACHMENT)
                assert full.value.code == "InsufficientFreeAddressesInSubnet"
                continue
            enis.append(
                create_task_eni(op, tx, subnet["SubnetId"], [], ATTACHMENT)["NetworkInterfaceId"]
            )
        now = held(op, subnet["SubnetId"])
        assert len(now) == len(set(now)) == len(enis)
        assert all(low <= int(IPv4Address(a)) <= high for a in now)
    (shown,) = call(op, "DescribeSubnets", SubnetIds=[subnet["SubnetId"]])["Subnets"]
    assert shown["AvailableIpAddressCount"] == 11 - len(enis)


def test_a_task_eni_as_ecs_makes_it(op: Op) -> None:
    subnet = small_subnet(op)
    web = call(op, "CreateSecurityGroup", GroupName="web", Description="w", VpcId=subnet["VpcId"])
    with op.store.transaction() as tx:
        eni = create_task_eni(
            op,
            tx,
            subnet["SubnetId"],
            [web["GroupId"]],
            ATTACHMENT,
            instance_id="i-0123456789abcdef0",
        )
    (shown,) = call(
        op,
        "DescribeNetworkInterfaces",
        Filters=[
            {"Name": "description", "Values": ["arn:aws:ecs:*:attachment/*"]},
            {"Name": "group-id", "Values": [web["GroupId"]]},
            {"Name": "attachment.instance-id", "Values": ["i-0123456789abcdef0"]},
            {"Name": "status", "Values": ["in-use"]},
            {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
            {"Name": "private-ip-address", "Values": ["10.0.0.20"]},
        ],
    )["NetworkInterfaces"]
    assert shown["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    assert shown["NetworkInterfaceId"].startswith("eni-")
    assert shown["Groups"] == [{"GroupId": web["GroupId"], "GroupName": "web"}]
    assert shown["InterfaceType"] == "interface" and shown["Description"] == ATTACHMENT
    assert shown["PrivateDnsName"] == "ip-10-0-0-20.ec2.internal"
    # An ENI keeps its group and its subnet from going.
    with pytest.raises(NamedError) as used:
        call(op, "DeleteSecurityGroup", GroupId=web["GroupId"])
    assert used.value.code == "DependencyViolation"
    with pytest.raises(NamedError) as busy:
        call(op, "DeleteSubnet", SubnetId=subnet["SubnetId"])
    assert busy.value.code == "DependencyViolation"
    with op.store.transaction() as tx:
        delete_task_eni(op, tx, eni["NetworkInterfaceId"])
    call(op, "DeleteSecurityGroup", GroupId=web["GroupId"])
    call(op, "DeleteSubnet", SubnetId=subnet["SubnetId"])


def test_task_eni_errors(op: Op) -> None:
    subnet = small_subnet(op)
    other = call(op, "CreateVpc", CidrBlock="10.1.0.0/16")["Vpc"]
    (foreign,) = call(
        op, "DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [other["VpcId"]]}]
    )["SecurityGroups"]
    cases = [
        ("subnet-0000000000000000a", [], "InvalidSubnetID.NotFound"),
        (subnet["SubnetId"], ["sg-0000000000000000a"], "InvalidGroup.NotFound"),
        (subnet["SubnetId"], [foreign["GroupId"]], "InvalidParameter"),
    ]
    for subnet_id, groups, code in cases:
        with pytest.raises(NamedError) as refused, op.store.transaction() as tx:
            create_task_eni(op, tx, subnet_id, groups, ATTACHMENT)
        assert refused.value.code == code
    with pytest.raises(NamedError) as gone, op.store.transaction() as tx:
        delete_task_eni(op, tx, "eni-0000000000000000a")
    assert gone.value.code == "InvalidNetworkInterfaceID.NotFound"
    # No group named: the VPC's default group, as CreateNetworkInterface does.
    with op.store.transaction() as tx:
        eni = create_task_eni(op, tx, subnet["SubnetId"], [], ATTACHMENT)
    assert [g["GroupName"] for g in eni["Groups"]] == ["default"]
    assert "Attachment" not in eni


def test_concurrent_launches_never_share_an_address(op: Op) -> None:
    """Four threads fill one /28 at once: eleven ENIs, eleven addresses, the rest refused."""
    subnet = small_subnet(op)
    made: list[str] = []
    refused: list[str] = []

    def launch() -> None:
        for _ in range(4):
            try:
                with op.store.transaction() as tx:
                    eni = create_task_eni(op, tx, subnet["SubnetId"], [], ATTACHMENT)
                made.append(eni["PrivateIpAddress"])
            except NamedError as error:
                refused.append(error.code)

    threads = [threading.Thread(target=launch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == len(set(made)) == 11
    assert refused == ["InsufficientFreeAddressesInSubnet"] * 5
    assert sorted(held(op, subnet["SubnetId"])) == sorted(made)

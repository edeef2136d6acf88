"""The ECS placer on hand-made fleets: each filter with its reason, each strategy's choice
(the developer guide's examples among them), the defaults, batches, failures and explanations."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from portside.errors import InvalidParameterException
from portside.model.container_instance import DRAINING, ContainerInstance
from portside.model.placement import PlacementConstraint, PlacementStrategy
from portside.scheduler.candidates import EXTERNAL, Ask, Candidate, task_gpus
from portside.scheduler.demand import Demand, task_demand
from portside.scheduler.placer import Placement, place
from portside.scheduler.query import InstanceFacts
from portside.scheduler.strategies import RUN_TASK_DEFAULT, SERVICE_DEFAULT

ZONE = "ecs.availability-zone"
MEMBER_OF = "MemberOf placement constraint unsatisfied."
DISTINCT = "DistinctInstance placement constraint unsatisfied."
BINPACK_MEMORY = PlacementStrategy("binpack", "memory")
BINPACK_CPU = PlacementStrategy("binpack", "cpu")
SPREAD_ZONE = PlacementStrategy("spread", "attribute:ecs.availability-zone")
SPREAD_INSTANCE = PlacementStrategy("spread", "instanceId")
RANDOM = PlacementStrategy("random")


def arn(name: str) -> str:
    return f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{name}"


def inst(name: str, zone: str = "us-east-1a", **kw: Any) -> Candidate:
    attributes = {ZONE: zone, "ecs.os-type": "linux", "ecs.cpu-architecture": "x86_64"}
    attributes.update(kw.pop("attributes", {}))
    kw.setdefault("cpu_free", 1024)
    kw.setdefault("memory_free", 2048)
    return Candidate(arn(name), ec2_instance_id=f"i-{name}", attributes=attributes, **kw)


def ask(
    cpu: int = 256,
    memory: int = 512,
    tcp: Sequence[int] = (),
    udp: Sequence[int] = (),
    **kw: Any,
) -> Ask:
    kw.setdefault("group", "family:web")
    return Ask(Demand(cpu, memory, tuple(tcp), tuple(udp)), **kw)


def run(a: Ask, count: int, fleet: Sequence[Candidate], seed: int = 0) -> Placement:
    return place(a, count, fleet, random.Random(seed))


def names(p: Placement) -> list[str | None]:
    return [c.rsplit("/", 1)[1] if c else None for c in p.chosen]


def reasons(p: Placement) -> dict[str, str]:
    return {a.rsplit("/", 1)[1]: why for a, why in p.failures}


# -- filters, one by one, with ECS's reason ---------------------------------------------------


@pytest.mark.parametrize(
    ("instance", "a", "reason"),
    [
        (inst("x", agent_connected=False), ask(), "AGENT"),
        (inst("x", status=DRAINING), ask(), "AGENT"),
        (inst("x", cpu_free=255), ask(cpu=256), "RESOURCE:CPU"),
        (inst("x", memory_free=511), ask(memory=512), "RESOURCE:MEMORY"),
        (inst("x", ports_tcp=frozenset({80})), ask(tcp=[80]), "RESOURCE:PORTS"),
        (inst("x", ports_udp=frozenset({53})), ask(udp=[53]), "RESOURCE:PORTS_UDP"),
        (inst("x", gpus_free=1), ask(gpus=2), "RESOURCE:GPU"),
        (inst("x"), ask(requires_attributes=[{"name": "ecs.capability.efs"}]), "ATTRIBUTE"),
        (
            inst("x", attributes={"flavour": "b"}),
            ask(requires_attributes=[{"name": "flavour", "value": "a"}]),
            "ATTRIBUTE",
        ),
        (inst("x"), ask(runtime_platform={"cpuArchitecture": "ARM64"}), "ATTRIBUTE"),
        (
            inst("x"),
            ask(runtime_platform={"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE"}),
            "ATTRIBUTE",
        ),
        (
            inst("x", attributes={"stack": "dev"}),
            ask(constraints=[PlacementConstraint("memberOf", "attribute:stack == prod")]),
            MEMBER_OF,
        ),
        (
            inst("x", group_counts={"family:web": 1}),
            ask(constraints=[PlacementConstraint("distinctInstance")]),
            DISTINCT,
        ),
    ],
)
def test_each_filter_turns_an_instance_away_with_ecs_reason(
    instance: Candidate, a: Ask, reason: str
) -> None:
    p = run(a, 1, [instance])
    assert p.chosen == [None]
    assert p.failures == [(instance.arn, reason)]
    assert p.explain == {reason: 1}


@pytest.mark.parametrize(
    ("instance", "a"),
    [
        (inst("x", cpu_free=256, memory_free=512), ask(cpu=256, memory=512)),
        (inst("x", ports_tcp=frozenset({53})), ask(tcp=[80], udp=[53])),  # TCP 53 != UDP 53
        (inst("x", gpus_free=2), ask(gpus=2)),
        (inst("x", attributes={"flavour": "a"}), ask(requires_attributes=[{"name": "flavour"}])),
        (inst("x"), ask(runtime_platform={"operatingSystemFamily": "LINUX"})),
        (inst("x"), ask(runtime_platform={"cpuArchitecture": "X86_64"})),
        (
            inst("x", group_counts={"family:other": 3}),
            ask(constraints=[PlacementConstraint("distinctInstance")]),
        ),
    ],
)
def test_an_instance_that_meets_the_ask_takes_it(instance: Candidate, a: Ask) -> None:
    assert run(a, 1, [instance]).chosen == [instance.arn]


def test_windows_needs_the_matching_os_family_where_the_instance_registers_one() -> None:
    windows = {"ecs.os-type": "windows", "ecs.os-family": "WINDOWS_SERVER_2022_FULL"}
    a = ask(runtime_platform={"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"})
    assert run(a, 1, [inst("x", attributes=windows)]).failures == [(arn("x"), "ATTRIBUTE")]
    older = {"ecs.os-type": "windows"}  # an agent that registers no os-family
    assert run(a, 1, [inst("x", attributes=older)]).chosen == [arn("x")]


def test_memory_is_the_reservation_where_a_container_gives_one() -> None:
    spec = {"containerDefinitions": [{"name": "a", "memory": 1024, "memoryReservation": 256}]}
    a = ask(cpu=0, memory=task_demand(spec).memory)
    assert run(a, 1, [inst("x", memory_free=300)]).chosen == [arn("x")]


def test_gpus_come_from_resource_requirements() -> None:
    spec = {
        "containerDefinitions": [
            {"name": "a", "resourceRequirements": [{"type": "GPU", "value": "2"}]},
            {"name": "b", "resourceRequirements": [{"type": "InferenceAccelerator", "value": "x"}]},
            {"name": "c", "resourceRequirements": [{"type": "GPU", "value": "1"}]},
        ]
    }
    assert task_gpus(spec) == 3


def test_instances_of_another_launch_type_or_provider_are_no_candidates() -> None:
    fleet = [inst("anywhere", launch_type=EXTERNAL), inst("asg", capacity_provider="cp-a")]
    p = run(ask(capacity_provider="cp-b"), 1, fleet)
    assert p.chosen == [None]
    assert p.failures == []  # ECS lists neither
    assert p.explain == {"LAUNCH_TYPE": 2}
    assert run(ask(capacity_provider="cp-a"), 1, fleet).chosen == [arn("asg")]
    assert run(ask(launch_type=EXTERNAL), 1, fleet).chosen == [arn("anywhere")]
    assert run(ask(), 1, fleet).chosen == [arn("asg")]  # EC2 without a provider: any EC2 host


def test_an_instance_is_reported_with_the_first_filter_it_fails() -> None:
    starved = inst("x", cpu_free=0, attributes={"stack": "dev"}, agent_connected=False)
    a = ask(constraints=[PlacementConstraint("memberOf", "attribute:stack == prod")])
    assert run(a, 1, [starved]).failures == [(starved.arn, "AGENT")]
    assert run(a, 1, [dataclasses.replace(starved, agent_connected=True)]).failures == [
        (starved.arn, "RESOURCE:CPU")
    ]


def test_constraints_of_the_call_and_of_the_task_definition_apply_together() -> None:
    fleet = [
        inst("a", attributes={"stack": "prod", "tier": "web"}),
        inst("b", attributes={"stack": "prod", "tier": "db"}),
        inst("c", attributes={"stack": "dev", "tier": "web"}),
    ]
    both = [
        PlacementConstraint("memberOf", "attribute:stack == prod"),  # the task definition's
        PlacementConstraint("memberOf", "attribute:tier == web"),  # the call's
    ]
    p = run(ask(constraints=both), 2, fleet)
    assert names(p) == ["a", "a"]


def test_memberof_sees_the_tasks_this_batch_placed() -> None:
    a = ask(constraints=[PlacementConstraint("memberOf", "runningTasksCount < 2")])
    p = run(a, 5, [inst("a", cpu_free=4096), inst("b", cpu_free=4096, running_tasks_count=1)])
    assert names(p) == ["a", "a", "b", None, None]
    assert set(reasons(p).values()) == {MEMBER_OF}

    # task:group: once a task of the group is on an instance, it is a member.
    a = ask(
        constraints=[PlacementConstraint("memberOf", "task:group == family:web")],
        strategy=[SPREAD_INSTANCE],
    )
    assert names(run(a, 3, [inst("a", group_counts={"family:web": 1}), inst("b")])) == ["a"] * 3


def test_distinct_instance_covers_the_batch_and_the_group_already_running() -> None:
    fleet = [inst("a"), inst("b", group_counts={"family:web": 1}), inst("c"), inst("d")]
    p = run(ask(constraints=[PlacementConstraint("distinctInstance")]), 4, fleet)
    assert names(p) == ["a", "c", "d", None]
    assert reasons(p) == {"a": DISTINCT, "b": DISTINCT, "c": DISTINCT, "d": DISTINCT}


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraints", "strategy", "message"),
    [
        ([PlacementConstraint("distinctInstance")] * 11, [], "maximum of 10 placement constraints"),
        ([PlacementConstraint("sameInstance")], [], "Invalid placement constraint type"),
        ([PlacementConstraint("memberOf")], [], "requires an expression"),
        ([PlacementConstraint("memberOf", "x" * 2001)], [], "at most 2000"),
        ([PlacementConstraint("distinctInstance", "a == b")], [], "can't be specified"),
        ([PlacementConstraint("memberOf", "attribute:stack ==")], [], "column 19"),
        ([], [RANDOM] * 6, "maximum of 5 placement strategies"),
        ([], [PlacementStrategy("binpack", "disk")], "use cpu or memory"),
        ([], [PlacementStrategy("binpack")], "use cpu or memory"),
        ([], [PlacementStrategy("spread", "zone")], "attribute:NAME"),
        ([], [PlacementStrategy("spread")], "attribute:NAME"),
        ([], [PlacementStrategy("pack")], "Invalid placement strategy type"),
    ],
)
def test_what_ecs_refuses_is_an_invalid_parameter(
    constraints: list[PlacementConstraint], strategy: list[PlacementStrategy], message: str
) -> None:
    with pytest.raises(InvalidParameterException, match=message):
        run(ask(constraints=constraints, strategy=strategy), 1, [inst("a")])


def test_ten_constraints_and_five_strategies_are_allowed() -> None:
    a = ask(constraints=[PlacementConstraint("distinctInstance")] * 10, strategy=[RANDOM] * 5)
    assert run(a, 1, [inst("a")]).chosen == [arn("a")]


# -- strategies -------------------------------------------------------------------------------


def test_binpack_memory_prefers_the_least_memory_left_that_still_fits() -> None:
    fleet = [inst("roomy", memory_free=8192), inst("snug", memory_free=600)]
    fleet.append(inst("tiny", memory_free=500))
    p = run(ask(memory=512, strategy=[BINPACK_MEMORY]), 3, fleet)
    assert names(p) == ["snug", "roomy", "roomy"]


def test_binpack_cpu_then_memory_breaks_ties_in_order() -> None:
    fleet = [
        inst("a", cpu_free=1024, memory_free=4096),
        inst("b", cpu_free=1024, memory_free=2048),
        inst("c", cpu_free=2048, memory_free=1024),
    ]
    assert names(run(ask(strategy=[BINPACK_CPU, BINPACK_MEMORY]), 1, fleet)) == ["b"]
    assert names(run(ask(strategy=[BINPACK_MEMORY, BINPACK_CPU]), 1, fleet)) == ["c"]


def test_spread_instance_counts_only_tasks_of_the_group() -> None:
    fleet = [
        inst("a", group_counts={"family:web": 2}),
        inst("b", group_counts={"family:batch": 5}),
        inst("c", group_counts={"family:web": 1}),
    ]
    p = run(ask(cpu=0, memory=1, strategy=[SPREAD_INSTANCE]), 4, fleet)
    assert names(p) == ["b", "b", "c", "a"]  # a:2 b:0 c:1, b:1 (ARN), b:2, then all 2 (ARN)


def test_spread_zone_counts_the_groups_tasks_on_every_instance_of_the_zone() -> None:
    fleet = [
        inst("a1", "us-east-1a", cpu_free=0, group_counts={"family:web": 2}),  # full, but counts
        inst("a2", "us-east-1a"),
        inst("b1", "us-east-1b", group_counts={"family:web": 1}),
    ]
    p = run(ask(strategy=[SPREAD_ZONE]), 3, fleet)
    assert names(p) == ["b1", "a2", "b1"]  # b:1 a:2 -> b:2 -> a:3 vs b:2


def test_spread_zone_then_binpack_memory_the_guides_example() -> None:
    # "Distribute tasks evenly across Availability Zones and then bin pack tasks based on
    # memory within each Availability Zone."
    fleet = [
        inst("a-big", "us-east-1a", memory_free=4096),
        inst("a-small", "us-east-1a", memory_free=1024),
        inst("b-big", "us-east-1b", memory_free=4096),
        inst("b-small", "us-east-1b", memory_free=1536),
    ]
    p = run(ask(memory=512, strategy=[SPREAD_ZONE, BINPACK_MEMORY]), 6, fleet)
    # Zones alternate; within the zone, the least memory left that fits (a-small fits two).
    assert names(p) == ["a-small", "b-small", "a-small", "b-small", "b-small", "a-big"]


def test_spread_zone_then_instance_the_guides_example_fills_evenly() -> None:
    fleet = [inst(f"{z}{n}", f"us-east-1{z}", cpu_free=8192) for z in "ab" for n in (1, 2, 3)]
    fleet.append(inst("c1", "us-east-1c", cpu_free=8192))
    p = run(ask(strategy=[SPREAD_ZONE, SPREAD_INSTANCE]), 9, fleet)
    per_zone = Counter(n[0] for n in names(p) if n)
    per_instance = Counter(names(p))
    assert per_zone == {"a": 3, "b": 3, "c": 3}
    assert per_instance["c1"] == 3 and all(per_instance[f"a{n}"] == 1 for n in (1, 2, 3))


def test_instances_without_the_spread_attribute_share_one_value() -> None:
    fleet = [inst("a", "us-east-1a"), Candidate(arn("bare1"), cpu_free=1024, memory_free=2048)]
    fleet.append(Candidate(arn("bare2"), cpu_free=1024, memory_free=2048))
    p = run(ask(strategy=[SPREAD_ZONE, SPREAD_INSTANCE]), 4, fleet)
    assert Counter(names(p)) == {"a": 2, "bare1": 1, "bare2": 1}


def test_random_is_reproducible_with_a_seed_and_places_only_where_it_fits() -> None:
    fleet = [inst(n, cpu_free=4096, memory_free=8192) for n in "abcd"]
    fleet.append(inst("full", cpu_free=0))
    a = ask(strategy=[RANDOM])
    first = run(a, 30, fleet, seed=42)
    assert first == run(a, 30, fleet, seed=42)
    assert "full" not in names(first)


def test_random_is_roughly_uniform_and_each_task_drawn_afresh() -> None:
    fleet = [inst(n, cpu_free=10**6, memory_free=10**6) for n in "abcd"]
    counts = Counter(names(run(ask(strategy=[RANDOM]), 4000, fleet, seed=7)))
    assert all(850 < counts[n] < 1150 for n in "abcd"), counts


def test_random_after_spread_zone_stays_in_the_emptiest_zone() -> None:
    fleet = [inst(f"a{n}", "us-east-1a", group_counts={"family:web": 1}) for n in range(3)]
    fleet += [inst(f"b{n}", "us-east-1b") for n in range(3)]
    p = run(ask(strategy=[SPREAD_ZONE, RANDOM]), 3, fleet, seed=3)
    assert all(n and n.startswith("b") for n in names(p))


def test_random_breaks_ties_across_zones_too() -> None:
    fleet = [inst(f"{z}{n}", f"us-east-1{z}", cpu_free=10**6) for z in "ab" for n in (1, 2)]
    a = ask(strategy=[SPREAD_ZONE, RANDOM])
    firsts = Counter(names(run(a, 1, fleet, seed=s))[0] for s in range(400))
    assert set(firsts) == {"a1", "a2", "b1", "b2"}
    assert all(70 < n < 130 for n in firsts.values()), firsts


def test_no_strategy_means_lowest_arn_first() -> None:
    fleet = [inst("b"), inst("a"), inst("c")]
    assert names(run(ask(), 5, fleet)) == ["a", "a", "a", "a", "b"]


def test_the_defaults() -> None:
    assert list(RUN_TASK_DEFAULT) == [PlacementStrategy("random")]
    assert list(SERVICE_DEFAULT) == [SPREAD_ZONE, SPREAD_INSTANCE]
    fleet = [inst(f"{z}{n}", f"us-east-1{z}", cpu_free=4096) for z in "abc" for n in (1, 2)]
    p = run(ask(group="service:web", strategy=SERVICE_DEFAULT), 6, fleet)
    assert Counter(names(p)) == {n.ec2_instance_id[2:]: 1 for n in fleet}


# -- batches, failures, explanations ----------------------------------------------------------


def test_later_tasks_of_a_batch_see_earlier_ones() -> None:
    fleet = [inst("a", cpu_free=2048), inst("b", cpu_free=1024)]
    p = run(ask(cpu=512, memory=512, tcp=[8080], strategy=[BINPACK_CPU]), 3, fleet)
    assert names(p) == ["b", "a", None]  # the port is taken on both after one task each
    assert reasons(p) == {"a": "RESOURCE:PORTS", "b": "RESOURCE:PORTS"}


def test_a_count_larger_than_the_room_places_what_fits_and_reports_each_instance_once() -> None:
    fleet = [
        inst("a", cpu_free=1024),
        inst("b", cpu_free=512),
        inst("off", agent_connected=False),
        inst("anywhere", launch_type=EXTERNAL),
    ]
    p = run(ask(cpu=512, memory=1), 10, fleet)
    assert names(p) == ["a", "a", "b"] + [None] * 7
    assert p.failures == sorted(
        [(arn("a"), "RESOURCE:CPU"), (arn("b"), "RESOURCE:CPU"), (arn("off"), "AGENT")]
    )
    assert p.explain == {"RESOURCE:CPU": 2, "AGENT": 1, "LAUNCH_TYPE": 1}
    assert p.why() == (
        "no container instance met all requirements: RESOURCE:CPU on 2 instances, "
        "AGENT on 1 instance, LAUNCH_TYPE on 1 instance"
    )


def test_closest_is_the_instance_that_got_furthest() -> None:
    fleet = [
        inst("a", agent_connected=False),
        inst("b", memory_free=0),
        inst("c", attributes={"stack": "dev"}),
        inst("d", cpu_free=0),
    ]
    a = ask(constraints=[PlacementConstraint("memberOf", "attribute:stack == prod")])
    assert run(a, 1, fleet).closest == (arn("c"), MEMBER_OF)


def test_all_placed_reports_nothing() -> None:
    p = run(ask(), 2, [inst("a")])
    assert p == Placement([arn("a"), arn("a")], [], {}, None)
    assert p.why() == "placed"


def test_no_candidates_and_no_tasks() -> None:
    assert run(ask(), 2, []) == Placement([None, None], [], {}, None)
    assert run(ask(), 2, []).why() == "no container instances"
    assert run(ask(), 0, [inst("a")]).chosen == []
    with pytest.raises(ValueError):
        run(ask(), -1, [inst("a")])


# -- the views --------------------------------------------------------------------------------


def test_candidate_of_a_stored_instance() -> None:
    stored = ContainerInstance(
        arn=arn("x"),
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        ec2_instance_id="i-x",
        registered_at=1.0,
        cpu=2048,
        used_cpu=512,
        memory=4096,
        used_memory=1024,
        reserved_ports_tcp=[22],
        used_ports_tcp=[80],
        used_ports_udp=[53],
        attributes=[{"name": ZONE, "value": "us-east-1a"}, {"name": "ecs.capability.x"}],
        running_tasks=3,
        version_info={"agentVersion": "1.80.0"},
        capacity_provider_name="cp",
    )
    c = Candidate.of(
        stored,
        group_counts={"service:web": 2, "family:old": 0},
        custom_attributes=[{"name": "stack", "value": "prod"}],
    )
    assert (c.cpu_free, c.memory_free) == (1536, 3072)
    assert (c.ports_tcp, c.ports_udp) == (frozenset({22, 80}), frozenset({53}))
    assert c.attributes == {ZONE: "us-east-1a", "ecs.capability.x": None, "stack": "prod"}
    assert (c.running_tasks_count, c.agent_version, c.capacity_provider) == (3, "1.80.0", "cp")
    assert c.task_groups == frozenset({"service:web"})


def test_a_candidate_reads_like_the_query_languages_instance_facts() -> None:
    # The placer hands untouched candidates straight to compiled queries.
    for f in dataclasses.fields(InstanceFacts):
        assert hasattr(inst("x"), f.name), f.name


def test_nothing_given_is_changed() -> None:
    fleet = [inst("a", group_counts={"family:web": 1})]
    groups: Mapping[str, int] = dict(fleet[0].group_counts)
    run(ask(tcp=[80], strategy=[SPREAD_ZONE]), 1, fleet)
    assert fleet[0].group_counts == groups and fleet[0].ports_tcp == frozenset()

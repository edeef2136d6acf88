"""Properties of the placer on generated fleets, checked against a deliberately naive model:
every task scans every instance with every filter, then takes the minimum of the whole key.

The fast placer must make the model's choice (for random, one of the model's tied best), and
report the model's failures; never over-commit; keep distinctInstance; spread evenly; bin
pack tightly; and ignore the order instances are listed in."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.model.placement import PlacementConstraint, PlacementStrategy
from portside.scheduler.candidates import EXTERNAL, Ask, Candidate
from portside.scheduler.demand import Demand
from portside.scheduler.placer import Placement, place
from portside.scheduler.query import InstanceFacts, compile_query

ZONE = "ecs.availability-zone"
ROOMY = 10**5  # room for any batch
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)

STRATEGIES = [
    PlacementStrategy("binpack", "cpu"),
    PlacementStrategy("binpack", "memory"),
    PlacementStrategy("spread", "instanceId"),
    PlacementStrategy("spread", "attribute:ecs.availability-zone"),
    PlacementStrategy("spread", "attribute:stack"),
    PlacementStrategy("random"),
]
CONSTRAINTS = [
    PlacementConstraint("distinctInstance"),
    PlacementConstraint("memberOf", "attribute:stack == prod"),
    PlacementConstraint("memberOf", "runningTasksCount < 3"),
    PlacementConstraint("memberOf", "task:group == g or runningTasksCount == 0"),
    PlacementConstraint("memberOf", "not (attribute:ecs.availability-zone == a)"),
]


@st.composite
def candidates(draw: st.DrawFn, name: str) -> Candidate:
    attributes: dict[str, str | None] = {}
    zone = draw(st.sampled_from(["a", "b", "c", None]))
    if zone is not None:
        attributes[ZONE] = zone
    stack = draw(st.sampled_from(["prod", "dev", None]))
    if stack is not None:
        attributes["stack"] = stack
    if draw(st.booleans()):
        attributes["gpu-ready"] = None
    return Candidate(
        arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{name}",
        status=draw(st.sampled_from(["ACTIVE"] * 9 + ["DRAINING"])),
        agent_connected=draw(st.sampled_from([True] * 9 + [False])),
        cpu_free=draw(st.sampled_from([0, 256, 1024, 4096, ROOMY, ROOMY])),
        memory_free=draw(st.sampled_from([0, 256, 1024, 4096, ROOMY, ROOMY])),
        ports_tcp=draw(st.sampled_from([frozenset(), frozenset({22}), frozenset({22, 80})])),
        ports_udp=draw(st.sampled_from([frozenset(), frozenset(), frozenset({53})])),
        gpus_free=draw(st.integers(0, 2)),
        attributes=attributes,
        running_tasks_count=draw(st.integers(0, 3)),
        group_counts={"g": draw(st.integers(0, 2)), "other": draw(st.integers(0, 1))},
        capacity_provider=draw(st.sampled_from([None, "cp"])),
        launch_type=draw(st.sampled_from(["EC2"] * 9 + [EXTERNAL])),
    )


@st.composite
def fleets(draw: st.DrawFn, max_size: int = 10, min_size: int = 0) -> list[Candidate]:
    # Names are drawn shuffled, so the ARN order is not the listed order.
    n = draw(st.integers(min_size, max_size))
    order = draw(st.permutations(range(n)))
    return [draw(candidates(f"i{k:02d}")) for k in order]


@st.composite
def asks(draw: st.DrawFn, strategy: Sequence[PlacementStrategy] | None = None) -> Ask:
    if strategy is None:
        strategy = draw(st.lists(st.sampled_from(STRATEGIES), max_size=3))
    return Ask(
        demand=Demand(
            cpu=draw(st.sampled_from([0, 128, 256, 512])),
            memory=draw(st.sampled_from([128, 256, 512])),
            ports_tcp=draw(st.sampled_from([(), (), (), (80,), (80, 8080)])),
            ports_udp=draw(st.sampled_from([(), (), (), (53,)])),
        ),
        group="g",
        gpus=draw(st.sampled_from([0] * 5 + [1])),
        requires_attributes=draw(st.sampled_from([(), (), ({"name": "gpu-ready"},)])),
        constraints=draw(
            st.one_of(st.just([]), st.lists(st.sampled_from(CONSTRAINTS), min_size=1, max_size=2))
        ),
        strategy=strategy,
        capacity_provider=draw(st.sampled_from([None] * 5 + ["cp"])),
    )


# -- the naive model --------------------------------------------------------------------------


@dataclasses.dataclass
class Model:
    """The running state of every instance, updated as tasks are placed."""

    ask: Ask
    fleet: Sequence[Candidate]
    state: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = [
            {
                "cpu": c.cpu_free,
                "memory": c.memory_free,
                "gpus": c.gpus_free,
                "tcp": set(c.ports_tcp),
                "udp": set(c.ports_udp),
                "groups": Counter(c.group_counts),
                "running": c.running_tasks_count,
            }
            for c in self.fleet
        ]

    def why_not(self, i: int) -> str | None:
        c, s, a, d = self.fleet[i], self.state[i], self.ask, self.ask.demand
        if c.launch_type != a.launch_type or a.capacity_provider not in (
            None,
            c.capacity_provider,
        ):
            return "LAUNCH_TYPE"
        if not c.agent_connected or c.status != "ACTIVE":
            return "AGENT"
        if any(r["name"] not in c.attributes for r in a.requires_attributes):
            return "ATTRIBUTE"
        checks = [
            (d.cpu > 0 and s["cpu"] < d.cpu, "RESOURCE:CPU"),
            (a.gpus > 0 and s["gpus"] < a.gpus, "RESOURCE:GPU"),
            (s["memory"] < d.memory, "RESOURCE:MEMORY"),
            (bool(s["tcp"] & set(d.ports_tcp)), "RESOURCE:PORTS"),
            (bool(s["udp"] & set(d.ports_udp)), "RESOURCE:PORTS_UDP"),
        ]
        for failed, reason in checks:
            if failed:
                return reason
        facts = InstanceFacts(
            attributes=c.attributes,
            ec2_instance_id=c.ec2_instance_id,
            registered_at=c.registered_at,
            running_tasks_count=s["running"],
            task_groups=frozenset(g for g, n in s["groups"].items() if n > 0),
        )
        members = [k for k in a.constraints if k.type == "memberOf"]
        if not all(compile_query(k.expression or "")(facts) for k in members):
            return "MemberOf placement constraint unsatisfied."
        distinct = any(k.type == "distinctInstance" for k in a.constraints)
        if distinct and s["groups"]["g"] > 0:
            return "DistinctInstance placement constraint unsatisfied."
        return None

    def key(self, i: int) -> tuple[int, ...]:
        """The whole strategy key (up to a random), smaller preferred."""
        parts: list[int] = []
        for strategy in self.ask.strategy:
            kind, field = strategy.type, strategy.field or ""
            if kind == "random":
                break
            if kind == "binpack":
                parts.append(self.state[i][field])
            elif field == "instanceId":
                parts.append(self.state[i]["groups"]["g"])
            else:
                name = field.removeprefix("attribute:")
                value = self.fleet[i].attributes.get(name)
                parts.append(
                    sum(
                        s["groups"]["g"]
                        for c, s in zip(self.fleet, self.state, strict=True)
                        if c.attributes.get(name) == value
                    )
                )
        return tuple(parts)

    def best(self) -> list[int]:
        """The feasible instances tied for best, lowest ARN first."""
        feasible = [i for i in range(len(self.fleet)) if self.why_not(i) is None]
        if not feasible:
            return []
        top = min(self.key(i) for i in feasible)
        return sorted((i for i in feasible if self.key(i) == top), key=self.arn)

    def take(self, i: int) -> None:
        s, d = self.state[i], self.ask.demand
        s["cpu"] -= d.cpu
        s["memory"] -= d.memory
        s["gpus"] -= self.ask.gpus
        s["tcp"] |= set(d.ports_tcp)
        s["udp"] |= set(d.ports_udp)
        s["groups"]["g"] += 1
        s["running"] += 1

    def arn(self, i: int) -> str:
        return self.fleet[i].arn

    def failures(self) -> list[tuple[str, str]]:
        found = [(self.arn(i), self.why_not(i)) for i in range(len(self.fleet))]
        return sorted((a, why) for a, why in found if why not in (None, "LAUNCH_TYPE"))


def is_random(a: Ask) -> bool:
    return any(s.type == "random" for s in a.strategy)


# -- properties -------------------------------------------------------------------------------


@settings(FAST, max_examples=400)
@given(fleets(), asks(), st.integers(0, 12), st.integers(0, 2**32))
def test_the_placer_chooses_what_the_naive_model_chooses(
    fleet: list[Candidate], a: Ask, count: int, seed: int
) -> None:
    check_against_the_model(fleet, a, count, seed)


def check_against_the_model(fleet: list[Candidate], a: Ask, count: int, seed: int) -> None:
    p = place(a, count, fleet, random.Random(seed))
    model = Model(a, fleet)
    index = {c.arn: i for i, c in enumerate(fleet)}
    for n, chosen in enumerate(p.chosen):
        best = model.best()
        if chosen is None:
            assert not best, f"task {n} unplaced, but {model.arn(best[0])} takes it"
            assert p.chosen[n:] == [None] * (count - n)
            assert p.failures == model.failures()
            return
        if is_random(a):
            assert index[chosen] in best  # only feasible, and tied for best before the random
        else:
            assert index[chosen] == best[0]
        model.take(index[chosen])
    assert p.failures == [] and p.explain == {}


@settings(FAST, max_examples=100)
@given(fleets(max_size=40, min_size=25), asks(), st.integers(1, 3), st.integers(0, 2**32))
def test_large_cells_and_small_calls_still_choose_what_the_model_chooses(
    fleet: list[Candidate], a: Ask, count: int, seed: int
) -> None:
    # A cell many times larger than the call keeps only its best entries (pipeline._Heap):
    # the choices must not change.
    check_against_the_model(fleet, a, count, seed)


@FAST
@given(fleets(), asks(), st.integers(0, 12), st.integers(0, 2**32))
def test_never_over_commits_cpu_memory_gpus_or_a_port(
    fleet: list[Candidate], a: Ask, count: int, seed: int
) -> None:
    p = place(a, count, fleet, random.Random(seed))
    tasks = Counter(c for c in p.chosen if c is not None)
    d = a.demand
    for c in fleet:
        n = tasks[c.arn]
        if n == 0:
            continue
        assert n * d.cpu <= c.cpu_free and n * d.memory <= c.memory_free
        assert n * a.gpus <= c.gpus_free
        if d.ports_tcp or d.ports_udp:
            assert n == 1  # a static host port binds once
            assert c.ports_tcp.isdisjoint(d.ports_tcp) and c.ports_udp.isdisjoint(d.ports_udp)


@FAST
@given(fleets(), asks(), st.integers(0, 12), st.integers(0, 2**32))
def test_distinct_instance_never_shares_an_instance_within_the_group(
    fleet: list[Candidate], a: Ask, count: int, seed: int
) -> None:
    a = dataclasses.replace(a, constraints=[PlacementConstraint("distinctInstance")])
    placed = [c for c in place(a, count, fleet, random.Random(seed)).chosen if c]
    assert len(placed) == len(set(placed))
    running = {c.arn for c in fleet if c.group_counts.get("g")}
    assert running.isdisjoint(placed)


@FAST
@given(
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 40),
    st.sampled_from([[], [STRATEGIES[2]], [STRATEGIES[1]], [STRATEGIES[5]]]),
    st.integers(0, 2**32),
)
def test_spread_over_equal_zones_keeps_counts_within_one(
    zones: int, per_zone: int, count: int, then: list[PlacementStrategy], seed: int
) -> None:
    fleet = [
        Candidate(f"arn:{z}:{k}", cpu_free=10**6, memory_free=10**6, attributes={ZONE: str(z)})
        for z in range(zones)
        for k in range(per_zone)
    ]
    a = Ask(Demand(1, 1), "g", strategy=[STRATEGIES[3], *then])
    p = place(a, count, fleet, random.Random(seed))
    per = Counter(c.split(":")[1] for c in p.chosen if c)
    counts = [per[str(z)] for z in range(zones)]
    assert max(counts) - min(counts) <= 1


@FAST
@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 30),
    st.sampled_from(["cpu", "memory"]),
    st.sampled_from([[], [STRATEGIES[2]], [STRATEGIES[5]]]),
)
def test_binpack_of_uniform_tasks_uses_the_fewest_instances(
    instances: int, fit: int, count: int, field: str, then: list[PlacementStrategy]
) -> None:
    fleet = [
        Candidate(f"arn:{k}", cpu_free=fit * 100, memory_free=fit * 100) for k in range(instances)
    ]
    a = Ask(Demand(100, 100), "g", strategy=[PlacementStrategy("binpack", field), *then])
    p = place(a, count, fleet, random.Random(0))
    placed = [c for c in p.chosen if c]
    assert len(placed) == min(count, instances * fit)
    assert len(set(placed)) == -(-len(placed) // fit)  # ceil: every used instance but one full


@FAST
@given(fleets(), asks(), st.integers(0, 12), st.randoms(use_true_random=False))
def test_the_listed_order_of_instances_does_not_matter(
    fleet: list[Candidate], a: Ask, count: int, shuffler: random.Random
) -> None:
    a = dataclasses.replace(a, strategy=[s for s in a.strategy if s.type != "random"])
    shuffled = list(fleet)
    shuffler.shuffle(shuffled)
    first = place(a, count, fleet, random.Random(0))
    assert place(a, count, shuffled, random.Random(0)) == first


def test_random_with_a_seed_is_reproducible_and_the_seed_matters() -> None:
    fleet = [Candidate(f"arn:{k}", cpu_free=10**6, memory_free=10**6) for k in range(20)]
    a = Ask(Demand(1, 1), "g", strategy=[PlacementStrategy("random")])
    runs = [place(a, 20, fleet, random.Random(s)) for s in (1, 1, 2)]
    assert runs[0] == runs[1] != runs[2]
    assert isinstance(runs[0], Placement)

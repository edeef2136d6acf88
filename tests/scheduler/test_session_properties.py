"""A placer Session kept across calls decides what a fresh `place()` on the same fleet would.

Generated fleets go through random sequences of calls and changes (instances changed, gone,
added, re-registered); the fleet's truth is kept beside the session the way the control plane
keeps it (the placed tasks charged to the instances they went to), and after every step a
fresh `place()` on the truth must agree with the session: the same instances in the same
order, the same failures, explanation and closest instance. For `random` chains, the same
number placed and only instances the fresh placer could have chosen."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.model.placement import PlacementConstraint, PlacementStrategy
from portside.scheduler.candidates import EXTERNAL, Ask, Candidate
from portside.scheduler.demand import Demand
from portside.scheduler.placer import place
from portside.scheduler.session import Session

ZONE = "ecs.availability-zone"
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None)

CHAINS: list[list[PlacementStrategy]] = [
    [PlacementStrategy("binpack", "memory")],
    [PlacementStrategy("binpack", "cpu"), PlacementStrategy("spread", "instanceId")],
    [PlacementStrategy("spread", f"attribute:{ZONE}"), PlacementStrategy("spread", "instanceId")],
    [PlacementStrategy("spread", f"attribute:{ZONE}"), PlacementStrategy("spread", "attribute:s")],
    [PlacementStrategy("spread", "instanceId")],
    [],
    [PlacementStrategy("random")],
    [PlacementStrategy("spread", f"attribute:{ZONE}"), PlacementStrategy("random")],
    [PlacementStrategy("binpack", "memory"), PlacementStrategy("random")],
]
CONSTRAINTS: list[list[PlacementConstraint]] = [
    [],
    [PlacementConstraint("distinctInstance")],
    [PlacementConstraint("memberOf", "attribute:s == prod")],
    [PlacementConstraint("memberOf", "runningTasksCount < 3")],
    [PlacementConstraint("memberOf", "task:group == g or runningTasksCount == 0")],
]


@st.composite
def candidates(draw: st.DrawFn, name: str) -> Candidate:
    attributes: dict[str, str | None] = {}
    zone = draw(st.sampled_from(["a", "b", "c", None]))
    if zone is not None:
        attributes[ZONE] = zone
    stack = draw(st.sampled_from(["prod", "dev", None]))
    if stack is not None:
        attributes["s"] = stack
    return Candidate(
        arn=f"arn:aws:ecs:us-east-1:000000000000:container-instance/c/{name}",
        status=draw(st.sampled_from(["ACTIVE"] * 8 + ["DRAINING"])),
        agent_connected=draw(st.sampled_from([True] * 8 + [False])),
        cpu_free=draw(st.sampled_from([0, 256, 512, 1024, 2048])),
        memory_free=draw(st.sampled_from([0, 256, 512, 1024, 2048])),
        ports_tcp=draw(st.sampled_from([frozenset(), frozenset({80})])),
        gpus_free=draw(st.integers(0, 2)),
        attributes=attributes,
        running_tasks_count=draw(st.integers(0, 3)),
        group_counts={"g": draw(st.integers(0, 2)), "other": draw(st.integers(0, 1))},
        launch_type=draw(st.sampled_from(["EC2"] * 8 + [EXTERNAL])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    names = [f"i{k:02d}" for k in draw(st.permutations(range(draw(st.integers(0, 8)))))]
    fleet = {c.arn: c for c in (draw(candidates(n)) for n in names)}
    steps: list[tuple[str, Any]] = []
    for n in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["place", "place", "change", "gone", "new"]))
        if kind == "place":
            steps.append(("place", draw(st.integers(0, 4))))
        elif kind == "new":
            steps.append(("new", draw(candidates(f"n{n:02d}"))))
        else:
            steps.append((kind, (draw(st.integers(0, 99)), draw(candidates("x")))))
    demand = Demand(
        cpu=draw(st.sampled_from([0, 256])),
        memory=draw(st.sampled_from([128, 512])),
        ports_tcp=draw(st.sampled_from([frozenset(), frozenset({80})])),
    )
    ask = Ask(
        demand=demand,
        group="g",
        gpus=draw(st.sampled_from([0, 0, 1])),
        constraints=draw(st.sampled_from(CONSTRAINTS)),
        strategy=draw(st.sampled_from(CHAINS)),
        launch_type=draw(st.sampled_from(["EC2", "EC2", EXTERNAL])),
    )
    return {"fleet": fleet, "steps": steps, "ask": ask, "seed": draw(st.integers(0, 2**16))}


def charged(c: Candidate, ask: Ask) -> Candidate:
    """The instance after one more task of the ask (what the stored instance becomes)."""
    groups = dict(c.group_counts)
    groups[ask.group] = groups.get(ask.group, 0) + 1
    return dataclasses.replace(
        c,
        cpu_free=c.cpu_free - ask.demand.cpu,
        memory_free=c.memory_free - ask.demand.memory,
        gpus_free=c.gpus_free - ask.gpus,
        ports_tcp=c.ports_tcp.union(ask.demand.ports_tcp),
        group_counts=groups,
        running_tasks_count=c.running_tasks_count + 1,
    )


@SETTINGS
@given(scenarios())
def test_a_kept_session_decides_what_a_fresh_placer_would(case: dict[str, Any]) -> None:
    ask: Ask = case["ask"]
    truth: dict[str, Candidate] = dict(case["fleet"])
    session = Session(ask, list(truth.values()))
    shuffled = any(s.type == "random" for s in ask.strategy)
    rng = random.Random(case["seed"])
    changed: dict[str, Candidate | None] = {}
    for kind, arg in case["steps"]:
        if kind == "place":
            session.refresh({**changed, **{a: truth.get(a) for a in session.touched()}})
            changed = {}
            fresh = place(ask, arg, list(truth.values()), random.Random(0))
            got = session.place(arg, rng)
            if shuffled:
                placed = [a for a in got.chosen if a]
                assert len(placed) == len([a for a in fresh.chosen if a])
            else:
                assert got == fresh
                placed = [a for a in got.chosen if a]
            for arn in placed:
                truth[arn] = charged(truth[arn], ask)
        elif kind == "new":
            truth[arg.arn] = arg
            changed[arg.arn] = arg
        elif truth:
            k, new = arg
            arn = sorted(truth)[k % len(truth)]
            if kind == "gone":
                del truth[arn]
                changed[arn] = None
            else:
                truth[arn] = changed[arn] = dataclasses.replace(new, arn=arn)
    assert len(session) == len(truth) or changed


def test_an_instance_that_returns_is_a_candidate_again() -> None:
    ask = Ask(demand=Demand(cpu=0, memory=128), group="g", strategy=CHAINS[0])
    one = Candidate(arn="arn:one", cpu_free=1024, memory_free=1024)
    two = Candidate(arn="arn:two", cpu_free=1024, memory_free=512)
    session = Session(ask, [one, two])
    assert session.place(1, random.Random(0)).chosen == ["arn:two"]
    session.refresh({"arn:two": None, **{a: None for a in session.touched() if a != "arn:two"}})
    assert session.place(1, random.Random(0)).chosen == ["arn:one"]
    assert len(session) == 1
    session.refresh({"arn:one": one, "arn:two": two})
    assert len(session) == 2
    assert session.place(1, random.Random(0)).chosen == ["arn:two"]


def test_a_full_fleet_reports_each_instance_with_its_reason_once() -> None:
    ask = Ask(demand=Demand(cpu=0, memory=512), group="g", strategy=CHAINS[0])
    fleet = [Candidate(arn=f"arn:{n}", cpu_free=1024, memory_free=512) for n in range(3)]
    session = Session(ask, fleet)
    assert all(session.place(3, random.Random(0)).chosen)
    result = session.place(1, random.Random(0))
    assert result.chosen == [None]
    assert result.failures == [(f"arn:{n}", "RESOURCE:MEMORY") for n in range(3)]
    fresh = place(ask, 1, [charged(c, ask) for c in fleet], random.Random(0))
    assert result.failures == fresh.failures

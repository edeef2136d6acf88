"""Feasibility: the filters an instance must pass to take a task, each naming ECS's reason.

In the order they run (an instance is reported with the first one it fails):

    LAUNCH_TYPE        launch type / capacity provider      launch_type.py (never reported)
    AGENT              ACTIVE, agent connected              agent.py
    ATTRIBUTE          requiresAttributes, runtimePlatform  attributes.py
    RESOURCE:CPU       CPU units left                       resources.py
    RESOURCE:GPU       GPUs left                            resources.py
    RESOURCE:MEMORY    memory left                          resources.py
    RESOURCE:PORTS     static TCP host ports free           ports.py
    RESOURCE:PORTS_UDP static UDP host ports free           ports.py
    MemberOf placement constraint unsatisfied.              member_of.py
    DistinctInstance placement constraint unsatisfied.      distinct_instance.py

The guide's process: instances that satisfy "the CPU, GPU, memory, and port requirements",
then the placement constraints, then the strategies. `build(ask)` returns only the filters
that apply to the ask (swarmkit's SetTask): a task with no host ports skips the port checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from portside.errors import InvalidParameterException
from portside.model.placement import PlacementConstraint
from portside.scheduler.candidates import Ask
from portside.scheduler.constraints import (
    agent,
    attributes,
    distinct_instance,
    launch_type,
    member_of,
    ports,
    resources,
)
from portside.scheduler.constraints.agent import Agent
from portside.scheduler.constraints.attributes import Attributes
from portside.scheduler.constraints.distinct_instance import DistinctInstance
from portside.scheduler.constraints.launch_type import LaunchType
from portside.scheduler.constraints.member_of import MemberOf
from portside.scheduler.constraints.ports import Ports
from portside.scheduler.constraints.resources import Resource
from portside.scheduler.pipeline import Filter

__all__ = ["MAX_CONSTRAINTS", "ORDER", "UNREPORTED", "build", "parse"]

MAX_CONSTRAINTS: Final = 10
MAX_EXPRESSION: Final = 2000
ORDER: Final = (
    launch_type.REASON,
    agent.REASON,
    attributes.REASON,
    resources.CPU,
    resources.GPU,
    resources.MEMORY,
    ports.TCP,
    ports.UDP,
    member_of.REASON,
    distinct_instance.REASON,
)
UNREPORTED: Final = frozenset({launch_type.REASON})  # counted in explanations, never failures


def parse(constraints: Sequence[PlacementConstraint]) -> list[MemberOf | DistinctInstance]:
    """The placement constraints as filters: memberOf ones in the order given, then
    distinctInstance. InvalidParameterException for a list ECS would refuse (the call's and the
    task definition's together may hold 10); validate at CreateService time with this too."""
    # wording: ours, throughout
    if len(constraints) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"You can specify a maximum of {MAX_CONSTRAINTS} placement constraints, including "
            f"those in the task definition; {len(constraints)} were given."
        )
    members: list[MemberOf | DistinctInstance] = []
    distinct = False
    for item in constraints:
        kind, expression = item.type, item.expression
        if kind == "distinctInstance":
            if expression:
                raise InvalidParameterException(
                    "An expression can't be specified for a distinctInstance constraint."
                )
            distinct = True
        elif kind == "memberOf":
            if not expression:
                raise InvalidParameterException("A memberOf constraint requires an expression.")
            if len(expression) > MAX_EXPRESSION:
                raise InvalidParameterException(
                    f"A constraint expression can be at most {MAX_EXPRESSION} characters."
                )
            members.append(MemberOf.of(expression))
        else:
            raise InvalidParameterException(
                f"Invalid placement constraint type '{kind}': use memberOf or distinctInstance."
            )
    if distinct:
        members.append(DistinctInstance())
    return members


def build(ask: Ask) -> list[Filter]:
    """The filters that apply to this ask, in ORDER."""
    demand = ask.demand
    found: list[Filter] = [LaunchType(ask.launch_type, ask.capacity_provider), Agent()]
    required = attributes.requirements(ask.requires_attributes, ask.runtime_platform)
    if required:
        found.append(Attributes(required))
    for reason, amount in (
        (resources.CPU, demand.cpu),
        (resources.GPU, ask.gpus),
        (resources.MEMORY, demand.memory),
    ):
        if amount > 0:
            found.append(Resource(reason, amount))
    if demand.ports_tcp:
        found.append(Ports(ports.TCP, demand.ports_tcp))
    if demand.ports_udp:
        found.append(Ports(ports.UDP, demand.ports_udp))
    found.extend(parse(ask.constraints))
    return found

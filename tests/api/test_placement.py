"""Task placement through the API: RunTask's placementStrategy and placementConstraints, the
task definition's constraints and required attributes, instance state and custom attributes,
ListContainerInstances' `filter`, and capacity provider strategies over Auto Scaling group
providers, with boto3 and the AWS CLI v1 against a real server.

The container instances are simulated: each fleet is one or two in-process agents carrying
several instances (AgentConfig.instances, zones taken in turn), so a fleet costs ~0.1 s and
most tests start their own on a fresh cluster. Tests on the module's shared fleet stay apart
by task group (each uses its own family) and place tiny tasks, so what other tests ran there
never decides where theirs go.

Each test asserts what a user sees: the containerInstanceArn and availabilityZone of the tasks,
and the failures with their reasons and instance ARNs. The spec is ECS's developer guide
("Amazon ECS task placement", "Cluster query language", "Amazon ECS capacity providers") and
API reference (RunTask, PlacementStrategy, PlacementConstraint, CapacityProviderStrategyItem).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import ACCESS_KEY, REGION, SECRET_KEY, ServerProcess

from portside.agent.session import Agent
from portside.testing.agent import start_simulated_agent

ACCOUNT = "000000000000"
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
SPREAD_ZONE = {"type": "spread", "field": "attribute:ecs.availability-zone"}
SPREAD_INSTANCE = {"type": "spread", "field": "instanceId"}
MEMBER_OF = "MemberOf placement constraint unsatisfied."
DISTINCT = "DistinctInstance placement constraint unsatisfied."
GROUP_ATTRIBUTE = "portside.autoscaling-group"


# -- simulated fleets ------------------------------------------------------------------------


@dataclass
class Sim:
    """A cluster and the simulated instances of its agents, as DescribeContainerInstances
    shows them."""

    server: ServerProcess
    root: Path
    cluster: str
    region: str = REGION
    agents: list[Agent] = field(default_factory=list)
    zone: dict[str, str] = field(default_factory=dict)  # instance ARN -> its zone
    type_of: dict[str, str] = field(default_factory=dict)  # instance ARN -> instance type
    ec2_id: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ecs = self.server.client(region=self.region)

    @property
    def arns(self) -> list[str]:
        return list(self.zone)

    def in_zones(self, *zones: str) -> set[str]:
        return {arn for arn, z in self.zone.items() if z in zones}

    def of_type(self, instance_type: str) -> set[str]:
        return {arn for arn, t in self.type_of.items() if t == instance_type}

    def add(
        self,
        instances: int,
        zones: Sequence[str] = ZONES,
        *,
        attributes: Mapping[str, str] | None = None,
        instance_type: str = "sim.large",
        cpu: int = 4096,
        memory: int = 16384,
    ) -> list[str]:
        """Start one agent carrying `instances` instances (zones in turn); their ARNs in
        registration order."""
        agent = start_simulated_agent(
            self.server.endpoint,
            ACCESS_KEY,
            SECRET_KEY,
            self.root / f"{self.cluster}-agent{len(self.agents)}",
            self.cluster,
            region=self.region,
            zone=zones[0],
            zones=zones,
            instance_type=instance_type,
            attributes=attributes,
            instances=instances,
            cpu=cpu,
            memory=memory,
        )
        self.agents.append(agent)
        arns = [agent.instance_arn, *agent.more_arns]
        described = self.ecs.describe_container_instances(
            cluster=self.cluster, containerInstances=arns
        )["containerInstances"]
        for inst in described:
            attrs = {a["name"]: a.get("value") for a in inst["attributes"]}
            arn = inst["containerInstanceArn"]
            self.zone[arn] = attrs["ecs.availability-zone"]
            self.type_of[arn] = attrs["ecs.instance-type"]
            self.ec2_id[arn] = inst["ec2InstanceId"]
        return arns

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()


@contextmanager
def sim(
    server: ServerProcess, root: Path, cluster: str, *, region: str = REGION, **cluster_args: Any
) -> Iterator[Sim]:
    fleet = Sim(server, root, cluster, region)
    fleet.ecs.create_cluster(clusterName=cluster, **cluster_args)
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture(scope="module")
def shared(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """Six instances: two t2.small (zones a, b) and four g2.2xlarge (zones a, b, c, d), the
    instance types the query language guide's examples name."""
    root = tmp_path_factory.mktemp("placement")
    with sim(server, root, "placement-" + uuid.uuid4().hex[:8]) as fleet:
        fleet.add(2, ZONES[:2], instance_type="t2.small")
        fleet.add(4, ZONES, instance_type="g2.2xlarge")
        yield fleet


# -- calls -----------------------------------------------------------------------------------


def register(ecs: Any, family: str, memory: int = 8, cpu: int = 0, **extra: Any) -> str:
    container = {"name": "app", "image": "busybox", "memory": memory, "cpu": cpu}
    container.update(extra.pop("container", {}))
    out = ecs.register_task_definition(family=family, containerDefinitions=[container], **extra)
    return str(out["taskDefinition"]["taskDefinitionArn"])


def run(
    fleet: Sim, td: str, count: int = 1, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    out = fleet.ecs.run_task(cluster=fleet.cluster, taskDefinition=td, count=count, **params)
    return out["tasks"], out["failures"]


def placed(fleet: Sim, td: str, count: int = 1, **params: Any) -> list[str]:
    """RunTask that must place every task; the instance of each, in the order returned."""
    tasks, failures = run(fleet, td, count, **params)
    assert failures == [], failures
    assert len(tasks) == count
    for t in tasks:
        assert t["availabilityZone"] == fleet.zone[t["containerInstanceArn"]]
    return [t["containerInstanceArn"] for t in tasks]


def refused(fleet: Sim, td: str, count: int = 1, **params: Any) -> list[tuple[str, str]]:
    """RunTask that places nothing: its failures as sorted (instance ARN, reason)."""
    tasks, failures = run(fleet, td, count, **params)
    assert tasks == []
    return sorted((f["arn"], f["reason"]) for f in failures)


def member_of(expression: str) -> list[dict[str, str]]:
    return [{"type": "memberOf", "expression": expression}]


def start(fleet: Sim, td: str, instances: Sequence[str], group: str | None = None) -> None:
    """StartTask one task on each of `instances`."""
    extra = {"group": group} if group else {}
    out = fleet.ecs.start_task(
        cluster=fleet.cluster, taskDefinition=td, containerInstances=list(instances), **extra
    )
    assert out["failures"] == [], out["failures"]


def fails(code: str, call: Callable[..., Any], **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == code, err.value.response["Error"]
    return str(err.value.response["Error"]["Message"])


def every(arns: Sequence[str] | set[str], reason: str) -> list[tuple[str, str]]:
    return sorted((arn, reason) for arn in arns)


def put_attribute(fleet: Sim, name: str, value: str | None, *arns: str) -> None:
    attrs = [{"name": name, "targetId": a, **({"value": value} if value else {})} for a in arns]
    fleet.ecs.put_attributes(cluster=fleet.cluster, attributes=attrs)


def delete_attribute(fleet: Sim, name: str, *arns: str) -> None:
    attrs = [{"name": name, "targetId": a} for a in arns]
    fleet.ecs.delete_attributes(cluster=fleet.cluster, attributes=attrs)


# -- strategies ------------------------------------------------------------------------------


def test_binpack_on_memory_fills_the_fullest_instance_that_fits(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """Binpack places "tasks based on the least available amount of CPU or memory" (guide,
    "Task placement strategies"): on the instance with the least memory left that still fits
    the task."""
    with sim(server, tmp_path, name) as fleet:
        a, b, c = fleet.add(3, memory=2048)
        start(fleet, register(fleet.ecs, name + "-1024", memory=1024), [a])
        start(fleet, register(fleet.ecs, name + "-512", memory=512), [b])
        # Free memory now: a 1024, b 1536, c 2048.
        binpack = [{"type": "binpack", "field": "memory"}]
        big = register(fleet.ecs, name + "-big", memory=1280)
        assert placed(fleet, big, placementStrategy=binpack) == [b]  # a is too full for it
        # Free: a 1024, b 256, c 2048. Tasks of 512: a twice, then c (b has too little).
        td = register(fleet.ecs, name, memory=512)
        assert placed(fleet, td, 3, placementStrategy=binpack) == [a, a, c]
        assert placed(fleet, td, 3, placementStrategy=binpack) == [c, c, c]
        failures = refused(fleet, td, placementStrategy=binpack)
        assert failures == every([a, b, c], "RESOURCE:MEMORY")


def test_binpack_on_cpu_and_uniform_tasks_use_the_fewest_instances(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    with sim(server, tmp_path, name) as fleet:
        a, b, c = fleet.add(3, cpu=1024, memory=4096)
        start(fleet, register(fleet.ecs, name + "-cpu", cpu=768), [b])
        binpack_cpu = [{"type": "binpack", "field": "cpu"}]
        # CPU left: a 1024, b 256, c 1024: b first while it fits, then a or c (they tie), which
        # is then the fuller one until it is full.
        td = register(fleet.ecs, name, cpu=256)
        where = placed(fleet, td, 9, placementStrategy=binpack_cpu)
        first, second = where[1], where[5]
        assert {first, second} == {a, c}
        assert where == [b, *[first] * 4, *[second] * 4]
        assert refused(fleet, td, placementStrategy=binpack_cpu) == every([a, b, c], "RESOURCE:CPU")

    with sim(server, tmp_path, name + "-fresh") as fleet:
        fleet.add(4, memory=2048)
        td = register(fleet.ecs, name, memory=512)
        where = placed(fleet, td, 8, placementStrategy=[{"type": "binpack", "field": "memory"}])
        assert sorted(Counter(where).values()) == [4, 4]  # two instances, full; two untouched


def test_spread_over_zones_keeps_zone_counts_within_one(shared: Sim, name: str) -> None:
    """Zones a and b have two instances each, c and d one: spread counts tasks per zone, not
    per instance. Through the AWS CLI v1, as a user runs it."""
    td = register(shared.ecs, name)

    def cli_run(count: int) -> list[str]:
        out = shared.server.aws(
            "ecs",
            "run-task",
            "--cluster",
            shared.cluster,
            "--task-definition",
            td,
            "--count",
            str(count),
            "--placement-strategy",
            "type=spread,field=attribute:ecs.availability-zone",
        )
        assert out["failures"] == []
        for t in out["tasks"]:
            assert t["availabilityZone"] == shared.zone[t["containerInstanceArn"]]
        return [t["availabilityZone"] for t in out["tasks"]]

    first = Counter(cli_run(8))
    assert first == dict.fromkeys(ZONES, 2)
    # The group's earlier tasks count: five more make 13, zone counts 4, 3, 3, 3.
    total = first + Counter(cli_run(5))
    assert sorted(total.values()) == [3, 3, 3, 4]


def test_spread_over_instances_one_task_each_before_a_second(shared: Sim, name: str) -> None:
    td = register(shared.ecs, name)
    first = placed(shared, td, 6, placementStrategy=[SPREAD_INSTANCE])
    assert sorted(first) == sorted(shared.arns)
    # `host` is the same field (API reference, PlacementStrategy).
    second = placed(shared, td, 6, placementStrategy=[{"type": "spread", "field": "host"}])
    assert Counter(first + second) == dict.fromkeys(shared.arns, 2)
    # Another group starts again from nothing: spread counts the tasks of the task's group.
    other = register(shared.ecs, name + "-other")
    assert sorted(placed(shared, other, 6, placementStrategy=[SPREAD_INSTANCE])) == sorted(
        shared.arns
    )


def test_random_places_only_on_feasible_instances(shared: Sim, name: str) -> None:
    td = register(shared.ecs, name)
    allowed = shared.in_zones("us-east-1a", "us-east-1c")
    where = placed(
        shared,
        td,
        10,
        placementStrategy=[{"type": "random"}],
        placementConstraints=member_of(
            "attribute:ecs.availability-zone in [us-east-1a, us-east-1c]"
        ),
    )
    assert set(where) <= allowed
    assert len(set(where)) >= 2  # all ten on one of three: 1 in 19,683


def test_run_task_without_a_strategy_places_at_random(shared: Sim, name: str) -> None:
    """The default: "Using RunTask, you can allow the default task placement strategy to
    distribute tasks randomly across your cluster" (guide, "Scheduling Amazon ECS tasks").
    Ten tasks of a call land on several instances (not binpacked onto one), and not evenly as
    spread would put them: over four calls, some instance takes three or more of one call's
    ten. Random misses that in a call with p = 0.067, so in all four with p = 2e-5."""
    crowded = False
    for n in range(4):
        where = placed(shared, register(shared.ecs, f"{name}-{n}"), 10)
        counts = Counter(where)
        assert len(counts) >= 2
        crowded = crowded or max(counts.values()) >= 3
    assert crowded


def test_strategies_chain_spread_over_zones_then_binpack_memory(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """The guide's example chain: spread across zones, then binpack on memory within each."""
    with sim(server, tmp_path, name) as fleet:
        a1, b1, a2, b2 = fleet.add(4, ZONES[:2], memory=2048)
        start(fleet, register(fleet.ecs, name + "-fill", memory=1024), [a2, b1])
        td = register(fleet.ecs, name, memory=256)
        chain = [SPREAD_ZONE, {"type": "binpack", "field": "memory"}]
        where = placed(fleet, td, 4, placementStrategy=chain)
        assert Counter(where) == {a2: 2, b1: 2}  # two per zone, on each zone's fuller instance
        where = placed(fleet, td, 10, placementStrategy=chain)
        zones = Counter(fleet.zone[w] for w in where)
        assert zones == {"us-east-1a": 5, "us-east-1b": 5}
        # a2 and b1 had 512 MiB left: two more each, then their zone's other instance.
        assert Counter(where) == {a2: 2, b1: 2, a1: 3, b2: 3}


# -- constraints -----------------------------------------------------------------------------


def test_distinct_instance_never_puts_two_tasks_of_a_group_on_one_instance(
    shared: Sim, name: str
) -> None:
    distinct = [{"type": "distinctInstance"}]
    td = register(shared.ecs, name)
    out = shared.server.aws(
        "ecs",
        "run-task",
        "--cluster",
        shared.cluster,
        "--task-definition",
        td,
        "--count",
        "4",
        "--placement-constraints",
        "type=distinctInstance",
    )
    assert out["failures"] == []
    first = [t["containerInstanceArn"] for t in out["tasks"]]
    assert len(set(first)) == 4
    # The group's tasks from the first call count too: two instances are left for it.
    tasks, failures = run(shared, td, 4, placementConstraints=distinct)
    second = [t["containerInstanceArn"] for t in tasks]
    assert sorted(first + second) == sorted(shared.arns)
    assert sorted((f["arn"], f["reason"]) for f in failures) == every(shared.arns, DISTINCT)

    # More tasks than instances: one per instance, a DistinctInstance failure for each.
    other = register(shared.ecs, name + "-more")
    tasks, failures = run(shared, other, 8, placementConstraints=distinct)
    assert sorted(t["containerInstanceArn"] for t in tasks) == sorted(shared.arns)
    assert sorted((f["arn"], f["reason"]) for f in failures) == every(shared.arns, DISTINCT)


@pytest.mark.parametrize(
    ("expression", "chosen"),
    [
        ("attribute:ecs.instance-type == t2.small", lambda f: f.of_type("t2.small")),
        (
            "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
            lambda f: f.in_zones("us-east-1a", "us-east-1b"),
        ),
        (
            "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
            lambda f: f.of_type("g2.2xlarge") - f.in_zones("us-east-1d"),
        ),
        ("attribute:ecs.availability-zone != us-east-1a", lambda f: f.in_zones(*ZONES[1:])),
        ("attribute:ecs.instance-type exists", lambda f: set(f.arns)),
    ],
    ids=["equals", "in", "matches-and-not-equals", "not-equals", "exists"],
)
def test_member_of_selects_instances_by_attribute(
    shared: Sim, name: str, expression: str, chosen: Callable[[Sim], set[str]]
) -> None:
    """The query language guide's example expressions as memberOf constraints."""
    td = register(shared.ecs, name)
    expected = chosen(shared)
    where = placed(
        shared,
        td,
        len(expected),
        placementStrategy=[SPREAD_INSTANCE],
        placementConstraints=member_of(expression),
    )
    assert sorted(where) == sorted(expected)
    # The rest of the fleet is never used: more tasks go to the same instances.
    more = placed(shared, td, 10, placementConstraints=member_of(expression))
    assert set(more) <= expected


def test_member_of_custom_attributes_follow_put_and_delete_attributes_at_once(
    shared: Sim, name: str
) -> None:
    td = register(shared.ecs, name)
    attribute = "tier-" + name
    rule = member_of(f"attribute:{attribute} == web")
    assert refused(shared, td, placementConstraints=rule) == every(shared.arns, MEMBER_OF)
    one, two, *others = shared.arns
    try:
        put_attribute(shared, attribute, "web", one)
        assert set(placed(shared, td, 3, placementConstraints=rule)) == {one}
        put_attribute(shared, attribute, "web", two)
        put_attribute(shared, attribute, "db", one)
        assert set(placed(shared, td, 3, placementConstraints=rule)) == {two}
        exists = member_of(f"attribute:{attribute} exists")
        where = placed(
            shared, td, 2, placementStrategy=[SPREAD_INSTANCE], placementConstraints=exists
        )
        assert sorted(where) == sorted([one, two])
        delete_attribute(shared, attribute, two)
        assert refused(shared, td, placementConstraints=rule) == every(shared.arns, MEMBER_OF)
        missing = member_of(f"not(attribute:{attribute} exists)")
        fresh = register(shared.ecs, name + "-missing")
        where = placed(
            shared, fresh, 5, placementStrategy=[SPREAD_INSTANCE], placementConstraints=missing
        )
        assert sorted(where) == sorted([two, *others])
    finally:
        delete_attribute(shared, attribute, one, two)


def test_member_of_task_group_affinity_and_anti_affinity(shared: Sim, name: str) -> None:
    """The guide's examples: `task:group == service:production` picks instances running a
    task of that group; `not(task:group == database)` those running none."""
    database, web = "database-" + name, "service:production-" + name
    x, y, *others = shared.arns
    start(shared, register(shared.ecs, name + "-db"), [x], group=database)
    start(shared, register(shared.ecs, name + "-web"), [x, y], group=web)
    td = register(shared.ecs, name)
    where = placed(
        shared,
        td,
        2,
        placementStrategy=[SPREAD_INSTANCE],
        placementConstraints=member_of(f"task:group == {web}"),
    )
    assert sorted(where) == sorted([x, y])
    anti = member_of(f"not(task:group == {database})")
    td = register(shared.ecs, name + "-anti")  # a group of its own, on no instance yet
    where = placed(shared, td, 5, placementStrategy=[SPREAD_INSTANCE], placementConstraints=anti)
    assert sorted(where) == sorted([y, *others])
    both = member_of(f"task:group == {web} and not(task:group == {database})")
    assert set(placed(shared, td, 4, placementConstraints=both)) == {y}


def test_member_of_running_tasks_count(server: ServerProcess, tmp_path: Path, name: str) -> None:
    with sim(server, tmp_path, name) as fleet:
        x, y, z = fleet.add(3)
        start(fleet, register(fleet.ecs, name + "-busy"), [x])
        td = register(fleet.ecs, name)
        empty = member_of("runningTasksCount == 0")
        where = placed(
            fleet, td, 2, placementStrategy=[SPREAD_INSTANCE], placementConstraints=empty
        )
        assert sorted(where) == sorted([y, z])
        assert refused(fleet, td, placementConstraints=empty) == every([x, y, z], MEMBER_OF)
        one = member_of("runningTasksCount == 1")
        where = placed(fleet, td, 3, placementStrategy=[SPREAD_INSTANCE], placementConstraints=one)
        assert sorted(where) == sorted([x, y, z])
        assert refused(fleet, td, placementConstraints=one) == every([x, y, z], MEMBER_OF)


@pytest.mark.parametrize(
    ("expression", "column", "found"),
    [
        ("attribute:stack = prod", 17, "'='"),
        ("attribute:stack == prod and", 28, "the end of the expression"),
        ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b", 59, "the end"),
        ("task:group > web", 12, "operator '>' can't be used with task:group"),
    ],
)
def test_a_query_syntax_error_is_refused_and_points_at_the_fault(
    shared: Sim, name: str, expression: str, column: int, found: str
) -> None:
    td = register(shared.ecs, name)
    message = fails(
        "InvalidParameterException",
        shared.ecs.run_task,
        cluster=shared.cluster,
        taskDefinition=td,
        placementConstraints=member_of(expression),
    )
    assert f"column {column}" in message and found in message, message
    assert shared.ecs.list_tasks(cluster=shared.cluster, family=name)["taskArns"] == []
    listing = fails(
        "InvalidParameterException",
        shared.ecs.list_container_instances,
        cluster=shared.cluster,
        filter=expression,
    )
    assert listing == message


def test_task_definition_constraints_apply_with_the_calls(shared: Sim, name: str) -> None:
    ab = "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"
    td = register(shared.ecs, name, placementConstraints=member_of(ab))
    described = shared.ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    assert described["placementConstraints"] == member_of(ab)
    zones_ab = shared.in_zones("us-east-1a", "us-east-1b")
    where = placed(shared, td, 4, placementStrategy=[SPREAD_INSTANCE])
    assert sorted(where) == sorted(zones_ab)
    # The call's constraint narrows the definition's: g2 instances in zone a or b.
    g2 = member_of("attribute:ecs.instance-type == g2.2xlarge")
    expected = zones_ab & shared.of_type("g2.2xlarge")
    where = placed(shared, td, 2, placementStrategy=[SPREAD_INSTANCE], placementConstraints=g2)
    assert sorted(where) == sorted(expected)
    # Where the two exclude each other, no instance qualifies.
    d = member_of("attribute:ecs.availability-zone == us-east-1d")
    assert refused(shared, td, placementConstraints=d) == every(shared.arns, MEMBER_OF)


def test_required_attributes_no_instance_has_are_attribute_failures(shared: Sim, name: str) -> None:
    """A definition's requiresAttributes come from its parameters: the splunk log driver needs
    com.amazonaws.ecs.capability.logging-driver.splunk, which these agents don't register."""
    needed = "com.amazonaws.ecs.capability.logging-driver.splunk"
    td = register(
        shared.ecs,
        name,
        container={
            "logConfiguration": {
                "logDriver": "splunk",
                "options": {"splunk-url": "https://splunk.example.com:8088"},
            }
        },
    )
    described = shared.ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    assert {"name": needed} in described["requiresAttributes"]
    assert refused(shared, td, 2) == every(shared.arns, "ATTRIBUTE")
    # An instance that gains the attribute takes the tasks at once; losing it, none again.
    host = shared.arns[-1]
    try:
        put_attribute(shared, needed, None, host)
        assert placed(shared, td, 2) == [host, host]
    finally:
        delete_attribute(shared, needed, host)
    assert refused(shared, td) == every(shared.arns, "ATTRIBUTE")


def test_runtime_platform_cpu_architecture_must_match(shared: Sim, name: str) -> None:
    described = shared.ecs.describe_container_instances(
        cluster=shared.cluster, containerInstances=shared.arns[:1]
    )["containerInstances"][0]
    arch = {a["name"]: a.get("value") for a in described["attributes"]}["ecs.cpu-architecture"]
    ours, other = ("ARM64", "X86_64") if arch == "arm64" else ("X86_64", "ARM64")
    platform = {"operatingSystemFamily": "LINUX"}
    mismatched = register(shared.ecs, name, runtimePlatform={**platform, "cpuArchitecture": other})
    assert refused(shared, mismatched) == every(shared.arns, "ATTRIBUTE")
    matching = register(shared.ecs, name, runtimePlatform={**platform, "cpuArchitecture": ours})
    assert len(placed(shared, matching, 3)) == 3


def test_draining_instances_take_no_new_tasks(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """While an instance drains, "Amazon ECS prevents new tasks from being scheduled for
    placement on the container instance" (guide, "Container instance draining")."""
    with sim(server, tmp_path, name) as fleet:
        a, b, c = fleet.add(3)
        td = register(fleet.ecs, name)

        def state(status: str, *arns: str) -> None:
            out = fleet.ecs.update_container_instances_state(
                cluster=name, containerInstances=list(arns), status=status
            )
            assert out["failures"] == []

        state("DRAINING", a, b)
        assert set(placed(fleet, td, 6, placementStrategy=[SPREAD_INSTANCE])) == {c}
        state("DRAINING", c)
        # Portside names each draining instance with AGENT, ECS's reason for an instance that
        # can't take tasks now.
        assert refused(fleet, td) == every([a, b, c], "AGENT")
        state("ACTIVE", a, b, c)
        where = placed(fleet, td, 3, placementStrategy=[SPREAD_INSTANCE])
        assert set(where) == {a, b}  # the group's six tasks on c count against it


# -- ListContainerInstances filter -----------------------------------------------------------


def test_list_container_instances_filter_with_the_guides_examples(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """Every example expression of the guide's "Cluster query language", on a fleet where
    each selects something, alone and with `status`."""
    with sim(server, tmp_path, name) as fleet:
        fleet.add(2, ZONES[:2], instance_type="t2.small")
        fleet.add(4, ZONES, instance_type="g2.2xlarge")
        everyone = set(fleet.arns)
        x, y, *_ = sorted(fleet.of_type("g2.2xlarge"))
        start(fleet, register(fleet.ecs, name + "-web"), [x], group="service:production")
        start(fleet, register(fleet.ecs, name + "-db"), [y], group="database")
        two_ids = sorted(fleet.ec2_id[a] for a in (x, y))

        def listed(expression: str, **extra: Any) -> set[str]:
            out = fleet.ecs.list_container_instances(cluster=name, filter=expression, **extra)
            return set(out["containerInstanceArns"])

        assert listed("attribute:ecs.instance-type == t2.small") == fleet.of_type("t2.small")
        assert listed("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]") == (
            fleet.in_zones("us-east-1a", "us-east-1b")
        )
        g2_not_d = fleet.of_type("g2.2xlarge") - fleet.in_zones("us-east-1d")
        compound = (
            "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d"
        )
        assert listed(compound) == g2_not_d
        assert listed("task:group == service:production") == {x}
        assert listed("not(task:group == database)") == everyone - {y}
        assert listed("runningTasksCount == 1") == {x, y}
        version = fleet.ecs.describe_container_instances(cluster=name, containerInstances=[x])[
            "containerInstances"
        ][0]["versionInfo"]["agentVersion"]
        older = tuple(map(int, version.split("."))) < (1, 14, 5)
        assert listed("agentVersion < 1.14.5") == (everyone if older else set())
        assert listed(f"agentVersion >= {version}") == everyone
        assert listed("registeredAt < 2018-02-13") == set()
        assert listed("registeredAt >= 2018-02-13") == everyone
        assert listed(f"ec2InstanceId in ['{two_ids[0]}', '{two_ids[1]}']") == {x, y}

        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[x], status="DRAINING"
        )
        assert listed("runningTasksCount == 1", status="DRAINING") == {x}
        assert listed("runningTasksCount == 1", status="ACTIVE") == {y}
        assert listed("attribute:ecs.instance-type == t2.small", status="DRAINING") == set()
        # The AWS CLI v1 passes the filter as it is.
        out = server.aws(
            "ecs",
            "list-container-instances",
            "--cluster",
            name,
            "--filter",
            compound,
            "--status",
            "ACTIVE",
        )
        assert set(out["containerInstanceArns"]) == g2_not_d - {x}


# -- capacity providers ----------------------------------------------------------------------


@dataclass
class Providers:
    fleet: Sim
    a: set[str]  # the instances of provider A (Auto Scaling group asg-a)
    b: set[str]
    loose: set[str]  # instances of no provider


@pytest.fixture(scope="module")
def providers(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Providers]:
    """Providers A and B over the Auto Scaling groups asg-a and asg-b, in a region of their own
    (a group serves one provider per region and account), on one cluster: three instances in
    each group, and one in none."""
    region = "ps-place-" + uuid.uuid4().hex[:6]
    root = tmp_path_factory.mktemp("providers")
    with sim(server, root, "providers", region=region) as fleet:
        ecs = fleet.ecs
        for provider, group in (("A", "asg-a"), ("B", "asg-b"), ("EMPTY", "asg-empty")):
            arn = (
                f"arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:"
                f"{uuid.uuid4()}:autoScalingGroupName/{group}"
            )
            ecs.create_capacity_provider(
                name=provider, autoScalingGroupProvider={"autoScalingGroupArn": arn}
            )
        ecs.put_cluster_capacity_providers(
            cluster="providers",
            capacityProviders=["A", "B", "EMPTY"],
            defaultCapacityProviderStrategy=[],
        )
        a = fleet.add(3, ZONES[:3], attributes={GROUP_ATTRIBUTE: "asg-a"})
        b = fleet.add(3, ZONES[:3], attributes={GROUP_ATTRIBUTE: "asg-b"})
        loose = fleet.add(1)
        yield Providers(fleet, set(a), set(b), set(loose))


def by_provider(p: Providers, tasks: list[dict[str, Any]]) -> list[str]:
    """Each task's capacityProviderName, after checking it ran on an instance of that
    provider, as an EC2 task."""
    names = []
    for t in tasks:
        name = t["capacityProviderName"]
        assert t["launchType"] == "EC2"
        assert t["containerInstanceArn"] in {"A": p.a, "B": p.b}[name]
        names.append(name)
    return names


def test_capacity_provider_strategy_base_then_weights(providers: Providers, name: str) -> None:
    """The base "designates how many tasks, at a minimum, to run on the specified capacity
    provider for each service" and weights share what follows (API reference,
    CapacityProviderStrategyItem). A standalone RunTask belongs to no service and "the
    capacity provider strategy of each cluster, service, or task ... is independent" (guide,
    "Amazon ECS capacity providers"), so each call meets the base anew."""
    p = providers
    td = register(p.fleet.ecs, name)
    strategy = [
        {"capacityProvider": "A", "base": 2, "weight": 1},
        {"capacityProvider": "B", "weight": 4},
    ]
    tasks, failures = run(p.fleet, td, 7, capacityProviderStrategy=strategy)
    assert failures == []
    names = by_provider(p, tasks)
    assert names[:2] == ["A", "A"]  # the base first
    assert Counter(names) == {"A": 3, "B": 4}  # then 5 at 1:4
    # A second call of the same group starts over: its two tasks are the base.
    tasks, failures = run(p.fleet, td, 2, capacityProviderStrategy=strategy)
    assert failures == [] and by_provider(p, tasks) == ["A", "A"]
    # Weights alone: 10 tasks at 1:4.
    weights = [{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "B", "weight": 4}]
    tasks, failures = run(p.fleet, td, 10, capacityProviderStrategy=weights)
    assert failures == [] and Counter(by_provider(p, tasks)) == {"A": 2, "B": 8}


def test_an_instance_shows_its_capacity_provider_from_registration(
    server: ServerProcess, providers: Providers, tmp_path: Path, name: str
) -> None:
    """DescribeContainerInstances' capacityProviderName: the provider of the instance's Auto
    Scaling group, before any task ran there."""
    with sim(server, tmp_path, name, region=providers.fleet.region) as fleet:
        grouped = fleet.add(2, attributes={GROUP_ATTRIBUTE: "asg-a"})
        loose = fleet.add(1)
        described = fleet.ecs.describe_container_instances(
            cluster=name, containerInstances=grouped + loose
        )["containerInstances"]
        shown = [i.get("capacityProviderName") for i in described]
        assert shown == ["A", "A", None]


def test_capacity_provider_tasks_follow_the_placement_strategy_within_it(
    providers: Providers, name: str
) -> None:
    p = providers
    td = register(p.fleet.ecs, name)
    tasks, failures = run(
        p.fleet,
        td,
        3,
        capacityProviderStrategy=[{"capacityProvider": "B", "weight": 1}],
        placementStrategy=[SPREAD_ZONE],
    )
    assert failures == [] and by_provider(p, tasks) == ["B", "B", "B"]
    assert sorted(t["containerInstanceArn"] for t in tasks) == sorted(p.b)  # one per zone


def test_a_later_provider_batch_sees_the_zones_an_earlier_one_took(
    providers: Providers, name: str
) -> None:
    """A zone's count is the group's tasks on every instance in it, whatever the provider
    (ECS's service scheduler counts "running tasks for this service in the same Availability
    Zone"), so the batch for B must see where the batch for A of the same call went.

    B's instances b0 < b1 < b2 (by ARN, the last tie-break) are in zones Zk, Zm, Zl. With the
    group at Zk 1, Zm 0, Zl 2 beforehand, A's task must go to Zm; then Zk and Zm tie at 1 and
    B's goes to b0. Had B not seen A's task, Zm would still be empty and B's would go to b1."""
    p = providers
    td = register(p.fleet.ecs, name)
    b0, b1, b2 = sorted(p.b)
    start(p.fleet, td, [b0, b2], group=name)
    start(p.fleet, td, [b2], group=name)
    tasks, failures = run(
        p.fleet,
        td,
        2,
        group=name,
        capacityProviderStrategy=[
            {"capacityProvider": "A", "base": 1, "weight": 0},
            {"capacityProvider": "B", "weight": 1},
        ],
        placementStrategy=[SPREAD_ZONE],
    )
    assert failures == []
    where = {t["capacityProviderName"]: t for t in tasks}
    assert where["A"]["availabilityZone"] == p.fleet.zone[b1]
    assert where["B"]["containerInstanceArn"] == b0


def test_the_cluster_default_strategy_applies_without_launch_type_or_strategy(
    providers: Providers, name: str
) -> None:
    p = providers
    ecs, cluster = p.fleet.ecs, p.fleet.cluster
    td = register(ecs, name)
    try:
        ecs.put_cluster_capacity_providers(
            cluster=cluster,
            capacityProviders=["A", "B", "EMPTY"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "B", "weight": 1}],
        )
        tasks, failures = run(p.fleet, td, 4)
        assert failures == [] and by_provider(p, tasks) == ["B"] * 4
        # A launch type bypasses the providers: any EC2 instance, no capacityProviderName
        # ("If a task uses a launch type, the capacity it uses isn't counted by any capacity
        # providers", guide, "Amazon ECS capacity providers").
        anywhere = register(ecs, name + "-ec2")
        tasks, failures = run(
            p.fleet, anywhere, 7, launchType="EC2", placementStrategy=[SPREAD_INSTANCE]
        )
        assert failures == []
        assert sorted(t["containerInstanceArn"] for t in tasks) == sorted(p.a | p.b | p.loose)
        assert all("capacityProviderName" not in t for t in tasks)
    finally:
        ecs.put_cluster_capacity_providers(
            cluster=cluster,
            capacityProviders=["A", "B", "EMPTY"],
            defaultCapacityProviderStrategy=[],
        )
    # Without a default strategy, a call with neither is an EC2 task on any instance.
    tasks, failures = run(p.fleet, anywhere, 7, placementStrategy=[SPREAD_INSTANCE])
    assert failures == [] and all(t["launchType"] == "EC2" for t in tasks)
    assert all("capacityProviderName" not in t for t in tasks)


def test_a_capacity_provider_without_instances_is_an_error(providers: Providers, name: str) -> None:
    p = providers
    td = register(p.fleet.ecs, name)
    message = fails(
        "ClientException",
        p.fleet.ecs.run_task,
        cluster=p.fleet.cluster,
        taskDefinition=td,
        capacityProviderStrategy=[{"capacityProvider": "EMPTY", "weight": 1}],
    )
    assert "EMPTY" in message
    # A provider the cluster doesn't have is refused before anything is placed.
    fails(
        "InvalidParameterException",
        p.fleet.ecs.run_task,
        cluster=p.fleet.cluster,
        taskDefinition=td,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    assert p.fleet.ecs.list_tasks(cluster=p.fleet.cluster, family=name)["taskArns"] == []


# -- the placer kept between calls -----------------------------------------------------------


def remaining_memory(fleet: Sim, arn: str) -> int:
    inst = fleet.ecs.describe_container_instances(cluster=fleet.cluster, containerInstances=[arn])
    (memory,) = [
        r["integerValue"]
        for r in inst["containerInstances"][0]["remainingResources"]
        if r["name"] == "MEMORY"
    ]
    return int(memory)


def test_repeated_run_task_sees_every_change_made_between_calls(
    server: ServerProcess, tmp_path: Path, name: str
) -> None:
    """Calls of the same RunTask reuse the placer's state (ops/placement.py keeps it): each
    must still see what happened since the last one: tasks stopped, an instance drained, one
    deregistered, a new one registered."""
    binpack = [{"type": "binpack", "field": "memory"}]
    with sim(server, tmp_path, name) as fleet:
        a, b = fleet.add(2, memory=1024)
        td = register(fleet.ecs, name, memory=256)
        (first,) = placed(fleet, td, 1, placementStrategy=binpack)
        other = b if first == a else a
        assert placed(fleet, td, 3, placementStrategy=binpack) == [first] * 3  # now full
        assert placed(fleet, td, 1, placementStrategy=binpack) == [other]

        # Two tasks stop on `first`: 512 MiB left there, 768 on `other`, so binpack goes back.
        arns = fleet.ecs.list_tasks(cluster=name, containerInstance=first)["taskArns"]
        for task in arns[:2]:
            fleet.ecs.stop_task(cluster=name, task=task)
        fleet.ecs.get_waiter("tasks_stopped").wait(
            cluster=name, tasks=arns[:2], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        assert remaining_memory(fleet, first) == 512
        assert placed(fleet, td, 1, placementStrategy=binpack) == [first]

        fleet.ecs.update_container_instances_state(
            cluster=name, containerInstances=[first], status="DRAINING"
        )
        assert placed(fleet, td, 1, placementStrategy=binpack) == [other]

        fleet.ecs.deregister_container_instance(cluster=name, containerInstance=other, force=True)
        assert refused(fleet, td, placementStrategy=binpack) == [(first, "AGENT")]
        (new,) = fleet.add(1, memory=1024)
        assert placed(fleet, td, 2, placementStrategy=binpack) == [new, new]

"""Fuzz every ECS action Portside serves with bodies generated from botocore's model.

Each example draws a plausible body for the action's input shape (some members name the
fuzz region's real cluster and task definitions, so calls reach real state), then perhaps
breaks it: a wrong JSON type at any depth, a required member taken away, an unknown member,
a string past its maximum or of 100 KB, a number out of range, an enum value ECS does not
have, deeply nested junk, bytes that are not JSON, JSON that is not an object, a wrong content
type, no signature or a wrong one. It goes to the real server, signed by hand (boto3 would
refuse to send most of it), and the answer must hold to four rules:

1. never HTTP 5xx;
2. an error has a `__type` the action may answer with, and a message (tests/contract.py);
3. a success has the action's output shape;
4. a refused call changes nothing: the region's state reads the same before and after.

The fuzz works in its own region, which no other test signs for, so their writes never show
in its state. Runs are reproducible: derandomized, no example database.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from contract import check_error, check_output, service_model
from harness import ServerProcess
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from signing import Reply, Wire, amz_date

from portside.api.ecs import ACTIONS

REGION = "ap-southeast-2"
ACCOUNT = "000000000000"
OPERATIONS = sorted(ACTIONS)
# CI runs a fixed, derandomized budget shared by the actions, so the module's time stays put
# as actions arrive (~20 ms an example). PORTSIDE_FUZZ_EXAMPLES=N runs N random examples per
# action instead, to hunt locally.
BUDGET = 1500
_HUNT = os.environ.get("PORTSIDE_FUZZ_EXAMPLES")
EXAMPLES_PER_ACTION = int(_HUNT) if _HUNT else max(10, BUDGET // len(OPERATIONS))
HUGE = 100_000
DEEP = "\x00deep\x00"  # stands for deeply nested junk until the body is serialised


def arn(resource: str) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}"


CLUSTER, FAMILY = "fuzz", "fuzz"
CLUSTER_ARN = arn(f"cluster/{CLUSTER}")
TASK_DEFINITION_ARN = arn(f"task-definition/{FAMILY}:1")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
CONTAINER = {"name": "c", "image": "busybox", "memory": 32}

# Values for members with these names: the region's own resources, and their near misses.
_CLUSTERS = [CLUSTER, CLUSTER_ARN, "default", "fuzz-other", arn("cluster/nope")]
_TASK_DEFINITIONS = [TASK_DEFINITION_ARN, f"{FAMILY}:1", FAMILY, f"{FAMILY}:2", f"{FAMILY}:0"]
_INSTANCE = arn(f"container-instance/{CLUSTER}/0123456789abcdef0123456789abcdef")
_TASK = arn(f"task/{CLUSTER}/0123456789abcdef0123456789abcdef")
HINTS: dict[str, list[str]] = {
    "cluster": _CLUSTERS,
    "clusterName": _CLUSTERS[:4],
    "clusters": _CLUSTERS,
    "family": [FAMILY, "fuzz-other"],
    "familyPrefix": [FAMILY, "fuz", "fuzz-other"],
    "taskDefinition": _TASK_DEFINITIONS,
    "taskDefinitions": _TASK_DEFINITIONS,
    "resourceArn": [CLUSTER_ARN, TASK_DEFINITION_ARN, arn("cluster/nope"), _INSTANCE, _TASK],
    "principalArn": [ROOT, f"arn:aws:iam::{ACCOUNT}:user/fuzz", "not-an-arn"],
    "containerInstance": [_INSTANCE, "0123456789abcdef0123456789abcdef"],
    "containerInstances": [_INSTANCE, "0123456789abcdef0123456789abcdef"],
    "targetId": [_INSTANCE, "0123456789abcdef0123456789abcdef"],
    "task": [_TASK, "0123456789abcdef0123456789abcdef"],
    "tasks": [_TASK, "0123456789abcdef0123456789abcdef"],
    "image": ["busybox", "nginx:latest"],
    "name": ["c", "web"],
    "nextToken": ["", "bm9wZQ==", "!!not base64!!"],
}


# Plausible bodies


def plausible(shape: Shape, hint: str | None = None, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of `shape` that respect its JSON types, mostly its constraints too."""
    meta, kind = shape.metadata, shape.type_name
    low: int = meta.get("min", 0)
    high: int | None = meta.get("max")
    if isinstance(shape, StructureShape):
        members = {
            name: plausible(sub, name, depth + 1)
            for name, sub in shape.members.items()
            if depth < 5 or name in shape.required_members
        }
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in required}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(shape, ListShape):
        if hint == "containerDefinitions":
            return st.just([CONTAINER]) | st.lists(
                plausible(shape.member, hint, depth + 1), min_size=1, max_size=2
            )
        items = plausible(shape.member, hint, depth + 1)
        return st.lists(items, min_size=low, max_size=max(low, min(high or 3, 3)))
    if isinstance(shape, MapShape):
        keys, values = plausible(shape.key, None, depth + 1), plausible(shape.value, None, depth)
        return st.dictionaries(keys, values, min_size=low, max_size=max(low, min(high or 2, 2)))
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        text = st.text(min_size=low, max_size=max(low, min(high or 16, 16)))
        if hint in HINTS:
            return st.sampled_from(HINTS[hint]) | text
        return text
    if kind in ("integer", "long"):
        least, most = meta.get("min", -(2**31)), high if high is not None else 2**31 - 1
        return st.integers(max(least, 0), min(most, 4096)) | st.integers(least, most)
    if kind in ("double", "float"):
        return st.floats(meta.get("min"), high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(0, 4_102_444_800)
    if kind == "blob":
        return st.sampled_from(["", "aGVsbG8="])
    raise AssertionError(f"no strategy for {kind}")


# Breaking a body at one node


Path = tuple[str | int, ...]


def nodes(shape: Shape, value: Any, path: Path = ()) -> Iterator[tuple[Path, Shape, Any]]:
    """Every value in a body with the shape the model gives it, outermost first."""
    yield path, shape, value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, item in value.items():
            if name in shape.members:
                yield from nodes(shape.members[name], item, (*path, name))
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from nodes(shape.member, item, (*path, index))
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(shape.value, item, (*path, key))


def replaced(body: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(body, list):
        assert isinstance(head, int)
        return [replaced(v, rest, new) if i == head else v for i, v in enumerate(body)]
    return {k: replaced(v, rest, new) if k == head else v for k, v in body.items()}


_JSON_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], [1], {}, {"a": 1}, [[[]]]]
_NUMBERS: list[Any] = [-1, 0, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1e308]


def wrong_type(shape: Shape) -> st.SearchStrategy[Any]:
    def fits(value: Any) -> bool:
        kind = shape.type_name
        if value is None:
            return True  # null is "absent", not a type fault, but worth sending anywhere
        if isinstance(shape, StructureShape | MapShape):
            return not isinstance(value, dict)
        if isinstance(shape, ListShape):
            return not isinstance(value, list)
        if kind == "string":
            return not isinstance(value, str)
        if kind == "boolean":
            return not isinstance(value, bool)
        return isinstance(value, str | list | dict | bool) or (
            kind in ("integer", "long") and isinstance(value, float)
        )

    return st.sampled_from([v for v in _JSON_VALUES if fits(v)])


def out_of_bounds(shape: Shape) -> st.SearchStrategy[Any]:
    meta, kind = shape.metadata, shape.type_name
    low, high = meta.get("min"), meta.get("max")
    if kind == "string":
        options: list[Any] = ["a" * HUGE, "\u00e9" * HUGE, "\x00\x01\n\ud7ff"]
        if high is not None:
            options.append("a" * (high + 1))
        if low:
            options.append("a" * (low - 1))
        if shape.enum:
            options += ["NOT_A_VALUE", shape.enum[0].lower(), shape.enum[0] + " "]
        return st.sampled_from(options)
    if isinstance(shape, ListShape):
        sizes = [1000] + ([high + 1] if high is not None else [])
        return st.sampled_from(sizes).map(lambda n: [None] * n if n > 100 else ["x"] * n)
    if kind in ("integer", "long", "double", "float"):
        bounds = [low - 1 if low is not None else None, high + 1 if high is not None else None]
        return st.sampled_from(_NUMBERS + [b for b in bounds if b is not None])
    return st.just(DEEP)


def broken_structure(shape: Shape, value: Any) -> st.SearchStrategy[Any]:
    """A structure with a required member gone, or a member no model has."""
    options: list[Any] = [{**value, "unknownMember": 1}, {**value, "__type": "x"}]
    if isinstance(shape, StructureShape):
        for name in shape.required_members:
            options.append({k: v for k, v in value.items() if k != name})
        for name in list(value)[:3]:
            options.append({(name[:1].upper() + name[1:]): value[name]})  # wrong case
    return st.sampled_from(options)


@st.composite
def broken(draw: st.DrawFn, shape: StructureShape, body: dict[str, Any]) -> Any:
    """`body` with one node replaced by something the model does not allow."""
    where = draw(st.sampled_from(list(nodes(shape, body))))
    path, node_shape, value = where
    kinds = ["wrong-type", "bounds", "deep"]
    if isinstance(value, dict):
        kinds.append("structure")
    kind = draw(st.sampled_from(kinds))
    if kind == "wrong-type":
        new = draw(wrong_type(node_shape))
    elif kind == "bounds":
        new = draw(out_of_bounds(node_shape))
    elif kind == "deep":
        new = DEEP
    else:
        new = draw(broken_structure(node_shape, value))
    return replaced(body, path, new)


def serialise(body: Any, depth: int) -> bytes:
    text = json.dumps(body, ensure_ascii=False)
    return text.replace(json.dumps(DEEP), "[" * depth + "{}" + "]" * depth).encode()


_NOT_JSON = [b"", b"{", b"}", b"{'a': 1}", b"\xff\xfe\x00", b"\xef\xbb\xbf{}", b"NaN", b"{,}"]
_NOT_JSON += [b'{"a": "\\ud800"}', b'{"a": 1} {"b": 2}', b"\x00"]
_NOT_OBJECT = [b"[]", b"[{}]", b"null", b"0", b'"{}"', b"true", b"1e999"]


@dataclass
class Request:
    body: bytes
    options: dict[str, Any] = field(default_factory=dict)
    send_instead: bytes | None = None  # signed `body`, sent these bytes
    mutated: bool = False


@st.composite
def requests(draw: st.DrawFn, operation: str) -> Request:
    shape = service_model("ecs").operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    body = draw(plausible(shape), label="plausible body")
    how = draw(
        st.sampled_from(["as is"] * 3 + ["broken"] * 6 + ["bytes", "wire", "signature"]),
        label="how",
    )
    depth = draw(st.sampled_from([40, 900, 5000]), label="junk depth")
    if how == "as is":
        return Request(serialise(body, depth))
    if how == "broken":
        return Request(serialise(draw(broken(shape, body), label="broken body"), depth), {}, None)
    if how == "bytes":
        whole = serialise(body, depth)
        cut = whole[: draw(st.integers(0, max(len(whole) - 1, 0)))]
        wrapped = b"[" + whole + b"]"
        raw = draw(st.sampled_from([*_NOT_JSON, *_NOT_OBJECT, cut, wrapped, whole + b"x"]))
        return Request(raw, mutated=True)
    if how == "wire":
        options: dict[str, Any] = draw(
            st.sampled_from(
                [
                    {"content_type": None},
                    {"content_type": "text/plain"},
                    {"content_type": "application/x-www-form-urlencoded"},
                    {"target": f"AmazonEC2ContainerServiceV20141113.{operation}x"},
                    {"target": operation},
                    {"sign": False},
                ]
            )
        )
        return Request(serialise(body, depth), options, mutated=True)
    now = datetime.datetime.now(datetime.UTC)
    options = draw(
        st.sampled_from(
            [
                {"secret_key": "wrong"},
                {"access_key": "AKIAUNKNOWN000000000"},
                {"service": "s3"},
                {"region": "Not A Region"},
                {"when": amz_date(now - datetime.timedelta(minutes=30))},
                {"when": amz_date(now + datetime.timedelta(minutes=30))},
            ]
        )
    )
    if draw(st.booleans(), label="tamper with the body instead"):
        signed = serialise(body, depth)
        return Request(signed, {}, send_instead=signed + b" ", mutated=True)
    return Request(serialise(body, depth), options, mutated=True)


# The server side: the fuzz region, its seed state, its fingerprint


class Fuzz:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.wire = Wire(server.endpoint, region=REGION)
        self.known: Any = None  # the last fingerprint, while nothing has changed since

    def ok(self, action: str, params: object = None) -> Any:
        reply = self.reach(lambda: self.wire.call(action, params))
        assert reply.status == 200, (action, reply.raw[:500])
        return reply.body

    def reach(self, call: Callable[[], Reply]) -> Reply:
        try:
            return call()
        except httpx.TransportError as exc:
            proc, log = self.server.proc, self.server.log_path.read_text()[-3000:]
            code = proc.poll() if proc else None
            pytest.fail(f"server unreachable ({exc!r}; exit code {code}); its log ends:\n{log}")

    def seed(self) -> None:
        """The resources the hints name, (re)made before each action's run: an earlier run
        may have deleted them. The first time, revision 1 stays ACTIVE and 2 INACTIVE."""
        self.ok("CreateCluster", {"clusterName": CLUSTER, "tags": [{"key": "k", "value": "v"}]})
        self.ok("PutAccountSetting", {"name": "containerInsights", "value": "enabled"})
        active = {"familyPrefix": FAMILY, "status": "ACTIVE"}
        if not self.ok("ListTaskDefinitions", active)["taskDefinitionArns"]:
            register = {"family": FAMILY, "containerDefinitions": [CONTAINER]}
            for _ in range(2):
                revision = self.ok("RegisterTaskDefinition", register)["taskDefinition"]
            self.ok("DeregisterTaskDefinition", {"taskDefinition": revision["taskDefinitionArn"]})
        self.known = None

    def pages(self, action: str, key: str, params: dict[str, Any]) -> list[Any]:
        found: list[Any] = []
        token: str | None = None
        while True:
            body = self.ok(action, {**params, **({"nextToken": token} if token else {})})
            found += body[key]
            token = body.get("nextToken")
            if not token:
                return found

    def fingerprint(self) -> dict[str, Any]:
        """What a refused call must leave as it was. Nothing that changes on its own: not the
        status of tasks and instances, which controllers move; not DELETE_IN_PROGRESS task
        definitions (nor families left with only those), which the maintenance loop reaps."""
        clusters = self.pages("ListClusters", "clusterArns", {})
        state: dict[str, Any] = {"clusters": []}
        for i in range(0, len(clusters), 100):
            chunk = {"clusters": clusters[i : i + 100], "include": ["TAGS", "SETTINGS"]}
            for cluster in self.ok("DescribeClusters", chunk)["clusters"]:
                for moving in ("runningTasksCount", "pendingTasksCount"):
                    cluster.pop(moving, None)
                state["clusters"].append(cluster)
        for status in ("ACTIVE", "INACTIVE"):
            arns = self.pages("ListTaskDefinitions", "taskDefinitionArns", {"status": status})
            state[f"task definitions {status}"] = arns
            if TASK_DEFINITION_ARN in arns:
                tags = self.ok("ListTagsForResource", {"resourceArn": TASK_DEFINITION_ARN})
                state["tags"] = tags
        active = {"status": "ACTIVE"}
        state["families"] = self.pages("ListTaskDefinitionFamilies", "families", active)
        state["settings"] = self.pages("ListAccountSettings", "settings", {})
        # A deleted cluster stays listed (INACTIVE) for a while, with nothing to list in it.
        active_clusters = {c["clusterArn"] for c in state["clusters"] if c["status"] == "ACTIVE"}
        if CLUSTER_ARN in active_clusters:
            pool: dict[str, Any] = {"cluster": CLUSTER}
            target = {**pool, "targetType": "container-instance"}
            state["attributes"] = self.pages("ListAttributes", "attributes", target)
            if "ListContainerInstances" in ACTIONS:
                key = "containerInstanceArns"
                state["instances"] = self.pages("ListContainerInstances", key, pool)
            if "ListTasks" in ACTIONS:  # every task, whatever its status
                tasks = [
                    self.pages("ListTasks", "taskArns", {**pool, "desiredStatus": status})
                    for status in ("RUNNING", "STOPPED")
                ]
                state["tasks"] = sorted(set(tasks[0]) | set(tasks[1]))
        return state

    def send(self, operation: str, request: Request) -> Reply:
        headers = self.wire.prepare(operation, request.body, **request.options)
        return self.reach(lambda: self.wire.send(headers, request.send_instead or request.body))


@pytest.fixture(scope="module")
def region(server: ServerProcess) -> Iterator[Fuzz]:
    made = Fuzz(server)
    yield made
    made.wire.close()


@pytest.fixture
def fuzz(region: Fuzz) -> Fuzz:
    region.seed()
    return region


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(
    max_examples=EXAMPLES_PER_ACTION,
    deadline=None,
    derandomize=not _HUNT,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_fuzz(fuzz: Fuzz, operation: str, data: st.DataObject) -> None:
    request = data.draw(requests(operation), label="request")
    before = fuzz.known if fuzz.known is not None else fuzz.fingerprint()
    reply = fuzz.send(operation, request)
    assert reply.status < 500, (reply.status, reply.raw[:500])
    body = reply.body
    event(f"HTTP {reply.status} {reply.error or ''}")  # see --hypothesis-show-statistics
    if reply.status == 200:
        assert not request.mutated, f"a mangled request succeeded: {body}"
        check_output("ecs", operation, body)
        fuzz.known = None  # a change is allowed; read the state afresh next time
        return
    assert reply.status in (400, 403), reply.status
    check_error(body, operation, "ecs")
    after = fuzz.fingerprint()
    assert after == before, f"{body['__type']} was refused, yet the state changed"
    fuzz.known = after


def test_unknown_members_are_dropped_not_stored(region: Fuzz) -> None:
    """Found by the fuzz: unknown members nested in a body reached the store, and every later
    answer about the resource carried them, breaking the output contract."""
    config = {"executeCommandConfiguration": {"logging": "DEFAULT", "bogus": 1}, "bogus": {}}
    body = {"clusterName": "fuzz-unknown", "configuration": config, "bogus": 2, "tags": None}
    check_output("ecs", "CreateCluster", region.ok("CreateCluster", body))
    include = {"clusters": ["fuzz-unknown"], "include": ["CONFIGURATIONS"]}
    described = region.ok("DescribeClusters", include)
    check_output("ecs", "DescribeClusters", described)
    expected = {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    assert described["clusters"][0]["configuration"] == expected

    container = {**CONTAINER, "bogus": "x", "portMappings": [{"containerPort": 80, "bogus": 1}]}
    register = {"family": "fuzz-unknown", "containerDefinitions": [container], "bogus": None}
    check_output("ecs", "RegisterTaskDefinition", region.ok("RegisterTaskDefinition", register))
    found = region.ok("DescribeTaskDefinition", {"taskDefinition": "fuzz-unknown"})
    check_output("ecs", "DescribeTaskDefinition", found)
    assert "bogus" not in found["taskDefinition"]["containerDefinitions"][0]

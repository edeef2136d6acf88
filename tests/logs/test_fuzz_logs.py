"""Fuzz every CloudWatch Logs action Portside serves with bodies drawn from botocore's model.

Bodies are plausible (members named like the fuzz group and stream reach real state) or
broken at one node (wrong JSON type, out of bounds, a required member gone). Signed by hand
and sent to the real server, every answer must hold to three rules: never HTTP 5xx; an error
is one the action declares (or a common one) with a message; a success has the action's
output shape. Derandomized, like every property test here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from contract import check_error, check_output, service_model
from harness import ServerProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logs.logcalls import now_ms
from signing import Wire

from portside.api.logs import ACTIONS

GROUP, STREAM = "fuzz-logs", "fuzz-stream"
# The deprecated *LogGroup tag actions declare no InvalidParameterException in the model, yet
# their input is validated like every other's and a bad name gets Coral's validation fault.
UNDECLARED_VALIDATION = {"ListTagsLogGroup", "TagLogGroup", "UntagLogGroup"}
OPERATIONS = sorted(ACTIONS)
NOW = now_ms()  # fixed for the run: a strategy must draw the same way every time
HINTS: dict[str, list[Any]] = {
    "logGroupName": [GROUP, "fuzz-missing"],
    "logGroupIdentifier": [GROUP, f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}"],
    "logStreamName": [STREAM, "other"],
    "logStreamNames": [[STREAM], [STREAM, "other"]],
    "resourceArn": [f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}", "arn:x"],
    "nextToken": ["f/" + "0" * 36, "b/" + "1" * 36, "Ff" + "0" * 36, "bm9wZQ==", "!!"],
    "filterPattern": ["", "ERROR", '"a b"', "-x ?y", "{ $.a = 1 }", "[a, ..., b>2]", "{ $."],
    "retentionInDays": [1, 7, 2, 3653],
}


def plausible(shape: Shape, hint: str | None = None, depth: int = 0) -> st.SearchStrategy[Any]:
    meta, kind = shape.metadata, shape.type_name
    low, high = meta.get("min", 0), meta.get("max")
    base: st.SearchStrategy[Any]
    if isinstance(shape, StructureShape):
        members = {n: plausible(s, n, depth + 1) for n, s in shape.members.items() if depth < 3}
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in required}
        base = st.fixed_dictionaries(required, optional=optional)
    elif isinstance(shape, ListShape):
        base = st.lists(plausible(shape.member, None, depth + 1), min_size=low, max_size=3)
    elif isinstance(shape, MapShape):
        keys, values = plausible(shape.key), plausible(shape.value)
        base = st.dictionaries(keys, values, min_size=low, max_size=2)
    elif kind == "string":
        base = (
            st.sampled_from(shape.enum)
            if shape.enum
            else st.text(min_size=low, max_size=max(low, min(high or 12, 12)))
        )
    elif kind in ("integer", "long"):
        least = meta.get("min", -(2**31))
        base = st.integers(max(least, 0), 2**41) | st.integers(least, 2**63 - 1)
    elif kind == "boolean":
        base = st.booleans()
    elif hint == "timestamp" or kind == "timestamp":
        base = st.integers(0, 2**42)
    else:
        base = st.none()
    if hint == "timestamp":
        base = base | st.integers(NOW - 3_600_000, NOW)
    if hint in HINTS:
        return st.sampled_from(HINTS[hint]) | base
    return base


_WRONG: list[Any] = [None, True, 0, -1, 1.5, "", "x" * 600, [], [1], {}, {"a": 1}]


@st.composite
def body_for(draw: st.DrawFn, operation: str) -> Any:
    shape = service_model("logs").operation_model(operation).input_shape
    body = draw(plausible(shape))
    if body and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(body)))
        body = {**body, name: draw(st.sampled_from(_WRONG))}
    return body


@pytest.fixture(scope="module")
def wire(server: ServerProcess) -> Iterator[Wire]:
    logs = server.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=STREAM,
        logEvents=[{"timestamp": now_ms() - 1000 + i, "message": f"line {i}"} for i in range(5)],
    )
    client = Wire(server.endpoint)
    yield client
    client.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_answer_is_a_declared_one(wire: Wire, operation: str) -> None:
    @settings(
        max_examples=25, suppress_health_check=list(HealthCheck), database=None, deadline=None
    )
    @given(body=body_for(operation))
    def check(body: Any) -> None:
        raw = json.dumps(body).encode()
        reply = wire.raw(None, raw, target=f"Logs_20140328.{operation}", service="logs")
        assert reply.status < 500, (operation, body, reply.raw[:300])
        if reply.status >= 300:
            body = reply.body
            if operation in UNDECLARED_VALIDATION and body.get("__type") == (
                "InvalidParameterException"
            ):
                assert "validation error" in body["message"], body
                return
            check_error(body, operation, "logs")
        else:
            check_output("logs", operation, reply.body)

    check()

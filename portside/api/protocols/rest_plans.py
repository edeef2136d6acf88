"""Where each member of a rest-json operation's input and output travels, compiled once per
operation from the model's `location` traits (Smithy's HTTP bindings):

    uri            a label of the request URI             httpLabel
    querystring    a query parameter (a list repeats it;  httpQuery / httpQueryParams
                   a map takes the keys nobody else names)
    header         one header                             httpHeader
    headers        every header under a prefix (a map)    httpPrefixHeaders
    statusCode     the response status                    httpResponseCode
    (payload)      the whole body (blob, string, or a     httpPayload
                   structure as JSON)
    (none)         a member of the JSON body

Only top-level members carry locations; everything under them is body-shaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from portside.api.protocols.rest_bindings import (
    Format,
    Parse,
    header_formatter,
    header_parser,
    scalar_parser,
)
from portside.api.protocols.rest_json_body import JsonReader, JsonWriter
from portside.api.protocols.rest_routes import Route
from portside.api.protocols.shape_walk import Convert, Walker


@dataclass(frozen=True, slots=True)
class Binding:
    member: str
    key: str  # the label, the query key, the lower-case header name or header prefix
    parse: Parse
    many: bool = False  # a list in the query string (or a map of lists)


@dataclass(frozen=True, slots=True)
class Payload:
    member: str
    kind: str  # blob, string, or anything else read/written as JSON
    convert: Convert | None
    required: bool


@dataclass(frozen=True, slots=True)
class RequestPlan:
    route: Route
    labels: tuple[Binding, ...]
    query: dict[str, Binding]
    query_map: Binding | None
    query_literals: frozenset[str]  # keys the route's template fixes: never map entries
    headers: tuple[Binding, ...]
    header_maps: tuple[Binding, ...]
    payload: Payload | None
    body: Convert | None  # reads the JSON body's members, when there are any


@dataclass(frozen=True, slots=True)
class OutHeader:
    member: str
    name: str
    format: Format


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    status: int
    status_member: str | None
    headers: tuple[OutHeader, ...]
    header_maps: tuple[tuple[str, str], ...]  # (member, prefix)
    payload: Payload | None
    body: Convert | None


# A top-level member: its name, shape, `location` trait (None in the body) and wire key.
Member = tuple[str, Shape, str | None, str]


def _members(shape: Shape | None, walker: Walker) -> tuple[Payload | None, list[Member]]:
    """The structure's payload, if it has one, and every member with its location."""
    if not isinstance(shape, StructureShape):
        return None, []
    found = [
        (name, m, m.serialization.get("location"), str(m.serialization.get("name", name)))
        for name, m in shape.members.items()
    ]
    payload = None
    payload_name = shape.serialization.get("payload")
    if payload_name is not None:
        member = shape.members[payload_name]
        kind = member.type_name if member.type_name in ("blob", "string") else "json"
        convert = None if kind != "json" else walker.compile(member)
        payload = Payload(payload_name, kind, convert, payload_name in shape.required_members)
    return payload, found


def _body(
    shape: Shape | None, payload: Payload | None, names: set[str], walker: Walker
) -> Convert | None:
    """The JSON body's converter: of the members bound nowhere else, unless there is a
    payload (it is the body then)."""
    if payload is None and names and isinstance(shape, StructureShape):
        return walker.members(shape, names)
    return None


def _query_binding(name: str, member: Shape, key: str) -> Binding:
    if isinstance(member, ListShape):
        return Binding(name, key, scalar_parser(member.member), many=True)
    if isinstance(member, MapShape):
        value = member.value
        if isinstance(value, ListShape):
            return Binding(name, key, scalar_parser(value.member), many=True)
        return Binding(name, key, scalar_parser(value))
    return Binding(name, key, scalar_parser(member))


def request_plan(operation: OperationModel, route: Route, reader: JsonReader) -> RequestPlan:
    shape = operation.input_shape
    labels: list[Binding] = []
    query: dict[str, Binding] = {}
    query_map: Binding | None = None
    headers: list[Binding] = []
    header_maps: list[Binding] = []
    body_members: set[str] = set()
    payload, members = _members(shape, reader)
    for name, member, location, key in members:
        if location == "uri":
            labels.append(Binding(name, key, scalar_parser(member)))
        elif location == "querystring":
            if isinstance(member, MapShape):
                query_map = _query_binding(name, member, "")
            else:
                query[key] = _query_binding(name, member, key)
        elif location == "header":
            headers.append(Binding(name, key.lower(), header_parser(member)))
        elif location == "headers":
            value = member.value if isinstance(member, MapShape) else member
            header_maps.append(Binding(name, key.lower(), header_parser(value)))
        elif payload is None or name != payload.member:
            body_members.add(name)
    return RequestPlan(
        route=route,
        labels=tuple(labels),
        query=query,
        query_map=query_map,
        query_literals=frozenset(key for key, _ in route.query),
        headers=tuple(headers),
        header_maps=tuple(header_maps),
        payload=payload,
        body=_body(shape, payload, body_members, reader),
    )


def response_plan(operation: OperationModel, writer: JsonWriter) -> ResponsePlan:
    shape = operation.output_shape
    status_member: str | None = None
    headers: list[OutHeader] = []
    header_maps: list[tuple[str, str]] = []
    body_members: set[str] = set()
    payload, members = _members(shape, writer)
    for name, member, location, key in members:
        if location == "statusCode":
            status_member = name
        elif location == "header":
            headers.append(OutHeader(name, key, header_formatter(member)))
        elif location == "headers":
            header_maps.append((name, key))
        elif location is None and (payload is None or name != payload.member):
            body_members.add(name)
    return ResponsePlan(
        status=int(operation.http.get("responseCode", 200)),
        status_member=status_member,
        headers=tuple(headers),
        header_maps=tuple(header_maps),
        payload=payload,
        body=_body(shape, payload, body_members, writer),
    )

"""Validate an AWS JSON 1.1 request body against the operation's botocore input shape.

What the real services answer (ECS and Logs are Coral services; every fault is HTTP 400):

* Body not JSON, empty, or a JSON scalar: ``SerializationException`` with no message at all
  (Athena, measured by an emulator's conformance suite; ECS too, traefik/traefik#3831).
* Body a JSON array: ECS says ``Unrecognized collection type class
  com.amazonaws.madison.frontend.RegisterTaskDefinitionRequest``
  (aws-actions/amazon-ecs-deploy-task-definition#610); Athena ``Start of list found where
  not expected``.
* A member of the wrong JSON type: ``SerializationException``, and it wins over any
  constraint fault anywhere in the body. Coral's messages (Athena; EventBridge Scheduler in
  floci-io/floci#2686): ``Start of structure or map found where not expected.``, ``Start of
  list found where not expected``, ``Expected list or null`` (scalar for a list), ``Expected
  null`` (scalar for a structure), ``NUMBER_VALUE can not be converted to a String``,
  ``STRING_VALUE can not be converted to an Integer``, ``TRUE_VALUE ...``. ECS words the last
  kind ``STRING_VALUE cannot be converted to Integer`` (aws/aws-cdk-cli#973, UpdateService).
* ``null`` and unknown members are ignored, as if absent (Athena). The validator drops them
  from the body, so nothing past the edge stores, or later answers with, a member the model
  does not declare.
* A required member missing or null: Logs answers ``InvalidParameterException: 1 validation
  error detected: Value null at 'logEvents.1.member.timestamp' failed to satisfy constraint:
  Member must not be null`` (amazon-archives/cloudwatch-logs-centralize-logs#5). ECS checks
  in its own front end: ``InvalidParameterException: Clusters can not be blank.``
  (blox/blox#170), ``Family can not be blank.`` (amazon-ecs-deploy-task-definition#630).
* An enum value outside the enum: ECS ``InvalidParameterException: include should be one of
  [ATTACHMENTS,SETTINGS,STATISTICS,TAGS]`` (hashicorp/terraform-provider-aws#23342); Coral
  ``Member must satisfy enum value set: [A, B]``.
* Length, range, pattern: Coral reports every fault at once, ``2 validation errors detected:
  Value '' at 'logGroupNamePrefix' failed to satisfy constraint: Member must satisfy regular
  expression pattern: ...; Value '' at ... Member must have length greater than or equal to 1``
  (Logs, fluent-plugin-cloudwatch-logs#223); a bad map value is reported against the whole
  map with all the value's rules: ``Value '{k=v}' at 'tags' failed to satisfy constraint: Map
  value must satisfy constraint: [...]`` (SWO-GS/auto-tag#77).
* ECS ``maxResults`` bounds are not in the model; ``ops/`` owns them.

Chosen without a sample: ECS length/range/pattern faults use Coral's text (first fault only);
the madison message also for nested structures; ``Expected map or null``; ``Date`` and
``ByteBuffer`` as the type names of timestamps and blobs; non-integral numbers rejected for
integers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from portside.errors import (
    InvalidParameterException,
    RequestError,
    SerializationException,
    UnknownOperationException,
)

Check = Callable[[Any], None]
Limit = tuple[Callable[[Any], bool], str]  # (fails, the rule in the service's words)

_NUMBER_STRINGS = frozenset({"NaN", "Infinity", "-Infinity"})  # Smithy's non-finite doubles
_JAVA_TYPES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "double": "Double",
    "float": "Float",
    "timestamp": "Date",
    "blob": "ByteBuffer",
}
_STRUCTURE_FOUND = "Start of structure or map found where not expected."
_NOT_NULL = "Member must not be null"
_LIST_FOUND = "Start of list found where not expected"


class _TypeFault(Exception):
    """The body is not of the shape's JSON type; Coral stops at the first one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Violation:
    """One broken constraint. `path` is built innermost-first while the fault unwinds."""

    constraint: str
    value: Any
    path: list[str | int] = field(default_factory=list)
    enum: tuple[str, ...] | None = None
    is_null: bool = False

    def where(self) -> str:
        # Coral names list elements `name.1.member`, counting from 1.
        return ".".join(
            f"{part}.member" if isinstance(part, int) else part for part in reversed(self.path)
        )

    def leaf(self) -> str:
        return next((p for p in self.path if isinstance(p, str)), "")

    def coral(self) -> str:
        shown = "null" if self.value is None else f"'{_java(self.value)}'"
        return f"Value {shown} at '{self.where()}' failed to satisfy constraint: {self.constraint}"


def _camel(name: str) -> str:
    # Coral names members in lower camel case even where the model says `QueryExecutionId`.
    return name[:1].lower() + name[1:]


class _Violations(Exception):
    def __init__(self, items: list[Violation]) -> None:
        super().__init__(items)
        self.items = items


def _token(value: object) -> str:
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    return "STRING_VALUE" if isinstance(value, str) else "NUMBER_VALUE"


def _java(value: object) -> str:
    """Render a value the way Coral's messages do (Java's toString)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java(v)}" for k, v in value.items()) + "}"
    return "null" if value is None else str(value)


class CoralDialect:
    """How the Coral framework words faults (CloudWatch Logs and most JSON services), as
    `error`: InvalidParameterException unless the service reports them as an error of its own
    (EventBridge and the Scheduler: ValidationException)."""

    def __init__(self, error: type[RequestError] = InvalidParameterException) -> None:
        self.error = error

    def convert(self, value: object, target: str) -> str:
        article = "an" if target[0] in "AEIOU" else "a"
        return f"{_token(value)} can not be converted to {article} {target}"

    def list_for_structure(self, shape_name: str) -> str:
        return _LIST_FOUND

    def report(self, faults: list[Violation]) -> RequestError:
        count = len(faults)
        head = f"{count} validation error{'s' if count > 1 else ''} detected: "
        return self.error(head + "; ".join(f.coral() for f in faults))


class EcsDialect(CoralDialect):
    """ECS validates in its own front end (madison) and reports only the first fault."""

    def convert(self, value: object, target: str) -> str:
        return f"{_token(value)} cannot be converted to {target}"

    def list_for_structure(self, shape_name: str) -> str:
        return f"Unrecognized collection type class com.amazonaws.madison.frontend.{shape_name}"

    def report(self, faults: list[Violation]) -> RequestError:
        first = faults[0]
        name = first.leaf()
        if first.is_null:
            return InvalidParameterException(f"{name[:1].upper()}{name[1:]} can not be blank.")
        if first.enum is not None:
            return InvalidParameterException(f"{name} should be one of [{','.join(first.enum)}]")
        return super().report([first])


def dialect_for(service_model: ServiceModel) -> CoralDialect:
    return EcsDialect() if service_model.service_name == "ecs" else CoralDialect()


def parse_body(raw: bytes) -> object:
    """Parse a request body; Coral answers an unparseable one with a message-less fault."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SerializationException() from None


def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """Translate the model's Java regex to Python's `re`; None if it cannot be.

    `re` has no Unicode property classes, so \\p{L} and \\p{N} become \\w and \\p{Z} becomes
    \\s: slightly more permissive than Java, never stricter. Java reads `[\\w-_]` as a literal
    dash where Python refuses the range, so a dash after a class escape is escaped.
    """
    translated = pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w")
    translated = translated.replace(r"\p{Z}", r"\s")
    translated = re.sub(r"(\\[wWdDsS])-", r"\1\\-", translated)
    try:
        return re.compile(translated)
    except re.error:
        return None


def _length_limits(shape: Shape, noun: str) -> list[Limit]:
    checks: list[Limit] = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None:
        checks.append((lambda n: n > high, f"Member must have {noun} less than or equal to {high}"))
    if low is not None:
        checks.append(
            (lambda n: n < low, f"Member must have {noun} greater than or equal to {low}")
        )
    return checks


def _constraints(shape: Shape) -> list[str]:
    """Every constraint on a shape, in the order Coral lists them for map members."""
    found = [text for _, text in _length_limits(shape, "length")]
    if "pattern" in shape.metadata:
        found.append(f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}")
    if shape.enum:
        found.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    return found


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool: JSON true is no number


def _is_double(value: Any) -> bool:
    return type(value) in (int, float) or (type(value) is str and value in _NUMBER_STRINGS)


def _is_epoch(value: Any) -> bool:
    return type(value) in (int, float)  # awsJson timestamps are epoch seconds


def _is_blob(value: Any) -> bool:
    # Base64 text in a JSON body; bytes once decoded by a binary protocol (CBOR, query).
    return type(value) in (str, bytes)


_ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "boolean": _is_bool,
    "integer": _is_int,
    "long": _is_int,
    "double": _is_double,
    "float": _is_double,
    "timestamp": _is_epoch,
    "blob": _is_blob,
}


def _gather(faults: list[Violation] | None, found: _Violations, part: str | int) -> list[Violation]:
    for fault in found.items:
        fault.path.append(part)
    return found.items if faults is None else faults + found.items


def _raise_with_length(faults: list[Violation] | None, limits: list[Limit], value: Any) -> None:
    """A list's or a map's faults (its items' first), with those of its size: raised, if any."""
    for fails, text in limits:
        if fails(len(value)):
            faults = (faults or []) + [Violation(text, value)]
    if faults:
        raise _Violations(faults)


class InputValidator:
    """Checks request bodies against one service's model.

    Each shape compiles once, on first use, into a closure; a clean body costs one call per
    value. Faults unwind as exceptions, which are free in Python 3.11 until raised.
    """

    def __init__(self, service_model: ServiceModel, dialect: CoralDialect | None = None) -> None:
        self._model = service_model
        self._dialect = dialect or dialect_for(service_model)
        self._operations: dict[str, Check] = {}
        self._shapes: dict[str, Check] = {}

    def validate(self, operation: str, body: object) -> dict[str, Any]:
        """Raise the service's error for the body's fault, if any; return the body (a dict),
        its unknown and null structure members removed in place."""
        check = self._operations.get(operation) or self._operation(operation)
        try:
            check(body)
        except _TypeFault as fault:
            raise SerializationException(fault.message) from None
        except _Violations as faults:
            raise self._dialect.report(faults.items) from None
        return cast(dict[str, Any], body)

    def _operation(self, operation: str) -> Check:
        if operation not in self._model.operation_names:
            raise UnknownOperationException()
        shape = self._model.operation_model(operation).input_shape
        inner = self._compile(shape) if shape is not None else None
        as_list = self._dialect.list_for_structure(shape.name if shape is not None else "")

        def check(body: Any) -> None:
            if type(body) is not dict:
                # Only at the top level does a scalar get no message at all.
                raise _TypeFault(as_list if type(body) is list else "")
            if inner is not None:
                inner(body)

        self._operations[operation] = check
        return check

    def _compile(self, shape: Shape) -> Check:
        cached = self._shapes.get(shape.name)
        if cached is not None:
            return cached
        if isinstance(shape, StructureShape) and not shape.is_document_type:
            return self._structure(shape)  # registers itself, for recursive shapes
        if isinstance(shape, ListShape):
            check = self._list(shape)
        elif isinstance(shape, MapShape):
            check = self._map(shape)
        elif shape.type_name == "string":
            check = self._string(shape)
        else:
            check = self._scalar(shape)
        self._shapes[shape.name] = check
        return check

    def _structure(self, shape: StructureShape) -> Check:
        members: dict[str, tuple[Check, str]] = {}
        required: list[tuple[str, str]] = []
        as_list = self._dialect.list_for_structure(shape.name)

        def check(value: Any) -> None:
            if type(value) is not dict:
                raise _TypeFault(as_list if type(value) is list else "Expected null")
            faults: list[Violation] | None = None
            for wire, name in required:
                if value.get(wire) is None:
                    faults = (faults or []) + [Violation(_NOT_NULL, None, [name], is_null=True)]
            absent: list[str] | None = None
            for key, item in value.items():
                member = members.get(key)
                if member is None or item is None:
                    # Unknown members and nulls count as absent, and are dropped below.
                    absent = [key] if absent is None else [*absent, key]
                    continue
                try:
                    member[0](item)
                except _Violations as found:
                    faults = _gather(faults, found, member[1])
            if faults:
                raise _Violations(faults)
            for key in absent or ():
                del value[key]

        self._shapes[shape.name] = check
        for name, member_shape in shape.members.items():
            # Keyed by member name: the canonical params form every codec decodes into
            # (api/protocols/base.py); for JSON services the two are the same.
            members[name] = (self._compile(member_shape), _camel(name))
            if name in shape.required_members:
                required.append((name, _camel(name)))
        return check

    def _list(self, shape: ListShape) -> Check:
        inner = self._compile(shape.member)
        limits = _length_limits(shape, "length")

        def check(value: Any) -> None:
            if type(value) is not list:
                raise _TypeFault(
                    _STRUCTURE_FOUND if type(value) is dict else "Expected list or null"
                )
            faults: list[Violation] | None = None
            for index, item in enumerate(value, 1):
                try:
                    if item is None:
                        raise _Violations([Violation(_NOT_NULL, None, is_null=True)])
                    inner(item)
                except _Violations as found:
                    faults = _gather(faults, found, index)
            _raise_with_length(faults, limits, value)

        return check

    def _map(self, shape: MapShape) -> Check:
        check_key, check_value = self._compile(shape.key), self._compile(shape.value)
        key_rule = f"Map keys must satisfy constraint: [{', '.join(_constraints(shape.key))}]"
        value_rule = f"Map value must satisfy constraint: [{', '.join(_constraints(shape.value))}]"
        scalar_values = not isinstance(shape.value, StructureShape | ListShape | MapShape)
        limits = _length_limits(shape, "length")

        def check(value: Any) -> None:
            if type(value) is not dict:
                raise _TypeFault(_LIST_FOUND if type(value) is list else "Expected map or null")
            faults: list[Violation] | None = None
            for key, item in value.items():
                try:
                    check_key(key)
                except _Violations:
                    faults = (faults or []) + [Violation(key_rule, value)]
                if item is None:
                    faults = (faults or []) + [Violation(_NOT_NULL, None, [key], is_null=True)]
                    continue
                try:
                    check_value(item)
                except _Violations as found:
                    if scalar_values:
                        # Coral reports a bad scalar value against the whole map, with every rule.
                        faults = (faults or []) + [Violation(value_rule, value)]
                    else:
                        faults = _gather(faults, found, key)
            _raise_with_length(faults, limits, value)

        return check

    def _wrong(self, target: str) -> Callable[[Any], _TypeFault]:
        convert = self._dialect.convert

        def wrong(value: Any) -> _TypeFault:
            if type(value) is dict:
                return _TypeFault(_STRUCTURE_FOUND)
            if type(value) is list:
                return _TypeFault(_LIST_FOUND)
            return _TypeFault(convert(value, target))

        return wrong

    def _scalar(self, shape: Shape) -> Check:
        accepts = _ACCEPTS.get(shape.type_name)
        if accepts is None:
            return lambda value: None  # a document takes any JSON value
        wrong = self._wrong(_JAVA_TYPES[shape.type_name])
        limits = [] if shape.type_name == "blob" else _length_limits(shape, "value")

        def check(value: Any) -> None:
            if not accepts(value):
                raise wrong(value)
            if limits and type(value) is not str:
                broken = [Violation(text, value) for fails, text in limits if fails(value)]
                if broken:
                    raise _Violations(broken)

        return check

    def _string(self, shape: Shape) -> Check:
        wrong = self._wrong("String")
        enum = tuple(shape.enum) if shape.enum else None
        allowed = frozenset(enum or ())
        pattern = shape.metadata.get("pattern")
        matcher = java_pattern(pattern) if pattern is not None else None
        limits = _length_limits(shape, "length")
        if enum is None and matcher is None and not limits:

            def plain(value: Any) -> None:
                if type(value) is not str:
                    raise wrong(value)

            return plain
        enum_rule = f"Member must satisfy enum value set: [{', '.join(enum or ())}]"
        pattern_rule = f"Member must satisfy regular expression pattern: {pattern}"

        def check(value: Any) -> None:
            if type(value) is not str:
                raise wrong(value)
            faults: list[Violation] = []
            if enum is not None and value not in allowed:
                faults.append(Violation(enum_rule, value, enum=enum))
            if matcher is not None and matcher.fullmatch(value) is None:
                faults.append(Violation(pattern_rule, value))
            faults.extend(Violation(text, value) for fails, text in limits if fails(len(value)))
            if faults:
                raise _Violations(faults)

        return check

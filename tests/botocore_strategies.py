"""Hypothesis strategies for botocore shapes, for protocol codec tests.

`params_for(shape, depth)` draws values of a shape in the canonical params form (see
portside/api/protocols/base.py): values of the right *types*, not necessarily within the
model's constraints (lengths, ranges, patterns are the validator's business, not a codec's).
`canonical(shape, value)` brings what a codec or botocore gives back to one comparable form.

Strings stay within what every protocol carries: no control characters other than tab, line
feed and carriage return, no surrogates or unassigned code points (XML 1.0 cannot carry
them at all). Timestamps are epoch seconds, whole or to the millisecond, from 1970 to 2100;
blobs are bytes; numbers stay within Java's ranges; floats are finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from hypothesis import strategies as st

DEPTH = 3  # containers nested deeper than this are drawn empty

_CONTAINERS = (StructureShape, ListShape, MapShape)
_TEXT = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs", "Cn"), include_characters="\t\n\r"
    ),
    max_size=12,
)
_SECONDS = st.integers(0, 4_102_444_800)  # 1970 to 2100
_TIMESTAMPS = st.one_of(
    _SECONDS.map(float),
    st.builds(lambda s, ms: round(s + ms / 1000, 3), _SECONDS, st.integers(1, 999)),
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": _TEXT,
    "character": st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn")),
    "integer": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "boolean": st.booleans(),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "timestamp": _TIMESTAMPS,
    "blob": st.binary(max_size=16),
}


def params_for(shape: Shape, depth: int = DEPTH) -> st.SearchStrategy[Any]:
    """Canonical values of `shape`; containers below `depth` levels are empty."""
    # Built once per shape of a model and depth: building them, not drawing from them, is
    # most of what a test over every operation of a model costs. The key holds the model's
    # shape resolver, so its id is not reused while the strategy is cached (a botocore
    # without one caches per shape object, which is still right).
    model = getattr(shape, "_shape_resolver", None) or shape
    key = (id(model), shape.name, depth)
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = (model, _build(shape, depth))
    return found[1]


_BUILT: dict[tuple[int, str, int], tuple[object, st.SearchStrategy[Any]]] = {}


def _build(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return _JSON
        if shape.is_tagged_union:
            return _union(shape, depth)
        if depth <= 0:
            return st.just({})
        members = {name: _later(member, depth - 1) for name, member in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if isinstance(shape, ListShape):
        if depth <= 0:
            return st.just([])
        return st.lists(_later(shape.member, depth - 1), max_size=3)
    if isinstance(shape, MapShape):
        if depth <= 0:
            return st.just({})
        return st.dictionaries(params_for(shape.key), _later(shape.value, depth - 1), max_size=3)
    if shape.type_name == "string" and shape.enum:
        return st.sampled_from(shape.enum)
    return _SCALARS[shape.type_name]


def input_for(operation: OperationModel, depth: int = DEPTH) -> st.SearchStrategy[Any]:
    shape = operation.input_shape
    return st.just({}) if shape is None else params_for(shape, depth)


def output_for(operation: OperationModel, depth: int = DEPTH) -> st.SearchStrategy[Any]:
    shape = operation.output_shape
    return st.just({}) if shape is None else params_for(shape, depth)


def _union(shape: StructureShape, depth: int) -> st.SearchStrategy[Any]:
    """Exactly one member set, even past `depth` (an empty union is not a value); there,
    scalar members are preferred so that unions of unions end."""
    members = shape.members.items()
    if depth <= 0:
        scalars = [(n, m) for n, m in members if not isinstance(m, _CONTAINERS)]
        members = scalars or list(members)
    return st.one_of([st.fixed_dictionaries({n: _later(m, depth - 1)}) for n, m in members])


def _later(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    # Built when first drawn: a big model's whole shape graph is never built at once.
    return st.deferred(lambda: params_for(shape, depth))


def canonical(
    shape: Shape, value: Any, *, empty_structures: bool = True, empty_lists: bool = True
) -> Any:
    """`value` of `shape` in one comparable form: timestamps as epoch seconds rounded to the
    millisecond, blobs as bytes, numbers as int / float, members the shape does not declare
    and None values left out.

    A protocol that cannot write an empty structure or map (the query protocols send nothing
    for one) reads it back as absent: with `empty_structures=False` they, and list items and
    map entries holding them, become None (absent), and so does a list left with no items;
    `empty_lists=False` makes empty lists absent as well (EC2 sends nothing for one).
    """
    flags = {"empty_structures": empty_structures, "empty_lists": empty_lists}
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        found = {}
        for name, member in shape.members.items():
            kept = canonical(member, value.get(name), **flags)
            if kept is not None:
                found[name] = kept
        return found if found or empty_structures else None
    if isinstance(shape, ListShape):
        items = [canonical(shape.member, item, **flags) for item in value]
        kept = [item for item in items if item is not None]
        if not value:
            return [] if empty_lists else None
        return kept or None
    if isinstance(shape, MapShape):
        entries = {
            canonical(shape.key, key, **flags): canonical(shape.value, item, **flags)
            for key, item in value.items()
        }
        kept_map = {key: item for key, item in entries.items() if item is not None}
        return kept_map if kept_map or empty_structures else None
    return _scalar(shape.type_name, value)


def _scalar(kind: str, value: Any) -> Any:
    if kind == "timestamp":
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        return round(float(value), 3)
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if kind == "boolean":
        return bool(value)
    return str(value)


def without_metadata(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """botocore's parsed response without the `ResponseMetadata` it adds."""
    return {key: value for key, value in parsed.items() if key != "ResponseMetadata"}

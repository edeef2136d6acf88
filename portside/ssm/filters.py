"""ParameterFilters (DescribeParameters, GetParametersByPath) and DescribeParameters' older
Filters, checked and matched against a stored parameter (pure).

Keys: Name (Equals, BeginsWith, Contains), Path (OneLevel, the default, or Recursive), Type,
KeyId, Tier, DataType (Equals, BeginsWith), Label (GetParametersByPath only, Equals) and
`tag:KEY` (a parameter with that tag; with Values, one of them). GetParametersByPath takes
Type, KeyId and Label alone. A filter's values are alternatives; filters all apply.

The messages are those getmoto/moto answers with for these faults; no sample of AWS's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from portside.errors import NamedError
from portside.ssm import names
from portside.store.base import Document

_TYPES = ("String", "StringList", "SecureString")
_TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
_BY_PATH = ("Type", "KeyId", "Label")
_DESCRIBE = ("Name", "Path", "Type", "KeyId", "Tier", "DataType")


@dataclass(frozen=True, slots=True)
class Filter:
    key: str
    option: str
    values: tuple[str, ...]


def _key_fault(text: str) -> NamedError:
    return NamedError("InvalidFilterKey", text)


def _option_fault(option: str, valid: Sequence[str]) -> NamedError:
    return NamedError(
        "InvalidFilterOption",
        f"The following filter option is not valid: {option}. "
        f"Valid options include: [{', '.join(valid)}].",
    )


def _value_fault(value: str, valid: Sequence[str]) -> NamedError:
    return NamedError(
        "InvalidFilterValue",
        f"The following filter value is not valid: {value}. "
        f"Valid values include: [{', '.join(valid)}].",
    )


def _options(key: str) -> tuple[str, ...]:
    if key == "Path":
        return ("Recursive", "OneLevel")
    if key == "Label":
        return ("Equals",)
    if key == "Name":
        return ("Equals", "BeginsWith", "Contains")
    return ("BeginsWith", "Equals")


def checked(given: list[dict[str, Any]], *, by_path: bool) -> list[Filter]:
    """The request's ParameterFilters, each checked in the order AWS reports faults."""
    found: list[Filter] = []
    for item in given:
        key = item["Key"]
        if not by_path and key == "Label":
            raise _key_fault(
                "The following filter key is not valid: Label. "
                f"Valid filter keys include: [{', '.join(_DESCRIBE[:5])}]."
            )
        if by_path and key not in _BY_PATH:
            raise _key_fault(
                f"The following filter key is not valid: {key}. "
                f"Valid filter keys include: [{', '.join(_BY_PATH)}]."
            )
        values = tuple(item.get("Values") or ())
        if not values and not key.startswith("tag:"):
            raise NamedError(
                "InvalidFilterValue",
                f"The following filter values are missing : null for filter key {key}.",
            )
        if any(f.key == key for f in found):
            raise _key_fault(
                f"The following filter is duplicated in the request: {key}. "
                "A request can contain only one occurrence of a specific filter."
            )
        option = item.get("Option") or ("OneLevel" if key == "Path" else "Equals")
        if option not in _options(key):
            raise _option_fault(option, _options(key))
        _check_values(key, option, values)
        found.append(Filter(key, option, values))
    return found


def _check_values(key: str, option: str, values: tuple[str, ...]) -> None:
    valid = {"Type": _TYPES, "Tier": _TIERS}.get(key) if option == "Equals" else None
    for value in values:
        if valid is not None and value not in valid:
            raise _value_fault(value, valid)
        if key == "Path":
            names.path_prefix(value)


def legacy(given: list[dict[str, Any]]) -> list[Filter]:
    """DescribeParameters' deprecated Filters: Name begins with, Type and KeyId equal."""
    return [
        Filter(f["Key"], "BeginsWith" if f["Key"] == "Name" else "Equals", tuple(f["Values"]))
        for f in given
    ]


def _compare(option: str) -> Callable[[str, str], bool]:
    if option == "BeginsWith":
        return lambda have, want: have.startswith(want)
    if option == "Contains":
        return lambda have, want: want in have
    return lambda have, want: have == want


def _field(doc: Document, key: str) -> str | None:
    current = doc["Current"]
    return {
        "Type": current["Type"],
        "KeyId": current.get("KeyId"),
        "Tier": current["Tier"],
        "DataType": current["DataType"],
    }.get(key)


def _matches_one(doc: Document, f: Filter) -> bool:
    compare = _compare(f.option)
    if f.key == "Name":
        own = names.ident(doc["Name"])
        return any(compare(own, names.ident(v)) for v in f.values)
    if f.key == "Path":
        recursive = f.option == "Recursive"
        return any(names.below(doc["Name"], names.path_prefix(v), recursive) for v in f.values)
    if f.key == "Label":
        return any(v in (doc.get("Labels") or {}) for v in f.values)
    if f.key.startswith("tag:"):
        tags = {t["Key"]: t["Value"] for t in doc.get("Tags") or []}
        tag = f.key[4:]
        return tag in tags and (not f.values or any(compare(tags[tag], v) for v in f.values))
    have = _field(doc, f.key)
    return have is not None and any(compare(have, v) for v in f.values)


def matches(doc: Document, filters: list[Filter]) -> bool:
    return all(_matches_one(doc, f) for f in filters)


def label_version(doc: Document, filters: list[Filter]) -> int | None:
    """The version a Label filter picks (GetParametersByPath answers with it), if any."""
    for f in filters:
        if f.key == "Label":
            labels = doc.get("Labels") or {}
            return next((labels[v] for v in f.values if v in labels), None)
    return None

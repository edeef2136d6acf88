"""The List* Filters (pure): a filter's condition over one value of an item, every filter
AND-ed, as Cloud Map applies them (EQ with one value, IN with several, BEGINS_WITH for names,
BETWEEN two dates for operations)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from portside.servicediscovery.errors import InvalidInput

Getter = Callable[[Mapping[str, Any]], Any]


def matcher(
    filters: Sequence[Mapping[str, Any]],
    fields: Mapping[str, Getter],
    allowed: Mapping[str, tuple[str, ...]],
) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for the request's Filters over items whose values `fields` read."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for f in filters:
        name, values = f["Name"], list(f["Values"])
        condition = f.get("Condition") or "EQ"
        if condition not in allowed.get(name, ()):
            raise InvalidInput(f"Condition {condition} is not supported for filter {name}.")
        if condition == "EQ" and len(values) != 1:
            raise InvalidInput(f"Filter {name} with condition EQ takes exactly one value.")
        if condition == "BETWEEN" and len(values) != 2:
            raise InvalidInput(f"Filter {name} with condition BETWEEN takes two values.")
        checks.append(_check(fields[name], condition, values))
    return lambda item: all(check(item) for check in checks)


def _check(get: Getter, condition: str, values: list[str]) -> Callable[[Mapping[str, Any]], bool]:
    if condition == "BEGINS_WITH":
        return lambda item: str(get(item)).startswith(values[0])
    if condition == "BETWEEN":
        try:
            low, high = float(values[0]), float(values[1])
        except ValueError:
            raise InvalidInput("BETWEEN takes two dates (epoch seconds).") from None
        return lambda item: low <= float(get(item)) <= high
    wanted = set(values)
    return lambda item: str(get(item)) in wanted

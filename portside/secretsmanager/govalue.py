"""A decoded JSON value as Go's `fmt.Sprintf("%v", v)` prints it (pure): how the ECS agent
turns a secret's JSON key into the text it injects (`encoding/json` decodes objects to
map[string]interface{}, arrays to []interface{}, numbers to float64).

    "text" -> text      12 -> 12      1.5 -> 1.5      1e6 -> 1e+06      1234567 -> 1.234567e+06
    true -> true        null -> <nil>  [1, "a"] -> [1 a]  {"b": 1, "a": 2} -> map[a:2 b:1]
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def format_value(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_float(float(value))
    if isinstance(value, list):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{k}:{format_value(value[k])}" for k in sorted(value))
        return "map[" + " ".join(items) + "]"
    return str(value)


def format_float(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 64): the shortest digits that read back the same,
    in %e form when the exponent is below -4 or at least 6 (Go's threshold for the shortest
    precision), else in %f form."""
    if number == 0:
        return "-0" if str(number).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    power = len(text) + exponent - 1  # the decimal exponent of the first digit
    minus = "-" if sign else ""
    if power < -4 or power >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if power < 0:
        return f"{minus}0.{'0' * (-power - 1)}{text}"
    if len(text) <= power + 1:
        return minus + text + "0" * (power + 1 - len(text))
    return f"{minus}{text[: power + 1]}.{text[power + 1 :]}"

"""Metric math: GetMetricData's and alarms' `Expression`s parsed and evaluated; pure.

Supported (CloudWatch User Guide, "Metric math syntax and functions"): numbers, query ids,
`+ - * / ^` and unary minus with the usual precedence, parentheses, arrays `[m1, m2]`, and
the functions

    METRICS()          every MetricStat query of the request, in order
    METRICS('text')    those whose Id contains `text`
    SUM AVG MIN MAX    over an array: a series of, per timestamp, the function of the values
                       present; over one series: a scalar of all its values
    FILL(x, v)         missing timestamps of the period grid filled with the number v, with
                       REPEAT (the last value before; the first one at the start) or LINEAR
                       (interpolated between the neighbours; repeated past the ends)
    ABS(x)

Arithmetic between two series keeps the timestamps both have; with a scalar, every point; an
array applies element-wise. A result that is not finite (division by zero) is left out, as
CloudWatch leaves it out. Errors are `ExpressionError` with CloudWatch's wording of the
fault; the caller names the expression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|'(?P<str>[^']*)'|\"(?P<dstr>[^\"]*)\"|(?P<op>[-+*/^(),\[\]]))"
)


class ExpressionError(Exception):
    pass


@dataclass(slots=True)
class Series:
    label: str
    points: dict[int, float] = field(default_factory=dict)  # timestamp -> value

    def items(self) -> list[tuple[int, float]]:
        return sorted(self.points.items())


Value = float | Series | list[Series]


@dataclass(frozen=True, slots=True)
class Context:
    """What an expression sees: the other queries' results by id, which of them are
    MetricStat queries (METRICS()), and the period grid (for FILL and scalars)."""

    results: Mapping[str, Value]
    metric_ids: Sequence[str]
    grid: Sequence[int]


# -- parsing --------------------------------------------------------------------------------

Node = tuple[object, ...]


def parse(text: str) -> Node:
    tokens = _tokens(text)
    parser = _Parser(tokens)
    node = parser.expr()
    if parser.pos != len(tokens):
        raise ExpressionError(f"Unexpected token {tokens[parser.pos][1]}")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"Unrecognized token at position {pos + 1}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append(("str" if kind == "dstr" else kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, value: str) -> None:
        if self.peek()[1] != value:
            got = self.peek()[1] or "end of expression"
            raise ExpressionError(f"Expected {value} but found {got}")
        self.pos += 1

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            self.pos += 1
            node = ("bin", self.tokens[self.pos - 1][1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            self.pos += 1
            node = ("bin", self.tokens[self.pos - 1][1], node, self.unary())
        return node

    def unary(self) -> Node:
        # -a ^ b is -(a ^ b), as in arithmetic
        if self.peek() == ("op", "-"):
            self.pos += 1
            return ("neg", self.unary())
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        if self.peek() == ("op", "^"):
            self.pos += 1
            return ("bin", "^", node, self.unary())
        return node

    def primary(self) -> Node:
        kind, value = self.peek()
        self.pos += 1
        if kind == "num":
            return ("num", float(value))
        if kind == "str":
            return ("str", value)
        if (kind, value) == ("op", "("):
            node = self.expr()
            self.take(")")
            return node
        if (kind, value) == ("op", "["):
            items = self.arguments("]")
            return ("array", *items)
        if kind == "id":
            if self.peek() == ("op", "("):
                self.pos += 1
                return ("call", value.upper(), *self.arguments(")"))
            return ("ref", value)
        raise ExpressionError(f"Unexpected token {value or 'end of expression'}")

    def arguments(self, close: str) -> list[Node]:
        items: list[Node] = []
        if self.peek() == ("op", close):
            self.pos += 1
            return items
        while True:
            items.append(self.expr())
            if self.peek() == ("op", ","):
                self.pos += 1
                continue
            self.take(close)
            return items


def references(node: Node) -> set[str]:
    """The query ids an expression reads (METRICS() reads none by name)."""
    if node[0] == "ref":
        return {str(node[1])}
    found: set[str] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= references(child)
    return found


def reads_all(node: Node) -> bool:
    """Whether the expression calls METRICS() (so reads every MetricStat query)."""
    if node[:2] == ("call", "METRICS"):
        return True
    return any(isinstance(c, tuple) and reads_all(c) for c in node[1:])


# -- evaluation -----------------------------------------------------------------------------


def evaluate(node: Node, ctx: Context) -> Value:
    kind = node[0]
    if kind == "num":
        return float(str(node[1]))
    if kind == "ref":
        name = str(node[1])
        if name not in ctx.results:
            raise ExpressionError(f"Unrecognized id {name}")
        return ctx.results[name]
    if kind == "neg":
        return _apply(evaluate(_node(node[1]), ctx), -1.0, lambda a, b: a * b)
    if kind == "bin":
        left, right = evaluate(_node(node[2]), ctx), evaluate(_node(node[3]), ctx)
        return _apply(left, right, _OPERATORS[str(node[1])])
    if kind == "array":
        items: list[Series] = []
        for child in node[1:]:
            value = evaluate(_node(child), ctx)
            if isinstance(value, float):
                raise ExpressionError("An array may hold only time series")
            items += value if isinstance(value, list) else [value]
        return items
    if kind == "call":
        return _call(str(node[1]), [_node(a) for a in node[2:]], ctx)
    raise ExpressionError(f"Unexpected {kind}")


def _node(value: object) -> Node:
    assert isinstance(value, tuple)
    return value


def _pow(a: float, b: float) -> float:
    try:
        return float(a**b)
    except (OverflowError, ZeroDivisionError):
        return math.nan


_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else math.nan,
    "^": _pow,
}


def _apply(left: Value, right: Value, fn: Callable[[float, float], float]) -> Value:
    if isinstance(left, list):
        return [_series(_apply(s, right, fn)) for s in left]
    if isinstance(right, list):
        return [_series(_apply(left, s, fn)) for s in right]
    if isinstance(left, float) and isinstance(right, float):
        return fn(left, right)
    if isinstance(left, Series) and isinstance(right, Series):
        common = left.points.keys() & right.points.keys()
        pairs = {t: fn(left.points[t], right.points[t]) for t in common}
        return Series(left.label, _finite(pairs))
    if isinstance(left, Series):
        assert isinstance(right, float)
        return Series(left.label, _finite({t: fn(v, right) for t, v in left.points.items()}))
    assert isinstance(right, Series) and isinstance(left, float)
    return Series(right.label, _finite({t: fn(left, v) for t, v in right.points.items()}))


def _series(value: Value) -> Series:
    assert isinstance(value, Series)
    return value


def _finite(points: dict[int, float]) -> dict[int, float]:
    return {t: v for t, v in points.items() if math.isfinite(v)}


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda vs: sum(vs) / len(vs),
    "MIN": min,
    "MAX": max,
}


def _call(name: str, args: list[Node], ctx: Context) -> Value:
    if name == "METRICS":
        text = ""
        if args:
            if args[0][0] != "str" or len(args) > 1:
                raise ExpressionError("METRICS takes at most one string argument")
            text = str(args[0][1])
        return [_series(ctx.results[i]) for i in ctx.metric_ids if text in i]
    if name == "FILL":
        if len(args) != 2:
            raise ExpressionError("FILL takes two arguments")
        keyword = args[1][0] == "ref" and str(args[1][1]).upper() in ("REPEAT", "LINEAR")
        how = str(args[1][1]).upper() if keyword else evaluate(args[1], ctx)
        return _fill_value(evaluate(args[0], ctx), how, ctx.grid)
    values = [evaluate(a, ctx) for a in args]
    if name in _REDUCERS:
        if len(values) != 1:
            raise ExpressionError(f"{name} takes one argument")
        return _reduce(name, values[0])
    if name == "ABS":
        if len(values) != 1:
            raise ExpressionError("ABS takes one argument")
        return _apply(values[0], 0.0, lambda a, _: abs(a))
    raise ExpressionError(f"Unrecognized function {name}")


def _reduce(name: str, value: Value) -> Value:
    fn = _REDUCERS[name]
    if isinstance(value, float):
        return value
    if isinstance(value, Series):
        return fn(list(value.points.values())) if value.points else math.nan
    stamps = sorted({t for s in value for t in s.points})
    out = {}
    for t in stamps:
        present = [s.points[t] for s in value if t in s.points]
        out[t] = fn(present)
    return Series(name, out)


def _fill_value(value: Value, how: object, grid: Sequence[int]) -> Value:
    if isinstance(value, list):
        return [_series(_fill_value(s, how, grid)) for s in value]
    if not isinstance(value, Series):
        raise ExpressionError("FILL needs a time series")
    if isinstance(how, float):
        return Series(value.label, {t: value.points.get(t, how) for t in grid})
    if how == "REPEAT":
        return Series(value.label, _repeat(value.points, grid))
    if how == "LINEAR":
        return Series(value.label, _linear(value.points, grid))
    raise ExpressionError("FILL's second argument is a number, REPEAT or LINEAR")


def _repeat(points: dict[int, float], grid: Sequence[int]) -> dict[int, float]:
    if not points:
        return {}
    out, last = {}, points[min(points)]
    for t in grid:
        last = points.get(t, last)
        out[t] = last
    return out


def _linear(points: dict[int, float], grid: Sequence[int]) -> dict[int, float]:
    known = sorted(points.items())
    if not known:
        return {}
    out = {}
    i = 0
    for t in grid:
        while i < len(known) and known[i][0] < t:
            i += 1
        if i < len(known) and known[i][0] == t:
            out[t] = known[i][1]
        elif i == 0:
            out[t] = known[0][1]
        elif i == len(known):
            out[t] = known[-1][1]
        else:
            (t0, v0), (t1, v1) = known[i - 1], known[i]
            out[t] = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return out

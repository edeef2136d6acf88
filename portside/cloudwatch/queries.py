"""MetricDataQueries evaluated: GetMetricData's and metric-math alarms' shared core.

A query is a MetricStat (one metric, a period and a statistic: its buckets' values) or an
Expression over other queries (`expressions.py`), evaluated after what it references, in any
order given, a cycle refused. Every query of the request is evaluated; ReturnData says which
are answered. Checks follow CloudWatch's: ids unique, starting with a lower-case letter and
of letters, digits and `_`; exactly one of MetricStat and Expression; a known statistic; a
readable period.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portside.cloudwatch import expressions, rules
from portside.cloudwatch.errors import ValidationError
from portside.cloudwatch.expressions import Context, ExpressionError, Series, Value
from portside.cloudwatch.reads import buckets
from portside.cloudwatch.store import MetricStore

_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
MAX_QUERIES = 500


@dataclass(frozen=True, slots=True)
class Answer:
    """One answered query: its id and label, and its points in time order."""

    id: str
    label: str
    points: list[tuple[int, float]]


def check(queries: Sequence[Mapping[str, Any]], where: str = "MetricDataQueries") -> None:
    if len(queries) > MAX_QUERIES:
        raise ValidationError(f"The collection {where} must not have more than 500 members.")
    seen: set[str] = set()
    for i, q in enumerate(queries, start=1):
        qid = q["Id"]
        if not _ID.match(qid):
            raise ValidationError(
                f"Invalid metric Id: {qid}. The Id must start with a lowercase letter and "
                "contain only letters, numbers and underscores."
            )
        if qid in seen:
            raise ValidationError(
                f"The value {qid} for parameter {where}.member.{i}.Id is not unique."
            )
        seen.add(qid)
        has_stat, has_expr = q.get("MetricStat") is not None, q.get("Expression") is not None
        if has_stat == has_expr:
            raise ValidationError(
                "Exactly one of MetricStat and Expression must be specified for "
                f"{where}.member.{i}."
            )
        if has_stat:
            stat = q["MetricStat"]["Stat"]
            if stat not in rules.STATISTICS and rules.percentile(stat) is None:
                raise ValidationError(
                    f"The value {stat} for parameter {where}.member.{i}.MetricStat.Stat is invalid."
                )
            rules.check_period(q["MetricStat"]["Period"], f"{where}.member.{i}.MetricStat.Period")
        else:
            try:
                expressions.parse(q["Expression"])
            except ExpressionError as exc:
                raise ValidationError(f"Error in expression {qid}: {exc}") from None


def evaluate(
    store: MetricStore,
    scope: str,
    queries: Sequence[Mapping[str, Any]],
    start: float,
    end: float,
) -> list[Answer]:
    """The answers of the queries with ReturnData (default true), in request order."""
    by_id = {q["Id"]: q for q in queries}
    metric_ids = [q["Id"] for q in queries if q.get("MetricStat") is not None]
    periods = [q["MetricStat"]["Period"] for q in queries if q.get("MetricStat") is not None]
    results: dict[str, Value] = {}
    pending: set[str] = set()

    def run(qid: str) -> Value:
        if qid in results:
            return results[qid]
        if qid in pending:
            raise ValidationError(f"Error in expression {qid}: circular dependency")
        q = by_id.get(qid)
        if q is None:
            raise ValidationError(f"Error in expression: Unrecognized id {qid}")
        pending.add(qid)
        if q.get("MetricStat") is not None:
            value: Value = _metric(store, scope, q, start, end)
        else:
            node = expressions.parse(q["Expression"])
            needed = expressions.references(node)
            if expressions.reads_all(node):
                needed |= set(metric_ids)
            for other in sorted(needed):
                run(other)
            period = q.get("Period") or (min(periods) if periods else 60)
            first = rules.aligned_start(start, period)
            grid = list(range(first, int(end), period))
            try:
                value = expressions.evaluate(node, Context(results, metric_ids, grid))
            except ExpressionError as exc:
                raise ValidationError(f"Error in expression {qid}: {exc}") from None
            if isinstance(value, float):
                value = Series(qid, {t: value for t in grid})
        pending.discard(qid)
        results[qid] = value
        return value

    answers: list[Answer] = []
    for q in queries:
        value = run(q["Id"])
        if not q.get("ReturnData", True):
            continue
        series = value if isinstance(value, list) else [value]
        for s in series:
            assert isinstance(s, Series)
            label = q.get("Label") or (s.label if q.get("Expression") is None else q["Id"])
            if isinstance(value, list) and not q.get("Label"):
                label = s.label
            answers.append(Answer(q["Id"], label, s.items()))
    return answers


def _metric(
    store: MetricStore, scope: str, q: Mapping[str, Any], start: float, end: float
) -> Series:
    stat = q["MetricStat"]
    m = stat["Metric"]
    period = stat["Period"]
    metric = (
        m.get("Namespace") or "",
        m.get("MetricName") or "",
        rules.dimensions(m.get("Dimensions")),
    )
    unit = rules.UNIT_CODES[stat["Unit"]] if stat.get("Unit") else None
    name = stat["Stat"]
    found = buckets(
        store,
        scope,
        metric,
        period=period,
        start=rules.aligned_start(start, period),
        end=int(-(-end // 1)),
        unit=unit,
        percentiles=rules.percentile(name) is not None,
    )
    merged = _one_per_period(found) if unit is None else found
    points = {b.start: v for b in merged if (v := b.stat(name)) is not None}
    return Series(metric[1], points)


def _one_per_period(found: list[Any]) -> list[Any]:
    """Buckets of several units in one period joined (a query without Unit reads them all)."""
    out: dict[int, Any] = {}
    for b in found:
        have = out.get(b.start)
        if have is None:
            out[b.start] = b
            continue
        have.count += b.count
        have.total += b.total
        have.low, have.high = min(have.low, b.low), max(have.high, b.high)
        if have.pairs is not None and b.pairs is not None:
            have.pairs = sorted(have.pairs + b.pairs)
    return list(out.values())

"""Which operation a REST request names: its method and path against every operation's
`http.requestUri` template.

A template is a path of literal segments, labels (`{Name}`, one non-empty segment) and at
most one greedy label (`{Key+}`, one or more segments), optionally followed by a literal
query (`?tagging`, `?find=LayerVersion`) that the request's query string must carry. Where
several templates match, the most specific wins, by Smithy's routing rule
(smithy-lang/smithy, designs/uri-conflict-resolution.md, "Specificity Routing"): compared
segment by segment from the left, a literal beats a label and a label beats a greedy label;
then the longer path wins; only then does the template with more query literals win
(`GET /channels/{arn}?scope=...` before `GET /channels/{arn}`).

A trailing slash is not significant (Lambda's ListFunctions template is
`/2015-03-31/functions/`; clients are as likely to send it without), except to a greedy
label, which keeps it (an object key may end in `/`). Labels come back raw (still
percent-encoded): the codec decodes them once split, so `%2F` stays inside a label.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl

from botocore.model import ServiceModel

_LITERAL, _LABEL, _GREEDY = 0, 1, 2
_END = 9  # closes a path's ranks: a template that goes on ranks before one that ends


@dataclass(frozen=True, slots=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]  # label names, in the order the pattern captures them
    query: tuple[tuple[str, str | None], ...]  # literal query keys (and values) required
    segments: int  # how many path segments the template has
    greedy: bool
    rank: tuple[int, ...]  # smaller is more specific

    def labels_of(self, path: str) -> dict[str, str] | None:
        """The raw label values, when the path is this route's."""
        found = self.pattern.fullmatch(path)
        return None if found is None else dict(zip(self.labels, found.groups(), strict=True))

    def query_matches(self, query: str) -> bool:
        if not self.query:
            return True
        pairs = dict(parse_qsl(query, keep_blank_values=True))
        return all(
            key in pairs and (value is None or pairs[key] == value) for key, value in self.query
        )


def _trim(path: str) -> str:
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def _segments(path: str) -> int:
    """How many segments a path has, a trailing slash aside (`/` has none)."""
    trimmed = _trim(path)
    return 0 if trimmed == "/" else trimmed.count("/")


def compile_route(operation: str, method: str, template: str) -> Route:
    path, _, literal_query = template.partition("?")
    parts = _trim(path).split("/")[1:] if _segments(path) else []
    pattern, labels, rank = "", [], []
    for part in parts:
        if part.startswith("{") and part.endswith("+}"):
            pattern += "/(.+)"
            labels.append(part[1:-2])
            rank.append(_GREEDY)
        elif part.startswith("{") and part.endswith("}"):
            pattern += "/([^/]+)"
            labels.append(part[1:-1])
            rank.append(_LABEL)
        else:
            pattern += "/" + re.escape(part)
            rank.append(_LITERAL)
    query: list[tuple[str, str | None]] = []
    for item in literal_query.split("&") if literal_query else ():
        key, equals, value = item.partition("=")
        query.append((key, value if equals else None))
    if rank and rank[-1] != _GREEDY:
        pattern += "/?"
    return Route(
        operation=operation,
        method=method,
        pattern=re.compile(pattern or "/"),
        labels=tuple(labels),
        query=tuple(query),
        segments=len(parts),
        greedy=_GREEDY in rank,
        rank=(*rank, _END, -len(query)),
    )


class RouteTable:
    """Every operation's route, by method; each request's candidates are those that can
    match its segment count, tried most specific first."""

    def __init__(self, model: ServiceModel) -> None:
        self.by_operation: dict[str, Route] = {}
        fixed: dict[tuple[str, int], list[Route]] = {}
        greedy: dict[str, list[Route]] = {}
        for name in model.operation_names:
            http = model.operation_model(name).http
            route = compile_route(name, http.get("method", "POST"), http["requestUri"])
            self.by_operation[name] = route
            if route.greedy:
                greedy.setdefault(route.method, []).append(route)
            else:
                fixed.setdefault((route.method, route.segments), []).append(route)
        self._fixed = fixed
        self._greedy = greedy
        self._methods = frozenset(r.method for r in self.by_operation.values())
        # Past the longest template only greedy routes can match: one key serves all.
        self._cap = 1 + max((r.segments for r in self.by_operation.values()), default=0)
        self._candidates: dict[tuple[str, int], tuple[Route, ...]] = {}
        self._lock = threading.Lock()

    def match(self, method: str, path: str, query: str) -> tuple[Route, dict[str, str]] | None:
        if method not in self._methods:
            return None  # (and the candidate cache never grows by a caller's made-up method)
        count = min(_segments(path), self._cap)
        key = (method, count)
        candidates = self._candidates.get(key)
        if candidates is None:
            candidates = self._gather(key)
        for route in candidates:
            found = route.pattern.fullmatch(path)
            if found is not None and route.query_matches(query):
                return route, dict(zip(route.labels, found.groups(), strict=True))
        return None

    def _gather(self, key: tuple[str, int]) -> tuple[Route, ...]:
        method = key[0]
        # Greedy routes are few: all of them stay candidates (a greedy label may hold a
        # bare `/`, so the path's count does not bound them), the pattern decides.
        routes = [*self._fixed.get(key, ()), *self._greedy.get(method, ())]
        gathered = tuple(sorted(routes, key=lambda r: r.rank))
        with self._lock:
            self._candidates[key] = gathered
        return gathered

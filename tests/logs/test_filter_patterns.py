"""Filter patterns, as the CloudWatch Logs guide defines them (pure)."""

from __future__ import annotations

import pytest

from portside.errors import InvalidParameterException
from portside.logs.patterns import compile_pattern, split_fields

LINES = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[WARN] disk almost full",
    "[INFO] GET /health 200",
    "Exception in thread main",
]


def matching(pattern: str, lines: list[str] = LINES) -> list[str]:
    match = compile_pattern(pattern)
    return [line for line in lines if match is None or match(line)]


@pytest.mark.parametrize("pattern", ["", "   "])
def test_empty_pattern_matches_everything(pattern: str) -> None:
    assert compile_pattern(pattern) is None
    assert matching(pattern) == LINES


def test_terms_are_anded_and_case_sensitive() -> None:
    assert matching("ERROR") == LINES[:2]
    assert matching("ERROR REQUEST UNAUTHORIZED") == [LINES[1]]
    assert matching("error") == []


def test_quoted_phrase_is_one_term() -> None:
    assert matching('"BAD REQUEST"') == [LINES[0]]
    assert matching('"REQUEST BAD"') == []
    assert matching('"say \\"hi\\""', ['they say "hi"', "say hi"]) == ['they say "hi"']


def test_exclusions() -> None:
    assert matching("ERROR -UNAUTHORIZED") == [LINES[0]]
    assert matching('-"disk almost"') == [LINES[0], LINES[1], LINES[3], LINES[4]]


def test_optional_terms_are_ored() -> None:
    assert matching("?WARN ?Exception") == [LINES[2], LINES[4]]
    assert matching("REQUEST ?400 ?WARN") == [LINES[0]]


def test_regex_terms() -> None:
    assert matching("%ERROR 40[01]%") == LINES[:2]
    assert matching("%^\\[INFO\\]%") == [LINES[3]]


JSON_LINES = [
    '{"level": "error", "latency": 250, "user": {"id": "u1"}, "tags": ["a", "b"]}',
    '{"level": "info", "latency": 12, "user": {"id": null}, "ok": true}',
    '{"level": "error-fatal", "latency": 90}',
    "not json at all",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.level = "error" }', [0]),
        ("{ $.level = error* }", [0, 2]),
        ('{ $.level != "error" }', [1, 2]),
        ("{ $.latency > 100 }", [0]),
        ("{ $.latency <= 90 }", [1, 2]),
        ('{ $.level = "error" && $.latency > 300 }', []),
        ('{ $.latency < 20 || $.user.id = "u1" }', [0, 1]),
        ('{ ($.latency < 20 || $.latency > 200) && $.level = "info" }', [1]),
        ("{ $.user.id IS NULL }", [1]),
        ("{ $.ok IS TRUE }", [1]),
        ("{ $.user NOT EXISTS }", [2]),
        ('{ $.tags[1] = "b" }', [0]),
    ],
)
def test_json_patterns(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, JSON_LINES) == [JSON_LINES[i] for i in expected]


@pytest.mark.parametrize(
    "pattern", ["{ $.a = }", "{ $.a = 1", "{ $.a ~ 1 }", '{ $.a > "x" }', "%(%", '"open']
)
def test_malformed_patterns_are_invalid_parameters(pattern: str) -> None:
    with pytest.raises(InvalidParameterException):
        compile_pattern(pattern)


ACCESS = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
    '10.0.0.2 - bob [10/Oct/2000:13:26:01 -0700] "GET /a.png HTTP/1.0" 200 99',
    '10.0.0.3 - eve [10/Oct/2000:13:27:00 -0700] "POST /login HTTP/1.1" 500 20000',
]


def test_space_delimited_fields() -> None:
    assert split_fields(ACCESS[0]) == [
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /index.html HTTP/1.0",
        "404", "1534",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, identity, user, timestamp, request, status, bytes]", [0, 1, 2]),
        ("[ip, identity, user, timestamp, request, status=404, bytes]", [0]),
        ("[ip, identity, user, timestamp, request, status=4*, bytes]", [0]),
        ("[..., status, bytes>1000]", [0, 2]),
        ("[..., status=404 || status=500, bytes]", [0, 2]),
        ("[..., status=500 && bytes<100, bytes]", []),
        ("[ip, ..., user=bob, ...]", [1]),
        ('[ip, identity, user, timestamp, request="POST *", ...]', [2]),
        ("[ip=%^10\\.%, ...]", [1, 2]),
        ("[ip, user]", []),
    ],
)
def test_space_delimited_patterns(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, ACCESS) == [ACCESS[i] for i in expected]


@pytest.mark.parametrize("pattern", ["[ip, ip]", "[a, b=]", "[a, b=1 || c=2]", "[a,, b]", "[a"])
def test_malformed_space_delimited_patterns(pattern: str) -> None:
    with pytest.raises(InvalidParameterException):
        compile_pattern(pattern)

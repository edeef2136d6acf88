"""Properties of the evaluation that hold for any policy (issue 17): adding a Deny never
turns a refusal into an allow; removing an Allow never turns a refusal into an allow;
statement order, and how statements are split among policies, do not matter; a request for
several resources is allowed exactly when each resource alone is."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.iam.policy import Caller, ContextValue, Decision, Request, Target, evaluate

Context = dict[str, ContextValue]

ACCOUNT = "123456789012"
ECS = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
ALICE = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, user_name="alice",
               tags={"team": "blue"})  # fmt: skip

ACTIONS = ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListClusters"]
ACTION_PATTERNS = [*ACTIONS, "ecs:*", "ecs:Describe*", "ecs:*Task*", "*", "ecs:?topTask",
                   "logs:PutLogEvents"]  # fmt: skip
ARNS = [f"{ECS}:task/prod/1", f"{ECS}:task/dev/2", f"{ECS}:task/blue/3",
        f"{ECS}:task-definition/web:1", "*"]  # fmt: skip
RESOURCE_PATTERNS = ["*", f"{ECS}:task/prod/*", f"{ECS}:task/dev/*", "arn:aws:ecs:*:*:task*",
                     f"{ECS}:task/${{aws:PrincipalTag/team}}/*", f"{ECS}:task-definition/web:?",
                     f"{ECS}:task/${{aws:username}}/*"]  # fmt: skip
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"aws:ResourceTag/team": "blue"}},
    {"StringNotEquals": {"ecs:cluster": f"{ECS}:cluster/prod"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": ["te*"]}},
    {"Null": {"aws:RequestTag/team": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"BoolIfExists": {"aws:SecureTransport": "true"}},
    {"StringLike": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    s["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2))
    s["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = resources
    if draw(st.booleans()):
        s["Condition"] = draw(st.sampled_from(CONDITIONS))
    return s


def document(items: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": items})


@st.composite
def requests(draw: st.DrawFn, max_targets: int = 3) -> Request:
    targets = []
    for arn in draw(st.lists(st.sampled_from(ARNS), min_size=1, max_size=max_targets)):
        tags = draw(st.sampled_from([{}, {"aws:ResourceTag/team": "blue"},
                                     {"aws:ResourceTag/team": "red"}]))  # fmt: skip
        targets.append(Target(arn, tags))
    context = draw(st.fixed_dictionaries({}, optional={
        "ecs:cluster": st.sampled_from([f"{ECS}:cluster/prod", f"{ECS}:cluster/dev"]),
        "aws:TagKeys": st.lists(st.sampled_from(["team", "env"]), max_size=2),
        "aws:RequestTag/team": st.just("blue"),
        "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.0.2.1"]),
        "aws:SecureTransport": st.booleans(),
    }))  # fmt: skip
    return Request.of(draw(st.sampled_from(ACTIONS)), ALICE, targets, cast(Context, context))


def outcome(d: Decision) -> tuple[bool, bool, str, str]:
    return d.allowed, d.explicit_deny, d.resource, d.policy_type


policies = st.lists(statements(), min_size=1, max_size=6)
# Each example compiles a few policies: 50 per property keeps the file at a few seconds on a
# loaded machine (the agreement with the plain reading was also run with 2,000 by hand).
few = settings(max_examples=50)


@few
@given(policies, statements(effect="Deny"), requests())
def test_adding_a_deny_never_allows_more(items: list[dict[str, Any]], extra: dict[str, Any],
                                         request: Request) -> None:  # fmt: skip
    before = evaluate(request, [document(items)])
    after = evaluate(request, [document([*items, extra])])
    assert not after.allowed or before.allowed
    # The Deny in a policy of its own (or a boundary) is as strong.
    assert not evaluate(request, [document(items), document([extra])]).allowed or before.allowed


@few
@given(policies, requests(), st.data())
def test_removing_an_allow_never_allows_more(items: list[dict[str, Any]], request: Request,
                                             data: st.DataObject) -> None:  # fmt: skip
    before = evaluate(request, [document(items)])
    allows = [i for i, s in enumerate(items) if s["Effect"] == "Allow"]
    if not allows or len(items) == 1:
        return
    gone = data.draw(st.sampled_from(allows))
    after = evaluate(request, [document(items[:gone] + items[gone + 1 :])])
    assert not after.allowed or before.allowed


@few
@given(policies, requests(), st.randoms(use_true_random=False))
def test_statement_order_and_grouping_do_not_matter(
    items: list[dict[str, Any]], request: Request, rnd: Any
) -> None:
    reference = outcome(evaluate(request, [document(items)]))
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert outcome(evaluate(request, [document(shuffled)])) == reference
    assert outcome(evaluate(request, [document([s]) for s in shuffled])) == reference


@few
@given(policies, requests())
def test_several_resources_are_allowed_when_each_is(items: list[dict[str, Any]],
                                                    request: Request) -> None:  # fmt: skip
    text = document(items)
    each = [
        evaluate(Request(request.action, request.caller, (t,), request.context), [text]).allowed
        for t in request.targets
    ]
    assert evaluate(request, [text]).allowed is all(each)


@few
@given(policies, requests(), policies)
def test_a_boundary_only_narrows(items: list[dict[str, Any]], request: Request,
                                 bound: list[dict[str, Any]]) -> None:  # fmt: skip
    alone = evaluate(request, [document(items)])
    bounded = evaluate(request, [document(items)], boundary=document(bound))
    assert not bounded.allowed or alone.allowed
    sessioned = evaluate(request, [document(items)], session_policies=[document(bound)])
    assert not sessioned.allowed or alone.allowed


# A second, plain reading of the same rules, straight from the documents (no compilation, no
# caches): the evaluator must agree with it on every generated policy and request.
def _glob(pattern: str, text: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S | (re.I if ignore_case else 0)) is not None


def _fill(text: str, keys: dict[str, list[str]]) -> str | None:
    out = text
    for name in re.findall(r"\$\{([^}]*)\}", text):
        values = keys.get(name.lower())
        if not values or len(values) != 1:
            return None
        out = out.replace("${" + name + "}", values[0])
    return out


def _keys(request: Request, target: Target) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {"aws:principaltag/team": ["blue"], "aws:username": ["alice"]}
    for source in (request.context, target.context):
        for k, v in source.items():
            if isinstance(v, bool):
                keys[k.lower()] = ["true" if v else "false"]
            elif isinstance(v, str):
                keys[k.lower()] = [v]
            else:
                keys[k.lower()] = [str(x) for x in v]  # type: ignore[union-attr]
    return keys


def _condition(block: dict[str, Any], keys: dict[str, list[str]]) -> bool:
    ((operator, inner),) = block.items()
    ((key, expected),) = inner.items()
    wanted = expected if isinstance(expected, list) else [expected]
    got = keys.get(key.lower(), [])
    if operator == "Null":
        return (not got) == (wanted[0] == "true")
    if operator == "BoolIfExists":
        return not got or got[0] in wanted
    if operator == "IpAddress":
        return bool(got) and any(
            ipaddress.ip_address(g) in ipaddress.ip_network(w) for g in got for w in wanted
        )
    if operator == "StringLike":
        filled = [_fill(w, keys) for w in wanted]
        return bool(got) and None not in filled and any(_glob(f or "", got[0]) for f in filled)
    if operator == "StringEquals":
        return bool(got) and got[0] in wanted
    if operator == "StringNotEquals":
        return not got or got[0] not in wanted
    if operator == "ForAllValues:StringEquals":
        return all(g in wanted for g in got)
    if operator == "ForAnyValue:StringLike":
        return any(_glob(w, g) for g in got for w in wanted)
    raise AssertionError(operator)


def _statement_applies(s: dict[str, Any], request: Request, target: Target) -> bool:
    keys = _keys(request, target)
    actions = s.get("Action") or s["NotAction"]
    named = any(_glob(a, request.action, ignore_case=True) for a in actions)
    if named != ("Action" in s):
        return False
    patterns = [_fill(r, keys) for r in s.get("Resource") or s["NotResource"]]
    if "Resource" in s:
        if not any(p is not None and _glob(p, target.arn) for p in patterns):
            return False
    elif None in patterns or any(_glob(p or "", target.arn) for p in patterns):
        return False
    return "Condition" not in s or _condition(s["Condition"], keys)


def _reference(items: list[dict[str, Any]], request: Request) -> bool:
    for target in request.targets:
        hits = [s["Effect"] for s in items if _statement_applies(s, request, target)]
        if "Deny" in hits or "Allow" not in hits:
            return False
    return True


@given(policies, requests())
def test_the_evaluator_agrees_with_a_plain_reading(
    items: list[dict[str, Any]], request: Request
) -> None:
    assert evaluate(request, [document(items)]).allowed is _reference(items, request)

"""The cluster query language: every example in the ECS developer guide, operator by operator,
precedence, the semantics the guide leaves open, and errors that point at the fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.errors import InvalidParameterException
from portside.scheduler.query import InstanceFacts, compile_query


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# Four hand-made instances; each test names the ones an expression must select.
A = InstanceFacts(
    attributes={
        "ecs.instance-type": "t2.small",
        "ecs.availability-zone": "us-east-1a",
        "stack": "prod",
        "generation": "9",
    },
    ec2_instance_id="i-abcd1234",
    registered_at=at("2018-02-12T23:59:59.500+00:00"),
    running_tasks_count=1,
    task_groups=frozenset({"service:production"}),
    agent_version="1.14.4",
)
B = InstanceFacts(
    attributes={
        "ecs.instance-type": "g2.2xlarge",
        "ecs.availability-zone": "us-east-1b",
        "stack": "dev",
        "generation": "10",
    },
    ec2_instance_id="i-wxyx7890",
    registered_at=at("2018-02-13T00:00:00+00:00"),
    running_tasks_count=0,
    task_groups=frozenset(),
    agent_version="1.14.5",
)
C = InstanceFacts(
    attributes={
        "ecs.instance-type": "g2.8xlarge",
        "ecs.availability-zone": "us-east-1d",
        "generation": "x",
        "ecs.capability.external": None,
    },
    ec2_instance_id="i-00000000",
    registered_at=at("2018-07-20T08:51:54+00:00"),
    running_tasks_count=3,
    task_groups=frozenset({"database", "service:daemon-service"}),
    agent_connected=False,
    agent_version=None,
)
D = InstanceFacts(
    attributes={
        "ecs.instance-type": "t2.medium",
        "ecs.availability-zone": "us-east-1a",
        "stack": None,  # an attribute with no value
    },
    ec2_instance_id="i-dddd0000",
    registered_at=at("2019-01-01T00:00:00+00:00"),
    running_tasks_count=2,
    task_groups=frozenset({"databases"}),
    agent_version="1.9.0",
)
ALL = {"A": A, "B": B, "C": C, "D": D}


def selected(expression: str) -> str:
    matches = compile_query(expression)
    return "".join(name for name, facts in ALL.items() if matches(facts))


def reject(expression: str) -> str:
    with pytest.raises(InvalidParameterException) as err:
        compile_query(expression)
    return err.value.message


# -- the guide's examples -------------------------------------------------------------------

DOC_EXAMPLES = [
    # "Cluster query language", Example expressions
    ("attribute:ecs.instance-type == t2.small", "A"),  # String Equality
    ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", "ABD"),  # Argument List
    (  # Compound Expression: G2 instances not in us-east-1d
        "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
        "B",
    ),
    ("task:group == service:production", "A"),  # Task Affinity
    ("not(task:group == database)", "ABD"),  # Task Anti-Affinity
    ("runningTasksCount == 1", "A"),  # Running task count
    ("agentVersion < 1.14.5", "AD"),  # Amazon ECS container agent version
    ("registeredAt < 2018-02-13", "A"),  # Instance registration time
    ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "AB"),  # Amazon EC2 instance ID
    # "Cluster query language", Compound expressions: (expression1 or expression2) and expression3
    (
        "(attribute:stack == prod or attribute:stack == dev) and runningTasksCount == 0",
        "B",
    ),
    # "Amazon ECS task placement constraints", Filtering by attribute with the AWS CLI
    ("attribute:ecs.instance-type == g2.2xlarge", "B"),  # Built-in attribute
    ("attribute:stack == prod", "A"),  # Custom attribute
    ("attribute:stack != prod", "BD"),  # Exclude an attribute value (C has no stack)
    ("attribute:ecs.instance-type in [t2.small, t2.medium]", "AD"),  # Multiple attribute values
    (  # Multiple attributes: T2 instances in us-east-1a
        "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a",
        "AD",
    ),
    # "Amazon ECS task placement constraints" / "Example constraints"
    ("attribute:ecs.instance-type =~ t2.*", "AD"),  # place tasks on T2 instances
    ("task:group == databases", "D"),  # with other tasks in the databases group
    ("task:group == service:daemon-service", "C"),  # replica tasks next to a daemon service
]


@pytest.mark.parametrize(("expression", "expected"), DOC_EXAMPLES)
def test_documented_examples(expression: str, expected: str) -> None:
    assert selected(expression) == expected


# -- operator by operator -------------------------------------------------------------------

OPERATOR_CASES = [
    ("attribute:stack == prod", "A"),
    ("attribute:stack != prod", "BD"),  # D's stack has no value, which is not prod
    ("attribute:generation > 9", "B"),  # numbers compare as numbers; "x" is no number
    ("attribute:generation >= 9", "AB"),
    ("attribute:generation < 10", "A"),
    ("attribute:generation <= 10", "AB"),
    ("attribute:ecs.availability-zone > us-east-1b", "C"),  # else strings compare as strings
    ("attribute:stack exists", "ABD"),
    ("attribute:ecs.capability.external exists", "C"),  # an attribute with no value exists
    ("attribute:stack !exists", "C"),
    ("attribute:stack in [prod, dev]", "AB"),
    ("attribute:stack !in [prod]", "BD"),
    ("attribute:stack =~ p.*", "A"),
    ("attribute:stack =~ .*", "AB"),  # a value is needed to match
    ("attribute:stack !~ p.*", "BD"),
    ("attribute:ecs.instance-type =~ 2", ""),  # the whole value must match
    ("attribute:ecs.instance-type =~ (t|g)2[.].*", None),  # unquoted parentheses: refused
    ("attribute:ecs.instance-type =~ '(t|g)2[.]8.*'", "C"),
    ("attribute:ecs.instance-type == t2.*", ""),  # == is literal: * is no wildcard
    ("ec2InstanceId == i-abcd1234", "A"),
    ("ec2InstanceId != i-abcd1234", "BCD"),
    ("ec2InstanceId !in [i-abcd1234, i-wxyx7890]", "CD"),
    ("ec2InstanceId =~ i-[a-d]+[0-9]+", "AD"),
    ("ec2InstanceId !~ i-0+", "ABD"),
    ("runningTasksCount != 1", "BCD"),
    ("runningTasksCount > 1", "CD"),
    ("runningTasksCount >= 2", "CD"),
    ("runningTasksCount < 2", "AB"),
    ("runningTasksCount <= 0", "B"),
    ("agentVersion == 1.14.5", "B"),
    ("agentVersion != 1.14.5", "AD"),  # C's agent version is unknown: no comparison holds
    ("agentVersion >= 1.14", "AB"),
    ("agentVersion > 1.9", "AB"),  # versions compare part by part, not as strings
    ("agentVersion <= 1.9.0.0", "D"),
    ("agentConnected == false", "C"),
    ("agentConnected != false", "ABD"),
    ("agentConnected in [true]", "ABD"),
    ("agentConnected =~ f.*", "C"),
]


@pytest.mark.parametrize(("expression", "expected"), OPERATOR_CASES)
def test_operators(expression: str, expected: str | None) -> None:
    if expected is None:
        assert "parentheses" in reject(expression)
    else:
        assert selected(expression) == expected


WORD_FORMS = [
    ("==", "equals"),
    ("!=", "not_equals"),
    (">", "greater_than"),
    (">=", "greater_than_equal"),
    ("<", "less_than"),
    ("<=", "less_than_equal"),
    ("!exists", "not_exists"),
    ("!in", "not_in"),
    ("=~", "matches"),
    ("!~", "not_matches"),
]


@pytest.mark.parametrize(("symbol", "word"), WORD_FORMS)
def test_word_forms_mean_the_symbols(symbol: str, word: str) -> None:
    for subject, arg in [
        ("attribute:stack", "prod"),
        ("attribute:generation", "9"),
        ("runningTasksCount", "1"),
        ("registeredAt", "2018-02-13"),
        ("ec2InstanceId", "i-abcd1234"),
        ("task:group", "database"),
    ]:
        if symbol.endswith("in"):
            arg = f"[{arg}]"
        elif symbol.endswith("exists"):
            arg = ""
        try:
            expected = selected(f"{subject} {symbol} {arg}")
        except InvalidParameterException:
            reject(f"{subject} {word} {arg}")  # refused in both spellings
            continue
        assert selected(f"{subject} {word} {arg}") == expected


def test_operators_need_no_spaces() -> None:
    assert selected("runningTasksCount>=2") == "CD"
    assert selected("attribute:stack==prod||attribute:stack==dev") == "AB"
    assert selected("attribute:stack!=prod&&runningTasksCount<1") == "B"
    assert selected("attribute:stack in[prod,'dev']") == "AB"
    assert selected("!(attribute:stack exists)") == "C"
    assert selected("!attribute:stack exists") == "C"
    assert selected("  attribute:stack == 'prod'  ") == "A"
    assert selected('attribute:stack == "prod"') == "A"


# -- task:group -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("task:group == database", "C"),  # one task in the group is enough
        ("task:group != database", "AD"),  # tasks, none of them in the group
        ("not task:group == database", "ABD"),  # anti-affinity also takes empty instances
        ("task:group in [database, databases]", "CD"),
        ("task:group !in [database, databases]", "A"),
        ("task:group =~ service:.*", "AC"),
        ("task:group !~ service:.*", "D"),
        ("task:group exists", "ACD"),
        ("task:group !exists", "B"),
    ],
)
def test_task_group(expression: str, expected: str) -> None:
    assert selected(expression) == expected


# -- registeredAt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the guide's four formats; no offset means UTC
        ("registeredAt == 2018-07-20T08:51:54+00:00", "C"),
        ("registeredAt == 2018-07-20T08:51:54Z", "C"),
        ("registeredAt == 2018-07-20T08:51:54", "C"),
        ("registeredAt == 2018-07-20", "C"),  # a date compares whole UTC days
        ("registeredAt == 2018-07-20T10:51:54+02:00", "C"),
        ("registeredAt == 2018-02-12T23:59:59Z", "A"),  # a time compares whole seconds
        ("registeredAt < 2018-02-13T00:00:00Z", "A"),
        ("registeredAt >= 2018-02-13", "BCD"),
        ("registeredAt > 2018-02-13", "CD"),  # after that day
        ("registeredAt <= 2018-02-13", "AB"),
        ("registeredAt != 2018-02-13", "ACD"),
        ("registeredAt > 2018-07-20T08:51:53Z and registeredAt < 2018-12-31", "C"),
    ],
)
def test_registered_at(expression: str, expected: str) -> None:
    assert selected(expression) == expected


# -- precedence and parentheses -------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    # A: stack == prod.  As `(A or B) and C-like` it would select nothing.
    expression = "attribute:stack == prod or attribute:stack == dev and runningTasksCount > 5"
    assert selected(expression) == "A"
    assert selected(expression.replace("prod or", "prod ||").replace("dev and", "dev &&")) == "A"
    parenthesised = "(attribute:stack == prod or attribute:stack == dev) and runningTasksCount > 5"
    assert selected(parenthesised) == ""


def test_not_binds_tighter_than_and_and_or() -> None:
    assert selected("not attribute:stack == prod and runningTasksCount < 2") == "B"
    assert selected("not (attribute:stack == prod and runningTasksCount < 2)") == "BCD"
    assert selected("! attribute:stack == prod or runningTasksCount == 1") == "ABCD"
    assert selected("not not attribute:stack == prod") == "A"
    assert selected("!!attribute:stack == prod") == "A"


def test_nested_parentheses() -> None:
    assert selected("((attribute:stack == prod))") == "A"
    assert selected("(((runningTasksCount > 0) and (not (task:group == database))))") == "AD"
    assert selected("not(task:group == database) and not(task:group == databases)") == "AB"


def test_chains() -> None:
    assert selected(
        "runningTasksCount == 0 or runningTasksCount == 1 or runningTasksCount == 3"
    ) == ("ABC")
    assert selected(
        "runningTasksCount >= 0 and runningTasksCount >= 1 and runningTasksCount < 3"
    ) == ("AD")


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("(attribute:stack == prod", ["column 25", "')' to close the '(' at column 1", "end"]),
        ("attribute:stack == prod)", ["column 24", "')' has no matching '('"]),
        ("((attribute:stack == prod)", ["')' to close the '(' at column 1"]),
        ("attribute:stack is prod", ["column 17", "an operator", "found 'is'"]),
        ("attribute:stack = prod", ["column 17", "an operator", "found '='"]),
        ("attribute:stack ==", ["column 19", "an argument", "end of the expression"]),
        ("attribute:stack == prod dev", ["column 25", "'and', 'or'", "found 'dev'"]),
        ("attribute:stack == prod AND runningTasksCount > 1", ["lowercase", "found 'AND'"]),
        ("attribute:stack == prod and", ["column 28", "a subject", "end of the expression"]),
        ("== prod", ["column 1", "a subject", "found '=='"]),
        ("stack == prod", ["column 1", "unknown subject 'stack'"]),
        ("attribute: == prod", ["not a valid attribute name"]),
        ("attribute:a!b == c", ["an operator", "found '!b'"]),
        ("not", ["a subject", "end of the expression"]),
        ("()", ["column 2", "a subject", "found ')'"]),
        ("attribute:stack in (prod, dev)", ["column 20", "'['", "found '(prod,'"]),
        ("attribute:stack in [prod, dev", ["',' or ']'", "end of the expression"]),
        ("attribute:stack in [prod,, dev]", ["column 26", "argument list item"]),
        ("attribute:stack in []", ["empty"]),
        ("attribute:stack == [prod, dev]", ["only goes with in or !in"]),
        ("attribute:stack == 'prod", ["never closed", "column 20"]),
        ("attribute:stack =~ '['", ["column 20", "not a valid regular expression"]),
        ("attribute:stack == p(x)", ["parentheses", "quoted"]),
        ("ec2InstanceId exists", ["column 15", "can't be used with ec2InstanceId"]),
        ("runningTasksCount in [1, 2]", ["can't be used with runningTasksCount"]),
        ("task:group > a", ["can't be used with task:group"]),
        ("runningTasksCount > one", ["column 21", "whole number", "'one'"]),
        ("registeredAt < 2018/02/13", ["date like 2018-06-18"]),
        ("registeredAt < 2018-02-30", ["not a real date"]),
        ("agentVersion < latest", ["version such as 1.14.5"]),
        ("agentConnected == yes", ["true or false"]),
        ("(" * 100 + "attribute:stack exists" + ")" * 100, ["nests more than"]),
    ],
)
def test_malformed_expressions(expression: str, fragments: list[str]) -> None:
    message = reject(expression)
    assert message.startswith("Invalid cluster query expression")
    for fragment in fragments:
        assert fragment in message


# -- properties over generated expressions --------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A generated expression: a term (text), or and/or/not over nodes."""

    kind: str  # "term" | "and" | "or" | "not"
    text: str = ""
    left: Node | None = None
    right: Node | None = None


SYMBOLS = {
    "==": "equals",
    "!=": "not_equals",
    ">": "greater_than",
    ">=": "greater_than_equal",
    "<": "less_than",
    "<=": "less_than_equal",
    "exists": "exists",
    "!exists": "not_exists",
    "in": "in",
    "!in": "not_in",
    "=~": "matches",
    "!~": "not_matches",
}
VALUES = ["prod", "dev", "t2.small", "9", "10", "x"]
PATTERNS = ["p.*", ".*", "t2[.].*", "[0-9]+"]


def spelled(op: str) -> st.SearchStrategy[str]:
    return st.sampled_from([op, SYMBOLS[op]])


def argument(values: list[str]) -> st.SearchStrategy[str]:
    one = st.sampled_from(values)
    return st.one_of(one, one.map(lambda v: f"'{v}'"))


def arg_list(values: list[str]) -> st.SearchStrategy[str]:
    return st.lists(argument(values), min_size=1, max_size=3).map(
        lambda items: "[" + ", ".join(items) + "]"
    )


def term(
    subject: st.SearchStrategy[str], ops: list[str], values: list[str]
) -> st.SearchStrategy[str]:
    def build(draw_op: str) -> st.SearchStrategy[str]:
        if draw_op in ("exists", "!exists"):
            arg: st.SearchStrategy[str] = st.just("")
        elif draw_op in ("in", "!in"):
            arg = arg_list(values)
        elif draw_op in ("=~", "!~"):
            arg = argument(PATTERNS)
        else:
            arg = argument(values)
        return st.tuples(subject, spelled(draw_op), arg).map(" ".join)

    return st.sampled_from(ops).flatmap(build)


ALL_OPS = list(SYMBOLS)
STRING_OPS = ["==", "!=", "in", "!in", "=~", "!~"]
ORDERED_OPS = ["==", "!=", ">", ">=", "<", "<="]
TERMS = st.one_of(
    term(
        st.sampled_from(["attribute:stack", "attribute:gen", "attribute:ecs.x-y/z"]),
        ALL_OPS,
        VALUES,
    ),
    term(st.just("ec2InstanceId"), STRING_OPS, ["i-1", "i-2"]),
    term(st.just("task:group"), [*STRING_OPS, "exists", "!exists"], ["g1", "database", "x"]),
    term(st.just("runningTasksCount"), ORDERED_OPS, ["0", "1", "3"]),
    term(st.just("registeredAt"), ORDERED_OPS, ["2018-02-13", "2018-02-13T12:00:00Z"]),
    term(st.just("agentVersion"), ORDERED_OPS, ["1.14.5", "1.9"]),
    term(st.just("agentConnected"), STRING_OPS[:4], ["true", "false"]),
)
NODES = st.recursive(
    TERMS.map(lambda text: Node("term", text)),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), inner, inner).map(
            lambda t: Node(t[0], left=t[1], right=t[2])
        ),
        inner.map(lambda n: Node("not", left=n)),
    ),
    max_leaves=8,
)
DAY = 86400.0
FEB_13 = at("2018-02-13T00:00:00+00:00")
INSTANCES = st.builds(
    InstanceFacts,
    attributes=st.dictionaries(
        st.sampled_from(["stack", "gen", "ecs.x-y/z"]), st.sampled_from([None, *VALUES])
    ),
    ec2_instance_id=st.sampled_from(["i-1", "i-2"]),
    registered_at=st.floats(FEB_13 - DAY, FEB_13 + 2 * DAY),
    running_tasks_count=st.integers(0, 4),
    task_groups=st.frozensets(st.sampled_from(["g1", "database", "service:web"])),
    agent_connected=st.booleans(),
    agent_version=st.sampled_from([None, "1.14.5", "1.9.0", "2"]),
)
PRECEDENCE = {"or": 1, "and": 2, "not": 3, "term": 4}


def full(node: Node, rand: st.DataObject) -> str:
    """Every operation in parentheses, keywords in either spelling."""
    assert node.kind == "term" or node.left is not None
    if node.kind == "term":
        return node.text
    if node.kind == "not":
        return rand.draw(st.sampled_from(["not ", "!"])) + "(" + full(node.left, rand) + ")"
    word = rand.draw(st.sampled_from([node.kind, "&&" if node.kind == "and" else "||"]))
    assert node.right is not None
    return f"({full(node.left, rand)} {word} {full(node.right, rand)})"


def minimal(node: Node, parent: int = 0) -> str:
    """Parentheses only where precedence (not > and > or) needs them."""
    if node.kind == "term":
        text = node.text
    elif node.kind == "not":
        assert node.left is not None
        text = "not " + minimal(node.left, PRECEDENCE["not"])
    else:
        assert node.left is not None and node.right is not None
        mine = PRECEDENCE[node.kind]
        text = f"{minimal(node.left, mine)} {node.kind} {minimal(node.right, mine + 1)}"
    return f"({text})" if PRECEDENCE[node.kind] < parent else text


def truth(node: Node, facts: InstanceFacts) -> bool:
    """The structure evaluated by Python, each term by the query language alone."""
    if node.kind == "term":
        return compile_query(node.text)(facts)
    assert node.left is not None
    if node.kind == "not":
        return not truth(node.left, facts)
    assert node.right is not None
    if node.kind == "and":
        return truth(node.left, facts) and truth(node.right, facts)
    return truth(node.left, facts) or truth(node.right, facts)


@settings(max_examples=100, deadline=None)
@given(NODES, st.lists(INSTANCES, min_size=1, max_size=4), st.data())
def test_not_is_always_the_negation(
    node: Node, instances: list[InstanceFacts], rand: st.DataObject
) -> None:
    text = full(node, rand)
    query = compile_query(text)
    for negation in (f"not ({text})", f"!({text})", f"not({minimal(node)})"):
        negated = compile_query(negation)
        for facts in instances:
            assert negated(facts) is (not query(facts))


@settings(max_examples=100, deadline=None)
@given(NODES, st.lists(INSTANCES, min_size=1, max_size=4), st.data())
def test_precedence_matches_the_structure(
    node: Node, instances: list[InstanceFacts], rand: st.DataObject
) -> None:
    bracketed, bare = compile_query(full(node, rand)), compile_query(minimal(node))
    for facts in instances:
        assert bracketed(facts) is bare(facts) is truth(node, facts)


@settings(max_examples=100, deadline=None)
@given(TERMS, INSTANCES)
def test_negated_operators_complement_on_present_subjects(text: str, facts: InstanceFacts) -> None:
    """`S != v` is `S exists and not (S == v)`, and likewise for !in, !~ and !exists."""
    subject, op, *rest = text.split(" ", 2)
    negations = {"!=": "==", "not_equals": "==", "!in": "in", "not_in": "in", "!~": "=~",
                 "not_matches": "=~"}  # fmt: skip
    if op not in negations:
        return
    positive = compile_query(" ".join([subject, negations[op], *rest]))(facts)
    if subject.startswith("attribute:"):
        present = subject.removeprefix("attribute:") in facts.attributes
    elif subject == "task:group":
        present = bool(facts.task_groups)
    elif subject == "agentVersion":
        present = facts.agent_version is not None
    else:
        present = True  # ec2InstanceId, agentConnected, runningTasksCount, registeredAt
    assert compile_query(text)(facts) is (present and not positive)

"""Lifecycle policies: the text read and checked as ECR checks it, and which images a policy
expires; pure.

The rules as ECR documents them ("Lifecycle policy evaluation rules"):
- rules are looked at in rulePriority order, lowest first; an image is expired by at most one;
- an image a rule selects (its tag requirements match) can never be expired by a rule of
  lower priority, whether or not that rule expired it; a lower rule still counts it;
- `imageCountMoreThan N` keeps the N most recently pushed images it selects and expires the
  rest; `sinceImagePushed N days` expires those pushed more than N days ago;
- `tagged` needs tagPrefixList or tagPatternList, and an image matches when every prefix
  (or pattern) matches one of its tags; `any` must be the rule of highest priority value;
  one rule at most selects untagged images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from portside.errors import InvalidParameterException

DAY = 86400.0
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed")
MAX_WILDCARDS = 4


@dataclass(frozen=True, slots=True)
class Rule:
    priority: int
    tag_status: str
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: str
    count: int

    def selects(self, tags: Sequence[str]) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        if not tags:
            return False
        if self.prefixes:
            return all(any(t.startswith(p) for t in tags) for p in self.prefixes)
        return all(any(wildcard(p).match(t) for t in tags) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: float


@dataclass(frozen=True, slots=True)
class Expiry:
    image: Image
    priority: int  # the rule that expires it


def invalid(reason: str) -> InvalidParameterException:
    return InvalidParameterException(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        f"'Lifecycle policy validation failure: {reason}'"
    )


def parse(text: str) -> list[Rule]:
    """The rules of a policy text, in priority order; InvalidParameterException as ECR
    words it for a text that is not a valid policy."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise invalid("the policy is not valid JSON") from None
    if not isinstance(doc, dict):
        raise invalid("the policy must be a JSON object")
    _only(doc, {"rules"}, "the policy")
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        raise invalid('object has missing required properties (["rules"])')
    parsed = sorted((_rule(r) for r in rules), key=lambda r: r.priority)
    priorities = [r.priority for r in parsed]
    if len(set(priorities)) != len(priorities):
        raise invalid("rulePriority must be unique across rules")
    if any(r.tag_status == "any" for r in parsed[:-1]):
        raise invalid("a rule with tagStatus 'any' must have the highest rulePriority value")
    if sum(r.tag_status == "untagged" for r in parsed) > 1:
        raise invalid("only one rule may select untagged images")
    return parsed


def _rule(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise invalid("each rule must be a JSON object")
    _only(raw, {"rulePriority", "description", "selection", "action"}, "a rule")
    missing = [k for k in ("rulePriority", "selection", "action") if k not in raw]
    if missing:
        raise invalid(f"object has missing required properties ({_names(missing)})")
    priority = raw["rulePriority"]
    if not _integer(priority) or priority < 1:
        raise invalid("rulePriority must be an integer of 1 or more")
    if "description" in raw and not isinstance(raw["description"], str):
        raise invalid("description must be a string")
    action = raw["action"]
    if not isinstance(action, dict) or action.get("type") != "expire":
        raise invalid("action type must be 'expire'")
    _only(action, {"type"}, "an action")
    return _selection(raw["selection"], int(priority))


def _selection(sel: Any, priority: int) -> Rule:
    if not isinstance(sel, dict):
        raise invalid("selection must be a JSON object")
    known = {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit"}
    _only(sel, known | {"countNumber"}, "a selection")
    missing = [k for k in ("tagStatus", "countType", "countNumber") if k not in sel]
    if missing:
        raise invalid(f"object has missing required properties ({_names(missing)})")
    status, count_type, count = sel["tagStatus"], sel["countType"], sel["countNumber"]
    if status not in TAG_STATUSES:
        raise invalid(f"tagStatus must be one of {list(TAG_STATUSES)}")
    if count_type not in COUNT_TYPES:
        raise invalid(f"countType must be one of {list(COUNT_TYPES)}")
    if not _integer(count) or count < 1:
        raise invalid("countNumber must be an integer of 1 or more")
    if count_type == "sinceImagePushed" and sel.get("countUnit") != "days":
        raise invalid("countUnit must be 'days' when countType is 'sinceImagePushed'")
    if count_type == "imageCountMoreThan" and "countUnit" in sel:
        raise invalid("countUnit must not be given when countType is 'imageCountMoreThan'")
    prefixes = _strings(sel.get("tagPrefixList"), "tagPrefixList")
    patterns = _strings(sel.get("tagPatternList"), "tagPatternList")
    if status == "tagged" and not (prefixes or patterns):
        raise invalid("tagPrefixList or tagPatternList is required when tagStatus is 'tagged'")
    if prefixes and patterns:
        raise invalid("tagPrefixList and tagPatternList cannot both be given in a rule")
    if status != "tagged" and (prefixes or patterns):
        raise invalid("tagPrefixList and tagPatternList are only for tagStatus 'tagged'")
    if any(p.count("*") > MAX_WILDCARDS for p in patterns):
        raise invalid(f"a tag pattern may hold at most {MAX_WILDCARDS} wildcards")
    return Rule(priority, status, prefixes, patterns, count_type, int(count))


def evaluate(rules: Sequence[Rule], images: Iterable[Image], now: float) -> list[Expiry]:
    """The images the rules expire, each with the rule that does, oldest first."""
    newest_first = sorted(images, key=lambda i: (-i.pushed_at, i.digest))
    claimed: set[str] = set()
    out: dict[str, Expiry] = {}
    for rule in rules:
        selected = [i for i in newest_first if rule.selects(i.tags)]
        if rule.count_type == "imageCountMoreThan":
            doomed = selected[rule.count :]
        else:
            doomed = [i for i in selected if now - i.pushed_at > rule.count * DAY]
        for image in doomed:
            if image.digest not in claimed and image.digest not in out:
                out[image.digest] = Expiry(image, rule.priority)
        claimed.update(i.digest for i in selected)
    return sorted(out.values(), key=lambda e: (e.image.pushed_at, e.image.digest))


def _only(doc: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise invalid(f"{what} has properties that are not allowed ({_names(extra)})")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"{name} must be a list of non-empty strings")
    return tuple(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(keys: Iterable[str]) -> str:
    return "[" + ",".join(f'"{k}"' for k in keys) + "]"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def wildcard(pattern: str) -> re.Pattern[str]:
    """An ECR tag pattern (`*` for any run of characters) as an anchored regex."""
    found = _PATTERNS.get(pattern)
    if found is None:
        # `*` is the only wildcard ECR's patterns have: anything else matches itself.
        body = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
        found = _PATTERNS[pattern] = re.compile(f"^{body}$")
    return found

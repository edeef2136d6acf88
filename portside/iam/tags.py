"""IAM's rules for tags ({Key, Value} pairs on users, roles, managed policies and instance
profiles): at most 50, no key under `aws:`, a key given twice in one request refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portside.iam import errors

MAX_TAGS = 50
Tag = dict[str, str]


def checked(given: Sequence[dict[str, Any]], held: list[Tag]) -> list[Tag]:
    """`held` with `given` merged in (a key given again takes the new value), checked."""
    seen: set[str] = set()
    for tag in given:
        if tag["Key"].lower() in seen:
            raise errors.invalid(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(tag["Key"].lower())
    keys(t["Key"] for t in given)
    merged = {t["Key"].lower(): t for t in held}
    for tag in given:
        merged[tag["Key"].lower()] = {"Key": tag["Key"], "Value": tag.get("Value", "")}
    if len(merged) > MAX_TAGS:
        raise errors.limit(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return list(merged.values())


def keys(given: Any) -> None:
    for key in given:
        if key.lower().startswith("aws:"):
            raise errors.invalid("Tag keys starting with 'aws:' are reserved for internal use.")


def without(held: list[Tag], drop: Sequence[str]) -> list[Tag]:
    keys(drop)
    gone = {k.lower() for k in drop}
    return [t for t in held if t["Key"].lower() not in gone]

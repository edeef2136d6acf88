"""Tags as EC2 takes them (pure): the rules of a tag set, and the TagSpecifications a Create
call carries.

EC2 keeps up to 50 tags per resource, keys of 1-127 characters not starting with `aws:`
(AWS's own), values of up to 255. A TagSpecification names the resource type it tags, which
must be the one the call makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.errors import NamedError

MAX_TAGS = 50
Tag = dict[str, str]


def _bad(message: str) -> NamedError:
    return NamedError("InvalidParameterValue", message)


def checked(given: Iterable[Mapping[str, Any]]) -> list[Tag]:
    """The tags as stored ({Key, Value}, Value "" when not given); EC2's error for a bad one."""
    out: dict[str, Tag] = {}
    for tag in given:
        key = tag.get("Key")
        if not key:
            raise _bad("Tag key must not be empty")
        if len(key) > 127:
            raise _bad(f"Tag key exceeds the maximum length of 127 characters: {key[:127]}...")
        if key.lower().startswith("aws:"):
            raise _bad("Tag keys starting with 'aws:' are reserved for internal use")
        value = tag.get("Value") or ""
        if len(value) > 255:
            raise _bad(f"Tag value exceeds the maximum length of 255 characters for key {key}")
        out[key] = {"Key": key, "Value": value}
    return list(out.values())


def merged(held: Iterable[Tag], given: Iterable[Tag]) -> list[Tag]:
    """`held` with `given` added or replacing (CreateTags); TagLimitExceeded past 50."""
    tags = {t["Key"]: t for t in held}
    tags.update({t["Key"]: t for t in given})
    if len(tags) > MAX_TAGS:
        raise NamedError(
            "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
        )
    return list(tags.values())


def removed(held: Iterable[Tag], given: Iterable[Mapping[str, Any]]) -> list[Tag]:
    """`held` less the tags `given` names (DeleteTags): a key alone removes the tag, a key
    with a value only when the value matches ("" included); nothing given removes all."""
    given = list(given)
    if not given:
        return []
    out = []
    for tag in held:
        gone = any(
            g.get("Key") == tag["Key"] and ("Value" not in g or g["Value"] == tag["Value"])
            for g in given
        )
        if not gone:
            out.append(tag)
    return out


def specified(p: Mapping[str, Any], resource_type: str) -> list[Tag]:
    """The tags a Create call's TagSpecifications give the resource of `resource_type`."""
    out: list[Tag] = []
    for spec in p.get("TagSpecifications") or ():
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise _bad(f"'{kind}' is not a valid taggable resource type for this operation.")
        out = merged(out, checked(spec.get("Tags") or ()))
    return out

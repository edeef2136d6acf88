"""GetRandomPassword. AWS's defaults: 32 characters from lowercase and uppercase letters,
digits and its 32 punctuation characters, at least one of each included kind. Passwords are
secrets: drawn from the OS's generator, never from the world's seedable random source."""

from __future__ import annotations

import secrets
import string
from typing import Any

from portside.ops.context import Op
from portside.secretsmanager import errors
from portside.secretsmanager.operations import action

DEFAULT_LENGTH = 32
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def kinds(p: dict[str, Any]) -> list[str]:
    """The character kinds the request includes, each without its excluded characters (a
    kind left empty is dropped)."""
    excluded = set(p.get("ExcludeCharacters") or "")
    wanted = [
        ("ExcludeLowercase", string.ascii_lowercase),
        ("ExcludeUppercase", string.ascii_uppercase),
        ("ExcludeNumbers", string.digits),
        ("ExcludePunctuation", PUNCTUATION),
    ]
    chosen = [chars for flag, chars in wanted if not p.get(flag)]
    if p.get("IncludeSpace"):
        chosen.append(" ")
    trimmed = ["".join(c for c in chars if c not in excluded) for chars in chosen]
    return [chars for chars in trimmed if chars]


def generate(p: dict[str, Any]) -> str:
    length = p.get("PasswordLength") or DEFAULT_LENGTH
    pools = kinds(p)
    if not pools:
        raise errors.invalid_parameter(
            "The password can't be generated: the request excludes every character."
        )
    required = pools if p.get("RequireEachIncludedType", True) else []
    if len(required) > length:
        raise errors.invalid_parameter(
            f"The password length {length} is too short to include a character of each of the "
            f"{len(required)} included types."
        )
    everything = "".join(pools)
    chars = [secrets.choice(pool) for pool in required]
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    # The required characters must not sit at known places.
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@action("GetRandomPassword")
def get_random_password(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"RandomPassword": generate(p)}

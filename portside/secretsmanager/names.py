"""Secret names and ARNs (pure).

A secret's ARN is `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`: AWS appends a
hyphen and six random letters and digits, so a secret deleted and made again under the same
name gets another ARN. A SecretId is the name, the full ARN, or the partial ARN (the full one
without its six characters).
"""

from __future__ import annotations

import random
import re
import string
import uuid

from portside.secretsmanager import errors

_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]+$")
_SUFFIX_CHARS = string.ascii_letters + string.digits
SUFFIX_LENGTH = 6


def base(region: str, account: str) -> str:
    """The prefix every secret ARN of the account and region starts with."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise errors.invalid_name()


def new_arn(region: str, account: str, name: str, rng: random.Random) -> str:
    suffix = "".join(rng.choice(_SUFFIX_CHARS) for _ in range(SUFFIX_LENGTH))
    return f"{base(region, account)}{name}-{suffix}"


def version_id(hex32: str) -> str:
    """A version id in the uuid form AWS gives them."""
    return str(uuid.UUID(hex32.ljust(32, "0")[:32]))


def parse_id(secret_id: str, region: str, account: str) -> tuple[str | None, str | None]:
    """(ARN to look up, name to look up) for a SecretId: an ARN of this account and region is
    tried as it is, then as a partial ARN (its resource part taken as the name); a name as a
    name. (None, None) for an ARN that cannot be one of this account and region's secrets."""
    if not secret_id.startswith("arn:"):
        return None, secret_id
    prefix = base(region, account)
    if not secret_id.startswith(prefix) or len(secret_id) == len(prefix):
        return None, None
    return secret_id, secret_id[len(prefix) :]

"""STS's operations on the edge (query protocol, signing name `sts`).

GetCallerIdentity answers with the principal the request was signed by: the admin key is
the account's root (`arn:aws:iam::<account>:root`, UserId the account id, as AWS answers for
root credentials), an IAM user's key the user (its AIDA... id), a role session's temporary
key the session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`, UserId
`AROA...:<session>`). Terraform's AWS provider calls it at start to learn the account.

AssumeRole (assume.py) and GetSessionToken issue temporary credentials (credentials.py),
which the edge accepts with their session token until they expire. DecodeAuthorizationMessage
opens what messages.py sealed.
"""

from __future__ import annotations

from typing import Any

from portside.api.registry import Operations, ServiceSpec
from portside.api.validation import CoralDialect
from portside.errors import NamedError
from portside.iam import principals, records
from portside.ops.context import Op
from portside.sts import credentials, messages
from portside.sts.assume import AssumeRequest, assume_role
from portside.sts.credentials import Session
from portside.sts.errors import ValidationError

ACTIONS = Operations("STS")

SESSION_TOKEN_DEFAULT = 43_200  # GetSessionToken: 12 hours for IAM users
ROOT_SESSION_MAX = 3_600  # and one hour at most for the account's root


def _user_id(op: Op) -> str:
    arn = op.caller.principal_arn
    if arn.endswith(":root"):
        return op.account  # root's UserId is the account id
    session = credentials.session_of(op.store, op.caller.access_key)
    if session is not None:
        return session.user_id
    found = principals.identity(arn)
    if found is not None and found[1] == "user":
        with op.store.read() as tx:
            user = records.entity(tx, found[0], "user", found[2])
        if user is not None:
            return str(user["UserId"])
    return op.caller.access_key


@ACTIONS.action("GetCallerIdentity")
def get_caller_identity(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    arn = op.caller.principal_arn
    return {"UserId": _user_id(op), "Account": op.account, "Arn": arn}


@ACTIONS.action("AssumeRole")
def assume(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    tags = tuple((str(t["Key"]), str(t["Value"])) for t in p.get("Tags") or ())
    transitive = tuple(str(k) for k in p.get("TransitiveTagKeys") or ())
    caller_tags: dict[str, str] = {}
    calling = credentials.session_of(op.store, op.caller.access_key)
    if calling is not None:
        # Role chaining: the calling session's transitive tags go on to the new session.
        caller_tags = dict(calling.tags)
        inherited = {k: calling.tags[k] for k in calling.transitive_tag_keys if k in calling.tags}
        given = {k.lower() for k, _ in tags}
        tags += tuple((k, v) for k, v in inherited.items() if k.lower() not in given)
        transitive += tuple(k for k in inherited if k not in transitive)
    ask = AssumeRequest(
        role_arn=p["RoleArn"],
        session_name=p["RoleSessionName"],
        caller_arn=op.caller.principal_arn,
        account=op.account,
        duration=p.get("DurationSeconds"),
        policy=p.get("Policy"),
        policy_arns=tuple(str(a["arn"]) for a in p.get("PolicyArns") or () if a.get("arn")),
        tags=tags,
        transitive_tag_keys=transitive,
        external_id=p.get("ExternalId"),
        source_identity=p.get("SourceIdentity"),
        caller_tags=caller_tags,
    )
    done = assume_role(op.store, ask, now=op.now(), region=op.region)
    out: dict[str, Any] = {
        "Credentials": done.credentials.to_wire(),
        "AssumedRoleUser": {
            "AssumedRoleId": done.session.user_id,
            "Arn": done.session.principal_arn,
        },
    }
    if done.packed_size is not None:
        out["PackedPolicySize"] = done.packed_size
    if ask.source_identity is not None:
        out["SourceIdentity"] = ask.source_identity
    return out


@ACTIONS.action("GetSessionToken")
def get_session_token(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    if credentials.session_of(op.store, op.caller.access_key) is not None:
        raise NamedError(
            "AccessDenied", "Cannot call GetSessionToken with session credentials", 403
        )
    arn = op.caller.principal_arn
    duration = int(p.get("DurationSeconds") or SESSION_TOKEN_DEFAULT)
    if arn.endswith(":root"):
        duration = min(duration, ROOT_SESSION_MAX)
    session = Session(
        principal_arn=arn, account=op.account, user_id=_user_id(op), source="GetSessionToken"
    )
    with op.store.transaction() as tx:
        creds = credentials.issue(tx, session, now=op.now(), duration=duration)
    return {"Credentials": creds.to_wire()}


@ACTIONS.action("DecodeAuthorizationMessage")
def decode_authorization_message(op: Op, p: dict[str, Any]) -> dict[str, Any]:
    return {"DecodedMessage": messages.decode(op.world, op.account, p["EncodedMessage"])}


SERVICE = ServiceSpec(
    "sts",
    ACTIONS,
    signing_name="sts",
    body_limit=64 * 1024,
    dialect=CoralDialect(ValidationError),
)
